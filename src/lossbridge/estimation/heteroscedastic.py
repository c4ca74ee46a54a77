"""The MAP of a heteroscedastic model (log scale_i = Z_i gamma) and its certificate.

Under flat priors the MAP is the joint maximum-likelihood estimate of (beta, gamma).
It is found on the PyMC model's own log-density (:mod:`lossbridge.estimation.map`'s
:class:`~lossbridge.estimation.map.LogDensity`):

* a smooth family (the Normal): trust-region Newton with PyTensor's exact gradient, from
  the exact constant-scale fit and gamma from a regression of log |residual| on Z;
* a piecewise-linear family (the Laplace): given the scales the coefficients minimise a
  weighted LAD, sum |r_i| / b_i, which is the LAD of the rows divided by b_i, an LP whose
  exact vertex the family's vertex solver finds and certifies by its dual; the MAP
  alternates that exact vertex with Newton on gamma (concave at fixed beta) until the
  vertex no longer changes.

The certificate (:func:`certify_heteroscedastic`) is independent of PyMC: a NumPy
negative log-likelihood from ``Family.logpdf``, its gradient and Hessian from the rows'
derivatives in (mu, log scale) by central differences (the chain rule through X and Z
is exact), and

* smooth: Newton's method from the MAP to its own stationary point, whose Newton
  decrement (g' H^-1 g, affine-invariant) is at most ``DECREMENT_TOL`` with H positive
  definite, and which agrees with the MAP to ``AGREEMENT_RTOL``;
* piecewise linear: at the MAP's scales the exact weighted-LAD vertex is the MAP's
  coefficients (its LP dual certificate holds), and the Newton decrement in gamma at
  fixed beta is at most ``DECREMENT_TOL``;
* both: an independent SciPy optimiser from ``STARTS`` starts (BFGS on the NumPy NLL for
  a smooth family; for a piecewise-linear one, L-BFGS-B on the profile NLL in gamma with
  the weighted LAD solved by SciPy's HiGHS linprog inside) reaches the same optimum:
  the best start's NLL is not below the MAP's by more than 1e-9 relative, and its
  parameters agree to ``AGREEMENT_RTOL`` (coefficients relative, as the certificate
  compares them; gamma through max_i |Z_i (gamma - gamma')|, the relative difference of
  the scales). Starts that end elsewhere are reported as local optima.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog, minimize

from ..data.design import Design
from ..data.rotation import Rotation
from ..families.base import Family
from ..models.spec import ModelSpec

AGREEMENT_RTOL = 1e-6
DECREMENT_TOL = 1e-9  # nats: Newton decrement / 2 estimates NLL - min NLL near the optimum
NLL_RTOL = 1e-9
STARTS = 4
MAX_ALTERNATIONS = 60
STEP = 1e-4  # central-difference step in mu (times the row's scale) and in log scale


# ---------------------------------------------------------------------------- NumPy NLL
def nll(family: Family, design: Design, beta: np.ndarray, gamma: np.ndarray) -> float:
    """-sum_i log p(y_i | mu_i, scale_i) with mu = g^-1(X beta), scale = exp(Z gamma)."""
    mu = family.link.inverse(design.X @ beta)
    return float(-np.sum(family.logpdf(design.y, mu, np.exp(design.Z @ gamma))))


def _row_derivatives(family: Family, y, mu, t, second: bool = True):
    """First (and second) derivatives of l(mu, t) = logpdf(y, mu, e^t) per row, by
    central differences (steps ``STEP`` e^t in mu and ``STEP`` in t)."""
    hm, ht = STEP * np.exp(t), STEP

    def f(dm, dt):
        return family.logpdf(y, mu + dm, np.exp(t + dt))

    f0 = f(0.0, 0.0)
    fmp, fmm, ftp, ftm = f(hm, 0.0), f(-hm, 0.0), f(0.0, ht), f(0.0, -ht)
    d_mu, d_t = (fmp - fmm) / (2 * hm), (ftp - ftm) / (2 * ht)
    if not second:
        return d_mu, d_t
    d_mumu = (fmp - 2 * f0 + fmm) / hm**2
    d_tt = (ftp - 2 * f0 + ftm) / ht**2
    d_mut = (f(hm, ht) - f(hm, -ht) - f(-hm, ht) + f(-hm, -ht)) / (4 * hm * ht)
    return d_mu, d_t, d_mumu, d_tt, d_mut


def nll_gradient_hessian(family: Family, design: Design, beta, gamma, block: str = "all"):
    """NLL, its gradient and Hessian in (beta, gamma) (``block="gamma"``: in gamma only,
    at fixed beta; an identity link, as the exact solvers assume)."""
    X, Z, y = design.X, design.Z, design.y
    mu, t = X @ beta, Z @ gamma
    d_mu, d_t, d_mumu, d_tt, d_mut = _row_derivatives(family, y, mu, t)
    value = nll(family, design, beta, gamma)
    if block == "gamma":
        return value, -(Z.T @ d_t), -(Z.T @ (d_tt[:, None] * Z))
    gradient = -np.concatenate([X.T @ d_mu, Z.T @ d_t])
    hessian = -np.block([[X.T @ (d_mumu[:, None] * X), X.T @ (d_mut[:, None] * Z)],
                         [Z.T @ (d_mut[:, None] * X), Z.T @ (d_tt[:, None] * Z)]])
    return value, gradient, hessian


def _decrement(gradient, hessian) -> tuple[float, bool]:
    """Newton decrement g' H^-1 g / 2 and whether H is positive definite."""
    try:
        chol = np.linalg.cholesky(hessian)
    except np.linalg.LinAlgError:
        return float("inf"), False
    half = np.linalg.solve(chol, gradient)
    return float(0.5 * half @ half), True


