"""One verdict per analysis (or comparison), computed once and shown everywhere.

The terminal summary, the JSON ``verdict`` object, the HTML headline and the notebook
view all print :attr:`Verdict.headline`; none of them words its own conclusion.

Which models may be ranked by leave-one-out (LOO):

* a learned scale: always;
* a scale fixed by the user (``--sigma``): a different model, not an estimate from
  these data, so it is ranked, and the verdict says so;
* a scale fixed at its plug-in maximum-likelihood value from these same data: only when
  its LOO re-estimated the scale without each row (true LOO of the whole procedure: in
  closed form for the Normal likelihood with flat priors, :mod:`lossbridge.posterior.loo`).
  Otherwise its LOO uses every row twice (once to set the scale, once to score it), is
  optimistic, and the model is kept out of the ranking with that reason given.

Only models of the same question are ranked together: a family's ``comparison_group``
says what it answers. "distribution" families (the whole conditional law of y) are
ranked; any other group (``"quantile"``: one conditional quantile, through a working
likelihood whose density is not a model of y) is never ranked and never named by the
verdict; such models are listed in their own section (:mod:`lossbridge.posterior.comparison`).
When only such models were sampled, the verdict says there is no distributional comparison.

Only densities of one kind are ranked together: a family's ``density_kind`` is
"continuous" (a density on the real line) or "discrete" (a probability mass function).
A log density and a log probability are not on one scale, so their elpd values cannot be
compared without discretising the density (Vehtari, "Cross-validation FAQ", section "Can
cross-validation be used to compare models with continuous and discrete observation
models?", https://users.aalto.fi/~ave/CV-FAQ.html). The rule for an analysis with both
kinds (:func:`with_density_kind`): a discrete family is fitted only after its
``check_response`` accepted y as integer-valued (counts, binary), so y is discrete; the
discrete models are ranked (``RANKED_KIND_WHEN_MIXED``) and the continuous ones are shown
outside the ranking, in the section of the models not ranked, with that reason (their
comparison group becomes their density kind, ``"continuous"``).
:func:`lossbridge.compare` of analyses refuses a set with both kinds instead
(:func:`density_kinds`).

A difference is called clear at ``CLEAR_SE`` standard errors or more (the usual rule for
elpd differences; Vehtari, Gelman and Gabry 2017, Sivula et al. 2022).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from ..core.labels import plus_minus
from ..families.base import Family
from ..models.identity import ModelId
from .loo import LooResult, is_plug_in
from .misfit import MisfitAssessment

CLEAR_SE = 2.0  # a difference under 2 standard errors is reported as not clear
MAP_ONLY = ("MAP estimates only: no posterior sampling was run, so the likelihoods were not "
            "compared by predictive accuracy.")
RANKED_GROUP = "distribution"  # the comparison_group ranked by leave-one-out
# What a model of each other comparison group answers, for the sentences that say why it is
# not ranked (a group not listed here is described by its name).
GROUP_ANSWERS = {"quantile": ("quantile models", "one conditional quantile of y")}
# In an analysis with both density kinds, the kind that is ranked: y is discrete (see the
# module docstring). The other kind's models form a group named by their kind, with these
# words: (plural noun, why they are not ranked).
RANKED_KIND_WHEN_MIXED = "discrete"
KIND_GROUPS = {
    "continuous": ("continuous-density models",
                   "their densities are not on the scale of the probabilities P(y) of a "
                   "discrete y",
                   "y is discrete, as a discrete likelihood was fitted, and a density on the "
                   "real line is not on the scale of a probability P(y): their elpd cannot be "
                   "compared with the discrete models' without discretising the density "
                   "(Vehtari, cross-validation FAQ)"),
    "discrete": ("discrete models",
                 "their probabilities are not on the scale of the continuous models' densities",
                 "a probability P(y) is not on the scale of a density on the real line "
                 "(Vehtari, cross-validation FAQ)"),
}
_COUNT_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}


@dataclass(frozen=True, eq=False)
class Candidate:
    """One model as the verdict sees it: its name, what it is, and its LOO.

    The model's identity travels with the name, so nothing is parsed back out of a
    (possibly labelled) model name.

    Attributes
    ----------
    name : str
        Unique display name (``"normal-learned"``, or ``"A: normal-learned"`` in
        :func:`lossbridge.compare` of several analyses).
    model_id : ModelId
        Which model it is: family, shape-parameter settings and scale mode
        (:class:`lossbridge.models.identity.ModelId`); ``likelihood``, ``scale`` and
        ``family`` are read from it.
    priors : str
        As in :class:`lossbridge.models.spec.ModelSpec`.
    fixed_scale : float or None
    fixed_scale_source : str or None
    fixed_scale_is_plug_in : bool or None
        The spec's own flag (``ModelSpec.fixed_scale_is_plug_in``, saved as
        ``fixed_scale.plug_in``); None only for folders saved before the flag existed, when
        the source's wording decides.
    y_hash : str
        SHA-256 of the response the model was fitted to.
    loo : LooResult or None
        The LOO result (:func:`lossbridge.posterior.loo.compute_loo`); None when not sampled.
    certified : bool or None
        The MAP certificate (None when none applies).
    misfit : bool
        Whether the misfit checks flagged this model.
    loss : float or None
        The family's loss at the MAP (``NllDecomposition.loss``), for the table of models
        outside the ranking (the mean pinball loss of a quantile model).
    n : int or None
        Rows the model was fitted to (the loss's mean is ``loss / n``).
    scale_value : float or None
        The scale at the MAP (learned) or its fixed value.
    """

    name: str
    model_id: ModelId
    priors: str = "flat"
    fixed_scale: float | None = None
    fixed_scale_source: str | None = None
    fixed_scale_is_plug_in: bool | None = None
    y_hash: str = ""
    loo: LooResult | None = None
    certified: bool | None = None
    misfit: bool = False
    loss: float | None = None
    n: int | None = None
    scale_value: float | None = None
    # The density kind ranked in this comparison when the candidates have both kinds (set
    # by :func:`with_density_kind`); None: one kind only, nothing set apart.
    ranked_kind: str | None = None

    @property
    def family(self) -> Family:
        return self.model_id.family

    @property
    def likelihood(self) -> str:
        return self.model_id.likelihood

    @property
    def scale(self) -> str:
        return self.model_id.scale

    @property
    def likelihood_key(self) -> tuple:
        """One likelihood: the family with its shape settings (``tau = 0.9`` is not ``0.1``)."""
        return (self.model_id.likelihood, self.model_id.shape)

    @property
    def kind(self) -> str:
        """The family's ``density_kind`` ("continuous" or "discrete")."""
        return self.family.density_kind

    @property
    def group(self) -> str:
        """The family's ``comparison_group``, or its density kind when that kind is not the
        one ranked here (``ranked_kind``); only ``RANKED_GROUP`` is ranked."""
        group = self.family.comparison_group
        if group == RANKED_GROUP and self.ranked_kind is not None and self.kind != self.ranked_kind:
            return self.kind
        return group

    @property
    def n_obs(self) -> int | None:
        """Rows scored by LOO (for per-observation values in nats), else ``n``."""
        return self.loo.n_data_points if self.loo is not None else self.n

    @property
    def distributional(self) -> bool:
        """The model answers the whole conditional distribution, so LOO may rank it."""
        return self.group == RANKED_GROUP

    @property
    def plug_in(self) -> bool:
        if self.fixed_scale_is_plug_in is not None:
            return self.fixed_scale_is_plug_in
        return is_plug_in(self.scale, self.fixed_scale_source)

    @property
    def user_fixed(self) -> bool:
        return self.scale == "fixed" and not self.plug_in

    @property
    def described(self) -> str:
        """``name (loss)``, with a user-fixed scale said."""
        extra = ""
        if self.user_fixed:
            extra = f", {self.family.scale_name} fixed by the user at {self.fixed_scale:.6g}"
        return f"{self.name} ({self.family.loss_name}{extra})"

    def exclusion(self) -> str | None:
        """Why this sampled distributional model cannot be ranked by LOO, or None when it can
        (models of another comparison group are never ranked: see :attr:`distributional`)."""
        if (self.loo is None or not self.distributional or not self.plug_in
                or self.loo.scale_reestimated):
            return None
        scale = self.family.scale_name
        rule = self.family.plug_in_formula or "its maximum-likelihood value"
        return (f"its {scale} was fixed at {rule} from these same data, so its leave-one-out "
                f"uses every row twice (to set {scale}, then to score it) and is optimistic; "
                f"no closed form re-estimates {scale} without each row for the "
                f"{self.family.title} likelihood with {self.priors} priors (rank a learned "
                f"{scale}, or fix {scale} yourself)")


@dataclass(frozen=True, eq=False)
class Verdict:
    """What the analysis concludes, in one headline sentence and structured fields.

    Attributes
    ----------
    headline : str
        The sentence every output leads with.
    details : tuple of str
        Supporting lines: ``comparison_notes``, then which models misfit when only
        some do (certificates and warnings have their own fields and lines).
    comparison_notes : tuple of str
        Models kept out of the ranking and why, user-fixed scales, plug-in scales
        scored by true LOO (also listed in the comparison's sentences).
    status : {"map_only", "quantile_only", "single", "no_ranking", "comparison"}
        No sampling; one sampled model; several sampled but fewer than two rankable;
        a ranking of two or more.
    sampled : tuple of str
        Every sampled model.
    ranking : tuple of str
        Rankable models, best first by elpd_loo.
    excluded : tuple of (str, str)
        (model, reason) for sampled models kept out of the ranking.
    leader, runner_up : str or None
        The first two of ``ranking`` when two or more models are ranked.
    best : str or None
        ``leader`` when its lead is clear, else None: no model is crowned.
    elpd_diff, se, standard_errors : float or None
        elpd(leader) - elpd(runner-up), its standard error, and their ratio.
    clear : bool or None
        ``standard_errors >= CLEAR_SE``.
    best_likelihood : str or None
        The leader's likelihood when it is clearly ahead of the best model of the other
        likelihood (the headline's first question when both likelihoods are ranked).
    likelihood_difference : dict or None
        ``{"leader", "against", "elpd_diff", "se", "standard_errors", "clear",
        "kl_difference_nats_per_obs", "kl_difference_se"}``: the leader against the
        best-ranked model of another likelihood (the headline's first gap), per observation
        too.
    all_certified : bool or None
        Every MAP certified (None when no certificate applies).
    uncertified : tuple of str
    warning_count : int
        Named diagnostic warnings of the run.
    all_misfit : bool or None
        Every ranked (or the only sampled) model misfits; None without sampling.
    misfit_models : tuple of str
    residual_shape : tuple of str
        What the residuals show, from :class:`lossbridge.posterior.misfit.MisfitAssessment`.
    user_fixed : tuple of str
        Models whose scale the user fixed (ranked as models of their own).
    n_obs : int or None
        Rows scored by leave-one-out (the per-observation differences divide by it).
    unranked_groups : tuple of (str, str)
        ``(model, comparison group)`` of each sampled model outside the ranked group
        (quantile models): never ranked, never the verdict's pick.
    """

    headline: str
    details: tuple[str, ...] = ()
    comparison_notes: tuple[str, ...] = ()
    status: str = "map_only"
    sampled: tuple[str, ...] = ()
    ranking: tuple[str, ...] = ()
    excluded: tuple[tuple[str, str], ...] = ()
    best: str | None = None
    leader: str | None = None
    runner_up: str | None = None
    elpd_diff: float | None = None
    se: float | None = None
    standard_errors: float | None = None
    clear: bool | None = None
    best_likelihood: str | None = None
    likelihood_difference: dict | None = None
    all_certified: bool | None = None
    uncertified: tuple[str, ...] = ()
    warning_count: int = 0
    all_misfit: bool | None = None
    misfit_models: tuple[str, ...] = ()
    residual_shape: tuple[str, ...] = field(default_factory=tuple)
    user_fixed: tuple[str, ...] = ()
    unranked_groups: tuple[tuple[str, str], ...] = ()
    n_obs: int | None = None

    def as_dict(self) -> dict:
        """The JSON ``verdict`` object."""
        return {
            "headline": self.headline,
            "details": list(self.details),
            "comparison_notes": list(self.comparison_notes),
            "status": self.status,
            "best": self.best,
            "leader": self.leader,
            "runner_up": self.runner_up,
            "ranking": list(self.ranking),
            "excluded": [{"model": m, "reason": r} for m, r in self.excluded],
            "difference": None if self.elpd_diff is None else {
                "elpd_diff": self.elpd_diff, "se": self.se,
                "standard_errors": self.standard_errors,
                # KL(p* || runner-up) - KL(p* || leader) per observation (comparison module)
                "kl_difference_nats_per_obs": self.elpd_diff / self.n_obs if self.n_obs else None,
                "kl_difference_se": self.se / self.n_obs if self.n_obs else None},
            "clear": self.clear,
            "clear_rule_standard_errors": CLEAR_SE,
            "best_likelihood": self.best_likelihood,
            "likelihood_difference": self.likelihood_difference,
            "sampled_models": list(self.sampled),
            "user_fixed_scale_models": list(self.user_fixed),
            "not_distributional": [{"model": m, "comparison_group": g,
                                    "reason": group_reason(g)}
                                   for m, g in self.unranked_groups],
            "all_certified": self.all_certified,
            "uncertified": list(self.uncertified),
            "warning_count": self.warning_count,
            "misfit": {"all_misfit": self.all_misfit, "models": list(self.misfit_models),
                       "residual_shape": list(self.residual_shape)},
        }


def density_kinds(candidates: Sequence[Candidate]) -> list[str]:
    """The density kinds of the distributional candidates, in order of appearance."""
    return list(dict.fromkeys(c.kind for c in candidates
                              if c.family.comparison_group == RANKED_GROUP))


def with_density_kind(candidates: Sequence[Candidate]) -> tuple[Candidate, ...]:
    """The candidates with ``ranked_kind`` set when they mix density kinds (see the module
    docstring: the discrete ones are then ranked); unchanged otherwise."""
    candidates = tuple(candidates)
    if len(density_kinds(candidates)) < 2:
        return candidates
    # idempotent, and the same objects when already set (callers match candidates by identity)
    return tuple(c if c.ranked_kind == RANKED_KIND_WHEN_MIXED
                 else replace(c, ranked_kind=RANKED_KIND_WHEN_MIXED) for c in candidates)


def rank_order(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Rankable sampled models (distributional, LOO valid), best first by elpd_loo."""
    rankable = [c for c in with_density_kind(candidates)
                if c.loo is not None and c.distributional and c.exclusion() is None]
    return sorted(rankable, key=lambda c: -c.loo.elpd_loo)


def build_verdict(candidates: Sequence[Candidate], *,
                  difference: Callable[[dict, dict], tuple[float, float]] | None = None,
                  misfit: MisfitAssessment | None = None, warning_count: int = 0) -> Verdict:
    """The verdict on ``candidates`` (sampled or not).

    Parameters
    ----------
    candidates : sequence of Candidate
    difference : callable, optional
        ``difference(loo_a, loo_b) -> (elpd_a - elpd_b, se)``, needed when two or more
        models are rankable (:func:`lossbridge.posterior.comparison.pairwise_difference`).
    misfit : MisfitAssessment, optional
        Which models misfit and what the residuals show; its ``misfit_models`` are
        matched against the candidates' names (``Candidate.misfit`` is used as well).
    warning_count : int
    """
    candidates = with_density_kind(candidates)
    every_sampled = [c for c in candidates if c.loo is not None]
    # Only distributional models enter the ranking, the misfit scope and the headline;
    # the others (quantile models) are listed, never ranked.
    sampled = [c for c in every_sampled if c.distributional]
    unranked = [c for c in every_sampled if not c.distributional]
    ranked = rank_order(candidates)
    excluded = [(c.name, c.exclusion()) for c in sampled if c.exclusion() is not None]
    misfit = misfit or MisfitAssessment()
    misfits = {c.name for c in candidates if c.misfit} | set(misfit.misfit_models)
    assessment = MisfitAssessment(misfit_models=frozenset(misfits), residual_shape=misfit.residual_shape)
    states = [c.certified for c in candidates if c.certified is not None]
    common = {
        "sampled": tuple(c.name for c in every_sampled),
        "all_certified": all(states) if states else None,
        "uncertified": tuple(c.name for c in candidates if c.certified is False),
        "warning_count": int(warning_count),
        "misfit_models": tuple(c.name for c in candidates if c.name in misfits),
        "residual_shape": tuple(misfit.residual_shape),
        "user_fixed": tuple(c.name for c in sampled if c.user_fixed),
        "excluded": tuple(excluded),
        "ranking": tuple(c.name for c in ranked),
        "unranked_groups": tuple((c.name, c.group) for c in unranked),
    }
    notes = _comparison_notes(sampled, excluded) + _group_notes(unranked)
    common["comparison_notes"] = tuple(notes)
    details = notes + _misfit_notes(sampled, ranked, misfits)
    if not every_sampled:
        return Verdict(headline=MAP_ONLY, details=tuple(details), status="map_only", **common)
    shape = _shape_sentence(misfit.residual_shape)
    if not sampled:
        names = ", ".join(c.name for c in unranked)
        headline = (f"No distributional comparison: only {_nouns(unranked)} were sampled "
                    f"({names}); each answers {_answers(unranked)}, not its whole "
                    "distribution, so none is ranked by predictive accuracy (see their own "
                    "section).")
        return Verdict(headline=headline, details=tuple(details), status="quantile_only",
                       **common)
    if len(sampled) == 1:
        only = sampled[0]
        if unranked:
            kind = (f"{only.kind} model" if any(c.group in KIND_GROUPS for c in unranked)
                    else "distributional model")
            headline = (f"Only one {kind} was sampled, {only.described}, so "
                        f"there is no comparison by predictive accuracy ({_not_ranked(unranked)}).")
        else:
            headline = (f"Only one model was sampled, {only.described}, so there is no "
                        "comparison by predictive accuracy.")
        all_misfit = assessment.all_misfit([only.name])
        if all_misfit:
            headline += f" {only.name} does not describe these data well.{shape}"
        return Verdict(headline=headline, details=tuple(details), status="single",
                       all_misfit=all_misfit, **common)
    if len(ranked) < 2:
        reason = ("a scale fixed at its maximum-likelihood value from these same data makes "
                  "leave-one-out use every row twice")
        names = ", ".join(name for name, _ in excluded)
        if ranked:
            headline = (f"No comparison by predictive accuracy: {ranked[0].described} is the only "
                        f"model that can be ranked by leave-one-out ({names} not ranked: {reason}).")
        else:
            headline = ("No comparison by predictive accuracy: none of the sampled models can be "
                        f"ranked by leave-one-out ({names}: {reason}).")
        all_misfit = assessment.all_misfit(c.name for c in (ranked or sampled))
        if all_misfit:
            headline += f" The models do not describe these data well.{shape}"
        return Verdict(headline=headline, details=tuple(details), status="no_ranking", best=None,
                       all_misfit=all_misfit, **common)
    if difference is None:
        raise ValueError("a verdict on two or more rankable models needs their elpd difference")
    leader, runner = ranked[0], ranked[1]
    diff, se, ratio, clear = _gap(difference, leader, runner)
    # The likelihood question first: the leader against the best model of another likelihood.
    rival = next((c for c in ranked if c.likelihood_key != leader.likelihood_key), None)
    main = rival or runner
    m_diff, m_se, m_ratio, m_clear = ((diff, se, ratio, clear) if main is runner
                                      else _gap(difference, leader, main))
    # the same gap per observation: the difference of the two cross-entropy estimates
    # -elpd/n, i.e. of the KL divergences from the data-generating law, in nats
    n = leader.n_obs or 1
    gap = f"{m_diff:.1f} ± {m_se:.1f} elpd = {plus_minus(m_diff / n, m_se / n)} nats/obs"
    against = main.described if main is runner else (
        f"{main.described}, the best {main.family.title} model,")
    all_misfit = assessment.all_misfit(c.name for c in ranked)
    if all_misfit:
        count = _COUNT_WORDS.get(len(ranked), str(len(ranked)))
        families = len({c.likelihood_key for c in ranked})
        opening = ("Neither likelihood describes these data well" if families == 2
                   else "None of the likelihoods describes these data well" if families > 2
                   else "None of the models describes these data well")
        headline = (f"{opening}; the comparison is between {count} wrong models: "
                    f"{leader.described} is ahead of {against} by {gap} "
                    f"({m_ratio:.1f} standard errors).")
    elif m_clear and main is runner:
        headline = (f"Best predictive accuracy (leave-one-out): {leader.described}, ahead of "
                    f"{against} by {gap} ({m_ratio:.1f} standard errors).")
    elif m_clear:
        headline = (f"Best predictive accuracy (leave-one-out): the "
                    f"{leader.family.title} likelihood ({leader.family.loss_name}), "
                    f"whose best model {leader.name} is ahead of {against} by {gap} "
                    f"({m_ratio:.1f} standard errors).")
    else:
        headline = (f"No clear winner by leave-one-out: {leader.described} is ahead of "
                    f"{against} by {gap}, only {m_ratio:.1f} standard errors "
                    f"(a clear difference needs {CLEAR_SE:.0f}).")
    if main is not runner:  # the runner-up shares the leader's likelihood: say how close
        within = f"Within the {leader.family.title} likelihood, "
        if clear:
            headline += (f" {within}{leader.name} is ahead of {runner.name} by {diff:.1f} ± "
                         f"{se:.1f} elpd ({ratio:.1f} standard errors).")
        else:
            headline += (f" {within}{leader.name} and {runner.name} cannot be told apart "
                         f"({diff:.1f} ± {se:.1f} elpd, {ratio:.1f} standard errors).")
    if all_misfit:
        headline += shape
    kinds = [c for c in unranked if c.group in KIND_GROUPS]
    if kinds:  # never ranked across density kinds: say so where the ranking is given
        headline += f" Not ranked: {', '.join(c.name for c in kinds)} ({_not_ranked(kinds)})."
    likelihood = None if rival is None else {
        "leader": leader.name, "against": rival.name, "elpd_diff": m_diff, "se": m_se,
        "standard_errors": m_ratio, "clear": m_clear,
        # the headline's nats/obs (KL(p* || rival) - KL(p* || leader) per observation)
        "kl_difference_nats_per_obs": m_diff / leader.n_obs if leader.n_obs else None,
        "kl_difference_se": m_se / leader.n_obs if leader.n_obs else None}
    return Verdict(headline=headline, details=tuple(details), status="comparison",
                   best=leader.name if clear else None, leader=leader.name, runner_up=runner.name,
                   elpd_diff=diff, se=se, standard_errors=ratio, clear=clear,
                   best_likelihood=leader.likelihood if rival is not None and m_clear else None,
                   likelihood_difference=likelihood, all_misfit=all_misfit, n_obs=leader.n_obs,
                   **common)


def _gap(difference, a: Candidate, b: Candidate) -> tuple[float, float, float, bool]:
    """elpd(a) - elpd(b), its se, their ratio, and whether the ratio is clear."""
    diff, se = (float(v) for v in difference(a.loo, b.loo))
    ratio = abs(diff) / se if se > 0 else float("inf")
    return diff, se, ratio, ratio >= CLEAR_SE


def _shape_sentence(shape: Sequence[str]) -> str:
    return f" The residuals show {', '.join(shape)}." if shape else ""


def _comparison_notes(sampled, excluded) -> list[str]:
    lines = [f"{name} is not ranked: {reason}." for name, reason in excluded]
    for c in sampled:
        if c.user_fixed:
            lines.append(f"{c.name} uses {c.family.scale_name} = {c.fixed_scale:.6g} fixed by the "
                         "user, not estimated from these data: it is ranked as a model of its own.")
        elif c.plug_in and c.exclusion() is None:
            lines.append(f"{c.name}: its plug-in {c.family.scale_name} is re-estimated without "
                         "each row, so its leave-one-out is true leave-one-out.")
    return lines


def _nouns(models) -> str:
    """The non-ranked groups' models in words (``"quantile models"``)."""
    groups = dict.fromkeys(c.group for c in models)
    return " and ".join({**GROUP_ANSWERS, **KIND_GROUPS}.get(g, (f"{g} models", ""))[0]
                        for g in groups)


def group_reason(group: str) -> str:
    """Why the models of a non-ranked comparison group are not ranked, in words."""
    if group in KIND_GROUPS:
        return KIND_GROUPS[group][2]
    answer = GROUP_ANSWERS.get(group, ("", f"the question of its {group!r} group"))[1]
    return (f"each answers {answer}, not the whole distribution, so leave-one-out against "
            "the distributional models would compare different questions")


def _not_ranked(models) -> str:
    """Why each non-ranked group is not ranked, in one clause per group (``"the quantile
    models are not ranked: each answers one conditional quantile of y"``)."""
    clauses = []
    for group in dict.fromkeys(c.group for c in models):
        members = [c for c in models if c.group == group]
        if group in KIND_GROUPS:
            clauses.append(f"the {KIND_GROUPS[group][0]} are not ranked: {KIND_GROUPS[group][1]}")
        else:
            clauses.append(f"the {_nouns(members)} are not ranked: each answers "
                           f"{_answers(members)}")
    return "; ".join(clauses)


def _answers(models) -> str:
    """What the models of the non-ranked groups answer, in words."""
    groups = dict.fromkeys(c.group for c in models)
    return " or ".join(GROUP_ANSWERS.get(g, ("", f"the question of its {g!r} group"))[1]
                       for g in groups)


def _group_notes(unranked) -> list[str]:
    """One line per non-ranked group: which models, and why they are not ranked."""
    lines = []
    for group in dict.fromkeys(c.group for c in unranked):
        members = [c for c in unranked if c.group == group]
        if group in KIND_GROUPS:
            lines.append(f"{', '.join(c.name for c in members)} "
                         f"{'is' if len(members) == 1 else 'are'} not ranked: "
                         f"{KIND_GROUPS[group][2]}; shown in a section of its own.")
            continue
        lines.append(f"{', '.join(c.name for c in members)} "
                     f"{'is' if len(members) == 1 else 'are'} not ranked: "
                     f"{'it answers' if len(members) == 1 else 'each answers'} "
                     f"{_answers(members)}, not the whole distribution, so "
                     "leave-one-out against the distributional models would compare "
                     "different questions; shown in a section of its own.")
    return lines


def _misfit_notes(sampled, ranked, misfits: set[str]) -> list[str]:
    lines = []
    scope = [c.name for c in (ranked or sampled)]
    flagged = [name for name in scope if name in misfits]
    if flagged and len(flagged) < len(scope):
        lines.append(f"Misfit warnings for {', '.join(flagged)} (see the warnings).")
    return lines
