"""Misfit: named warnings when the fitted models describe the data badly.

Interface shared by the pipeline (:func:`lossbridge.analysis.fit` calls
:func:`assess_misfit` once, after the posteriors) and the verdict (which says when
every compared model misfits, and what the residuals show).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MisfitAssessment:
    """What the posterior checks say about how well each model describes the data.

    Attributes
    ----------
    warnings : tuple of dict
        Named warnings ``{"code", "model", "message"}``, like every other warning.
    misfit_models : frozenset of str
        Models with at least one misfit warning.
    residual_shape : tuple of str
        What the residuals show, in words (e.g. ``"heavy tails (excess kurtosis 5.2)"``).
    """

    warnings: tuple[dict, ...] = ()
    misfit_models: frozenset[str] = frozenset()
    residual_shape: tuple[str, ...] = field(default_factory=tuple)

    def all_misfit(self, models: Iterable[str]) -> bool:
        """True when every one of ``models`` (at least one) misfits."""
        models = set(models)
        return bool(models) and models <= self.misfit_models

    def as_dict(self) -> dict:
        return {"misfit_models": sorted(self.misfit_models),
                "residual_shape": list(self.residual_shape)}


def assess_misfit(design, fits: Sequence) -> MisfitAssessment:
    """Assess every sampled fit (``FitResult`` with a posterior); placeholder: no findings."""
    return MisfitAssessment()
