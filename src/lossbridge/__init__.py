"""lossbridge: every regression loss is a likelihood.

Fit Normal and Laplace likelihoods (learned and fixed scale) in PyMC, certify each
MAP against the exact least-squares / least-absolute-deviation fit, and split each
negative log-likelihood into a constant plus the scaled loss.

>>> import lossbridge
>>> analysis = lossbridge.fit("engel")          # doctest: +SKIP
>>> analysis.coefficients()                     # doctest: +SKIP
>>> analysis.verdict.headline                   # doctest: +SKIP
>>> lossbridge.compare(a, b, labels=["flat", "weak"])  # doctest: +SKIP

The public names are imported on first use (PEP 562 ``__getattr__``): importing PyMC
takes seconds, and ``lossbridge --help``, ``lossbridge datasets`` and option errors
must answer without it.
"""

from __future__ import annotations

import importlib
from typing import Any

from .core.errors import (
    CertificateWarning,
    InputError,
    LossbridgeWarning,
    MisfitWarning,
    ModelRefusedWarning,
    NonUniqueSolutionWarning,
    SamplingWarning,
)
from .core.quiet import quiet_imports
from .core.version import __version__  # noqa: F401  (re-exported)

quiet_imports()

# public name -> the submodule that defines it
_LAZY: dict[str, str] = {
    "Analysis": "interfaces.results",
    "FitResult": "interfaces.results",
    "fit": "interfaces.pipeline",
    "batch": "interfaces.batch",
    "BatchResult": "interfaces.batch",
    "Comparison": "posterior.comparison",
    "compare": "interfaces.compare",
    "FAMILIES": "families.registry",
    "get_family": "families.registry",
    "SavedAnalysis": "interfaces.persistence",
    "load": "interfaces.persistence",
    "ModelSpec": "models.spec",
    "Verdict": "posterior.verdict",
    "simulate": "data.simulation",
}

__all__ = [
    "Analysis",
    "BatchResult",
    "CertificateWarning",
    "Comparison",
    "SamplingWarning",
    "SavedAnalysis",
    "compare",
    "load",
    "FAMILIES",
    "FitResult",
    "InputError",
    "LossbridgeWarning",
    "MisfitWarning",
    "ModelRefusedWarning",
    "ModelSpec",
    "NonUniqueSolutionWarning",
    "Verdict",
    "batch",
    "fit",
    "get_family",
    "simulate",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:  # a submodule (lossbridge.core.jsonio), as when this file imported them all
        try:
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module 'lossbridge' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
