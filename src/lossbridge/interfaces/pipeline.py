"""The public entry point :func:`fit` and the :class:`Analysis` results object.

``fit`` runs the pipeline of DESIGN.md: data -> validated design -> model specs ->
PyMC models -> MAP <-> exact baselines -> certificates and NLL decompositions ->
NUTS posteriors -> diagnostics, exact-posterior oracle, PPC -> PSIS-LOO comparison.
The results object holds plain data; its tables are pandas DataFrames and
:meth:`Analysis.to_dict` gives the JSON contract.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import (
    CertificateWarning,
    InputError,
    ModelRefusedWarning,
    NonUniqueSolutionWarning,
    SamplingWarning,
)
from ..core.validation import check_fixed_scale
from ..data.datasets import BUNDLED
from ..data.design import Design, build_design, scale_label
from ..data.rotation import Rotation
from ..data.tables import load_table
from ..estimation.certificate import Certificate, certify
from ..estimation.exact import ExactFit, exact_fit
from ..estimation.map import MapEstimate, find_map
from ..estimation.nll import NllDecomposition, decompose_nll
from ..families.registry import get_family
from ..models.priors import WeakPriors, describe_flat
from ..models.reference import build_model
from ..models.spec import ModelSpec
from ..posterior.comparison import Comparison, candidates_from_fits, compare_models
from ..posterior.loo import FULL_LOO_MAX_N, SUBSAMPLE_SIZE
from ..posterior.loo_refit import exact_loo_values
from ..posterior.misfit import MisfitAssessment, assess_misfit
from ..posterior.sampling import SamplerOptions, sample_models
from ..posterior.summary import PosteriorResult, analyse_posterior
from ..posterior.verdict import Verdict, build_verdict
from .options import FIXED_SCALE_OPTIONS, validate_options


@dataclass(eq=False)
class FitResult:
    """One model's MAP, exact baseline, certificate, NLL decomposition and posterior.

    ``certificate`` is None under weak priors (the MAP is then a penalised fit, not the
    loss minimiser); ``posterior`` is None when sampling was not requested.
    """

    spec: ModelSpec
    map: MapEstimate
    baseline: ExactFit
    certificate: Certificate | None
    nll: NllDecomposition
    posterior: PosteriorResult | None = None

    @property
    def certified(self) -> bool | None:
        return None if self.certificate is None else self.certificate.certified

    def as_dict(self, terms: Sequence[str]) -> dict:
        """The JSON of one model. Coefficients are keyed by term (``map``, ``posterior``);
        the scale has keys of its own (``map_scale``, ``posterior_scale``), since a data
        column may be called ``sigma`` or ``b``."""
        family = self.spec.family
        map_values = dict(zip(terms, map(float, self.map.coefficients), strict=True))
        posterior = posterior_scale = None
        if self.posterior is not None:
            posterior = self.posterior.summary_dict()
            scale_stats = posterior.pop(scale_label(family.scale_name), None)
            if scale_stats is not None:
                posterior_scale = {"name": family.scale_name, **scale_stats}
        fixed = None
        if self.spec.scale == "fixed":
            fixed = {"value": self.spec.fixed_scale, "source": self.spec.fixed_scale_source,
                     "plug_in": self.spec.fixed_scale_is_plug_in}
        return {
            "model": self.spec.name,
            "likelihood": self.spec.likelihood,
            "scale": self.spec.scale,
            "priors": self.spec.priors,
            "loss": family.loss_name,
            "fixed_scale": fixed,
            "map": map_values,
            "map_scale": {"name": family.scale_name, "value": float(self.map.scale)},
            "map_method": self.map.method,
            "baseline": {
                "method": self.baseline.method,
                "solver": self.baseline.solver,
                "coefficients": dict(
                    zip(terms, map(float, self.baseline.coefficients), strict=True)
                ),
                "loss": self.baseline.loss,
                "scale_mle": self.baseline.scale_mle,
                "unique": self.baseline.unique,
            },
            "certificate": None if self.certificate is None else self.certificate.as_dict(),
            "certificate_note": None if self.certificate is not None else (
                "not applicable: under weak priors the MAP is a penalised fit, not the "
                "minimiser of the loss"
            ),
            "nll": self.nll.as_dict(),
            "posterior": posterior,
            "posterior_scale": posterior_scale,
            "diagnostics": None if self.posterior is None else self.posterior.diagnostics_dict(),
            "loo": None if self.posterior is None else self.posterior.loo_dict(),
            "ppc": None if self.posterior is None else self.posterior.ppc_dict(),
            "oracle": None if self.posterior is None else self.posterior.oracle,
        }


@dataclass(eq=False)
class Analysis:
    """Results of :func:`fit`: data description, one :class:`FitResult` per model, tables.

    Attributes
    ----------
    design : Design
    fits : list of FitResult
    options : dict
        The options the analysis ran with (echoed in JSON and reports).
    warnings : list of dict
        Named warnings: ``{"code", "model", "message"}``.
    timings : dict
        Seconds per stage.
    """

    design: Design
    fits: list[FitResult]
    options: dict
    warnings: list[dict] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    started_at: str = ""
    comparison: Comparison | None = None
    misfit: MisfitAssessment | None = None
    verdict: Verdict | None = None

    def __post_init__(self) -> None:
        if self.verdict is None:  # one verdict, computed once (fit passes the comparison's)
            self.verdict = (self.comparison.verdict if self.comparison is not None else
                            build_verdict(candidates_from_fits(self.fits, self.design.y_hash,
                                                               self.misfit),
                                          misfit=self.misfit, warning_count=len(self.warnings)))

    @property
    def models(self) -> list[str]:
        return [f.spec.name for f in self.fits]

    @property
    def all_certified(self) -> bool | None:
        """True when every MAP is certified; None when no certificate applies (weak priors)."""
        states = [f.certified for f in self.fits if f.certified is not None]
        return all(states) if states else None

    @property
    def sampled(self) -> bool:
        return all(f.posterior is not None for f in self.fits)

    def fit_for(self, model: str) -> FitResult:
        for result in self.fits:
            if result.spec.name == model:
                return result
        raise KeyError(f"no model {model!r}; models: {', '.join(self.models)}")

    # ------------------------------------------------------------------ tables
    def coefficients(self) -> pd.DataFrame:
        """MAP of every model beside the exact fits: rows are the terms, then the scales.

        A scale's row is labelled ``scale: sigma`` or ``scale: b`` (:func:`scale_label`),
        never a bare name a data column could also have.
        """
        terms = list(self.design.terms)
        columns: dict[str, pd.Series] = {}
        baselines_done: set[str] = set()
        for result in self.fits:
            base = result.baseline
            if base.method not in baselines_done:
                baselines_done.add(base.method)
                columns[base.method.upper()] = pd.Series(base.coefficients, index=terms)
            family = result.spec.family
            values = pd.Series(result.map.coefficients, index=terms)
            values[scale_label(family.scale_name)] = result.map.scale
            columns[result.spec.name] = values
        table = pd.DataFrame(columns)
        scales = dict.fromkeys(scale_label(r.spec.family.scale_name) for r in self.fits)
        return table.loc[terms + list(scales)]

    def differences(self) -> pd.DataFrame:
        """Relative difference of each model's MAP coefficient from its exact fit."""
        from ..estimation.certificate import relative_coefficient_differences

        data = {
            r.spec.name: relative_coefficient_differences(
                r.map.coefficients, r.baseline.coefficients, self.design
            )
            for r in self.fits
        }
        return pd.DataFrame(data, index=list(self.design.terms))

    def certificates(self) -> pd.DataFrame:
        """One row per model: losses, gaps, coefficient and scale checks, certified."""
        rows = {}
        for r in self.fits:
            c = r.certificate
            if c is None:
                continue
            rows[r.spec.name] = {
                "loss": c.loss_name,
                "loss_map": c.loss_map,
                "loss_exact": c.loss_exact,
                "loss_rel_gap": c.loss_relative_gap,
                "max_rel_coef_diff": c.max_relative_coefficient_difference,
                "scale": c.scale_name,
                "scale_map": c.scale_map,
                "scale_rel_diff": c.scale_relative_difference,
                "lp_dual_gap": None if c.dual is None else c.dual["relative_gap"],
                "unique": c.unique,
                "certified": c.certified,
            }
        return pd.DataFrame.from_dict(rows, orient="index")

    def nll_table(self) -> pd.DataFrame:
        """NLL at the MAP = constant + scaled loss, beside PyMC's own value."""
        rows = {}
        for r in self.fits:
            d = r.nll
            rows[r.spec.name] = {
                "loss": d.loss_name,
                "loss_value": d.loss,
                "scale": f"{d.scale_name} = {d.scale:.6g}",
                "constant": d.constant,
                "constant_formula": d.constant_formula,
                "loss_term": d.loss_term,
                "loss_term_formula": d.loss_term_formula,
                "nll": d.nll,
                "pymc_nll": d.pymc_nll,
                "rel_diff": d.relative_difference,
            }
        return pd.DataFrame.from_dict(rows, orient="index")

    def posterior_summary(self, model: str | None = None) -> pd.DataFrame:
        """ArviZ summary (mean, sd, HDI, MCSE, ESS, R-hat) of one model, or all stacked."""
        sampled = [r for r in self.fits if r.posterior is not None]
        if not sampled:
            raise InputError("no posterior: the analysis ran without sampling (--no-sample)")
        if model is not None:
            result = self.fit_for(model)
            if result.posterior is None:
                raise InputError(f"model {model!r} was not sampled")
            return result.posterior.summary
        return pd.concat({r.spec.name: r.posterior.summary for r in sampled}, names=["model", "parameter"])

    def oracle_table(self) -> pd.DataFrame:
        """Sampled versus exact posterior (Normal likelihood, flat priors), per parameter."""
        frames = {
            r.spec.name: pd.DataFrame(r.posterior.oracle["parameters"]).T
            for r in self.fits
            if r.posterior is not None and r.posterior.oracle is not None
        }
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, names=["model", "parameter"])

    def loo_results(self) -> dict[str, dict]:
        """PSIS-LOO (with exact refits) of every sampled model, for :func:`lossbridge.compare`."""
        return {r.spec.name: {"y_hash": self.design.y_hash, "loo": r.posterior.loo}
                for r in self.fits if r.posterior is not None}

    def save(self, directory: str | Path) -> Path:
        """Write one netCDF per model and a manifest into a new folder; see :func:`lossbridge.load`."""
        from .persistence import save_analysis

        return save_analysis(self, directory)

    def to_html(self, path: str | Path, command: str | None = None) -> Path:
        """Write the self-contained HTML report to ``path`` (atomically)."""
        from ..present.report import write_report

        return write_report(self, path, command)

    def _repr_html_(self) -> str:
        from ..present.report import render_html

        return render_html(self, fragment=True)

    def comparison_table(self) -> pd.DataFrame:
        """``az.compare`` table with Pareto k counts (needs at least two sampled models)."""
        if self.comparison is None:
            raise InputError("no comparison: it needs at least two sampled models")
        return self.comparison.table

    # ------------------------------------------------------------------ output
    def to_dict(self) -> dict:
        """The JSON contract (see README): data, options, fits, comparison, warnings, timing.

        Everything except ``timing`` depends only on the data, the options and the seed.
        """
        terms = list(self.design.terms)
        return {
            "verdict": self.verdict.as_dict(),
            "data": self.design.summary(),
            "options": dict(self.options),
            "all_certified": self.all_certified,
            "fits": [r.as_dict(terms) for r in self.fits],
            "comparison": None if self.comparison is None else self.comparison.as_records(),
            "comparison_summary": None if self.comparison is None else self.comparison.sentences,
            "warnings": list(self.warnings),
            "timing": {"started_at": self.started_at, "seconds": dict(self.timings)},
        }

    def summary(self) -> str:
        """Readable tables, as the CLI prints them."""
        from ..present.text import format_analysis

        return format_analysis(self)

    def __repr__(self) -> str:
        status = "all certified" if self.all_certified else "NOT all certified"
        return (
            f"<Analysis {self.design.formula!r} on {self.design.source}: n={self.design.n}, "
            f"k={self.design.k}, models {', '.join(self.models)}; {status}>"
        )


