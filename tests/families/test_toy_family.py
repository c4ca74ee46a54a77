"""A family registered from outside the package runs the whole pipeline.

Two toy families, defined here with nothing but the public contract
(:class:`lossbridge.families.base.Family`):

* ``toy``: the logistic-distribution likelihood, f(r) = exp(-r/s) / (s (1 + exp(-r/s))^2),
  whose NLL is n log(4s) + sum 2 log cosh(r / 2s). It has no exact classical fit (its
  certificate says "no exact counterpart"), no closed-form scale MLE (a fixed scale is the
  numerical MLE's) and no fast form (the joint model sums its ``logp``).
* ``gauss``: a Normal written from scratch under another name, reusing the exact OLS
  solver (``exact_solver = "ols"``), so its MAP is certified like the Normal's, but with
  no sufficient statistics: its MAP optimises the reference model.

Both run MAP, certificate (or its note), NUTS, LOO, comparison and the report; the numbers
are checked against scipy (the logistic density and an independent maximum-likelihood
fit) and statsmodels (OLS).
"""

from __future__ import annotations

import json

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
import statsmodels.api as sm
from scipy import optimize, stats

import lossbridge
from lossbridge.core.jsonio import dumps
from lossbridge.core.rounding import loss_error_bound
from lossbridge.data.tables import load_table
from lossbridge.families.base import Family
from lossbridge.families.registry import FAMILIES, register_family, unregister_family

LOG_4 = float(np.log(4.0))


def _log_cosh(x):
    """log cosh x without overflow, NumPy: |x| + log1p(exp(-2|x|)) - log 2."""
    a = np.abs(x)
    return a + np.log1p(np.exp(-2.0 * a)) - np.log(2.0)


class Logistic(Family):
    name = "toy"
    title = "Logistic"
    scale_name = "s"
    loss_name = "log-cosh loss"
    loss_symbol = "LC"
    constant_formula = "n log(4s)"
    loss_term_formula = "Σ 2 log cosh(r / 2s)"
    smooth = True
    # Fisher information of log s per observation: (3 + π²) / 9 for the logistic.
    log_scale_information = (3.0 + np.pi**2) / 9.0

    def logp(self, y, mu, scale):
        x = pt.abs(y - mu) / (2.0 * scale)
        return -pt.log(4.0 * scale) - 2.0 * (x + pt.log1p(pt.exp(-2.0 * x)) - np.log(2.0))

    def logpdf(self, y, mu, scale):
        return -np.log(4.0 * scale) - 2.0 * _log_cosh((y - mu) / (2.0 * scale))

    def replicate(self, mu, scale, rng):
        return mu + scale * rng.logistic(size=np.shape(mu))

    def loss(self, residuals):
        return float(np.sum(2.0 * _log_cosh(np.asarray(residuals) / 2.0)))

    def nll_constant(self, n, scale):
        return n * float(np.log(4.0 * scale))

    def loss_term(self, residuals, scale):
        return float(np.sum(2.0 * _log_cosh(np.asarray(residuals) / (2.0 * scale))))


class Gauss(Family):
    name = "gauss"
    title = "Gauss"
    scale_name = "s_gauss"  # not "tau": the quantile family's option
    loss_name = "squared error"
    loss_symbol = "RSS"
    constant_formula = "(n/2) log(2π s²)"
    loss_term_formula = "RSS / (2s²)"
    plug_in_formula = "sqrt(RSS/n)"
    exact_solver = "ols"
    exact_name = "OLS"
    smooth = True
    log_scale_information = 2.0

    def logp(self, y, mu, scale):
        return -0.5 * np.log(2.0 * np.pi) - pt.log(scale) - 0.5 * ((y - mu) / scale) ** 2

    def logpdf(self, y, mu, scale):
        return stats.norm.logpdf(y, loc=mu, scale=scale)

    def replicate(self, mu, scale, rng):
        return mu + scale * rng.standard_normal(np.shape(mu))

    def loss(self, residuals):
        return float(np.dot(residuals, residuals))

    def scale_mle(self, loss, n):
        return float(np.sqrt(loss / n))

    def nll_constant(self, n, scale):
        return 0.5 * n * float(np.log(2.0 * np.pi * scale**2))

    def nll_loss_term(self, loss, scale):
        return loss / (2.0 * scale**2)

    def loss_rounding(self, X, y, beta):
        return loss_error_bound(X, y, beta, "RSS")


