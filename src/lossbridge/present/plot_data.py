"""Data for the report's figures, computed from an Analysis (no drawing here).

Every function returns plain pandas/numpy data that a function of :mod:`lossbridge.present.plots`
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
        if base is None or base.method in seen:
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


SCATTER_POINTS = 4_000
QQ_POINTS = 1_000
FITTED_BINS = 20


def _exact_residuals(analysis) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"OLS" | "LAD": (fitted, residuals)}`` of every exact fit, in fit order."""
    design = analysis.design
    out = {}
    for result in analysis.fits:
        base = result.baseline
        if base is not None and base.method.upper() not in out:
            fitted = design.X @ base.coefficients
            out[base.method.upper()] = (fitted, design.y - fitted)
    return out


def residuals_vs_fitted(analysis) -> list[dict]:
    """Per exact fit: residual against fitted value (a fixed random subset of at most
    ``SCATTER_POINTS`` rows, so large data stay drawable), and per bin of fitted values
    (equal counts) the mean residual and the root mean square residual."""
    out = []
    for fit, (fitted, residuals) in _exact_residuals(analysis).items():
        n = fitted.size
        shown = (np.arange(n) if n <= SCATTER_POINTS
                 else np.sort(np.random.default_rng(0).choice(n, SCATTER_POINTS, replace=False)))
        order = np.argsort(fitted, kind="stable")
        bins = [b for b in np.array_split(order, min(FITTED_BINS, n)) if b.size]
        out.append({
            "fit": fit,
            "fitted": fitted[shown],
            "residuals": residuals[shown],
            "shown": int(shown.size),
            "n": int(n),
            "bin_fitted": np.array([np.mean(fitted[b]) for b in bins]),
            "bin_mean": np.array([np.mean(residuals[b]) for b in bins]),
            "bin_rms": np.array([np.sqrt(np.mean(residuals[b] ** 2)) for b in bins]),
        })
    return out


def qq_frames(analysis) -> list[dict]:
    """QQ data against the fitted Normal and the fitted Laplace (centred at 0, scales at
    their MLE given the residuals: sqrt(mean r^2) and mean |r|). Each uses its own
    family's exact-fit residuals (OLS for Normal, LAD for Laplace) when that fit exists,
    else the other one's; at most ``QQ_POINTS`` evenly spaced order statistics."""
    residuals = {fit: r for fit, (_, r) in _exact_residuals(analysis).items()}
    out = []
    for family, own, other in (("Normal", "OLS", "LAD"), ("Laplace", "LAD", "OLS")):
        fit = own if own in residuals else other
        ordered = np.sort(residuals[fit])
        n = ordered.size
        index = np.unique(np.linspace(0, n - 1, min(QQ_POINTS, n)).round().astype(int))
        probabilities = (index + 0.5) / n
        if family == "Normal":
            scale = float(np.sqrt(np.mean(ordered**2)))
            theoretical = stats.norm.ppf(probabilities, scale=scale)
        else:
            scale = float(np.mean(np.abs(ordered)))
            theoretical = stats.laplace.ppf(probabilities, scale=scale)
        out.append({"family": family, "fit": fit, "scale": scale,
                    "scale_name": "σ" if family == "Normal" else "b",
                    "theoretical": theoretical, "sample": ordered[index]})
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
