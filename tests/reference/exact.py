"""Independent exact references, computed without LAPACK or HiGHS.

* :func:`rational_least_squares` solves the normal equations in exact rational
  arithmetic (``fractions.Fraction``): every float input is a rational number, so the
  result is *the* least-squares solution of the given floating-point data, to which
  any double-precision solver can be compared at its own accuracy.
* :func:`lad_coefficient_ranges` bounds each coefficient over the set of LAD optima
  (an LP per coefficient): a range of zero means the LAD fit is unique in that term.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.optimize import linprog


def rational_least_squares(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Exact OLS coefficients and RSS (rounded to float only at the end)."""
    n, k = X.shape
    Xf = [[Fraction(float(v)) for v in row] for row in X]
    yf = [Fraction(float(v)) for v in y]
    gram = [[sum(Xf[i][a] * Xf[i][b] for i in range(n)) for b in range(k)] for a in range(k)]
    rhs = [sum(Xf[i][a] * yf[i] for i in range(n)) for a in range(k)]
    # Gauss-Jordan elimination, exact.
    aug = [gram[a] + [rhs[a]] for a in range(k)]
    for col in range(k):
        pivot = next(r for r in range(col, k) if aug[r][col] != 0)
        aug[col], aug[pivot] = aug[pivot], aug[col]
        p = aug[col][col]
        aug[col] = [v / p for v in aug[col]]
        for r in range(k):
            if r != col and aug[r][col] != 0:
                factor = aug[r][col]
                aug[r] = [a - factor * b for a, b in zip(aug[r], aug[col], strict=True)]
    beta = [aug[a][k] for a in range(k)]
    rss = sum((yf[i] - sum(Xf[i][j] * beta[j] for j in range(k))) ** 2 for i in range(n))
    return np.array([float(b) for b in beta]), float(rss)


def lad_coefficient_ranges(X: np.ndarray, y: np.ndarray, sad: float, slack: float = 1e-10) -> np.ndarray:
    """(k, 2) array: min and max of each coefficient over {beta : SAD(beta) <= sad (1 + slack)}."""
    n, k = X.shape
    # variables: beta (free), u, v >= 0 with X beta + u - v = y and sum(u + v) <= bound
    a_eq = np.hstack([X, np.eye(n), -np.eye(n)])
    a_ub = np.concatenate([np.zeros(k), np.ones(2 * n)])[None, :]
    bounds = [(None, None)] * k + [(0, None)] * (2 * n)
    out = np.empty((k, 2))
    for j in range(k):
        for col, sign in ((0, 1.0), (1, -1.0)):
            cost = np.zeros(k + 2 * n)
            cost[j] = sign
            res = linprog(cost, A_ub=a_ub, b_ub=[sad * (1 + slack)], A_eq=a_eq, b_eq=y,
                          bounds=bounds, method="highs")
            assert res.status == 0, res.message
            out[j, col] = res.x[j]
    return out
