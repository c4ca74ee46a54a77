"""Separation detection (estimation/separation.py) against statsmodels and by construction.

Independent references: statsmodels' ``Logit`` warns ``PerfectSeparationWarning`` on
completely separated data, fails to converge on the quasi-separated set (its coefficient
running off), and converges silently on spector; a separating direction is verified directly
(every signed margin s_i x_i d >= 0, some > 0), and along it the logistic
log-likelihood rises towards its supremum.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

import lossbridge
from lossbridge.core.errors import InputError, SeparationWarning
from lossbridge.estimation.separation import find_separation


def complete_frame():
    rng = np.random.default_rng(1)
    x = np.linspace(-2, 2, 20)
    return pd.DataFrame({"y": (x > 0).astype(float), "x": x, "z": rng.normal(size=20)})


def quasi_frame():
    rng = np.random.default_rng(2)
    x = np.r_[np.linspace(-2, -0.1, 8), 0, 0, 0, 0, np.linspace(0.1, 2, 8)]
    y = np.r_[np.zeros(8), 0, 1, 0, 1, np.ones(8)]  # both classes at x = 0: quasi-complete
    z = rng.normal(size=20)
    z[8:12] = 0.5  # identical rows with both classes: nothing separates them strictly
    return pd.DataFrame({"y": y, "x": x, "z": z})


def design_matrix(frame):
    return np.c_[np.ones(len(frame)), frame["x"], frame["z"]]


def statsmodels_warnings(X, y) -> tuple[set[str], np.ndarray]:
    """The warnings of statsmodels' Newton fit of Logit and its coefficients."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sm.Logit(y, X).fit(disp=0, maxiter=100, method="newton")
    return {w.category.__name__ for w in caught}, result.params


def statsmodels_says_separated(X, y, complete: bool) -> bool:
    """Complete separation: statsmodels warns PerfectSeparationWarning (every fitted p
    rounds to 0 or 1). Quasi-complete: it does not detect it, but Newton does not converge
    in 100 steps and the separating coefficient runs off (|x| > 30 on unit-scale data)."""
    names, params = statsmodels_warnings(X, y)
    if complete:
        return PerfectSeparationWarning.__name__ in names
    return "ConvergenceWarning" in names and abs(params[1]) > 30


@pytest.mark.parametrize(("frame", "complete"), [(complete_frame(), True), (quasi_frame(), False)],
                         ids=["complete", "quasi"])
def test_separation_is_found_with_a_valid_direction(frame, complete):
    X, y = design_matrix(frame), frame["y"].to_numpy()
    found = find_separation(X, y)
    assert found is not None and found.complete is complete
    margins = (2 * y - 1) * (X @ found.direction)
    scale = np.abs(X).sum(axis=1) * np.abs(found.direction).max()
    assert np.all(margins >= -1e-9 * scale) and np.any(margins > 1e-6 * scale)
    assert bool(np.all(margins > 1e-9 * scale)) is complete
    if not complete:
        assert found.rows_on_boundary == 4  # the four rows at x = 0
        assert found.terms(("Intercept", "x", "z")) == "+x"
    # along d the log-likelihood rises (the MLE does not exist)
    beta = np.zeros(3)
    loglik = [float(np.sum(y * (X @ (beta + t * found.direction))
                           - np.logaddexp(0, X @ (beta + t * found.direction))))
              for t in (1e2, 1e3, 1e4)]
    assert loglik[0] < loglik[1] < loglik[2]
    assert statsmodels_says_separated(X, y, complete)


def test_spector_is_not_separated():
    frame = sm.datasets.spector.load_pandas().data
    X = sm.add_constant(frame[["GPA", "TUCE", "PSI"]]).to_numpy()
    y = frame["GRADE"].to_numpy()
    assert find_separation(X, y) is None
    names, _ = statsmodels_warnings(X, y)
    assert names == set()


@pytest.mark.parametrize("frame", [complete_frame(), quasi_frame()], ids=["complete", "quasi"])
def test_flat_priors_refuse_naming_the_direction(frame):
    with pytest.raises(InputError, match=r"separated by the predictors \(direction .*\+x.*"
                                         r"does not exist.*--priors weak") as info:
        lossbridge.fit(frame, "y ~ x + z", likelihoods="bernoulli", sample=False)
    assert "\n" not in str(info.value)


