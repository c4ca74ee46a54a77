"""The pipeline: :func:`fit` runs every stage of docs/design.md in order.

data -> validated design -> exact fits and refusals -> model specs -> PyMC models ->
MAP, certificates and NLL decompositions -> NUTS posteriors -> diagnostics,
exact-posterior oracle, PPC, LOO -> misfit, comparison and the verdict. The results
are an :class:`~lossbridge.interfaces.results.Analysis`.

:func:`fit` checks its keywords once (:func:`~lossbridge.interfaces.options.validate_options`)
and calls :func:`run_pipeline`, which the CLI and TOML specs call with the options they
checked under their own spellings.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import (
    CertificateWarning,
    InputError,
    LocalOptimaWarning,
    NonUniqueSolutionWarning,
    SamplingWarning,
)
from ..core.validation import MAX_LOSS_TERM_NATS, check_fixed_scale
from ..data.datasets import resolve_formula
from ..data.design import build_design
from ..data.rotation import Rotation
from ..data.simulation import require_formula_without_truth, resolve_truth
from ..data.tables import load_table
from ..estimation.certificate import certify
from ..estimation.exact import exact_fit, exact_fit_for
from ..estimation.map import find_map, plug_in_scale
from ..estimation.nll import decompose_nll
from ..estimation.penalised import penalised_fit
from ..estimation.quantile_crossing import crossing_notes
from ..estimation.refusals import reference_scale, refuse_overflow, refuse_perfect_fit
from ..estimation.separation import check_separation
from ..families.registry import FAMILIES, get_family
from ..models.identity import MODELLED, NO_SCALE, ModelId, family_label
from ..models.priors import describe_priors
from ..models.reference import build_model
from ..models.spec import ModelSpec, make_spec
from ..posterior.comparison import candidates_from_fits, compare_models
from ..posterior.loo import FULL_LOO_MAX_N, SUBSAMPLE_SIZE
from ..posterior.loo_refit import exact_loo_values
from ..posterior.misfit import assess_misfit
from ..posterior.sampling import SamplerOptions, sample_models
from ..posterior.summary import analyse_posterior
from ..posterior.truth import truth_table
from ..posterior.verdict import build_verdict
from .options import FIXED_SCALE_OPTIONS, CheckedOptions, validate_options
from .results import Analysis, FitResult


def fit(
    data: str | Path | pd.DataFrame,
    formula: str | None = None,
    *,
    likelihoods: str | Iterable[str] | None = None,
    scales: str | Iterable[str] = "both",
    scale_formula: str | None = None,
    exposure: str | None = None,
    positive: str | None = None,
    reference: str | None = None,
    sigma: float | None = None,
    b: float | None = None,
    quantile_sigma: float | None = None,
    huber_sigma: float | None = None,
    t_sigma: float | None = None,
    tau: float | Iterable[float] | None = None,
    huber_c: float | None = None,
    nu: float | None = None,
    link: str | Iterable[str] | None = None,
    nb_alpha: float | None = None,
    priors: str = "flat",
    penalty: str | None = None,
    alpha: float | None = None,
    l1_ratio: float | None = None,
    sample: bool = True,
    sampler: str = "auto",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    cores: int | None = None,
    seed: int | None = None,
    hdi_prob: float = 0.94,
    dropna: bool = False,
    truth: str | Path | None = None,
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
        Any registered family (``"normal"``, ``"laplace"``, or one added with
        :func:`lossbridge.families.registry.register_family`); default all.
    scales : {"both", "learned", "fixed"} or list, default "both"
    scale_formula : str, optional
        A one-sided formula for a heteroscedastic scale, log scale_i = Z_i gamma
        (``"~ income"``), evaluated on the same rows as ``formula``: adds one model per
        likelihood (``normal-scale(~ income)``) beside the constant-scale ones, its MAP
        the joint MLE of beta and gamma certified by Newton and an independent optimiser,
        compared with them by leave-one-out (same y).
    exposure : str, optional
        A column of finite exposures > 0 (time at risk, population) for count likelihoods
        (those with ``supports_offset``: poisson, negbin): log(exposure) is an offset in
        every linear predictor, mu = exposure exp(X beta); refused for other likelihoods.
    positive : str, optional
        The level of a two-level response (text such as ``"yes"``/``"no"``) that is 1, the
        other level 0, so a binary likelihood can fit it; refused when the response has
        other than two levels or lacks this one.
    reference : str, optional
        The reference level of a categorical response (``likelihoods="categorical"``):
        its linear predictor is 0 and every other level has a coefficient vector
        (statsmodels ``MNLogit``'s convention); default: the first level in order,
        numerically when every level is a number. Refused without a categorical likelihood.
    sigma : float, optional
        The Normal likelihood's fixed scale σ (model ``normal-fixed``); by default the
        plug-in MLE of the exact OLS fit, ``sqrt(RSS/n)``. It never sets the Laplace b.
    b : float, optional
        The Laplace likelihood's fixed scale b (model ``laplace-fixed``; its sd is
        ``b * sqrt(2)``); by default the plug-in MLE of the exact LAD fit, ``SAD/n``.
        Giving ``sigma`` or ``b`` without a fixed-scale model of its family raises
        :class:`InputError`. Under a user value an exact fit (all residuals zero) can be
        fitted; models whose scale would be learned or plugged in are then refused.
    quantile_sigma : float, optional
        The quantile likelihood's fixed scale σ (models ``quantile(tau=...)-fixed``); by
        default the plug-in MLE of the exact quantile regression, the mean pinball loss.
    tau : float or list of float, optional
        Quantile levels in (0, 1) of the ``quantile`` likelihood (asymmetric Laplace,
        pinball loss), one model each (``tau=[0.1, 0.5, 0.9]``); default 0.5. Needs
        ``"quantile"`` among ``likelihoods``.
    huber_sigma : float, optional
        The Huber likelihood's fixed scale σ (model ``huber-fixed``); by default its plug-in
        MLE, the σ of the joint maximum-likelihood fit of (β, σ), found numerically.
    huber_c : float, optional
        The Huber likelihood's threshold c > 0, in units of σ (default 1.345): its loss is
        quadratic for |r/σ| <= c and linear beyond. Only with ``"huber"`` among the likelihoods.
    t_sigma : float, optional
        The Student-t likelihood's fixed scale σ (model ``student-fixed``); by default the
        plug-in MLE: the σ of the joint fit found by EM (no closed form). It is not the
        Normal's ``sigma``.
    nu : float, optional
        The Student-t likelihood's degrees of freedom ν > 0 (``likelihoods`` must include
        ``"student"``; ν = 1 is the Cauchy loss). By default ν is learned under a proper
        Gamma(2, 0.1) prior, so its MAP is a posterior mode (said in ``prior_details``).
    link : str or list of str, optional
        The Bernoulli likelihood's link: ``"logit"`` (default; logistic regression),
        ``"probit"`` or ``"cloglog"``; several give one model each, compared by LOO. Only
        with ``"bernoulli"`` among the likelihoods (a bundled binary dataset such as
        ``spector`` fits it by default).
    nb_alpha : float, optional
        The negative binomial dispersion alpha > 0 (Var = mu + alpha mu²); by default
        learned under a proper Gamma(2, 0.5) prior. Not the penalty's ``alpha``.
    priors : {"flat", "weak"}, default "flat"
        ``flat``: MAP = maximum likelihood, certified against OLS/LAD. ``weak``:
        autoscaled weakly informative priors (:mod:`lossbridge.models.priors`).
    penalty : {"ridge", "lasso", "elasticnet"}, optional
        A prior on the non-intercept coefficients whose MAP is scikit-learn's ``Ridge``,
        ``Lasso`` or ``ElasticNet`` at ``alpha`` (``fit_intercept=True``): ridge
        Normal(0, tau), tau² = σ²/alpha; lasso Laplace(0, s), s = σ²/(n alpha); elastic
        net ∝ exp(-λ1|w| - λ2 w²/2), λ1 = n alpha r/σ², λ2 = n alpha (1 - r)/σ²
        (:mod:`lossbridge.models.penalties`). Needs ``alpha``, a fixed scale
        (``scales="fixed"``: the MAP equals the scikit-learn fit only at a fixed σ), the
        Normal likelihood and flat priors; the MAP is certified against the exact
        penalised fit by its optimality (KKT) conditions.
    alpha : float, optional
        The penalty's strength in scikit-learn's scaling (>= 0; 0 is no penalty).
    l1_ratio : float, optional
        The elastic net's L1 share r in [0, 1] (default 0.5, scikit-learn's); only with
        ``penalty="elasticnet"``.
    sample : bool, default True
        Sample every model with NUTS, then summarise, check and compare them.
    sampler : {"auto", "nuts"}, default "auto"
        ``auto``: each model by independence Metropolis-Hastings from its MAP
        where the proposal fitted to its posterior passes its tests (Pareto k̂ <= 0.5 and
        importance weights falling off in the tails; no gradient, one vectorised pass:
        :mod:`lossbridge.posterior.independence`), else
        NUTS; ``nuts``: every model by PyMC's NUTS. The output says which sampler each
        model had.
    draws, tune, chains : int, default 1000, 1000, 4
        Draws and chains per model; ``tune`` is NUTS' tuning steps (the independence
        sampler fits its proposal by importance sampling instead).
    cores : int, optional
        Parallel chains (default: all cores, at most ``chains``).
    seed : int, optional
        Random seed; a fresh one is drawn and recorded in ``options`` when omitted, so
        every run can be repeated exactly.
    hdi_prob : float, default 0.94
        Probability mass of the highest-density intervals.
    dropna : bool, default False
        Drop rows with missing values in the used columns instead of raising.
    truth : str or Path, optional
        The law the data came from: the sidecar ``PATH.law.json`` that
        :func:`lossbridge.simulate` wrote. By default a CSV path's own sidecar, when one
        lies beside it, is used (and said in the table's source); ``"none"`` turns that
        off. Adds ``Analysis.truth``: per model the exact cross-entropy H(p*, p_θ̂), the
        entropy H(p*) and the KL divergence, beside the mean NLL and -elpd_loo/n
        (:mod:`lossbridge.posterior.truth`). Without a formula, the sidecar's is used.
    progress : bool, optional
        Progress bars (default: only on a terminal).

    Returns
    -------
    Analysis
    """
    # The parameters are the declared options (interfaces/options.py), by name.
    options = {name: value for name, value in locals().items() if name != "data"}
    return run_pipeline(data, validate_options(options, data=data))


