"""The entries of a batch: what each analysis of ``lossbridge batch`` reads, and its hash.

An entry is one analysis: a name, its data (a path, a bundled name, or one group's rows
as a DataFrame), its raw options (TOML names) and where a bad option was written. Entries
come from a grouped dataset (``--by COLUMN``), TOML specs (``models/NAME.toml``), TOML
manifests (``[[entry]]`` tables) and CSV manifests (a ``data`` column, one row per
analysis, the simulation study's ``lossbridge simulate --replicates``).

An entry's hash keys its result for resume: the data's bytes (a file's, a group's rows as
CSV, a simulation sidecar beside the data), the formula and every validated option,
including the seed. A seed not given is derived from the rest of the hash, so a rerun
is the same analysis, and the seed is recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..core.errors import InputError
from ..data.datasets import BUNDLED, bundled_likelihoods, bundled_path, resolve_formula
from ..data.simulation import sidecar_path
from ..data.tables import load_table
from .options import OPTIONS, validate_options

#: Options that do not change an analysis' result: left out of its hash. A batch runs
#: every analysis with one core (worker processes are daemonic: no chain processes) and
#: no progress output.
RUN_TIME_OPTIONS = ("cores", "progress")
MANIFEST_KEYS = ("name", "data")
_SAFE = re.compile(r"[^A-Za-z0-9._=-]+")


@dataclass(frozen=True)
class Entry:
    """One analysis of a batch.

    Attributes
    ----------
    name : str
        Shown in the summary and the index report (``income=12``, a spec's name).
    data : str or DataFrame
        What :func:`lossbridge.fit` reads: a path, a bundled name or one group's rows.
    options : dict
        Raw options under their TOML names (validated by :func:`checked_entry`).
    where : str
        Where the entry was written, for its error messages (``manifest.csv row 3``).
    group : dict
        The ``--by`` columns' values of a group ({} for other entries).
    """

    name: str
    data: str | pd.DataFrame
    options: Mapping[str, Any]
    where: str
    group: Mapping[str, Any] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        """A file name for the entry's results: its name made safe, plus a short hash of
        the name (two names made safe the same way stay apart)."""
        safe = _SAFE.sub("_", self.name).strip("._")[:80] or "entry"
        return f"{safe}-{hashlib.sha256(self.name.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class CheckedEntry:
    """An entry whose options passed :func:`validate_options`: its hash and its seed."""

    entry: Entry
    options: dict  # raw TOML-named options, with the seed filled in
    digest: str
    seed: int


@dataclass(frozen=True)
class EntryError:
    """An entry refused before it ran (a bad option, a spec that does not parse)."""

    name: str
    where: str
    error: str
    group: Mapping[str, Any] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return Entry(self.name, "", {}, self.where).slug


# ----------------------------------------------------------------------------- hashing
def data_digest(data: str | pd.DataFrame) -> str:
    """SHA-256 of what an entry reads: a file's bytes (and its simulation sidecar's, which
    fit reads when it is beside the data), or a group's rows written as CSV."""
    sha = hashlib.sha256()
    if isinstance(data, pd.DataFrame):
        sha.update(b"frame\0" + data.to_csv(index=False).encode("utf-8"))
        return sha.hexdigest()
    text = str(data)
    path = Path(text)
    if text in BUNDLED and not path.exists():
        path = bundled_path(text)
    try:
        sha.update(b"file\0" + path.read_bytes())
    except OSError as exc:
        raise InputError(f"data {text!r} cannot be read: {exc.strerror or exc}") from None
    side = sidecar_path(path)
    if side.is_file():
        sha.update(b"\0sidecar\0" + side.read_bytes())
    return sha.hexdigest()


def _canonical(options: Mapping[str, Any]) -> str:
    chosen = {k: v for k, v in options.items() if k not in RUN_TIME_OPTIONS}
    return json.dumps(chosen, sort_keys=True, default=str)


