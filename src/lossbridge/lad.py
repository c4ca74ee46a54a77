"""Least absolute deviations, exactly.

Three pieces:

* :func:`solve_lad_lp`: the LAD fit as a linear programme solved by HiGHS through
  ``scipy.optimize.linprog``, in its primal form (k free coefficients, 2n slacks) or its
  dual form (n variables bounded in [-1, 1], k equality constraints), which scales much
  better in n.
* :func:`polish_to_vertex`: from any approximate minimiser, reach the exact LAD vertex:
  set the k smallest residuals to zero (a basis), then take simplex steps (exact line
  searches along edges, each a weighted median) until the vertex is dual-feasible.
* :func:`dual_certificate`: the optimality proof. ``beta`` minimises the sum of absolute
  deviations iff there is ``d`` with ``X'd = 0``, ``|d_i| <= 1`` and ``d_i = sign(r_i)``
  where ``r_i != 0``; then ``y'd`` equals the SAD (zero duality gap).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
from scipy.optimize import linprog

from .errors import InputError
from .rounding import SAFETY, dot_error_bound, loss_error_bound, residual_errors

DUAL_TOL = 1e-9  # |d_i| may exceed 1 by this much from rounding in solving X_B' d_B = ...
STATIONARITY_TOL = 1e-9  # max_j |x_j'd| / ||x_j||, i.e. relative to a unit-norm column
MAX_PIVOTS_PER_ROW = 2


@dataclass(frozen=True, eq=False)
class DualCertificate:
    """Evidence that a LAD fit is optimal, from a dual vector ``d``.

    Attributes
    ----------
    sad : float
        Primal objective, the sum of absolute deviations.
    dual_objective : float
        ``y'd``; equal to ``sad`` at the optimum.
    relative_gap : float
        ``(sad - y'd) / sad``.
    gap_tolerance : float
        Rounding bound of ``sad - y'd`` relative to ``sad`` (:mod:`lossbridge.rounding`).
    max_abs_dual : float
        ``max |d_i|``; at most 1 for a feasible dual.
    stationarity : float
        ``max_j |x_j'd| / ||x_j||``; zero for a feasible dual.
    unique : bool
        No basic dual value sits on its bound, so no edge leaves the vertex flat.
    """

    sad: float
    dual_objective: float
    relative_gap: float
    gap_tolerance: float
    max_abs_dual: float
    stationarity: float
    unique: bool

    @property
    def holds(self) -> bool:
        """Dual feasible, stationary and with zero duality gap, up to rounding."""
        return (
            self.max_abs_dual <= 1.0 + DUAL_TOL
            and self.stationarity <= STATIONARITY_TOL
            and abs(self.relative_gap) <= self.gap_tolerance
        )

    def as_dict(self) -> dict:
        return {
            "sad": self.sad,
            "dual_objective": self.dual_objective,
            "relative_gap": self.relative_gap,
            "gap_tolerance": self.gap_tolerance,
            "max_abs_dual": self.max_abs_dual,
            "stationarity": self.stationarity,
            "unique": self.unique,
            "holds": self.holds,
        }


@dataclass(frozen=True, eq=False)
class LadVertex:
    """An exact LAD vertex: k rows with zero residual, and its dual certificate."""

    coefficients: np.ndarray
    basis: np.ndarray  # row indices with zero residual
    dual: np.ndarray
    certificate: DualCertificate
    pivots: int


def dual_certificate(X: np.ndarray, y: np.ndarray, beta: np.ndarray, d: np.ndarray,
                     unique: bool) -> DualCertificate:
    """Evaluate the LP optimality conditions of ``beta`` with dual vector ``d``."""
    residuals = y - X @ beta
    sad = float(np.sum(np.abs(residuals)))
    dual_objective = float(y @ d)
    scale = sad if sad > 0 else 1.0
    norms = np.linalg.norm(X, axis=0)
    stationarity = float(np.max(np.abs(X.T @ d) / norms))
    gap_bound = loss_error_bound(X, y, beta, "SAD") + dot_error_bound(y, d)
    return DualCertificate(
        sad=sad,
        dual_objective=dual_objective,
        relative_gap=(sad - dual_objective) / scale,
        gap_tolerance=gap_bound / scale,
        max_abs_dual=float(np.max(np.abs(d))),
        stationarity=stationarity,
        unique=unique,
    )


def solve_lad_lp(X: np.ndarray, y: np.ndarray, form: str = "dual") -> tuple[np.ndarray, np.ndarray]:
    """Solve LAD as a linear programme with HiGHS.

    Parameters
    ----------
    X, y : ndarray
        Design and response.
    form : {"dual", "primal"}
        ``primal``: min 1'u + 1'v s.t. X beta + u - v = y, u, v >= 0.
        ``dual``: max y'd s.t. X'd = 0, -1 <= d <= 1; beta are the constraint multipliers.

    Returns
    -------
    beta, d : ndarray
        Coefficients and the dual vector (one value in [-1, 1] per row).
    """
    n, k = X.shape
    if form == "primal":
        eye = scipy.sparse.identity(n, format="csc")
        a_eq = scipy.sparse.hstack([scipy.sparse.csc_matrix(X), eye, -eye], format="csc")
        cost = np.concatenate([np.zeros(k), np.ones(2 * n)])
        bounds = [(None, None)] * k + [(0, None)] * (2 * n)
        res = linprog(cost, A_eq=a_eq, b_eq=y, bounds=bounds, method="highs")
        _check_status(res)
        return res.x[:k].copy(), np.asarray(res.eqlin.marginals, dtype=float)
    if form == "dual":
        res = linprog(-y, A_eq=X.T, b_eq=np.zeros(k), bounds=(-1.0, 1.0), method="highs")
        _check_status(res)
        # linprog minimises -y'd; the multipliers of X'd = 0 are -beta.
        return -np.asarray(res.eqlin.marginals, dtype=float), res.x.copy()
    raise InputError(f"LAD form must be 'dual' or 'primal'; got {form!r}")


def _check_status(res) -> None:
    if res.status != 0:
        raise RuntimeError(f"HiGHS did not solve the LAD linear programme: {res.message}")


def polish_to_vertex(X: np.ndarray, y: np.ndarray, beta_start: np.ndarray,
                     max_pivots: int | None = None, check_unique: bool = True) -> LadVertex:
    """Move from ``beta_start`` to an exact, dual-certified LAD vertex.

    The k rows with the smallest residuals at ``beta_start`` (linearly independent)
    are set to zero residual; then simplex pivots along edges of decreasing SAD
    continue until the vertex is optimal. Each pivot is an exact line search (a
    weighted median). At a degenerate vertex (more than k zero residuals, common with
    tied data) the dual values of the extra zero rows are found by a small feasibility
    LP, and uniqueness is decided by LPs over the directions that keep the SAD flat
    (skipped with ``check_unique=False``, for intermediate problems; ``unique`` is then
    False, which claims nothing).
    """
    n, k = X.shape
    if max_pivots is None:
        max_pivots = MAX_PIVOTS_PER_ROW * n + 10 * k
    basis = _independent_rows(X, np.argsort(np.abs(y - X @ beta_start), kind="stable"), k)
    pivots = 0
    degenerate_step = False
    while True:
        beta = np.linalg.solve(X[basis], y[basis])
        residuals = _vertex_residuals(X, y, beta, basis)
        d, d_basis = _dual_at_vertex(X, residuals, basis)
        optimal = np.max(np.abs(d_basis)) <= 1.0 + DUAL_TOL
        zero_rows = np.flatnonzero(residuals == 0.0)
        if not optimal and zero_rows.size > k:
            feasible = _degenerate_dual(X, residuals, zero_rows)
            if feasible is not None:
                d, optimal = feasible, True
        if optimal or pivots >= max_pivots:
            break
        violators = np.flatnonzero(np.abs(d_basis) > 1.0 + DUAL_TOL)
        # Largest violation normally; Bland's rule (smallest row) after a degenerate step.
        leave = (
            violators[np.argmin(basis[violators])]
            if degenerate_step
            else violators[np.argmax(np.abs(d_basis[violators]))]
        )
        direction = np.linalg.solve(X[basis], -np.sign(d_basis[leave]) * np.eye(k)[leave])
        step = _line_search(X @ direction, residuals)
        if step is None or step[0] in set(basis.tolist()):
            break
        entering, length = step
        degenerate_step = length == 0.0
        basis = basis.copy()
        basis[leave] = entering
        pivots += 1
    unique = optimal and check_unique and _is_unique(X, residuals, d, zero_rows, basis)
    certificate = dual_certificate(X, y, beta, d, unique)
    return LadVertex(beta, np.sort(basis), d, certificate, pivots)


GLOBBING_MIN_ROWS = 50_000  # above this, exact_lad_vertex globs sure-sign rows (Portnoy-Koenker)


def globbing_subsample_size(n: int, k: int) -> int | None:
    """Rows of Portnoy-Koenker's first subsample, m = ((k + 1) n)^(2/3), or None where
    globbing does not apply: n up to ``GLOBBING_MIN_ROWS``, or so many columns that the
    subsample would be more than half the data (the band would then hold most rows)."""
    m = int(((k + 1) * n) ** (2.0 / 3.0))
    return m if n > GLOBBING_MIN_ROWS and m <= n // 2 else None


def exact_lad_vertex(X: np.ndarray, y: np.ndarray, beta_start: np.ndarray | None = None,
                     seed: int = 0) -> LadVertex:
    """The exact LAD fit, certified by its LP dual on the full data, fast for large n.

    Small n (or many columns, see :func:`globbing_subsample_size`): simplex pivots
    (:func:`polish_to_vertex`) from ``beta_start`` (default: OLS).
    Large n: the preprocessing of Portnoy and Koenker (1997), "The Gaussian hare and the
    Laplacian tortoise", *Statistical Science* 12(4), section 4: a start (``beta_start``,
    or the exact LAD fit of a random subsample of m = ((k + 1) n)^(2/3) rows) puts most
    observations surely above or surely below the optimal hyperplane; each of the two
    groups enters the LP as one summed pseudo-observation (its contribution is linear in
    beta while its signs hold), the remaining band of about 0.8 m rows is solved exactly,
    and misclassified rows are moved back into the band until every sign holds. The
    result is then certified by the dual on all n rows (and polished there if needed).
    """
    n, k = X.shape
    norms = np.linalg.norm(X, axis=0)
    m = globbing_subsample_size(n, k)
    if m is None:
        if beta_start is None:
            beta_start = np.linalg.lstsq(X / norms, y, rcond=None)[0] / norms
        return polish_to_vertex(X, y, beta_start)
    rng = np.random.default_rng(seed)
    if beta_start is None:
        rows = rng.choice(n, size=m, replace=False)
        beta_start = exact_lad_vertex(X[rows], y[rows]).coefficients
    # band_i = sqrt(x_i' (X'X)^-1 x_i), via a Cholesky factor of (D X'X D)^-1 (one n x k product)
    factor = np.linalg.cholesky(np.linalg.inv((X.T @ X) / np.outer(norms, norms)))
    band = np.sqrt(np.einsum("ij,ij->i", *(2 * [X @ (factor / norms[:, None])])))
    residuals = y - X @ beta_start
    half = 0.8 * m / (2 * n)
    low, high = np.quantile(residuals / np.maximum(band, 1e-300),
                            [max(1.0 / n, 0.5 - half), min(0.5 + half, (n - 1.0) / n)])
    below = residuals < band * low
    above = residuals > band * high
    pivots = 0
    beta = beta_start
    for _ in range(50):
        middle = np.flatnonzero(~below & ~above)
        glob_low, glob_high = below.astype(float) @ X, above.astype(float) @ X
        size = np.abs(y).sum() + (np.abs(glob_low) + np.abs(glob_high)) @ (10 * np.abs(beta) + 1)
        huge = 1e3 * size
        reduced_X = np.vstack([X[middle], glob_low, glob_high])
        reduced_y = np.concatenate([y[middle], [-huge, huge]])
        vertex = polish_to_vertex(reduced_X, reduced_y, beta, check_unique=False)
        pivots += vertex.pivots
        beta = vertex.coefficients
        residuals = y - X @ beta
        wrong = (below & (residuals >= 0)) | (above & (residuals <= 0))
        if not wrong.any():
            break
        below &= ~wrong
        above &= ~wrong
    basis = middle[vertex.basis]
    full = _certify_vertex(X, y, basis, pivots)
    if full is not None:
        return full
    return polish_to_vertex(X, y, beta)


def _certify_vertex(X, y, basis, pivots) -> LadVertex | None:
    """The vertex with zero residuals at ``basis``, if the dual proves it optimal on all rows."""
    beta = np.linalg.solve(X[basis], y[basis])
    residuals = _vertex_residuals(X, y, beta, basis)
    d, d_basis = _dual_at_vertex(X, residuals, basis)
    zero_rows = np.flatnonzero(residuals == 0.0)
    if np.max(np.abs(d_basis)) > 1.0 + DUAL_TOL:
        if zero_rows.size <= X.shape[1]:
            return None
        d = _degenerate_dual(X, residuals, zero_rows)
        if d is None:
            return None
    unique = _is_unique(X, residuals, d, zero_rows, basis)
    return LadVertex(beta, np.sort(basis), d, dual_certificate(X, y, beta, d, unique), pivots)


def _vertex_residuals(X, y, beta, basis):
    """Residuals with the basis rows, and rows zero up to rounding (ties), set to exactly 0.

    "Zero up to rounding" is the residual's own rounding bound (:mod:`lossbridge.rounding`)
    times its safety factor: a tie cannot be told from zero more finely than that.
    """
    residuals = y - X @ beta
    residuals[np.abs(residuals) <= SAFETY * residual_errors(X, y, beta)] = 0.0
    residuals[basis] = 0.0
    return residuals


def _dual_at_vertex(X, residuals, basis):
    """Dual values: sign(r_i) off the basis; on it, solve X_B' d_B = -sum_N sign(r_i) x_i."""
    d = np.sign(residuals)
    d[basis] = 0.0
    d_basis = np.linalg.solve(X[basis].T, -(X.T @ d))
    d[basis] = d_basis
    return d, d_basis


