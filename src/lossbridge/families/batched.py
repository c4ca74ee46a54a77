"""Summed log-likelihoods of many coefficient vectors at once, in NumPy.

The independence sampler (:mod:`lossbridge.posterior.independence`) evaluates a model's
log-likelihood at thousands of proposals. Evaluating them one by one through PyTensor
costs a compiled call each; here one call takes a batch ``theta`` of shape (S, k) in the
rotated coordinates of :mod:`lossbridge.data.rotation` and scales of shape (S,), and
returns the S summed log-likelihoods. Three forms, chosen by the family
(:meth:`lossbridge.families.base.Family.batch_log_likelihood`):

* :class:`GenericBatch`: the family's own NumPy ``logpdf`` on eta = s Q* theta, in
  chunks of proposals so that no n × S array is held (O(n k S) work);
* :class:`QuadraticBatch`: the Normal's sufficient statistics, O(k²) per proposal;
* :class:`CanonicalBatch`: a canonical-link exponential family (the Poisson), whose
  y-terms are sufficient statistics: one pass of the cumulant per proposal;
* :class:`PiecewiseLinearBatch`: a loss that is linear on each side of zero (the
  Laplace's |r|, the quantile's pinball loss). Around the MAP, a row whose residual is
  far from zero cannot change sign for any proposal within distance D of it
  (|r_i(theta)| >= |r_i| - s ||q_i|| D), so its loss is linear in theta there and the
  sum over all such rows is a suffix sum, precomputed once. Only the rows near zero
  (about sqrt(n) of them under a posterior of width 1/sqrt(n)) are evaluated one by
  one: exact, and O(sqrt(n) k) per proposal instead of O(n k).

Each form is proven equal to the family's summed ``logpdf`` in the tests.
"""

from __future__ import annotations

import numpy as np

# Rows × proposals held at once by the chunked forms (64 MB of float64; fewer passes
# over Q* than smaller chunks: 30 against 57 ms per proposal at n = 10^6, Poisson).
CHUNK_ELEMENTS = 8_000_000
# Proposals evaluated together by the piecewise-linear form (sorted by distance, so
# that one group's exact rows are those of its farthest proposal).
GROUP = 128


def _rotated(rotation):
    return rotation.Q, float(rotation.y_scale)


