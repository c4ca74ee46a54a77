"""The likelihood registry and its closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lossbridge.core.errors import InputError
from lossbridge.families.registry import get_family

# The families with a scipy/PyMC counterpart here; the others have their own test files
# (tests/families/test_quantile.py, test_huber.py, ...).
BUILT_IN = ("normal", "laplace")


def test_lookup_error_lists_valid_names():
    with pytest.raises(InputError, match=r"likelihood must be one of 'normal', 'laplace'(, '[a-z]+')*; got 'l2'"):
        get_family("l2")
    assert isinstance(InputError("x"), ValueError)  # the registry raises a ValueError


@pytest.mark.parametrize("name", BUILT_IN)
def test_nll_split_equals_scipy_negative_log_likelihood(name):
    rng = np.random.default_rng(1)
    r = rng.standard_t(5, size=101) * 3
    family = get_family(name)
    scale = 2.7
    nll = family.nll_constant(r.size, scale) + family.nll_loss_term(family.loss(r), scale)
    dist = stats.norm if name == "normal" else stats.laplace
    assert nll == pytest.approx(-dist.logpdf(r, scale=scale).sum(), rel=1e-13)


@pytest.mark.parametrize("name", BUILT_IN)
def test_scale_mle_maximises_the_likelihood(name):
    rng = np.random.default_rng(2)
    r = rng.normal(size=57)
    family = get_family(name)
    mle = family.scale_mle(family.loss(r), r.size)
    dist = stats.norm if name == "normal" else stats.laplace
    # scipy's own MLE of the scale with the location fixed at zero.
    _, scipy_mle = dist.fit(r, floc=0)
    assert mle == pytest.approx(scipy_mle, rel=1e-6)  # scipy optimises numerically
    assert mle == pytest.approx(
        np.sqrt(np.mean(r**2)) if name == "normal" else np.mean(np.abs(r)), rel=1e-15
    )


@pytest.mark.parametrize("name", BUILT_IN)
def test_logp_equals_logpdf_and_the_reference_densities(name):
    """The PyTensor ``logp`` (what PyMC samples) and the NumPy ``logpdf`` (LOO, PPC) are one
    density: equal to each other, to scipy and to PyMC's own distribution, to rounding."""
    import pymc as pm
    import pytensor.tensor as pt

    family = get_family(name)
    rng = np.random.default_rng(7)
    y = rng.standard_t(3, size=40) * 4.0
    mu = rng.normal(size=40)
    scale = np.float64(1.7)  # a float64 constant: pt.as_tensor(1.7) would be float32
    references = {
        "normal": (stats.norm.logpdf(y, mu, scale), pm.Normal.dist(mu, scale)),
        "laplace": (stats.laplace.logpdf(y, mu, scale), pm.Laplace.dist(mu, scale)),
    }
    numpy = family.logpdf(y, mu, scale)
    tensor = family.logp(pt.as_tensor(y), pt.as_tensor(mu), pt.as_tensor(scale)).eval()
    np.testing.assert_allclose(tensor, numpy, rtol=1e-14)
    scipy_ref, pymc_dist = references[name]
    np.testing.assert_allclose(numpy, scipy_ref, rtol=1e-13)
    np.testing.assert_allclose(tensor, pm.logp(pymc_dist, y).eval(), rtol=1e-13)
    # The summed form the joint model adds up (the Laplace's own, faster) is the same sum.
    summed = family.summed_logp(pt.as_tensor(y), pt.as_tensor(mu), pt.as_tensor(scale)).eval()
    assert summed == pytest.approx(scipy_ref.sum(), rel=1e-13)


@pytest.mark.parametrize("name", ["normal", "laplace"])
def test_smallest_scale_is_where_the_loss_term_reaches_the_limit(name):
    """The fixed-scale range's lower end solves nll_loss_term(loss, scale) = nats."""
    family = get_family(name)
    for loss in (1e-6, 3.7, 2.5e9):
        scale = family.smallest_scale(loss, 1e7)
        assert family.nll_loss_term(loss, scale) == pytest.approx(1e7, rel=1e-12)


@pytest.mark.parametrize("name", BUILT_IN)
def test_replicate_draws_the_density(name):
    """Posterior predictive draws follow the family's own law: a KS test against SciPy's
    distribution at mu = 1.5, scale 0.7 (200,000 draws; at level 1e-3 a correct sampler
    fails one seed in a thousand, and this seed is fixed)."""
    family = get_family(name)
    draws = family.replicate(np.full(200_000, 1.5), 0.7, np.random.default_rng(12))
    dist = stats.norm if name == "normal" else stats.laplace
    assert stats.kstest(draws, dist(loc=1.5, scale=0.7).cdf).pvalue > 1e-3
    # both signs of the noise, equally often (binomial sd 0.0011 of the share)
    assert abs(np.mean(draws > 1.5) - 0.5) < 0.005
