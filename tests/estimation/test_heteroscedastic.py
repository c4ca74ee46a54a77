"""The heteroscedastic MAP (log sigma_i = Z_i gamma) against independent references.

References are test-side: Newton on the closed-form Normal NLL with its analytic
gradient and Hessian, and for the Laplace an outer Nelder-Mead over gamma around
statsmodels' QuantReg (q = 1/2) on the rows divided by b_i (the weighted LAD).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.optimize import minimize

from lossbridge.core.errors import InputError
from lossbridge.data.design import build_design
from lossbridge.data.rotation import Rotation
from lossbridge.data.tables import load_table
from lossbridge.estimation.certificate import certify
from lossbridge.estimation.heteroscedastic import nll
from lossbridge.estimation.map import find_map
from lossbridge.estimation.nll import decompose_nll
from lossbridge.models.reference import build_model
from lossbridge.models.spec import ModelSpec


def _data(n, seed, noise="normal", hetero=True):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, n)
    sigma = np.exp(0.2 + 0.5 * x) if hetero else np.full(n, np.exp(0.2))
    e = rng.standard_normal(n) if noise == "normal" else rng.laplace(size=n)
    return pd.DataFrame({"x": x, "y": 1.0 + 2.0 * x + sigma * e})


def _fit(frame, likelihood, formula="~ x"):
    design = build_design(load_table(frame), "y ~ x", scale_formula=formula)
    rotation = Rotation.from_design(design.X, design.y)
    spec = ModelSpec(likelihood, "modelled", scale_formula=formula)
    estimate = find_map(build_model(spec, design, rotation), spec, design, rotation)
    return design, spec, estimate


def _normal_newton(X, Z, y, beta, gamma):
    """Test-side Newton on NLL = sum(Z gamma) + sum(r^2 exp(-2 Z gamma))/2 + const."""
    k = X.shape[1]

    def parts(x):
        b, g = x[:k], x[k:]
        r = y - X @ b
        w = np.exp(-2 * Z @ g)
        value = np.sum(Z @ g) + 0.5 * np.sum(w * r**2)
        grad = np.concatenate([-X.T @ (w * r), Z.T @ (1 - w * r**2)])
        hess = np.block([[X.T @ (w[:, None] * X), 2 * X.T @ ((w * r)[:, None] * Z)],
                         [2 * Z.T @ ((w * r)[:, None] * X), 2 * Z.T @ ((w * r**2)[:, None] * Z)]])
        return value, grad, hess

    x = np.concatenate([beta, gamma])
    for _ in range(200):
        value, grad, hess = parts(x)
        step = np.linalg.solve(hess, grad)
        while parts(x - step)[0] > value + 1e-12 * abs(value):  # damped
            step = step / 2
            if np.abs(step).max() < 1e-300:
                break
        x = x - step
        if np.abs(step).max() < 1e-13 * (1 + np.abs(x).max()):
            break
    value, grad, hess = parts(x)
    return x[:k], x[k:], grad, hess


def test_normal_mle_equals_closed_form_newton():
    frame = _data(400, 1)
    design, spec, estimate = _fit(frame, "normal")
    ols = np.linalg.lstsq(design.X, design.y, rcond=None)[0]
    start = np.log(np.std(design.y - design.X @ ols))
    beta, gamma, grad, hess = _normal_newton(design.X, design.Z, design.y, ols, [start, 0.0])
    assert np.all(np.linalg.eigvalsh(hess) > 0)
    # Both are Newton to an exact gradient's zero, so they agree to rounding times the
    # conditioning (measured 4e-16 here); 1e-10 leaves room for that, far inside the
    # certificate's 1e-6.
    np.testing.assert_allclose(estimate.coefficients, beta, rtol=1e-10)
    np.testing.assert_allclose(estimate.gamma, gamma, rtol=1e-10)
    certificate = certify(spec, design, estimate, None)
    assert certificate.certified, certificate.explanation
    assert certificate.starts_agreeing == certificate.starts


@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.IterationLimitWarning")
def test_laplace_mle_equals_weighted_quantreg_profile():
    frame = _data(300, 2, noise="laplace")
    design, spec, estimate = _fit(frame, "laplace")
    X, Z, y = design.X, design.Z, design.y

    def profile(gamma):
        b = np.exp(Z @ gamma)
        beta = sm.QuantReg(y / b, X / b[:, None]).fit(q=0.5, max_iter=5000, p_tol=1e-10).params
        return float(np.sum(np.log(2 * b)) + np.sum(np.abs(y - X @ beta) / b)), beta

    result = minimize(lambda g: profile(g)[0], estimate.gamma + [0.3, -0.2],
                      method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-12,
                                                     "maxiter": 4000})
    nll_ref, beta_ref = profile(result.x)
    nll_map = nll(spec.family, design, estimate.coefficients, estimate.gamma)
    # The MAP is never worse than the reference beyond its iteration error (~1e-10).
    assert nll_map <= nll_ref + 1e-9 * abs(nll_ref)
    # Nelder-Mead stops near 1e-7 in gamma; QuantReg's IRLS reaches the same vertex.
    np.testing.assert_allclose(estimate.gamma, result.x, atol=1e-5)
    np.testing.assert_allclose(estimate.coefficients, beta_ref, rtol=1e-5)
    certificate = certify(spec, design, estimate, None)
    assert certificate.certified, certificate.explanation
    assert certificate.checks["weighted_lp_dual"]


@pytest.mark.parametrize("likelihood, noise", [("normal", "normal"), ("laplace", "laplace")])
def test_parameter_recovery(likelihood, noise):
    """sigma = exp(0.2 + 0.5 x): gamma within 4 standard errors (inverse information)."""
    frame = _data(3000, 3, noise=noise)
    design, spec, estimate = _fit(frame, likelihood)
    information = spec.family.log_scale_information * design.Z.T @ design.Z
    se = np.sqrt(np.diag(np.linalg.inv(information)))
    # rng.laplace has b = 1, so b_i = sigma_i: the same truth in both parametrisations.
    truth = np.array([0.2, 0.5])
    assert np.all(np.abs(estimate.gamma - truth) < 4 * se), (estimate.gamma, se)
    assert np.all(np.abs(estimate.coefficients - [1.0, 2.0]) < 0.1)


def test_nll_split_matches_pymc():
    design, spec, estimate = _fit(_data(200, 4), "normal")
    split = decompose_nll(spec, design, estimate)
    assert split.matches_pymc
    # At the MLE, d NLL / d gamma_Intercept = 0 gives sum r_i^2 / sigma_i^2 = n: the loss
    # term is n/2 (to the Newton tolerance).
    assert split.loss_term == pytest.approx(design.n / 2, rel=1e-8)
    scale = np.exp(design.Z @ estimate.gamma)
    from scipy import stats

    reference = -stats.norm.logpdf(design.y, design.X @ estimate.coefficients, scale).sum()
    assert split.nll == pytest.approx(reference, rel=1e-12)


def test_engel_both_families_certified():
    design = build_design(load_table("engel"), "foodexp ~ income", scale_formula="~ income")
    rotation = Rotation.from_design(design.X, design.y)
    for likelihood in ("normal", "laplace"):
        spec = ModelSpec(likelihood, "modelled", scale_formula="~ income")
        estimate = find_map(build_model(spec, design, rotation), spec, design, rotation)
        certificate = certify(spec, design, estimate, None)
        assert certificate.certified, certificate.explanation
        assert estimate.gamma[1] > 0  # the scale grows with income


@pytest.mark.parametrize("formula, words", [
    ("~ nope", "'nope'"),
    ("y ~ x", "one-sided"),
    ("~ I(__import__('os'))", "__import__"),
    ("x", "one-sided"),
    ("~ 0", "at least one column"),
])
def test_bad_scale_formula_is_one_line_input_error(formula, words):
    with pytest.raises(InputError) as caught:
        build_design(load_table(_data(50, 5)), "y ~ x", scale_formula=formula)
    message = str(caught.value)
    assert words in message and "\n" not in message


def test_dropna_drops_the_same_rows_for_both_formulas():
    frame = _data(60, 6)
    frame["w"] = np.linspace(0, 1, 60)
    frame.loc[[3, 7], "w"] = np.nan
    design = build_design(load_table(frame), "y ~ x", dropna=True, scale_formula="~ w")
    assert design.dropped_rows == 2 and design.n == 58 and design.Z.shape == (58, 2)
    np.testing.assert_array_equal(design.y, frame["y"].drop([3, 7]).to_numpy())
    with pytest.raises(InputError, match="missing"):
        build_design(load_table(frame), "y ~ x", scale_formula="~ w")
