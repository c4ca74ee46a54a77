"""Exact classical fits: OLS by a QR/lstsq solve, LAD by a linear programme (HiGHS).

These are the independent references every MAP estimate is certified against.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..data.design import Design
from ..families.registry import get_family
from .lad import DualCertificate, LadVertex, exact_lad_vertex


@dataclass(frozen=True, eq=False)
class ExactFit:
    """The exact minimiser of a loss.

    Attributes
    ----------
    method : {"ols", "lad"}
    solver : str
        How it was computed, in words.
    coefficients : ndarray of shape (k,)
    loss : float
        RSS for OLS, SAD for LAD.
    scale_mle : float
        Closed-form MLE of the likelihood's scale at this fit: sqrt(RSS/n) or SAD/n.
    unique : bool or None
        Whether the minimiser is unique (always for OLS on a full-rank design); None when
        it could not be determined (the certificate's ``uniqueness`` says why).
    certificate : DualCertificate or None
        LP optimality certificate (LAD only).
    """

    method: str
    solver: str
    coefficients: np.ndarray
    loss: float
    scale_mle: float
    unique: bool | None = True
    certificate: DualCertificate | None = None


def exact_ols(design: Design) -> ExactFit:
    """OLS by LAPACK's least-squares solver on unit-norm columns (scaled back after)."""
    X, y = design.X, design.y
    norms = np.linalg.norm(X, axis=0)
    # rcond = eps: the design is numerically full rank (design._check_rank), so no singular
    # value may be cut; numpy's default (eps * max(n, k)) would truncate a full-rank design.
    solution, *_ = np.linalg.lstsq(X / norms, y, rcond=np.finfo(float).eps)
    beta = solution / norms
    rss = get_family("normal").loss(y - X @ beta)
    return ExactFit(
        method="ols",
        solver="numpy.linalg.lstsq (LAPACK gelsd) on unit-norm columns",
        coefficients=beta,
        loss=rss,
        scale_mle=get_family("normal").scale_mle(rss, design.n),
    )


def exact_lad(design: Design, progress: Callable[[str], None] | None = None) -> ExactFit:
    """LAD, exactly, on any input (:func:`lossbridge.estimation.lad.exact_lad_vertex`): power-of-two
    rescaling, duplicate rows merged, Portnoy-Koenker globbing for large n, HiGHS' dual LP,
    the exact vertex rebuilt from it and certified by the LP dual on all rows (repaired by
    simplex pivots where HiGHS' vertex fails the certificate)."""
    X, y = design.X, design.y
    vertex = exact_lad_vertex(X, y, progress=progress)
    return _lad_fit(design, vertex)


def _lad_fit(design: Design, vertex: LadVertex) -> ExactFit:
    sad = get_family("laplace").loss(design.y - design.X @ vertex.coefficients)
    certificate = vertex.certificate
    verdict = "certified" if certificate.holds else "NOT certified"
    return ExactFit(
        method="lad",
        solver=f"{vertex.solver}; {verdict} by the LP dual on all {design.n:,} rows",
        coefficients=vertex.coefficients,
        loss=sad,
        scale_mle=get_family("laplace").scale_mle(sad, design.n),
        unique=certificate.unique,
        certificate=certificate,
    )


def lad_from_vertex(design: Design, vertex: LadVertex, how: str) -> ExactFit:
    """An :class:`ExactFit` from an already certified LAD vertex (e.g. polished from a MAP)."""
    fit = _lad_fit(design, vertex)
    return dataclasses.replace(fit, solver=f"{how}: {fit.solver}")


def exact_fit(likelihood: str, design: Design,
              progress: Callable[[str], None] | None = None) -> ExactFit:
    """The exact fit of the loss that ``likelihood`` corresponds to."""
    return SOLVERS[get_family(likelihood).exact_solver](design, progress)


# The exact classical fits, by the key a family names in ``Family.exact_solver``.
SOLVERS: dict[str, Callable[..., ExactFit]] = {
    "ols": lambda design, progress=None: exact_ols(design),
    "lad": exact_lad,
}
