"""Silence noise from dependencies that says nothing to our users.

:func:`quiet_imports` drops the import-time notices of ArviZ and PyTensor for every
user; :func:`silenced` is ``--quiet``: no warning and no log line from PyMC, PyTensor,
ArviZ or anything else reaches stderr. lossbridge's own warnings are not lost by it:
the analysis keeps them and prints them with its tables. Errors still print.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator


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


@contextlib.contextmanager
def silenced(enabled: bool = True) -> Iterator[None]:
    """Within the block, ignore every warning and every log record below ERROR.

    PyMC reports through the ``logging`` module ("Only 50 samples per chain ...",
    divergences) at WARNING, ArviZ and NumPy through ``warnings``; parallel chains run
    in worker processes, which inherit ``PYTHONWARNINGS``. Everything is restored on
    exit, so an in-process caller (a test, a notebook) keeps its own settings.
    """
    if not enabled:
        yield
        return
    previous_level = logging.root.manager.disable
    previous_env = os.environ.get("PYTHONWARNINGS")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # logging.disable beats the per-logger levels PyMC and lossbridge set themselves.
        logging.disable(logging.WARNING)
        os.environ["PYTHONWARNINGS"] = "ignore"
        try:
            yield
        finally:
            logging.disable(previous_level)
            if previous_env is None:
                os.environ.pop("PYTHONWARNINGS", None)
            else:
                os.environ["PYTHONWARNINGS"] = previous_env
