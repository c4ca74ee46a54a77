"""Comparing likelihoods (= losses) by out-of-sample predictive accuracy (leave-one-out).

Each model's LOO comes from :mod:`lossbridge.loo`: exact in closed form for the Normal
likelihood with flat priors, PSIS otherwise; the table's ``loo`` column says which, and
Pareto k counts are given only where PSIS ran.

The table is ArviZ's ``compare`` (stacking weights), or, when a model's LOO was
subsampled, the same columns without weights; the sentences compare each pair
of likelihoods fitted with the same scale mode, with the standard error of the
difference computed from the pointwise elpd values (Vehtari, Gelman and Gabry 2017,
"Practical Bayesian model evaluation using leave-one-out cross-validation and WAIC",
*Statistics and Computing* 27, eq. 24: se = sqrt(n Var(elpd_a,i - elpd_b,i))).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import arviz_bridge
from .diagnostics import PARETO_K_LIMIT, pareto_k_counts
from .errors import InputError
from .families import get_family
from .loo import difference_estimator, loo_label

CLEAR_SE = 2.0  # a difference under 2 standard errors is reported as not clear


@dataclass(frozen=True, eq=False)
class Comparison:
    """The comparison table and what it says in words."""

    table: pd.DataFrame
    pairs: list[dict]
    sentences: list[str]

    @property
    def preferred(self) -> str:
        return str(self.table.index[0])

    def as_records(self) -> list[dict]:
        records = []
        for model, row in self.table.iterrows():
            records.append({
                "model": model,
                "rank": int(row["rank"]),
                "elpd_loo": float(row["elpd_loo"]),
                "se": float(row["se"]),
                "elpd_diff": float(row["elpd_diff"]),
                "dse": float(row["dse"]),
                "weight": None if pd.isna(row["weight"]) else float(row["weight"]),
                "p_loo": float(row["p_loo"]),
                "loo": row["loo"],
                "pareto_k_counts": None if row["loo"] == "exact"
                else {k: int(row[k]) for k in _band_labels()},
            })
        return records


def _band_labels() -> list[str]:
    return list(pareto_k_counts(np.array([])).keys())


def compare_models(entries: dict[str, dict], plug_in: frozenset[str] = frozenset()) -> Comparison:
    """Compare models by leave-one-out predictive accuracy.

    Parameters
    ----------
    entries : dict
        model name -> {"y_hash", "loo"} (``loo`` as from :func:`lossbridge.loo.compute_loo`).
    plug_in : set of str
        Models whose fixed scale was estimated from these same data (plug-in MLE): their
        LOO uses the data twice, which the sentences point out.
    """
    if len(entries) < 2:
        raise InputError("a comparison needs at least two sampled models")
    hashes = {name: entry["y_hash"] for name, entry in entries.items()}
    if len(set(hashes.values())) > 1:
        listing = ", ".join(f"{name}: {h}" for name, h in hashes.items())
        raise InputError(
            f"cannot compare models fitted to different data (y hashes differ: {listing}); "
            "compare only fits of the same response on the same rows"
        )
    if all(entry["loo"].get("elpd_data") is not None for entry in entries.values()):
        table = arviz_bridge.compare({name: entry["loo"] for name, entry in entries.items()})
    else:
        table = _subsampled_table(entries)
    table["loo"] = [loo_label(entries[m]["loo"]) for m in table.index]
    for label in _band_labels():  # exact LOO has no Pareto k: its counts are left empty
        table[label] = pd.array([None if table.loc[m, "loo"] == "exact"
                                 else pareto_k_counts(entries[m]["loo"]["pareto_k"])[label]
                                 for m in table.index], dtype="Int64")
    pairs = _likelihood_pairs(entries)
    sentences = [_headline(table, entries)] + [pair["sentence"] for pair in pairs]
    used = sorted(set(plug_in) & set(entries))
    if used:
        sentences.append(
            f"Note: {', '.join(used)} fixed the scale at its maximum-likelihood value from these "
            "same data, so their LOO is slightly optimistic; compare likelihoods within a scale mode."
        )
    return Comparison(table, pairs, sentences)


def pairwise_difference(loo_a: dict, loo_b: dict) -> tuple[float, float]:
    """elpd_a - elpd_b and its standard error from the pointwise values.

    Under subsampling both models share the subsample, and the difference estimator is
    applied to the pointwise differences; its subsampling error is added to the se.
    """
    if loo_a.get("subsample") is None and loo_b.get("subsample") is None:
        diff = loo_a["elpd_pointwise"] - loo_b["elpd_pointwise"]
        return float(diff.sum()), float(np.sqrt(diff.size * np.var(diff, ddof=1)))
    rows = (loo_a["subsample"] or loo_b["subsample"])["rows"]
    a, b = _on_subsample(loo_a, rows), _on_subsample(loo_b, rows)
    estimate = difference_estimator(a["approximation"] - b["approximation"],
                                    a["elpd_rows"] - b["elpd_rows"], rows)
    return estimate["total"], float(np.hypot(estimate["se"], estimate["subsampling_se"]))


def _on_subsample(loo: dict, rows: np.ndarray) -> dict:
    """A LOO result as (approximation for every row, exact values on ``rows``).

    Exact pointwise values (closed form or full PSIS) are their own approximation, with
    zero error; a subsampled result must have used the same rows.
    """
    if loo.get("subsample") is None:
        return {"approximation": loo["elpd_pointwise"], "elpd_rows": loo["elpd_pointwise"][rows]}
    if not np.array_equal(loo["subsample"]["rows"], rows):
        raise InputError("subsampled LOO results can only be compared on the same subsample; "
                         "fit the analyses with the same data and --seed (seed=)")
    return loo["subsample"]


def _subsampled_table(entries: dict[str, dict]) -> pd.DataFrame:
    """The comparison table when LOO was subsampled (az.compare needs every pointwise value).

    Stacking weights need every pointwise value too, so ``weight`` is left empty.
    """
    ordered = sorted(entries, key=lambda name: -entries[name]["loo"]["elpd_loo"])
    best = entries[ordered[0]]["loo"]
    rows = {}
    for rank, name in enumerate(ordered):
        loo = entries[name]["loo"]
        diff, dse = (0.0, 0.0) if rank == 0 else pairwise_difference(best, loo)
        rows[name] = {"rank": rank, "elpd_loo": loo["elpd_loo"], "p_loo": loo["p_loo"],
                      "elpd_diff": diff, "weight": np.nan, "se": loo["se"], "dse": dse,
                      "pareto_warning": bool(np.any(loo["pareto_k"] > PARETO_K_LIMIT))}
    return pd.DataFrame.from_dict(rows, orient="index")


def _likelihood_pairs(entries: dict[str, dict]) -> list[dict]:
    pairs = []
    for mode in ("learned", "fixed"):
        a, b = f"normal-{mode}", f"laplace-{mode}"
        if a not in entries or b not in entries:
            continue
        diff, se = pairwise_difference(entries[b]["loo"], entries[a]["loo"])
        winner, loser = (b, a) if diff > 0 else (a, b)
        ratio = abs(diff) / se if se > 0 else np.inf
        win_loss = get_family(winner.split("-")[0]).loss_name
        lose_loss = get_family(loser.split("-")[0]).loss_name
        if ratio >= CLEAR_SE:
            sentence = (
                f"With {mode} scale, the {winner.split('-')[0].capitalize()} likelihood ({win_loss}) "
                f"predicts better than the {loser.split('-')[0].capitalize()} likelihood "
                f"({lose_loss}): elpd difference {abs(diff):.1f} ± {se:.1f}, {ratio:.1f} standard errors."
            )
        else:
            sentence = (
                f"With {mode} scale, Normal (squared error) and Laplace (absolute error) cannot be "
                f"told apart: elpd difference {abs(diff):.1f} ± {se:.1f} ({ratio:.1f} standard "
                f"errors, below {CLEAR_SE:.0f}); {winner} is ahead."
            )
        pairs.append({"scale": mode, "better": winner, "worse": loser, "elpd_diff": abs(diff),
                      "se": se, "standard_errors": ratio, "clear": ratio >= CLEAR_SE,
                      "sentence": sentence})
    return pairs


def _headline(table: pd.DataFrame, entries: dict) -> str:
    best = str(table.index[0])
    loss = get_family(best.split("-")[0]).loss_name
    if len(table) < 2:
        return f"Only {best} was compared."
    runner = str(table.index[1])
    diff, se = pairwise_difference(entries[best]["loo"], entries[runner]["loo"])
    return (
        f"Best predictive accuracy (leave-one-out): {best} ({loss}), ahead of {runner} by "
        f"{diff:.1f} ± {se:.1f} elpd ({diff / se if se > 0 else np.inf:.1f} standard errors)."
    )


def compare(*analyses, labels: list[str] | None = None) -> Comparison:
    """Compare the models of several analyses (``Analysis`` or loaded ``SavedAnalysis``).

    Refuses analyses of different data (their y hashes differ). Model names are
    prefixed with ``labels`` (default ``A``, ``B``, ...) when more than one analysis is given.
    """
    if not analyses:
        raise InputError("compare needs at least one analysis")
    if labels is None:
        labels = [chr(ord("A") + i) for i in range(len(analyses))]
    if len(labels) != len(analyses):
        raise InputError(f"compare got {len(analyses)} analyses but {len(labels)} labels")
    entries: dict[str, dict] = {}
    for label, analysis in zip(labels, analyses, strict=True):
        for name, entry in analysis.loo_results().items():
            key = name if len(analyses) == 1 else f"{label}:{name}"
            entries[key] = entry
    return compare_models(entries)
