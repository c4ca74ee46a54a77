"""The PyMC models are the likelihoods they claim to be (checked against scipy.stats)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lossbridge.core.errors import InputError
from lossbridge.data.design import build_design
from lossbridge.data.rotation import Rotation
from lossbridge.data.tables import load_table
from lossbridge.models.reference import build_model
from lossbridge.models.spec import ModelSpec, make_spec


@pytest.fixture(scope="module")
def engel():
    return build_design(load_table("engel"), "foodexp ~ income")


@pytest.mark.parametrize("likelihood", ["normal", "laplace"])
@pytest.mark.parametrize("scale", ["learned", "fixed"])
def test_model_log_likelihood_equals_scipy(engel, likelihood, scale):
    rot = Rotation.from_design(engel.X, engel.y)
    spec = ModelSpec(likelihood, scale, 90.0 if scale == "fixed" else None,
                     "test" if scale == "fixed" else None)
    model = build_model(spec, engel, rot)
    beta = np.array([100.0, 0.5])
    point = {"theta": rot.to_theta(beta)}
    scale_value = 90.0
    if scale == "learned":
        name = "sigma" if likelihood == "normal" else "b"
        scale_value = 70.0
        point[f"{name}_log__"] = np.log(scale_value)
    loglik = model.compile_logp(vars=model.observed_RVs)(point)
    mu = engel.X @ beta
    dist = stats.norm if likelihood == "normal" else stats.laplace
    expected = dist.logpdf(engel.y, loc=mu, scale=scale_value).sum()
    assert loglik == pytest.approx(expected, rel=1e-12)
    # beta is exposed on the original scale with the formula's term names.
    assert model.named_vars_to_dims["beta"] == ("term",)
    assert list(model.coords["term"]) == ["Intercept", "income"]


def test_spec_validation_messages():
    with pytest.raises(InputError, match="likelihood must be one of 'normal', 'laplace'(, '[a-z]+')*; got 'cauchy'"):
        ModelSpec("cauchy", "learned")
    with pytest.raises(InputError, match="scale must be one of 'learned', 'fixed', 'modelled', "
                       "'none'; got 'free'"):
        ModelSpec("normal", "free")
    # 'none' is the one mode of a family without a scale, and only of one.
    with pytest.raises(InputError, match=r"'normal' has a scale \(sigma\): 'none' is for "
                                         "families without one; got scale='none'"):
        ModelSpec("normal", "none")
    with pytest.raises(InputError, match="'poisson' has no scale: its only mode is 'none'; "
                                         "got scale='learned'"):
        ModelSpec("poisson", "learned")
    with pytest.raises(InputError, match="'poisson' has no scale to fix; got fixed_scale=2.0"):
        ModelSpec("poisson", "none", 2.0)
    none = ModelSpec("poisson", "none")
    assert (none.name, none.fixed_scale, none.has_scale) == ("poisson", 1.0, False)
    with pytest.raises(InputError, match="needs fixed_scale"):
        ModelSpec("normal", "fixed")
    with pytest.raises(InputError, match="positive finite number; got -1"):
        ModelSpec("normal", "fixed", -1.0)
    with pytest.raises(InputError, match="only valid with scale='fixed'"):
        ModelSpec("laplace", "learned", 2.0)
    assert ModelSpec("laplace", "fixed", 2.0).name == "laplace-fixed"
    with pytest.raises(InputError, match="fixed_scale_is_plug_in is only valid with scale='fixed'"):
        ModelSpec("normal", "learned", fixed_scale_is_plug_in=True)
    with pytest.raises(InputError, match="fixed_scale_is_plug_in must be true or false; got 'yes'"):
        ModelSpec("normal", "fixed", 2.0, fixed_scale_is_plug_in="yes")
    assert not ModelSpec("laplace", "fixed", 2.0).fixed_scale_is_plug_in


def test_make_spec_fixed_scale_sources():
    """A fixed scale is the user's value, else the plug-in; with neither there is no model."""
    user = make_spec("normal", "fixed", 3.0, 5.0, "flat")
    assert (user.fixed_scale, user.fixed_scale_source, user.fixed_scale_is_plug_in) == (
        3.0, "user value (--sigma)", False)
    plug = make_spec("laplace", "fixed", None, 5.0, "flat")
    assert plug.fixed_scale == 5.0 and plug.fixed_scale_is_plug_in
    assert plug.fixed_scale_source == "plug-in MLE of the exact LAD fit, SAD/n"
    assert make_spec("laplace", "learned", None, None, "weak") == ModelSpec("laplace", "learned",
                                                                            priors="weak")
    with pytest.raises(InputError, match="the normal-fixed model needs a scale: give a value "
                                         "for sigma"):
        make_spec("normal", "fixed", None, None, "flat")
