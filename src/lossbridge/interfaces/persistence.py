"""Saving posteriors (one netCDF per model plus a manifest) and loading them again.

The folder is written under a temporary name next to the target and renamed into
place at the end, so an interrupted save leaves no half-written folder. Loading reads
only regular files inside the folder that the manifest names by plain file names.
"""

from __future__ import annotations

import json
import os
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core import interrupts
from ..core.errors import InputError
from ..core.jsonio import dumps
from ..core.outputs import Outputs, check_output
from ..posterior import arviz_bridge
from ..posterior.loo import EXACT_METHOD, LooEstimator, LooResult, LooSubsample

MANIFEST = "manifest.json"
LOO_FILE = "loo.npz"
FORMAT_VERSION = 1
_SUBSAMPLE_ARRAYS = ("rows", "elpd_rows", "approximation")


def _save_loo(analysis, path: Path) -> None:
    """Every model's leave-one-out values as computed (closed form, PSIS + refits, or subsample)."""
    arrays = {}
    for r in analysis.fits:
        loo = r.posterior.loo
        if loo.elpd_pointwise is not None:
            arrays[f"{r.spec.name}/elpd_pointwise"] = np.asarray(loo.elpd_pointwise)
        arrays[f"{r.spec.name}/pareto_k"] = np.asarray(loo.pareto_k)
        if loo.subsample is not None:
            for key in _SUBSAMPLE_ARRAYS:
                arrays[f"{r.spec.name}/subsample/{key}"] = np.asarray(getattr(loo.subsample, key))
    with open(path, "wb") as stream:
        np.savez(stream, **arrays)


def _legacy_estimator(method: str) -> LooEstimator:
    """The estimator of a folder saved before the JSON had ``loo.estimator``, from its method."""
    if method.startswith("exact LOO"):
        return LooEstimator.EXACT
    if "subsampling" in method:
        return LooEstimator.PSIS_SUBSAMPLE
    if "refits" in method:
        return LooEstimator.PSIS_REFITS
    return LooEstimator.PSIS


def _loaded_loo(name: str, arrays, fit: dict, n_samples: int) -> LooResult:
    """Rebuild a model's LOO result from the saved arrays and its JSON.

    elpd_loo and se follow from the saved pointwise (or subsample) values; p_loo, the
    estimator and the refitted rows come from the JSON.
    """
    summary = fit["loo"]
    estimator = (LooEstimator(summary["estimator"]) if "estimator" in summary
                 else _legacy_estimator(summary["method"]))
    subsample = None
    if estimator is LooEstimator.PSIS_SUBSAMPLE:
        subsample = LooSubsample(*(arrays[f"{name}/subsample/{key}"] for key in _SUBSAMPLE_ARRAYS))
    # exact LOO of a plug-in scale is the closed form that re-estimates it without each row
    plug_in = bool((fit.get("fixed_scale") or {}).get("plug_in"))
    p_loo = summary["p_loo"]
    return LooResult(estimator, np.nan if p_loo is None else float(p_loo), n_samples,
                     arrays[f"{name}/pareto_k"],
                     elpd_pointwise=None if subsample is not None else arrays[f"{name}/elpd_pointwise"],
                     subsample=subsample, refitted=tuple(summary.get("refitted_rows", [])),
                     scale_reestimated=plug_in and estimator is LooEstimator.EXACT,
                     exact_basis=_exact_basis(summary["method"]) if estimator is LooEstimator.EXACT
                     else None)


def _exact_basis(method: str) -> str | None:
    """What a saved closed-form LOO rested on: the parenthesis of its saved ``method``."""
    head, _, rest = method.partition(" (")
    return rest[:-1] if head == EXACT_METHOD and rest.endswith(")") else None


def check_new_folder(directory: str | Path, option: str | None = None) -> Path:
    """Raise unless ``directory`` can be created: it must not exist, its parent must."""
    return check_output(directory, what="output folder", option=option, kind="folder")


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "xb") as stream:
        stream.write(data)


