"""Saving posteriors (one netCDF per model plus a manifest) and loading them again.

The folder is written under a temporary name next to the target and renamed into
place at the end, so an interrupted save leaves no half-written folder.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import arviz_bridge
from .errors import InputError
from .jsonio import dumps
from .outputs import check_parent_folder

MANIFEST = "manifest.json"
LOO_FILE = "loo.npz"
FORMAT_VERSION = 1
_LOO_ARRAYS = ("elpd_pointwise", "pareto_k")
_SUBSAMPLE_ARRAYS = ("rows", "elpd_rows", "approximation")


def _save_loo(analysis, path: Path) -> None:
    """Every model's leave-one-out values as computed (closed form, PSIS + refits, or subsample)."""
    arrays = {}
    for r in analysis.fits:
        loo = r.posterior.loo
        for key in _LOO_ARRAYS:
            if loo.get(key) is not None:
                arrays[f"{r.spec.name}/{key}"] = np.asarray(loo[key])
        if loo.get("subsample") is not None:
            for key in _SUBSAMPLE_ARRAYS:
                arrays[f"{r.spec.name}/subsample/{key}"] = np.asarray(loo["subsample"][key])
    with open(path, "wb") as stream:
        np.savez(stream, **arrays)


def _loaded_loo(name: str, arrays, summary: dict, n_samples: int) -> dict:
    """Rebuild a model's LOO result from the saved arrays and its JSON summary."""
    result = {
        "method": summary["method"],
        "elpd_loo": summary["elpd_loo"],
        "se": summary["se"],
        "p_loo": summary["p_loo"],
        "refitted": summary.get("refitted_rows", []),
        "pareto_k": arrays[f"{name}/pareto_k"],
        "elpd_pointwise": arrays.get(f"{name}/elpd_pointwise"),
        "subsample": None,
        "elpd_data": None,
    }
    if result["elpd_pointwise"] is not None:
        result["elpd_data"] = arviz_bridge.elpd_data(result["elpd_pointwise"], summary["p_loo"],
                                                     n_samples, result["pareto_k"])
    else:
        result["subsample"] = {key: arrays[f"{name}/subsample/{key}"] for key in _SUBSAMPLE_ARRAYS}
    return result


def check_new_folder(directory: str | Path) -> Path:
    """Raise unless ``directory`` can be created: it must not exist, its parent must."""
    directory = Path(directory)
    if directory.exists():
        raise InputError(
            f"output folder {str(directory)!r} already exists; choose a new folder name or "
            "remove the old one"
        )
    check_parent_folder(directory, "save to")
    return directory


def save_analysis(analysis, directory: str | Path) -> Path:
    """Write every sampled model's InferenceData and a manifest into a new folder."""
    from . import __version__

    if not analysis.sampled:
        raise InputError("nothing to save: the analysis ran without sampling (--no-sample)")
    directory = check_new_folder(directory)
    parent = directory.parent if str(directory.parent) else Path(".")
    temporary = parent / f".{directory.name}.tmp-{os.getpid()}"
    try:
        temporary.mkdir()
        files = {}
        for result in analysis.fits:
            filename = f"{result.spec.name}.nc"
            arviz_bridge.save_netcdf(result.posterior.idata, temporary / filename)
            files[result.spec.name] = filename
        manifest = {
            "format": FORMAT_VERSION,
            "lossbridge_version": __version__,
            "y_hash": analysis.design.y_hash,
            "models": files,
            "loo_file": LOO_FILE,
            "analysis": analysis.to_dict(),
        }
        _save_loo(analysis, temporary / LOO_FILE)
        (temporary / MANIFEST).write_text(dumps(manifest) + "\n", encoding="utf-8")
        os.rename(temporary, directory)
    except OSError as exc:
        shutil.rmtree(temporary, ignore_errors=True)
        raise InputError(f"cannot save to {str(directory)!r}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return directory


@dataclass(eq=False)
class SavedAnalysis:
    """An analysis loaded from disk: its JSON document and one InferenceData per model."""

    directory: Path
    document: dict
    posteriors: dict
    loo: dict

    @property
    def y_hash(self) -> str:
        return self.document["data"]["y_hash"]

    @property
    def models(self) -> list[str]:
        return list(self.posteriors)

    def loo_results(self) -> dict[str, dict]:
        """Every model's leave-one-out result as the run computed it."""
        return {name: {"y_hash": self.y_hash, "loo": loo} for name, loo in self.loo.items()}


def load(directory: str | Path) -> SavedAnalysis:
    """Load a folder written by :func:`save_analysis` (``lossbridge fit ... --save DIR``)."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise InputError(f"{str(directory)!r} is not a lossbridge save folder (no {MANIFEST})")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{str(manifest_path)!r} is not valid JSON: {exc}") from None
    if manifest.get("format") != FORMAT_VERSION:
        raise InputError(f"{str(manifest_path)!r} has unknown format {manifest.get('format')!r}")
    posteriors = {}
    for name, filename in manifest["models"].items():
        path = directory / filename
        if not path.is_file():
            raise InputError(f"saved posterior {str(path)!r} is missing")
        posteriors[name] = arviz_bridge.load_netcdf(path)
    loo_path = directory / manifest["loo_file"]
    if not loo_path.is_file():
        raise InputError(f"saved leave-one-out values {str(loo_path)!r} are missing")
    fits = {f["model"]: f for f in manifest["analysis"]["fits"]}
    n_samples = manifest["analysis"]["options"]["chains"] * manifest["analysis"]["options"]["draws"]
    with np.load(loo_path) as stored:
        arrays = {key: stored[key] for key in stored.files}
    loo = {name: _loaded_loo(name, arrays, fits[name]["loo"], n_samples) for name in posteriors}
    return SavedAnalysis(directory, manifest["analysis"], posteriors, loo)
