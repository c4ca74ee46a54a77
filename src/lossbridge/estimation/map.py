"""MAP estimates computed from the PyMC model's own log-density.

The objective is the model's log-density without Jacobian terms
(``model.logp(jacobian=False)``), so a learned scale's MAP is its maximum-likelihood
value (``sqrt(RSS/n)`` or ``SAD/n``), as docs/design.md requires. What is optimised and
how is chosen by the family's capabilities, never by its name:

* the density: a one-block joint model (:func:`lossbridge.models.joint.build_joint_model`)
  when the family has a fast exact form (``sufficient_log_likelihood``, the Normal's
  sufficient statistics: O(k^2) per evaluation, equal to the reference model to
  rounding, tested), else the reference model itself;
* ``family.smooth`` (the Normal): trust-region Newton
  (``scipy.optimize.minimize(method="trust-exact")``) with PyTensor's exact gradient and
  a Hessian from central differences of that gradient (exact for the quadratic
  coefficient block, and far cheaper to compile than a symbolic Hessian), then Newton
  steps until the exact gradient stops improving. In the rotated parameterisation the
  problem is round, so this converges in a few steps whatever the conditioning of X.
* ``family.piecewise_linear`` under flat priors (the Laplace): L-BFGS on the model's
  log-density gets near the optimum but, the density being non-differentiable at zero
  residuals, not onto it. The estimate is then taken to the exact vertex of the family's
  LP by :data:`lossbridge.estimation.exact.VERTEX_SOLVERS` (for LAD,
  :func:`lossbridge.estimation.lad.exact_lad_vertex`: k residuals of the L-BFGS point set
  to zero and a few simplex pivots; where those do not reach a vertex the LP dual
  certifies, the exact solver) and a learned scale is re-maximised by Newton on the
  model's density at that vertex.
* a non-smooth penalty (lasso, elastic net; ``Penalty.smooth`` False): the exact
  solver's point (:mod:`lossbridge.estimation.penalised`), confirmed by the subgradient
  conditions read from the PyMC log-density's own gradient (a smooth penalty, ridge,
  takes the Newton path above like any smooth density);
* otherwise (a non-smooth density with priors, or without a vertex solver): L-BFGS,
  said to be approximate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pymc.logprob.utils import ParameterValueError
from pytensor.graph.replace import graph_replace
from scipy.optimize import minimize

from ..core.differences import central_difference_hessian
from ..data.design import Design
from ..data.rotation import Rotation
from ..families.base import Family
from ..models.joint import fast_form_model
from ..models.reference import ROTATED, build_model
from ..models.spec import ModelSpec
from .exact import VERTEX_SOLVERS, ExactFit
from .lad import LadVertex

NEWTON_POLISH_STEPS = 4
# Below this many rows PyTensor's graph rewrites cost more than they save: the MAP
# needs a few hundred evaluations at most, so compile without them (FAST_COMPILE).
FAST_COMPILE_MAX_ROWS = 20_000
# L-BFGS iterations for the flat-prior piecewise-linear (Laplace) MAP: only a start for the exact vertex,
# not the answer (each is O(n); where its vertex needs more than a few simplex pivots
# the exact solver takes over), so few on large data.
LBFGS_MAX_ITER = {5_000: 300}
LBFGS_MAX_ITER_LARGE = 30


@dataclass(frozen=True, eq=False)
class MapEstimate:
    """The MAP of one model, on the original scale.

    Attributes
    ----------
    coefficients : ndarray of shape (k,)
    scale : float
        The scale at the MAP (learned) or the fixed value.
    log_density : float
        The model's log-density (no Jacobian) at the MAP.
    log_likelihood : float
        Sum of the observed variable's log-density at the MAP, as PyMC computes it.
    method : str
        How the optimum was reached, in words.
    evaluations : int
        Log-density evaluations used by the optimisers.
    vertex : LadVertex or None
        The exact LP vertex (a piecewise-linear family with flat priors only).
    theta : ndarray of shape (k,)
        The MAP in the model's rotated coordinates (where sampling starts).
    gamma : ndarray of shape (p,) or None
        A modelled scale's coefficients, log scale_i = Z_i gamma (``scale`` is then the
        geometric mean of the rows' scales); None otherwise.
    shape : dict of str to float
        The MAP of each learned shape parameter (``{"nu": 4.2}``); empty when none is
        learned. Its prior is proper and part of the objective: a posterior mode.
    shape_units : dict of str to float
        Approximate posterior sd of the log of each learned shape parameter at the MAP
        (1/sqrt of minus the log-density's curvature there), which standardises NUTS.
    """

    coefficients: np.ndarray
    theta: np.ndarray
    scale: float
    log_density: float
    log_likelihood: float
    method: str
    evaluations: int
    vertex: LadVertex | None = None
    gamma: np.ndarray | None = None
    penalty_check: dict | None = None  # a non-smooth penalty: the PyMC subgradient check
    shape: dict = field(default_factory=dict)
    shape_units: dict = field(default_factory=dict)
    # The noise's size on the linear predictor's scale at the MAP
    # (Family.linear_predictor_scale: the scale itself for an identity link); NUTS'
    # coefficient coordinates are standardised by it. None: ``scale``.
    eta_scale: float | None = None

    @property
    def location_scale(self) -> float:
        """What standardises the coefficients: ``eta_scale``, else the scale."""
        return self.scale if self.eta_scale is None else self.eta_scale


class LogDensity:
    """Log-density (no Jacobian), gradient, Hessian and log-likelihood of a PyMC model.

    All are functions of one flat vector holding the model's free variables (on their
    unconstrained scale). Log-density, gradient and log-likelihood are one compiled
    PyTensor function; the Hessian is central differences of the exact gradient.
    """

    def __init__(self, model: pm.Model, mode: str | None = None):
        start = model.initial_point()
        self.names = [v.name for v in model.value_vars]
        self.shapes = [np.shape(start[name]) for name in self.names]
        self.sizes = [int(np.prod(shape)) for shape in self.shapes]
        flat = pt.dvector("flat_point")
        replacements, offset = {}, 0
        for var, shape, size in zip(model.value_vars, self.shapes, self.sizes, strict=True):
            replacements[var] = flat[offset : offset + size].reshape(shape)
            offset += size
        logp = graph_replace(model.logp(jacobian=False), replacements, strict=False)
        loglik = graph_replace(model.observedlogp, replacements, strict=False)
        grad = pt.grad(logp, flat)
        self._function = pytensor.function([flat], [logp, grad, loglik], mode=mode)
        self.evaluations = 0

    @property
    def size(self) -> int:
        return sum(self.sizes)

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray, float]:
        """Log-density, its gradient and the log-likelihood at ``x``.

        Outside the support (a scale underflowing to 0 in a trial step), the density is
        -inf; without PyTensor's graph rewrites its parameter check raises instead.
        """
        self.evaluations += 1
        try:
            logp, grad, loglik = self._function(np.asarray(x, dtype=float))
        except ParameterValueError:
            return -np.inf, np.zeros(self.size), -np.inf
        return float(logp), np.asarray(grad), float(loglik)

    def hessian(self, x: np.ndarray, coords: slice | None = None) -> np.ndarray:
        """Central differences of the exact gradient, symmetrised; only the ``coords``
        block (rows and columns) when given, at the cost of that many gradient pairs."""
        index = None if coords is None else np.arange(np.size(x))[coords]
        return central_difference_hessian(lambda point: self(point)[1], x, index)

    def flat(self, theta: np.ndarray, log_scale: float | None, log_shape=()) -> np.ndarray:
        parts = [np.asarray(theta, dtype=float)]
        if log_scale is not None:
            parts.append(np.array([log_scale]))
        parts.append(np.asarray(log_shape, dtype=float).reshape(-1))
        return np.concatenate(parts)


def find_map(
    model: pm.Model, spec: ModelSpec, design: Design, rotation: Rotation
) -> MapEstimate:
    """Maximise the log-density of ``model`` (built from ``spec`` on ``design``).

    For a family with a fast exact form (the Normal's sufficient statistics) the
    optimiser works on that form (:func:`lossbridge.models.joint.build_joint_model`, equal
    to the reference model to rounding, tested), so an evaluation costs O(k^2) instead
    of O(nk); the log-likelihood at the MAP is then evaluated once on ``model`` itself.
    """
    if spec.modelled_scale:  # log scale_i = Z_i gamma: estimation/heteroscedastic.py
        from .heteroscedastic import heteroscedastic_map

        return heteroscedastic_map(model, spec, design, rotation)
    family = spec.family
    rotation = rotation.for_family(family)  # eta's scale of theta (Family.coordinate_scale)
    learned = spec.scale == "learned"
    if spec.penalty is not None and not spec.penalty.smooth:
        return _penalised_map(model, spec, design, rotation)
    joint = fast_form_model(spec, design, rotation)
    fast = joint is not None
    if fast:
        density = LogDensity(joint, "FAST_COMPILE")
    else:
        density = LogDensity(model, "FAST_COMPILE" if design.n <= FAST_COMPILE_MAX_ROWS else None)
    if not density.names[0].endswith(ROTATED):
        raise RuntimeError(f"unexpected free variables {density.names}")
    k = design.k
    y = design.y
    if fast and family.smooth:
        # The fast form is an exact quadratic in theta: Newton reaches it from any start.
        start_theta = np.zeros(k)
        start_scale = np.sqrt(np.mean(y**2)) or 1.0
    else:
        # Otherwise a sensible start: the least-squares point in rotated coordinates
        # (Q*'Q* = n I), with the mean absolute size of its residuals as the scale.
        # A link other than the identity starts from link(y) made finite (the family's).
        eta = family.initial_linear_predictor(y)
        if design.offset is not None:  # the start of X beta is that of eta minus the offset
            eta = eta - design.offset
        start_theta = rotation.theta_from_eta(eta)
        start_scale = np.mean(np.abs(eta - rotation.eta_of(start_theta))) or 1.0
    # Learned shape parameters follow theta and the scale, in the reference model's order,
    # on PyMC's log scale (their priors have positive support), started at their ``initial``.
    shape_params = family.learned_shape
    first = k + int(learned)
    expected = [f"{p.name}_log__" for p in shape_params]
    if density.names[1 + int(learned):] != expected:
        raise RuntimeError(f"unexpected free variables {density.names}")
    x0 = density.flat(start_theta, np.log(start_scale) if learned else None,
                      [np.log(p.initial) for p in shape_params])
    vertex = None
    if family.smooth:
        x, method = _newton(density, x0, k)
        beta = rotation.to_beta(x[:k])
    elif (family.piecewise_linear and spec.priors == "flat"
          and family.exact_solver in VERTEX_SOLVERS):
        x, method, vertex = _vertex_map(family, density, x0, design, rotation, learned)
        beta = vertex.coefficients
    else:
        # A non-smooth density plus smooth priors (the optimum is no longer an LP vertex),
        # or without an LP to polish to.
        x = _lbfgs(density, x0).x
        beta = rotation.to_beta(x[:k])
        method = (
            "L-BFGS on the PyMC log-density (approximate: the objective is not smooth at "
            "zero residuals and, with priors, has no exact vertex to polish to)"
        )
    logp, _, loglik = density(x)
    if fast:  # the fast form has no observed variable: PyMC's own, on the reference model
        loglik = _observed_log_likelihood(model, x, k, learned, family.scale_name)
    scale = float(np.exp(x[k])) if learned else float(spec.fixed_scale)
    shape, units = {}, {}
    if shape_params:
        coords = slice(first, first + len(shape_params))
        curvature = -np.diag(density.hessian(x, coords))
        for i, p in enumerate(shape_params):
            shape[p.name] = float(np.exp(x[first + i]))
            units[p.name] = float(1.0 / np.sqrt(curvature[i])) if curvature[i] > 0 else 1.0
        method += "; " + "; ".join(
            f"{p.name} = {shape[p.name]:.6g} learned: its MAP is a posterior mode under its "
            f"proper {p.prior} prior, which the objective includes" for p in shape_params)
    eta_scale = family.linear_predictor_scale(y, family.link.inverse(design.linear_predictor(beta)), scale,
                                              **shape)
    return MapEstimate(
        coefficients=beta,
        theta=np.asarray(x[:k]).copy(),
        scale=scale,
        log_density=logp,
        log_likelihood=loglik,
        method=method,
        evaluations=density.evaluations,
        vertex=vertex,
        shape=shape,
        shape_units=units,
        eta_scale=float(eta_scale),
    )


def _penalised_map(model: pm.Model, spec: ModelSpec, design: Design,
                   rotation: Rotation) -> MapEstimate:
    """The L1 term has a kink at zero, where no gradient method lands: take the exact
    solver's point and prove it from the model's own log-density (fixed scale)."""
    from ..models.penalties import penalised_columns
    from .penalised import confirm_with_pymc, solve_penalised

    density = LogDensity(model, "FAST_COMPILE" if design.n <= FAST_COMPILE_MAX_ROWS else None)
    beta, how = solve_penalised(design.X, design.y, spec.penalty, penalised_columns(design))
    check = confirm_with_pymc(density, design, rotation, beta, spec.penalty, spec.fixed_scale)
    theta = rotation.to_theta(beta)
    logp, _, loglik = density(theta)
    verdict = "hold" if check.holds else "FAIL"
    return MapEstimate(
        coefficients=beta, theta=theta, scale=float(spec.fixed_scale), log_density=logp,
        log_likelihood=loglik,
        method=(f"the exact {spec.penalty.sklearn_name} solver's point ({how}); its "
                f"subgradient conditions {verdict} on the PyMC log-density's gradient"),
        evaluations=density.evaluations, penalty_check=check.as_dict())


def plug_in_scale(family: Family, design: Design, exact: ExactFit | None,
                  rotation: Rotation | None = None) -> float:
    """The plug-in MLE of ``family``'s scale on ``design``, jointly with the coefficients.

    The closed form at the exact fit where both exist (sqrt(RSS/n), SAD/n); otherwise the
    scale of the numerical MLE: the MAP of the learned-scale model under flat priors.
    """
    if exact is not None and exact.scale_mle is not None:
        return exact.scale_mle
    rotation = rotation or Rotation.of(design)
    spec = ModelSpec(family.name, "learned", priors="flat",
                     shape=tuple(sorted(family.shape_values.items())))
    return find_map(build_model(spec, design, rotation), spec, design, rotation).scale


def _observed_log_likelihood(model: pm.Model, x: np.ndarray, k: int, learned: bool,
                             scale_name: str) -> float:
    """PyMC's own log-likelihood of the explicit ``model`` at the flat point ``x``."""
    point = {ROTATED: np.asarray(x[:k])}
    if learned:
        point[f"{scale_name}_log__"] = np.asarray(x[k])
    function = model.compile_logp(vars=model.observed_RVs, jacobian=False, mode="FAST_COMPILE")
    return float(function(point))


def _newton(density: LogDensity, x0: np.ndarray, k: int) -> tuple[np.ndarray, str]:
    # At a fixed scale the log-density is an exact concave quadratic in theta: Newton on
    # theta alone reaches its maximum in a step or two from any start, however far.
    x0 = _newton_polish(density, x0, coords=slice(0, k), max_steps=50)
    cache: dict[bytes, tuple] = {}

    def evaluate(x):
        key = x.tobytes()
        if key not in cache:
            cache[key] = density(x)
        return cache[key]

    result = minimize(
        lambda x: -evaluate(x)[0],
        x0,
        jac=lambda x: -evaluate(x)[1],
        hess=lambda x: -density.hessian(x),
        method="trust-exact",
        options={"gtol": 1e-10, "maxiter": 500},
    )
    x = _newton_polish(density, result.x)
    return x, ("Newton on the coefficients, then trust-region Newton on the PyMC log-density "
                "and Newton steps to convergence")


def _newton_polish(density: LogDensity, x: np.ndarray, coords: slice | None = None,
                   max_steps: int = NEWTON_POLISH_STEPS) -> np.ndarray:
    """Damped Newton steps (optionally on a subset of coordinates) on the log-density.

    Each step is halved until it does not lose log-density; iteration stops when a full
    step no longer shrinks the gradient (rounding reached) or after ``max_steps``.
    """
    coords = coords or slice(0, x.size)
    logp, grad, _ = density(x)
    for _ in range(max_steps):
        hess = density.hessian(x, coords)
        try:
            step = np.linalg.solve(hess, grad[coords])
        except np.linalg.LinAlgError:
            break
        if not np.all(np.linalg.eigvalsh(hess) < 0):  # not concave here: ascend the gradient
            step = -grad[coords] / max(np.abs(np.diag(hess)).max(), 1.0)
        for _ in range(60):
            candidate = x.copy()
            candidate[coords] -= step
            new_logp, new_grad, _ = density(candidate)
            if np.isfinite(new_logp) and new_logp >= logp - 1e-14 * abs(logp):
                break
            step = step / 2.0
        else:
            break
        improves = np.linalg.norm(new_grad[coords]) < np.linalg.norm(grad[coords])
        if not improves:
            break
        x, logp, grad = candidate, new_logp, new_grad
    return x


def _lbfgs(density: LogDensity, x0: np.ndarray, maxiter: int = 1000):
    def objective(x):  # value and gradient from one evaluation
        logp, grad, _ = density(x)
        return -logp, -grad

    return minimize(
        objective,
        x0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": maxiter, "ftol": 1e-12, "gtol": 1e-10},
    )


def _vertex_map(family, density, x0, design, rotation, learned):
    k = design.k
    # Only a starting point for the exact vertex; on large data each evaluation is O(n),
    # so stop early and let the exact solver do the rest.
    maxiter = next((it for rows, it in LBFGS_MAX_ITER.items() if design.n <= rows),
                   LBFGS_MAX_ITER_LARGE)
    result = _lbfgs(density, x0, maxiter=maxiter)
    stage1_beta = rotation.to_beta(result.x[:k])
    # From the L-BFGS point: a few simplex pivots if they reach a certified vertex, else
    # the exact solver (HiGHS on the rescaled, merged, globbed problem), certified on all rows.
    vertex = VERTEX_SOLVERS[family.exact_solver](family, design.X, design.y,
                                                 beta_start=stage1_beta)
    theta = rotation.to_theta(vertex.coefficients)
    if learned:
        # Started at the closed form (SAD/n) so Newton on the model's own density
        # only has to confirm it; from the L-BFGS value it took hundreds of evaluations.
        loss = family.loss(design.y - design.X @ vertex.coefficients)
        closed = family.scale_mle(loss, design.n)
        start = np.log(closed) if closed else result.x[k]
        x = density.flat(theta, start)
        # Concave in log b at a fixed vertex: damped Newton converges from any start.
        x = _newton_polish(density, x, coords=slice(k, k + 1), max_steps=200)
    else:
        x = density.flat(theta, None)
    # No comparison of log-densities with the L-BFGS point here: a vertex whose dual
    # certificate holds minimises the SAD, and any apparent gain of the L-BFGS point
    # is rounding; a vertex whose certificate fails is reported as not certified.
    method = (
        f"L-BFGS on the PyMC log-density, then the exact {family.exact_name} vertex ("
        + vertex.solver + ")"
        + (f"; {family.scale_name} by Newton on the log-density at the vertex" if learned else "")
    )
    return x, method, vertex
