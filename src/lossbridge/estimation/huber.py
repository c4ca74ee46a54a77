"""Exact Huber fits, in NumPy, independent of PyMC: the references the Huber MAP is certified by.

* **At a fixed scale σ** the MAP is the Huber M-estimate with that scale: the minimiser
  of Σ rho_c((y_i − x_i β)/σ), convex in β. Solved by semismooth Newton (the Hessian
  X'WX/σ², W the rows with |r_i/σ| <= c, is exact away from the kinks), falling back
  to the IRLS weights psi(u)/u where X'WX is singular, with a backtracking line search.
  Certified by its gradient (KKT): X'psi_c(r/σ) = 0 within its rounding bound; convexity
  makes that point a global minimum, unique when X'WX is positive definite.
* **With a learned scale** the MAP is the joint maximum-likelihood fit of the density,
  n log(Aσ) + Σ rho_c(r_i/σ). In (γ, η) = (β/σ, 1/σ) it is −n log η + Σ rho_c(η y_i − x_i γ)
  + n log A, convex (log-concave density; Pratt 1981), so Newton there finds the global
  minimum; solved from several starts, which must agree, and certified by the gradient
  in (β, σ): X'psi_c(r/σ) = 0 and Σ (r_i/σ) psi_c(r_i/σ) = n.
* **scikit-learn's HuberRegressor** (alpha = 0) minimises the concomitant-scale objective
  Σ [σ + σ H_c(r_i/σ)], H_c = 2 rho_c (Owen 2007, "A robust hybrid of lasso and ridge
  regression"): jointly convex, and its σ solves Σ min(r_i²/σ², c²) = n, not the
  likelihood equation Σ (r_i/σ) psi_c(r_i/σ) = n. It is computed here by its own Newton
  iteration and shown beside the MLE; it is not the MLE of the Huber density.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..core.rounding import EPS, SAFETY, residual_errors, stationarity_error_bounds
from ..families.huber import huber_psi, huber_rho, normalising_constant

MAX_STEPS = 500
# The starts of the joint MLE must agree to this, relative per coefficient (the solver's
# own KKT tolerance is far tighter; this only flags a failure of convexity or of Newton).
STARTS_RTOL = 1e-8


@dataclass(frozen=True, eq=False)
class HuberSolution:
    """A Huber fit and its gradient certificate.

    Attributes
    ----------
    coefficients : ndarray of shape (k,)
    scale : float
        The fixed scale, or the estimated one.
    objective : float
        The minimised objective (Σ rho_c(r/σ) at a fixed scale; the NLL for the joint
        MLE; the concomitant objective for :func:`concomitant_scale_fit`).
    gradient : ndarray
        Its gradient in (β) or (β, σ) at the solution, in the objective's units.
    gradient_bound : ndarray
        The rounding bound of each gradient entry; ``kkt`` holds when every |gradient|
        is within it.
    kkt : bool
    unique : bool
        X'WX positive definite at the solution (strict convexity), so the minimiser is unique.
    steps : int
        Newton iterations (summed over the starts).
    starts_spread : float or None
        Largest relative coefficient difference between the starts (joint MLE only).
    """

    coefficients: np.ndarray
    scale: float
    objective: float
    gradient: np.ndarray
    gradient_bound: np.ndarray
    kkt: bool
    unique: bool
    steps: int
    starts_spread: float | None = None


def _newton(objective: Callable, x0: np.ndarray, feasible: Callable | None = None,
            max_steps: int = MAX_STEPS) -> tuple[np.ndarray, int]:
    """Minimise a convex C1 function with a piecewise-constant Hessian.

    ``objective(x)`` returns (value, gradient, Hessian, fallback), ``fallback`` a positive
    definite matrix (IRLS weights) used where the Hessian is singular. Backtracking line
    search: a step is taken when it lowers the value (Armijo) or, where the value is flat
    to rounding, shrinks the gradient; iteration stops when no step does (rounding reached).
    """
    x = np.asarray(x0, dtype=float)
    value, grad, hess, fallback = objective(x)
    steps = 0
    while steps < max_steps and np.any(grad):
        steps += 1
        try:
            step = np.linalg.solve(hess, grad)
            if not np.all(np.isfinite(step)) or np.linalg.cond(hess) > 1e14:
                raise np.linalg.LinAlgError
        except np.linalg.LinAlgError:
            step = np.linalg.solve(fallback, grad)
        decrease = float(grad @ step)
        t, accepted = 1.0, None
        for _ in range(60):
            candidate = x - t * step
            if np.array_equal(candidate, x):
                break  # the step is below rounding
            if feasible is None or feasible(candidate):
                new = objective(candidate)
                # the value's own rounding (a sum of n terms) allows a tie within 1e-12
                if new[0] < value - 1e-4 * t * decrease or (
                        new[0] <= value + 1e-12 * abs(value)
                        and np.linalg.norm(new[1]) < np.linalg.norm(grad)):
                    accepted = candidate
                    break
            t /= 2.0
        if accepted is None:
            break
        x = accepted
        value, grad, hess, fallback = new
    return x, steps


def _scaled(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Unit-norm columns and y over its root mean square: the problem's units, for the
    linear solves (the fits are equivariant and are scaled back exactly after)."""
    norms = np.linalg.norm(X, axis=0)
    norms = np.where(norms > 0, norms, 1.0)
    s = float(np.sqrt(np.mean(y**2))) or 1.0
    return X / norms, y / s, norms, s