def run_pipeline(data: str | Path | pd.DataFrame, options: CheckedOptions) -> Analysis:
    """Run every stage on ``data`` with options already checked by :func:`validate_options`.

    The entry of the command line and of TOML specs, which validate their options once
    under their own spellings; :func:`fit` is this with the Python keywords.
    """
    if not isinstance(options, CheckedOptions):
        raise TypeError("run_pipeline takes the CheckedOptions of validate_options(); "
                        f"got {type(options).__name__}")
    started = datetime.now(UTC).isoformat(timespec="seconds")
    timings: dict[str, float] = {}
    clock = run_clock = time.perf_counter()
    checked = options
    names, modes = checked["likelihoods"], checked["scales"]
    # The user's fixed scale per family (``sigma`` Normal, ``b`` Laplace), or None.
    fixed_values = checked.fixed_scales
    priors, sample, hdi_prob, dropna = (checked["priors"], checked["sample"], checked["hdi_prob"],
                                        checked["dropna"])
    formula, progress = checked["formula"], checked["progress"]
    penalty = checked.penalty
    seed = checked["seed"]
    if seed is None:  # draw one and record it, so the run can be repeated exactly
        seed = int(np.random.SeedSequence().entropy % 2**32)
    sampler = SamplerOptions(draws=checked["draws"], tune=checked["tune"], chains=checked["chains"],
                             cores=checked["cores"], progress=checked["progress"],
                             sampler=checked["sampler"])
    table = load_table(data)
    scale_formula = checked["scale_formula"]
    exposure = checked["exposure"]
    truth_spec = resolve_truth(data, checked["truth"])
    if formula is None and truth_spec is not None:  # the formula the law was written for
        formula = truth_spec.formula
    require_formula_without_truth(data, formula, truth_spec)
    # One entry per family model: (likelihood, shape settings), e.g. a quantile per tau.
    settings = checked.family_settings()
    families = {key: ModelId(key[0], _family_modes(key[0], modes)[0], key[1]).family
                for key in settings}
    if exposure is not None:  # before the column is read: say the likelihood is the problem
        _check_offset_takers(families.values(), exposure)
    design = build_design(table, resolve_formula(data, formula), dropna=dropna,
                          scale_formula=scale_formula, exposure=exposure,
                          positive=checked["positive"],
                          classes=any(f.categorical_response for f in families.values()),
                          reference=checked["reference"])
    if truth_spec is not None and design.classes is not None:
        # the exact cross-entropy is for laws of one linear predictor (posterior/truth.py);
        # a sidecar found beside the data is then left aside, an explicit one refused
        if checked["truth"] is not None:
            raise InputError(f"--truth {checked['truth']!r}: the exact cross-entropy table is "
                             "computed for one linear predictor per row, and a categorical "
                             "likelihood has one per level; fit without --truth (or with "
                             "--likelihood bernoulli for a 0/1 y)")
        truth_spec = None
    eta_true = None if truth_spec is None else truth_spec.eta(table.frame, design)
    if penalty is not None:  # the prior's rates use this n, in leave-one-out refits too
        penalty = penalty.for_rows(design.n)
    timings["data"] = time.perf_counter() - clock

    clock = time.perf_counter()
    for family in dict.fromkeys(families.values()):  # y must be data the family models
        family.check_response(design.y, design.response)
    # A separated binary y has no MLE: refused under flat priors, a note under weak ones
    # (and no exact fit, which would diverge).
    separated = {key: note for key, family in families.items() if (note := check_separation(
        design, family, family_label(*key), priors)) is not None}
    baselines = {key: None if key in separated else exact_fit(family, design,
                                                              partial(_progress, progress))
                 for key, family in families.items()}
    timings["exact_fits"] = time.perf_counter() - clock
    refuse_overflow(design, baselines)
    if "fixed" in modes:  # before any model: the range comes from the exact fits
        for key, family in families.items():
            name = key[0]
            # A family without an exact fit has no exact loss to judge the range by.
            if fixed_values[name] is not None and baselines[key] is not None:
                option = FIXED_SCALE_OPTIONS[name]
                check_fixed_scale(option, fixed_values[name], likelihood=name,
                                  smallest=family.smallest_scale(baselines[key].loss,
                                                                 MAX_LOSS_TERM_NATS),
                                  loss_term=family.loss_term_text(option),
                                  plug_in=reference_scale(design, baselines[key]))

    requested, notes = refuse_perfect_fit(
        design, baselines,
        [(key, mode) for key in settings for mode in _family_modes(key[0], modes)], fixed_values)
    notes.extend(separated.values())
    rotation = Rotation.of(design)
    # The plug-in scale where a fixed-scale model needs one: the closed form at the exact
    # fit, or (a family without one) the scale of the numerical MLE.
    plug_ins = {key: plug_in_scale(families[key], design, baselines[key], rotation)
                for key, mode in dict.fromkeys(requested)
                if mode == "fixed" and fixed_values[key[0]] is None}
    specs = [
        make_spec(key[0], mode, fixed_values[key[0]], plug_ins.get(key), priors,
                  other_user_scales=[n for n, v in fixed_values.items() if v is not None],
                  shape=key[1], penalty=penalty)
        for key, mode in requested
    ]
    if scale_formula is not None:  # one heteroscedastic model per family, beside the others
        specs += [ModelSpec(key[0], MODELLED, priors=priors, shape=key[1],
                            scale_formula=scale_formula) for key in dict.fromkeys(
                                key for key, _ in requested)]
    model_seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(len(specs))]
    fits: list[FitResult] = []
    clock = time.perf_counter()
    for spec in specs:
        _progress(progress, f"MAP of {spec.name}")
        model = build_model(spec, design, rotation)
        estimate = find_map(model, spec, design, rotation)
        # A modelled scale has no constant-scale exact fit: its certificate is its own.
        if spec.modelled_scale:
            baseline = None
        elif spec.penalty is not None:  # the exact Ridge/Lasso/ElasticNet fit, not OLS
            baseline = penalised_fit(spec.family, design, spec.penalty)
        else:
            # the family's fit, or (a loss that depends on the scale) the fit at the model's
            # fixed scale
            baseline = exact_fit_for(spec, design, baselines[(spec.likelihood, spec.shape)])
        certificate = certify(spec, design, estimate, baseline) if priors == "flat" else None
        fits.append(FitResult(spec, estimate, baseline, certificate,
                              decompose_nll(spec, design, estimate)))
    timings["map"] = time.perf_counter() - clock
    # stacklevel 4: crossing_notes -> run_pipeline -> fit -> the user's call of fit.
    notes.extend(crossing_notes(design.X, [(f.spec, f.map.coefficients) for f in fits], 4))
    if sample:
        how = ("independence Metropolis-Hastings where its test passes, else NUTS"
               if sampler.sampler == "auto" else "NUTS")
        _progress(progress, f"sampling {len(specs)} model(s) ({how}; {sampler.chains} "
                  f"chains x {sampler.draws} draws)")
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
                spec, design, rotation, draws[spec.name], result.baseline, hdi_prob,
                subsample=subsample, refit=refit, seed=model_seed + 2, timings=timings,
            )
    truth = None
    if truth_spec is not None:  # after LOO: the table shows -elpd_loo/n beside the truth
        clock = time.perf_counter()
        truth = truth_table(truth_spec.law, eta_true, fits, design, source=truth_spec.source,
                            law_parameters=truth_spec.law.params)
        timings["truth"] = time.perf_counter() - clock
    for result in fits:
        notes.extend(_fit_warnings(result))
    misfit = assess_misfit(design, fits) if sample else None
    if misfit is not None:
        notes.extend(misfit.warnings)
    comparison = None
    candidates = candidates_from_fits(fits, design.y_hash, misfit, n=design.n)
    if sample and len(fits) >= 2:
        clock = time.perf_counter()
        comparison = compare_models(candidates, misfit=misfit, warning_count=len(notes))
        timings["comparison"] = time.perf_counter() - clock
    verdict = (comparison.verdict if comparison is not None
               else build_verdict(candidates, misfit=misfit, warning_count=len(notes)))
    options = {
        "likelihoods": names,
        "scales": modes,
        "scale_formula": scale_formula,
        "exposure": exposure,
        "positive": checked["positive"],
        "reference": checked["reference"],
        "models": [spec.name for spec in specs],
        **checked.fixed_scale_options(),  # "sigma", "b": one per scale option
        **checked.shape_options(),  # "tau", "nu", ...: one per shape parameter
        "priors": priors,
        "penalty": None if penalty is None else penalty.as_dict(),
        "prior_details": {r.spec.name: describe_priors(r.spec, design) for r in fits},
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
        "truth": None if truth_spec is None else truth_spec.path,
    }
    timings["total"] = time.perf_counter() - run_clock
    return Analysis(design, fits, options, notes, timings, started, comparison, misfit, verdict,
                    truth)


