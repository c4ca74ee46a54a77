"""The negative binomial (NB2) family, exposure offsets and count data, against references.

References: scipy.stats.nbinom (n = 1/alpha, p = 1/(1 + alpha mu)); PyMC's own
NegativeBinomial (its alpha is our 1/alpha); statsmodels' GLM NegativeBinomial(alpha)
(IRLS at a fixed alpha) and discrete NegativeBinomial (NB2, the joint MLE of beta and
alpha); statsmodels' GLM(Poisson, exposure=) and scikit-learn's PoissonRegressor
(alpha=0, the L2 penalty off) for exposure offsets. Data: the bundled randhie subset
(doctor visits, variance 8.5 x the mean) and simulated counts with known exposures.
"""

from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import pytest
import statsmodels.api as sm
from scipy import stats
from sklearn.linear_model import PoissonRegressor

import lossbridge
from lossbridge.core.jsonio import dumps
from lossbridge.data.design import Design
from lossbridge.data.tables import load_table
from lossbridge.estimation.negbin_fit import exact_negbin
from lossbridge.families.negbin import ALPHA, NEGBIN
from lossbridge.families.poisson import POISSON
from lossbridge.interfaces.cli import main
from lossbridge.posterior.pointwise import log_likelihood, replicate

FORMULA = "mdvis ~ lncoins + idp + lpi + fmde + physlm + disea + hlthg + hlthf + hlthp"
TERMS = ["lncoins", "idp", "lpi", "fmde", "physlm", "disea", "hlthg", "hlthf", "hlthp"]


@pytest.fixture(scope="module")
def randhie():
    return load_table("randhie").frame


def _design(frame, offset=None):
    X = np.column_stack([np.ones(len(frame)), frame[TERMS].to_numpy(float)])
    return Design(frame["mdvis"].to_numpy(float), X, ("Intercept", *TERMS), "mdvis", FORMULA,
                  "test", offset=offset)


@pytest.fixture(scope="module")
def exposed():
    """Poisson counts with exposures t_i: mu_i = t_i exp(0.3 + 0.5 x_i - 0.2 z_i)."""
    rng = np.random.default_rng(11)
    n = 300
    x, z = rng.normal(size=n), rng.normal(size=n)
    t = rng.uniform(0.2, 5.0, size=n)
    y = rng.poisson(t * np.exp(0.3 + 0.5 * x - 0.2 * z))
    return pd.DataFrame({"y": y, "x": x, "z": z, "t": t})


# ---------------------------------------------------------------------- the dataset
def test_randhie_is_the_documented_subset_of_statsmodels():
    import hashlib
    import os

    import statsmodels

    from lossbridge.data.datasets import bundled_path

    source = os.path.join(os.path.dirname(statsmodels.__file__), "datasets/randhie/randhie.csv")
    lines = open(source).read().splitlines()
    rows = np.sort(np.random.default_rng(20261201).choice(len(lines) - 1, 1000, replace=False))
    expected = "\n".join([lines[0]] + [lines[1 + i] for i in rows]) + "\n"
    shipped = bundled_path("randhie").read_bytes()
    assert shipped == expected.encode()
    digest = "66150b22652611aa38e0f170b3ba384e90fbb0573587c7ea1d40e7d53be6260a"
    assert hashlib.sha256(shipped).hexdigest() == digest


# ---------------------------------------------------------------------- the density
def test_logpdf_matches_scipy_and_pymc():
    y = np.array([0.0, 1.0, 3.0, 10.0, 57.0, 0.0, 4.0])
    mu = np.array([0.2, 1.5, 2.0, 11.0, 40.0, 7.0, 0.01])
    for alpha in (0.01, 0.3, 1.0, 7.5):
        expected = stats.nbinom.logpmf(y, 1.0 / alpha, 1.0 / (1.0 + alpha * mu))
        # both are sums of a few log-gamma terms of size <= 1e3: 1e-12 relative is ~100 ulps
        assert np.allclose(NEGBIN.logpdf(y, mu, 1.0, alpha=alpha), expected, rtol=1e-12, atol=1e-12)
        ours = NEGBIN.logp(pt.as_tensor(y), pt.as_tensor(mu), 1.0, alpha=alpha).eval()
        theirs = pm.logp(pm.NegativeBinomial.dist(mu=mu, alpha=1.0 / alpha), y).eval()
        assert np.allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    fixed = NEGBIN.with_shape(alpha=0.3)
    assert np.allclose(fixed.logpdf(y, mu, 1.0),
                       stats.nbinom.logpmf(y, 1 / 0.3, 1 / (1 + 0.3 * mu)), rtol=1e-12)


