"""Leave-one-out predictive accuracy of one model, by the cheapest exact-enough route.

* A family with a closed-form leave-one-out under flat priors
  (:meth:`lossbridge.families.base.Family.exact_loo`): exact LOO, no sampling error at
  all. For the Normal likelihood, leaving row i out, with leverage h_i and OLS residual
  e_i, the prediction error is e_i / (1 - h_i) and the LOO predictive is
  Normal(·, sigma^2 / (1 - h_i)) for a fixed sigma, or Student t with nu = n - k - 2
  degrees of freedom and squared scale RSS_-i / nu / (1 - h_i),
  RSS_-i = RSS - e_i^2 / (1 - h_i), for a learned sigma under HalfFlat (the same
  integrals as the exact posterior, with n - 1 rows). A sigma fixed at the plug-in MLE
  sqrt(RSS/n) is re-estimated without row i, sigma_-i = sqrt(RSS_-i / (n - 1)) (the same
  rule on the n - 1 rows left), so the leave-one-out is true leave-one-out of the whole
  procedure: the data are not used twice (:mod:`lossbridge.families.normal`).
* Otherwise, n <= ``FULL_LOO_MAX_N``: PSIS-LOO (ArviZ) on the full pointwise
  log-likelihood, and exact refits for observations with Pareto k > 0.7.
* Otherwise: PSIS-LOO on a simple random subsample of m rows with the difference
  estimator of Magnusson, Andersen, Jonasson and Vehtari (2020), "Leave-one-out
  cross-validation for Bayesian model comparison in large data", AISTATS: the
  approximation log p(y_i | posterior mean) for every row, corrected by the subsample;
  its subsampling standard error is reported and added to the usual one.
"""

from __future__ import annotations

import numpy as np

from ..data.design import Design
from ..data.rotation import Rotation
from ..families.base import ClosedFormLoo, Family
from ..models.spec import ModelSpec
from . import arviz_bridge
from .diagnostics import PARETO_K_LIMIT
from .pointwise import log_likelihood, lppd_pointwise
from .sampling import ModelDraws

FULL_LOO_MAX_N = 5_000
SUBSAMPLE_SIZE = 2_000
MAX_REFITS = 10
EXACT_METHOD = "exact LOO in closed form"
PLUG_IN_REFIT = "re-estimated without each row"


def exact_method(family: Family, plug_in: bool) -> str:
    """The ``method`` of a closed-form LOO result, e.g. ``"exact LOO in closed form (Normal
    likelihood, flat priors; plug-in sigma re-estimated without each row)"``."""
    refit = f"; plug-in {family.scale_name} {PLUG_IN_REFIT}" if plug_in else ""
    return f"{EXACT_METHOD} ({family.title} likelihood, flat priors{refit})"


def is_plug_in(scale: str, source: str | None) -> bool:
    """True for a fixed scale set to its maximum-likelihood value from the same data.

    ``source`` is ``ModelSpec.fixed_scale_source``: a plug-in's starts ``"plug-in"``, a
    user value's is ``"user value (...)"`` (also readable from a saved analysis' JSON).
    """
    return scale == "fixed" and (source or "").startswith("plug-in")


def refits_plug_in_scale(loo: dict) -> bool:
    """True when a LOO result re-estimated a plug-in scale without each row (true LOO)."""
    method = loo["method"]
    return method.startswith(EXACT_METHOD) and PLUG_IN_REFIT in method


def loo_label(loo: dict) -> str:
    """Short name of the LOO estimator a model used (see :mod:`lossbridge.posterior.loo`)."""
    method = loo["method"]
    if method.startswith(EXACT_METHOD):
        return "exact"
    if "subsampling" in method:
        return "PSIS, subsample"
    if "refits" in method:
        return "PSIS + refits"
    return "PSIS"


def closed_form(spec: ModelSpec, design: Design, rotation: Rotation) -> ClosedFormLoo | None:
    """Exact leave-one-out of ``spec`` from its family's closed form, or None where none applies.

    Closed forms hold under flat priors only; the family decides the rest (for the
    Normal: enough rows, and no row that alone determines a coefficient).
    """
    if spec.priors != "flat":
        return None
    return spec.family.exact_loo(design, rotation, spec.scale, spec.fixed_scale,
                                 spec.fixed_scale_is_plug_in)