def checked_entry(entry: Entry, digest_of_data: str | None = None) -> CheckedEntry:
    """Validate ``entry``'s options (TOML names) and give it its hash and seed.

    Raises
    ------
    InputError
        Naming the entry and the option, the value and what is valid.
    """
    data_hash = digest_of_data or data_digest(entry.data)
    raw = dict(entry.options)
    data_name = entry.data if isinstance(entry.data, str) else None
    try:
        checked = validate_options(raw, spelling="toml", data=data_name)
        if raw.get("truth") is not None:
            side = Path(str(raw["truth"]))
            if side.is_file():
                data_hash = hashlib.sha256((data_hash + "\0").encode() + side.read_bytes()).hexdigest()
        if checked["seed"] is None:
            # A seed derived from everything else: a rerun is the same analysis.
            base = hashlib.sha256(f"{data_hash}\0{_canonical(checked)}".encode()).digest()
            raw["seed"] = int.from_bytes(base[:4], "big")
            checked = validate_options(raw, spelling="toml", data=data_name)
    except InputError as exc:
        raise InputError(f"{entry.where}: {exc}") from None
    digest = hashlib.sha256(f"{data_hash}\0{_canonical(checked)}".encode()).hexdigest()
    return CheckedEntry(entry, raw, digest, int(checked["seed"]))


# ----------------------------------------------------------------------------- grouped data
def _value_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def grouped_entries(data: str | Path | pd.DataFrame, by: Sequence[str],
                    options: Mapping[str, Any]) -> list[Entry]:
    """One entry per group of ``data``'s rows by the columns ``by`` (rows with a missing
    group value belong to no group).

    Raises
    ------
    InputError
        A ``--by`` column the data do not have.
    """
    table = load_table(data if isinstance(data, pd.DataFrame) else str(data))
    frame = table.frame
    by = list(by)
    if not by:
        raise InputError("--by needs at least one column")
    for column in by:
        if column not in frame.columns:
            raise InputError(f"--by {column!r}: no such column in {table.source}; columns: "
                             + ", ".join(map(str, frame.columns)))
    if len(set(by)) != len(by):
        raise InputError(f"--by names a column twice: {', '.join(by)}")
    # A group is a DataFrame: a bundled dataset's default formula and likelihoods are
    # filled in here, as fit would for the dataset's name.
    options = dict(options)
    if not isinstance(data, pd.DataFrame):
        if options.get("formula") is None and str(data) in BUNDLED and not Path(str(data)).exists():
            options["formula"] = resolve_formula(data, None)
        if options.get("likelihoods") is None and (chosen := bundled_likelihoods(data)) is not None:
            options["likelihoods"] = chosen
    out = []
    for values, rows in frame.groupby(by, sort=True, dropna=True):
        values = values if isinstance(values, tuple) else (values,)
        group = {column: (v.item() if hasattr(v, "item") else v) for column, v in zip(by, values,
                                                                                     strict=True)}
        name = ",".join(f"{c}={_value_text(v)}" for c, v in group.items())
        out.append(Entry(name, rows.reset_index(drop=True), dict(options),
                         f"group {name}", group))
    if not out:
        raise InputError(f"--by {', '.join(by)}: every row has a missing value in these columns")
    return out


# ----------------------------------------------------------------------------- specs, manifests
def _resolve(data: Any, folder: Path, where: str) -> str:
    if not isinstance(data, str) or not data.strip():
        raise InputError(f"{where}: 'data' must be a bundled name or a CSV path; got {data!r}")
    if data in BUNDLED:
        return data
    path = Path(data)
    # absolute: the stored results name it, and a resumed batch may run from elsewhere
    return os.path.abspath(path if path.is_absolute() else folder / path)


