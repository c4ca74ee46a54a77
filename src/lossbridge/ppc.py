"""Posterior predictive checks: discrepancy statistics and LOO-PIT, as data for plots.

For each statistic T the posterior predictive p-value is P(T(y_rep) >= T(y)) over the
posterior predictive draws; values near 0 or 1 flag a feature of the data the model
does not reproduce. LOO-PIT values are uniform on (0, 1) for a calibrated model; their
largest distance from the uniform CDF is reported with the 95 % Kolmogorov-Smirnov
reference 1.36 / sqrt(n), a heuristic only (LOO-PIT values are not independent).
"""

from __future__ import annotations

import numpy as np

from . import arviz_bridge


def _mad(values: np.ndarray, axis: int) -> np.ndarray:
    median = np.median(values, axis=axis, keepdims=True)
    return np.mean(np.abs(values - median), axis=axis)


STATISTICS = {
    "mean": lambda v, axis: np.mean(v, axis=axis),
    "sd": lambda v, axis: np.std(v, axis=axis, ddof=1),
    "median": lambda v, axis: np.median(v, axis=axis),
    "mean abs dev from median": _mad,
    "min": lambda v, axis: np.min(v, axis=axis),
    "max": lambda v, axis: np.max(v, axis=axis),
}


def posterior_predictive_checks(idata, y: np.ndarray) -> dict:
    """Discrepancy p-values, replicated statistics and LOO-PIT values for one model."""
    replicated = np.asarray(idata.posterior_predictive["y"])
    replicated = replicated.reshape(-1, replicated.shape[-1])
    statistics = {}
    for name, statistic in STATISTICS.items():
        observed = float(statistic(y, axis=0))
        draws = statistic(replicated, axis=1)
        statistics[name] = {
            "observed": observed,
            "p_value": float(np.mean(draws >= observed)),
            "replicated": draws,
        }
    pit = arviz_bridge.loo_pit(idata)
    ordered = np.sort(pit)
    n = ordered.size
    grid = np.arange(1, n + 1) / n
    distance = float(max(np.max(grid - ordered), np.max(ordered - (grid - 1.0 / n))))
    return {
        "statistics": statistics,
        "loo_pit": pit,
        "loo_pit_ks_distance": distance,
        "loo_pit_ks_reference_95": float(1.36 / np.sqrt(n)),
    }


def ppc_as_dict(ppc: dict) -> dict:
    """The JSON part: p-values and observed statistics, LOO-PIT distance (no draws)."""
    return {
        "p_values": {k: v["p_value"] for k, v in ppc["statistics"].items()},
        "observed": {k: v["observed"] for k, v in ppc["statistics"].items()},
        "loo_pit_ks_distance": ppc["loo_pit_ks_distance"],
        "loo_pit_ks_reference_95": ppc["loo_pit_ks_reference_95"],
    }
