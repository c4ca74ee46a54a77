"""Exact Huber fits against statsmodels, scipy and scikit-learn, and the Huber MAP against them."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import optimize

import lossbridge
from lossbridge.data.datasets import resolve_formula
from lossbridge.data.design import build_design
from lossbridge.data.rotation import Rotation
from lossbridge.data.tables import load_table
from lossbridge.estimation.certificate import certify
from lossbridge.estimation.exact import exact_fit, exact_fit_for
from lossbridge.estimation.huber import (
    concomitant_objective,
    concomitant_scale_fit,
    huber_joint_mle,
    huber_m_estimate,
    joint_nll,
)
from lossbridge.estimation.map import find_map
from lossbridge.estimation.nll import decompose_nll
from lossbridge.families.huber import HUBER, huber_psi
from lossbridge.models.reference import build_model
from lossbridge.models.spec import ModelSpec


def bundled(name):
    return build_design(load_table(name), resolve_formula(name, None))


@pytest.fixture(scope="module")
def engel():
    return bundled("engel")


def simulated(n=400, c=1.345, sigma=2.0, seed=11):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.uniform(-2, 2, size=n)])
    beta = np.array([1.0, 2.0, -0.5])
    y = HUBER.with_shape(c=c).replicate(X @ beta, sigma, rng)
    return X, y, beta


def relative(a, b):
    return float(np.max(np.abs(np.asarray(a) - b) / np.abs(b)))


@pytest.mark.parametrize("c", (0.5, 1.345, 3.0))
@pytest.mark.parametrize("sigma", (20.0, 81.14, 300.0))
def test_m_estimate_equals_statsmodels_rlm_at_a_fixed_scale(engel, c, sigma):
    """statsmodels' IRLS with the scale held at ``sigma`` (start_scale, update_scale=False),
    run to its coefficient tolerance 1e-13: the contract's 1e-8 relative."""
    ours = huber_m_estimate(engel.X, engel.y, c, sigma)
    rlm = sm.RLM(engel.y, engel.X, M=sm.robust.norms.HuberT(t=c)).fit(
        start_scale=sigma, update_scale=False, conv="coefs", tol=1e-13, maxiter=20_000)
    assert rlm.scale == sigma
    assert relative(rlm.params, ours.coefficients) <= 1e-8
    assert ours.kkt and ours.unique


def test_m_estimate_on_simulated_data_and_kkt_rejects_another_point():
    X, y, _ = simulated()
    for sigma in (0.5, 2.0, 8.0):
        ours = huber_m_estimate(X, y, 1.345, sigma)
        rlm = sm.RLM(y, X, M=sm.robust.norms.HuberT(t=1.345)).fit(
            start_scale=sigma, update_scale=False, conv="coefs", tol=1e-13, maxiter=20_000)
        assert relative(rlm.params, ours.coefficients) <= 1e-8 and ours.kkt
    # The certificate can fail: a point 1e-7 away (relative) has a gradient far beyond rounding.
    from lossbridge.estimation.huber import _certify_fixed

    moved = _certify_fixed(X, y, 1.345, 2.0, ours.coefficients * (1 + 1e-7), 0)
    assert not moved.kkt


def scipy_joint_mle(X, y, c, start):
    """An independent optimiser: BFGS on the NLL in (β, log σ), gradient written out here."""
    n = len(y)
    from lossbridge.families.huber import normalising_constant

    log_a = np.log(normalising_constant(c))

    def nll(x):
        beta, log_s = x[:-1], x[-1]
        s = np.exp(log_s)
        u = (y - X @ beta) / s
        a = np.abs(u)
        value = n * (log_a + log_s) + np.sum(np.where(a <= c, 0.5 * u * u, c * a - 0.5 * c * c))
        psi = np.clip(u, -c, c)
        return value, np.append(-(X.T @ psi) / s, n - u @ psi)

    result = optimize.minimize(nll, start, jac=True, method="BFGS", options={"gtol": 1e-9})
    return result.x[:-1], float(np.exp(result.x[-1])), nll(result.x)[1]


