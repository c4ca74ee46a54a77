"""The joint model (sufficient statistics, standardised blocks) equals the reference model."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.graph.replace import graph_replace

from lossbridge.data.design import build_design
from lossbridge.data.rotation import Rotation
from lossbridge.data.tables import load_table
from lossbridge.models.joint import block_name, build_joint_model
from lossbridge.models.reference import build_model
from lossbridge.models.spec import ModelSpec


def logp_and_grad(model, names, jacobian=True):
    """Compiled log-density and gradient of ``model`` as functions of named free variables."""
    by_name = {v.name: v for v in model.value_vars}
    values = [by_name[name] for name in names]
    inputs = [pt.tensor(dtype="float64", shape=v.type.shape) for v in values]
    logp = graph_replace(model.logp(jacobian=jacobian), dict(zip(values, inputs, strict=True)), strict=False)
    grads = pt.grad(logp, inputs)
    return pytensor.function(inputs, [logp, *grads])


@pytest.fixture(scope="module")
def longley():
    d = build_design(load_table("longley"), "TOTEMP ~ GNPDEFL + GNP + UNEMP + ARMED + POP + YEAR")
    return d, Rotation.from_design(d.X, d.y)


def _names(spec, explicit: bool) -> list[str]:
    names = ["theta"] + ([f"{spec.family.scale_name}_log__"] if spec.scale == "learned" else [])
    return names if explicit else [block_name(spec, name) for name in names]


def _points(spec, d, rot, rng, count=5):
    theta_hat = rot.to_theta(np.linalg.lstsq(d.X, d.y, rcond=None)[0])
    for _ in range(count):
        point = [theta_hat + 0.01 * rng.standard_normal(d.k)]
        if spec.scale == "learned":
            point.append(np.array(np.log(250.0) + 0.3 * rng.standard_normal()))
        yield point


@pytest.mark.parametrize("likelihood", ["normal", "laplace"])
@pytest.mark.parametrize("scale", ["learned", "fixed"])
@pytest.mark.parametrize("priors", ["flat", "weak"])
def test_joint_model_equals_the_reference_density(longley, likelihood, scale, priors):
    """Log-density and gradient to 1e-10 relative, on Longley (R^2 = 0.995, badly scaled):
    the Normal through sufficient statistics, the Laplace through its own potential."""
    d, rot = longley
    spec = ModelSpec(likelihood, scale, 300.0 if scale == "fixed" else None,
                     "test" if scale == "fixed" else None, priors)
    f_e = logp_and_grad(build_model(spec, d, rot), _names(spec, explicit=True))
    f_s = logp_and_grad(build_joint_model([spec], d, rot), _names(spec, explicit=False))
    for point in _points(spec, d, rot, np.random.default_rng(0)):
        out_e, out_s = f_e(*point), f_s(*point)
        assert out_s[0] == pytest.approx(out_e[0], rel=1e-10)
        for g_e, g_s in zip(out_e[1:], out_s[1:], strict=True):
            np.testing.assert_allclose(g_s, g_e, rtol=1e-10, atol=1e-10 * np.abs(g_e).max())


def test_joint_model_is_the_product_of_the_explicit_models(longley):
    """All models in one NUTS run: the joint log-density is the sum of theirs (no shared parameters)."""
    d, rot = longley
    specs = [ModelSpec("normal", "learned"), ModelSpec("laplace", "learned"),
             ModelSpec("laplace", "fixed", 300.0, "test")]
    joint = logp_and_grad(build_joint_model(specs, d, rot),
                          [name for spec in specs for name in _names(spec, explicit=False)])
    singles = [logp_and_grad(build_model(spec, d, rot), _names(spec, explicit=True)) for spec in specs]
    rng = np.random.default_rng(2)
    for _ in range(3):
        points = [next(_points(spec, d, rot, rng, count=1)) for spec in specs]
        out = joint(*[value for point in points for value in point])
        expected = [f(*point) for f, point in zip(singles, points, strict=True)]
        assert out[0] == pytest.approx(sum(e[0] for e in expected), rel=1e-10)
        gradients = [g for e in expected for g in e[1:]]
        for g_joint, g_single in zip(out[1:], gradients, strict=True):
            np.testing.assert_allclose(g_joint, g_single, rtol=1e-10, atol=1e-10 * np.abs(g_single).max())


def test_standardised_blocks_are_the_same_posterior(longley):
    """z = (theta - theta_MAP)/u, scale = scale_MAP exp(c v): same density up to the Jacobian."""
    import lossbridge

    d, rot = longley
    analysis = lossbridge.fit("longley", likelihoods="normal", scales="learned", sample=False)
    spec, estimate = analysis.fits[0].spec, analysis.fits[0].map
    plain = build_joint_model([spec], d, rot)
    standard = build_joint_model([spec], d, rot, [estimate])
    f_plain = logp_and_grad(plain, [block_name(spec, "theta"), block_name(spec, "sigma_log__")])
    f_std = logp_and_grad(standard, [block_name(spec, "z"), block_name(spec, "v")])
    unit = estimate.scale / (rot.y_scale * np.sqrt(d.n))
    c = 1 / np.sqrt(2 * d.n)
    rng = np.random.default_rng(1)
    for _ in range(5):
        z, v = rng.standard_normal(d.k), np.array(rng.standard_normal())
        theta = estimate.theta + unit * z
        log_sigma = np.log(estimate.scale) + c * v
        # The densities of (z, v) and of (theta, log sigma) differ by the constant
        # log|Jacobian| = k log(unit) + log(c), which PyMC omits (Flat has no transform);
        # the variable part, log sigma, is HalfFlat's Jacobian in both.
        logp_plain, grad_theta, grad_log_sigma = f_plain(theta, np.array(log_sigma))
        logp_std, grad_z, grad_v = f_std(z, v)
        assert logp_std == pytest.approx(logp_plain, rel=1e-10)
        # Chain rule: d/dz = unit d/dtheta, d/dv = c d/dlog(sigma).
        np.testing.assert_allclose(grad_z, unit * grad_theta, rtol=1e-8, atol=1e-8 * np.abs(unit * grad_theta).max())
        assert grad_v == pytest.approx(c * grad_log_sigma, rel=1e-8, abs=1e-8)


def test_normal_fast_form_equals_the_sum_of_its_logp(longley):
    """The Normal's sufficient-statistics closure equals the sum of ``family.logp`` and
    PyMC's own Normal log-density over the rows, at theta/sigma points around and far
    from the fit. Longley's RSS is ~8e5 against y'y ~ 1e11: the identity written around
    theta_hat keeps the gap to rounding, 1e-11 relative."""
    import pymc as pm

    from lossbridge.families.registry import get_family

    d, rot = longley
    family = get_family("normal")
    with pm.Model():
        fast = family.sufficient_log_likelihood(d, rot)
        theta, scale = pt.dvector("theta"), pt.dscalar("scale")
        mu = rot.y_scale * pt.dot(pt.as_tensor(rot.Q), theta)
        y = pt.as_tensor(d.y)
        f = pytensor.function([theta, scale], [fast(theta, scale), pt.sum(family.logp(y, mu, scale)),
                                               pt.sum(pm.logp(pm.Normal.dist(mu, scale), y))])
    theta_hat = rot.to_theta(np.linalg.lstsq(d.X, d.y, rcond=None)[0])
    rng = np.random.default_rng(4)
    for spread, sigma in [(0.0, 300.0), (1e-3, 250.0), (0.05, 1e4), (1.0, 30.0)]:
        point = theta_hat + spread * rng.standard_normal(d.k)
        sufficient, summed, pymc = f(point, sigma)
        assert sufficient == pytest.approx(summed, rel=1e-11)
        assert sufficient == pytest.approx(pymc, rel=1e-11)


def test_family_without_fast_form_is_summed_once_for_all_its_blocks(longley):
    """Data are registered once per model: two Laplace blocks share the rotated design,
    two Normal blocks share the sufficient statistics (pm.Data names must be unique)."""
    d, rot = longley
    specs = [ModelSpec("normal", "learned"), ModelSpec("normal", "fixed", 300.0, "test"),
             ModelSpec("laplace", "learned"), ModelSpec("laplace", "fixed", 300.0, "test")]
    model = build_joint_model(specs, d, rot)
    data = {v.name for v in model.data_vars}
    assert {"rotated_design", "y_observed", "normal::gram", "normal::theta_hat"} <= data
    assert sum(name.endswith("::gram") for name in data) == 1


def test_count_block_beside_a_normal_block_uses_its_own_coordinates():
    """A log-link block's coordinates are on eta's scale (Family.coordinate_scale = 1) while
    the Normal's keep sd(y): the joint model (Normal + Poisson blocks, weak priors) is the sum
    of the two reference models, each in its own coordinates, to 1e-10."""
    from lossbridge.data.design import Design

    rng = np.random.default_rng(5)
    x = rng.standard_normal(80)
    X = np.column_stack([np.ones(80), x])
    y = rng.poisson(np.exp(6.0 + 0.3 * x)).astype(float)
    d = Design(X=X, y=y, terms=("Intercept", "x"), response="y", formula="y ~ x", source="test")
    rot = Rotation.from_design(X, y)
    specs = [ModelSpec("normal", "learned", priors="weak"),
             ModelSpec("poisson", "none", priors="weak")]
    names = [["theta", "sigma_log__"], ["theta"]]
    joint = logp_and_grad(build_joint_model(specs, d, rot),
                          [block_name(s, n) for s, ns in zip(specs, names, strict=True) for n in ns])
    singles = [logp_and_grad(build_model(s, d, rot), ns) for s, ns in zip(specs, names, strict=True)]
    beta = np.linalg.lstsq(X, np.log(y + 0.5), rcond=None)[0]
    normal_point = [rot.to_theta(np.linalg.lstsq(X, y, rcond=None)[0]), np.array(np.log(np.std(y)))]
    poisson_point = [rot.for_family(specs[1].family).to_theta(beta)]
    assert rot.for_family(specs[1].family).y_scale == 1.0 != rot.y_scale
    out = joint(*normal_point, *poisson_point)
    expected = singles[0](*normal_point)[0] + singles[1](*poisson_point)[0]
    assert out[0] == pytest.approx(expected, rel=1e-10)
    assert np.isfinite(singles[1](*poisson_point)[0])
