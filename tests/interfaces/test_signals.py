"""Every interruption and failure leaves nothing half-done (issue 10, items 3 and 5).

SIGINT/SIGTERM at chosen moments of a run (in-process, through ``main``), a full disk
while saving (a real one: RLIMIT_FSIZE in a child process), and real CLI processes
interrupted at random moments: exit 130/143 with one line, no traceback, no partial
or temporary file, no surviving chain worker.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lossbridge
from lossbridge.core import interrupts
from lossbridge.core.errors import InputError
from lossbridge.core.outputs import Outputs
from lossbridge.interfaces.cli import main

SRC = str(Path(__file__).resolve().parents[2] / "src")
ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": SRC}
SMALL = ["--likelihood", "normal", "--scale", "learned", "--draws", "100", "--tune", "100",
         "--chains", "2", "--cores", "1", "--seed", "3"]
MESSAGE = {signal.SIGINT: "lossbridge: interrupted", signal.SIGTERM: "lossbridge: terminated"}
CODE = {signal.SIGINT: 130, signal.SIGTERM: 143}


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def small_analysis() -> lossbridge.Analysis:
    return lossbridge.fit("stackloss", likelihoods="normal", scales="learned", draws=100, tune=100,
                          chains=2, cores=1, seed=3, progress=False)


@pytest.fixture
def prefitted(monkeypatch, small_analysis):
    monkeypatch.setattr("lossbridge.interfaces.pipeline.run_pipeline", lambda *a, **k: small_analysis)


def signalling(function, signum):
    """``function``, preceded by a real signal to this process."""

    def wrapper(*args, **kwargs):
        signal.raise_signal(signum)
        return function(*args, **kwargs)

    return wrapper


def report_with_save(capsys, tmp_path):
    code = main(["report", "stackloss", *SMALL, "--save", str(tmp_path / "saved"),
                 "--out", str(tmp_path / "r.html")])
    return code, capsys.readouterr()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("phase", ["fit", "netcdf", "report-rendering", "report-writing"])
def test_signal_during_a_phase_leaves_nothing(capsys, tmp_path, monkeypatch, prefitted, small_analysis,
                                              phase, signum):
    import lossbridge.interfaces.pipeline
    import lossbridge.posterior.arviz_bridge
    import lossbridge.present.report

    if phase == "fit":
        monkeypatch.setattr("lossbridge.interfaces.pipeline.run_pipeline", signalling(lambda *a, **k: small_analysis, signum))
    elif phase == "netcdf":  # inside the HDF5 serialisation, which holds the signal until it ends
        monkeypatch.setattr("lossbridge.posterior.arviz_bridge.netcdf_bytes",
                            signalling(lossbridge.posterior.arviz_bridge.netcdf_bytes, signum))
    elif phase == "report-rendering":  # the save folder is already written (as a temporary)
        monkeypatch.setattr("lossbridge.present.report.render_html", signalling(lossbridge.present.report.render_html, signum))
    else:
        monkeypatch.setattr(Outputs, "text", signalling(Outputs.text, signum))
    code, captured = report_with_save(capsys, tmp_path)
    assert code == CODE[signum], captured.err
    assert captured.err == MESSAGE[signum] + "\n" and captured.out == ""
    assert listing(tmp_path) == []  # neither output, no temporary
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # main restored the handlers


def test_signal_during_the_commit_completes_it(capsys, tmp_path, monkeypatch, prefitted):
    monkeypatch.setattr("lossbridge.core.outputs.os.rename", signalling(os.rename, signal.SIGTERM))
    code, captured = report_with_save(capsys, tmp_path)
    assert code == 143
    assert captured.err.startswith("lossbridge: terminated after the outputs were complete (")
    assert len(captured.err.splitlines()) == 1
    assert lossbridge.load(tmp_path / "saved").models == ["normal-learned"]
    assert (tmp_path / "r.html").read_text().rstrip().endswith("</html>")
    assert [p for p in listing(tmp_path) if Path(p).name.startswith(".")] == []


def test_failed_second_rename_rolls_back_the_first(tmp_path, monkeypatch):
    def failing(source, target):
        raise OSError(28, "No space left on device")

    with Outputs() as outputs:
        folder = outputs.folder(tmp_path / "saved", "output folder")
        (folder / "a.nc").write_bytes(b"data")
        outputs.text(tmp_path / "r.html", "<html></html>", "report")
        monkeypatch.setattr("lossbridge.core.outputs.os.replace", failing)
        with pytest.raises(InputError, match="cannot write report .*No space left on device"):
            outputs.commit()
    assert listing(tmp_path) == []


def test_replaced_files_are_restored_when_a_later_rename_fails(tmp_path, monkeypatch):
    (tmp_path / "a.html").write_text("old a")
    (tmp_path / "b.html").write_text("old b")
    real = os.replace
    calls = []

    def second_fails(source, target):
        calls.append(target)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(source, target)

    with Outputs() as outputs:
        outputs.text(tmp_path / "a.html", "new a", "report")
        outputs.text(tmp_path / "b.html", "new b", "report")
        monkeypatch.setattr("lossbridge.core.outputs.os.replace", second_fails)
        with pytest.raises(KeyboardInterrupt):
            outputs.commit()
    assert (tmp_path / "a.html").read_text() == "old a" and (tmp_path / "b.html").read_text() == "old b"
    assert listing(tmp_path) == ["a.html", "b.html"]


def test_leaving_without_commit_removes_temporaries_and_made_folders(tmp_path):
    with Outputs() as outputs:
        outputs.folder(tmp_path / "saved", "output folder")
        outputs.text(tmp_path / "reports" / "r.html", "x", "report")
        assert len(listing(tmp_path)) == 3  # temporaries exist while the run goes on
    assert listing(tmp_path) == []


def test_deferred_holds_a_signal_and_repeats_are_ignored():
    assert interrupts.install()
    try:
        reached = []
        with pytest.raises(interrupts.Terminated):
            with interrupts.deferred():
                signal.raise_signal(signal.SIGTERM)
                signal.raise_signal(signal.SIGINT)  # a second signal while stopping: ignored
                reached.append("end of block")
        assert reached == ["end of block"]
        assert interrupts.received() == signal.SIGTERM
        signal.raise_signal(signal.SIGINT)  # still stopping: no exception
    finally:
        interrupts.uninstall()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_deferred_without_install_hands_the_signal_to_the_callers_handler():
    with pytest.raises(KeyboardInterrupt):
        with interrupts.deferred():
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_interruption_swallowed_by_a_finalizer_is_silent_and_raised_later(capsys):
    class Finalized:
        def __del__(self):
            signal.raise_signal(signal.SIGINT)
            sum(range(10))  # the handler runs here, inside __del__: Python "ignores" the exception

    assert interrupts.install()
    try:
        Finalized()
        assert interrupts.received() == signal.SIGINT
        assert "Traceback" not in capsys.readouterr().err
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
    finally:
        interrupts.uninstall()


FULL_DISK = """
import resource, signal, sys
import lossbridge.interfaces.persistence as persistence
original = persistence.write_save_folder

