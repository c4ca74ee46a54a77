"""Plotting: every function takes computed data and a matplotlib Axes, and only draws.

Colours are fixed per model (``MODEL_COLORS``) so a model looks the same in every figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MODEL_COLORS = {
    "normal-learned": "#1f5fa8",
    "normal-fixed": "#7fb2e5",
    "laplace-learned": "#c0392b",
    "laplace-fixed": "#f0a093",
}
BASELINE_STYLE = {"OLS": ("#111111", "x"), "LAD": ("#111111", "+")}


def model_color(model: str) -> str:
    for name, color in MODEL_COLORS.items():
        if model.endswith(name):
            return color
    return "#555555"


def safe_label(text: str) -> str:
    """Text for matplotlib: a '$' from user data must not start mathtext."""
    return str(text).replace("$", r"\$")


def plot_forest_term(ax, frame: pd.DataFrame, baselines: pd.Series, term: str) -> None:
    """One term: per model the posterior mean and HDI (when sampled) and the MAP; OLS/LAD lines."""
    rows = frame[frame["term"] == term].reset_index(drop=True)
    positions = np.arange(len(rows))[::-1]
    for pos, (_, row) in zip(positions, rows.iterrows(), strict=True):
        color = model_color(row["model"])
        if "hdi_low" in row and pd.notna(row.get("hdi_low")):
            ax.plot([row["hdi_low"], row["hdi_high"]], [pos, pos], color=color, lw=3, solid_capstyle="butt")
            ax.plot(row["mean"], pos, "o", color=color, ms=5)
        ax.plot(row["map"], pos, "D", mfc="white", mec=color, ms=6, mew=1.5)
    for name, value in baselines.items():
        color, _ = BASELINE_STYLE[name]
        ax.axvline(value, color=color, lw=1, ls="--" if name == "OLS" else ":", label=name)
    ax.set_yticks(positions, [safe_label(m) for m in rows["model"]])
    ax.set_title(safe_label(term), loc="left", fontsize=10)
    ax.grid(axis="x", alpha=0.3)


def plot_scale_posteriors(ax, draws: dict[str, np.ndarray], fixed: dict[str, float], scale_name: str) -> None:
    """Posterior histograms of a learned scale; fixed values as vertical lines."""
    for model, values in draws.items():
        ax.hist(values, bins=40, density=True, histtype="stepfilled", alpha=0.35,
                color=model_color(model), label=f"{model} posterior")
        ax.hist(values, bins=40, density=True, histtype="step", color=model_color(model))
    for model, value in fixed.items():
        ax.axvline(value, color=model_color(model), lw=2, ls="--", label=f"{model} (fixed)")
    ax.set_xlabel(safe_label(scale_name))
    ax.set_ylabel("density")
    ax.legend(fontsize=8, frameon=False)


def plot_fixed_vs_learned(ax, frame: pd.DataFrame, likelihood: str, term: str) -> None:
    """Same MAP, different intervals: learned versus fixed scale for one likelihood and term."""
    rows = frame[(frame["likelihood"] == likelihood) & (frame["term"] == term)]
    for pos, (_, row) in enumerate(rows.iterrows()):
        color = model_color(row["model"])
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
    """Histogram of one exact fit's residuals with the fitted Normal and Laplace densities."""
    ax.stairs(data["heights"], data["edges"], fill=True, color="#cccccc", label=f"{data['fit']} residuals")
    ax.plot(data["grid"], data["normal"], color=MODEL_COLORS["normal-learned"], lw=2,
            label=f"Normal(0, σ={data['sigma']:.3g})")
    ax.plot(data["grid"], data["laplace"], color=MODEL_COLORS["laplace-learned"], lw=2,
            label=f"Laplace(0, b={data['b']:.3g})")
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


def plot_qq(ax, data: dict) -> None:
    """Sample quantiles of the residuals against a fitted distribution's quantiles."""
    color = MODEL_COLORS["normal-learned" if data["family"] == "Normal" else "laplace-learned"]
    ax.plot(data["theoretical"], data["sample"], ".", ms=3, color=color)
    low = min(data["theoretical"][0], data["sample"][0])
    high = max(data["theoretical"][-1], data["sample"][-1])
    ax.plot([low, high], [low, high], color="black", lw=0.8)
    ax.set_title(f"{data['fit']} residuals vs {data['family']}(0, {data['scale_name']}="
                 f"{data['scale']:.3g})", loc="left", fontsize=10)
    ax.set_xlabel(f"{data['family']} quantile")
    ax.set_ylabel("residual quantile")


def plot_ppc(ax, data: dict, model: str, response: str) -> None:
    """Observed response histogram over histograms of replicated data sets."""
    for heights in data["replicated"]:
        ax.stairs(heights, data["edges"], color=model_color(model), alpha=0.15, lw=1)
    ax.stairs(data["observed"], data["edges"], color="black", lw=1.8, label="observed")
    ax.set_title(safe_label(model), loc="left", fontsize=10)
    ax.set_xlabel(safe_label(response))
    ax.set_yticks([])


def plot_loo_pit(ax, data: dict, model: str) -> None:
    """ECDF of LOO-PIT minus the uniform CDF, with the 95% KS band around zero."""
    ax.axhspan(-data["band"], data["band"], color="#dddddd", label="95% KS band")
    ax.axhline(0, color="black", lw=0.8)
    ax.plot(data["pit"], data["difference"], color=model_color(model), lw=1.5)
    ax.set_xlim(0, 1)
    ax.set_title(safe_label(model), loc="left", fontsize=10)
    ax.set_xlabel("LOO-PIT")
    ax.set_ylabel("ECDF − uniform")


def plot_comparison(ax, table: pd.DataFrame) -> None:
    """elpd_loo ± se per model (circles) and elpd difference ± dse from the best (triangles),
    drawn from the table ``az.compare`` made, as ``az.plot_compare`` does."""
    models = list(table.index)
    positions = np.arange(len(models))[::-1]
    best = table["elpd_loo"].iloc[0]
    for pos, model in zip(positions, models, strict=True):
        row = table.loc[model]
        color = model_color(model)
        ax.errorbar(row["elpd_loo"], pos, xerr=row["se"], fmt="o", color=color, capsize=3)
        if row["elpd_diff"] > 0:
            ax.errorbar(best - row["elpd_diff"], pos - 0.25, xerr=row["dse"], fmt="^", color="#666666",
                        capsize=3, ms=5)
    ax.axvline(best, color="#999999", ls="--", lw=1)
    ax.set_yticks(positions, [safe_label(m) for m in models])
    ax.set_xlabel("elpd (leave-one-out, higher is better); ▲ difference from the best ± dse")
    ax.grid(axis="x", alpha=0.3)
