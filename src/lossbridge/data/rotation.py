"""QR-rotated, standardised coefficients: the parameterisation every model uses inside.

With column norms D, the thin QR factorisation ``X D = Q R`` and ``Q* = sqrt(n) Q``,
``R* = R / sqrt(n)``, the linear predictor is ``mu = s Q* theta`` where ``s`` is the
response scale (sd(y); 1 for a family whose link is not the identity, whose eta is on
the link's scale: :meth:`Rotation.for_family`). Then ``beta = s D R*^{-1} theta``.
Under the likelihood the rotated
coefficients ``theta`` are uncorrelated with equal curvature, whatever the collinearity
or units of X: optimisers and samplers see a round problem. The map is linear, so a
flat prior on theta is a flat prior on beta and the MAP is the same point.

A categorical response has m = K - 1 linear predictors per row, eta = X B with B of
shape (p, m): theta then holds m blocks of p rotated coefficients, level by level (the
order of ``Design.terms``), each block rotated by the same Q and R (``blocks`` = m).
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
    blocks: int = 1  # linear predictors per row (a categorical response's K - 1)
    by_level: bool = False  # a categorical response: eta is (n, m), with m = 1 too

    @classmethod
    def from_design(cls, X: np.ndarray, y: np.ndarray, blocks: int = 1,
                    by_level: bool = False) -> Rotation:
        n = X.shape[0]
        norms = np.linalg.norm(X, axis=0)
        q, r = np.linalg.qr(X / norms, mode="reduced")
        root_n = np.sqrt(n)
        spread = float(np.std(y))
        y_scale = spread if spread > 0 else float(np.max(np.abs(y))) or 1.0
        return cls(Q=q * root_n, R=r / root_n, column_norms=norms, y_scale=y_scale,
                   blocks=int(blocks), by_level=bool(by_level or blocks > 1))

    @classmethod
    def of(cls, design) -> Rotation:
        """The rotation of a :class:`~lossbridge.data.design.Design` (its blocks too)."""
        return cls.from_design(design.X, design.y, design.predictors,
                               by_level=design.classes is not None)

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
        block = self.y_scale * scipy.linalg.solve_triangular(self.R, eye) / self.column_norms[:, None]
        return block if self.blocks == 1 else np.kron(np.eye(self.blocks), block)

    def _per_block(self, values: np.ndarray) -> tuple[np.ndarray, tuple]:
        """(rows of p values, the original shape): one row per draw and block."""
        values = np.asarray(values, dtype=float)
        p = self.R.shape[0]
        if values.shape[-1] != p * self.blocks:
            raise ValueError(f"{values.shape[-1]} coefficients for {self.blocks} block(s) of {p}")
        return values.reshape(-1, p), values.shape

    def to_beta(self, theta: np.ndarray) -> np.ndarray:
        """Map rotated coefficients (last axis) to the original ``beta``."""
        flat, shape = self._per_block(theta)
        beta = scipy.linalg.solve_triangular(self.R, flat.T * self.y_scale)
        return (beta / self.column_norms[:, None]).T.reshape(shape)

    def to_theta(self, beta: np.ndarray) -> np.ndarray:
        """Map original coefficients (last axis) to rotated ``theta``."""
        flat, shape = self._per_block(beta)
        theta = self.R @ (flat.T * self.column_norms[:, None]) / self.y_scale
        return theta.T.reshape(shape)

    def theta_from_eta(self, eta: np.ndarray) -> np.ndarray:
        """The least-squares theta for a linear predictor ``eta`` ((n,) or (n, m)): a start."""
        eta = np.asarray(eta, dtype=float)
        theta = self.Q.T @ eta / (self.Q.shape[0] * self.y_scale)
        return theta if eta.ndim == 1 else theta.T.reshape(-1)

    def eta_of(self, theta: np.ndarray) -> np.ndarray:
        """s Q* theta: (n,) or, with blocks, (n, m)."""
        theta = np.asarray(theta, dtype=float)
        if not self.by_level:
            return self.y_scale * (self.Q @ theta)
        return self.y_scale * (self.Q @ theta.reshape(self.blocks, -1).T)

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


def rotated_linear_predictor(q, theta, rotation: Rotation):
    """s-free PyTensor linear predictor Q* theta: (n,), or (n, m) for a rotation by level
    (theta holding m blocks of p rotated coefficients, level by level)."""
    import pytensor.tensor as pt

    blocks = rotation.blocks
    if not rotation.by_level:
        return pt.dot(q, theta)
    return pt.dot(q, theta.reshape((blocks, -1)).T)
