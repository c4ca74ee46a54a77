"""The sampled Categorical posterior against an independent importance sampler.

Under flat priors the posterior of a multinomial logit has no closed form; the test
computes its moments by importance sampling from a multivariate t centred at statsmodels'
MNLogit fit with its inverse information (independent of lossbridge: statsmodels'
fit, scipy's t, NumPy's log-softmax), and holds NUTS' means and sds to them within 4
combined Monte Carlo standard errors (NUTS' MCSE from ArviZ, the importance sampler's
from its effective sample size). The leave-one-out total is held to the same sampler's
exact LOO, p(y_i | y_-i) = 1 / E_post[1 / p(y_i | theta)].
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

import lossbridge

pytestmark = pytest.mark.slow


def _data(n=150, seed=11):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    eta = np.column_stack([np.zeros(n), 0.3 + 1.0 * x, -0.5 - 0.8 * x])
    p = np.exp(eta - eta.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    codes = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return pd.DataFrame({"x": x, "y": np.array(["apple", "banana", "cherry"])[codes]})


def _log_probabilities(X, beta_draws, p):
    """(draws, n, K) log softmax for flat level-by-level coefficient draws."""
    blocks = beta_draws.reshape(len(beta_draws), -1, p)
    eta = np.einsum("scp,np->snc", blocks, X)
    full = np.concatenate([np.zeros(eta.shape[:-1] + (1,)), eta], axis=-1)
    peak = full.max(axis=-1, keepdims=True)
    return full - peak - np.log(np.exp(full - peak).sum(axis=-1, keepdims=True))


def _importance_reference(X, codes, draws=200_000, seed=3):
    p = X.shape[1]
    fit = sm.MNLogit(codes, X).fit(method="newton", tol=1e-12, maxiter=100, disp=0)
    centre = np.asarray(fit.params).ravel(order="F")  # level by level, as lossbridge's terms
    order = np.arange(centre.size).reshape(p, -1).ravel(order="F")
    covariance = np.asarray(fit.cov_params())[np.ix_(order, order)] * 1.5
    proposal = stats.multivariate_t(loc=centre, shape=covariance, df=5, seed=seed)
    theta = proposal.rvs(size=draws)
    log_p = _log_probabilities(X, theta, p)
    pointwise = np.take_along_axis(log_p, np.broadcast_to(codes, log_p.shape[:2])[..., None],
                                   axis=-1)[..., 0]  # (draws, n)
    log_w = pointwise.sum(axis=1) - proposal.logpdf(theta)  # flat prior
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    ess = 1.0 / np.sum(w**2)
    mean = w @ theta
    sd = np.sqrt(w @ (theta - mean) ** 2)
    # exact LOO by the same draws: log p(y_i | y_-i) = -log E_post[exp(-log p(y_i | theta))]
    inverse = -pointwise
    peak = inverse.max(axis=0)
    elpd_i = -(peak + np.log(w @ np.exp(inverse - peak)))
    return mean, sd, ess, float(elpd_i.sum())


def test_nuts_posterior_and_loo_equal_an_independent_importance_sampler():
    frame = _data()
    analysis = lossbridge.fit(frame, "y ~ x", likelihoods="categorical", draws=1000, tune=700,
                              chains=2, seed=5, progress=False)
    result = analysis.fits[0]
    design = analysis.design
    assert design.classes == ("apple", "banana", "cherry")
    codes = design.y.astype(int)
    mean, sd, ess, elpd_reference = _importance_reference(design.X, codes)
    assert ess > 20_000  # the proposal covers the posterior (weights not degenerate)
    import arviz as az

    chains = np.asarray(result.posterior.idata.posterior["beta"])
    flat = chains.reshape(-1, chains.shape[-1])
    table = az.summary(az.convert_to_dataset(chains), kind="diagnostics", round_to="none")
    mcse_mean, mcse_sd = table["mcse_mean"].to_numpy(), table["mcse_sd"].to_numpy()
    # the importance sampler's own Monte Carlo errors: sd / sqrt(ESS) for a mean, about
    # sd / sqrt(2 ESS) for an sd
    z_mean = (flat.mean(axis=0) - mean) / np.hypot(mcse_mean, sd / np.sqrt(ess))
    z_sd = (flat.std(axis=0, ddof=1) - sd) / np.hypot(mcse_sd, sd / np.sqrt(2 * ess))
    assert np.all(np.abs(z_mean) < 4), z_mean
    assert np.all(np.abs(z_sd) < 4), z_sd
    assert result.posterior.divergences == 0
    loo = result.posterior.loo
    # PSIS-LOO from 2000 draws against the 200,000-draw exact LOO: with every Pareto k
    # below 0.5 the total's Monte Carlo error is a few hundredths of a nat (the
    # pointwise se times sqrt(n) / sqrt(ESS)); 0.25 nats is several of them
    assert np.max(loo.pareto_k) < 0.5
    assert abs(loo.elpd_loo - elpd_reference) < 0.25, (loo.elpd_loo, elpd_reference)
