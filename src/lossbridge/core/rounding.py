"""Floating-point rounding bounds used to set tolerances from first principles.

A residual ``r_i = y_i - x_i'beta`` computed in double precision carries an error of
at most about ``(k + 1) eps (|y_i| + sum_j |x_ij beta_j|)`` (cancellation), and a sum
of n terms an error of at most ``n eps sum |terms|`` (Higham, *Accuracy and Stability
of Numerical Algorithms*, 2nd ed., sections 3.1 and 4.2). A safety factor of 10 covers
the constants these first-order bounds leave out.
"""

from __future__ import annotations

import numpy as np

EPS = float(np.finfo(float).eps)
SAFETY = 10.0


def residual_errors(X: np.ndarray, y: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Per-row bound on the rounding error of ``y - X @ beta``."""
    return (X.shape[1] + 1) * EPS * (np.abs(y) + np.abs(X) @ np.abs(beta))


def linear_predictor_errors(X: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Bound on the rounding error of eta = X beta, shaped like eta: (n,), or (n, m) when
    ``beta`` holds m blocks of X's columns (a categorical response)."""
    p = X.shape[1]
    blocks = np.abs(np.asarray(beta, dtype=float)).reshape(-1, p)
    errors = (p + 1) * EPS * (np.abs(X) @ blocks.T)
    return errors[:, 0] if blocks.shape[0] == 1 else errors


def loss_error_bound(X: np.ndarray, y: np.ndarray, beta: np.ndarray, loss: str) -> float:
    """Bound on the rounding error of RSS (``loss="RSS"``) or SAD (``"SAD"``) at ``beta``."""
    residuals = y - X @ beta
    errors = residual_errors(X, y, beta)
    n = len(y)
    if loss == "RSS":
        value = float(residuals @ residuals)
        propagated = float(np.sum(2.0 * np.abs(residuals) * errors + errors**2))
    elif loss == "SAD":
        value = float(np.sum(np.abs(residuals)))
        propagated = float(np.sum(errors))
    else:
        raise ValueError(f"loss must be 'RSS' or 'SAD'; got {loss!r}")
    return SAFETY * (n * EPS * value + propagated)


def dot_error_bound(a: np.ndarray, b: np.ndarray) -> float:
    """Bound on the rounding error of ``a @ b``."""
    return SAFETY * len(a) * EPS * float(np.sum(np.abs(a * b)))


def stationarity_error_bounds(X: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Per-column bound on the rounding error of ``X.T @ d`` (n-term sums, plus the k-term
    solve that sets the basic duals)."""
    n, k = X.shape
    return SAFETY * (n + k) * EPS * (np.abs(X).T @ np.abs(d))
