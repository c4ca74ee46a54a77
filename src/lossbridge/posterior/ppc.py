"""Posterior predictive checks: discrepancy statistics, histograms and LOO-PIT, as data.

For each statistic T the posterior predictive p-value is P(T(y_rep) >= T(y)) over
replicated data sets; values near 0 or 1 flag a feature of the data the model does not
reproduce. LOO-PIT values are uniform on (0, 1) for a calibrated model; their largest
distance from the uniform CDF (the Kolmogorov-Smirnov statistic D_m of the m values the
model has: every row, or the LOO subsample) is reported with the 95 % point of D_m for m
independent uniforms, from its exact distribution (``scipy.stats.kstwo``, Simard and
L'Ecuyer 2011), so the reference is right for any m, small or subsampled, and each
model has its own (its m may differ: exact LOO-PIT on every row, PSIS on a subsample).
LOO-PIT values are not independent. Simulated on well-specified Normal models (see the
tests): a subsample of m rows out of many exceeds the reference 5 % of the time, as
independent uniforms do; the LOO-PIT of every row, whose predictive distributions were
fitted to the same rows (the Lilliefors effect), stays further inside: its 95 % point is
about 2/3 of the reference, so the reference is conservative there.

Replicated data sets are generated in chunks and only their statistics and histograms
are kept, so memory does not grow with n x draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import stats

from ..data.design import Design
from ..models.spec import ModelSpec
from .loo import LooEstimator
from .pointwise import CHUNK_ELEMENTS, offset_rows, replicate
from .sampling import ModelDraws

PPC_ELEMENT_BUDGET = 20_000_000  # replicated values per model, beyond HISTOGRAM_DRAWS data sets
HISTOGRAM_DRAWS = 40
HIST_BINS = 40


@dataclass(frozen=True, eq=False)
class StatisticCheck:
    """One discrepancy statistic T: T(y), P(T(y_rep) >= T(y)), and T of each replicate."""

    observed: float
    p_value: float
    replicated: np.ndarray


@dataclass(frozen=True, eq=False)
class PpcHistogram:
    """Densities of y and of ``HISTOGRAM_DRAWS`` replicated data sets on common bins."""

    edges: np.ndarray
    observed: np.ndarray
    replicated: np.ndarray


@dataclass(frozen=True, eq=False)
class PpcResult:
    """The posterior predictive checks of one model; :func:`posterior_predictive_checks`
    builds it. The LOO-PIT distance, its reference and p-value are derived from the
    LOO-PIT values.

    Attributes
    ----------
    statistics : dict of str to StatisticCheck
        Keyed by the statistics' names, in order: the family's own
        (:meth:`lossbridge.families.base.Family.ppc_statistics`: a Categorical's share of
        each level), else those of ``STATISTICS``.
    replicated_draws : int
        Replicated data sets the p-values are computed from.
    histogram : PpcHistogram
    loo_pit : ndarray
        LOO-PIT values (every row, or the LOO subsample's rows).
    pit_estimator : LooEstimator
        The LOO estimator whose predictive gave ``loo_pit`` (exact in closed form,
        PSIS weights of every row, or PSIS on a subsample).
    """

    statistics: dict[str, StatisticCheck]
    replicated_draws: int
    histogram: PpcHistogram
    loo_pit: np.ndarray
    pit_estimator: LooEstimator

    @cached_property
    def loo_pit_ks_distance(self) -> float:
        return ks_distance(self.loo_pit)

    @cached_property
    def loo_pit_ks_reference_95(self) -> float:
        return loo_pit_reference(self.loo_pit.size)

    @cached_property
    def loo_pit_ks_p_value(self) -> float:
        return loo_pit_p_value(self.loo_pit_ks_distance, self.loo_pit.size)

    @property
    def p_values(self) -> dict[str, float]:
        return {name: check.p_value for name, check in self.statistics.items()}

    def as_dict(self) -> dict:
        """The JSON part: p-values and observed statistics, LOO-PIT distance (no draws)."""
        return {
            "p_values": self.p_values,
            "observed": {name: check.observed for name, check in self.statistics.items()},
            "replicated_draws": self.replicated_draws,
            "loo_pit_ks_distance": self.loo_pit_ks_distance,
            "loo_pit_ks_reference_95": self.loo_pit_ks_reference_95,
            "loo_pit_ks_p_value": self.loo_pit_ks_p_value,
            "loo_pit_values": int(np.size(self.loo_pit)),
        }


def _mad(values: np.ndarray, axis: int) -> np.ndarray:
    median = np.median(values, axis=axis, keepdims=True)
    return np.mean(np.abs(values - median), axis=axis)


def _statistics_of(chosen: dict, values: np.ndarray) -> dict[str, np.ndarray]:
    """Each statistic of ``chosen`` over the rows of ``values`` (replicates, n). For the
    generic set the median is found once and the MAD reuses it: the two partitions of
    n values were half of the check's time at n = 10^6."""
    if chosen is not STATISTICS:
        return {name: statistic(values, axis=1) for name, statistic in chosen.items()}
    out = {name: statistic(values, axis=1) for name, statistic in chosen.items()
           if name not in ("median", "mean abs dev from median")}
    median = np.median(values, axis=1)
    out["median"] = median
    out["mean abs dev from median"] = np.mean(np.abs(values - median[:, None]), axis=1)
    return out


STATISTICS = {
    "mean": lambda v, axis: np.mean(v, axis=axis),
    "sd": lambda v, axis: np.std(v, axis=axis, ddof=1),
    "median": lambda v, axis: np.median(v, axis=axis),
    "mean abs dev from median": _mad,
    "min": lambda v, axis: np.min(v, axis=axis),
    "max": lambda v, axis: np.max(v, axis=axis),
}


def histogram_edges(y: np.ndarray, classes: tuple[str, ...] | None = None) -> np.ndarray:
    """Common bins of the histograms: one per level of a categorical y (codes 0..K-1),
    else ``HIST_BINS`` over y's central range."""
    if classes is not None:
        return np.arange(len(classes) + 1) - 0.5
    low, high = np.quantile(y, [0.001, 0.999])
    span = high - low or 1.0
    return np.linspace(low - 0.1 * span, high + 0.1 * span, HIST_BINS + 1)


def posterior_predictive_checks(spec: ModelSpec, design: Design, draws: ModelDraws,
                                rng: np.random.Generator, pit: np.ndarray,
                                pit_estimator: LooEstimator) -> PpcResult:
    """Discrepancy p-values, replicated statistics, histograms and LOO-PIT for one model."""
    y = design.y
    beta, scale, shape = draws.flat_beta, draws.flat_scale, draws.flat_shape
    total = beta.shape[0]
    used = min(total, max(HISTOGRAM_DRAWS, PPC_ELEMENT_BUDGET // y.size))
    chosen = np.sort(rng.choice(total, size=used, replace=False))
    # Overlaid histograms from random draws: the first ones of ``chosen`` would all be
    # consecutive (autocorrelated) draws of the first chain.
    for_histograms = np.zeros(used, dtype=bool)
    for_histograms[rng.choice(used, size=min(HISTOGRAM_DRAWS, used), replace=False)] = True
    edges = histogram_edges(y, design.classes)
    chosen_statistics = spec.family.ppc_statistics(design.classes) or STATISTICS
    replicated_stats = {name: np.empty(used) for name in chosen_statistics}
    histograms = []
    step = max(1, CHUNK_ELEMENTS // y.size)
    for start in range(0, used, step):
        index = chosen[start:start + step]
        y_rep = replicate(spec.family, design.X, beta[index], scale[index], rng,
                          {name: values[index] for name, values in shape.items()},
                          offset_rows(design))
        for name, values in _statistics_of(chosen_statistics, y_rep).items():
            replicated_stats[name][start:start + index.size] = values
        for row in y_rep[for_histograms[start:start + index.size]]:
            histograms.append(_histogram(row, edges))
    statistics = {}
    for name, statistic in chosen_statistics.items():
        observed = float(statistic(y, axis=0))
        statistics[name] = StatisticCheck(observed,
                                          float(np.mean(replicated_stats[name] >= observed)),
                                          replicated_stats[name])
    histogram = PpcHistogram(edges, _histogram(y, edges),
                             np.array(histograms))
    return PpcResult(statistics, used, histogram, np.asarray(pit, dtype=float), pit_estimator)


def _histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``np.histogram(values, edges, density=True)`` for equally spaced ``edges``, by NumPy's
    fast path for a bin count and range (no sort of the values: O(n), not O(n log n));
    it checks each index against the edges themselves, so the counts are the same."""
    return np.histogram(values, bins=edges.size - 1, range=(edges[0], edges[-1]), density=True)[0]


def ks_distance(pit: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance sup |ECDF(pit) - u| of values in [0, 1] from the uniform CDF."""
    ordered = np.sort(np.asarray(pit, dtype=float))
    m = ordered.size
    grid = np.arange(1, m + 1) / m
    return float(max(np.max(grid - ordered), np.max(ordered - (grid - 1.0 / m))))


def loo_pit_reference(m: int, level: float = 0.95) -> float:
    """``level`` quantile of the KS distance of ``m`` independent uniforms (exact distribution)."""
    return float(stats.kstwo.ppf(level, int(m)))


def loo_pit_p_value(distance: float, m: int) -> float:
    """P(D_m >= distance) for ``m`` independent uniforms."""
    return float(stats.kstwo.sf(distance, int(m)))


def loo_pit_from_weights(y: np.ndarray, y_rep: np.ndarray, log_weights: np.ndarray) -> np.ndarray:
    """LOO-PIT: sum_s w_is 1[y_rep_si <= y_i] with normalised PSIS weights, both (draws, rows)."""
    weights = np.exp(log_weights - log_weights.max(axis=0))
    weights /= weights.sum(axis=0)
    return np.sum(weights * (y_rep <= y[None, :]), axis=0)
