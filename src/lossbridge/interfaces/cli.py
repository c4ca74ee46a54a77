"""Command-line interface: a thin layer over the pipeline.

The options of ``fit`` and ``report`` (and the run-time ones of ``run``) are built from
their declarations in :mod:`lossbridge.interfaces.options`, checked once by
:func:`~lossbridge.interfaces.options.validate_options` under their flag names and passed
to :func:`~lossbridge.interfaces.pipeline.run_pipeline` as typed values.

Exit codes: 0 success, 1 unexpected internal error, 2 bad input, 130 interrupted (SIGINT),
143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from collections.abc import Callable
from functools import partial
from pathlib import Path

from ..core import interrupts
from ..core.errors import InputError, LossbridgeWarning

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_TERMINATED = 143


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) instead of usage dumps.

    ``arguments(parser)``, when given, adds the parser's arguments the first time it is
    used: the options are declared from the family registry
    (:mod:`lossbridge.interfaces.options`), whose import costs seconds, and
    ``lossbridge --help`` and ``lossbridge datasets`` need none of it.
    """

    def __init__(self, *args, arguments: Callable[[argparse.ArgumentParser], None] | None = None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self._arguments = arguments

    def ensure_arguments(self) -> _Parser:
        """Add the deferred arguments now (once); returns the parser."""
        if self._arguments is not None:
            arguments, self._arguments = self._arguments, None
            arguments(self)
        return self

    def parse_known_args(self, args=None, namespace=None):
        self.ensure_arguments()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self.ensure_arguments()
        return super().format_usage()

    def format_help(self) -> str:
        self.ensure_arguments()
        return super().format_help()

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(EXIT_INPUT, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _add_option(parser: argparse.ArgumentParser, option) -> None:
    """One declared option (:class:`lossbridge.interfaces.options.Option`) as its flag."""
    flags = [option.flag] + ([option.short] if option.short else [])
    settings = {"dest": option.name, "default": option.default, "help": option.help,
                "action": option.action}
    if option.action in ("store", "append") and option.metavar:
        settings["metavar"] = option.metavar
    # argparse does not convert: each value is checked by the declaration, under its flag.
    parser.add_argument(*flags, **settings)


def _add_options(parser: argparse.ArgumentParser, *, spec: bool) -> None:
    """The declared options a spec can hold (``spec=True``) or the run-time ones (False)."""
    from .options import OPTIONS

    for option in OPTIONS.values():
        if option.flag and option.toml == spec:
            _add_option(parser, option)


def _fit_arguments(parser: argparse.ArgumentParser, *, report: bool) -> None:
    parser.add_argument("data", help="CSV path or bundled dataset name" if report else
                        "CSV path or bundled dataset name (see 'lossbridge datasets')")
    _add_options(parser, spec=True)
    parser.add_argument("--save", metavar="DIR",
                        help="write one netCDF per model and a manifest into the new folder DIR")
    _run_time_arguments(parser)
    if report:
        parser.add_argument("--out", "-o", required=True, metavar="PATH.html", help="report file")
        parser.add_argument("--json", action="store_true", help="also print the JSON document")
    else:
        parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    _hidden_debug(parser)


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="path to the TOML spec")
    parser.add_argument("--out", "-o", metavar="PATH.html",
                        help="report file (default: reports/NAME.html)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    _run_time_arguments(parser)
    _hidden_debug(parser)


def _run_time_arguments(parser: argparse.ArgumentParser) -> None:
    """--quiet (no progress output and no library noise), then the run-time options."""
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    _add_options(parser, spec=False)


def _hidden_debug(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS)


#: The flags of ``fit``, ``report`` and ``run`` that are not options of an analysis
#: (outputs and how the command behaves); every other flag is a declared option.
INTERFACE_FLAGS = ("--help", "--save", "--out", "--json", "--quiet", "--debug")


def _description() -> str:
    """The top-level help. Written out, not built from the family registry: importing it
    (SciPy, pandas) would slow ``lossbridge --help``; a test keeps the two in step."""
    return ("Every regression loss is a likelihood: fit Normal, Laplace, Student-t, Huber, "
            "quantile (Asymmetric Laplace), Bernoulli (logit, probit, cloglog), Categorical "
            "(softmax), Poisson and negative binomial likelihoods in PyMC and certify their "
            "MAP against the exact classical fit (OLS, LAD, t regression, Huber, quantile "
            "regression, logistic/probit/cloglog regression, the multinomial logit, Poisson "
            "and negative binomial GLMs, ridge/lasso); "
            "simulate data from a declared law to check them against the truth.")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lossbridge", description=_description())
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("fit", help="fit the models to a CSV file or bundled dataset",
                   arguments=partial(_fit_arguments, report=False))
    sub.add_parser("report", help="fit, then write the self-contained HTML report",
                   arguments=partial(_fit_arguments, report=True))
    sub.add_parser("run", help="run a TOML analysis spec (models/NAME.toml) and write "
                   "reports/NAME.html", arguments=_run_arguments)
    sub.add_parser("batch", help="many analyses as one job on Dask: one per group of DATA "
                   "(--by COLUMN), per TOML spec, or per manifest row; results, summary and "
                   "index report in --out DIR (rerun to resume)", arguments=_batch_arguments)
    sub.add_parser("datasets", help="list the bundled datasets")
    sub.add_parser("simulate", help="write a CSV drawn from a declared law (y = X beta + noise, "
                   "or logistic / Poisson y) and its law, seed and true beta in PATH.law.json",
                   arguments=_simulate_arguments)
    return parser


def _simulate_arguments(parser: argparse.ArgumentParser) -> None:
    from ..data.simulation import LAW_PARAMETERS, PREDICTOR_LAWS

    parser.add_argument("--law", required=True, metavar="LAW",
                        help=", ".join(LAW_PARAMETERS) + " (see README: 'Simulated data')")
    helps = {"sigma": "scale σ of gaussian, student-t, contaminated (its s) and skewed (ω) "
                      "noise (default 1)",
             "b": "scale b of laplace noise (default 1)",
             "nu": "degrees of freedom ν > 0 of student-t noise (default 3)",
             "eps": "contamination share ε in [0, 1] (default 0.1)",
             "k": "contaminated noise: the wide component's sd is k σ (default 5)",
             "alpha": "skewed noise: skew-normal shape α (default 4), centred at its mean"}
    for name, text in helps.items():
        parser.add_argument(f"--{name}", metavar="VALUE", default=None, help=text)
    parser.add_argument("--n", default="200", metavar="N", help="rows, at least 2 (200)")
    parser.add_argument("--seed", default=None, metavar="N",
                        help="random seed (default: drawn and recorded in the sidecar)")
    parser.add_argument("--beta", default=None, metavar="B0,B1,...",
                        help="true coefficients, intercept first, one per predictor x1..xk "
                        "(default 1,2)")
    parser.add_argument("--predictors", default="normal", metavar="LAW",
                        help=f"{' or '.join(PREDICTOR_LAWS)}: x_j ~ N(0, 1) or Uniform(-1, 1)")
    parser.add_argument("--out", "-o", required=True, metavar="PATH.csv",
                        help="the CSV; its law goes to PATH.law.json beside it")
    parser.add_argument("--replicates", default=None, metavar="N",
                        help="write N datasets PATH-001.csv ... (each with its sidecar; seeds "
                        "derived from --seed) and PATH.manifest.csv for 'lossbridge batch'")
    _hidden_debug(parser)


def _batch_arguments(parser: argparse.ArgumentParser) -> None:
    from .options import OPTIONS

    parser.add_argument("sources", nargs="+", metavar="SOURCE",
                        help="DATA (a CSV path or bundled name) with --by, or TOML specs "
                        "(models/*.toml), TOML manifests ([[entry]] tables) or CSV manifests "
                        "(a 'data' column, one row per analysis)")
    parser.add_argument("--by", action="append", metavar="COLUMN",
                        help="one analysis per group of rows with equal COLUMN values "
                        "(repeat for several columns)")
    for option in OPTIONS.values():  # only the flags given: an entry's own options win
        if option.flag and option.toml:
            flags = [option.flag] + ([option.short] if option.short else [])
            # not given: not in the namespace; the help still names the default
            settings = {"dest": option.name, "default": argparse.SUPPRESS,
                        "help": option.help.replace("%(default)s", str(option.default)),
                        "action": option.action}
            if option.action in ("store", "append") and option.metavar:
                settings["metavar"] = option.metavar
            parser.add_argument(*flags, **settings)
    parser.add_argument("--out", "-o", required=True, metavar="DIR",
                        help="results folder (an earlier batch's folder: resume)")
    parser.add_argument("--workers", default=None, metavar="N",
                        help="worker processes of the local cluster (default: the cores)")
    parser.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                        help="run on this Dask scheduler (default: DASK_SCHEDULER_ADDRESS, "
                        "else a local cluster)")
    parser.add_argument("--no-reports", dest="reports", action="store_false",
                        help="no HTML report per entry (the index is still written)")
    parser.add_argument("--save-posteriors", action="store_true",
                        help="also save each analysis' posteriors (entries/SLUG.posteriors/, "
                        "read by lossbridge.load)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    parser.add_argument("--progress", action="store_true",
                        help="progress output even when stderr is not a terminal")
    _hidden_debug(parser)


def _batch(args: argparse.Namespace, command: str) -> int:
    from ..core.validation import check_positive_int
    from .batch import batch
    from .options import OPTIONS, validate_options

    given = {name: getattr(args, name) for name, option in OPTIONS.items()
             if option.toml and hasattr(args, name)}
    checked = validate_options(given, spelling="cli")  # the flags, once, under their names
    options = {name: checked[name] for name in given}
    workers = None if args.workers is None else check_positive_int("--workers", args.workers)
    result = batch(args.sources, out=args.out, by=args.by, scheduler=args.scheduler,
                   workers=workers, reports=args.reports, posteriors=args.save_posteriors,
                   progress=_progress_flag(args) if (args.quiet or args.progress) else None,
                   command=command, **options)
    failed = len(result.failed)
    print(f"{len(result.outcomes)} analyses: {len(result.outcomes) - failed} finished "
          f"({sum(o.status == 'resumed' for o in result.outcomes)} resumed), {failed} failed, "
          f"{result.seconds:.1f} s; summary {result.out / 'summary.csv'}, index {result.index}")
    return EXIT_OK


# The likelihoods the simulate hint names (any registered family may be fitted; these are
# the ones whose comparison the data were made for): by law for a discrete y, else these.
_SUGGESTED = {"logistic": ("bernoulli",), "poisson": ("poisson", "negbin")}
_SUGGESTED_CONTINUOUS = ("normal", "laplace", "student", "huber")


def _simulate(args: argparse.Namespace) -> int:
    from ..core.outputs import check_output
    from ..data.simulation import sidecar_path, simulate, write_simulation

    parameters = {}
    for name in ("sigma", "b", "nu", "eps", "k", "alpha"):
        value = getattr(args, name)
        if value is None:
            continue
        try:
            parameters[name] = float(value)
        except ValueError:
            raise InputError(f"--{name} must be a number; got {value!r}") from None
    try:
        n = int(args.n)
    except ValueError:
        raise InputError(f"--n must be an integer >= 2; got {args.n!r}") from None
    if args.replicates is not None:
        from ..data.replicates import simulate_replicates

        try:
            replicates = int(args.replicates)
        except ValueError:
            raise InputError(f"--replicates must be an integer >= 1; got {args.replicates!r}") from None
        simulations, manifest = simulate_replicates(
            args.law, replicates, args.out, seed=args.seed, n=n, beta=args.beta,
            predictors=args.predictors, **parameters)
        print(f"wrote {len(simulations)} datasets ({simulations[0].n} rows each, "
              f"{simulations[0].law.label}) with their sidecars and {manifest}; run them with: "
              f"lossbridge batch {manifest} --out RESULTS "
              + " ".join(f"--likelihood {name}" for name in _SUGGESTED.get(
                  simulations[0].law.name, _SUGGESTED_CONTINUOUS)))
        return EXIT_OK
    check_output(args.out, what="simulated data", option="--out")
    check_output(sidecar_path(args.out), what="law sidecar", option="--out")
    simulation = simulate(args.law, n=n, seed=args.seed, beta=args.beta,
                          predictors=args.predictors, **parameters)
    out, side = write_simulation(simulation, args.out)
    print(f"wrote {out} ({simulation.n} rows, {simulation.law.label}, seed {simulation.seed}) "
          f"and {side}; fit it with: lossbridge fit {out} "
          + " ".join(f"--likelihood {name}" for name in _SUGGESTED.get(simulation.law.name,
                                                                _SUGGESTED_CONTINUOUS)))
    return EXIT_OK


def command_parser(command: str) -> _Parser:
    """The parser of one subcommand (``fit``, ``report``, ``run``) with all its arguments."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command].ensure_arguments()


def _fit_options(args: argparse.Namespace):
    """The command line's options, validated once under their flag names.

    Each declared option's flag stores under the option's name, so the namespace holds
    every option (argparse fills in the declared defaults).
    """
    from .options import OPTIONS, validate_options

    raw = {name: getattr(args, name) for name in OPTIONS if hasattr(args, name)}
    raw["progress"] = _progress_flag(args)
    return validate_options(raw, spelling="cli", data=getattr(args, "data", None))


def _progress_flag(args: argparse.Namespace) -> bool | None:
    """--quiet turns progress off, --progress on; neither: only on a terminal (None)."""
    if getattr(args, "quiet", False):
        return False
    return True if getattr(args, "progress", None) else None


def _command_line(argv: list[str] | None) -> str:
    import shlex

    words = sys.argv[1:] if argv is None else argv
    return shlex.join(["lossbridge", *words])


def _emit(analysis, as_json: bool, header: str | None = None) -> None:
    if as_json:
        from ..core.jsonio import dumps

        sys.stdout.write(dumps(analysis.to_dict()) + "\n")
    else:
        if header:
            print(header)
        print(analysis.summary())


def _input_files(data) -> list[str]:
    """The files a fit of ``data`` reads (a CSV path, or a bundled dataset's file)."""
    from ..data.datasets import BUNDLED, bundled_path

    text = str(data)
    if text in BUNDLED and not os.path.exists(text):
        try:
            return [str(bundled_path(text))]
        except InputError:
            return []
    return [text]


_COMMITTED: list[str] = []  # outputs of this run already in place


def _write_outputs(analysis, command: str, save: str | None, report: Path | None) -> Path | None:
    """Write the --save folder and the report together: both complete, or neither."""
    from ..core.outputs import Outputs

    outputs = Outputs()
    try:
        with outputs:
            if save:
                from .persistence import stage_save_folder

                stage_save_folder(analysis, Path(save), outputs)
            if report is not None:
                from ..present.report import render_html

                outputs.text(report, render_html(analysis, command), "report")
            interrupts.check()
            outputs.commit()
    finally:
        # A signal held during the commit is raised when it ends: the outputs are complete.
        if outputs.committed:
            _COMMITTED.extend(str(p) for p in (save, report) if p)
    return report


def _run(args: argparse.Namespace, command: str) -> int:
    import warnings

    if args.command == "datasets":
        from ..data.datasets import BUNDLED

        for name, info in BUNDLED.items():
            print(f"{name:10s} {info.formula}\n{'':10s} {info.title}")
        return EXIT_OK
    if args.command == "simulate":
        return _simulate(args)
    if args.command == "batch":
        return _batch(args, command)
    # Warnings are collected in the analysis and printed with the tables, not twice.
    # (By class, not module: under `python -m lossbridge.interfaces.cli` the CLI's module is __main__.)
    warnings.filterwarnings("ignore", category=LossbridgeWarning)
    from ..core.outputs import check_output

    if args.command in ("fit", "report"):
        options = _fit_options(args)
        inputs = _input_files(args.data)
        out = Path(args.out) if args.command == "report" else None
        # Every output is checked before the expensive part.
        if args.save:
            if not options["sample"]:
                raise InputError("--save stores posteriors: it cannot be used with --no-sample")
            check_output(args.save, what="output folder", option="--save", kind="folder",
                         inputs=inputs)
        if out is not None:
            check_output(out, what="report", option="--out", inputs=inputs)
            if args.save and os.path.abspath(out) == os.path.abspath(args.save):
                raise InputError(f"--out and --save name the same path {args.save!r}; "
                                 "give them different names")
        from .pipeline import run_pipeline

        analysis = run_pipeline(args.data, options)
        interrupts.check()
        _write_outputs(analysis, command, args.save, out)
        if out is not None:
            if args.json:
                _emit(analysis, True)
            else:
                print(f"report written to {out}")
        else:
            _emit(analysis, args.json)
        return EXIT_OK

    from .runspec import load_spec, run_spec

    spec = load_spec(args.spec)
    inputs = [str(spec.path), *_input_files(spec.data)]
    if args.out:
        out = check_output(args.out, what="report", option="--out", inputs=inputs)
    else:
        out = check_output(Path("reports") / f"{spec.name}.html", what="report", inputs=inputs,
                           create_parent=True)
    spec, analysis = run_spec(spec, progress=_progress_flag(args))
    interrupts.check()
    _write_outputs(analysis, command, None, out)
    _emit(analysis, args.json, header=f"analysis spec: {spec.name} ({spec.path})")
    if not args.json:
        print(f"\nreport written to {out}")
    return EXIT_OK


def _interrupted(signum: int | None) -> int:
    signum = signal.SIGINT if signum is None else signum
    interrupts.stopping(signum)
    word = "interrupted" if signum == signal.SIGINT else "terminated"
    # After the commit the outputs are whole: say so rather than leave the user guessing.
    done = f" after the outputs were complete ({', '.join(_COMMITTED)})" if _COMMITTED else ""
    print(f"lossbridge: {word}{done}", file=sys.stderr)
    return interrupts.exit_code(signum)


def main(argv: list[str] | None = None) -> int:
    """The ``lossbridge`` command; returns the exit status.

    SIGINT and SIGTERM are handled from the first line (see :mod:`lossbridge.core.interrupts`):
    at any moment they end the run with one line on stderr, status 130 or 143, and no
    partial outputs. Called without ``argv`` (the console script), main owns the process
    and ignores signals after its work is over; with ``argv`` it restores the handlers.
    """
    installed = interrupts.install()
    _COMMITTED.clear()
    code = EXIT_INTERNAL
    try:
        code = _main(argv)
    except (KeyboardInterrupt, interrupts.Terminated):
        # Between the handlers and _main's own try (argument parsing, imports).
        code = _interrupted(interrupts.received())
    finally:
        if installed:
            if argv is None:
                interrupts.finish()
            else:
                interrupts.uninstall()
    if installed and argv is None and code in (EXIT_INTERRUPTED, EXIT_TERMINATED):
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """End an interrupted run at once, with ``code``.

    CPython remembers a KeyboardInterrupt that once passed through a C-level ``PyRun_*``
    call (some extension modules run their start-up code that way) and then ends the
    process by SIGINT (status -2, not 130) although the exception was handled here.
    Everything is cleaned up by now (outputs rolled back, chain workers stopped), so
    the process ends without the interpreter's shutdown.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _main(argv: list[str] | None) -> int:
    from ..core.quiet import quiet_imports, silenced

    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    try:
        quiet_imports()
        with silenced(getattr(args, "quiet", False)):
            return _run(args, _command_line(argv))
    except (KeyboardInterrupt, interrupts.Terminated):
        return _interrupted(interrupts.received())
    except InputError as exc:
        if interrupts.received() is not None:  # e.g. an interrupted write reported as an error
            return _interrupted(interrupts.received())
        print(f"lossbridge: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except Exception as exc:  # one line, never a traceback unless --debug
        if interrupts.received() is not None:  # a library turned our interruption into its error
            return _interrupted(interrupts.received())
        if debug:
            traceback.print_exc()
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"lossbridge: internal error: {type(exc).__name__}: {message} "
              "(run with --debug for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
