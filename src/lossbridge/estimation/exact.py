"""Exact classical fits: OLS by a QR/lstsq solve, LAD and quantile regression by a linear
programme (HiGHS, then the exact vertex and its dual certificate), Huber by Newton on its
convex objective (:mod:`lossbridge.estimation.huber`).

These are the independent references every MAP estimate is certified against. A family
names its solver by a key of :data:`SOLVERS` (``Family.exact_solver``); the solver reports
the loss and the scale MLE through that family's own :meth:`~lossbridge.families.base.Family.loss`
and :meth:`~lossbridge.families.base.Family.scale_mle`, so a family registered from outside
may reuse one. A family without one (``exact_solver = None``) has no exact fit:
:func:`exact_fit` returns None and its certificate says "no exact counterpart".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..data.design import Design
from ..families.base import Family
from ..families.laplace import LAPLACE
from ..families.normal import NORMAL
from ..families.registry import get_family
from .lad import DualCertificate, LadVertex, exact_lad_vertex, exact_quantile_vertex

if TYPE_CHECKING:
    from ..models.spec import ModelSpec


@dataclass(frozen=True, eq=False)
class ExactFit:
    """The exact minimiser of a loss.

    Attributes
    ----------
    method : str
        The solver's key in :data:`SOLVERS` (``"ols"``, ``"lad"``).
    solver : str
        How it was computed, in words.
    coefficients : ndarray of shape (k,)
    loss : float
        The family's loss at the fit: RSS for OLS, SAD for LAD.
    scale_mle : float or None
        Closed-form MLE of the likelihood's scale at this fit: sqrt(RSS/n) or SAD/n
        (None for a family without one).
    unique : bool or None
        Whether the minimiser is unique (always for OLS on a full-rank design); None when
        it could not be determined (the certificate's ``uniqueness`` says why).
    certificate : DualCertificate or None
        LP optimality certificate (a fit that is an LP vertex, LAD).
    scale : float or None
        The scale the fit was computed at: the fixed value it was asked for
        (``exact_fit(..., scale=)``), or the jointly estimated one (Student-t EM); None
        for a fit that does not depend on the scale (OLS, LAD).
    scale_fixed : bool
        ``scale`` was given, not estimated.
    shape : dict of str to float
        The fitted value of each learned shape parameter (Student-t EM: ``{"nu": ...}``).
    objective : float or None
        The minimised objective where the fit is not the minimiser of :meth:`Family.loss`
        alone: the negative log posterior (no Jacobian) of :func:`negative_log_posterior`
        at the fit. The certificate then compares objectives (see ``certificate.py``).
    local_optima : tuple of float
        The objective values of the distinct local optima a multi-start solver found,
        best first (one value: a single optimum was found from every start).
    """

    method: str
    solver: str
    coefficients: np.ndarray
    loss: float
    scale_mle: float
    unique: bool | None = True
    certificate: DualCertificate | None = None
    # A loss that depends on the scale (``Family.scale_dependent_fit``): the fixed scale
    # the fit was solved at (None: estimated with the coefficients, as ``scale_mle``).
    scale: float | None = None
    # The gradient (KKT) certificate of a smooth convex fit (Huber): {"holds": ..., ...}.
    kkt: dict | None = None
    # Other classical fits of the same loss shown beside this one, not certified against
    # (Huber: scikit-learn's concomitant-scale fit), by name: JSON ``related_fits``.
    related: dict = dataclasses.field(default_factory=dict)
    # Objective-certified fits (a non-convex loss, the Student-t's EM): whether the
    # scale was held fixed, the shape settings, the objective at the best optimum and
    # every distinct optimum's objective.
    scale_fixed: bool = False
    shape: dict = dataclasses.field(default_factory=dict)
    objective: float | None = None
    local_optima: tuple = ()

    @property
    def loss_scale(self) -> float | None:
        """The scale ``loss`` was evaluated at: the fixed scale, else the estimated one."""
        return self.scale if self.scale is not None else self.scale_mle

    @property
    def title(self) -> str | None:
        """The fit's display name where its family's ``exact_name`` is not it (a penalised
        fit: ``Lasso(alpha=0.5)``); None otherwise."""
        return None


def negative_log_posterior(family: Family, design: Design, beta: np.ndarray, scale: float,
                           shape: dict) -> float:
    """minus [sum_i log f(y_i | x_i beta, scale, shape) + sum of the learned shape
    parameters' log prior densities]: what the MAP maximises under flat priors on the
    coefficients and HalfFlat on the scale (both constant), in NumPy and scipy only."""
    mu = family.link.inverse(design.linear_predictor(beta))
    value = -float(np.sum(family.logpdf(design.y, mu, scale, **shape)))
    for parameter in family.learned_shape:
        value -= parameter.prior_logpdf(shape[parameter.name])
    return value


def exact_ols(design: Design, family: Family = NORMAL) -> ExactFit:
    """OLS by LAPACK's least-squares solver on unit-norm columns (scaled back after);
    loss and scale MLE are ``family``'s (the Normal's RSS and sqrt(RSS/n) by default)."""
    X, y = design.X, design.y
    norms = np.linalg.norm(X, axis=0)
    # rcond = eps: the design is numerically full rank (design._check_rank), so no singular
    # value may be cut; numpy's default (eps * max(n, k)) would truncate a full-rank design.
    solution, *_ = np.linalg.lstsq(X / norms, y, rcond=np.finfo(float).eps)
    beta = solution / norms
    rss = family.loss(y - X @ beta)
    return ExactFit(
        method="ols",
        solver="numpy.linalg.lstsq (LAPACK gelsd) on unit-norm columns",
        coefficients=beta,
        loss=rss,
        scale_mle=family.scale_mle(rss, design.n),
    )


def exact_lad(design: Design, progress: Callable[[str], None] | None = None,
              family: Family = LAPLACE) -> ExactFit:
    """LAD, exactly, on any input (:func:`lossbridge.estimation.lad.exact_lad_vertex`): power-of-two
    rescaling, duplicate rows merged, Portnoy-Koenker globbing for large n, HiGHS' dual LP,
    the exact vertex rebuilt from it and certified by the LP dual on all rows (repaired by
    simplex pivots where HiGHS' vertex fails the certificate); loss and scale MLE are
    ``family``'s (the Laplace's SAD and SAD/n by default)."""
    X, y = design.X, design.y
    vertex = exact_lad_vertex(X, y, progress=progress)
    return _lad_fit(design, vertex, family)


def exact_quantile(design: Design, family: Family,
                   progress: Callable[[str], None] | None = None) -> ExactFit:
    """The tau-th regression quantile (tau = ``family.shape_value("tau")``), exactly:
    the LAD machinery with duals in [tau - 1, tau]
    (:func:`lossbridge.estimation.lad.exact_quantile_vertex`), certified by the LP dual on
    all rows; loss (the pinball sum) and scale MLE (its mean) are ``family``'s."""
    vertex = exact_quantile_vertex(design.X, design.y, family.shape_value("tau"),
                                   progress=progress)
    return _lad_fit(design, vertex, family)


def _lad_fit(design: Design, vertex: LadVertex, family: Family) -> ExactFit:
    sad = family.loss(design.y - design.X @ vertex.coefficients)
    certificate = vertex.certificate
    verdict = "certified" if certificate.holds else "NOT certified"
    return ExactFit(
        method=family.exact_solver or "lad",
        solver=f"{vertex.solver}; {verdict} by the LP dual on all {design.n:,} rows",
        coefficients=vertex.coefficients,
        loss=sad,
        scale_mle=family.scale_mle(sad, design.n),
        unique=certificate.unique,
        certificate=certificate,
    )


def lad_from_vertex(design: Design, vertex: LadVertex, how: str,
                    family: Family = LAPLACE) -> ExactFit:
    """An :class:`ExactFit` from an already certified LAD vertex (e.g. polished from a MAP)."""
    fit = _lad_fit(design, vertex, family)
    return dataclasses.replace(fit, solver=f"{how}: {fit.solver}")


def exact_fit(family: Family | str, design: Design,
              progress: Callable[[str], None] | None = None,
              scale: float | None = None) -> ExactFit | None:
    """The exact fit of the loss that ``family`` (or the family registered under that
    name) corresponds to; None when the family has no exact counterpart.

    ``scale``: for a family whose loss depends on the scale (``scale_dependent_fit``),
    the fixed scale to solve at; None solves for the scale with the coefficients (the
    joint fit, whose scale is ``scale_mle``). Ignored by other families.
    """
    family = get_family(family) if isinstance(family, str) else family
    if family.exact_solver is None:
        return None
    if family.scale_dependent_fit:
        return SOLVERS[family.exact_solver](family, design, progress, scale=scale)
    return SOLVERS[family.exact_solver](family, design, progress)


def exact_fit_for(spec: ModelSpec, design: Design, baseline: ExactFit | None,
                  progress: Callable[[str], None] | None = None) -> ExactFit | None:
    """The exact fit the MAP of ``spec`` is certified against.

    ``baseline`` (the family's fit with its scale estimated, as the pipeline computes
    once per family), except for a fixed-scale model of a family whose loss depends on
    the scale: then the fit solved at that scale (``baseline`` itself if it already was).
    """
    family = spec.family
    if (baseline is None or not family.scale_dependent_fit or spec.scale != "fixed"
            or baseline.scale == spec.fixed_scale):
        return baseline
    return exact_fit(family, design, progress, scale=spec.fixed_scale)


def exact_huber(design: Design, family: Family, scale: float | None = None) -> ExactFit:
    """The Huber fit (:mod:`lossbridge.estimation.huber`): the M-estimate at a fixed
    ``scale``, else the joint MLE of (beta, sigma), with scikit-learn's concomitant-scale
    fit beside it; certified by the gradient (KKT) and convexity."""
    from .huber import (
        concomitant_scale_fit,
        huber_joint_mle,
        huber_m_estimate,
    )

    X, y, c = design.X, design.y, family.shape_value("c")
    ols = exact_ols(design)
    exact = ols.scale_mle <= 1e-12 * (float(np.linalg.norm(y)) or 1.0) / np.sqrt(design.n)
    if scale is None and exact:
        # All residuals zero: the likelihood has no maximum in sigma (the pipeline refuses
        # the models that need one); the coefficients are the exact fit's.
        return ExactFit("huber", "least squares (the formula fits y exactly)", ols.coefficients,
                        0.0, 0.0, unique=True)
    if scale is not None:
        fit = huber_m_estimate(X, y, c, scale, beta_start=ols.coefficients)
        how = f"Huber M-estimate at the fixed σ = {scale:.6g} by semismooth Newton"
    else:
        fit = huber_joint_mle(X, y, c)
        how = ("joint MLE of (β, σ) under the Huber density by Newton in (β/σ, 1/σ), where "
               f"the NLL is convex, from 3 starts (agreeing to {fit.starts_spread:.1e})")
    worst = float(np.max(np.abs(fit.gradient) / fit.gradient_bound))
    verdict = "certified" if fit.kkt else "NOT certified"
    kkt = {"holds": fit.kkt, "max_gradient_over_bound": worst, "convex": True,
           "unique": fit.unique, "newton_steps": fit.steps}
    related = {}
    text = f"{how}; {verdict} by the gradient (KKT) within its rounding bound and convexity"
    note = ("scikit-learn's HuberRegressor (alpha=0, epsilon=c) minimises the "
            "concomitant-scale objective Σ[σ + σ H_c(r/σ)] (Owen 2007), not a likelihood: "
            "its σ solves Σ min(r²/σ², c²) = n, so it is NOT the MLE of the Huber density")
    if scale is None and c <= 1.0:
        # Σ min(u², c²) <= n c² < n: the objective decreases all the way to σ = 0.
        related["concomitant_scale_fit"] = {
            "coefficients": None, "sigma": None, "objective": None, "kkt": None,
            "note": note + f"; with c = {c:g} <= 1 it has no minimum at σ > 0 (its σ equation "
                           "has no solution; scikit-learn requires epsilon >= 1)"}
        text += "; HuberRegressor's concomitant-scale fit does not exist for c <= 1"
    elif scale is None:
        other = concomitant_scale_fit(X, y, c)
        note += " (computed here by Newton, not by scikit-learn)"
        related["concomitant_scale_fit"] = {
            "coefficients": dict(zip(design.terms, map(float, other.coefficients), strict=True)),
            "sigma": other.scale, "objective": other.objective, "kkt": other.kkt,
            "note": note}
        text += (f"; beside it, HuberRegressor's concomitant-scale fit has σ = {other.scale:.6g} "
                 f"(the MLE: {fit.scale:.6g}): not the MLE of the Huber density")
    loss = family.scaled_loss(y - X @ fit.coefficients, fit.scale)
    return ExactFit("huber", text, fit.coefficients, loss,
                    None if scale is not None else fit.scale, unique=fit.unique,
                    scale=scale, kkt=kkt, related=related)


def _student(family, design, progress=None, scale=None):
    from .student_em import exact_student  # imported on use: it is only needed for t fits

    return exact_student(family, design, scale=scale)


def _glm(family, design, progress=None):
    from .glm import exact_glm

    return exact_glm(family, design, progress)


def _multinomial(family, design, progress=None):
    from .multinomial import exact_multinomial  # imported on use: it imports this module

    return exact_multinomial(family, design, progress)


def _negbin(family, design, progress=None):
    from .negbin_fit import exact_negbin  # imported on use: it imports this module

    return exact_negbin(family, design, progress)


# The exact classical fits, by the key a family names in ``Family.exact_solver``; each
# is called as ``solver(family, design, progress)``.
SOLVERS: dict[str, Callable[..., ExactFit]] = {
    "ols": lambda family, design, progress=None: exact_ols(design, family),
    "lad": lambda family, design, progress=None: exact_lad(design, progress, family),
    "quantile": lambda family, design, progress=None: exact_quantile(design, family, progress),
    # a scale-dependent loss (Family.scale_dependent_fit) takes the fixed scale too
    "huber": lambda family, design, progress=None, scale=None: exact_huber(design, family, scale),
    # EM / IRLS for t regression from several starts (a fixed scale as ``scale=``)
    "student": _student,
    # Newton to a zero gradient for a GLM (Bernoulli, Poisson), certified by KKT
    "glm": _glm,
    # the negative binomial: the GLM at a fixed alpha, else the posterior mode in (beta, alpha)
    "negbin": _negbin,
    # Newton on the vectorised score for the multinomial logit (a Categorical), by KKT
    "multinomial": _multinomial,
}

# For a piecewise-linear family under flat priors the MAP is a vertex of its solver's
# LP: the solver that takes an approximate optimum (``beta_start``) to that vertex,
# called as ``solver(family, X, y, beta_start=...)`` (the family carries its settings).
VERTEX_SOLVERS: dict[str, Callable[..., LadVertex]] = {
    "lad": lambda family, X, y, beta_start=None: exact_lad_vertex(X, y, beta_start=beta_start),
    "quantile": lambda family, X, y, beta_start=None: exact_quantile_vertex(
        X, y, family.shape_value("tau"), beta_start=beta_start),
}
