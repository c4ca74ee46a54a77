"""``lossbridge batch``: many analyses as one job, on Dask's distributed scheduler.

:func:`batch` builds the entries (:mod:`lossbridge.interfaces.batch_entries`), skips those
whose result is already in the results folder under the same hash (resume), and runs the
others as Dask tasks: on a ``distributed.Client`` given by the caller, on the scheduler at
``scheduler`` (or ``DASK_SCHEDULER_ADDRESS``), or on a ``LocalCluster`` of single-threaded
worker processes started here. Each worker runs its analyses with one core, BLAS on one
thread and its own PyTensor compile folder (PyTensor's compilation is not thread-safe,
pymc#7819); a worker keeps its imports and compiled modules across the analyses it runs.

The task returns the analysis' JSON and report as text; this process writes each one
atomically (:class:`lossbridge.core.outputs.Outputs`) as it arrives, so a killed worker
(whose tasks Dask reschedules on the others) never leaves a half-written file, and an
interrupted batch keeps every finished result. The results folder::

    OUT/entries/SLUG.json          the analysis (to_dict), with the entry's name, hash, seed
    OUT/entries/SLUG.html          its own report
    OUT/entries/SLUG.error.json    a failed entry's one-line error
    OUT/summary.csv, summary.parquet, index.html, batch.json
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from distributed.diagnostics.plugin import WorkerPlugin

from ..core import interrupts
from ..core.errors import InputError
from ..core.outputs import Outputs, check_output
from .batch_entries import (
    CheckedEntry,
    Entry,
    EntryError,
    checked_entry,
    data_digest,
    grouped_entries,
    source_entries,
    unique_names,
)

BATCH_KIND = "lossbridge-batch"
#: Environment of every local worker process, set before it imports NumPy: one BLAS thread.
WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
SCHEDULER_TIMEOUT = 10  # seconds to reach a scheduler before its address is refused


@dataclass(frozen=True)
class Outcome:
    """What became of one entry: ``done`` (run now), ``resumed`` (its result was already in
    the folder), or ``failed`` with a one-line ``error``."""

    name: str
    slug: str
    status: str
    group: Mapping[str, Any] = field(default_factory=dict)
    digest: str | None = None
    seed: int | None = None
    error: str | None = None
    seconds: float | None = None
    document: dict | None = None  # the analysis' JSON (to_dict), when it ran
    report: bool = False  # its own HTML report is in the folder


@dataclass(frozen=True)
class BatchResult:
    """The outcome of :func:`batch`: one :class:`Outcome` per entry and the files written."""

    out: Path
    outcomes: list[Outcome]
    summary: pd.DataFrame
    seconds: float

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def index(self) -> Path:
        return self.out / "index.html"


# ----------------------------------------------------------------------------- on the worker
class WorkerSetup(WorkerPlugin):
    """A Dask worker plugin: each worker process its own PyTensor compile folder.

    Set in ``PYTENSOR_FLAGS`` before the worker imports PyTensor (its first analysis), so
    no two processes compile into one folder at once; the folder outlives the batch, so a
    later batch on the same machine reuses the compiled modules.
    """

    name = "lossbridge-worker-setup"

    def __init__(self, root: str | None = None):
        self.root = root

    def setup(self, worker) -> None:
        root = Path(self.root or Path(tempfile.gettempdir()) / f"lossbridge-pytensor-{os.getuid()}")
        folder = root / f"worker-{''.join(c if c.isalnum() else '_' for c in str(worker.name))}"
        folder.mkdir(parents=True, exist_ok=True)
        if "pytensor" not in sys.modules:
            flags = os.environ.get("PYTENSOR_FLAGS", "")
            os.environ["PYTENSOR_FLAGS"] = ",".join(filter(None, [flags,
                                                                  f"base_compiledir={folder}"]))
        for name, value in WORKER_ENV.items():
            os.environ.setdefault(name, value)  # for libraries loaded from now on
        try:  # a worker started elsewhere may have loaded BLAS with its own thread pool
            from threadpoolctl import threadpool_limits
        except ImportError:
            return
        threadpool_limits(limits=1)


def run_entry(data, options: dict, command: str, report: bool, posteriors: bool = False) -> dict:
    """Run one analysis (in a worker): its JSON and report as text (and, with
    ``posteriors``, the files of its save folder as bytes), or its one-line error.

    ``options`` are TOML-named and were validated by the client; they are validated again
    here (cheap) because typed options are made only by ``validate_options``.
    """
    import warnings

    from ..core.errors import LossbridgeWarning
    from ..core.jsonio import dumps
    from ..core.quiet import quiet_imports, silenced

    quiet_imports()
    clock = time.perf_counter()
    try:
        with silenced(True), warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=LossbridgeWarning)
            from .options import validate_options
            from .pipeline import run_pipeline

            checked = validate_options({**options, "cores": 1, "progress": False},
                                       spelling="toml", data=data if isinstance(data, str) else None)
            analysis = run_pipeline(data, checked)
            html = None
            if report:
                from ..present.report import render_html

                html = render_html(analysis, command)
            saved = _save_folder_files(analysis) if posteriors and analysis.sampled else None
            return {"status": "done", "json": dumps(analysis.to_dict()), "html": html,
                    "posteriors": saved, "seconds": time.perf_counter() - clock}
    except InputError as exc:
        return {"status": "failed", "error": str(exc), "seconds": time.perf_counter() - clock}
    except Exception as exc:  # one line, like the CLI's internal errors; the batch goes on
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return {"status": "failed", "error": f"internal error: {type(exc).__name__}: {text}",
                "seconds": time.perf_counter() - clock}


def _save_folder_files(analysis) -> dict[str, bytes]:
    """The files ``lossbridge.load`` reads (one netCDF per model, LOO values, manifest),
    as bytes: written in the worker's temporary folder, sent back with the reply."""
    import dask

    from .persistence import write_save_folder

    # Inside a Dask task xarray would take a cluster-wide write lock named by its target
    # (a BytesIO here, unknown to the scheduler); this process writes alone, so a local
    # scheduler (and xarray's in-process lock) is the right one.
    with tempfile.TemporaryDirectory(prefix="lossbridge-batch-") as folder, \
            dask.config.set(scheduler="synchronous"):
        write_save_folder(analysis, Path(folder))
        return {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()}


