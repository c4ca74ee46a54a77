"""Certify a MAP estimate against the exact fit of its loss.

A certificate compares the loss (RSS or SAD) at the MAP and at the exact fit, the
coefficients term by term, the learned scale against its closed form, and for LAD
carries the LP dual optimality proof of the MAP vertex. ``certified`` is true only
when every check passes its tolerance.

Tolerances, and why:

* coefficients: 1e-8 relative (the issue's contract). A coefficient is compared
  relative to ``max(|beta_j|, 1e-6 * ||y|| / ||x_j||)``: a coefficient whose whole
  effect on the fit is below a millionth of the response's size counts as zero.
* loss: the MAP's loss may exceed the exact fit's by at most the rounding bound of
  evaluating the two losses (:func:`lossbridge.core.rounding.loss_error_bound`: a sum of n
  terms, each residual computed with cancellation). The check is one-sided:
  a MAP whose loss is *below* the reference solver's means the reference is the less
  accurate of the two: for LAD the reference is then re-solved from the MAP's vertex
  (certified by its own LP dual on all rows) and the MAP is compared with that.
* learned scale: 1e-8 relative to its closed form ``sqrt(RSS/n)`` or ``SAD/n`` (or the
  loss tolerance, when rounding in the loss is larger: the scale is a function of it).
* LAD dual: ``|d_i| <= 1 + 1e-9``, stationarity ``max_j |x_j'd|/||x_j|| <= 1e-9``
  and zero duality gap within its own rounding bound (:class:`lossbridge.estimation.lad.DualCertificate`).

* a loss that depends on the scale (``Family.scale_dependent_fit``, Huber): the MAP is
  compared with the exact fit at that fit's scale (:func:`~lossbridge.estimation.exact.exact_fit_for`
  re-solves it at a fixed-scale model's scale); a learned scale without a closed form is
  compared with the exact joint fit's to 1e-8 (reported as ``scale_closed_form``), and
  the exact fit's own gradient certificate is the ``reference_kkt`` check.

A family without an exact classical fit (``Family.exact_solver = None``) gets no
certificate: :func:`certify` returns None and :func:`certificate_note` says "no exact
counterpart", as it says "not applicable" for a MAP under weak priors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.rounding import SAFETY, linear_predictor_errors, residual_errors
from ..data.design import Design
from ..models.spec import ModelSpec
from .exact import ExactFit, exact_fit_for, lad_from_vertex, negative_log_posterior
from .map import MapEstimate

COEFFICIENT_RTOL = 1e-8
SCALE_RTOL = 1e-8
ZERO_EFFECT = 1e-6



@dataclass(frozen=True)
class Certificate:
    """How closely a MAP estimate reproduces the exact minimiser of its loss."""

    loss_name: str
    loss_map: float
    loss_exact: float
    loss_relative_gap: float
    loss_tolerance: float
    max_relative_coefficient_difference: float
    coefficient_tolerance: float
    coefficients_compared: bool
    scale_name: str | None
    scale_map: float
    scale_closed_form: float | None
    scale_relative_difference: float | None
    unique: bool | None
    dual: dict | None
    checks: dict[str, bool]
    certified: bool
    explanation: str
    reference: ExactFit | None = None  # what the MAP was compared with
    reference_resolved: bool = False  # the baseline failed and was re-solved from the MAP
    optimality: dict | None = None  # a penalised fit's KKT and PyMC subgradient checks
    # Objective-certified fits (a non-convex objective, Student-t EM): the negative log
    # posterior at the MAP and at the best optimum found, the distinct optima's values
    # (best first), and the learned shape parameters at both.
    objective_map: float | None = None
    objective_exact: float | None = None
    local_optima: tuple = ()
    shape_map: dict | None = None
    shape_exact: dict | None = None

    def as_dict(self) -> dict:
        return {
            "certified": self.certified,
            "loss": self.loss_name,
            "loss_map": self.loss_map,
            "loss_exact": self.loss_exact,
            "loss_relative_gap": self.loss_relative_gap,
            "loss_tolerance": self.loss_tolerance,
            "max_relative_coefficient_difference": self.max_relative_coefficient_difference,
            "coefficient_tolerance": self.coefficient_tolerance,
            "coefficients_compared": self.coefficients_compared,
            "scale": self.scale_name,
            "scale_map": self.scale_map,
            "scale_closed_form": self.scale_closed_form,
            "scale_relative_difference": self.scale_relative_difference,
            "unique": self.unique,
            "dual": self.dual,
            "checks": dict(self.checks),
            "explanation": self.explanation,
            "reference_solver": None if self.reference is None else self.reference.solver,
            "reference_resolved": self.reference_resolved,
            "objective_map": self.objective_map,
            "objective_exact": self.objective_exact,
            "local_optima": list(self.local_optima),
            "shape_map": self.shape_map,
            "shape_exact": self.shape_exact,
        } | ({} if self.optimality is None else {"optimality": self.optimality})


def relative_coefficient_differences(
    estimate: np.ndarray, reference: np.ndarray, design: Design
) -> np.ndarray:
    """|estimate - reference| relative to max(|reference|, 1e-6 ||y|| / ||x_j||), per term."""
    # a categorical y's codes have no size: a unit of eta on every row is the yardstick
    size = np.linalg.norm(design.y) if design.classes is None else np.sqrt(design.n)
    floor = ZERO_EFFECT * size / np.tile(np.linalg.norm(design.X, axis=0), design.predictors)
    return np.abs(estimate - reference) / np.maximum(np.abs(reference), floor)


def certificate_note(spec: ModelSpec, exact: ExactFit | None) -> str | None:
    """Why a model has no certificate, in words (None when it has one: flat priors and an
    exact fit of its loss)."""
    if exact is None:
        return (f"no exact counterpart: the {spec.family.title} likelihood has no exact "
                "classical fit to certify its MAP against")
    if spec.priors != "flat":
        return ("not applicable: under weak priors the MAP is a penalised fit, not the "
                "minimiser of the loss")
    return None


def certify(spec: ModelSpec, design: Design, estimate: MapEstimate,
            exact: ExactFit | None) -> Certificate | None:
    """Compare ``estimate`` with ``exact`` and decide whether the MAP is certified; None
    when the family has no exact fit (``exact`` None, see :func:`certificate_note`).
    A modelled scale's MAP is certified by :mod:`lossbridge.estimation.heteroscedastic`."""
    if spec.modelled_scale:
        from .heteroscedastic import certify_heteroscedastic

        return certify_heteroscedastic(spec, design, estimate)
    if exact is None:
        return None
    if spec.penalty is not None:  # ridge, lasso, elastic net: against scikit-learn's objective
        from .penalised import certify_penalised

        return certify_penalised(spec, design, estimate, exact)
    family = spec.family
    # A loss that depends on the scale is compared at the fit's own scale (the fixed one).
    exact = exact_fit_for(spec, design, exact)
    if exact.objective is not None:  # a non-convex objective: compared by its value
        return _certify_objective(spec, design, estimate, exact)
    X, y = design.X, design.y
    exact, resolved = _better_reference(family, design, estimate, exact)
    at = exact.loss_scale
    residuals = y - X @ estimate.coefficients
    loss_map = family.scaled_loss(residuals, at)
    bound = (family.scaled_loss_rounding(X, y, estimate.coefficients, at)
             + family.scaled_loss_rounding(X, y, exact.coefficients, at))
    # Relative to the exact loss, or to its rounding bound when the loss is no larger (an
    # exact fit, all residuals zero: both losses are then rounding noise).
    scale = max(exact.loss, bound) or 1.0
    gap = (loss_map - exact.loss) / scale
    tol = bound / scale
    coefficient_diff = float(
        np.max(relative_coefficient_differences(estimate.coefficients, exact.coefficients, design))
    )
    verdicts = [exact.unique] + ([] if estimate.vertex is None
                                 else [estimate.vertex.certificate.unique])
    # Unique only if every verdict says so; not unique if any denies; else unknown (None).
    unique = (False if any(v is False for v in verdicts)
              else True if all(v is True for v in verdicts) else None)
    checks = {"loss": gap <= tol}
    if unique is True:
        checks["coefficients"] = coefficient_diff <= COEFFICIENT_RTOL
    scale_closed = scale_diff = None
    # A family without a closed-form scale MLE is certified on its loss and coefficients.
    if spec.scale == "learned" and family.scale_mle(loss_map, design.n) is not None:
        scale_closed = family.scale_mle(loss_map, design.n)
        scale_diff = abs(estimate.scale - scale_closed) / scale_closed
        # The scale is a function of the loss (sqrt(RSS/n) or SAD/n): it inherits the
        # loss's rounding, so its tolerance is the larger of 1e-8 and the loss tolerance.
        scale_tol = max(SCALE_RTOL, tol)
        checks["scale"] = scale_diff <= scale_tol
        # The closed form at the exact fit, too: the learned scale is the plug-in MLE.
        checks["scale_vs_exact"] = abs(estimate.scale - exact.scale_mle) / exact.scale_mle <= scale_tol
    elif spec.scale == "learned" and exact.scale_mle:
        # No closed form: the exact fit estimated the scale jointly (Huber's MLE).
        scale_closed = exact.scale_mle
        scale_diff = abs(estimate.scale - scale_closed) / scale_closed
        checks["scale_vs_exact"] = scale_diff <= SCALE_RTOL
    if exact.kkt is not None:  # the reference's own optimality proof (gradient, convexity)
        checks["reference_kkt"] = bool(exact.kkt["holds"])
    dual = None
    if estimate.vertex is not None:
        dual = estimate.vertex.certificate.as_dict()
        checks["lp_dual"] = estimate.vertex.certificate.holds
    certified = all(checks.values())
    return Certificate(
        loss_name=family.loss_symbol,
        loss_map=loss_map,
        loss_exact=exact.loss,
        loss_relative_gap=gap,
        loss_tolerance=tol,
        max_relative_coefficient_difference=coefficient_diff,
        coefficient_tolerance=COEFFICIENT_RTOL,
        coefficients_compared=unique is True,
        scale_name=family.scale_name,
        scale_map=estimate.scale,
        scale_closed_form=scale_closed,
        scale_relative_difference=scale_diff,
        unique=unique,
        dual=dual,
        checks=checks,
        certified=certified,
        explanation=_explain(spec, checks, unique, coefficient_diff, gap, tol, resolved),
        reference=exact,
        reference_resolved=resolved,
    )


