"""The Huber density: its normalising constant, its three forms, its sampler and quantiles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from lossbridge.core.errors import InputError
from lossbridge.families.huber import HUBER, normalising_constant
from lossbridge.families.registry import get_family

CS = (0.1, 0.5, 1.0, 1.345, 2.0, 3.0)


def rho(u, c):
    """Huber's loss, written out independently of the package."""
    return np.array([0.5 * v * v if abs(v) <= c else c * abs(v) - 0.5 * c * c
                     for v in np.atleast_1d(u)])


def unit_density(u, c):
    return float(np.exp(-rho(u, c))[0])


def reference_cdf(u, c):
    """P(U <= u) for the unit Huber density, integrated by hand: exponential tails and a
    Gaussian centre (checked against quadrature below)."""
    a = 2 * math.sqrt(2 * math.pi) * (stats.norm.cdf(c) + stats.norm.pdf(c) / c - 0.5)
    u = np.asarray(u, dtype=float)
    tail = np.exp(c * np.minimum(u, -c) + 0.5 * c * c) / (c * a)  # u <= -c
    centre = (math.exp(-0.5 * c * c) / (c * a)
              + math.sqrt(2 * math.pi) * (stats.norm.cdf(np.clip(u, -c, c)) - stats.norm.cdf(-c)) / a)
    lower = np.where(u <= -c, tail, centre)
    upper = 1.0 - np.exp(-c * np.maximum(u, c) + 0.5 * c * c) / (c * a)
    return np.where(u >= c, upper, lower)


@pytest.mark.parametrize("c", CS)
def test_normalising_constant_by_quadrature(c):
    """A = ∫ exp(-rho_c) over the line, by adaptive quadrature with the kinks as breakpoints;
    quad's own error estimate is below 1e-10 here, so 1e-10 relative."""
    centre, err1 = integrate.quad(lambda u: unit_density(u, c), -c, c, epsabs=0, epsrel=1e-13)
    tail, err2 = integrate.quad(lambda u: unit_density(u, c), c, np.inf, epsabs=0, epsrel=1e-13)
    quadrature = centre + 2 * tail
    assert err1 + 2 * err2 < 1e-11 * quadrature
    assert normalising_constant(c) == pytest.approx(quadrature, rel=1e-10)
    formula = 2 * math.sqrt(2 * math.pi) * (stats.norm.cdf(c) + stats.norm.pdf(c) / c - 0.5)
    assert normalising_constant(c) == pytest.approx(formula, rel=1e-13)


@pytest.mark.parametrize("c", (0.5, 1.345, 3.0))
@pytest.mark.parametrize("sigma", (0.3, 2.7))
def test_density_integrates_to_one(c, sigma):
    family = HUBER.with_shape(c=c)
    f = lambda y: float(np.exp(family.logpdf(np.array([y]), 1.5, sigma))[0])  # noqa: E731
    pieces = [(-np.inf, 1.5 - c * sigma), (1.5 - c * sigma, 1.5 + c * sigma), (1.5 + c * sigma, np.inf)]
    total = sum(integrate.quad(f, a, b, epsabs=0, epsrel=1e-12)[0] for a, b in pieces)
    assert total == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize("c", (0.5, 1.345, 3.0))
def test_logp_equals_logpdf_equals_the_formula(c):
    """PyTensor logp (what PyMC samples), NumPy logpdf and the formula written out here:
    one density, to 1e-13 relative (a few roundings of O(1) terms)."""
    import pytensor.tensor as pt

    family = HUBER.with_shape(c=c)
    rng = np.random.default_rng(3)
    y = rng.standard_t(2, size=300) * 3.0
    mu = rng.normal(size=300)
    sigma = np.float64(1.7)
    direct = -rho((y - mu) / sigma, c) - np.log(normalising_constant(c) * sigma)
    numpy_form = family.logpdf(y, mu, sigma)
    tensor_form = family.logp(pt.as_tensor(y), pt.as_tensor(mu), pt.as_tensor(sigma)).eval()
    np.testing.assert_allclose(numpy_form, direct, rtol=1e-13)
    np.testing.assert_allclose(tensor_form, direct, rtol=1e-13)
    # both sides of the kinks |u| = c (the switch picks the branch, continuous there)
    edges = np.array([-c - 1e-12, -c, -c + 1e-12, c - 1e-12, c, c + 1e-12])
    np.testing.assert_allclose(family.logpdf(edges, 0.0, 1.0),
                               -rho(edges, c) - np.log(normalising_constant(c)), rtol=1e-14)


