"""The exact fit of a generalised linear model: Newton's method to a zero gradient (KKT).

For a family with a link (Bernoulli, Poisson) the maximum-likelihood coefficients solve
X' d(beta) = 0, d_i = d log f(y_i | eta_i) / d eta_i, eta = X beta (+ offset). Newton's
method (iteratively reweighted least squares for a canonical link) from the family's
start, with step halving on the negative log-likelihood (in the family's cancellation-free
form, ``Family.newton_objective``: a deviance), stopping at a zero gradient within its
rounding bound, reaches that point; it is then
certified by

* the gradient: |X' d|_j at most a bound on its rounding, 64 n eps sum_i |x_ij d_i|
  (each term is computed to a few ulps; the sum of n terms loses at most n eps);
* the curvature: the observed information X' W X is positive definite (its smallest
  eigenvalue relative to the largest above 1e3 eps), so the stationary point is a strict
  local minimum; for a log-concave likelihood in eta (every canonical link, probit,
  cloglog) it is the unique global minimum.

When the likelihood has no maximum (a separating direction for a Bernoulli, an all-zero
group for a Poisson) the iterates diverge; the family's own check refuses that first
(:meth:`~lossbridge.families.base.Family.check_response` and the separation check).
The family supplies :meth:`~lossbridge.families.base.Family.eta_derivatives`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..data.design import Design
from ..families.base import Family

GRADIENT_SAFETY = 64.0
MAX_STEPS = 200


@dataclass(frozen=True)
class GlmFit:
    """Newton's solution and its KKT evidence."""

    coefficients: np.ndarray
    nll: float
    gradient: np.ndarray
    gradient_bound: np.ndarray
    min_eigenvalue: float
    condition: float
    steps: int

    @property
    def stationary(self) -> bool:
        return bool(np.all(np.abs(self.gradient) <= self.gradient_bound))

    @property
    def strict_minimum(self) -> bool:
        return bool(self.min_eigenvalue > 0 and self.condition < 1.0 / (1e3 * np.finfo(float).eps))

    def kkt(self) -> dict:
        return {"holds": self.stationary and self.strict_minimum,
                "max_gradient_over_bound": float(np.max(np.abs(self.gradient) / self.gradient_bound)),
                "min_information_eigenvalue": self.min_eigenvalue,
                "information_condition": self.condition, "convex": True,
                "unique": self.strict_minimum, "newton_steps": self.steps}


def damped_newton(gamma: np.ndarray, objective: Callable[[np.ndarray], float],
                  score: Callable[[np.ndarray], tuple]) -> tuple[np.ndarray, int]:
    """Newton's method from ``gamma`` on a concave log-likelihood: ``score(gamma)`` gives
    its gradient, information (minus the Hessian) and the gradient's rounding bound;
    steps are halved until ``objective`` (the NLL, or a cancellation-free form of it)
    does not rise. Returns the point and the steps taken."""
    value, steps = objective(gamma), 0
    for _ in range(MAX_STEPS):
        steps += 1
        gradient, information, bound = score(gamma)  # of the log-likelihood
        # Stop at a zero gradient (within its rounding bound: the KKT certificate's own
        # test), not on the objective's change, which is rounding noise near the optimum.
        if np.all(np.abs(gradient) <= bound):
            break
        try:
            step = np.linalg.solve(information, gradient)
        except np.linalg.LinAlgError:
            step = gradient / max(float(np.max(np.abs(np.diag(information)))), 1.0)
        # The Newton decrement g'H^-1 g (twice the predicted decrease): once it is at the
        # objective's rounding, the quadratic model is exact and the full step is taken.
        decrement = float(gradient @ step)
        tiny = decrement <= 1e3 * np.finfo(float).eps * max(abs(value), 1.0)
        for _ in range(60):  # halve until the objective does not rise
            candidate = gamma + step
            new = objective(candidate)
            if tiny or new <= value + 1e-15 * abs(value):
                break
            step = step / 2.0
        else:
            break
        moved = np.max(np.abs(candidate - gamma)) > 0
        gamma, value = candidate, new
        if not moved:
            break
    return gamma, steps


