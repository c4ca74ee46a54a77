"""Data for the report's figures, computed from an Analysis (no drawing here).

Every function returns plain pandas/numpy data that a function of :mod:`lossbridge.present.plots`
draws without computing anything further.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..families.registry import FAMILIES

HIST_BINS = 40
# Greek letters of parameter names, for figure labels (names outside this table print as is).
SYMBOLS = {"sigma": "σ", "nu": "ν", "tau": "τ"}


def symbol(name: str | None) -> str:
    """A parameter's symbol for a figure label (``sigma`` -> ``σ``)."""
    return SYMBOLS.get(name, name or "")


def reference_families(analysis) -> list:
    """Families whose fitted densities the residual figures draw: the fitted families with
    additive noise (identity link, continuous density), a scale with a closed-form MLE and
    no shape parameter, in the registry's order (Normal before Laplace), so a fit of one is
    seen against the others fitted; never a family no model used."""
    fitted = {r.spec.likelihood for r in analysis.fits}
    return [f for name, f in FAMILIES.items()
            if name in fitted and f.additive_noise and f.scale_name is not None
            and not f.parameters and f.scale_mle(1.0, 1) is not None]


def discrete_y(analysis) -> bool:
    """Whether a discrete likelihood was fitted (then y is a count or binary outcome)."""
    return any(r.spec.family.density_kind == "discrete" for r in analysis.fits)


def residual_note(analysis) -> str | None:
    """Why the report draws no residual figures, when it draws none (else None)."""
    if _residual_fits(analysis) and reference_families(analysis):
        return None
    if discrete_y(analysis):
        return ("No residual figures: y is discrete (a discrete likelihood was fitted), so "
                "y − Xβ of a continuous exact fit is not noise with a density; see the figures "
                "of observed against predicted frequencies and the calibration instead")
    return ("No residual figures: no fitted model has additive noise with an exact "
            "classical counterpart")


def _residual_fits(analysis) -> list:
    """The exact fits whose residuals y - X beta are the noise (``Family.additive_noise``:
    identity link, continuous density), for the residual figures."""
    if discrete_y(analysis):  # y - X beta of a continuous fit of a count is no noise
        return []
    return [r for r in _exact_fits(analysis) if r.spec.family.additive_noise]


def _exact_fits(analysis) -> list:
    """The fits with an exact classical counterpart, one per exact fit, in fit order."""
    out, seen = [], set()
    for result in analysis.fits:
        base = result.baseline
        if base is not None and result.spec.family.exact_solver is not None \
                and base.method not in seen:
            seen.add(base.method)
            out.append(result)
    return out


def forest_frame(analysis) -> pd.DataFrame:
    """Rows (model, term): MAP, and when sampled the posterior mean and HDI."""
    rows = []
    for result in analysis.fits:
        summary = result.posterior.summary if result.posterior is not None else None
        for j, term in enumerate(analysis.design.terms):
            row = {"model": result.spec.name, "model_id": result.spec.model_id,
                   "likelihood": result.spec.model_id.family_label, "scale": result.spec.scale,
                   "term": term, "map": result.map.coefficients[j]}
            if summary is not None:
                row.update(mean=summary.loc[term, "mean"], hdi_low=summary.loc[term, "hdi_low"],
                           hdi_high=summary.loc[term, "hdi_high"])
            rows.append(row)
    return pd.DataFrame(rows)


def baseline_frame(analysis) -> pd.DataFrame:
    """Exact-fit coefficients per term (OLS, LAD, ...: one column per fitted exact fit),
    ordered as the families are in the registry."""
    table = analysis.coefficients()
    order = {name: position for position, name in enumerate(FAMILIES)}
    fits = sorted(_exact_fits(analysis), key=lambda r: order.get(r.spec.likelihood, len(order)))
    columns = [r.spec.family.exact_name for r in fits if r.spec.family.exact_name in table.columns]
    return table.loc[list(analysis.design.terms), columns]


def baseline_positions(analysis) -> dict[str, int]:
    """``{exact-fit name: position of its family in the registry}``, for its line style."""
    order = {name: position for position, name in enumerate(FAMILIES)}
    return {r.spec.family.exact_name: order.get(r.spec.likelihood, len(order))
            for r in _exact_fits(analysis)}


