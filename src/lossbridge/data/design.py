"""From a table and a formula to a validated design (y, X, term names).

The formula is parsed by formulaic, so transforms (``np.log(x)``), categoricals
(``C(g)``) and backtick-quoted names work as formulaic documents them. Validation
happens here, once: unknown columns, missing or infinite values, a non-numeric
response, too few rows and rank deficiency each raise :class:`InputError`, and so do
names that would clash with the model's own rows (a column called ``Intercept``, a term
called ``scale: ...``) and a numeric-looking text column that formulaic would silently
turn into a factor.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.linalg
from formulaic import Formula, model_matrix
from formulaic.errors import FormulaicError

from ..core.errors import InputError
from ..core.labels import SCALE_LABEL_PREFIX, SHAPE_LABEL_PREFIX
from ..core.rounding import EPS, SAFETY
from .formula_safety import check_formula
from .tables import Table
from .text_columns import NUMBER_LIKE, numbers_as_text_problem

INTERCEPT = "Intercept"  # formulaic's name for the constant term
def y_hash(y) -> str:
    """SHA-256 (first 16 hex digits) of ``y`` as little-endian float64: identifies the data."""
    data = np.ascontiguousarray(y, dtype="<f8").tobytes()
    return hashlib.sha256(data).hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class Design:
    """A validated regression design.

    Attributes
    ----------
    y : ndarray of shape (n,)
        Response, float64.
    X : ndarray of shape (n, k)
        Design matrix, float64, full column rank.
    terms : tuple of str
        Column names of ``X`` as formulaic names them (``Intercept``, ``income``...).
    response : str
        Name of the response as formulaic names it (``foodexp``, ``np.log(weight)``).
    formula, source : str
        The formula and where the data came from.
    dropped_rows : int
        Rows removed because of missing values (only with ``dropna=True``).
    """

    y: np.ndarray
    X: np.ndarray
    terms: tuple[str, ...]
    response: str
    formula: str
    source: str
    dropped_rows: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    # The scale's design of a heteroscedastic model (log scale_i = Z_i gamma), built from
    # its own one-sided formula on the same rows; None without ``scale_formula``.
    scale_formula: str | None = None
    Z: np.ndarray | None = None
    scale_terms: tuple[str, ...] = ()
    # A known term of the linear predictor, eta = X beta + offset (log exposure of a count
    # model); None: no offset.
    offset: np.ndarray | None = None
    # The levels of a categorical response (``classes=True``), the reference level first:
    # y holds their codes 0..K-1 and every non-reference level has its own coefficient
    # vector, so ``terms`` are then the K - 1 blocks ``x[level]`` of ``columns``.
    classes: tuple[str, ...] | None = None
    # X's column names where they differ from ``terms`` (a categorical response's blocks).
    x_terms: tuple[str, ...] = ()

    def linear_predictor(self, beta: np.ndarray) -> np.ndarray:
        """eta = X beta (+ offset) for coefficients ``beta`` ((k,) or (draws, k)): rows last,
        or, with ``predictors`` m > 1, shape (..., n, m) (see :func:`linear_predictor`)."""
        eta = linear_predictor(self.X, beta, by_level=self.classes is not None)
        return eta if self.offset is None else eta + _offset_axis(self.offset, eta)

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def k(self) -> int:
        """The number of coefficients: X's columns times the linear predictors."""
        return int(self.X.shape[1]) * self.predictors

    @property
    def p(self) -> int:
        """The number of columns of X."""
        return int(self.X.shape[1])

    @property
    def predictors(self) -> int:
        """Linear predictors per row: 1, or K - 1 for a categorical response of K levels."""
        return 1 if self.classes is None else len(self.classes) - 1

    @property
    def columns(self) -> tuple[str, ...]:
        """The names of X's columns (``terms`` but for the blocks of a categorical y)."""
        return self.x_terms or self.terms

    @property
    def y_hash(self) -> str:
        """SHA-256 (first 16 hex digits) of y as little-endian float64: identifies the data.
        A categorical y is hashed by its levels' names row by row, so the choice of the
        reference level (which changes the codes) does not change the data's identity."""
        if self.classes is not None:
            labels = np.asarray(self.classes, dtype=object)[np.asarray(self.y, dtype=np.int64)]
            text = "\x1f".join(map(str, labels)).encode()
            return hashlib.sha256(b"levels\x1f" + text).hexdigest()[:16]
        return y_hash(self.y)

    @property
    def has_intercept(self) -> bool:
        return "Intercept" in self.columns

    def without_rows(self, rows) -> Design:
        """The same design with ``rows`` removed (for exact leave-one-out refits)."""
        keep = np.ones(self.n, dtype=bool)
        keep[np.asarray(rows)] = False
        X = self.X[keep]
        _check_rank(X, self.columns)
        if self.classes is not None:  # a level without rows has no MLE (its eta -> -inf)
            missing = sorted(set(range(len(self.classes))) - set(np.unique(self.y[keep]).astype(int)))
            if missing:
                raise InputError(f"without rows {list(np.atleast_1d(rows))} the level "
                                 f"{self.classes[missing[0]]!r} of {self.response!r} has no rows "
                                 "left, so its coefficients are not identified")
        return Design(
            y=self.y[keep], X=X, terms=self.terms, response=self.response, classes=self.classes,
            x_terms=self.x_terms,
            formula=self.formula, source=f"{self.source} without rows {list(np.atleast_1d(rows))}",
            scale_formula=self.scale_formula, Z=None if self.Z is None else self.Z[keep],
            offset=None if self.offset is None else self.offset[keep],
            scale_terms=self.scale_terms,
        )

    def summary(self) -> dict:
        """Plain description of the data for tables, JSON and the report."""
        y = self.y
        return {
            "source": self.source,
            "formula": self.formula,
            "response": self.response,
            "terms": list(self.terms),
            "n": self.n,
            "k": self.k,
            "y_hash": self.y_hash,
            "dropped_rows": self.dropped_rows,
            **({"notes": list(self.notes)} if self.notes else {}),  # e.g. --positive's coding
            **({"classes": list(self.classes)} if self.classes is not None else {}),
            **({"scale_formula": self.scale_formula, "scale_terms": list(self.scale_terms)}
               if self.scale_formula is not None else {}),
            # the codes of unordered levels have no meaningful mean: their counts instead
            **({"reference": self.classes[0], "class_counts": self.class_counts()}
               if self.classes is not None else {"y_summary": {
                   "mean": float(np.mean(y)),
                   "sd": float(np.std(y, ddof=1)) if self.n > 1 else 0.0,
                   "min": float(np.min(y)),
                   "median": float(np.median(y)),
                   "max": float(np.max(y)),
               }}),
        }

    def class_counts(self) -> dict[str, int]:
        """Rows per level of a categorical response, in the order of ``classes``."""
        counts = np.bincount(np.asarray(self.y, dtype=np.int64), minlength=len(self.classes))
        return {level: int(c) for level, c in zip(self.classes, counts, strict=True)}


