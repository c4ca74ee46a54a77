"""Plotting: every function takes computed data and a matplotlib Axes, and only draws.

Colours are fixed per model, from its family and scale mode (:func:`model_color`), so a
model looks the same in every figure.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from ..families.registry import FAMILIES
from ..models.identity import ModelId

# (learned scale, fixed scale) colours of the built-in families in the registry's order:
# Normal (blue), Laplace (red), quantile (ochre), Huber (purple), Student-t (teal), Poisson
# (green), Bernoulli (magenta), negative binomial (amber): hues far apart, so the discrete
# families in particular are told apart at a glance. A family without a scale takes the first.
FAMILY_COLORS = (("#1f5fa8", "#7fb2e5"), ("#c0392b", "#f0a093"), ("#b8680b", "#f0c58c"),
                 ("#6a3d9a", "#c3a9de"), ("#00838f", "#8fd4da"), ("#2e7d32", "#9ccc9c"),
                 ("#8e2466", "#e3a1c9"), ("#d4a000", "#f2dc8a"))
# Families beyond those (registered later) take a pair from here, chosen by a checksum of
# the family's name: the same name always gets the same colours, whatever else is registered.
FALLBACK_COLORS = (
    ("#5d6d1e", "#c5d08a"),
    ("#37474f", "#a7b6bd"),
    ("#ad1457", "#f48fb1"),
    ("#4527a0", "#b39ddb"),
    ("#00695c", "#80cbc4"),
    ("#795548", "#c8a99b"),
)
# Models of one family and scale mode that differ in a setting (a Bernoulli's link, a
# quantile's tau) are shades of the family's colour: (fraction of black, fraction of white)
# mixed in, level 0 being the family's colour itself (the default setting).
SHADES = ((0.0, 0.0), (0.4, 0.0), (0.0, 0.4), (0.65, 0.0), (0.0, 0.65))
UNKNOWN_COLOR = "#555555"
BASELINE_COLOR = "#111111"
# Line style of each exact fit's line, by its family's position in the registry (OLS
# dashed, LAD dotted), then cycling.
BASELINE_LINES = ("--", ":", "-.", (0, (5, 1, 1, 1)))
BASELINE_LINE_WORDS = ("dashed", "dotted", "dash-dotted", "long-dash-dotted")


def family_colors(likelihood: str) -> tuple[str, str]:
    """The (learned, fixed) colours of the family registered as ``likelihood``."""
    names = list(FAMILIES)
    if likelihood in names and names.index(likelihood) < len(FAMILY_COLORS):
        return FAMILY_COLORS[names.index(likelihood)]
    return FALLBACK_COLORS[zlib.crc32(likelihood.encode("utf-8")) % len(FALLBACK_COLORS)]


def setting_shade(model: ModelId) -> int:
    """The shade level (index into ``SHADES``) of a model's settings: 0 at every default;
    a word-valued setting by its position among the choices (logit 0, probit 1, ...); a
    number off its default by a checksum of its value (stable across runs)."""
    family = FAMILIES.get(model.likelihood)
    if family is None or not model.shape:
        return 0
    declared = {p.name: p for p in family.parameters}
    level = 0
    for name, value in model.shape:
        parameter = declared.get(name)
        if parameter is None or value is None or value == parameter.default:
            continue
        if parameter.choices is not None and value in parameter.choices:
            level += parameter.choices.index(value)
        else:
            level += 1 + zlib.crc32(format(value, "g").encode("utf-8")) % (len(SHADES) - 1)
    return level % len(SHADES)


def _shade(color: str, level: int) -> str:
    black, white = SHADES[level]
    rgb = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    mixed = [round(c * (1 - black - white) + 255 * white) for c in rgb]
    return "#" + "".join(f"{c:02x}" for c in mixed)


def model_color(model: ModelId | None) -> str:
    """The colour of a model: its family's, light for a fixed scale, shaded by its
    settings (:func:`setting_shade`); grey for None."""
    if model is None:
        return UNKNOWN_COLOR
    learned, fixed = family_colors(model.likelihood)
    return _shade(fixed if model.scale == "fixed" else learned, setting_shade(model))


def baseline_line(position: int):
    """Line style of an exact fit whose family is ``position``-th in the registry."""
    return BASELINE_LINES[position % len(BASELINE_LINES)]


def baseline_line_word(position: int) -> str:
    """The caption's word for :func:`baseline_line` at ``position``."""
    return BASELINE_LINE_WORDS[position % len(BASELINE_LINE_WORDS)]


