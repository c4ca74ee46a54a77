"""Learned shape parameters (a Student-t's nu) through the models and the posterior plumbing.

References: scipy's t and Gamma log-densities written out here; the reference model's
log-density (the joint model must equal it, its standardised block up to the Jacobian of
the change of variables); the pointwise log-likelihood with per-draw nu against scipy.
Tolerance 1e-10 relative: each side sums n = 235 terms of size ~6, rounding ~1e-13.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lossbridge.data.datasets import resolve_formula
from lossbridge.data.design import build_design
from lossbridge.data.rotation import Rotation
from lossbridge.data.tables import load_table
from lossbridge.estimation.map import find_map
from lossbridge.models.joint import block_name, build_joint_model, shape_coordinate
from lossbridge.models.priors import describe_priors
from lossbridge.models.reference import build_model
from lossbridge.models.spec import ModelSpec
from lossbridge.posterior.pointwise import log_likelihood, replicate

RTOL = 1e-10


@pytest.fixture(scope="module")
def engel():
    d = build_design(load_table("engel"), resolve_formula("engel", None))
    return d, Rotation.from_design(d.X, d.y)


def scipy_log_posterior(d, beta, sigma, nu):
    return (stats.t.logpdf(d.y, nu, loc=d.X @ beta, scale=sigma).sum()
            + stats.gamma.logpdf(nu, 2.0, scale=10.0))


@pytest.mark.parametrize("scale", ["learned", "fixed"])
def test_reference_model_has_nu_with_its_gamma_prior(engel, scale):
    d, rot = engel
    spec = ModelSpec("student", scale, 60.0 if scale == "fixed" else None,
                     "test" if scale == "fixed" else None)
    model = build_model(spec, d, rot)
    names = [v.name for v in model.value_vars]
    assert names == ["theta"] + (["sigma_log__"] if scale == "learned" else []) + ["nu_log__"]
    beta, sigma, nu = np.array([90.0, 0.55]), 60.0, 3.5
    point = {"theta": rot.to_theta(beta), "nu_log__": np.log(nu)}
    if scale == "learned":
        point["sigma_log__"] = np.log(sigma)
    value = model.compile_logp(jacobian=False)(point)
    assert value == pytest.approx(scipy_log_posterior(d, beta, sigma, nu), rel=RTOL)


def test_joint_model_blocks_equal_the_reference_density(engel):
    d, rot = engel
    spec = ModelSpec("student", "learned")
    estimate = find_map(build_model(spec, d, rot), spec, d, rot)
    assert set(estimate.shape) == {"nu"} and estimate.shape_units["nu"] > 0
    # unstandardised: the same variables, prefixed, and the same density
    joint = build_joint_model([spec], d, rot)
    point = {block_name(spec, "theta"): estimate.theta,
             block_name(spec, "sigma_log__"): np.log(estimate.scale),
             block_name(spec, "nu_log__"): np.log(estimate.shape["nu"])}
    reference = scipy_log_posterior(d, estimate.coefficients, estimate.scale, estimate.shape["nu"])
    assert joint.compile_logp(jacobian=False)(point) == pytest.approx(reference, rel=RTOL)
    # standardised (NUTS): w = log(nu / nu_MAP) / unit; density = reference + log sigma + log nu
    standard = build_joint_model([spec], d, rot, [estimate])
    for w in (-1.0, 0.0, 0.7):
        nu = estimate.shape["nu"] * np.exp(estimate.shape_units["nu"] * w)
        point = {block_name(spec, "z"): np.zeros(d.k), block_name(spec, "v"): 0.0,
                 shape_coordinate(spec, "nu"): w}
        value = standard.compile_logp()(point)
        expected = (scipy_log_posterior(d, estimate.coefficients, estimate.scale, nu)
                    + np.log(estimate.scale) + np.log(nu))
        assert value == pytest.approx(expected, rel=RTOL)


def test_two_blocks_of_one_family_keep_their_own_shape(engel):
    """A learned-nu block and a nu = 4 block in one joint model: each its own density."""
    d, rot = engel
    learned, fixed = ModelSpec("student", "learned"), ModelSpec("student", "learned",
                                                                shape=(("nu", 4.0),))
    joint = build_joint_model([learned, fixed], d, rot)
    beta, sigma = np.array([90.0, 0.55]), 60.0
    point = {}
    for spec in (learned, fixed):
        point[block_name(spec, "theta")] = rot.to_theta(beta)
        point[block_name(spec, "sigma_log__")] = np.log(sigma)
    point[block_name(learned, "nu_log__")] = np.log(2.0)
    expected = (scipy_log_posterior(d, beta, sigma, 2.0)
                + stats.t.logpdf(d.y, 4.0, loc=d.X @ beta, scale=sigma).sum())
    assert joint.compile_logp(jacobian=False)(point) == pytest.approx(expected, rel=RTOL)


def test_pointwise_and_replicates_take_per_draw_nu(engel):
    d, _ = engel
    family = ModelSpec("student", "learned").family
    beta = np.array([[90.0, 0.55], [80.0, 0.56], [85.0, 0.5]])
    sigma, nu = np.array([60.0, 70.0, 65.0]), np.array([1.5, 4.0, 30.0])
    matrix = log_likelihood(family, d.X, d.y, beta, sigma, {"nu": nu})
    for s in range(3):
        np.testing.assert_allclose(matrix[s], stats.t.logpdf(d.y, nu[s], loc=d.X @ beta[s],
                                                             scale=sigma[s]), rtol=1e-12)
    draws = replicate(family, d.X, beta, sigma, np.random.default_rng(1), {"nu": nu})
    assert draws.shape == (3, d.n) and np.all(np.isfinite(draws))


def test_priors_say_nu_is_gamma_and_a_posterior_mode(engel):
    d, _ = engel
    for priors in ("flat", "weak"):
        described = describe_priors(ModelSpec("student", "learned", priors=priors), d)
        assert described["shape: nu"].startswith("Gamma(2, 0.1) on nu (proper")
        assert "posterior mode" in described["shape: nu"]
    assert "shape: nu" not in describe_priors(ModelSpec("student", "learned", shape=(("nu", 4.0),)), d)