def test_nll_is_half_the_deviance_plus_a_constant():
    rng = np.random.default_rng(0)
    mu = rng.gamma(2.0, 2.0, size=200)
    alpha = 0.7
    y = rng.negative_binomial(1 / alpha, 1 / (1 + alpha * mu)).astype(float)
    nll = -stats.nbinom.logpmf(y, 1 / alpha, 1 / (1 + alpha * mu)).sum()
    split = (NEGBIN.nll_constant_of(y, 1.0, alpha=alpha)
             + NEGBIN.loss_term_of(y, mu, 1.0, alpha=alpha))
    assert split == pytest.approx(nll, rel=1e-12)
    deviance = sm.families.NegativeBinomial(alpha=alpha).deviance(y, mu)
    assert NEGBIN.loss_of(y, mu, 1.0, alpha=alpha) == pytest.approx(deviance, rel=1e-12)
    assert NEGBIN.loss_of(y, y, 1.0, alpha=alpha) == pytest.approx(0.0, abs=1e-10)


def test_eta_derivatives_are_those_of_the_log_density():
    y = np.array([0.0, 2.0, 9.0])
    eta = np.array([-0.5, 0.4, 2.0])
    h = 1e-4
    f = lambda e: NEGBIN.logpdf(y, np.exp(e), 1.0, alpha=0.8)  # noqa: E731
    score, information = NEGBIN.eta_derivatives(y, eta, 1.0, alpha=0.8)
    # central differences: error h² f'''/6 ~ 1e-9 at h = 1e-4
    assert np.allclose(score, (f(eta + h) - f(eta - h)) / (2 * h), rtol=1e-7)
    assert np.allclose(information, -(f(eta + h) - 2 * f(eta) + f(eta - h)) / h**2, rtol=1e-5)


def test_replicate_has_the_nb2_mean_and_variance():
    rng = np.random.default_rng(3)
    draws = NEGBIN.replicate(np.full(200_000, 4.0), 1.0, rng, alpha=0.5)
    # Var = 4 + 0.5 * 16 = 12; Monte Carlo se of the mean sqrt(12/2e5) = 0.008, of the
    # variance about 12 * sqrt(2/2e5) * 2.2 (NB kurtosis) = 0.08: 5 se
    assert draws.mean() == pytest.approx(4.0, abs=0.04)
    assert draws.var() == pytest.approx(12.0, abs=0.4)


def test_prior_is_proper_and_declared():
    assert ALPHA.learnable and ALPHA.default is None and ALPHA.option == "nb_alpha"
    assert ALPHA.prior_logpdf(1.3) == pytest.approx(stats.gamma(2.0, scale=2.0).logpdf(1.3),
                                                    rel=1e-14)
    value = ALPHA.prior_logp(pt.as_tensor(np.float64(1.3))).eval()
    assert value == pytest.approx(ALPHA.prior_logpdf(1.3), rel=1e-12)


# ---------------------------------------------------------------------- the MAP
def test_map_at_fixed_alpha_is_the_statsmodels_nb_glm(randhie):
    analysis = lossbridge.fit(randhie, FORMULA, likelihoods="negbin", nb_alpha=1.2, sample=False)
    [result] = analysis.fits
    assert result.spec.scale == "none" and result.certified
    reference = sm.GLM.from_formula(FORMULA, randhie,
                                    family=sm.families.NegativeBinomial(alpha=1.2)).fit(tol=1e-14)
    # 1e-8 relative: converged Newton/IRLS solutions of one strictly convex problem
    assert np.allclose(result.map.coefficients, reference.params.to_numpy(), rtol=1e-8, atol=0)
    assert result.nll.nll == pytest.approx(-reference.llf, rel=1e-10)
    assert result.nll.loss == pytest.approx(reference.deviance, rel=1e-9)
    assert result.nll.matches_pymc


def test_learned_alpha_map_is_certified_against_the_exact_posterior_mode(randhie):
    analysis = lossbridge.fit(randhie, FORMULA, likelihoods="negbin", sample=False)
    [result] = analysis.fits
    assert result.certified
    cert = result.certificate
    assert cert.checks["alpha"] and cert.checks["reference_kkt"] and cert.checks["coefficients"]
    assert cert.max_relative_coefficient_difference < 1e-8
    exact = exact_negbin(NEGBIN, _design(randhie))
    assert result.map.shape["alpha"] == pytest.approx(exact.shape["alpha"], rel=1e-8)
    assert result.nll.matches_pymc
    document = analysis.to_dict()
    assert document["fits"][0]["map_scale"] is None
    fit = json.loads(dumps(document))["fits"][0]
    assert fit["certificate"]["certified"] is True
    assert fit["map_shape"]["alpha"] == {"value": result.map.shape["alpha"], "prior": "Gamma(2, 0.5)"}


