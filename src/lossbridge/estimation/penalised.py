"""Exact ridge, lasso and elastic-net fits, their optimality certificates, and the MAP check.

With the unpenalised set U (the intercept) and the penalised set P, every penalty of
:mod:`lossbridge.models.penalties` minimises ``RSS/2 + a1 ||w_P||_1 + (a2/2) ||w_P||²``
(``Penalty.weights``: scikit-learn's objective times 1/2 for ridge, times n otherwise).

* Ridge (a1 = 0) in closed form: the normal equations ``(X'X + a2 D) beta = X'y``
  (D = 1 on P, 0 on U), solved as the least-squares problem ``[X; sqrt(a2) D] beta ~ [y; 0]``
  on unit-norm columns (LAPACK), which is backward stable where X'X is not.
* Lasso and elastic net: coordinate descent on the problem with U projected out (for an
  intercept: centred data) gives the support and signs; an active-set solve then gives
  the exact point: on F = U ∪ support with signs s, the normal equations
  ``(X_F'X_F + a2 D_F) beta_F = X_F'y - a1 s`` by a QR solve; a coefficient whose sign
  flips leaves the support, the worst violator of ``|x_j'r| <= a1`` enters it, until none.
* The certificate (:class:`KktCertificate`) is the optimality (subgradient) conditions at
  the point: ``x_j'r - a2 beta_j - a1 sign(beta_j) = 0`` on the support, ``x_j'r = 0`` on
  U, ``|x_j'r| <= a1`` off the support, each within the rounding bound of computing it,
  ``10 (n + k + 2) eps ((|X|'(|y| + |X||beta|))_j + a2 |beta_j| + a1)`` (residuals and
  n-term sums, core/rounding.py's bounds). The objective is convex, so these conditions
  prove a minimum; X has full rank (data/design.py checks it), so RSS and the objective
  are strictly convex and the minimum is unique.
* :func:`confirm_with_pymc` proves the same conditions from the PyMC model's own
  gradient: zero on the support and U at the point; off the support, one-sided
  derivatives at ``beta ± h e_j`` that point back to zero (where PyTensor's |w| has its
  kink the gradient alone says nothing).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from ..core.rounding import EPS, SAFETY, loss_error_bound
from ..data.design import Design
from ..models.penalties import Penalty, penalised_columns
from .exact import ExactFit

CD_MAX_SWEEPS = 100_000
ACTIVE_SET_MAX_STEPS = 100


@dataclass(frozen=True)
class KktCertificate:
    """The subgradient conditions at one point, each relative to its rounding tolerance.

    ``worst`` is the largest violation / tolerance over all coordinates (<= 1: holds);
    ``zero_margin`` the smallest ``(a1 - |x_j'r|) / a1`` off the support (None when
    every penalised coefficient is nonzero).
    """

    worst: float
    support: int
    zeros: int
    zero_margin: float | None
    holds: bool
    checked_by: str = "numpy: X'(y - X beta)"

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True, eq=False)
class PenalisedFit(ExactFit):
    """The exact penalised fit: an :class:`ExactFit` with its penalty, scikit-learn's
    objective at the fit and the KKT certificate."""

    penalty: Penalty | None = None
    objective: float = float("nan")
    kkt: KktCertificate | None = None

    @property
    def title(self) -> str | None:
        return None if self.penalty is None else sklearn_title(self.penalty)


def sklearn_title(penalty: Penalty) -> str:
    """``Lasso(alpha=0.5)``, ``ElasticNet(alpha=0.5, l1_ratio=0.3)``: the scikit-learn fit."""
    ratio = f", l1_ratio={penalty.l1_ratio:g}" if penalty.l1_ratio is not None else ""
    return f"{penalty.sklearn_name}(alpha={penalty.alpha:g}{ratio})"


def kkt_tolerances(X: np.ndarray, y: np.ndarray, beta: np.ndarray, a1: float, a2: float,
                   penalised: np.ndarray) -> np.ndarray:
    """Per-coordinate rounding bound of ``x_j'r - a2 beta_j - a1 s_j`` (RSS/2 units)."""
    n, k = X.shape
    size = np.abs(X).T @ (np.abs(y) + np.abs(X) @ np.abs(beta))
    size = size + penalised * (a2 * np.abs(beta) + a1)
    return SAFETY * (n + k + 2) * EPS * size


