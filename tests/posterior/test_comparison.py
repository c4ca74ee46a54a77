"""Comparison rules by density kind, and the per-observation columns in nats.

Leave-one-out ranks only models of one ``density_kind`` (Vehtari, cross-validation FAQ: a
density and a probability are not on one scale). With both kinds in one analysis y is
discrete, so the discrete models are ranked and the continuous ones are listed apart with
the reason, whatever their elpd. Hand-made LOO values make every number known here; the
nats/obs columns are checked against ArviZ's own ``loo`` and ``compare`` on the same
log-likelihood draws.
"""

from __future__ import annotations

import json

import arviz as az
import numpy as np
import pytest

from lossbridge.core.jsonio import dumps
from lossbridge.core.labels import plus_minus
from lossbridge.families.poisson import Poisson
from lossbridge.families.registry import FAMILIES, register_family, unregister_family
from lossbridge.models.identity import ModelId
from lossbridge.posterior.comparison import PER_OBS_COLUMNS, compare_models
from lossbridge.posterior.loo import LooEstimator, LooResult
from lossbridge.posterior.verdict import (
    KIND_GROUPS,
    Candidate,
    build_verdict,
    density_kinds,
    with_density_kind,
)

from .test_verdict import BASE, candidate, fake_loo, reference_difference

N = BASE.size


class ToyCount(Poisson):
    """A second discrete family (the Poisson under another name): two discrete likelihoods."""

    name = "toycount"
    title = "Toy count"
    loss_name = "toy deviance"
    in_default_set = False


@pytest.fixture(autouse=True, scope="module")
def toycount():
    family = register_family(ToyCount())
    yield family
    unregister_family("toycount")
    assert "toycount" not in FAMILIES


def discrete(likelihood: str, pointwise) -> Candidate:
    model_id = ModelId(likelihood, "none")
    return Candidate(name=model_id.label, model_id=model_id, y_hash="h",
                     fixed_scale=1.0, loo=fake_loo(pointwise), certified=True, loss=20.0, n=N,
                     scale_value=1.0)


def test_one_kind_is_left_alone():
    models = [candidate("normal-learned", BASE), candidate("laplace-learned", BASE + 0.1)]
    assert density_kinds(models) == ["continuous"]
    assert all(a is b for a, b in zip(with_density_kind(models), models, strict=True))


def test_a_discrete_y_ranks_only_the_discrete_model_whatever_the_normal_scores():
    # the Normal's log density is far above the Poisson's log probability: still not ranked
    models = [discrete("poisson", BASE), candidate("normal-learned", BASE + 5.0),
              candidate("normal-fixed", BASE + 4.0, plug_in_exact=True)]
    comparison = compare_models(models)
    verdict = comparison.verdict
    assert verdict.ranking == ("poisson",) and verdict.status == "single"
    assert list(comparison.table.index) == ["poisson"]
    assert set(comparison.quantile_table.index) == {"normal-learned", "normal-fixed"}
    assert set(comparison.quantile_table["comparison_group"]) == {"continuous"}
    reason = KIND_GROUPS["continuous"][2]
    assert "cross-validation FAQ" in reason
    assert verdict.headline.startswith("Only one discrete model was sampled, poisson")
    assert KIND_GROUPS["continuous"][1] in verdict.headline
    assert (f"normal-learned, normal-fixed are not ranked: {reason}; shown in a section of its "
            "own.") in verdict.comparison_notes
    record = json.loads(dumps(verdict.as_dict()))
    assert {m["model"]: m["reason"] for m in record["not_distributional"]} == {
        "normal-learned": reason, "normal-fixed": reason}
    outside = comparison.quantile_records(every=True)
    assert [r["not_ranked_reason"] for r in outside] == [reason, reason]
    assert comparison.quantile_records() == []  # none of them is a quantile model


