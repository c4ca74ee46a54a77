"""Silence import-time noise from dependencies that says nothing to our users."""

from __future__ import annotations

import logging
import warnings


class _DropMessages(logging.Filter):
    """Drop log records whose message starts with one of ``prefixes``."""

    def __init__(self, *prefixes: str) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefixes)


def _add_filter(logger: logging.Logger, *prefixes: str) -> None:
    if not any(isinstance(f, _DropMessages) for f in logger.filters):
        logger.addFilter(_DropMessages(*prefixes))


def quiet_arviz(arviz_module) -> None:
    """Drop ArviZ's "Shape validation failed" log line (call once ArviZ is imported).

    ArviZ logs it whenever R-hat or ESS sees fewer than 2 chains or 4 draws; lossbridge
    refuses fewer than 4 draws and says itself why R-hat is missing with one chain.
    ArviZ logs on its own ``Logger("arviz")``, not on ``logging.getLogger("arviz")``.
    """
    logger = getattr(arviz_module, "_log", None)
    if isinstance(logger, logging.Logger):
        _add_filter(logger, "Shape validation failed")


def quiet_imports() -> None:
    # ArviZ 0.2x announces its 1.0 refactor on import; we pin <1.
    warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")
    warnings.filterwarnings("ignore", message=".*ArviZ is undergoing a major refactor.*")
    # PyTensor falls back to NumPy's BLAS when it cannot link one itself (pip installs).
    warnings.filterwarnings("ignore", message=".*PyTensor could not link to a BLAS.*")
    # PyMC's "Only N samples per chain" line: lossbridge's own ESS warning says it, once.
    _add_filter(logging.getLogger("pymc.sampling.mcmc"), "Only ")
