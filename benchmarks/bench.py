"""lossbridge benchmark: lossbridge beside plain baselines, measured in one run.

    python benchmarks/bench.py            # full run (make bench), about 20-30 minutes
    python benchmarks/bench.py --quick    # tiny sizes, seconds; the test suite runs this

Every measurement runs in a fresh Python process (so peak memory is per case and the
import cost is the same for both sides); expensive cases get one warm-up run first
(PyTensor's compile cache, as a user re-running an analysis has it) and the median of
several repetitions is reported. The whole-process cases (``cli_*``, ``family_*``,
``plain_script``, ``quantreg_script``) are what a user runs: the child process reads a
CSV the driver wrote beforehand and does the whole job, and their figure is the wall time
of that process, interpreter start and imports included (``process_seconds``); the
other cases time the work inside the process, imports excluded (``seconds``). Results go
to benchmarks/results/bench.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
K = 4  # columns of X: intercept + 3 predictors
SEED = 20261201


# ----------------------------------------------------------------------------- data
def synthetic(n: int, noise: str, seed: int = SEED):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed + n)
    predictors = rng.normal(size=(n, K - 1))
    beta = np.array([1.0, 2.0, -3.0, 0.5])
    eps = rng.laplace(size=n) if noise == "laplace" else rng.normal(size=n)
    y = beta[0] + predictors @ beta[1:] + eps
    frame = pd.DataFrame(predictors, columns=[f"x{j}" for j in range(1, K)])
    frame["y"] = y
    X = np.column_stack([np.ones(n), predictors])
    return frame, "y ~ x1 + x2 + x3", X, y


def counts(n: int, kind: str, seed: int = SEED):
    """Counts (Poisson, mean exp(0.3 + 0.2 x1 - 0.3 x2 + 0.1 x3)) or a binary y (logit of
    0.2 + x1 - 0.5 x2 + 0.25 x3) on the same predictors as :func:`synthetic`."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed + n + 7)
    predictors = rng.normal(size=(n, K - 1))
    if kind == "counts":
        y = rng.poisson(np.exp(0.3 + predictors @ np.array([0.2, -0.3, 0.1])))
    else:
        p = 1.0 / (1.0 + np.exp(-(0.2 + predictors @ np.array([1.0, -0.5, 0.25]))))
        y = (rng.uniform(size=n) < p).astype(int)
    frame = pd.DataFrame(predictors, columns=[f"x{j}" for j in range(1, K)])
    frame["y"] = y
    return frame


# The response each family is benchmarked on.
FAMILY_DATA = {"quantile": "laplace", "huber": "laplace", "student": "laplace",
               "poisson": "counts", "negbin": "counts", "bernoulli": "binary"}
FORMULA = "y ~ x1 + x2 + x3"


def data_file(folder: Path, n: int, kind: str) -> Path:
    """The CSV a whole-process case reads (written once per run, before any timing)."""
    path = folder / f"{kind}-{n}.csv"
    if not path.exists():
        frame = synthetic(n, kind)[0] if kind in ("laplace", "normal") else counts(n, kind)
        frame.to_csv(path, index=False)
    return path


