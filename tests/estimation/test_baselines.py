"""Exact baselines: OLS and LAD against exact arithmetic, published values and other libraries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from lossbridge.data.datasets import BUNDLED
from lossbridge.data.design import build_design
from lossbridge.data.tables import load_table
from lossbridge.estimation.exact import exact_fit, exact_lad, exact_ols
from lossbridge.estimation.lad import solve_lad_lp

from ..reference.exact import lad_coefficient_ranges, rational_least_squares
from ..reference.published import ENGEL_LAD, LONGLEY_OLS, LONGLEY_RSS, STACKLOSS_LAD

EPS = np.finfo(float).eps


def bundled(name):
    return build_design(load_table(name), BUNDLED[name].formula)


def scaled_condition(X):
    return np.linalg.cond(X / np.linalg.norm(X, axis=0))


def test_ols_on_longley_matches_nist_certified_values():
    d = bundled("longley")
    fit = exact_ols(d)
    nist = np.array([LONGLEY_OLS[t] for t in d.terms])
    # Forward error of a backward-stable solve is about cond * eps; cond of the
    # column-equilibrated X (1.1e5) is what matters; a factor 10 for constants.
    tol = 10 * scaled_condition(d.X) * EPS
    np.testing.assert_allclose(fit.coefficients, nist, rtol=tol)
    assert fit.loss == pytest.approx(LONGLEY_RSS, rel=tol)
    assert fit.scale_mle == pytest.approx(np.sqrt(LONGLEY_RSS / d.n), rel=tol)


def test_ols_equals_exact_rational_solution_on_a_cubic_in_year():
    rng = np.random.default_rng(3)
    year = np.arange(1950.0, 2021.0)
    t = year - 1985
    y = 2 + 0.3 * t - 0.02 * t**2 + 1e-4 * t**3 + rng.normal(size=year.size)
    frame = pd.DataFrame({"year": year, "y": y})
    d = build_design(load_table(frame), "y ~ year + I(year**2) + I(year**3)")
    assert np.linalg.cond(d.X) > 1e15  # plain lstsq with default rcond fails here
    exact, rss = rational_least_squares(d.X, d.y)
    fit = exact_ols(d)
    tol = 10 * scaled_condition(d.X) * EPS  # about 2e-8
    np.testing.assert_allclose(fit.coefficients, exact, rtol=tol)


def test_lad_matches_published_quantreg_fits():
    # quantreg prints 7 (Engel) and 8 (stack loss) decimals: half a unit in the last place.
    for name, published, decimals in (("engel", ENGEL_LAD, 7), ("stackloss", STACKLOSS_LAD, 8)):
        d = bundled(name)
        fit = exact_lad(d)
        expected = np.array([published[t] for t in d.terms])
        np.testing.assert_allclose(fit.coefficients, expected, rtol=0, atol=0.5 * 10.0**-decimals)
        assert fit.unique and fit.certificate.holds


@pytest.mark.parametrize("name", ["engel", "stackloss", "mesquite", "earnings"])
def test_lad_dual_form_equals_primal_form(name):
    d = bundled(name)
    primal, _ = solve_lad_lp(d.X, d.y, "primal")
    dual, _ = solve_lad_lp(d.X, d.y, "dual")
    sad = lambda b: np.sum(np.abs(d.y - d.X @ b))  # noqa: E731
    # Both are optima of the same LP; HiGHS' feasibility tolerance is 1e-7.
    assert sad(dual) == pytest.approx(sad(primal), rel=1e-9)
    if exact_lad(d).unique:
        np.testing.assert_allclose(dual, primal, rtol=1e-7)


@pytest.mark.parametrize("name", ["engel", "stackloss", "mesquite", "earnings"])
def test_lad_is_never_worse_than_statsmodels_quantreg(name):
    d = bundled(name)
    ours = exact_lad(d)
    theirs = sm.QuantReg(d.y, d.X).fit(q=0.5, max_iter=5000, p_tol=1e-10).params
    sad_theirs = np.sum(np.abs(d.y - d.X @ theirs))
    # An exact optimum cannot be beaten (up to rounding) ...
    assert ours.loss <= sad_theirs * (1 + 1e-12)
    # ... and statsmodels' IRLS gets close to it (its known accuracy: 1e-5..4e-4 off the vertex).
    assert sad_theirs <= ours.loss * (1 + 1e-6)


def test_non_unique_lad_is_detected_and_the_face_is_real():
    # Intercept only, even n: every value between the two middle points is a median.
    frame = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0, 8.0, 9.0]})
    d = build_design(load_table(frame), "y ~ 1")
    fit = exact_lad(d)
    assert not fit.unique
    ranges = lad_coefficient_ranges(d.X, d.y, fit.loss)
    np.testing.assert_allclose(ranges[0], [3.0, 4.0], atol=1e-7)


# A straight line through integer data with a flat face of LAD optima (found by search;
# the face's extent is computed independently by lad_coefficient_ranges).
FLAT_FACE = pd.DataFrame({"x": np.arange(8.0), "y": [1.0, 2, 3, 1, 1, 3, 3, 3]})


@pytest.mark.parametrize("name", ["engel", "stackloss", "earnings", "mesquite", "flat-face"])
def test_uniqueness_flag_agrees_with_the_range_of_optimal_coefficients(name):
    d = build_design(load_table(FLAT_FACE), "y ~ x") if name == "flat-face" else bundled(name)
    fit = exact_lad(d)
    ranges = lad_coefficient_ranges(d.X, d.y, fit.loss)
    width = (ranges[:, 1] - ranges[:, 0]) / np.maximum(np.abs(fit.coefficients), 1e-12)
    assert fit.unique == bool(np.all(width < 1e-4)), width
    assert name != "flat-face" or np.all(width > 0.1)


def test_exact_fit_dispatches_on_the_family_solver():
    """exact_fit(name or family) goes through SOLVERS[family.exact_solver]; a family
    without a solver has no exact fit (None: "no exact counterpart")."""
    from lossbridge.families.laplace import Laplace
    from lossbridge.families.registry import get_family

    d = bundled("engel")
    np.testing.assert_array_equal(exact_fit("normal", d).coefficients, exact_ols(d).coefficients)
    lad = exact_fit(get_family("laplace"), d)
    assert lad.method == "lad" and lad.loss == exact_lad(d).loss

    class NoSolver(Laplace):
        name, exact_solver, exact_name = "laplace-no-solver", None, None

    assert exact_fit(NoSolver(), d) is None