def safe_label(text: str) -> str:
    """Text for matplotlib: a '$' from user data must not start mathtext."""
    return str(text).replace("$", r"\$")


def plot_forest_term(ax, frame: pd.DataFrame, baselines: list[dict], term: str) -> None:
    """One term: per model the posterior mean and HDI (when sampled) and the MAP; each exact
    fit's value (``plot_data.forest_baselines``) as a vertical segment across the rows of
    the models it is the counterpart of, styled by its position."""
    rows = frame[frame["term"] == term].reset_index(drop=True)
    positions = np.arange(len(rows))[::-1]
    for pos, (_, row) in zip(positions, rows.iterrows(), strict=True):
        color = model_color(row["model_id"])
        if "hdi_low" in row and pd.notna(row.get("hdi_low")):
            ax.plot([row["hdi_low"], row["hdi_high"]], [pos, pos], color=color, lw=3, solid_capstyle="butt")
            ax.plot(row["mean"], pos, "o", color=color, ms=5)
        ax.plot(row["map"], pos, "D", mfc="white", mec=color, ms=6, mew=1.5)
    row_of = dict(zip(rows["model"], positions, strict=True))
    labelled = set()
    for base in baselines:
        mine = [row_of[m] for m in base["models"] if m in row_of]
        if not mine:
            continue
        label = None if base["name"] in labelled else base["name"]
        labelled.add(base["name"])
        # one segment per run of adjacent rows, so another fit's rows between stay clear
        runs = []
        for pos in sorted(mine):
            if not runs or pos != runs[-1][1] + 1:
                runs.append([pos, pos])
            else:
                runs[-1][1] = pos
        for low, high in runs:
            ax.vlines(base["coefficients"][term], low - 0.45, high + 0.45, color=BASELINE_COLOR,
                      lw=1, ls=baseline_line(base["position"]), label=label)
            label = None
    ax.set_yticks(positions, [safe_label(m) for m in rows["model"]])
    ax.set_title(safe_label(term), loc="left", fontsize=10)
    ax.grid(axis="x", alpha=0.3)


def plot_scale_posteriors(ax, draws: dict[ModelId, np.ndarray], fixed: dict[ModelId, float],
                          scale_name: str) -> None:
    """Posterior histograms of a learned scale; fixed values as vertical lines."""
    for model, values in draws.items():
        ax.hist(values, bins=40, density=True, histtype="stepfilled", alpha=0.35,
                color=model_color(model), label=safe_label(f"{model.label} posterior"))
        ax.hist(values, bins=40, density=True, histtype="step", color=model_color(model))
    for model, value in fixed.items():
        ax.axvline(value, color=model_color(model), lw=2, ls="--",
                   label=safe_label(f"{model.label} (fixed)"))
    ax.set_xlabel(safe_label(scale_name))
    ax.set_ylabel("density")
    ax.legend(fontsize=8, frameon=False)


def plot_fixed_vs_learned(ax, frame: pd.DataFrame, likelihood: str, term: str) -> None:
    """Same MAP, different intervals: learned versus fixed scale for one likelihood and term."""
    rows = frame[(frame["likelihood"] == likelihood) & (frame["term"] == term)]
    for pos, (_, row) in enumerate(rows.iterrows()):
        color = model_color(row["model_id"])
        ax.plot([row["hdi_low"], row["hdi_high"]], [pos, pos], color=color, lw=4, solid_capstyle="butt")
        ax.plot(row["map"], pos, "D", mfc="white", mec=color, ms=6, mew=1.5)
        ax.annotate(f"width {row['hdi_high'] - row['hdi_low']:.3g}", (row["hdi_high"], pos),
                    xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [f"{row['scale']} scale" for _, row in rows.iterrows()])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_title(safe_label(f"{likelihood}: {term}"), loc="left", fontsize=10)
    ax.margins(x=0.25)
    ax.grid(axis="x", alpha=0.3)