def write_save_folder(analysis, folder: Path) -> None:
    """Write every sampled model's InferenceData, the LOO values and the manifest into ``folder``.

    ``folder`` is an existing empty (temporary) folder; an ``OSError`` (full disk, I/O
    error) propagates for the caller to report and to remove the folder.
    """
    from ..core.version import __version__

    files = {}
    for index, result in enumerate(analysis.fits):
        # The label may hold characters a file name must not ('/' in a scale formula): a
        # numbered, sanitised name; the manifest maps the label to it.
        name = result.spec.name
        safe = re.sub(r"[^A-Za-z0-9._()=,+~-]", "_", name)
        filename = f"{name}.nc" if safe == name else f"{index:02d}-{safe}.nc"
        # Serialised in memory with signals held: HDF5 must not be interrupted half-way
        # (see arviz_bridge.netcdf_bytes); the disk write is plain Python I/O.
        with interrupts.deferred():
            data = arviz_bridge.netcdf_bytes(result.posterior.idata)
        _write_file(folder / filename, data)
        files[result.spec.name] = filename
    manifest = {
        "format": FORMAT_VERSION,
        "lossbridge_version": __version__,
        "y_hash": analysis.design.y_hash,
        "models": files,
        "loo_file": LOO_FILE,
        "analysis": analysis.to_dict(),
    }
    _save_loo(analysis, folder / LOO_FILE)
    _write_file(folder / MANIFEST, (dumps(manifest) + "\n").encode("utf-8"))


def save_analysis(analysis, directory: str | Path) -> Path:
    """Write every sampled model's InferenceData and a manifest into a new folder.

    The folder is written under a hidden temporary name beside ``directory`` and renamed
    at the end: an error, a full disk or an interruption leaves nothing behind.
    """
    if not analysis.sampled:
        raise InputError("nothing to save: the analysis ran without sampling (--no-sample)")
    directory = check_new_folder(directory)
    with Outputs() as outputs:
        stage_save_folder(analysis, directory, outputs)
        outputs.commit()
    return directory


def stage_save_folder(analysis, directory: Path, outputs: Outputs) -> None:
    """Write the save folder under its temporary name in ``outputs`` (committed by the caller)."""
    folder = outputs.folder(directory, "output folder")
    try:
        write_save_folder(analysis, folder)
    except OSError as exc:
        raise InputError(f"cannot save to {str(directory)!r}: {exc.strerror or exc}; "
                         "nothing was saved") from None


@dataclass(eq=False)
class SavedAnalysis:
    """An analysis loaded from disk: its JSON document and one InferenceData per model."""

    directory: Path
    document: dict
    posteriors: dict
    loo: dict[str, LooResult]

    @property
    def y_hash(self) -> str:
        return self.document["data"]["y_hash"]

    @property
    def models(self) -> list[str]:
        return list(self.posteriors)

    def loo_results(self) -> dict[str, dict]:
        """Every model's leave-one-out result as the run computed it."""
        return {name: {"y_hash": self.y_hash, "loo": loo} for name, loo in self.loo.items()}

    def __repr__(self) -> str:  # the dataclass' own would print every pointwise array
        data = self.document.get("data", {})
        classes = data.get("classes")
        levels = "" if not classes else f", {len(classes)} classes (reference {classes[0]!r})"
        return (f"<SavedAnalysis {str(self.directory)!r}: {data.get('formula')!r}, "
                f"n={data.get('n')}{levels}, models {', '.join(self.models)}>")


