"""EM / IRLS for t regression (estimation/student_em.py) against independent references.

References: statsmodels' ``TLinearModel`` (maximum likelihood at a fixed nu, its own
optimiser); a test-side objective written with ``scipy.stats.t`` and ``scipy.stats.gamma``
only, minimised by scipy (numerical-gradient L-BFGS, then Nelder-Mead); a grid search of a
one-parameter Cauchy likelihood for the local optima; parameter recovery on simulated t
data within 4 standard errors from the observed information.

Tolerance of the scipy and statsmodels comparisons, 1e-6 relative: those optimisers stop
on objective values or numerical gradients, and at an optimum the objective is flat to
second order, so they resolve a parameter only to about sqrt(eps |f| / H) relative,
~1e-7 here; EM + Newton itself reaches the rounding level of its own gradient (checked:
gradient norm below 1e-8 of the objective's scale).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from statsmodels.miscmodels.tmodel import TLinearModel

import lossbridge
from lossbridge.core.errors import LocalOptimaWarning
from lossbridge.data.datasets import resolve_formula
from lossbridge.data.design import build_design
from lossbridge.data.tables import load_table
from lossbridge.estimation.exact import exact_fit
from lossbridge.estimation.student_em import _Problem, exact_student, student_optima
from lossbridge.families.registry import get_family

STUDENT = get_family("student")
RTOL = 1e-6


@pytest.fixture(scope="module")
def engel():
    return build_design(load_table("engel"), resolve_formula("engel", None))


def independent_objective(X, y, nu_fixed=None, sigma_fixed=None):
    """-sum log t(y | X beta, sigma, nu) - log Gamma(nu; 2, rate 0.1) (nu learned), scipy only."""
    k = X.shape[1]

    def f(p):
        beta, i = p[:k], k
        sigma = sigma_fixed
        if sigma is None:
            sigma, i = np.exp(p[i]), i + 1
        nu = nu_fixed if nu_fixed is not None else np.exp(p[i])
        value = -stats.t.logpdf(y, nu, loc=X @ beta, scale=sigma).sum()
        if nu_fixed is None:
            value -= stats.gamma.logpdf(nu, 2.0, scale=10.0)
        return value

    return f


def scipy_minimum(f, p0):
    first = optimize.minimize(f, p0, method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-10})
    # Nelder-Mead's initial simplex is 5 % of each coordinate; start it small around the
    # L-BFGS point so it polishes rather than explores.
    simplex = first.x + np.vstack([np.zeros(p0.size), np.diag(1e-4 * np.maximum(np.abs(first.x), 1e-2))])
    return optimize.minimize(f, first.x, method="Nelder-Mead",
                             options={"initial_simplex": simplex, "xatol": 1e-12, "fatol": 1e-13,
                                      "maxiter": 20_000, "maxfev": 40_000}).x


@pytest.mark.parametrize("nu", [1.0, 4.0])
def test_fixed_nu_equals_tlinearmodel_and_scipy(engel, nu):
    fit = exact_student(STUDENT.with_shape(nu=nu), engel)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' convergence chatter at gtol 1e-10
        reference = TLinearModel(engel.y, engel.X, fix_df=nu).fit(
            disp=0, method="bfgs", maxiter=5000, gtol=1e-10).params
    np.testing.assert_allclose(fit.coefficients, reference[:-1], rtol=RTOL)
    assert fit.loss_scale == pytest.approx(reference[-1], rel=RTOL)
    f = independent_objective(engel.X, engel.y, nu_fixed=nu)
    ols = np.linalg.lstsq(engel.X, engel.y, rcond=None)[0]
    p = scipy_minimum(f, np.r_[ols, np.log(60.0)])
    np.testing.assert_allclose(fit.coefficients, p[:-1], rtol=RTOL)
    assert fit.loss_scale == pytest.approx(np.exp(p[-1]), rel=RTOL)
    assert fit.objective == pytest.approx(f(np.r_[fit.coefficients, np.log(fit.loss_scale)]), rel=1e-13)
    assert fit.objective <= f(p) + 1e-12 * abs(fit.objective)  # EM is not worse than scipy


def test_learned_nu_maximises_likelihood_plus_gamma_prior(engel):
    fit = exact_student(STUDENT, engel)
    f = independent_objective(engel.X, engel.y)
    ols = np.linalg.lstsq(engel.X, engel.y, rcond=None)[0]
    p = scipy_minimum(f, np.r_[ols, np.log(60.0), np.log(5.0)])
    np.testing.assert_allclose(fit.coefficients, p[:2], rtol=RTOL)
    assert fit.loss_scale == pytest.approx(np.exp(p[2]), rel=RTOL)
    assert fit.shape["nu"] == pytest.approx(np.exp(p[3]), rel=RTOL)
    assert fit.objective <= f(p) + 1e-12 * abs(fit.objective)
    assert fit.scale is None and fit.scale_mle == fit.loss_scale and fit.local_optima == (fit.objective,)


def test_fixed_sigma_fit(engel):
    """At a fixed sigma (the keyword every scale-dependent solver takes) only beta moves."""
    family = STUDENT.with_shape(nu=4.0)
    fit = exact_fit(family, engel, scale=50.0)
    assert fit.scale == 50.0 and fit.scale_fixed and fit.scale_mle is None
    f = independent_objective(engel.X, engel.y, nu_fixed=4.0, sigma_fixed=50.0)
    p = scipy_minimum(f, np.linalg.lstsq(engel.X, engel.y, rcond=None)[0])
    np.testing.assert_allclose(fit.coefficients, p, rtol=RTOL)
    # learned nu at a fixed sigma: ECME on nu alone
    learned = exact_fit(STUDENT, engel, scale=50.0)
    f = independent_objective(engel.X, engel.y, sigma_fixed=50.0)
    p = scipy_minimum(f, np.r_[np.linalg.lstsq(engel.X, engel.y, rcond=None)[0], np.log(5.0)])
    np.testing.assert_allclose(learned.coefficients, p[:2], rtol=RTOL)
    assert learned.shape["nu"] == pytest.approx(np.exp(p[2]), rel=RTOL)


@pytest.mark.parametrize("sigma", [None, 40.0])
def test_hand_derived_gradient_matches_differences(engel, sigma):
    problem = _Problem(STUDENT, engel, sigma)
    p = problem.pack(np.array([90.0, 0.5]), 60.0, 3.0)[: 2 + (sigma is None) + 1]
    numeric = optimize.approx_fprime(p, problem.value, 1e-7 * np.maximum(np.abs(p), 1.0))
    # forward differences: error ~ h |f''| ~ 1e-7 relative of the gradient's scale
    np.testing.assert_allclose(problem.gradient(p), numeric, rtol=1e-4,
                               atol=1e-5 * np.abs(numeric).max())


def test_polished_optimum_is_at_rounding(engel):
    (best,) = student_optima(STUDENT, engel)
    assert best.gradient_norm <= 1e-8 * abs(best.objective)


def cauchy_two_modes():
    """Six points near -10 and four near +10: at sigma = 1 the Cauchy location likelihood
    has a local maximum at each cluster (and a minimum between)."""
    return np.r_[-10 + 0.1 * np.arange(6), 10 + 0.1 * np.arange(4)]


def test_two_local_optima_found_and_match_a_grid_search():
    y = cauchy_two_modes()
    design = build_design(load_table(pd.DataFrame({"y": y})), "y ~ 1")
    optima = student_optima(STUDENT.with_shape(nu=1.0), design, scale=1.0)
    assert len(optima) == 2

    def f(m):
        return -stats.cauchy.logpdf(y, loc=m).sum()

    grid = np.linspace(-15, 15, 30_001)
    values = np.array([f(m) for m in grid])
    inner = np.flatnonzero((values[1:-1] < values[:-2]) & (values[1:-1] < values[2:])) + 1
    assert inner.size == 2
    reference = sorted((optimize.minimize_scalar(f, bracket=(grid[i - 1], grid[i], grid[i + 1]),
                                                 tol=1e-12) for i in inner), key=lambda r: r.fun)
    for optimum, ref in zip(optima, reference, strict=True):
        assert optimum.beta[0] == pytest.approx(ref.x, rel=RTOL)
        assert optimum.objective == pytest.approx(ref.fun, rel=1e-12)


def test_pipeline_reports_local_optima_and_certifies_against_the_best():
    frame = pd.DataFrame({"y": cauchy_two_modes()})
    with pytest.warns(LocalOptimaWarning, match="2 distinct local optima"):
        analysis = lossbridge.fit(frame, "y ~ 1", likelihoods=["student"], nu=1.0, scales="fixed",
                                  t_sigma=1.0, sample=False)
    certificate = analysis.fits[0].certificate
    assert len(certificate.local_optima) == 2
    assert certificate.local_optima[0] < certificate.local_optima[1]
    assert "2 distinct local optima" in certificate.explanation
    # certified exactly when the MAP sits at the best optimum
    at_best = certificate.objective_map <= certificate.local_optima[0] + 1e-9
    assert certificate.certified == at_best
    record = analysis.to_dict()["fits"][0]["certificate"]
    assert record["local_optima"] == list(certificate.local_optima)


def test_certificate_rejects_a_worse_local_optimum():
    """The MAP moved to the other cluster's optimum is not certified: the objective check fails."""
    import dataclasses

    from lossbridge.estimation.certificate import certify

    frame = pd.DataFrame({"y": cauchy_two_modes()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LocalOptimaWarning)
        analysis = lossbridge.fit(frame, "y ~ 1", likelihoods=["student"], nu=1.0, scales="fixed",
                                  t_sigma=1.0, sample=False)
    result = analysis.fits[0]
    design = analysis.design
    worse = student_optima(result.spec.family, design, scale=1.0)[1]
    moved = dataclasses.replace(result.map, coefficients=worse.beta)
    certificate = certify(result.spec, design, moved, result.baseline)
    assert not certificate.certified and not certificate.checks["objective"]
    assert "worse local optimum" in certificate.explanation


def simulated(nu, n=3000, seed=5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = 1.0 + 2.0 * x + 0.5 * rng.standard_t(nu, size=n)
    return build_design(load_table(pd.DataFrame({"y": y, "x": x})), "y ~ x")


@pytest.mark.parametrize(("nu", "learned"), [(4.0, True), (1.0, False), (4.0, False)])
def test_parameter_recovery_within_four_standard_errors(nu, learned):
    design = simulated(nu)
    family = STUDENT if learned else STUDENT.with_shape(nu=nu)
    fit = exact_student(family, design)
    problem = _Problem(family, design, None)
    p = problem.pack(fit.coefficients, fit.loss_scale, fit.shape.get("nu", nu))
    se = np.sqrt(np.diag(np.linalg.inv(problem.hessian(p))))
    truth = problem.pack(np.array([1.0, 2.0]), 0.5, nu)
    assert np.all(np.abs(p - truth) <= 4.0 * se), (p, truth, se)
