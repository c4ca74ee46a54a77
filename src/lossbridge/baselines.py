"""Exact classical fits: OLS by a QR/lstsq solve, LAD by a linear programme (HiGHS).

These are the independent references every MAP estimate is certified against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .design import Design
from .families import get_family
from .lad import (
    DualCertificate,
    dual_certificate,
    exact_lad_vertex,
    globbing_subsample_size,
    polish_to_vertex,
    solve_lad_lp,
)


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
    unique : bool
        Whether the minimiser is unique (always for OLS on a full-rank design).
    certificate : DualCertificate or None
        LP optimality certificate (LAD only).
    """

    method: str
    solver: str
    coefficients: np.ndarray
    loss: float
    scale_mle: float
    unique: bool = True
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


LP_MAX_ROWS = 20_000  # above this the LP is replaced by exact simplex pivots (much faster)


def exact_lad(design: Design, form: str = "dual") -> ExactFit:
    """LAD, exactly: a HiGHS linear programme up to ``LP_MAX_ROWS`` rows, certified by its
    own dual solution; beyond, simplex pivots with O(n) weighted-median line searches,
    after Portnoy-Koenker globbing where it applies (:func:`lossbridge.lad.exact_lad_vertex`),
    certified by the dual on all rows."""
    X, y = design.X, design.y
    if design.n > LP_MAX_ROWS:
        vertex = exact_lad_vertex(X, y)
        sad = get_family("laplace").loss(y - X @ vertex.coefficients)
        return ExactFit(
            method="lad",
            solver=(("Portnoy-Koenker globbing + " if globbing_subsample_size(*X.shape) else "")
                    + "simplex pivots (lossbridge.lad), certified by the LP dual on all rows"),
            coefficients=vertex.coefficients,
            loss=sad,
            scale_mle=get_family("laplace").scale_mle(sad, design.n),
            unique=vertex.certificate.unique,
            certificate=vertex.certificate,
        )
    beta, d = solve_lad_lp(X, y, form=form)
    # Uniqueness is a property of the problem; read it off the exact vertex nearest the LP fit.
    unique = polish_to_vertex(X, y, beta).certificate.unique
    certificate = dual_certificate(X, y, beta, d, unique=unique)
    sad = get_family("laplace").loss(y - X @ beta)
    return ExactFit(
        method="lad",
        solver=f"scipy.optimize.linprog(method='highs'), {form} form",
        coefficients=beta,
        loss=sad,
        scale_mle=get_family("laplace").scale_mle(sad, design.n),
        unique=unique,
        certificate=certificate,
    )


def exact_fit(likelihood: str, design: Design) -> ExactFit:
    """The exact fit of the loss that ``likelihood`` corresponds to."""
    baseline = get_family(likelihood).baseline
    return exact_ols(design) if baseline == "ols" else exact_lad(design)
