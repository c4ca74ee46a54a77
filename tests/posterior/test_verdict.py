"""The one verdict: which models are ranked, the 2-SE rule, misfit, and the same headline
in the terminal, the JSON, the HTML report and the notebook view; lossbridge.compare."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

import lossbridge
from lossbridge.core.errors import InputError
from lossbridge.core.jsonio import dumps
from lossbridge.core.labels import plus_minus
from lossbridge.families.registry import get_family
from lossbridge.models.identity import ModelId
from lossbridge.posterior.comparison import compare_models
from lossbridge.posterior.loo import LooEstimator, LooResult, exact_basis
from lossbridge.posterior.misfit import MisfitAssessment
from lossbridge.posterior.verdict import CLEAR_SE, MAP_ONLY, Candidate, build_verdict

QUICK = {"draws": 200, "tune": 200, "chains": 2, "progress": False}
PLUG_IN_B = "plug-in MLE of the exact LAD fit, SAD/n"
PLUG_IN_SIGMA = "plug-in MLE of the exact OLS fit, sqrt(RSS/n)"
# The JSON ``loo.method`` of a plug-in sigma scored by true LOO (part of the contract).
PLUG_IN_EXACT_METHOD = ("exact LOO in closed form (Normal likelihood, flat priors; plug-in sigma "
                        "re-estimated without each row)")


# --------------------------------------------------------------------------- hand-made models
def fake_loo(pointwise, plug_in_exact: bool = False) -> LooResult:
    """PSIS-LOO values, or exact LOO that re-estimated a plug-in scale without each row."""
    pointwise = np.asarray(pointwise, dtype=float)
    estimator = LooEstimator.EXACT if plug_in_exact else LooEstimator.PSIS
    basis = exact_basis(get_family("normal"), plug_in=True) if plug_in_exact else None
    return LooResult(estimator, 2.0, 400, np.zeros(pointwise.size), elpd_pointwise=pointwise,
                     scale_reestimated=plug_in_exact, exact_basis=basis)


def candidate(name: str, pointwise=None, *, plug_in_exact: bool = False, source: str | None = None,
              value: float | None = None, certified: bool | None = True) -> Candidate:
    likelihood, scale = name.split(": ")[-1].split("-")  # test names only; lossbridge never parses
    if scale == "fixed" and value is None:
        value = 1.5
    return Candidate(name=name, model_id=ModelId(likelihood, scale),
                     fixed_scale=value if scale == "fixed" else None,
                     fixed_scale_source=source if scale == "fixed" else None, y_hash="h",
                     loo=None if pointwise is None else fake_loo(pointwise, plug_in_exact),
                     certified=certified)


def reference_difference(a, b) -> tuple[float, float]:
    """elpd difference and its se, Vehtari et al. (2017) eq. 24, computed here from scratch."""
    d = np.asarray(a) - np.asarray(b)
    return float(d.sum()), float(np.sqrt(d.size * d.var(ddof=1)))


RNG = np.random.default_rng(0)
BASE = RNG.normal(-1.5, 0.4, size=60)


def test_map_only_verdict_says_so():
    verdict = build_verdict([candidate("normal-learned"), candidate("laplace-learned")])
    assert verdict.headline == MAP_ONLY and verdict.status == "map_only"
    assert verdict.best is None and verdict.ranking == () and verdict.all_misfit is None
    assert verdict.all_certified is True


def test_one_sampled_model_is_not_called_map_only():
    verdict = build_verdict([candidate("laplace-learned", BASE)])
    assert verdict.status == "single" and "MAP estimates only" not in verdict.headline
    assert verdict.headline.startswith("Only one model was sampled, laplace-learned (absolute error)")
    assert verdict.best is None and verdict.clear is None


def test_clear_difference_crowns_the_best_with_the_two_se_rule():
    better = BASE + 0.3 + RNG.normal(0, 0.3, size=60)
    models = [candidate("normal-learned", BASE), candidate("laplace-learned", better)]
    comparison = compare_models(models)
    verdict = comparison.verdict
    diff, se = reference_difference(better, BASE)
    assert diff / se >= CLEAR_SE  # the data were made so
    assert verdict.status == "comparison" and verdict.clear
    assert verdict.best == verdict.leader == "laplace-learned" and verdict.runner_up == "normal-learned"
    assert verdict.elpd_diff == pytest.approx(diff, rel=1e-12)
    assert verdict.se == pytest.approx(se, rel=1e-12)
    assert verdict.standard_errors == pytest.approx(diff / se, rel=1e-12)
    assert verdict.headline == (
        "Best predictive accuracy (leave-one-out): laplace-learned (absolute error), ahead of "
        f"normal-learned (squared error) by {diff:.1f} ± {se:.1f} elpd = "
        f"{plus_minus(diff / 60, se / 60)} nats/obs ({diff / se:.1f} standard errors).")
    assert comparison.sentences[0] == verdict.headline
    assert list(comparison.table.index) == ["laplace-learned", "normal-learned"]


def test_difference_under_two_se_crowns_nobody():
    close = BASE + RNG.normal(0.01, 0.3, size=60)
    verdict = compare_models([candidate("normal-learned", BASE),
                              candidate("laplace-learned", close)]).verdict
    diff, se = reference_difference(close, BASE)
    assert abs(diff) / se < CLEAR_SE
    assert verdict.clear is False and verdict.best is None and verdict.leader is not None
    assert verdict.headline.startswith("No clear winner by leave-one-out:")
    assert f"only {abs(diff) / se:.1f} standard errors" in verdict.headline


def test_plug_in_laplace_scale_is_never_crowned_even_when_it_scores_best():
    """b = SAD/n from the same data: PSIS-LOO uses every row twice; it is listed, not ranked."""
    models = [candidate("normal-learned", BASE), candidate("laplace-learned", BASE + 0.2),
              candidate("laplace-fixed", BASE + 0.5, source=PLUG_IN_B),
              candidate("normal-fixed", BASE + 0.1, plug_in_exact=True, source=PLUG_IN_SIGMA)]
    comparison = compare_models(models)
    verdict = comparison.verdict
    assert "laplace-fixed" not in verdict.ranking and verdict.best != "laplace-fixed"
    assert verdict.ranking == ("laplace-learned", "normal-fixed", "normal-learned")
    assert [name for name, _ in verdict.excluded] == ["laplace-fixed"]
    assert "uses every row twice" in dict(verdict.excluded)["laplace-fixed"]
    assert any(s.startswith("laplace-fixed is not ranked:") for s in comparison.sentences)
    # the plug-in sigma scored by true LOO is ranked, and that is said
    assert any("normal-fixed: its plug-in sigma is re-estimated" in s for s in verdict.details)
    table = comparison.table
    assert list(table.index) == ["laplace-learned", "normal-fixed", "normal-learned", "laplace-fixed"]
    assert table["rank"].isna().tolist() == [False, False, False, True]
    assert table.loc["laplace-fixed", "ranked"] == False  # noqa: E712 (numpy bool)
    diff, se = reference_difference(BASE + 0.2, BASE + 0.5)
    assert table.loc["laplace-fixed", "elpd_diff"] == pytest.approx(diff, rel=1e-12)
    records = comparison.as_records()
    assert records[-1]["rank"] is None and records[-1]["not_ranked_reason"]
    assert comparison.preferred == "laplace-learned"


def test_likelihood_question_comes_first_when_the_runner_up_shares_the_likelihood():
    """Gaussian data: the two Normal models tie, both far ahead of the Laplace model."""
    tie = BASE + RNG.normal(0, 0.01, size=60)
    worse = BASE - 0.5 + RNG.normal(0, 0.2, size=60)
    models = [candidate("normal-learned", BASE), candidate("laplace-learned", worse),
              candidate("normal-fixed", tie, plug_in_exact=True, source=PLUG_IN_SIGMA)]
    verdict = compare_models(models).verdict
    leader, runner = ("normal-fixed", "normal-learned") if tie.sum() > BASE.sum() else \
        ("normal-learned", "normal-fixed")
    pointwise = {"normal-learned": BASE, "normal-fixed": tie}
    diff, se = reference_difference(pointwise[leader], worse)
    d2, se2 = reference_difference(pointwise[leader], pointwise[runner])
    assert diff / se >= CLEAR_SE and abs(d2) / se2 < CLEAR_SE  # made so
    assert verdict.leader == leader and verdict.runner_up == runner
    assert verdict.best is None and verdict.clear is False  # the two Normal models tie
    assert verdict.best_likelihood == "normal"
    assert verdict.likelihood_difference["against"] == "laplace-learned"
    assert verdict.likelihood_difference["elpd_diff"] == pytest.approx(diff, rel=1e-12)
    assert verdict.headline == (
        "Best predictive accuracy (leave-one-out): the Normal likelihood (squared error), whose "
        f"best model {leader} is ahead of laplace-learned (absolute error), the best Laplace "
        f"model, by {diff:.1f} ± {se:.1f} elpd = {plus_minus(diff / 60, se / 60)} nats/obs "
        f"({diff / se:.1f} standard errors). Within the "
        f"Normal likelihood, {leader} and {runner} cannot be told apart ({d2:.1f} ± {se2:.1f} "
        f"elpd, {abs(d2) / se2:.1f} standard errors).")


def test_plug_in_normal_scored_without_true_loo_is_not_ranked():
    """Weak priors: no closed form, so PSIS with sigma from the same data: not ranked."""
    models = [candidate("normal-learned", BASE), candidate("normal-fixed", BASE + 1, source=PLUG_IN_SIGMA)]
    verdict = compare_models(models).verdict
    assert verdict.status == "no_ranking" and verdict.best is None
    assert verdict.headline.startswith("No comparison by predictive accuracy: normal-learned "
                                       "(squared error) is the only model that can be ranked")


def test_user_fixed_scale_is_ranked_and_said():
    models = [candidate("normal-learned", BASE),
              candidate("normal-fixed", BASE + 0.5, source="user value (--sigma)", value=2.5)]
    verdict = compare_models(models).verdict
    assert verdict.best == "normal-fixed" and verdict.user_fixed == ("normal-fixed",)
    assert "normal-fixed (squared error, sigma fixed by the user at 2.5)" in verdict.headline
    assert any("fixed by the user, not estimated from these data" in d for d in verdict.details)


def test_when_every_ranked_model_misfits_the_headline_says_so():
    misfit = MisfitAssessment(
        warnings=({"code": "loo_pit", "model": "normal-learned", "message": "m"},),
        misfit_models=frozenset({"normal-learned", "laplace-learned", "laplace-fixed"}),
        residual_shape=("heavy tails (excess kurtosis 5.2)", "a spike at zero (31% of residuals)"))
    models = [candidate("normal-learned", BASE), candidate("laplace-learned", BASE + 0.5),
              candidate("laplace-fixed", BASE + 0.6, source=PLUG_IN_B)]
    verdict = compare_models(models, misfit=misfit).verdict
    assert verdict.all_misfit is True
    assert verdict.headline.startswith(
        "Neither likelihood describes these data well; the comparison is between two wrong models: "
        "laplace-learned (absolute error) is ahead of normal-learned (squared error)")
    assert verdict.headline.endswith(
        "The residuals show heavy tails (excess kurtosis 5.2), a spike at zero (31% of residuals).")
    assert verdict.as_dict()["misfit"]["residual_shape"] == list(misfit.residual_shape)


def test_misfit_of_some_models_is_a_detail_not_the_headline():
    misfit = MisfitAssessment(misfit_models=frozenset({"normal-learned"}))
    verdict = compare_models([candidate("normal-learned", BASE),
                              candidate("laplace-learned", BASE + 0.5)], misfit=misfit).verdict
    assert verdict.all_misfit is False and verdict.headline.startswith("Best predictive accuracy")
    assert "Misfit warnings for normal-learned (see the warnings)." in verdict.details


def test_single_misfitting_model_is_named():
    misfit = MisfitAssessment(misfit_models=frozenset({"normal-learned"}), residual_shape=("skew",))
    verdict = build_verdict([candidate("normal-learned", BASE)], misfit=misfit)
    assert verdict.headline.endswith("normal-learned does not describe these data well. "
                                     "The residuals show skew.")


def test_verdict_json_object():
    models = [candidate("normal-learned", BASE, certified=False), candidate("laplace-learned", BASE + 0.5)]
    doc = json.loads(dumps(compare_models(models, warning_count=3).verdict.as_dict()))
    assert set(doc) == {"headline", "details", "comparison_notes", "status", "best", "leader",
                        "runner_up", "ranking", "excluded", "difference", "clear",
                        "clear_rule_standard_errors", "best_likelihood", "likelihood_difference",
                        "sampled_models", "user_fixed_scale_models",
                        "all_certified", "uncertified", "warning_count", "misfit",
                        "not_distributional"}
    assert doc["all_certified"] is False and doc["uncertified"] == ["normal-learned"]
    assert doc["warning_count"] == 3 and doc["difference"]["elpd_diff"] == pytest.approx(30.0)


def test_candidate_names_are_never_parsed():
    """A label with hyphens (and a likelihood-looking word) changes nothing."""
    models = [candidate("laplace-x: normal-learned", BASE),
              candidate("normal-y: laplace-learned", BASE + 0.5)]
    comparison = compare_models(models)
    pair = comparison.pairs[0]
    assert pair["better"] == "normal-y: laplace-learned" and pair["better_likelihood"] == "laplace"
    assert "(absolute error)" in comparison.verdict.headline


# --------------------------------------------------------------------------- fitted analyses
FITS = {
    "map": lambda: lossbridge.fit("stackloss", sample=False),
    "one": lambda: lossbridge.fit("stackloss", likelihoods="laplace", scales="learned", seed=4, **QUICK),
    "two": lambda: lossbridge.fit("stackloss", likelihoods="normal", seed=3, **QUICK),
    "four": lambda: lossbridge.fit("stackloss", seed=5, **QUICK),
    # a categorical y (the bundled anes96, its default likelihood)
    "categorical_map": lambda: lossbridge.fit("anes96", "PID ~ selfLR + age", sample=False),
    "categorical": lambda: lossbridge.fit("anes96", "PID ~ selfLR + age", seed=6, **QUICK),
}


class Fitted(dict):
    """Each analysis fitted on first use, once per module (sampling takes seconds)."""

    def __missing__(self, key):
        self[key] = FITS[key]()
        return self[key]


@pytest.fixture(scope="module")
def fitted() -> Fitted:
    return Fitted()


class Headline(HTMLParser):
    """The text of the verdict box's headline paragraph."""

    def __init__(self):
        super().__init__()
        self.inside, self.text = False, []

    def handle_starttag(self, tag, attrs):
        self.inside = self.inside or (tag == "p" and ("class", "headline") in attrs)

    def handle_endtag(self, tag):
        if tag == "p":
            self.inside = False

    def handle_data(self, data):
        if self.inside:
            self.text.append(data)