@pytest.mark.parametrize("data", ["engel", "simulated", "stackloss"])
def test_joint_mle_equals_an_independent_scipy_optimisation(data):
    """BFGS from three starts reaches our joint MLE; the tolerance is BFGS's own accuracy,
    the Newton distance |H⁻¹ g| of its end point, computed from its gradient (x2, plus
    rounding), so a wrong MLE cannot pass."""
    if data == "simulated":
        X, y, _ = simulated()
    else:
        design = bundled(data)
        X, y = design.X, design.y
    c = 1.345
    ours = huber_joint_mle(X, y, c)
    assert ours.kkt and ours.unique and ours.starts_spread <= 1e-8
    ols = np.linalg.lstsq(X, y, rcond=None)[0]
    rms = np.sqrt(np.mean((y - X @ ols) ** 2))
    x_ours = np.append(ours.coefficients, np.log(ours.scale))
    for start in (np.append(ols, np.log(rms)), np.append(np.zeros(X.shape[1]), np.log(np.std(y))),
                  np.append(ols, np.log(0.1 * rms))):
        beta, sigma, grad = scipy_joint_mle(X, y, c, start)
        # the NLL's Hessian in (β, log σ) at our MLE, by central differences of the gradient
        h = np.empty((x_ours.size, x_ours.size))
        for i in range(x_ours.size):
            e = np.zeros(x_ours.size)
            e[i] = 1e-6 * max(1.0, abs(x_ours[i]))
            h[i] = (scipy_joint_mle_grad(X, y, c, x_ours + e) - scipy_joint_mle_grad(X, y, c, x_ours - e)) / (2 * e[i])
        newton = np.abs(np.linalg.solve(0.5 * (h + h.T), grad))
        found = np.append(beta, np.log(sigma))
        assert np.all(np.abs(found - x_ours) <= 2 * newton + 1e-12 * np.abs(x_ours) + 1e-12)
        assert joint_nll(X, y, c, ours.coefficients, ours.scale) <= joint_nll(X, y, c, beta, sigma) + 1e-10


def scipy_joint_mle_grad(X, y, c, x):
    n = len(y)
    s = np.exp(x[-1])
    u = (y - X @ x[:-1]) / s
    psi = np.clip(u, -c, c)
    return np.append(-(X.T @ psi) / s, n - u @ psi)


def test_parameter_recovery_on_simulated_huber_data():
    """Data drawn from the Huber density (our sampler): the joint MLE lies within 4 standard
    errors of the truth, the standard errors from the inverse observed information."""
    c, sigma = 1.345, 2.0
    X, y, beta = simulated(n=3000, c=c, sigma=sigma, seed=5)
    fit = huber_joint_mle(X, y, c)
    x = np.append(fit.coefficients, np.log(fit.scale))
    h = np.empty((x.size, x.size))
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = 1e-6 * max(1.0, abs(x[i]))
        h[i] = (scipy_joint_mle_grad(X, y, c, x + e) - scipy_joint_mle_grad(X, y, c, x - e)) / (2 * e[i])
    se = np.sqrt(np.diag(np.linalg.inv(0.5 * (h + h.T))))
    z = (x - np.append(beta, np.log(sigma))) / se
    assert np.all(np.abs(z) < 4), z
    assert np.all(se[:-1] < 0.1)  # informative: a wrong fit would not hide behind wide errors