def _ols(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.linalg.lstsq(X, y, rcond=np.finfo(float).eps)[0]


def _weights(u: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
    """ψ'(u) (1 in the quadratic zone, 0 beyond) and the IRLS weights ψ(u)/u = min(1, c/|u|)."""
    a = np.abs(u)
    inside = (a <= c).astype(float)
    with np.errstate(divide="ignore"):
        irls = np.where(a > c, c / np.maximum(a, 1e-300), 1.0)
    return inside, irls


def huber_m_estimate(X: np.ndarray, y: np.ndarray, c: float, sigma: float,
                     beta_start: np.ndarray | None = None) -> HuberSolution:
    """The Huber M-estimate at the fixed scale ``sigma``: argmin Σ rho_c((y − Xβ)/σ)."""
    Xs, ys, norms, s = _scaled(X, y)
    sig = sigma / s

    def objective(b):
        u = (ys - Xs @ b) / sig
        inside, irls = _weights(u, c)
        grad = -(Xs.T @ huber_psi(u, c)) / sig
        hess = (Xs.T * inside) @ Xs / sig**2
        fallback = (Xs.T * irls) @ Xs / sig**2
        return float(np.sum(huber_rho(u, c))), grad, hess, fallback

    b0 = _ols(Xs, ys) if beta_start is None else np.asarray(beta_start) * norms / s
    b, steps = _newton(objective, b0)
    beta = b * s / norms
    return _certify_fixed(X, y, c, sigma, beta, steps)


def _certify_fixed(X, y, c, sigma, beta, steps) -> HuberSolution:
    u = (y - X @ beta) / sigma
    psi = huber_psi(u, c)
    # d/dβ Σ rho(r/σ) = −X'ψ/σ; ψ inherits each residual's rounding error over σ (ψ' <= 1).
    gradient = -(X.T @ psi) / sigma
    bound = (stationarity_error_bounds(X, psi)
             + SAFETY * np.abs(X).T @ residual_errors(X, y, beta) / sigma) / sigma
    inside = np.abs(u) <= c
    return HuberSolution(beta, float(sigma), float(np.sum(huber_rho(u, c))), gradient, bound,
                         bool(np.all(np.abs(gradient) <= bound)),
                         _full_rank(X[inside]), steps)


def _full_rank(rows: np.ndarray) -> bool:
    if rows.shape[0] < rows.shape[1]:
        return False
    singular = np.linalg.svd(rows / np.maximum(np.linalg.norm(rows, axis=0), 1e-300),
                             compute_uv=False)
    return bool(singular[-1] > 1e-10 * singular[0])


def joint_nll(X: np.ndarray, y: np.ndarray, c: float, beta: np.ndarray, sigma: float) -> float:
    """The Huber density's NLL: n log(Aσ) + Σ rho_c((y − Xβ)/σ)."""
    return (len(y) * np.log(normalising_constant(c) * sigma)
            + float(np.sum(huber_rho((y - X @ beta) / sigma, c))))


def huber_joint_mle(X: np.ndarray, y: np.ndarray, c: float) -> HuberSolution:
    """The joint MLE of (β, σ) under the Huber density, by Newton in (β/σ, 1/σ) where the NLL
    is convex, from three starts (OLS; zero; OLS at ten times its scale) that must agree."""
    Xs, ys, norms, s = _scaled(X, y)
    n = len(ys)

    def objective(x):
        gamma, eta = x[:-1], x[-1]
        u = eta * ys - Xs @ gamma
        inside, irls = _weights(u, c)
        psi = huber_psi(u, c)
        value = -n * np.log(eta) + float(np.sum(huber_rho(u, c)))
        grad = np.append(-(Xs.T @ psi), -n / eta + ys @ psi)

        def matrix(w):
            top = np.hstack([(Xs.T * w) @ Xs, -((Xs.T * w) @ ys)[:, None]])
            corner = n / eta**2 + ys @ (w * ys)
            return np.vstack([top, np.append(top[:, -1], corner)])

        return value, grad, matrix(inside), matrix(irls)

    b_ols = _ols(Xs, ys)
    r = ys - Xs @ b_ols
    sig_ols = float(np.sqrt(np.mean(r**2))) or 1.0
    starts = [(b_ols, sig_ols), (np.zeros_like(b_ols), 1.0), (b_ols, 10.0 * sig_ols)]
    solutions, total = [], 0
    for b0, s0 in starts:
        x, steps = _newton(objective, np.append(b0 / s0, 1.0 / s0), feasible=lambda x: x[-1] > 0)
        total += steps
        solutions.append((x[:-1] / x[-1] * s / norms, s / x[-1]))
    beta, sigma = solutions[0]
    floor = 1e-6 * np.linalg.norm(y) / np.linalg.norm(X, axis=0)
    spread = max(float(np.max(np.abs(b - beta) / np.maximum(np.abs(beta), floor)))
                 for b, _ in solutions)
    spread = max(spread, *(abs(sg - sigma) / sigma for _, sg in solutions))
    return _certify_joint(X, y, c, beta, sigma, total, spread)


def _certify_joint(X, y, c, beta, sigma, steps, spread) -> HuberSolution:
    n = len(y)
    u = (y - X @ beta) / sigma
    psi = huber_psi(u, c)
    errors = residual_errors(X, y, beta) / sigma
    # ∂/∂β NLL = −X'ψ/σ; ∂/∂σ NLL = (n − Σ u ψ)/σ.
    gradient = np.append(-(X.T @ psi) / sigma, (n - float(u @ psi)) / sigma)
    bound_beta = (stationarity_error_bounds(X, psi)
                  + SAFETY * np.abs(X).T @ errors) / sigma
    # d(uψ)/du = 2|ψ| <= 2c... bounded by 2|u| in the centre, c beyond: 2|ψ|
    bound_sigma = SAFETY * (n * EPS * (n + float(np.sum(np.abs(u * psi))))
                            + float(np.sum(2.0 * np.abs(psi) * errors))) / sigma
    bound = np.append(bound_beta, bound_sigma)
    inside = np.abs(u) <= c
    return HuberSolution(beta, float(sigma), joint_nll(X, y, c, beta, sigma), gradient, bound,
                         bool(np.all(np.abs(gradient) <= bound) and spread <= STARTS_RTOL),
                         _full_rank(X[inside]), steps, spread)


def concomitant_objective(X: np.ndarray, y: np.ndarray, c: float, beta: np.ndarray,
                          sigma: float) -> float:
    """scikit-learn's HuberRegressor objective at alpha = 0: Σ [σ + σ H_c(r_i/σ)],
    H_c(z) = z² for |z| < c, 2c|z| − c² beyond (= 2 rho_c)."""
    return len(y) * sigma + 2.0 * sigma * float(np.sum(huber_rho((y - X @ beta) / sigma, c)))


def concomitant_scale_fit(X: np.ndarray, y: np.ndarray, c: float) -> HuberSolution:
    """The minimiser of :func:`concomitant_objective` over (β, σ), by Newton (jointly convex:
    σ H_c(r/σ) is the perspective of a convex function), started at OLS."""
    Xs, ys, norms, s = _scaled(X, y)
    n = len(ys)

    def objective(x):
        b, sig = x[:-1], x[-1]
        u = (ys - Xs @ b) / sig
        inside, irls = _weights(u, c)
        psi = huber_psi(u, c)
        value = n * sig + 2.0 * sig * float(np.sum(huber_rho(u, c)))
        grad = np.append(-2.0 * (Xs.T @ psi), n - float(np.sum(np.minimum(u * u, c * c))))

        def matrix(w):
            top = np.hstack([(Xs.T * w) @ Xs, ((Xs.T * w) @ u)[:, None]])
            return 2.0 / sig * np.vstack([top, np.append(top[:, -1], u @ (w * u))])

        # the fallback adds n/σ² on the scale: positive definite, a descent direction
        fallback = matrix(irls)
        fallback[-1, -1] += n / sig**2
        return value, grad, matrix(inside), fallback

    b0 = _ols(Xs, ys)
    s0 = float(np.sqrt(np.mean((ys - Xs @ b0) ** 2))) or 1.0
    x, steps = _newton(objective, np.append(b0, s0), feasible=lambda x: x[-1] > 0)
    beta, sigma = x[:-1] * s / norms, float(x[-1] * s)
    u = (y - X @ beta) / sigma
    psi = huber_psi(u, c)
    errors = residual_errors(X, y, beta) / sigma
    gradient = np.append(-2.0 * (X.T @ psi), n - float(np.sum(np.minimum(u * u, c * c))))
    bound = np.append(2.0 * (stationarity_error_bounds(X, psi) + SAFETY * np.abs(X).T @ errors),
                      SAFETY * (n * EPS * (n + float(np.sum(np.minimum(u * u, c * c))))
                                + float(np.sum(2.0 * np.abs(psi) * errors))))
    return HuberSolution(beta, sigma, concomitant_objective(X, y, c, beta, sigma), gradient,
                         bound, bool(np.all(np.abs(gradient) <= bound)),
                         _full_rank(X[np.abs(u) <= c]), steps)
