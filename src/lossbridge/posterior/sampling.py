"""Posterior sampling: one function hides the sampler choice (NUTS or independence MH).

PyMC's own NUTS (C backend) is used: measured on this 2-core machine, it finishes the
four small-data models sooner end to end than nutpie, whose numba compilation costs
several seconds per model (see README, "Sampler choice"). All models of an analysis
are sampled in one run (:mod:`lossbridge.models.joint`). Chains start at small,
overdispersed perturbations of the MAP in the rotated coordinates, where the
posterior is close to isotropic and standardised by the MAP scale. With several
worker processes, BLAS is kept
single-threaded in each (PyMC's ``blas_cores`` plus the OpenBLAS/OpenMP environment
of the worker processes) so that parallel chains do not oversubscribe the cores.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pymc as pm

from ..core.validation import check_positive_int
from ..data.design import Design
from ..data.rotation import Rotation
from ..estimation.map import MapEstimate
from ..models.joint import block_name, build_joint_model, log_scale_unit, shape_coordinate
from ..models.spec import NO_SCALE_VALUE, ModelSpec
from .independence import DEGREES_OF_FREEDOM, SAMPLER_CHOICES, Declined, independence_sample
from .pointwise import RowScales

_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class SamplerOptions:
    """Sampler settings shared by every model of an analysis.

    ``sampler``: "auto" samples each model by independence Metropolis-Hastings from its
    MAP where that model's proposal passes its tests (Pareto k̂, bounded weights)
    (:mod:`lossbridge.posterior.independence`) and by NUTS otherwise; "nuts" samples
    every model by NUTS.
    """

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    cores: int | None = None
    target_accept: float = 0.8
    progress: bool | None = None  # None: show progress bars on a terminal only
    sampler: str = "auto"

    def __post_init__(self) -> None:
        check_positive_int("draws", self.draws)
        check_positive_int("tune", self.tune)
        check_positive_int("chains", self.chains)
        if self.cores is not None:
            check_positive_int("cores", self.cores)
        if self.sampler not in SAMPLER_CHOICES:
            raise ValueError(f"sampler {self.sampler!r}: one of {SAMPLER_CHOICES}")

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


@dataclass(frozen=True, eq=False)
class ModelDraws:
    """One model's draws, shaped (chain, draw, ...), and the run's sampler statistics."""

    theta: np.ndarray
    beta: np.ndarray
    scale: np.ndarray | None  # None for a fixed scale
    sample_stats: object  # xarray Dataset of the (joint) NUTS run
    fixed_scale: float | None = None
    run_models: tuple[str, ...] = ()  # every model of that NUTS run (they share its statistics)
    gamma: np.ndarray | None = None  # a modelled scale's coefficients (chain, draw, p)
    scale_design: np.ndarray | None = None  # its Z (n, p)
    # Draws of each learned shape parameter ({"nu": (chain, draw)}); empty when none is learned.
    shape: dict = field(default_factory=dict)
    # "nuts" (PyMC's NUTS) or "independence" (independence Metropolis-Hastings from the MAP,
    # posterior/independence.py); ``independence`` holds that run's acceptance and Pareto k̂.
    method: str = "nuts"
    independence: dict | None = None

    @property
    def nuts(self) -> bool:
        return self.method == "nuts"

    @property
    def flat_beta(self) -> np.ndarray:
        return self.beta.reshape(-1, self.beta.shape[-1])

    @property
    def flat_scale(self) -> np.ndarray | RowScales:
        """(draws,) scales, or for a modelled scale the :class:`RowScales` of every row."""
        if self.gamma is not None:
            return RowScales(self.gamma.reshape(-1, self.gamma.shape[-1]), self.scale_design)
        if self.scale is not None:
            return self.scale.reshape(-1)
        return np.full(self.flat_beta.shape[0], self.fixed_scale)

    @property
    def flat_shape(self) -> dict[str, np.ndarray]:
        """Each learned shape parameter's draws, flattened like :attr:`flat_scale`: the
        keywords the density's NumPy methods take (``logpdf(..., nu=)``)."""
        return {name: values.reshape(-1) for name, values in self.shape.items()}


