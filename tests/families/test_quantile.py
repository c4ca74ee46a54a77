"""The quantile family: the asymmetric Laplace density against scipy quadrature, an
independent NumPy formula and PyMC's own AsymmetricLaplace; its loss, scale MLE,
noise quantiles and predictive draws."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
from scipy import integrate, stats

from lossbridge.core.errors import InputError
from lossbridge.families.quantile import QUANTILE, pymc_parameters
from lossbridge.families.registry import get_family

TAUS = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.97)


def al_logpdf(r, tau, sigma):
    """The issue's formula, written out independently: tau (1 - tau) / sigma exp(-rho / sigma)."""
    rho = np.array([x * (tau - (1.0 if x < 0 else 0.0)) for x in np.atleast_1d(r)])
    return np.log(tau * (1 - tau) / sigma) - rho / sigma


def test_registered_with_its_settings():
    family = get_family("quantile")
    assert family is QUANTILE
    assert (family.scale_name, family.fixed_scale_option) == ("sigma", "quantile_sigma")
    assert family.in_default_set is False and family.comparison_group == "quantile"
    assert family.piecewise_linear and not family.smooth
    (tau,) = family.parameters
    assert (tau.name, tau.default, tau.lower, tau.upper, tau.option, tau.multiple) == (
        "tau", 0.5, 0.0, 1.0, "tau", True)
    assert family.with_shape(tau=0.9).shape_value("tau") == 0.9
    for bad in (0.0, 1.0, 1.5, -0.1, "x"):
        with pytest.raises(InputError, match="tau"):
            family.with_shape(tau=bad)


@pytest.mark.parametrize("tau", TAUS)
@pytest.mark.parametrize("sigma", [0.3, 1.0, 7.5])
def test_density_integrates_to_one_and_has_its_quantile_at_zero(tau, sigma):
    family = QUANTILE.with_shape(tau=tau)

    def pdf(r):
        return np.exp(family.logpdf(np.array([r]), 0.0, sigma)[0])

    left, err_left = integrate.quad(pdf, -np.inf, 0.0, epsabs=1e-13, epsrel=1e-12)
    right, err_right = integrate.quad(pdf, 0.0, np.inf, epsabs=1e-13, epsrel=1e-12)
    # quad's own error estimates are below 1e-10 here; 1e-9 leaves room for them.
    assert abs(left + right - 1.0) < 1e-9
    assert abs(left - tau) < 1e-9  # P(r < 0) = tau: the tau-quantile of the noise is 0


@pytest.mark.parametrize("tau", TAUS)
def test_logpdf_and_logp_equal_the_formula_and_pymc(tau):
    family = QUANTILE.with_shape(tau=tau)
    rng = np.random.default_rng(int(tau * 100))
    y = rng.normal(size=40) * 3
    mu = rng.normal(size=40)
    sigma = 1.7
    reference = al_logpdf(y - mu, tau, sigma)
    np.testing.assert_allclose(family.logpdf(y, mu, sigma), reference, rtol=1e-13, atol=1e-13)
    # scipy's laplace_asymmetric(kappa, scale s): rates kappa/s right, 1/(kappa s) left, so
    # kappa = sqrt(tau / (1 - tau)) and s = sigma / sqrt(tau (1 - tau)).
    scipy_ref = stats.laplace_asymmetric.logpdf(y, np.sqrt(tau / (1 - tau)), loc=mu,
                                                scale=sigma / np.sqrt(tau * (1 - tau)))
    np.testing.assert_allclose(scipy_ref, reference, rtol=1e-12, atol=1e-12)
    ours = family.logp(pt.as_tensor(y), pt.as_tensor(mu), pt.as_tensor(sigma)).eval()
    np.testing.assert_allclose(ours, reference, rtol=1e-13, atol=1e-13)
    summed = family.summed_logp(pt.as_tensor(y), pt.as_tensor(mu), pt.as_tensor(sigma)).eval()
    assert summed == pytest.approx(reference.sum(), rel=1e-13)
    # PyMC's AsymmetricLaplace(b, kappa, mu): b is a rate, b = sqrt(tau (1-tau)) / sigma.
    b, kappa = pymc_parameters(tau, sigma)
    pymc_logp = pm.logp(pm.AsymmetricLaplace.dist(b=b, kappa=kappa, mu=mu), y).eval()
    np.testing.assert_allclose(pymc_logp, reference, rtol=1e-12, atol=1e-12)
    by_q = pm.logp(pm.AsymmetricLaplace.dist(b=b, q=tau, mu=mu), y).eval()  # PyMC's q = tau
    np.testing.assert_allclose(by_q, reference, rtol=1e-12, atol=1e-12)


