"""Comparing likelihoods (= losses) by out-of-sample predictive accuracy (leave-one-out).

Each model's LOO comes from :mod:`lossbridge.posterior.loo`: exact in closed form where the
family has one (the Normal likelihood with flat priors), PSIS otherwise; the table's ``loo``
column says which, and Pareto k counts are given only where PSIS ran.

Only the models :mod:`lossbridge.posterior.verdict` can rank are ranked: the table is ArviZ's
``compare`` (stacking weights) over them, or, when a model's LOO was subsampled, the
same columns without weights; a model kept out of the ranking (a scale fixed at its
plug-in MLE whose LOO could not re-estimate it) follows below with no rank, no weight,
its difference from the best and the reason. The sentences start with the verdict's
headline and compare each pair of likelihoods fitted with the same scale mode, with the
standard error of the difference computed from the pointwise elpd values (Vehtari,
Gelman and Gabry 2017, "Practical Bayesian model evaluation using leave-one-out
cross-validation and WAIC", *Statistics and Computing* 27, eq. 24:
se = sqrt(n Var(elpd_a,i - elpd_b,i))).

Each row also says what the model is, from its family's attributes: its loss
(``loss_name``), its likelihood (family title and shape settings), its classical
counterpart (``exact_name``, or "none") and whether its MAP was certified against it.

Models whose family's ``comparison_group`` is not "distribution" (quantile models answer one
conditional quantile, through the asymmetric Laplace as a working likelihood) are never in
that table: :attr:`Comparison.quantile_table` lists them with their settings, loss,
certificate, the loss at the MAP and its mean (for a quantile model, the mean pinball loss:
the quantity its fit minimises, and sigma-hat when sigma is learned). Their elpd is not
shown: the density of a working likelihood is not a model of y, so its log score measures
nothing the user asked and would invite a ranking the verdict refuses (each model's LOO
stays in its own ``fits[].loo`` entry of the JSON).

Per observation, in nats: each row of the table also gives ``cross_entropy_nats_per_obs``
= -elpd_loo / n, the leave-one-out estimate of the cross-entropy H(p*, p_post) of the
model's posterior predictive from the data-generating law p* per observation (elpd_loo
estimates sum_i E_p*[log p(y_i | y_-i)]), with ``cross_entropy_se`` = se / n; and
``kl_difference_nats_per_obs`` = elpd_diff / n, the estimate of KL(p* || model) -
KL(p* || best) (the entropy H(p*) cancels in the difference of two cross-entropies:
KL_a - KL_b = H_a - H_b = -(elpd_a - elpd_b) / n), with ``kl_difference_se`` = dse / n.
Both are only meaningful within one density kind (see :mod:`lossbridge.posterior.verdict`),
the only rows the table holds.

Each model travels as a :class:`lossbridge.posterior.verdict.Candidate` (name, model identity,
LOO), so a model's likelihood is never parsed out of its name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..core.errors import InputError
from ..core.labels import settings_text
from ..families.registry import FAMILIES
from ..models.identity import SCALE_MODES, ModelId
from ..models.penalties import Penalty
from . import arviz_bridge
from .diagnostics import PARETO_K_LIMIT, pareto_k_counts
from .loo import LooResult, difference_estimator
from .misfit import MisfitAssessment
from .verdict import (
    CLEAR_SE,
    KIND_GROUPS,
    Candidate,
    Verdict,
    build_verdict,
    group_reason,
    rank_order,
    with_density_kind,
)

# What each row says the model is (leading the table), and the columns of the models of
# another comparison group (quantile models).
IDENTITY_COLUMNS = ("loss", "likelihood", "counterpart", "certified")
QUANTILE_COLUMNS = ("likelihood", "settings", "scale", "loss", "counterpart", "certified",
                    "loss_symbol", "loss_at_map", "mean_loss", "scale_name", "scale_value")
_TABLE_COLUMNS = ("rank", "elpd_loo", "p_loo", "elpd_diff", "weight", "se", "dse",
                  "pareto_warning")
# The per-observation columns in nats (module docstring): {column: (source column, sign)},
# each the source divided by n.
PER_OBS_COLUMNS = {"cross_entropy_nats_per_obs": ("elpd_loo", -1.0),
                   "cross_entropy_se": ("se", 1.0),
                   "kl_difference_nats_per_obs": ("elpd_diff", 1.0),
                   "kl_difference_se": ("dse", 1.0)}


@dataclass(frozen=True, eq=False)
class Comparison:
    """The comparison table, its verdict and what it says in words.

    Attributes
    ----------
    table : DataFrame
        One row per sampled distributional model: ``loss``, ``likelihood``,
        ``counterpart`` and ``certified`` first, then the ranked models (``rank`` 0, 1,
        ...; ``elpd_diff`` ± ``dse`` their difference from the best), then the models kept
        out of the ranking (``rank`` missing, ``ranked`` False). Empty when only models of
        another comparison group were sampled.
    pairs : list of dict
        Each pair of likelihoods within a scale mode, where each has one ranked model.
    sentences : list of str
        The verdict's headline, the pair sentences, then the comparison notes.
    verdict : Verdict
    candidates : tuple of Candidate
    quantile_table : DataFrame
        One row per sampled model outside the ranked group (``QUANTILE_COLUMNS``: family
        title, shape settings, scale mode, loss, counterpart, certified, the loss at the
        MAP, its mean over the rows and the scale); never ranked, no elpd (see the module
        docstring).
    """

    table: pd.DataFrame
    pairs: list[dict]
    sentences: list[str]
    verdict: Verdict
    candidates: tuple[Candidate, ...] = ()
    quantile_table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=list(QUANTILE_COLUMNS)))

    def __repr__(self) -> str:  # the dataclass' own would print every pointwise array
        return (f"<Comparison of {len(self.candidates)} models "
                f"({', '.join(c.name for c in self.candidates)}): {self.verdict.headline}>")

    @property
    def preferred(self) -> str | None:
        """The model ranked first (None when none can be ranked); see ``verdict.best``."""
        return self.verdict.leader or (self.verdict.ranking[0] if self.verdict.ranking else None)

    def as_records(self) -> list[dict]:
        reasons = dict(self.verdict.excluded)
        records = []
        for model, row in self.table.iterrows():
            records.append({
                "model": model,
                **{column: _plain(row[column]) for column in IDENTITY_COLUMNS},
                "rank": None if pd.isna(row["rank"]) else int(row["rank"]),
                "ranked": bool(row["ranked"]),
                "not_ranked_reason": reasons.get(model),
                "elpd_loo": float(row["elpd_loo"]),
                "se": float(row["se"]),
                "elpd_diff": None if pd.isna(row["elpd_diff"]) else float(row["elpd_diff"]),
                "dse": None if pd.isna(row["dse"]) else float(row["dse"]),
                "weight": None if pd.isna(row["weight"]) else float(row["weight"]),
                "p_loo": float(row["p_loo"]),
                **{column: _plain(row[column]) for column in PER_OBS_COLUMNS},
                "n": int(row["n"]),
                "loo": row["loo"],
                "pareto_k_counts": None if row["loo"] == "exact"
                else {k: int(row[k]) for k in _band_labels()},
            })
        return records

    def quantile_records(self, every: bool = False) -> list[dict]:
        """The JSON ``comparison_quantile_models`` (the rows of ``quantile_table`` set apart
        by what they answer: quantile models) or, with ``every``,
        ``comparison_not_ranked_models`` (every row, with the reason it is not ranked)."""
        return [{"model": model, "comparison_group": row["comparison_group"],
                 **{column: _plain(row[column]) for column in QUANTILE_COLUMNS},
                 **({"not_ranked_reason": row["reason"]} if every else {})}
                for model, row in self.quantile_table.iterrows()
                if every or not row["other_kind"]]


def _plain(value):
    """A table cell as JSON data: missing values None, NumPy scalars as Python ones."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def likelihood_text(model_id: ModelId) -> str:
    """The likelihood in words: the family's title and its shape settings
    (``"Normal"``, ``"Quantile (tau=0.9)"``, ``"Student-t (nu learned)"``)."""
    settings = settings_text(model_id.shape)
    return model_id.family.title + (f" ({settings})" if settings else "")


