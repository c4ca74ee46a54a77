"""The exact multinomial logit: Newton's method on the vectorised score, certified by KKT.

With K levels, reference level 0 and m = K - 1 coefficient vectors B = (beta_1 .. beta_m)
(p x m; flattened level by level, the order of ``Design.terms``), the log-likelihood is
sum_i log softmax(x_i B)_{y_i}. Its gradient is X' D with D_ic = 1[y_i = c] - p_ic, and
its negative Hessian (the information, equal to the observed one: the link is canonical)
is sum_i W_i kron x_i x_i' with W_i = diag(p_i) - p_i p_i'. The log-likelihood is
concave; with X of full rank and every W_i positive definite the information is
positive definite and the stationary point is the unique maximum. Newton's method with
step halving on the NLL (from eta, as eta - logsumexp eta) reaches it; the fit is
certified as the GLM's (:mod:`lossbridge.estimation.glm`) is:

* the gradient: |X' D| at most its rounding bound, 64 n eps sum_i |x_ij| (|d_ic| +
  sum_c' |W_i,cc'| |eta_ic'|) (the score's own rounding plus that of eta carried through
  the information);
* the curvature: the information's smallest eigenvalue relative to its largest above
  1e3 eps.

When a direction separates the levels the likelihood has no maximum and the iterates
diverge: the certificate then fails (the coefficients grow while the gradient shrinks
without reaching its bound), which the pipeline reports; statsmodels ``MNLogit`` is the
reference the tests hold the fit to.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..data.design import Design
from ..families.base import Family
from ..families.categorical import log_softmax
from .glm import GRADIENT_SAFETY, GlmFit, damped_newton, glm_exact_fit


def _blocks(gamma: np.ndarray, p: int) -> np.ndarray:
    """(p, m) coefficient matrix from the flat level-by-level vector."""
    return gamma.reshape(-1, p).T


def multinomial_derivatives(family: Family, X: np.ndarray, y: np.ndarray, beta: np.ndarray
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The log-likelihood's gradient X'D (flat, level by level), the information
    sum_i W_i kron x_i x_i' and the gradient's rounding bound (the module docstring's) at
    flat coefficients ``beta`` of the class codes ``y``: what Newton steps on and the KKT
    certificate reads."""
    n, p = X.shape
    eta = X @ _blocks(np.asarray(beta, dtype=float), p)
    d, w = family.eta_derivatives(y, eta, 1.0)  # (n, m), (n, m, m)
    gradient = (X.T @ d).T.reshape(-1)
    information = np.einsum("icd,ij,ik->cjdk", w, X, X).reshape(gradient.size, gradient.size)
    spread = np.abs(d) + np.einsum("icd,id->ic", np.abs(w), np.abs(eta))
    bound = GRADIENT_SAFETY * n * np.finfo(float).eps * (np.abs(X).T @ spread)
    return gradient, information, np.maximum(bound.T.reshape(-1), np.finfo(float).tiny)


def newton_multinomial(family: Family, X: np.ndarray, y: np.ndarray,
                       beta_start: np.ndarray | None = None) -> GlmFit:
    """Minimise the multinomial logit's NLL over the flat coefficients by damped Newton
    on unit-norm columns; returns the fit with its KKT evidence."""
    n, p = X.shape
    norms = np.linalg.norm(X, axis=0)
    norms[norms == 0] = 1.0
    Xs = X / norms
    codes = np.asarray(y, dtype=float).astype(np.int64)

    def eta_of(gamma):
        return Xs @ _blocks(gamma, p)

    def nll(gamma):
        value = -float(np.sum(np.take_along_axis(log_softmax(eta_of(gamma)), codes[:, None],
                                                 axis=1)))
        return value if np.isfinite(value) else np.inf

    def derivatives(gamma, design):
        return multinomial_derivatives(family, design, codes, gamma)

    if beta_start is not None:
        gamma = (np.asarray(beta_start, dtype=float).reshape(-1, p) * norms).reshape(-1)
    else:
        start = family.initial_linear_predictor(codes)
        gamma = np.linalg.lstsq(Xs, start, rcond=None)[0].T.reshape(-1)
    gamma, steps = damped_newton(gamma, nll, lambda point: derivatives(point, Xs))
    value = nll(gamma)
    beta = (gamma.reshape(-1, p) / norms).reshape(-1)
    # the certificate on the original columns: what the user's X' D = 0 means
    gradient, _, bound = derivatives(beta, X)
    _, information, _ = derivatives(gamma, Xs)
    eigenvalues = np.linalg.eigvalsh(information)
    return GlmFit(coefficients=beta, nll=value, gradient=gradient, gradient_bound=bound,
                  min_eigenvalue=float(eigenvalues[0]),
                  condition=float(eigenvalues[-1] / eigenvalues[0]) if eigenvalues[0] > 0
                  else np.inf, steps=steps)


def exact_multinomial(family: Family, design: Design,
                      progress: Callable[[str], None] | None = None):
    """The maximum-likelihood multinomial logit on ``design`` as an
    :class:`~lossbridge.estimation.exact.ExactFit` certified by its gradient (KKT) and
    curvature; ``objective`` (the NLL) is what the MAP is compared on."""
    if design.classes is None:
        raise ValueError("the multinomial logit needs a design built with classes=True")
    fit = newton_multinomial(family, design.X, design.y)
    return glm_exact_fit("multinomial", "Newton's method on the vectorised score", "X'D = 0",
                         fit, family, design, {})
