"""Every ArviZ call lossbridge makes, in one module.

ArviZ 1.0 changes this API (and needs Python 3.12); keeping the calls here makes that
move one file's work. Functions take InferenceData and return plain pandas/numpy data.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

from ..core.labels import scale_label, shape_label
from ..core.quiet import quiet_arviz
from .pointwise import logsumexp

quiet_arviz(az)


@contextlib.contextmanager
def _numpy_kernels():
    """ArviZ's NumPy code instead of its numba kernels, for the calls inside.

    ArviZ compiles its numba kernels (ESS, R-hat, PSIS) afresh in every process when numba
    is installed (PyTensor brings it): 0.35-0.45 s per analysis here, more than they save
    on one analysis' arrays; the NumPy code computes the same statistics. ArviZ's switch
    is global, so it is restored afterwards: a user's own ArviZ calls keep their setting.
    """
    was_on = bool(az.Numba.numba_flag)
    az.Numba.disable_numba()
    try:
        yield
    finally:
        if was_on:
            az.Numba.enable_numba()

SUMMARY_COLUMNS = {
    "mean": "mean",
    "sd": "sd",
    "mcse_mean": "mcse_mean",
    "mcse_sd": "mcse_sd",
    "ess_bulk": "ess_bulk",
    "ess_tail": "ess_tail",
    "r_hat": "r_hat",
}


def posterior_summary(idata, terms: list[str], scale_name: str | None, hdi_prob: float,
                      shape_names: list[str] = ()) -> pd.DataFrame:
    """Mean, sd, HDI, MCSE, ESS (bulk, tail) and R-hat of beta (per term), the scale and
    each learned shape parameter.

    Index: term names, then the scale's row label (``scale: sigma``) if it was sampled
    (a term may be called ``sigma`` itself), then ``shape: nu`` per learned shape parameter.
    """
    var_names = ["beta"] + ([scale_name] if scale_name else []) + list(shape_names)
    with warnings.catch_warnings(), _numpy_kernels():
        warnings.simplefilter("ignore")
        table = az.summary(idata, var_names=var_names, hdi_prob=hdi_prob, round_to="none")
    hdi_columns = [c for c in table.columns if c.startswith("hdi_")]
    out = table[list(SUMMARY_COLUMNS)].rename(columns=SUMMARY_COLUMNS)
    out.insert(2, "hdi_low", table[hdi_columns[0]].to_numpy())
    out.insert(3, "hdi_high", table[hdi_columns[1]].to_numpy())
    out.index = (list(terms) + ([scale_label(scale_name)] if scale_name else [])
                 + [shape_label(name) for name in shape_names])
    return out.astype(float)


def gamma_summary(idata, labels: list[str], hdi_prob: float) -> pd.DataFrame:
    """As :func:`posterior_summary`, for a modelled scale's ``gamma`` (rows ``labels``)."""
    with warnings.catch_warnings(), _numpy_kernels():
        warnings.simplefilter("ignore")
        table = az.summary(idata, var_names=["gamma"], hdi_prob=hdi_prob, round_to="none")
    hdi_columns = [c for c in table.columns if c.startswith("hdi_")]
    out = table[list(SUMMARY_COLUMNS)].rename(columns=SUMMARY_COLUMNS)
    out.insert(2, "hdi_low", table[hdi_columns[0]].to_numpy())
    out.insert(3, "hdi_high", table[hdi_columns[1]].to_numpy())
    out.index = list(labels)
    return out.astype(float)


def inference_data(*, posterior: dict, sample_stats, observed: np.ndarray, terms: list[str],
                   log_likelihood: np.ndarray | None = None,
                   posterior_predictive: np.ndarray | None = None):
    """Assemble one model's InferenceData from arrays shaped (chain, draw, ...).

    ``posterior`` maps names to arrays; ``beta`` and ``theta`` get the ``term`` dimension.
    ``sample_stats`` is the xarray Dataset of the NUTS run, or a mapping of name to
    (chain, draw) arrays (an independence sampler's acceptances).
    """
    dims = {"beta": ["term"], "theta": ["rotated_term"], "y": ["obs_id"]}
    coords = {"term": list(terms), "rotated_term": list(range(len(terms))),
              "obs_id": np.arange(observed.size)}
    names = sample_stats.data_vars if hasattr(sample_stats, "data_vars") else list(sample_stats)
    stats = {name: np.asarray(sample_stats[name]) for name in names}
    kwargs = {}
    if log_likelihood is not None:
        kwargs["log_likelihood"] = {"y": log_likelihood}
    if posterior_predictive is not None:
        kwargs["posterior_predictive"] = {"y": posterior_predictive}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return az.from_dict(posterior=posterior, sample_stats=stats, observed_data={"y": observed},
                            coords=coords, dims=dims, **kwargs)