def linear_predictor(X: np.ndarray, beta: np.ndarray, by_level: bool = False) -> np.ndarray:
    """eta = X beta for ``beta`` of shape (..., k): (..., n) when k equals X's p columns;
    (..., n, m) when k = m p, beta holding m blocks of p coefficients (a categorical
    response's one vector per non-reference level, level by level). ``by_level``: a
    categorical response, whose eta keeps that last axis with one block too (K = 2)."""
    beta = np.asarray(beta, dtype=float)
    p = X.shape[1]
    m, extra = divmod(beta.shape[-1], p)
    if extra or m == 0:
        raise ValueError(f"{beta.shape[-1]} coefficients do not fill blocks of {p} columns")
    if m == 1 and not by_level:
        return beta @ X.T
    blocks = beta.reshape(beta.shape[:-1] + (m, p))
    return np.einsum("...cp,np->...nc", blocks, X)


def _offset_axis(offset: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """The per-row offset shaped to add to ``eta`` (rows last, or rows then predictors)."""
    return offset if eta.shape[-1] == offset.shape[0] else offset[:, None]


def build_design(table: Table, formula: str, *, dropna: bool = False,
                 scale_formula: str | None = None, exposure: str | None = None,
                 positive: str | None = None, classes: bool = False,
                 reference: str | None = None) -> Design:
    """Validate ``table`` against ``formula`` and return the design.

    Parameters
    ----------
    table : Table
        The raw data.
    formula : str
        A formulaic formula with one response, e.g. ``"foodexp ~ income"``.
    dropna : bool, default False
        Drop rows with missing values in the columns the formula uses (reported in
        ``Design.dropped_rows``) instead of raising.
    scale_formula : str, optional
        A one-sided formula (``"~ income"``) for the log scale of a heteroscedastic model,
        vetted as data like ``formula`` and evaluated on the same rows (a row missing a
        value either formula uses is dropped from both).
    exposure : str, optional
        A column of positive, finite exposures (time at risk, population): its log is
        ``Design.offset``, so that mu_i = exposure_i exp(x_i beta) for a log link.
    positive : str, optional
        The level of a two-level response column that is 1 (the other 0), compared as
        text: a yes/no response becomes a binary y (said in ``Design.notes``).
    classes : bool, default False
        The response is a set of unordered levels (a categorical likelihood): y becomes
        their codes 0..K-1, the reference level first (``Design.classes``), and the
        coefficients one block of X's columns per non-reference level.
    reference : str, optional
        The reference level of a categorical response (compared as text); default: the
        first level in order (numerically when every level is a number).
    """
    if not isinstance(formula, str) or "~" not in formula:
        raise InputError(
            f"formula must look like 'response ~ term + term'; got {formula!r}"
        )
    # Formulas are data: refuse code before formulaic parses (and so evaluates) anything.
    _check_names_exist(formula, check_formula(formula, table.frame), table.frame)
    parsed = _parse(formula)
    frame = table.frame
    lhs_vars = set(parsed.lhs.required_variables)
    rhs_vars = set(parsed.rhs.required_variables)
    if not lhs_vars:
        raise InputError(f"formula {formula!r} has no response on the left of '~'")
    _check_names_exist(formula, lhs_vars | rhs_vars, frame)
    _check_intercept_column(formula, rhs_vars)
    if len(frame) == 0:
        raise InputError(f"data from {table.source} has no rows (only a header?); it needs data rows")
    _check_numbers_as_text(frame, parsed.rhs, formula)
    scale_parsed, scale_vars = _parse_scale_formula(scale_formula, frame)
    exposure_vars = set()
    if exposure is not None:
        if not isinstance(exposure, str) or exposure not in map(str, frame.columns):
            close = difflib.get_close_matches(str(exposure), list(map(str, frame.columns)), n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise InputError(f"exposure must name a column of the data; got {exposure!r}{hint}")
        exposure_vars = {exposure}
    used = sorted(lhs_vars | rhs_vars | scale_vars | exposure_vars, key=list(frame.columns).index)
    frame, dropped = _check_missing(frame, used, formula, dropna)
    notes: tuple[str, ...] = ()
    if positive is not None:  # before the numeric check: a text response becomes 0/1
        frame, notes = _binary_response(frame, sorted(lhs_vars), positive)
    levels = None
    if classes:  # before the numeric check: levels become codes 0..K-1
        frame, levels, notes = _class_response(frame, sorted(lhs_vars), reference)
    for name in sorted(lhs_vars):
        _check_numeric_response(frame[name], name)
    if len(frame) == 0:
        raise InputError(f"no rows left after dropping missing values from {table.source}: every row "
                         "misses a value in a column the formula uses; fill them in or use other columns")
    try:
        # NaN from transforms (log of zero...) is reported by _check_finite below.
        with np.errstate(all="ignore"):
            matrices = model_matrix(parsed, frame, na_action="ignore", context={})
    except (FormulaicError, ValueError, TypeError, NameError) as exc:
        raise InputError(
            f"cannot evaluate formula {formula!r}: {_one_line(exc)}"
        ) from None
    lhs, rhs = matrices.lhs, matrices.rhs
    if lhs.shape[1] != 1:
        raise InputError(
            f"formula {formula!r} must have exactly one response column; "
            f"its left side gives {lhs.shape[1]} ({', '.join(map(str, lhs.columns))})"
        )
    response = str(lhs.columns[0])
    try:
        y = np.asarray(lhs.to_numpy(dtype=float)).ravel()
        X = np.asarray(rhs.to_numpy(dtype=float))
    except (TypeError, ValueError) as exc:
        raise InputError(f"formula {formula!r} gives non-numeric values: {_one_line(exc)}") from None
    terms = tuple(str(c) for c in rhs.columns)
    _check_reserved_terms(terms, formula)
    _check_finite(y[:, None], (response,), formula, "response")
    _check_finite(X, terms, formula, "term")
    with np.errstate(over="ignore"):
        squares_overflow = not (np.isfinite(y @ y) and np.isfinite(np.einsum("ij,ij->", X, X)))
    if squares_overflow:
        raise InputError(
            f"the values of {response!r} or the predictors are so large that their squares "
            "overflow double precision; rescale them (for example divide by a power of ten)"
        )
    n, k = X.shape
    if k == 0:
        raise InputError(f"formula {formula!r} has no terms on the right; add '1' for an intercept")
    columns = terms
    if levels is not None:  # one block of coefficients per non-reference level
        terms = tuple(f"{term}[{level}]" for level in levels[1:] for term in columns)
        k = len(terms)
    if n <= k + 1:
        per_level = ("" if levels is None else
                     f" ({len(columns)} per level for the {len(levels) - 1} non-reference "
                     f"levels of {response!r})")
        raise InputError(
            f"too few rows: {n} rows for {k} coefficients{per_level}; the fits need more "
            f"rows than coefficients plus one (n > k + 1), so add rows or remove terms"
            + ("" if levels is None else " or merge levels")
        )
    _check_rank(X, columns)
    offset = None if exposure is None else _log_exposure(frame[exposure], exposure)
    Z, scale_terms = None, ()
    if scale_parsed is not None:
        Z, scale_terms = _scale_matrix(scale_formula, scale_parsed, frame, n)
    return Design(
        y=np.ascontiguousarray(y),
        X=np.ascontiguousarray(X),
        terms=terms,
        response=response,
        formula=formula,
        source=table.source,
        dropped_rows=dropped,
        scale_formula=scale_formula,
        Z=Z,
        scale_terms=scale_terms,
        offset=offset,
        notes=notes,
        classes=levels,
        x_terms=columns if levels is not None else (),
    )


def _class_response(frame: pd.DataFrame, names: list[str], reference: str | None
                    ) -> tuple[pd.DataFrame, tuple[str, ...], tuple[str, ...]]:
    """The response column as codes 0..K-1 of its levels (compared as text), the reference
    level 0; one InputError unless there are at least two levels, ``reference`` among them.
    Levels are ordered numerically when every one is a number, else as text."""
    if len(names) != 1:
        raise InputError(f"a categorical likelihood needs a response that is one column; the "
                         f"formula's left side uses {', '.join(map(repr, names))}")
    name = names[0]
    column = frame[name]
    text = column.astype(str)
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        # 2.0 read from a CSV is the level "2": integral numbers print without a decimal
        text = column.map(lambda v: str(int(v)) if float(v).is_integer() else repr(float(v)))
    numbers = pd.to_numeric(pd.Series(text.unique()), errors="coerce")
    unique = list(text.unique())
    if numbers.notna().all() and not pd.api.types.is_bool_dtype(column):
        levels = [level for _, level in sorted(zip(numbers, unique, strict=True))]
    else:
        levels = sorted(unique)
    if len(levels) < 2:
        raise InputError(f"a categorical likelihood needs a response with at least two levels; "
                         f"{name!r} has one ({levels[0]!r})")
    if reference is not None:
        if str(reference) not in levels:
            shown = ", ".join(map(repr, levels[:8])) + (", ..." if len(levels) > 8 else "")
            raise InputError(f"reference must be one of the levels of {name!r} ({shown}); "
                             f"got {reference!r}")
        levels.remove(str(reference))
        levels.insert(0, str(reference))
    code = {level: float(i) for i, level in enumerate(levels)}
    frame = frame.assign(**{name: text.map(code).astype(float)})
    note = (f"response {name!r}: {len(levels)} classes, reference {levels[0]!r}; the others "
            f"({', '.join(map(repr, levels[1:]))}) each have a coefficient vector")
    return frame, tuple(levels), (note,)


def _binary_response(frame: pd.DataFrame, names: list[str], positive: str
                     ) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The response column as 1 where it equals ``positive`` (as text), 0 at its other
    level; one InputError unless it has exactly two levels, ``positive`` among them."""
    if len(names) != 1:
        raise InputError(f"positive needs a response that is one column; the formula's left "
                         f"side uses {', '.join(map(repr, names))}")
    name = names[0]
    text = frame[name].astype(str)
    levels = list(dict.fromkeys(sorted(text.unique())))
    if len(levels) != 2:
        shown = ", ".join(map(repr, levels[:5])) + (", ..." if len(levels) > 5 else "")
        raise InputError(f"positive needs a response with exactly two levels; {name!r} has "
                         f"{len(levels)} ({shown})")
    if positive not in levels:
        raise InputError(f"positive must be one of the levels of {name!r} "
                         f"({', '.join(map(repr, levels))}); got {positive!r}")
    other = levels[1 - levels.index(positive)]
    frame = frame.assign(**{name: (text == positive).astype(float)})
    return frame, (f"response {name!r}: 1 = {positive!r}, 0 = {other!r}",)


def _log_exposure(column: pd.Series, name: str) -> np.ndarray:
    """log of an exposure column: numbers, finite and > 0, else one InputError naming the
    column, the first bad value and its row."""
    values = pd.to_numeric(column.reset_index(drop=True), errors="coerce")
    if pd.api.types.is_bool_dtype(column):
        values = values * np.nan
    values = values.to_numpy(dtype=float)
    bad = np.flatnonzero(~(np.isfinite(values) & (values > 0)))
    if bad.size:
        row = int(bad[0])
        value = column.iloc[row]
        shown = repr(value) if isinstance(value, str) else str(value)
        raise InputError(f"exposure column {name!r} must hold finite numbers > 0 (its log is "
                         f"the offset); got {shown} in row {row + 1}"
                         + (f" and {bad.size - 1} more bad row(s)" if bad.size > 1 else ""))
    return np.log(values)


def _parse_scale_formula(scale_formula: str | None, frame: pd.DataFrame):
    """The parsed one-sided scale formula and the columns it reads (None, set() without one)."""
    if scale_formula is None:
        return None, set()
    label = "scale_formula"
    if not isinstance(scale_formula, str) or not scale_formula.strip().startswith("~"):
        raise InputError(f"{label} must be a one-sided formula such as '~ x' (nothing left of "
                         f"'~'); got {scale_formula!r}")
    # Data, not code: vetted exactly as the main formula before formulaic sees it.
    _check_names_exist(scale_formula, check_formula(scale_formula, frame), frame)
    try:
        parsed = Formula(scale_formula)
    except Exception as exc:  # formulaic raises plain exceptions for some malformed input
        raise InputError(f"{label} {scale_formula!r} does not parse: {_one_line(exc)}") from None
    if hasattr(parsed, "lhs"):
        raise InputError(f"{label} must be one-sided ('~ x'): it models the scale, not a "
                         f"response; got {scale_formula!r}")
    variables = set(parsed.required_variables)
    _check_names_exist(scale_formula, variables, frame)
    _check_intercept_column(scale_formula, variables)
    _check_numbers_as_text(frame, parsed, scale_formula)
    return parsed, variables


def _scale_matrix(scale_formula: str, parsed, frame: pd.DataFrame,
                  n: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """Z of the scale formula on the rows of the design (the frame after dropna)."""
    try:
        with np.errstate(all="ignore"):
            matrix = model_matrix(parsed, frame, na_action="ignore", context={})
        Z = np.asarray(matrix.to_numpy(dtype=float))
    except (FormulaicError, ValueError, TypeError, NameError) as exc:
        raise InputError(f"cannot evaluate scale_formula {scale_formula!r}: "
                         f"{_one_line(exc)}") from None
    names = tuple(str(c) for c in matrix.columns)
    if Z.shape != (n, len(names)) or not names:
        raise InputError(f"scale_formula {scale_formula!r} gives {Z.shape[1]} column(s) on "
                         f"{Z.shape[0]} rows; it needs at least one column on the {n} rows of "
                         "the data (add '1' for a constant scale term)")
    _check_finite(Z, names, scale_formula, "scale term")
    if Z.shape[1] >= n:
        raise InputError(f"scale_formula {scale_formula!r} has {Z.shape[1]} terms for {n} rows; "
                         "it needs fewer terms than rows")
    _check_rank(Z, names)
    return np.ascontiguousarray(Z), names


def _parse(formula: str) -> Formula:
    try:
        parsed = Formula(formula)
    except FormulaicError as exc:
        raise InputError(f"formula {formula!r} does not parse: {_one_line(exc)}") from None
    except Exception as exc:  # formulaic raises plain exceptions for some malformed input
        raise InputError(f"formula {formula!r} does not parse: {_one_line(exc)}") from None
    if not hasattr(parsed, "lhs") or not hasattr(parsed, "rhs"):
        raise InputError(
            f"formula {formula!r} has no response on the left of '~'; "
            "write it as 'response ~ term + term'"
        )
    return parsed


def _one_line(exc: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m|[⧛⧚]", "", str(exc))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines) if lines else type(exc).__name__


def _check_names_exist(formula: str, names: set[str], frame: pd.DataFrame) -> None:
    columns = [str(c) for c in frame.columns]
    for name in sorted(names):
        if name in columns:
            continue
        if re.search(rf"(?<![\w.`]){re.escape(name)}\s*\(", formula):
            raise InputError(
                f"formula {formula!r} calls unknown function {name!r}; use numpy functions "
                "such as np.log, np.sqrt, or formulaic's C(), I(), center(), scale(), poly()"
            )
        close = difflib.get_close_matches(name, columns, n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        shown = ", ".join(repr(c) for c in columns[:20]) + (" ..." if len(columns) > 20 else "")
        raise InputError(
            f"column {name!r} used in formula {formula!r} is not in the data{hint} "
            f"(columns: {shown}; quote names with spaces in backticks)"
        )


def _check_intercept_column(formula: str, rhs_vars: set[str]) -> None:
    # formulaic resolves a bare `Intercept` to the data column and drops the constant, so
    # the column would silently take the constant's place and name; refuse instead.
    if INTERCEPT in rhs_vars:
        raise InputError(
            f"column {INTERCEPT!r} used in formula {formula!r} has the name of the constant "
            "term, so the two cannot be told apart (formulaic drops the constant for it); "
            "rename the column (e.g. to 'intercept_column') and use the new name in the formula"
        )


def _check_reserved_terms(terms: tuple[str, ...], formula: str) -> None:
    for prefix, what in ((SCALE_LABEL_PREFIX, "the likelihood's scale (e.g. 'scale: sigma')"),
                         (SHAPE_LABEL_PREFIX, "a learned shape parameter (e.g. 'shape: nu')")):
        clashes = [t for t in terms if t.startswith(prefix)]
        if clashes:
            raise InputError(
                f"term {clashes[0]!r} of formula {formula!r} starts with {prefix!r}, "
                f"which labels {what} beside the coefficients; rename the column"
            )


def _valued_variables(rhs) -> list[str]:
    """Variables the right side uses as values: everywhere except inside an explicit C()."""
    valued: list[str] = []
    for term in rhs:
        for factor in term.factors:
            if factor.eval_method.value == "python" and str(factor.expr).startswith("C("):
                continue  # categorical on purpose
            for variable in factor.required_variables:
                if str(variable.root) not in valued:
                    valued.append(str(variable.root))
    return valued


def _check_numbers_as_text(frame: pd.DataFrame, rhs, formula: str) -> None:
    """Refuse a text column that is mostly numbers but used as a value (not in ``C()``)."""
    for name in _valued_variables(rhs):
        if name in frame.columns:
            message = numbers_as_text_problem(frame[name], name, formula)
            if message is not None:
                raise InputError(message)


def _check_missing(
    frame: pd.DataFrame, used: list[str], formula: str, dropna: bool
) -> tuple[pd.DataFrame, int]:
    subset = frame[used]
    missing = subset.isna()
    numeric = subset.select_dtypes(include="number")
    infinite = pd.DataFrame(False, index=subset.index, columns=subset.columns)
    if not numeric.empty:
        infinite[numeric.columns] = ~np.isfinite(numeric.to_numpy(dtype=float)) & ~numeric.isna()
    if infinite.any().any():
        cols = [c for c in used if infinite[c].any()]
        rows = int(infinite.any(axis=1).sum())
        raise InputError(
            f"{rows} row(s) have infinite values in column(s) {', '.join(map(repr, cols))}; "
            "remove or correct them"
        )
    bad_rows = missing.any(axis=1)
    if not bad_rows.any():
        return frame, 0
    count = int(bad_rows.sum())
    if dropna:
        return frame.loc[~bad_rows].reset_index(drop=True), count
    cols = [c for c in used if missing[c].any()]
    raise InputError(
        f"{count} row(s) have missing values in column(s) {', '.join(map(repr, cols))} "
        f"used by the formula; pass --dropna (dropna=True) to drop them, or fill them in"
    )


def _check_numeric_response(column: pd.Series, name: str) -> None:
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return
    column = column.reset_index(drop=True)  # row numbers are positions from 1
    converted = pd.to_numeric(column, errors="coerce")
    bad = column[converted.isna() & column.notna()]
    example = f" (e.g. {str(bad.iloc[0])!r} in row {int(bad.index[0]) + 1})" if len(bad) else ""
    count = f": {len(bad)} of {int(column.notna().sum())} values are not numbers" if len(bad) else ""
    separators = ("; remove thousands separators and use '.' as the decimal point"
                  if bad.astype(str).str.strip().str.match(NUMBER_LIKE).any() else "")
    raise InputError(
        f"response column {name!r} is not numeric{example}{count}; regression needs a numeric "
        f"response{separators}"
    )


def _check_finite(matrix: np.ndarray, names: tuple[str, ...], formula: str, what: str) -> None:
    finite = np.isfinite(matrix)
    if finite.all():
        return
    cols = [names[j] for j in range(matrix.shape[1]) if not finite[:, j].all()]
    rows = int((~finite).any(axis=1).sum())
    raise InputError(
        f"{what} {', '.join(map(repr, cols))} of formula {formula!r} is NaN or infinite in "
        f"{rows} row(s) (e.g. log of zero or a negative value); transform or filter the data"
    )


def _check_rank(X: np.ndarray, terms: tuple[str, ...]) -> None:
    """Refuse a design whose columns are linearly dependent to within double precision.

    Scale-invariant: the test runs on unit-norm columns, so units (1e-8 beside 1e8) do not
    matter. Column-pivoted QR orders the columns so that ``|r_jj|`` is the distance of the
    j-th pivot from the span of the earlier ones, with coefficients ``c`` (R11 c = r1j).
    That distance is indistinguishable from zero when it is within the rounding error of
    forming the combination in double precision, about ``(j + 1) eps (1 + ||c||_1)`` for
    unit-norm columns (rounding of the stored entries and of the projection; Higham,
    *Accuracy and Stability of Numerical Algorithms*, 2nd ed., ch. 19), times the
    safety factor of :mod:`lossbridge.core.rounding`. Only that is refused: the bound does not
    grow with n, so a badly conditioned but full-rank design (cond 1e13 after scaling)
    passes, as exact dependencies (duplicated, scaled or summing columns, a dummy trap,
    which leave |r_jj| of a few eps) do not.
    """
    norms = np.linalg.norm(X, axis=0)
    zero = [terms[j] for j in np.flatnonzero(norms == 0)]
    if zero:
        raise InputError(
            f"term(s) {', '.join(map(repr, zero))} are zero in every row; remove them from the formula"
        )
    _, r, perm = scipy.linalg.qr(X / norms, mode="economic", pivoting=True)
    k = X.shape[1]
    for j in range(k):
        c = scipy.linalg.solve_triangular(r[:j, :j], r[:j, j]) if j else np.zeros(0)
        bound = SAFETY * (j + 1) * EPS * (1.0 + float(np.sum(np.abs(c))))
        if abs(r[j, j]) > bound:
            continue
        independent = perm[:j]
        order = np.argsort(-np.abs(c))
        partners = [terms[independent[i]] for i in order if abs(c[i]) > 1e-8 * np.abs(c).max()]
        raise InputError(
            f"the design is rank-deficient (rank {j} < {k} columns): {terms[perm[j]]!r} is a "
            f"linear combination of {', '.join(map(repr, partners)) or 'other columns'} to "
            "within double-precision rounding; remove one of these terms"
        )
