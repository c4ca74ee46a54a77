"""The exact negative binomial (NB2) fit: the maximum of the posterior the MAP claims.

At a fixed dispersion alpha the NB log-likelihood is concave in eta = X beta (+ offset)
(observed information mu (1 + alpha y) / (1 + alpha mu)² > 0), so Newton's method
(:func:`lossbridge.estimation.glm.newton_glm`) reaches its unique maximum in beta. With
alpha learned, the objective is minus [log-likelihood + log prior(alpha)] (flat beta; the
declared proper prior, no Jacobian: what the MAP maximises, see
:func:`lossbridge.estimation.exact.negative_log_posterior`), maximised over

* the profile in t = log alpha, P(t) = min_beta NLL(beta, e^t) − log prior(e^t): scanned
  on a grid of log alpha (the distinct local minima of the scan are reported), then
  minimised by Brent's method between the best grid point's neighbours;
* the root of the profile's slope dP/dt (the partial derivative in t at beta(t), by the
  envelope theorem) by Brent's root finder, to rounding;

then certified: the gradient in beta (Newton's GLM bound at the final alpha) and in t
are within their rounding bounds (KKT), and the Hessian in (beta, t) is positive
definite (a strict local maximum). Nothing here uses PyTensor or PyMC.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.special import digamma

from ..core.differences import central_difference_hessian
from ..data.design import Design
from ..families.base import Family
from .exact import ExactFit, negative_log_posterior
from .glm import GRADIENT_SAFETY, exact_glm, newton_glm

LOG_ALPHA_GRID = np.linspace(np.log(1e-6), np.log(1e3), 28)


def log_alpha_grid(y: np.ndarray) -> np.ndarray:
    """The scan of log alpha: 1e-6 .. 1e3 (3 points a decade), extended down to
    1e-3 / (n max(y)²) for large counts: near the Poisson limit the posterior mode of
    alpha (under the Gamma(2, 0.5) prior, whose log alpha term pulls it off 0) is where
    the likelihood's slope in alpha, about n mu² times noise, meets 1/alpha, far below
    1e-6 when mu is large (alpha ~ 1e-10 at mu = e^20, n = 200)."""
    n, top = max(int(np.size(y)), 1), max(float(np.max(y)), 1.0)
    low = min(1e-6, 1e-3 / (n * top * top))
    if low >= 1e-6:
        return LOG_ALPHA_GRID
    extra = int(np.ceil(3.0 * np.log10(1e-6 / low)))
    return np.concatenate([np.linspace(np.log(low), np.log(1e-6), extra, endpoint=False),
                           LOG_ALPHA_GRID])


def _log1p_minus(u: np.ndarray) -> np.ndarray:
    """log(1 + u) − u, by its series where |u| < 1e-2 (the difference cancels there)."""
    u = np.asarray(u, dtype=float)
    series = sum((-1.0) ** (k + 1) * u**k / k for k in range(2, 10))  # error < u^10/10
    with np.errstate(all="ignore"):
        return np.where(np.abs(u) < 1e-2, series, np.log1p(u) - u)


def _log1p_minus_ratio(u: np.ndarray) -> np.ndarray:
    """log(1 + u) − u/(1 + u) (>= 0), by its series Σ_k≥2 (−1)^k (k−1)/k u^k where u < 1e-2."""
    u = np.asarray(u, dtype=float)
    series = sum((-1.0) ** k * (k - 1) / k * u**k for k in range(2, 10))
    with np.errstate(all="ignore"):
        return np.where(u < 1e-2, series, np.log1p(u) - u / (1.0 + u))


def _digamma_difference(y: np.ndarray, r: float) -> np.ndarray:
    """ψ(y + r) − ψ(r) − y/r: by ψ's asymptotic series for r > 100 (error < r^-8/240), where
    the direct difference of ψ values near log r cancels; directly otherwise."""
    if r <= 100.0:
        return digamma(y + r) - digamma(r) - y / r
    # ψ(x) ~ log x − 1/(2x) − 1/(12x²) + 1/(120x⁴) − 1/(252x⁶); the differences in
    # closed form (1/x² − 1/r² = −y (x + r)/(x r)²), not as differences of rounded values
    x = y + r
    d2 = -y * (x + r) / (x * r) ** 2
    d4 = d2 * (1.0 / x**2 + 1.0 / r**2)
    d6 = d2 * (1.0 / x**4 + 1.0 / (x * r) ** 2 + 1.0 / r**4)
    return _log1p_minus(y / r) + y / (2.0 * r * x) - d2 / 12.0 + d4 / 120.0 - d6 / 252.0


def alpha_score(y: np.ndarray, mu: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row, d log f / d log alpha, and the sizes of its terms (for its rounding bound).

    Written as −r [ψ(y + r) − ψ(r) − y/r] + r [log1p(αμ) − αμ/(1 + αμ)] − y αμ/(1 + αμ),
    each bracket computed without cancellation (series at small alpha), so the score is
    accurate to rounding relative to its own size near the Poisson limit, where the
    plain sum of its five O(mu) terms leaves only noise."""
    r = 1.0 / alpha
    am = alpha * mu
    parts = (-r * _digamma_difference(y, r), r * _log1p_minus_ratio(am), -y * am / (1.0 + am))
    return sum(parts), sum(np.abs(p) for p in parts)