class GenericBatch:
    """Sum over rows of ``family.logpdf(y, link^-1(s Q* theta + offset), scale)``."""

    def __init__(self, family, design, rotation):
        self.family = family
        self.q, self.s = _rotated(rotation)
        self.y = design.y
        self.offset = design.offset

    def __call__(self, theta: np.ndarray, scale: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        scale = np.broadcast_to(np.asarray(scale, dtype=float), theta.shape[:1])
        n = self.q.shape[0]
        out = np.empty(theta.shape[0])
        step = max(1, CHUNK_ELEMENTS // max(n, 1))
        for start in range(0, theta.shape[0], step):
            part = slice(start, start + step)
            eta = self.s * (self.q @ theta[part].T)  # (n, chunk)
            if self.offset is not None:
                eta += self.offset[:, None]
            mu = self.family.link.inverse(eta)
            out[part] = self.family.logpdf(self.y[:, None], mu, scale[part][None, :]).sum(axis=0)
        return out


class CanonicalBatch:
    """An exponential family with its canonical link: log f = y eta - A(eta) + c(y), so the
    sum over rows is s (Q*'y)' theta + y'offset - sum A(eta) + sum c(y): the y-terms are
    sufficient statistics, computed once, and each proposal costs one pass of A (the
    Poisson's exp) instead of the full density (its log-gamma of every y, every time)."""

    def __init__(self, design, rotation, cumulant, constant: float):
        self.q, self.s = _rotated(rotation)
        self.offset = design.offset
        self.cumulant = cumulant
        self.linear = self.s * (self.q.T @ design.y)
        self.constant = float(constant) + (0.0 if design.offset is None
                                           else float(design.y @ design.offset))

    def __call__(self, theta: np.ndarray, scale: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        n = self.q.shape[0]
        out = theta @ self.linear + self.constant
        step = max(1, CHUNK_ELEMENTS // max(n, 1))
        for start in range(0, theta.shape[0], step):
            part = slice(start, start + step)
            eta = self.s * (self.q @ theta[part].T)
            if self.offset is not None:
                eta += self.offset[:, None]
            out[part] -= self.cumulant(eta).sum(axis=0)
        return out


class QuadraticBatch:
    """The Normal: RSS(theta) = RSS_min + s² (theta - theta_hat)' G (theta - theta_hat)."""

    LOG_2PI = float(np.log(2.0 * np.pi))

    def __init__(self, statistics):
        self.stats = statistics

    def __call__(self, theta: np.ndarray, scale: np.ndarray) -> np.ndarray:
        st = self.stats
        delta = np.atleast_2d(theta) - st.theta_hat
        rss = st.rss_min + st.y_scale**2 * np.einsum("sj,jk,sk->s", delta, st.gram, delta)
        scale = np.asarray(scale, dtype=float)
        return -st.n * np.log(scale) - 0.5 * st.n * self.LOG_2PI - rss / (2.0 * scale**2)


class PiecewiseLinearBatch:
    """-n log c(scale) - L(theta)/scale for a loss L = sum rho(r_i), rho linear on each side
    of zero: rho(r) = below * r for r < 0 and above * r for r >= 0 (see module docstring).

    ``log_normaliser(scale)``: the density's -log of its constant per row (log 2b for the
    Laplace). ``centre``: the rotated coefficients the rows are sorted around (the MAP).
    """

    def __init__(self, design, rotation, centre: np.ndarray, below: float, above: float,
                 log_normaliser):
        q, s = _rotated(rotation)
        self.n, self.s = design.n, s
        self.below, self.above = float(below), float(above)
        self.log_normaliser = log_normaliser
        self.centre = np.asarray(centre, dtype=float)
        residual = design.y - s * (q @ self.centre)
        reach = s * np.sqrt(np.sum(q**2, axis=1))
        with np.errstate(divide="ignore", invalid="ignore"):
            distance = np.where(reach > 0, np.abs(residual) / reach, np.inf)
        order = np.argsort(distance, kind="stable")
        # A row with distance t keeps its sign for every proposal with ||delta|| < t; a
        # zero residual (t = 0) is always evaluated.
        self.distance = distance[order]
        self.q = np.ascontiguousarray(q[order])
        self.residual = residual[order]
        slope = np.where(self.residual < 0, self.below, self.above)
        # suffix sums: rows [m, n) contribute A[m] - s B[m]' delta
        self.suffix_value = np.append(np.cumsum((slope * self.residual)[::-1])[::-1], 0.0)
        # suffix sums of slope * q, built in place (one n x k array, not three)
        self.suffix_gradient = np.zeros((design.n + 1, q.shape[1]))
        np.multiply(slope[:, None], self.q, out=self.suffix_gradient[:-1])
        np.cumsum(self.suffix_gradient[-2::-1], axis=0, out=self.suffix_gradient[-2::-1])

    def loss(self, theta: np.ndarray) -> np.ndarray:
        """L(theta) for each row of ``theta`` (S, k)."""
        delta = np.atleast_2d(theta) - self.centre
        radius = np.sqrt(np.sum(delta**2, axis=1))
        order = np.argsort(radius, kind="stable")
        out = np.empty(delta.shape[0])
        for start in range(0, delta.shape[0], GROUP):
            members = order[start:start + GROUP]
            # strictly farther than the group's largest radius: the sign cannot change
            m = int(np.searchsorted(self.distance, radius[members].max(), side="right"))
            # far proposals need many exact rows: at most CHUNK_ELEMENTS values at once
            step = max(1, CHUNK_ELEMENTS // max(m, 1))
            for first in range(0, members.size, step):
                chunk = members[first:first + step]
                part = delta[chunk]
                value = self.suffix_value[m] - self.s * (part @ self.suffix_gradient[m])
                if m:
                    r = self.residual[:m, None] - self.s * (self.q[:m] @ part.T)
                    value = value + np.where(r < 0, self.below * r, self.above * r).sum(axis=0)
                out[chunk] = value
        return out

    def __call__(self, theta: np.ndarray, scale: np.ndarray) -> np.ndarray:
        scale = np.asarray(scale, dtype=float)
        return -self.n * self.log_normaliser(scale) - self.loss(theta) / scale
