"""TOML analysis specs (``models/NAME.toml``): one analysis per file.

A spec holds the options of :func:`lossbridge.fit` as top-level keys (exactly the declared
options of :mod:`lossbridge.interfaces.options`, besides ``name``, ``description`` and
``data``)::

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import InputError
from ..data.datasets import BUNDLED
from .options import OPTIONS, CheckedOptions, validate_options

#: The spec's own keys; every other key is a declared option (interfaces/options.py).
SPEC_KEYS = ("name", "description", "data")


def option_keys() -> tuple[str, ...]:
    """The declared options a spec may set (all but run-time ones such as ``progress``)."""
    return tuple(name for name, option in OPTIONS.items() if option.toml)


def allowed_keys() -> tuple[str, ...]:
    """Every key a spec accepts: its own, then the options."""
    return (*SPEC_KEYS, *option_keys())


@dataclass(frozen=True)
class AnalysisSpec:
    """A parsed TOML spec: its name, the data it points at and the fit options.

    ``options`` are the checked options (:class:`~lossbridge.interfaces.options.CheckedOptions`)
    when loaded by :func:`load_spec`; a plain dict given here is checked by :func:`run_spec`.
    """

    name: str
    data: str
    options: Mapping = field(default_factory=dict)
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
    allowed = allowed_keys()
    unknown = sorted(set(content) - set(allowed))
    if unknown:
        raise InputError(
            f"analysis spec {str(path)!r} has unknown key(s) {', '.join(map(repr, unknown))}; "
            f"valid keys: {', '.join(allowed)}"
        )
    if "data" not in content:
        raise InputError(f"analysis spec {str(path)!r} needs a 'data' key (bundled name or CSV path)")
    try:  # once, here: run_spec passes the typed values on
        options = validate_options({key: content[key] for key in option_keys() if key in content},
                                   spelling="toml", data=content.get("data"))
    except InputError as exc:
        raise InputError(f"analysis spec {str(path)!r}: {exc}") from None
    data = str(content["data"])
    if data not in BUNDLED:
        candidate = Path(data)
        if not candidate.is_absolute():
            candidate = path.parent / candidate
        data = str(candidate)
    truth = options["truth"]
    if truth is not None and truth.strip().lower() != "none" and not Path(truth).is_absolute():
        # like data: a relative sidecar path is the spec's folder's
        options = options.replace(truth=str(path.parent / truth))
    return AnalysisSpec(
        name=check_spec_name(content.get("name", path.stem), path),
        data=data,
        options=options,
        description=str(content.get("description", "")),
        path=path,
    )


def run_spec(spec: str | Path | AnalysisSpec, progress: bool | None = None):
    """Run the pipeline with a spec (a loaded one, or the path of a TOML file).

    Returns the spec and its :class:`~lossbridge.interfaces.results.Analysis`.
    """
    from .pipeline import run_pipeline

    if not isinstance(spec, AnalysisSpec):
        spec = load_spec(spec)
    options = spec.options
    if not isinstance(options, CheckedOptions):  # built by hand, not by load_spec
        options = validate_options(options, spelling="toml")
    return spec, run_pipeline(spec.data, options.replace(progress=progress))