def test_two_discrete_models_are_compared_and_the_normal_is_named_outside():
    better = BASE + 0.4 + np.random.default_rng(3).normal(0, 0.2, N)
    models = [discrete("poisson", BASE), discrete("toycount", better),
              candidate("normal-learned", BASE + 9.0)]
    comparison = compare_models(models)
    verdict = comparison.verdict
    diff, se = reference_difference(better, BASE)
    assert verdict.ranking == ("toycount", "poisson") and verdict.best == "toycount"
    assert verdict.elpd_diff == pytest.approx(diff, rel=1e-12)
    assert "normal-learned" not in comparison.table.index
    assert verdict.headline == (
        "Best predictive accuracy (leave-one-out): toycount (toy deviance), ahead of poisson "
        f"(Poisson deviance) by {diff:.1f} ± {se:.1f} elpd = {plus_minus(diff / N, se / N)} "
        f"nats/obs ({diff / se:.1f} standard errors). Not ranked: normal-learned (the "
        f"continuous-density models are not ranked: {KIND_GROUPS['continuous'][1]}).")
    assert comparison.sentences[0] == verdict.headline
    difference = json.loads(dumps(verdict.as_dict()))["difference"]
    assert difference["kl_difference_nats_per_obs"] == pytest.approx(diff / N, rel=1e-12)
    assert difference["kl_difference_se"] == pytest.approx(se / N, rel=1e-12)


def test_all_misfit_honesty_stays_with_the_ranked_discrete_models():
    models = [discrete("poisson", BASE), candidate("normal-learned", BASE + 5.0)]
    flagged = [discrete("poisson", BASE), candidate("normal-learned", BASE + 5.0)]
    assert build_verdict(models, misfit=None).all_misfit is False
    verdict = build_verdict([Candidate(**{**vars(flagged[0]), "misfit": True}), flagged[1]])
    assert verdict.all_misfit is True and "poisson does not describe these data well" in verdict.headline


def test_nats_per_observation_equal_arviz_loo_and_compare_on_the_same_log_likelihood():
    rng = np.random.default_rng(11)
    n, chains, draws = 40, 2, 500
    y = rng.normal(size=n)
    idatas, models = {}, []
    for name, (shift, spread) in {"normal-learned": (0.0, 1.0), "laplace-learned": (0.3, 1.4),
                                  "normal-fixed": (0.1, 2.0)}.items():
        mu = rng.normal(shift, 0.1, size=(chains, draws, 1))
        log_lik = -0.5 * ((y - mu) / spread) ** 2 - np.log(spread) - 0.5 * np.log(2 * np.pi)
        idata = az.from_dict(posterior={"mu": mu[..., 0]}, log_likelihood={"y": log_lik})
        idatas[name] = idata
        loo = az.loo(idata, pointwise=True)
        result = LooResult(LooEstimator.PSIS, float(loo.p_loo), chains * draws,
                           np.asarray(loo.pareto_k), elpd_pointwise=np.asarray(loo.loo_i))
        models.append(Candidate(name=name, model_id=ModelId(*name.split("-")), y_hash="h",
                                fixed_scale=2.0 if name.endswith("fixed") else None,
                                fixed_scale_source="user" if name.endswith("fixed") else None,
                                fixed_scale_is_plug_in=False, loo=result))
    table = compare_models(models).table
    reference = az.compare(idatas, ic="loo", method="stacking", scale="log")
    for name in idatas:
        loo = az.loo(idatas[name])
        # the same sums divided by n: equal within a few ulps of the sums (rel 1e-12)
        assert table.loc[name, "cross_entropy_nats_per_obs"] == pytest.approx(
            -loo.elpd_loo / n, rel=1e-12)
        assert table.loc[name, "cross_entropy_se"] == pytest.approx(loo.se / n, rel=1e-12)
        assert table.loc[name, "kl_difference_nats_per_obs"] == pytest.approx(
            reference.loc[name, "elpd_diff"] / n, rel=1e-12, abs=1e-15)
        assert table.loc[name, "kl_difference_se"] == pytest.approx(
            reference.loc[name, "dse"] / n, rel=1e-12, abs=1e-15)
    best = reference.index[0]
    assert table.loc[best, "kl_difference_nats_per_obs"] == 0.0
    # the KL difference is the difference of the two cross-entropy estimates (H(p*) cancels)
    for name in idatas:
        assert table.loc[name, "kl_difference_nats_per_obs"] == pytest.approx(
            table.loc[name, "cross_entropy_nats_per_obs"]
            - table.loc[best, "cross_entropy_nats_per_obs"], rel=1e-10, abs=1e-14)
    records = compare_models(models).as_records()
    for record in records:
        assert set(PER_OBS_COLUMNS) <= set(record) and record["n"] == n
        assert record["cross_entropy_nats_per_obs"] == pytest.approx(-record["elpd_loo"] / n,
                                                                     rel=1e-12)