def html_headline(html: str) -> str:
    parser = Headline()
    parser.feed(html)
    return "".join(parser.text)


@pytest.mark.parametrize(("key", "status"), [
    ("map", "map_only"),
    pytest.param("one", "single", marks=pytest.mark.slow),
    pytest.param("two", "comparison", marks=pytest.mark.slow),
    pytest.param("four", "comparison", marks=pytest.mark.slow),
    ("categorical_map", "map_only"),
    pytest.param("categorical", "single", marks=pytest.mark.slow)])
def test_terminal_json_html_and_notebook_lead_with_the_same_headline(fitted, key, status, tmp_path):
    analysis = fitted[key]
    headline = analysis.verdict.headline
    assert analysis.verdict.status == status
    assert analysis.summary().splitlines()[0] == f"Verdict: {headline}"
    assert json.loads(dumps(analysis.to_dict()))["verdict"]["headline"] == headline
    html = analysis.to_html(tmp_path / "r.html").read_text(encoding="utf-8")
    assert html_headline(html) == headline
    assert html_headline(analysis._repr_html_()) == headline
    if analysis.comparison is not None:
        assert analysis.comparison.verdict is analysis.verdict  # computed once
        assert analysis.to_dict()["comparison_summary"][0] == headline
    if status != "map_only":  # NUTS ran: never "MAP estimates only"
        assert "MAP estimates only" not in html


