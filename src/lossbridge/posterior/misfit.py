"""Misfit: named warnings when the fitted models describe the data badly.

Interface shared by the pipeline (:func:`lossbridge.interfaces.pipeline.fit` calls
:func:`assess_misfit` once, after the posteriors) and the verdict (which says when
every compared model misfits, and what the residuals show).

Checks per sampled model, and why their thresholds:

* ``loo_pit_nonuniform``: the Kolmogorov-Smirnov distance of the model's m LOO-PIT
  values (every row, or the LOO subsample) from uniform exceeds the 99.9 % point of the
  exact distribution of that distance for m independent uniforms
  (:func:`lossbridge.posterior.ppc.loo_pit_reference`). A level of 0.001 keeps the false-alarm
  rate of four models below 0.4 % (Bonferroni). The level is exact for a LOO subsample
  and conservative for LOO-PIT on every row (fitted to the same rows, its distances are
  about 2/3 of those of independent uniforms; simulated in the tests), which costs
  power, not false alarms.
* ``ppc_tail``: a posterior predictive p-value P(T(y_rep) >= T(y)) at most 0.001 or at
  least 0.999 for any of the six statistics of :mod:`lossbridge.posterior.ppc`. Bonferroni over
  the six, two-sided: at most 1.2 % false alarms per model were the p-values uniform;
  they are not (posterior predictive p-values of statistics the model fits, such as
  the mean and sd, concentrate near 0.5 under a correct model: Meng 1994, *Annals of
  Statistics* 22; Robins, van der Vaart and Ventura 2000, *JASA* 95), so the rate is
  lower. A p-value estimated from R replicated data sets is judged as (k + 1)/(R + 1),
  k of them at least as extreme (:func:`monte_carlo_tail`), so the level holds for any R;
  below 999 replicates the check cannot fire (the default 4 × 1000 draws give 4,000). The
  message gives the count of replicated data sets.
* ``p_loo_large``: p_loo above twice the number of parameters p (coefficients plus a
  scale learned or plugged in from the same data). Vehtari's LOO glossary (loo package,
  "LOO package glossary", section
  "Interpreting p_loo when Pareto k is large"): "If p_loo > p, then the model is likely
  to be badly misspecified"; the factor 2 leaves room for Monte Carlo error and for the
  O(p / n) excess of a well-specified model at small n. The message gives p_loo / n too.
  (https://mc-stan.org/loo/reference/loo-glossary.html)
* ``pareto_k_many_high``: more than 1 % of the observations (and at least 3) with
  Pareto k > 0.7. One or two such points are the influential-observation case that
  the ``pareto_k`` warning names and exact refits resolve; many of them mean the
  posterior changes a lot whenever a row is left out, a sign of misspecification
  (Vehtari, Gelman and Gabry 2017, *Statistics and Computing* 27, section 2.1; the LOO
  glossary, "Pareto k estimates").

For a discrete likelihood (``density_kind`` "discrete": counts, binary) two checks change.
Its LOO-PIT is not tested: the PIT of a discrete predictive distribution is not uniform
even under the true model (it needs randomising; Czado, Gneiting and Held 2009,
*Biometrics* 65). And only the low side of the predictive p-values is read: P(T(y_rep) >=
T(y)) counts ties, and a discrete y's min, max or median equals that of almost every
replicate (a binary y's always), so p near 1 is no evidence; p <= 0.001 (almost every
replicate strictly below the observed value) still is.

The residual description is given only for fits with additive noise
(``Family.additive_noise``: an identity link and a continuous density) and not at all when
a discrete family was fitted: y is then discrete (counts, binary), and the skewness or
kurtosis of y - X beta tests nothing about the models ranked (a Poisson's residuals are
skewed and heteroscedastic by design); the posterior predictive checks and LOO-PIT still
apply to every model.

The residual description (:func:`residual_shape`) reads the exact-fit residuals (of a
smooth likelihood's exact fit when one was fitted, OLS for the Normal, else the first
exact fit, e.g. LAD) and the response; each feature is reported
only when its test rejects at ``SHAPE_ALPHA`` = 0.001 (four tests: at most 0.4 % false
descriptions on well-specified data, Bonferroni):

* tails: adjusted excess kurtosis G2 (Normal 0, Laplace 3) with its standard error
  under normality, tested by Anscombe and Glynn (1983), *Biometrika* 70;
* skew: adjusted skewness G1 with its standard error, tested by D'Agostino (1970),
  *Biometrika* 57;
* heteroscedasticity: Koenker's studentized Breusch-Pagan test of the squared
  residuals on the fitted values (LM = n R^2, chi-square with 1 df; Breusch and Pagan
  1979, *Econometrica* 47; Koenker 1981, *J. Econometrics* 17);
* a spike: one response value held by at least 5 % of the rows (and 10 rows), at least
  twice as many as the next most common value; a continuous likelihood gives any single
  value probability 0. The share of exactly-zero residuals of the exact fits is given.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ..core.errors import MisfitWarning
from ..families.registry import FAMILIES
from .diagnostics import PARETO_K_LIMIT, _warning
from .loo import LooEstimator, LooResult
from .ppc import PpcResult, loo_pit_reference

LOO_PIT_ALPHA = 0.001
PPC_TAIL = 0.001
P_LOO_RATIO = 2.0
PARETO_K_HIGH_FRACTION = 0.01
PARETO_K_HIGH_MIN = 3
SHAPE_ALPHA = 0.001
SPIKE_FRACTION = 0.05
SPIKE_MIN_ROWS = 10
SPIKE_RATIO = 2.0
DISCRETE_Y_NOTE = ("y is discrete (a discrete likelihood was fitted): residual skew, tails "
                   "and spikes are not tested, as counts, binary outcomes and classes have no "
                   "additive "
                   "noise; the predictive checks apply (LOO-PIT is not tested for discrete "
                   "models: their non-randomised PIT is not uniform)")
MISFIT_CODES = ("loo_pit_nonuniform", "ppc_tail", "p_loo_large", "pareto_k_many_high")


@dataclass(frozen=True)
class MisfitAssessment:
    """What the posterior checks say about how well each model describes the data.

    Attributes
    ----------
    warnings : tuple of dict
        Named warnings ``{"code", "model", "message"}``, like every other warning.
    misfit_models : frozenset of str
        Models with at least one misfit warning.
    residual_shape : tuple of str
        What the residuals show, in words (e.g. ``"heavy tails (excess kurtosis 5.2)"``).
    residual_statistics : dict
        The numbers behind ``residual_shape`` (every statistic computed, flagged or not).
    """

    warnings: tuple[dict, ...] = ()
    misfit_models: frozenset[str] = frozenset()
    residual_shape: tuple[str, ...] = field(default_factory=tuple)
    residual_statistics: dict = field(default_factory=dict)

    def all_misfit(self, models: Iterable[str]) -> bool:
        """True when every one of ``models`` (at least one) misfits."""
        models = set(models)
        return bool(models) and models <= self.misfit_models

    def as_dict(self) -> dict:
        return {"misfit_models": sorted(self.misfit_models),
                "residual_shape": list(self.residual_shape),
                "residual_statistics": self.residual_statistics}


def assess_misfit(design, fits: Sequence) -> MisfitAssessment:
    """Assess every sampled fit (``FitResult`` with a posterior) and describe the residuals.

    Each misfit warning is also issued as a :class:`~lossbridge.core.errors.MisfitWarning`.
    """
    found: list[dict] = []
    for result in fits:
        if result.posterior is None:
            continue
        found += model_misfit_warnings(result.spec.name, result.posterior.ppc,
                                       result.posterior.loo, parameter_count(result.spec, design),
                                       design.n,
                                       discrete=result.spec.family.density_kind == "discrete")
    for note in found:
        warnings.warn(note["message"], MisfitWarning, stacklevel=3)
    shape = exact_fit_residual_shape(design, fits)
    return MisfitAssessment(tuple(found), frozenset(w["model"] for w in found),
                            tuple(shape["phrases"]), shape["statistics"])


def parameter_count(spec, design) -> int:
    """Coefficients plus the scale when it is estimated from these data: learned, or fixed
    at its plug-in MLE (whose true leave-one-out re-estimates it without each row, so its
    p_loo counts the scale as well), plus each learned shape parameter (a Student-t's nu)."""
    shape = len(spec.family.learned_shape)
    if spec.modelled_scale:  # gamma: one coefficient per column of the scale's Z
        return design.k + design.Z.shape[1] + shape
    estimated = spec.scale == "learned" or spec.fixed_scale_is_plug_in
    return design.k + (1 if estimated else 0) + shape


def model_misfit_warnings(model: str, ppc: PpcResult, loo: LooResult, parameters: int,
                          n: int, discrete: bool = False) -> list[dict]:
    """Misfit warnings of one model from its PPC results and LOO result (see module docstring;
    ``discrete``: a discrete likelihood, whose LOO-PIT is not tested and whose predictive
    p-values are read on the side without ties only)."""
    pit = [] if discrete else loo_pit_warnings(model, ppc.loo_pit, ppc.loo_pit_ks_distance)
    return (pit + ppc_tail_warnings(model, ppc.p_values, ppc.replicated_draws, discrete)
            + p_loo_warnings(model, loo.p_loo, parameters, n)
            + pareto_k_many_warnings(model, loo.pareto_k, loo.estimator is LooEstimator.EXACT))


def loo_pit_warnings(model: str, pit: np.ndarray, distance: float) -> list[dict]:
    m = int(np.size(pit))
    if m < 2:
        return []
    limit = loo_pit_reference(m, 1.0 - LOO_PIT_ALPHA)
    if not distance > limit:
        return []
    middle = float(np.mean((pit > 0.25) & (pit < 0.75)))
    if middle > 0.5:
        reading = "predictive distributions too wide for most rows (too many values near 0.5)"
    else:
        reading = "predictive distributions too narrow or biased (too many values near 0 or 1)"
    return [_warning("loo_pit_nonuniform", model,
                     f"LOO-PIT values far from uniform: distance {distance:.3f} against "
                     f"{limit:.3f}, the {100 * (1 - LOO_PIT_ALPHA):g}% point for {m:,} "
                     f"independent uniforms (95%: {loo_pit_reference(m):.3f}); "
                     f"{100 * middle:.0f}% of them in (0.25, 0.75), 50% if calibrated: "
                     f"{reading}")]


def monte_carlo_tail(p: float, replicated: int) -> tuple[float, float]:
    """The two one-sided Monte Carlo p-values of an estimate ``p`` = k/R (k of R replicates
    with T(y_rep) >= T(y)): (k + 1)/(R + 1) and (R - k + 1)/(R + 1). Under the null
    P((k + 1)/(R + 1) <= alpha) <= alpha for any R (Davison and Hinkley 1997, *Bootstrap
    Methods and their Application*, eq. 4.11), where the raw k/R <= 0.001 at R = 400 means
    k = 0, which happens 1 time in 401: 2.5 times the level it claims."""
    k = round(p * replicated)
    return (k + 1) / (replicated + 1), (replicated - k + 1) / (replicated + 1)


def ppc_tail_warnings(model: str, p_values: dict[str, float], replicated: int,
                      discrete: bool = False) -> list[dict]:
    """A ``ppc_tail`` warning when a statistic's Monte Carlo p-value (see
    :func:`monte_carlo_tail`) is at most ``PPC_TAIL`` on either side: it needs at least
    1/PPC_TAIL - 1 = 999 replicated data sets to be able to fire at all."""
    tails = {k: monte_carlo_tail(p, replicated) for k, p in p_values.items()}
    low = {k: p for k, p in p_values.items() if tails[k][0] <= PPC_TAIL}
    # P(T(y_rep) >= T(y)) counts ties: a discrete y's min, max or median equals that of
    # almost every replicate (always, for a binary y), so p near 1 says nothing there
    high = {} if discrete else {k: p for k, p in p_values.items() if tails[k][1] <= PPC_TAIL}
    if not low and not high:
        return []
    parts = []
    if low:
        parts.append("observed above almost every replicate for "
                     + ", ".join(f"{k} (p = {p:.3g})" for k, p in low.items()))
    if high:
        parts.append("observed below almost every replicate for "
                     + ", ".join(f"{k} (p = {p:.3g})" for k, p in high.items()))
    return [_warning("ppc_tail", model,
                     f"posterior predictive p-values beyond {PPC_TAIL:g} / {1 - PPC_TAIL:g} "
                     f"({replicated:,} replicated data sets): {'; '.join(parts)}; the model "
                     "does not reproduce these features of the data")]


def p_loo_warnings(model: str, p_loo: float, parameters: int, n: int) -> list[dict]:
    if not np.isfinite(p_loo) or not p_loo > P_LOO_RATIO * parameters:
        return []
    return [_warning("p_loo_large", model,
                     f"p_loo = {p_loo:.1f} for {parameters} parameter(s) (more than "
                     f"{P_LOO_RATIO:g}x; {p_loo / n:.3f} per observation): a p_loo above the "
                     "number of parameters indicates a badly misspecified model (Vehtari, "
                     "LOO glossary)")]


def pareto_k_many_warnings(model: str, pareto_k: np.ndarray, exact: bool) -> list[dict]:
    pareto_k = np.asarray(pareto_k, dtype=float)
    if exact or pareto_k.size == 0:  # exact LOO has no importance weights
        return []
    high = int(np.sum(pareto_k > PARETO_K_LIMIT))
    fraction = high / pareto_k.size
    if high < PARETO_K_HIGH_MIN or not fraction > PARETO_K_HIGH_FRACTION:
        return []
    return [_warning("pareto_k_many_high", model,
                     f"{high:,} of {pareto_k.size:,} observations ({100 * fraction:.1f}%) have "
                     f"Pareto k > {PARETO_K_LIMIT}: leaving almost any of them out changes the "
                     "posterior a lot, a sign that the model misfits these data")]


# ---------------------------------------------------------------------------- residuals
def exact_fit_residual_shape(design, fits: Sequence) -> dict:
    """:func:`residual_shape` of the residuals of the fits' exact baselines.

    The residuals described are those of a smooth likelihood's exact fit (least squares
    for the Normal; the tests below are the classical ones on those residuals), taken in
    the registry's order, else of the first exact fit (e.g. LAD). Fits without an exact
    counterpart have no baseline and are skipped.
    """
    if any(r.spec.family.density_kind == "discrete" for r in fits):
        # y is discrete (a discrete family accepted it): skew, tails and spikes of y - X beta
        # describe no noise of the models ranked, so none is reported (module docstring)
        return {"phrases": [], "statistics": {"skipped": DISCRETE_Y_NOTE}}
    exact = [r for r in fits if r.baseline is not None and r.spec.family.additive_noise]
    baselines = {r.baseline.method: r.baseline for r in exact}
    if not baselines:
        return {"phrases": [], "statistics": {}}
    order = {name: position for position, name in enumerate(FAMILIES)}
    smooth = sorted((r for r in exact if r.spec.family.smooth),
                    key=lambda r: order.get(r.spec.likelihood, len(order)))
    chosen = smooth[0].baseline if smooth else exact[0].baseline
    fitted = design.X @ chosen.coefficients
    zero_shares = {}
    for method, base in baselines.items():
        r = design.y - design.X @ base.coefficients
        zero_shares[method] = zero_residual_share(r, design.y)
    names = {r.baseline.method: r.spec.family.exact_name for r in exact}
    out = residual_shape(design.y - fitted, fitted, design.y, zero_shares, names)
    out["statistics"]["residuals_of"] = chosen.method
    return out


def zero_residual_share(residuals: np.ndarray, y: np.ndarray) -> float:
    """Share of residuals that are zero up to rounding of the response's magnitude."""
    tolerance = 64 * np.finfo(float).eps * max(float(np.max(np.abs(y))), np.finfo(float).tiny)
    return float(np.mean(np.abs(residuals) <= tolerance))


def residual_shape(residuals: np.ndarray, fitted: np.ndarray, y: np.ndarray,
                   zero_shares: dict[str, float] | None = None,
                   fit_names: dict[str, str] | None = None) -> dict:
    """Tails, skew, heteroscedasticity and spikes of residuals, as phrases with numbers.

    Parameters
    ----------
    residuals, fitted, y : ndarray of shape (n,)
        Residuals of an exact fit, its fitted values, and the response.
    zero_shares : dict, optional
        ``{exact-fit method (e.g. ols, lad): share of exactly-zero residuals}``,
        quoted in the spike phrase.
    fit_names : dict, optional
        Display name of each exact-fit method (its family's ``exact_name``: OLS, LAD);
        by default the method in capitals.

    Returns
    -------
    dict
        ``phrases`` (list of str, only the features whose test rejects at
        ``SHAPE_ALPHA``) and ``statistics`` (every number computed).
    """
    r = np.asarray(residuals, dtype=float)
    n = r.size
    phrases: list[str] = []
    statistics: dict = {"n": n}
    if n >= 20:  # Anscombe-Glynn needs n >= 20
        tails = kurtosis_test(r)
        statistics["tails"] = tails
        if tails["p_value"] < SHAPE_ALPHA:
            kind = "heavy tails" if tails["excess_kurtosis"] > 0 else "light tails"
            phrases.append(f"{kind} (excess kurtosis {tails['excess_kurtosis']:.2f}, se "
                           f"{tails['se']:.2f}; Normal 0, Laplace 3; {_p(tails['p_value'])})")
    if n >= 8:  # D'Agostino needs n >= 8
        skew = skewness_test(r)
        statistics["skew"] = skew
        if skew["p_value"] < SHAPE_ALPHA:
            side = "right" if skew["skewness"] > 0 else "left"
            phrases.append(f"{side} skew (skewness {skew['skewness']:.2f}, se {skew['se']:.2f}; "
                           f"{_p(skew['p_value'])})")
    if np.ptp(fitted) > 0 and n >= 3:
        het = breusch_pagan(r, fitted)
        statistics["heteroscedasticity"] = het
        if het["p_value"] < SHAPE_ALPHA:
            trend = "rises" if het["correlation"] > 0 else "falls"
            phrases.append(f"heteroscedasticity (the squared residual {trend} with the fitted "
                           f"value: Breusch-Pagan LM {het['lm']:.1f} on 1 df, "
                           f"{_p(het['p_value'])})")
    spike = response_spike(y)
    statistics["spike"] = spike
    if spike["spike"]:
        shown = fit_names or {}
        zeros = "".join(f"; {100 * share:.0f}% of the {shown.get(method, method.upper())} "
                        "residuals are exactly 0"
                        for method, share in (zero_shares or {}).items() if share >= SPIKE_FRACTION)
        phrases.append(f"a spike: {100 * spike['fraction']:.0f}% of the responses equal "
                       f"{spike['value']:.6g} (next most common value: "
                       f"{100 * spike['next_fraction']:.1f}%){zeros}; a continuous likelihood "
                       "gives any single value probability 0")
    statistics["zero_residual_shares"] = dict(zero_shares or {})
    return {"phrases": phrases, "statistics": statistics}


def _p(p_value: float) -> str:
    # below 1e-16 a double-precision tail probability is not meaningful to print
    return "p < 1e-16" if p_value < 1e-16 else f"p = {p_value:.1e}"


def _central_moments(r: np.ndarray) -> tuple[float, float, float]:
    d = r - r.mean()
    return float(np.mean(d**2)), float(np.mean(d**3)), float(np.mean(d**4))


def kurtosis_test(r: np.ndarray) -> dict:
    """Adjusted excess kurtosis G2, its se under normality, Anscombe-Glynn two-sided p-value."""
    n = r.size
    m2, _, m4 = _central_moments(r)
    if m2 == 0:
        return {"excess_kurtosis": 0.0, "se": float("nan"), "z": 0.0, "p_value": 1.0}
    b2 = m4 / m2**2
    g2 = ((n + 1) * (b2 - 3) + 6) * (n - 1) / ((n - 2) * (n - 3))
    se_skew = np.sqrt(6 * n * (n - 1) / ((n - 2) * (n + 1) * (n + 3)))
    se = 2 * se_skew * np.sqrt((n**2 - 1) / ((n - 3) * (n + 5)))
    mean = 3 * (n - 1) / (n + 1)
    var = 24 * n * (n - 2) * (n - 3) / ((n + 1) ** 2 * (n + 3) * (n + 5))
    x = (b2 - mean) / np.sqrt(var)
    root_beta1 = (6 * (n * n - 5 * n + 2) / ((n + 7) * (n + 9))
                  * np.sqrt(6 * (n + 3) * (n + 5) / (n * (n - 2) * (n - 3))))
    a = 6 + 8 / root_beta1 * (2 / root_beta1 + np.sqrt(1 + 4 / root_beta1**2))
    denominator = 1 + x * np.sqrt(2 / (a - 4))
    term = np.sign(denominator) * np.cbrt((1 - 2 / a) / abs(denominator)) if denominator else 0.0
    z = (1 - 2 / (9 * a) - term) / np.sqrt(2 / (9 * a))
    return {"excess_kurtosis": float(g2), "se": float(se), "z": float(z),
            "p_value": float(2 * stats.norm.sf(abs(z)))}


def skewness_test(r: np.ndarray) -> dict:
    """Adjusted skewness G1, its se under normality, D'Agostino two-sided p-value."""
    n = r.size
    m2, m3, _ = _central_moments(r)
    if m2 == 0:
        return {"skewness": 0.0, "se": float("nan"), "z": 0.0, "p_value": 1.0}
    b1 = m3 / m2**1.5
    g1 = b1 * np.sqrt(n * (n - 1)) / (n - 2)
    se = np.sqrt(6 * n * (n - 1) / ((n - 2) * (n + 1) * (n + 3)))
    y = b1 * np.sqrt((n + 1) * (n + 3) / (6 * (n - 2)))
    beta2 = 3 * (n * n + 27 * n - 70) * (n + 1) * (n + 3) / ((n - 2) * (n + 5) * (n + 7) * (n + 9))
    w2 = -1 + np.sqrt(2 * (beta2 - 1))
    delta = 1 / np.sqrt(0.5 * np.log(w2))
    alpha = np.sqrt(2 / (w2 - 1))
    z = delta * np.arcsinh(y / alpha)
    return {"skewness": float(g1), "se": float(se), "z": float(z),
            "p_value": float(2 * stats.norm.sf(abs(z)))}


def breusch_pagan(residuals: np.ndarray, fitted: np.ndarray) -> dict:
    """Koenker's studentized Breusch-Pagan test of r^2 on (1, fitted): LM = n R^2, 1 df."""
    u = residuals**2
    if np.ptp(u) == 0:
        return {"lm": 0.0, "p_value": 1.0, "correlation": 0.0}
    correlation = float(np.corrcoef(u, fitted)[0, 1])
    lm = residuals.size * correlation**2
    return {"lm": float(lm), "p_value": float(stats.chi2.sf(lm, 1)), "correlation": correlation}


def response_spike(y: np.ndarray) -> dict:
    """The most common response value, its share, and whether it is a spike (module docstring)."""
    values, counts = np.unique(np.asarray(y, dtype=float), return_counts=True)
    order = np.argsort(counts)[::-1]
    top = int(counts[order[0]])
    following = int(counts[order[1]]) if values.size > 1 else 0
    n = int(np.size(y))
    spike = (top >= SPIKE_MIN_ROWS and top / n >= SPIKE_FRACTION and top >= SPIKE_RATIO * following)
    return {"value": float(values[order[0]]), "fraction": top / n, "next_fraction": following / n,
            "spike": bool(spike)}
