"""Exact classical fits: OLS by a QR/lstsq solve, LAD and quantile regression by a linear
programme (HiGHS, then the exact vertex and its dual certificate).

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
from .lad import DualCertificate, LadVertex, exact_lad_vertex, exact_quantile_vertex


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
    """

    method: str
    solver: str
    coefficients: np.ndarray
    loss: float
    scale_mle: float
    unique: bool | None = True
    certificate: DualCertificate | None = None

    @property
    def title(self) -> str | None:
        """The fit's display name where its family's ``exact_name`` is not it (a penalised
        fit: ``Lasso(alpha=0.5)``); None otherwise."""
        return None


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
              progress: Callable[[str], None] | None = None) -> ExactFit | None:
    """The exact fit of the loss that ``family`` (or the family registered under that
    name) corresponds to; None when the family has no exact counterpart."""
    family = get_family(family) if isinstance(family, str) else family
    if family.exact_solver is None:
        return None
    return SOLVERS[family.exact_solver](family, design, progress)


# The exact classical fits, by the key a family names in ``Family.exact_solver``; each
# is called as ``solver(family, design, progress)``.
SOLVERS: dict[str, Callable[..., ExactFit]] = {
    "ols": lambda family, design, progress=None: exact_ols(design, family),
    "lad": lambda family, design, progress=None: exact_lad(design, progress, family),
    "quantile": lambda family, design, progress=None: exact_quantile(design, family, progress),
}

# For a piecewise-linear family under flat priors the MAP is a vertex of its solver's
# LP: the solver that takes an approximate optimum (``beta_start``) to that vertex,
# called as ``solver(family, X, y, beta_start=...)`` (the family carries its settings).
VERTEX_SOLVERS: dict[str, Callable[..., LadVertex]] = {
    "lad": lambda family, X, y, beta_start=None: exact_lad_vertex(X, y, beta_start=beta_start),
    "quantile": lambda family, X, y, beta_start=None: exact_quantile_vertex(
        X, y, family.shape_value("tau"), beta_start=beta_start),
}