def _better_reference(family, design: Design, estimate: MapEstimate,
                      exact: ExactFit) -> tuple[ExactFit, bool]:
    """The reference to compare with, and whether it was re-solved.

    ``exact``, unless it is an LP-vertex fit (LAD) whose certificate fails, or whose SAD exceeds the
    MAP vertex's beyond rounding, while the MAP's own vertex is certified by its LP dual
    on all rows: then that vertex is the reference. The MAP is never blamed for a
    baseline's failure: a vertex whose dual certificate holds is an optimum, whichever
    solver reached it.
    """
    vertex = estimate.vertex
    lp_fit = family.piecewise_linear and exact.certificate is not None
    if not lp_fit or vertex is None or not vertex.certificate.holds:
        return exact, False
    X, y = design.X, design.y
    sad_vertex = family.loss(y - X @ vertex.coefficients)
    rounding = (family.loss_rounding(X, y, vertex.coefficients)
                + family.loss_rounding(X, y, exact.coefficients))
    if exact.certificate.holds and sad_vertex >= exact.loss - rounding:
        return exact, False
    return lad_from_vertex(design, vertex, "re-solved from the MAP's certified vertex", family), True


def _explain(spec, checks, unique, coefficient_diff, gap, tol, resolved=False) -> str:
    exact = spec.family.exact_name
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        return (
            f"NOT certified: failed {', '.join(failed)} (coefficient diff {coefficient_diff:.1e}, "
            f"loss gap {gap:.1e})"
        )
    below = (
        f"; the MAP's loss is below the reference solver's by {-gap:.1e} (more than rounding): "
        "the reference is the less accurate of the two"
        if gap < -tol
        else ""
    )
    if resolved:
        below += (f"; the {exact} baseline was not certified or had a larger "
                  f"{spec.family.loss_symbol}, so the reference was re-solved from the MAP's "
                  "certified vertex")
    if unique is None:
        return (
            f"certified on the objective: whether the {exact} solution is unique was not "
            f"determined, so coefficients are not compared; loss gap {gap:.1e}{below}"
        )
    if not unique:
        return (
            f"certified on the objective: the {exact} solution is not unique (a flat face of the "
            f"LP), so coefficients may differ between optimal vertices; loss gap {gap:.1e}{below}"
        )
    return (
        f"MAP equals the exact {exact} fit (coefficients within {coefficient_diff:.1e} "
        f"relative){below}"
    )