def limited(analysis, folder):
    # A file-size limit makes every write past 50 kB fail (EFBIG), as a full disk does (ENOSPC).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, resource.RLIM_INFINITY))
    return original(analysis, folder)

persistence.write_save_folder = limited
from lossbridge.interfaces.cli import main
sys.exit(main())
"""


@pytest.mark.slow
def test_write_failure_while_saving_is_one_line_exit_2(tmp_path):
    """h5py used to abort the process (exit 134/139) when the disk refused a write."""
    (tmp_path / "out").mkdir()
    done = subprocess.run([sys.executable, "-c", FULL_DISK, "report", "stackloss", *SMALL, "--save",
                           str(tmp_path / "out" / "saved"), "--out", str(tmp_path / "out" / "r.html")],
                          capture_output=True, text=True, env=ENV, timeout=600, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stderr.strip() == ("lossbridge: error: cannot save to "
                                   f"'{tmp_path / 'out' / 'saved'}': File too large; nothing was saved")
    assert listing(tmp_path / "out") == []


# ------------------------------------------------------------- real processes, random moments
def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _run_and_signal(folder: Path, delay: float | None, signum: int, to_group: bool, repeat: bool = False):
    """One CLI run (report + --save, two worker processes), signalled after ``delay`` s.

    With ``repeat`` the signal is sent again 0.1 s later (an impatient second Ctrl-C).
    """
    folder.mkdir()
    command = [sys.executable, "-m", "lossbridge.interfaces.cli", "report", "stackloss", "--draws", "150",
               "--tune", "150", "--chains", "2", "--cores", "2", "--seed", "8",
               "--save", str(folder / "saved"), "--out", str(folder / "r.html")]
    clock = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=ENV, cwd=folder, start_new_session=True)
    if delay is not None:
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            for _ in range(2 if repeat else 1):
                if process.poll() is not None:
                    break
                if to_group:  # as a terminal's Ctrl-C does: the chain workers get it too
                    os.killpg(process.pid, signum)
                else:
                    process.send_signal(signum)
                time.sleep(0.1)
    out, err = process.communicate(timeout=600)
    elapsed = time.monotonic() - clock
    deadline = time.monotonic() + 10
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = _group_alive(process.pid)
    if survivors:
        os.killpg(process.pid, signal.SIGKILL)
    return process.returncode, out, err, elapsed, survivors


@pytest.mark.slow
def test_real_runs_interrupted_at_random_moments_leave_nothing(tmp_path):
    code, out, err, duration, survivors = _run_and_signal(tmp_path / "whole", None, signal.SIGINT, False)
    assert code == 0 and err == "" and not survivors, err[-3000:]
    assert listing(tmp_path / "whole") == sorted(["r.html", "saved", *(f"saved/{f}" for f in (
        "normal-learned.nc", "normal-fixed.nc", "laplace-learned.nc", "laplace-fixed.nc", "loo.npz",
        "manifest.json"))])
    # Eight moments spread over the whole run (start-up, imports, MAP, sampling, saving,
    # rendering), each in its own eighth, alternating signals and parent-only/group delivery,
    # some sent twice.
    rng = random.Random(20261201)
    span = min(max(duration, 2.0), 120.0)  # bounded on a slow machine
    for index in range(8):
        delay = max(0.5, span * (index + rng.random()) / 8)
        signum = (signal.SIGINT, signal.SIGTERM)[index % 2]
        to_group = index % 4 >= 2
        folder = tmp_path / f"run{index}"
        repeat = index % 3 == 0
        code, out, err, _, survivors = _run_and_signal(folder, delay, signum, to_group, repeat)
        where = (f"run {index}: {signum.name}{' twice' if repeat else ''} after {delay:.2f} s of "
                 f"{duration:.1f} s (group={to_group})")
        assert not survivors, f"{where}: processes outlived the run"
        assert "Traceback" not in err, f"{where}: {err[-3000:]}"
        left = listing(folder)
        if code == 0:  # finished before the signal
            assert err == "" and left == listing(tmp_path / "whole"), where
            continue
        assert code == CODE[signum], f"{where}: exit {code}: {err[-3000:]}"
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(MESSAGE[signum]), f"{where}: {err[-3000:]}"
        if "after the outputs were complete" in lines[0]:
            assert left == listing(tmp_path / "whole"), where
        else:
            assert left == [], f"{where}: left {left}"
