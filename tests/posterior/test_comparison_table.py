"""The one comparison table over every likelihood of one y, and the models it never ranks.

Driven only by family attributes: a test-local family with ``comparison_group =
"quantile"`` and a shape parameter ``tau`` (registered with ``register_family``) stands in
for the quantile families. It must never enter the ranking, the table or the verdict's
pick, whatever its elpd; it is listed in its own table with its settings and mean loss.
The hand-made LOO values make every number known in closed form here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from lossbridge.core.jsonio import dumps
from lossbridge.families.base import ShapeParameter
from lossbridge.families.normal import Normal
from lossbridge.families.registry import FAMILIES, register_family, unregister_family
from lossbridge.models.identity import ModelId
from lossbridge.posterior.comparison import IDENTITY_COLUMNS, compare_models
from lossbridge.posterior.verdict import Candidate

from .test_verdict import BASE, PLUG_IN_B, candidate, fake_loo, reference_difference

N = BASE.size


class ToyQuantile(Normal):
    """A Normal density under another name, declared a quantile model with a tau setting
    (its density is irrelevant here: only where its rows are shown is tested)."""

    name = "toyq"
    title = "Toy quantile"
    loss_name = "toy pinball loss"
    loss_symbol = "TPL"
    comparison_group = "quantile"
    in_default_set = False
    exact_name = "toy LP"
    parameters = (ShapeParameter("tau", 0.5, lower=0.0, upper=1.0),)


@pytest.fixture(autouse=True, scope="module")
def toyq():
    family = register_family(ToyQuantile())
    yield family
    unregister_family("toyq")
    assert "toyq" not in FAMILIES


def quantile(tau: float, pointwise, scale: str = "learned", loss: float = 30.0,
             certified: bool | None = True) -> Candidate:
    model_id = ModelId("toyq", scale, (("tau", tau),))
    return Candidate(name=model_id.label, model_id=model_id, y_hash="h",
                     fixed_scale=0.5 if scale == "fixed" else None,
                     fixed_scale_source="plug-in MLE" if scale == "fixed" else None,
                     fixed_scale_is_plug_in=scale == "fixed" or None,
                     loo=fake_loo(pointwise), certified=certified, loss=loss, n=N,
                     scale_value=loss / N)


def test_quantile_models_are_listed_apart_and_never_ranked():
    # the quantile models score far above the others: a ranking would crown one
    models = [candidate("normal-learned", BASE), candidate("laplace-learned", BASE + 0.5),
              quantile(0.1, BASE + 5.0, loss=12.0), quantile(0.9, BASE + 6.0, loss=18.0)]
    comparison = compare_models(models)
    verdict = comparison.verdict
    assert list(comparison.table.index) == ["laplace-learned", "normal-learned"]
    assert verdict.ranking == ("laplace-learned", "normal-learned")
    assert verdict.leader == "laplace-learned" and verdict.best == "laplace-learned"
    assert "toyq" not in verdict.headline
    assert verdict.unranked_groups == (("toyq(tau=0.1)-learned", "quantile"),
                                       ("toyq(tau=0.9)-learned", "quantile"))
    assert any("toyq(tau=0.1)-learned, toyq(tau=0.9)-learned are not ranked" in note
               for note in verdict.comparison_notes)
    # the difference to the best ± se: eq. 24 of Vehtari et al. computed from scratch
    diff, se = reference_difference(BASE + 0.5, BASE)
    row = comparison.table.loc["normal-learned"]
    assert row["elpd_diff"] == pytest.approx(diff) and row["dse"] == pytest.approx(se, abs=1e-9)
    # the identity columns, from the families' attributes
    assert list(comparison.table.columns[:4]) == list(IDENTITY_COLUMNS)
    assert comparison.table.loc["normal-learned", IDENTITY_COLUMNS].tolist() == [
        "squared error", "Normal", "OLS", True]
    assert comparison.table.loc["laplace-learned", IDENTITY_COLUMNS].tolist() == [
        "absolute error", "Laplace", "LAD", True]
    quantiles = comparison.quantile_table
    assert list(quantiles.index) == ["toyq(tau=0.1)-learned", "toyq(tau=0.9)-learned"]
    assert quantiles["settings"].tolist() == ["tau=0.1", "tau=0.9"]
    assert quantiles["mean_loss"].tolist() == pytest.approx([12.0 / N, 18.0 / N], rel=1e-15)
    assert quantiles["counterpart"].tolist() == ["toy LP", "toy LP"]
    assert "elpd_loo" not in quantiles.columns  # not shown: see comparison.py's docstring
    # JSON: the new columns on each ranked row; the quantile models apart
    records = json.loads(dumps(comparison.as_records()))
    assert [r["model"] for r in records] == ["laplace-learned", "normal-learned"]
    assert {k: records[1][k] for k in IDENTITY_COLUMNS} == {
        "loss": "squared error", "likelihood": "Normal", "counterpart": "OLS", "certified": True}
    apart = json.loads(dumps(comparison.quantile_records()))
    assert [r["model"] for r in apart] == list(quantiles.index)
    assert apart[0]["comparison_group"] == "quantile" and apart[0]["settings"] == "tau=0.1"
    assert apart[0]["mean_loss"] == pytest.approx(12.0 / N, rel=1e-15)


def test_only_quantile_models_means_no_distributional_comparison():
    comparison = compare_models([quantile(0.1, BASE), quantile(0.9, BASE + 3.0)])
    verdict = comparison.verdict
    assert verdict.status == "quantile_only"
    assert verdict.headline.startswith("No distributional comparison: only quantile models "
                                       "were sampled (toyq(tau=0.1)-learned, "
                                       "toyq(tau=0.9)-learned)")
    assert verdict.best is None and verdict.leader is None and verdict.ranking == ()
    assert comparison.table.empty and comparison.as_records() == []
    assert len(comparison.quantile_table) == 2
    assert comparison.sentences[0] == verdict.headline


def test_one_distributional_model_beside_quantile_models():
    comparison = compare_models([candidate("normal-learned", BASE), quantile(0.5, BASE + 9.0)])
    verdict = comparison.verdict
    assert verdict.status == "single" and verdict.best is None
    assert verdict.headline == (
        "Only one distributional model was sampled, normal-learned (squared error), so there "
        "is no comparison by predictive accuracy (the quantile models are not ranked: each "
        "answers one conditional quantile of y).")
    assert list(comparison.table.index) == ["normal-learned"]


def test_without_quantile_models_the_wording_is_unchanged():
    verdict = compare_models([candidate("normal-learned", BASE),
                              candidate("normal-fixed", BASE, value=3.0, source="user")]).verdict
    assert verdict.unranked_groups == ()
    assert not any("not ranked: each answers" in n for n in verdict.comparison_notes)


def test_plug_in_rule_still_applies_with_quantile_models_present():
    models = [candidate("normal-learned", BASE), candidate("laplace-learned", BASE + 0.1),
              candidate("laplace-fixed", BASE + 1.0, source=PLUG_IN_B),
              quantile(0.5, BASE + 2.0, scale="fixed")]
    comparison = compare_models(models)
    verdict = comparison.verdict
    assert [name for name, _ in verdict.excluded] == ["laplace-fixed"]  # not the quantile one
    assert verdict.ranking == ("laplace-learned", "normal-learned")
    table = comparison.table
    assert list(table.index) == ["laplace-learned", "normal-learned", "laplace-fixed"]
    assert not table.loc["laplace-fixed", "ranked"] and np.isnan(table.loc["laplace-fixed", "weight"])
    assert list(comparison.quantile_table.index) == ["toyq(tau=0.5)-fixed"]


def test_all_misfit_honesty_is_about_the_distributional_models():
    from lossbridge.posterior.misfit import MisfitAssessment

    models = [candidate("normal-learned", BASE), candidate("laplace-learned", BASE + 0.5),
              quantile(0.5, BASE + 2.0)]
    both = MisfitAssessment(misfit_models=frozenset({"normal-learned", "laplace-learned"}))
    assert compare_models(models, misfit=both).verdict.headline.startswith(
        "Neither likelihood describes these data well")
    # a misfitting quantile model does not make the distributional ones wrong, nor count
    one = MisfitAssessment(misfit_models=frozenset({"normal-learned", "toyq(tau=0.5)-learned"}))
    verdict = compare_models(models, misfit=one).verdict
    assert verdict.all_misfit is False
    assert verdict.headline.startswith("Best predictive accuracy")