def sample_models(
    specs: list[ModelSpec],
    design: Design,
    rotation: Rotation,
    estimates: list[MapEstimate],
    options: SamplerOptions,
    seed: int,
    timings: dict[str, float] | None = None,
) -> dict[str, ModelDraws]:
    """Sample every model of ``specs`` in one NUTS run (see :mod:`lossbridge.models.joint`).

    Seconds are added to ``timings``: ``nuts`` (the sampling loop, as PyMC measures it)
    and ``sampler_setup`` (the rest of ``pm.sample``: compilation and worker processes).
    """
    timings = {} if timings is None else timings
    for key in ("nuts", "sampler_setup", "independence"):
        timings.setdefault(key, 0.0)
    out: dict[str, ModelDraws] = {}
    declined: dict[str, str] = {}
    if options.sampler == "auto":
        clock = time.perf_counter()
        independent_rng = np.random.default_rng([seed, 1])
        for spec, estimate in zip(specs, estimates, strict=True):
            result = independence_draws(spec, design, rotation, estimate, options, independent_rng)
            if isinstance(result, ModelDraws):
                out[spec.name] = result
            else:
                declined[spec.name] = result
        timings["independence"] += time.perf_counter() - clock
    rest = [(spec, estimate) for spec, estimate in zip(specs, estimates, strict=True)
            if spec.name not in out]
    if rest:
        nuts = _nuts_models([s for s, _ in rest], design, rotation, [e for _, e in rest],
                            options, seed, timings)
        for name, draws in nuts.items():
            out[name] = (dataclasses.replace(draws, independence={"declined": declined[name]})
                         if name in declined else draws)
    return {spec.name: out[spec.name] for spec in specs}


def independence_unsupported(spec: ModelSpec) -> str | None:
    """Why ``spec``'s posterior is not offered to the independence sampler, or None.

    It needs the NumPy log-density of the joint model's block (flat priors, no penalty, a
    constant scale, no learned shape parameter, not a categorical response) and a
    unimodal posterior: a likelihood log-concave in the coefficients
    (``Family.log_concave``; with a learned scale of a location-scale family the
    likelihood is then log-concave in (beta/scale, 1/scale), so still unimodal: Pratt
    1981, "Concavity of the log likelihood", *JASA* 76). A single proposal around one
    mode cannot see a second one, and no test of its weights would.
    """
    family = spec.family
    if spec.priors != "flat" or spec.penalty is not None:
        return "it has priors (the sampler's density is the flat-prior one)"
    if spec.modelled_scale:
        return "its scale is modelled"
    if family.learned_shape:
        return f"it learns {', '.join(p.name for p in family.learned_shape)}"
    if family.categorical_response:
        return "its response is categorical"
    if not family.log_concave:
        return (f"the {family.title} likelihood is not log-concave: its posterior may have "
                "several modes")
    return None


def independence_supported(spec: ModelSpec) -> bool:
    return independence_unsupported(spec) is None


def learned_scale_degrees_of_freedom(n: int, k: int) -> float | None:
    """The proposal's degrees of freedom for a learned-scale model of ``k`` coefficients
    on ``n`` rows, or None when none keeps the importance weights bounded.

    Along the ridge where the scale follows the coefficients (v near log|z|/c), a
    location-scale likelihood profiled over its scale falls like |z|^-(n-1) (the scale
    grows with the residuals: s^-n g(r/s) with s ~ |z|, and the Jacobian s), while a
    multivariate t with nu degrees of freedom in d = k + 1 dimensions falls like
    |z|^-(nu + d). The weights stay bounded iff nu <= n - k - 2; nu = n - k - 3 keeps one
    power of margin, at most the default 7. Straight-line probes do not follow the ridge
    (a reviewer's counterexample: the Normal y ~ 1 at n = 8 passed them with nu = 7).
    """
    nu = min(DEGREES_OF_FREEDOM, float(n - k - 3))
    return nu if nu >= 1.0 else None


def independence_log_target(spec: ModelSpec, design: Design, rotation: Rotation,
                            estimate: MapEstimate):
    """The log posterior density of ``spec`` in the joint model's standardised coordinates
    (z, and v for a learned scale), as a NumPy batch function, or None (not supported).

    The same density the joint model gives NUTS: flat priors on theta and a HalfFlat on the
    scale, scale = scale_MAP exp(c v) with the log-Jacobian log(scale) (+ the constant log c).
    """
    if not independence_supported(spec):
        return None
    family = spec.family
    own = rotation.for_family(family)
    batch = family.batch_log_likelihood(design, own, np.asarray(estimate.theta))
    if batch is None:
        return None
    k, n = design.k, design.n
    centre = np.asarray(estimate.theta, dtype=float)
    unit = estimate.location_scale / (own.y_scale * np.sqrt(n))
    if spec.scale == "learned":
        c = log_scale_unit(spec, n)

        def log_target(x):
            scale = estimate.scale * np.exp(c * x[:, k])
            return batch(centre + unit * x[:, :k], scale) + np.log(scale)

        return log_target
    fixed = spec.fixed_scale if spec.has_scale else NO_SCALE_VALUE

    def log_target_fixed(x):
        return batch(centre + unit * x[:, :k], np.full(x.shape[0], float(fixed)))

    return log_target_fixed


