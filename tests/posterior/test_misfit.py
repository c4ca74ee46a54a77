"""Misfit named: each detector against an independent computation, false-alarm rates on
well-specified simulated data, detection on misspecified data, and the pipeline."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.diagnostic import het_breuschpagan

import lossbridge
from lossbridge.core.errors import MisfitWarning
from lossbridge.data.design import Design
from lossbridge.data.rotation import Rotation
from lossbridge.estimation.exact import exact_fit
from lossbridge.models.spec import ModelSpec
from lossbridge.posterior import misfit
from lossbridge.posterior.loo import LooEstimator, LooResult, closed_form
from lossbridge.posterior.ppc import (
    PpcHistogram,
    PpcResult,
    StatisticCheck,
    ks_distance,
    loo_pit_reference,
)


# ---------------------------------------------------------------- residual statistics
@pytest.mark.parametrize("n", [20, 57, 300, 4000])
@pytest.mark.parametrize("seed", [0, 1])
def test_shape_statistics_match_scipy_and_statsmodels(n, seed):
    rng = np.random.default_rng(seed)
    r = rng.standard_t(4, size=n) + 0.3 * rng.exponential(size=n)
    fitted = rng.normal(size=n)
    tails, skew = misfit.kurtosis_test(r), misfit.skewness_test(r)
    # Same estimators and tests computed independently; only rounding separates them.
    assert tails["excess_kurtosis"] == pytest.approx(stats.kurtosis(r, bias=False), rel=1e-10)
    assert tails["z"] == pytest.approx(stats.kurtosistest(r).statistic, rel=1e-9, abs=1e-12)
    assert tails["p_value"] == pytest.approx(stats.kurtosistest(r).pvalue, rel=1e-8, abs=1e-300)
    assert skew["skewness"] == pytest.approx(stats.skew(r, bias=False), rel=1e-10)
    assert skew["z"] == pytest.approx(stats.skewtest(r).statistic, rel=1e-9, abs=1e-12)
    assert skew["p_value"] == pytest.approx(stats.skewtest(r).pvalue, rel=1e-8, abs=1e-300)
    lm, p_value, _, _ = het_breuschpagan(r, np.column_stack([np.ones(n), fitted]), robust=True)
    het = misfit.breusch_pagan(r, fitted)
    assert het["lm"] == pytest.approx(lm, rel=1e-9)
    assert het["p_value"] == pytest.approx(p_value, rel=1e-8)


def test_standard_errors_of_kurtosis_and_skewness_match_their_sampling_sd():
    # Under normality the se formulas are the exact sds of G1 and G2 (Cramer 1946);
    # 20,000 samples estimate an sd to 0.5 % (se of an sd = sd / sqrt(2N)), so 4 % is >5 se.
    rng = np.random.default_rng(11)
    n = 40
    samples = rng.normal(size=(20_000, n))
    g1 = stats.skew(samples, axis=1, bias=False)
    g2 = stats.kurtosis(samples, axis=1, bias=False)
    r = samples[0]
    assert np.std(g1) == pytest.approx(misfit.skewness_test(r)["se"], rel=0.04)
    assert np.std(g2) == pytest.approx(misfit.kurtosis_test(r)["se"], rel=0.04)


def test_spike_is_the_share_of_the_most_common_value():
    y = np.r_[np.zeros(68), np.arange(1, 33) * 0.37]
    spike = misfit.response_spike(y)
    assert spike == {"value": 0.0, "fraction": 0.68, "next_fraction": 0.01, "spike": True}
    values, counts = np.unique(np.round(np.random.default_rng(0).normal(size=300), 1),
                               return_counts=True)
    rounded = misfit.response_spike(np.repeat(values, counts))
    assert rounded["fraction"] == counts.max() / 300 and not rounded["spike"]


def test_well_specified_residuals_are_described_as_nothing():
    # Four tests at level 0.001 each: at most 0.4 % of data sets get any phrase
    # (Bonferroni); over 300 data sets P(more than 4) <= P(Bin(300, 0.004) > 4) = 0.008.
    described = 0
    for seed in range(300):
        rng = np.random.default_rng(seed)
        n = 30 if seed % 2 else 300
        x = rng.normal(size=n)
        y = 1 + 2 * x + rng.normal(size=n)
        X = np.column_stack([np.ones(n), x])
        beta = np.linalg.lstsq(X, y, rcond=None)[0]
        shape = misfit.residual_shape(y - X @ beta, X @ beta, y)
        described += bool(shape["phrases"])
    assert described <= 4


def test_misspecified_residuals_are_described_with_numbers():
    rng = np.random.default_rng(3)
    n = 300
    x = rng.uniform(1, 3, size=n)
    cases = {
        "heavy tails": rng.standard_t(2, size=n),
        "right skew": rng.exponential(size=n),
        "heteroscedasticity": rng.normal(size=n) * x**2,
    }
    for expected, noise in cases.items():
        y = 1 + x + noise
        X = np.column_stack([np.ones(n), x])
        fitted = X @ np.linalg.lstsq(X, y, rcond=None)[0]
        phrases = misfit.residual_shape(y - fitted, fitted, y)["phrases"]
        assert any(p.startswith(expected) for p in phrases), (expected, phrases)
    heavy = [p for p in misfit.residual_shape(cases["heavy tails"], x, cases["heavy tails"])["phrases"]
             if p.startswith("heavy")][0]
    assert f"excess kurtosis {stats.kurtosis(cases['heavy tails'], bias=False):.2f}" in heavy
    y = np.where(rng.uniform(size=n) < 0.68, 0.0, rng.exponential(3, size=n))
    phrase = misfit.residual_shape(y - y.mean(), np.full(n, y.mean()), y,
                                   {"lad": float(np.mean(y == 0))})["phrases"][-1]
    assert phrase.startswith(f"a spike: {100 * np.mean(y == 0):.0f}% of the responses equal 0")
    assert "of the LAD residuals are exactly 0" in phrase


# ---------------------------------------------------------------- model warnings
def _ppc(pit, p_values, replicated=4000):
    empty = np.array([])
    return PpcResult({k: StatisticCheck(0.0, v, empty) for k, v in p_values.items()}, replicated,
                     PpcHistogram(empty, empty, empty), np.asarray(pit, dtype=float),
                     LooEstimator.PSIS)


CALM = {"mean": 0.5, "sd": 0.4, "min": 0.2, "max": 0.9}


def test_loo_pit_warning_uses_the_reference_of_the_models_own_number_of_values():
    m = 2000
    limit = loo_pit_reference(m, 0.999)
    assert limit == pytest.approx(stats.kstwo.isf(0.001, m))
    grid = (np.arange(m) + 0.5) / m  # distance 0.5 / m from uniform
    squeezed = 0.5 + (grid - 0.5) * (1 - 2.02 * limit)  # distance just above the limit
    assert ks_distance(squeezed) > limit > ks_distance(grid)
    assert misfit.loo_pit_warnings("a", grid, ks_distance(grid)) == []
    [warning] = misfit.loo_pit_warnings("a", squeezed, ks_distance(squeezed))
    assert warning["code"] == "loo_pit_nonuniform"
    assert f"against {limit:.3f}" in warning["message"] and "2,000 independent" in warning["message"]
    assert "too wide" in warning["message"]


def test_ppc_tail_level_holds_for_any_number_of_replicates():
    """(k + 1)/(R + 1) <= 0.001 needs k <= (R + 1)/1000 - 1: at R = 400 not even k = 0
    qualifies (its raw p = 0 happens 1 time in 401 under the null); at R = 4000, k <= 3."""
    assert misfit.monte_carlo_tail(0.0, 400) == (1 / 401, 1.0)
    assert misfit.ppc_tail_warnings("m", {**CALM, "max": 0.0}, 400) == []
    assert misfit.ppc_tail_warnings("m", {**CALM, "max": 1.0}, 400) == []
    assert misfit.ppc_tail_warnings("m", {**CALM, "max": 3 / 4000}, 4000)
    assert misfit.ppc_tail_warnings("m", {**CALM, "max": 4 / 4000}, 4000) == []
    # exactly: the share of null replications in which it fires is at most the level
    rng = np.random.default_rng(3)
    R = 1999
    ranks = rng.integers(0, R + 1, size=200_000)  # k is uniform on 0..R under the null
    fired = [(k + 1) / (R + 1) <= misfit.PPC_TAIL for k in ranks]
    assert np.mean(fired) <= misfit.PPC_TAIL + 4 * np.sqrt(misfit.PPC_TAIL / ranks.size)


def test_ppc_tail_warning_names_the_statistics_beyond_the_thresholds():
    assert misfit.ppc_tail_warnings("a", {**CALM, "min": 0.0011, "max": 0.9989}, 4000) == []
    # the upper side at R = 4000: (R - k + 1)/(R + 1) <= 0.001 from k = 3997 on
    assert misfit.ppc_tail_warnings("a", {**CALM, "max": 3996 / 4000}, 4000) == []
    [warning] = misfit.ppc_tail_warnings("a", {**CALM, "mean": 0.0, "max": 3997 / 4000}, 4000)
    assert warning["code"] == "ppc_tail"
    assert "above almost every replicate for mean (p = 0)" in warning["message"]
    assert "below almost every replicate for max (p = 0.999)" in warning["message"]
    assert "4,000 replicated data sets" in warning["message"]


def test_p_loo_warning_above_twice_the_parameters():
    assert misfit.p_loo_warnings("a", 36.0, 18, 6366) == []
    [warning] = misfit.p_loo_warnings("a", 109.0, 18, 6366)
    assert warning["code"] == "p_loo_large"
    assert "p_loo = 109.0 for 18 parameter(s)" in warning["message"]
    assert f"{109 / 6366:.3f} per observation" in warning["message"]


def test_many_high_pareto_k_is_a_fraction_above_one_percent():
    k = np.zeros(1000)
    k[:10] = 0.8  # exactly 1 %: not more than 1 %
    assert misfit.pareto_k_many_warnings("a", k, exact=False) == []
    k[10] = 1.2
    [warning] = misfit.pareto_k_many_warnings("a", k, exact=False)
    assert warning["code"] == "pareto_k_many_high" and "11 of 1,000" in warning["message"]
    assert misfit.pareto_k_many_warnings("a", k, exact=True) == []  # exact LOO: no k
    small = np.array([0.9, 0.9, 0.1, 0.2])  # 50 %, but only 2 rows: the pareto_k case
    assert misfit.pareto_k_many_warnings("a", small, exact=False) == []


def test_assessment_names_the_misfit_models_and_warns():
    class Posterior:
        def __init__(self, ppc, p_loo):
            self.ppc = ppc
            self.loo = LooResult(LooEstimator.PSIS, p_loo, 4000, np.zeros(100),
                                 elpd_pointwise=np.full(100, -1.4))

    class Fit:
        def __init__(self, name, scale, posterior, baseline):
            self.spec = ModelSpec(name, scale, 1.0 if scale == "fixed" else None,
                                  "user" if scale == "fixed" else None)
            self.posterior, self.baseline = posterior, baseline

    rng = np.random.default_rng(0)
    n = 100
    x = rng.normal(size=n)
    X = np.column_stack([np.ones(n), x])
    y = 1 + x + rng.normal(size=n)
    design = Design(y, X, ("Intercept", "x"), "y", "y ~ x", "test")
    base = exact_fit("normal", design)
    good = Posterior(_ppc(rng.uniform(size=n), CALM), 3.1)
    bad = Posterior(_ppc(rng.uniform(size=n), {**CALM, "max": 0.0}), 3.1)
    fits = [Fit("normal", "learned", good, base), Fit("normal", "fixed", bad, base)]
    with pytest.warns(MisfitWarning, match="normal-fixed: posterior predictive"):
        assessment = misfit.assess_misfit(design, fits)
    assert assessment.misfit_models == {"normal-fixed"}
    assert not assessment.all_misfit(["normal-learned", "normal-fixed"])
    assert assessment.all_misfit(["normal-fixed"])
    assert assessment.residual_shape == ()
    assert assessment.as_dict()["residual_statistics"]["residuals_of"] == "ols"
    # p_loo counts the learned scale: 6.1 > 2 x 3 parameters, but not > 2 x 2 + ... for fixed
    fits[0].posterior.loo = replace(fits[0].posterior.loo, p_loo=6.1)
    with pytest.warns(MisfitWarning):
        assert misfit.assess_misfit(design, fits).misfit_models == {"normal-learned", "normal-fixed"}


# ---------------------------------------------------------------- LOO-PIT reference
def _normal_loo_pit(rng, n: int, mode: str) -> np.ndarray:
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    y = X @ np.array([1.0, 2.0, -1.0]) + rng.normal(size=n)
    design = Design(y, X, ("Intercept", "a", "b"), "y", "y ~ a + b", "sim")
    sigma = float(np.sqrt(np.mean((y - X @ np.linalg.lstsq(X, y, rcond=None)[0]) ** 2)))
    spec = (ModelSpec("normal", "learned") if mode == "learned"
            else ModelSpec("normal", "fixed", sigma, "plug-in"))
    return closed_form(spec, design, Rotation.from_design(X, y)).pit


def test_reference_is_exact_for_subsampled_and_conservative_for_full_loo_pit():
    # The exact LOO-PIT of well-specified Normal models, simulated. A subsample of m rows
    # of many has nearly independent values: the reference's 5 % rate holds (400 data
    # sets: se 0.011, +-0.045 is 4 se). On every row the parameters were fitted to the
    # same rows (the Lilliefors effect), so the distances are smaller: the reference is
    # conservative (its 95 % point is about 2/3 of the reference) and a warning never
    # fires more often than its level.
    rng = np.random.default_rng(5)
    rows = 100
    subsampled = [ks_distance(rng.choice(_normal_loo_pit(rng, 1500, "learned"), rows, replace=False))
                  for _ in range(400)]
    assert abs(np.mean(np.array(subsampled) > loo_pit_reference(rows)) - 0.05) < 0.045
    for mode in ("learned", "fixed"):
        full = np.array([ks_distance(_normal_loo_pit(rng, 60, mode)) for _ in range(400)])
        assert np.mean(full > loo_pit_reference(60)) <= 0.05
        assert np.quantile(full, 0.95) == pytest.approx(0.66 * loo_pit_reference(60), rel=0.15)
        assert not np.any(full > loo_pit_reference(60, 1 - misfit.LOO_PIT_ALPHA))


# ---------------------------------------------------------------- the pipeline
def _simulated(noise: str, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, size=n)
    e = rng.normal(size=n) if noise == "normal" else rng.standard_t(2, size=n)
    return pd.DataFrame({"x": x, "y": 1.0 + 0.5 * x + e})


@pytest.mark.slow
def test_no_misfit_warnings_on_gaussian_data_with_normal_models():
    # 20 data sets x 2 models x 4 checks. Bonferroni bound on the false-alarm rate per
    # model: LOO-PIT 0.001 + p-values 0.012 + p_loo and Pareto k (~0: exact LOO has no
    # k, p_loo > 2p needs a 2x excess); the expected number of alarms is below
    # 40 x 0.013 = 0.5, and the observed rate on the 20 seeds is zero. With 500 x 2
    # replicated data sets the p-value check can fire ((k + 1)/1001 <= 0.001 at k = 0).
    alarms = []
    for seed in range(20):
        with warnings.catch_warnings():
            warnings.simplefilter("error", MisfitWarning)
            analysis = lossbridge.fit(_simulated("normal", 40, seed), "y ~ x", likelihoods="normal",
                                      draws=500, tune=200, chains=2, seed=seed, progress=False)
        alarms += [w for w in analysis.warnings if w["code"] in misfit.MISFIT_CODES]
        assert analysis.misfit.misfit_models == frozenset()
    assert alarms == []


@pytest.mark.slow
def test_t2_noise_is_named_misfit_for_the_normal_models():
    with pytest.warns(MisfitWarning):  # 1,000 replicated data sets: the tail check can fire
        analysis = lossbridge.fit(_simulated("t2", 300, 1), "y ~ x", draws=500, tune=200,
                                  chains=2, seed=1, progress=False)
    named = {(w["model"], w["code"]) for w in analysis.warnings if w["code"] in misfit.MISFIT_CODES}
    assert {"normal-learned", "normal-fixed"} <= analysis.misfit.misfit_models
    # t(2) minima and maxima lie beyond what a Normal replicates, whatever its sigma
    assert {("normal-learned", "ppc_tail"), ("normal-fixed", "ppc_tail")} <= named
    for model in ("normal-learned", "normal-fixed"):  # beyond the 95 % point, at least
        ppc = analysis.fit_for(model).posterior.ppc_dict()
        assert ppc["loo_pit_ks_distance"] > ppc["loo_pit_ks_reference_95"]
    assert any(p.startswith("heavy tails") for p in analysis.misfit.residual_shape)
    assert analysis.misfit.as_dict()["misfit_models"] == sorted(analysis.misfit.misfit_models)


def test_no_residual_shape_tests_on_a_discrete_y():
    """Skew and tails of y - X beta test nothing about a count model: skipped, and said."""
    import statsmodels.api as sm

    from lossbridge.posterior.misfit import DISCRETE_Y_NOTE, exact_fit_residual_shape

    data = sm.datasets.cpunish.load_pandas().data
    formula = "EXECUTIONS ~ INCOME + PERPOVERTY + PERBLACK + SOUTH"
    both = lossbridge.fit(data, formula, likelihoods=["poisson", "normal"], sample=False,
                          progress=False)
    shape = exact_fit_residual_shape(both.design, both.fits)
    assert shape == {"phrases": [], "statistics": {"skipped": DISCRETE_Y_NOTE}}
    normal = lossbridge.fit(data, formula, likelihoods="normal", sample=False, progress=False)
    # the same y under the Normal alone: the tests run (skewness; n = 17 < 20, no tails test)
    described = exact_fit_residual_shape(normal.design, normal.fits)
    assert "skew" in described["statistics"] and "skipped" not in described["statistics"]


def test_discrete_models_skip_loo_pit_and_the_tied_side_of_the_p_values():
    """A binary y's min and max equal every replicate's: p = 1 by ties, not a misfit; its
    LOO-PIT is not uniform even under the true model (Czado, Gneiting and Held 2009)."""
    p_values = {"min": 1.0, "max": 1.0, "sd": 0.5}
    assert misfit.ppc_tail_warnings("m", p_values, 4000)  # a continuous model: flagged
    assert misfit.ppc_tail_warnings("m", p_values, 4000, discrete=True) == []
    low = misfit.ppc_tail_warnings("m", {**p_values, "sd": 0.0}, 4000, discrete=True)
    assert len(low) == 1 and "sd (p = 0)" in low[0]["message"] and "min" not in low[0]["message"]


def test_discrete_models_have_no_loo_pit_warning():
    from types import SimpleNamespace

    pit = np.zeros(50)  # as far from uniform as LOO-PIT values can be
    ppc = SimpleNamespace(loo_pit=pit, loo_pit_ks_distance=1.0, p_values={}, replicated_draws=400)
    loo = LooResult(LooEstimator.EXACT, 2.0, 400, np.zeros(50), elpd_pointwise=np.zeros(50))
    codes = [w["code"] for w in misfit.model_misfit_warnings("m", ppc, loo, 3, 50)]
    assert codes == ["loo_pit_nonuniform"]
    assert misfit.model_misfit_warnings("m", ppc, loo, 3, 50, discrete=True) == []