class _Problem:
    def __init__(self, family: Family, design: Design):
        self.family, self.design = family, design
        self.prior = family.learned_shape[0]
        self.offset = design.offset if design.offset is not None else np.zeros(design.n)

    def profile(self, t: float, beta_start=None):
        fit = newton_glm(self.family, self.design.X, self.design.y, {"alpha": float(np.exp(t))},
                         self.offset, beta_start)
        return fit.nll - self.prior.prior_logpdf(float(np.exp(t))), fit

    def prior_slope(self, t: float) -> float:
        """d log prior / d t by Richardson-extrapolated central differences (error 1e-12)."""
        def f(s):
            return self.prior.prior_logpdf(float(np.exp(s)))

        h = 1e-3
        return (8.0 * (f(t + h) - f(t - h)) - (f(t + 2 * h) - f(t - 2 * h))) / (12.0 * h)

    def gradient(self, p: np.ndarray) -> np.ndarray:
        """Of the objective (minus the log posterior) in (beta, t)."""
        X, y = self.design.X, self.design.y
        beta, alpha = p[:-1], float(np.exp(p[-1]))
        eta = X @ beta + self.offset
        d, _ = self.family.eta_derivatives(y, eta, 1.0, alpha=alpha)
        score, _ = alpha_score(y, np.exp(eta), alpha)
        return np.concatenate([-(X.T @ d), [-float(np.sum(score)) - self.prior_slope(p[-1])]])

    def profile_slope(self, t: float) -> float:
        """dP/dt of the profile: the partial derivative in t at beta(t) (the envelope theorem)."""
        beta = self.profile(t)[1].coefficients
        mu = np.exp(self.design.linear_predictor(beta))
        return -float(np.sum(alpha_score(self.design.y, mu, float(np.exp(t)))[0])) - self.prior_slope(t)

    def scaled_hessian(self, p: np.ndarray, norms: np.ndarray) -> np.ndarray:
        """The Hessian in (beta x column norms, t), where its entries are of one size."""
        def gradient(q):
            g = self.gradient(np.concatenate([q[:-1] / norms, q[-1:]]))
            return np.concatenate([g[:-1] / norms, g[-1:]])

        hess = central_difference_hessian(gradient, np.concatenate([p[:-1] * norms, p[-1:]]))
        return 0.5 * (hess + hess.T)