@pytest.mark.parametrize("data", ["engel", "simulated"])
def test_concomitant_fit_is_scikit_learns_huber_regressor(data):
    """scikit-learn's HuberRegressor(alpha=0, epsilon=c): L-BFGS-B stops at its own ftol
    (2.2e-9 relative decrease), so it ends a little above the minimum. Ours is lower, the
    gap f(sklearn) - f(ours) is what its distance from ours implies for a convex quadratic
    near the minimum (½ Δ'HΔ, within a factor 2), and the two agree to 1e-4 relative."""
    from sklearn.linear_model import HuberRegressor

    if data == "simulated":
        X, y, _ = simulated()
    else:
        design = bundled("engel")
        X, y = design.X, design.y
    c = 1.345
    ours = concomitant_scale_fit(X, y, c)
    assert ours.kkt
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        skl = HuberRegressor(alpha=0.0, epsilon=c, fit_intercept=False, tol=1e-15,
                             max_iter=100_000).fit(X, y)
    f_ours = concomitant_objective(X, y, c, ours.coefficients, ours.scale)
    f_skl = concomitant_objective(X, y, c, skl.coef_, skl.scale_)
    gap = f_skl - f_ours
    assert gap >= -1e-12 * abs(f_ours)
    delta = np.append(skl.coef_ - ours.coefficients, skl.scale_ - ours.scale)
    u = (y - X @ ours.coefficients) / ours.scale
    w = (np.abs(u) <= c).astype(float)
    top = np.hstack([(X.T * w) @ X, ((X.T * w) @ u)[:, None]])
    hess = 2.0 / ours.scale * np.vstack([top, np.append(top[:, -1], u @ (w * u))])
    quadratic = 0.5 * delta @ hess @ delta
    assert 0.5 * quadratic <= gap + 1e-12 * abs(f_ours) and gap <= 2 * quadratic + 1e-12 * abs(f_ours)
    assert relative(skl.coef_, ours.coefficients) <= 1e-4
    assert abs(skl.scale_ - ours.scale) / ours.scale <= 1e-4


def test_concomitant_scale_is_not_the_mle():
    """The two scale equations differ: Σ min(u², c²) = n (concomitant) and Σ u ψ(u) = n (MLE)."""
    design = bundled("engel")
    X, y, c = design.X, design.y, 1.345
    mle, other = huber_joint_mle(X, y, c), concomitant_scale_fit(X, y, c)
    u = (y - X @ mle.coefficients) / mle.scale
    assert np.sum(u * huber_psi(u, c)) == pytest.approx(len(y), rel=1e-10)
    v = (y - X @ other.coefficients) / other.scale
    assert np.sum(np.minimum(v * v, c * c)) == pytest.approx(len(y), rel=1e-10)
    assert abs(other.scale - mle.scale) / mle.scale > 0.1  # 54.8 against 81.1 on Engel
    assert joint_nll(X, y, c, mle.coefficients, mle.scale) < joint_nll(
        X, y, c, other.coefficients, other.scale)


@pytest.mark.parametrize("mode", ["learned", "fixed"])
def test_map_is_certified_against_the_exact_fit(engel, mode):
    """The Huber MAP (Newton on PyMC's density) equals the exact fit to 1e-8 relative; at a
    fixed scale the certificate re-solves the M-estimate at that scale (exact_fit_for)."""
    spec = (ModelSpec("huber", "learned") if mode == "learned"
            else ModelSpec("huber", "fixed", 50.0, "user value (--huber-sigma)", shape=(("c", 2.0),)))
    rotation = Rotation.from_design(engel.X, engel.y)
    estimate = find_map(build_model(spec, engel, rotation), spec, engel, rotation)
    baseline = exact_fit(spec.family, engel)  # the joint fit, as the pipeline computes it
    reference = exact_fit_for(spec, engel, baseline)
    if mode == "fixed":
        assert reference.scale == 50.0 and reference is not baseline
        assert relative(reference.coefficients, huber_m_estimate(engel.X, engel.y, 2.0, 50.0).coefficients) <= 1e-13
        rlm = sm.RLM(engel.y, engel.X, M=sm.robust.norms.HuberT(t=2.0)).fit(
            start_scale=50.0, update_scale=False, conv="coefs", tol=1e-13, maxiter=20_000)
        assert relative(estimate.coefficients, rlm.params) <= 1e-8  # the MAP is RLM's fit
    certificate = certify(spec, engel, estimate, baseline)
    assert certificate.certified, certificate.explanation
    assert certificate.max_relative_coefficient_difference <= 1e-8
    assert certificate.checks["reference_kkt"]
    if mode == "learned":
        assert abs(estimate.scale - baseline.scale_mle) / baseline.scale_mle <= 1e-8
    nll = decompose_nll(spec, engel, estimate)
    assert nll.matches_pymc and nll.relative_difference <= 1e-9
    assert nll.nll == pytest.approx(joint_nll(engel.X, engel.y, spec.family.c,
                                              estimate.coefficients, estimate.scale), rel=1e-12)


