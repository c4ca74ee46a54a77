"""lossbridge: every regression loss is a likelihood.

Fit Normal and Laplace likelihoods (learned and fixed scale) in PyMC, certify each
MAP against the exact least-squares / least-absolute-deviation fit, and split each
negative log-likelihood into a constant plus the scaled loss.

>>> import lossbridge
>>> analysis = lossbridge.fit("engel")          # doctest: +SKIP
>>> analysis.coefficients()                     # doctest: +SKIP

The public names are imported on first use (PEP 562 ``__getattr__``): importing PyMC
takes seconds, and ``lossbridge --help``, ``lossbridge datasets`` and option errors
must answer without it.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._quiet import quiet_imports
from .errors import (
    CertificateWarning,
    InputError,
    LossbridgeWarning,
    NonUniqueSolutionWarning,
    SamplingWarning,
)

quiet_imports()

__version__ = "0.1.0"

# public name -> the submodule that defines it
_LAZY: dict[str, str] = {
    "Analysis": "analysis",
    "FitResult": "analysis",
    "fit": "analysis",
    "Comparison": "comparison",
    "compare": "comparison",
    "FAMILIES": "families",
    "get_family": "families",
    "SavedAnalysis": "persistence",
    "load": "persistence",
    "ModelSpec": "spec",
}

__all__ = [
    "Analysis",
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
    "ModelSpec",
    "NonUniqueSolutionWarning",
    "fit",
    "get_family",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lossbridge' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