# ----------------------------------------------------------------------------- results folder
def _entry_paths(out: Path, slug: str) -> tuple[Path, Path, Path]:
    folder = out / "entries"
    return folder / f"{slug}.json", folder / f"{slug}.html", folder / f"{slug}.error.json"


def _posteriors_path(out: Path, slug: str) -> Path:
    return out / "entries" / f"{slug}.posteriors"


def _finished(out: Path, checked: CheckedEntry, reports: bool, posteriors: bool) -> dict | None:
    """The stored result of ``checked`` when it has the same hash and every output asked for
    now (resume), else None: an entry run with ``--no-reports`` is run again when reports
    are wanted, one without ``--save-posteriors`` when posteriors are."""
    path, report, _ = _entry_paths(out, checked.entry.slug)
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (isinstance(stored, dict) and stored.get("batch_entry", {}).get("hash") == checked.digest):
        return None
    if reports and not report.is_file():
        return None
    sampled = any(fit.get("posterior") for fit in stored.get("fits", []))
    if posteriors and sampled and not _posteriors_path(out, checked.entry.slug).is_dir():
        return None
    return stored


def _record(checked: CheckedEntry | None, entry_like) -> dict:
    return {"name": entry_like.name, "where": entry_like.where, "group": dict(entry_like.group),
            "hash": None if checked is None else checked.digest,
            "seed": None if checked is None else checked.seed,
            "data": None if checked is None or not isinstance(checked.entry.data, str)
            else checked.entry.data}


