"""``python -m lossbridge ...``: the ``lossbridge`` command (see :mod:`lossbridge.interfaces.cli`)."""

from __future__ import annotations

import sys

from .interfaces.cli import main

if __name__ == "__main__":  # pragma: no cover - run by the tests in a subprocess
    sys.exit(main())
