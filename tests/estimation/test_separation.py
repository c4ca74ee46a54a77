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
