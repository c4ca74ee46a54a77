"""Ctrl-C (SIGINT) and SIGTERM: stop at any moment, clean up, exit 130/143 with one line.

:func:`install` (called first thing by the CLI's ``main``) makes the first signal raise
:class:`KeyboardInterrupt` (SIGINT) or :class:`Terminated` (SIGTERM) in the main thread,
so that every ``finally``/``except BaseException`` on the way out removes its temporaries.
Later signals are ignored while that cleanup runs: a second Ctrl-C must not interrupt
the removal of a half-written file. Inside :func:`deferred` a signal is remembered and
raised when the block ends, for steps that must not be cut in half (committing several
outputs, HDF5 serialisation, which can corrupt the library's state when an exception
arrives inside one of its callbacks).

This module imports only the standard library: it is loaded before PyMC. What it cannot
cover is the interpreter's own start-up before ``main`` runs (about 0.1 s: Python,
``site`` and the few small modules ``lossbridge.interfaces.cli`` imports); a signal then gets
Python's default handling.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading

EXIT_SIGINT, EXIT_SIGTERM = 130, 143
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM (a BaseException, like KeyboardInterrupt).

    Deriving from BaseException keeps ``except Exception`` blocks in lossbridge and its
    dependencies from swallowing it, while ``finally`` blocks still run.
    """


_state: dict = {"installed": False, "received": None, "deferring": 0, "pending": None,
                "previous": {}, "hook": None}


def _exception(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated()


def _handler(signum: int, frame) -> None:
    if _state["received"] is not None:
        return  # already stopping: let the cleanup finish
    _state["received"] = signum
    if _state["deferring"]:
        _state["pending"] = signum
        return
    raise _exception(signum)


def _unraisable(hook_args) -> None:
    # An interruption raised inside a __del__ or a weakref callback is "ignored" by Python
    # with a traceback on stderr; it is ours, already recorded, and :func:`check` re-raises it.
    if isinstance(hook_args.exc_value, (KeyboardInterrupt, Terminated)):
        return
    _state["hook"](hook_args)


def install() -> bool:
    """Install the handlers (main thread only); returns whether this call installed them."""
    if threading.current_thread() is not threading.main_thread() or _state["installed"]:
        return False
    _state.update(received=None, deferring=0, pending=None)
    _state["previous"] = {s: signal.getsignal(s) for s in _SIGNALS}
    _state["hook"] = sys.unraisablehook
    for s in _SIGNALS:
        signal.signal(s, _handler)
    sys.unraisablehook = _unraisable
    _state["installed"] = True
    return True


def uninstall() -> None:
    """Restore the handlers that were in place before :func:`install`."""
    if not _state["installed"]:
        return
    for s, previous in _state["previous"].items():
        signal.signal(s, previous if previous is not None else signal.SIG_DFL)
    sys.unraisablehook = _state["hook"]
    _state["installed"] = False


def finish() -> None:
    """The program's work is over: ignore signals until the process exits.

    Used when ``main`` owns the process: a Ctrl-C during interpreter shutdown would
    otherwise print a traceback after the outputs were already complete.
    """
    for s in _SIGNALS:
        signal.signal(s, signal.SIG_IGN)


def received() -> int | None:
    """The signal that interrupted this run, if any."""
    return _state["received"]


def stopping(signum: int) -> None:
    """Record that the run is stopping on ``signum`` (raised elsewhere): ignore repeats."""
    if _state["received"] is None:
        _state["received"] = signum


def exit_code(signum: int) -> int:
    return EXIT_SIGINT if signum == signal.SIGINT else EXIT_SIGTERM


def check() -> None:
    """Raise the interruption if a signal arrived but its exception was swallowed."""
    signum = _state["received"]
    if signum is not None and not _state["deferring"]:
        raise _exception(signum)


@contextlib.contextmanager
def deferred():
    """Hold SIGINT/SIGTERM during the block; an arrival is raised when it ends.

    Without :func:`install` (a script calling :func:`lossbridge.fit` and ``save``) the
    handlers are installed for the duration of the block only, in the main thread.
    """
    own = not _state["installed"] and install()
    _state["deferring"] += 1
    try:
        yield
    finally:
        _state["deferring"] -= 1
        pending, _state["pending"] = _state["pending"], None
        if own:
            uninstall()
            if pending is not None:
                _state["received"] = None
                # Hand the signal to the caller's own handler (default: KeyboardInterrupt).
                signal.raise_signal(pending)
        elif pending is not None and not _state["deferring"]:
            raise _exception(pending)
