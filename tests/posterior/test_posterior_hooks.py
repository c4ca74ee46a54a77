"""The posterior stage asks the family for its closed forms: exact posterior and exact LOO.

Each number is checked against an independent reference (statsmodels, scipy quadrature,
brute-force refits), so the family hooks give the numbers the posterior code gave before.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from lossbridge.core.labels import scale_label
from lossbridge.data.design import build_design
from lossbridge.data.rotation import Rotation
from lossbridge.data.tables import load_table
from lossbridge.estimation.exact import exact_fit
from lossbridge.families.registry import get_family
from lossbridge.models.spec import ModelSpec
from lossbridge.posterior.loo import EXACT_METHOD, closed_form, exact_basis
from lossbridge.posterior.oracle import exact_posterior


def _design(n: int, seed: int):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.uniform(-1, 3, size=n)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "y": 1 + 2 * x1 - x2 + rng.normal(size=n)})
    design = build_design(load_table(frame), "y ~ x1 + x2")
    return design, Rotation.from_design(design.X, design.y)


def test_exact_posterior_fixed_sigma_equals_statsmodels():
    design, rotation = _design(30, seed=1)
    spec = ModelSpec("normal", "fixed", 1.3, "user value (--sigma)")
    exact = exact_posterior(spec, design, rotation, exact_fit("normal", design))
    ols = sm.OLS(design.y, design.X).fit()
    cov = 1.3**2 * ols.normalized_cov_params
    # Both are least-squares solves of a well-conditioned design (cond < 10): 1e-10 relative.
    np.testing.assert_allclose(exact.mean.to_numpy(), ols.params, rtol=1e-10)
    np.testing.assert_allclose(exact.sd.to_numpy(), np.sqrt(np.diag(cov)), rtol=1e-10)
    np.testing.assert_allclose(exact.covariance, cov, rtol=1e-10)
    assert exact.distribution == "normal" and exact.dof is None
    assert list(exact.mean.index) == list(design.terms)


def test_exact_posterior_learned_sigma_equals_statsmodels_and_quadrature():
    design, rotation = _design(25, seed=2)
    exact = exact_posterior(ModelSpec("normal", "learned"), design, rotation,
                            exact_fit("normal", design))
    ols = sm.OLS(design.y, design.X).fit()
    n, k = design.X.shape
    nu = n - k - 1  # HalfFlat on sigma: multivariate t with n - k - 1 dof
    sd_beta = np.sqrt(ols.ssr / (nu - 2) * np.diag(ols.normalized_cov_params))
    # sigma^2 | y ~ Inv-Gamma(nu / 2, RSS / 2): the moments of sigma by quadrature
    law = stats.invgamma(nu / 2, scale=ols.ssr / 2)
    sigma_mean = law.expect(np.sqrt)
    sigma_sd = np.sqrt(law.mean() - sigma_mean**2)
    label = scale_label("sigma")
    np.testing.assert_allclose(exact.mean[list(design.terms)].to_numpy(), ols.params, rtol=1e-10)
    np.testing.assert_allclose(exact.sd[list(design.terms)].to_numpy(), sd_beta, rtol=1e-10)
    # quad's default relative tolerance is 1.5e-8 on E[sigma]; the sd subtracts two
    # moments of similar size (E[sigma^2] / Var(sigma) ~ 2 nu = 40), so its bound is ~6e-7.
    assert exact.mean[label] == pytest.approx(sigma_mean, rel=1e-7)
    assert exact.sd[label] == pytest.approx(sigma_sd, rel=1e-6)
    assert exact.distribution == "multivariate t" and exact.dof == nu


def test_no_exact_posterior_or_loo_where_the_family_has_none():
    design, rotation = _design(20, seed=3)
    lad = exact_fit("laplace", design)
    for spec in (ModelSpec("laplace", "learned"), ModelSpec("laplace", "fixed", 1.0, "user value")):
        assert exact_posterior(spec, design, rotation, lad) is None
        assert closed_form(spec, design, rotation) is None
    weak = ModelSpec("normal", "learned", priors="weak")  # closed forms need flat priors
    assert exact_posterior(weak, design, rotation, exact_fit("normal", design)) is None
    assert closed_form(weak, design, rotation) is None


def test_learned_sigma_exact_loo_equals_brute_force_refits():
    """With a flat prior on beta and HalfFlat on sigma, y_i | y_-i is a Student t with
    n - k - 2 dof, location x_i'b_-i and squared scale RSS_-i / (n - k - 2) (1 + v_i)."""
    design, rotation = _design(18, seed=4)
    closed = closed_form(ModelSpec("normal", "learned"), design, rotation)
    n, k = design.X.shape
    for i in range(n):
        keep = np.arange(n) != i
        X, y = design.X[keep], design.y[keep]
        fit = sm.OLS(y, X).fit()
        x = design.X[i]
        nu = (n - 1) - k - 1
        scale = np.sqrt(fit.ssr / nu * (1 + x @ fit.normalized_cov_params @ x))
        reference = stats.t(nu, loc=x @ fit.params, scale=scale)
        # a few well-conditioned solves on each side: agreement to 1e-9 relative
        assert closed.elpd_pointwise[i] == pytest.approx(reference.logpdf(design.y[i]), rel=1e-9)
        assert closed.pit[i] == pytest.approx(reference.cdf(design.y[i]), rel=1e-9, abs=1e-12)


def test_exact_loo_method_text_is_the_json_contract():
    normal = get_family("normal")
    assert f"{EXACT_METHOD} ({exact_basis(normal, plug_in=False)})" == \
        "exact LOO in closed form (Normal likelihood, flat priors)"
    assert f"{EXACT_METHOD} ({exact_basis(normal, plug_in=True)})" == (
        "exact LOO in closed form (Normal likelihood, flat priors; plug-in sigma re-estimated "
        "without each row)")
