"""Sampler and LOO diagnostics turned into named warnings.

Thresholds and their sources:

* R-hat > 1.01 and ESS (bulk or tail) < 400: Vehtari, Gelman, Simpson, Carpenter and
  Bürkner (2021), "Rank-normalization, folding, and localization: an improved R-hat",
  *Bayesian Analysis* 16(2).
* any divergent transition: Betancourt (2017), "A Conceptual Introduction to
  Hamiltonian Monte Carlo", section 6.2.
* E-BFMI < 0.3: Betancourt (2016), "Diagnosing suboptimal cotangent disintegrations in
  Hamiltonian Monte Carlo", and Stan's default check.
* Pareto k > 0.7: Vehtari, Simpson, Gelman, Yao and Gabry (2024), "Pareto smoothed
  importance sampling", *JMLR* 25 (for S = 4000 draws ArviZ's own threshold is also 0.7).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RHAT_LIMIT = 1.01
ESS_MIN = 400
BFMI_MIN = 0.3
PARETO_K_LIMIT = 0.7
PARETO_K_BANDS = ((-np.inf, 0.5, "k<=0.5"), (0.5, 0.7, "0.5<k<=0.7"), (0.7, 1.0, "0.7<k<=1"),
                  (1.0, np.inf, "k>1"))


def pareto_k_counts(pareto_k: np.ndarray) -> dict[str, int]:
    return {label: int(np.sum((pareto_k > lo) & (pareto_k <= hi))) for lo, hi, label in PARETO_K_BANDS}


def sampler_warnings(model: str, summary: pd.DataFrame, divergences: int, draws: int,
                     bfmi: np.ndarray, run_models: tuple[str, ...] = ()) -> list[dict]:
    """Named warnings for divergences, R-hat, ESS and E-BFMI.

    Divergences and E-BFMI belong to the NUTS run; when several models were sampled in
    one joint run (``run_models``), the message says so rather than blaming ``model``.
    """
    out = []
    joint = (f" in the joint NUTS run of {', '.join(run_models)}, so any of them may cause them"
             if len(run_models) > 1 else "")
    if divergences:
        out.append(_warning("divergences", model,
                            f"{divergences} divergent transition(s) of {draws} draws{joint}; the "
                            "posterior may be biased (try a larger --tune)"))
    high = summary.index[summary["r_hat"] > RHAT_LIMIT].tolist()
    if high:
        worst = summary["r_hat"].max()
        out.append(_warning("r_hat", model,
                            f"R-hat above {RHAT_LIMIT} for {', '.join(high)} (max {worst:.3f}); "
                            "chains disagree: run longer"))
    low = summary.index[(summary["ess_bulk"] < ESS_MIN) | (summary["ess_tail"] < ESS_MIN)].tolist()
    if low:
        worst = float(summary[["ess_bulk", "ess_tail"]].min().min())
        out.append(_warning("low_ess", model,
                            f"effective sample size below {ESS_MIN} for {', '.join(low)} "
                            f"(min {worst:.0f}); increase --draws"))
    if np.any(bfmi < BFMI_MIN):
        out.append(_warning("low_bfmi", model,
                            f"E-BFMI below {BFMI_MIN} in {int(np.sum(bfmi < BFMI_MIN))} chain(s) "
                            f"(min {bfmi.min():.2f}){joint}: the sampler explores the energy poorly"))
    return out


def loo_warnings(model: str, pareto_k: np.ndarray, refitted: list[int]) -> list[dict]:
    """Pareto k above the limit, for observations that did not get an exact refit."""
    unresolved = np.setdiff1d(np.flatnonzero(pareto_k > PARETO_K_LIMIT), refitted)
    bad = int(unresolved.size)
    if not bad:
        return []
    return [_warning("pareto_k", model,
                     f"{bad} observation(s) with Pareto k > {PARETO_K_LIMIT} (max "
                     f"{pareto_k[unresolved].max():.2f}) and no exact refit: PSIS-LOO is "
                     "unreliable for them; the comparison may be off")]


def oracle_warnings(model: str, oracle) -> list[dict]:
    """``oracle``: an :class:`~lossbridge.posterior.oracle.OracleCheck` or None."""
    if oracle is None or oracle.passed:
        return []
    return [_warning("oracle_failed", model,
                     f"sampled posterior differs from the exact {oracle.distribution} posterior "
                     f"by {oracle.max_abs_z:.1f} Monte Carlo standard errors (limit "
                     f"{oracle.z_limit:.0f})")]


def _warning(code: str, model: str, message: str) -> dict:
    return {"code": code, "model": model, "message": f"{model}: {message}"}