@pytest.mark.slow
def test_fitted_plug_in_models(fitted):
    two, four = fitted["two"].verdict, fitted["four"].verdict
    assert set(two.ranking) == {"normal-learned", "normal-fixed"}  # true LOO for the plug-in sigma
    loo = fitted["two"].fit_for("normal-fixed").posterior.loo
    assert loo.scale_reestimated and loo.method == PLUG_IN_EXACT_METHOD
    assert "laplace-fixed" not in four.ranking and dict(four.excluded)["laplace-fixed"]
    assert four.best != "laplace-fixed"


@pytest.mark.slow
def test_compare_two_analyses_names_models_by_label(fitted):
    a, b = fitted["two"], fitted["one"]
    comparison = lossbridge.compare(a, b)
    assert set(comparison.table.index) == {"A: normal-learned", "A: normal-fixed", "B: laplace-learned"}
    assert comparison.verdict.headline == comparison.sentences[0]
    listed = lossbridge.compare([a, b])
    pd.testing.assert_frame_equal(listed.table, comparison.table)
    assert listed.verdict.headline == comparison.verdict.headline
    labelled = lossbridge.compare(a, b, labels=["gauss-1", "lap"])
    assert set(labelled.table.index) == {"gauss-1: normal-learned", "gauss-1: normal-fixed",
                                         "lap: laplace-learned"}
    pair = labelled.pairs[0]
    assert {pair["better"], pair["worse"]} == {"gauss-1: normal-learned", "lap: laplace-learned"}
    with pytest.raises(InputError, match="at least two sampled models; got 1"):
        lossbridge.compare(b, fitted["map"])
    # one analysis: its own model names, and the analysis' own verdict
    alone = lossbridge.compare(fitted["four"])
    assert alone.verdict.headline == fitted["four"].verdict.headline