SHAPE_SD_RTOL = 1e-6


def _shape_agrees(value_map: float, value_exact: float, unit: float | None,
                  gradient_bound: float | None = None) -> bool:
    """A learned shape parameter at the MAP and the reference: within 1e-8 relative, or
    within 1e-6 of its approximate posterior sd on the log scale (``unit``, the MAP's
    ``shape_units``). On a nearly flat profile (a negative binomial's alpha near the
    Poisson limit) the objective cannot resolve alpha to 1e-8: a change of Δ in log alpha
    moves it by Δ²/(2 unit²), below rounding for Δ far above 1e-8; 1e-6 sd is far
    inside anything the posterior distinguishes, and the objective check still applies.
    With the reference's rounding bound on its gradient in log value (``gradient_bound``,
    its KKT evidence), the reference itself is only located to gradient_bound x unit² in
    log value (the gradient's slope there is 1/unit²): a difference within that is one the
    objective's curvature cannot resolve."""
    if abs(value_map - value_exact) / abs(value_exact) <= SCALE_RTOL:
        return True
    if unit is None or not np.isfinite(unit) or unit <= 0 or value_map <= 0 or value_exact <= 0:
        return False
    resolved = SHAPE_SD_RTOL * unit
    if gradient_bound is not None and np.isfinite(gradient_bound):
        resolved = max(resolved, float(gradient_bound) * unit * unit)
    return abs(np.log(value_map) - np.log(value_exact)) <= resolved


