"""Exact classical fits: OLS by a QR/lstsq solve, LAD by a linear programme (HiGHS).

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

import numpy as np

from ..data.design import Design
from ..families.base import Family
from ..families.laplace import LAPLACE
from ..families.normal import NORMAL
from ..families.registry import get_family
from .lad import DualCertificate, LadVertex, exact_lad_vertex


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
    scale: float | None = None
    scale_fixed: bool = False
    shape: dict = dataclasses.field(default_factory=dict)
    objective: float | None = None
    local_optima: tuple = ()


def negative_log_posterior(family: Family, design: Design, beta: np.ndarray, scale: float,
                           shape: dict) -> float:
    """minus [sum_i log f(y_i | x_i beta, scale, shape) + sum of the learned shape
    parameters' log prior densities]: what the MAP maximises under flat priors on the
    coefficients and HalfFlat on the scale (both constant), in NumPy and scipy only."""
    mu = family.link.inverse(design.X @ beta)
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


def _lad_fit(design: Design, vertex: LadVertex, family: Family) -> ExactFit:
    sad = family.loss(design.y - design.X @ vertex.coefficients)
    certificate = vertex.certificate
    verdict = "certified" if certificate.holds else "NOT certified"
    return ExactFit(
        method="lad",
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

    ``scale``: fit at this fixed scale, for a family whose exact fit depends on it
    (``Family.exact_fit_depends_on_scale``); its solver takes it as the keyword ``scale``.
    """
    family = get_family(family) if isinstance(family, str) else family
    if family.exact_solver is None:
        return None
    if scale is not None and family.exact_fit_depends_on_scale:
        return SOLVERS[family.exact_solver](family, design, progress, scale=scale)
    return SOLVERS[family.exact_solver](family, design, progress)


def _student(family, design, progress=None, scale=None):
    from .student_em import exact_student  # imported on use: it is only needed for t fits

    return exact_student(family, design, scale=scale)


# The exact classical fits, by the key a family names in ``Family.exact_solver``; each
# is called as ``solver(family, design, progress)``.
SOLVERS: dict[str, Callable[..., ExactFit]] = {
    "ols": lambda family, design, progress=None: exact_ols(design, family),
    "lad": lambda family, design, progress=None: exact_lad(design, progress, family),
    # EM / IRLS for t regression from several starts (a fixed scale as ``scale=``)
    "student": _student,
}

# For a piecewise-linear family under flat priors the MAP is a vertex of its solver's
# LP: the solver that takes an approximate optimum (``beta_start``) to that vertex.
VERTEX_SOLVERS: dict[str, Callable[..., LadVertex]] = {
    "lad": exact_lad_vertex,
}
