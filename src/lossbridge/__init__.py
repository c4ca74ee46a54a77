"""lossbridge: every regression loss is a likelihood.

Fit Normal and Laplace likelihoods (learned and fixed scale) in PyMC, certify each
MAP against the exact least-squares / least-absolute-deviation fit, and split each
negative log-likelihood into a constant plus the scaled loss.

>>> import lossbridge
>>> analysis = lossbridge.fit("engel")          # doctest: +SKIP
>>> analysis.coefficients()                     # doctest: +SKIP
>>> analysis.verdict.headline                   # doctest: +SKIP
>>> lossbridge.compare(a, b, labels=["flat", "weak"])  # doctest: +SKIP
"""

from ._quiet import quiet_imports

quiet_imports()

from .analysis import Analysis, FitResult, fit  # noqa: E402
from .comparison import Comparison, compare  # noqa: E402
from .errors import (  # noqa: E402
    CertificateWarning,
    InputError,
    LossbridgeWarning,
    NonUniqueSolutionWarning,
    SamplingWarning,
)
from .families import FAMILIES, get_family  # noqa: E402
from .persistence import SavedAnalysis, load  # noqa: E402
from .spec import ModelSpec  # noqa: E402
from .verdict import Verdict  # noqa: E402

__version__ = "0.1.0"

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
    "Verdict",
    "fit",
    "get_family",
]