def _options_of(content: Mapping[str, Any], where: str, folder: Path) -> dict[str, Any]:
    keys = [name for name, option in OPTIONS.items() if option.toml]
    unknown = sorted(set(content) - set(keys) - set(MANIFEST_KEYS) - {"description"})
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; valid keys: "
                         + ", ".join((*MANIFEST_KEYS, *keys)))
    options = {k: content[k] for k in keys if k in content}
    truth = options.get("truth")
    if isinstance(truth, str) and truth.strip().lower() != "none" and not Path(truth).is_absolute():
        options["truth"] = os.path.abspath(folder / truth)  # like data: the file's folder
    return options


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{str(path)!r} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise InputError(f"{str(path)!r} cannot be read: {exc.strerror or exc}") from None


def _cell(text: str) -> Any:
    """A CSV manifest cell: a TOML value when it is one (200, 0.9, true, ["a", "b"]),
    else the text itself (a formula, a bare word)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def source_entries(source: str | Path, defaults: Mapping[str, Any]
                   ) -> list[Entry | EntryError]:
    """The entries of a TOML spec, a TOML manifest or a CSV manifest; ``defaults`` are
    options every entry has unless it sets them itself.

    A bad entry is an :class:`EntryError` (the batch runs the others); a file that is no
    spec or manifest at all raises :class:`InputError`.
    """
    path = Path(source)
    if not path.is_file():
        raise InputError(f"{str(path)!r} does not exist or is not a file; give a TOML spec, a "
                         "manifest (TOML or CSV with a 'data' column), or DATA --by COLUMN")
    folder = path.parent
    out: list[Entry | EntryError] = []
    if path.suffix.lower() == ".toml":
        content = _read_toml(path)
        if "entry" in content:  # a manifest: [defaults] and [[entry]] tables
            shared = {**defaults, **_options_of(content.get("defaults", {}), f"{path} [defaults]",
                                                folder)}
            rows = content["entry"]
            if not isinstance(rows, list):
                raise InputError(f"{str(path)!r}: 'entry' must be an array of tables ([[entry]])")
            for index, row in enumerate(rows, start=1):
                where = f"{path} entry {index}"
                name = str(row.get("name", f"{path.stem}-{index}")) if isinstance(row, dict) \
                    else f"{path.stem}-{index}"
                try:
                    if not isinstance(row, dict):
                        raise InputError(f"{where}: an entry must be a table")
                    out.append(Entry(name, _resolve(row.get("data"), folder, where),
                                     {**shared, **_options_of(row, where, folder)}, where))
                except InputError as exc:
                    out.append(EntryError(name, where, str(exc)))
            return out
        where = f"analysis spec {str(path)!r}"
        name = str(content.get("name", path.stem))
        try:
            out.append(Entry(name, _resolve(content.get("data"), folder, where),
                             {**defaults, **_options_of(content, where, folder)}, where))
        except InputError as exc:
            out.append(EntryError(name, where, str(exc)))
        return out
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"manifest {str(path)!r} cannot be read as CSV: {exc}") from None
    if "data" not in frame.columns:
        raise InputError(f"{str(path)!r} has no 'data' column: a CSV manifest has one row per "
                         "analysis (data, formula, options); for one analysis per group of a "
                         "data file give --by COLUMN")
    for index, row in enumerate(frame.to_dict("records"), start=2):  # row 1 is the header
        where = f"manifest {path} row {index}"
        name = row.get("name") or f"{path.stem}-{index - 1}"
        given = {k: _cell(v) for k, v in row.items() if k not in MANIFEST_KEYS and v != ""}
        try:
            out.append(Entry(name, _resolve(row["data"], folder, where),
                             {**defaults, **_options_of(given, where, folder)}, where))
        except InputError as exc:
            out.append(EntryError(name, where, str(exc)))
    return out


def unique_names(entries: Sequence[Entry | EntryError]) -> None:
    """Refuse two entries of one name: their results would share a file."""
    seen: dict[str, str] = {}
    for entry in entries:
        if entry.name in seen:
            raise InputError(f"two entries are named {entry.name!r} ({seen[entry.name]} and "
                             f"{entry.where}); give each a distinct name")
        seen[entry.name] = entry.where