def independence_draws(spec: ModelSpec, design: Design, rotation: Rotation,
                       estimate: MapEstimate, options: SamplerOptions,
                       rng: np.random.Generator) -> ModelDraws | str:
    """``spec`` sampled by :func:`~lossbridge.posterior.independence.independence_sample`,
    or why not (the model is then sampled by NUTS)."""
    reason = independence_unsupported(spec)
    if reason is not None:
        return reason
    log_target = independence_log_target(spec, design, rotation, estimate)
    if log_target is None:
        return "its family has no batch log-likelihood"
    k, n = design.k, design.n
    learned = spec.scale == "learned"
    nu = DEGREES_OF_FREEDOM
    if learned:
        nu = learned_scale_degrees_of_freedom(n, k)
        if nu is None:
            return (f"with a learned scale, n = {n} rows and k = {k} coefficients leave no "
                    "proposal with bounded weights (it needs n >= k + 4)")
    run = independence_sample(log_target, k + int(learned), options.chains, options.draws, rng,
                              degrees_of_freedom=nu)
    if isinstance(run, Declined):
        return run.reason
    own = rotation.for_family(spec.family)
    unit = estimate.location_scale / (own.y_scale * np.sqrt(n))
    theta = np.asarray(estimate.theta) + unit * run.x[..., :k]
    scale = estimate.scale * np.exp(log_scale_unit(spec, n) * run.x[..., k]) if learned else None
    return ModelDraws(theta=theta, beta=own.to_beta(theta), scale=scale,
                      sample_stats={"accepted": run.accepted},
                      fixed_scale=spec.fixed_scale, run_models=(spec.name,),
                      method="independence",
                      independence={"acceptance": run.acceptance, "pareto_k": run.pareto_k,
                                    "degrees_of_freedom": run.degrees_of_freedom,
                                    "adapt_rounds": run.adapt_rounds,
                                    "evaluations": run.evaluations})


def _nuts_models(specs, design, rotation, estimates, options, seed, timings):
    rng = np.random.default_rng(seed)
    cores = options.resolved_cores
    if cores > 1:
        single_threaded_blas_for_workers()
    model = build_joint_model(specs, design, rotation, estimates)
    initvals = [{} for _ in range(options.chains)]
    for spec in specs:
        for chain in range(options.chains):
            # Overdispersed starts: about twice the posterior sd around the MAP.
            start = {block_name(spec, "z"): 2.0 * rng.standard_normal(design.k)}
            if spec.scale == "learned":
                start[block_name(spec, "v")] = 2.0 * rng.standard_normal()
            if spec.modelled_scale:
                start[block_name(spec, "w")] = 2.0 * rng.standard_normal(design.Z.shape[1])
            for parameter in spec.family.learned_shape:
                start[shape_coordinate(spec, parameter.name)] = 2.0 * rng.standard_normal()
            initvals[chain].update(start)
    clock = time.perf_counter()
    with model, _quiet_pymc_logger(), _interrupts_are_fatal() as interrupted:
        try:
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
                compute_convergence_checks=False,
            )
        except Exception:
            # Interrupted before any draw, PyMC fails to build a trace: still an interruption.
            if interrupted["hit"]:
                raise KeyboardInterrupt from None
            raise
    if interrupted["hit"]:
        raise KeyboardInterrupt  # PyMC stops on Ctrl-C and returns what it has; we do not
    total = time.perf_counter() - clock
    nuts = float(idata.posterior.attrs.get("sampling_time", 0.0))
    timings["nuts"] += nuts
    timings["sampler_setup"] += total - nuts
    out = {}
    for spec in specs:
        theta = np.asarray(idata.posterior[block_name(spec, "theta")])
        scale = gamma = None
        if spec.modelled_scale:
            gamma = np.asarray(idata.posterior[block_name(spec, "gamma")])
        if spec.scale == "learned":
            scale = np.asarray(idata.posterior[block_name(spec, spec.family.scale_name)])
        shape = {p.name: np.asarray(idata.posterior[block_name(spec, p.name)])
                 for p in spec.family.learned_shape}
        own = rotation.for_family(spec.family)  # the block's coordinates (coordinate_scale)
        out[spec.name] = ModelDraws(theta=theta, beta=own.to_beta(theta), scale=scale,
                                    sample_stats=idata.sample_stats,
                                    fixed_scale=spec.fixed_scale,
                                    run_models=tuple(s.name for s in specs), gamma=gamma,
                                    scale_design=design.Z if gamma is not None else None,
                                    shape=shape)
    return out


@contextlib.contextmanager
def _interrupts_are_fatal():
    """Remember a Ctrl-C (SIGINT) even though ``pm.sample`` catches it to return early.

    PyMC treats KeyboardInterrupt as "stop and keep the draws so far"; an analysis on
    partial chains would be wrong, so the caller re-raises after ``pm.sample`` returns.
    """
    state = {"hit": False}
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        state["hit"] = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)


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
