"""``lossbridge batch`` on a real Dask LocalCluster (2 worker processes, small draws).

The slow tests share one cluster (module scope): a grouped run on the bundled anes96
checked against each group fitted alone with the same seed, resume after an interrupted
batch, a failing group and a manifest row with a bad option reported while the others
finish, a simulation study, and a worker killed mid-run. The fast ones check the entries,
their hashes, the summary and index, and the bad-input errors without a cluster.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import time
from pathlib import Path

import pandas as pd
import pytest

import lossbridge
from lossbridge.core.errors import InputError
from lossbridge.data.datasets import bundled_path
from lossbridge.data.replicates import replicate_seeds, simulate_replicates
from lossbridge.interfaces import batch as batch_module
from lossbridge.interfaces.batch import Outcome, entries_of
from lossbridge.interfaces.batch_entries import (
    Entry,
    EntryError,
    checked_entry,
    data_digest,
    grouped_entries,
    source_entries,
)
from lossbridge.interfaces.batch_summary import study_statistics, summary_frame
from lossbridge.interfaces.cli import main
from lossbridge.posterior.study import NOT_COVERED, Proportion, Replicate, coverages, pick_rates
from lossbridge.present.batch_report import render_index

FIT = {"formula": "selfLR ~ age", "likelihoods": ["normal", "laplace"], "scales": "learned",
       "draws": 100, "tune": 100, "chains": 2}


def _groups() -> pd.DataFrame:
    """anes96's three lowest income groups (12 to 19 rows) and a one-row group 99,
    too small to fit (2 coefficients need n > 3)."""
    frame = pd.read_csv(bundled_path("anes96"))
    small = frame[frame.income <= 3]
    extra = small.iloc[:1].copy()
    extra["income"] = 99.0
    return pd.concat([small, extra], ignore_index=True)


def _no_temporaries(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.name.endswith((".tmp", ".old"))]


def _comparable(document: dict) -> dict:
    return {k: v for k, v in document.items() if k not in ("timing", "batch_entry")}


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           env=dict(batch_module.WORKER_ENV), dashboard_address=None)
    with Client(cluster) as c:
        yield c
    cluster.close()


# ----------------------------------------------------------------------------- with a cluster
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::lossbridge.SamplingWarning")
def test_grouped_run_matches_each_group_alone(client, tmp_path):
    frame = _groups()
    result = lossbridge.batch(frame, by="income", out=tmp_path / "out", client=client,
                              progress=False, **FIT)
    status = {o.name: o.status for o in result.outcomes}
    assert status == {"income=1": "done", "income=2": "done", "income=3": "done",
                      "income=99": "failed"}
    failed = result.failed[0]
    assert "too few rows: 1 rows for 2 coefficients" in failed.error
    assert "\n" not in failed.error  # one line
    out = tmp_path / "out"
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["entry"]) == ["income=1", "income=2", "income=3", "income=99"]
    parquet = pd.read_parquet(out / "summary.parquet")
    pd.testing.assert_frame_equal(parquet.reset_index(drop=True), result.summary, check_dtype=False)
    index = (out / "index.html").read_text()
    for outcome in result.outcomes:
        assert outcome.name in index
    assert 'href="entries/income%3D1-' in index
    assert not _no_temporaries(out)
    # Each group alone, with the seed the batch recorded: the same analysis.
    for outcome in result.outcomes:
        if outcome.status != "done":
            continue
        stored = json.loads((out / "entries" / f"{outcome.slug}.json").read_text())
        rows = frame[frame.income == outcome.group["income"]].reset_index(drop=True)
        alone = lossbridge.fit(rows, **FIT, seed=outcome.seed, cores=1, progress=False)
        from lossbridge.core.jsonio import dumps

        assert _comparable(stored) == _comparable(json.loads(dumps(alone.to_dict())))
        assert (out / "entries" / f"{outcome.slug}.html").read_text().startswith("<!DOCTYPE html>")
        row = summary[summary.entry == outcome.name].iloc[0]
        assert row["best"] == stored["comparison"][0]["model"]
        assert math.isclose(row[f"elpd[{row['best']}]"], stored["comparison"][0]["elpd_loo"],
                            rel_tol=1e-15)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::lossbridge.SamplingWarning")
def test_resume_after_interruption(client, tmp_path):
    frame = _groups()
    out = tmp_path / "out"
    seen: list[str] = []

    def stop(outcome: Outcome) -> None:
        seen.append(outcome.name)
        raise KeyboardInterrupt  # as Ctrl-C after the first result is written

    with pytest.raises(KeyboardInterrupt):
        lossbridge.batch(frame, by="income", out=out, client=client, progress=False,
                         on_outcome=stop, **FIT)
    written = sorted(p.name for p in (out / "entries").iterdir())
    assert not _no_temporaries(out)
    assert not (out / "summary.csv").exists()  # the batch did not finish
    # The refused group (99) was recorded before the run; one analysis came back.
    finished = [name for name in written if name.endswith(".json") and ".error" not in name]
    assert len(finished) == 1 and len(seen) == 1
    first = out / "entries" / finished[0]
    before = first.read_bytes(), first.stat().st_mtime_ns
    result = lossbridge.batch(frame, by="income", out=out, client=client, progress=False, **FIT)
    status = [o.status for o in result.outcomes]
    assert status.count("resumed") == 1 and status.count("done") == 2
    assert status.count("failed") == 1
    assert (first.read_bytes(), first.stat().st_mtime_ns) == before  # not run again
    summary = pd.read_csv(out / "summary.csv")
    assert summary["entry"].is_unique and len(summary) == 4
    assert sorted(p.name for p in (out / "entries").iterdir() if p.suffix == ".json") == sorted(
        [f"{o.slug}.json" for o in result.outcomes if o.status != "failed"]
        + [f"{o.slug}.error.json" for o in result.outcomes if o.status == "failed"])
    # A third run has nothing to do: every result is there under the same hash.
    again = lossbridge.batch(frame, by="income", out=out, client=client, progress=False, **FIT)
    assert [o.status for o in again.outcomes].count("resumed") == 3
    # An output asked for now but missing (its report) makes the entry unfinished: run again,
    # unless the run does not ask for it.
    resumed = next(o for o in again.outcomes if o.status == "resumed")
    report = out / "entries" / f"{resumed.slug}.html"
    report.unlink()
    without = lossbridge.batch(frame, by="income", out=out, client=client, progress=False,
                               reports=False, **FIT)
    assert [o.status for o in without.outcomes].count("resumed") == 3
    with_reports = lossbridge.batch(frame, by="income", out=out, client=client, progress=False, **FIT)
    assert [o.status for o in with_reports.outcomes].count("done") == 1 and report.is_file()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::lossbridge.SamplingWarning")
def test_manifest_with_a_bad_row_and_simulation_study(client, tmp_path):
    _, gauss = simulate_replicates("gaussian", 2, tmp_path / "gauss.csv", seed=11, n=60)
    _, lap = simulate_replicates("laplace", 2, tmp_path / "lap.csv", seed=12, n=60)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,data,draws\nbroken,gauss-001.csv,2\n")
    result = lossbridge.batch([gauss, lap, bad], out=tmp_path / "out", client=client,
                              progress=False, likelihoods=["normal", "laplace"], scales="learned",
                              draws=100, tune=100, chains=2, posteriors=True)
    status = {o.name: o.status for o in result.outcomes}
    assert status == {"gauss-001": "done", "gauss-002": "done", "lap-001": "done",
                      "lap-002": "done", "broken": "failed"}
    error = result.failed[0].error
    assert error.startswith(f"manifest {bad} row 2: draws must be at least 4") and "'2'" not in error
    record = json.loads((tmp_path / "out" / "batch.json").read_text())
    study = record["study"]
    assert study["replicates"] == 4
    # The study's figures, recomputed from the stored analyses.
    hits = {"gaussian": 0, "laplace": 0}
    covered = {}
    for outcome in result.outcomes:
        if outcome.status != "done":
            continue
        law = "gaussian" if outcome.name.startswith("gauss") else "laplace"
        winner = outcome.document["comparison"][0]["model"]
        family = next(f["likelihood"] for f in outcome.document["fits"] if f["model"] == winner)
        hits[law] += family == {"gaussian": "normal", "laplace": "laplace"}[law]
        sidecar = json.loads((tmp_path / f"{outcome.name}.law.json").read_text())
        for fit in outcome.document["fits"]:
            for term, truth in sidecar["beta"].items():
                if term in NOT_COVERED:  # the intercept's target differs between likelihoods
                    continue
                p = fit["posterior"][term]
                key = (law, fit["model"], term)
                covered[key] = covered.get(key, 0) + (p["hdi_low"] <= truth <= p["hdi_high"])
    for row in study["pick_rates"]:
        p = hits[row["law"]] / 2
        assert (row["successes"], row["trials"]) == (hits[row["law"]], 2)
        assert row["se"] == pytest.approx(math.sqrt(p * (1 - p) / 2), abs=1e-15)
    assert {(c["law"], c["model"], c["term"]): c["successes"] for c in study["coverage"]} == covered
    assert "Simulation study (4 replicates)" in (tmp_path / "out" / "index.html").read_text()
    # The saved posteriors load as fit's --save folder does, with the same analysis.
    first = result.outcomes[0]
    saved = lossbridge.load(tmp_path / "out" / "entries" / f"{first.slug}.posteriors")
    assert sorted(saved.models) == ["laplace-learned", "normal-learned"]
    assert _comparable(saved.document) == _comparable(first.document)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::lossbridge.SamplingWarning")
def test_runs_on_a_scheduler_address(client, tmp_path, monkeypatch):
    """An existing cluster by its address (as --scheduler / DASK_SCHEDULER_ADDRESS): the
    batch's own client is closed afterwards, the cluster is left running."""
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", client.scheduler.address)
    def clients():
        return client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.clients))

    before, connected = len(client.run(os.getpid)), clients()
    frame = _groups().query("income == 1")
    result = lossbridge.batch(frame, by="income", out=tmp_path / "out", progress=False,
                              reports=False, **FIT)
    assert [o.status for o in result.outcomes] == ["done"]
    assert len(client.run(os.getpid)) == before  # the workers are still there
    for _ in range(50):  # the batch's client is gone (its departure reaches the scheduler)
        if clients() == connected:
            break
        time.sleep(0.1)
    assert clients() == connected


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::lossbridge.SamplingWarning")
def test_worker_killed_mid_run(client, tmp_path):
    frame = _groups()
    killed: list[str] = []
    pids = client.run(os.getpid)

    def kill_one(outcome: Outcome) -> None:
        if killed:
            return
        for _ in range(100):  # a worker with an analysis under way
            busy = [w for w, keys in client.processing().items() if keys]
            if busy:
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(busy[0])
                return
            time.sleep(0.05)

    out = tmp_path / "out"
    result = lossbridge.batch(frame[frame.income != 99], by="income", out=out, client=client,
                              progress=False, on_outcome=kill_one, reports=False,
                              **{**FIT, "seed": 3})
    assert killed, "no worker was busy to be killed"
    assert [o.status for o in result.outcomes] == ["done"] * 3
    assert not _no_temporaries(out)
    assert not list(out.glob("entries/*.html")) and result.summary["report"].isna().all()
    for outcome in result.outcomes:
        json.loads((out / "entries" / f"{outcome.slug}.json").read_text())  # whole files


