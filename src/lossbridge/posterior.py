"""Everything computed from one model's posterior draws: summary, diagnostics, oracle,
posterior predictive checks and PSIS-LOO."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import arviz_bridge
from .baselines import ExactFit
from .design import Design
from .diagnostics import loo_warnings, oracle_warnings, pareto_k_counts, sampler_warnings
from .loo_refit import MAX_REFITS, PARETO_K_LIMIT, exact_loo_values
from .oracle import check_against_exact, exact_posterior
from .ppc import posterior_predictive_checks, ppc_as_dict
from .rotation import Rotation
from .sampling import SamplerOptions
from .spec import ModelSpec


@dataclass(eq=False)
class PosteriorResult:
    """One model's posterior: InferenceData and what lossbridge computed from it."""

    idata: object
    summary: pd.DataFrame
    hdi_prob: float
    divergences: int
    bfmi: np.ndarray
    loo: dict
    oracle: dict | None
    ppc: dict
    warnings: list[dict] = field(default_factory=list)

    def summary_dict(self) -> dict:
        """``{"<term or scale>": {"mean", "sd", "hdi_low", "hdi_high", "mcse_mean", ...}}``."""
        keys = ("mean", "sd", "hdi_low", "hdi_high", "mcse_mean", "ess_bulk", "ess_tail", "r_hat")
        return {name: {k: float(row[k]) for k in keys} for name, row in self.summary.iterrows()}

    def diagnostics_dict(self) -> dict:
        return {
            "divergences": self.divergences,
            "bfmi": [float(v) for v in self.bfmi],
            "min_ess_bulk": float(self.summary["ess_bulk"].min()),
            "min_ess_tail": float(self.summary["ess_tail"].min()),
            "max_r_hat": float(self.summary["r_hat"].max()),
        }

    def loo_dict(self) -> dict:
        refitted = self.loo["refitted"]
        return {
            "method": (
                f"PSIS-LOO with exact refits for {len(refitted)} observation(s) with Pareto k > "
                f"{PARETO_K_LIMIT}" if refitted else "PSIS-LOO"
            ),
            "elpd_loo": self.loo["elpd_loo"],
            "se": self.loo["se"],
            "p_loo": self.loo["p_loo"],
            "pareto_k_counts": pareto_k_counts(self.loo["pareto_k"]),
            "max_pareto_k": float(np.max(self.loo["pareto_k"])),
            "refitted_rows": [int(i) for i in refitted],
        }

    def ppc_dict(self) -> dict:
        return ppc_as_dict(self.ppc)


def analyse_posterior(idata, spec: ModelSpec, design: Design, rotation: Rotation,
                      ols: ExactFit | None, hdi_prob: float,
                      refit: tuple[SamplerOptions, int] | None = None,
                      timings: dict[str, float] | None = None) -> PosteriorResult:
    """Summarise ``idata`` and run every check that applies to ``spec``.

    With ``refit = (sampler options, seed)``, observations whose Pareto k exceeds 0.7
    get exact leave-one-out values from refits (at most ``MAX_REFITS`` per model).
    Seconds are added to ``timings`` under ``loo`` (PSIS and refits) and ``checks``.
    """
    timings = {} if timings is None else timings
    for key in ("loo", "checks"):
        timings.setdefault(key, 0.0)
    clock = time.perf_counter()
    scale_name = spec.family.scale_name if spec.scale == "learned" else None
    summary = arviz_bridge.posterior_summary(idata, list(design.terms), scale_name, hdi_prob)
    divergences = int(np.asarray(idata.sample_stats["diverging"]).sum())
    draws = int(np.prod(idata.sample_stats["diverging"].shape))
    bfmi = arviz_bridge.bfmi(idata)
    timings["checks"] += time.perf_counter() - clock
    clock = time.perf_counter()
    loo = arviz_bridge.loo(idata)
    bad = np.flatnonzero(loo["pareto_k"] > PARETO_K_LIMIT)
    if refit is not None and 0 < bad.size <= MAX_REFITS:
        exact = exact_loo_values(spec, design, bad, *refit)
        if exact:
            loo = arviz_bridge.with_exact_pointwise(loo, exact, loo["pareto_k"])
    timings["loo"] += time.perf_counter() - clock
    clock = time.perf_counter()
    exact = exact_posterior(spec, design, rotation, ols) if ols is not None else None
    oracle = check_against_exact(summary, exact) if exact is not None else None
    ppc = posterior_predictive_checks(idata, design.y)
    timings["checks"] += time.perf_counter() - clock
    notes = (
        sampler_warnings(spec.name, summary, divergences, draws, bfmi)
        + loo_warnings(spec.name, loo["pareto_k"], loo["refitted"])
        + oracle_warnings(spec.name, oracle)
    )
    return PosteriorResult(idata, summary, hdi_prob, divergences, bfmi, loo, oracle, ppc, notes)