def _certify_objective(spec: ModelSpec, design: Design, estimate: MapEstimate,
                       exact: ExactFit) -> Certificate:
    """A non-convex objective (``exact.objective`` set: the Student-t's): the MAP against
    the best optimum a multi-start solver found.

    Checks: the MAP's negative log posterior (:func:`negative_log_posterior`, NumPy, the
    solver's own function) is not above the best optimum's by more than the rounding of
    the two evaluations (10 x [n eps sum |log f_i| plus each term's change under its
    residual's rounding bound, or for a family whose y is exact (a count, a class) under
    the rounding bound of each of its linear predictors, one at a time], both points);
    coefficients within 1e-8 relative (unless the best optimum is tied with another); a
    learned scale within 1e-8 relative, each learned shape parameter too or within 1e-6
    posterior sd on its log scale (:func:`_shape_agrees`). Distinct local optima are listed, best first.
    """
    family = spec.family
    X, y = design.X, design.y
    beta, scale, shape = estimate.coefficients, estimate.scale, dict(estimate.shape)
    objective_map = negative_log_posterior(family, design, beta, scale, shape)

    def rounding(b, s, sh):
        # the n-term sum's rounding, plus each term's change under its residual's rounding
        # error (core.rounding.residual_errors: cancellation in y - X beta), to first order
        eta = design.linear_predictor(b)
        mu = family.link.inverse(eta)
        terms = family.logpdf(y, mu, s, **sh)
        if family.additive_noise:  # y - mu cancels: the residual's rounding
            shifted = family.logpdf(y + residual_errors(X, y, b), mu, s, **sh)
            change = float(np.sum(np.abs(shifted - terms)))
        else:  # y is exact (a count, a class): the rounding of eta carried through the link
            errors = linear_predictor_errors(X, b)
            if design.offset is not None:  # X beta + offset rounds once more
                errors = errors + np.finfo(float).eps * np.abs(eta)
            # one linear predictor at a time: shifting a categorical's K - 1 etas together
            # cancels in log softmax (d/d eta_c sums to p_0 - 1[y = 0]), while the first-order
            # bound is sum_c |d log f / d eta_c| delta_c; with one eta per row this is the
            # single shift
            columns = [errors] if errors.ndim == 1 else [
                np.where(np.arange(errors.shape[1]) == c, errors, 0.0)
                for c in range(errors.shape[1])]
            change = sum(float(np.sum(np.abs(
                family.logpdf(y, family.link.inverse(eta + e), s, **sh) - terms)))
                for e in columns)
        return design.n * np.finfo(float).eps * float(np.sum(np.abs(terms))) + change

    bound = SAFETY * (rounding(beta, scale, shape)
                      + rounding(exact.coefficients, exact.loss_scale, exact.shape))
    size = max(abs(exact.objective), 1.0)
    gap, tol = (objective_map - exact.objective) / size, bound / size
    coefficient_diff = float(np.max(relative_coefficient_differences(beta, exact.coefficients,
                                                                      design)))
    checks = {"objective": gap <= tol}
    if exact.unique is True:
        checks["coefficients"] = coefficient_diff <= COEFFICIENT_RTOL
    scale_diff = None
    if spec.scale == "learned":
        scale_diff = abs(scale - exact.loss_scale) / exact.loss_scale
        checks["scale"] = scale_diff <= SCALE_RTOL
    for name, value in exact.shape.items():
        resolution = (exact.kkt or {}).get(f"log_{name}_gradient_bound")
        checks[name] = _shape_agrees(shape[name], value, estimate.shape_units.get(name),
                                     resolution)
    if exact.kkt is not None:  # the reference's own optimality proof (gradient, curvature)
        checks["reference_kkt"] = bool(exact.kkt["holds"])
    certified = all(checks.values())
    optima = tuple(exact.local_optima)
    several = (f"; {len(optima)} distinct local optima found (objective "
               + ", ".join(f"{v:.10g}" for v in optima) + "): the MAP is at the best"
               if len(optima) > 1 else "; one optimum found from every start" if optima
               else "; the objective is convex, so that stationary point is its unique minimum")
    if certified:
        explanation = (f"MAP equals the best {family.exact_name} optimum (coefficients within "
                       f"{coefficient_diff:.1e} relative, objective gap {gap:.1e}){several}")
    else:
        failed = ", ".join(name for name, ok in checks.items() if not ok)
        local = (f"; the MAP's objective {objective_map:.10g} is above the best optimum's "
                 f"{exact.objective:.10g}: it is at a worse local optimum or not converged"
                 if not checks["objective"] else "")
        explanation = (f"NOT certified: failed {failed} (coefficient diff {coefficient_diff:.1e}, "
                       f"objective gap {gap:.1e}){local}"
                       + (f"; {len(optima)} distinct local optima found (objective "
                          + ", ".join(f"{v:.10g}" for v in optima) + ")" if len(optima) > 1
                          else ""))
    return Certificate(
        loss_name=family.loss_symbol,
        loss_map=family.loss_of(y, family.link.inverse(design.linear_predictor(beta)), scale,
                                **shape),
        loss_exact=exact.loss,
        loss_relative_gap=gap,
        loss_tolerance=tol,
        max_relative_coefficient_difference=coefficient_diff,
        coefficient_tolerance=COEFFICIENT_RTOL,
        coefficients_compared=exact.unique is True,
        scale_name=family.scale_name,
        scale_map=scale,
        scale_closed_form=None,
        scale_relative_difference=scale_diff,
        unique=exact.unique,
        dual=None,
        checks=checks,
        certified=certified,
        explanation=explanation,
        reference=exact,
        objective_map=objective_map,
        objective_exact=exact.objective,
        local_optima=optima,
        shape_map=shape or None,
        shape_exact=dict(exact.shape) or None,
    )
