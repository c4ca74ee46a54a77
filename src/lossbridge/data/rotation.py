"""QR-rotated, standardised coefficients: the parameterisation every model uses inside.

With column norms D, the thin QR factorisation ``X D = Q R`` and ``Q* = sqrt(n) Q``,
``R* = R / sqrt(n)``, the linear predictor is ``mu = s Q* theta`` where ``s`` is the
response scale (sd(y); 1 for a family whose link is not the identity, whose eta is on
the link's scale: :meth:`Rotation.for_family`). Then ``beta = s D R*^{-1} theta``.
Under the likelihood the rotated
coefficients ``theta`` are uncorrelated with equal curvature, whatever the collinearity
or units of X: optimisers and samplers see a round problem. The map is linear, so a
flat prior on theta is a flat prior on beta and the MAP is the same point.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.linalg


@dataclass(frozen=True, eq=False)
class Rotation:
    """The linear map between rotated coefficients ``theta`` and ``beta``."""

    Q: np.ndarray  # (n, k), Q* = sqrt(n) Q, so Q*'Q* = n I
    R: np.ndarray  # (k, k) upper triangular R* = R / sqrt(n)
    column_norms: np.ndarray  # (k,)
    y_scale: float

    @classmethod
    def from_design(cls, X: np.ndarray, y: np.ndarray) -> Rotation:
        n = X.shape[0]
        norms = np.linalg.norm(X, axis=0)
        q, r = np.linalg.qr(X / norms, mode="reduced")
        root_n = np.sqrt(n)
        spread = float(np.std(y))
        y_scale = spread if spread > 0 else float(np.max(np.abs(y))) or 1.0
        return cls(Q=q * root_n, R=r / root_n, column_norms=norms, y_scale=y_scale)

    def for_family(self, family) -> Rotation:
        """This rotation with the family's coordinate scale s (``Family.coordinate_scale``
        of sd(y)): itself for an identity link, s = 1 on a link's eta scale (sd(y) of a
        count is not the size of a unit of eta). Idempotent, so every stage may apply it."""
        scale = family.coordinate_scale(self.y_scale)
        return self if scale == self.y_scale else replace(self, y_scale=float(scale))

    @property
    def beta_from_theta_matrix(self) -> np.ndarray:
        """Matrix ``T`` with ``beta = T theta`` (for graphs; prefer :meth:`to_beta` for accuracy)."""
        eye = np.eye(self.R.shape[0])
        return self.y_scale * scipy.linalg.solve_triangular(self.R, eye) / self.column_norms[:, None]

    def to_beta(self, theta: np.ndarray) -> np.ndarray:
        """Map rotated coefficients (last axis) to the original ``beta``."""
        theta = np.asarray(theta, dtype=float)
        flat = theta.reshape(-1, theta.shape[-1]).T
        beta = scipy.linalg.solve_triangular(self.R, flat * self.y_scale)
        return (beta / self.column_norms[:, None]).T.reshape(theta.shape)

    def to_theta(self, beta: np.ndarray) -> np.ndarray:
        """Map original coefficients (last axis) to rotated ``theta``."""
        beta = np.asarray(beta, dtype=float)
        flat = beta.reshape(-1, beta.shape[-1]).T
        theta = self.R @ (flat * self.column_norms[:, None]) / self.y_scale
        return theta.T.reshape(beta.shape)

    def leverages(self) -> np.ndarray:
        """Diagonal of the hat matrix: ||Q*_i||^2 / n (Q*'Q* = n I)."""
        return np.sum(self.Q**2, axis=1) / self.Q.shape[0]

    def xtx_inverse(self) -> np.ndarray:
        """(X'X)^-1 from the triangular factor (X D = sqrt(n) Q* ... R*), stably."""
        k = self.R.shape[0]
        n = self.Q.shape[0]
        r_inv = scipy.linalg.solve_triangular(self.R, np.eye(k))
        scaled = r_inv @ r_inv.T / n  # (D X'X D)^-1
        return scaled / np.outer(self.column_norms, self.column_norms)
