"""The outputs of a categorical y: class shares as the predictive statistics (one per
level, labelled by it), class counts instead of the codes' mean, the class-frequency,
per-level calibration and confusion figures instead of a rootogram, the forest as a
level x term grid, "multiclass cross-entropy = Categorical NLL" with its numbers.

The data: 300 rows drawn from a known multinomial logit with three text levels, one of
them full of HTML ("a&b<i>", sorted first as text, so the reference), fitted with
2 chains x 200 draws (about 6 s). Independent references: the raw column's own counts,
statsmodels' ``MNLogit`` probabilities for the confusion counts, and the MLE's score
equation for the intercept, sum_i P(y_i = c) = n_c, for the expected frequencies.
"""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import lossbridge
from lossbridge.core.jsonio import dumps
from lossbridge.families.registry import get_family
from lossbridge.present import plot_data
from lossbridge.present.report import _forest_grid, render_html
from lossbridge.present.text import format_analysis

LEVELS = ("blue", "red", "a&b<i>")
FORMULA = "colour ~ x1 + x2"
# The figures of a categorical y's report, in order (their alt texts).
CATEGORICAL_FIGURES = ["forest plot of every coefficient across the models",
                       "observed and predicted frequency of each level",
                       "calibration of the predicted probability of each level",
                       "observed level against the most probable level at the MAP",
                       "posterior predictive checks"]


