"""Everything computed from one model's posterior draws: InferenceData, summary,
diagnostics, exact-posterior oracle, leave-one-out and posterior predictive checks."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..data.design import Design
from ..data.rotation import Rotation
from ..estimation.exact import ExactFit
from ..models.heteroscedastic import gamma_labels
from ..models.spec import ModelSpec
from . import arviz_bridge
from .diagnostics import loo_warnings, oracle_warnings, sampler_warnings
from .loo import FULL_LOO_MAX_N, LooResult, closed_form, compute_loo
from .oracle import OracleCheck, check_against_exact, exact_posterior
from .pointwise import at_rows, log_likelihood, offset_rows, replicate
from .ppc import PpcResult, loo_pit_from_weights, posterior_predictive_checks
from .quantile_inference import AdjustedPosterior, posterior_adjustment
from .sampling import ModelDraws


@dataclass(eq=False)
class PosteriorResult:
    """One model's posterior draws and what lossbridge computed from them.

    ``idata`` (ArviZ InferenceData) is assembled on first use: groups posterior,
    sample_stats and observed_data, plus the pointwise log_likelihood and a
    posterior_predictive draw per posterior draw while n <= ``FULL_LOO_MAX_N`` (beyond
    that an n x draws matrix is what lossbridge avoids holding).
    """

    draws: ModelDraws
    spec: ModelSpec
    design: Design
    seed: int
    summary: pd.DataFrame
    hdi_prob: float
    divergences: int
    bfmi: np.ndarray
    loo: LooResult
    oracle: OracleCheck | None
    ppc: PpcResult
    warnings: list[dict] = field(default_factory=list)
    pointwise: dict = field(default_factory=dict)  # log_lik / y_rep arrays already computed
    _idata: object = None
    # The family's correction of the coefficients' spread (quantile: Yang-Wang-He), or None.
    adjusted: AdjustedPosterior | None = None

    @property
    def idata(self):
        if self._idata is None:
            self._idata = _inference_data(self.spec, self.design, self.draws, self.seed,
                                          self.pointwise, full=True)
        return self._idata

    def summary_dict(self) -> dict:
        """``{"<term or scale: name>": {"mean", "sd", "hdi_low", "hdi_high", "mcse_mean", ...}}``."""
        keys = ("mean", "sd", "hdi_low", "hdi_high", "mcse_mean", "ess_bulk", "ess_tail", "r_hat")
        return {name: {k: float(row[k]) for k in keys} for name, row in self.summary.iterrows()}

    def diagnostics_dict(self) -> dict:
        independence = self.draws.independence or {}
        nuts = self.draws.nuts
        return {
            # "nuts" or "independence" (independence Metropolis-Hastings from the MAP)
            "sampler": self.draws.method,
            "sampler_text": sampler_text(self.draws),
            "acceptance": independence.get("acceptance"),
            "proposal_pareto_k": independence.get("pareto_k"),
            # why a model offered to the independence sampler went to NUTS (None: it did not)
            "independence_declined": independence.get("declined"),
            # NUTS statistics: null for another sampler (it has no divergences to count)
            "divergences": self.divergences if nuts else None,
            "bfmi": [float(v) for v in self.bfmi] if nuts else None,
            # divergences and E-BFMI are statistics of the NUTS run these models shared
            "nuts_run_models": list(self.draws.run_models) if self.draws.nuts else [],
            "min_ess_bulk": float(self.summary["ess_bulk"].min()),
            "min_ess_tail": float(self.summary["ess_tail"].min()),
            "max_r_hat": float(self.summary["r_hat"].max()),
        }

    def loo_dict(self) -> dict:
        return self.loo.as_dict()

    def ppc_dict(self) -> dict:
        return self.ppc.as_dict()

    def oracle_dict(self) -> dict | None:
        return None if self.oracle is None else self.oracle.as_dict()


def _inference_data(spec: ModelSpec, design: Design, draws: ModelDraws, seed: int,
                    pointwise: dict, full: bool):
    """InferenceData of one model; with ``full`` also the n x draws groups (small n only)."""
    posterior = {"theta": draws.theta, "beta": draws.beta}
    if spec.scale == "learned":
        posterior[spec.family.scale_name] = draws.scale
    if draws.gamma is not None:
        posterior["gamma"] = draws.gamma
    posterior.update(draws.shape)  # learned shape parameters, by name ("nu")
    log_lik = y_rep = None
    if full and design.n <= FULL_LOO_MAX_N:
        shape = (*draws.beta.shape[:2], design.n)
        log_lik = pointwise.get("log_lik")
        if log_lik is None:
            log_lik = log_likelihood(spec.family, design.X, design.y, draws.flat_beta,
                                     draws.flat_scale, draws.flat_shape,
                                     offset_rows(design)).reshape(shape)
        y_rep = pointwise.get("y_rep")
        if y_rep is None:
            rng = np.random.default_rng(seed)
            y_rep = replicate(spec.family, design.X, draws.flat_beta, draws.flat_scale,
                              rng, draws.flat_shape, offset_rows(design)).reshape(shape)
    return arviz_bridge.inference_data(posterior=posterior, sample_stats=draws.sample_stats,
                                       observed=design.y, terms=list(design.terms),
                                       log_likelihood=log_lik, posterior_predictive=y_rep)


def sampler_text(draws: ModelDraws) -> str:
    """How the model was sampled, in one phrase (terminal, JSON, HTML)."""
    run = draws.independence or {}
    if draws.nuts:
        declined = run.get("declined")
        return "NUTS (PyMC)" + (f"; not the independence sampler: {declined}" if declined else "")
    return (f"independence Metropolis-Hastings from the MAP (multivariate-t proposal with "
            f"{run['degrees_of_freedom']:g} degrees of freedom fitted by importance sampling; "
            f"acceptance {run['acceptance']:.2f}, proposal Pareto k {run['pareto_k']:.2f} <= 0.5, "
            "weights falling off outward)")


def analyse_posterior(spec: ModelSpec, design: Design, rotation: Rotation, draws: ModelDraws,
                      baseline: ExactFit | None, hdi_prob: float, *, subsample: np.ndarray | None,
                      refit=None, seed: int = 0,
                      timings: dict[str, float] | None = None) -> PosteriorResult:
    """Summarise ``draws`` of ``spec`` and run every check that applies.

    ``baseline``: the exact classical fit of the model's family (None: no exact
    counterpart), for the exact posterior where the family has one.
    ``subsample``: rows for subsampled LOO when n exceeds ``FULL_LOO_MAX_N``.
    ``refit(rows)``: exact leave-one-out values for rows with Pareto k > 0.7.
    Seconds are added to ``timings`` under ``pointwise``, ``loo`` and ``checks``.
    """
    timings = {} if timings is None else timings
    for key in ("pointwise", "loo", "checks"):
        timings.setdefault(key, 0.0)
    rng = np.random.default_rng(seed)
    family = spec.family
    scale_name = family.scale_name if spec.scale == "learned" else None
    clock = time.perf_counter()
    closed = closed_form(spec, design, rotation)  # the family's exact LOO, when it has one
    timings["loo"] += time.perf_counter() - clock

    clock = time.perf_counter()
    pointwise: dict = {}
    if design.n <= FULL_LOO_MAX_N and closed is None:  # PSIS needs them; keep them for idata
        shape = (*draws.beta.shape[:2], design.n)
        pointwise["log_lik"] = log_likelihood(family, design.X, design.y, draws.flat_beta,
                                              draws.flat_scale, draws.flat_shape,
                                              offset_rows(design)).reshape(shape)
        pointwise["y_rep"] = replicate(family, design.X, draws.flat_beta, draws.flat_scale,
                                       np.random.default_rng(seed + 1),
                                       draws.flat_shape, offset_rows(design)).reshape(shape)
    light = _inference_data(spec, design, draws, seed + 1, pointwise, full=False)
    timings["pointwise"] += time.perf_counter() - clock

    clock = time.perf_counter()
    loo = compute_loo(spec, design, rotation, draws, pointwise.get("log_lik"), subsample, refit,
                      closed=closed)
    timings["loo"] += time.perf_counter() - clock

    clock = time.perf_counter()
    summary = arviz_bridge.posterior_summary(light, list(design.terms), scale_name, hdi_prob,
                                             shape_names=list(draws.shape))
    if draws.gamma is not None:  # rows "scale: log sigma[term]" (models/heteroscedastic.py)
        summary = pd.concat([summary, arviz_bridge.gamma_summary(
            light, gamma_labels(family.scale_name, design.scale_terms), hdi_prob)])
    total_draws = int(np.prod(draws.beta.shape[:2]))
    divergences, bfmi = 0, np.array([])  # NUTS statistics: none for an independence sampler
    if draws.nuts:
        divergences = int(np.asarray(draws.sample_stats["diverging"]).sum())
        bfmi = arviz_bridge.bfmi(light)
    exact = exact_posterior(spec, design, rotation, baseline) if baseline is not None else None
    oracle = check_against_exact(summary, exact) if exact is not None else None
    if loo.pit is not None:  # exact, from the closed-form LOO predictive
        pit = loo.pit
    elif "y_rep" in pointwise:
        pit = loo_pit_from_weights(design.y, pointwise["y_rep"].reshape(-1, design.n),
                                   loo.log_weights)
    else:
        rows = loo.subsample.rows
        rows_rep = replicate(family, design.X[rows], draws.flat_beta,
                             at_rows(draws.flat_scale, rows), rng, draws.flat_shape,
                             offset_rows(design, rows))
        pit = loo_pit_from_weights(design.y[rows], rows_rep, loo.subsample.log_weights)
    ppc = posterior_predictive_checks(spec, design, draws, rng, pit, loo.estimator)
    notes = (
        sampler_warnings(spec.name, summary, divergences, total_draws, bfmi, draws.run_models)
        + loo_warnings(spec.name, loo.pareto_k, list(loo.refitted))
        + oracle_warnings(spec.name, oracle)
    )
    timings["checks"] += time.perf_counter() - clock
    return PosteriorResult(draws, spec, design, seed + 1, summary, hdi_prob, divergences, bfmi,
                           loo, oracle, ppc, notes, pointwise,
                           adjusted=posterior_adjustment(spec, design, draws))