def plot_residuals(ax, data: dict) -> None:
    """Histogram of one exact fit's residuals with each family's fitted density."""
    ax.stairs(data["heights"], data["edges"], fill=True, color="#cccccc", label=f"{data['fit']} residuals")
    for density in data["densities"]:
        ax.plot(data["grid"], density["density"], color=family_colors(density["family"])[0], lw=2,
                label=safe_label(f"{density['title']}(0, {density['symbol']}={density['scale']:.3g})"))
    ax.set_xlabel(f"residual of the exact {data['fit']} fit")
    ax.set_ylabel("density")
    ax.legend(fontsize=8, frameon=False)


def plot_residuals_vs_fitted(ax, data: dict) -> None:
    """Residual against fitted value, with the binned mean and root mean square residual."""
    ax.scatter(data["fitted"], data["residuals"], s=6, color="#444444", alpha=0.45, lw=0,
               rasterized=data["shown"] > 1000)
    ax.axhline(0, color="black", lw=0.8)
    ax.plot(data["bin_fitted"], data["bin_mean"], color="#e08a00", lw=1.8, label="binned mean")
    ax.plot(data["bin_fitted"], data["bin_rms"], color="#6a3d9a", lw=1.2, ls="--",
            label="binned ± root mean square")
    ax.plot(data["bin_fitted"], -data["bin_rms"], color="#6a3d9a", lw=1.2, ls="--")
    shown = "" if data["shown"] == data["n"] else f" ({data['shown']:,} of {data['n']:,} rows)"
    ax.set_title(f"{data['fit']} residuals{shown}", loc="left", fontsize=10)
    ax.set_xlabel(f"fitted value of the exact {data['fit']} fit")
    ax.set_ylabel("residual")
    ax.legend(fontsize=8, frameon=False)


def plot_rootogram(ax, data: dict) -> None:
    """Hanging rootogram: sqrt(observed) bars hanging from the sqrt(expected) curve."""
    from matplotlib.ticker import MaxNLocator

    color = model_color(data["model"])
    values, root_expected = data["values"], np.sqrt(data["expected"])
    root_observed = np.sqrt(data["observed"])
    ax.bar(values, root_observed, bottom=root_expected - root_observed, width=0.8,
           color="#cccccc", edgecolor="#888888", lw=0.5, label="√observed, hanging")
    ax.plot(values, root_expected, "o-", ms=3, lw=1.5, color=color, label="√expected at the MAP")
    ax.axhline(0, color="black", lw=0.8)
    # limits from the bars' bottoms and the curve's top, with margins: nothing cut off
    low = min(0.0, float(np.min(root_expected - root_observed)))
    high = max(float(np.max(root_expected)), float(np.max(root_observed)), 1e-9)
    margin = 0.08 * (high - low)
    ax.set_ylim(low - margin, high + margin)
    ax.set_title(safe_label(f"{data['name']}: rootogram"), loc="left", fontsize=10)
    ax.set_xlabel(rootogram_xlabel(values, data["pooled"]))
    ax.set_ylabel("√frequency")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # the values are integers
    ax.legend(fontsize=8, frameon=False)


def rootogram_xlabel(values, pooled: bool) -> str:
    """``y`` for a binary y; ``count y`` (``, last bin: y ≥ K`` when the tail is pooled)."""
    if not pooled and set(np.asarray(values).tolist()) <= {0, 1}:
        return "y"
    return f"count y (last bin: y ≥ {values[-1]})" if pooled else "count y"