def resolve_formula(data, formula: str | None) -> str:
    """The formula to use: the one given, or a bundled dataset's default."""
    if formula is not None:
        return formula
    if isinstance(data, (str, Path)) and str(data) in BUNDLED and not Path(str(data)).exists():
        return BUNDLED[str(data)].formula
    raise InputError("formula is required for this data (e.g. --formula 'y ~ x1 + x2')")


def fit(
    data: str | Path | pd.DataFrame,
    formula: str | None = None,
    *,
    likelihoods: str | Iterable[str] | None = None,
    scales: str | Iterable[str] = "both",
    sigma: float | None = None,
    b: float | None = None,
    priors: str = "flat",
    sample: bool = True,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    cores: int | None = None,
    seed: int | None = None,
    hdi_prob: float = 0.94,
    dropna: bool = False,
    progress: bool | None = None,
) -> Analysis:
    """Fit every requested likelihood x scale mode, certify each MAP, sample and compare.

    Parameters
    ----------
    data : str, Path or DataFrame
        A CSV path, a bundled dataset name (``"engel"``) or a DataFrame.
    formula : str, optional
        formulaic formula, e.g. ``"foodexp ~ income"``; defaults to the bundled
        dataset's usual formula.
    likelihoods : str or list of str, optional
        Any of ``"normal"``, ``"laplace"``; default both.
    scales : {"both", "learned", "fixed"} or list, default "both"
    sigma : float, optional
        The Normal likelihood's fixed scale σ (model ``normal-fixed``); by default the
        plug-in MLE of the exact OLS fit, ``sqrt(RSS/n)``. It never sets the Laplace b.
    b : float, optional
        The Laplace likelihood's fixed scale b (model ``laplace-fixed``; its sd is
        ``b * sqrt(2)``); by default the plug-in MLE of the exact LAD fit, ``SAD/n``.
        Giving ``sigma`` or ``b`` without a fixed-scale model of its family raises
        :class:`InputError`. Under a user value an exact fit (all residuals zero) can be
        fitted; models whose scale would be learned or plugged in are then refused.
    priors : {"flat", "weak"}, default "flat"
        ``flat``: MAP = maximum likelihood, certified against OLS/LAD. ``weak``:
        autoscaled weakly informative priors (:mod:`lossbridge.models.priors`).
    sample : bool, default True
        Sample every model with NUTS, then summarise, check and compare them.
    draws, tune, chains : int, default 1000, 1000, 4
    cores : int, optional
        Parallel chains (default: all cores, at most ``chains``).
    seed : int, optional
        Random seed; a fresh one is drawn and recorded in ``options`` when omitted, so
        every run can be repeated exactly.
    hdi_prob : float, default 0.94
        Probability mass of the highest-density intervals.
    dropna : bool, default False
        Drop rows with missing values in the used columns instead of raising.
    progress : bool, optional
        Progress bars (default: only on a terminal).

    Returns
    -------
    Analysis
    """
    started = datetime.now(UTC).isoformat(timespec="seconds")
    timings: dict[str, float] = {}
    clock = run_clock = time.perf_counter()
    checked = validate_options({
        "likelihoods": likelihoods, "scales": scales, "sigma": sigma, "b": b, "priors": priors,
        "sample": sample, "draws": draws, "tune": tune, "chains": chains, "cores": cores,
        "seed": seed, "hdi_prob": hdi_prob, "dropna": dropna, "progress": progress,
    })
    names, modes = checked["likelihoods"], checked["scales"]
    # The user's fixed scale per family (``sigma`` Normal, ``b`` Laplace), or None.
    fixed_values = {name: checked[option] for name, option in FIXED_SCALE_OPTIONS.items()}
    priors, sample, hdi_prob, dropna = (checked["priors"], checked["sample"], checked["hdi_prob"],
                                        checked["dropna"])
    seed = checked["seed"]
    if seed is None:  # draw one and record it, so the run can be repeated exactly
        seed = int(np.random.SeedSequence().entropy % 2**32)
    sampler = SamplerOptions(draws=checked["draws"], tune=checked["tune"], chains=checked["chains"],
                             cores=checked["cores"], progress=checked["progress"])
    table = load_table(data)
    design = build_design(table, resolve_formula(data, formula), dropna=dropna)
    timings["data"] = time.perf_counter() - clock

    clock = time.perf_counter()
    baselines = {name: exact_fit(name, design, partial(_progress, progress)) for name in names}
    timings["exact_fits"] = time.perf_counter() - clock
    _refuse_overflow(design, baselines)
    if "fixed" in modes:  # before any model: the range comes from the exact fits
        for name in names:
            if fixed_values[name] is not None:
                check_fixed_scale(FIXED_SCALE_OPTIONS[name], fixed_values[name], likelihood=name,
                                  loss_symbol=get_family(name).loss_symbol,
                                  loss=baselines[name].loss,
                                  plug_in=_reference_scale(design, baselines[name]))

    requested, notes = _refuse_perfect_fit(
        design, baselines, [(name, mode) for name in names for mode in modes], fixed_values)
    specs = [
        _make_spec(name, mode, fixed_values[name], baselines[name], priors,
                   other_user_scales=[n for n, v in fixed_values.items() if v is not None])
        for name, mode in requested
    ]
    rotation = Rotation.from_design(design.X, design.y)
    model_seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(len(specs))]
    fits: list[FitResult] = []
    clock = time.perf_counter()
    for spec in specs:
        _progress(progress, f"MAP of {spec.name}")
        model = build_model(spec, design, rotation)
        estimate = find_map(model, spec, design, rotation)
        baseline = baselines[spec.likelihood]
        certificate = certify(spec, design, estimate, baseline) if priors == "flat" else None
        fits.append(FitResult(spec, estimate, baseline, certificate,
                              decompose_nll(spec, design, estimate)))
    timings["map"] = time.perf_counter() - clock
    if sample:
        _progress(progress, f"sampling {len(specs)} model(s) jointly with NUTS ({sampler.chains} "
                  f"chains x {sampler.tune} tune + {sampler.draws} draws)")
        draws = sample_models(specs, design, rotation, [f.map for f in fits], sampler,
                              model_seeds[0], timings)
        subsample = None
        if design.n > FULL_LOO_MAX_N:
            rng = np.random.default_rng(model_seeds[-1])
            subsample = np.sort(rng.choice(design.n, size=min(SUBSAMPLE_SIZE, design.n), replace=False))
        _progress(progress, "leave-one-out and posterior checks")
        for result, model_seed in zip(fits, model_seeds, strict=True):
            spec = result.spec
            refit = partial(exact_loo_values, spec, design, options=sampler, seed=model_seed + 1)
            result.posterior = analyse_posterior(
                spec, design, rotation, draws[spec.name], baselines.get("normal"), hdi_prob,
                subsample=subsample, refit=refit, seed=model_seed + 2, timings=timings,
            )
    for result in fits:
        notes.extend(_fit_warnings(result))
    misfit = assess_misfit(design, fits) if sample else None
    if misfit is not None:
        notes.extend(misfit.warnings)
    comparison = None
    candidates = candidates_from_fits(fits, design.y_hash, misfit)
    if sample and len(fits) >= 2:
        clock = time.perf_counter()
        comparison = compare_models(candidates, misfit=misfit, warning_count=len(notes))
        timings["comparison"] = time.perf_counter() - clock
    verdict = (comparison.verdict if comparison is not None
               else build_verdict(candidates, misfit=misfit, warning_count=len(notes)))
    options = {
        "likelihoods": names,
        "scales": modes,
        "models": [spec.name for spec in specs],
        "sigma": fixed_values["normal"],
        "b": fixed_values["laplace"],
        "priors": priors,
        "prior_details": {r.spec.name: _describe_priors(r.spec, design) for r in fits},
        "sample": sample,
        "draws": sampler.draws,
        "tune": sampler.tune,
        "chains": sampler.chains,
        "cores": sampler.resolved_cores,
        "target_accept": sampler.target_accept,
        "sampler": "pymc-nuts (all models in one joint run)",
        "seed": seed,
        "hdi_prob": hdi_prob,
        "dropna": dropna,
    }
    timings["total"] = time.perf_counter() - run_clock
    return Analysis(design, fits, options, notes, timings, started, comparison, misfit, verdict)