@pytest.fixture(scope="module")
def toy_families():
    families = [register_family(Logistic()), register_family(Gauss())]
    yield families
    for family in families:
        unregister_family(family.name)
    assert "toy" not in FAMILIES and "gauss" not in FAMILIES


@pytest.fixture(scope="module")
def engel():
    return load_table("engel").frame[["foodexp", "income"]]


def logistic_mle(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """An independent maximum-likelihood fit: scipy's logistic logpdf, BFGS with the
    analytic gradient on unit-norm columns and log s, started at OLS."""
    norms = np.linalg.norm(x, axis=0)
    xs = x / norms
    ols = np.linalg.lstsq(xs, y, rcond=None)[0]
    start = np.append(ols, np.log(np.std(y - xs @ ols)))

    def nll(p):
        beta, s = p[:-1], np.exp(p[-1])
        return -stats.logistic.logpdf(y, loc=xs @ beta, scale=s).sum()

    def grad(p):
        beta, s = p[:-1], np.exp(p[-1])
        z = (y - xs @ beta) / s
        t = np.tanh(z / 2.0)  # d(-log f)/dz
        return np.append(-xs.T @ t / s, np.sum(1.0 - z * t))

    result = optimize.minimize(nll, start, jac=grad, method="BFGS",
                               options={"gtol": 1e-10, "maxiter": 10_000})
    return result.x[:-1] / norms, float(np.exp(result.x[-1]))


def test_logistic_density_equals_scipy_and_pymc(toy_families):
    """logp (PyTensor) and logpdf (NumPy) against scipy and PyMC's own Logistic, to rounding."""
    family = toy_families[0]
    rng = np.random.default_rng(3)
    y = rng.logistic(size=50) * 7.0 + np.r_[np.zeros(49), 2e3]  # one far tail value
    mu, scale = rng.normal(size=50), 2.5
    reference = stats.logistic.logpdf(y, loc=mu, scale=scale)
    np.testing.assert_allclose(family.logpdf(y, mu, scale), reference, rtol=1e-13)
    # float64 throughout: pt.as_tensor(2.5) alone would be a float32 constant.
    ours = family.logp(pt.as_tensor(y), pt.as_tensor(mu), pt.as_tensor(np.float64(scale))).eval()
    np.testing.assert_allclose(ours, reference, rtol=1e-13)
    pymc = pm.logp(pm.Logistic.dist(mu=mu, s=np.float64(scale)), y).eval()
    np.testing.assert_allclose(ours, pymc, rtol=1e-12)
    # The NLL split: constant + loss term = -sum logpdf.
    r = y - mu
    split = family.nll_constant(r.size, scale) + family.loss_term(r, scale)
    assert split == pytest.approx(-reference.sum(), rel=1e-13)


@pytest.fixture(scope="module")
def toy_analysis(toy_families, engel):
    return lossbridge.fit(engel, "foodexp ~ income", likelihoods=["normal", "toy", "gauss"],
                          draws=200, tune=200, chains=2, cores=1, seed=11)


@pytest.mark.slow
def test_toy_map_equals_an_independent_logistic_mle(toy_analysis, engel):
    x = np.column_stack([np.ones(len(engel)), engel["income"].to_numpy()])
    beta, scale = logistic_mle(x, engel["foodexp"].to_numpy())
    fit = toy_analysis.fit_for("toy-learned")
    # BFGS stops at a gradient norm of 1e-10 on unit-norm columns: the optimum is unique
    # (the logistic is log-concave in beta) and both agree far inside 1e-7.
    np.testing.assert_allclose(fit.map.coefficients, beta, rtol=1e-7)
    assert fit.map.scale == pytest.approx(scale, rel=1e-7)
    # No exact counterpart: no certificate, and the note says why.
    assert fit.baseline is None and fit.certificate is None
    record = fit.as_dict(toy_analysis.design.terms)
    assert record["certificate_note"].startswith("no exact counterpart")
    # The NLL panel: the split equals PyMC's own log-likelihood of the reference model.
    assert fit.nll.matches_pymc
    assert fit.nll.nll == pytest.approx(
        -stats.logistic.logpdf(engel["foodexp"], loc=x @ fit.map.coefficients,
                               scale=fit.map.scale).sum(), rel=1e-12)
    # The fixed model's plug-in scale is the learned model's MLE.
    fixed = toy_analysis.fit_for("toy-fixed")
    assert fixed.spec.fixed_scale_is_plug_in
    assert fixed.spec.fixed_scale == pytest.approx(scale, rel=1e-7)
    assert "maximised numerically" in fixed.spec.fixed_scale_source
    np.testing.assert_allclose(fixed.map.coefficients, beta, rtol=1e-7)


@pytest.mark.slow
def test_family_reusing_an_exact_solver_is_certified(toy_analysis, engel):
    ols = sm.OLS(engel["foodexp"], sm.add_constant(engel["income"])).fit()
    for model in ("gauss-learned", "gauss-fixed"):
        fit = toy_analysis.fit_for(model)
        assert fit.baseline.method == "ols"
        assert fit.certificate.certified, fit.certificate.explanation
        # Engel's design is well conditioned (cond ~ 3e3): 1e-10 is far above rounding.
        np.testing.assert_allclose(fit.map.coefficients, ols.params.to_numpy(), rtol=1e-10)
        np.testing.assert_allclose(fit.map.coefficients,
                                   toy_analysis.fit_for(model.replace("gauss", "normal"))
                                   .map.coefficients, rtol=1e-10)
    assert toy_analysis.fit_for("gauss-learned").map.scale == pytest.approx(
        np.sqrt(ols.ssr / len(engel)), rel=1e-10)


def test_toy_joint_block_equals_the_reference_model(toy_families, engel):
    """The joint block of a family without a fast form sums its ``logp``: equal to the
    reference model's (PyMC's observed variable) log-density and gradient to rounding."""
    from lossbridge.data.design import build_design
    from lossbridge.data.rotation import Rotation
    from lossbridge.models.joint import block_name, build_joint_model
    from lossbridge.models.reference import build_model
    from lossbridge.models.spec import ModelSpec

    design = build_design(load_table(engel), "foodexp ~ income")
    rotation = Rotation.from_design(design.X, design.y)
    spec = ModelSpec("toy", "learned")
    reference = build_model(spec, design, rotation)
    joint = build_joint_model([spec], design, rotation)
    f_ref = reference.compile_logp(jacobian=True)
    f_joint = joint.compile_logp(jacobian=True)
    theta = rotation.to_theta(np.linalg.lstsq(design.X, design.y, rcond=None)[0])
    rng = np.random.default_rng(5)
    for _ in range(4):
        t, log_s = theta + 0.05 * rng.standard_normal(design.k), np.log(50.0) + 0.3 * rng.standard_normal()
        ours = f_joint({block_name(spec, "theta"): t, block_name(spec, "s_log__"): log_s})
        expected = f_ref({"theta": t, "s_log__": log_s})
        assert ours == pytest.approx(expected, rel=1e-12)
        # and against scipy's logistic density plus HalfFlat's Jacobian (log s)
        mu = rotation.y_scale * rotation.Q @ t
        assert ours == pytest.approx(
            stats.logistic.logpdf(design.y, loc=mu, scale=np.exp(log_s)).sum() + log_s, rel=1e-12)


@pytest.mark.slow
def test_whole_pipeline_runs_on_the_toy_families(toy_analysis, tmp_path):
    analysis = toy_analysis
    assert analysis.models == ["normal-learned", "normal-fixed", "toy-learned", "toy-fixed",
                               "gauss-learned", "gauss-fixed"]
    assert analysis.sampled
    for fit in analysis.fits:
        loo = fit.posterior.loo_dict()
        assert np.isfinite(loo["elpd_loo"]) and np.isfinite(loo["se"])
    # The comparison ranks the learned models (a plug-in fixed scale is not ranked, as for
    # the built-in families, except where its scale has a leave-one-out closed form).
    table = analysis.comparison.table
    assert set(table.index) == set(analysis.models)
    assert table.loc[["toy-learned", "normal-learned", "gauss-learned"], "rank"].notna().all()
    # The Gauss family samples through the sum of its logp, the Normal through sufficient
    # statistics: the same posterior, so their means agree within Monte Carlo error
    # (4 combined MCSE: a false alarm has probability 6e-5 per quantity).
    gauss = analysis.fit_for("gauss-learned").posterior.summary
    normal = analysis.fit_for("normal-learned").posterior.summary
    for row in range(len(gauss)):
        g, n = gauss.iloc[row], normal.iloc[row]
        assert abs(g["mean"] - n["mean"]) <= 4 * np.hypot(g["mcse_mean"], n["mcse_mean"])
    record = json.loads(dumps(analysis.to_dict()))  # JSON-serialisable
    notes = {f["model"]: f["certificate_note"] for f in record["fits"]}
    assert notes["toy-learned"].startswith("no exact counterpart")
    assert notes["normal-learned"] is None and notes["gauss-learned"] is None
    assert {f["model"]: f["baseline"] for f in record["fits"]}["toy-fixed"] is None
    html = tmp_path / "report.html"
    analysis.to_html(html)
    text = html.read_text()
    assert "toy-learned" in text and "no exact counterpart" in text
    if analysis.verdict.all_certified:  # the verdict names what certifies what, and what cannot be
        assert "Every MAP estimate with an exact counterpart is certified" in text
        assert "OLS for squared error" in text and "toy-learned, toy-fixed: no exact counterpart" in text
    assert "no exact counterpart" in analysis.summary()


def test_exact_data_refuse_a_family_without_exact_fit(toy_families):
    """No exact fit of its own: the least-squares fit decides that y is fitted exactly, so a
    learned or plug-in scale has no maximum and the run is refused before any model."""
    import pandas as pd

    from lossbridge.core.errors import InputError

    x = np.arange(12.0)
    frame = pd.DataFrame({"x": x, "y": 1.0 + 2.0 * x})
    with pytest.raises(InputError, match=r"fits 'y' exactly \(the least-squares residuals are "
                                         r"all zero\).*--scale fixed --s VALUE"):
        lossbridge.fit(frame, "y ~ x", likelihoods=["toy"], sample=False)


def test_exact_solver_without_closed_form_scale(toy_families, engel):
    """A family reusing OLS but declaring no closed-form scale MLE: its MAP is certified on
    the loss and the coefficients only, and its plug-in scale is the numerical MLE, which
    for a Normal density is sqrt(RSS/n) (statsmodels' RSS)."""

    class GaussNoClosedForm(Gauss):
        name, scale_name = "gauss-numeric", "w"
        plug_in_formula = None  # no closed form: the contract says so here too

        def scale_mle(self, loss, n):
            return None

    register_family(GaussNoClosedForm())
    try:
        analysis = lossbridge.fit(engel, "foodexp ~ income", likelihoods=["gauss-numeric"],
                                  sample=False)
    finally:
        unregister_family("gauss-numeric")
    ols = sm.OLS(engel["foodexp"], sm.add_constant(engel["income"])).fit()
    mle = np.sqrt(ols.ssr / len(engel))
    learned, fixed = analysis.fit_for("gauss-numeric-learned"), analysis.fit_for("gauss-numeric-fixed")
    for fit in (learned, fixed):
        assert fit.certificate.certified, fit.certificate.explanation
        np.testing.assert_allclose(fit.map.coefficients, ols.params.to_numpy(), rtol=1e-10)
    assert set(learned.certificate.checks) == {"loss", "coefficients"}
    assert learned.certificate.scale_closed_form is None
    # Newton stops where the gradient no longer shrinks: the MLE to ~1e-10 relative.
    assert learned.map.scale == pytest.approx(mle, rel=1e-9)
    assert fixed.spec.fixed_scale == pytest.approx(mle, rel=1e-9)
    assert "maximised numerically" in fixed.spec.fixed_scale_source