def test_weak_priors_fit_with_a_note():
    with pytest.warns(SeparationWarning, match="driven by the weak prior"):
        analysis = lossbridge.fit(quasi_frame(), "y ~ x + z", likelihoods="bernoulli",
                                  priors="weak", sample=False)
    [result] = analysis.fits
    assert result.baseline is None and np.all(np.isfinite(result.map.coefficients))
    assert [n["code"] for n in analysis.to_dict()["warnings"]] == ["separation"]


@pytest.mark.parametrize("seed", range(6))
def test_direction_names_only_the_separating_terms(seed):
    """y = 1[x > 0.05] with a noise column z: x (with the intercept when the threshold
    is needed, i.e. some x lies in (0, 0.05]) separates alone, so z is never named. The
    least-L1 margin direction alone leans on z (it widens the margin); HiGHS' tolerance
    once left it in too (``+x, -z, +Intercept``)."""
    rng = np.random.default_rng(seed)
    x, z = rng.normal(size=40), rng.normal(size=40)
    y = (x > 0.05).astype(float)
    X = np.c_[np.ones(40), x, z]
    found = find_separation(X, y)
    assert found is not None and found.complete
    needs_intercept = bool(np.any((x > 0) & (x <= 0.05)))
    assert found.terms(("Intercept", "x", "z")) == ("+x, -Intercept" if needs_intercept else "+x")
    margins = (2 * y - 1) * (X @ found.direction)
    assert np.all(margins > 0)  # the direction named does separate every row


# ---------------------------------------------------------------------- a categorical response
IRIS = "species ~ sepal_length + sepal_width + petal_length + petal_width"


def iris_frame() -> pd.DataFrame:
    """scikit-learn's iris (Fisher 1936): setosa is linearly separable from the other two
    species, versicolor and virginica are not linearly separable from each other (UCI's
    description of the data): quasi-complete separation."""
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True)
    frame = iris.frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    return frame.assign(species=np.asarray(iris.target_names)[iris.target]).drop(columns="target")


def categorical_margins(X, codes, direction):
    """x_i'(d_{y_i} - d_c) for every row i and level c != y_i, written out row by row
    (independently of separation.margin_matrix): (n, K - 1)."""
    p = X.shape[1]
    blocks = np.r_[np.zeros((1, p)), direction.reshape(-1, p)]  # d_0 = 0
    eta = X @ blocks.T
    return np.array([[eta[i, y] - eta[i, c] for c in range(blocks.shape[0]) if c != y]
                     for i, y in enumerate(codes)])


def multinomial_loglik(X, codes, beta):
    p = X.shape[1]
    eta = np.c_[np.zeros(len(X)), X @ beta.reshape(-1, p).T]
    return float(np.sum(eta[np.arange(len(X)), codes] - np.logaddexp.reduce(eta, axis=1)))


def three_intervals():
    """Levels a | b | c on three intervals of x: completely separated (a is the reference)."""
    rng = np.random.default_rng(4)
    x = np.linspace(-3, 3, 30)
    return pd.DataFrame({"g": np.array(list("abc"))[np.digitize(x, [-1.0, 1.0])], "x": x,
                         "z": rng.normal(size=30)})


@pytest.mark.parametrize(("frame", "formula", "complete"),
                         [(iris_frame(), IRIS, False), (three_intervals(), "g ~ x + z", True)],
                         ids=["iris", "intervals"])