def categorical_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """y from a multinomial logit with three levels (the first of LEVELS has eta 0)."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    eta = np.column_stack([np.zeros(n), 0.3 + 1.0 * x1 - 0.5 * x2, -0.2 - 0.8 * x1 + 0.7 * x2])
    p = np.exp(eta - eta.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    codes = np.sum(rng.random(n)[:, None] > np.cumsum(p, axis=1), axis=1)
    return pd.DataFrame({"colour": np.array(LEVELS)[codes], "x1": x1, "x2": x2})


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return categorical_frame()


@pytest.fixture(scope="module")
def analysis(frame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # low ESS at 2 x 200 draws: not what is tested here
        return lossbridge.fit(frame, FORMULA, likelihoods="categorical", draws=200, tune=200,
                              chains=2, seed=1, progress=False)


@pytest.fixture(scope="module")
def html(analysis) -> str:
    return render_html(analysis)


def observed_counts(frame) -> dict[str, int]:
    return frame["colour"].value_counts().to_dict()


def test_the_family_hook_gives_one_share_per_level_and_none_elsewhere():
    statistics = get_family("categorical").ppc_statistics(("x", "y", "z"))
    assert list(statistics) == ["share x", "share y", "share z"]
    values = np.array([[0, 2, 2, 1], [1, 1, 1, 1]])
    assert statistics["share z"](values, axis=1).tolist() == [0.5, 0.0]
    assert get_family("bernoulli").ppc_statistics(None) is None  # the generic moments
    assert get_family("normal").ppc_statistics(None) is None


def test_predictive_checks_are_class_shares_labelled_by_level(analysis, frame):
    classes = analysis.design.classes
    assert classes == ("a&b<i>", "blue", "red")  # text order: the reference first
    ppc = analysis.fits[0].posterior.ppc
    assert list(ppc.statistics) == [f"share {level}" for level in classes]
    counts = observed_counts(frame)
    for level in classes:  # T(y) from the raw column, not from the codes
        assert ppc.statistics[f"share {level}"].observed == counts[level] / len(frame)
    # every replicate's shares sum to one (each replicated row has exactly one level)
    total = sum(check.replicated for check in ppc.statistics.values())
    np.testing.assert_allclose(total, 1.0, rtol=0, atol=1e-12)
    assert all(0.0 <= p <= 1.0 for p in ppc.p_values.values())
    # one bin per level: the observed histogram is the observed shares
    np.testing.assert_allclose(ppc.histogram.observed,
                               [counts[level] / len(frame) for level in classes], rtol=1e-12)


def test_class_frequencies_match_the_data_and_the_score_equation(analysis, frame):
    (panel,) = plot_data.class_frequencies(analysis)
    counts = observed_counts(frame)
    assert panel["levels"] == list(analysis.design.classes)
    assert panel["observed"].tolist() == [counts[level] for level in panel["levels"]]
    # At the MLE of a model with an intercept, sum_i P(y_i = c) = n_c for every level (the
    # intercept's score equations; the reference level's follows as the shares sum to 1).
    # The MAP is certified equal to the MLE within ~1e-12, so 1e-8 relative is ample.
    np.testing.assert_allclose(panel["expected"], panel["observed"], rtol=1e-8)
    assert panel["probability"] == plot_data.PREDICTIVE_INTERVAL
    assert np.all(panel["low"] <= panel["high"])
    assert np.all((panel["low"] >= 0) & (panel["high"] <= len(frame)))
    # the observed count sits inside its 90% predictive interval here (all p-values near 1/2)
    assert np.all((panel["low"] <= panel["observed"]) & (panel["observed"] <= panel["high"]))


def test_one_bin_calibration_is_the_share_of_each_level(analysis, frame):
    (panel,) = plot_data.class_calibration(analysis, bins=1)
    counts = observed_counts(frame)
    for curve in panel["curves"]:
        share = counts[curve["level"]] / len(frame)
        assert curve["observed"].tolist() == [share]
        np.testing.assert_allclose(curve["predicted"], [share], rtol=1e-8)  # score equation
    (ten,) = plot_data.class_calibration(analysis)
    assert all(c["predicted"].size == 10 for c in ten["curves"])


def test_confusion_counts_equal_statsmodels_mnlogit_predictions(analysis, frame):
    import statsmodels.api as sm

    design = analysis.design
    codes = design.y.astype(int)
    probabilities = sm.MNLogit(codes, design.X).fit(disp=0, method="newton", tol=1e-12).predict()
    reference = np.zeros((3, 3), dtype=int)
    np.add.at(reference, (codes, np.argmax(probabilities, axis=1)), 1)
    (panel,) = plot_data.confusion_tables(analysis)
    np.testing.assert_array_equal(panel["counts"], reference)
    assert panel["accuracy"] == np.trace(reference) / len(frame)
    counts = observed_counts(frame)
    assert panel["counts"].sum(axis=1).tolist() == [counts[level] for level in panel["levels"]]


def test_no_rootogram_or_binary_calibration_for_a_categorical_y(analysis):
    assert plot_data.rootograms(analysis) == []
    assert plot_data.calibration_curves(analysis) == []


def test_the_report_shows_levels_escaped_and_the_categorical_figures(html):
    alts = re.findall(r'<img [^>]*alt="([^"]*)"', html)
    assert alts == CATEGORICAL_FIGURES
    assert "a&b<i>" not in html and "a&amp;b&lt;i&gt;" in html  # every level escaped
    assert "response levels (rows)" in html and "response mean / sd" not in html
    assert "<th>p(share blue)</th>" in html and "p(mean)" not in html


def test_cross_entropy_is_the_nll_with_its_numbers(analysis, html):
    nll = analysis.fits[0].nll
    assert nll.constant == 0 and nll.loss == nll.nll
    per_row = nll.nll / analysis.design.n
    assert "multiclass cross-entropy (log loss) = Categorical NLL" in html
    assert f"{per_row:.6g} nats per row" in html
    text = format_analysis(analysis)
    assert (f"categorical: multiclass cross-entropy (log loss) = Categorical NLL: CE = "
            f"{nll.loss:.6g} nats = NLL {nll.nll:.6g} ({per_row:.6g} nats per row)") in text
    assert "link softmax: class probabilities" in text


def test_text_and_json_give_the_classes_and_their_counts(analysis, frame):
    counts = observed_counts(frame)
    text = format_analysis(analysis)
    assert ("rows per level of 'colour': " + ", ".join(
        f"{level}: {counts[level]} ({100 * counts[level] / len(frame):.1f}%)"
        for level in analysis.design.classes)) in text
    doc = json.loads(dumps(analysis.to_dict()))
    assert doc["data"]["classes"] == ["a&b<i>", "blue", "red"]
    assert doc["data"]["reference"] == "a&b<i>"
    assert doc["data"]["class_counts"] == {level: counts[level] for level in doc["data"]["classes"]}
    assert "y_summary" not in doc["data"]  # the codes' mean would mean nothing
    assert list(doc["fits"][0]["ppc"]["p_values"]) == [f"share {c}" for c in doc["data"]["classes"]]
    assert "3 classes (reference 'a&b<i>')" in repr(analysis)


def test_the_forest_is_a_grid_of_terms_by_level(analysis):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    design = analysis.design
    fig, axes = _forest_grid(plot_data.forest_frame(analysis), plot_data.forest_baselines(analysis),
                             design)
    assert axes.shape == (3, 2)  # rows: Intercept, x1, x2; columns: levels blue, red
    titles = [[ax.get_title(loc="left") for ax in row] for row in axes]
    assert titles == [["Intercept[blue]", "Intercept[red]"], ["x1[blue]", "x1[red]"],
                      ["x2[blue]", "x2[red]"]]
    # each panel draws its own coefficient: the MAP diamond at the MAP's value
    map_of = dict(zip(design.terms, analysis.fits[0].map.coefficients, strict=True))
    for row in axes:
        for ax in row:
            term = ax.get_title(loc="left")
            xs = [line.get_xdata()[0] for line in ax.get_lines() if line.get_marker() == "D"]
            assert xs == [pytest.approx(map_of[term], rel=1e-12)]
    plt.close(fig)
