"""Pointwise log-likelihoods and posterior predictive draws, computed in chunks.

Nothing here holds an n x draws matrix larger than ``CHUNK_ELEMENTS`` at once unless
the caller asks for the whole matrix (small n).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.design import linear_predictor
from ..families.base import Family

CHUNK_ELEMENTS = 2_000_000  # ~16 MB of float64 per chunk


@dataclass(frozen=True, eq=False)
class RowScales:
    """Per-row scales exp(Z_i gamma_s) of a heteroscedastic model, for draws of gamma.

    Stands where the other models pass a (draws,) vector of scales: indexing selects
    draws (``scale[index]``), :meth:`at_rows` selects rows, and the (draws, rows) matrix
    is formed only for the rows of one chunk.
    """

    gamma: np.ndarray  # (draws, p)
    Z: np.ndarray  # (rows, p)

    def __getitem__(self, index) -> RowScales:
        return RowScales(self.gamma[index], self.Z)

    def at_rows(self, rows) -> RowScales:
        return RowScales(self.gamma, self.Z[rows])

    def matrix(self) -> np.ndarray:
        """(draws, rows) scales."""
        return np.exp(self.gamma @ self.Z.T)

    def mean(self) -> np.ndarray:
        """Each row's scale at the posterior mean of gamma (the subsampled LOO's approximation)."""
        return np.exp(self.Z @ self.gamma.mean(axis=0))


def at_rows(scale, rows):
    """``scale`` for a subset of rows: unchanged for one scale per draw."""
    return scale.at_rows(rows) if isinstance(scale, RowScales) else scale


def _per_draw(scale) -> np.ndarray:
    return scale.matrix() if isinstance(scale, RowScales) else scale[:, None]


def logsumexp(values: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """log sum exp over ``axis``, stable for large and -inf values.

    Plain numpy: SciPy 1.17's ``scipy.special.logsumexp`` (array-API dispatch) took 6x as
    long on a 4000 x 1000 matrix here, and the LOO stages call this on every such matrix.
    """
    values = np.asarray(values, dtype=float)
    peak = np.max(values, axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)  # all -inf stays -inf; +inf stays +inf
    with np.errstate(divide="ignore", over="ignore"):  # log(0) = -inf; a +inf value gives +inf
        total = np.log(np.sum(np.exp(values - peak), axis=axis, keepdims=True)) + peak
    return total.item() if axis is None else np.squeeze(total, axis=axis)


def _shape_per_draw(shape: dict | None) -> dict:
    """Learned shape draws ({"nu": (draws,)}) as keywords broadcasting over the rows."""
    return {name: np.asarray(values)[:, None] for name, values in (shape or {}).items()}


def offset_rows(design, rows=slice(None)) -> np.ndarray | None:
    """The design's offset (log exposure) at ``rows``, or None without one."""
    return None if design.offset is None else design.offset[rows]


def _eta(X: np.ndarray, beta: np.ndarray, offset: np.ndarray | None,
         family: Family) -> np.ndarray:
    # (draws, rows), or (draws, rows, m) for a categorical response's m blocks
    eta = linear_predictor(X, beta, by_level=family.categorical_response)
    return eta if offset is None else eta + (offset if eta.ndim == beta.ndim else offset[:, None])


def log_likelihood(family: Family, X: np.ndarray, y: np.ndarray, beta: np.ndarray,
                   scale: np.ndarray, shape: dict | None = None,
                   offset: np.ndarray | None = None) -> np.ndarray:
    """(draws, rows) matrix of log p(y_i | beta_s, scale_s, shape_s) for the given rows
    (``scale``: (draws,) or :class:`RowScales` for those rows; ``shape``: each learned
    shape parameter's draws, ``ModelDraws.flat_shape``; ``offset``: those rows' offset,
    :func:`offset_rows`)."""
    mu = family.link.inverse(_eta(X, beta, offset, family))
    return family.logpdf(y[None, :], mu, _per_draw(scale), **_shape_per_draw(shape))


def lppd_pointwise(family: Family, X: np.ndarray, y: np.ndarray, beta: np.ndarray,
                   scale: np.ndarray, shape: dict | None = None,
                   offset: np.ndarray | None = None) -> np.ndarray:
    """log mean_s p(y_i | theta_s) for every row, chunked over rows."""
    draws = beta.shape[0]
    rows = max(1, CHUNK_ELEMENTS // draws)
    out = np.empty(y.size)
    for start in range(0, y.size, rows):
        block = log_likelihood(family, X[start:start + rows], y[start:start + rows], beta,
                               at_rows(scale, slice(start, start + rows)), shape,
                               None if offset is None else offset[start:start + rows])
        out[start:start + rows] = logsumexp(block, axis=0) - np.log(draws)
    return out


def replicate(family: Family, X: np.ndarray, beta: np.ndarray, scale: np.ndarray,
              rng: np.random.Generator, shape: dict | None = None,
              offset: np.ndarray | None = None) -> np.ndarray:
    """(draws, n) posterior predictive draws y_rep ~ p(. | mu_s = g^-1(X beta_s), scale_s,
    shape_s)."""
    mu = family.link.inverse(_eta(X, beta, offset, family))
    return family.replicate(mu, _per_draw(scale), rng, **_shape_per_draw(shape))