def forest_baselines(analysis) -> list[dict]:
    """The exact fits' lines of the forest plot: per distinct exact fit (its display name
    and coefficients), the names of the models it is the counterpart of (its line is drawn
    across those models' rows only: an OLS line means nothing beside a logit coefficient)
    and its style position (the rank of its name among the exact fits, ordered by their
    families' places in the registry: OLS dashed, LAD dotted, then the others)."""
    order = {name: position for position, name in enumerate(FAMILIES)}
    out: dict[tuple, dict] = {}
    for result in analysis.fits:
        base, family = result.baseline, result.spec.family
        if base is None or family.exact_solver is None:
            continue
        name = base.title or family.exact_name
        key = (name, tuple(np.round(np.asarray(base.coefficients, dtype=float), 12)))
        entry = out.setdefault(key, {
            "name": name, "models": [],
            "coefficients": dict(zip(analysis.design.terms, map(float, base.coefficients),
                                     strict=True)),
            "position": order.get(result.spec.likelihood, len(order))})
        entry["models"].append(result.spec.name)
    # line styles by distinct exact-fit name, the registry's order first (OLS, then LAD...)
    names = sorted(dict.fromkeys(e["name"] for e in out.values()),
                   key=lambda n: min(e["position"] for e in out.values() if e["name"] == n))
    for entry in out.values():
        entry["position"] = names.index(entry["name"])
    return list(out.values())


def scale_draws(analysis) -> dict:
    """Posterior draws of each learned scale, keyed by model (its ModelId)."""
    out = {}
    for result in analysis.fits:
        if result.posterior is not None and result.spec.scale == "learned":
            out[result.spec.model_id] = result.posterior.draws.flat_scale
    return out


def fixed_scales(analysis) -> dict:
    """Each fixed scale, keyed by model (its ModelId)."""
    return {r.spec.model_id: float(r.spec.fixed_scale) for r in analysis.fits
            if r.spec.scale == "fixed"}


def residual_densities(analysis, points: int = 400) -> list[dict]:
    """Per exact fit: residuals, histogram, and each reference family's density at the
    maximum-likelihood scale of those residuals (:func:`reference_families`)."""
    design = analysis.design
    out = []
    for result in _residual_fits(analysis):
        base = result.baseline
        residuals = design.y - design.X @ base.coefficients
        low, high = np.quantile(residuals, [0.001, 0.999])
        span = high - low or 1.0
        grid = np.linspace(low - 0.1 * span, high + 0.1 * span, points)
        heights, edges = np.histogram(residuals, bins=HIST_BINS, range=(grid[0], grid[-1]), density=True)
        densities = []
        for family in reference_families(analysis):
            scale = float(family.scale_mle(family.loss(residuals), residuals.size))
            densities.append({"family": family.name, "title": family.title,
                              "scale_name": family.scale_name, "symbol": symbol(family.scale_name),
                              "scale": scale,
                              "density": np.exp(family.logpdf(grid, 0.0, scale))})
        out.append({
            "fit": result.spec.family.exact_name,
            "edges": edges,
            "heights": heights,
            "grid": grid,
            "densities": densities,
        })
    return out


SCATTER_POINTS = 4_000
QQ_POINTS = 1_000
FITTED_BINS = 20


