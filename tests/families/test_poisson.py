"""The Poisson family (scale mode ``none``) against scipy, PyMC and statsmodels.

References: scipy.stats.poisson.logpmf; PyMC's own Poisson log-probability; the Poisson
GLM of statsmodels (IRLS, converged to 1e-14) on statsmodels' ``cpunish`` data (US state
executions, 1997, the example of statsmodels' GLM documentation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import pytest
import statsmodels.api as sm
from scipy import stats

import lossbridge
from lossbridge.core.errors import InputError
from lossbridge.families.poisson import POISSON

FORMULA = "EXECUTIONS ~ INCOME + PERPOVERTY + PERBLACK + np.log(VC100k96) + SOUTH + DEGREE"


@pytest.fixture(scope="module")
def cpunish():
    return sm.datasets.cpunish.load_pandas().data


def test_logpdf_matches_scipy_and_pymc():
    y = np.array([0.0, 1.0, 3.0, 10.0, 57.0])
    mu = np.array([0.2, 1.5, 2.0, 11.0, 40.0])
    expected = stats.poisson.logpmf(y, mu)
    assert np.allclose(POISSON.logpdf(y, mu, 1.0), expected, rtol=1e-13, atol=0)
    ours = POISSON.logp(pt.as_tensor(y), pt.as_tensor(mu), 1.0).eval()
    theirs = pm.logp(pm.Poisson.dist(mu=mu), y).eval()
    assert np.allclose(ours, theirs, rtol=1e-12, atol=0)


def test_nll_is_half_the_deviance_plus_a_constant():
    rng = np.random.default_rng(0)
    mu = rng.gamma(2.0, 2.0, size=200)
    y = rng.poisson(mu).astype(float)
    nll = -stats.poisson.logpmf(y, mu).sum()
    split = POISSON.nll_constant_of(y, 1.0) + POISSON.loss_term_of(y, mu, 1.0)
    assert split == pytest.approx(nll, rel=1e-12)
    # the deviance is zero at the saturated fit mu = y
    assert POISSON.loss_of(y, y, 1.0) == pytest.approx(0.0, abs=1e-10)


def test_map_is_the_poisson_glm_of_statsmodels(cpunish):
    analysis = lossbridge.fit(cpunish, FORMULA, likelihoods="poisson", sample=False)
    [result] = analysis.fits
    assert result.spec.name == "poisson" and result.spec.scale == "none"
    assert result.certified
    reference = sm.GLM.from_formula(FORMULA, cpunish, family=sm.families.Poisson(),
                                    eval_env={"np": np}).fit(tol=1e-14)
    # 1e-8 relative: both are converged Newton/IRLS solutions of one strictly convex problem.
    assert np.allclose(result.map.coefficients, reference.params.to_numpy(), rtol=1e-8, atol=0)
    assert result.nll.nll == pytest.approx(-reference.llf, rel=1e-10)
    assert result.nll.loss == pytest.approx(reference.deviance, rel=1e-9)
    assert result.nll.matches_pymc
    document = analysis.to_dict()
    assert document["fits"][0]["map_scale"] is None


@pytest.mark.parametrize("bad", [-1.0, 2.5])
def test_counts_are_checked(cpunish, bad):
    frame = cpunish.copy()
    frame.loc[3, "EXECUTIONS"] = bad
    with pytest.raises(InputError, match=r"needs counts \(integers >= 0\) in 'EXECUTIONS'.*row 4"):
        lossbridge.fit(frame, FORMULA, likelihoods="poisson", sample=False)


def _large_counts(a: float, n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(int(a))
    x = rng.standard_normal(n)
    return pd.DataFrame({"y": rng.poisson(np.exp(a + 0.3 * x)).astype(float), "x": x})


@pytest.mark.parametrize("a", [12.0, 15.0, 20.0])
def test_large_counts_are_certified_on_the_log_scale(a):
    """mu = e^(a + 0.3x): the rotated coordinates are on eta's scale (Family.coordinate_scale
    = 1 for a log link), not sd(y) ~ e^a, so one unit of theta is not a step of thousands on
    eta (uncertified at a = 12/15, infs at a = 20 before). Both counts families certified."""
    frame = _large_counts(a)
    analysis = lossbridge.fit(frame, "y ~ x", likelihoods=["poisson", "negbin"], sample=False)
    for result in analysis.fits:
        assert result.certified, (result.spec.name, result.certificate.explanation)
    reference = sm.GLM(frame["y"], sm.add_constant(frame["x"]),
                       family=sm.families.Poisson()).fit(tol=1e-14)
    [poisson] = [r for r in analysis.fits if r.spec.name == "poisson"]
    # one strictly convex problem, both Newton solutions: 1e-8 relative
    assert np.allclose(poisson.map.coefficients, reference.params.to_numpy(), rtol=1e-8, atol=0)


def test_rotation_of_a_log_link_is_unit_scaled_and_identity_families_unchanged():
    from lossbridge.data.rotation import Rotation
    from lossbridge.families.normal import NORMAL

    frame = _large_counts(12.0)
    X = np.column_stack([np.ones(len(frame)), frame["x"]])
    rotation = Rotation.from_design(X, frame["y"].to_numpy())
    assert rotation.for_family(NORMAL) is rotation  # bit-identical for the identity link
    own = rotation.for_family(POISSON)
    assert own.y_scale == 1.0 and own.for_family(POISSON) is own
    theta = np.array([0.3, -1.2])
    assert np.allclose(own.to_theta(own.to_beta(theta)), theta, rtol=1e-13)


def test_newton_reaches_a_zero_gradient_at_large_counts(tmp_path):
    """beta = (11, 1): the NLL's terms are ~1e6 and cancel; a stop on its change (rounding
    noise) left the reference's gradient above its bound. Newton now stops at the bound and
    line-searches on the deviance (Family.newton_objective)."""
    from lossbridge.estimation.glm import newton_glm

    rng = np.random.default_rng(1)
    x = rng.standard_normal(200)
    X = np.column_stack([np.ones(200), x])
    y = rng.poisson(np.exp(11.0 + x)).astype(float)
    fit = newton_glm(POISSON, X, y)
    assert fit.kkt()["holds"] and fit.stationary
    reference = sm.GLM(y, X, family=sm.families.Poisson()).fit(tol=1e-14)
    assert np.allclose(fit.coefficients, reference.params, rtol=1e-9, atol=0)
    # the deviance form equals -sum log f up to the saturated constant
    mu = np.exp(X @ fit.coefficients)
    full = -stats.poisson.logpmf(y, mu).sum() - POISSON.nll_constant_of(y, 1.0)
    assert POISSON.newton_objective(y, mu) == pytest.approx(full, rel=1e-9)
    path = tmp_path / "pbig.csv"
    pd.DataFrame({"y": y, "x1": x}).to_csv(path, index=False)
    [result] = lossbridge.fit(str(path), "y ~ x1", likelihoods="poisson", sample=False).fits
    assert result.certified and result.baseline.kkt["holds"]


def test_weak_prior_map_is_the_penalised_poisson_fit():
    """Rare counts, mu = exp(-3.5 + 0.8x): weak priors on the log scale (rstanarm's
    Normal(0, 2.5/sd(x)) slope, Normal(log mean y, 2.5) centred intercept), checked against
    scipy's Newton on that objective written out independently (the sd(y) autoscaling on
    the identity scale shrank this slope by 42%)."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(3)
    n = 300
    x = rng.standard_normal(n)
    y = rng.poisson(np.exp(-3.5 + 0.8 * x)).astype(float)
    X = np.column_stack([np.ones(n), x])
    prior_sd, centre, mean_x = 2.5 / np.std(x, ddof=1), np.log(np.mean(y)), np.mean(x)

    def objective(beta):
        eta = X @ beta
        mu = np.exp(eta)
        c = beta[0] + mean_x * beta[1] - centre
        value = np.sum(mu - y * eta) + 0.5 * (beta[1] / prior_sd) ** 2 + 0.5 * (c / 2.5) ** 2
        grad = X.T @ (mu - y) + np.r_[0.0, beta[1] / prior_sd**2] + c / 2.5**2 * np.r_[1.0, mean_x]
        hess = ((X * mu[:, None]).T @ X + np.diag([0.0, 1 / prior_sd**2])
                + np.outer([1.0, mean_x], [1.0, mean_x]) / 2.5**2)
        return value, grad, hess

    beta = minimize(lambda b: objective(b)[0], np.zeros(2), jac=lambda b: objective(b)[1],
                    hess=lambda b: objective(b)[2], method="trust-exact").x
    for _ in range(20):  # Newton polish (strictly convex)
        _, grad, hess = objective(beta)
        beta = beta - np.linalg.solve(hess, grad)
    assert np.max(np.abs(objective(beta)[1])) < 1e-9
    frame = pd.DataFrame({"y": y, "x": x})
    [result] = lossbridge.fit(frame, "y ~ x", likelihoods="poisson", priors="weak",
                              sample=False).fits
    # strictly convex, both at gradients below 1e-9 with a well-conditioned Hessian: 1e-7
    assert np.allclose(result.map.coefficients, beta, rtol=1e-7, atol=0)