def _degenerate_dual(X, residuals, zero_rows):
    """A dual vector with d_i in [-1, 1] on every zero-residual row, or None if none exists."""
    d = np.sign(residuals)
    target = -(X.T @ d)
    block = X[zero_rows].T
    res = linprog(np.zeros(zero_rows.size), A_eq=block, b_eq=target, bounds=(-1.0, 1.0),
                  method="highs")
    if res.status != 0:
        return None
    values = res.x.copy()
    # Refine the LP's vertex exactly: values strictly inside (-1, 1) are basic.
    inside = np.flatnonzero(np.abs(values) < 1.0 - 1e-7)
    at_bound = np.setdiff1d(np.arange(zero_rows.size), inside)
    values[at_bound] = np.sign(values[at_bound])
    if inside.size:
        rhs = target - block[:, at_bound] @ values[at_bound]
        values[inside] = np.linalg.lstsq(block[:, inside], rhs, rcond=None)[0]
    if np.max(np.abs(values)) > 1.0 + DUAL_TOL:
        return None
    d[zero_rows] = values
    return d


def _is_unique(X, residuals, d, zero_rows, basis) -> bool:
    """True when no direction leaves the SAD unchanged (no flat face through the vertex)."""
    k = X.shape[1]
    if zero_rows.size == k:
        return bool(np.all(np.abs(d[basis]) < 1.0 - DUAL_TOL))
    # Degenerate vertex: the SAD's directional derivative along delta is
    # -g'delta + sum_{zero rows} |x_i'delta|, g = sum over nonzero rows of sign(r_i) x_i.
    # The fit is unique iff only delta = 0 makes it zero: check each coordinate's range.
    scaled = X / np.linalg.norm(X, axis=0)
    g = scaled.T @ np.sign(residuals)
    z = scipy.sparse.csr_matrix(scaled[zero_rows])
    m = zero_rows.size
    eye = scipy.sparse.identity(m, format="csr")
    # Sparse: tied data can leave tens of thousands of zero rows (a dense identity of
    # 24,000 rows took 4 GB, per LP, in a test at n = 60,000).
    a_ub = scipy.sparse.vstack([
        scipy.sparse.hstack([z, -eye]),
        scipy.sparse.hstack([-z, -eye]),
        scipy.sparse.hstack([scipy.sparse.csr_matrix(-g[None, :]), scipy.sparse.csr_matrix(np.ones((1, m)))]),
    ], format="csr")
    b_ub = np.zeros(2 * m + 1)
    bounds = [(-1.0, 1.0)] * k + [(0.0, None)] * m
    for j in range(k):
        for sign in (1.0, -1.0):
            cost = np.zeros(k + m)
            cost[j] = -sign
            res = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
            if res.status == 0 and -res.fun > 1e-6:
                return False
    return True