def plot_calibration(ax, data: dict) -> None:
    """Observed share of ones against the predicted probability, binned, with the diagonal."""
    ax.plot([0, 1], [0, 1], color="black", lw=0.8)
    ax.plot(data["predicted"], data["observed"], "o-", ms=4, color=model_color(data["model"]))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(safe_label(f"{data['name']}: calibration"), loc="left", fontsize=10)
    ax.set_xlabel("predicted P(y = 1) at the MAP (bin mean)")
    ax.set_ylabel("observed share of y = 1")


def plot_qq(ax, data: dict) -> None:
    """Sample quantiles of the residuals against a fitted distribution's quantiles."""
    color = family_colors(data["family_name"])[0]
    ax.plot(data["theoretical"], data["sample"], ".", ms=3, color=color)
    low = min(data["theoretical"][0], data["sample"][0])
    high = max(data["theoretical"][-1], data["sample"][-1])
    ax.plot([low, high], [low, high], color="black", lw=0.8)
    ax.set_title(f"{data['fit']} residuals vs {data['family']}(0, {data['scale_name']}="
                 f"{data['scale']:.3g})", loc="left", fontsize=10)
    ax.set_xlabel(f"{data['family']} quantile")
    ax.set_ylabel("residual quantile")


def plot_ppc(ax, data: dict, model: ModelId, response: str) -> None:
    """Observed response histogram over histograms of replicated data sets."""
    for heights in data["replicated"]:
        ax.stairs(heights, data["edges"], color=model_color(model), alpha=0.15, lw=1)
    ax.stairs(data["observed"], data["edges"], color="black", lw=1.8, label="observed")
    ax.set_title(safe_label(model.label), loc="left", fontsize=10)
    ax.set_xlabel(safe_label(response))
    ax.set_yticks([])
    if data.get("classes") is not None:  # one bin per level of a categorical y
        ax.set_xticks(range(len(data["classes"])), [safe_label(c) for c in data["classes"]])


def plot_loo_pit(ax, data: dict, model: ModelId) -> None:
    """ECDF of LOO-PIT minus the uniform CDF, with the 95% KS band around zero."""
    ax.axhspan(-data["band"], data["band"], color="#dddddd", label="95% KS band")
    ax.axhline(0, color="black", lw=0.8)
    ax.plot(data["pit"], data["difference"], color=model_color(model), lw=1.5)
    ax.set_xlim(0, 1)
    ax.set_title(safe_label(model.label), loc="left", fontsize=10)
    ax.set_xlabel("LOO-PIT")
    ax.set_ylabel("ECDF − uniform")


def plot_comparison(ax, table: pd.DataFrame, identities: dict[str, ModelId] | None = None) -> None:
    """elpd_loo ± se per model (circles) and elpd difference ± dse from the best (triangles),
    drawn from the table ``az.compare`` made, as ``az.plot_compare`` does. ``identities``
    maps the table's model names to their identities (for the colours)."""
    models = list(table.index)
    positions = np.arange(len(models))[::-1]
    best = table["elpd_loo"].iloc[0]
    for pos, model in zip(positions, models, strict=True):
        row = table.loc[model]
        color = model_color((identities or {}).get(model))
        ax.errorbar(row["elpd_loo"], pos, xerr=row["se"], fmt="o", color=color, capsize=3)
        if row["elpd_diff"] > 0:
            ax.errorbar(best - row["elpd_diff"], pos - 0.25, xerr=row["dse"], fmt="^", color="#666666",
                        capsize=3, ms=5)
    ax.axvline(best, color="#999999", ls="--", lw=1)
    ax.set_yticks(positions, [safe_label(m) for m in models])
    ax.set_xlabel("elpd (leave-one-out, higher is better); ▲ difference from the best ± dse")
    ax.grid(axis="x", alpha=0.3)


