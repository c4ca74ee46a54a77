"""The families' batch log-likelihoods (families/batched.py) against two references: the
sum of each family's own NumPy ``logpdf`` over the rows at beta = R^-1 theta (computed
from X, not from the rotated Q), and PyMC's log-density of the joint model NUTS samples,
in the standardised coordinates the independence sampler uses.

Tolerances: the batch forms reorder a sum of n terms (the piecewise-linear form splits it
into a suffix sum and the rows near zero), so two evaluations may differ by the summation
bound 2 n eps sum |terms| (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd
ed., eq. 4.4, for each of the two sums) plus eps-relative errors of eta; 4 n eps sum|terms|
bounds both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lossbridge
from lossbridge.data.design import build_design
from lossbridge.data.rotation import Rotation
from lossbridge.data.tables import load_table
from lossbridge.families.batched import GenericBatch, PiecewiseLinearBatch
from lossbridge.families.registry import get_family
from lossbridge.models.joint import block_name, build_joint_model
from lossbridge.posterior.sampling import independence_log_target

EPS = np.finfo(float).eps


def _frame(n: int, seed: int, response: str = "laplace") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)) * [1.0, 1000.0]  # columns on very different units
    eta = 0.5 + x[:, 0] - 0.002 * x[:, 1]
    if response == "counts":
        y = rng.poisson(np.exp(0.3 * eta))
    elif response == "binary":
        y = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float)
    else:
        y = eta + rng.laplace(size=n)
    return pd.DataFrame({"y": y, "x1": x[:, 0], "x2": x[:, 1]})


def _direct(family, design, rotation, theta, scale):
    """Sum over rows of the family's logpdf at beta = to_beta(theta), from X itself."""
    out, bound = [], []
    for th, s in zip(theta, scale, strict=True):
        beta = rotation.to_beta(th)
        terms = family.logpdf(design.y, family.link.inverse(design.X @ beta), s)
        out.append(terms.sum())
        bound.append(4 * design.n * EPS * np.abs(terms).sum() + 1e-12 * abs(terms.sum()))
    return np.array(out), np.array(bound)


CASES = [("normal", {}, "laplace"), ("laplace", {}, "laplace"), ("quantile", {"tau": 0.3}, "laplace"),
         ("huber", {}, "laplace"), ("student", {"nu": 4.0}, "laplace"),
         ("poisson", {}, "counts"), ("bernoulli", {}, "binary"), ("negbin", {"alpha": 0.7}, "counts")]


@pytest.mark.parametrize(("name", "shape", "response"), CASES)
def test_batch_log_likelihood_equals_the_sum_of_logpdf(name, shape, response):
    frame = _frame(300, 3, response)
    design = build_design(load_table(frame), "y ~ x1 + x2")
    family = get_family(name).with_shape(**shape) if shape else get_family(name)
    rotation = Rotation.of(design).for_family(family)
    centre = rotation.theta_from_eta(family.initial_linear_predictor(design.y))
    rng = np.random.default_rng(4)
    # near the centre, at the centre, and far out (every row's sign may change)
    radii = np.concatenate([[0.0], np.full(60, 0.02), np.full(60, 0.3), [5.0, 50.0]])
    theta = centre + radii[:, None] * rng.standard_normal((radii.size, design.k))
    scale = np.exp(rng.normal(0.0, 0.3, radii.size))
    batch = family.batch_log_likelihood(design, rotation, centre)
    assert batch is not None
    got = batch(theta, scale)
    want, bound = _direct(family, design, rotation, theta, scale)
    assert np.all(np.abs(got - want) <= bound), np.max(np.abs(got - want) / bound)