def kkt_certificate(X: np.ndarray, y: np.ndarray, beta: np.ndarray, penalty: Penalty,
                    columns: list[int]) -> KktCertificate:
    """The optimality conditions of the penalised objective at ``beta`` (module docstring)."""
    n, k = X.shape
    a1, a2 = penalty.weights(n)
    penalised = np.zeros(k)
    penalised[columns] = 1.0
    c = X.T @ (y - X @ beta)
    tol = kkt_tolerances(X, y, beta, a1, a2, penalised)
    nonzero = beta != 0
    free = (penalised == 0) | nonzero
    g = c - penalised * (a2 * beta + a1 * np.sign(beta))
    violation = np.where(free, np.abs(g), np.maximum(np.abs(c) - a1, 0.0)) / tol
    zeros = (~free).nonzero()[0]
    margin = float(np.min((a1 - np.abs(c[zeros])) / a1)) if zeros.size and a1 > 0 else None
    worst = float(np.max(violation)) if k else 0.0
    return KktCertificate(worst=worst, support=int(np.sum(nonzero & (penalised == 1))),
                          zeros=int(zeros.size), zero_margin=margin, holds=worst <= 1.0)


def _ridge(X: np.ndarray, y: np.ndarray, a2: float, columns: list[int]) -> np.ndarray:
    norms = np.linalg.norm(X, axis=0)
    norms = np.where(norms > 0, norms, 1.0)
    rows = np.zeros((len(columns), X.shape[1]))
    rows[np.arange(len(columns)), columns] = np.sqrt(a2)
    A = np.vstack([X, rows]) / norms
    b = np.concatenate([y, np.zeros(len(columns))])
    solution, *_ = np.linalg.lstsq(A, b, rcond=EPS)
    return solution / norms


def _active_solve(X, y, free, penalised, signs, a1, a2) -> np.ndarray:
    """Minimiser of RSS/2 + a1 s'beta + (a2/2)||beta_P||² over the ``free`` columns."""
    k = X.shape[1]
    index = np.flatnonzero(free)
    beta = np.zeros(k)
    if index.size == 0:
        return beta
    pen = index[penalised[index] == 1]
    rows = np.zeros((pen.size, index.size))
    rows[np.arange(pen.size), np.searchsorted(index, pen)] = np.sqrt(a2)
    A = np.vstack([X[:, index], rows]) if a2 > 0 else X[:, index]
    b = np.concatenate([y, np.zeros(pen.size)]) if a2 > 0 else y
    norms = np.linalg.norm(A, axis=0)
    q, r = scipy.linalg.qr(A / norms, mode="economic")
    linear = a1 * penalised[index] * signs[index] / norms
    # R'R z = R'Q'b - linear  =>  R z = Q'b - R^-T linear
    shift = scipy.linalg.solve_triangular(r, linear, trans="T")
    z = scipy.linalg.solve_triangular(r, q.T @ b - shift)
    beta[index] = z / norms
    return beta


def _coordinate_descent(X, y, penalised, a1, a2) -> np.ndarray:
    """Coordinate descent with the unpenalised columns projected out: support and signs."""
    k = X.shape[1]
    pen = np.flatnonzero(penalised == 1)
    unpen = np.flatnonzero(penalised == 0)
    Xp, yp = X[:, pen], y
    if unpen.size:
        q, _ = np.linalg.qr(X[:, unpen])
        Xp = Xp - q @ (q.T @ Xp)
        yp = y - q @ (q.T @ y)
    G = Xp.T @ Xp
    c = Xp.T @ yp
    w = np.zeros(pen.size)
    diag = np.diag(G) + a2
    size = float(np.sqrt(np.sum(yp**2))) or 1.0
    for _ in range(CD_MAX_SWEEPS):
        largest = 0.0
        for j in range(pen.size):
            if diag[j] == 0:
                continue
            z = c[j] - G[j] @ w + G[j, j] * w[j]
            new = np.sign(z) * max(abs(z) - a1, 0.0) / diag[j]
            largest = max(largest, abs(new - w[j]) * np.sqrt(G[j, j]))
            w[j] = new
        if largest <= 1e-15 * size:
            break
    beta = np.zeros(k)
    beta[pen] = w
    if unpen.size:  # the unpenalised coefficients given w: least squares on the rest
        beta[unpen] = np.linalg.lstsq(X[:, unpen], y - X[:, pen] @ w, rcond=None)[0]
    return beta