def newton(family: Family, design: Design, beta, gamma, block: str = "all",
           max_steps: int = 100):
    """Damped Newton on the NumPy NLL (all parameters, or gamma at fixed beta)."""
    k = design.k
    beta, gamma = np.array(beta, dtype=float), np.array(gamma, dtype=float)
    for _ in range(max_steps):
        value, gradient, hessian = nll_gradient_hessian(family, design, beta, gamma, block)
        decrement, definite = _decrement(gradient, hessian)
        if definite and decrement <= 1e-3 * DECREMENT_TOL:
            break
        step = (np.linalg.solve(hessian, gradient) if definite
                else gradient / max(np.abs(np.diag(hessian)).max(), 1.0))
        for _ in range(60):
            if block == "gamma":
                nb, ng = beta, gamma - step
            else:
                nb, ng = beta - step[:k], gamma - step[k:]
            new = nll(family, design, nb, ng)
            if np.isfinite(new) and new <= value + 1e-13 * abs(value):
                break
            step = step / 2
        else:
            break
        if block != "gamma" and np.array_equal(nb, beta) and np.array_equal(ng, gamma):
            break
        beta, gamma = nb, ng
    value, gradient, hessian = nll_gradient_hessian(family, design, beta, gamma, block)
    decrement, definite = _decrement(gradient, hessian)
    return beta, gamma, value, decrement, definite


# ---------------------------------------------------------------------------- starts
def initial_gamma(family: Family, design: Design, beta: np.ndarray) -> np.ndarray:
    """gamma from a least-squares fit of log |r_i| on Z, shifted along the constant
    direction of Z to maximise the likelihood (a start, not an estimate)."""
    from scipy.optimize import minimize_scalar

    Z = design.Z
    r = np.abs(design.y - design.X @ beta)
    floor = 1e-3 * (np.mean(r) or 1.0)
    gamma = np.linalg.lstsq(Z, np.log(np.maximum(r, floor)), rcond=None)[0]
    direction = np.linalg.lstsq(Z, np.ones(design.n), rcond=None)[0]
    result = minimize_scalar(lambda c: nll(family, design, beta, gamma + c * direction),
                             bounds=(-10.0, 10.0), method="bounded")
    return gamma + result.x * direction


