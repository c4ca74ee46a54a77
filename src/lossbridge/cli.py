"""Command-line interface: a thin layer over :func:`lossbridge.fit`.

Exit codes: 0 success, 1 unexpected internal error, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from .errors import InputError, LossbridgeWarning

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) instead of usage dumps."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(EXIT_INPUT, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _add_fit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--formula", "-f", help="formulaic formula, e.g. 'foodexp ~ income' "
                        "(optional for bundled datasets)")
    parser.add_argument("--likelihood", action="append", dest="likelihoods", metavar="NAME",
                        help="normal or laplace; repeat for several (default: both)")
    parser.add_argument("--scale", default="both", metavar="MODE",
                        help="learned, fixed or both (default: both)")
    parser.add_argument("--sigma", metavar="VALUE",
                        help="fixed scale σ of the Normal likelihood (normal-fixed; default: "
                        "plug-in MLE sqrt(RSS/n) of the exact OLS fit)")
    parser.add_argument("--b", metavar="VALUE",
                        help="fixed scale b of the Laplace likelihood (laplace-fixed; its sd is "
                        "b√2; default: plug-in MLE SAD/n of the exact LAD fit)")
    parser.add_argument("--priors", default="flat",
                        help="flat (default: MAP = maximum likelihood) or weak (autoscaled, rstanarm-style)")
    parser.add_argument("--no-sample", action="store_true",
                        help="MAP and exact fits only: no NUTS, no LOO comparison")
    parser.add_argument("--draws", default=1000, metavar="N",
                        help="posterior draws per chain, at least 4 (1000)")
    parser.add_argument("--tune", default=1000, metavar="N", help="tuning steps per chain (1000)")
    parser.add_argument("--chains", default=4, metavar="N", help="chains (4)")
    parser.add_argument("--cores", default=None, metavar="N", help="parallel chains (all cores)")
    parser.add_argument("--seed", metavar="N", help="random seed (default: drawn and recorded)")
    parser.add_argument("--hdi-prob", default=0.94, metavar="P",
                        help="mass of the highest-density intervals (0.94)")
    parser.add_argument("--dropna", action="store_true",
                        help="drop rows with missing values in the used columns")
    parser.add_argument("--save", metavar="DIR",
                        help="write one netCDF per model and a manifest into the new folder DIR")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    parser.add_argument("--progress", action="store_true",
                        help="progress output even when stderr is not a terminal")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lossbridge", description=(
        "Every regression loss is a likelihood: fit Normal and Laplace likelihoods in PyMC "
        "and certify their MAP against exact OLS/LAD."))
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    fit_parser = sub.add_parser("fit", help="fit the models to a CSV file or bundled dataset")
    fit_parser.add_argument("data", help="CSV path or bundled dataset name (see 'lossbridge datasets')")
    _add_fit_options(fit_parser)
    fit_parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    fit_parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                            help=argparse.SUPPRESS)

    report_parser = sub.add_parser("report", help="fit, then write the self-contained HTML report")
    report_parser.add_argument("data", help="CSV path or bundled dataset name")
    _add_fit_options(report_parser)
    report_parser.add_argument("--out", "-o", required=True, metavar="PATH.html", help="report file")
    report_parser.add_argument("--json", action="store_true", help="also print the JSON document")
    report_parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                               help=argparse.SUPPRESS)

    run_parser = sub.add_parser("run", help="run a TOML analysis spec (models/NAME.toml) and "
                                "write reports/NAME.html")
    run_parser.add_argument("spec", help="path to the TOML spec")
    run_parser.add_argument("--out", "-o", metavar="PATH.html",
                            help="report file (default: reports/NAME.html)")
    run_parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    run_parser.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    run_parser.add_argument("--progress", action="store_true",
                            help="progress output even when stderr is not a terminal")
    run_parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                            help=argparse.SUPPRESS)

    sub.add_parser("datasets", help="list the bundled datasets")
    return parser


def _fit_kwargs(args: argparse.Namespace) -> dict:
    """The command line's options, validated under their flag names (see lossbridge.options)."""
    from .options import validate_options

    raw = {
        "likelihoods": args.likelihoods,
        "scales": args.scale,
        "sigma": args.sigma,
        "b": args.b,
        "priors": args.priors,
        "sample": not args.no_sample,
        "draws": args.draws,
        "tune": args.tune,
        "chains": args.chains,
        "cores": args.cores,
        "seed": args.seed,
        "hdi_prob": args.hdi_prob,
        "dropna": args.dropna,
        "progress": _progress_flag(args),
    }
    return {"formula": args.formula, **validate_options(raw, spelling="cli")}


def _progress_flag(args: argparse.Namespace) -> bool | None:
    if getattr(args, "quiet", False):
        return False
    return True if getattr(args, "progress", False) else None


def _command_line(argv: list[str] | None) -> str:
    import shlex

    words = sys.argv[1:] if argv is None else argv
    return shlex.join(["lossbridge", *words])


def _emit(analysis, as_json: bool, header: str | None = None) -> None:
    if as_json:
        from .jsonio import dumps

        sys.stdout.write(dumps(analysis.to_dict()) + "\n")
    else:
        if header:
            print(header)
        print(analysis.summary())


def _run(args: argparse.Namespace, command: str) -> int:
    import warnings

    from .datasets import BUNDLED

    if args.command == "datasets":
        for name, info in BUNDLED.items():
            print(f"{name:10s} {info.formula}\n{'':10s} {info.title}")
        return EXIT_OK
    # Warnings are collected in the analysis and printed with the tables, not twice.
    # (By class, not module: under `python -m lossbridge.cli` the CLI's module is __main__.)
    warnings.filterwarnings("ignore", category=LossbridgeWarning)
    if args.command in ("fit", "report"):
        kwargs = _fit_kwargs(args)  # before the imports of PyMC: option errors answer at once
        from . import analysis as api
        from .persistence import check_new_folder
        from .report import check_report_path

        # Fail on unusable output paths before the expensive part.
        if args.save:
            if args.no_sample:
                raise InputError("--save stores posteriors: it cannot be used with --no-sample")
            check_new_folder(args.save)
        if args.command == "report":
            check_report_path(args.out)
        analysis = api.fit(args.data, **kwargs)
        if args.save:
            analysis.save(args.save)
        if args.command == "report":
            path = analysis.to_html(args.out, command=command)
            if args.json:
                _emit(analysis, True)
            else:
                print(f"report written to {path}")
        else:
            _emit(analysis, args.json)
        return EXIT_OK

    from pathlib import Path

    from .report import check_report_path
    from .runspec import load_spec, run_spec

    spec = load_spec(args.spec)
    out = Path(args.out) if args.out else Path("reports") / f"{spec.name}.html"
    if not args.out:
        out.parent.mkdir(exist_ok=True)
    check_report_path(out)
    spec, analysis = run_spec(spec, progress=_progress_flag(args))
    path = analysis.to_html(out, command=command)
    _emit(analysis, args.json, header=f"analysis spec: {spec.name} ({spec.path})")
    if not args.json:
        print(f"\nreport written to {path}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    from ._quiet import quiet_imports, silenced

    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    try:
        quiet_imports()
        with silenced(getattr(args, "quiet", False)):
            return _run(args, _command_line(argv))
    except InputError as exc:
        print(f"lossbridge: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("lossbridge: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # one line, never a traceback unless --debug
        if debug:
            traceback.print_exc()
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"lossbridge: internal error: {type(exc).__name__}: {message} "
              "(run with --debug for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
