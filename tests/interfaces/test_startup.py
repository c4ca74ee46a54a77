"""Start-up and --quiet: help, dataset listing and option errors answer without PyMC;
--quiet leaves stderr empty.

Start-up time is checked by what gets imported, not by a clock: PyMC (with PyTensor and
ArviZ) is what takes seconds, and a run that never imports it cannot pay for it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import warnings

import pytest

import lossbridge.core.quiet
from lossbridge.core.quiet import silenced
from lossbridge.interfaces.cli import main

HEAVY = ("pymc", "pytensor", "arviz")
# The interpreters below import this checkout of lossbridge, wherever they run.
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    [os.path.dirname(os.path.dirname(os.path.dirname(lossbridge.core.quiet.__file__))), os.environ.get("PYTHONPATH", "")])}

PROBE = """
import json, sys
from lossbridge.interfaces.cli import main
try:
    code = main(sys.argv[2:])
except SystemExit as exc:  # argparse: --help and usage errors
    code = exc.code
heavy = [m for m in sys.argv.pop(1).split(",") if m in sys.modules]
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def probe(tmp_path, *argv, heavy=HEAVY):
    """Run ``main(argv)`` in a fresh interpreter; return exit code, stdout, stderr lines
    and the modules of ``heavy`` that were imported."""
    done = subprocess.run([sys.executable, "-c", PROBE, ",".join(heavy), *argv], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120, env=ENV)
    *lines, last = done.stderr.strip().splitlines()
    result = json.loads(last)
    return result["code"], done.stdout, lines, result["heavy"]


@pytest.mark.parametrize(
    ("argv", "code", "expected"),
    [
        (["--help"], 0, "usage: lossbridge"),
        (["fit", "--help"], 0, "--formula"),
        (["datasets"], 0, "engel"),
        (["fit", "engel", "--bogus"], 2, "unrecognized arguments: --bogus"),
        (["report", "engel"], 2, "the following arguments are required: --out"),
        (["fit", "engel", "--draws", "x"], 2, "--draws must be a positive integer; got 'x'"),
        (["fit", "engel", "--sigma", "-1"], 2, "--sigma must be a positive finite number"),
        (["fit", "engel", "--likelihood", "cauchy"], 2, "--likelihood must be one of"),
        (["fit", "engel", "--hdi-prob", "2"], 2, "--hdi-prob must be strictly between 0 and 1"),
    ],
    ids=["help", "fit-help", "datasets", "unknown-flag", "missing-out", "draws", "sigma",
         "likelihood", "hdi-prob"],
)
def test_answers_without_importing_pymc(tmp_path, argv, code, expected):
    got, out, err, heavy = probe(tmp_path, *argv)
    assert got == code, (out, err)
    assert expected in out + "\n".join(err)
    assert heavy == [], f"{' '.join(argv)} imported {heavy}"
    if code == 2:
        assert len(err) == 1  # one line, no usage dump


@pytest.mark.parametrize("argv", [["--help"], ["datasets"]], ids=["help", "datasets"])
def test_help_and_datasets_do_not_build_the_option_declarations(tmp_path, argv):
    # The declarations import the family registry (NumPy, SciPy, pandas): the subcommands'
    # flags are added only when a subcommand that takes them is used.
    code, out, _, imported = probe(tmp_path, *argv, heavy=(*HEAVY, "lossbridge.interfaces.options", "scipy"))
    assert code == 0 and imported == []
    assert ("fit" in out and "report" in out) if argv == ["--help"] else "engel" in out


def test_bad_spec_option_answers_without_importing_pymc(tmp_path):
    (tmp_path / "s.toml").write_text('data = "engel"\ndraws = 0\n')
    code, _, err, heavy = probe(tmp_path, "run", "s.toml")
    assert code == 2 and "draws must be a positive integer" in err[0] and heavy == []


@pytest.mark.slow  # resolving every public name imports PyMC
def test_import_is_lazy_but_complete():
    code = ("import sys, lossbridge\n"
            "before = [m for m in sys.argv[1].split(',') if m in sys.modules]\n"
            "names = {n: getattr(lossbridge, n).__name__ for n in lossbridge.__all__ if n != 'FAMILIES'}\n"
            "print(before, sorted(lossbridge.FAMILIES), 'fit' in dir(lossbridge), names['fit'])\n"
            "print(lossbridge.core.jsonio.__name__)\n"
            "try:\n    lossbridge.nosuch\nexcept AttributeError as exc:\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code, ",".join(HEAVY)], capture_output=True, text=True, timeout=120,
                          env=ENV)
    assert done.returncode == 0, done.stderr
    # the built-in families
    families = ("['bernoulli', 'categorical', 'huber', 'laplace', 'negbin', 'normal', 'poisson', "
                "'quantile', 'student']")
    assert done.stdout.splitlines() == [f"[] {families} True fit", "lossbridge.core.jsonio",
                                        "module 'lossbridge' has no attribute 'nosuch'"]


def test_silenced_restores_warnings_logging_and_environment(monkeypatch):
    monkeypatch.setenv("PYTHONWARNINGS", "default")
    filters = list(warnings.filters)
    with silenced():
        assert os.environ["PYTHONWARNINGS"] == "ignore"
        assert logging.root.manager.disable == logging.WARNING
        with warnings.catch_warnings(record=True) as caught:
            warnings.warn("dropped", stacklevel=1)  # the filter set by silenced() applies inside
        assert caught == []
    assert os.environ["PYTHONWARNINGS"] == "default"
    assert logging.root.manager.disable == logging.NOTSET
    assert warnings.filters == filters