# ---------------------------------------------------------------------------- the MAP
def heteroscedastic_map(model, spec: ModelSpec, design: Design, rotation: Rotation):
    """The MAP of a modelled-scale ``spec`` on the PyMC ``model`` (module docstring)."""
    from . import map as map_module
    from .exact import VERTEX_SOLVERS, exact_fit

    family = spec.family
    density = map_module.LogDensity(
        model, "FAST_COMPILE" if design.n <= map_module.FAST_COMPILE_MAX_ROWS else None)
    k, p = design.k, design.Z.shape[1]
    exact = exact_fit(family, design)
    beta0 = (exact.coefficients if exact is not None
             else np.linalg.lstsq(design.X, design.y, rcond=None)[0])
    gamma0 = initial_gamma(family, design, beta0)
    x0 = np.concatenate([rotation.to_theta(beta0), gamma0])
    vertex = None
    with np.errstate(over="ignore", invalid="ignore"):  # trial steps overflowing exp(Z gamma)
        x, method, vertex = _optimise(map_module, VERTEX_SOLVERS, family, spec, design, rotation,
                                      density, x0, k, p)
    logp, _, loglik = density(x)
    gamma = np.asarray(x[k:k + p]).copy()
    beta = vertex.coefficients if vertex is not None else rotation.to_beta(x[:k])
    return map_module.MapEstimate(
        coefficients=beta, theta=np.asarray(x[:k]).copy(),
        scale=float(np.exp(np.mean(design.Z @ gamma))), log_density=logp,
        log_likelihood=loglik, method=method, evaluations=density.evaluations,
        vertex=vertex, gamma=gamma)


def _optimise(map_module, VERTEX_SOLVERS, family, spec, design, rotation, density, x0, k, p):
    vertex = None
    if family.smooth:
        x = map_module._lbfgs(density, x0, maxiter=200).x if spec.priors == "flat" else x0
        x, method = map_module._newton(density, x, k)
        method = "heteroscedastic: " + method
    elif (family.piecewise_linear and spec.priors == "flat"
          and family.exact_solver in VERTEX_SOLVERS):
        x = map_module._lbfgs(density, x0, maxiter=300).x
        previous = None
        for _ in range(MAX_ALTERNATIONS):
            scale = np.exp(design.Z @ x[k:])
            vertex = VERTEX_SOLVERS[family.exact_solver](
                family, design.X / scale[:, None], design.y / scale,
                beta_start=rotation.to_beta(x[:k]))
            x = np.concatenate([rotation.to_theta(vertex.coefficients), x[k:]])
            x = map_module._newton_polish(density, x, coords=slice(k, k + p), max_steps=100)
            if previous is not None and np.array_equal(previous, vertex.coefficients):
                break
            previous = vertex.coefficients
        method = (f"heteroscedastic: L-BFGS on the PyMC log-density, then the exact weighted "
                  f"{family.exact_name} vertex at the scales exp(Z gamma) ({vertex.solver}) "
                  "alternated with Newton on gamma until the vertex repeats")
    else:
        x = map_module._lbfgs(density, x0).x
        method = "heteroscedastic: L-BFGS on the PyMC log-density (approximate)"
    return x, method, vertex