def test_a_flat_prior_gives_statsmodels_nb2_mle(randhie):
    # Exponential(1e-9): log prior slope 1e-9 per unit alpha, so the mode is the MLE
    flat = dataclasses.replace(ALPHA, prior_dist=("Exponential", (("lam", 1e-9),)))
    family = NEGBIN.with_shape()
    family.parameters = (flat,)
    exact = exact_negbin(family, _design(randhie))
    assert exact.kkt["holds"]
    model = sm.NegativeBinomial.from_formula(FORMULA, randhie, loglike_method="nb2")
    mle = model.fit(method="newton", maxiter=200, tol=1e-14, disp=False)
    params = mle.params.to_numpy()
    # 1e-8 relative: two converged Newton solutions of one smooth problem (measured: 5e-13;
    # the Exponential(1e-9) prior moves alpha by ~1e-9 x var(alpha) ~ 1e-11)
    assert np.allclose(exact.coefficients, params[:-1], rtol=1e-8, atol=0)
    assert exact.shape["alpha"] == pytest.approx(params[-1], rel=1e-8)
    # under the declared Gamma(2, 0.5) prior the mode moves by about its log-density's
    # slope (1/alpha - 0.5 = 0.24) x the posterior variance of alpha (0.086² from NUTS):
    # 0.0018, 1.3e-3 relative; 2e-3 bounds it
    declared = exact_negbin(NEGBIN, _design(randhie))
    assert 0 < declared.shape["alpha"] / params[-1] - 1 < 2e-3


# ---------------------------------------------------------------------- exposure
def test_exposure_offset_matches_statsmodels_and_scikit_learn(exposed):
    analysis = lossbridge.fit(exposed, "y ~ x + z", likelihoods=["poisson", "negbin"],
                              exposure="t", nb_alpha=0.5, sample=False)
    poisson, negbin = analysis.fits
    assert poisson.certified and negbin.certified
    assert poisson.nll.matches_pymc and negbin.nll.matches_pymc  # the PyMC model has the offset
    reference = sm.GLM.from_formula("y ~ x + z", exposed, family=sm.families.Poisson(),
                                    exposure=exposed["t"]).fit(tol=1e-14)
    assert np.allclose(poisson.map.coefficients, reference.params.to_numpy(), rtol=1e-8, atol=0)
    assert poisson.nll.nll == pytest.approx(-reference.llf, rel=1e-10)
    nb_reference = sm.GLM.from_formula("y ~ x + z", exposed,
                                       family=sm.families.NegativeBinomial(alpha=0.5),
                                       exposure=exposed["t"]).fit(tol=1e-14)
    assert np.allclose(negbin.map.coefficients, nb_reference.params.to_numpy(), rtol=1e-8, atol=0)
    # Poisson with offset log t = PoissonRegressor on y/t with sample weights t (the two
    # log-likelihoods differ by a constant); lbfgs converges to its tol on the gradient
    sk = PoissonRegressor(alpha=0.0, tol=1e-12, max_iter=10_000, solver="newton-cholesky")
    sk.fit(exposed[["x", "z"]], exposed["y"] / exposed["t"], sample_weight=exposed["t"])
    ours = poisson.map.coefficients
    assert np.allclose(ours, np.r_[sk.intercept_, sk.coef_], rtol=1e-8, atol=0)
    assert analysis.to_dict()["options"]["exposure"] == "t"


def test_poisson_map_is_scikit_learn_poisson_regressor(randhie):
    [result] = lossbridge.fit(randhie, FORMULA, likelihoods="poisson", sample=False).fits
    sk = PoissonRegressor(alpha=0.0, tol=1e-12, max_iter=10_000, solver="newton-cholesky")
    sk.fit(randhie[TERMS], randhie["mdvis"])
    assert np.allclose(result.map.coefficients, np.r_[sk.intercept_, sk.coef_], rtol=1e-8, atol=0)


