"""`lossbridge simulate` and `fit --truth` on the command line; the truth in JSON and HTML."""

from __future__ import annotations

import json

import pytest

from lossbridge.core.errors import InputError
from lossbridge.interfaces.cli import main


def test_simulate_writes_csv_and_sidecar(tmp_path, capsys):
    out = tmp_path / "d.csv"
    assert main(["simulate", "--law", "student-t", "--nu", "4", "--sigma", "2", "--n", "20",
                 "--seed", "3", "--beta", "1,2,3", "--out", str(out)]) == 0
    assert "seed 3" in capsys.readouterr().out
    side = json.loads((tmp_path / "d.law.json").read_text())
    assert side["law"] == {"name": "student-t", "nu": 4.0, "sigma": 2.0}
    assert side["beta"] == {"Intercept": 1.0, "x1": 2.0, "x2": 3.0} and side["seed"] == 3
    first = out.read_bytes()
    assert main(["simulate", "--law", "student-t", "--nu", "4", "--sigma", "2", "--n", "20",
                 "--seed", "3", "--beta", "1,2,3", "--out", str(out)]) == 0
    assert out.read_bytes() == first


def test_simulate_without_seed_records_one(tmp_path):
    assert main(["simulate", "--law", "poisson", "--n", "5", "--out", str(tmp_path / "p.csv")]) == 0
    assert isinstance(json.loads((tmp_path / "p.law.json").read_text())["seed"], int)


@pytest.mark.parametrize("words", [
    ["--law", "cauchy"], ["--law", "gaussian", "--sigma", "-1"], ["--law", "student-t", "--nu", "0"],
    ["--law", "contaminated", "--eps", "2"], ["--law", "gaussian", "--n", "1"],
    ["--law", "gaussian", "--n", "ten"], ["--law", "gaussian", "--sigma", "x"],
    ["--law", "laplace", "--nu", "3"], ["--law", "gaussian", "--beta", "1,,2"],
])
def test_simulate_bad_input_is_exit_2(tmp_path, capsys, words):
    assert main(["simulate", *words, "--out", str(tmp_path / "d.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lossbridge: error:") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_simulate_refuses_a_directory_target(tmp_path, capsys):
    (tmp_path / "d.csv").mkdir()
    assert main(["simulate", "--law", "gaussian", "--out", str(tmp_path / "d.csv")]) == 2
    assert "directory" in capsys.readouterr().err


def test_fit_uses_the_sidecar_and_reports_the_truth(tmp_path, capsys):
    out = tmp_path / "counts.csv"
    assert main(["simulate", "--law", "poisson", "--n", "200", "--seed", "2", "--beta", "0.5,0.4",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["fit", str(out), "--likelihood", "poisson", "--no-sample", "--json",
                 "--quiet"]) == 0
    document = json.loads(capsys.readouterr().out)
    truth = document["truth"]
    assert "found beside the data" in truth["source"] and truth["law"] == "poisson"
    assert truth["closest"] == "poisson" and truth["models"][0]["kl"] >= 0
    assert document["options"]["truth"] == str(tmp_path / "counts.law.json")
    assert main(["fit", str(out), "--formula", "y ~ x1", "--likelihood", "poisson",
                 "--no-sample", "--json", "--quiet", "--truth", "none"]) == 0
    assert json.loads(capsys.readouterr().out)["truth"] is None
    assert main(["fit", str(out), "--likelihood", "poisson", "--no-sample", "--quiet",
                 "--truth", str(tmp_path / "missing.json")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_truth_section_in_the_html_report_is_escaped(tmp_path):
    import lossbridge
    from lossbridge.present.report import render_html

    folder = tmp_path / "<b>x"
    folder.mkdir()
    path = folder / "d.csv"
    lossbridge.simulate("poisson", n=100, seed=1, beta=(0.3, 0.2)).write(path)
    analysis = lossbridge.fit(str(path), likelihoods="poisson", sample=False)
    html = render_html(analysis)
    assert 'id="truth"' in html and "exact cross-entropy" in html
    assert "<b>x" not in html and "&lt;b&gt;x" in html


def test_toml_truth_key_is_relative_to_the_spec(tmp_path):
    from lossbridge.interfaces.runspec import load_spec

    (tmp_path / "models").mkdir()
    spec = tmp_path / "models" / "s.toml"
    spec.write_text('data = "d.csv"\ntruth = "d.law.json"\n')
    assert load_spec(spec).options["truth"] == str(tmp_path / "models" / "d.law.json")
    spec.write_text('data = "d.csv"\ntruth = "none"\n')
    assert load_spec(spec).options["truth"] == "none"
    spec.write_text('data = "d.csv"\ntruth = 3\n')
    with pytest.raises(InputError, match="truth must be the path"):
        load_spec(spec)


@pytest.mark.parametrize("beta", ["800,1", "34,3", "1e300,1e300"])
def test_simulate_refuses_an_overflowing_poisson_mean(tmp_path, capsys, beta):
    # exp(800) is beyond numpy's Poisson sampler ("lam value too large"); 34 + 3 x1 reaches
    # past log(1e15) = 34.54 for x1 > 0.18 (n = 200 N(0, 1) predictors: certain)
    assert main(["simulate", "--law", "poisson", f"--beta={beta}", "--out",
                 str(tmp_path / "d.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--beta" in err
    assert list(tmp_path.iterdir()) == []


def test_poisson_mean_just_below_the_cap_is_simulated(tmp_path):
    # intercept-only at log(1e15) - 0.01: every row's mean is 0.99e15, accepted
    assert main(["simulate", "--law", "poisson", "--beta=34.53", "--n", "5", "--seed", "1",
                 "--out", str(tmp_path / "d.csv")]) == 0


def _simulated(tmp_path):
    path = tmp_path / "d.csv"
    assert main(["simulate", "--law", "gaussian", "--n", "50", "--seed", "3", "--out",
                 str(path)]) == 0
    return path


@pytest.mark.parametrize("change", ["scale y", "drop a row", "old sidecar"])
def test_fit_refuses_a_sidecar_that_does_not_match_the_data(tmp_path, capsys, change):
    path = _simulated(tmp_path)
    side = tmp_path / "d.law.json"
    lines = path.read_text().splitlines()
    if change == "scale y":  # y multiplied by 1000: same n, other hash
        rows = [line.rsplit(",", 1) for line in lines[1:]]
        lines = [lines[0]] + [f"{x},{float(y) * 1000!r}" for x, y in rows]
        path.write_text("\n".join(lines) + "\n")
    elif change == "drop a row":
        path.write_text("\n".join(lines[:-1]) + "\n")
    else:  # a sidecar written before the hash was recorded
        content = json.loads(side.read_text())
        del content["y_hash"]
        side.write_text(json.dumps(content))
    capsys.readouterr()
    assert main(["fit", str(path), "--no-sample", "--likelihood", "normal"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "d.law.json" in err and "--truth none" in err
    assert {"scale y": "hash", "drop a row": "n = 50", "old sidecar": "no hash"}[change] in err
    # --truth none fits these data without the law
    assert main(["fit", str(path), "--no-sample", "--likelihood", "normal", "--formula",
                 "y ~ x1", "--truth", "none"]) == 0
    assert "Truth:" not in capsys.readouterr().out


def test_truth_none_without_formula_names_the_sidecars_formula(tmp_path, capsys):
    path = _simulated(tmp_path)
    capsys.readouterr()
    assert main(["fit", str(path), "--no-sample", "--truth", "none"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--formula 'y ~ x1'" in err and "d.law.json" in err