def peak_mb() -> float:
    """Upper bound of the case's peak memory: its own peak plus that of its largest chain
    worker once per worker that can run at the same time (getrusage only gives maxima)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    largest_worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    concurrent_workers = min(4, os.cpu_count() or 1)  # 4 chains, one process per core
    return (own + concurrent_workers * largest_worker) / 1024.0


# ----------------------------------------------------------------------------- cases (children)
def _cli_json(arguments: list[str]) -> dict:
    """``lossbridge`` run in this process (the child is the user's process: interpreter
    start, imports, CSV reading and output included in the driver's process_seconds)."""
    import contextlib
    import io

    from lossbridge.interfaces.cli import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(arguments)
    if code != 0:
        raise RuntimeError(f"lossbridge {' '.join(arguments)} exited {code}")
    return json.loads(buffer.getvalue())


def _min_ess(document: dict) -> float:
    return min(fit["diagnostics"]["min_ess_bulk"] for fit in document["fits"])


def case_cli_analysis(n, quick, data):
    """The default four-model analysis as a user runs it: ``lossbridge fit CSV --json``."""
    extra = ["--draws", "100", "--tune", "100"] if quick else []
    document = _cli_json(["fit", str(data), "--formula", FORMULA, "--seed", "1", "--json", *extra])
    return {"seconds": document["timing"]["seconds"]["total"], "min_ess_bulk": _min_ess(document),
            "stages": document["timing"]["seconds"],
            "samplers": {f["model"]: f["diagnostics"]["sampler"] for f in document["fits"]},
            "certified": bool(document["all_certified"]),
            "preferred": next((row["model"] for row in document["comparison"] or [] if row["rank"] == 0),
                              None)}


def case_plain_script(n, quick, data):
    """The plain PyMC script as a user runs it: read the CSV, four models with find_MAP,
    pm.sample() defaults, az.compare."""
    import arviz as az
    import numpy as np
    import pandas as pd
    from plain_baselines import plain_pymc_four_models

    start = time.perf_counter()
    frame = pd.read_csv(data)
    X = np.column_stack([np.ones(len(frame)), frame[["x1", "x2", "x3"]].to_numpy()])
    kwargs = {"draws": 100, "tune": 100} if quick else {}
    table, idatas = plain_pymc_four_models(X, frame["y"].to_numpy(), seed=1, sample_kwargs=kwargs)
    ess = min(float(az.ess(idata).to_array().min()) for idata in idatas.values())
    draws = int(next(iter(idatas.values())).posterior.sizes["chain"]
                * next(iter(idatas.values())).posterior.sizes["draw"])
    return {"seconds": time.perf_counter() - start, "min_ess_bulk": ess, "draws_per_model": draws,
            "preferred": str(table.index[0])}


def case_cli_lad(n, quick, data):
    """The certified LAD as a user runs it: ``lossbridge fit CSV --likelihood laplace
    --scale learned --no-sample --json``."""
    document = _cli_json(["fit", str(data), "--formula", FORMULA, "--likelihood", "laplace",
                          "--scale", "learned", "--no-sample", "--seed", "1", "--json"])
    fit = document["fits"][0]
    return {"seconds": document["timing"]["seconds"]["total"], "stages": document["timing"]["seconds"],
            "certified": bool(document["all_certified"]),
            "coefficients": list(fit["map"].values())}


def case_quantreg_script(n, quick, data):
    """statsmodels QuantReg(q=0.5) as a user runs it: read the CSV, fit, print."""
    import numpy as np
    import pandas as pd
    import statsmodels.api as sm

    start = time.perf_counter()
    frame = pd.read_csv(data)
    X = sm.add_constant(frame[["x1", "x2", "x3"]].to_numpy())
    params = np.asarray(sm.QuantReg(frame["y"].to_numpy(), X).fit(q=0.5).params)
    return {"seconds": time.perf_counter() - start, "coefficients": [float(v) for v in params]}


def case_cli_family(family, n, quick, data):
    """One family's models (MAP + sampling + LOO) as a user runs them."""
    extra = ["--draws", "100", "--tune", "100"] if quick else []
    document = _cli_json(["fit", str(data), "--formula", FORMULA, "--likelihood", family,
                          "--seed", "1", "--json", *extra])
    return {"seconds": document["timing"]["seconds"]["total"], "min_ess_bulk": _min_ess(document),
            "stages": document["timing"]["seconds"],
            "samplers": {f["model"]: f["diagnostics"]["sampler"] for f in document["fits"]},
            "certified": document["all_certified"]}


def side_by_side(ours, theirs, reps: int):
    """Warm both up, then time them alternately; the last results and the median seconds."""
    ours(), theirs()
    ours_seconds, theirs_seconds = [], []
    for _ in range(reps):
        start = time.perf_counter()
        ours_result = ours()
        ours_seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs_result = theirs()
        theirs_seconds.append(time.perf_counter() - start)
    return ours_result, theirs_result, statistics.median(ours_seconds), statistics.median(theirs_seconds)


def case_lad(n, quick):
    """Exact certified LAD (lossbridge) versus statsmodels QuantReg(q=0.5)."""
    import numpy as np
    from plain_baselines import statsmodels_lad

    from lossbridge.data.design import build_design
    from lossbridge.data.tables import load_table
    from lossbridge.estimation.exact import exact_lad

    frame, formula, X, y = synthetic(n, "laplace")
    design = build_design(load_table(frame), formula)
    fit, params, seconds, baseline_seconds = side_by_side(
        lambda: exact_lad(design), lambda: statsmodels_lad(X, y), reps=1 if quick else 5)
    sad_ours = float(np.sum(np.abs(y - X @ fit.coefficients)))
    sad_theirs = float(np.sum(np.abs(y - X @ params)))
    return {"seconds": seconds, "baseline_seconds": baseline_seconds,
            "certified": bool(fit.certificate.holds), "solver": fit.solver,
            "max_abs_coef_diff": float(np.max(np.abs(fit.coefficients - params))),
            "sad_ours": sad_ours, "sad_quantreg": sad_theirs}


RANDHIE = "mdvis ~ lncoins + idp + lpi + fmde + physlm + disea + hlthg + hlthf + hlthp"
FAIR = ("affairs ~ rate_marriage + age + yrs_married + children + religious + educ"
        " + C(occupation) + C(occupation_husb)")
HIGHS_TIME_LIMIT = 120.0  # seconds; HiGHS alone needs minutes on 10^6 raw rows


def tied_lad_data(case: str, n: int):
    """Tied-data LAD problems of issue 9: public data (first n rows) and simulated ties."""
    import numpy as np
    import pandas as pd
    import statsmodels.api as sm

    rng = np.random.default_rng(SEED + n)
    if case == "lad_randhie":
        return sm.datasets.randhie.load_pandas().data.iloc[:n], RANDHIE
    if case == "lad_fair":
        return sm.datasets.fair.load_pandas().data.iloc[:n], FAIR
    if case == "lad_binary":  # binary y on a 5-level factor
        x = rng.integers(0, 5, n)
        y = (rng.random(n) < 0.2 + 0.1 * x).astype(float)
        return pd.DataFrame({"x": x.astype(str), "y": y}), "y ~ C(x)"
    x = rng.normal(size=n)  # lad_tied: y on a line, rounded to few distinct values
    return pd.DataFrame({"x": x, "y": np.round(1 + 0.5 * x + rng.laplace(size=n))}), "y ~ x"


def case_lad_tied(case: str, n: int, quick: bool):
    """Exact certified LAD (lossbridge) on tied data beside HiGHS (dual LP on the raw data,
    time-limited) and statsmodels QuantReg(q=0.5), timed one after the other."""
    import numpy as np
    from plain_baselines import highs_lad, statsmodels_lad

    from lossbridge.data.design import build_design
    from lossbridge.data.tables import load_table
    from lossbridge.estimation.exact import exact_lad

    frame, formula = tied_lad_data(case, n)
    design = build_design(load_table(frame), formula)
    X, y = design.X, design.y
    sad = lambda beta: None if beta is None else float(np.sum(np.abs(y - X @ beta)))  # noqa: E731
    start = time.perf_counter()
    fit = exact_lad(design)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    highs = highs_lad(X, y, time_limit=HIGHS_TIME_LIMIT)
    highs_seconds = time.perf_counter() - start
    # QuantReg's IRLS costs about 1 s per iteration at n = 10^6 (its default cap of 1000
    # iterations would take a quarter of an hour there): capped at 100 for the largest case.
    max_iter = 100 if design.n >= 1_000_000 else 1000
    start = time.perf_counter()
    quantreg = statsmodels_lad(X, y, max_iter=max_iter)
    quantreg_seconds = time.perf_counter() - start
    return {"seconds": seconds, "baseline_seconds": quantreg_seconds, "highs_seconds": highs_seconds,
            "highs_finished": highs is not None, "n": design.n, "k": design.k,
            "certified": bool(fit.certificate.holds), "unique": fit.unique, "solver": fit.solver,
            "sad_ours": sad(fit.coefficients), "sad_highs": sad(highs), "sad_quantreg": sad(quantreg),
            "quantreg_max_iter": max_iter}


def case_ols(n, quick):
    """lossbridge's exact OLS versus numpy.linalg.lstsq."""
    import numpy as np
    from plain_baselines import numpy_ols

    from lossbridge.data.design import build_design
    from lossbridge.data.tables import load_table
    from lossbridge.estimation.exact import exact_ols

    frame, formula, X, y = synthetic(n, "normal")
    design = build_design(load_table(frame), formula)
    fit, beta, seconds, baseline_seconds = side_by_side(
        lambda: exact_ols(design), lambda: numpy_ols(X, y), reps=1 if quick else 5)
    return {"seconds": seconds, "baseline_seconds": baseline_seconds,
            "max_rel_coef_diff": float(np.max(np.abs(fit.coefficients - beta) / np.abs(beta)))}


def case_laplace_nuts(n, quick):
    """Laplace likelihood, learned b: lossbridge's NUTS (``sampler="nuts"``, the fallback
    of models the independence sampler declines) versus pm.sample() defaults."""
    import arviz as az
    from plain_baselines import plain_pymc_sample

    from lossbridge.data.design import build_design
    from lossbridge.data.rotation import Rotation
    from lossbridge.data.tables import load_table
    from lossbridge.estimation.map import find_map
    from lossbridge.models.reference import build_model
    from lossbridge.models.spec import ModelSpec
    from lossbridge.posterior.sampling import SamplerOptions, sample_models

    frame, formula, X, y = synthetic(n, "laplace")
    options = SamplerOptions(draws=50, tune=50, progress=False, sampler="nuts") if quick else \
        SamplerOptions(progress=False, sampler="nuts")
    design = build_design(load_table(frame), formula)
    rotation = Rotation.from_design(design.X, design.y)
    spec = ModelSpec("laplace", "learned")
    start = time.perf_counter()
    estimate = find_map(build_model(spec, design, rotation), spec, design, rotation)
    draws = sample_models([spec], design, rotation, [estimate], options, 1)[spec.name]
    ours = time.perf_counter() - start
    ess_ours = float(min(az.ess({"beta": draws.beta}).to_array().min(), az.ess({"b": draws.scale}).to_array().min()))
    start = time.perf_counter()
    idata = plain_pymc_sample(X, y, "laplace", seed=1,
                              sample_kwargs={"draws": 50, "tune": 50} if quick else None)
    theirs = time.perf_counter() - start
    ess_theirs = float(az.ess(idata).to_array().min())
    return {"seconds": ours, "baseline_seconds": theirs, "min_ess_bulk": ess_ours,
            "baseline_min_ess_bulk": ess_theirs, "ess_per_second": ess_ours / ours,
            "baseline_ess_per_second": ess_theirs / theirs,
            "blas_threads_per_worker": os.environ.get("OPENBLAS_NUM_THREADS", "default")}


# Whole-process cases: the child reads a CSV written by the driver (see data_file).
FILE_CASES = {
    "cli_analysis": (case_cli_analysis, "laplace"),
    "plain_script": (case_plain_script, "laplace"),
    "cli_lad": (case_cli_lad, "laplace"),
    "quantreg_script": (case_quantreg_script, "laplace"),
    **{f"family_{name}": (partial(case_cli_family, name), kind) for name, kind in FAMILY_DATA.items()},
}
CASES = {
    "lad": case_lad,
    "ols": case_ols,
    "laplace_nuts": case_laplace_nuts,
    **{name: partial(case_lad_tied, name) for name in ("lad_randhie", "lad_fair", "lad_binary", "lad_tied")},
}
TIED_FULL = [("lad_randhie", 20_190), ("lad_fair", 6_366), ("lad_binary", 100_000),
             ("lad_tied", 1_000_000)]
TIED_QUICK = [("lad_randhie", 2_000), ("lad_fair", 2_000), ("lad_binary", 5_000),
              ("lad_tied", 20_000)]


def child_main(case: str, n: int, quick: bool, data: str | None) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    import lossbridge  # noqa: F401  (silences dependency import noise)

    result = FILE_CASES[case][0](n, quick, data) if case in FILE_CASES else CASES[case](n, quick)
    result["peak_mb"] = peak_mb()
    print("BENCH-RESULT " + json.dumps(result, default=float))


# ----------------------------------------------------------------------------- driver
DATA_FOLDER: Path | None = None  # set by main: the CSVs of the whole-process cases


def run_child(case: str, n: int, quick: bool) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", case, "--n", str(n)]
    if case in FILE_CASES:
        command += ["--data", str(data_file(DATA_FOLDER, n, FILE_CASES[case][1]))]
    if quick:
        command.append("--quick")
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True,
                                   env={**os.environ, "PYTHONWARNINGS": "ignore"})
        tree_peak = _poll_tree_memory(process)
        wall = time.perf_counter() - started
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    lines = [line for line in stdout.splitlines() if line.startswith("BENCH-RESULT ")]
    if process.returncode != 0 or not lines:
        tail = (stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"benchmark case {case} n={n} failed: {tail}")
    result = json.loads(lines[-1][len("BENCH-RESULT "):])
    result["process_seconds"] = wall
    result["tree_peak_mb"] = tree_peak
    return result