@pytest.mark.slow
def test_compare_a_loaded_analysis(fitted, tmp_path):
    loaded = lossbridge.load(fitted["two"].save(tmp_path / "saved"))
    comparison = lossbridge.compare(loaded, fitted["one"], labels=["saved", "live"])
    assert set(comparison.verdict.ranking) == {"saved: normal-learned", "saved: normal-fixed",
                                               "live: laplace-learned"}


def test_compare_refuses_bad_arguments(fitted):
    a = b = fitted["map"]  # every check comes before any LOO is needed
    with pytest.raises(InputError, match="at least one analysis"):
        lossbridge.compare()
    with pytest.raises(InputError, match="at least one analysis"):
        lossbridge.compare([])
    with pytest.raises(InputError, match="argument 2 is a str, not an analysis"):
        lossbridge.compare(a, "engel")
    with pytest.raises(InputError, match="argument 1 is a DataFrame"):
        lossbridge.compare([pd.DataFrame(), a])
    with pytest.raises(InputError, match="2 analyses but 1 labels"):
        lossbridge.compare(a, b, labels=["x"])
    with pytest.raises(InputError, match="labels must be distinct; 'x' repeated"):
        lossbridge.compare(a, b, labels=["x", "x"])
    with pytest.raises(InputError, match="non-empty string"):
        lossbridge.compare(a, b, labels=["x", ""])
    with pytest.raises(InputError, match="list of 2 distinct strings"):
        lossbridge.compare(a, b, labels="xy")
    other = lossbridge.fit("stackloss", formula="np.log(STACKLOSS) ~ AIRFLOW", sample=False)
    with pytest.raises(InputError, match="different data"):
        lossbridge.compare(a, other)
    with pytest.raises(InputError, match="at least two sampled models; got 0"):
        lossbridge.compare(a, b)