def _check_offset_takers(families, exposure: str) -> None:
    """Refuse ``exposure`` unless every requested family's log mean takes an offset."""
    for family in dict.fromkeys(families):
        if not family.supports_offset:
            takers = ", ".join(n for n, f in FAMILIES.items() if f.supports_offset)
            raise InputError(f"exposure {exposure!r} needs likelihoods whose log mean takes an "
                             f"offset ({takers}); the {family.name} likelihood takes none")


def _family_modes(likelihood: str, modes: list[str]) -> list[str]:
    """The scale modes of ``likelihood``'s models: the requested ones, or ``none`` (one
    model) for a family without a scale."""
    return modes if get_family(likelihood).scale_name is not None else [NO_SCALE]


def _progress(progress: bool | None, message: str) -> None:
    show = sys.stderr.isatty() if progress is None else progress
    if show:
        print(f"lossbridge: {message}", file=sys.stderr, flush=True)


def _fit_warnings(result: FitResult) -> list[dict]:
    # stacklevel 4: _fit_warnings -> run_pipeline -> fit -> the user's call of fit.
    out = list(result.posterior.warnings) if result.posterior is not None else []
    for note in out:
        warnings.warn(note["message"], SamplingWarning, stacklevel=4)
    name = result.spec.name
    if result.certificate is None:
        return out
    if not result.certificate.certified:
        message = f"{name}: MAP not certified against the exact fit: {result.certificate.explanation}"
        warnings.warn(message, CertificateWarning, stacklevel=4)
        out.append({"code": "map_not_certified", "model": name, "message": message})
    if len(result.certificate.local_optima) > 1:  # a non-convex objective (Student-t)
        values = ", ".join(f"{v:.10g}" for v in result.certificate.local_optima)
        message = (f"{name}: the objective is not convex: the {result.spec.family.exact_name} "
                   f"solver found {len(result.certificate.local_optima)} distinct local optima "
                   f"(negative log posterior {values}); the certificate compares the MAP with "
                   "the best")
        warnings.warn(message, LocalOptimaWarning, stacklevel=4)
        out.append({"code": "local_optima", "model": name, "message": message})
    if result.certificate.unique is not True:
        family = result.spec.family
        on_loss = (f"the MAP is certified on the {family.loss_name} loss ({family.loss_symbol}), "
                   "not on each coefficient")
        message = (
            f"{name}: the {family.exact_name} solution is not unique (a flat face of the LP); "
            f"{on_loss}" if result.certificate.unique is False else
            f"{name}: whether the {family.exact_name} solution is unique was not determined; "
            f"{on_loss}"
        )
        warnings.warn(message, NonUniqueSolutionWarning, stacklevel=4)
        out.append({"code": "lad_not_unique", "model": name, "message": message})
    if not result.nll.matches_pymc:
        message = (
            f"{name}: NLL decomposition differs from PyMC's log-likelihood by "
            f"{result.nll.relative_difference:.1e}"
        )
        warnings.warn(message, CertificateWarning, stacklevel=4)
        out.append({"code": "nll_mismatch", "model": name, "message": message})
    return out
