"""Separation of a binary response: when the maximum-likelihood fit does not exist.

A direction d separates the data when s_i x_i d >= 0 for every row (s_i = 2 y_i - 1)
and > 0 for at least one: moving beta along d then raises every row's likelihood (or
leaves it unchanged), so the log-likelihood of any link increases towards its supremum
and has no maximum (Albert & Anderson 1984). *Complete* separation: every inequality
strict; *quasi-complete*: some rows lie on the separating hyperplane.

Both are decided by linear programmes (SciPy's HiGHS) on unit-norm columns:

* max sum_i s_i x_i d subject to s_i x_i d >= 0 and |d_j| <= 1: zero exactly when no
  separating direction exists (d = 0 is feasible); a positive optimum gives one;
* then max t subject to s_i x_i d >= t, |d_j| <= 1, t <= 1: t > 0 exactly under
  complete separation;
* the direction reported is the least-L1 one keeping 1/1000 of that margin (the sparsest:
  the terms that separate).

A positive optimum is judged against HiGHS' feasibility tolerance (1e-7 per row, times
the number of rows), well below the optimum of any separation that is not a rounding
artefact (a row on the wrong side by 1e-7 in unit-norm columns). Under flat priors the
posterior is improper and the pipeline refuses (one line naming the separating terms);
under weak priors it fits and says the posterior is prior-driven in that direction.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..core.errors import InputError, SeparationWarning
from ..data.design import Design

FEASIBILITY = 1e-7  # HiGHS' default primal feasibility tolerance
TERM_TOL = 1e-6
SPARSE_PART = 1e-3  # a direction entry below this (relative to the largest) is zero


@dataclass(frozen=True)
class Separation:
    """A separating direction: ``direction`` on the original coefficients, ``complete``
    (every row strictly on its side) or quasi-complete, and the rows on the hyperplane."""

    direction: np.ndarray
    complete: bool
    rows_on_boundary: int

    def terms(self, names: tuple[str, ...]) -> str:
        """The separating terms with their signs, largest first (``+PSI, -Intercept``)."""
        scale = float(np.max(np.abs(self.direction))) or 1.0
        order = np.argsort(-np.abs(self.direction), kind="stable")
        return ", ".join(f"{'+' if self.direction[j] > 0 else '-'}{names[j]}" for j in order
                         if abs(self.direction[j]) > TERM_TOL * scale)

    @property
    def kind(self) -> str:
        return "complete" if self.complete else "quasi-complete"


def find_separation(X: np.ndarray, y: np.ndarray) -> Separation | None:
    """A separating direction of the 0/1 response ``y`` by the rows of ``X``, or None."""
    from scipy.optimize import linprog

    X = np.asarray(X, dtype=float)
    n, k = X.shape
    norms = np.linalg.norm(X, axis=0)
    norms[norms == 0] = 1.0
    signed = (2.0 * np.asarray(y, dtype=float) - 1.0)[:, None] * (X / norms)
    tolerance = FEASIBILITY * n
    first = linprog(-signed.sum(axis=0), A_ub=-signed, b_ub=np.zeros(n),
                    bounds=[(-1.0, 1.0)] * k, method="highs")
    if first.status != 0 or -first.fun <= tolerance:
        return None
    direction = first.x
    # Complete separation: a direction putting every row strictly on its side (variables d, t).
    second = linprog(np.r_[np.zeros(k), -1.0], A_ub=np.c_[-signed, np.ones(n)],
                     b_ub=np.zeros(n), bounds=[(-1.0, 1.0)] * k + [(None, 1.0)], method="highs")
    complete = second.status == 0 and -second.fun > FEASIBILITY
    # The sparsest such direction (least L1 norm keeping a small part of the margin
    # found), so the message names the terms that separate, not a vertex's incidental ones.
    if complete:
        rows = -signed
        bound = np.full(n, -max(-second.fun * SPARSE_PART, 10 * FEASIBILITY))
    else:
        rows = np.vstack([-signed, -signed.sum(axis=0)])
        bound = np.r_[np.zeros(n), -max(-first.fun * SPARSE_PART, 10 * tolerance)]
    sparse = linprog(np.ones(2 * k), A_ub=np.c_[rows, -rows], b_ub=bound,
                     bounds=[(0.0, 1.0)] * (2 * k), method="highs")
    if sparse.status == 0:
        direction = sparse.x[:k] - sparse.x[k:]
    elif complete:
        direction = second.x[:k]
    margins = signed @ direction
    return Separation(direction=direction / norms, complete=bool(complete),
                      rows_on_boundary=int(np.sum(margins <= FEASIBILITY)))


def check_separation(design: Design, family, label: str, priors: str) -> dict | None:
    """Refuse a separated binary response under flat priors (InputError); under weak
    priors return the note (and warn) that the posterior is prior-driven along it.

    Only families that declare ``separation_check`` (the Bernoulli) are examined.
    """
    if not getattr(family, "separation_check", False):
        return None
    found = find_separation(design.X, design.y)
    if found is None:
        return None
    terms = found.terms(design.terms)
    where = ("every row lies strictly on its side" if found.complete else
             f"{found.rows_on_boundary} row(s) lie on the separating hyperplane")
    if priors == "flat":
        raise InputError(
            f"{design.response!r} is {found.kind}ly separated by the predictors (direction "
            f"{terms}; {where}): the maximum-likelihood fit of {label} does not exist and "
            "under flat priors its posterior is improper; fit with --priors weak (priors="
            "'weak'), or drop or merge the separating terms")
    message = (f"{design.response!r} is {found.kind}ly separated by the predictors (direction "
               f"{terms}): {label} has no maximum-likelihood fit, and its posterior along that "
               "direction is driven by the weak prior, not the data")
    warnings.warn(message, SeparationWarning, stacklevel=4)
    return {"code": "separation", "model": label, "message": message}