def _progress(progress: bool | None, message: str) -> None:
    show = sys.stderr.isatty() if progress is None else progress
    if show:
        print(f"lossbridge: {message}", file=sys.stderr, flush=True)


def _describe_priors(spec: ModelSpec, design: Design) -> dict[str, str]:
    scale_name = spec.family.scale_name
    if spec.priors == "weak":
        described = WeakPriors.from_design(design).describe(design.terms, scale_name)
    else:
        described = describe_flat(design.terms, scale_name)
    if spec.scale == "fixed":
        described[scale_label(scale_name)] = f"fixed at {spec.fixed_scale:.6g} ({spec.fixed_scale_source})"
    return described


def _reference_scale(design: Design, baseline: ExactFit) -> float:
    """The plug-in MLE; on an exact fit (where it is 0 up to rounding) the root mean square
    of the response, so that a user-fixed scale still has a limit in the data's units."""
    if not _is_exact_fit(design, baseline):
        return baseline.scale_mle
    return float(np.linalg.norm(design.y) / np.sqrt(design.n)) or 1.0


def _make_spec(name: str, mode: str, fixed_value: float | None, baseline: ExactFit,
               priors: str, other_user_scales: Sequence[str] = ()) -> ModelSpec:
    """The spec of one model; a fixed scale is the user's value for this family, or the plug-in.

    ``other_user_scales`` names the families given a user value, so that a plug-in scale
    can say it was not set by another family's option (``--sigma`` never sets ``b``).
    """
    if mode == "learned":
        return ModelSpec(name, "learned", priors=priors)
    family = get_family(name)
    if fixed_value is not None:
        return ModelSpec(name, "fixed", fixed_value, f"user value (--{family.scale_name})", priors)
    closed_form = "sqrt(RSS/n)" if family.baseline == "ols" else "SAD/n"
    source = f"plug-in MLE of the exact {family.baseline.upper()} fit, {closed_form}"
    others = [get_family(n).scale_name for n in other_user_scales if n != name]
    if others:
        flags = " and ".join(f"--{scale}" for scale in others)
        source += (f"; {flags} does not set {family.scale_name}: give --{family.scale_name} "
                   "to fix it")
    return ModelSpec(name, "fixed", baseline.scale_mle, source, priors,
                     fixed_scale_is_plug_in=True)


