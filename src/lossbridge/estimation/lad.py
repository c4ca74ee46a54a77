"""Least absolute deviations, exactly, on any input.

Pieces:

* :func:`solve_lad_lp`: the LAD fit as a linear programme solved by HiGHS through
  ``scipy.optimize.linprog``, in its primal form (k free coefficients, 2n slacks) or its
  dual form (n variables bounded in [-1, 1], k equality constraints), which scales much
  better in n. Both work on data rescaled by powers of two (exact), so HiGHS' absolute
  tolerances mean the same thing in any units.
* :func:`exact_lad_vertex`: the certified LAD fit. Duplicate rows (tied data, categorical
  designs) are merged into weighted rows, large problems are reduced by Portnoy-Koenker
  globbing, HiGHS solves the (weighted) dual LP, and the exact vertex is rebuilt from
  HiGHS' basis: k rows with zero residual, the dual on the remaining tied rows taken
  from HiGHS and the basic duals re-solved exactly. The dual certificate on *all* rows
  is the judge; a vertex it rejects is repaired (a feasibility LP over the tied rows,
  then simplex pivots) and never returned as certified.
* :func:`polish_to_vertex`: from any approximate minimiser, reach the exact LAD vertex by
  simplex steps (exact line searches along edges, each a weighted median).
* :func:`dual_certificate`: the optimality proof. ``beta`` minimises the sum of absolute
  deviations iff there is ``d`` with ``X'd = 0``, ``|d_i| <= 1`` and ``d_i = sign(r_i)``
  where ``r_i != 0``; then ``y'd`` equals the SAD (zero duality gap).
* uniqueness: one small LP over the zero-residual rows (a theorem of the alternative on
  the cone of directions that keep the SAD flat), or "unknown" (``None``) if it fails.

Quantile regression is the same LP with other dual bounds, and every piece takes
``tau``: ``tau=None`` is LAD (duals in [-1, 1], objective the SAD; its computations are
unchanged), a number tau in (0, 1) the tau-th regression quantile (Koenker and Bassett
1978): min sum rho_tau(r_i), rho_tau(r) = r (tau - 1[r < 0]), whose dual is
max y'd s.t. X'd = 0, tau - 1 <= d_i <= tau, with d_i = tau where r_i > 0 and
d_i = tau - 1 where r_i < 0 (complementary slackness); y'd then equals the pinball sum.
Each simplex line search is a weighted tau-quantile instead of a weighted median. At
tau = 1/2 the quantile LP is LAD with duals and objective halved.
:func:`exact_quantile_vertex` is the certified fit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse
from scipy.optimize import linprog

from ..core.errors import InputError
from ..core.rounding import (
    EPS,
    SAFETY,
    dot_error_bound,
    loss_error_bound,
    residual_errors,
    stationarity_error_bounds,
)

DUAL_TOL = 1e-9  # |d_i| may exceed 1 by this much from rounding in solving X_B' d_B = ...
STATIONARITY_TOL = 1e-9  # floor of max_j |x_j'd| / ||x_j|| (the rounding bound is used above it)
HINT_TOL = 1e-7  # HiGHS' feasibility tolerance: a dual within this of +-1 is at its bound
UNIQUE_TOL = 1e-9  # a dual this close to +-1 counts as on its bound (conservative for "unique")
MAX_PIVOTS_PER_ROW = 2
LP_MAX_ROWS = 50_000  # distinct rows HiGHS solves directly; above, globbing first
HIGHS_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}

Progress = Callable[[str], None] | None


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
        Rounding bound of ``sad - y'd`` relative to ``sad`` (:mod:`lossbridge.core.rounding`).
    max_abs_dual : float
        ``max |d_i|``; at most 1 for a feasible dual.
    stationarity : float
        ``max_j |x_j'd| / ||x_j||``; zero for a feasible dual.
    unique : bool or None
        True: proved unique (no direction keeps the SAD flat); False: a flat face of
        optima passes through the vertex; None: not determined (see ``uniqueness``).
    stationarity_tolerance : float
        Rounding bound of ``max_j |x_j'd| / ||x_j||`` (at least ``STATIONARITY_TOL``).
    uniqueness : str
        How ``unique`` was decided, in words.
    """

    sad: float
    dual_objective: float
    relative_gap: float
    gap_tolerance: float
    max_abs_dual: float
    stationarity: float
    unique: bool | None
    stationarity_tolerance: float = STATIONARITY_TOL
    uniqueness: str = ""
    # Quantile regression (tau set): the primal objective (``sad``) is the pinball sum and
    # the duals must lie in [tau - 1, tau]; ``dual_range`` is (min d_i, max d_i).
    tau: float | None = None
    dual_range: tuple[float, float] | None = None

    @property
    def dual_feasible(self) -> bool:
        if self.tau is None:
            return bool(self.max_abs_dual <= 1.0 + DUAL_TOL)
        low, high = self.dual_range
        return bool(low >= self.tau - 1.0 - DUAL_TOL and high <= self.tau + DUAL_TOL)

    @property
    def holds(self) -> bool:
        """Dual feasible, stationary and with zero duality gap, up to rounding."""
        return bool(
            self.dual_feasible
            and self.stationarity <= self.stationarity_tolerance
            and abs(self.relative_gap) <= self.gap_tolerance
        )

    def as_dict(self) -> dict:
        quantile = {} if self.tau is None else {
            "tau": self.tau, "dual_bounds": [self.tau - 1.0, self.tau],
            "min_dual": self.dual_range[0], "max_dual": self.dual_range[1]}
        return {
            **quantile,
            "sad": self.sad,
            "dual_objective": self.dual_objective,
            "relative_gap": self.relative_gap,
            "gap_tolerance": self.gap_tolerance,
            "max_abs_dual": self.max_abs_dual,
            "stationarity": self.stationarity,
            "stationarity_tolerance": self.stationarity_tolerance,
            "unique": self.unique,
            "uniqueness": self.uniqueness,
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
    solver: str = "simplex pivots (lossbridge.estimation.lad)"


def dual_certificate(X: np.ndarray, y: np.ndarray, beta: np.ndarray, d: np.ndarray,
                     unique: bool | None, uniqueness: str = "",
                     tau: float | None = None) -> DualCertificate:
    """Evaluate the LP optimality conditions of ``beta`` with dual vector ``d``
    (LAD; with ``tau``, the tau-th regression quantile: pinball objective, d in [tau-1, tau])."""
    residuals = y - X @ beta
    if tau is None:
        sad = float(np.sum(np.abs(residuals)))
    else:
        sad = float(np.sum(np.where(residuals < 0, (tau - 1.0) * residuals, tau * residuals)))
    dual_objective = float(y @ d)
    scale = sad if sad > 0 else 1.0
    norms = np.linalg.norm(X, axis=0)
    stationarity_terms = X.T @ d
    stationarity_bounds = stationarity_error_bounds(X, d)
    stationarity = float(np.max(np.abs(stationarity_terms) / norms))
    # y'd = r'd + beta'X'd: rounding in X'd moves the gap by up to |beta|'|X'd error|.
    # The SAD's bound also bounds the pinball sum's (|rho(a) - rho(b)| <= |a - b|).
    gap_bound = (loss_error_bound(X, y, beta, "SAD") + dot_error_bound(y, d)
                 + float(np.abs(beta) @ stationarity_bounds))
    return DualCertificate(
        sad=sad,
        dual_objective=dual_objective,
        relative_gap=(sad - dual_objective) / scale,
        gap_tolerance=gap_bound / scale,
        max_abs_dual=float(np.max(np.abs(d))),
        stationarity=stationarity,
        unique=unique,
        stationarity_tolerance=max(STATIONARITY_TOL, float(np.max(stationarity_bounds / norms))),
        uniqueness=uniqueness,
        tau=tau,
        dual_range=None if tau is None else (float(np.min(d)), float(np.max(d))),
    )


def _bounds(tau: float | None) -> tuple[float, float]:
    """The dual's bounds: [-1, 1] for LAD, [tau - 1, tau] for the tau-th quantile."""
    return (-1.0, 1.0) if tau is None else (tau - 1.0, tau)


def _signs(residuals: np.ndarray, tau: float | None) -> np.ndarray:
    """The dual off the basis: sign(r_i) for LAD; tau (r_i > 0), tau - 1 (r_i < 0), 0."""
    if tau is None:
        return np.sign(residuals)
    return np.where(residuals > 0, tau, np.where(residuals < 0, tau - 1.0, 0.0))


def _inside(d: np.ndarray, tau: float | None, tol: float) -> np.ndarray:
    """Duals strictly inside their bounds by more than ``tol``."""
    if tau is None:
        return np.abs(d) < 1.0 - tol
    return (d > tau - 1.0 + tol) & (d < tau - tol)


def _at_upper(d: np.ndarray, tau: float | None) -> np.ndarray:
    """+1 for a dual nearer its upper bound, -1 nearer its lower (LAD: sign(d))."""
    if tau is None:
        return np.sign(d)
    return np.where(d > tau - 0.5, 1.0, -1.0)


def _loss_word(tau: float | None) -> str:
    return "SAD" if tau is None else "pinball loss"


def _feasible(d: np.ndarray, tau: float | None) -> bool:
    if tau is None:
        return bool(np.max(np.abs(d)) <= 1.0 + DUAL_TOL)
    return bool(np.min(d) >= tau - 1.0 - DUAL_TOL and np.max(d) <= tau + DUAL_TOL)


# ----------------------------------------------------------------------------- units
def unit_exponents(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, int]:
    """Powers of two that bring each column of X and y to a largest magnitude in [0.5, 1).

    Multiplying by a power of two is exact in binary floating point (barring overflow or
    subnormals), so the rescaled problem has exactly the same solution, mapped back by
    ``beta_j = beta_scaled_j * 2**(y_exp - col_exp_j)``: the fit does not depend on units.
    """
    col_max = np.max(np.abs(X), axis=0)
    col_exp = np.where(col_max > 0, np.frexp(col_max)[1], 0).astype(int)
    y_max = float(np.max(np.abs(y))) if y.size else 0.0
    y_exp = int(np.frexp(y_max)[1]) if y_max > 0 else 0
    return col_exp, y_exp


def _scale(X, y):
    col_exp, y_exp = unit_exponents(X, y)
    return np.ldexp(X, -col_exp), np.ldexp(y, -y_exp), col_exp, y_exp


def _unscale_vertex(vertex: LadVertex, col_exp, y_exp) -> LadVertex:
    cert = vertex.certificate
    cert = dataclasses.replace(cert, sad=float(np.ldexp(cert.sad, y_exp)),
                               dual_objective=float(np.ldexp(cert.dual_objective, y_exp)))
    return dataclasses.replace(vertex, coefficients=np.ldexp(vertex.coefficients, y_exp - col_exp),
                               certificate=cert)


# ----------------------------------------------------------------------------- HiGHS
def solve_lad_lp(X: np.ndarray, y: np.ndarray, form: str = "dual") -> tuple[np.ndarray, np.ndarray]:
    """Solve LAD as a linear programme with HiGHS (on power-of-two rescaled data).

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
    if form not in ("dual", "primal"):
        raise InputError(f"LAD form must be 'dual' or 'primal'; got {form!r}")
    Xs, ys, col_exp, y_exp = _scale(X, y)
    if form == "primal":
        n, k = Xs.shape
        eye = scipy.sparse.identity(n, format="csc")
        a_eq = scipy.sparse.hstack([scipy.sparse.csc_matrix(Xs), eye, -eye], format="csc")
        cost = np.concatenate([np.zeros(k), np.ones(2 * n)])
        bounds = [(None, None)] * k + [(0, None)] * (2 * n)
        res = linprog(cost, A_eq=a_eq, b_eq=ys, bounds=bounds, method="highs",
                      options=HIGHS_OPTIONS)
        _check_status(res)
        beta, d = res.x[:k].copy(), np.asarray(res.eqlin.marginals, dtype=float)
    else:
        beta, d = _highs_dual(Xs, ys, np.ones(len(ys)))
    return np.ldexp(beta, y_exp - col_exp), d


def _highs_dual(X, y, weights, tau=None):
    """max y'd s.t. X'd = 0, |d_i| <= w_i (weighted LAD; with ``tau``,
    w_i (tau - 1) <= d_i <= w_i tau); returns beta and d / w."""
    low, high = _bounds(tau)
    bounds = (np.column_stack([-weights, weights]) if tau is None
              else np.column_stack([low * weights, high * weights]))
    res = linprog(-y, A_eq=X.T, b_eq=np.zeros(X.shape[1]), bounds=bounds, method="highs",
                  options=HIGHS_OPTIONS)
    _check_status(res)
    # linprog minimises -y'd; the multipliers of X'd = 0 are -beta.
    return -np.asarray(res.eqlin.marginals, dtype=float), res.x / weights


class HighsFailed(RuntimeError):
    """HiGHS returned without an optimal solution (numerical trouble on a near-singular LP)."""


def _check_status(res) -> None:
    if res.status != 0:
        raise HighsFailed(f"HiGHS did not solve the LAD linear programme: {res.message}")


# ----------------------------------------------------------------------------- exact vertex
def exact_quantile_vertex(X: np.ndarray, y: np.ndarray, tau: float,
                          beta_start: np.ndarray | None = None, seed: int = 0,
                          progress: Progress = None) -> LadVertex:
    """The exact tau-th regression quantile, certified by its LP dual on all rows.

    :func:`exact_lad_vertex` with duals in [tau - 1, tau] and the pinball objective (no
    globbing: HiGHS solves the merged dual LP at any n).
    """
    if not (isinstance(tau, (int, float)) and 0.0 < tau < 1.0):
        raise InputError(f"tau must be a number in (0, 1); got {tau!r}")
    return exact_lad_vertex(X, y, beta_start, seed, progress, tau=float(tau))


def exact_lad_vertex(X: np.ndarray, y: np.ndarray, beta_start: np.ndarray | None = None,
                     seed: int = 0, progress: Progress = None,
                     tau: float | None = None) -> LadVertex:
    """The exact LAD fit, certified by its LP dual on all rows, on any input.

    1. Units: X's columns and y are rescaled by powers of two (exact) and mapped back.
    2. From ``beta_start`` (if given, e.g. a MAP's L-BFGS point): the vertex at its k
       smallest residuals and a bounded number of simplex pivots; kept if certified.
    3. Otherwise: identical rows are merged into weighted rows (ties, categorical
       designs); above ``LP_MAX_ROWS`` distinct rows, Portnoy and Koenker's (1997)
       globbing ("The Gaussian hare and the Laplacian tortoise", *Statistical Science*
       12(4), section 4) reduces the problem to a band of rows plus two summed
       pseudo-observations; HiGHS solves the weighted dual LP, and the exact vertex and
       its dual on all rows are rebuilt from HiGHS' solution.
    4. A vertex the certificate rejects is repaired (feasibility LP over the tied rows,
       then simplex pivots); the returned certificate says whether it holds.

    ``progress`` (a callable taking a message) is told about the long stages. ``tau``:
    the tau-th regression quantile instead (see the module docstring).
    """
    n, k = X.shape
    if n < k:
        raise InputError(f"LAD needs at least as many rows as coefficients; got n={n}, k={k}")
    Xs, ys, col_exp, y_exp = _scale(X, y)
    if beta_start is not None:
        start = np.ldexp(np.asarray(beta_start, dtype=float), col_exp - y_exp)
        try:
            vertex = _polish(Xs, ys, start, max_pivots=4 * k + 20, check_unique=True, tau=tau)
        except np.linalg.LinAlgError:  # a near-singular basis: the exact solver decides
            vertex = None
        if vertex is not None and vertex.certificate.holds:
            how = (f"{vertex.pivots} simplex pivot(s) (lossbridge.estimation.lad) from the start's "
                   f"{k} smallest residuals")
            return _unscale_vertex(dataclasses.replace(vertex, solver=how), col_exp, y_exp)
    vertex = _solve_scaled(Xs, ys, seed, progress, tau)
    if not vertex.certificate.holds:
        vertex = _rotated_if_better(Xs, ys, vertex, seed, progress, tau)
    return _unscale_vertex(vertex, col_exp, y_exp)


def _rotated_if_better(X, y, vertex: LadVertex, seed, progress, tau=None) -> LadVertex:
    """The LAD fit in orthonormal coordinates, judged by the dual on X itself.

    LAD is equivariant under X -> X R^-1, so the fit of y on Q (X = QR) is the fit on X
    with beta = R^-1 theta. On an ill-conditioned design (a raw-year polynomial, cond
    ~1e9 after column scaling) a vertex's k x k basis can be far worse conditioned than X,
    so its residuals drown in the solve's rounding; on Q every basis is as good as the
    rows allow. The certificate is recomputed on X: x_j'd = r_j'Q'd, so stationarity holds
    to rounding. Returns the rotated vertex only if its certificate holds.
    """
    try:
        q, r = np.linalg.qr(X)
        rotated = _solve_scaled(q, y, seed, progress, tau)
    except (InputError, np.linalg.LinAlgError):
        return vertex
    beta = scipy.linalg.solve_triangular(r, rotated.coefficients)
    cert = rotated.certificate
    certificate = dual_certificate(X, y, beta, rotated.dual, cert.unique, cert.uniqueness, tau)
    if not certificate.holds:
        return vertex
    return dataclasses.replace(rotated, coefficients=beta, certificate=certificate,
                               solver=rotated.solver + "; on the QR-rotated design (X = QR)")


def _solve_scaled(X, y, seed, progress, tau=None) -> LadVertex:
    try:
        return _solve_with_highs(X, y, seed, progress, tau)
    except HighsFailed as failure:
        # The LP is numerically too hard for HiGHS (a near-singular design): the exact
        # simplex pivots of lossbridge.estimation.lad from the OLS fit decide, and the dual judges.
        _say(progress, "exact LAD: HiGHS failed; simplex pivots from the OLS fit")
        beta = np.linalg.lstsq(X, y, rcond=None)[0]
        try:
            vertex = _polish(X, y, beta, max_pivots=None, check_unique=True, tau=tau)
        except np.linalg.LinAlgError:
            raise InputError(
                "the design is too ill-conditioned for an exact LAD fit in double precision "
                f"({failure}; simplex pivots met a singular basis); centre or rescale the "
                "predictors (e.g. I(year - 2000) instead of year in polynomials)"
            ) from None
        return dataclasses.replace(
            vertex,
                solver=f"simplex pivots (lossbridge.estimation.lad) from OLS, after HiGHS failed ({failure})")


def _solve_with_highs(X, y, seed, progress, tau=None) -> LadVertex:
    n, k = X.shape
    rows, inverse, weights = _merge_duplicates(X, y)
    Xc, yc = X[rows], y[rows]
    if rows.size > LP_MAX_ROWS and globbing_subsample_size(rows.size, k) is not None:
        _say(progress, f"exact LAD: {rows.size:,} distinct rows, Portnoy-Koenker globbing")
        beta, hint_c, solver = _globbed(Xc, yc, weights, seed, progress, tau)
    else:
        if progress is not None and rows.size > 10_000:
            _say(progress, f"exact LAD: HiGHS dual LP on {rows.size:,} distinct rows")
        beta, hint_c = _highs_dual(Xc, yc, weights, tau)
        solver = "HiGHS dual LP (scipy.optimize.linprog)"
    if rows.size < n:
        solver += f" on {rows.size:,} distinct rows (duplicates merged as weights)"
    hint = hint_c[inverse]
    if progress is not None and n > 100_000:
        _say(progress, f"exact LAD: certifying the vertex by its dual on all {n:,} rows")
    vertex = _vertex_from_hint(X, y, beta, hint, tau)
    if vertex is not None:
        return dataclasses.replace(vertex, solver=solver + "; exact vertex rebuilt from its basis")
    _say(progress, "exact LAD: HiGHS' vertex was not certified; simplex pivots from it")
    vertex = _polish(X, y, beta, max_pivots=None, check_unique=True, tau=tau)
    return dataclasses.replace(vertex, solver=solver + "; then simplex pivots (lossbridge.estimation.lad)")


def _say(progress: Progress, message: str) -> None:
    if progress is not None:
        progress(message)


def _merge_duplicates(X, y):
    """Distinct rows of [X, y]: (first row of each, index of each row's group, counts).

    Rows are grouped by a random projection (one float sort, cheap at n = 10^6), then
    checked to be truly equal; on a collision nothing is merged. Skipped when a sample
    of rows shows no duplicates (continuous data).
    """
    n = len(y)
    identity = np.arange(n), np.arange(n), np.ones(n)
    if n < 2:
        return identity
    rng = np.random.default_rng(12345)
    table = np.column_stack([X, y])
    if n > 20_000:
        sample = table[rng.choice(n, size=5_000, replace=False)]
        if np.unique(sample @ rng.normal(size=table.shape[1])).size > 4_500:
            return identity
    key = table @ rng.normal(size=table.shape[1])
    _, first, inverse, counts = np.unique(key, return_index=True, return_inverse=True,
                                          return_counts=True)
    if first.size == n or not np.array_equal(table, table[first[inverse]]):
        return identity
    return first, inverse.ravel(), counts.astype(float)


GLOBBING_MIN_ROWS = LP_MAX_ROWS  # above this, distinct rows are globbed (Portnoy-Koenker)


def globbing_subsample_size(n: int, k: int) -> int | None:
    """Rows of Portnoy-Koenker's first subsample, m = ((k + 1) n)^(2/3), or None where
    globbing does not apply: n up to ``GLOBBING_MIN_ROWS``, or so many columns that the
    subsample would be more than half the data (the band would then hold most rows)."""
    m = int(((k + 1) * n) ** (2.0 / 3.0))
    return m if n > GLOBBING_MIN_ROWS and m <= n // 2 else None


def _globbed(X, y, weights, seed, progress: Progress = None, tau=None):
    """Weighted LAD (or the ``tau``-th regression quantile) by globbing: returns beta, a
    dual hint per row, and the solver's name.

    A preliminary fit (HiGHS on m random rows) puts most rows surely above or surely
    below the optimal hyperplane; each side enters the LP as one summed pseudo-row (its
    contribution is linear in beta while its signs hold: with a hugely negative y the
    pinball loss of the pseudo-row is (tau - 1)(y - x'beta), with a hugely positive one
    tau (y - x'beta), the sums of its rows' losses up to a constant), the band is solved
    by HiGHS, and rows on the wrong side are moved back into the band until every sign
    holds. Portnoy and Koenker (1997) state it for any quantile; the band is centred on
    the tau-th quantile of the preliminary residuals.
    """
    n, k = X.shape
    m = globbing_subsample_size(n, k)
    rng = np.random.default_rng(seed)
    sub = rng.choice(n, size=m, replace=False)
    beta = _highs_dual(X[sub], y[sub], weights[sub], tau)[0]
    centre = 0.5 if tau is None else tau
    norms = np.linalg.norm(X, axis=0)
    factor = np.linalg.cholesky(np.linalg.inv((X.T @ X) / np.outer(norms, norms)))
    band = np.sqrt(np.einsum("ij,ij->i", *(2 * [X @ (factor / norms[:, None])])))
    residuals = y - X @ beta
    half = 0.8 * m / (2 * n)
    low, high = np.quantile(residuals / np.maximum(band, 1e-300),
                            [max(1.0 / n, centre - half), min(centre + half, (n - 1.0) / n)])
    below = residuals < band * low
    above = residuals > band * high
    for round_ in range(1, 51):
        middle = np.flatnonzero(~below & ~above)
        _say(progress, f"exact LAD: globbing round {round_}, HiGHS on a band of {middle.size:,} rows")
        glob_low, glob_high = (weights * below) @ X, (weights * above) @ X
        size = np.abs(y) @ weights + (np.abs(glob_low) + np.abs(glob_high)) @ (10 * np.abs(beta) + 1)
        huge = 1e3 * size
        reduced_X = np.vstack([X[middle], glob_low, glob_high])
        reduced_y = np.concatenate([y[middle], [-huge, huge]])
        beta, d_reduced = _highs_dual(reduced_X, reduced_y,
                                      np.concatenate([weights[middle], [1.0, 1.0]]), tau)
        residuals = y - X @ beta
        wrong = (below & (residuals >= 0)) | (above & (residuals <= 0))
        if not wrong.any():
            break
        below &= ~wrong
        above &= ~wrong
    lower, upper = _bounds(tau)  # the dual of a row surely below / above the fit
    hint = np.where(below, lower, np.where(above, upper, 0.0))
    hint[middle] = d_reduced[: middle.size]
    return beta, hint, f"Portnoy-Koenker globbing (band of {middle.size:,} rows) + HiGHS dual LP"


def _vertex_from_hint(X, y, beta0, hint, tau=None) -> LadVertex | None:
    """The exact vertex nearest an LP solution, certified on all rows, or None.

    Basis: k independent rows, those HiGHS left strictly inside (-1, 1) first, then by
    relative residual. Off the basis the dual is sign(r_i), or HiGHS' value on rows
    with zero residual (ties); the basic duals are re-solved exactly.
    """
    n, k = X.shape
    scale = np.abs(y) + np.abs(X) @ np.abs(beta0)
    relative = np.abs(y - X @ beta0) / np.where(scale > 0, scale, 1.0)
    interior = np.flatnonzero(_inside(hint, tau, HINT_TOL))
    interior = interior[np.argsort(relative[interior], kind="stable")]
    # Only the smallest residuals can be basic: a partial sort, not a sort of all n rows.
    count = min(n - 1, max(4 * k, int(np.sum(relative <= 1e-6)) + k))
    nearest = np.argpartition(relative, count)[: count + 1]
    nearest = nearest[np.argsort(relative[nearest], kind="stable")]
    basis = _independent_rows(X, np.concatenate([interior, nearest]), k,
                              fallback=lambda: np.argsort(relative, kind="stable"))
    return _certified_vertex(X, y, basis, hint, pivots=0, tau=tau)


def _certified_vertex(X, y, basis, hint, pivots, tau=None) -> LadVertex | None:
    beta, residuals = _vertex_solution(X, y, basis)
    d = _dual_with_hint(X, residuals, basis, hint, tau)
    zero_rows = np.flatnonzero(residuals == 0.0)
    if not _feasible(d, tau) and zero_rows.size > X.shape[1]:
        d = _degenerate_dual(X, residuals, zero_rows, tau)
    if d is None:
        return None
    unique, how = _uniqueness(X, residuals, d, tau)
    certificate = dual_certificate(X, y, beta, d, unique, how, tau)
    if not certificate.holds:
        return None
    return LadVertex(beta, np.sort(basis), d, certificate, pivots)


def _dual_with_hint(X, residuals, basis, hint, tau=None):
    """sign(r_i) off the basis (the hint, cleaned to its bounds, on tied rows); basic duals solved
    (with ``tau``: tau or tau - 1 by the residual's sign)."""
    d = _signs(residuals, tau)
    zero = residuals == 0.0
    if hint is not None and tau is None:
        h = np.clip(hint[zero], -1.0, 1.0)
        h[np.abs(h) >= 1.0 - HINT_TOL] = np.sign(h[np.abs(h) >= 1.0 - HINT_TOL])
        d[zero] = h
    elif hint is not None:
        low, high = _bounds(tau)
        h = np.clip(hint[zero], low, high)
        h[h <= low + HINT_TOL] = low
        h[h >= high - HINT_TOL] = high
        d[zero] = h
    d[basis] = 0.0
    d[basis] = np.linalg.solve(X[basis].T, -(X.T @ d))
    return d


# ----------------------------------------------------------------------------- simplex
def polish_to_vertex(X: np.ndarray, y: np.ndarray, beta_start: np.ndarray,
                     max_pivots: int | None = None, check_unique: bool = True,
                     tau: float | None = None) -> LadVertex:
    """Move from ``beta_start`` to an exact, dual-certified LAD vertex by simplex pivots.

    The k rows with the smallest residuals at ``beta_start`` (linearly independent)
    are set to zero residual; then simplex pivots along edges of decreasing SAD
    continue until the vertex is optimal. Each pivot is an exact line search (a
    weighted median). At a degenerate vertex (more than k zero residuals, common with
    tied data) the dual values of the extra zero rows are found by a small feasibility
    LP. Works on power-of-two rescaled data (exact). If the pivot budget runs out the
    returned certificate does not hold; :func:`exact_lad_vertex` never stops there.
    ``tau``: the tau-th regression quantile's vertex instead (line searches are weighted
    tau-quantiles).
    """
    Xs, ys, col_exp, y_exp = _scale(X, y)
    start = np.ldexp(np.asarray(beta_start, dtype=float), col_exp - y_exp)
    return _unscale_vertex(_polish(Xs, ys, start, max_pivots, check_unique, tau), col_exp, y_exp)


def _polish(X, y, beta_start, max_pivots, check_unique, tau=None) -> LadVertex:
    n, k = X.shape
    if max_pivots is None:
        max_pivots = MAX_PIVOTS_PER_ROW * n + 10 * k
    basis = _independent_rows(X, np.argsort(np.abs(y - X @ beta_start), kind="stable"), k)
    pivots = 0
    degenerate_step = False
    while True:
        beta, residuals = _vertex_solution(X, y, basis)
        d, d_basis = _dual_at_vertex(X, residuals, basis, tau)
        optimal = _feasible(d_basis, tau)
        zero_rows = np.flatnonzero(residuals == 0.0)
        if not optimal and zero_rows.size > k and (degenerate_step or pivots >= max_pivots):
            # Only after a degenerate step: a feasibility LP per pivot was the cost that
            # made tied problems take minutes.
            feasible = _degenerate_dual(X, residuals, zero_rows, tau)
            if feasible is not None:
                d, optimal = feasible, True
        if optimal or pivots >= max_pivots:
            break
        if tau is None:
            violation = np.abs(d_basis)
            violators = np.flatnonzero(violation > 1.0 + DUAL_TOL)
        else:
            violation = np.maximum(d_basis - tau, tau - 1.0 - d_basis)
            violators = np.flatnonzero(violation > DUAL_TOL)
        # Largest violation normally; Bland's rule (smallest row) after a degenerate step.
        leave = (
            violators[np.argmin(basis[violators])]
            if degenerate_step
            else violators[np.argmax(violation[violators])]
        )
        # The leaving row's residual turns positive where its dual is above the upper
        # bound, negative where below the lower: the loss then decreases along the edge.
        direction = np.linalg.solve(X[basis], -_at_upper(d_basis[leave], tau) * np.eye(k)[leave])
        slopes = X @ direction
        # A slope at rounding level is zero (a duplicate of a basis row, say): entering
        # such a row would make the basis singular.
        slopes[np.abs(slopes) <= SAFETY * (k + 1) * EPS * (np.abs(X) @ np.abs(direction))] = 0.0
        step = _line_search(slopes, residuals, exclude=basis, tau=tau)
        if step is None:
            break
        entering, length = step
        degenerate_step = length == 0.0
        basis = basis.copy()
        basis[leave] = entering
        pivots += 1
    if optimal and check_unique:
        unique, how = _uniqueness(X, residuals, d, tau)
    else:
        unique, how = None, "not determined (intermediate problem)" if optimal else "not optimal"
    certificate = dual_certificate(X, y, beta, d, unique, how, tau)
    return LadVertex(beta, np.sort(basis), d, certificate, pivots)


def _vertex_solution(X, y, basis):
    """The vertex X_B beta = y_B (one step of iterative refinement) and its residuals, with
    the basis rows, and rows zero up to rounding (ties), set to exactly 0.

    "Zero up to rounding" is the residual's own rounding bound (:mod:`lossbridge.core.rounding`)
    plus the error of beta (the refinement step estimates it) propagated through the row,
    times the safety factor: a tie cannot be told from zero more finely than that. Without
    the second term a duplicate of a basis row, whose residual is exactly zero, showed
    the solve's rounding as a residual (LU rounds relative to its factors, not to X_B).
    """
    X_B = X[basis]
    beta = np.linalg.solve(X_B, y[basis])
    correction = np.linalg.solve(X_B, y[basis] - X_B @ beta)
    beta = beta + correction
    residuals = y - X @ beta
    bound = residual_errors(X, y, beta) + np.abs(X) @ np.abs(correction)
    residuals[np.abs(residuals) <= SAFETY * bound] = 0.0
    residuals[basis] = 0.0
    return beta, residuals


def _dual_at_vertex(X, residuals, basis, tau=None):
    """Dual values: sign(r_i) off the basis; on it, solve X_B' d_B = -sum_N sign(r_i) x_i
    (with ``tau``: tau or tau - 1 in place of sign(r_i))."""
    d = _signs(residuals, tau)
    d[basis] = 0.0
    d_basis = np.linalg.solve(X[basis].T, -(X.T @ d))
    d[basis] = d_basis
    return d, d_basis


def _degenerate_dual(X, residuals, zero_rows, tau=None):
    """A dual vector with d_i in [-1, 1] (``tau``: [tau - 1, tau]) on every zero-residual
    row, or None if none exists.

    HiGHS finds a feasible point; its basic values (strictly inside the bounds) are then
    re-solved exactly on k independent zero rows, so X'd = 0 holds to rounding.
    """
    d = _signs(residuals, tau)
    d[zero_rows] = 0.0
    target = -(X.T @ d)
    block = X[zero_rows]
    res = linprog(np.zeros(zero_rows.size), A_eq=block.T, b_eq=target, bounds=_bounds(tau),
                  method="highs", options=HIGHS_OPTIONS)
    if res.status != 0:
        return None
    hint = np.zeros(len(residuals))
    hint[zero_rows] = res.x
    interior = _inside(res.x, tau, HINT_TOL)
    order = zero_rows[np.argsort(~interior, kind="stable")]
    try:
        basis = _independent_rows(X, order, X.shape[1])
    except InputError:
        return None
    values = _dual_with_hint(X, residuals, basis, hint, tau)
    return values if _feasible(values, tau) else None


def _uniqueness(X, residuals, d, tau=None) -> tuple[bool | None, str]:
    """Whether the LAD optimum is unique, from one optimal dual ``d``; (verdict, how).

    With Z the zero-residual rows, the SAD's derivative along delta is
    sum_Z (|x_i'delta| + d_i x_i'delta) >= 0, zero iff x_i'delta = 0 where |d_i| < 1 and
    d_i x_i'delta <= 0 where |d_i| = 1. The optimum is unique iff only delta = 0 does
    that: with N a basis of the null space of the interior rows' x_i and A the rows
    d_i x_i'N of the rows on their bounds, iff A has full column rank and a strictly
    positive lambda has A'lambda = 0 (Gordan's alternative): one feasibility LP.
    A dual within ``UNIQUE_TOL`` of +-1 counts as on its bound, which can only make
    "unique" harder to prove. With ``tau`` the same holds with d_i in [tau - 1, tau], the
    sign being +1 at the upper bound and -1 at the lower.
    """
    k = X.shape[1]
    zero = residuals == 0.0
    Xz = X[zero] / np.linalg.norm(X, axis=0)
    dz = d[zero]
    inside = _inside(dz, tau, UNIQUE_TOL)
    null = np.eye(k)
    if inside.any():
        rows = Xz[inside]
        if rows.shape[0] > k:  # a k x k triangle with the same row space
            rows = np.linalg.qr(rows, mode="r")
        rows = np.vstack([rows, np.zeros((k - rows.shape[0], k))])
        _, singular, vt = np.linalg.svd(rows)
        rank = int(np.sum(singular > singular[0] * k * 1e3 * EPS)) if singular.size else 0
        null = vt[rank:].T
    if null.shape[1] == 0:
        return True, "unique: the rows with zero residual and an interior dual span the design"
    A = _at_upper(dz[~inside], tau)[:, None] * (Xz[~inside] @ null)
    norms = np.linalg.norm(A, axis=1)
    A = A[norms > 1e3 * EPS] / norms[norms > 1e3 * EPS, None]
    if A.shape[0] < null.shape[1] or np.linalg.matrix_rank(A) < null.shape[1]:
        return False, f"not unique: a direction keeps the {_loss_word(tau)} flat (rank test)"
    if A.shape[0] > 2_000:  # many duplicates among tied rows: each distinct row once
        A = np.unique(np.round(A, 12), axis=0)
    res = linprog(np.zeros(A.shape[0]), A_eq=A.T, b_eq=np.zeros(A.shape[1]), bounds=(1.0, None),
                  method="highs")
    if res.status == 0:
        return True, (f"unique: no direction keeps the {_loss_word(tau)} flat (Gordan's "
                      "alternative, one LP)")
    if res.status == 2:
        return False, (f"not unique: a direction keeps the {_loss_word(tau)} flat (Gordan's "
                       "alternative, one LP)")
    return None, f"unknown: the uniqueness LP did not finish ({res.message})"


def _line_search(slopes: np.ndarray, residuals: np.ndarray,
                 exclude: np.ndarray | None = None,
                 tau: float | None = None) -> tuple[int, float] | None:
    """Row whose breakpoint minimises sum |r_i - t a_i| over t (a weighted median; with
    ``tau``, sum rho_tau(r_i - t a_i): a weighted quantile).

    The slope in t of sum rho_tau(r_i - t a_i) starts at -(tau S+ + (1 - tau) S-)
    (S+, S-: the sums of |a_i| over a_i > 0 and a_i < 0) and rises by |a_i| at each
    breakpoint r_i / a_i: the minimiser is the first breakpoint whose cumulative weight
    reaches tau S+ + (1 - tau) S- (half the total for LAD).

    Returns the row and the step length; ties at the median go to the smallest row not
    in ``exclude`` (the current basis: re-entering the leaving row would stall).
    """
    active = np.flatnonzero(slopes != 0)
    if active.size == 0:
        return None
    a = slopes[active]
    t = residuals[active] / a
    if tau is None:
        length = _weighted_median(t, np.abs(a))
    else:
        target = tau * float(np.sum(a[a > 0])) - (1.0 - tau) * float(np.sum(a[a < 0]))
        length = _weighted_median(t, np.abs(a), target)
    tied = active[t == length]
    if exclude is not None:
        tied = np.setdiff1d(tied, exclude)
        if tied.size == 0:
            return None
    return int(tied.min()), float(length)


def _weighted_median(values: np.ndarray, weights: np.ndarray,
                     target: float | None = None) -> float:
    """Smallest value whose cumulative weight (in sorted order) reaches half the total
    (or ``target``: a weighted quantile).

    Selection by repeated partitioning, O(n) on average: the line search runs once per
    simplex pivot, and sorting all breakpoints every time dominated large problems.
    """
    index = np.arange(values.size)
    if target is None:
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


INDEPENDENCE_TOL = 1e-12  # a row's part outside the span of the rows chosen, relative


def _independent_rows(X: np.ndarray, order: np.ndarray, k: int,
                      fallback: Callable[[], np.ndarray] | None = None) -> np.ndarray:
    """First k rows, in ``order``, that are linearly independent (Gram-Schmidt on the rows).

    Repeated rows (categorical designs) are skipped at once rather than re-tested; if
    ``order`` runs out, the search continues through ``fallback()`` (computed only then).
    """
    scale = np.linalg.norm(X, axis=0)
    chosen: list[int] = []
    basis = np.zeros((0, X.shape[1]))
    seen: set[bytes] = set()
    for source in (lambda: order, fallback or (lambda: np.zeros(0, dtype=int))):
        for row in source():
            key = X[row].tobytes()
            if key in seen:
                continue
            seen.add(key)
            v = X[row] / scale
            norm = np.linalg.norm(v)
            if norm == 0:
                continue
            w = v - basis.T @ (basis @ v)
            w = w - basis.T @ (basis @ w)
            # Loose enough for designs with cond ~ 1e12 (the dual certificate judges the
            # vertex, so a poorly conditioned basis can cost certification, never truth).
            if np.linalg.norm(w) > INDEPENDENCE_TOL * norm:
                chosen.append(int(row))
                basis = np.vstack([basis, w / np.linalg.norm(w)])
                if len(chosen) == k:
                    return np.array(chosen)
    raise InputError(
        f"no {k} rows of the design are linearly independent to {INDEPENDENCE_TOL:g} relative, so "
        "no exact LAD vertex can be computed in double precision; the design is too "
        "ill-conditioned: centre or rescale the predictors (e.g. I(year - 2000) in polynomials)"
    )


__all__ = [
    "DualCertificate",
    "LadVertex",
    "dual_certificate",
    "exact_lad_vertex",
    "exact_quantile_vertex",
    "polish_to_vertex",
    "solve_lad_lp",
    "unit_exponents",
]
