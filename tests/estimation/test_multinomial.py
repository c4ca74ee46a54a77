"""The exact multinomial logit (estimation/multinomial.py) and its certificate.

References: statsmodels' ``MNLogit`` (Newton to 1e-14) on anes96 and on simulated data;
the NLL evaluated in 50-digit decimal arithmetic (the standard library's ``decimal``) from the same floating-point inputs,
which the certificate's rounding bound must cover; a perturbed MAP the certificate must
reject.
"""

from __future__ import annotations

import dataclasses
import decimal

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import lossbridge
from lossbridge.data.design import build_design
from lossbridge.data.tables import load_table
from lossbridge.estimation.certificate import certify
from lossbridge.estimation.exact import SOLVERS, negative_log_posterior
from lossbridge.estimation.multinomial import exact_multinomial, newton_multinomial
from lossbridge.families.categorical import CATEGORICAL
from lossbridge.models.spec import ModelSpec

ANES = "PID ~ logpopul + selfLR + age + educ + income"


@pytest.fixture(scope="module")
def anes():
    frame = sm.datasets.anes96.load_pandas().data
    return frame, build_design(load_table(frame), ANES, classes=True)


@pytest.fixture(scope="module")
def anes_result(anes):
    [result] = lossbridge.fit(anes[0], ANES, likelihoods="categorical", sample=False).fits
    return result


def exact_log_probabilities(X: np.ndarray, codes: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """log softmax(x_i B)_{y_i} per row in 50-digit decimal arithmetic from the float
    inputs (``Decimal(float)`` is exact), rounded once to float."""
    D = decimal.Decimal
    out = []
    with decimal.localcontext() as context:
        context.prec = 50
        blocks = beta.reshape(-1, X.shape[1])
        for x, y in zip(X, codes.astype(int), strict=True):
            eta = [D(0)] + [sum((D(float(a)) * D(float(b)) for a, b in zip(x, block, strict=True)),
                                D(0)) for block in blocks]
            out.append(float(eta[y] - sum((e.exp() for e in eta), D(0)).ln()))
    return np.array(out)


def test_exact_fit_is_mnlogit_and_certified(anes):
    frame, design = anes
    fit = SOLVERS[CATEGORICAL.exact_solver](CATEGORICAL, design)
    result = sm.MNLogit(design.y, design.X).fit(method="newton", tol=1e-14, maxiter=100, disp=0)
    expected = np.asarray(result.params).T.reshape(-1)
    np.testing.assert_allclose(fit.coefficients, expected, rtol=1e-8, atol=0)  # measured 1.6e-14
    assert fit.kkt["holds"] and fit.kkt["convex"] and fit.unique
    assert fit.kkt["max_gradient_over_bound"] <= 1.0
    assert fit.objective == pytest.approx(-result.llf, rel=1e-12) and fit.loss == fit.objective


def test_the_start_does_not_matter(anes):
    """Strictly concave: Newton from the default start and from a far one (every
    coefficient 1, probabilities near 0 and 1) reaches the same point."""
    _, design = anes
    near = newton_multinomial(CATEGORICAL, design.X, design.y)
    far = newton_multinomial(CATEGORICAL, design.X, design.y,
                             beta_start=np.full(design.k, 0.05))
    assert near.kkt()["holds"] and far.kkt()["holds"]
    np.testing.assert_allclose(far.coefficients, near.coefficients, rtol=1e-9)


def test_objective_rounding_bound_covers_the_exact_evaluation(anes, anes_result):
    """The certificate compares the MAP's NLL with the fit's within a rounding bound:
    10 x (eta's rounding carried through log softmax one linear predictor at a time, plus
    the n-term sum's), at both points. At each point the float terms are within a tenth of
    half that bound of their 50-digit values, term by term (measured: 1.8e-13 summed against
    a bound of 6.6e-9, the n-term sum's part dominating), and the float NLL too."""
    from lossbridge.core.rounding import SAFETY

    _, design = anes
    certificate = anes_result.certificate
    one_point = certificate.loss_tolerance * max(abs(certificate.objective_exact), 1.0) / 2
    for beta in (anes_result.map.coefficients, certificate.reference.coefficients):
        mu = CATEGORICAL.link.inverse(design.linear_predictor(beta))
        terms = CATEGORICAL.logpdf(design.y, mu, 1.0)
        exact = exact_log_probabilities(design.X, design.y, beta)
        assert np.sum(np.abs(terms - exact)) <= one_point / SAFETY
        assert abs(negative_log_posterior(CATEGORICAL, design, beta, 1.0, {})
                   + float(np.sum(exact))) <= one_point / SAFETY
    assert one_point < 1e-11 * abs(certificate.objective_exact)  # not vacuous (measured 2.3e-12)


def test_certificate_rejects_a_perturbed_map(anes, anes_result):
    _, design = anes
    spec = ModelSpec("categorical", "none")
    exact = anes_result.certificate.reference
    assert certify(spec, design, anes_result.map, exact).certified
    beta = anes_result.map.coefficients.copy()
    beta[9] *= 1 + 1e-7
    moved = dataclasses.replace(anes_result.map, coefficients=beta)
    certificate = certify(spec, design, moved, exact)
    assert not certificate.certified and not certificate.checks["coefficients"]


def test_separated_levels_have_no_certified_fit():
    """Three levels on three intervals of x (completely separated): the likelihood has no
    maximum, Newton's iterates run off and the fit is not certified (the pipeline checks
    separation first and never asks for it)."""
    x = np.linspace(-3, 3, 30)
    frame = pd.DataFrame({"g": np.array(list("abc"))[np.digitize(x, [-1.0, 1.0])], "x": x})
    design = build_design(load_table(frame), "g ~ x", classes=True)
    fit = exact_multinomial(CATEGORICAL, design)
    # measured: the gradient 8e10 times its bound, the information singular, |beta| 5e6
    assert not fit.kkt["holds"] and np.max(np.abs(fit.coefficients)) > 1e3