# ----------------------------------------------------------------------------- no cluster
def test_bundled_anes96_has_at_least_20_income_groups():
    entries = grouped_entries("anes96", ["income"], {})
    assert len(entries) == 24
    assert entries[0].name == "income=1" and len(entries[0].data) == 19
    assert sum(len(e.data) for e in entries) == 944


def test_groups_of_a_bundled_dataset_take_its_defaults():
    (first, *_) = grouped_entries("anes96", ["educ"], {})
    assert first.options == {"formula": "PID ~ logpopul + selfLR + age + educ + income",
                             "likelihoods": ["categorical"]}
    (given, *_) = grouped_entries("anes96", ["educ"], {"formula": "selfLR ~ age"})
    assert given.options == {"formula": "selfLR ~ age", "likelihoods": ["categorical"]}


def test_a_toml_spec_is_one_entry_whose_own_keys_win():
    spec = Path(__file__).resolve().parents[2] / "models" / "engel.toml"
    (entry,) = source_entries(spec, {"draws": 50, "seed": 1})
    assert (entry.name, entry.data) == ("engel", "engel")
    assert entry.options == {"draws": 50, "seed": 20261201, "formula": "foodexp ~ income",
                             "likelihoods": ["normal", "laplace"], "scales": "both",
                             "priors": "flat"}


