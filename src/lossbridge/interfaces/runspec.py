"""TOML analysis specs (``models/NAME.toml``): one analysis per file.

A spec holds the arguments of :func:`lossbridge.fit` as top-level keys::

    name = "engel"
    data = "engel"                 # bundled name, or a CSV path relative to the spec file
    formula = "foodexp ~ income"
    likelihoods = ["normal", "laplace"]
    scales = "both"
    # sigma = 2.5                  # fixed Normal scale (normal-fixed); b = 2.0 for the Laplace
    priors = "flat"
    seed = 20261201
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import InputError
from ..data.datasets import BUNDLED
from .options import validate_options

FIT_KEYS = ("formula", "likelihoods", "scales", "sigma", "b", "priors", "sample", "draws", "tune",
            "chains", "cores", "seed", "hdi_prob", "dropna")
ALLOWED_KEYS = ("name", "description", "data", *FIT_KEYS)


@dataclass(frozen=True)
class AnalysisSpec:
    """A parsed TOML spec: its name, the data it points at and the fit options."""

    name: str
    data: str
    options: dict = field(default_factory=dict)
    description: str = ""
    path: Path | None = None


NAME_MAX_BYTES = 250  # "NAME.html" within the 255 bytes most file systems allow per name


def check_spec_name(name, path: Path) -> str:
    """Return ``name`` if it is a safe file name for ``reports/NAME.html``, else raise.

    The name becomes a file name: no path separators (``/``, ``\\``), no ``..``, no
    leading ``.`` (hidden files, and lossbridge's own temporaries), no NUL or other
    control characters, at most :data:`NAME_MAX_BYTES` bytes in UTF-8.
    """
    where = f"analysis spec {str(path)!r}"
    if not isinstance(name, str):
        raise InputError(f"{where}: name must be a string; got {name!r}")
    shown = repr(name if len(name) <= 60 else name[:60] + "...")
    rule = ("use letters, digits, '-', '_' and '.' (no '/' or '\\', no leading '.'), "
            f"at most {NAME_MAX_BYTES} bytes")
    if not name.strip():
        raise InputError(f"{where}: name is empty; {rule}")
    if "/" in name or "\\" in name:
        raise InputError(f"{where}: name {shown} contains a path separator; it names the report "
                         f"file reports/NAME.html, so {rule}")
    if name.startswith("."):
        raise InputError(f"{where}: name {shown} starts with '.'; {rule}")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InputError(f"{where}: name {shown} contains a NUL or control character; {rule}")
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > NAME_MAX_BYTES:
        raise InputError(f"{where}: name {shown} is {size} bytes long; {rule}")
    return name


def load_spec(path: str | Path) -> AnalysisSpec:
    """Read and validate a TOML analysis spec."""
    path = Path(path)
    if not path.is_file():
        where = "is a directory" if path.is_dir() else "does not exist"
        raise InputError(f"analysis spec {str(path)!r} {where}; pass a models/NAME.toml file")
    try:
        content = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"analysis spec {str(path)!r} is not valid TOML: {exc}") from None
    unknown = sorted(set(content) - set(ALLOWED_KEYS))
    if unknown:
        raise InputError(
            f"analysis spec {str(path)!r} has unknown key(s) {', '.join(map(repr, unknown))}; "
            f"valid keys: {', '.join(ALLOWED_KEYS)}"
        )
    if "data" not in content:
        raise InputError(f"analysis spec {str(path)!r} needs a 'data' key (bundled name or CSV path)")
    options = {key: content[key] for key in FIT_KEYS if key in content}
    try:
        validate_options({k: v for k, v in options.items() if k != "formula"}, spelling="toml")
    except InputError as exc:
        raise InputError(f"analysis spec {str(path)!r}: {exc}") from None
    if "formula" in options and not isinstance(options["formula"], str):
        raise InputError(f"analysis spec {str(path)!r}: formula must be a string; got {options['formula']!r}")
    data = str(content["data"])
    if data not in BUNDLED:
        candidate = Path(data)
        if not candidate.is_absolute():
            candidate = path.parent / candidate
        data = str(candidate)
    return AnalysisSpec(
        name=check_spec_name(content.get("name", path.stem), path),
        data=data,
        options=options,
        description=str(content.get("description", "")),
        path=path,
    )


def run_spec(spec: str | Path | AnalysisSpec, progress: bool | None = None):
    """Run :func:`lossbridge.fit` with a spec (a loaded one, or the path of a TOML file)."""
    from .pipeline import fit

    if not isinstance(spec, AnalysisSpec):
        spec = load_spec(spec)
    return spec, fit(spec.data, progress=progress, **spec.options)
