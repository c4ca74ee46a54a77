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

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

import numpy as np

from ..data.design import Design
from ..data.rotation import Rotation
from ..families.base import ClosedFormLoo, Family
from ..models.spec import ModelSpec
from . import arviz_bridge
from .diagnostics import PARETO_K_LIMIT, pareto_k_counts
from .pointwise import at_rows, log_likelihood, lppd_pointwise, offset_rows
from .sampling import ModelDraws

FULL_LOO_MAX_N = 5_000
SUBSAMPLE_SIZE = 2_000
MAX_REFITS = 10
EXACT_METHOD = "exact LOO in closed form"


def exact_basis(family: Family, plug_in: bool) -> str:
    """What a closed-form LOO rests on, in words: ``"Normal likelihood, flat priors; plug-in
    sigma re-estimated without each row"`` (the parenthesis of the JSON's ``loo.method``)."""
    refit = f"; plug-in {family.scale_name} re-estimated without each row" if plug_in else ""
    return f"{family.title} likelihood, flat priors{refit}"


class LooEstimator(StrEnum):
    """Which leave-one-out estimator produced a :class:`LooResult`.

    The values are the short names of the JSON (``fits[].loo.estimator``) and of the
    comparison table's ``loo`` column.
    """

    EXACT = "exact"
    PSIS = "PSIS"
    PSIS_REFITS = "PSIS + refits"
    PSIS_SUBSAMPLE = "PSIS, subsample"


@dataclass(frozen=True, eq=False)
class LooSubsample:
    """The rows of a subsampled LOO and what the difference estimator needs of them.

    ``approximation`` is log p(y_i | posterior mean) for every row, ``elpd_rows`` the
    PSIS values on ``rows``; ``log_weights`` (draws, rows) serve the LOO-PIT and are
    not saved (None after :func:`lossbridge.load`).
    """

    rows: np.ndarray
    elpd_rows: np.ndarray
    approximation: np.ndarray
    log_weights: np.ndarray | None = None

    @cached_property
    def estimate(self) -> dict:
        """:func:`difference_estimator` of the total: ``{"total", "se", "subsampling_se"}``."""
        return difference_estimator(self.approximation, self.elpd_rows, self.rows)

    @property
    def subsampling_se(self) -> float:
        return self.estimate["subsampling_se"]