def _poll_tree_memory(process, interval: float = 0.05) -> float:
    """Wait for ``process``; the largest sum of resident memory of it and its descendants
    (chain workers, compilers) seen every ``interval`` seconds, in MB. A measurement, not a
    bound: a spike shorter than the interval can be missed."""
    import psutil

    peak = 0
    try:
        root = psutil.Process(process.pid)
    except psutil.NoSuchProcess:
        process.wait()
        return 0.0
    while process.poll() is None:
        total = 0
        try:
            for member in [root, *root.children(recursive=True)]:
                try:
                    total += member.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
        except psutil.NoSuchProcess:
            break
        peak = max(peak, total)
        time.sleep(interval)
    process.wait()
    return peak / 2**20


def measure(case: str, n: int, quick: bool, reps: int, warmup: bool) -> dict:
    if warmup:
        run_child(case, n, quick)
    runs = [run_child(case, n, quick) for _ in range(reps)]
    out = dict(runs[len(runs) // 2])
    for key in ("seconds", "baseline_seconds", "ess_per_second", "baseline_ess_per_second", "peak_mb",
                "process_seconds", "tree_peak_mb"):
        values = [r[key] for r in runs if key in r]
        if values:
            out[key] = statistics.median(values)
    out["repetitions"] = reps
    return out


# n of each family's large case: 10^6 where a model's sampler evaluates only what it needs
# (the quantile's sign partition); the families whose every log-density evaluation is an
# O(n) pass (the independence sampler's 5,000-7,000 of them, or NUTS' gradients) at 10^5,
# where they already take a minute or more (see the README for why).
FAMILY_LARGE = {"quantile": 1_000_000, "huber": 100_000, "student": 100_000, "poisson": 100_000,
                "negbin": 100_000, "bernoulli": 100_000}


def plan(quick: bool) -> list[tuple]:
    if quick:
        return [("cli_analysis", 300, 1, False), ("plain_script", 300, 1, False),
                ("cli_analysis", 3000, 1, False), ("cli_lad", 3000, 1, False),
                ("quantreg_script", 3000, 1, False), ("family_quantile", 300, 1, False),
                ("family_quantile", 3000, 1, False), ("lad", 2000, 1, False), ("ols", 2000, 1, False),
                ("laplace_nuts", 500, 1, False)] + [(case, n, 1, False) for case, n in TIED_QUICK]
    return (
        [("cli_analysis", 1000, 3, True), ("plain_script", 1000, 3, True),
         ("cli_analysis", 1_000_000, 1, True),
         ("cli_lad", 1_000_000, 3, True), ("quantreg_script", 1_000_000, 3, True)]
        + [(f"family_{name}", n, 1, n == 1000) for name in FAMILY_DATA
           for n in (1000, FAMILY_LARGE[name])]
        + [("lad", n, 1, False) for n in (1000, 10_000, 100_000, 1_000_000)]
        + [("ols", n, 1, False) for n in (1000, 10_000, 100_000, 1_000_000)]
        + [("laplace_nuts", 100_000, 1, True)]
        + [(case, n, 1, False) for case, n in TIED_FULL]
    )


def _memory(result: dict) -> str:
    """The measured process-tree peak, else getrusage's bound, said as one."""
    if "tree_peak_mb" in result:
        return f"{result['tree_peak_mb']:.0f}"
    return f"<= {result['peak_mb']:.0f} (bound)"


def _size(n: int) -> str:
    """10^k as "1e6", other sizes as they are."""
    exponent = len(str(n)) - 1
    return f"1e{exponent}" if 10**exponent == n else f"{n:,}"


def summarise(results: dict, quick: bool = False) -> tuple[list[dict], list[str]]:
    """Target rows and a Markdown table (``quick``: the quick plan's sizes stand in for
    n = 10^3 and 10^6)."""
    small_n, large_n = (300, 3000) if quick else (1000, 1_000_000)
    family_large = {name: 3000 for name in FAMILY_DATA} if quick else FAMILY_LARGE
    def get(case, n):
        return results.get(f"{case}@{n}")

    rows = []

    def stages(r):
        return ", ".join(f"{k} {v:.2f}" for k, v in r["stages"].items() if k != "total" and v >= 0.05)

    ours, plain = get("cli_analysis", small_n), get("plain_script", small_n)
    if ours and plain:
        rows.append({"target": f"default four-model analysis, n={_size(small_n)}, lossbridge / plain PyMC script, "
                               "whole processes (min ESS at least the script's) <= 1/3",
                     "measured": ours["process_seconds"] / plain["process_seconds"], "goal": 1 / 3,
                     "lower_is_better": True,
                     "detail": f"{ours['process_seconds']:.1f} s vs {plain['process_seconds']:.1f} s "
                               f"(in the process after imports: {ours['seconds']:.1f} s vs "
                               f"{plain['seconds']:.1f} s); min ESS {ours['min_ess_bulk']:.0f} vs "
                               f"{plain['min_ess_bulk']:.0f}; samplers "
                               f"{sorted(set(ours['samplers'].values()))}; stages s: {stages(ours)}",
                     # the ratio counts only with at least the script's effective draws
                     "condition": ours["min_ess_bulk"] >= plain["min_ess_bulk"]})
    big = get("cli_analysis", large_n)
    if ours and big:
        rows.append({"target": f"same analysis, n={_size(large_n)} / n={_size(small_n)} (whole processes) <= 2",
                     "measured": big["process_seconds"] / ours["process_seconds"], "goal": 2.0,
                     "lower_is_better": True,
                     "detail": f"{big['process_seconds']:.1f} s vs {ours['process_seconds']:.1f} s; "
                               f"min ESS {big['min_ess_bulk']:.0f}; stages s at n={_size(large_n)}: {stages(big)}"})
    cli_lad, quantreg = get("cli_lad", large_n), get("quantreg_script", large_n)
    if cli_lad and quantreg:
        diff = max(abs(a - b) for a, b in zip(cli_lad["coefficients"], quantreg["coefficients"], strict=True))
        rows.append({"target": f"certified LAD n={_size(large_n)}, whole process / statsmodels QuantReg whole "
                               "process <= 0.5",
                     "measured": cli_lad["process_seconds"] / quantreg["process_seconds"], "goal": 0.5,
                     "lower_is_better": True,
                     "detail": f"{cli_lad['process_seconds']:.2f} s vs {quantreg['process_seconds']:.2f} s; "
                               f"certified {cli_lad['certified']}; max |coef diff| {diff:.1e}; "
                               f"stages s: {stages(cli_lad)}"})
    for name in FAMILY_DATA:
        small, large = get(f"family_{name}", small_n), get(f"family_{name}", family_large[name])
        if small and large:
            n_large = family_large[name]
            rows.append({"target": f"{name} (MAP + sampling + LOO), n={_size(n_large)} / n={_size(small_n)} "
                                   "(whole processes) <= 3",
                         "measured": large["process_seconds"] / small["process_seconds"], "goal": 3.0,
                         "lower_is_better": True,
                         "detail": f"{large['process_seconds']:.1f} s vs {small['process_seconds']:.1f} s; "
                                   f"samplers {sorted(set(large['samplers'].values()))}; min ESS "
                                   f"{large['min_ess_bulk']:.0f}; stages s at n={_size(n_large)}: "
                                   f"{stages(large)}"})
    lad = get("lad", 1_000_000)
    if lad:
        rows.append({"target": "exact certified LAD, n=1e6: lossbridge / QuantReg time <= 1/5",
                     "measured": lad["seconds"] / lad["baseline_seconds"], "goal": 0.2, "lower_is_better": True,
                     "detail": f"{lad['seconds']:.2f} s vs {lad['baseline_seconds']:.2f} s; certified "
                               f"{lad['certified']}; max |coef diff| {lad['max_abs_coef_diff']:.1e}; "
                               f"SAD {lad['sad_ours']:.6f} vs {lad['sad_quantreg']:.6f}"})
    nuts = get("laplace_nuts", 100_000)
    if nuts:
        rows.append({"target": "Laplace NUTS, n=1e5: min ESS-bulk/s vs PyMC default >= 2",
                     "measured": nuts["ess_per_second"] / nuts["baseline_ess_per_second"], "goal": 2.0,
                     "lower_is_better": False,
                     "detail": f"{nuts['ess_per_second']:.0f} vs {nuts['baseline_ess_per_second']:.0f} ESS/s "
                               f"({nuts['seconds']:.1f} s vs {nuts['baseline_seconds']:.1f} s); "
                               f"OPENBLAS_NUM_THREADS in both samplers' chain processes: "
                               f"{nuts['blas_threads_per_worker']}"})
    if big:
        rows.append({"target": f"peak memory, full analysis at n={_size(large_n)} <= 1.5 GB",
                     "measured": big["tree_peak_mb"] / 1024, "goal": 1.5, "lower_is_better": True,
                     "detail": f"{big['tree_peak_mb']:.0f} MB: the largest resident memory of the "
                               "process and its descendants, polled every 50 ms (getrusage's "
                               f"bound, the process + {min(4, os.cpu_count() or 1)} x its largest "
                               f"child, says {big['peak_mb']:.0f} MB: a compiler's fork of the "
                               "process counts as a child)"})
    for case, n in TIED_FULL:
        tied = get(case, n)
        if tied:
            highs = (f"HiGHS {tied['highs_seconds']:.2f} s (SAD {tied['sad_highs']:.6f})"
                     if tied["highs_finished"] else f"HiGHS unfinished after {HIGHS_TIME_LIMIT:.0f} s")
            rows.append({"target": f"tied-data exact LAD ({case[4:]}, n={n:,}) finishes in seconds (<= 10 s)",
                         "measured": tied["seconds"], "goal": 10.0, "lower_is_better": True,
                         "detail": f"{tied['seconds']:.2f} s, certified {tied['certified']}, unique "
                                   f"{tied['unique']}, SAD {tied['sad_ours']:.6f}; {highs}; QuantReg "
                                   f"{tied['baseline_seconds']:.2f} s (SAD {tied['sad_quantreg']:.6f}, "
                                   f"at most {tied['quantreg_max_iter']} iterations)"})
    for row in rows:
        ok = row["measured"] <= row["goal"] if row["lower_is_better"] else row["measured"] >= row["goal"]
        row["met"] = bool(ok and row.pop("condition", True))
    lines = ["| target | measured | met | detail |", "|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['target']} | {row['measured']:.3g} | {'yes' if row['met'] else 'NO'} | {row['detail']} |")
    lines += ["", "Whole-process cases (cli_*, family_*, plain_script, quantreg_script): wall seconds of the "
              "process, interpreter start and imports included; the others: seconds of the work in the "
              "process.", "",
              "| case | n | lossbridge s | baseline s | ratio | peak MB (process tree) | notes |",
              "|---|---|---|---|---|---|---|"]
    for key, r in results.items():
        case, n = key.split("@")
        base = r.get("baseline_seconds")
        seconds = r["seconds"]
        if case in FILE_CASES:  # whole processes: the process's wall time
            seconds = r["process_seconds"]
            partner = {"cli_analysis": "plain_script", "cli_lad": "quantreg_script"}.get(case)
            base = get(partner, int(n))["process_seconds"] if partner and get(partner, int(n)) else None
        ratio = f"{seconds / base:.3g}" if base else ""
        notes = []
        if "min_ess_bulk" in r:
            notes.append(f"min ESS {r['min_ess_bulk']:.0f}")
        if "certified" in r:
            notes.append(f"certified {r['certified']}")
        lines.append(f"| {case} | {int(n):,} | {seconds:.3f} | {'' if base is None else f'{base:.3f}'} | "
                     f"{ratio} | {_memory(r)} | {'; '.join(notes)} |")
    return rows, lines


def write_atomic(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w") as stream:
        stream.write(text)
    os.replace(temporary, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the test suite")
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for bench.json / bench.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--only", help="re-measure these cases (CASE@N, comma-separated) and "
                        "merge them into the existing bench.json")
    args = parser.parse_args()
    if args.child:
        child_main(args.child, args.n, args.quick, args.data)
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    steps = plan(args.quick)
    if args.only:
        results = json.loads((out / "bench.json").read_text())["cases"]
        wanted = set(args.only.split(","))
        steps = [step for step in steps if f"{step[0]}@{step[1]}" in wanted]
    global DATA_FOLDER
    with tempfile.TemporaryDirectory(prefix="lossbridge-bench-") as folder:
        DATA_FOLDER = Path(folder)
        for case, n, reps, warmup in steps:
            print(f"bench: {case} n={n:,} ({reps} repetition(s){', after a warm-up' if warmup else ''})",
                  file=sys.stderr, flush=True)
            results[f"{case}@{n}"] = measure(case, n, args.quick, reps, warmup)
            # what is measured so far survives a case that fails or is stopped
            write_atomic(out / "bench.partial.json", json.dumps(results, indent=2, default=float) + "\n")
    rows, lines = summarise(results, args.quick)
    document = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                            "platform": platform.platform()},
                "quick": args.quick, "targets": rows, "cases": results}
    write_atomic(out / "bench.json", json.dumps(document, indent=2, default=float) + "\n")
    write_atomic(out / "bench.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
