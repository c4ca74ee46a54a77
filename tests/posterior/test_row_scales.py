"""Per-row scales (RowScales) through the chunked pointwise code equal direct scipy sums."""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.special import logsumexp

from lossbridge.families.registry import get_family
from lossbridge.posterior import pointwise
from lossbridge.posterior.pointwise import RowScales, at_rows, log_likelihood, lppd_pointwise


def _setup(draws=50, n=37, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    Z = X.copy()
    y = X @ [1.0, 2.0] + np.exp(0.2 + 0.5 * X[:, 1]) * rng.standard_normal(n)
    beta = rng.normal([1.0, 2.0], 0.05, size=(draws, 2))
    gamma = rng.normal([0.2, 0.5], 0.05, size=(draws, 2))
    return X, Z, y, beta, gamma


def test_log_likelihood_and_chunked_lppd(monkeypatch):
    X, Z, y, beta, gamma = _setup()
    scales = RowScales(gamma, Z)
    expected = stats.norm.logpdf(y[None, :], beta @ X.T, np.exp(gamma @ Z.T))
    got = log_likelihood(get_family("normal"), X, y, beta, scales)
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    # Chunks of 3 rows (CHUNK_ELEMENTS / draws): the rows' scales must follow the rows.
    monkeypatch.setattr(pointwise, "CHUNK_ELEMENTS", 150)
    lppd = lppd_pointwise(get_family("normal"), X, y, beta, scales)
    np.testing.assert_allclose(lppd, logsumexp(expected, axis=0) - np.log(beta.shape[0]),
                               rtol=1e-13)
    rows = np.array([4, 9, 30])
    sub = log_likelihood(get_family("normal"), X[rows], y[rows], beta, at_rows(scales, rows))
    np.testing.assert_allclose(sub, expected[:, rows], rtol=1e-13)


def test_draw_selection_and_replicates():
    X, Z, y, beta, gamma = _setup(draws=400, n=5)
    scales = RowScales(gamma, Z)
    assert scales[np.arange(10)].gamma.shape == (10, 2)
    rng = np.random.default_rng(1)
    reps = pointwise.replicate(get_family("laplace"), X, beta, scales, rng)
    # Laplace draws: mean abs deviation from mu is b_i per row; 400 draws, sd b_i / 20.
    spread = np.mean(np.abs(reps - beta @ X.T), axis=0)
    b = np.exp(gamma @ Z.T).mean(axis=0)
    assert np.all(np.abs(spread - b) < 4 * b / np.sqrt(400))