def test_pointwise_and_replicates_carry_the_offset(exposed):
    t = exposed["t"].to_numpy()
    X = np.column_stack([np.ones(len(exposed)), exposed[["x", "z"]].to_numpy()])
    y = exposed["y"].to_numpy(float)
    beta = np.array([[0.3, 0.5, -0.2]])
    matrix = log_likelihood(POISSON, X, y, beta, np.ones(1), offset=np.log(t))
    assert np.allclose(matrix[0], stats.poisson.logpmf(y, t * np.exp(X @ beta[0])), rtol=1e-12)
    draws = replicate(POISSON, X, np.repeat(beta, 4000, axis=0), np.ones(4000),
                      np.random.default_rng(1), offset=np.log(t))
    mu = t * np.exp(X @ beta[0])
    # Monte Carlo: mean of 4000 Poisson(mu) draws has se sqrt(mu/4000); 5 se
    assert np.all(np.abs(draws.mean(axis=0) - mu) <= 5 * np.sqrt(mu / 4000) + 1e-12)


# ---------------------------------------------------------------------- bad input
def _cli(capsys, tmp_path, frame, *extra):
    path = tmp_path / "counts.csv"
    frame.to_csv(path, index=False)
    code = main(["fit", str(path), "--formula", "y ~ x + z", "--no-sample", *extra])
    out, err = capsys.readouterr()
    return code, err


@pytest.mark.parametrize(("column", "row", "value", "likelihood", "message"), [
    ("y", 4, -1, "poisson", r"needs counts \(integers >= 0\) in 'y'; got -1 in row 5"),
    ("y", 2, 2.5, "negbin", r"needs counts \(integers >= 0\) in 'y'; got 2.5 in row 3"),
    ("t", 6, 0.0, "poisson", r"exposure column 't' must hold finite numbers > 0.*got 0.0 in row 7"),
    ("t", 1, -2.0, "negbin", r"exposure column 't'.*got -2.0 in row 2"),
])
def test_bad_counts_and_exposures_exit_2_in_one_line(capsys, tmp_path, exposed, column, row,
                                                     value, likelihood, message):
    import re

    frame = exposed.copy()
    frame[column] = frame[column].astype(float)
    frame.loc[row, column] = value
    code, err = _cli(capsys, tmp_path, frame, "--likelihood", likelihood, "--exposure", "t")
    assert code == 2
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert re.search(message, err), err


@pytest.mark.parametrize(("extra", "message"), [
    (["--likelihood", "poisson", "--exposure", "time"], "exposure must name a column"),
    (["--likelihood", "normal", "--exposure", "t"], "the normal likelihood takes none"),
    (["--likelihood", "negbin", "--nb-alpha", "0"], "nb_alpha must be a number in (0, inf)"),
])
def test_exposure_and_alpha_misuse_exit_2(capsys, tmp_path, exposed, extra, message):
    code, err = _cli(capsys, tmp_path, exposed, *extra)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert message in err.replace("--nb-alpha", "nb_alpha"), err


# ---------------------------------------------------------------------- LOO
@pytest.mark.slow
def test_loo_prefers_the_negative_binomial_on_overdispersed_counts():
    started = time.perf_counter()
    analysis = lossbridge.fit("randhie", likelihoods=["poisson", "negbin"], draws=200, tune=200,
                              chains=2, cores=1, seed=5)
    document = analysis.to_dict()
    assert document["all_certified"]
    ranked = {row["model"]: row for row in document["comparison"]}
    assert ranked["negbin"]["rank"] == 0 and ranked["poisson"]["rank"] == 1
    difference = ranked["poisson"]["elpd_diff"]
    se = ranked["poisson"]["dse"]
    # variance 8.5 x the mean: the Poisson is far worse, by many standard errors
    assert difference > 5 * se
    # the learned alpha of a scale-less family through NUTS: its posterior beside its MAP
    negbin = next(f for f in document["fits"] if f["model"] == "negbin")
    alpha = negbin["posterior_shape"]["alpha"]
    assert alpha["r_hat"] < 1.05 and alpha["ess_bulk"] > 100
    assert abs(alpha["mean"] - negbin["map_shape"]["alpha"]["value"]) < alpha["sd"]
    print(f"elpd difference poisson - negbin: {-difference:.1f} (se {se:.1f}), "
          f"{time.perf_counter() - started:.0f} s")


@pytest.mark.slow
def test_sampled_run_with_exposure_uses_the_offset_everywhere(exposed):
    analysis = lossbridge.fit(exposed, "y ~ x + z", likelihoods=["poisson", "negbin"],
                              exposure="t", draws=200, tune=200, chains=2, cores=1, seed=2)
    for result in analysis.fits:
        assert result.certified
        loglik = -result.nll.nll  # at the MAP, with the offset (checked against PyMC)
        elpd, p_loo = result.posterior.loo.elpd_loo, result.posterior.loo.p_loo
        # elpd_loo ~ loglik - p_loo (p_loo ~ k = 3 or 4): without the offset in the
        # pointwise log-likelihood mu would be off by factors 0.2-5 and elpd hundreds of
        # nats lower
        assert loglik - 3 * p_loo - 5 < elpd < loglik
        assert p_loo < 8