def solve_penalised(X: np.ndarray, y: np.ndarray, penalty: Penalty,
                    columns: list[int]) -> tuple[np.ndarray, str]:
    """The exact minimiser of the penalised objective, and how it was found."""
    n, k = X.shape
    a1, a2 = penalty.weights(n)
    penalised = np.zeros(k)
    penalised[columns] = 1.0
    if a1 == 0:
        return (_ridge(X, y, a2, columns),
                "closed form: normal equations with the unpenalised intercept, as least "
                "squares on the augmented design (numpy.linalg.lstsq, LAPACK gelsd)")
    beta = _coordinate_descent(X, y, penalised, a1, a2)
    signs = np.sign(beta)
    for step in range(ACTIVE_SET_MAX_STEPS):
        free = (penalised == 0) | (signs != 0)
        candidate = _active_solve(X, y, free, penalised, signs, a1, a2)
        flipped = np.flatnonzero((penalised == 1) & (signs != 0) & (candidate * signs <= 0))
        if flipped.size:
            signs[flipped] = 0.0  # leaves the support
            continue
        c = X.T @ (y - X @ candidate)
        tol = kkt_tolerances(X, y, candidate, a1, a2, penalised)
        excess = np.where(~free, np.abs(c) - a1 - tol, -np.inf)
        worst = int(np.argmax(excess))
        if excess[worst] <= 0:
            return candidate, (f"coordinate descent for the support, then an exact active-set "
                               f"solve (QR) in {step + 1} step(s)")
        signs[worst] = np.sign(c[worst])  # the worst violator enters the support
    return beta, "coordinate descent (the active-set solve did not settle)"


def penalised_fit(family, design: Design, penalty: Penalty) -> PenalisedFit:
    """The exact ``penalty`` fit of ``design`` (scikit-learn's at that alpha), certified by
    its optimality conditions; loss and RSS are ``family``'s."""
    X, y = design.X, design.y
    columns = penalised_columns(design)
    beta, how = solve_penalised(X, y, penalty, columns)
    kkt = kkt_certificate(X, y, beta, penalty, columns)
    loss = family.loss(y - X @ beta)
    verdict = "certified" if kkt.holds else "NOT certified"
    return PenalisedFit(
        method=penalty.kind,
        solver=f"{how}; {verdict} by the optimality (KKT) conditions on all {design.n:,} rows",
        coefficients=beta,
        loss=loss,
        scale_mle=None,
        unique=True,
        penalty=penalty,
        objective=objective(design, beta, penalty),
        kkt=kkt,
    )


def objective(design: Design, beta: np.ndarray, penalty: Penalty) -> float:
    """scikit-learn's objective of ``penalty`` at ``beta``."""
    columns = penalised_columns(design)
    r = design.y - design.X @ beta
    w = beta[columns]
    return penalty.sklearn_objective(float(r @ r), float(np.sum(np.abs(w))), float(w @ w),
                                     design.n)


def objective_rounding(design: Design, beta: np.ndarray, penalty: Penalty) -> float:
    """Rounding bound of :func:`objective` at ``beta`` (RSS's bound, the penalty's k-term sums)."""
    n = design.n
    columns = penalised_columns(design)
    w = beta[columns]
    a1, a2 = penalty.weights(n)
    half = (0.5 * loss_error_bound(design.X, design.y, beta, "RSS")
            + SAFETY * (len(columns) + 1) * EPS * (a1 * np.sum(np.abs(w)) + a2 * float(w @ w)))
    return 2.0 * half if penalty.kind == "ridge" else half / n


@dataclass(frozen=True)
class PymcConfirmation:
    """The subgradient conditions read from the PyMC model's own gradient."""

    worst: float  # largest violation / tolerance (<= 1: holds)
    holds: bool
    evaluations: int

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self),
                "checked_by": "the PyMC log-density's gradient (PyTensor), at the point and "
                              "one-sided beside each zero coefficient"}