def _exact_residuals(analysis) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{exact-fit name ("OLS", "LAD", ...): (fitted, residuals)}``, in fit order."""
    design = analysis.design
    out = {}
    for result in _residual_fits(analysis):
        fitted = design.X @ result.baseline.coefficients
        out[result.spec.family.exact_name] = (fitted, design.y - fitted)
    return out


def residuals_vs_fitted(analysis) -> list[dict]:
    """Per exact fit: residual against fitted value (a fixed random subset of at most
    ``SCATTER_POINTS`` rows, so large data stay drawable), and per bin of fitted values
    (equal counts) the mean residual and the root mean square residual."""
    out = []
    for fit, (fitted, residuals) in _exact_residuals(analysis).items():
        n = fitted.size
        shown = (np.arange(n) if n <= SCATTER_POINTS
                 else np.sort(np.random.default_rng(0).choice(n, SCATTER_POINTS, replace=False)))
        order = np.argsort(fitted, kind="stable")
        bins = [b for b in np.array_split(order, min(FITTED_BINS, n)) if b.size]
        out.append({
            "fit": fit,
            "fitted": fitted[shown],
            "residuals": residuals[shown],
            "shown": int(shown.size),
            "n": int(n),
            "bin_fitted": np.array([np.mean(fitted[b]) for b in bins]),
            "bin_mean": np.array([np.mean(residuals[b]) for b in bins]),
            "bin_rms": np.array([np.sqrt(np.mean(residuals[b] ** 2)) for b in bins]),
        })
    return out


def qq_frames(analysis) -> list[dict]:
    """QQ data against each reference family with known quantiles (centred at 0, scale
    at its MLE given the residuals: sqrt(mean r^2) for the Normal, mean |r| for the
    Laplace). Each uses its own family's exact-fit residuals (OLS for Normal, LAD for
    Laplace) when that fit exists, else the first exact fit's; at most ``QQ_POINTS``
    evenly spaced order statistics."""
    residuals = {fit: r for fit, (_, r) in _exact_residuals(analysis).items()}
    if not residuals:
        return []
    out = []
    for family in reference_families(analysis):
        fit = family.exact_name if family.exact_name in residuals else next(iter(residuals))
        ordered = np.sort(residuals[fit])
        n = ordered.size
        index = np.unique(np.linspace(0, n - 1, min(QQ_POINTS, n)).round().astype(int))
        probabilities = (index + 0.5) / n
        scale = float(family.scale_mle(family.loss(ordered), n))
        theoretical = family.quantile(probabilities, scale)
        if theoretical is None:  # the family does not know its quantiles: no panel
            continue
        out.append({"family": family.title, "family_name": family.name, "fit": fit,
                    "scale": scale, "scale_name": symbol(family.scale_name),
                    "theoretical": np.asarray(theoretical), "sample": ordered[index]})
    return out


def ppc_densities(analysis) -> dict:
    """Per model (its ModelId): histogram of y and of replicated data sets, on common bins
    (one bin per level of a categorical y, whose ``classes`` then label them)."""
    return {r.spec.model_id: {"edges": r.posterior.ppc.histogram.edges,
                              "observed": r.posterior.ppc.histogram.observed,
                              "replicated": r.posterior.ppc.histogram.replicated,
                              "classes": analysis.design.classes}
            for r in analysis.fits if r.posterior is not None}


def loo_pit_curves(analysis) -> dict:
    """Per model (its ModelId): ECDF of LOO-PIT values minus the uniform CDF, with the 95% KS band.

    Continuous models only: the non-randomised PIT of a discrete predictive distribution is
    not uniform even for the true model (Czado, Gneiting and Held 2009, *Biometrics* 65).
    """
    out = {}
    for result in analysis.fits:
        if result.posterior is None or result.spec.family.density_kind == "discrete":
            continue
        pit = np.sort(result.posterior.ppc.loo_pit)
        n = pit.size
        ecdf = np.arange(1, n + 1) / n
        out[result.spec.model_id] = {
            "pit": pit,
            "difference": ecdf - pit,
            "band": result.posterior.ppc.loo_pit_ks_reference_95,
        }
    return out


def fixed_vs_learned_frame(analysis) -> pd.DataFrame:
    """Rows (likelihood, term, scale mode): MAP and HDI, for models sampled in both modes.

    The likelihood and scale mode come from each model's identity (``forest_frame``).
    """
    frame = forest_frame(analysis)
    if "hdi_low" not in frame:
        return pd.DataFrame()
    both = frame.groupby("likelihood")["scale"].transform("nunique") == 2
    return frame[both].reset_index(drop=True)


BAND_POINTS = 200  # rows the sigma(x) band is evaluated at (draws x rows stays small)


def scale_bands(analysis, probability: float = 0.9) -> list[dict]:
    """sigma(x) = exp(Z gamma) of each modelled-scale model against the first scale term
    that varies: the MAP, the posterior median and central ``probability`` band at up to
    ``BAND_POINTS`` rows (sorted by that term), and the MAP's absolute residuals."""
    out = []
    design = analysis.design
    if design.Z is None:
        return out
    Z = design.Z
    varying = [j for j in range(Z.shape[1]) if np.ptp(Z[:, j]) > 0]
    column = varying[0] if varying else 0
    order = np.argsort(Z[:, column], kind="stable")
    rows = order[np.unique(np.linspace(0, design.n - 1, min(BAND_POINTS, design.n)).astype(int))]
    for result in analysis.fits:
        if result.map.gamma is None:
            continue
        residual = np.abs(design.y - design.X @ result.map.coefficients)
        entry = {"model": result.spec.model_id, "x": Z[rows, column],
                 "xlabel": design.scale_terms[column],
                 "scale_name": result.spec.family.scale_name,
                 "map": np.exp(Z[rows] @ result.map.gamma),
                 "points_x": Z[:, column], "points_y": residual, "probability": probability}
        draws = result.posterior.draws if result.posterior is not None else None
        if draws is not None and draws.gamma is not None:
            gamma = draws.gamma.reshape(-1, draws.gamma.shape[-1])
            scales = np.exp(gamma @ Z[rows].T)
            tail = (1.0 - probability) / 2
            entry["low"], entry["median"], entry["high"] = np.quantile(
                scales, [tail, 0.5, 1.0 - tail], axis=0)
        out.append(entry)
    return out


