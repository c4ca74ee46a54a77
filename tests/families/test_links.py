"""A family with a non-identity link: mu = g^-1(X beta) in every density the pipeline uses.

The toy family is the Normal density with a log link, y ~ Normal(exp(X beta), sigma):
the reference model, the joint model's block, the pointwise log-likelihood and the
posterior predictive draws must all put exp(X beta) where the identity link puts X beta.
References: scipy's Normal log-density at exp(X beta); the predictive draws' mean.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor.tensor as pt
import pytest
from scipy import stats

from lossbridge.data.design import build_design
from lossbridge.data.rotation import Rotation
from lossbridge.data.tables import load_table
from lossbridge.families.base import Link
from lossbridge.families.normal import Normal
from lossbridge.families.registry import register_family, unregister_family
from lossbridge.models.joint import block_name, build_joint_model
from lossbridge.models.reference import build_model
from lossbridge.models.spec import ModelSpec
from lossbridge.posterior.pointwise import log_likelihood, replicate

LOG = Link("log", np.exp, pt.exp)


class LogLinkNormal(Normal):
    name, title = "lognormal_mean", "Normal (log link)"
    link = LOG
    exact_solver = exact_name = None  # OLS is not its MLE under a log link

    def sufficient_log_likelihood(self, design, rotation):
        return None  # the Normal's sufficient statistics hold for the identity link only


@pytest.fixture
def family():
    yield register_family(LogLinkNormal())
    unregister_family("lognormal_mean")


@pytest.fixture
def design():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 2, size=60)
    frame = pd.DataFrame({"x": x, "y": np.exp(0.5 + 0.8 * x) + rng.normal(0, 0.3, size=60)})
    return build_design(load_table(frame), "y ~ x")


def test_pointwise_and_predictive_use_the_inverse_link(family, design):
    beta = np.array([[0.5, 0.8], [0.4, 0.9]])
    scale = np.array([0.3, 0.4])
    expected = stats.norm.logpdf(design.y[None, :], np.exp(beta @ design.X.T), scale[:, None])
    assert np.allclose(log_likelihood(family, design.X, design.y, beta, scale), expected,
                       rtol=1e-13, atol=0)
    # 20,000 replicate sets: their mean is exp(X beta) within 5 Monte Carlo standard errors.
    rng = np.random.default_rng(1)
    draws = replicate(family, design.X, np.repeat(beta[:1], 20_000, axis=0),
                      np.full(20_000, 0.3), rng)
    se = 0.3 / np.sqrt(20_000)
    assert np.all(np.abs(draws.mean(axis=0) - np.exp(design.X @ beta[0])) < 5 * se)


def test_reference_and_joint_models_use_the_inverse_link(family, design):
    rotation = Rotation.from_design(design.X, design.y)
    spec = ModelSpec("lognormal_mean", "fixed", 0.3, "user value (--sigma)")
    f_ref = build_model(spec, design, rotation).compile_logp()
    f_joint = build_joint_model([spec], design, rotation).compile_logp()
    for beta in (np.array([0.5, 0.8]), np.array([0.3, 1.0])):
        # a log link's coordinates are on eta's scale (Family.coordinate_scale = 1)
        theta = rotation.for_family(spec.family).to_theta(beta)
        expected = stats.norm.logpdf(design.y, np.exp(design.X @ beta), 0.3).sum()
        assert f_ref({"theta": theta}) == pytest.approx(expected, rel=1e-12)
        assert f_joint({block_name(spec, "theta"): theta}) == pytest.approx(expected, rel=1e-12)


def test_identity_link_closed_forms_are_not_inherited(family, design):
    """A Normal subclass with a log link keeps no closed form of the identity link: its LOO
    and oracle are estimated, not the OLS formulas."""
    rotation = Rotation.from_design(design.X, design.y)
    assert family.exact_loo(design, rotation, "learned", None, False) is None
    assert family.exact_posterior(design, rotation, None, "learned", None) is None
    assert Normal().exact_loo(design, rotation, "learned", None, False) is not None


def test_models_refuse_what_the_pipeline_cannot_fit_yet():
    """Scale-free families are in the contract but not yet fitted: a model of one is
    refused with a one-line error, not run with it ignored. (Learned shape parameters are
    fitted now: tests/models/test_learned_shape.py.)"""
    from lossbridge.core.errors import InputError

    class NoScale(Normal):
        name, scale_name = "no_scale", None

    family = NoScale()
    register_family(family)
    try:
        with pytest.raises(InputError, match="no scale"):
            ModelSpec(family.name, "learned")
    finally:
        unregister_family(family.name)
