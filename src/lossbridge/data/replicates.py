"""Simulation-study replicates: N datasets from one law, their sidecars and a manifest.

``lossbridge simulate --replicates N --out study/gauss.csv`` writes ``study/gauss-001.csv``
... ``gauss-N.csv`` (each with its ``.law.json`` sidecar) and ``study/gauss.manifest.csv``
(columns ``name,data``), which ``lossbridge batch`` runs, one analysis per replicate.
Replicate i's seed is the i-th word of ``numpy.random.SeedSequence(seed)``'s state, so
the study is repeatable from one seed, and each replicate's own seed is in its sidecar.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from .simulation import Simulation, sidecar_path, simulate

MANIFEST_SUFFIX = ".manifest.csv"
MAX_REPLICATES = 100_000


def replicate_seeds(seed: int, replicates: int) -> list[int]:
    """The replicates' seeds, derived from one seed (independent streams)."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(replicates)]


def manifest_path(out: str | Path) -> Path:
    """``study/gauss.csv`` -> ``study/gauss.manifest.csv``."""
    out = Path(os.fspath(out))
    stem = out.stem if out.suffix.lower() == ".csv" else out.name
    return out.with_name(stem + MANIFEST_SUFFIX)


def replicate_paths(out: str | Path, replicates: int) -> list[Path]:
    """``study/gauss-001.csv`` ... (zero-padded to the width of ``replicates``)."""
    out = Path(os.fspath(out))
    stem = out.stem if out.suffix.lower() == ".csv" else out.name
    width = max(3, len(str(replicates)))
    return [out.with_name(f"{stem}-{i:0{width}d}.csv") for i in range(1, replicates + 1)]


def simulate_replicates(law: str, replicates: int, out: str | Path, *, seed: int | None = None,
                        **settings) -> tuple[list[Simulation], Path]:
    """Draw ``replicates`` datasets and write them, their sidecars and the manifest
    (atomically: all or none). ``settings`` are :func:`simulate`'s (n, beta, predictors,
    the law's parameters). Returns the simulations and the manifest's path."""
    from ..core.jsonio import dumps
    from ..core.outputs import Outputs, check_output
    from ..core.validation import check_seed

    if isinstance(replicates, bool) or not isinstance(replicates, (int, np.integer)) \
            or not 1 <= replicates <= MAX_REPLICATES:
        raise InputError(f"--replicates must be an integer from 1 to {MAX_REPLICATES}; "
                         f"got {replicates!r}")
    seed = check_seed("--seed", seed)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**32)
    paths = replicate_paths(out, int(replicates))
    manifest = manifest_path(out)
    for path in (*paths, *(sidecar_path(p) for p in paths), manifest):
        check_output(path, what="simulated data", option="--out")
    simulations = [simulate(law, seed=s, **settings) for s in replicate_seeds(seed, int(replicates))]
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["name", "data"])
    writer.writerows([p.stem, p.name] for p in paths)
    with Outputs() as outputs:
        for simulation, path in zip(simulations, paths, strict=True):
            outputs.text(path, simulation.csv(), "--out")
            outputs.text(sidecar_path(path), dumps(simulation.sidecar()) + "\n", "--out")
        outputs.text(manifest, table.getvalue(), "--out")
        outputs.commit()
    return simulations, manifest