def test_unknown_by_column():
    with pytest.raises(InputError, match=r"^--by 'nosuch': no such column in anes96 \(bundled\); "
                                         r"columns: popul, TVnews"):
        grouped_entries("anes96", ["nosuch"], {})


def test_hash_follows_data_formula_options_and_seed():
    frame = _groups()
    def entry(options, rows=frame):
        return Entry("g", rows, options, "group g")

    base = entry({"formula": "selfLR ~ age", "draws": 100})
    first = checked_entry(base)
    assert checked_entry(base) == first  # stable, and the derived seed too
    assert 0 <= first.seed < 2**32
    assert checked_entry(entry({**base.options, "cores": 2})).digest == first.digest
    changed = [entry({**base.options, "seed": first.seed + 1}),
               entry({**base.options, "formula": "selfLR ~ educ"}),
               entry({**base.options, "draws": 101}),
               entry(base.options, frame.assign(age=frame.age.where(frame.index != 0, 0)))]
    assert len({first.digest, *(checked_entry(e).digest for e in changed)}) == 5
    # The seed derived is recorded: giving it explicitly is the same analysis.
    assert checked_entry(entry({**base.options, "seed": first.seed})).digest == first.digest


def test_manifests_toml_and_csv(tmp_path):
    (tmp_path / "d.csv").write_text("x,y\n1,2\n2,3\n3,5\n4,4\n5,7\n")
    (tmp_path / "m.csv").write_text(
        'name,data,formula,draws,likelihoods\n'
        'a,d.csv,y ~ x,200,"[""normal"", ""laplace""]"\n'
        'b,d.csv,,,\n'
        'c,d.csv,,,\n')
    entries = source_entries(tmp_path / "m.csv", {"draws": 50})
    a, b, c = entries
    assert a.data == str(tmp_path / "d.csv")
    assert a.options == {"draws": 200, "formula": "y ~ x", "likelihoods": ["normal", "laplace"]}
    assert b.options == {"draws": 50} and c.name == "c"
    (tmp_path / "m.toml").write_text('[defaults]\ndraws = 30\n[[entry]]\nname = "e"\ndata = '
                                     '"d.csv"\n[[entry]]\nname = "f"\ndata = "d.csv"\nbogus = 1\n')
    e, f = source_entries(tmp_path / "m.toml", {})
    assert isinstance(e, Entry) and e.options == {"draws": 30}
    assert isinstance(f, EntryError) and "unknown key(s) 'bogus'" in f.error
    with pytest.raises(InputError, match="has no 'data' column"):
        source_entries(tmp_path / "d.csv", {})


