"""The exact Student-t regression fit: EM / IRLS from several starts, then Newton.

The t density is a scale mixture of Normals, y_i | w_i ~ N(x_i beta, sigma^2 / w_i) with
w_i ~ Gamma(nu/2, nu/2), which gives the EM algorithm for t regression (Dempster, Laird &
Rubin 1980; Lange, Little & Taylor 1989, JASA 84: 881-896):

* E-step: w_i = (nu + 1) / (nu + r_i^2 / sigma^2), r_i = y_i - x_i beta;
* M-step: beta by weighted least squares with weights w_i; sigma^2 = sum w_i r_i^2 / n
  (skipped at a fixed scale: the same iteration is then IRLS for the t loss at that
  sigma, an MM algorithm, monotone too);
* nu learned: an ECME step (Liu & Rubin 1995) maximising the observed log-likelihood in
  nu at the new beta, sigma, PLUS the log-density of nu's prior, so that the algorithm
  maximises the same objective as the MAP (flat beta, HalfFlat sigma, the declared
  proper prior on nu; :func:`lossbridge.estimation.exact.negative_log_posterior`).

Each iteration never increases that objective. The objective is not convex, so the
algorithm runs from several starts (least squares, least absolute deviations, elemental
fits through k random rows) and each optimum it reaches is polished by Newton steps with
the hand-derived gradient (a Hessian from its central differences) until the gradient
stops shrinking. Distinct optima are listed by objective value: the certificate compares
the MAP with the best one and reports the others. Nothing here uses PyTensor or PyMC:
it is an independent computation of the optimum the MAP claims.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import digamma

from ..core.differences import central_difference_hessian
from ..data.design import Design
from ..data.rotation import Rotation
from .exact import ExactFit, negative_log_posterior
from .lad import exact_lad_vertex

MAX_EM_ITERATIONS = 5_000
EM_RTOL = 1e-13  # relative decrease of the objective at which EM hands over to Newton
NEWTON_STEPS = 30
ELEMENTAL_STARTS = 6
# Two optima are the same when every parameter agrees to this relative difference: far
# above the polished optima's accuracy (~1e-10), far below any real difference of modes.
DISTINCT_RTOL = 1e-6
LOG_NU_BOUNDS = (np.log(1e-3), np.log(1e4))
SEED = 20_240_612  # fixed: the exact fit is a deterministic function of the data


@dataclass(frozen=True, eq=False)
class Optimum:
    """One converged EM run: its parameters, objective, gradient norm and start."""

    beta: np.ndarray
    sigma: float
    nu: float
    objective: float
    gradient_norm: float
    start: str
    iterations: int


class _Problem:
    """The objective of one t regression, with its gradient in (beta, log sigma, log nu).

    ``coordinates``: a :class:`~lossbridge.data.rotation.Rotation` to work in its rotated
    coefficients theta (mu = s Q* theta, Q*'Q* = n I) instead of beta: on an
    ill-conditioned design (Longley, cond(X) ~ 1e15 before scaling) the objective is then
    round and Newton converges in every direction; None: beta itself (the tests' form).
    """

    def __init__(self, family, design: Design, fixed_sigma: float | None, coordinates=None):
        self.family, self.design = family, design
        self.rotation = coordinates
        self.X = design.X if coordinates is None else coordinates.y_scale * coordinates.Q
        self.y, self.n = design.y, design.n
        self.sigma_floor = 0.0  # EM stops below it (a degenerate, unbounded "optimum")
        self.fixed_sigma = fixed_sigma
        self.learn_nu = bool(family.learned_shape)
        self.prior = family.learned_shape[0] if self.learn_nu else None
        self.fixed_nu = None if self.learn_nu else family.shape_value("nu")

    # ---------------------------------------------------------------- the objective
    def shape(self, nu: float) -> dict:
        return {"nu": nu} if self.learn_nu else {}

    def objective(self, beta, sigma, nu) -> float:
        """The negative log posterior at coefficients ``beta`` (in this problem's coordinates)."""
        value = -float(np.sum(self.family.logpdf(self.y, self.X @ beta, sigma, **self.shape(nu))))
        if self.learn_nu:
            value -= self.prior.prior_logpdf(nu)
        return value

    def pack(self, beta, sigma, nu) -> np.ndarray:
        parts = [beta]
        if self.fixed_sigma is None:
            parts.append([np.log(sigma)])
        if self.learn_nu:
            parts.append([np.log(nu)])
        return np.concatenate([np.asarray(p, dtype=float) for p in parts])

    def unpack(self, p: np.ndarray) -> tuple[np.ndarray, float, float]:
        k = self.X.shape[1]
        beta, i = p[:k], k
        sigma = self.fixed_sigma
        if sigma is None:
            sigma, i = float(np.exp(p[i])), i + 1
        nu = float(np.exp(p[i])) if self.learn_nu else self.fixed_nu
        return beta, sigma, nu

    def value(self, p: np.ndarray) -> float:
        return self.objective(*self.unpack(p))

    def gradient(self, p: np.ndarray) -> np.ndarray:
        """Hand-derived gradient of the objective in (beta, log sigma, log nu)."""
        beta, sigma, nu = self.unpack(p)
        r = self.y - self.X @ beta
        z2 = (r / sigma) ** 2
        w = (nu + 1.0) / (nu + z2)
        parts = [-(self.X.T @ (w * r)) / sigma**2]
        if self.fixed_sigma is None:
            parts.append([float(np.sum(1.0 - w * z2))])
        if self.learn_nu:
            u = z2 / nu
            d_nu = np.sum(0.5 * digamma(0.5 * (nu + 1.0)) - 0.5 * digamma(0.5 * nu) - 0.5 / nu
                          - 0.5 * np.log1p(u) + 0.5 * (nu + 1.0) / nu * u / (1.0 + u))
            parts.append([-nu * float(d_nu) - self._log_prior_slope(nu)])
        return np.concatenate([np.asarray(v, dtype=float) for v in parts])

    def _log_prior_slope(self, nu: float) -> float:
        """d log prior(nu) / d log nu, by Richardson-extrapolated central differences of the
        prior's declared scipy density (error O(h^4) = 1e-12 at h = 1e-3)."""
        def f(t):
            return self.prior.prior_logpdf(float(np.exp(t)))

        t, h = np.log(nu), 1e-3
        return (8.0 * (f(t + h) - f(t - h)) - (f(t + 2 * h) - f(t - 2 * h))) / (12.0 * h)

    def hessian(self, p: np.ndarray) -> np.ndarray:
        return central_difference_hessian(self.gradient, p)

    # ---------------------------------------------------------------- the algorithms
    def em(self, beta, sigma, nu) -> tuple[np.ndarray, float, float, int]:
        sigma = self.fixed_sigma or sigma
        value = self.objective(beta, sigma, nu)
        iterations = 0
        while iterations < MAX_EM_ITERATIONS:
            iterations += 1
            r = self.y - self.X @ beta
            w = (nu + 1.0) / (nu + (r / sigma) ** 2)  # E-step
            root = np.sqrt(w)
            new_beta = np.linalg.lstsq(self.X * root[:, None], self.y * root, rcond=None)[0]
            new_sigma = sigma
            if self.fixed_sigma is None:
                r = self.y - self.X @ new_beta
                new_sigma = float(np.sqrt(np.sum(w * r**2) / self.n))
                if not new_sigma > self.sigma_floor:  # running to an exact fit of some rows
                    sigma = new_sigma
                    break
            new_nu = nu
            if self.learn_nu:  # ECME: the observed-data objective in nu, prior included
                result = minimize_scalar(
                    lambda t, b=new_beta, s=new_sigma: self.objective(b, s, float(np.exp(t))),
                    bounds=LOG_NU_BOUNDS, method="bounded", options={"xatol": 1e-9})  # Newton finishes
                new_nu = float(np.exp(result.x))
            new_value = self.objective(new_beta, new_sigma, new_nu)
            if not np.isfinite(new_value) or new_value > value + 1e-12 * abs(value):
                break  # rounding reached (EM is monotone): keep the last point
            beta, sigma, nu = new_beta, new_sigma, new_nu
            done = value - new_value <= EM_RTOL * max(1.0, abs(new_value))
            value = new_value
            if done:
                break
        return beta, sigma, nu, iterations

    def newton(self, p: np.ndarray) -> np.ndarray:
        """Damped Newton steps until the gradient stops shrinking (rounding reached)."""
        value, grad = self.value(p), self.gradient(p)
        for _ in range(NEWTON_STEPS):
            hess = self.hessian(p)
            try:
                step = np.linalg.solve(hess, grad)
            except np.linalg.LinAlgError:
                break
            if not np.all(np.linalg.eigvalsh(hess) > 0):
                break  # not at a minimum's basin: EM's point stands
            for _ in range(40):
                candidate = p - step
                new_value = self.value(candidate)
                if np.isfinite(new_value) and new_value <= value + 1e-14 * abs(value):
                    break
                step = step / 2.0
            else:
                break
            new_grad = self.gradient(candidate)
            if not np.linalg.norm(new_grad) < np.linalg.norm(grad):
                break
            p, value, grad = candidate, new_value, new_grad
        return p


def _robust_sigma(residuals: np.ndarray) -> float:
    """1.4826 x the median absolute residual (the Normal-consistent MAD), or the RMS."""
    mad = 1.4826 * float(np.median(np.abs(residuals)))
    return mad if mad > 0 else float(np.sqrt(np.mean(residuals**2))) or 1.0


def _starts(design: Design, nu0: float, learn_nu: bool) -> list[tuple[str, np.ndarray, float]]:
    X, y, k = design.X, design.y, design.k
    ols = np.linalg.lstsq(X, y, rcond=None)[0]
    starts = [("least squares", ols, nu0)]
    try:
        starts.append(("least absolute deviations", exact_lad_vertex(X, y).coefficients, nu0))
    except Exception:  # noqa: BLE001 - a start, not a result: the other starts remain
        pass
    if learn_nu:
        starts += [("least squares, nu = 1", ols, 1.0), ("least squares, nu = 30", ols, 30.0)]
    rng = np.random.default_rng(SEED)
    for index in range(ELEMENTAL_STARTS):  # exact fits through k random rows
        rows = rng.choice(design.n, size=min(k, design.n), replace=False)
        beta, _, rank, _ = np.linalg.lstsq(X[rows], y[rows], rcond=None)
        if rank == k and np.all(np.isfinite(beta)):
            starts.append((f"elemental fit {index + 1}", beta, nu0))
    return starts


def _same(a: Optimum, b: Optimum, theta_a: np.ndarray, theta_b: np.ndarray) -> bool:
    """The same optimum: rotated coefficients (all of one size, ~1) within DISTINCT_RTOL of
    their largest, and sigma and nu within DISTINCT_RTOL relative."""
    size = max(float(np.max(np.abs(theta_b))), 1e-12)
    return bool(np.max(np.abs(theta_a - theta_b)) <= DISTINCT_RTOL * size
                and abs(a.sigma - b.sigma) <= DISTINCT_RTOL * b.sigma
                and abs(a.nu - b.nu) <= DISTINCT_RTOL * b.nu)


def student_optima(family, design: Design, scale: float | None = None) -> list[Optimum]:
    """Every distinct optimum EM + Newton reaches from the starts, best (lowest) first."""
    return _optima(family, design, scale)[0]


def _optima(family, design: Design, scale: float | None) -> tuple[list[Optimum], int]:
    """The distinct optima, best first, and how many starts ran to sigma -> 0 (where the
    likelihood is unbounded: rows fitted exactly, a degenerate "optimum" left out)."""
    rotation = Rotation.from_design(design.X, design.y)
    problem = _Problem(family, design, scale, rotation)
    nu0 = family.shape_value("nu")
    if problem.learn_nu:
        nu0 = problem.prior.initial
    found: list[tuple[Optimum, np.ndarray]] = []
    degenerate = 0
    floor = 1e-8 * _robust_sigma(design.y - design.X @ np.linalg.lstsq(design.X, design.y,
                                                                        rcond=None)[0])
    problem.sigma_floor = floor
    for label, beta0, nu_start in _starts(design, nu0, problem.learn_nu):
        nu_start = nu_start if problem.learn_nu else problem.fixed_nu
        sigma0 = scale or _robust_sigma(design.y - design.X @ beta0)
        theta, sigma, nu, iterations = problem.em(rotation.to_theta(beta0), sigma0, nu_start)
        if scale is None and not sigma > floor:
            degenerate += 1
            continue
        p = problem.newton(problem.pack(theta, sigma, nu))
        theta, sigma, nu = problem.unpack(p)
        beta = rotation.to_beta(theta)
        value = negative_log_posterior(family, design, beta, sigma, problem.shape(nu))
        if not np.isfinite(value) or (scale is None and not sigma > floor):
            degenerate += int(scale is None)
            continue
        optimum = Optimum(beta, sigma, nu, value, float(np.linalg.norm(problem.gradient(p))),
                          label, iterations)
        match = next((i for i, (o, t) in enumerate(found) if _same(optimum, o, theta, t)), None)
        if match is None:
            found.append((optimum, theta))
        elif optimum.objective < found[match][0].objective:
            found[match] = (optimum, theta)
    return sorted((o for o, _ in found), key=lambda o: o.objective), degenerate


def exact_student(family, design: Design, scale: float | None = None) -> ExactFit:
    """The best optimum of :func:`student_optima` as an :class:`ExactFit`.

    ``scale``: fit at this fixed sigma (the model's fixed scale); else sigma is
    estimated jointly and is the fit's ``scale_mle`` (the plug-in MLE, found numerically).
    """
    optima, degenerate = _optima(family, design, scale)
    if not optima:
        raise RuntimeError("EM for t regression reached no finite optimum from any start")
    best = optima[0]
    residuals = design.y - design.X @ best.beta
    learned = bool(family.learned_shape)
    shape = {"nu": best.nu} if learned else {}
    # Two distinct optima with the same objective to rounding: the minimiser is not unique.
    tie = any(o.objective - best.objective <= 1e-12 * max(1.0, abs(best.objective))
              for o in optima[1:])
    starts = len(_starts(design, 1.0, learned))
    where = f"at fixed sigma = {scale:.6g}" if scale is not None else "sigma estimated"
    nu_text = "nu by ECME with its prior" if learned else f"nu = {family.shape_value('nu'):g}"
    solver = (f"EM/IRLS for t regression ({where}; {nu_text}) from {starts} starts, each "
              f"polished by Newton; distinct optima found: {len(optima)}"
              + (f"; {degenerate} start(s) ran to sigma -> 0, where the likelihood is unbounded "
                 "(rows fitted exactly), and were left out" if degenerate else ""))
    return ExactFit(
        method="student",
        solver=solver,
        coefficients=best.beta,
        loss=family.loss_at(residuals, best.sigma, **shape),
        scale_mle=None if scale is not None else best.sigma,
        unique=None if tie else True,
        scale=scale,
        scale_fixed=scale is not None,
        shape=shape,
        objective=best.objective,
        local_optima=tuple(o.objective for o in optima),
    )