def plot_scale_band(ax, data: dict) -> None:
    """sigma(x) of a modelled scale: MAP line, posterior band, the MAP's |residuals|."""
    color = model_color(data["model"])
    positive = data["points_y"] > 0  # log axis: exp(Z gamma) spans decades; zero residuals omitted
    ax.scatter(data["points_x"][positive], data["points_y"][positive], s=6, color="#999999",
               alpha=0.5, label="|residual| at the MAP")
    ax.set_yscale("log")
    if "low" in data:
        ax.fill_between(data["x"], data["low"], data["high"], color=color, alpha=0.25,
                        label=f"{data['probability'] * 100:.0f}% posterior band")
        ax.plot(data["x"], data["median"], color=color, lw=1, ls="--", label="posterior median")
    ax.plot(data["x"], data["map"], color=color, lw=2, label="MAP")
    ax.set_xlabel(safe_label(data["xlabel"]))
    ax.set_ylabel(safe_label(f"{data['scale_name']}(x)"))
    ax.set_title(safe_label(data["model"].label), fontsize=9)
    ax.legend(fontsize=7, frameon=False)


LEVEL_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22", "#17becf")  # matplotlib's tab10: levels told apart


def level_color(code: int) -> str:
    """The colour of a categorical response's level ``code`` (cycling beyond ten)."""
    return LEVEL_COLORS[code % len(LEVEL_COLORS)]


def _level_labels(levels, reference: str | None = None) -> list[str]:
    return [safe_label(f"{level}\n(ref.)" if level == reference else level) for level in levels]


def plot_class_frequencies(ax, data: dict) -> None:
    """Observed count of each level (bars) with the expected count at the MAP and, when
    sampled, the posterior predictive interval of the count."""
    color = model_color(data["model"])
    x = np.arange(len(data["levels"]))
    ax.bar(x, data["observed"], width=0.7, color="#cccccc", edgecolor="#888888", lw=0.5,
           label="observed")
    if "low" in data:
        ax.vlines(x, data["low"], data["high"], color=color, lw=3, alpha=0.7,
                  label=f"{data['probability'] * 100:.0f}% posterior predictive")
    ax.plot(x, data["expected"], "D", mfc="white", mec=color, ms=6, mew=1.5, ls="none",
            label="expected at the MAP")
    ax.set_xticks(x, _level_labels(data["levels"], data["reference"]))
    ax.set_title(safe_label(f"{data['name']}: class frequencies"), loc="left", fontsize=10)
    ax.set_xlabel("level of y")
    ax.set_ylabel("rows")
    ax.legend(fontsize=7, frameon=False)


def plot_class_calibration(ax, data: dict) -> None:
    """Per level, the observed share of that level against its predicted probability
    (binned), with the diagonal."""
    ax.plot([0, 1], [0, 1], color="black", lw=0.8)
    for code, curve in enumerate(data["curves"]):
        ax.plot(curve["predicted"], curve["observed"], "o-", ms=3, lw=1,
                color=level_color(code), label=safe_label(curve["level"]))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(safe_label(f"{data['name']}: calibration per level"), loc="left", fontsize=10)
    ax.set_xlabel("predicted P(y = level) at the MAP (bin mean)")
    ax.set_ylabel("observed share of the level")
    ax.legend(title="level", fontsize=7, title_fontsize=7, frameon=False, ncol=2)


def plot_confusion(ax, data: dict) -> None:
    """Counts of (observed level, most probable level at the MAP), shaded by row share."""
    counts = np.asarray(data["counts"])
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    ax.imshow(shares, cmap="Greys", vmin=0, vmax=1.6, aspect="auto")
    for (i, j), value in np.ndenumerate(counts):
        ax.text(j, i, str(value), ha="center", va="center", fontsize=7,
                color="black" if i != j else "#8e0000", fontweight="bold" if i == j else None)
    labels = [safe_label(level) for level in data["levels"]]
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("most probable level at the MAP")
    ax.set_ylabel("observed level")
    ax.set_title(safe_label(f"{data['name']}: confusion (accuracy {data['accuracy']:.3f})"),
                 loc="left", fontsize=10)
    ax.spines[:].set_visible(False)