@dataclass(frozen=True, eq=False)
class LooResult:
    """The leave-one-out result of one model; :func:`compute_loo` builds it.

    The totals are derived from the pointwise values (or, subsampled, from the
    difference estimator on the subsample), so they cannot disagree with them.

    Attributes
    ----------
    estimator : LooEstimator
    p_loo : float
        lppd - elpd_loo (the lppd of every row, or its difference estimate).
    n_samples : int
        Posterior draws the result was computed from.
    pareto_k : ndarray
        Pareto k of each row PSIS ran on (zeros for exact LOO, which has no weights).
    elpd_pointwise : ndarray or None
        log p(y_i | y_-i) of every row; None when subsampled.
    subsample : LooSubsample or None
        Set exactly when ``estimator`` is ``PSIS_SUBSAMPLE``.
    refitted : tuple of int
        Rows whose PSIS value was replaced by an exact refit.
    scale_reestimated : bool
        A scale fixed at its plug-in MLE was re-estimated without each row (true LOO of
        the whole procedure; exact LOO only).
    pit : ndarray or None
        Exact LOO-PIT values from the closed-form predictive (exact LOO only).
    log_weights : ndarray or None
        Normalised PSIS log weights (draws, rows) for the LOO-PIT (full PSIS only; not saved).
    exact_basis : str or None
        What the closed form rests on (exact LOO only), from the family: ``"Normal
        likelihood, flat priors"``.
    """

    estimator: LooEstimator
    p_loo: float
    n_samples: int
    pareto_k: np.ndarray
    elpd_pointwise: np.ndarray | None = None
    subsample: LooSubsample | None = None
    refitted: tuple[int, ...] = field(default=())
    scale_reestimated: bool = False
    pit: np.ndarray | None = None
    log_weights: np.ndarray | None = None
    exact_basis: str | None = None

    def __post_init__(self) -> None:
        estimator = LooEstimator(self.estimator)
        object.__setattr__(self, "estimator", estimator)
        object.__setattr__(self, "refitted", tuple(sorted(int(i) for i in self.refitted)))
        object.__setattr__(self, "pareto_k", np.asarray(self.pareto_k, dtype=float))
        subsampled = estimator is LooEstimator.PSIS_SUBSAMPLE
        if subsampled != (self.subsample is not None) or subsampled == (self.elpd_pointwise is not None):
            raise ValueError(f"a {estimator.value!r} LOO result needs "
                             + ("a subsample and no pointwise values" if subsampled
                                else "pointwise values and no subsample"))
        if (estimator is LooEstimator.PSIS_REFITS) != bool(self.refitted):
            raise ValueError(f"refitted rows {list(self.refitted)} do not match the estimator "
                             f"{estimator.value!r}")
        if self.scale_reestimated and estimator is not LooEstimator.EXACT:
            raise ValueError("only exact LOO re-estimates a plug-in scale without each row")
        if self.exact_basis is not None and estimator is not LooEstimator.EXACT:
            raise ValueError("exact_basis (what a closed form rests on) is for exact LOO only")

    @property
    def method(self) -> str:
        """The estimator in words (the JSON's ``loo.method``)."""
        if self.estimator is LooEstimator.EXACT:
            return EXACT_METHOD if self.exact_basis is None else f"{EXACT_METHOD} ({self.exact_basis})"
        if self.estimator is LooEstimator.PSIS_REFITS:
            return (f"PSIS-LOO with exact refits for {len(self.refitted)} observation(s) "
                    f"with Pareto k > {PARETO_K_LIMIT}")
        if self.estimator is LooEstimator.PSIS_SUBSAMPLE:
            return (f"PSIS-LOO with subsampling ({self.subsample.rows.size} of "
                    f"{self.n_data_points} rows, difference estimator)")
        return "PSIS-LOO"

    @property
    def n_data_points(self) -> int:
        if self.subsample is not None:
            return int(self.subsample.approximation.size)
        return int(self.elpd_pointwise.size)

    @cached_property
    def elpd_loo(self) -> float:
        if self.subsample is not None:
            return self.subsample.estimate["total"]
        return float(self.elpd_pointwise.sum())

    @cached_property
    def se(self) -> float:
        """Standard error of elpd_loo; subsampled, the subsampling error is added."""
        if self.subsample is not None:
            estimate = self.subsample.estimate
            return float(np.sqrt(estimate["se"] ** 2 + estimate["subsampling_se"] ** 2))
        return float((self.elpd_pointwise.size * np.var(self.elpd_pointwise)) ** 0.5)

    @cached_property
    def elpd_data(self):
        """ArviZ's ELPDData for ``az.compare``; None when subsampled (it needs every row)."""
        if self.elpd_pointwise is None:
            return None
        return arviz_bridge.elpd_data(self.elpd_pointwise, self.p_loo, self.n_samples,
                                      self.pareto_k)

    def as_dict(self) -> dict:
        """The JSON of ``fits[].loo`` (no arrays)."""
        exact = self.estimator is LooEstimator.EXACT
        out = {
            "method": self.method,
            "elpd_loo": self.elpd_loo,
            "se": self.se,
            "p_loo": self.p_loo,
            "estimator": self.estimator.value,
            # exact LOO has no importance weights, hence no Pareto k
            "pareto_k_counts": None if exact else pareto_k_counts(self.pareto_k),
            "max_pareto_k": (float(np.max(self.pareto_k))
                             if not exact and self.pareto_k.size else None),
            "refitted_rows": list(self.refitted),
        }
        if self.subsample is not None:
            out["subsample_size"] = int(self.subsample.rows.size)
            out["subsampling_se"] = self.subsample.subsampling_se
        return out


def is_plug_in(scale: str, source: str | None) -> bool:
    """True for a fixed scale set to its maximum-likelihood value from the same data.

    ``source`` is ``ModelSpec.fixed_scale_source``: a plug-in's starts ``"plug-in"``, a
    user value's is ``"user value (...)"`` (also readable from a saved analysis' JSON).
    """
    return scale == "fixed" and (source or "").startswith("plug-in")


def closed_form(spec: ModelSpec, design: Design, rotation: Rotation) -> ClosedFormLoo | None:
    """Exact leave-one-out of ``spec`` from its family's closed form, or None where none applies.

    Closed forms hold under flat priors only; the family decides the rest (for the
    Normal: enough rows, and no row that alone determines a coefficient).
    """
    # Weak priors, a penalty or a modelled scale: no closed form.
    if not spec.flat_priors or spec.modelled_scale:
        return None
    return spec.family.exact_loo(design, rotation, spec.scale, spec.fixed_scale,
                                 spec.fixed_scale_is_plug_in)