def test_plug_in_is_the_specs_flag_not_the_wording_of_its_source():
    """The flag decides whether a fixed scale used the data twice; the source's wording
    decides only for folders saved before the flag was written."""
    model = ModelId("normal", "fixed")
    flagged = Candidate("normal-fixed", model, fixed_scale=1.0, fixed_scale_source="from the data",
                        fixed_scale_is_plug_in=True)
    unflagged = Candidate("normal-fixed", model, fixed_scale=1.0,
                          fixed_scale_source="plug-in MLE, but the flag says no",
                          fixed_scale_is_plug_in=False)
    legacy = Candidate("normal-fixed", model, fixed_scale=1.0, fixed_scale_source="plug-in MLE")
    assert flagged.plug_in and not flagged.user_fixed
    assert not unflagged.plug_in and unflagged.user_fixed
    assert legacy.plug_in


def test_every_number_of_the_headline_has_its_json_counterpart():
    """normal-learned leads, the user-fixed Normal is the runner-up (same likelihood), the
    Laplace model the rival: the headline's nats/obs is against the rival, so it must be in
    ``likelihood_difference``, not only the leader − runner-up ``difference``."""
    # Centred noise: the totals are BASE's minus 1.2 and minus 36 whatever the shared RNG's
    # state (the test order under xdist), so the ranking is fixed.
    rng = np.random.default_rng(381)
    noise = rng.normal(0, 0.3, size=60)
    close = BASE - 0.02 + (noise - noise.mean())
    noise = rng.normal(0, 0.2, size=60)
    worse = BASE - 0.6 + (noise - noise.mean())
    models = [candidate("normal-learned", BASE), candidate("laplace-learned", worse),
              candidate("normal-fixed", close, source="user value (--sigma)", value=2.5)]
    verdict = compare_models(models).verdict
    assert (verdict.leader, verdict.runner_up) == ("normal-learned", "normal-fixed")
    data = json.loads(dumps(verdict.as_dict()))
    diff, se = reference_difference(BASE, worse)
    d2, se2 = reference_difference(BASE, close)
    rival = data["likelihood_difference"]
    assert rival["against"] == "laplace-learned"
    assert rival["kl_difference_nats_per_obs"] == pytest.approx(diff / 60, rel=1e-12)
    assert rival["kl_difference_se"] == pytest.approx(se / 60, rel=1e-12)
    within = data["difference"]
    assert within["kl_difference_nats_per_obs"] == pytest.approx(d2 / 60, rel=1e-12)
    numbers = (f"{rival['elpd_diff']:.1f} ± {rival['se']:.1f} elpd = "
               f"{plus_minus(rival['kl_difference_nats_per_obs'], rival['kl_difference_se'])} "
               f"nats/obs ({rival['standard_errors']:.1f} standard errors)")
    assert numbers in verdict.headline
    assert f"{within['elpd_diff']:.1f} ± {within['se']:.1f} elpd" in verdict.headline