def negbin_optimum(family: Family, design: Design) -> dict:
    """The posterior mode in (beta, alpha) with its KKT evidence (alpha learned)."""
    problem = _Problem(family, design)
    points = log_alpha_grid(design.y)
    grid = [problem.profile(t)[0] for t in points]
    finite = np.where(np.isfinite(grid), grid, np.inf)
    i = int(np.argmin(finite))
    minima = [j for j in range(len(grid)) if np.isfinite(grid[j])
              and (j == 0 or grid[j] <= grid[j - 1]) and (j == len(grid) - 1 or grid[j] <= grid[j + 1])]
    low, high = points[max(i - 1, 0)], points[min(i + 1, len(grid) - 1)]
    result = minimize_scalar(lambda t: problem.profile(t)[0], bounds=(low, high),
                             method="bounded", options={"xatol": 1e-10})
    t = float(result.x)
    # then the root of the profile's slope, to rounding, where the bracket has a sign change
    a, b = (low, t) if problem.profile_slope(t) > 0 else (t, high)
    if a < b and problem.profile_slope(a) * problem.profile_slope(b) < 0:
        t = float(brentq(problem.profile_slope, a, b, xtol=1e-15, rtol=4 * np.finfo(float).eps))
    alpha = float(np.exp(t))
    # beta re-solved at the final alpha: the GLM's own gradient certificate applies
    fit = newton_glm(family, design.X, design.y, {"alpha": alpha}, problem.offset)
    beta = fit.coefficients
    mu = np.exp(design.linear_predictor(beta))
    score, sizes = alpha_score(design.y, mu, alpha)
    slope = problem.prior_slope(np.log(alpha))
    t_gradient = float(np.sum(score)) + slope
    # the sum's rounding, plus the prior slope's difference error (1e-12, taken as 1e-9)
    t_bound = (GRADIENT_SAFETY * design.n * np.finfo(float).eps * float(np.sum(sizes))
               + 1e-9 * max(abs(slope), 1.0))
    norms = np.linalg.norm(design.X, axis=0)
    norms[norms == 0] = 1.0
    eigenvalues = np.linalg.eigvalsh(problem.scaled_hessian(np.concatenate([beta, [t]]), norms))
    positive = bool(eigenvalues[0] > 0)
    kkt = {"holds": bool(fit.stationary and abs(t_gradient) <= t_bound and positive),
           "max_gradient_over_bound": max(float(np.max(np.abs(fit.gradient) / fit.gradient_bound)),
                                          abs(t_gradient) / t_bound),
           "log_alpha_gradient": t_gradient, "log_alpha_gradient_bound": t_bound,
           "min_hessian_eigenvalue": float(eigenvalues[0]), "convex": False,
           "unique": None, "newton_steps": fit.steps}
    objective = negative_log_posterior(family, design, beta, 1.0, {"alpha": alpha})
    return {"beta": beta, "alpha": alpha, "objective": objective, "kkt": kkt,
            "profile_minima": [float(grid[j]) for j in sorted(minima, key=lambda j: grid[j])],
            "grid_minima": len(minima), "fit": fit, "grid_size": len(points)}


def exact_negbin(family: Family, design: Design,
                 progress: Callable[[str], None] | None = None) -> ExactFit:
    """The negative binomial fit as an :class:`ExactFit`: the GLM at a fixed alpha
    (``--nb-alpha``), else the posterior mode in (beta, alpha) of :func:`negbin_optimum`."""
    if not family.learned_shape:
        fit = exact_glm(family, design, progress)
        return ExactFit("negbin", fit.solver + f" at the fixed alpha = {family.shape_value('alpha'):g}",
                        fit.coefficients, fit.loss, None, unique=fit.unique, kkt=fit.kkt,
                        objective=fit.objective, shape={})
    best = negbin_optimum(family, design)
    alpha, beta = best["alpha"], best["beta"]
    mu = np.exp(design.linear_predictor(beta))
    verdict = "certified" if best["kkt"]["holds"] else "NOT certified"
    # One local minimum of the profile on the grid and a strict maximum: taken as unique.
    unique = True if best["grid_minima"] == 1 and best["kkt"]["holds"] else None
    best["kkt"]["unique"] = unique
    text = (f"posterior mode in (beta, alpha) under alpha's {family.learned_shape[0].prior} "
            f"prior: the profile in log alpha scanned on {best['grid_size']} points "
            f"({best['grid_minima']} local minimum/minima), Brent's method, then "
            f"the root of its slope; {verdict} by the gradient in beta and log alpha within its rounding "
            "bound (KKT) and a positive-definite Hessian")
    return ExactFit("negbin", text, beta, family.loss_of(design.y, mu, 1.0, alpha=alpha), None,
                    unique=unique, kkt=best["kkt"], objective=best["objective"],
                    shape={"alpha": alpha},
                    local_optima=(best["objective"],) + tuple(best["profile_minima"][1:]))