Y_SMALL = np.array([0.0, 1.0, 3.0, 10.0, 57.0, 400.0])
MU_SMALL = np.array([0.2, 1.5, 2.0, 11.0, 40.0, 380.0])


@pytest.mark.parametrize("alpha", [1e-10, 1e-14])
def test_small_alpha_is_the_poisson_limit_without_cancellation(alpha):
    """log NB = log Poisson + alpha ((y − mu)² − y)/2 + O(alpha² y³) and D_NB = D_P −
    alpha Σ (y − mu)² + O(alpha²): the gammaln difference at r = 1/alpha lost 0.2 nats at
    1e-14. Tolerance: rounding of terms up to log(400!) ~ 2e3 (a few eps x 2e3 ~ 1e-12)
    plus the second-order term (< alpha² y³ = 6e-13 at 1e-10)."""
    y, mu = Y_SMALL, MU_SMALL
    first = POISSON.logpdf(y, mu, 1.0) + alpha * ((y - mu) ** 2 - y) / 2.0
    assert np.max(np.abs(NEGBIN.logpdf(y, mu, 1.0, alpha=alpha) - first)) < 2e-12
    tensor = NEGBIN.logp(pt.as_tensor(y), pt.as_tensor(mu), 1.0, alpha=alpha).eval()
    assert np.max(np.abs(tensor - first)) < 2e-12
    deviance = POISSON.loss_of(y, mu, 1.0) - alpha * np.sum((y - mu) ** 2)
    assert NEGBIN.loss_of(y, mu, 1.0, alpha=alpha) == pytest.approx(deviance, abs=1e-11)
    # the PyTensor gradient in alpha's branch switch stays finite
    a = pt.dscalar("a")
    grad = pt.grad(NEGBIN.logp(pt.as_tensor(y), pt.as_tensor(mu), 1.0, alpha=a).sum(), a)
    assert np.isfinite(grad.eval({a: alpha}))


@pytest.mark.parametrize("alpha", [0.005, 0.3, 2.0, 50.0])
def test_logpdf_matches_scipy_on_both_sides_of_the_switch(alpha):
    y, mu = Y_SMALL, MU_SMALL
    expected = stats.nbinom.logpmf(y, 1.0 / alpha, 1.0 / (1.0 + alpha * mu))
    for ours in (NEGBIN.logpdf(y, mu, 1.0, alpha=alpha),
                 NEGBIN.logp(pt.as_tensor(y), pt.as_tensor(mu), 1.0, alpha=alpha).eval()):
        assert np.allclose(ours, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("alpha", [1e-14, 1e-10, 1e-3, 0.5, 5.0])
def test_alpha_score_is_exact_to_the_rounding_of_its_terms(alpha):
    """d log f / d log alpha against 60-digit decimal arithmetic of its integer-y form
    Σ_j<y αj/(1 + αj) + r log(1 + αμ) − (y + r) αμ/(1 + αμ); within 64 eps x its terms'
    sizes (the five O(mu) terms of the plain form cancelled to noise near the Poisson limit)."""
    from decimal import Decimal, localcontext

    from lossbridge.estimation.negbin_fit import alpha_score

    ours, sizes = alpha_score(Y_SMALL, MU_SMALL, alpha)
    with localcontext() as context:
        context.prec = 60
        a = Decimal(alpha)
        r = 1 / a
        exact = []
        for y, mu in zip(Y_SMALL, MU_SMALL, strict=True):
            am = a * Decimal(mu)
            exact.append(float(sum(a * j / (1 + a * j) for j in range(int(y)))
                               + r * (1 + am).ln() - (int(y) + r) * am / (1 + am)))
    assert np.all(np.abs(ours - np.array(exact)) <= 64 * np.finfo(float).eps * sizes)


def test_exposure_with_a_family_without_offset_names_the_family_not_the_column(
        capsys, tmp_path, exposed):
    """--exposure x --likelihood bernoulli: x (not a valid exposure: negative values) is
    never read, the refusal is that the Bernoulli takes no offset."""
    frame = exposed.assign(b=(exposed["y"] > 1).astype(int))
    path = tmp_path / "binary.csv"
    frame.to_csv(path, index=False)
    code = main(["fit", str(path), "--formula", "b ~ z", "--no-sample",
                 "--likelihood", "bernoulli", "--exposure", "x"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "the bernoulli likelihood takes none" in err and "finite numbers > 0" not in err, err