def elpd_data(pointwise: np.ndarray, p_loo: float, n_samples: int, pareto_k: np.ndarray):
    """ArviZ's ELPDData for leave-one-out values computed outside ``az.loo`` (exact LOO)."""
    import xarray as xr
    from arviz.stats.stats import ELPDData

    n = pointwise.size
    loo_i = xr.DataArray(pointwise, dims=["obs_id"], name="loo_i")
    khat = xr.DataArray(pareto_k, dims=["obs_id"], name="pareto_shape")
    total = float(pointwise.sum())
    se = float((n * np.var(pointwise)) ** 0.5)
    return ELPDData(
        data=[total, se, float(p_loo), int(n_samples), n, False, loo_i, khat, "log", 0.7],
        index=["elpd_loo", "se", "p_loo", "n_samples", "n_data_points", "warning", "loo_i",
               "pareto_k", "scale", "good_k"],
    )


def bfmi(idata) -> np.ndarray:
    """Bayesian fraction of missing information, one value per chain."""
    with _numpy_kernels():
        return np.asarray(az.bfmi(idata), dtype=float)


def pareto_smoothed_log_weights(log_weights: np.ndarray) -> tuple[np.ndarray, float]:
    """ArviZ's ``psislw`` on one set of importance log-weights (independent draws, so
    r_eff = 1): the smoothed, normalised log-weights and the Pareto shape k̂."""
    with warnings.catch_warnings(), _numpy_kernels():
        warnings.simplefilter("ignore")
        smoothed, k = az.psislw(np.asarray(log_weights, dtype=float).copy(), reff=1.0)
    return np.asarray(smoothed, dtype=float), float(np.asarray(k))


def psis(log_lik: np.ndarray, posterior: dict) -> dict:
    """Pareto-smoothed importance sampling for leave-one-out, with ArviZ's ``psislw``.

    As ``az.loo`` except that r_eff (capped at 1) is used even for a single chain, and
    the Pareto k limit is the fixed 0.7 of the diagnostics, not ArviZ's S-dependent one.

    ``log_lik`` is (chain, draw, rows); ``posterior`` the draws it came from (ArviZ's
    relative efficiency r_eff is their mean ESS over the number of draws). Returns the
    pointwise elpd, Pareto k, the normalised log weights (draws, rows) for LOO-PIT, and
    the pointwise log predictive density lppd.
    """
    chains, draws, rows = log_lik.shape
    n_samples = chains * draws
    with warnings.catch_warnings(), _numpy_kernels():
        warnings.simplefilter("ignore")
        ess = az.ess(az.convert_to_dataset(posterior), method="mean")
        reff = float(np.hstack([ess[v].values.ravel() for v in ess.data_vars]).mean() / n_samples)
        flat = log_lik.reshape(n_samples, rows)
        log_weights, pareto_k = az.psislw(-flat.T.copy(), reff=min(reff, 1.0))
    log_weights = np.asarray(log_weights, dtype=float).T
    return {
        "elpd_pointwise": logsumexp(log_weights + flat, axis=0),
        "pareto_k": np.asarray(pareto_k, dtype=float),
        "log_weights": log_weights,
        "lppd_pointwise": logsumexp(flat, axis=0) - np.log(n_samples),
        "n_samples": n_samples,
    }


def compare(loo_results: dict) -> pd.DataFrame:
    """``az.compare`` on LOO results (stacking weights), on the log scale.

    ``loo_results`` maps names to objects with an ``elpd_data`` attribute (ArviZ's
    ELPDData), such as :class:`lossbridge.posterior.loo.LooResult`.
    """
    elpd = {name: result.elpd_data for name, result in loo_results.items()}
    with warnings.catch_warnings(), _numpy_kernels():
        warnings.simplefilter("ignore")
        table = az.compare(elpd, ic="loo", method="stacking", scale="log")
    table = table.rename(columns={"elpd_loo": "elpd_loo", "warning": "pareto_warning"})
    return table[["rank", "elpd_loo", "p_loo", "elpd_diff", "weight", "se", "dse", "pareto_warning"]]


def netcdf_bytes(idata) -> bytes:
    """``idata.to_netcdf`` into memory (same groups, attributes and zlib compression).

    HDF5 must not write to the disk itself: on a full disk its failed close leaves the
    library in a state that aborts the process (double free). The caller writes the bytes.
    """
    import io

    import xarray as xr

    buffer, mode = io.BytesIO(), "w"
    if idata.attrs:
        xr.Dataset(attrs=idata.attrs).to_netcdf(buffer, mode=mode, engine="h5netcdf", group="/")
        mode = "a"
    for group in idata.groups():
        data = getattr(idata, group)
        encoding = {name: {"zlib": True} for name, values in data.variables.items()
                    if values.dtype.kind in "biufcS"}
        data.to_netcdf(buffer, mode=mode, group=group, engine="h5netcdf", encoding=encoding)
        mode = "a"
    return buffer.getvalue()


def load_netcdf(path: Path):
    return az.from_netcdf(str(path))