# ---------------------------------------------------------------------------- certificate
@dataclass(frozen=True)
class HeteroscedasticCertificate:
    """The MAP of a modelled scale against Newton and an independent SciPy optimiser."""

    nll_map: float
    nll_reference: float
    newton_decrement: float
    hessian_positive_definite: bool
    max_relative_coefficient_difference: float
    max_log_scale_difference: float
    starts: int
    starts_agreeing: int
    local_optima: tuple[float, ...]
    checks: dict[str, bool]
    certified: bool
    explanation: str
    dual: dict | None = None
    unique: bool | None = True
    reference_solver: str = ""
    extra: dict = field(default_factory=dict)

    scale_name: str = "sigma"

    # The fields the certificate table reads (interfaces/results.py), in this model's terms.
    @property
    def loss_name(self) -> str:
        return "NLL"

    @property
    def loss_map(self) -> float:
        return self.nll_map

    @property
    def loss_exact(self) -> float:
        return self.nll_reference

    @property
    def loss_relative_gap(self) -> float:
        return (self.nll_map - self.nll_reference) / (abs(self.nll_reference) or 1.0)

    @property
    def scale_map(self) -> str:
        return f"exp(Z gamma), {self.scale_name} per row"

    @property
    def scale_relative_difference(self) -> float:
        return self.max_log_scale_difference

    def as_dict(self) -> dict:
        return {
            "certified": self.certified,
            "loss": "NLL (heteroscedastic joint MLE)",
            "nll_map": self.nll_map,
            "nll_reference": self.nll_reference,
            # the keys every certificate has (tables and the report read them)
            "loss_map": self.nll_map,
            "loss_exact": self.nll_reference,
            "loss_relative_gap": self.loss_relative_gap,
            "scale": self.scale_name,
            "scale_relative_difference": self.max_log_scale_difference,
            "newton_decrement": self.newton_decrement,
            "hessian_positive_definite": self.hessian_positive_definite,
            "max_relative_coefficient_difference": self.max_relative_coefficient_difference,
            "max_log_scale_difference": self.max_log_scale_difference,
            "agreement_tolerance": AGREEMENT_RTOL,
            "starts": self.starts,
            "starts_agreeing": self.starts_agreeing,
            "local_optima_nll": list(self.local_optima),
            "dual": self.dual,
            "unique": self.unique,
            "checks": dict(self.checks),
            "explanation": self.explanation,
            "reference_solver": self.reference_solver,
        }


def _weighted_lad_highs(design: Design, scale: np.ndarray, family: Family) -> np.ndarray:
    """min_beta sum rho(y_i - x_i beta) / scale_i by SciPy's HiGHS (independent of lad.py),
    rho the family's piecewise-linear loss: its cost of a unit residual above and below the
    fit (1 and 1 for absolute error; tau and 1 - tau for the pinball loss)."""
    X, y = design.X / scale[:, None], design.y / scale
    n, k = X.shape
    above, below = family.loss(np.array([1.0])), family.loss(np.array([-1.0]))
    norms = np.linalg.norm(X, axis=0)
    A = np.hstack([X / norms, np.eye(n), -np.eye(n)])
    c = np.concatenate([np.zeros(k), np.full(n, above), np.full(n, below)])
    bounds = [(None, None)] * k + [(0, None)] * (2 * n)
    result = linprog(c, A_eq=A, b_eq=y, bounds=bounds, method="highs")
    return result.x[:k] / norms


def _profile(family: Family, design: Design, gamma: np.ndarray):
    """Profile NLL in gamma (beta the exact weighted LAD) and its envelope gradient."""
    beta = _weighted_lad_highs(design, np.exp(design.Z @ gamma), family)
    mu, t = design.X @ beta, design.Z @ gamma
    _, d_t = _row_derivatives(family, design.y, mu, t, second=False)
    return nll(family, design, beta, gamma), -(design.Z.T @ d_t), beta