def confirm_with_pymc(density, design: Design, rotation, beta: np.ndarray, penalty: Penalty,
                      sigma: float) -> PymcConfirmation:
    """Check the optimality conditions at ``beta`` with ``density`` (a
    :class:`~lossbridge.estimation.map.LogDensity` of the reference model, theta only).

    The gradient in theta is mapped to beta by ``d theta / d beta = R diag(norms) / s``
    and scaled by sigma² to RSS/2 units; its tolerance is the rounding bound of the
    residuals, the n-term sums and the two k x k maps, ``10 (n + 2k + 2) eps`` times the
    sizes of the terms carried through ``|.|`` of each map.
    """
    X, y = design.X, design.y
    n, k = X.shape
    a1, a2 = penalty.weights(n)
    columns = penalised_columns(design)
    penalised = np.zeros(k)
    penalised[columns] = 1.0
    to_theta = rotation.R * rotation.column_norms[None, :] / rotation.y_scale  # theta = M beta
    to_beta = rotation.beta_from_theta_matrix
    s, Q = rotation.y_scale, rotation.Q
    before = density.evaluations

    def gradient(point):
        theta = rotation.to_theta(point)
        return sigma**2 * (to_theta.T @ density(theta)[1])

    theta = rotation.to_theta(beta)
    sizes_theta = (s * np.abs(Q).T @ (np.abs(y) + s * np.abs(Q) @ np.abs(theta))
                   + np.abs(to_beta).T @ (penalised * (a2 * np.abs(beta) + a1)))
    tol = SAFETY * (n + 2 * k + 2) * EPS * (np.abs(to_theta).T @ sizes_theta)
    # beta as PyMC sees it after the round trip through theta: off by rounding.
    seen = to_beta @ theta
    gram = np.abs(X.T @ X) + a2 * np.diag(penalised)
    tol = tol + gram @ np.abs(seen - beta)
    violation = np.zeros(k)
    free = (penalised == 0) | (beta != 0)
    g = gradient(beta)
    violation[free] = np.abs(g[free]) / tol[free]
    for j in np.flatnonzero(~free):
        # Steps past the round trip's error, small enough that the smooth part moves by
        # at most its tolerance: the one-sided derivatives then bound |x_j'r| by a1 + 2 tol.
        h = max(tol[j] / (gram[j, j] or 1.0), 100.0 * abs(seen[j] - beta[j]), 1e-300)
        up, down = beta.copy(), beta.copy()
        up[j] += h
        down[j] -= h
        right, left = gradient(up)[j], gradient(down)[j]
        violation[j] = max(right, -left, 0.0) / tol[j]
    worst = float(np.max(violation)) if k else 0.0
    return PymcConfirmation(worst=worst, holds=worst <= 1.0,
                            evaluations=density.evaluations - before)


def certify_penalised(spec, design: Design, estimate, exact: ExactFit | None):
    """The :class:`~lossbridge.estimation.certificate.Certificate` of a penalised MAP: its
    coefficients against the exact fit (1e-8 relative), its objective not above the
    exact fit's beyond their rounding bounds, the exact fit's KKT conditions and, where
    the MAP is the solver's point (an L1 part), the PyMC subgradient check."""
    from .certificate import COEFFICIENT_RTOL, Certificate, relative_coefficient_differences

    penalty = spec.penalty
    if not isinstance(exact, PenalisedFit) or exact.penalty != penalty:
        exact = penalised_fit(spec.family, design, penalty)
    beta = estimate.coefficients
    value_map = objective(design, beta, penalty)
    bound = (objective_rounding(design, beta, penalty)
             + objective_rounding(design, exact.coefficients, penalty))
    size = max(exact.objective, bound) or 1.0
    gap, tol = (value_map - exact.objective) / size, bound / size
    diff = float(np.max(relative_coefficient_differences(beta, exact.coefficients, design)))
    checks = {"objective": gap <= tol, "coefficients": diff <= COEFFICIENT_RTOL,
              "kkt": exact.kkt.holds}
    if estimate.penalty_check is not None:
        checks["pymc_subgradient"] = bool(estimate.penalty_check["holds"])
    certified = all(checks.values())
    name = sklearn_title(penalty)
    if certified:
        explanation = (f"MAP equals the exact {name} fit, scikit-learn's objective "
                       f"(coefficients within {diff:.1e} relative; KKT conditions within "
                       f"{exact.kkt.worst:.2g} of their rounding tolerance"
                       + ("; the MAP is the solver's point (the L1 kink defeats gradient "
                          "methods), so the evidence is these conditions: they hold on the "
                          "PyMC model's own gradient" if "pymc_subgradient" in checks else "")
                       + ")")
    else:
        failed = ", ".join(name for name, ok in checks.items() if not ok)
        explanation = (f"NOT certified: failed {failed} (coefficient diff {diff:.1e}, "
                       f"objective gap {gap:.1e})")
    return Certificate(
        loss_name=f"{penalty.sklearn_name} objective", loss_map=value_map,
        loss_exact=exact.objective, loss_relative_gap=gap, loss_tolerance=tol,
        max_relative_coefficient_difference=diff, coefficient_tolerance=COEFFICIENT_RTOL,
        coefficients_compared=True, scale_name=spec.family.scale_name,
        scale_map=estimate.scale, scale_closed_form=None, scale_relative_difference=None,
        unique=True, dual=None, checks=checks, certified=certified, explanation=explanation,
        reference=exact,
        optimality={"kkt": exact.kkt.as_dict(), "pymc_subgradient": estimate.penalty_check})