def test_pymc_with_sigma_as_b_is_not_this_density():
    """The trap the mapping avoids: passing sigma as PyMC's b gives another density."""
    tau, sigma = 0.9, 2.0
    y = np.linspace(-3, 3, 7)
    wrong = pm.logp(pm.AsymmetricLaplace.dist(b=sigma, q=tau, mu=0.0), y).eval()
    assert np.max(np.abs(wrong - al_logpdf(y, tau, sigma))) > 0.5


@pytest.mark.parametrize("tau", [0.1, 0.5, 0.9])
def test_loss_scale_mle_and_nll(tau):
    family = QUANTILE.with_shape(tau=tau)
    r = np.array([-2.0, -0.5, 0.0, 1.0, 3.0])
    expected = sum(x * (tau - (x < 0)) for x in r)
    assert family.loss(r) == pytest.approx(expected, rel=1e-15)
    assert family.scale_mle(family.loss(r), r.size) == family.loss(r) / r.size
    sigma = 0.8
    nll = family.nll_constant(r.size, sigma) + family.nll_loss_term(family.loss(r), sigma)
    assert nll == pytest.approx(-al_logpdf(r, tau, sigma).sum(), rel=1e-14)
    # The learned-scale MLE maximises the likelihood in sigma (derivative zero).
    s_hat = family.scale_mle(family.loss(r), r.size)
    grid = s_hat * np.array([0.9, 1.0, 1.1])
    values = [family.nll_constant(r.size, s) + family.nll_loss_term(family.loss(r), s)
              for s in grid]
    assert values[1] < values[0] and values[1] < values[2]


@pytest.mark.parametrize("tau", [0.1, 0.5, 0.8])
def test_quantile_function_inverts_the_cdf(tau):
    family = QUANTILE.with_shape(tau=tau)
    sigma = 1.3
    p = np.array([0.01, 0.2, tau, 0.6, 0.99])
    q = family.quantile(p, sigma)

    def cdf(x):
        return integrate.quad(lambda r: np.exp(family.logpdf(np.array([r]), 0.0, sigma)[0]),
                              -np.inf, x, epsabs=1e-13, epsrel=1e-12)[0]

    np.testing.assert_allclose([cdf(x) for x in q], p, atol=1e-9)
    assert q[2] == 0.0


@pytest.mark.parametrize("tau", [0.1, 0.7])
def test_replicate_draws_the_density(tau):
    family = QUANTILE.with_shape(tau=tau)
    rng = np.random.default_rng(3)
    sigma = 2.0
    draws = family.replicate(np.zeros(200_000), sigma, rng)
    # Kolmogorov-Smirnov against the CDF from the quantile function (inverted on a grid).
    grid = np.linspace(1e-6, 1 - 1e-6, 20_001)
    cdf = lambda x: np.interp(x, family.quantile(grid, sigma), grid)  # noqa: E731
    result = stats.kstest(draws, cdf)
    assert result.pvalue > 1e-3
    assert np.mean(draws < 0) == pytest.approx(tau, abs=4 * np.sqrt(tau * (1 - tau) / draws.size))
