"""Leave-one-out estimators: closed form, PSIS, subsampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import lossbridge
from lossbridge.data.rotation import Rotation
from lossbridge.estimation.exact import exact_fit
from lossbridge.models.spec import ModelSpec
from lossbridge.posterior import arviz_bridge
from lossbridge.posterior.comparison import pairwise_difference
from lossbridge.posterior.loo import (
    FULL_LOO_MAX_N,
    LooEstimator,
    LooResult,
    LooSubsample,
    closed_form,
    difference_estimator,
    is_plug_in,
)
from lossbridge.posterior.pointwise import log_likelihood


def test_difference_estimator_is_exact_when_every_row_is_sampled():
    rng = np.random.default_rng(0)
    approx = rng.normal(size=500)
    exact = approx + rng.normal(scale=0.1, size=500)
    full = difference_estimator(approx, exact, np.arange(500))
    assert full["total"] == pytest.approx(exact.sum(), rel=1e-12)
    assert full["subsampling_se"] == 0.0  # the finite-population correction vanishes
    assert full["se"] == pytest.approx(np.sqrt(500 * np.var(exact)), rel=1e-10)


def test_difference_estimator_is_unbiased_with_the_stated_error():
    """Over many random subsamples the estimates centre on the truth with sd = reported se."""
    rng = np.random.default_rng(1)
    n, m = 20_000, 400
    approx = rng.normal(size=n)
    exact = approx + rng.standard_t(4, size=n) * 0.2
    estimates, ses = [], []
    for _ in range(400):
        rows = rng.choice(n, size=m, replace=False)
        result = difference_estimator(approx, exact[rows], rows)
        estimates.append(result["total"])
        ses.append(result["subsampling_se"])
    estimates = np.array(estimates)
    # mean within 4 standard errors of the mean of 400 replications
    assert abs(estimates.mean() - exact.sum()) < 4 * estimates.std() / np.sqrt(400)
    # the reported se matches the spread (the sd of 400 replications is itself ~4% uncertain)
    assert np.mean(ses) == pytest.approx(estimates.std(), rel=0.15)


@pytest.mark.slow
def test_subsampled_loo_within_its_error_of_full_psis_loo():
    rng = np.random.default_rng(2)
    n = FULL_LOO_MAX_N + 1000
    frame = pd.DataFrame({"x": rng.normal(size=n)})
    frame["y"] = 1 + 2 * frame["x"] + rng.laplace(size=n)
    analysis = lossbridge.fit(frame, "y ~ x", likelihoods="laplace", seed=3, draws=500, tune=500,
                              progress=False)
    full = {}
    for result in analysis.fits:
        loo = result.posterior.loo
        assert loo.estimator is LooEstimator.PSIS_SUBSAMPLE
        assert loo.method.startswith("PSIS-LOO with subsampling")
        draws = result.posterior.draws
        block = log_likelihood(result.spec.family, analysis.design.X, analysis.design.y,
                               draws.flat_beta, draws.flat_scale)
        psis = arviz_bridge.psis(block.reshape(*draws.beta.shape[:2], n), {"beta": draws.beta})
        full[result.spec.name] = psis["elpd_pointwise"]
        # The subsampling error is close to normal with the reported sd: 3 sd.
        assert abs(loo.elpd_loo - psis["elpd_pointwise"].sum()) < 3 * loo.subsample.subsampling_se
        assert loo.subsample.subsampling_se < 1.0  # and small: the approximation is good
    learned = analysis.fit_for("laplace-learned").posterior.loo
    fixed = analysis.fit_for("laplace-fixed").posterior.loo
    diff, se = pairwise_difference(learned, fixed)
    # Against the full-data PSIS difference only the subsampling error counts (se adds the
    # population spread of the pointwise differences, which is not an error of the estimate).
    rows = learned.subsample.rows
    subsampled = difference_estimator(
        learned.subsample.approximation - fixed.subsample.approximation,
        learned.subsample.elpd_rows - fixed.subsample.elpd_rows, rows)
    assert subsampled["total"] == pytest.approx(diff, rel=1e-12)
    exact_diff = (full["laplace-learned"] - full["laplace-fixed"]).sum()
    assert abs(diff - exact_diff) < 3 * subsampled["subsampling_se"]
    assert se >= subsampled["subsampling_se"]
    assert analysis.comparison.table["weight"].isna().all()  # stacking needs every row


def test_logsumexp_matches_scipy_including_infinities():
    from scipy.special import logsumexp as scipy_logsumexp

    from lossbridge.posterior.pointwise import logsumexp

    rng = np.random.default_rng(3)
    values = rng.normal(scale=300.0, size=(500, 7))  # exp would overflow without the shift
    values[:, 2] = -np.inf  # a row with zero likelihood everywhere
    values[:250, 4] = -np.inf
    values[5, 5] = np.inf
    ours, theirs = logsumexp(values, axis=0), scipy_logsumexp(values, axis=0)
    # Both are the shifted sum: agreement to a few ulps of the result's magnitude.
    finite = np.isfinite(theirs)
    assert np.allclose(ours[finite], theirs[finite], rtol=1e-14, atol=0)
    assert np.array_equal(ours[~finite], theirs[~finite])
    assert logsumexp(values[:, 0]) == pytest.approx(scipy_logsumexp(values[:, 0]), rel=1e-14)


def _small_design(n: int, seed: int, noise: str = "normal"):
    from lossbridge.data.design import build_design
    from lossbridge.data.tables import load_table

    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.uniform(-1, 3, size=n)
    e = rng.normal(size=n) if noise == "normal" else rng.standard_t(2, size=n)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "y": 1 + 2 * x1 - x2 + e})
    design = build_design(load_table(frame), "y ~ x1 + x2")
    return design, Rotation.from_design(design.X, design.y)


def _brute_force_plug_in_loo(design) -> tuple[np.ndarray, np.ndarray]:
    """n exact refits: OLS and sigma = sqrt(RSS/(n-1)) on the rows left, Normal predictive.

    With sigma fixed and a flat prior, beta | y_-i ~ N(b_-i, sigma^2 (X_-i'X_-i)^-1), so
    y_i | y_-i ~ N(x_i'b_-i, sigma^2 (1 + x_i'(X_-i'X_-i)^-1 x_i)).
    """
    n = design.n
    elpd, pit = np.empty(n), np.empty(n)
    for i in range(n):
        keep = np.arange(n) != i
        X, y = design.X[keep], design.y[keep]
        beta = np.linalg.solve(X.T @ X, X.T @ y)
        sigma = np.sqrt(np.sum((y - X @ beta) ** 2) / (n - 1))
        x = design.X[i]
        sd = sigma * np.sqrt(1 + x @ np.linalg.solve(X.T @ X, x))
        elpd[i] = stats.norm.logpdf(design.y[i], x @ beta, sd)
        pit[i] = stats.norm.cdf(design.y[i], x @ beta, sd)
    return elpd, pit


@pytest.mark.parametrize(("n", "noise"), [(8, "normal"), (30, "normal"), (25, "t")])
def test_plug_in_sigma_loo_equals_brute_force_refits(n, noise):
    """The plug-in sigma is re-estimated without each row: true LOO, checked by n refits."""
    design, rotation = _small_design(n, seed=n, noise=noise)
    sigma = exact_fit("normal", design).scale_mle
    spec = ModelSpec("normal", "fixed", sigma, "plug-in MLE of the exact OLS fit, sqrt(RSS/n)",
                     fixed_scale_is_plug_in=True)
    assert is_plug_in(spec.scale, spec.fixed_scale_source)
    closed = closed_form(spec, design, rotation)
    assert closed is not None
    elpd, pit = _brute_force_plug_in_loo(design)
    # Both are a few well-conditioned solves in double precision (cond(X) < 10 here):
    # agreement to 1e-9 relative leaves room for rounding of order n * eps * cond^2.
    np.testing.assert_allclose(closed.elpd_pointwise, elpd, rtol=1e-9)
    np.testing.assert_allclose(closed.pit, pit, rtol=1e-9, atol=1e-12)


def test_user_fixed_sigma_loo_keeps_the_given_sigma():
    """A user-fixed sigma is not re-estimated: N(x_i'b_-i, sigma^2 (1 + v_i)) with that sigma."""
    design, rotation = _small_design(20, seed=4)
    spec = ModelSpec("normal", "fixed", 1.7, "user value (--sigma)")
    assert not is_plug_in(spec.scale, spec.fixed_scale_source)
    closed = closed_form(spec, design, rotation).elpd_pointwise
    for i in (0, 7, 19):
        keep = np.arange(design.n) != i
        X, y = design.X[keep], design.y[keep]
        beta = np.linalg.lstsq(X, y, rcond=None)[0]
        x = design.X[i]
        expected = stats.norm.logpdf(design.y[i], x @ beta,
                                     1.7 * np.sqrt(1 + x @ np.linalg.solve(X.T @ X, x)))
        assert closed[i] == pytest.approx(expected, rel=1e-10)


def test_plug_in_loo_needs_a_residual_degree_of_freedom_without_each_row():
    design, _ = _small_design(5, seed=1)
    design = design.without_rows([0])  # n - k - 1 = 0: sigma_-i would be 0
    rotation = Rotation.from_design(design.X, design.y)
    spec = ModelSpec("normal", "fixed", 1.0, "plug-in MLE of the exact OLS fit, sqrt(RSS/n)",
                     fixed_scale_is_plug_in=True)
    assert closed_form(spec, design, rotation) is None
    assert closed_form(ModelSpec("normal", "fixed", 1.0, "user value"), design, rotation) is not None


def test_plug_in_sigma_no_longer_wins_by_using_the_data_twice():
    """The case of issue 9: Gaussian noise, where the plug-in scored 1.1 +- 0.1 elpd ahead.

    Scored with sigma from the same data the plug-in leads the learned sigma by about
    one elpd with a tiny se; by true LOO the difference is within its standard error.
    """
    design, rotation = _small_design(1000, seed=1)
    sigma = exact_fit("normal", design).scale_mle
    learned = closed_form(ModelSpec("normal", "learned"), design, rotation).elpd_pointwise
    twice = closed_form(ModelSpec("normal", "fixed", sigma, "user value"), design,
                        rotation).elpd_pointwise
    plug_in = closed_form(ModelSpec("normal", "fixed", sigma, "plug-in MLE",
                                    fixed_scale_is_plug_in=True), design, rotation).elpd_pointwise

    def lead(a, b):
        d = a - b
        return d.sum(), np.sqrt(d.size * np.var(d, ddof=1))

    diff, se = lead(twice, learned)
    assert diff / se > 5  # the double use of the data: a confident, spurious lead
    diff, se = lead(plug_in, learned)
    assert abs(diff) < 2 * se


def test_difference_of_an_exact_and_a_subsampled_loo():
    """Closed-form LOO (every row) against a subsampled one: the exact values are their own
    approximation, so the estimator sees exact differences on the subsample."""
    rng = np.random.default_rng(5)
    n, rows = 400, np.sort(rng.choice(400, size=50, replace=False))
    exact = rng.normal(-1.4, 0.3, size=n)
    approximation = rng.normal(-1.5, 0.3, size=n)
    elpd_rows = approximation[rows] + rng.normal(0, 0.05, size=rows.size)
    exact_loo = LooResult(LooEstimator.EXACT, 3.0, 400, np.zeros(n), elpd_pointwise=exact)
    subsampled = LooResult(LooEstimator.PSIS_SUBSAMPLE, 3.0, 400, np.zeros(rows.size),
                           subsample=LooSubsample(rows, elpd_rows, approximation))
    diff, se = pairwise_difference(exact_loo, subsampled)
    expected = difference_estimator(exact - approximation, exact[rows] - elpd_rows, rows)
    assert diff == pytest.approx(expected["total"], rel=1e-12)
    assert se == pytest.approx(np.hypot(expected["se"], expected["subsampling_se"]), rel=1e-12)
