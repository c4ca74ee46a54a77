"""Silence import-time noise from dependencies that says nothing to our users."""

from __future__ import annotations

import warnings


def quiet_imports() -> None:
    # ArviZ 0.2x announces its 1.0 refactor on import; we pin <1.
    warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")
    warnings.filterwarnings("ignore", message=".*ArviZ is undergoing a major refactor.*")
    # PyTensor falls back to NumPy's BLAS when it cannot link one itself (pip installs).
    warnings.filterwarnings("ignore", message=".*PyTensor could not link to a BLAS.*")
