"""Writing outputs safely: checks before the expensive work, atomic writes after it.

:func:`check_output` refuses, before any fitting, every target that the run could not or
must not write: a name too long for the file system, a missing or read-only folder, an
existing FIFO, device, socket or folder where a file goes, and any input file of the same
run (also through symlinks and hard links). :class:`Outputs` then writes every output of a
run under a hidden temporary name beside its target and renames them all into place at
the end, so that an error or an interruption leaves either all of them or none.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from . import interrupts
from .errors import InputError

_KINDS = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory"}
# Temporaries are '.<name prefix>.<random>.tmp': the prefix is cut so that the temporary
# name stays within NAME_MAX even when the target's name uses all of it.
_TEMP_PREFIX_BYTES = 80


def _folder_of(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def _limits(folder: Path) -> tuple[int, int]:
    """NAME_MAX and PATH_MAX of the file system holding ``folder`` (or its nearest ancestor)."""
    probe = Path(os.path.abspath(folder))
    while probe != probe.parent:
        try:
            if probe.is_dir():
                break
        except OSError:  # e.g. the name is too long to look up
            pass
        probe = probe.parent
    try:
        return os.pathconf(probe, "PC_NAME_MAX"), os.pathconf(probe, "PC_PATH_MAX")
    except (OSError, ValueError):
        return 255, 4096


def _kind(mode: int) -> str | None:
    """None for a regular file, else what the path is."""
    return None if stat.S_ISREG(mode) else _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def check_parent_folder(path: Path, action: str, label: bool = False) -> Path:
    """Raise unless the folder that will hold ``path`` exists and is writable.

    ``action`` completes the message, e.g. ``"write report"`` or ``"save to"``; with
    ``label`` it already names the path.
    """
    parent = _folder_of(path)
    where = action if label else f"{action} {str(path)!r}"
    if not parent.exists():
        raise InputError(f"cannot {where}: folder {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise InputError(f"cannot {where}: {str(parent)!r} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot {where}: folder {str(parent)!r} is not writable")
    return parent


def check_output(path: str | Path, *, what: str, option: str | None = None, kind: str = "file",
                 inputs: Iterable[str | Path] = (), create_parent: bool = False) -> Path:
    """Raise :class:`InputError` unless the run may write ``path`` (before any work).

    Parameters
    ----------
    path : str or Path
        The target: a file (``kind="file"``, replaced if it is a regular file) or a new
        folder (``kind="folder"``, which must not exist).
    what : str
        What it is, for messages (``"report"``, ``"output folder"``).
    option : str, optional
        The option that named it (``"--out"``), added to messages.
    inputs : iterable of paths
        Files the run reads; the target must not be one of them.
    create_parent : bool
        The parent folder may be missing if its own parent is writable (``reports/``).
    """
    text = os.fspath(path)
    label = f"{what} {text!r}" + (f" ({option})" if option else "")
    if not text:
        raise InputError(f"{what} path{f' ({option})' if option else ''} is empty; give a file name")
    if "\x00" in text:
        raise InputError(f"{label} contains a NUL byte; give a plain path")
    path = Path(text)
    name_max, path_max = _limits(_folder_of(path))
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > name_max:
            raise InputError(f"{what} path{f' ({option})' if option else ''}: the name {part[:40]!r}... "
                             f"is {size} bytes long; this file system allows at most {name_max}")
    if len(os.fsencode(os.path.abspath(text))) >= path_max:
        raise InputError(f"{what} {text[:40]!r}...{f' ({option})' if option else ''} is too long a "
                         f"path (at most {path_max - 1} bytes)")
    if path.name in ("", ".", ".."):
        raise InputError(f"{label} names a folder; give a "
                         f"{'file' if kind == 'file' else 'new folder'} name")
    if kind == "folder":
        if os.path.lexists(path):
            raise InputError(f"{label} already exists; choose a new folder name or remove the old one")
    else:
        try:
            info = os.stat(path)  # follows symlinks: the file that would be written
        except FileNotFoundError:
            info = None  # a new file (or a dangling symlink, which the rename replaces)
        except NotADirectoryError:
            blocking = next(p for p in reversed(path.parents) if p.exists() and not p.is_dir())
            raise InputError(f"cannot write {label}: {str(blocking)!r} is a file, not a folder; "
                             "move it away or choose another path") from None
        except OSError as exc:
            raise InputError(f"cannot write {label}: {exc.strerror}") from None
        if info is not None:
            found = _kind(info.st_mode)
            if found is not None:
                hint = ("give a file name such as report.html" if stat.S_ISDIR(info.st_mode)
                        else "lossbridge writes only regular files")
                raise InputError(f"{label} is {found}; {hint}")
            for source in inputs:
                try:
                    same = os.path.samefile(path, source)
                except (OSError, ValueError):
                    same = False
                if same:
                    raise InputError(f"{label} is the input file {os.fspath(source)!r} of this run "
                                     "(the same file); choose another output path")
    action = f"write {label}" if kind == "file" else f"save to {label}"
    parent = _folder_of(path)
    if create_parent and not os.path.lexists(parent):
        check_parent_folder(parent, f"create the folder for {label}")
    else:
        check_parent_folder(path, action, label=True)
    return path


def _temporary_prefix(target: Path) -> str:
    name = os.fsencode(target.name)[:_TEMP_PREFIX_BYTES]
    return f".{os.fsdecode(name).encode('utf-8', 'surrogateescape').decode('utf-8', 'ignore')}."


class Outputs:
    """Every output of one run, written to temporaries and committed together.

    >>> with Outputs() as outputs:                       # doctest: +SKIP
    ...     folder = outputs.folder("saved", "--save")   # an empty temporary folder
    ...     write_files_into(folder)
    ...     outputs.text("report.html", html, "--out")
    ...     outputs.commit()

    Leaving the block without :meth:`commit` (an error, Ctrl-C, SIGTERM) removes every
    temporary; a commit that fails half-way undoes the renames already made. The commit
    holds SIGINT/SIGTERM (:func:`lossbridge.core.interrupts.deferred`) so that it is never cut.
    """

    def __init__(self) -> None:
        self._staged: list[tuple[str, Path, Path, str]] = []  # kind, temporary, target, option
        self._created: list[Path] = []  # parent folders made for the outputs
        self._done = False
        self.committed = False

    def __enter__(self) -> Outputs:
        return self

    def __exit__(self, *exc) -> bool:
        if not self._done:
            self._discard()
        return False

    def _parent(self, target: Path, option: str) -> Path:
        parent = _folder_of(target)
        if not parent.exists():
            try:
                parent.mkdir()
            except OSError as exc:
                raise InputError(f"cannot create folder {str(parent)!r} for {option}: "
                                 f"{exc.strerror}") from None
            self._created.append(parent)
        return parent

    def folder(self, target: str | Path, option: str) -> Path:
        """A new empty temporary folder that :meth:`commit` renames to ``target``."""
        target = Path(target)
        parent = self._parent(target, option)
        try:
            temporary = Path(tempfile.mkdtemp(prefix=_temporary_prefix(target), suffix=".tmp",
                                              dir=parent))
        except OSError as exc:
            raise InputError(f"cannot save to {str(target)!r}: {exc.strerror}") from None
        self._staged.append(("folder", temporary, target, option))
        # mkdtemp makes the folder private (0700); the saved folder gets os.mkdir's mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o777 & ~umask)
        return temporary

    def text(self, target: str | Path, text: str, option: str) -> None:
        """Write ``text`` (UTF-8) to a temporary file that :meth:`commit` renames to ``target``."""
        target = Path(target)
        parent = self._parent(target, option)
        try:
            handle, name = tempfile.mkstemp(prefix=_temporary_prefix(target), suffix=".tmp",
                                            dir=parent)
        except OSError as exc:
            raise InputError(f"cannot write {option} {str(target)!r}: folder {str(parent)!r} does "
                             f"not accept new files ({exc.strerror}); choose a folder you can "
                             "write to") from None
        temporary = Path(name)
        self._staged.append(("file", temporary, target, option))
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.chmod(temporary, 0o644)
        except OSError as exc:
            raise InputError(f"cannot write {option} {str(target)!r}: {exc.strerror}") from None

    def commit(self) -> None:
        """Rename every temporary into place: new folders first, then files."""
        order = sorted(self._staged, key=lambda item: item[0] != "folder")
        undo: list[tuple[Path, Path | None]] = []  # committed target, backup of what it replaced
        with interrupts.deferred():
            try:
                for index, (kind, temporary, target, option) in enumerate(order):
                    if kind == "folder":
                        if os.path.lexists(target):  # appeared since the check before fitting
                            raise InputError(f"{option} {str(target)!r} already exists; choose a "
                                             "new folder name or remove the old one")
                        os.rename(temporary, target)
                        undo.append((target, None))
                        continue
                    backup = None
                    if index < len(order) - 1 and os.path.lexists(target):
                        # Kept (as a hard link) until the rest of the commit has succeeded;
                        # the last rename needs none: nothing can fail after it.
                        backup = Path(tempfile.mktemp(prefix=_temporary_prefix(target),
                                                      suffix=".old", dir=_folder_of(target)))
                        try:
                            os.link(target, backup, follow_symlinks=False)
                        except OSError:  # no hard links here: the replacement cannot be undone
                            backup = None
                    os.replace(temporary, target)
                    undo.append((target, backup))
            except BaseException as exc:
                self._rollback(undo)
                if isinstance(exc, OSError):
                    raise InputError(f"cannot write {option} {str(target)!r}: "
                                     f"{exc.strerror or exc}") from None
                raise
            for _, backup in undo:
                if backup is not None:
                    backup.unlink(missing_ok=True)
            self._done = self.committed = True

    def _rollback(self, undo: list[tuple[Path, Path | None]]) -> None:
        for target, backup in reversed(undo):
            try:
                if backup is not None:
                    os.replace(backup, target)
                elif target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target, ignore_errors=True)
                else:
                    target.unlink(missing_ok=True)
            except OSError:
                pass  # best effort: the error that started the rollback is reported
        self._discard()

    def _discard(self) -> None:
        for kind, temporary, _, _ in self._staged:
            if kind == "folder":
                shutil.rmtree(temporary, ignore_errors=True)
            else:
                temporary.unlink(missing_ok=True)
        for folder in reversed(self._created):
            try:
                folder.rmdir()  # only if still empty
            except OSError:
                pass
        self._done = True


def write_text_atomically(path: Path, text: str, what: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place.

    An interruption (error, Ctrl-C) leaves ``path`` as it was and no temporary behind.
    """
    with Outputs() as outputs:
        outputs.text(path, text, what)
        outputs.commit()
    return path