def _write_result(out: Path, checked: CheckedEntry, reply: dict) -> Outcome:
    from ..core.jsonio import dumps

    entry = checked.entry
    result, report, error = _entry_paths(out, entry.slug)
    with Outputs() as outputs:
        if reply["status"] == "done":
            document = json.loads(reply["json"])
            document["batch_entry"] = {**_record(checked, entry), "seconds": reply["seconds"]}
            if reply.get("html") is not None:
                outputs.text(report, reply["html"], "report")
            if reply.get("posteriors"):
                saved = _posteriors_path(out, entry.slug)
                if saved.exists():  # an earlier, different analysis of this entry
                    shutil.rmtree(saved)
                folder = outputs.folder(saved, "posteriors")
                for name, data in reply["posteriors"].items():
                    (folder / name).write_bytes(data)
            outputs.text(result, dumps(document) + "\n", "result")
        else:
            document = None
            outputs.text(error, dumps({"batch_entry": _record(checked, entry),
                                       "error": reply["error"]}) + "\n", "error record")
        outputs.commit()
    if document is not None:
        error.unlink(missing_ok=True)  # an earlier failure of this entry is superseded
        if reply.get("html") is None:
            report.unlink(missing_ok=True)  # a report of an earlier, different analysis
    return Outcome(entry.name, entry.slug, reply["status"], dict(entry.group), checked.digest,
                   checked.seed, reply.get("error"), reply.get("seconds"), document,
                   report=reply.get("html") is not None)


def _write_refusal(out: Path, refused: EntryError) -> Outcome:
    from ..core.jsonio import dumps

    error = _entry_paths(out, refused.slug)[2]
    with Outputs() as outputs:
        outputs.text(error, dumps({"batch_entry": _record(None, refused), "error": refused.error})
                     + "\n", "error record")
        outputs.commit()
    return Outcome(refused.name, refused.slug, "failed", dict(refused.group), error=refused.error)


def _check_folder(out: Path) -> None:
    """The results folder must be new, or one this command wrote before (resume)."""
    if out.exists():
        if not out.is_dir():
            raise InputError(f"--out {str(out)!r} exists and is not a folder; give a folder for "
                             "the batch's results")
        if any(out.iterdir()) and not (out / "batch.json").is_file() and not (out / "entries").is_dir():
            raise InputError(f"--out {str(out)!r} is a folder with other files in it (no batch.json); "
                             "give a new folder, or the results folder of an earlier batch to resume")
    else:
        check_output(out, what="results folder", option="--out", kind="folder")


def _make_folder(out: Path) -> None:
    try:
        (out / "entries").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {str(out)!r}: cannot create the results folder "
                         f"({exc.strerror or exc})") from None


# ----------------------------------------------------------------------------- the cluster
def _connect(client, scheduler: str | None, workers: int | None, progress: bool):
    """The client to run on and what to close after the batch: nothing for the caller's
    client, the client of a scheduler address, or the client and the local cluster."""
    from distributed import Client, LocalCluster

    if client is not None:
        return client, ()
    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        given = "--scheduler" if scheduler else "DASK_SCHEDULER_ADDRESS"
        try:
            connected = Client(address, timeout=SCHEDULER_TIMEOUT)
            return connected, (connected,)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"{given} {address!r}: cannot reach a Dask scheduler there "
                             f"within {SCHEDULER_TIMEOUT} s ({type(exc).__name__}); give the "
                             "address 'tcp://HOST:PORT' of a running dask scheduler") from None
    import importlib.util
    import logging

    n = workers or os.cpu_count() or 1
    dashboard = ":0" if importlib.util.find_spec("bokeh") is not None else None
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, env=dict(WORKER_ENV),
                           dashboard_address=dashboard, silence_logs=logging.ERROR)
    if progress:
        where = (f"dashboard {cluster.dashboard_link}" if dashboard else
                 "no dashboard (it needs the bokeh package)")
        print(f"lossbridge batch: local cluster of {n} worker process(es), {where}",
              file=sys.stderr)
    started = Client(cluster)
    return started, (started, cluster)