ROOTOGRAM_VALUES = 60  # at most this many count values drawn (the rest pooled in the last)
# The last drawn value is at most this quantile of y (rounded up), the values above pooled
# in it: a long sparse tail would otherwise make a spike of the pooled bin and squash the rest.
ROOTOGRAM_TAIL_QUANTILE = 0.99
CALIBRATION_BINS = 10


def _map_means(result, design) -> np.ndarray:
    """Fitted means mu = g^-1(X beta (+ offset)) at the MAP."""
    return result.spec.family.link.inverse(design.linear_predictor(result.map.coefficients))


def _discrete_fits(analysis, categorical: bool = False) -> list:
    """One fit per discrete likelihood (family with its settings), in fit order: those of
    a count or binary y, or (``categorical``) those of a categorical response."""
    out, seen = [], set()
    for result in analysis.fits:
        key = (result.spec.likelihood, result.spec.shape)
        family = result.spec.family
        if (family.density_kind == "discrete" and key not in seen
                and family.categorical_response == categorical):
            seen.add(key)
            out.append(result)
    return out


def rootograms(analysis) -> list[dict]:
    """Per discrete fit: observed and expected frequency of each value of y at the MAP.

    The expected frequency of value k is sum_i P(y = k | mu_i) under the family's own
    ``logpdf`` at the MAP; values from min(0, min y) to max(y), or to the
    ``ROOTOGRAM_TAIL_QUANTILE`` quantile of y rounded up when that is smaller (and at most
    ``ROOTOGRAM_VALUES`` values), the last one then pooling every larger value, observed
    and expected. Drawn as a
    hanging rootogram (Kleiber and Zeileis 2016, *The American Statistician* 70): bars of
    sqrt(observed) hanging from sqrt(expected), so a misfit shows as a bar off zero.
    """
    design = analysis.design
    y = np.asarray(design.y, dtype=float)
    low, high = min(int(np.min(y)), 0), int(np.max(y))  # counts and binary y start at 0
    tail = max(int(np.ceil(np.quantile(y, ROOTOGRAM_TAIL_QUANTILE, method="inverted_cdf"))),
               low + 1)
    values = np.arange(low, min(high, tail, low + ROOTOGRAM_VALUES - 1) + 1)
    pooled = high > values[-1]
    out = []
    for result in _discrete_fits(analysis):
        family = result.spec.family
        mu = _map_means(result, design)
        logp = family.logpdf(values[:, None].astype(float), mu[None, :],
                             float(result.map.scale), **result.map.shape)
        expected = np.exp(logp).sum(axis=1)
        observed = np.array([np.sum(y == v) for v in values], dtype=float)
        if pooled:  # the last value stands for itself and every larger one
            # P(y >= last | mu_i) = 1 - P(y < last | mu_i): the support starts at ``low``
            expected[-1] = float(np.sum(np.clip(1.0 - np.exp(logp[:-1]).sum(axis=0), 0.0, None)))
            observed[-1] = np.sum(y >= values[-1])
        out.append({"model": result.spec.model_id, "name": result.spec.name,
                    "values": values, "observed": observed, "expected": expected,
                    "pooled": bool(pooled)})
    return out