def _line_search(slopes: np.ndarray, residuals: np.ndarray) -> tuple[int, float] | None:
    """Row whose breakpoint minimises sum |r_i - t a_i| over t (a weighted median).

    Returns the row and the step length; ties at the median go to the smallest row.
    """
    active = np.flatnonzero(slopes != 0)
    if active.size == 0:
        return None
    a = slopes[active]
    t = residuals[active] / a
    length = _weighted_median(t, np.abs(a))
    tied = active[t == length]
    return int(tied.min()), float(length)


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """Smallest value whose cumulative weight (in sorted order) reaches half the total.

    Selection by repeated partitioning, O(n) on average: the line search runs once per
    simplex pivot, and sorting all breakpoints every time dominated large problems.
    """
    index = np.arange(values.size)
    target = 0.5 * weights.sum()
    below = 0.0
    while index.size > 512:
        part = values[index]
        kth = index.size // 2
        order = np.argpartition(part, kth)
        left = order[:kth]
        left_weight = weights[index[left]].sum()
        if below + left_weight >= target:
            index = index[left]
        else:
            below += left_weight
            index = index[order[kth:]]
    order = np.argsort(values[index], kind="stable")
    cumulative = below + np.cumsum(weights[index[order]])
    position = min(int(np.searchsorted(cumulative, target)), order.size - 1)
    return float(values[index[order[position]]])


def _independent_rows(X: np.ndarray, order: np.ndarray, k: int) -> np.ndarray:
    """First k rows, in ``order``, that are linearly independent (Gram-Schmidt on the rows)."""
    scale = np.linalg.norm(X, axis=0)
    chosen: list[int] = []
    basis = np.zeros((0, X.shape[1]))
    for row in order:
        v = X[row] / scale
        norm = np.linalg.norm(v)
        if norm == 0:
            continue
        w = v - basis.T @ (basis @ v)
        w = w - basis.T @ (basis @ w)
        if np.linalg.norm(w) > 1e-8 * norm:
            chosen.append(int(row))
            basis = np.vstack([basis, w / np.linalg.norm(w)])
            if len(chosen) == k:
                return np.array(chosen)
    raise InputError("the design has fewer than k linearly independent rows; LAD is not defined")


__all__ = [
    "DualCertificate",
    "LadVertex",
    "dual_certificate",
    "exact_lad_vertex",
    "polish_to_vertex",
    "solve_lad_lp",
]
