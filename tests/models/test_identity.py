"""Model identity as data: ModelId, the colours keyed by it, and comparisons of any families."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lossbridge.core.errors import InputError
from lossbridge.families.base import ShapeParameter
from lossbridge.families.normal import Normal
from lossbridge.families.registry import register_family, unregister_family
from lossbridge.models.identity import ModelId
from lossbridge.models.spec import ModelSpec
from lossbridge.posterior.comparison import compare_models
from lossbridge.posterior.loo import LooEstimator, LooResult
from lossbridge.posterior.verdict import Candidate
from lossbridge.present import plots


class Toy(Normal):
    """A Normal density under another name: a family the package does not know."""

    name = "toy_normal"
    title = "Toy"
    loss_name = "toy squared error"
    exact_solver = None
    exact_name = None


class ToyShaped(Normal):
    name = "toy_shaped"
    title = "Shaped"
    parameters = (ShapeParameter("nu", 4.0, learnable=True), ShapeParameter("tau", 0.5, upper=1.0))


@pytest.fixture
def toys():
    register_family(Toy())
    register_family(ToyShaped())
    yield
    unregister_family("toy_normal")
    unregister_family("toy_shaped")


def test_model_id_label_is_derived_and_matches_the_spec_name():
    for likelihood in ("normal", "laplace"):
        for scale in ("learned", "fixed"):
            spec = ModelSpec(likelihood, scale, 1.0 if scale == "fixed" else None)
            model = spec.model_id
            assert model == ModelId(likelihood, scale)
            assert model.label == spec.name == f"{likelihood}-{scale}"  # the JSON labels of today
            assert str(model) == model.label
            assert model.family is spec.family


def test_model_id_is_hashable_and_equal_by_value():
    a, b = ModelId("normal", "learned"), ModelId("normal", "learned")
    assert a == b and hash(a) == hash(b) and a is not b
    assert len({a, b, ModelId("normal", "fixed"), ModelId("laplace", "learned")}) == 3
    table = {ModelId("laplace", "fixed"): 1.0}
    assert table[ModelSpec("laplace", "fixed", 2.0).model_id] == 1.0  # keyed by the model
    with pytest.raises(AttributeError):
        a.scale = "fixed"  # frozen


def test_model_id_round_trips_through_json(toys):
    for model in (ModelId("normal", "learned"), ModelId("laplace", "fixed"),
                  ModelId("toy_shaped", "learned", (("tau", 0.25), ("nu", None))),
                  ModelId("toy_normal", "fixed")):
        again = ModelId.from_dict(json.loads(json.dumps(model.as_dict())))
        assert again == model and hash(again) == hash(model) and again.label == model.label


def test_shape_settings_are_sorted_and_shown_in_the_label(toys):
    model = ModelId("toy_shaped", "learned", (("tau", 0.9), ("nu", 4)))
    assert model.shape == (("nu", 4.0), ("tau", 0.9))  # order-free: same model, same id
    assert model == ModelId("toy_shaped", "learned", [("nu", 4.0), ("tau", 0.9)])
    assert model.label == "toy_shaped(nu=4, tau=0.9)-learned"
    # a learned parameter (None) is left out of the label; unset ones are at their default
    assert ModelId("toy_shaped", "fixed", (("nu", None),)).label == "toy_shaped(tau=0.5)-fixed"
    assert ModelId("toy_shaped", "learned") == ModelId("toy_shaped", "learned", (("nu", 4.0),))
    assert ModelId("toy_shaped", "learned").label == "toy_shaped(nu=4, tau=0.5)-learned"
    with pytest.raises(InputError, match=r"tau must be a number in \(0, 1\)"):
        ModelId("toy_shaped", "learned", (("tau", 1.5),))


@pytest.mark.parametrize(("args", "message"), [
    (("no_such_family", "learned"), "likelihood must be one of"),
    (("normal", "sampled"), "scale must be one of"),
    (("normal", "learned", (("nu", 4.0),)), "the Normal family has no parameter 'nu'"),
    (("normal", "learned", ("nu",)), "shape must be a sequence"),
])
def test_bad_model_ids_are_refused_with_one_line_messages(args, message):
    with pytest.raises(InputError, match=message) as error:
        ModelId(*args)
    assert "\n" not in str(error.value)


def test_bad_shape_values_and_dicts_are_refused(toys):
    with pytest.raises(InputError, match=r"nu must be a number in \(0, inf\)"):
        ModelId("toy_shaped", "learned", (("nu", float("inf")),))
    with pytest.raises(InputError, match="twice"):
        ModelId("toy_shaped", "learned", (("nu", 1.0), ("nu", 2.0)))
    with pytest.raises(InputError, match="needs 'scale'"):
        ModelId.from_dict({"likelihood": "normal"})


def test_built_in_colours_are_unchanged():
    # the colours every report has used for the built-in models
    assert plots.model_color(ModelId("normal", "learned")) == "#1f5fa8"
    assert plots.model_color(ModelId("normal", "fixed")) == "#7fb2e5"
    assert plots.model_color(ModelId("laplace", "learned")) == "#c0392b"
    assert plots.model_color(ModelId("laplace", "fixed")) == "#f0a093"


def test_an_unknown_family_gets_deterministic_colours_of_its_own(toys):
    learned = plots.model_color(ModelId("toy_normal", "learned"))
    fixed = plots.model_color(ModelId("toy_normal", "fixed"))
    built_in = {c for pair in plots.FAMILY_COLORS for c in pair}
    assert learned != fixed and not {learned, fixed} & built_in
    assert (learned, fixed) in plots.FALLBACK_COLORS
    # the same name gets the same colours after re-registering, and when no longer registered
    unregister_family("toy_normal")
    assert plots.family_colors("toy_normal") == (learned, fixed)
    register_family(Toy())
    assert plots.model_color(ModelId("toy_normal", "learned")) == learned
    assert plots.model_color(None) == plots.UNKNOWN_COLOR


def _loo(pointwise):
    pointwise = np.asarray(pointwise, dtype=float)
    return LooResult(LooEstimator.PSIS, 2.0, 400, np.zeros(pointwise.size), elpd_pointwise=pointwise)


def test_comparison_pairs_any_families_within_a_scale_mode(toys):
    rng = np.random.default_rng(3)
    base = rng.normal(-1.5, 0.4, size=80)
    candidates = [
        Candidate("toy_normal-learned", ModelId("toy_normal", "learned"), y_hash="h",
                  loo=_loo(base + 0.5)),
        Candidate("normal-learned", ModelId("normal", "learned"), y_hash="h", loo=_loo(base)),
        Candidate("laplace-learned", ModelId("laplace", "learned"), y_hash="h",
                  loo=_loo(base + 0.01 * np.resize([1.0, -1.0], 80))),  # same total
    ]
    comparison = compare_models(candidates)
    pairs = {(p["better_likelihood"], p["worse_likelihood"]): p for p in comparison.pairs}
    assert len(comparison.pairs) == 3 and all(p["scale"] == "learned" for p in comparison.pairs)
    clear = pairs[("toy_normal", "normal")]
    assert clear["clear"] and clear["elpd_diff"] == pytest.approx(40.0, rel=1e-12)
    assert clear["sentence"].startswith("With learned scale, the Toy likelihood (toy squared "
                                        "error) predicts better than the Normal likelihood "
                                        "(squared error)")
    close = next(p for p in comparison.pairs if {p["better"], p["worse"]}
                 == {"normal-learned", "laplace-learned"})
    # registry order in the words, whichever was fitted first
    assert close["sentence"].startswith("With learned scale, Normal (squared error) and Laplace "
                                        "(absolute error) cannot be told apart")
    assert not close["clear"] and close["elpd_diff"] == pytest.approx(0.0, abs=1e-9)
    assert comparison.verdict.leader == "toy_normal-learned"