def test_piecewise_linear_form_is_exact_with_zero_residuals_and_ties():
    """At an LP vertex k residuals are exactly 0 (always evaluated row by row), and tied
    rows share a distance: neither may be taken as linear on the wrong side."""
    rng = np.random.default_rng(8)
    n = 20_000
    x = np.round(rng.normal(size=n), 1)  # many tied rows
    y = 1.0 + 2.0 * x + np.round(rng.laplace(size=n), 1)
    design = build_design(load_table(pd.DataFrame({"y": y, "x": x})), "y ~ x")
    family = get_family("quantile").with_shape(tau=0.8)
    rotation = Rotation.of(design).for_family(family)
    vertex = lossbridge.fit(pd.DataFrame({"y": y, "x": x}), "y ~ x", likelihoods="quantile",
                            tau=0.8, scales="fixed", sample=False).fits[0].map
    centre = np.asarray(vertex.theta)
    assert np.sum(np.abs(design.y - rotation.eta_of(centre)) < 1e-12) >= design.k
    batch = family.batch_log_likelihood(design, rotation, centre)
    assert isinstance(batch, PiecewiseLinearBatch)
    unit = 1.0 / (rotation.y_scale * np.sqrt(n))
    theta = centre + unit * rng.standard_normal((500, design.k)) * rng.choice([0.0, 1.0, 4.0, 300.0], (500, 1))
    scale = np.full(500, 0.7)
    got, generic = batch(theta, scale), GenericBatch(family, design, rotation)(theta, scale)
    want, bound = _direct(family, design, rotation, theta, scale)
    assert np.all(np.abs(got - want) <= bound)
    assert np.all(np.abs(generic - want) <= bound)
    # the rows evaluated one by one are few near the centre: about sqrt(n) of them
    near = int(np.searchsorted(batch.distance, 4.0 * np.sqrt(design.k) * unit, side="right"))
    assert near < 0.1 * n


@pytest.mark.parametrize(("likelihood", "scales", "options"),
                         [(name, mode, {}) for name in ("normal", "laplace", "quantile", "huber")
                          for mode in ("learned", "fixed")]
                         + [("poisson", "both", {}), ("bernoulli", "both", {}),
                            ("negbin", "both", {"nb_alpha": 0.7})])
def test_independence_target_is_the_joint_models_density(likelihood, scales, options):
    """For every family the independence sampler is offered (log-concave, no learned
    shape), its NumPy log-density equals PyMC's log-density of the joint model NUTS
    samples (same standardised coordinates z, v), to rounding. (A family without a
    scale has one model whatever ``scales`` says.)"""
    response = {"poisson": "counts", "negbin": "counts", "bernoulli": "binary"}.get(likelihood,
                                                                                    "laplace")
    frame = _frame(200, 11, response)
    analysis = lossbridge.fit(frame, "y ~ x1 + x2", likelihoods=likelihood, scales=scales,
                              sample=False, **options)
    result = analysis.fits[0]
    design = analysis.design
    rotation = Rotation.of(design)
    target = independence_log_target(result.spec, design, rotation, result.map)
    assert target is not None
    model = build_joint_model([result.spec], design, rotation, [result.map])
    logp = model.compile_logp()
    learned = result.spec.scale == "learned"
    rng = np.random.default_rng(2)
    x = rng.standard_normal((25, design.k + int(learned))) * 1.5
    got = target(x)
    for row, value in zip(x, got, strict=True):
        point = {block_name(result.spec, "z"): row[:design.k]}
        if learned:
            point[block_name(result.spec, "v")] = row[design.k]
        want = float(logp(point))
        assert value == pytest.approx(want, rel=1e-10, abs=1e-9)


def test_poisson_canonical_form_carries_the_exposure_offset():
    rng = np.random.default_rng(13)
    frame = _frame(250, 5, "counts")
    frame["t"] = rng.uniform(0.5, 3.0, size=len(frame))
    design = build_design(load_table(frame), "y ~ x1 + x2", exposure="t")
    family = get_family("poisson")
    rotation = Rotation.of(design).for_family(family)
    centre = rotation.theta_from_eta(family.initial_linear_predictor(design.y) - design.offset)
    theta = centre + 0.1 * rng.standard_normal((40, design.k))
    batch = family.batch_log_likelihood(design, rotation, centre)
    got = batch(theta, np.ones(40))
    for th, value in zip(theta, got, strict=True):
        terms = family.logpdf(design.y, np.exp(design.X @ rotation.to_beta(th) + design.offset), 1.0)
        assert abs(value - terms.sum()) <= 4 * design.n * EPS * np.abs(terms).sum()