def _identity(c: Candidate) -> dict:
    family = c.family
    return {"loss": family.loss_name, "likelihood": likelihood_text(c.model_id),
            "counterpart": family.exact_name or "none", "certified": c.certified}


def _quantile_table(models: Sequence[Candidate]) -> pd.DataFrame:
    rows = {}
    for c in models:
        family = c.family
        mean = None if c.loss is None or not c.n else c.loss / c.n
        rows[c.name] = {**_identity(c), "likelihood": family.title,
                        "settings": settings_text(c.model_id.shape), "scale": c.scale,
                        "loss_symbol": family.loss_symbol, "loss_at_map": c.loss,
                        "mean_loss": mean, "scale_name": family.scale_name,
                        "scale_value": c.scale_value, "comparison_group": c.group,
                        "reason": group_reason(c.group),
                        # set apart by its density kind, not by what it answers
                        "other_kind": c.group in KIND_GROUPS}
    columns = [*QUANTILE_COLUMNS, "comparison_group", "reason", "other_kind"]
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns) if rows else \
        pd.DataFrame(columns=columns)


def _band_labels() -> list[str]:
    return list(pareto_k_counts(np.array([])).keys())


def compare_models(candidates: Sequence[Candidate], misfit: MisfitAssessment | None = None,
                   warning_count: int = 0) -> Comparison:
    """Compare models by leave-one-out predictive accuracy, and give the verdict.

    Parameters
    ----------
    candidates : sequence of Candidate
        The models (at least two sampled, names unique, all fitted to the same y).
    misfit : MisfitAssessment, optional
        Which models misfit and what the residuals show (for the verdict).
    warning_count : int
        Named diagnostic warnings of the run(s), for the verdict.
    """
    candidates = with_density_kind(candidates)  # one density kind ranked (verdict)
    names = [c.name for c in candidates]
    if len(set(names)) != len(names):
        raise InputError(f"model names must be unique in a comparison; got {names}")
    hashes = {c.name: c.y_hash for c in candidates}
    if len(set(hashes.values())) > 1:
        listing = ", ".join(f"{name}: {h}" for name, h in hashes.items())
        raise InputError(
            f"cannot compare models fitted to different data (y hashes differ: {listing}); "
            "compare only fits of the same response on the same rows"
        )
    sampled = [c for c in candidates if c.loo is not None]
    if len(sampled) < 2:
        raise InputError("a comparison needs at least two sampled models; got "
                         f"{len(sampled)} ({', '.join(c.name for c in sampled) or 'none'}); "
                         "fit without --no-sample (sample=True)")
    ranked = rank_order(candidates)
    loos = {c.name: c.loo for c in sampled}
    by_name = {c.name: c for c in sampled}
    table = _ranked_table(ranked)
    excluded = [c for c in sampled if c not in ranked and c.distributional]
    if excluded:
        best = ranked[0].loo if ranked else None
        extra = _excluded_table(excluded, best)
        table = extra if table is None else pd.concat([table, extra])
    if table is None:  # only models of another comparison group were sampled
        table = pd.DataFrame(columns=list(_TABLE_COLUMNS))
    table["rank"] = pd.array([None if pd.isna(r) else int(r) for r in table["rank"]], dtype="Int64")
    table["ranked"] = [name in {c.name for c in ranked} for name in table.index]
    table["loo"] = [loos[m].estimator.value for m in table.index]
    table["n"] = pd.array([loos[m].n_data_points for m in table.index], dtype="Int64")
    for column, (source, sign) in PER_OBS_COLUMNS.items():
        table[column] = sign * table[source].astype(float) / table["n"].astype(float)
    for label in _band_labels():  # exact LOO has no Pareto k: its counts are left empty
        table[label] = pd.array([None if table.loc[m, "loo"] == "exact"
                                 else pareto_k_counts(loos[m].pareto_k)[label]
                                 for m in table.index], dtype="Int64")
    identity = pd.DataFrame([_identity(by_name[m]) for m in table.index],
                            index=table.index, columns=list(IDENTITY_COLUMNS))
    identity["certified"] = identity["certified"].astype(object)
    table = pd.concat([identity, table], axis=1)
    quantile = _quantile_table([c for c in sampled if not c.distributional])
    verdict = build_verdict(candidates, difference=pairwise_difference, misfit=misfit,
                            warning_count=warning_count)
    pairs = _likelihood_pairs(ranked)
    sentences = [verdict.headline] + [p["sentence"] for p in pairs] + list(verdict.comparison_notes)
    return Comparison(table, pairs, sentences, verdict, candidates, quantile)


