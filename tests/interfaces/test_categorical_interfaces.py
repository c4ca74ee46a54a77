"""A categorical response through every interface: one-line errors (exit 2) at the command
line, the TOML spec's ``reference``, the shipped anes96 spec, save/load and
``lossbridge.compare`` of two categorical analyses (and its refusal beside a continuous
one), (the same verdict everywhere: tests/posterior/test_verdict.py).
"""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest

import lossbridge
from lossbridge.core.errors import InputError
from lossbridge.interfaces.cli import main
from lossbridge.posterior.misfit import MISFIT_CODES

from ..posterior.test_verdict import html_headline
from ..present.test_categorical_report import CATEGORICAL_FIGURES, categorical_frame
from .test_cli import ROOT

QUICK = {"draws": 200, "tune": 200, "chains": 2, "cores": 1, "progress": False}


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("categorical")
    rng = np.random.default_rng(3)
    categorical_frame(120).to_csv(folder / "colours.csv", index=False)
    (folder / "one.csv").write_text("y,x\n" + "".join(f"7,{v:.3f}\n" for v in rng.normal(size=12)))
    # 15 levels in 20 rows: 14 x 2 = 28 coefficients for 20 rows
    (folder / "many.csv").write_text("y,x\n" + "".join(f"{i % 15},{v:.3f}\n"
                                                       for i, v in enumerate(rng.normal(size=20))))
    return folder


CATEGORICAL_ERRORS = {
    "mixed-with-normal": (["{d}/colours.csv", "-f", "colour ~ x1", "--likelihood", "categorical",
                           "--likelihood", "normal"],
                          "--likelihood categorical models a categorical response with one "
                          "coefficient vector per level, and cannot be fitted beside normal"),
    "reference-not-a-level": (["{d}/colours.csv", "-f", "colour ~ x1", "--likelihood",
                               "categorical", "--reference", "green"],
                              "reference must be one of the levels of 'colour' ('a&b<i>', "
                              "'blue', 'red'); got 'green'"),
    "reference-without-categorical": (["{d}/colours.csv", "-f", "x2 ~ x1", "--reference", "1"],
                                      "--reference '1' chooses the reference level of a "
                                      "categorical response, but no requested likelihood is "
                                      "categorical (likelihoods: normal, laplace)"),
    "reference-beside-poisson": (["{d}/one.csv", "-f", "y ~ x", "--likelihood", "poisson",
                                    "--reference", "7"], "no requested likelihood is categorical"),
    "one-level": (["{d}/one.csv", "-f", "y ~ x", "--likelihood", "categorical"],
                  "a categorical likelihood needs a response with at least two levels; 'y' has "
                  "one ('7')"),
    "too-many-levels": (["{d}/many.csv", "-f", "y ~ x", "--likelihood", "categorical"],
                        "too few rows: 20 rows for 28 coefficients (2 per level for the 14 "
                        "non-reference levels of 'y')"),
}


@pytest.mark.parametrize("case", list(CATEGORICAL_ERRORS))
def test_categorical_bad_input_gives_one_line_and_exit_2(capsys, files, case):
    argv, message = CATEGORICAL_ERRORS[case]
    code, out, err = run_cli(capsys, "fit", *[a.replace("{d}", str(files)) for a in argv],
                             "--no-sample")
    assert code == 2 and out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_the_cli_prints_classes_and_json_has_them(capsys, files):
    code, out, err = run_cli(capsys, "fit", str(files / "colours.csv"), "-f", "colour ~ x1 + x2",
                             "--likelihood", "categorical", "--reference", "red", "--no-sample",
                             "--quiet")
    assert code == 0, err
    assert "response 'colour': 3 classes, reference 'red'" in out
    assert re.search(r"rows per level of 'colour': red: \d+ \(", out)
    code, out, err = run_cli(capsys, "fit", str(files / "colours.csv"), "-f", "colour ~ x1 + x2",
                             "--likelihood", "categorical", "--reference", "red", "--no-sample",
                             "--json")
    doc = json.loads(out)
    assert doc["data"]["classes"] == ["red", "a&b<i>", "blue"] and doc["data"]["reference"] == "red"
    assert doc["options"]["reference"] == "red"
    assert doc["data"]["terms"][:3] == ["Intercept[a&b<i>]", "x1[a&b<i>]", "x2[a&b<i>]"]


def test_a_toml_spec_sets_the_reference(capsys, files, tmp_path):
    spec = tmp_path / "colours.toml"
    spec.write_text(f'name = "colours"\ndata = "{files / "colours.csv"}"\n'
                    'formula = "colour ~ x1 + x2"\nlikelihoods = ["categorical"]\n'
                    'reference = "blue"\nsample = false\n')
    code, out, err = run_cli(capsys, "run", str(spec), "--json", "--quiet",
                             "--out", str(tmp_path / "colours.html"))
    assert code == 0, err
    doc = json.loads(out)
    assert doc["data"]["reference"] == "blue" and doc["all_certified"] is True
    assert "reference &#39;blue&#39;" in (tmp_path / "colours.html").read_text(encoding="utf-8")


