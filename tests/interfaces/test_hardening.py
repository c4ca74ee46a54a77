"""Bad input, interruption and reproducibility, through the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import lossbridge
from lossbridge.core.errors import InputError
from lossbridge.interfaces.cli import main


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write(path, text, mode="w"):
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


GOOD_ROWS = "".join(f"{1 + 2 * i + (i % 3) * 0.5},{i},{i % 4}\n" for i in range(12))


@pytest.mark.parametrize(
    ("content", "formula", "message"),
    [
        ("y,x,z\n", "y ~ x", "has no rows"),
        ("", "y ~ x", "is empty"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00", "y ~ x", "binary"),
        ("y,x,z\n1,2,3\n4,5\n", "y ~ x", "line 3 has 2 field(s) but the header has 3"),
        ("y,x,x\n1,2,3\n", "y ~ x", "duplicate column names 'x'"),
        ("y,x,z\n" + GOOD_ROWS, "y ~ x + w", "column 'w' used in formula"),
        ("y,x,z\n" + GOOD_ROWS, "q ~ x", "column 'q' used in formula"),
        ("y,x,z\n" + GOOD_ROWS.replace(",5,", ",,", 1), "y ~ x", "1 row(s) have missing values in column(s) 'x'"),
        ("y,x,z\n" + GOOD_ROWS.replace(",5,", ",inf,", 1), "y ~ x", "1 row(s) have infinite values in column(s) 'x'"),
        ("y,x,z\n1,2,3\n", "y ~ x", "too few rows: 1 rows for 2 coefficients"),
        ("y,x,z\n" + "".join(f"5,{i},{i % 2}\n" for i in range(10)), "y ~ x", "the response 'y' is constant (every value is 5)"),
        ("y,x,z\n" + "".join(f"{3 + 2 * i},{i},{i % 2}\n" for i in range(10)), "y ~ x", "fits 'y' exactly"),
        ("y,x,z\n" + "".join(f"{1e200 * (1 + i % 3)},{i},{i % 2}\n" for i in range(10)), "y ~ x", "overflow double precision"),
        ("y,x,z\n" + GOOD_ROWS, "y ~ x +* z", "does not parse"),
        ("y,x,z\n" + GOOD_ROWS, "y ~ nosuch(x)", "unknown function 'nosuch'"),
    ],
    ids=["header-only", "empty", "binary", "ragged", "duplicate-columns", "predictor-missing",
         "target-missing", "nan", "inf", "one-row", "constant-target", "perfect-fit", "overflow", "formula-syntax",
         "unknown-function"],
)
def test_bad_data_one_line_exit_2(capsys, tmp_path, content, formula, message):
    path = write(tmp_path / "data.csv", content)
    code, out, err = run_cli(capsys, "fit", path, "--formula", formula, "--no-sample")
    assert code == 2, err
    assert out == "" and message in err and len(err.strip().splitlines()) == 1


def test_directory_as_data(capsys, tmp_path):
    code, _, err = run_cli(capsys, "fit", tmp_path, "-f", "y ~ x")
    assert code == 2 and "is a directory" in err


@pytest.mark.parametrize(("delimiter", "newline", "bom"), [(";", "\n", ""), ("\t", "\n", ""), (",", "\r\n", "\ufeff")])
def test_dialects_work_through_the_cli(capsys, tmp_path, delimiter, newline, bom):
    rows = [delimiter.join(["y", "x"])] + [delimiter.join([f"{1 + 2 * i + (-1) ** i}", f"{i}"]) for i in range(10)]
    path = tmp_path / "d.csv"
    path.write_bytes((bom + newline.join(rows) + newline).encode("utf-8"))
    code, out, err = run_cli(capsys, "fit", path, "-f", "y ~ x", "--no-sample", "--json")
    assert code == 0, err
    assert json.loads(out)["data"]["n"] == 10


def test_dropna_drops_and_reports(capsys, tmp_path):
    path = write(tmp_path / "d.csv", "y,x,z\n" + GOOD_ROWS.replace(",5,", ",,", 1).replace(",7,", ",nan,", 1))
    code, out, err = run_cli(capsys, "fit", path, "-f", "y ~ x", "--no-sample", "--json", "--dropna")
    assert code == 0, err
    assert json.loads(out)["data"]["dropped_rows"] == 2 and json.loads(out)["data"]["n"] == 10
    code, out, _ = run_cli(capsys, "fit", path, "-f", "y ~ x", "--no-sample", "--dropna")
    assert "2 row(s) with missing values dropped" in out


def test_unwritable_output_is_an_input_error(capsys, tmp_path):
    # /proc accepts no new files even for root, so this fails at write time, not at the check.
    path = write(tmp_path / "d.csv", "y,x,z\n" + GOOD_ROWS)
    code, _, err = run_cli(capsys, "report", path, "-f", "y ~ x", "--no-sample", "--out", "/proc/lossbridge.html")
    assert code == 2 and "cannot write report '/proc/lossbridge.html': folder '/proc' does not accept new files" in err


def test_bad_spec_option_names_the_spec(capsys, tmp_path):
    spec = write(tmp_path / "s.toml", 'data = "engel"\ndraws = -5\n')
    code, _, err = run_cli(capsys, "run", spec)
    assert code == 2 and "s.toml" in err and "draws must be a positive integer" in err


def test_internal_errors_are_one_line_unless_debug(capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure\nsecond line")

    monkeypatch.setattr("lossbridge.interfaces.pipeline.exact_fit", broken)
    code, _, err = run_cli(capsys, "fit", "engel", "--no-sample")
    assert code == 1
    assert err.strip() == ("lossbridge: internal error: RuntimeError: simulated failure "
                           "(run with --debug for the traceback)")
    code, _, err = run_cli(capsys, "--debug", "fit", "engel", "--no-sample")
    assert code == 1 and "Traceback" in err


@pytest.mark.slow
def test_same_seed_gives_byte_identical_json(tmp_path):
    """Everything but the one 'timing' key is a function of data, options and seed."""
    outputs = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-m", "lossbridge.interfaces.cli", "fit", "stackloss", "--json",
                               "--seed", "11", "--draws", "300", "--tune", "300"],
                              capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        assert done.returncode == 0, done.stderr
        document = json.loads(done.stdout)
        assert set(document["timing"]) == {"started_at", "seconds"}
        del document["timing"]
        outputs.append(json.dumps(document, sort_keys=True))
    assert outputs[0] == outputs[1]


@pytest.mark.slow
def test_ctrl_c_during_sampling_exits_130_and_leaves_nothing(tmp_path):
    out = tmp_path / "report.html"
    process = subprocess.Popen(
        [sys.executable, "-m", "lossbridge.interfaces.cli", "report", "engel", "--out", str(out), "--draws", "20000",
         "--progress", "--save", str(tmp_path / "saved")],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"})
    deadline = time.time() + 120
    seen = ""
    while time.time() < deadline:
        line = process.stderr.readline()
        seen += line
        if "sampling" in line:
            break
    assert "sampling" in seen, seen
    time.sleep(3)  # well inside the NUTS run
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=120)
    assert process.returncode == 130, rest[-2000:]
    last = [line for line in rest.splitlines() if line.strip()][-1]
    assert last == "lossbridge: interrupted"
    assert list(tmp_path.iterdir()) == []  # no report, no saved folder, no temporary


def test_constant_response_without_intercept_is_fitted(capsys, tmp_path):
    # y = 5 everywhere is not fitted exactly by y ~ 0 + x: the scale has a maximum, so no refusal.
    path = write(tmp_path / "d.csv", "y,x\n" + "".join(f"5,{i + 1}\n" for i in range(10)))
    code, out, err = run_cli(capsys, "fit", path, "-f", "y ~ 0 + x", "--no-sample", "--json")
    assert code == 0, err
    assert all(fit["certificate"]["certified"] for fit in json.loads(out)["fits"])


def test_cr_only_line_ends_through_the_cli(capsys, tmp_path):
    # Old Mac files end lines with CR alone; the values must parse, not just the shape.
    rows = [(1 + 2 * i + (-1) ** i * 0.5, i) for i in range(10)]
    path = write(tmp_path / "mac.csv", "y,x\r" + "".join(f"{y},{x}\r" for y, x in rows))
    code, out, err = run_cli(capsys, "fit", path, "-f", "y ~ x", "--no-sample", "--json",
                             "--likelihood", "normal", "--scale", "learned")
    assert code == 0, err
    X = np.column_stack([np.ones(10), [x for _, x in rows]])
    beta = np.linalg.lstsq(X, np.array([y for y, _ in rows]), rcond=None)[0]
    fitted = json.loads(out)["fits"][0]["baseline"]["coefficients"]
    # Both are double-precision solves of a 10x2 system with condition number ~10: 1e-12 is
    # thousands of rounding units of slack.
    assert np.allclose([fitted["Intercept"], fitted["x"]], beta, rtol=1e-12, atol=1e-12)


def test_quoted_field_over_131072_characters_through_the_cli(capsys, tmp_path):
    rows = "".join(f'{1 + 2 * i + (-1) ** i},{i},"{"n" * 200_000 if i == 0 else "short"}"\n' for i in range(10))
    path = write(tmp_path / "notes.csv", "y,x,note\n" + rows)
    code, out, err = run_cli(capsys, "fit", path, "-f", "y ~ x", "--no-sample", "--json")
    assert code == 0, err
    assert json.loads(out)["data"]["n"] == 10


@pytest.mark.parametrize("sigma", ["1e-300", "1e300"])
def test_extreme_fixed_scale_is_refused_before_fitting(capsys, monkeypatch, sigma):
    def no_map(*args, **kwargs):
        raise AssertionError("the MAP must not run")

    monkeypatch.setattr("lossbridge.interfaces.pipeline.find_map", no_map)
    code, out, err = run_cli(capsys, "fit", "engel", "--no-sample", "--sigma", sigma)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert f"sigma = {float(sigma):g} is outside what the normal likelihood can compute with" in err
    assert "give a value in that range, or omit sigma" in err


def test_fixed_scale_range_in_closed_form(tmp_path):
    """For y ~ 1 the exact fits are the mean and the median, so the range is closed-form:
    sigma from sqrt(RSS / 2e7) to 1e12 sqrt(RSS/n); b from SAD / 1e7 to 1e12 SAD/n."""
    y = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0])
    rss, sad, n = float(np.sum((y - y.mean()) ** 2)), float(np.sum(np.abs(y - np.median(y)))), len(y)
    frame = pd.DataFrame({"y": y})
    bounds = {"normal": (np.sqrt(rss / 2e7), 1e12 * np.sqrt(rss / n)), "laplace": (sad / 1e7, 1e12 * sad / n)}
    option = {"normal": "sigma", "laplace": "b"}  # each family's scale has its own option
    for likelihood, (low, high) in bounds.items():
        for inside in (low * (1 + 1e-9), high * (1 - 1e-9)):
            analysis = lossbridge.fit(frame, "y ~ 1", likelihoods=likelihood, scales="fixed",
                                      sample=False, **{option[likelihood]: inside})
            assert analysis.fits[0].certificate.certified
        for outside in (low * (1 - 1e-9), high * (1 + 1e-9)):
            with pytest.raises(InputError, match=f"outside what the {likelihood} likelihood"):
                lossbridge.fit(frame, "y ~ 1", likelihoods=likelihood, scales="fixed",
                               sample=False, **{option[likelihood]: outside})
    # A sigma that no requested model uses is refused as such, not for its range.
    with pytest.raises(InputError, match="which is not requested"):
        lossbridge.fit(frame, "y ~ 1", scales="learned", sigma=1e-300, sample=False)


def test_dataframe_with_integer_column_names_is_fitted():
    rng = np.random.default_rng(5)
    x = rng.normal(size=30)
    frame = pd.DataFrame({0: 1.0 + 2.0 * x + rng.normal(size=30), 1: x, "x": x})
    analysis = lossbridge.fit(frame, "`0` ~ x", likelihoods="normal", scales="learned", sample=False)
    assert list(analysis.design.terms) == ["Intercept", "x"] and analysis.design.response == "0"
    beta = np.linalg.lstsq(np.column_stack([np.ones(30), x]), frame[0].to_numpy(), rcond=None)[0]
    # lstsq against lossbridge's QR-based OLS on a well-conditioned 30x2 design.
    assert np.allclose(analysis.fits[0].baseline.coefficients, beta, rtol=1e-10)


def test_dataframe_with_multiindex_columns_is_refused():
    frame = pd.DataFrame(np.ones((5, 2)), columns=pd.MultiIndex.from_tuples([("a", "y"), ("a", "x")]))
    with pytest.raises(InputError, match="MultiIndex"):
        lossbridge.fit(frame, "y ~ x", sample=False)
