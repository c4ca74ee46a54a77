"""Fuzzing the command line (hypothesis): CSV bytes, formulas and option values.

Whatever the input, ``lossbridge fit/report ... --no-sample`` exits 0 or 2 (never 1, the
internal-error code), prints no traceback, answers an error in one line, and leaves no
file behind but the report it was asked for. Most runs go in-process through
``main([...])`` (PyMC is imported once); a few go through a real interpreter, where
stderr is the real one.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lossbridge.interfaces.cli import main

pytestmark = [pytest.mark.slow,
              # PyTensor raises the recursion limit while compiling; hypothesis notes it.
              pytest.mark.filterwarnings("ignore:The recursion limit will not be reset")]

# Formula constructs the strategies generate but the test leaves out until the formula
# work of issue 10 (item 1) is merged: today `y ~ x | x` and `y ~ I(np.array(3.0))` are
# internal errors (exit 1). Empty this tuple then.
KNOWN_ELSEWHERE: tuple[str, ...] = ()  # constructs whose crashes are fixed elsewhere, pending

NAMES = ["y", "x", "g", "w", "my col", "Y", "1", "x.1", "é", "", " x", "y"]
CELLS = ["", "NA", "nan", "inf", "-inf", "abc", '"q,uoted"', '"a""b"', " 3 ", "1,5", "1e-320",
         "1e300", "-0", "TRUE", '"', "0x10", "1_000", "٣", "\u00a0", "#", "'", "="]
TERMS = ["x", "g", "w", "C(g)", "np.log(x)", "np.exp(x)", "np.sqrt(x)", "np.log1p(x)", "np.abs(x)",
         "I(x * 2)", "I(x ** 2)", "I(x / w)", "center(x)", "scale(x)", "standardize(x)", "poly(x, 2)",
         "bs(x, df=3)", "x:g", "x*g", "0", "1", "-1", "`my col`", "nosuch(x)", "q", "C(x)", "x + x",
         "np.log(g)", "(x + w)**2", "x | w", "I(np.array(3.0))"]
LHS = ["y", "np.log(y)", "x", "g", "q", "y + x", "`my col`", "I(y * 1e300)", "", "np.exp(y)", "C(g)"]
FORMULA_TEXT = "yxgw~+*:-()^ .01,`"


def rarely(one_in: int) -> st.SearchStrategy[bool]:
    """True about once in ``one_in`` draws (hypothesis' integers favour small values, so
    ``integers(0, n) == 0`` would be far more frequent)."""
    return st.sampled_from([False] * (one_in - 1) + [True])


@st.composite
def csv_bytes(draw) -> bytes:
    """Mostly near-valid tables (so that many runs reach the fit), some raw bytes."""
    if draw(rarely(12)):
        return draw(st.binary(max_size=300))
    if draw(rarely(3)):
        columns = draw(st.lists(st.sampled_from(NAMES) | st.text(max_size=4), min_size=1, max_size=4))
    else:
        columns = ["y", "x", "g", "w"][: draw(st.sampled_from([4, 3, 2]))]
    n = draw(st.sampled_from([12, 8, 20, 5, 3]) | st.integers(0, 2)) if draw(rarely(8)) else 12
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = rng.normal(size=n) * (draw(st.sampled_from([1e-8, 1e8, 1e200, 1e-300])) if draw(rarely(8)) else 1.0)
    numbers = {"y": 1 + 2 * x + rng.laplace(size=n), "x": x, "w": rng.uniform(0.1, 3, size=n),
               "g": rng.choice(list("ab"), size=n)}
    rows = []
    hostile = draw(rarely(3))
    for i in range(n):
        row = [str(numbers[c][i]) if c in numbers else str(rng.integers(0, 5)) for c in columns]
        if hostile and draw(rarely(4)):
            row[draw(st.integers(0, len(row) - 1))] = draw(st.sampled_from(CELLS) | st.text(max_size=6))
        if hostile and draw(rarely(15)):  # a ragged row
            row = row[:-1] if len(row) > 1 else row + ["1"]
        rows.append(row)
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(delimiter.join(r) for r in [columns, *rows])
    text += draw(st.sampled_from([newline, "", newline * 3]))
    if draw(rarely(6)):
        text = "\ufeff" + text
    encoding = draw(st.sampled_from(["utf-8"] * 6 + ["latin-1", "utf-16"]))
    return text.encode(encoding, errors="replace")


@st.composite
def formulas(draw) -> str | None:
    if draw(rarely(15)):
        return None  # the data file has no default formula: an error
    if draw(rarely(8)):
        return draw(st.text(FORMULA_TEXT, max_size=20))
    terms = draw(st.lists(st.sampled_from(TERMS), min_size=1, max_size=3))
    joiner = draw(st.sampled_from([" + ", " * ", " : ", " - "]))
    lhs = draw(st.sampled_from(LHS)) if draw(rarely(4)) else "y"
    return f"{lhs} ~ {joiner.join(terms)}"


HOSTILE_NUMBERS = st.sampled_from(["0", "-1", "nan", "inf", "-inf", "1e-300", "1e300", "abc", "",
                                   "1e-5", " 4", "4 ", "0x1", "1_0", "2**40", "1.5", "-0"])
OPTIONS = {
    "--likelihood": st.sampled_from(["normal", "laplace", "Normal", "cauchy", ""]),
    "--scale": st.sampled_from(["learned", "fixed", "both", "none"]),
    "--sigma": st.sampled_from(["2.5", "0.5", "40"]) | HOSTILE_NUMBERS | st.floats().map(repr),
    "--b": st.sampled_from(["2.5", "0.5", "40"]) | HOSTILE_NUMBERS | st.floats().map(repr),
    "--priors": st.sampled_from(["weak", "flat", "strong"]),
    "--sampler": st.sampled_from(["auto", "nuts", "hmc", ""]),
    "--hdi-prob": st.sampled_from(["0.9", "0.5"]) | HOSTILE_NUMBERS | st.floats(0, 1).map(repr),
    "--seed": st.integers(-5, 2**33).map(str) | HOSTILE_NUMBERS,
    "--draws": st.sampled_from(["200", "1"]) | HOSTILE_NUMBERS,
    "--tune": st.sampled_from(["200", "1"]) | HOSTILE_NUMBERS,
    "--chains": st.sampled_from(["2", "1"]) | HOSTILE_NUMBERS,
    "--cores": st.sampled_from(["1", "2"]) | HOSTILE_NUMBERS,
    # issue 12: the loss dictionary's options (most refused without their family: exit 2)
    "--quantile-sigma": st.sampled_from(["2.5", "40"]) | HOSTILE_NUMBERS,
    "--huber-sigma": st.sampled_from(["2.5", "40"]) | HOSTILE_NUMBERS,
    "--t-sigma": st.sampled_from(["2.5", "40"]) | HOSTILE_NUMBERS,
    "--tau": st.sampled_from(["0.1", "0.9", "0.5"]) | HOSTILE_NUMBERS,
    "--huber-c": st.sampled_from(["1.345", "0.5"]) | HOSTILE_NUMBERS,
    "--nu": st.sampled_from(["1", "4"]) | HOSTILE_NUMBERS,
    "--scale-formula": st.sampled_from(["~ x", "~ nosuch", "y ~ x", "~ I(__import__('os'))", ""]),
    "--penalty": st.sampled_from(["ridge", "lasso", "elasticnet", "l0"]),
    "--alpha": st.sampled_from(["0.5", "0"]) | HOSTILE_NUMBERS,
    "--l1-ratio": st.sampled_from(["0.5", "1"]) | HOSTILE_NUMBERS,
    # issue 13: count likelihoods (refused for normal/laplace: exit 2)
    "--exposure": st.sampled_from(["x", "y", "nosuch", ""]),
    "--nb-alpha": st.sampled_from(["0.5", "2"]) | HOSTILE_NUMBERS,
    # issue 13: the Bernoulli link (refused without bernoulli: exit 2)
    "--link": st.sampled_from(["logit", "probit", "cloglog", "foo", ""]),
    # issue 13: the positive level of a two-level response (refused unless y has two levels)
    "--positive": st.sampled_from(["1", "0", "yes", "", "\x00"]),
    # issue 13: the reference level of a categorical response (refused without one)
    "--reference": st.sampled_from(["1", "0", "yes", "", "\x00"]),
    # issue 13: the law the data came from (a sidecar path), or none
    "--truth": st.sampled_from(["none", "d.csv", "nosuch.law.json", "", ".", "\x00"]),
}
FLAGS = ["--dropna", "--json", "--quiet", "--progress"]
ALWAYS = ["--no-sample", "--formula", "--likelihood", "--scale"]  # set by command_lines itself


def test_every_declared_option_is_fuzzed():
    from lossbridge.interfaces.options import OPTIONS as DECLARED

    assert {o.flag for o in DECLARED.values()} <= {*OPTIONS, *FLAGS, *ALWAYS}


@st.composite
def command_lines(draw) -> tuple[bytes, list[str], bool]:
    """CSV bytes, the argument list (the CSV is d.csv) and whether it writes a report."""
    report = draw(rarely(10))
    argv = ["report" if report else "fit", "d.csv", "--no-sample"]
    formula = draw(formulas())
    if formula is not None:
        argv += ["--formula", formula]
    if not draw(rarely(5)):  # mostly one model: each model's MAP costs a compile
        argv += ["--likelihood", draw(st.sampled_from(["normal", "laplace"])),
                 "--scale", draw(st.sampled_from(["learned", "fixed"]))]
    if draw(rarely(2)):
        for name in draw(st.lists(st.sampled_from(sorted(OPTIONS)), max_size=2, unique=True)):
            argv += [name, draw(OPTIONS[name])]
    argv += draw(st.lists(st.sampled_from(FLAGS), max_size=2, unique=True))
    if draw(rarely(25)):
        argv += ["--save", "saved"]  # refused with --no-sample, before anything is written
    if report:
        argv += ["--out", "out.html"]
    return draw(csv_bytes()), argv, report


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def check_outcome(code, out: str, err: str, argv: list[str], before: set[str], after: set[str],
                  report: bool) -> None:
    context = f"lossbridge {' '.join(map(repr, argv))}\nstdout: {out[-500:]}\nstderr: {err[-2000:]}"
    assert code in (0, 2), context
    assert "Traceback" not in out + err, context
    allowed = {"out.html"} if report and code == 0 else set()
    assert after - before <= allowed and before <= after, (sorted(after ^ before), context)
    if code == 2:
        lines = err.strip().splitlines()
        if "--progress" in argv:  # progress lines may come before the error
            lines = lines[-1:]
        assert len(lines) == 1 and lines[0].startswith("lossbridge") and "error:" in lines[0], context
        assert "internal error" not in err, context


def plausible(argv: list[str]) -> bool:
    """No argument uses a construct of KNOWN_ELSEWHERE."""
    return not any(known in word for word in argv for known in KNOWN_ELSEWHERE)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(command_lines().filter(lambda case: plausible(case[1])))
def test_cli_never_fails_internally(case):
    data, argv, report = case
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "d.csv").write_bytes(data)
        before = files_under(root)
        out, err = io.StringIO(), io.StringIO()
        cwd = os.getcwd()
        os.chdir(root)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(argv)
                except SystemExit as exc:  # argparse's usage errors
                    code = exc.code
        finally:
            os.chdir(cwd)
        check_outcome(code, out.getvalue(), err.getvalue(), argv, before, files_under(root), report)


@settings(max_examples=2, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(command_lines().filter(lambda case: plausible(case[1])), min_size=2, max_size=2))
def test_cli_never_fails_internally_in_a_real_process(cases):
    """Real interpreters, real stderr (where PyMC's log handlers write); two at a time,
    since each pays PyMC's import."""
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    with contextlib.ExitStack() as stack:
        runs = []
        for data, argv, report in cases:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            (root / "d.csv").write_bytes(data)
            process = subprocess.Popen([sys.executable, "-m", "lossbridge.interfaces.cli", *argv], cwd=root, env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                       errors="replace")
            runs.append((process, root, files_under(root), argv, report))
        for process, root, before, argv, report in runs:
            out, err = process.communicate(timeout=600)
            check_outcome(process.returncode, out, err, argv, before, files_under(root), report)
