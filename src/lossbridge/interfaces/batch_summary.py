"""The batch's summary table and simulation-study statistics, read from each entry's JSON.

One row per entry: its name and group, status, n, the verdict, the model leave-one-out
ranks first and its likelihood, each ranked model's elpd ± se and difference from the
first ± its se, certified, the warnings (count and codes), the error of a failed entry,
the hash and seed, and the paths of its JSON and report (relative to the results folder).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..core.errors import InputError
from ..data.simulation import read_sidecar, sidecar_path
from ..posterior.study import Replicate, coverages, pick_rates, true_families


def _ranked(document: dict) -> list[dict]:
    records = document.get("comparison") or []
    return sorted((r for r in records if r.get("ranked")), key=lambda r: r["rank"])


def _family_of(document: dict, model: str | None) -> str | None:
    for fit in document.get("fits", []):
        if fit.get("model") == model:
            return fit.get("likelihood")
    return None


def summary_row(outcome, by: Sequence[str]) -> dict[str, Any]:
    """One summary row of an :class:`~lossbridge.interfaces.batch.Outcome`."""
    row: dict[str, Any] = {"entry": outcome.name}
    for column in by:
        row[column] = outcome.group.get(column)
    row["status"] = outcome.status
    document = outcome.document
    row.update({"n": None, "verdict": None, "best": None, "best_likelihood": None,
                "runner_up": None, "runner_up_diff": None, "runner_up_dse": None,
                "headline": None, "certified": None, "warnings": None, "warning_codes": None})
    if document is not None:
        ranked = _ranked(document)
        best = ranked[0]["model"] if ranked else None
        codes = [w.get("code", "") for w in document.get("warnings", [])]
        row.update({"n": document["data"]["n"], "verdict": document["verdict"].get("status"),
                    "best": best, "best_likelihood": _family_of(document, best),
                    "runner_up": ranked[1]["model"] if len(ranked) > 1 else None,
                    "runner_up_diff": ranked[1].get("elpd_diff") if len(ranked) > 1 else None,
                    "runner_up_dse": ranked[1].get("dse") if len(ranked) > 1 else None,
                    "headline": document["verdict"].get("headline"),
                    "certified": document.get("all_certified"), "warnings": len(codes),
                    "warning_codes": ";".join(sorted(set(codes)))})
        for record in ranked:
            model = record["model"]
            for key, column in (("elpd_loo", "elpd"), ("se", "se"), ("elpd_diff", "elpd_diff"),
                                ("dse", "dse")):
                row[f"{column}[{model}]"] = record.get(key)
    row["error"] = outcome.error
    row["hash"] = outcome.digest
    row["seed"] = outcome.seed
    row["seconds"] = outcome.seconds if outcome.seconds is not None else (
        (document or {}).get("batch_entry", {}).get("seconds"))
    stem = f"entries/{outcome.slug}"
    row["result"] = f"{stem}.json" if document is not None else f"{stem}.error.json"
    row["report"] = f"{stem}.html" if outcome.report else None
    return row


def summary_frame(outcomes: Sequence, by: Sequence[str]) -> pd.DataFrame:
    """The summary table, one row per entry in the entries' order."""
    rows = [summary_row(o, by) for o in outcomes]
    frame = pd.DataFrame(rows)
    # Mixed None / bool columns would be objects pyarrow cannot always type.
    for column in ("certified",):
        if column in frame:
            frame[column] = frame[column].astype("boolean")
    for column in ("n", "warnings", "seed"):
        if column in frame:
            frame[column] = frame[column].astype("Int64")
    return frame


def warning_counts(outcomes: Sequence) -> dict[str, dict[str, int]]:
    """``{entry: {warning code: count}}`` for the index's map of warnings."""
    out: dict[str, dict[str, int]] = {}
    for outcome in outcomes:
        counts: dict[str, int] = {}
        for warning in (outcome.document or {}).get("warnings", []):
            code = str(warning.get("code", "warning"))
            counts[code] = counts.get(code, 0) + 1
        out[outcome.name] = counts
    return out


def _sidecar_of(document: dict) -> dict | None:
    entry = document.get("batch_entry", {})
    truth = (document.get("options") or {}).get("truth")
    candidates = []
    if isinstance(truth, str) and truth.strip().lower() != "none":
        candidates.append(Path(truth))
    if entry.get("data"):
        candidates.append(sidecar_path(entry["data"]))
    for path in candidates:
        if path.is_file():
            try:
                return read_sidecar(path)
            except InputError:
                return None
    return None


def replicate_of(document: dict) -> Replicate | None:
    """The study's view of one analysis of simulated data (None: no sidecar)."""
    sidecar = _sidecar_of(document)
    if sidecar is None:
        return None
    ranked = _ranked(document)
    winner = _family_of(document, ranked[0]["model"]) if ranked else None
    intervals = {}
    for fit in document.get("fits", []):
        posterior = fit.get("posterior") or {}
        intervals[fit["model"]] = {term: (values["hdi_low"], values["hdi_high"])
                                   for term, values in posterior.items()
                                   if isinstance(values, dict) and "hdi_low" in values}
    return Replicate(sidecar["law"]["name"], dict(sidecar["beta"]), winner, intervals)


def study_statistics(outcomes: Sequence) -> dict | None:
    """Pick rates per law and interval coverage per law, model and term (None: no entry
    is a simulation replicate)."""
    replicates, hdi = [], set()
    for outcome in outcomes:
        if outcome.document is None:
            continue
        replicate = replicate_of(outcome.document)
        if replicate is not None:
            replicates.append(replicate)
            hdi.add(outcome.document.get("options", {}).get("hdi_prob"))
    if not replicates:
        return None
    picks = pick_rates(replicates)
    cover = coverages(replicates)
    nominal = next(iter(hdi)) if len(hdi) == 1 else None
    return {
        "replicates": len(replicates),
        "hdi_prob": nominal,
        "pick_rates": [{"law": law, "true_likelihoods": list(true_families(law)), **p.as_dict()}
                       for law, p in sorted(picks.items())],
        "coverage": [{"law": law, "model": model, "term": term, **p.as_dict(),
                      "z_vs_nominal": None if nominal is None
                      else (p.rate - nominal) / math.sqrt(nominal * (1 - nominal) / p.trials)}
                     for (law, model, term), p in sorted(cover.items())],
    }
