"""The benchmark runs end to end in its quick mode, so it cannot rot (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_benchmark_quick_mode(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads((tmp_path / "bench.json").read_text())
    assert document["quick"] is True
    cases = document["cases"]
    assert {key.split("@")[0] for key in cases} == {
        "cli_analysis", "plain_script", "cli_lad", "quantreg_script", "family_quantile", "lad", "ols",
        "laplace_nuts", "lad_randhie", "lad_fair", "lad_binary", "lad_tied"}
    for result in cases.values():
        assert result["seconds"] > 0 and result["peak_mb"] > 0
        assert result["process_seconds"] >= result["seconds"]
    # the whole-process cases ran the CLI and the plain scripts on the same CSV
    assert cases["cli_lad@3000"]["certified"] is True
    lad_coefficients = cases["cli_lad@3000"]["coefficients"]
    quantreg_coefficients = cases["quantreg_script@3000"]["coefficients"]
    assert max(abs(a - b) for a, b in zip(lad_coefficients, quantreg_coefficients, strict=True)) < 0.05
    targets = {row["target"].split(",")[0] for row in document["targets"]}
    assert "default four-model analysis" in targets and "same analysis" in targets
    assert cases["lad@2000"]["certified"] is True
    # The exact LAD is never worse than statsmodels' approximate one.
    assert cases["lad@2000"]["sad_ours"] <= cases["lad@2000"]["sad_quantreg"] * (1 + 1e-12)
    for case in ("lad_randhie", "lad_fair", "lad_binary", "lad_tied"):  # issue 9's tied data
        (tied,) = [r for key, r in cases.items() if key.startswith(case + "@")]
        assert tied["certified"] is True
        assert tied["sad_ours"] <= tied["sad_quantreg"] * (1 + 1e-12)
        assert not tied["highs_finished"] or tied["sad_ours"] <= tied["sad_highs"] * (1 + 1e-12)
    assert "| case | n |" in (tmp_path / "bench.md").read_text()
