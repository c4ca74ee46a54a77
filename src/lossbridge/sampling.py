"""Posterior sampling with NUTS: one function hides the sampler choice.

PyMC's own NUTS (C backend) is used: measured on this 2-core machine, it finishes the
four small-data models sooner end to end than nutpie, whose numba compilation costs
several seconds per model (see README, "Sampler choice"). Chains start at small,
overdispersed perturbations of the MAP in the rotated coordinates, where the
posterior is close to isotropic. With several worker processes, BLAS is kept
single-threaded in each (PyMC's ``blas_cores`` plus the OpenBLAS/OpenMP environment
of the worker processes) so that parallel chains do not oversubscribe the cores.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pymc as pm

from .design import Design
from .map_estimate import MapEstimate
from .model import OBSERVED, ROTATED
from .rotation import Rotation
from .spec import ModelSpec
from .validation import check_positive_int

_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class SamplerOptions:
    """NUTS settings shared by every model of an analysis."""

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    cores: int | None = None
    target_accept: float = 0.9
    progress: bool | None = None  # None: show progress bars on a terminal only

    def __post_init__(self) -> None:
        check_positive_int("draws", self.draws)
        check_positive_int("tune", self.tune)
        check_positive_int("chains", self.chains)
        if self.cores is not None:
            check_positive_int("cores", self.cores)

    @property
    def resolved_cores(self) -> int:
        available = os.cpu_count() or 1
        return max(1, min(self.cores or available, self.chains))

    @property
    def show_progress(self) -> bool:
        return sys.stderr.isatty() if self.progress is None else self.progress


def single_threaded_blas_for_workers() -> None:
    """Make worker processes start with one BLAS/OpenMP thread each."""
    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"


def sample_posterior(
    model: pm.Model,
    spec: ModelSpec,
    design: Design,
    rotation: Rotation,
    estimate: MapEstimate,
    options: SamplerOptions,
    seed: int,
    *,
    pointwise: bool = True,
    timings: dict[str, float] | None = None,
):
    """Sample ``model`` with NUTS; return InferenceData with every group lossbridge uses.

    Groups: posterior (theta, beta, scale), sample_stats, observed_data, and with
    ``pointwise`` also log_likelihood (pointwise, for LOO) and posterior_predictive.
    Seconds are added to ``timings``: ``nuts`` (the sampling loop, as PyMC measures
    it), ``sampler_setup`` (the rest of ``pm.sample``: compilation, worker processes,
    pointwise log-likelihood) and ``posterior_predictive``.
    """
    timings = {} if timings is None else timings
    for key in ("nuts", "sampler_setup", "posterior_predictive"):
        timings.setdefault(key, 0.0)
    rng = np.random.default_rng(seed)
    cores = options.resolved_cores
    if cores > 1:
        single_threaded_blas_for_workers()
    initvals = _dispersed_starts(spec, design, rotation, estimate, options.chains, rng)
    clock = time.perf_counter()
    with model, _quiet_pymc_logger():
        idata = pm.sample(
            draws=options.draws,
            tune=options.tune,
            chains=options.chains,
            cores=cores,
            init="adapt_diag",
            initvals=initvals,
            target_accept=options.target_accept,
            random_seed=int(rng.integers(2**31)),
            progressbar=options.show_progress,
            blas_cores=cores,
            idata_kwargs={"log_likelihood": pointwise},
            compute_convergence_checks=False,
        )
        total = time.perf_counter() - clock
        nuts = float(idata.posterior.attrs.get("sampling_time", 0.0))
        timings["nuts"] += nuts
        timings["sampler_setup"] += total - nuts
        if not pointwise:
            return idata
        clock = time.perf_counter()
        with warnings.catch_warnings():
            # Weak priors are a Potential on beta; predictions given posterior draws do not
            # depend on it, so PyMC's warning about ignored Potentials does not apply.
            warnings.filterwarnings("ignore", message="The effect of Potentials")
            pm.sample_posterior_predictive(
                idata,
                var_names=[OBSERVED],
                random_seed=int(rng.integers(2**31)),
                progressbar=False,
                extend_inferencedata=True,
            )
        timings["posterior_predictive"] += time.perf_counter() - clock
    return idata


@contextlib.contextmanager
def _quiet_pymc_logger():
    """PyMC logs each step at INFO; lossbridge prints its own progress lines instead."""
    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _dispersed_starts(spec, design, rotation, estimate, chains, rng) -> list[dict]:
    """Per-chain starting points: MAP plus noise of about twice the posterior sd.

    In rotated coordinates the likelihood's curvature is n (scale / y_scale)^-2 per axis
    (Q*'Q* = n I), so the posterior sd of each theta is about scale / (y_scale sqrt(n)).
    """
    sd = estimate.scale / (rotation.y_scale * np.sqrt(design.n))
    starts = []
    for _ in range(chains):
        start = {ROTATED: estimate.theta + 2.0 * sd * rng.standard_normal(design.k)}
        if spec.scale == "learned":
            spread = np.exp(rng.normal(0.0, 2.0 / np.sqrt(design.n)))
            start[spec.family.scale_name] = estimate.scale * spread
        starts.append(start)
    return starts
