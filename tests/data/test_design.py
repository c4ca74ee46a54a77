"""Formula -> validated design: names, transforms, and every refusal."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from lossbridge.core.errors import InputError
from lossbridge.data.design import build_design
from lossbridge.data.tables import load_table


def design(frame, formula, **kw):
    return build_design(load_table(frame), formula, **kw)


def test_term_names_follow_formulaic(simple_frame):
    d = design(simple_frame, "np.log(`my col`) ~ x + C(g)")
    assert d.terms == ("Intercept", "x", "C(g)[T.b]", "C(g)[T.c]", "C(g)[T.d]")
    assert d.response == "np.log(`my col`)" or d.response == "np.log(my col)"
    np.testing.assert_array_equal(d.y, np.log(simple_frame["my col"].to_numpy()))
    np.testing.assert_array_equal(d.X[:, 1], simple_frame["x"].to_numpy())
    np.testing.assert_array_equal(d.X[:, 2], (simple_frame["g"] == "b").to_numpy(float))
    assert (d.n, d.k) == (40, 5)


def test_y_hash_is_sha256_of_little_endian_float64(simple_frame):
    d = design(simple_frame, "y ~ x")
    expected = hashlib.sha256(simple_frame["y"].to_numpy("<f8").tobytes()).hexdigest()[:16]
    assert d.y_hash == expected
    shifted = simple_frame.assign(y=simple_frame["y"] + 1e-12)
    assert design(shifted, "y ~ x").y_hash != expected


def test_no_intercept_formula(simple_frame):
    d = design(simple_frame, "y ~ 0 + x")
    assert d.terms == ("x",) and not d.has_intercept


def test_dropna_drops_and_reports(simple_frame):
    frame = simple_frame.copy()
    frame.loc[[3, 5], "x"] = np.nan
    frame.loc[9, "y"] = np.nan
    frame.loc[11, "my col"] = np.nan  # not used by the formula: kept
    d = design(frame, "y ~ x", dropna=True)
    assert d.n == 37 and d.dropped_rows == 3


@pytest.mark.parametrize(
    ("formula", "mutate", "message"),
    [
        ("y ~ z", None, "column 'z' used in formula 'y ~ z' is not in the data"),
        ("yy ~ x", None, "did you mean 'y'"),
        ("y ~ foo(x)", None, "unknown function 'foo'"),
        ("y ~ x +", None, "does not parse"),
        ("y x", None, "must look like 'response ~ term"),
        ("~ x", None, "no response"),
        ("y ~ x", lambda f: f.assign(x=f["x"].where(f.index % 7 != 0)), r"6 row\(s\) have missing values in column\(s\) 'x'.*--dropna"),
        ("y ~ x", lambda f: f.assign(y=f["y"].where(f.index != 2, np.inf)), r"1 row\(s\) have infinite values in column\(s\) 'y'"),
        ("y ~ x", lambda f: f.assign(y=f["y"].astype(object).where(f.index != 4, "n/a")), r"response column 'y' is not numeric \(e.g. 'n/a' in row 5\)"),
        ("np.log(y) ~ x", lambda f: f.assign(y=f["y"] - 100), "NaN or infinite in 40 row"),
        ("y ~ x + I(2 * x)", None, r"rank-deficient \(rank 2 < 3 columns\): 'I\(2 \* x\)' is a linear combination of 'x'"),
        ("y ~ x + C(g) + `my col`", lambda f: f.assign(**{"my col": 3.0}), "rank-deficient.*'my col'.*'Intercept'"),
        ("y ~ x", lambda f: f.head(3), r"too few rows: 3 rows for 2 coefficients"),
        ("y ~ x", lambda f: f.head(0), "no rows"),
        ("y ~ x + I(0 * x)", None, "zero in every row"),
    ],
    ids=[
        "unknown-column", "close-match", "unknown-function", "syntax", "no-tilde", "no-response",
        "nan", "inf", "non-numeric-response", "transform-nan", "collinear", "constant-column",
        "n-le-k+1", "no-rows", "zero-column",
    ],
)
def test_bad_designs_raise_one_line_errors(simple_frame, formula, mutate, message):
    frame = mutate(simple_frame) if mutate else simple_frame
    with pytest.raises(InputError, match=message) as info:
        design(frame, formula)
    assert "\n" not in str(info.value)


def test_two_response_columns_are_refused(simple_frame):
    with pytest.raises(InputError, match="exactly one response"):
        design(simple_frame, "y + x ~ `my col`")


def test_ill_conditioned_but_full_rank_designs_are_accepted():
    # Longley: condition number of X about 5e9, yet full rank; must not be refused.
    d = build_design(load_table("longley"), "TOTEMP ~ GNPDEFL + GNP + UNEMP + ARMED + POP + YEAR")
    assert d.k == 7
    assert np.linalg.cond(d.X) > 1e9


def test_categorical_response_text_is_refused_but_bool_is_numeric():
    frame = pd.DataFrame({"y": [True, False, True, True, False], "x": [1.0, 2, 3, 4, 6]})
    assert design(frame, "y ~ x").y.tolist() == [1.0, 0.0, 1.0, 1.0, 0.0]


# ---------------------------------------------------------------- numbers stored as text
def csv_design(tmp_path, text: str, formula: str):
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8")
    return build_design(load_table(str(path)), formula)


def numeric_csv(cells: dict[int, str], n: int = 12) -> str:
    rows = ["y,x,g"]
    for i in range(n):
        rows.append(f"{1.5 * i + (i % 3)},{cells.get(i, str(10 + i))},{'ab'[i % 2]}")
    return "\n".join(rows) + "\n"


def test_a_typo_in_a_numeric_column_is_reported_with_its_row(tmp_path):
    with pytest.raises(InputError) as info:
        csv_design(tmp_path, numeric_csv({2: "12..5"}), "y ~ x + g")
    message = str(info.value)
    assert "column 'x'" in message and "looks numeric but 1 of its 12 values are not numbers" in message
    assert "row 3: '12..5'" in message and "C(x)" in message and "\n" not in message


def test_thousands_separators_are_reported_with_the_fix(tmp_path):
    cells = {i: f'"{i + 1},{100 + i:03d}"' for i in range(0, 12, 2)}  # 1,100  3,102 ...
    with pytest.raises(InputError) as info:
        csv_design(tmp_path, numeric_csv(cells), "y ~ x")
    message = str(info.value)
    assert "6 of its 12 values are not numbers" in message
    assert "row 1: '1,100', row 3: '3,102'" in message and "and 1 more" in message
    assert "remove thousands separators" in message


def test_every_value_with_separators_is_still_numeric_looking(tmp_path):
    cells = {i: f'"{i + 1},{100 + i:03d}"' for i in range(12)}
    with pytest.raises(InputError, match="12 of its 12 values are not numbers.*thousands"):
        csv_design(tmp_path, numeric_csv(cells), "y ~ np.log(x)")


def test_explicit_categorical_of_a_numeric_looking_column_still_works(tmp_path):
    cells = {i: ("12..5" if i in (2, 5) else str(10 + i % 3)) for i in range(12)}
    d = csv_design(tmp_path, numeric_csv(cells), "y ~ C(x)")
    assert d.terms == ("Intercept", "C(x)[T.11]", "C(x)[T.12]", "C(x)[T.12..5]")
    # A genuine text column stays an implicit categorical, as formulaic makes it.
    assert csv_design(tmp_path, numeric_csv({}), "y ~ x + g").terms == ("Intercept", "x", "g[T.b]")


def test_numbers_as_text_in_a_dataframe_are_refused():
    frame = pd.DataFrame({"y": [1.0, 2, 4, 3, 5, 7, 6], "x": ["1", "2", "3", "1", "2", "3", "1"]},
                         index=list("abcdefg"))  # row numbers are positions, whatever the index
    with pytest.raises(InputError, match="1 of its 7 values are not numbers \\(row 6: '3,5'\\)"):
        design(frame.assign(x=frame["x"].where(frame.index != "f", "3,5")), "y ~ x")
    with pytest.raises(InputError, match="column 'x' .* holds numbers stored as text.*C\\(x\\)"):
        design(frame, "y ~ x")
    assert design(frame, "y ~ C(x)").k == 3
    assert design(frame.astype({"x": "category"}), "y ~ x").k == 3  # categorical dtype: on purpose


# ---------------------------------------------------------------- rank: scale-invariant, rounding-based
def near_collinear(n: int, delta: float, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = x1 + delta * rng.normal(size=n)
    return pd.DataFrame({"y": 1 + x1 + 2 * x2 + rng.normal(size=n), "x1": x1, "x2": x2})


def unit_condition(X: np.ndarray) -> float:
    return float(np.linalg.cond(X / np.linalg.norm(X, axis=0)))


@pytest.mark.parametrize("n", [200, 100_000])
@pytest.mark.parametrize("delta", [1e-11, 1e-12, 1e-13])
def test_near_collinear_full_rank_designs_are_accepted_at_any_n(n, delta):
    d = design(near_collinear(n, delta), "y ~ x1 + x2")
    # cond after scaling the columns to unit norm: 2e11 .. 2e13 (main refused these once
    # n eps cond > 1, i.e. from n = 450 at 2e13 and n = 45,000 at 2e11).
    assert 1e11 < unit_condition(d.X) < 1e14


def test_year_polynomial_is_accepted():
    year = np.linspace(2000, 2020, 100_000)
    frame = pd.DataFrame({"y": np.sin(year), "year": year})
    d = design(frame, "y ~ year + I(year**2) + I(year**3) + I(year**4)")
    assert d.k == 5 and unit_condition(d.X) > 1e11  # raw cond(X) ~ 1e23


@pytest.mark.parametrize("n", [200, 100_000])
def test_exact_dependencies_are_refused_at_any_n_and_scale(n):
    rng = np.random.default_rng(1)
    tiny, huge, x = rng.normal(size=n) * 1e-8, rng.lognormal(size=n) * 1e8, rng.normal(size=n)
    g = np.arange(n) % 40
    frame = pd.DataFrame({"y": rng.normal(size=n), "tiny": tiny, "huge": huge, "x": x,
                          "total": tiny + huge + x, "affine": 3 * x - 7.3, "g": g.astype(str)})
    frame = frame.assign(**{f"d{j}": (g == j).astype(float) for j in range(40)})
    cases = {
        "y ~ tiny + huge + x + total": "'total'",  # total = huge + x to rounding, at 1e-8 vs 1e8
        "y ~ x + affine": "'affine' is a linear combination of '(x|Intercept)', '(x|Intercept)' ",
        "y ~ C(g) + d0": "'d0'",  # a dummy trap among 40 levels
        "y ~ 0 + " + " + ".join(f"d{j}" for j in range(40)) + " + x + I(x + 1)": "'I\\(x \\+ 1\\)'",
    }
    for formula, named in cases.items():
        with pytest.raises(InputError, match=f"rank-deficient .*{named}.*double-precision rounding"):
            design(frame, formula)


def test_rank_verdict_does_not_depend_on_column_units():
    base = near_collinear(500, 1e-12)
    for scales in [(1.0, 1.0), (1e-8, 1e8), (1e8, 1e-8)]:
        frame = base.assign(x1=base["x1"] * scales[0], x2=base["x2"] * scales[1])
        d = design(frame, "y ~ x1 + x2")
        assert unit_condition(d.X) == pytest.approx(unit_condition(design(base, "y ~ x1 + x2").X),
                                                    rel=1e-2)
        with pytest.raises(InputError, match="rank-deficient"):
            design(frame.assign(x3=frame["x1"] * 1e8), "y ~ x1 + x2 + x3")


def test_ols_of_a_near_collinear_design_matches_exact_arithmetic():
    """cond 2e13 after scaling, n = 5000: numpy's default rcond (n eps) would cut a singular
    value and return a truncated fit; the RSS must be the exact minimum to rounding."""
    from lossbridge.core.rounding import loss_error_bound
    from lossbridge.estimation.exact import exact_ols
    from tests.reference.exact import rational_least_squares

    d = design(near_collinear(5000, 1e-13, seed=2), "y ~ x1 + x2")
    kappa = unit_condition(d.X)
    assert kappa > 1e13
    fit = exact_ols(d)
    beta, rss = rational_least_squares(d.X, d.y)
    assert fit.loss - rss <= loss_error_bound(d.X, d.y, fit.coefficients, "RSS")
    # Forward error of a backward-stable least-squares solve: kappa eps relative, times the
    # rounding module's safety factor (the residual is O(1), so kappa^2 terms do not enter
    # in the well-determined directions that carry ||beta||).
    assert np.linalg.norm(fit.coefficients - beta) <= 10 * kappa * np.finfo(float).eps * np.linalg.norm(beta) * 10


def test_a_response_with_thousands_separators_says_how_to_fix_it(tmp_path):
    text = "y,x\n" + "".join(f'"{i + 1},{i:03d}",{i}\n' for i in range(8)) + "999,8\n"
    with pytest.raises(InputError, match=r"response column 'y' is not numeric \(e.g. '1,000' in "
                                         r"row 1\): 8 of 9 values.*remove thousands separators"):
        csv_design(tmp_path, text, "y ~ x")


@pytest.mark.slow
def test_cli_fits_a_year_polynomial_with_the_rss_of_a_well_conditioned_basis(capsys, tmp_path):
    """Raw cond(X) ~ 1e23, 4e11 after scaling, 100,000 rows: main refused it as rank-deficient.
    The centred, scaled polynomial spans the same space, so both RSS agree to rounding."""
    import json

    from lossbridge.core.rounding import loss_error_bound
    from lossbridge.estimation.exact import exact_ols
    from lossbridge.interfaces.cli import main

    rng = np.random.default_rng(5)
    year = np.round(rng.uniform(2000, 2020, 100_000), 3)
    t = (year - 2010) / 10
    frame = pd.DataFrame({"y": 3 + t - 2 * t**2 + 0.5 * t**4 + rng.normal(size=t.size), "year": year})
    path = tmp_path / "years.csv"
    frame.to_csv(path, index=False)
    formula = "y ~ year + I(year**2) + I(year**3) + I(year**4)"
    code = main(["fit", str(path), "--formula", formula, "--likelihood", "normal", "--no-sample",
                 "--json", "--seed", "1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    ill = design(frame, formula)
    assert unit_condition(ill.X) > 1e11 and doc["data"]["k"] == 5
    well = design(frame.assign(t=t), "y ~ t + I(t**2) + I(t**3) + I(t**4)")
    reference = exact_ols(well)
    rss = doc["fits"][0]["baseline"]["loss"]
    beta = np.array(list(doc["fits"][0]["baseline"]["coefficients"].values()))
    bound = (loss_error_bound(ill.X, ill.y, beta, "RSS")
             + loss_error_bound(well.X, well.y, reference.coefficients, "RSS"))
    assert abs(rss - reference.loss) <= bound


# ---------------------------------------------------------------- a two-level response
YES_NO = pd.DataFrame({"ys": ["yes", "no", "no", "yes", "yes", "no", "yes", "no"],
                       "x": [0.5, -1.0, 0.2, 1.5, 2.0, -0.3, -0.8, 1.1]})


def test_positive_level_codes_a_text_response_as_0_1():
    built = build_design(load_table(YES_NO), "ys ~ x", positive="yes")
    assert built.y.tolist() == [1.0, 0, 0, 1, 1, 0, 1, 0]
    assert build_design(load_table(YES_NO), "ys ~ x", positive="no").y.tolist() == \
        [0.0, 1, 1, 0, 0, 1, 0, 1]
    assert built.notes == ("response 'ys': 1 = 'yes', 0 = 'no'",)
    assert built.summary()["notes"] == list(built.notes)
    with pytest.raises(InputError, match=r"^response column 'ys' is not numeric"):
        build_design(load_table(YES_NO), "ys ~ x")  # without it, text is still refused


@pytest.mark.parametrize(("ys", "positive", "message"), [
    (["yes", "no", "maybe", "yes", "yes", "no", "yes", "no"], "yes",
     r"^positive needs a response with exactly two levels; 'ys' has 3 \('maybe', 'no', 'yes'\)$"),
    (["yes"] * 8, "yes", r"^positive needs a response with exactly two levels; 'ys' has 1"),
    (YES_NO["ys"], "Yes", r"^positive must be one of the levels of 'ys' \('no', 'yes'\); "
                          r"got 'Yes'$"),
], ids=["three-levels", "one-level", "absent-level"])
def test_positive_refuses_other_than_two_levels_or_an_absent_level(ys, positive, message):
    with pytest.raises(InputError, match=message):
        build_design(load_table(YES_NO.assign(ys=ys)), "ys ~ x", positive=positive)