def newton_glm(family: Family, X: np.ndarray, y: np.ndarray, shape: dict | None = None,
               offset: np.ndarray | None = None, beta_start: np.ndarray | None = None) -> GlmFit:
    """Minimise the family's NLL over beta by damped Newton on unit-norm columns."""
    shape = shape or {}
    offset = np.zeros(y.size) if offset is None else offset
    norms = np.linalg.norm(X, axis=0)
    norms[norms == 0] = 1.0
    Xs = X / norms

    def nll(gamma):
        mu = family.link.inverse(Xs @ gamma + offset)
        with np.errstate(all="ignore"):
            value = -float(np.sum(family.logpdf(y, mu, 1.0, **shape)))
        return value if np.isfinite(value) else np.inf

    def objective(gamma):
        # the NLL up to a constant in a form without cancellation (a deviance), for the
        # line search: -sum log f cancels terms near y log mu, whose rounding would hide
        # the last steps' progress
        mu = family.link.inverse(Xs @ gamma + offset)
        with np.errstate(all="ignore"):
            value = family.newton_objective(y, mu, **shape)
        return value if np.isfinite(value) else np.inf

    def score(gamma):
        eta = Xs @ gamma + offset
        d, w = family.eta_derivatives(y, eta, 1.0, **shape)
        bound = GRADIENT_SAFETY * y.size * np.finfo(float).eps * (
            np.abs(Xs).T @ np.abs(d) + np.abs(Xs).T @ np.abs(w * eta))
        return Xs.T @ d, (Xs * w[:, None]).T @ Xs, bound

    if beta_start is not None:
        gamma = np.asarray(beta_start, dtype=float) * norms
    else:
        start = family.initial_linear_predictor(y) - offset
        gamma, *_ = np.linalg.lstsq(Xs, start, rcond=None)
    gamma, steps = damped_newton(gamma, objective, score)
    eta = Xs @ gamma + offset
    d, w = family.eta_derivatives(y, eta, 1.0, **shape)
    beta = gamma / norms
    gradient = X.T @ d
    bound = GRADIENT_SAFETY * y.size * np.finfo(float).eps * (np.abs(X).T @ np.abs(d)
                                                               + np.abs(X).T @ np.abs(w * eta))
    bound = np.maximum(bound, np.finfo(float).tiny)
    eigenvalues = np.linalg.eigvalsh((Xs * w[:, None]).T @ Xs)
    return GlmFit(coefficients=beta, nll=nll(gamma), gradient=gradient, gradient_bound=bound,
                  min_eigenvalue=float(eigenvalues[0]),
                  condition=float(eigenvalues[-1] / eigenvalues[0]) if eigenvalues[0] > 0
                  else np.inf, steps=steps)


def exact_glm(family: Family, design: Design, progress: Callable[[str], None] | None = None,
              shape: dict | None = None):
    """The maximum-likelihood GLM fit of ``family`` on ``design`` as an
    :class:`~lossbridge.estimation.exact.ExactFit` certified by its gradient (KKT) and
    curvature; its ``objective`` (the NLL) is what the MAP is compared on. ``shape``:
    values of the family's learned shape parameters to solve at (keywords of its
    density); fixed settings are the family's own."""
    shape = dict(shape or {})
    fit = newton_glm(family, design.X, design.y, shape, getattr(design, "offset", None))
    return glm_exact_fit("glm", "Newton's method", "X'd = 0", fit, family, design, shape)


def glm_exact_fit(key: str, method: str, gradient: str, fit: GlmFit, family: Family,
                  design: Design, shape: dict):
    """The :class:`~lossbridge.estimation.exact.ExactFit` of a Newton solution ``fit``
    (solver ``key``), certified by its gradient and curvature (:meth:`GlmFit.kkt`);
    ``objective`` (the NLL at the fit) is what the MAP is compared on."""
    from .exact import ExactFit, negative_log_posterior

    beta = fit.coefficients
    mu = family.link.inverse(design.linear_predictor(beta))
    verdict = "certified" if fit.kkt()["holds"] else "NOT certified"
    text = (f"maximum likelihood by {method} ({fit.steps} steps, step halving); {verdict} by "
            f"the gradient {gradient} within its rounding bound (KKT) and a positive-definite "
            "information matrix")
    objective = negative_log_posterior(family, design, beta, 1.0, shape)
    return ExactFit(key, text, beta, family.loss_of(design.y, mu, 1.0, **shape), None,
                    unique=fit.strict_minimum, kkt=fit.kkt(), objective=objective, shape=shape)
