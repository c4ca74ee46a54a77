"""The report's loss dictionary and the one comparison, as the outputs show them.

* the dictionary panel's numbers are the NLL decomposition's, which equal scipy's and
  PyMC's own log-likelihoods at the MAP (PyMC's ``Normal`` / ``Laplace`` distributions,
  not lossbridge's densities);
* every text a family or the data provide is escaped in the HTML;
* with a quantile-group family present (a test-local family: a Normal density declared
  ``comparison_group = "quantile"`` with a ``tau`` setting), its models are listed in
  their own section and never in the ranking, and the verdict sentence is the same in
  the terminal, the JSON and the HTML.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import statsmodels.api as sm
from scipy import stats

import lossbridge
from lossbridge.core.jsonio import dumps
from lossbridge.data.tables import load_table
from lossbridge.families.base import ShapeParameter
from lossbridge.families.normal import Normal
from lossbridge.families.registry import register_family, unregister_family
from lossbridge.present.dictionary import dictionary_entries
from lossbridge.present.report import _format_number

from ..posterior.test_verdict import html_headline

HOSTILE = "<script>alert(1)</script>"


class Tables(HTMLParser):
    """Rows of every table inside the element with ``id`` ``start`` up to the next h2."""

    def __init__(self, start: str):
        super().__init__()
        self.start, self.inside, self.rows, self.cell = start, False, [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "h2":
            self.inside = attrs.get("id") == self.start
        if self.inside and tag == "tr":
            self.rows.append([])
        if self.inside and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if self.inside and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def section_rows(html: str, section: str) -> list[list[str]]:
    parser = Tables(section)
    parser.feed(html)
    return parser.rows


@pytest.fixture(scope="module")
def engel():
    return load_table("engel").frame[["foodexp", "income"]]


@pytest.fixture(scope="module")
def map_only(engel):
    return lossbridge.fit(engel, "foodexp ~ income", sample=False)


def test_panel_numbers_are_the_nll_split_and_pymc_log_likelihood(map_only, engel, tmp_path):
    X = sm.add_constant(engel["income"]).to_numpy()
    y = engel["foodexp"].to_numpy()
    entries = dictionary_entries(map_only)
    assert [e["title"] for e in entries] == ["Normal", "Laplace"]  # one per family
    assert [len(e["models"]) for e in entries] == [2, 2]  # learned and fixed
    pymc_dist = {"Normal": lambda mu, s: pm.Normal.dist(mu=mu, sigma=s),
                 "Laplace": lambda mu, s: pm.Laplace.dist(mu=mu, b=s)}
    scipy_dist = {"Normal": stats.norm, "Laplace": stats.laplace}
    for entry in entries:
        family = map_only.fits[0].spec.family if entry["title"] == "Normal" else \
            map_only.fits[2].spec.family
        assert entry["density"] == family.density_formula
        assert entry["loss_name"] == family.loss_name and entry["loss_symbol"] == family.loss_symbol
        assert entry["exact_name"] == family.exact_name and entry["solver"]
        for model in entry["models"]:
            fit = map_only.fit_for(model["name"])
            d = fit.nll
            assert (model["constant"], model["loss_term"], model["nll"]) == (
                d.constant, d.loss_term, d.nll)
            assert model["constant"] + model["loss_term"] == pytest.approx(model["nll"], rel=1e-15)
            mu, scale = X @ fit.map.coefficients, fit.map.scale
            # PyMC's own distribution at the MAP: a log-likelihood computed without lossbridge
            pymc_ll = float(pm.logp(pymc_dist[entry["title"]](mu, scale), y).sum().eval())
            assert model["pymc_log_likelihood"] == pytest.approx(pymc_ll, rel=1e-12)
            assert model["nll"] == pytest.approx(
                -scipy_dist[entry["title"]].logpdf(y, loc=mu, scale=scale).sum(), rel=1e-12)
            assert model["relative_difference"] == pytest.approx(
                abs(d.nll - d.pymc_nll) / max(abs(d.pymc_nll), abs(d.constant) + abs(d.loss_term)),
                abs=1e-300)
            assert model["matches_pymc"] and model["certified"] is True
            assert model["certificate"] == fit.certificate.explanation
    # the HTML shows exactly these numbers, formatted as the report formats numbers
    html = map_only.to_html(tmp_path / "r.html").read_text(encoding="utf-8")
    rows = {row[0]: row for row in section_rows(html, "likelihood") if row and row[0] != "model"}
    for entry in entries:
        for model in entry["models"]:
            row = rows[model["name"]]
            assert row[2:7] == [_format_number(model[k], 8) for k in (
                "loss_value", "constant", "loss_term", "nll", "pymc_log_likelihood")]
            assert row[7].startswith(_format_number(model["relative_difference"], 2))
            assert row[8] == "yes"
    assert "exp(−r²/(2σ²)) / (σ √(2π))" in html and "exp(−|r|/b) / (2b)" in html
    # the terminal's short version
    text = map_only.summary()
    assert "Loss dictionary" in text
    assert "  Normal: squared error (RSS)" in text
    assert "    density f(r) = exp(−|r|/b) / (2b)" in text
    assert "classical fit: LAD; certified: laplace-learned yes, laplace-fixed yes" in text


class HostileFamily(Normal):
    name = "hostile"
    title = HOSTILE
    loss_name = "<b>bold loss</b>"
    loss_symbol = "<i>L</i>"
    density_formula = "<img src=x onerror=alert(2)>"
    in_default_set = False


def test_family_and_column_texts_are_escaped(tmp_path):
    register_family(HostileFamily())
    try:
        rng = np.random.default_rng(0)
        x = rng.normal(size=40)
        frame = pd.DataFrame({HOSTILE: x, "y": 1 + x + rng.normal(size=40)})
        analysis = lossbridge.fit(frame, f"y ~ `{HOSTILE}`", likelihoods=["hostile"],
                                  sample=False)
        html = analysis.to_html(tmp_path / "h.html").read_text(encoding="utf-8")
    finally:
        unregister_family("hostile")
    lowered = html.lower()
    assert "<script" not in lowered and "<img src=x" not in lowered
    assert "<b>bold" not in html and "<i>l</i>" not in lowered
    assert "&lt;script&gt;alert(1)&lt;/script&gt; likelihood" in html  # the panel's title
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "&lt;b&gt;bold loss&lt;/b&gt;" in html


class ToyQuantile(Normal):
    """A Normal density declared a quantile model (only where it is shown is tested)."""

    name = "toyq"
    title = "Toy <quantile>"
    loss_name = "toy pinball loss"
    loss_symbol = "TPL"
    comparison_group = "quantile"
    in_default_set = False
    exact_name = "OLS"
    parameters = (ShapeParameter("tau", 0.25, lower=0.0, upper=1.0),)


@pytest.fixture(scope="module")
def with_quantile(engel):
    register_family(ToyQuantile())
    try:
        yield lossbridge.fit(engel, "foodexp ~ income", likelihoods=["normal", "toyq"],
                             draws=200, tune=200, chains=2, cores=1, seed=5, progress=False)
    finally:
        unregister_family("toyq")


@pytest.mark.slow
def test_quantile_models_are_shown_apart_and_the_verdict_is_one(with_quantile, engel, tmp_path):
    analysis = with_quantile
    comparison = analysis.comparison
    quantile_models = ["toyq(tau=0.25)-learned", "toyq(tau=0.25)-fixed"]
    # never ranked, never in the comparison table, never the verdict's pick
    assert list(comparison.table.index) == ["normal-learned", "normal-fixed"] or \
        list(comparison.table.index) == ["normal-fixed", "normal-learned"]
    assert not set(quantile_models) & set(analysis.verdict.ranking)
    assert analysis.verdict.leader in ("normal-learned", "normal-fixed")
    assert list(comparison.quantile_table.index) == quantile_models
    # the mean loss of each quantile model: its loss (here the RSS) over n, from statsmodels
    ols = sm.OLS(engel["foodexp"], sm.add_constant(engel["income"])).fit()
    np.testing.assert_allclose(comparison.quantile_table["mean_loss"].astype(float),
                               ols.ssr / len(engel), rtol=1e-10)
    headline = analysis.verdict.headline
    assert "toyq" not in headline
    # the same verdict sentence in the terminal, the JSON and the HTML
    text = analysis.summary()
    assert text.splitlines()[0] == f"Verdict: {headline}"
    doc = json.loads(dumps(analysis.to_dict()))
    assert doc["verdict"]["headline"] == headline == doc["comparison_summary"][0]
    html = analysis.to_html(tmp_path / "q.html").read_text(encoding="utf-8")
    assert html_headline(html) == headline
    # JSON: the table's new columns, the quantile models apart
    assert [r["model"] for r in doc["comparison"]] == list(comparison.table.index)
    assert {r["counterpart"] for r in doc["comparison"]} == {"OLS"}
    assert {r["likelihood"] for r in doc["comparison"]} == {"Normal"}
    apart = doc["comparison_quantile_models"]
    assert [r["model"] for r in apart] == quantile_models
    assert {r["settings"] for r in apart} == {"tau=0.25"} and all(r["certified"] for r in apart)
    assert [f["model"] for f in doc["verdict"]["not_distributional"]] == quantile_models
    # HTML: the ranked table holds the Normal models only; the quantile section the others
    ranked_rows = [r for r in section_rows(html, "comparison") if r and r[0] != "model"]
    names = [r[0] for r in ranked_rows]
    assert "Quantile models (not ranked)" in html
    assert "Toy &lt;quantile&gt;" in html and "Toy <quantile>" not in html
    first_quantile = names.index(quantile_models[0])
    assert set(names[:first_quantile]) == {"normal-learned", "normal-fixed"}
    assert names[first_quantile:first_quantile + 2] == quantile_models
    assert ranked_rows[first_quantile][2] == "tau=0.25"
    # the terminal shows the same split
    assert "Quantile models (not ranked" in text