def compute_loo(spec: ModelSpec, design: Design, rotation: Rotation, draws: ModelDraws,
                log_lik: np.ndarray | None, subsample: np.ndarray | None,
                refit=None, closed: ClosedFormLoo | None = None) -> dict:
    """LOO result of one model (see the module docstring for which estimator runs).

    Parameters
    ----------
    log_lik : ndarray (chain, draw, n) or None
        Full pointwise log-likelihood (n <= FULL_LOO_MAX_N), else None.
    subsample : ndarray of row indices or None
        Rows for the subsampling estimator (shared by every model of an analysis).
    refit : callable or None
        ``refit(rows) -> {row: exact elpd}``, refitting the model without each row.
    closed : ClosedFormLoo or None
        The closed form when the caller has already computed it (:func:`closed_form`);
        None: computed here.
    """
    family = spec.family
    beta, scale = draws.flat_beta, draws.flat_scale
    n_samples = beta.shape[0]
    exact = closed if closed is not None else closed_form(spec, design, rotation)
    if exact is not None:
        if subsample is None:
            lppd = float(lppd_pointwise(family, design.X, design.y, beta, scale).sum())
        else:  # only p_loo needs lppd; on large data estimate it on the subsample
            approx = family.logpdf(design.y, design.X @ beta.mean(axis=0), scale.mean())
            rows_lppd = lppd_pointwise(family, design.X[subsample], design.y[subsample], beta, scale)
            lppd = difference_estimator(approx, rows_lppd, subsample)["total"]
        method = exact_method(family, spec.fixed_scale_is_plug_in)
        result = arviz_bridge.loo_result(exact.elpd_pointwise, lppd, n_samples,
                                         np.zeros(design.n), method)
        result["pit"] = exact.pit
        return result
    if log_lik is not None:
        weights = arviz_bridge.psis(log_lik, _posterior(draws))
        result = arviz_bridge.loo_result(weights["elpd_pointwise"],
                                         float(weights["lppd_pointwise"].sum()), n_samples,
                                         weights["pareto_k"], "PSIS-LOO")
        result["log_weights"] = weights["log_weights"]
        bad = np.flatnonzero(weights["pareto_k"] > PARETO_K_LIMIT)
        if refit is not None and 0 < bad.size <= MAX_REFITS:
            exact = refit(bad)
            if exact:
                result = arviz_bridge.with_exact_pointwise(result, exact)
                result["method"] = (f"PSIS-LOO with exact refits for {len(exact)} observation(s) "
                                    f"with Pareto k > {PARETO_K_LIMIT}")
                result["log_weights"] = weights["log_weights"]
        return result
    return _subsampled(spec, design, draws, subsample)


def _subsampled(spec: ModelSpec, design: Design, draws: ModelDraws, rows: np.ndarray) -> dict:
    family = spec.family
    beta, scale = draws.flat_beta, draws.flat_scale
    n, m = design.n, rows.size
    approx = family.logpdf(design.y, design.X @ beta.mean(axis=0), scale.mean())
    chains, per_chain = draws.beta.shape[:2]
    block = log_likelihood(family, design.X[rows], design.y[rows], beta, scale)
    psis = arviz_bridge.psis(block.reshape(chains, per_chain, m), _posterior(draws))
    elpd_rows = psis["elpd_pointwise"]
    estimate = difference_estimator(approx, elpd_rows, rows)
    lppd = difference_estimator(approx, psis["lppd_pointwise"], rows)["total"]
    return {
        "method": f"PSIS-LOO with subsampling ({m} of {n} rows, difference estimator)",
        "elpd_loo": estimate["total"],
        "se": float(np.sqrt(estimate["se"] ** 2 + estimate["subsampling_se"] ** 2)),
        "p_loo": float(lppd - estimate["total"]),
        "n_samples": int(beta.shape[0]),
        "n_data_points": n,
        "pareto_k": psis["pareto_k"],
        "elpd_pointwise": None,
        "refitted": [],
        "elpd_data": None,
        "subsample": {"rows": rows, "elpd_rows": elpd_rows, "approximation": approx,
                      "subsampling_se": estimate["subsampling_se"],
                      "log_weights": psis["log_weights"]},
    }


def _posterior(draws: ModelDraws) -> dict:
    out = {"beta": draws.beta}
    if draws.scale is not None:
        out["scale"] = draws.scale
    return out


def difference_estimator(approx: np.ndarray, exact_rows: np.ndarray, rows: np.ndarray) -> dict:
    """Magnusson et al. (2020): total, its se across observations, and the subsampling se.

    total = sum_i approx_i + (n/m) sum_{j in S} (exact_j - approx_j) under simple random
    sampling without replacement; Var_sub = n^2 (1 - m/n) s_e^2 / m; the mean square of
    the pointwise values is estimated the same way for the usual se = sqrt(n Var_i).
    """
    n, m = approx.size, rows.size
    errors = exact_rows - approx[rows]
    total = float(approx.sum() + n / m * errors.sum())
    subsampling_var = n**2 * (1 - m / n) * (np.var(errors, ddof=1) if m > 1 else 0.0) / m
    mean_square = (np.sum(approx**2) + n / m * np.sum(exact_rows**2 - approx[rows] ** 2)) / n
    variance = max(mean_square - (total / n) ** 2, 0.0)
    return {"total": total, "se": float(np.sqrt(n * variance)),
            "subsampling_se": float(np.sqrt(subsampling_var))}