class _Progress:
    """One line on stderr: done / failed / remaining, elapsed, ETA (redrawn on a terminal)."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled = total, enabled
        self.done = self.failed = 0
        self.start = time.perf_counter()
        self.tty = enabled and sys.stderr.isatty()

    def update(self, outcome: Outcome | None = None) -> None:
        if outcome is not None:
            if outcome.status == "failed":
                self.failed += 1
            else:
                self.done += 1
        if not self.enabled:
            return
        finished = self.done + self.failed
        elapsed = time.perf_counter() - self.start
        eta = elapsed / finished * (self.total - finished) if finished else None
        width = 24
        bar = "#" * (width * finished // max(self.total, 1))
        line = (f"[{bar:<{width}}] {self.done} done, {self.failed} failed, "
                f"{self.total - finished} remaining; elapsed {_clock(elapsed)}, ETA "
                f"{'?' if eta is None else _clock(eta)}")
        if outcome is not None and outcome.status == "failed":
            print(("\r\033[K" if self.tty else "") + f"failed: {outcome.name}: {outcome.error}",
                  file=sys.stderr)
        print(("\r\033[K" + line) if self.tty else line, end="" if self.tty else "\n",
              file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s"


# ----------------------------------------------------------------------------- the batch
def _entries(sources, by, options) -> list[Entry | EntryError]:
    if by:
        if len(sources) != 1:
            raise InputError(f"--by groups one data file; got {len(sources)} sources")
        return list(grouped_entries(sources[0], by, options))
    out: list[Entry | EntryError] = []
    for source in sources:
        if isinstance(source, pd.DataFrame):
            raise InputError("a DataFrame is one dataset: give by=COLUMN to run one analysis "
                             "per group")
        out.extend(source_entries(source, options))
    return out


def batch(
    sources: str | Path | pd.DataFrame | Sequence[str | Path],
    *,
    out: str | Path,
    by: str | Sequence[str] | None = None,
    client=None,
    scheduler: str | None = None,
    workers: int | None = None,
    reports: bool = True,
    posteriors: bool = False,
    progress: bool | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    command: str | None = None,
    **options: Any,
) -> BatchResult:
    """Run many analyses as one job on Dask and write their results to the folder ``out``.

    Parameters
    ----------
    sources : path, DataFrame or sequence of paths
        With ``by``: one dataset (CSV path, bundled name or DataFrame), one analysis per
        group of rows. Without: TOML specs (``models/NAME.toml``), TOML manifests
        (``[defaults]`` and ``[[entry]]`` tables with ``name``, ``data`` and options) or
        CSV manifests (a ``data`` column; other columns are options).
    out : path
        The results folder: new, or an earlier batch's, which is resumed (entries whose
        result is there under the same hash are not run again).
    by : str or sequence of str, optional
        The grouping columns.
    client : distributed.Client, optional
        Run on this client's cluster (left open).
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a running scheduler (default: ``DASK_SCHEDULER_ADDRESS``,
        else a local cluster is started and closed).
    workers : int, optional
        Worker processes of the local cluster (default: the number of cores).
    reports : bool
        Write each entry's own HTML report (the index links to it).
    posteriors : bool
        Also save each sampled analysis' posteriors in ``entries/SLUG.posteriors/``, a
        folder :func:`lossbridge.load` reads (``--save`` of ``fit``).
    progress : bool, optional
        The progress line on stderr (default: when stderr is a terminal).
    on_outcome : callable, optional
        Called with each :class:`Outcome` as it is written.
    command : str, optional
        The command line shown in the reports.
    **options
        Options of :func:`lossbridge.fit` (``formula``, ``likelihoods``, ``draws``, ...)
        for every entry; an entry's own options win.

    Returns
    -------
    BatchResult
    """
    from ..present.batch_report import render_index
    from .batch_summary import study_statistics, summary_frame, summary_row, warning_counts

    clock = time.perf_counter()
    if isinstance(sources, (str, Path, pd.DataFrame)):
        sources = [sources]
    sources = list(sources)
    by = [by] if isinstance(by, str) else list(by or [])
    if options:  # the shared options, checked once under the Python names
        from .options import validate_options

        unknown_check = {k: v for k, v in options.items() if k not in ("cores", "progress")}
        validate_options(unknown_check, spelling="python")
    progress = sys.stderr.isatty() if progress is None else bool(progress)
    entries = _entries(sources, by, options)
    unique_names(entries)
    out = Path(out)
    _check_folder(out)

    outcomes: dict[str, Outcome] = {}
    refused: list[EntryError] = []
    pending: list[CheckedEntry] = []
    for entry in entries:
        if isinstance(entry, EntryError):
            refused.append(entry)
            continue
        try:
            checked = checked_entry(entry, data_digest(entry.data))
        except InputError as exc:
            refused.append(EntryError(entry.name, entry.where, str(exc), entry.group))
            continue
        stored = _finished(out, checked, reports, posteriors)
        if stored is not None:
            outcomes[entry.name] = Outcome(
                entry.name, entry.slug, "resumed", dict(entry.group), checked.digest, checked.seed,
                document=stored, report=_entry_paths(out, entry.slug)[1].is_file())
        else:
            pending.append(checked)
    # Connected before anything is written: an unreachable scheduler leaves no folder.
    connection = _connect(client, scheduler, workers, progress) if pending else (None, ())
    try:
        _make_folder(out)
        bar = _Progress(len(entries), progress)
        bar.done = len(outcomes)
        for entry in refused:
            outcomes[entry.name] = _write_refusal(out, entry)
            bar.update(outcomes[entry.name])
        if pending:
            _run(pending, out, outcomes, bar, connection[0], reports, posteriors, on_outcome,
                 command)
    finally:
        for opened in connection[1]:  # a client and a local cluster opened here
            opened.close()
    bar.close()
    ordered = [outcomes[e.name] for e in entries]
    summary = summary_frame(ordered, by)
    study = study_statistics(ordered)
    _write_summary(out, summary, ordered, by, study,
                   lambda record: render_index([summary_row(o, by) for o in ordered], by,
                                               study, record, warning_counts(ordered)),
                   command, time.perf_counter() - clock)
    return BatchResult(out, ordered, summary, time.perf_counter() - clock)


def _run(pending: list[CheckedEntry], out: Path, outcomes: dict[str, Outcome], bar: _Progress,
         client, reports, posteriors, on_outcome, command) -> None:
    from distributed import as_completed

    futures = {}
    try:
        client.register_plugin(WorkerSetup())
        for checked in pending:
            future = client.submit(run_entry, checked.entry.data, checked.options,
                                   command or "lossbridge batch", reports, posteriors,
                                   key=f"lossbridge-{checked.entry.slug}-{checked.digest[:16]}",
                                   pure=False)
            futures[future] = checked
        bar.update()
        for future in as_completed(futures):
            checked = futures[future]
            try:
                reply = future.result()
            except Exception as exc:  # the task could not complete (KilledWorker, ...)
                reply = {"status": "failed", "seconds": None,
                         "error": f"the task did not complete on the cluster: {type(exc).__name__}: "
                                  f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"}
            outcome = _write_result(out, checked, reply)
            outcomes[checked.entry.name] = outcome
            bar.update(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
            interrupts.check()
    finally:
        for future in futures:
            if not future.done():
                future.cancel()


def _write_summary(out: Path, summary: pd.DataFrame, outcomes: list[Outcome], by: list[str],
                   study: dict | None, render_index, command: str | None, seconds: float) -> None:
    import io

    from ..core.jsonio import dumps

    record = {"kind": BATCH_KIND, "by": by, "entries": len(outcomes),
              "done": sum(o.status == "done" for o in outcomes),
              "resumed": sum(o.status == "resumed" for o in outcomes),
              "failed": sum(o.status == "failed" for o in outcomes),
              "seconds": seconds, "study": study, "command": command}
    buffer = io.BytesIO()
    summary.to_parquet(buffer, engine="pyarrow", index=False)
    with Outputs() as outputs:
        outputs.text(out / "summary.csv", summary.to_csv(index=False), "summary")
        outputs.text(out / "index.html", render_index(record),
                     "index report")
        outputs.text(out / "batch.json", dumps(record) + "\n", "batch record")
        outputs.commit()
    # Parquet is binary: written beside, atomically, by rename.
    temporary = out / f".summary.parquet.{os.getpid()}.tmp"
    try:
        temporary.write_bytes(buffer.getvalue())
        os.replace(temporary, out / "summary.parquet")
    finally:
        temporary.unlink(missing_ok=True)


def entries_of(sources: Iterable, by=None, **options) -> list[Entry | EntryError]:
    """The entries :func:`batch` would run (for inspection and tests), without running them."""
    sources = [sources] if isinstance(sources, (str, Path, pd.DataFrame)) else list(sources)
    by = [by] if isinstance(by, str) else list(by or [])
    return _entries(sources, by, options)
