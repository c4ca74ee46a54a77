"""MAP from the PyMC log-density equals the exact minimiser of the loss."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lossbridge
from lossbridge.core.rounding import loss_error_bound
from lossbridge.data.datasets import BUNDLED
from lossbridge.estimation.certificate import COEFFICIENT_RTOL, relative_coefficient_differences
from lossbridge.estimation.exact import exact_lad
from lossbridge.estimation.lad import solve_lad_lp

from ..reference.exact import rational_least_squares
from ..reference.published import ENGEL_LAD, LONGLEY_OLS, STACKLOSS_LAD

# The bundled datasets fitted by the default Normal and Laplace models (a binary set such
# as spector names its own likelihood; tests/families/test_bernoulli.py covers it).
CONTINUOUS = sorted(name for name, d in BUNDLED.items() if d.likelihoods is None)
EPS = np.finfo(float).eps


@pytest.mark.parametrize("name", CONTINUOUS)
def test_every_bundled_dataset_certifies_all_four_fits(map_analyses, name):
    analysis = map_analyses[name]
    assert analysis.models == ["normal-learned", "normal-fixed", "laplace-learned", "laplace-fixed"]
    for fit in analysis.fits:
        assert fit.certificate.certified, fit.certificate.explanation
        assert fit.nll.matches_pymc


@pytest.mark.parametrize("name", CONTINUOUS)
def test_normal_map_equals_exact_rational_ols(map_analyses, name):
    analysis = map_analyses[name]
    d = analysis.design
    exact, rss = rational_least_squares(d.X, d.y)
    for model in ("normal-learned", "normal-fixed"):
        fit = analysis.fit_for(model)
        diff = relative_coefficient_differences(fit.map.coefficients, exact, d)
        assert diff.max() <= COEFFICIENT_RTOL, diff
    # Learned sigma is the closed-form MLE sqrt(RSS/n) (no Jacobian in the MAP objective).
    sigma = analysis.fit_for("normal-learned").map.scale
    assert sigma == pytest.approx(np.sqrt(rss / d.n), rel=1e-10)


def test_normal_map_reaches_nist_longley_values(map_analyses):
    fit = map_analyses["longley"].fit_for("normal-learned")
    nist = np.array([LONGLEY_OLS[t] for t in map_analyses["longley"].design.terms])
    np.testing.assert_allclose(fit.map.coefficients, nist, rtol=1e-10)


@pytest.mark.parametrize(("name", "published", "decimals"),
                         [("engel", ENGEL_LAD, 7), ("stackloss", STACKLOSS_LAD, 8)])
def test_laplace_map_equals_published_lad(map_analyses, name, published, decimals):
    analysis = map_analyses[name]
    expected = np.array([published[t] for t in analysis.design.terms])
    for model in ("laplace-learned", "laplace-fixed"):
        np.testing.assert_allclose(analysis.fit_for(model).map.coefficients, expected,
                                   rtol=0, atol=0.5 * 10.0**-decimals)


@pytest.mark.parametrize("name", CONTINUOUS)
def test_laplace_map_equals_primal_lp_and_b_is_sad_over_n(map_analyses, name):
    analysis = map_analyses[name]
    d = analysis.design
    primal, _ = solve_lad_lp(d.X, d.y, "primal")  # a second, independent HiGHS solve
    sad_primal = np.sum(np.abs(d.y - d.X @ primal))
    learned = analysis.fit_for("laplace-learned")
    sad_map = np.sum(np.abs(d.y - d.X @ learned.map.coefficients))
    # Never worse than the LP, up to the rounding of evaluating both sums of |residuals|
    # (Longley's residuals cancel terms of size 1e7: the bound is about 1e-8 there).
    rounding = (loss_error_bound(d.X, d.y, learned.map.coefficients, "SAD")
                + loss_error_bound(d.X, d.y, primal, "SAD"))
    assert sad_map <= sad_primal + rounding
    assert learned.map.scale == pytest.approx(sad_map / d.n, rel=1e-10)
    if learned.certificate.unique:
        diff = relative_coefficient_differences(learned.map.coefficients, primal, d)
        assert diff.max() <= 1e-7  # HiGHS' own primal feasibility tolerance


def ill_conditioned_frame(seed=3):
    rng = np.random.default_rng(seed)
    year = np.arange(1950.0, 2021.0)
    t = year - 1985
    gdp = 1e12 * np.exp(0.03 * t) * (1 + 0.01 * rng.normal(size=t.size))
    y = 2 + 0.3 * t - 0.02 * t**2 + 1e-4 * t**3 + 1e-12 * gdp + rng.laplace(size=t.size)
    return pd.DataFrame({"year": year, "gdp": gdp, "y": y})


@pytest.mark.slow
def test_ill_conditioned_polynomial_in_year_is_certified():
    frame = ill_conditioned_frame()
    formula = "y ~ year + I(year**2) + I(year**3) + gdp"
    analysis = lossbridge.fit(frame, formula, sample=False)
    d = analysis.design
    assert np.linalg.cond(d.X) > 1e15
    exact, _ = rational_least_squares(d.X, d.y)
    for fit in analysis.fits:
        assert fit.certificate.certified, fit.certificate.explanation
    normal = analysis.fit_for("normal-learned").map.coefficients
    assert relative_coefficient_differences(normal, exact, d).max() <= COEFFICIENT_RTOL
    lad = exact_lad(d)
    assert np.sum(np.abs(d.y - d.X @ analysis.fit_for("laplace-fixed").map.coefficients)) <= (
        lad.loss * (1 + 1e-10)
    )


def test_fixed_and_learned_scale_give_the_same_coefficients(map_analyses):
    for analysis in map_analyses.values():
        for family in ("normal", "laplace"):
            learned = analysis.fit_for(f"{family}-learned").map.coefficients
            fixed = analysis.fit_for(f"{family}-fixed").map.coefficients
            if analysis.fit_for(f"{family}-fixed").certificate.unique is False:
                # a non-unique LAD (a count y, randhie: many tied residuals) has a set of
                # minimisers: the two MAPs are vertices of it with one SAD
                d = analysis.design
                sads = [np.sum(np.abs(d.y - d.X @ b)) for b in (learned, fixed)]
                assert sads[0] == pytest.approx(sads[1], rel=1e-10)
                continue
            assert relative_coefficient_differences(fixed, learned, analysis.design).max() <= 1e-8


def test_user_sigma_changes_the_scale_not_the_coefficients():
    analysis = lossbridge.fit("engel", sigma=10.0, b=10.0, scales="fixed", sample=False)
    base = lossbridge.fit("engel", scales="fixed", sample=False)
    for fit, ref in zip(analysis.fits, base.fits, strict=True):
        flag = "--sigma" if fit.spec.likelihood == "normal" else "--b"
        assert fit.spec.fixed_scale == 10.0 and fit.spec.fixed_scale_source == f"user value ({flag})"
        assert not fit.spec.fixed_scale_is_plug_in and ref.spec.fixed_scale_is_plug_in
        assert fit.map.scale == 10.0
        assert fit.certificate.certified
        assert relative_coefficient_differences(
            fit.map.coefficients, ref.map.coefficients, analysis.design
        ).max() <= 1e-8
    assert base.fits[0].spec.fixed_scale_source.startswith("plug-in MLE of the exact OLS fit")


def test_non_unique_lad_is_certified_on_the_objective_and_warned():
    frame = pd.DataFrame({"x": np.arange(8.0), "y": [1.0, 2, 3, 1, 1, 3, 3, 3]})
    with pytest.warns(lossbridge.NonUniqueSolutionWarning):
        analysis = lossbridge.fit(frame, "y ~ x", likelihoods="laplace", sample=False)
    for fit in analysis.fits:
        cert = fit.certificate
        assert not cert.unique and not cert.coefficients_compared
        assert cert.certified and cert.checks["loss"] and cert.checks["lp_dual"]
        assert "not unique" in cert.explanation
    assert {w["code"] for w in analysis.warnings} == {"lad_not_unique"}