def _ranked_table(ranked: Sequence[Candidate]) -> pd.DataFrame | None:
    if not ranked:
        return None
    if len(ranked) >= 2 and all(c.loo.elpd_data is not None for c in ranked):
        table = arviz_bridge.compare({c.name: c.loo for c in ranked})
        return table.loc[[c.name for c in ranked]]
    return _subsampled_table([(c.name, c.loo) for c in ranked])


def _excluded_table(excluded: Sequence[Candidate], best: LooResult | None) -> pd.DataFrame:
    """Rows of the models kept out of the ranking: no rank, no weight; difference from the best."""
    rows = {}
    for c in sorted(excluded, key=lambda c: -c.loo.elpd_loo):
        diff, dse = pairwise_difference(best, c.loo) if best is not None else (np.nan, np.nan)
        rows[c.name] = {"rank": np.nan, "elpd_loo": c.loo.elpd_loo, "p_loo": c.loo.p_loo,
                        "elpd_diff": diff, "weight": np.nan, "se": c.loo.se, "dse": dse,
                        "pareto_warning": bool(np.any(c.loo.pareto_k > PARETO_K_LIMIT))}
    return pd.DataFrame.from_dict(rows, orient="index")


def pairwise_difference(loo_a: LooResult, loo_b: LooResult) -> tuple[float, float]:
    """elpd_a - elpd_b and its standard error from the pointwise values.

    Under subsampling both models share the subsample, and the difference estimator is
    applied to the pointwise differences; its subsampling error is added to the se.
    """
    if loo_a.subsample is None and loo_b.subsample is None:
        diff = loo_a.elpd_pointwise - loo_b.elpd_pointwise
        return float(diff.sum()), float(np.sqrt(diff.size * np.var(diff, ddof=1)))
    rows = (loo_a.subsample or loo_b.subsample).rows
    (approx_a, rows_a), (approx_b, rows_b) = _on_subsample(loo_a, rows), _on_subsample(loo_b, rows)
    estimate = difference_estimator(approx_a - approx_b, rows_a - rows_b, rows)
    return estimate["total"], float(np.hypot(estimate["se"], estimate["subsampling_se"]))