QUIET_RUN = ["fit", "stackloss", "--draws", "50", "--tune", "50", "--chains", "2", "--cores", "1",
             "--seed", "3", "--likelihood", "normal", "--scale", "learned"]


@pytest.mark.slow
def test_quiet_means_quiet(capfd, caplog):
    # 50 draws make PyMC log "Only 50 samples per chain ..." (logging, at WARNING) and
    # lossbridge warn about R-hat/ESS. pytest's log capture sees the log records and
    # capfd what reaches file descriptor 2.
    def pymc_records():
        return [r for r in caplog.records if r.name.startswith(HEAVY) and r.levelno >= logging.WARNING]

    # (PyMC's "Only 50 samples per chain" line is dropped for every run: lossbridge's ESS
    # warning says it; test_silenced_drops_dependency_noise shows --quiet's own effect.)
    assert main(QUIET_RUN) == 0
    out, _ = capfd.readouterr()
    assert "effective sample size" in out  # lossbridge's own warning, with the tables
    caplog.clear()
    assert main([*QUIET_RUN, "--quiet"]) == 0
    out, err = capfd.readouterr()
    assert err == "" and pymc_records() == []
    assert "effective sample size" in out  # --quiet drops stderr noise, not the findings


def test_silenced_drops_dependency_noise(capfd, caplog):
    """Outside ``silenced`` a PyMC log warning and a Python warning reach the user;
    inside, neither does; afterwards both do again (settings restored)."""
    import warnings

    from lossbridge.core.quiet import silenced

    def noise():
        logging.getLogger("pymc").warning("pymc noise")
        warnings.warn("library noise", UserWarning, stacklevel=1)

    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        noise()
        assert [str(w.message) for w in shown] == ["library noise"]
        assert any(r.getMessage() == "pymc noise" for r in caplog.records)
        caplog.clear()
        with silenced(True):
            noise()
        assert len(shown) == 1 and not caplog.records
        noise()
        assert len(shown) == 2 and any(r.getMessage() == "pymc noise" for r in caplog.records)


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENSURE = os.path.join(REPO, ".ci", "ensure-chromium")


def stub_path(tmp_path, uid, apt_ok=True, sudo=False, apt=True, browser=None):
    """A PATH holding only stubs (and bash/env), so that no real apt-get can run."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for tool in ("bash", "env", "true"):
        os.symlink(shutil.which(tool), bin_dir / tool)

    def stub(name, body):
        path = bin_dir / name
        path.write_text(f"#!{shutil.which('bash')}\n{body}\n")
        path.chmod(0o755)

    stub("id", f"echo {uid}")
    if apt:
        make_browser = f"printf '#!/bin/sh\\n' > {bin_dir}/chromium; chmod +x {bin_dir}/chromium"
        installs = f'case " $* " in *" install "*) {make_browser};; esac\nexit 0'
        stub("apt-get", f'echo "apt-get $*" >> {log}\n' + (installs if apt_ok else "exit 100"))
    if sudo:
        stub("sudo", f'echo "sudo $*" >> {log}\n[ "$1" = -n ] && shift\nexec "$@"')
    if browser:
        stub(browser, "exit 0")
    return str(bin_dir), log


@pytest.mark.parametrize(
    ("case", "uid", "kwargs", "code", "calls", "message"),
    [
        ("found", 1000, {"browser": "chromium-browser"}, 0, [], ""),
        ("root", 0, {}, 0, ["apt-get update -qq", "apt-get install -y -qq chromium"],
         "installing Debian's chromium"),
        ("root-offline", 0, {"apt_ok": False}, 1, ["apt-get update -qq"], "apt-get could not install chromium"),
        ("sudo", 1000, {"sudo": True}, 0,
         ["sudo -n true", "sudo -n apt-get update -qq",
          "apt-get update -qq", "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium", "apt-get install -y -qq chromium"],
         "installing Debian's chromium"),
        ("user", 1000, {}, 1, [], "install Debian's chromium package as root (apt-get install chromium)"),
        ("no-apt", 0, {"apt": False}, 1, [], "install Debian's chromium package as root"),
    ],
)
def test_make_test_provides_chromium(tmp_path, case, uid, kwargs, code, calls, message):
    path, log = stub_path(tmp_path, uid, **kwargs)
    done = subprocess.run([os.path.join(path, "bash"), ENSURE], capture_output=True, text=True,
                          env={"PATH": path}, timeout=60)
    assert done.returncode == code, done.stderr
    assert (log.read_text().splitlines() if log.exists() else []) == calls
    assert message in done.stderr
    if code == 0 and case != "found":
        assert (tmp_path / "bin" / "chromium").exists()


def test_make_test_and_ci_run_the_same_steps():
    dry = subprocess.run(["make", "-n", "-C", REPO, "test"], capture_output=True, text=True, timeout=60)
    lines = dry.stdout.splitlines()
    assert ".ci/ensure-chromium" in lines
    assert lines.index(".ci/ensure-chromium") < next(i for i, line in enumerate(lines) if "-m pytest" in line)
    with open(os.path.join(REPO, ".ci", "run")) as ci:
        commands = [line.split("#")[0].strip() for line in ci if line.strip() and not line.startswith("#")]
    assert commands[-1] == "make test" and "apt-get" not in " ".join(commands)