def test_nll_split_and_loss():
    family = HUBER.with_shape(c=1.345)
    rng = np.random.default_rng(4)
    r = rng.standard_t(3, size=101) * 3.0
    sigma = 2.2
    nll = family.nll_constant(r.size, sigma) + family.loss_term(r, sigma)
    assert nll == pytest.approx(-np.sum(family.logpdf(r, 0.0, sigma)), rel=1e-14)
    assert family.scaled_loss(r, sigma) == pytest.approx(rho(r / sigma, 1.345).sum(), rel=1e-14)
    assert family.loss(r) == pytest.approx(rho(r, 1.345).sum(), rel=1e-14)  # unit scale
    assert family.nll_constant(10, sigma) == pytest.approx(
        10 * math.log(normalising_constant(1.345) * sigma), rel=1e-15)


def test_registered_with_its_options_and_a_bad_c_is_refused():
    family = get_family("huber")
    assert family.shape_value("c") == 1.345 and family.fixed_scale_option == "huber_sigma"
    assert not family.in_default_set and family.scale_dependent_fit and family.smooth
    assert family.with_shape(c=2.0).c == 2.0 and family.c == 1.345  # the template unchanged
    for bad in (0, -1.0, float("nan"), "x"):
        with pytest.raises(InputError, match="c must be a number in"):
            family.with_shape(c=bad)


@pytest.mark.parametrize("c", (0.5, 1.345, 3.0))
def test_reference_cdf_is_the_integral_of_the_density(c):
    a = normalising_constant(c)
    for u in (-2 * c - 0.3, -c, -0.4 * c, 0.0, 0.7 * c, c, 1.5 * c + 1.0):
        lower = min(u, -c)
        mass = integrate.quad(lambda v: unit_density(v, c), -np.inf, lower, epsrel=1e-12)[0]
        if u > -c:
            mass += integrate.quad(lambda v: unit_density(v, c), -c, min(u, c), epsrel=1e-12)[0]
        if u > c:
            mass += integrate.quad(lambda v: unit_density(v, c), c, u, epsrel=1e-12)[0]
        assert reference_cdf(u, c) == pytest.approx(mass / a, abs=1e-11)


@pytest.mark.parametrize("c", (0.5, 1.345, 3.0))
def test_quantile_inverts_the_cdf(c):
    family = HUBER.with_shape(c=c)
    p = np.array([1e-9, 1e-4, 0.01, 0.1, 0.25, 0.4, 0.5, 0.6, 0.9, 0.99, 1 - 1e-6])
    q = family.quantile(p, 2.0)
    np.testing.assert_allclose(reference_cdf(q / 2.0, c), p, rtol=1e-9, atol=1e-15)
    assert abs(q[6]) < 1e-14 and np.all(np.diff(q) > 0)  # the median, to rounding


@pytest.mark.parametrize("c", (0.5, 1.345, 3.0))
def test_replicate_draws_follow_the_density(c):
    """Kolmogorov-Smirnov against the CDF, 40 000 draws, fixed seed. Under a correct
    sampler the p-value is uniform, so p > 1e-3 fails one seed in a thousand; the same test
    rejects a sampler with the wrong tail weight (normal noise) decisively, so it has power."""
    family = HUBER.with_shape(c=c)
    rng = np.random.default_rng(20261201)
    draws = family.replicate(np.full(40_000, 3.0), 2.0, rng)
    u = (draws - 3.0) / 2.0
    assert stats.kstest(u, lambda v: reference_cdf(v, c)).pvalue > 1e-3
    # the centre's share, against its exact mass, within 4 binomial standard errors
    centre = math.sqrt(2 * math.pi) * (2 * stats.norm.cdf(c) - 1) / normalising_constant(c)
    share = np.mean(np.abs(u) <= c)
    assert abs(share - centre) < 4 * math.sqrt(centre * (1 - centre) / u.size)
    wrong = rng.standard_normal(40_000) * (1.0 if c < 3 else 0.8)
    assert stats.kstest(wrong, lambda v: reference_cdf(v, c)).pvalue < 1e-6
