"""Data for the report's figures, computed from an Analysis (no drawing here).

Every function returns plain pandas/numpy data that a function of :mod:`lossbridge.plots`
draws without computing anything further.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

HIST_BINS = 40


def forest_frame(analysis) -> pd.DataFrame:
    """Rows (model, term): MAP, and when sampled the posterior mean and HDI."""
    rows = []
    for result in analysis.fits:
        summary = result.posterior.summary if result.posterior is not None else None
        for j, term in enumerate(analysis.design.terms):
            row = {"model": result.spec.name, "term": term, "map": result.map.coefficients[j]}
            if summary is not None:
                row.update(mean=summary.loc[term, "mean"], hdi_low=summary.loc[term, "hdi_low"],
                           hdi_high=summary.loc[term, "hdi_high"])
            rows.append(row)
    return pd.DataFrame(rows)


def baseline_frame(analysis) -> pd.DataFrame:
    """Exact OLS / LAD coefficients per term (columns present for the fitted families)."""
    table = analysis.coefficients()
    columns = [c for c in ("OLS", "LAD") if c in table.columns]
    return table.loc[list(analysis.design.terms), columns]


def scale_draws(analysis) -> dict[str, np.ndarray]:
    """Posterior draws of each learned scale, keyed by model."""
    out = {}
    for result in analysis.fits:
        if result.posterior is not None and result.spec.scale == "learned":
            out[result.spec.name] = result.posterior.draws.flat_scale
    return out


def fixed_scales(analysis) -> dict[str, float]:
    return {r.spec.name: float(r.spec.fixed_scale) for r in analysis.fits if r.spec.scale == "fixed"}


def residual_densities(analysis, points: int = 400) -> list[dict]:
    """Per exact fit: residuals, histogram, and the Normal and Laplace densities at their MLE scales."""
    design = analysis.design
    out = []
    seen = set()
    for result in analysis.fits:
        base = result.baseline
        if base.method in seen:
            continue
        seen.add(base.method)
        residuals = design.y - design.X @ base.coefficients
        sigma = float(np.sqrt(np.mean(residuals**2)))
        b = float(np.mean(np.abs(residuals)))
        low, high = np.quantile(residuals, [0.001, 0.999])
        span = high - low or 1.0
        grid = np.linspace(low - 0.1 * span, high + 0.1 * span, points)
        heights, edges = np.histogram(residuals, bins=HIST_BINS, range=(grid[0], grid[-1]), density=True)
        out.append({
            "fit": base.method.upper(),
            "edges": edges,
            "heights": heights,
            "grid": grid,
            "normal": stats.norm.pdf(grid, scale=sigma),
            "laplace": stats.laplace.pdf(grid, scale=b),
            "sigma": sigma,
            "b": b,
        })
    return out


def ppc_densities(analysis) -> dict[str, dict]:
    """Per model: histogram of y and of replicated data sets, on common bins (from the PPC)."""
    return {r.spec.name: {"edges": r.posterior.ppc["histogram"]["edges"],
                          "observed": r.posterior.ppc["histogram"]["observed"],
                          "replicated": r.posterior.ppc["histogram"]["replicated"]}
            for r in analysis.fits if r.posterior is not None}


def loo_pit_curves(analysis) -> dict[str, dict]:
    """Per model: ECDF of LOO-PIT values minus the uniform CDF, with the 95% KS band."""
    out = {}
    for result in analysis.fits:
        if result.posterior is None:
            continue
        pit = np.sort(result.posterior.ppc["loo_pit"])
        n = pit.size
        ecdf = np.arange(1, n + 1) / n
        out[result.spec.name] = {
            "pit": pit,
            "difference": ecdf - pit,
            "band": result.posterior.ppc["loo_pit_ks_reference_95"],
        }
    return out


def fixed_vs_learned_frame(analysis) -> pd.DataFrame:
    """Rows (likelihood, term, scale mode): MAP and HDI, for models sampled in both modes."""
    frame = forest_frame(analysis)
    if "hdi_low" not in frame:
        return pd.DataFrame()
    frame["likelihood"] = frame["model"].str.split("-").str[0]
    frame["scale"] = frame["model"].str.split("-").str[1]
    both = frame.groupby("likelihood")["scale"].transform("nunique") == 2
    return frame[both].reset_index(drop=True)
