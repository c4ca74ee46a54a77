"""Leave-one-out estimators: closed form, PSIS, subsampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lossbridge
from lossbridge import arviz_bridge
from lossbridge.comparison import pairwise_difference
from lossbridge.loo import FULL_LOO_MAX_N, difference_estimator
from lossbridge.pointwise import log_likelihood


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
        assert loo["method"].startswith("PSIS-LOO with subsampling")
        draws = result.posterior.draws
        block = log_likelihood(result.spec.family, analysis.design.X, analysis.design.y,
                               draws.flat_beta, draws.flat_scale)
        psis = arviz_bridge.psis(block.reshape(*draws.beta.shape[:2], n), {"beta": draws.beta})
        full[result.spec.name] = psis["elpd_pointwise"]
        # The subsampling error is close to normal with the reported sd: 3 sd.
        assert abs(loo["elpd_loo"] - psis["elpd_pointwise"].sum()) < 3 * loo["subsample"]["subsampling_se"]
        assert loo["subsample"]["subsampling_se"] < 1.0  # and small: the approximation is good
    learned = analysis.fit_for("laplace-learned").posterior.loo
    fixed = analysis.fit_for("laplace-fixed").posterior.loo
    diff, se = pairwise_difference(learned, fixed)
    # Against the full-data PSIS difference only the subsampling error counts (se adds the
    # population spread of the pointwise differences, which is not an error of the estimate).
    rows = learned["subsample"]["rows"]
    subsampled = difference_estimator(
        learned["subsample"]["approximation"] - fixed["subsample"]["approximation"],
        learned["subsample"]["elpd_rows"] - fixed["subsample"]["elpd_rows"], rows)
    assert subsampled["total"] == pytest.approx(diff, rel=1e-12)
    exact_diff = (full["laplace-learned"] - full["laplace-fixed"]).sum()
    assert abs(diff - exact_diff) < 3 * subsampled["subsampling_se"]
    assert se >= subsampled["subsampling_se"]
    assert analysis.comparison.table["weight"].isna().all()  # stacking needs every row


def test_logsumexp_matches_scipy_including_infinities():
    from scipy.special import logsumexp as scipy_logsumexp

    from lossbridge.pointwise import logsumexp

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
