"""The report of a discrete likelihood: "probability P(y | μ)", no residual figures (no
additive noise), a rootogram of observed against expected counts, "none" for the scale.

MAP-only fits of the Poisson on cpunish (n = 17); the expected frequencies are checked
against scipy's Poisson pmf at statsmodels' GLM fit (the MAP equals it within 1e-8
relative, so the frequencies agree within 1e-6 relative).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import stats

import lossbridge
from lossbridge.present import plot_data
from lossbridge.present.dictionary import dictionary_entries, dictionary_lines
from lossbridge.present.report import render_html

FORMULA = "EXECUTIONS ~ INCOME + PERPOVERTY + PERBLACK + np.log(VC100k96) + SOUTH + DEGREE"


@pytest.fixture(scope="module")
def cpunish():
    import statsmodels.api as sm

    return sm.datasets.cpunish.load_pandas().data


@pytest.fixture(scope="module")
def poisson(cpunish):
    return lossbridge.fit(cpunish, FORMULA, likelihoods="poisson", sample=False, progress=False)


def glm_means(data, formula=FORMULA) -> np.ndarray:
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    return np.asarray(smf.glm(formula, data, family=sm.families.Poisson()).fit(tol=1e-12).mu)


def test_dictionary_says_probability_for_a_discrete_family_and_density_otherwise(cpunish):
    both = lossbridge.fit(cpunish, FORMULA, likelihoods=["poisson", "normal"], sample=False,
                          progress=False)
    entries = {e["title"]: e for e in dictionary_entries(both)}
    assert (entries["Poisson"]["density_label"], entries["Poisson"]["density_symbol"]) == (
        "probability", "P(y | μ)")
    assert (entries["Normal"]["density_label"], entries["Normal"]["density_symbol"]) == (
        "density", "f(r)")
    lines = "\n".join(dictionary_lines(both))
    assert "probability P(y | μ) = μʸ e^(−μ) / y!" in lines
    assert "density f(r) = exp(" in lines
    # with a discrete y, y - X beta of the OLS fit is no noise: no residual figures, and why
    assert plot_data.residual_densities(both) == []
    assert plot_data.qq_frames(both) == [] and plot_data.residuals_vs_fitted(both) == []
    assert "y is discrete" in plot_data.residual_note(both)


def test_no_residual_figures_without_additive_noise(poisson):
    assert not poisson.fits[0].spec.family.additive_noise
    assert plot_data.residual_densities(poisson) == []
    assert plot_data.residuals_vs_fitted(poisson) == []
    assert plot_data.qq_frames(poisson) == []


def test_rootogram_frequencies_equal_scipy_at_the_glm_fit(poisson, cpunish):
    (panel,) = plot_data.rootograms(poisson)
    y = cpunish["EXECUTIONS"].to_numpy()
    mu = glm_means(cpunish)
    values = np.arange(0, y.max() + 1)
    assert np.array_equal(panel["values"], values) and not panel["pooled"]
    assert np.array_equal(panel["observed"], np.bincount(y.astype(int), minlength=values.size))
    expected = stats.poisson.pmf(values[:, None], mu[None, :]).sum(axis=1)
    assert panel["expected"] == pytest.approx(expected, rel=1e-6)


def test_rootogram_pools_the_tail(poisson, cpunish, monkeypatch):
    monkeypatch.setattr(plot_data, "ROOTOGRAM_VALUES", 10)
    (panel,) = plot_data.rootograms(poisson)
    y = cpunish["EXECUTIONS"].to_numpy()
    mu = glm_means(cpunish)
    assert panel["pooled"] and panel["values"][-1] == 9
    assert panel["observed"][-1] == np.sum(y >= 9)
    assert panel["expected"][-1] == pytest.approx(stats.poisson.sf(8, mu).sum(), rel=1e-6)
    assert panel["observed"].sum() == y.size
    assert panel["expected"].sum() == pytest.approx(y.size, rel=1e-9)


def test_calibration_only_for_a_binary_y_and_equal_to_scipy(poisson, cpunish):
    assert plot_data.calibration_curves(poisson) == []  # counts, not binary
    data = cpunish.assign(ANY=(cpunish["EXECUTIONS"] > 1).astype(float))
    formula = "ANY ~ INCOME + PERPOVERTY + SOUTH"
    binary = lossbridge.fit(data, formula, likelihoods="poisson", sample=False, progress=False)
    (curve,) = plot_data.calibration_curves(binary, bins=4)
    p_one = stats.poisson.pmf(1, glm_means(data, formula))
    order = np.argsort(p_one, kind="stable")
    groups = np.array_split(order, 4)
    assert curve["predicted"] == pytest.approx([p_one[g].mean() for g in groups], rel=1e-6)
    assert np.array_equal(curve["observed"], [data["ANY"].to_numpy()[g].mean() for g in groups])


def test_report_of_a_discrete_only_analysis(poisson):
    html = render_html(poisson)
    assert 'alt="hanging rootograms of the discrete fits"' in html
    assert "residual histograms" not in html and "QQ plots" not in html
    assert "probability <span" in html and "P(y | μ) = " in html
    assert "f(r) = " not in html
    # the NLL panel and the certificate say "none" for the scale, never "None ="
    assert re.search(r"<td>none</td><td>18\.59", html)
    assert "None =" not in html and "fixed</td>" not in html


def test_terminal_certificate_and_nll_say_none_for_the_scale(poisson):
    assert poisson.certificates().loc["poisson", "scale"] == "none"
    assert poisson.nll_table().loc["poisson", "scale"] == "none"


def test_rootogram_pools_a_sparse_tail_at_a_quantile(cpunish, monkeypatch):
    # 0.99 quantile (inverted CDF) of the 17 counts is their maximum: nothing pooled; at
    # 0.5 the median (1, counted as in numpy) is the last value, pooling every larger count
    poisson = lossbridge.fit(cpunish, FORMULA, likelihoods="poisson", sample=False,
                             progress=False)
    monkeypatch.setattr(plot_data, "ROOTOGRAM_TAIL_QUANTILE", 0.5)
    (panel,) = plot_data.rootograms(poisson)
    y = cpunish["EXECUTIONS"].to_numpy()
    median = int(np.ceil(np.quantile(y, 0.5, method="inverted_cdf")))
    assert panel["pooled"] and panel["values"][-1] == median
    assert panel["observed"][-1] == np.sum(y >= median)
    assert panel["expected"][-1] == pytest.approx(
        stats.poisson.sf(median - 1, glm_means(cpunish)).sum(), rel=1e-6)


def test_rootogram_axis_label_and_limits_hold_bars_and_curve():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from lossbridge.models.identity import ModelId
    from lossbridge.present import plots

    assert plots.rootogram_xlabel(np.array([0, 1]), False) == "y"
    assert plots.rootogram_xlabel(np.arange(0, 8), True) == "count y (last bin: y ≥ 7)"
    assert plots.rootogram_xlabel(np.arange(0, 8), False) == "count y"
    # a bar hanging below zero (observed 16 > expected 1) and a curve above every bar
    data = {"model": ModelId("poisson", "none"), "name": "poisson", "values": np.array([0, 1, 2]),
            "observed": np.array([16.0, 1.0, 0.0]), "expected": np.array([1.0, 25.0, 4.0]),
            "pooled": False}
    fig, ax = plt.subplots()
    plots.plot_rootogram(ax, data)
    low, high = ax.get_ylim()
    plt.close(fig)
    assert low < np.sqrt(1.0) - np.sqrt(16.0) and high > np.sqrt(25.0)
