"""The index report of a batch: which loss wins per entry, the elpd differences, a map of
warnings, the simulation study's rates, and a link to each entry's own report.

It is handed the summary rows (plain dicts), the warning counts and the study statistics
the interfaces computed; it draws and escapes, nothing more. Every user text (entry
names, group values, errors, headlines) passes through Jinja2's autoescaping, and the
links are relative paths inside the results folder, quoted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from .report import _encode, _environment, _format_number

MAX_ROWS_PLOTTED = 80  # beyond this the per-entry figures show the 80 largest differences


def _finite(value) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _colours(names: Sequence[str]) -> dict[str, str]:
    palette = ("#1f5fa8", "#c0392b", "#1b7f3b", "#8e44ad", "#d68910", "#148f77", "#7f8c8d",
               "#2c3e50")
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def _winner_colours(rows: list[dict]) -> dict[str, str]:
    """One colour per winning model, the same in every figure."""
    return _colours(sorted({r["best"] for r in rows if r.get("best")}))


def _plain(text) -> str:
    """``text`` as matplotlib draws it literally: an unescaped ``$`` starts mathtext (a group
    called "$10k-$20k" would be typeset, one called "$\\frac$" would stop the figure)."""
    return str(text).replace("$", r"\$")


def _winners_figure(rows: list[dict]):
    import matplotlib.pyplot as plt

    counts: dict[str, int] = {}
    for row in rows:
        if row.get("best"):
            counts[row["best"]] = counts.get(row["best"], 0) + 1
    if not counts:
        return None
    names = sorted(counts, key=lambda k: (-counts[k], k))
    fig, ax = plt.subplots(figsize=(6.4, 0.5 + 0.4 * len(names)))
    ax.barh(range(len(names)), [counts[n] for n in names],
            color=[_winner_colours(rows)[n] for n in names])
    ax.set_yticks(range(len(names)), [_plain(n) for n in names])
    ax.invert_yaxis()
    ax.set_xlabel("entries where leave-one-out ranks this model first")
    for i, n in enumerate(names):
        ax.text(counts[n], i, f" {counts[n]}", va="center", fontsize=9)
    return _encode(fig)


def _differences_figure(rows: list[dict]):
    import matplotlib.pyplot as plt

    points = [r for r in rows if _finite(r.get("runner_up_diff")) and _finite(r.get("runner_up_dse"))]
    if not points:
        return None
    points = sorted(points, key=lambda r: float(r["runner_up_diff"]))[-MAX_ROWS_PLOTTED:]
    winners = sorted({r["best"] for r in points})
    colours = _winner_colours(rows)
    fig, ax = plt.subplots(figsize=(7.2, 0.8 + 0.22 * len(points)))
    for i, row in enumerate(points):
        ax.errorbar(float(row["runner_up_diff"]), i, xerr=2 * float(row["runner_up_dse"]),
                    fmt="o", color=colours[row["best"]], ms=4, capsize=2)
    ax.axvline(0.0, color="#888", lw=0.8)
    ax.set_yticks(range(len(points)), [_plain(r["entry"]) for r in points], fontsize=8)
    ax.set_xlabel("elpd of the first model minus the second's (± 2 se of the difference)")
    for name in winners:
        ax.plot([], [], "o", color=colours[name], label=_plain(f"first: {name}"))
    ax.legend(fontsize=8, loc="lower right")
    return _encode(fig)


def _warnings_figure(warnings: Mapping[str, Mapping[str, int]]):
    import matplotlib.pyplot as plt
    import numpy as np

    codes = sorted({code for counts in warnings.values() for code in counts})
    entries = [e for e, counts in warnings.items() if counts][:MAX_ROWS_PLOTTED]
    if not codes or not entries:
        return None
    grid = np.array([[warnings[e].get(c, 0) for c in codes] for e in entries], dtype=float)
    fig, ax = plt.subplots(figsize=(1.6 + 0.6 * len(codes), 0.9 + 0.22 * len(entries)))
    image = ax.imshow(grid, cmap="Oranges", aspect="auto", vmin=0)
    ax.set_xticks(range(len(codes)), [_plain(c) for c in codes], rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(len(entries)), [_plain(e) for e in entries], fontsize=8)
    for (i, j), value in np.ndenumerate(grid):
        if value:
            ax.text(j, i, f"{int(value)}", ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=ax, label="warnings")
    return _encode(fig)


def _study_figure(study: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    picks = study.get("pick_rates") or []
    cover = study.get("coverage") or []
    if not picks and not cover:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.9 + 0.3 * max(len(picks), len(cover), 3)))
    ax = axes[0]
    for i, p in enumerate(picks):
        ax.errorbar(p["rate"], i, xerr=2 * p["se"], fmt="o", color="#1f5fa8", capsize=3)
    ax.set_yticks(range(len(picks)), [_plain(p["law"]) for p in picks])
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("rate leave-one-out ranks the true law first (± 2 binomial se)")
    ax = axes[1]
    for i, c in enumerate(cover):
        ax.errorbar(c["rate"], i, xerr=2 * c["se"], fmt="o", color="#1b7f3b", capsize=3)
    ax.set_yticks(range(len(cover)), [_plain(f"{c['law']}: {c['model']} {c['term']}") for c in cover],
                  fontsize=7)
    if study.get("hdi_prob") is not None:
        ax.axvline(study["hdi_prob"], color="#c0392b", lw=1, label="nominal")
        ax.legend(fontsize=8)
    ax.set_xlabel("interval coverage of the true coefficient (± 2 binomial se)")
    fig.tight_layout()
    return _encode(fig)


def render_index(rows: Sequence[Mapping[str, Any]], by: Sequence[str],
                 study: Mapping[str, Any] | None, record: Mapping[str, Any],
                 warnings: Mapping[str, Mapping[str, int]] | None = None) -> str:
    """The index HTML of a batch (self-contained: figures as data URIs, no script).

    Parameters
    ----------
    rows : sequence of dict
        The summary rows (``interfaces.batch_summary.summary_row``).
    by : sequence of str
        The grouping columns (shown as the first columns).
    study : dict or None
        Pick rates and coverage (``interfaces.batch_summary.study_statistics``).
    record : dict
        The batch's counts (entries, done, resumed, failed, seconds, command).
    warnings : dict, optional
        ``{entry: {warning code: count}}`` for the map of warnings.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    rows = [dict(r) for r in rows]
    for row in rows:
        for key, value in row.items():
            if value is not None and not isinstance(value, str) and _missing(value):
                row[key] = None
        row["href"] = quote(row["report"]) if row.get("report") else None
        row["result_href"] = quote(row["result"]) if row.get("result") else None
    figures = {"winners": _winners_figure(rows), "differences": _differences_figure(rows),
               "warnings": _warnings_figure(warnings or {}),
               "study": _study_figure(study) if study else None}
    template = _environment().get_template("batch_index.html.j2")
    return template.render(rows=rows, by=list(by), study=study, record=record,
                           figures={k: v for k, v in figures.items() if v is not None},
                           num=_format_number, label=_label)


def _label(value) -> str:
    """A group value as written: an integral float without its decimals (income 12, not
    12.0 or 1.2e+01), anything else as text."""
    if value is None:
        return "–"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _missing(value) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