def calibration_curves(analysis, bins: int = CALIBRATION_BINS) -> list[dict]:
    """Per discrete fit of a binary y (every y in {0, 1}): the MAP's predicted P(y = 1)
    against the observed share of ones, in ``bins`` bins of equal counts of rows sorted by
    the prediction (a reliability diagram); empty unless y is binary."""
    design = analysis.design
    y = np.asarray(design.y, dtype=float)
    if not np.all((y == 0) | (y == 1)):
        return []
    out = []
    for result in _discrete_fits(analysis):
        family = result.spec.family
        mu = _map_means(result, design)
        p_one = np.exp(family.logpdf(np.ones_like(mu), mu, float(result.map.scale),
                                     **result.map.shape))
        order = np.argsort(p_one, kind="stable")
        groups = [g for g in np.array_split(order, min(bins, y.size)) if g.size]
        out.append({"model": result.spec.model_id, "name": result.spec.name,
                    "predicted": np.array([p_one[g].mean() for g in groups]),
                    "observed": np.array([y[g].mean() for g in groups]),
                    "counts": np.array([g.size for g in groups])})
    return out


PREDICTIVE_INTERVAL = 0.9  # central mass of the replicated class counts drawn


def class_frequencies(analysis) -> list[dict]:
    """Per fit of a categorical response: each level's observed count, its expected count
    at the MAP, sum_i P(y_i = level | MAP), and when sampled the central
    ``PREDICTIVE_INTERVAL`` of its count over the posterior predictive replicates (from
    the family's per-level PPC statistics, the share of each level, times n)."""
    design = analysis.design
    if design.classes is None:
        return []
    codes = np.asarray(design.y, dtype=int)
    levels = list(design.classes)
    observed = np.bincount(codes, minlength=len(levels)).astype(float)
    out = []
    for result in _discrete_fits(analysis, categorical=True):
        entry = {"model": result.spec.model_id, "name": result.spec.name, "levels": levels,
                 "reference": levels[0], "observed": observed,
                 "expected": _map_means(result, design).sum(axis=0)}
        if result.posterior is not None:
            shares = [check.replicated for check in result.posterior.ppc.statistics.values()]
            if len(shares) == len(levels):  # one share per level, in the levels' order
                tail = (1.0 - PREDICTIVE_INTERVAL) / 2
                counts = np.array(shares) * design.n
                entry["low"], entry["high"] = np.quantile(counts, [tail, 1.0 - tail], axis=1)
                entry["probability"] = PREDICTIVE_INTERVAL
        out.append(entry)
    return out


def class_calibration(analysis, bins: int = CALIBRATION_BINS) -> list[dict]:
    """Per fit of a categorical response, per level c: the MAP's predicted P(y = c) against
    the observed share of y = c in ``bins`` bins of equal counts of rows sorted by that
    prediction (a one-against-the-rest reliability diagram per level)."""
    design = analysis.design
    if design.classes is None:
        return []
    codes = np.asarray(design.y, dtype=int)
    out = []
    for result in _discrete_fits(analysis, categorical=True):
        p = _map_means(result, design)
        curves = []
        for c, level in enumerate(design.classes):
            order = np.argsort(p[:, c], kind="stable")
            groups = [g for g in np.array_split(order, min(bins, design.n)) if g.size]
            curves.append({"level": level,
                           "predicted": np.array([p[g, c].mean() for g in groups]),
                           "observed": np.array([np.mean(codes[g] == c) for g in groups])})
        out.append({"model": result.spec.model_id, "name": result.spec.name, "curves": curves})
    return out


def confusion_tables(analysis) -> list[dict]:
    """Per fit of a categorical response: counts of (observed level, most probable level at
    the MAP), rows observed, columns predicted, and the share on the diagonal (accuracy)."""
    design = analysis.design
    if design.classes is None:
        return []
    codes = np.asarray(design.y, dtype=int)
    k = len(design.classes)
    out = []
    for result in _discrete_fits(analysis, categorical=True):
        predicted = np.argmax(_map_means(result, design), axis=-1)
        table = np.zeros((k, k), dtype=int)
        np.add.at(table, (codes, predicted), 1)
        out.append({"model": result.spec.model_id, "name": result.spec.name,
                    "levels": list(design.classes), "counts": table,
                    "accuracy": float(np.trace(table) / design.n)})
    return out