def independent_fits(family: Family, design: Design, starts: list[tuple[np.ndarray, np.ndarray]]):
    """(nll, beta, gamma) of a SciPy optimiser from each start (module docstring)."""
    out = []
    k = design.k
    # Unit-norm columns: the optimiser then sees a round problem whatever the units.
    xn, zn = np.linalg.norm(design.X, axis=0), np.linalg.norm(design.Z, axis=0)
    for beta0, gamma0 in starts:
        if family.smooth:
            def objective(u):
                beta, gamma = u[:k] / xn, u[k:] / zn
                value, gradient, _ = _value_gradient(family, design, beta, gamma)
                return value, gradient / np.concatenate([xn, zn])

            result = minimize(objective, np.concatenate([beta0 * xn, gamma0 * zn]), jac=True,
                              method="BFGS", options={"gtol": 1e-10, "maxiter": 5000})
            beta, gamma = result.x[:k] / xn, result.x[k:] / zn
        else:
            def objective(u):
                value, gradient, _ = _profile(family, design, u / zn)
                return value, gradient / zn

            result = minimize(objective, gamma0 * zn, jac=True, method="L-BFGS-B",
                              options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 2000})
            gamma = result.x / zn
            beta = _profile(family, design, gamma)[2]
        out.append((nll(family, design, beta, gamma), beta, gamma))
    return out


def _value_gradient(family, design, beta, gamma):
    mu, t = design.X @ beta, design.Z @ gamma
    d_mu, d_t = _row_derivatives(family, design.y, mu, t, second=False)
    gradient = -np.concatenate([design.X.T @ d_mu, design.Z.T @ d_t])
    return nll(family, design, beta, gamma), gradient, None


def _starts(family: Family, design: Design, estimate, seed: int = 0):
    """The exact constant-scale fit with its log-residual gamma, and perturbations of it."""
    from .exact import exact_fit

    exact = exact_fit(family, design)
    beta0 = (exact.coefficients if exact is not None
             else np.linalg.lstsq(design.X, design.y, rcond=None)[0])
    gamma0 = initial_gamma(family, design, beta0)
    rng = np.random.default_rng(seed)
    zn = np.linalg.norm(design.Z, axis=0) / np.sqrt(design.n)
    starts = [(beta0, gamma0)]
    constant = np.linalg.lstsq(design.Z, np.ones(design.n), rcond=None)[0]
    starts.append((beta0, gamma0 * 0 + constant * np.log(np.std(design.y) or 1.0)))
    while len(starts) < STARTS:
        starts.append((beta0, gamma0 + rng.normal(scale=0.5, size=gamma0.size) / zn))
    return starts


