"""Every ArviZ call lossbridge makes, in one module.

ArviZ 1.0 changes this API (and needs Python 3.12); keeping the calls here makes that
move one file's work. Functions take InferenceData and return plain pandas/numpy data.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

SUMMARY_COLUMNS = {
    "mean": "mean",
    "sd": "sd",
    "mcse_mean": "mcse_mean",
    "mcse_sd": "mcse_sd",
    "ess_bulk": "ess_bulk",
    "ess_tail": "ess_tail",
    "r_hat": "r_hat",
}


def posterior_summary(idata, terms: list[str], scale_name: str | None, hdi_prob: float) -> pd.DataFrame:
    """Mean, sd, HDI, MCSE, ESS (bulk, tail) and R-hat of beta (per term) and the scale.

    Index: term names, then the scale's name if it was sampled.
    """
    var_names = ["beta"] + ([scale_name] if scale_name else [])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = az.summary(idata, var_names=var_names, hdi_prob=hdi_prob, round_to="none")
    hdi_columns = [c for c in table.columns if c.startswith("hdi_")]
    out = table[list(SUMMARY_COLUMNS)].rename(columns=SUMMARY_COLUMNS)
    out.insert(2, "hdi_low", table[hdi_columns[0]].to_numpy())
    out.insert(3, "hdi_high", table[hdi_columns[1]].to_numpy())
    out.index = list(terms) + ([scale_name] if scale_name else [])
    return out.astype(float)


def bfmi(idata) -> np.ndarray:
    """Bayesian fraction of missing information, one value per chain."""
    return np.asarray(az.bfmi(idata), dtype=float)


def loo(idata) -> dict:
    """PSIS-LOO: elpd_loo, its se, p_loo, pointwise elpd and Pareto k.

    ``elpd_data`` keeps ArviZ's own object, which :func:`compare` takes.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = az.loo(idata, pointwise=True, scale="log")
    return _loo_dict(result, refitted=[])


def _loo_dict(result, refitted: list[int]) -> dict:
    return {
        "elpd_loo": float(result["elpd_loo"]),
        "se": float(result["se"]),
        "p_loo": float(result["p_loo"]),
        "n_samples": int(result["n_samples"]),
        "n_data_points": int(result["n_data_points"]),
        "pareto_k": np.asarray(result["pareto_k"], dtype=float),
        "elpd_pointwise": np.asarray(result["loo_i"], dtype=float),
        "refitted": list(refitted),
        "elpd_data": result,
    }


def with_exact_pointwise(loo_result: dict, exact: dict[int, float], pareto_k: np.ndarray) -> dict:
    """Replace PSIS values by exact leave-one-out values, as ``az.reloo`` does.

    Refitted observations get Pareto k 0 in ArviZ's object (they no longer rely on
    importance sampling); ``elpd_loo``, its se and ``p_loo`` are recomputed.
    """
    original = loo_result["elpd_data"]
    updated = original.copy()
    pointwise = updated.loo_i.copy()
    khats = updated.pareto_k.copy()
    for index, value in exact.items():
        pointwise[index] = value
        khats[index] = 0.0
    lppd = original.p_loo + original.elpd_loo
    updated.loo_i = pointwise
    updated.pareto_k = khats
    updated.elpd_loo = float(pointwise.values.sum())
    updated.se = float((pointwise.size * np.var(pointwise.values)) ** 0.5)
    updated.p_loo = float(lppd - updated.elpd_loo)
    out = _loo_dict(updated, refitted=sorted(exact))
    out["pareto_k"] = np.asarray(pareto_k, dtype=float)  # keep the diagnostic as measured
    return out


def compare(loo_results: dict) -> pd.DataFrame:
    """``az.compare`` on PSIS-LOO results (stacking weights), on the log scale."""
    elpd = {name: result["elpd_data"] for name, result in loo_results.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = az.compare(elpd, ic="loo", method="stacking", scale="log")
    table = table.rename(columns={"elpd_loo": "elpd_loo", "warning": "pareto_warning"})
    return table[["rank", "elpd_loo", "p_loo", "elpd_diff", "weight", "se", "dse", "pareto_warning"]]


def loo_pit(idata) -> np.ndarray:
    """LOO probability integral transform of each observation (uniform if calibrated)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(az.loo_pit(idata=idata, y="y"), dtype=float)


def save_netcdf(idata, path: Path) -> None:
    idata.to_netcdf(str(path))


def load_netcdf(path: Path):
    return az.from_netcdf(str(path))
