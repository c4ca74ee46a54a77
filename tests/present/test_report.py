"""The HTML report: structure, degradation without sampling, escaping, atomic writes."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import lossbridge
from lossbridge.core.errors import InputError
from lossbridge.interfaces.cli import main

SECTIONS = ["verdict", "data", "likelihood", "map", "posterior", "fixed-vs-learned", "fit",
            "comparison", "oracle"]
HOSTILE = "<script>alert(1)</script>"


class Collector(HTMLParser):
    """Collects ids, image sources, every src/href, scripts and visible text."""

    def __init__(self):
        super().__init__()
        self.ids, self.images, self.links, self.scripts, self.text = [], [], [], 0, []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "img":
            self.images.append(attrs)
        for key in ("src", "href"):
            if key in attrs:
                self.links.append(attrs[key])
        if tag == "script":
            self.scripts += 1

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Collector:
    collector = Collector()
    collector.feed(html)
    return collector


def test_full_report_structure(sampled_engel, tmp_path):
    path = sampled_engel.to_html(tmp_path / "engel.html", command="lossbridge run models/engel.toml")
    html = path.read_text(encoding="utf-8")
    doc = parse(html)
    assert [s for s in SECTIONS if s in doc.ids] == SECTIONS
    # forest, scales, fixed-vs-learned, residuals, residuals vs fitted, QQ, ppc, loo-pit,
    # comparison
    assert len(doc.images) == 9
    alts = [img["alt"] for img in doc.images]
    assert "residuals against fitted values of the exact fits" in alts
    assert "QQ plots of the residuals against the fitted Normal and Laplace" in alts
    assert "misfit" in doc.ids  # the misfit checks, under the predictive checks
    assert all(img["src"].startswith("data:image/") and img.get("alt") for img in doc.images)
    assert doc.scripts == 0
    assert all(link.startswith("data:") for link in doc.links)  # nothing fetched from a network
    text = " ".join(doc.text)
    # the verdict box leads with the analysis' one verdict; b = SAD/n is not ranked
    verdict = sampled_engel.verdict
    assert verdict.headline in text and verdict.best == "laplace-learned"
    assert "laplace-fixed is not ranked" in text and "not ranked" in text
    assert "Every MAP estimate is certified" in text
    assert "lossbridge run models/engel.toml" in text and "20261201" in text
    assert "pymc 5." in text and "arviz 0." in text
    # The numbers in the report are the analysis' numbers.
    ols = sampled_engel.fit_for("normal-learned").baseline.coefficients
    assert f"{ols[1]:.8g}" in text


def test_no_sample_report_says_map_only(tmp_path):
    analysis = lossbridge.fit("stackloss", sample=False)
    html = analysis.to_html(tmp_path / "r.html").read_text()
    doc = parse(html)
    assert {"verdict", "data", "likelihood", "map"} <= set(doc.ids)
    assert not {"fixed-vs-learned", "comparison", "oracle"} & set(doc.ids)
    text = " ".join(doc.text)
    assert "MAP estimates only" in text and "--no-sample" in text
    # forest (MAP and exact fits), residuals, residuals vs fitted, QQ (from the exact fits)
    assert len(doc.images) == 4
    assert "misfit" not in doc.ids  # the misfit checks need the posterior


def test_residual_figures_are_drawn_from_the_exact_fits(tmp_path):
    from lossbridge.present import plot_data

    # only the fitted families are drawn: a Normal-only fit has a Normal QQ panel alone
    alone = lossbridge.fit("stackloss", likelihoods="normal", sample=False)
    assert [q["family_name"] for q in plot_data.qq_frames(alone)] == ["normal"]
    analysis = lossbridge.fit("stackloss", likelihoods=["normal", "laplace"], sample=False)
    design = analysis.design
    base, lad = analysis.fits[0].baseline, analysis.fits[2].baseline
    residuals = design.y - design.X @ base.coefficients
    scatter, _ = plot_data.residuals_vs_fitted(analysis)
    assert scatter["fit"] == "OLS" and scatter["shown"] == design.n
    np.testing.assert_allclose(scatter["residuals"], residuals, rtol=0, atol=1e-12)
    normal, laplace = plot_data.qq_frames(analysis)
    assert (normal["fit"], laplace["fit"]) == ("OLS", "LAD")  # each family its own fit's
    np.testing.assert_array_equal(normal["sample"], np.sort(residuals))
    n = design.n
    expected = stats.norm.ppf((np.arange(n) + 0.5) / n, scale=np.sqrt(np.mean(residuals**2)))
    np.testing.assert_allclose(normal["theoretical"], expected, rtol=1e-12)
    lad_residuals = design.y - design.X @ lad.coefficients
    assert laplace["scale"] == pytest.approx(np.mean(np.abs(lad_residuals)), rel=1e-12)
    doc = parse(analysis.to_html(tmp_path / "r.html").read_text())
    assert len(doc.images) == 4


def test_hostile_names_are_text_not_markup(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    frame = pd.DataFrame({HOSTILE: x, "price$": rng.normal(size=40), "y": 1 + x + rng.normal(size=40)})
    data = tmp_path / "<img src=x onerror=alert(1)>.csv"
    frame.to_csv(data, index=False)
    formula = f"y ~ `{HOSTILE}` + `price$`"
    out = tmp_path / "hostile.html"
    code = main(["report", str(data), "--formula", formula, "--out", str(out), "--draws", "100",
                 "--tune", "100", "--chains", "2", "--seed", "1", "-q"])
    assert code == 0
    html = out.read_text()
    assert "<script" not in html.lower()
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;.csv" in html
    assert parse(html).scripts == 0


def test_report_is_written_atomically(sampled_engel, tmp_path, interrupted_rename):
    target = tmp_path / "report.html"
    target.write_text("previous report")
    with pytest.raises(KeyboardInterrupt):
        sampled_engel.to_html(target)
    assert target.read_text() == "previous report"  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary left


def test_report_path_errors(sampled_engel, tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        sampled_engel.to_html(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        sampled_engel.to_html(tmp_path / "missing" / "r.html")


def test_report_cli_checks_the_output_before_fitting(capsys, tmp_path):
    code = main(["report", "engel", "--out", str(tmp_path / "nope" / "r.html")])
    err = capsys.readouterr().err
    assert code == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1


def test_notebook_representation_is_a_fragment(sampled_engel):
    fragment = sampled_engel._repr_html_()
    assert "<html" not in fragment and 'id="verdict"' in fragment


def test_same_seed_gives_the_same_report_body(tmp_path):
    """Figures and tables are deterministic for a seed; only the footer's times differ."""
    reports = []
    for i in range(2):
        analysis = lossbridge.fit("stackloss", likelihoods="laplace", scales="fixed", seed=5,
                                  draws=200, tune=200, chains=2, progress=False)
        reports.append(analysis.to_html(tmp_path / f"r{i}.html").read_text())
    body = [re.sub(r"<footer>.*</footer>", "", r, flags=re.S) for r in reports]
    assert body[0] == body[1]