def test_pipeline_shows_both_fits_and_certifies(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", lossbridge.CertificateWarning)
        analysis = lossbridge.fit("engel", likelihoods=["normal", "huber"], sample=False,
                                  huber_c=1.5, progress=False)
    out = {f["model"]: f for f in analysis.to_dict()["fits"]}
    learned, fixed = out["huber(c=1.5)-learned"], out["huber(c=1.5)-fixed"]
    assert learned["family"] == {"name": "huber", "c": 1.5}
    assert learned["certificate"]["certified"] and fixed["certificate"]["certified"]
    other = learned["baseline"]["related_fits"]["concomitant_scale_fit"]
    assert "NOT the MLE of the Huber density" in other["note"]
    assert other["sigma"] != pytest.approx(learned["map_scale"]["value"], rel=0.01)
    assert fixed["baseline"]["related_fits"] == {}
    assert fixed["fixed_scale"]["value"] == pytest.approx(learned["map_scale"]["value"], rel=1e-8)


def test_huber_c_zero_is_a_one_line_error(capsys):
    from lossbridge.interfaces.cli import main

    assert main(["fit", "engel", "--likelihood", "huber", "--huber-c", "0", "--no-sample"]) == 2
    err = capsys.readouterr().err
    assert err == "lossbridge: error: --huber-c must be a number in (0, inf); got '0'\n"


@pytest.mark.slow
def test_huber_map_certified_on_every_bundled_dataset():
    """Learned and plug-in-fixed scale, every bundled dataset (Longley: cond(X) ~ 1e9):
    every Huber MAP certified (1e-8 relative to the exact fit, reference KKT), and the NLL
    split equals PyMC's log-likelihood to 1e-9."""
    from lossbridge.data.datasets import BUNDLED

    for name in BUNDLED:
        with warnings.catch_warnings():
            warnings.simplefilter("error", lossbridge.CertificateWarning)
            analysis = lossbridge.fit(name, likelihoods=["huber"], sample=False, progress=False)
        for result in analysis.fits:
            assert result.certificate.certified, (name, result.certificate.explanation)
            assert result.certificate.max_relative_coefficient_difference <= 1e-8
            assert result.nll.matches_pymc


def test_exact_fit_data_refuse_the_learned_scale_and_fit_a_user_scale():
    import pandas as pd

    x = np.arange(12.0)
    frame = pd.DataFrame({"x": x, "y": 1.0 + 2.0 * x})
    with pytest.warns(lossbridge.ModelRefusedWarning):
        analysis = lossbridge.fit(frame, "y ~ x", likelihoods=["huber"], huber_sigma=0.5,
                                  sample=False, progress=False)
    (result,) = analysis.fits
    assert result.spec.scale == "fixed" and result.certificate.certified
    np.testing.assert_allclose(result.map.coefficients, [1.0, 2.0], rtol=1e-12)


def test_no_concomitant_fit_below_c_one(engel):
    """For c <= 1, Σ min(u², c²) < n at every σ: the concomitant objective falls to σ = 0,
    so there is no fit to show (scikit-learn refuses epsilon < 1); the JSON says so."""
    from sklearn.linear_model import HuberRegressor

    fit = exact_fit(HUBER.with_shape(c=0.5), engel)
    other = fit.related["concomitant_scale_fit"]
    assert other["sigma"] is None and "no minimum at σ > 0" in other["note"]
    with pytest.raises(ValueError):
        HuberRegressor(epsilon=0.5).fit(engel.X, engel.y)
    sigmas = [1.0, 1e-2, 1e-4]
    values = [concomitant_objective(engel.X, engel.y, 0.5, fit.coefficients, s) for s in sigmas]
    assert values[0] > values[1] > values[2]
