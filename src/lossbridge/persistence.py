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

from . import arviz_bridge
from .errors import InputError
from .jsonio import dumps

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


def check_new_folder(directory: str | Path) -> Path:
    """Raise unless ``directory`` can be created: it must not exist, its parent must."""
    directory = Path(directory)
    if directory.exists():
        raise InputError(
            f"output folder {str(directory)!r} already exists; choose a new folder name or "
            "remove the old one"
        )
    parent = directory.parent if str(directory.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"cannot save to {str(directory)!r}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"cannot save to {str(directory)!r}: folder {str(parent)!r} is not writable")
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
            # exact leave-one-out values from refits, so a reload compares as the run did
            "loo_exact": {
                r.spec.name: {
                    str(i): float(r.posterior.loo["elpd_pointwise"][i]) for i in r.posterior.loo["refitted"]
                }
                for r in analysis.fits
            },
            "analysis": analysis.to_dict(),
        }
        (temporary / MANIFEST).write_text(dumps(manifest) + "\n", encoding="utf-8")
        os.rename(temporary, directory)
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
    loo_exact: dict

    @property
    def y_hash(self) -> str:
        return self.document["data"]["y_hash"]

    @property
    def models(self) -> list[str]:
        return list(self.posteriors)

    def loo_results(self) -> dict[str, dict]:
        """PSIS-LOO of every model from the stored log-likelihood, with the run's exact refits."""
        out = {}
        for name, idata in self.posteriors.items():
            result = arviz_bridge.loo(idata)
            exact = {int(i): v for i, v in self.loo_exact.get(name, {}).items()}
            if exact:
                result = arviz_bridge.with_exact_pointwise(result, exact, result["pareto_k"])
            out[name] = {"y_hash": self.y_hash, "loo": result}
        return out


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
    return SavedAnalysis(directory, manifest["analysis"], posteriors, manifest.get("loo_exact", {}))