def compute_loo(spec: ModelSpec, design: Design, rotation: Rotation, draws: ModelDraws,
                log_lik: np.ndarray | None, subsample: np.ndarray | None,
                refit=None, closed: ClosedFormLoo | None = None) -> LooResult:
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
    beta, scale, shape = draws.flat_beta, draws.flat_scale, draws.flat_shape
    n_samples = int(beta.shape[0])
    exact = closed if closed is not None else closed_form(spec, design, rotation)
    if exact is not None:
        if subsample is None:
            lppd = float(lppd_pointwise(family, design.X, design.y, beta, scale, shape,
                                        offset_rows(design)).sum())
        else:  # only p_loo needs lppd; on large data estimate it on the subsample
            approx = family.logpdf(design.y, family.link.inverse(design.linear_predictor(beta.mean(axis=0))),
                                   scale.mean(), **_posterior_mean(shape))
            rows_lppd = lppd_pointwise(family, design.X[subsample], design.y[subsample], beta,
                                       at_rows(scale, subsample), shape,
                                       offset_rows(design, subsample))
            lppd = difference_estimator(approx, rows_lppd, subsample)["total"]
        pointwise = exact.elpd_pointwise
        return LooResult(LooEstimator.EXACT, float(lppd - pointwise.sum()), n_samples,
                         np.zeros(design.n), elpd_pointwise=pointwise,
                         scale_reestimated=spec.fixed_scale_is_plug_in, pit=exact.pit,
                         exact_basis=exact_basis(family, spec.fixed_scale_is_plug_in))
    if log_lik is not None:
        weights = arviz_bridge.psis(log_lik, _posterior(draws))
        lppd = float(weights["lppd_pointwise"].sum())
        pointwise, refitted = weights["elpd_pointwise"], {}
        bad = np.flatnonzero(weights["pareto_k"] > PARETO_K_LIMIT)
        if refit is not None and 0 < bad.size <= MAX_REFITS:
            # as az.reloo: exact values replace PSIS ones; Pareto k stays as measured
            refitted = refit(bad)
            pointwise = pointwise.copy()
            for index, value in refitted.items():
                pointwise[index] = value
        return LooResult(LooEstimator.PSIS_REFITS if refitted else LooEstimator.PSIS,
                         float(lppd - pointwise.sum()), n_samples, weights["pareto_k"],
                         elpd_pointwise=pointwise, refitted=tuple(refitted),
                         log_weights=weights["log_weights"])
    return _subsampled(spec, design, draws, subsample)


def _subsampled(spec: ModelSpec, design: Design, draws: ModelDraws, rows: np.ndarray) -> LooResult:
    family = spec.family
    beta, scale, shape = draws.flat_beta, draws.flat_scale, draws.flat_shape
    m = rows.size
    approx = family.logpdf(design.y, family.link.inverse(design.linear_predictor(beta.mean(axis=0))),
                           scale.mean(), **_posterior_mean(shape))
    chains, per_chain = draws.beta.shape[:2]
    block = log_likelihood(family, design.X[rows], design.y[rows], beta, at_rows(scale, rows),
                           shape, offset_rows(design, rows))
    psis = arviz_bridge.psis(block.reshape(chains, per_chain, m), _posterior(draws))
    sample = LooSubsample(rows, psis["elpd_pointwise"], approx, psis["log_weights"])
    lppd = difference_estimator(approx, psis["lppd_pointwise"], rows)["total"]
    return LooResult(LooEstimator.PSIS_SUBSAMPLE, float(lppd - sample.estimate["total"]),
                     int(beta.shape[0]), psis["pareto_k"], subsample=sample)


def _posterior_mean(shape: dict) -> dict:
    """Learned shape parameters at their posterior means (the difference estimator's point)."""
    return {name: float(np.mean(values)) for name, values in shape.items()}


def _posterior(draws: ModelDraws) -> dict:
    out = {"beta": draws.beta}
    if draws.scale is not None:
        out["scale"] = draws.scale
    if draws.gamma is not None:
        out["gamma"] = draws.gamma
    out.update(draws.shape)  # learned shape parameters count towards r_eff too
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