def test_unreachable_scheduler_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(batch_module, "SCHEDULER_TIMEOUT", 1)
    with pytest.raises(InputError, match=r"^--scheduler 'tcp://127.0.0.1:9': cannot reach a Dask "
                                         r"scheduler there within 1 s"):
        lossbridge.batch(_groups(), by="income", out=tmp_path / "out",
                         scheduler="tcp://127.0.0.1:9", progress=False, **FIT)
    assert not (tmp_path / "out").exists()
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:9")
    with pytest.raises(InputError, match=r"^DASK_SCHEDULER_ADDRESS 'tcp://127.0.0.1:9': cannot"):
        lossbridge.batch(_groups(), by="income", out=tmp_path / "out", progress=False, **FIT)
    assert not (tmp_path / "out").exists()


def test_results_folder_must_be_a_batch_folder(tmp_path):
    (tmp_path / "other.txt").write_text("mine")
    with pytest.raises(InputError, match="is a folder with other files in it"):
        lossbridge.batch(_groups(), by="income", out=tmp_path, progress=False, **FIT)


def test_cli_bad_input_exits_2(capsys, tmp_path):
    code = main(["batch", "anes96", "--by", "nosuch", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--by 'nosuch'" in err
    code = main(["batch", "anes96", "--by", "income", "--draws", "2", "--out", str(tmp_path / "o")])
    assert code == 2 and "--draws must be at least 4" in capsys.readouterr().err
    code = main(["batch", "anes96", "--by", "income", "--workers", "0", "--out", str(tmp_path / "o")])
    assert code == 2 and "--workers" in capsys.readouterr().err


def test_cli_batch_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["batch", "--help"])
    text = capsys.readouterr().out
    assert exit_.value.code == 0
    for flag in ("--by COLUMN", "--workers N", "--scheduler tcp://HOST:PORT", "--save-posteriors",
                 "--no-reports", "--draws"):
        assert flag in text
    assert "(1000)" in text  # the declared default of --draws, named although not filled in


def test_entries_need_by_for_a_data_file():
    with pytest.raises(InputError, match="'anes96' does not exist or is not a file"):
        entries_of("anes96")


def test_binomial_proportions_by_hand():
    assert Proportion(7, 20).se == pytest.approx(math.sqrt(0.35 * 0.65 / 20), rel=1e-15)
    assert Proportion(20, 20).se == 0.0
    reps = [Replicate("gaussian", {"x1": 2.0, "Intercept": 1.0}, "normal",
                      {"m": {"x1": (1.5, 2.5), "Intercept": (5.0, 6.0)}}),  # intercept not counted
            Replicate("gaussian", {"x1": 2.0}, "laplace", {"m": {"x1": (2.1, 2.5)}}),
            Replicate("gaussian", {"x1": 2.0}, None, {"m": {"x1": (1.0, 2.0)}}),
            Replicate("skewed", {"x1": 2.0}, "normal", {"m": {"x1": (0.0, 1.0)}})]
    assert pick_rates(reps) == {"gaussian": Proportion(1, 3)}  # no family holds 'skewed'
    assert coverages(reps) == {("gaussian", "m", "x1"): Proportion(2, 3),
                               ("skewed", "m", "x1"): Proportion(0, 1)}


def test_simulated_replicates_and_manifest(tmp_path):
    simulations, manifest = simulate_replicates("student-t", 3, tmp_path / "t.csv", seed=5, n=20)
    assert manifest == tmp_path / "t.manifest.csv"
    assert [s.seed for s in simulations] == replicate_seeds(5, 3)
    assert len(set(replicate_seeds(5, 3))) == 3
    rows = pd.read_csv(manifest)
    assert list(rows["name"]) == ["t-001", "t-002", "t-003"]
    for name in rows["data"]:
        side = json.loads((tmp_path / name.replace(".csv", ".law.json")).read_text())
        assert side["law"]["name"] == "student-t"
    again, _ = simulate_replicates("student-t", 3, tmp_path / "u.csv", seed=5, n=20)
    assert [s.csv() for s in again] == [s.csv() for s in simulations]
    entries = source_entries(manifest, {})
    assert [e.data for e in entries] == [str(tmp_path / n) for n in rows["data"]]
    # the sidecar beside the data is part of the data's hash
    before = data_digest(entries[0].data)
    (tmp_path / "t-001.law.json").write_text("{}")
    assert data_digest(entries[0].data) != before


def test_simulate_replicates_bad_input(capsys, tmp_path):
    for value in ("0", "x", "2.5"):
        code = main(["simulate", "--law", "gaussian", "--replicates", value, "--out",
                     str(tmp_path / "s.csv")])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("lossbridge: error: --replicates must be an integer")
    assert not list(tmp_path.iterdir())


def test_index_escapes_user_text():
    hostile = '<script>alert("x")</script>'
    outcome = Outcome(hostile, "s-1", "failed", {"g": hostile}, error=f"bad {hostile}")
    zip_code = Outcome("z", "z-1", "failed", {"g": 10001.0}, error="e")
    rows = summary_frame([outcome, zip_code], ["g"]).to_dict("records")
    html = render_index(rows, ["g"], None, {"entries": 2, "done": 0, "resumed": 0, "failed": 2,
                                            "seconds": 0.1, "command": hostile})
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<td>10001</td>" in html  # a group value as written, not 1e+04
    assert study_statistics([outcome]) is None


@pytest.mark.slow
def test_cli_interrupted_by_sigint_then_resumed(tmp_path):
    """A real ``lossbridge batch`` process: SIGINT after its first result ends it with 130,
    its local cluster's processes gone and no temporary left; the same command resumes."""
    import subprocess
    import sys

    import psutil

    data = tmp_path / "groups.csv"
    _groups().query("income != 99").to_csv(data, index=False)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "lossbridge", "batch", str(data), "--by", "income",
               "--formula", FIT["formula"], "--likelihood", "normal", "--likelihood", "laplace",
               "--scale", "learned", "--draws", "100", "--tune", "100", "--chains", "2",
               "--workers", "2", "--no-reports", "--progress", "--out", str(out)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore",
           "PYTHONPATH": str(Path(lossbridge.__file__).resolve().parents[1])}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not list(out.glob("entries/*.json")):
        time.sleep(0.1)
    children = psutil.Process(process.pid).children(recursive=True)
    assert children, "the local cluster's processes"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130
    lines = err.strip().splitlines()
    assert lines[-1] == "lossbridge: interrupted"
    assert lines[0].startswith("lossbridge batch: local cluster of 2 worker process(es), ")
    assert any(re.fullmatch(r"\[#* *\] [1-3] done, 0 failed, [0-2] remaining; elapsed "
                            r"\d+m\d\ds, ETA \d+m\d\ds", line) for line in lines)
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive
    assert not _no_temporaries(out)
    kept = len(list(out.glob("entries/*.json")))
    assert 1 <= kept <= 3
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"3 analyses: 3 finished ({kept} resumed), 0 failed" in again.stdout


def test_index_figures_draw_dollar_signs_literally():
    """Group values and model names go to matplotlib labels, where an unescaped ``$`` starts
    mathtext: "$\\frac$" raised ValueError (and, the summary being written in one step,
    left the user with no summary at all); "$10k-$20k" was typeset."""
    from lossbridge.present import batch_report

    names = ["grp=$\\frac$", "$10k-$20k"]
    rows = [{"entry": name, "best": f"model {name}", "runner_up_diff": 1.5, "runner_up_dse": 0.5}
            for name in names]
    assert batch_report._winners_figure(rows) is not None
    assert batch_report._differences_figure(rows) is not None
    assert batch_report._warnings_figure({name: {"low_$ess$": 1} for name in names}) is not None
    study = {"pick_rates": [{"law": "$x$", "rate": 0.5, "se": 0.1}],
             "coverage": [{"law": "$a", "model": "$\\frac$", "term": "x", "rate": 0.9, "se": 0.05}],
             "hdi_prob": 0.94}
    assert batch_report._study_figure(study) is not None
    assert batch_report._plain("$10k-$20k") == "\\$10k-\\$20k"