def test_the_bundled_anes96_defaults_to_the_categorical(capsys):
    code, out, err = run_cli(capsys, "fit", "anes96", "--no-sample", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert [f["model"] for f in doc["fits"]] == ["categorical"]
    assert doc["data"]["n"] == 944 and doc["data"]["k"] == 36
    assert doc["data"]["classes"] == [str(level) for level in range(7)]
    assert doc["all_certified"] is True


@pytest.mark.slow
def test_run_the_anes96_spec(capsys, tmp_path):
    """The categorical dataset: a certified multinomial logit, a posterior without
    diagnostic warnings, class-share checks, the categorical figures."""
    report = tmp_path / "anes96.html"
    code, out, err = run_cli(capsys, "run", str(ROOT / "models" / "anes96.toml"), "--json",
                             "--quiet", "--out", str(report))
    assert code == 0, err
    doc = json.loads(out)
    assert doc["all_certified"] is True
    (fit,) = doc["fits"]
    assert fit["model"] == "categorical" and fit["posterior"] is not None
    assert [w for w in doc["warnings"] if w["code"] not in MISFIT_CODES] == []
    assert list(fit["ppc"]["p_values"]) == [f"share {level}" for level in range(7)]
    assert doc["data"]["class_counts"] == {"0": 200, "1": 180, "2": 108, "3": 37, "4": 94,
                                           "5": 150, "6": 175}  # statsmodels' anes96, counted
    html = report.read_text(encoding="utf-8")
    alts = re.findall(r'<img [^>]*alt="([^"]*)"', html)
    assert alts == CATEGORICAL_FIGURES
    assert html_headline(html) == doc["verdict"]["headline"]


@pytest.fixture(scope="module")
def two_formulas():
    frame = categorical_frame(200, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # low ESS at 2 x 200 draws: not what is tested here
        full = lossbridge.fit(frame, "colour ~ x1 + x2", likelihoods="categorical", seed=2, **QUICK)
        small = lossbridge.fit(frame, "colour ~ x1", likelihoods="categorical", seed=2, **QUICK)
        normal = lossbridge.fit(frame, "x2 ~ x1", likelihoods="normal", seed=2, **QUICK)
    return full, small, normal


@pytest.mark.slow
def test_save_load_and_compare_two_categorical_analyses(two_formulas, tmp_path):
    full, small, _ = two_formulas
    saved = lossbridge.load(full.save(tmp_path / "full"))
    assert saved.document["data"]["classes"] == list(full.design.classes)
    assert saved.document["data"]["class_counts"] == full.design.class_counts()
    assert saved.models == ["categorical"]
    assert "3 classes (reference 'a&b<i>')" in repr(saved)
    # the loaded pointwise elpd is the live one, exactly
    np.testing.assert_array_equal(saved.loo["categorical"].elpd_pointwise,
                                  full.fits[0].posterior.loo.elpd_pointwise)
    live = lossbridge.compare(full, small, labels=["full", "small"])
    loaded = lossbridge.compare(saved, small, labels=["full", "small"])
    assert list(live.table.index) == list(loaded.table.index)
    assert live.verdict.headline == loaded.verdict.headline
    np.testing.assert_allclose(loaded.table["elpd_loo"], live.table["elpd_loo"], rtol=1e-12)
    # x2 is in the law that drew y (coefficients -0.5 and 0.7): the full model predicts better
    assert live.verdict.ranking[0] == "full: categorical"
    assert "full: categorical" in live.verdict.headline and "nats/obs" in live.verdict.headline


@pytest.mark.slow
def test_compare_refuses_a_categorical_beside_a_continuous_analysis(two_formulas, tmp_path):
    full, _, normal = two_formulas
    with pytest.raises(InputError, match=r"^compare: the models mix density kinds \(discrete: "
                                         r"A: categorical; continuous: B: normal-learned") as e:
        lossbridge.compare(full, normal)
    assert "\n" not in str(e.value)
    saved = lossbridge.load(full.save(tmp_path / "full"))
    with pytest.raises(InputError, match="mix density kinds"):
        lossbridge.compare(saved, normal)


def test_the_python_api_takes_the_reference():
    frame = categorical_frame(120)
    analysis = lossbridge.fit(frame, "colour ~ x1", likelihoods="categorical", reference="blue",
                              sample=False, progress=False)
    assert analysis.design.classes == ("blue", "a&b<i>", "red")
    assert analysis.options["reference"] == "blue"
    assert list(analysis.coefficients().index) == ["Intercept[a&b<i>]", "x1[a&b<i>]",
                                                   "Intercept[red]", "x1[red]"]
    with pytest.raises(InputError, match=r"^reference must be one of the levels of 'colour'"):
        lossbridge.fit(frame, "colour ~ x1", likelihoods="categorical", reference="green",
                       sample=False, progress=False)


def test_a_simulated_sidecar_is_left_aside_for_a_categorical_and_refused_when_named(
        capsys, tmp_path):
    """The exact cross-entropy table is for one linear predictor per row: a sidecar found
    beside the CSV does not stop a categorical fit (it used to fail as 'not these data',
    the hash being of the level names), and naming it is refused in one line."""
    out = tmp_path / "logistic.csv"
    code, _, err = run_cli(capsys, "simulate", "--law", "logistic", "--n", "200", "--seed", "1",
                           "--out", str(out))
    assert code == 0, err
    code, text, err = run_cli(capsys, "fit", str(out), "-f", "y ~ x1",
                              "--likelihood", "categorical", "--no-sample")
    assert code == 0, err
    assert "multinomial logit" in text
    code, _, err = run_cli(capsys, "fit", str(out), "-f", "y ~ x1", "--likelihood",
                           "categorical", "--no-sample", "--truth",
                           str(out.with_suffix(".law.json")))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "one linear predictor per row" in err
