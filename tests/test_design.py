"""Formula -> validated design: names, transforms, and every refusal."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from lossbridge.data import load_table
from lossbridge.design import build_design
from lossbridge.errors import InputError


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