def test_categorical_separation_is_found_with_a_valid_direction(frame, formula, complete):
    from lossbridge.data.design import build_design
    from lossbridge.data.tables import load_table

    design = build_design(load_table(frame), formula, classes=True)
    codes = design.y.astype(int)
    found = find_separation(design.X, design.y, len(design.classes))
    assert found is not None and found.complete is complete
    margins = categorical_margins(design.X, codes, found.direction)
    scale = np.abs(design.X).sum(axis=1)[:, None] * np.abs(found.direction).max()
    assert np.all(margins >= -1e-9 * scale) and np.any(margins > 1e-6 * scale)
    assert bool(np.all(margins > 1e-9 * scale)) is complete
    # along the direction the log-likelihood rises (no MLE), from the origin and from the
    # flat-prior "fit" statsmodels stops at
    loglik = [multinomial_loglik(design.X, codes, t * found.direction) for t in (1e1, 1e2, 1e3)]
    assert loglik[0] < loglik[1] < loglik[2]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sm.MNLogit(codes, design.X).fit(method="newton", maxiter=100, disp=0)
    names = {w.category.__name__ for w in caught}
    # statsmodels does not converge (iris: ConvergenceWarning) or overflows (complete)
    assert "ConvergenceWarning" in names or not np.all(np.isfinite(result.params))
    if not complete:
        # setosa (the reference) against the rest: the two other blocks move together on
        # the petals; versicolor and virginica stay on their common hyperplane
        assert design.classes[0] == "setosa"
        assert found.rows_on_boundary == 100
        named = found.terms(design.terms).split(", ")
        assert {term.lstrip("+-").split("[")[1] for term in named} == {"versicolor]",
                                                                       "virginica]"}


def test_binary_margins_are_the_two_level_categorical_ones():
    """With K = 2 the categorical margins x_i'(d_{y_i} - d_c) are the binary s_i x_i d."""
    from lossbridge.estimation.separation import margin_matrix

    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(15, 3)), rng.integers(0, 2, size=15).astype(float)
    d = rng.normal(size=3)
    np.testing.assert_array_equal(margin_matrix(X, y, 2) @ d, (2 * y - 1) * (X @ d))
    np.testing.assert_allclose(margin_matrix(X, y, 2) @ d, categorical_margins(X, y.astype(int),
                                                                               d)[:, 0])
    codes = rng.integers(0, 4, size=15)
    D = rng.normal(size=9)
    np.testing.assert_allclose((margin_matrix(X, codes, 4) @ D).reshape(15, 3),
                               categorical_margins(X, codes, D), rtol=1e-13)


def test_overlapping_categorical_data_are_not_separated():
    """anes96 (seven party identifications) and a simulated three-level set: statsmodels'
    MNLogit converges, and no separating direction is found."""
    from lossbridge.data.design import build_design
    from lossbridge.data.tables import load_table

    anes = sm.datasets.anes96.load_pandas().data
    rng = np.random.default_rng(6)
    x = rng.normal(size=200)
    simulated = pd.DataFrame({"g": np.array(list("abc"))[rng.integers(0, 3, size=200)], "x": x})
    for frame, formula in [(anes, "PID ~ logpopul + selfLR + age + educ + income"),
                           (simulated, "g ~ x")]:
        design = build_design(load_table(frame), formula, classes=True)
        assert find_separation(design.X, design.y, len(design.classes)) is None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sm.MNLogit(design.y, design.X).fit(method="newton", tol=1e-12, maxiter=100, disp=0)
        assert {w.category.__name__ for w in caught} == set()


def test_separated_categorical_is_refused_under_flat_priors_and_warned_under_weak():
    with pytest.raises(InputError, match=r"quasi-completely separated by the predictors "
                                         r"\(direction .*petal_width\[versicolor\].*"
                                         r"does not exist.*--priors weak") as info:
        lossbridge.fit(iris_frame(), IRIS, likelihoods="categorical", sample=False)
    assert "\n" not in str(info.value)
    with pytest.warns(SeparationWarning, match="driven by the weak prior"):
        analysis = lossbridge.fit(iris_frame(), IRIS, likelihoods="categorical",
                                  priors="weak", sample=False)
    [result] = analysis.fits
    assert result.baseline is None and np.all(np.isfinite(result.map.coefficients))
    assert [n["code"] for n in analysis.to_dict()["warnings"]] == ["separation"]


def test_separated_categorical_at_the_cli_is_one_line_exit_2(tmp_path, capsys):
    from lossbridge.interfaces.cli import main

    path = tmp_path / "iris.csv"
    iris_frame().to_csv(path, index=False)
    code = main(["fit", str(path), "--formula", IRIS, "--likelihood", "categorical",
                 "--reference", "setosa", "--no-sample"])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "separated by the predictors" in err and "--priors weak" in err
    code = main(["fit", str(path), "--formula", IRIS, "--likelihood", "categorical",
                 "--priors", "weak", "--no-sample"])
    out, err = capsys.readouterr()
    assert code == 0 and "separated" in out + err
