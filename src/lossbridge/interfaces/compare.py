"""``lossbridge.compare``: the models of one or several analyses, compared with a verdict.

An interface, not a computation: it checks what it is given (live :class:`Analysis`
results or loaded :class:`SavedAnalysis` folders), names each model by its analysis'
label, and hands the candidates to :func:`lossbridge.posterior.comparison.compare_models`.
A set whose models mix density kinds (continuous densities and discrete probabilities)
is refused with an :class:`InputError`. It lives here because it knows the results
objects, which belong to the interfaces (see docs/design.md, "Dependency rules").
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core.errors import InputError
from ..posterior.comparison import (
    Comparison,
    candidates_from_fits,
    candidates_from_saved,
    compare_models,
)
from ..posterior.misfit import MisfitAssessment
from ..posterior.verdict import Candidate, density_kinds
from .persistence import SavedAnalysis
from .results import Analysis


def compare(*analyses, labels: Sequence[str] | None = None) -> Comparison:
    """Compare the models of one or several analyses, with a verdict.

    Parameters
    ----------
    *analyses : Analysis or SavedAnalysis, or one list of them
        ``compare(a)``, ``compare(a, b)`` or ``compare([a, b])``; all of the same data
        (their y hashes must agree).
    labels : list of str, optional
        One distinct label per analysis (default ``A``, ``B``, ...). With several
        analyses (or explicit labels) each model is named ``"<label>: <model>"``, e.g.
        ``"A: normal-learned"``.

    Returns
    -------
    Comparison
    """
    if len(analyses) == 1 and isinstance(analyses[0], (list, tuple)):
        analyses = tuple(analyses[0])
    if not analyses:
        raise InputError("compare needs at least one analysis (a result of lossbridge.fit or "
                         "lossbridge.load); got none")
    for position, analysis in enumerate(analyses, start=1):
        if not isinstance(analysis, (Analysis, SavedAnalysis)):
            raise InputError(f"compare: argument {position} is a {type(analysis).__name__}, not "
                             "an analysis; pass results of lossbridge.fit or lossbridge.load")
    explicit = labels is not None
    labels = _check_labels(labels, len(analyses))
    prefixed = explicit or len(analyses) > 1
    candidates: list[Candidate] = []
    shapes: list[tuple[str, ...]] = []
    warning_count = 0
    for label, analysis in zip(labels, analyses, strict=True):
        prefix = f"{label}: " if prefixed else ""
        if isinstance(analysis, Analysis):
            candidates += candidates_from_fits(analysis.fits, analysis.design.y_hash,
                                               analysis.misfit, prefix, n=analysis.design.n)
            shapes.append(tuple(analysis.misfit.residual_shape) if analysis.misfit else ())
            warning_count += len(analysis.warnings)
        else:
            candidates += candidates_from_saved(analysis, prefix)
            shapes.append(tuple((analysis.document.get("misfit") or {}).get("residual_shape", [])))
            warning_count += len(analysis.document.get("warnings", []))
    _check_one_kind(candidates)
    flagged = frozenset(c.name for c in candidates if c.misfit)
    # same y, so the residual description of the first analysis that has one
    misfit = MisfitAssessment(misfit_models=flagged, residual_shape=next((s for s in shapes if s), ()))
    return compare_models(candidates, misfit=misfit, warning_count=warning_count)


def _check_one_kind(candidates: Sequence[Candidate]) -> None:
    """Refuse models of both density kinds: a log density and a log probability are not on
    one scale (Vehtari, cross-validation FAQ; :mod:`lossbridge.posterior.verdict`). Within one
    analysis ``lossbridge.fit`` ranks the discrete ones and shows the others apart; here the
    user chose the set, so a mixed one is an error rather than silently split."""
    kinds = density_kinds(candidates)
    if len(kinds) < 2:
        return
    listing = "; ".join(
        f"{kind}: {', '.join(c.name for c in candidates if c.kind == kind and c.distributional)}"
        for kind in kinds)
    raise InputError(f"compare: the models mix density kinds ({listing}); a density and a "
                     "probability P(y) are not on one scale (Vehtari, cross-validation FAQ), so "
                     "compare analyses of one kind only")


def _check_labels(labels, count: int) -> list[str]:
    if labels is None:
        return [chr(ord("A") + i) if i < 26 else f"#{i + 1}" for i in range(count)]
    if isinstance(labels, str) or not isinstance(labels, Sequence):
        raise InputError(f"labels must be a list of {count} distinct strings; got {labels!r}")
    labels = list(labels)
    if len(labels) != count:
        raise InputError(f"compare got {count} analyses but {len(labels)} labels ({labels!r}); "
                         "give one label per analysis")
    for label in labels:
        if not isinstance(label, str) or not label.strip():
            raise InputError(f"each label must be a non-empty string; got {label!r}")
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise InputError(f"labels must be distinct; {', '.join(map(repr, duplicates))} repeated")
    return labels