def _on_subsample(loo: LooResult, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A LOO result as (approximation for every row, exact values on ``rows``).

    Exact pointwise values (closed form or full PSIS) are their own approximation, with
    zero error; a subsampled result must have used the same rows.
    """
    if loo.subsample is None:
        return loo.elpd_pointwise, loo.elpd_pointwise[rows]
    if not np.array_equal(loo.subsample.rows, rows):
        raise InputError("subsampled LOO results can only be compared on the same subsample; "
                         "fit the analyses with the same data and --seed (seed=)")
    return loo.subsample.approximation, loo.subsample.elpd_rows


def _subsampled_table(entries: Sequence[tuple[str, LooResult]]) -> pd.DataFrame:
    """The comparison table when LOO was subsampled (az.compare needs every pointwise value).

    Stacking weights need every pointwise value too, so ``weight`` is left empty.
    """
    ordered = sorted(entries, key=lambda entry: -entry[1].elpd_loo)
    best = ordered[0][1]
    rows = {}
    for rank, (name, loo) in enumerate(ordered):
        diff, dse = (0.0, 0.0) if rank == 0 else pairwise_difference(best, loo)
        rows[name] = {"rank": rank, "elpd_loo": loo.elpd_loo, "p_loo": loo.p_loo,
                      "elpd_diff": diff, "weight": np.nan, "se": loo.se, "dse": dse,
                      "pareto_warning": bool(np.any(loo.pareto_k > PARETO_K_LIMIT))}
    return pd.DataFrame.from_dict(rows, orient="index")


def _likelihood_pairs(ranked: Sequence[Candidate]) -> list[dict]:
    """Each pair of likelihoods within a scale mode, where each has exactly one ranked model.

    Likelihoods are taken in the registry's order (the built-in Normal before Laplace),
    so a pair's words do not depend on the order the models were fitted in.
    """
    order = {name: position for position, name in enumerate(FAMILIES)}
    pairs = []
    for mode in SCALE_MODES:
        groups: dict[tuple, list[Candidate]] = {}
        for c in ranked:
            if c.scale == mode:  # one likelihood: a family with its shape settings
                groups.setdefault((c.likelihood, c.model_id.shape), []).append(c)
        single = sorted((key for key, members in groups.items() if len(members) == 1),
                        key=lambda key: (order.get(key[0], len(order)), key[0], repr(key[1])))
        for i, first in enumerate(single):
            for second in single[i + 1:]:
                pairs.append(_pair(mode, groups[first][0], groups[second][0]))
    return pairs


def _pair(mode: str, a: Candidate, b: Candidate) -> dict:
    """Likelihood ``a`` against ``b`` with the same scale mode, in words and numbers."""
    diff, se = pairwise_difference(b.loo, a.loo)
    winner, loser = (b, a) if diff > 0 else (a, b)
    ratio = abs(diff) / se if se > 0 else np.inf
    if ratio >= CLEAR_SE:
        sentence = (
            f"With {mode} scale, the {winner.family.title} likelihood ({winner.family.loss_name}) "
            f"predicts better than the {loser.family.title} likelihood "
            f"({loser.family.loss_name}): elpd difference {abs(diff):.1f} ± {se:.1f}, "
            f"{ratio:.1f} standard errors."
        )
    else:
        sentence = (
            f"With {mode} scale, {a.family.title} ({a.family.loss_name}) and {b.family.title} "
            f"({b.family.loss_name}) cannot be told apart: elpd difference {abs(diff):.1f} ± "
            f"{se:.1f} ({ratio:.1f} standard errors, below {CLEAR_SE:.0f}); {winner.name} is ahead."
        )
    return {"scale": mode, "better": winner.name, "worse": loser.name,
            "better_likelihood": winner.likelihood, "worse_likelihood": loser.likelihood,
            "elpd_diff": abs(diff), "se": se, "standard_errors": ratio,
            "clear": ratio >= CLEAR_SE, "sentence": sentence}


def candidates_from_fits(fits, y_hash: str, misfit: MisfitAssessment | None = None,
                         prefix: str = "", n: int | None = None) -> list[Candidate]:
    """The :class:`Candidate` of each ``FitResult`` (named ``prefix + model``); ``n``: the
    rows fitted (for the mean loss of the models outside the ranking)."""
    flagged = misfit.misfit_models if misfit is not None else frozenset()
    return [Candidate(name=prefix + r.spec.name, model_id=r.spec.model_id,
                      priors=r.spec.priors, fixed_scale=r.spec.fixed_scale,
                      fixed_scale_source=r.spec.fixed_scale_source,
                      fixed_scale_is_plug_in=r.spec.fixed_scale_is_plug_in, y_hash=y_hash,
                      loo=None if r.posterior is None else r.posterior.loo,
                      certified=r.certified, misfit=r.spec.name in flagged,
                      loss=float(r.nll.loss), n=n, scale_value=float(r.map.scale))
            for r in fits]


def candidates_from_saved(saved, prefix: str = "") -> list[Candidate]:
    """The :class:`Candidate` of each model of a loaded analysis (``SavedAnalysis``), from its
    JSON document and saved LOO values."""
    document = saved.document
    flagged = set((document.get("misfit") or {}).get("misfit_models", []))
    out = []
    for fit in document["fits"]:
        fixed = fit.get("fixed_scale") or {}
        certificate = fit.get("certificate")
        shape = {k: v for k, v in (fit.get("family") or {}).items() if k != "name"}
        out.append(Candidate(
            name=prefix + fit["model"],
            model_id=ModelId(fit["likelihood"], fit["scale"], tuple(shape.items()),
                             scale_formula=fit.get("scale_formula"),
                             penalty=Penalty.from_dict(fit.get("penalty"))),
            priors=fit.get("priors", "flat"), fixed_scale=fixed.get("value"),
            fixed_scale_source=fixed.get("source"), fixed_scale_is_plug_in=fixed.get("plug_in"),
            y_hash=saved.y_hash,
            loo=saved.loo.get(fit["model"]),
            certified=None if certificate is None else bool(certificate["certified"]),
            misfit=fit["model"] in flagged,
            loss=(fit.get("nll") or {}).get("loss_value"), n=document.get("data", {}).get("n"),
            scale_value=(fit.get("map_scale") or {}).get("value")))
    return out