def _inside(directory: Path, filename, what: str, manifest_path: Path) -> Path:
    """The regular file ``filename`` of the save folder; anything else is refused.

    Only a plain file name is accepted (no separators, no ``..``), and after resolving
    symlinks the file must still be inside ``directory``: a manifest cannot make
    :func:`load` read another file.
    """
    if (not isinstance(filename, str) or not filename or filename in (".", "..")
            or "/" in filename or "\\" in filename or "\x00" in filename):
        raise InputError(f"{str(manifest_path)!r} names {what} {filename!r}; a lossbridge manifest "
                         "names plain files inside its folder")
    path = directory / filename
    try:
        resolved = path.resolve(strict=True)
    except FileNotFoundError:
        raise InputError(f"saved {what} {str(path)!r} is missing") from None
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise InputError(f"cannot read saved {what} {str(path)!r}: {exc}") from None
    if not resolved.is_relative_to(directory.resolve()):
        raise InputError(f"saved {what} {str(path)!r} points outside the folder {str(directory)!r} "
                         f"(to {str(resolved)!r}); refusing to read it")
    if not stat.S_ISREG(resolved.stat().st_mode):
        raise InputError(f"saved {what} {str(path)!r} is not a regular file")
    return resolved


def _load_arrays(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {key: stored[key] for key in stored.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, AttributeError) as exc:
        # Not an .npz (np.load would unpickle a bare file; allow_pickle=False refuses it).
        raise InputError(f"saved leave-one-out values {str(path)!r} are corrupt "
                         f"({type(exc).__name__})") from None


def _manifest_error(manifest_path: Path, problem: str) -> InputError:
    return InputError(f"{str(manifest_path)!r} is not a lossbridge manifest ({problem}); "
                      "pass a folder written by 'lossbridge fit ... --save DIR'")


def load(directory: str | Path) -> SavedAnalysis:
    """Load a folder written by :func:`save_analysis` (``lossbridge fit ... --save DIR``).

    Every file read is a regular file inside ``directory`` (symlinks are followed only if
    they stay inside it); a corrupt or foreign manifest is an :class:`InputError`.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{str(directory)!r} is not a folder; pass a folder written by --save")
    manifest_path = directory / MANIFEST
    if not os.path.lexists(manifest_path):
        raise InputError(f"{str(directory)!r} is not a lossbridge save folder (no {MANIFEST})")
    manifest_path = _inside(directory, MANIFEST, "manifest", manifest_path)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{str(manifest_path)!r} is not valid JSON: {exc}") from None
    except OSError as exc:
        raise InputError(f"cannot read {str(manifest_path)!r}: {exc.strerror}") from None
    if not isinstance(manifest, dict):
        raise _manifest_error(manifest_path, f"a JSON {type(manifest).__name__}, not an object")
    if manifest.get("format") != FORMAT_VERSION:
        raise InputError(f"{str(manifest_path)!r} has unknown format {manifest.get('format')!r}; "
                         f"this lossbridge reads format {FORMAT_VERSION}")
    models = manifest.get("models")
    if not isinstance(models, dict) or not models:
        raise _manifest_error(manifest_path, "'models' must map model names to file names")
    analysis = manifest.get("analysis")
    if not isinstance(analysis, dict):
        raise _manifest_error(manifest_path, "no 'analysis' document")
    paths = {name: _inside(directory, filename, "posterior", manifest_path)
             for name, filename in models.items()}
    loo_path = _inside(directory, manifest.get("loo_file"), "leave-one-out values", manifest_path)
    try:
        fits = {f["model"]: f for f in analysis["fits"]}
        options = analysis["options"]
        n_samples = int(options["chains"]) * int(options["draws"])
        arrays = _load_arrays(loo_path)
        loo = {name: _loaded_loo(name, arrays, fits[name], n_samples) for name in paths}
        document_hash = analysis["data"]["y_hash"]
    except KeyError as exc:
        raise _manifest_error(manifest_path, f"missing entry {exc}") from None
    except (TypeError, ValueError, AttributeError, OSError, EOFError) as exc:
        raise _manifest_error(manifest_path, f"{type(exc).__name__}: {exc}") from None
    if not isinstance(document_hash, str):
        raise _manifest_error(manifest_path, "the data hash is not a string")
    posteriors = {}
    for name, path in paths.items():
        try:
            posteriors[name] = arviz_bridge.load_netcdf(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"saved posterior {str(path)!r} is not a readable netCDF file "
                             f"({type(exc).__name__})") from None
    return SavedAnalysis(directory, analysis, posteriors, loo)
