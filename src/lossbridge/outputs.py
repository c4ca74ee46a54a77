"""Writing outputs safely: checks before the expensive work, atomic writes after it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import InputError


def check_parent_folder(path: Path, action: str) -> Path:
    """Raise unless the folder that will hold ``path`` exists and is writable.

    ``action`` completes the message, e.g. ``"write report"`` or ``"save to"``.
    """
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"cannot {action} {str(path)!r}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"cannot {action} {str(path)!r}: folder {str(parent)!r} is not writable")
    return parent


def write_text_atomically(path: Path, text: str, what: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place.

    An interruption (error, Ctrl-C) leaves ``path`` as it was and no temporary behind.
    """
    parent = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise InputError(f"cannot write {what} {str(path)!r}: folder {str(parent)!r} does not accept "
                         f"new files ({exc.strerror}); choose a folder you can write to") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise InputError(f"cannot write {what} {str(path)!r}: {exc.strerror}") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
