"""The Bernoulli family (logit, probit, cloglog) against scipy, PyMC, statsmodels and
scikit-learn.

References: scipy.stats.bernoulli.logpmf at the link's p; PyMC's own Bernoulli
log-probability (``logit_p=`` and ``p=``); statsmodels' ``Logit``, ``Probit`` and
``GLM(Binomial(link=CLogLog()))`` (Newton converged to 1e-14) and their score and
Hessian; scikit-learn's unpenalised ``LogisticRegression`` and ``log_loss``; on
statsmodels' ``spector`` data (Spector & Mazzeo 1980), bundled as ``spector``.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
import statsmodels.api as sm
from scipy import special, stats
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

import lossbridge
from lossbridge.core.errors import InputError
from lossbridge.families.bernoulli import BERNOULLI, LINKS, eta_log_probabilities
from lossbridge.interfaces.cli import main
from lossbridge.models.priors import WeakPriors

FORMULA = "GRADE ~ GPA + TUCE + PSI"
ETA = np.array([-30.0, -8.0, -2.5, -0.3, 0.0, 0.7, 3.0, 8.0, 30.0])


@pytest.fixture(scope="module")
def spector():
    frame = sm.datasets.spector.load_pandas().data
    X = sm.add_constant(frame[["GPA", "TUCE", "PSI"]], prepend=True).to_numpy()
    return frame, X, frame["GRADE"].to_numpy()


def statsmodels_fit(link: str, X, y):
    if link == "logit":
        model = sm.Logit(y, X)
        return model, model.fit(method="newton", tol=1e-14, maxiter=100, disp=0).params
    if link == "probit":
        model = sm.Probit(y, X)
        return model, model.fit(method="newton", tol=1e-14, maxiter=100, disp=0).params
    model = sm.GLM(y, X, family=sm.families.Binomial(link=sm.families.links.CLogLog()))
    # Newton, not the default IRLS: IRLS stops on its deviance criterion with a score of
    # 1.5e-7 here (coefficients off by ~1e-9 relative); Newton reaches 1e-13.
    return model, model.fit(method="newton", tol=1e-14, maxiter=200).params


@pytest.mark.parametrize("link", LINKS)
def test_logpdf_is_scipys_bernoulli_at_the_links_p(link):
    family = BERNOULLI.with_shape(link=link)
    eta = ETA[2:-2]  # where p and 1 - p are both representable
    p = {"logit": special.expit, "probit": special.ndtr,
         "cloglog": lambda e: 1.0 - np.exp(-np.exp(e))}[link](eta)
    for y in (0.0, 1.0):
        ours = family.logpdf(np.full(eta.size, y), family.link.inverse(eta), 1.0)
        assert np.allclose(ours, stats.bernoulli.logpmf(y, p), rtol=1e-12, atol=0)


@pytest.mark.parametrize("link", LINKS)
def test_pytensor_logp_is_pymcs_and_exact_in_the_tails(link):
    family = BERNOULLI.with_shape(link=link)
    for y in (0.0, 1.0):
        ys = np.full(ETA.size, y)
        mu = family.link.inverse_tensor(pt.as_tensor(ETA))
        ours = family.logp(pt.as_tensor(ys), mu, 1.0).eval()
        # exact in eta (scipy's log_expit / log_ndtr; cloglog in closed form)
        log_p, log_q = eta_log_probabilities(link, ETA)
        assert np.allclose(ours, log_p if y else log_q, rtol=1e-12, atol=0)
        if link == "logit":
            theirs = pm.logp(pm.Bernoulli.dist(logit_p=ETA), ys).eval()
        else:
            theirs = pm.logp(pm.Bernoulli.dist(p=family.link.inverse(ETA)), ys).eval()
        # PyMC's p form rounds p first: |error of log(1 - p)| <= eps p / (1 - p) (and of
        # log p, eps (1 - p) / p), a few eps where both are moderate.
        middle = slice(2, -2)
        p = family.link.inverse(ETA[middle])
        bound = 4 * np.finfo(float).eps / np.minimum(p, 1 - p) + 1e-13 * np.abs(theirs[middle])
        assert np.all(np.abs(ours[middle] - theirs[middle]) <= bound)
    # the tails themselves, against closed forms: log(1 - sigmoid(30)) = -30 - log1p(e^-30)
    if link == "logit":
        value = family.logp(pt.as_tensor([0.0]), family.link.inverse_tensor(pt.as_tensor([30.0])),
                            1.0).eval()
        assert value[0] == pytest.approx(-30.0 - np.log1p(np.exp(-30.0)), rel=1e-15)


def test_eta_tails_against_scipy():
    assert np.allclose(eta_log_probabilities("probit", ETA)[1], stats.norm.logsf(ETA), rtol=1e-12)
    # cloglog: log(1 - p) = -e^eta exactly, log p = log(1 - exp(-e^eta))
    log_p, log_q = eta_log_probabilities("cloglog", ETA)
    assert np.allclose(log_q, -np.exp(ETA), rtol=1e-15)
    assert np.allclose(log_p[1:], np.log(-np.expm1(-np.exp(ETA[1:]))), rtol=1e-12)
    assert log_p[0] == pytest.approx(ETA[0], rel=1e-12)  # log(1-exp(-u)) ~ log u as u -> 0


@pytest.mark.parametrize("link", LINKS)
def test_eta_derivatives_by_finite_differences(link):
    family = BERNOULLI.with_shape(link=link)
    eta = np.linspace(-6.0, 3.0, 19)
    h = 1e-5
    for y in (0.0, 1.0):
        ys = np.full(eta.size, y)

        def f(e, y=y):
            log_p, log_q = eta_log_probabilities(link, e)
            return log_p if y else log_q

        d, w = family.eta_derivatives(ys, eta, 1.0)
        # central differences: truncation O(h^2 f''') ~ 1e-10, rounding eps/h ~ 1e-11
        assert np.allclose(d, (f(eta + h) - f(eta - h)) / (2 * h), rtol=1e-7, atol=1e-9)
        # the information as the central difference of the score (itself checked above)
        second = (family.eta_derivatives(ys, eta + h, 1.0)[0]
                  - family.eta_derivatives(ys, eta - h, 1.0)[0]) / (2 * h)
        assert np.allclose(w, -second, rtol=1e-7, atol=1e-9)


def test_cloglog_derivatives_of_a_positive_row_in_the_tails():
    """y = 1 under cloglog: score u e^-u / p and information u (u + expm1(-u)) e^-u / p^2
    (u = e^eta, p = 1 - e^-u) against the same formulas in decimal arithmetic
    (the stdlib's correctly rounded exp at 1400 digits, an independent reference). In floats
    u + expm1(-u) loses every digit below u ~ 1e-16 (eta < -37), and at eta > 709.8,
    u = inf gives inf * 0 = NaN."""
    from decimal import Decimal, localcontext

    eta = np.array([-700.0, -300.0, -60.0, -37.0, -36.0, -20.0, -8.0, -2.3, -2.2, -1e-3, 0.0,
                    1.0, 2.0, 6.0, 6.6, 6.7, 50.0, 709.0, 710.0, 800.0])
    d, w = BERNOULLI.with_shape(link="cloglog").eta_derivatives(np.ones(eta.size), eta, 1.0)
    assert np.all(np.isfinite(d)) and np.all(np.isfinite(w))
    with localcontext() as context:
        context.prec = 1400  # 1 - e^-u must keep u^2/2 ~ 1e-608 (eta = -700) to 20 digits
        for k, value in enumerate(eta):
            # at the float u = fl(e^eta) the code starts from: the rounding of u itself,
            # amplified by d log f / d log u ~ u, is not the formula's error (u = inf above
            # eta = 709.8: the exact e^eta there)
            with np.errstate(over="ignore"):
                rounded = float(np.exp(value))
            u = Decimal(rounded) if np.isfinite(rounded) else Decimal(float(value)).exp()
            e = (-u).exp()
            p = 1 - e
            score, info = u * e / p, u * (u + e - 1) * e / p**2
            # 1e-14: a few roundings of eps = 2.2e-16 each (a 1-ulp exp included)
            assert d[k] == pytest.approx(float(score), rel=1e-14, abs=1e-300)
            assert w[k] == pytest.approx(float(info), rel=1e-14, abs=1e-300)


@pytest.mark.parametrize("link", LINKS)
def test_score_and_hessian_equal_statsmodels(spector, link):
    _, X, y = spector
    model, params = statsmodels_fit(link, X, y)
    # away from the optimum, where the score is not zero (a small step: statsmodels clips
    # the GLM mean to [eps, 1 - eps], so far out it differs by design)
    beta = params * 1.02
    family = BERNOULLI.with_shape(link=link)
    d, w = family.eta_derivatives(y, X @ beta, 1.0)
    assert np.allclose(X.T @ d, model.score(beta), rtol=1e-10, atol=1e-12)
    assert np.allclose(-(X * w[:, None]).T @ X, model.hessian(beta), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("link", LINKS)
def test_fisher_information_is_the_expected_observed_information(link):
    family = BERNOULLI.with_shape(link=link)
    eta = np.linspace(-3.0, 1.5, 10)
    p = family.link.inverse(eta)
    _, w1 = family.eta_derivatives(np.ones_like(eta), eta, 1.0)
    _, w0 = family.eta_derivatives(np.zeros_like(eta), eta, 1.0)
    assert np.allclose(family._fisher_information(p), p * w1 + (1 - p) * w0, rtol=1e-9)
    expected = 1 / np.sqrt(np.mean(p * w1 + (1 - p) * w0))
    assert family.linear_predictor_scale(None, p, 1.0) == pytest.approx(expected, rel=1e-9)


def test_map_equals_statsmodels_and_scikit_learn_on_spector(spector):
    frame, X, y = spector
    analysis = lossbridge.fit("spector", likelihoods="bernoulli", link=list(LINKS), sample=False)
    fits = {dict(r.spec.shape)["link"]: r for r in analysis.fits}
    assert set(fits) == set(LINKS)
    assert [r.spec.name for r in analysis.fits] == [f"bernoulli(link={k})" for k in LINKS]
    sklearn = LogisticRegression(C=np.inf, solver="newton-cg", tol=1e-12, max_iter=1000).fit(
        X[:, 1:], y)
    reference_sk = np.r_[sklearn.intercept_, sklearn.coef_.ravel()]
    for link, result in fits.items():
        assert result.certified and result.certificate.certified
        assert result.spec.scale == "none"
        _, params = statsmodels_fit(link, X, y)
        # 1e-8 relative: converged Newton solutions of one strictly convex problem
        # (condition of X'WX ~ 1e5, so 1e-14 gradients leave ~1e-11 in the coefficients).
        assert np.allclose(result.map.coefficients, params, rtol=1e-8, atol=0), link
        assert np.allclose(result.baseline.coefficients, params, rtol=1e-8, atol=0), link
        if link == "logit":
            assert np.allclose(result.map.coefficients, reference_sk, rtol=1e-8, atol=0)
        # NLL = binary cross-entropy = n * log_loss, with a zero constant
        p = result.spec.family.link.inverse(X @ result.map.coefficients)
        assert result.nll.constant == 0.0
        assert result.nll.nll == pytest.approx(log_loss(y, p, normalize=False), rel=1e-12)
        assert result.nll.loss_term == pytest.approx(result.nll.nll, rel=0)
        assert result.nll.matches_pymc
    document = analysis.to_dict()
    assert all(f["map_scale"] is None for f in document["fits"])
    assert document["options"]["likelihoods"] == ["bernoulli"]
    for details in document["options"]["prior_details"].values():  # no scale, no scale row
        assert set(details) == {"Intercept", "GPA", "TUCE", "PSI"}


def test_bundled_spector_fits_bernoulli_by_default(capsys):
    code = main(["fit", "spector", "--no-sample", "--json", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    import json

    doc = json.loads(out)
    assert [f["likelihood"] for f in doc["fits"]] == ["bernoulli"]
    assert doc["all_certified"] is True


def test_loss_words():
    assert BERNOULLI.loss_name == "binary cross-entropy (log loss)"
    assert BERNOULLI.with_shape(link="probit").exact_name == "probit regression"
    assert BERNOULLI.link.name == "logit"
    assert BERNOULLI.density_kind == "discrete" and BERNOULLI.scale_name is None


def test_weak_priors_are_on_the_logit_scale(spector):
    frame, X, y = spector
    from lossbridge.data.design import build_design
    from lossbridge.data.tables import load_table

    design = build_design(load_table("spector"), FORMULA)
    weak = WeakPriors.from_design(design, BERNOULLI)
    # rstanarm: Normal(0, 2.5 / sd(x_j)) on slopes, Normal(0, 2.5) on the centred intercept
    assert np.allclose(weak.coefficient_sd[1:], 2.5 / frame[["GPA", "TUCE", "PSI"]].std(ddof=1))
    assert weak.intercept_sd == 2.5 and weak.intercept_mean == 0.0
    described = weak.describe(design.terms, None)
    assert set(described) == set(design.terms)  # no scale row
    # the default (identity link) is unchanged: sd(y) autoscaling
    plain = WeakPriors.from_design(design)
    assert np.allclose(plain.coefficient_sd[1:], 2.5 * np.std(y, ddof=1)
                       / frame[["GPA", "TUCE", "PSI"]].std(ddof=1))


def test_non_binary_and_single_class_responses_are_refused(spector):
    frame = spector[0].copy()
    frame.loc[5, "GRADE"] = 2.0
    with pytest.raises(InputError, match=r"needs a 0/1 response in 'GRADE'; got 2 in row 6"):
        lossbridge.fit(frame, FORMULA, likelihoods="bernoulli", sample=False)
    frame["GRADE"] = 1.0
    with pytest.raises(InputError, match=r"needs both classes in 'GRADE'; every value is 1"):
        lossbridge.fit(frame, FORMULA, likelihoods="bernoulli", sample=False)


@pytest.mark.parametrize(("argv", "message"), [
    (["--formula", "GPA ~ TUCE"], "needs a 0/1 response in 'GPA'; got 2.66 in row 1"),
    (["--link", "foo"], "--link must be one of 'logit', 'probit', 'cloglog'; got 'foo'"),
    (["--likelihood", "normal", "--link", "probit"],
     "--link sets a parameter of the Bernoulli likelihood, which is not requested"),
    (["--scale", "fixed"], "--scale fixed chooses how a scale is treated, but no requested "
                           "likelihood has a scale (likelihoods: bernoulli;"),
], ids=["non-binary", "unknown-link", "link-without-bernoulli", "scale-without-a-scale"])
def test_cli_errors_are_one_line_exit_2(capsys, argv, message):
    code = main(["fit", "spector", "--no-sample", *argv])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_cli_single_class_as_a_process(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("y,x\n" + "".join(f"1,{i}\n" for i in range(10)))
    done = subprocess.run([sys.executable, "-m", "lossbridge", "fit", str(path), "--formula",
                           "y ~ x", "--likelihood", "bernoulli", "--no-sample"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "needs both classes in 'y'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_sampled_spector_logit_and_probit_compare_by_loo(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny draws: ESS and misfit warnings are expected
        analysis = lossbridge.fit("spector", link=["logit", "probit"], draws=200, tune=200,
                                  chains=2, cores=1, seed=3, progress=False)
    assert [r.spec.name for r in analysis.fits] == ["bernoulli(link=logit)",
                                                    "bernoulli(link=probit)"]
    assert all(r.posterior is not None for r in analysis.fits)
    assert analysis.comparison is not None
    document = analysis.to_dict()
    assert len(document["comparison"]) == 2
    for f, result in zip(document["fits"], analysis.fits, strict=True):
        assert f["loo"]["estimator"].startswith("PSIS")
        # leave-one-out loses to the in-sample fit: elpd_loo below -NLL at the MAP, by
        # about p_loo (4 coefficients), within a few nats at n = 32
        assert -result.nll.nll - 10 < f["loo"]["elpd_loo"] < -result.nll.nll
    html = analysis.to_html(tmp_path / "spector.html")
    assert (tmp_path / "spector.html").stat().st_size > 0 and html is not None


def test_weak_prior_map_is_the_penalised_logistic_fit(spector):
    """Under weak priors the MAP maximises log-likelihood + rstanarm's priors on the logit
    scale (Normal(0, 2.5/sd(x_j)) slopes, Normal(0, 2.5) centred intercept): checked
    against scipy's trust-region Newton on that objective, written out independently."""
    from scipy.optimize import minimize

    frame, X, y = spector
    sd = frame[["GPA", "TUCE", "PSI"]].std(ddof=1).to_numpy()
    means = frame[["GPA", "TUCE", "PSI"]].mean().to_numpy()
    prior_sd = 2.5 / sd

    def objective(beta):
        eta = X @ beta
        centred = beta[0] + means @ beta[1:]
        value = (np.sum(np.logaddexp(0, eta) - y * eta)
                 + np.sum(0.5 * (beta[1:] / prior_sd) ** 2) + 0.5 * (centred / 2.5) ** 2)
        p = special.expit(eta)
        grad = X.T @ (p - y)
        grad[1:] += beta[1:] / prior_sd**2
        grad += centred / 2.5**2 * np.r_[1.0, means]
        hess = (X * (p * (1 - p))[:, None]).T @ X + np.diag(np.r_[0.0, 1 / prior_sd**2])
        hess += np.outer(np.r_[1.0, means], np.r_[1.0, means]) / 2.5**2
        return value, grad, hess

    start = minimize(lambda b: objective(b)[0], np.zeros(4), jac=lambda b: objective(b)[1],
                     hess=lambda b: objective(b)[2], method="trust-exact").x
    beta = start
    for _ in range(20):  # plain Newton polish from scipy's point (strictly convex)
        _, grad, hess = objective(beta)
        beta = beta - np.linalg.solve(hess, grad)
    assert np.max(np.abs(objective(beta)[1])) < 1e-9
    [result] = lossbridge.fit("spector", priors="weak", sample=False).fits
    # strictly convex objective, both at gradients below 1e-9 (condition ~1e5): 1e-7 relative
    assert np.allclose(result.map.coefficients, beta, rtol=1e-7, atol=0)


def test_a_pass_fail_response_with_positive_is_statsmodels_logit(spector, tmp_path, capsys):
    """GRADE as text ('pass'/'fail') with positive='pass': the same y, so the MAP is
    statsmodels' Logit on the 0/1 GRADE (certified to 1e-8 like the numeric run)."""
    frame, X, y = spector
    text = frame.assign(GRADE=np.where(frame["GRADE"] == 1, "pass", "fail"))
    analysis = lossbridge.fit(text, FORMULA, likelihoods="bernoulli", positive="pass",
                              sample=False)
    [result] = analysis.fits
    reference = sm.Logit(y, X).fit(disp=0).params
    assert np.allclose(result.map.coefficients, reference, rtol=1e-6, atol=1e-8)
    assert result.certified
    document = analysis.to_dict()
    assert document["options"]["positive"] == "pass"
    assert document["data"]["notes"] == ["response 'GRADE': 1 = 'pass', 0 = 'fail'"]
    path = tmp_path / "text.csv"
    text.to_csv(path, index=False)
    code = main(["fit", str(path), "--formula", FORMULA, "--likelihood", "bernoulli",
                 "--positive", "pass", "--no-sample"])
    out = capsys.readouterr().out
    assert code == 0 and "response 'GRADE': 1 = 'pass', 0 = 'fail'" in out
