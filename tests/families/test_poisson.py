"""The Poisson family (scale mode ``none``) against scipy, PyMC and statsmodels.

References: scipy.stats.poisson.logpmf; PyMC's own Poisson log-probability; the Poisson
GLM of statsmodels (IRLS, converged to 1e-14) on statsmodels' ``cpunish`` data (US state
executions, 1997, the example of statsmodels' GLM documentation).
"""

from __future__ import annotations

import numpy as np
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