def _refuse_overflow(design: Design, baselines: dict[str, ExactFit]) -> None:
    for base in baselines.values():
        if not np.isfinite(base.loss) or not np.all(np.isfinite(base.coefficients)):
            raise InputError(
                f"the values of {design.response!r} or the predictors are so large that the "
                f"{base.method.upper()} loss overflows double precision; rescale them (for "
                "example divide by a power of ten) and fit again"
            )


def _is_exact_fit(design: Design, base: ExactFit) -> bool:
    """All residuals of the exact fit zero (to rounding): the scale's likelihood has no maximum."""
    size = float(np.linalg.norm(design.y)) or 1.0
    return bool(base.scale_mle <= 1e-12 * size / np.sqrt(design.n))


def _refuse_perfect_fit(
    design: Design, baselines: dict[str, ExactFit], requested: list[tuple[str, str]],
    fixed_values: dict[str, float | None],
) -> tuple[list[tuple[str, str]], list[dict]]:
    """Drop the models an exact fit leaves undefined; refuse the run when none is left.

    ``requested`` holds ``(likelihood, scale mode)`` pairs. When the formula fits the
    response exactly, a learned scale's likelihood grows without bound as the scale goes
    to 0, and the plug-in MLE is 0: those models have no MAP. A scale the user fixed is a
    well-defined model (its MAP is the exact fit), so it runs; the dropped models are
    named in a warning. Returns the pairs kept and the warnings.
    """
    def undefined(name: str, mode: str) -> bool:
        user_fixed = mode == "fixed" and fixed_values[name] is not None
        return _is_exact_fit(design, baselines[name]) and not user_fixed

    refused = [pair for pair in requested if undefined(*pair)]
    if not refused:
        return requested, []
    kept = [pair for pair in requested if pair not in refused]
    if np.ptp(design.y) == 0:
        reason = (f"the response {design.response!r} is constant (every value is "
                  f"{design.y[0]:.6g}): the formula fits it exactly")
        check = "check that the right column is the response"
    else:
        methods = "/".join(dict.fromkeys(get_family(n).baseline.upper() for n, _ in refused))
        reason = f"the formula fits {design.response!r} exactly (the {methods} residuals are all zero)"
        check = "check that the response is not also a predictor"
    if not kept:
        hint = " or ".join(f"--scale fixed --{get_family(n).scale_name} VALUE"
                           for n in dict.fromkeys(n for n, _ in refused))
        raise InputError(
            f"{reason}, so a likelihood scale has no maximum: there is nothing to estimate; "
            f"{check} (or, to fit under a scale you choose, give {hint})"
        )
    names = ", ".join(f"{n}-{m}" for n, m in refused)
    message = (f"{reason}: {names} not fitted, since a learned or plug-in scale has no maximum "
               f"here; fitted {', '.join(f'{n}-{m}' for n, m in kept)} (scale fixed by the user)")
    warnings.warn(message, ModelRefusedWarning, stacklevel=3)
    return kept, [{"code": "exact_fit_models_dropped", "model": names, "message": message}]


