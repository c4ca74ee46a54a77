"""Exact quantile regression (the LAD LP generalised by tau) against scikit-learn's
QuantileRegressor (HiGHS), statsmodels' QuantReg and an independent primal LP; its dual
certificate; the MAP of the quantile family; quantile crossing."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.optimize import linprog
from sklearn.linear_model import QuantileRegressor

import lossbridge
from lossbridge.core.errors import InputError, QuantileCrossingWarning
from lossbridge.core.rounding import loss_error_bound
from lossbridge.data.tables import load_table
from lossbridge.estimation.lad import (
    dual_certificate,
    exact_lad_vertex,
    exact_quantile_vertex,
    polish_to_vertex,
)
from lossbridge.estimation.quantile_crossing import crossing_notes
from lossbridge.models.spec import ModelSpec

TAUS = (0.1, 0.25, 0.5, 0.9)


def pinball(X, y, beta, tau):
    r = y - X @ beta
    return float(np.sum(np.where(r < 0, (tau - 1) * r, tau * r)))


def engel():
    frame = load_table("engel").frame
    x = frame["income"].to_numpy(float)
    return np.column_stack([np.ones_like(x), x]), frame["foodexp"].to_numpy(float)


def simulated(seed=0, n=300):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, 2)) * [1.0, 10.0]
    y = 1.0 + Z @ [2.0, -0.3] + rng.standard_t(3, size=n) * (1 + 0.5 * np.abs(Z[:, 0]))
    return np.column_stack([np.ones(n), Z]), y


def primal_lp(X, y, tau):
    """min tau 1'u + (1 - tau) 1'v s.t. X beta + u - v = y (written here, not lossbridge's)."""
    n, k = X.shape
    cost = np.concatenate([np.zeros(k), np.full(n, tau), np.full(n, 1 - tau)])
    a_eq = np.hstack([X, np.eye(n), -np.eye(n)])
    res = linprog(cost, A_eq=a_eq, b_eq=y, bounds=[(None, None)] * k + [(0, None)] * (2 * n),
                  method="highs", options={"primal_feasibility_tolerance": 1e-10})
    assert res.status == 0
    return res.x[:k]


def rounding(X, y, *betas):
    return sum(loss_error_bound(X, y, b, "SAD") for b in betas)


@pytest.mark.parametrize("data", ["engel", "simulated"])
@pytest.mark.parametrize("tau", TAUS)
def test_matches_sklearn_statsmodels_and_a_primal_lp(data, tau):
    X, y = engel() if data == "engel" else simulated()
    vertex = exact_quantile_vertex(X, y, tau)
    cert = vertex.certificate
    assert cert.holds and cert.unique is True
    beta = vertex.coefficients
    # scikit-learn: HiGHS on its own primal LP; a unique optimum is the same vertex, up to
    # HiGHS' feasibility tolerance (1e-7 absolute on the data's scale) relative to beta.
    sk = QuantileRegressor(quantile=tau, alpha=0.0, solver="highs").fit(X[:, 1:], y)
    b_sk = np.r_[sk.intercept_, sk.coef_]
    np.testing.assert_allclose(beta, b_sk, rtol=1e-8, atol=1e-8 * np.abs(beta).max())
    # No solver may beat the certified optimum beyond the two losses' rounding.
    for other in (b_sk, primal_lp(X, y, tau)):
        assert pinball(X, y, beta, tau) <= pinball(X, y, other, tau) + rounding(X, y, beta, other)
    np.testing.assert_allclose(beta, primal_lp(X, y, tau), rtol=1e-8,
                               atol=1e-8 * np.abs(beta).max())
    # statsmodels' QuantReg is IRLS: approximate (it stops at p_tol on the coefficients);
    # its pinball loss is never below the optimum, and it is within 1e-5 of the vertex.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b_sm = sm.QuantReg(y, X).fit(q=tau, max_iter=10_000, p_tol=1e-12).params
    assert pinball(X, y, beta, tau) <= pinball(X, y, b_sm, tau) + rounding(X, y, beta, b_sm)
    np.testing.assert_allclose(beta, b_sm, rtol=1e-5)


@pytest.mark.parametrize("tau", TAUS)
def test_dual_certificate(tau):
    X, y = simulated(1)
    vertex = exact_quantile_vertex(X, y, tau)
    d, cert = vertex.dual, vertex.certificate
    # d in [tau - 1, tau], X'd = 0, d_i = tau (r > 0), tau - 1 (r < 0), and y'd = pinball.
    assert d.min() >= tau - 1 - 1e-9 and d.max() <= tau + 1e-9
    assert np.max(np.abs(X.T @ d) / np.linalg.norm(X, axis=0)) <= 1e-9
    r = y - X @ vertex.coefficients
    # Off the basis (k rows of zero residual, up to the rounding of y - X beta) the dual
    # is fixed by the residual's sign (complementary slackness).
    off = np.setdiff1d(np.arange(len(y)), vertex.basis)
    assert vertex.basis.size == X.shape[1]
    assert np.all(np.abs(r[vertex.basis]) <= 1e-12 * np.abs(y).max())
    np.testing.assert_array_equal(d[off][r[off] > 0], tau)
    np.testing.assert_array_equal(d[off][r[off] < 0], tau - 1)
    assert y @ d == pytest.approx(pinball(X, y, vertex.coefficients, tau),
                                  abs=cert.gap_tolerance * cert.sad)
    assert cert.sad == pytest.approx(pinball(X, y, vertex.coefficients, tau), rel=1e-14)
    assert cert.as_dict()["dual_bounds"] == [tau - 1, tau]
    # A non-optimal point (the OLS fit) with its sign dual fails the certificate.
    ols = np.linalg.lstsq(X, y, rcond=None)[0]
    r_ols = y - X @ ols
    bad = dual_certificate(X, y, ols, np.where(r_ols > 0, tau, tau - 1.0), None, tau=tau)
    assert not bad.holds
    # The LAD (tau = None) dual at tau = 1/2 is twice the quantile dual.
    if tau == 0.5:
        lad = exact_lad_vertex(X, y)
        np.testing.assert_allclose(lad.coefficients, vertex.coefficients, rtol=1e-12)
        np.testing.assert_allclose(lad.dual, 2 * vertex.dual, atol=1e-12)


@pytest.mark.parametrize("tau", [0.1, 0.9])
def test_vertex_from_an_approximate_start(tau):
    X, y = simulated(2, n=500)
    exact = exact_quantile_vertex(X, y, tau)
    ols = np.linalg.lstsq(X, y, rcond=None)[0]
    polished = polish_to_vertex(X, y, ols, tau=tau)
    assert polished.certificate.holds and polished.pivots > 0
    np.testing.assert_allclose(polished.coefficients, exact.coefficients, rtol=1e-10)
    started = exact_quantile_vertex(X, y, tau, beta_start=exact.coefficients * (1 + 1e-6))
    assert started.certificate.holds and "simplex pivot" in started.solver
    np.testing.assert_allclose(started.coefficients, exact.coefficients, rtol=1e-10)


def test_tied_data_matches_the_primal_lp():
    rng = np.random.default_rng(5)
    g = rng.integers(0, 4, size=400)
    X = np.column_stack([np.ones(400), g == 1, g == 2, g == 3]).astype(float)
    y = np.round(rng.normal(size=400) + g, 0)  # heavy ties, and duplicate rows
    for tau in (0.25, 0.75):
        vertex = exact_quantile_vertex(X, y, tau)
        assert vertex.certificate.holds
        other = primal_lp(X, y, tau)
        assert abs(pinball(X, y, vertex.coefficients, tau) - pinball(X, y, other, tau)) <= (
            rounding(X, y, vertex.coefficients, other) + 1e-7 * np.abs(y).sum())


def test_bad_tau_is_refused():
    X, y = simulated()
    for tau in (0.0, 1.0, 1.5):
        with pytest.raises(InputError, match="tau"):
            exact_quantile_vertex(X, y, tau)


def test_map_is_the_exact_quantile_regression_on_engel():
    with warnings.catch_warnings():
        warnings.simplefilter("error", QuantileCrossingWarning)
        analysis = lossbridge.fit("engel", likelihoods="quantile", tau=[0.1, 0.5, 0.9],
                                  sample=False, progress=False)
    assert len(analysis.fits) == 6 and analysis.all_certified
    X, y = engel()
    for fit in analysis.fits:
        tau = fit.spec.family.shape_value("tau")
        sk = QuantileRegressor(quantile=tau, alpha=0.0, solver="highs").fit(X[:, 1:], y)
        np.testing.assert_allclose(fit.map.coefficients, np.r_[sk.intercept_, sk.coef_],
                                   rtol=1e-8)
        loss = pinball(X, y, fit.map.coefficients, tau)
        assert fit.certificate.checks["lp_dual"] and fit.certificate.coefficients_compared
        if fit.spec.scale == "learned":
            assert fit.map.scale == pytest.approx(loss / len(y), rel=1e-10)  # mean pinball
        else:
            assert fit.spec.fixed_scale == pytest.approx(loss / len(y), rel=1e-10)
    data = analysis.to_dict()["fits"][0]
    assert data["family"] == {"name": "quantile", "tau": 0.1}
    assert not [n for n in analysis.warnings if n["code"] == "quantile_crossing"]


def small_frame(seed=24, n=25):
    """Few rows and heavy-tailed noise: regression quantiles fitted one tau at a time cross
    (seed 24: the tau = 0.2 and 0.3 lines cross at 5 of the 25 rows)."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.uniform(0, 10, n), 2)
    y = np.round(1 + 0.5 * x + rng.standard_t(2, size=n), 2)
    return pd.DataFrame({"x": x, "y": y})


def test_crossing_warning_on_data_made_to_cross():
    frame = small_frame()
    with pytest.warns(QuantileCrossingWarning, match="cross"):
        analysis = lossbridge.fit(frame, "y ~ x", likelihoods="quantile", tau=[0.2, 0.3],
                                  sample=False, progress=False)
    notes = [n for n in analysis.warnings if n["code"] == "quantile_crossing"]
    assert len(notes) == 1 and (notes[0]["tau_low"], notes[0]["tau_high"]) == (0.2, 0.3)
    # Independently, from scikit-learn's fits: the 0.2 line is above the 0.3 line at 5 rows.
    lines = [QuantileRegressor(quantile=t, alpha=0.0, solver="highs").fit(frame[["x"]], frame.y)
             for t in (0.2, 0.3)]
    low, high = (m.predict(frame[["x"]]) for m in lines)
    assert notes[0]["rows"] == int(np.sum(low - high > 1e-9)) == 5
    assert notes[0]["max_excess"] == pytest.approx(np.max(low - high), rel=1e-8)


def test_no_crossing_warning_when_lines_do_not_cross():
    X = np.column_stack([np.ones(5), np.arange(5.0)])
    specs = [ModelSpec("quantile", "learned", shape=(("tau", t),)) for t in (0.1, 0.5, 0.9)]
    parallel = [np.array([c, 1.0]) for c in (-1.0, 0.0, 1.0)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert crossing_notes(X, zip(specs, parallel, strict=True)) == []
    # The same lines with the 0.9 fit below the 0.5 one at x = 4 (but not at x = 0).
    crossing = [parallel[0], parallel[1], np.array([0.5, 0.8])]
    with pytest.warns(QuantileCrossingWarning):
        notes = crossing_notes(X, zip(specs, crossing, strict=True))
    assert [(n["tau_low"], n["tau_high"], n["rows"]) for n in notes] == [(0.5, 0.9, 2)]


def test_a_flat_face_is_reported_not_unique():
    # Two groups of two points {0, 1}: every value in [0, 1] is a median of each group.
    X = np.column_stack([np.ones(4), [0.0, 0.0, 1.0, 1.0]])
    y = np.array([0.0, 1.0, 0.0, 1.0])
    vertex = exact_quantile_vertex(X, y, 0.5)
    assert vertex.certificate.holds and vertex.certificate.unique is False
    assert "pinball loss flat" in vertex.certificate.uniqueness
    # At tau = 0.25 the quantile of {0, 1} is 0 exactly: unique.
    assert exact_quantile_vertex(X, y, 0.25).certificate.unique is True
    np.testing.assert_allclose(exact_quantile_vertex(X, y, 0.25).coefficients, [0.0, 0.0],
                               atol=1e-15)