def certify_heteroscedastic(spec: ModelSpec, design: Design, estimate) -> HeteroscedasticCertificate:
    """Certify the MAP of a modelled-scale ``spec`` (module docstring)."""
    from ..estimation.certificate import relative_coefficient_differences
    from .exact import VERTEX_SOLVERS

    family = spec.family
    beta_map, gamma_map = np.asarray(estimate.coefficients), np.asarray(estimate.gamma)
    nll_map = nll(family, design, beta_map, gamma_map)
    checks: dict[str, bool] = {}
    dual = None
    if family.smooth:
        beta_n, gamma_n, _, decrement, definite = newton(family, design, beta_map, gamma_map)
        newton_beta_diff = float(np.max(relative_coefficient_differences(beta_n, beta_map, design)))
        newton_scale_diff = float(np.max(np.abs(design.Z @ (gamma_n - gamma_map))))
        _, gradient, hessian = nll_gradient_hessian(family, design, beta_map, gamma_map)
        decrement, definite = _decrement(gradient, hessian)
        checks["newton_agrees"] = max(newton_beta_diff, newton_scale_diff) <= AGREEMENT_RTOL
        solver = "NumPy Newton (central-difference row derivatives) and SciPy BFGS"
    else:
        scale = np.exp(design.Z @ gamma_map)
        vertex = VERTEX_SOLVERS[family.exact_solver](
            family, design.X / scale[:, None], design.y / scale, beta_start=beta_map)
        dual = vertex.certificate.as_dict()
        checks["weighted_lp_dual"] = bool(vertex.certificate.holds)
        checks["weighted_vertex_is_map"] = bool(np.max(relative_coefficient_differences(
            vertex.coefficients, beta_map, design)) <= AGREEMENT_RTOL)
        _, gradient, hessian = nll_gradient_hessian(family, design, beta_map, gamma_map, "gamma")
        decrement, definite = _decrement(gradient, hessian)
        solver = ("exact weighted LAD vertex with LP dual, NumPy Newton in gamma, and SciPy "
                  "L-BFGS-B on the profile NLL with HiGHS linprog")
    checks["gradient_zero"] = bool(definite and decrement <= DECREMENT_TOL)
    fits = independent_fits(family, design, _starts(family, design, estimate))
    best = min(fits, key=lambda f: f[0])
    coefficient_diff = float(np.max(relative_coefficient_differences(best[1], beta_map, design)))
    scale_diff = float(np.max(np.abs(design.Z @ (best[2] - gamma_map))))
    checks["independent_not_better"] = bool(best[0] >= nll_map - NLL_RTOL * abs(nll_map))
    checks["independent_agrees"] = max(coefficient_diff, scale_diff) <= AGREEMENT_RTOL
    close = [abs(f[0] - nll_map) <= 1e-7 * abs(nll_map) for f in fits]
    agreeing = [f for f, ok in zip(fits, close, strict=True) if ok]
    # Distinct optima only: starts that end at the same value (to 1e-7) are one optimum.
    local: list[float] = []
    for value in sorted(float(f[0]) for f, ok in zip(fits, close, strict=True) if not ok):
        if not local or abs(value - local[-1]) > 1e-7 * abs(value):
            local.append(value)
    local = tuple(local)
    certified = all(checks.values())
    failed = [name for name, ok in checks.items() if not ok]
    if certified:
        explanation = (f"MAP equals the joint MLE of beta and gamma: Newton decrement "
                       f"{decrement:.1e} nats, {len(agreeing)} of {len(fits)} independent starts "
                       f"agree (coefficients within {coefficient_diff:.1e}, scales within "
                       f"{scale_diff:.1e} relative)")
    else:
        explanation = (f"NOT certified: failed {', '.join(failed)} (Newton decrement "
                       f"{decrement:.1e}, coefficient diff {coefficient_diff:.1e}, scale diff "
                       f"{scale_diff:.1e})")
    if local:
        explanation += f"; {len(local)} start(s) ended at other stationary points (NLL {local})"
    return HeteroscedasticCertificate(
        nll_map=nll_map, nll_reference=float(best[0]), newton_decrement=decrement,
        hessian_positive_definite=bool(definite),
        max_relative_coefficient_difference=coefficient_diff,
        max_log_scale_difference=scale_diff, starts=len(fits), starts_agreeing=len(agreeing),
        local_optima=local, checks=checks, certified=certified, explanation=explanation,
        dual=dual, reference_solver=solver, scale_name=family.scale_name)


def decompose_heteroscedastic_nll(spec: ModelSpec, design: Design, estimate):
    """NLL at the MAP = sum_i constant(scale_i) + sum_i loss term(r_i, scale_i), vs PyMC."""
    from .nll import NLL_RTOL as CONTRACT
    from .nll import NllDecomposition

    family = spec.family
    scale = np.exp(design.Z @ estimate.gamma)
    residuals = design.y - design.X @ estimate.coefficients
    constant = float(sum(family.nll_constant(1, s) for s in scale))
    loss_term = float(sum(family.loss_term(np.array([r]), s)
                          for r, s in zip(residuals, scale, strict=True)))
    total = constant + loss_term
    pymc_nll = -estimate.log_likelihood
    size = max(abs(pymc_nll), abs(constant) + abs(loss_term))
    return NllDecomposition(
        loss_name=family.loss_symbol, loss=family.loss(residuals / scale),
        scale_name=f"{family.scale_name}(x)", scale=estimate.scale, constant=constant,
        loss_term=loss_term, nll=total, pymc_nll=pymc_nll,
        relative_difference=abs(total - pymc_nll) / size,
        constant_formula=f"Σ_i [{family.constant_formula} at n = 1, {family.scale_name} = "
                         f"{family.scale_name}_i]",
        loss_term_formula=f"Σ_i [{family.loss_term_formula} of row i at {family.scale_name}_i]",
        tolerance=CONTRACT)
