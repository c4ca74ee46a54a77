"""The Student-t family: its density against scipy and PyMC, its normalising constant by
quadrature, its NLL split, its predictive draws and its nu parameter's checks and prior.

Tolerances: the log-density is a dozen floating-point operations on terms no larger than
|log f| + log Γ, so two correct implementations agree to a few hundred eps relative;
1e-12 relative (about 5000 eps) leaves room for gammaln implementations and still
catches a single-precision step (~1e-8, the bug PyTensor's float32 autocast once caused).
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
from scipy import integrate, stats

from lossbridge.core.errors import InputError
from lossbridge.families.registry import get_family

STUDENT = get_family("student")
RTOL = 1e-12
rng = np.random.default_rng(12)
Y = rng.standard_t(3, size=50) * 2.0 + 1.0
MU = rng.normal(size=50)


@pytest.mark.parametrize("nu", [1.0, 4.0, 0.7, 30.0])
@pytest.mark.parametrize("sigma", [0.5, 2.0])
def test_logpdf_and_logp_equal_scipy_and_pymc(nu, sigma):
    fixed = STUDENT.with_shape(nu=nu)
    reference = stats.t.logpdf(Y, nu, loc=MU, scale=sigma)
    np.testing.assert_allclose(fixed.logpdf(Y, MU, sigma), reference, rtol=RTOL)
    np.testing.assert_allclose(STUDENT.logpdf(Y, MU, sigma, nu=nu), reference, rtol=RTOL)
    # PyTensor, fixed nu (a Python float) and learned nu (a tensor keyword)
    np.testing.assert_allclose(fixed.logp(pt.as_tensor(Y), MU, sigma).eval(), reference, rtol=RTOL)
    nu_tensor = pt.constant(np.float64(nu))
    np.testing.assert_allclose(STUDENT.logp(pt.as_tensor(Y), MU, sigma, nu=nu_tensor).eval(),
                               reference, rtol=RTOL)
    # float64 arguments: PyMC, like PyTensor, would make a Python 0.5 a float32 constant
    pymc = pm.logp(pm.StudentT.dist(nu=np.float64(nu), mu=MU, sigma=np.float64(sigma)), Y).eval()
    np.testing.assert_allclose(fixed.logpdf(Y, MU, sigma), pymc, rtol=RTOL)


@pytest.mark.parametrize("nu", [1.0, 4.0, 0.5])
def test_density_integrates_to_one(nu):
    """Quadrature of exp(logpdf) over the line: the normalising constant
    Γ((ν+1)/2) / (Γ(ν/2) √(νπ) σ) is right (quad's own error estimate bounds the check)."""
    fixed = STUDENT.with_shape(nu=nu)
    total, error = integrate.quad(lambda r: np.exp(fixed.logpdf(r, 0.0, 1.7)), -np.inf, np.inf,
                                  epsabs=1e-12, epsrel=1e-12, limit=500)
    assert abs(total - 1.0) <= max(10 * error, 1e-10)


def test_nll_split_is_scipy_nll_and_nu_one_is_cauchy():
    residuals, sigma = Y - MU, 1.3
    for nu in (1.0, 4.0):
        fixed = STUDENT.with_shape(nu=nu)
        nll = -stats.t.logpdf(residuals, nu, scale=sigma).sum()
        split = fixed.nll_constant(residuals.size, sigma) + fixed.loss_term(residuals, sigma)
        assert split == pytest.approx(nll, rel=RTOL)
        learned = (STUDENT.nll_constant(residuals.size, sigma, nu=nu)
                   + STUDENT.loss_term(residuals, sigma, nu=nu))
        assert learned == pytest.approx(nll, rel=RTOL)
    cauchy = STUDENT.with_shape(nu=1.0)
    assert cauchy.loss_at(residuals, sigma) == pytest.approx(
        np.sum(np.log1p((residuals / sigma) ** 2)), rel=RTOL)
    nll = -stats.cauchy.logpdf(residuals, scale=sigma).sum()
    assert cauchy.nll_constant(residuals.size, sigma) + cauchy.loss_term(residuals, sigma) == \
        pytest.approx(nll, rel=RTOL)


def test_replicate_draws_the_t_distribution():
    """KS test of 20 000 draws against t(4, 0, 2): at a fixed seed, D is below the 0.1 %
    critical value (about 0.0138), which a wrong scale or nu exceeds by far."""
    draws = STUDENT.with_shape(nu=4.0).replicate(np.zeros(20_000), 2.0, np.random.default_rng(3))
    assert stats.kstest(draws, stats.t(4.0, scale=2.0).cdf).statistic < stats.kstwo.ppf(0.999, 20_000)
    per_draw = STUDENT.replicate(np.zeros((3, 20_000)), np.full((3, 1), 2.0),
                                 np.random.default_rng(4), nu=np.array([[1.0], [4.0], [30.0]]))
    for row, nu in zip(per_draw, (1.0, 4.0, 30.0), strict=True):
        assert stats.kstest(row, stats.t(nu, scale=2.0).cdf).statistic < stats.kstwo.ppf(0.999, 20_000)


def test_nu_parameter_declaration_and_prior():
    (nu,) = STUDENT.parameters
    assert (nu.name, nu.default, nu.learnable, nu.prior, nu.option) == ("nu", None, True,
                                                                        "Gamma(2, 0.1)", "nu")
    assert STUDENT.scale_name == "sigma" and STUDENT.fixed_scale_option == "t_sigma"
    assert not STUDENT.in_default_set and STUDENT.smooth
    assert [p.name for p in STUDENT.learned_shape] == ["nu"]
    assert STUDENT.with_shape(nu=4).learned_shape == ()
    assert STUDENT.with_shape(nu="4").shape_value("nu") == 4.0  # the command line's text
    for value in (0.0, -1.0, float("nan"), "-1", "four", [4]):
        with pytest.raises(InputError, match="nu must be a number in"):
            STUDENT.with_shape(nu=value)
    # The three forms of the prior are one distribution: Gamma(alpha = 2, rate = 0.1).
    for value in (0.3, 3.0, 40.0):
        scipy_value = stats.gamma.logpdf(value, 2.0, scale=10.0)
        assert nu.prior_logpdf(value) == pytest.approx(scipy_value, rel=1e-13)
        assert float(nu.prior_logp(np.float64(value)).eval()) == pytest.approx(scipy_value, rel=1e-12)
    with pm.Model() as model:
        nu.prior_variable("nu")
    point = {"nu_log__": np.log(3.0)}
    assert model.compile_logp(jacobian=False)(point) == pytest.approx(
        stats.gamma.logpdf(3.0, 2.0, scale=10.0), rel=1e-12)


def test_quantile_matches_scipy_for_fixed_nu_only():
    p = np.array([0.1, 0.5, 0.975])
    np.testing.assert_allclose(STUDENT.with_shape(nu=4.0).quantile(p, 2.0),
                               stats.t.ppf(p, 4.0, scale=2.0), rtol=1e-14)
    assert STUDENT.quantile(p, 2.0) is None  # nu learned: no one noise distribution
