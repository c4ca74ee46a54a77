"""Separation of a binary or categorical response: when the maximum-likelihood fit does
not exist.

A direction d separates the data when s_i x_i d >= 0 for every row (s_i = 2 y_i - 1)
and > 0 for at least one: moving beta along d then raises every row's likelihood (or
leaves it unchanged), so the log-likelihood of any link increases towards its supremum
and has no maximum (Albert & Anderson 1984). *Complete* separation: every inequality
strict; *quasi-complete*: some rows lie on the separating hyperplane.

A categorical response of K levels (codes 0..K-1, reference 0) with coefficient blocks
B = (beta_1 .. beta_{K-1}) and beta_0 = 0 is separated by a direction D != 0 when
x_i'(D_{y_i} - D_c) >= 0 for every row i and every level c != y_i, and > 0 for at least
one pair: along D each eta_ic - eta_{i y_i} falls or stays, so every log softmax(eta_i)_{y_i}
rises or stays and the concave log-likelihood has no maximum (Albert & Anderson 1984,
who prove the converse: without such a D the multinomial MLE exists). Each (row, other
level) pair is one margin a'd, linear in the flat d (level by level, ``Design.terms``);
with K = 2 the n margins are the binary s_i x_i d. Everything below runs on the margin
matrix A (one row per pair), so the binary case is the special case it always was.

Both are decided by linear programmes (SciPy's HiGHS) on unit-norm columns:

* max sum A d subject to A d >= 0 and |d_j| <= 1: zero exactly when no
  separating direction exists (d = 0 is feasible); a positive optimum gives one;
* then max t subject to A d >= t, |d_j| <= 1, t <= 1: t > 0 exactly under
  complete separation;
* the direction reported is the sparsest one: on the rows the first direction puts strictly
  on their side, margins a'd >= 1 (the others >= 0), d free, minimising the L1 norm of
  its slope part (a constant column, the intercept, costs nothing: it places the hyperplane).
  Margins of 1 are far above HiGHS' tolerance, so the vertex found is exactly sparse and the
  message names only the terms that separate (entries above 1/1000 of the largest).

A positive optimum is judged against HiGHS' feasibility tolerance (1e-7 per margin, times
the number of margins), well below the optimum of any separation that is not a rounding
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
TERM_TOL = 1e-3  # a direction entry (unit-norm columns) below this part of the largest is zero
PRUNE_MAX_TERMS = 200  # pruning solves one LP per term
STRICT = 1e-6  # a first-LP margin above this (unit-norm columns, |d_j| <= 1) is strict


@dataclass(frozen=True)
class Separation:
    """A separating direction: ``direction`` on the original coefficients (flat, level by
    level for a categorical response), ``complete`` (every row strictly on its side) or
    quasi-complete, the rows on the hyperplane (a categorical row: with some margin to
    another level at zero), and ``unit_direction``, the same direction on unit-norm
    columns (which terms matter)."""

    direction: np.ndarray
    complete: bool
    rows_on_boundary: int
    unit_direction: np.ndarray | None = None

    def terms(self, names: tuple[str, ...]) -> str:
        """The separating terms with their signs, largest first (``+PSI, -Intercept``);
        entries below ``TERM_TOL`` of the largest (on unit-norm columns) are left out."""
        weight = np.abs(self.direction if self.unit_direction is None else self.unit_direction)
        scale = float(np.max(weight)) or 1.0
        order = np.argsort(-weight, kind="stable")
        return ", ".join(f"{'+' if self.direction[j] > 0 else '-'}{names[j]}" for j in order
                         if weight[j] > TERM_TOL * scale)

    @property
    def kind(self) -> str:
        return "complete" if self.complete else "quasi-complete"


def margin_matrix(X: np.ndarray, y: np.ndarray, levels: int = 2):
    """The margins of direction d as rows of A (A d): for each row i and each level
    c != y_i, x_i'(d_{y_i} - d_c) with d_0 = 0 and d the flat (levels - 1) blocks of X's
    columns; (n (levels - 1), p (levels - 1)), ordered row by row. ``levels = 2``: the
    binary s_i x_i with s_i = 2 y_i - 1, dense; more levels: a sparse CSR matrix (each
    margin touches at most two blocks, so 2/(levels - 1) of it is nonzero)."""
    from scipy import sparse

    X = np.asarray(X, dtype=float)
    n, p = X.shape
    m = levels - 1
    codes = np.asarray(y, dtype=float).astype(np.int64)
    if levels == 2:
        return (2.0 * codes - 1.0)[:, None] * X
    steps = np.arange(m)[None, :]
    others = steps + (steps >= codes[:, None])  # (n, m): the levels c != y_i, in order
    # margin (i, t) is +x_i in block y_i - 1 and -x_i in block others[i, t] - 1, a block
    # of -1 being the reference level's (no coefficients, no entry)
    blocks = np.stack([np.broadcast_to((codes - 1)[:, None], (n, m)), others - 1], axis=-1)
    shape = (n, m, 2, p)
    keep = np.broadcast_to((blocks >= 0)[..., None], shape)
    i = np.broadcast_to(np.arange(n * m).reshape(n, m, 1, 1), shape)[keep]
    j = (blocks[..., None] * p + np.arange(p))[keep]
    v = np.array([1.0, -1.0])[:, None] * X[:, None, None, :]
    v = np.broadcast_to(v, shape)[keep]
    return sparse.csr_matrix((v, (i, j)), shape=(n * m, m * p))


def find_separation(X: np.ndarray, y: np.ndarray, levels: int = 2) -> Separation | None:
    """A separating direction of the response ``y`` by the rows of ``X``, or None: 0/1
    for ``levels = 2``, else codes 0..levels-1 (reference 0) with one coefficient block
    per non-reference level (the direction flat, level by level)."""
    from scipy.optimize import linprog

    X = np.asarray(X, dtype=float)
    n, p = X.shape
    m = levels - 1
    norms = np.linalg.norm(X, axis=0)
    norms[norms == 0] = 1.0
    signed = margin_matrix(X / norms, y, levels)
    norms = np.tile(norms, m)
    constant = np.tile(np.ptp(X, axis=0) == 0, m)  # an intercept (per block) places a hyperplane
    rows, k = signed.shape
    tolerance = FEASIBILITY * rows
    first = linprog(-np.asarray(signed.sum(axis=0)).ravel(), A_ub=-signed, b_ub=np.zeros(rows),
                    bounds=[(-1.0, 1.0)] * k, method="highs")
    if first.status != 0 or -first.fun <= tolerance:
        return None
    direction = first.x
    # Complete separation: a direction putting every margin strictly positive (d, t).
    second = linprog(np.r_[np.zeros(k), -1.0], A_ub=_side_by_side(-signed, np.ones((rows, 1))),
                     b_ub=np.zeros(rows), bounds=[(-1.0, 1.0)] * k + [(None, 1.0)],
                     method="highs")
    complete = second.status == 0 and -second.fun > FEASIBILITY
    # The sparsest such direction, normalised (margins >= 1 on the pairs found strictly
    # separated, so HiGHS' 1e-7 tolerance cannot leave noise terms in it), then pruned:
    # the least-L1 direction may still lean on a noise column that merely enlarges the
    # margin, so each term (smallest first, the intercept last: it is named only when
    # needed) is dropped if the others still separate the same pairs. One pass leaves a
    # minimal separating set: a term kept cannot be dropped once fewer terms are free.
    strict = np.ones(rows, dtype=bool) if complete else signed @ direction > STRICT
    sparse = _sparsest(signed, strict, constant, np.zeros(k, dtype=bool))
    if sparse is not None and k <= PRUNE_MAX_TERMS:
        dropped = np.zeros(k, dtype=bool)
        for j in np.lexsort((np.abs(sparse), constant)):
            trial = dropped.copy()
            trial[j] = True
            candidate = _sparsest(signed, strict, constant, trial)
            if candidate is not None:
                dropped, sparse = trial, candidate
    if sparse is not None:
        direction = sparse / np.max(np.abs(sparse))  # |d_j| <= 1 as the first LP's
    elif complete:
        direction = second.x[:k]
    margins = signed @ direction
    # a row is on the boundary when any of its margins (one per other level) is zero
    boundary = (margins <= STRICT * float(np.max(margins))).reshape(n, m).any(axis=1)
    return Separation(direction=direction / norms, complete=bool(complete),
                      rows_on_boundary=int(np.sum(boundary)), unit_direction=direction)


def _side_by_side(left, right):
    """[left, right] for dense or sparse margin matrices."""
    from scipy import sparse

    if sparse.issparse(left) or sparse.issparse(right):
        return sparse.hstack([left, right], format="csr")
    return np.c_[left, right]


def _sparsest(signed: np.ndarray, strict: np.ndarray, constant: np.ndarray,
              dropped: np.ndarray) -> np.ndarray | None:
    """min ||d_slopes||_1 subject to signed @ d >= 1 on ``strict`` margins, >= 0 elsewhere
    and d_j = 0 on ``dropped`` (d free otherwise; a ``constant`` column, an intercept, is
    unpenalised), or None if that is infeasible (or HiGHS fails)."""
    from scipy.optimize import linprog

    k = signed.shape[1]
    cost = np.where(constant, 0.0, 1.0)
    bounds = [(0.0, 0.0) if out else (0.0, None) for out in np.r_[dropped, dropped]]
    result = linprog(np.r_[cost, cost], A_ub=_side_by_side(-signed, signed),
                     b_ub=-strict.astype(float), bounds=bounds, method="highs")
    if result.status != 0:
        return None
    return result.x[:k] - result.x[k:]


def check_separation(design: Design, family, label: str, priors: str) -> dict | None:
    """Refuse a separated binary or categorical response under flat priors (InputError);
    under weak priors return the note (and warn) that the posterior is prior-driven along it.

    Only families that declare ``separation_check`` (a binary response, the Bernoulli) or
    ``categorical_response`` (the Categorical: the margins against every other level)
    are examined.
    """
    if not (family.separation_check or family.categorical_response):
        return None
    levels = 2 if design.classes is None else len(design.classes)
    found = find_separation(design.X, design.y, levels)
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