def _fit_warnings(result: FitResult) -> list[dict]:
    out = list(result.posterior.warnings) if result.posterior is not None else []
    for note in out:
        warnings.warn(note["message"], SamplingWarning, stacklevel=3)
    name = result.spec.name
    if result.certificate is None:
        return out
    if not result.certificate.certified:
        message = f"{name}: MAP not certified against the exact fit: {result.certificate.explanation}"
        warnings.warn(message, CertificateWarning, stacklevel=3)
        out.append({"code": "map_not_certified", "model": name, "message": message})
    if result.certificate.unique is not True:
        message = (
            f"{name}: the LAD solution is not unique (a flat face of the LP); the MAP is "
            "certified on the sum of absolute deviations, not on each coefficient"
            if result.certificate.unique is False else
            f"{name}: whether the LAD solution is unique was not determined; the MAP is "
            "certified on the sum of absolute deviations, not on each coefficient"
        )
        warnings.warn(message, NonUniqueSolutionWarning, stacklevel=3)
        out.append({"code": "lad_not_unique", "model": name, "message": message})
    if not result.nll.matches_pymc:
        message = (
            f"{name}: NLL decomposition differs from PyMC's log-likelihood by "
            f"{result.nll.relative_difference:.1e}"
        )
        warnings.warn(message, CertificateWarning, stacklevel=3)
        out.append({"code": "nll_mismatch", "model": name, "message": message})
    return out
