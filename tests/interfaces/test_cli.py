"""The command line: output contract, shipped specs and one-line errors for bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lossbridge.interfaces.cli import main
from lossbridge.posterior.misfit import MISFIT_CODES

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "models").glob("*.toml"))
# Specs of the default Normal/Laplace analysis (four models); a binary dataset's and a
# categorical one's (test_categorical_interfaces.py) have their own tests.
FOUR_MODEL_SPECS = [s for s in SPECS if s.stem not in ("spector", "anes96")]


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_fit_json_contract(capsys):
    code, out, err = run_cli(capsys, "fit", "engel", "--formula", "foodexp ~ income", "--json",
                             "--no-sample", "--seed", "3")
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) >= {"data", "fits", "options", "warnings", "timing", "all_certified"}
    assert doc["data"]["n"] == 235 and doc["data"]["terms"] == ["Intercept", "income"]
    assert len(doc["data"]["y_hash"]) == 16
    assert [(f["likelihood"], f["scale"]) for f in doc["fits"]] == [
        ("normal", "learned"), ("normal", "fixed"), ("laplace", "learned"), ("laplace", "fixed")]
    for f in doc["fits"]:
        scale = "sigma" if f["likelihood"] == "normal" else "b"
        assert set(f["map"]) == {"Intercept", "income"}  # coefficients by term only
        assert f["map_scale"]["name"] == scale and isinstance(f["map_scale"]["value"], float)
        assert f["baseline"]["method"] == ("ols" if f["likelihood"] == "normal" else "lad")
        assert set(f["baseline"]["coefficients"]) == {"Intercept", "income"}
        assert isinstance(f["baseline"]["loss"], float)
        assert f["certificate"]["certified"] is True
        assert {"constant", "loss_term", "nll", "pymc_nll"} <= set(f["nll"])
        if f["scale"] == "fixed":
            assert "plug-in MLE" in f["fixed_scale"]["source"]
            assert f["map_scale"]["value"] == f["fixed_scale"]["value"]
        # JSON numbers equal the Python API's values exactly (no rounding in transit).
        assert np.isfinite(list(f["map"].values())).all()
    assert doc["options"]["seed"] == 3


def test_fit_tables_say_what_was_certified(capsys):
    code, out, _ = run_cli(capsys, "fit", "stackloss", "--likelihood", "laplace", "--scale", "fixed",
                           "--b", "2.5", "--no-sample")
    assert code == 0
    assert "laplace-fixed" in out and "normal" not in out.split("MAP estimates")[1].split("\n")[1]
    assert "fixed b for laplace-fixed: 2.5 (user value (--b))" in out
    assert "All 1 MAP estimates certified" in out
    assert "NLL = n log(2b) + SAD / b" in out


@pytest.mark.slow
@pytest.mark.parametrize("spec", FOUR_MODEL_SPECS, ids=[s.stem for s in FOUR_MODEL_SPECS])
def test_run_every_shipped_spec(capsys, spec, tmp_path):
    """Every bundled dataset: certified MAPs (two per family with a scale, one per family
    without: a count's), a posterior each, no diagnostic warning, a report."""
    import tomllib

    from lossbridge.families.registry import get_family

    report = tmp_path / f"{spec.stem}.html"
    code, out, err = run_cli(capsys, "run", str(spec), "--json", "--quiet", "--out", str(report))
    assert code == 0, err
    doc = json.loads(out)
    assert doc["all_certified"] is True
    families = [get_family(n) for n in tomllib.loads(spec.read_text())["likelihoods"]]
    assert len(doc["fits"]) == sum(1 if f.scale_name is None else 2 for f in families)
    assert all(f["posterior"] is not None for f in doc["fits"])
    # misfit warnings name the data's features (issue 9); every other check must be clean
    assert [w for w in doc["warnings"] if w["code"] not in MISFIT_CODES] == []
    assert doc["comparison"][0]["rank"] == 0
    for f in doc["fits"]:
        if f["likelihood"] == "normal":
            assert f["oracle"]["passed"] is True
    html = report.read_text(encoding="utf-8")
    assert 'id="verdict"' in html and 'id="oracle"' in html
    # nine figures for a continuous y; a count y (randhie) has the forest plot, the
    # rootograms, the predictive checks and the comparison: no residual, scale or LOO-PIT
    # figures (no additive noise, no scale, a discrete PIT is not uniform)
    if all(f.scale_name for f in families):
        assert html.count("<img ") == 9
    else:
        alts = re.findall(r'<img [^>]*alt="([^"]*)"', html)
        assert alts == ["forest plot of every coefficient across the models",
                        "hanging rootograms of the discrete fits", "posterior predictive checks",
                        "model comparison plot"]


@pytest.mark.slow
def test_run_the_spector_spec(capsys, tmp_path):
    """The binary dataset: one certified Bernoulli MAP per link, posteriors, LOO, a report."""
    report = tmp_path / "spector.html"
    code, out, err = run_cli(capsys, "run", str(ROOT / "models" / "spector.toml"), "--json",
                             "--quiet", "--out", str(report))
    assert code == 0, err
    doc = json.loads(out)
    assert doc["all_certified"] is True
    assert [f["model"] for f in doc["fits"]] == ["bernoulli(link=logit)", "bernoulli(link=probit)"]
    assert all(f["posterior"] is not None for f in doc["fits"])
    assert [w for w in doc["warnings"] if w["code"] not in MISFIT_CODES] == []
    assert doc["comparison"][0]["rank"] == 0
    assert 'id="verdict"' in report.read_text(encoding="utf-8")


def test_there_is_a_spec_per_bundled_dataset():
    from lossbridge.data.datasets import BUNDLED

    assert {s.stem for s in SPECS} >= set(BUNDLED)


def test_datasets_command_lists_bundled_data(capsys):
    code, out, _ = run_cli(capsys, "datasets")
    assert code == 0 and "engel" in out and "foodexp ~ income" in out


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "d.csv"
    rng = np.random.default_rng(0)
    x = rng.normal(size=30)
    # z = 2x exactly in binary floating point (doubling is exact): collinear, perfect fit.
    lines = ["y,x,z,label"] + [f"{1 + 2 * a + rng.normal():.6f},{a:.3f},{2 * float(f'{a:.3f}')!r},t{i}"
                                 for i, a in enumerate(x)]
    path.write_text("\n".join(lines) + "\n")
    return path


BAD_INPUTS = {
    "missing-file": (["fit", "nope.csv", "-f", "y ~ x"], "does not exist"),
    "unknown-dataset-name": (["fit", "engle"], "does not exist (bundled datasets: "),
    "no-formula-for-csv": (["fit", "{csv}"], "formula is required"),
    "unknown-column": (["fit", "{csv}", "-f", "y ~ w"], "column 'w' used in formula"),
    "non-numeric-target": (["fit", "{csv}", "-f", "label ~ x"], "response column 'label' is not numeric"),
    "rank-deficient": (["fit", "{csv}", "-f", "y ~ x + z"], "rank-deficient"),
    "bad-likelihood": (["fit", "{csv}", "-f", "y ~ x", "--likelihood", "cauchy"],
                       "; got 'cauchy'"),
    "tau-out-of-range": (["fit", "{csv}", "-f", "y ~ x", "--likelihood", "quantile", "--tau",
                          "1.5"], "--tau must be a number in (0, 1); got '1.5'"),
    "bad-scale": (["fit", "{csv}", "-f", "y ~ x", "--scale", "free"],
                  "scale must be one of 'learned', 'fixed', 'both'; got 'free'"),
    "negative-sigma": (["fit", "{csv}", "-f", "y ~ x", "--sigma", "-1"], "sigma must be a positive finite number; got '-1'"),
    "zero-sigma": (["fit", "{csv}", "-f", "y ~ x", "--sigma", "0"], "sigma must be a positive finite number"),
    "nan-sigma": (["fit", "{csv}", "-f", "y ~ x", "--sigma", "nan"], "sigma must be a positive finite number"),
    "text-sigma": (["fit", "{csv}", "-f", "y ~ x", "--sigma", "abc"], "sigma must be a positive number; got 'abc'"),
    "negative-b": (["fit", "{csv}", "-f", "y ~ x", "--b", "-1"], "--b must be a positive finite number; got '-1'"),
    "sigma-without-normal-fixed": (["fit", "{csv}", "-f", "y ~ x", "--likelihood", "laplace", "--sigma", "2"],
                                   "--sigma fixes the Normal scale sigma of the normal-fixed model, which is "
                                   "not requested"),
    "b-without-laplace-fixed": (["fit", "{csv}", "-f", "y ~ x", "--scale", "learned", "--b", "2"],
                                "--b fixes the Laplace scale b of the laplace-fixed model, which is not requested"),
    "one-draw": (["fit", "{csv}", "-f", "y ~ x", "--draws", "1", "--tune", "1", "--chains", "1"],
                 "--draws must be at least 4"),
    "bad-priors": (["fit", "{csv}", "-f", "y ~ x", "--priors", "cauchy"], "priors must be one of"),
    "bad-sampler": (["fit", "{csv}", "-f", "y ~ x", "--sampler", "hmc"], "sampler must be one of"),
    "bad-seed": (["fit", "{csv}", "-f", "y ~ x", "--seed", "-3"], "seed must be a non-negative integer"),
    "zero-draws": (["fit", "{csv}", "-f", "y ~ x", "--draws", "0"], "--draws must be a positive integer (>= 1); got '0'"),
    "text-tune": (["fit", "{csv}", "-f", "y ~ x", "--tune", "many"], "--tune must be a positive integer; got 'many'"),
    "negative-chains": (["fit", "{csv}", "-f", "y ~ x", "--chains", "-2"], "--chains must be a positive integer"),
    "zero-cores": (["fit", "{csv}", "-f", "y ~ x", "--cores", "0"], "--cores must be a positive integer"),
    "hdi-prob-one": (["fit", "{csv}", "-f", "y ~ x", "--hdi-prob", "1"], "--hdi-prob must be strictly between 0 and 1; got '1'"),
    "hdi-prob-text": (["fit", "{csv}", "-f", "y ~ x", "--hdi-prob", "wide"], "--hdi-prob must be a number in (0, 1)"),
    "save-no-sample": (["fit", "{csv}", "-f", "y ~ x", "--no-sample", "--save", "{tmp}/out"], "cannot be used with --no-sample"),
    "save-existing": (["fit", "{csv}", "-f", "y ~ x", "--save", "{tmp}"], "already exists"),
    "save-missing-parent": (["fit", "{csv}", "-f", "y ~ x", "--save", "{tmp}/a/b"], "does not exist"),
    "perfect-fit": (["fit", "{csv}", "-f", "z ~ x"], "fits 'z' exactly"),
    "unknown-option": (["fit", "{csv}", "--bogus"], "unrecognized arguments: --bogus"),
    "missing-spec": (["run", "models/nope.toml"], "does not exist"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gives_one_line_and_exit_2(capsys, csv_file, case):
    argv, message = BAD_INPUTS[case]
    argv = [a.replace("{csv}", str(csv_file)).replace("{tmp}", str(csv_file.parent)) for a in argv]
    with pytest.raises(SystemExit) if case == "unknown-option" else _no_raise() as info:
        code, out, err = run_cli(capsys, *argv)
    if case == "unknown-option":
        code = info.value.code
        err = capsys.readouterr().err
        out = ""
    assert code == 2
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


class _no_raise:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def test_bad_spec_files(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('data = "engel"\nformla = "foodexp ~ income"\n')
    code, _, err = run_cli(capsys, "run", str(bad))
    assert code == 2 and "unknown key(s) 'formla'" in err
    bad.write_text("data = \n")
    code, _, err = run_cli(capsys, "run", str(bad))
    assert code == 2 and "not valid TOML" in err
    rel = tmp_path / "rel.toml"
    (tmp_path / "mine.csv").write_text("a,b\n1,2\n2,3\n3,5\n4,4\n5,7\n")
    rel.write_text('data = "mine.csv"\nformula = "b ~ a"\nscales = "learned"\nsample = false\n')
    code, out, err = run_cli(capsys, "run", str(rel), "--out", str(tmp_path / "rel.html"))
    assert code == 0, err  # data paths are relative to the spec file
    assert (tmp_path / "rel.html").is_file()


def test_real_process_exit_codes_and_no_traceback(tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    exe = [sys.executable, "-m", "lossbridge.interfaces.cli"]
    bad = subprocess.run([*exe, "fit", str(tmp_path / "none.csv"), "-f", "y ~ x"],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "Traceback" not in bad.stderr
    good = subprocess.run([*exe, "fit", "stackloss", "--json", "--no-sample"], capture_output=True,
                          text=True, env=env)
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["all_certified"] is True


def test_top_level_help_names_every_registered_family_and_simulate(capsys):
    """The description is written out (the registry is not imported for --help): every
    registered family's title must be in it."""
    import re

    from lossbridge.families.registry import FAMILIES

    with pytest.raises(SystemExit):
        main(["--help"])
    text = re.sub(r"\s+", " ", capsys.readouterr().out)
    for family in FAMILIES.values():
        assert family.title in text, family.name
    for word in ("Bernoulli", "Poisson", "negative binomial", "cloglog", "simulate"):
        assert word in text
