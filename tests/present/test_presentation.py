"""Presentation of a mixed binary-y analysis (spector: Bernoulli logit and probit beside
the Normal, sampled briefly): no LOO-PIT for discrete models (Czado, Gneiting and Held
2009: the non-randomised PIT of a discrete predictive is not uniform), no residual figures
of a continuous fit of a binary y, each exact fit's forest line beside its own models only,
distinct colours per model, the link in the dictionary, value ± se to the same decimals.
"""

from __future__ import annotations

import re

import pytest

import lossbridge
from lossbridge.core.labels import plus_minus
from lossbridge.models.identity import ModelId
from lossbridge.present import plot_data, plots
from lossbridge.present.dictionary import dictionary_entries
from lossbridge.present.report import _environment, report_context
from lossbridge.present.text import format_analysis


@pytest.fixture(scope="module")
def spector():
    return lossbridge.fit("spector", likelihoods=["bernoulli", "normal"],
                          link=["logit", "probit"], draws=100, tune=100, chains=1, cores=1,
                          seed=1, progress=False)


@pytest.fixture(scope="module")
def context(spector):
    return report_context(spector)


@pytest.mark.slow  # NUTS on spector (4 models, ~60 s for the module)
def test_no_loo_pit_for_discrete_models(spector, context):
    curves = plot_data.loo_pit_curves(spector)
    assert {m.likelihood for m in curves} == {"normal"}  # the continuous models only
    html = _environment().get_template("report.html.j2").render(fragment=True, **context)
    assert html.count("n/a: discrete") == 2  # the two Bernoulli rows of the PPC table
    text = format_analysis(spector)
    ppc = text.split("Posterior predictive p-values")[1].split("\n\n")[0]
    assert ppc.count("n/a: discrete") == 4  # two models x (distance, reference)
    assert "no LOO-PIT for discrete models" in ppc
    assert "LOO-PIT apply" not in text and "LOO-PIT apply" not in html


@pytest.mark.slow  # NUTS on spector (4 models, ~60 s for the module)
def test_no_residual_figures_and_the_reason(spector, context):
    assert plot_data.residual_densities(spector) == [] and plot_data.qq_frames(spector) == []
    assert "residuals" not in context["figures"] and "qq" not in context["figures"]
    assert "y is discrete" in context["residual_note"]


def test_reference_families_are_the_fitted_ones():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    data = pd.DataFrame({"x": x, "y": 1 + 2 * x + rng.normal(size=40)})
    normal = lossbridge.fit(data, "y ~ x", likelihoods="normal", sample=False, progress=False)
    assert [f.name for f in plot_data.reference_families(normal)] == ["normal"]
    assert [d["family"] for d in plot_data.residual_densities(normal)[0]["densities"]] == ["normal"]
    both = lossbridge.fit(data, "y ~ x", likelihoods=["laplace", "normal"], sample=False,
                          progress=False)
    assert [f.name for f in plot_data.reference_families(both)] == ["normal", "laplace"]
    assert plot_data.residual_note(both) is None


@pytest.mark.slow  # NUTS on spector (4 models, ~60 s for the module)
def test_forest_lines_only_beside_their_own_models(spector, context):
    lines = {b["name"]: b for b in plot_data.forest_baselines(spector)}
    assert lines["OLS"]["models"] == ["normal-learned", "normal-fixed"]
    assert lines["logistic regression"]["models"] == ["bernoulli(link=logit)"]
    assert lines["probit regression"]["models"] == ["bernoulli(link=probit)"]
    # distinct styles, named in the caption from the fits present (no LAD here)
    assert len({b["position"] for b in lines.values()}) == 3
    assert "dashed line OLS" in context["forest_lines"]
    assert not any("LAD" in line for line in context["forest_lines"])


@pytest.mark.slow  # NUTS on spector (4 models, ~60 s for the module)
def test_colours_differ_by_model_and_family(context):
    colors = list(context["colors"].values())
    assert len(set(colors)) == len(colors)  # logit, probit, normal-learned, normal-fixed
    family = [plots.model_color(ModelId(name, "none")) for name in ("poisson", "bernoulli")]
    family.append(plots.model_color(ModelId("negbin", "none", (("alpha", None),))))

    def rgb(c):
        return [int(c[i:i + 2], 16) for i in (1, 3, 5)]

    # every pair of the discrete families' colours far apart (Euclidean RGB > 100 of 441)
    for i in range(3):
        for j in range(i):
            assert sum((a - b) ** 2 for a, b in zip(rgb(family[i]), rgb(family[j]),
                                                    strict=True)) ** 0.5 > 100


@pytest.mark.slow  # NUTS on spector (4 models, ~60 s for the module)
def test_dictionary_states_the_link(spector):
    links = {e["settings"]: e["link"] for e in dictionary_entries(spector)}
    assert links["link=logit"] == ("link logit: mean of y (the μ or p above) = g⁻¹(η) = "
                                   "1 / (1 + e^(−η)), η = Xβ")
    assert "Φ(η)" in links["link=probit"]
    assert links[""] is None  # the Normal: identity link


@pytest.mark.parametrize(("value", "se", "shown"), [
    (0.02, 0.0259, "0.020 ± 0.026"), (0.6, 0.8, "0.60 ± 0.80"), (123.456, 12.3, "123 ± 12"),
    (-0.001, 0.0996, "0.00 ± 0.10"), (0.5, 0.000123, "0.50000 ± 0.00012")])
def test_plus_minus_same_decimals(value, se, shown):
    assert plus_minus(value, se) == shown


@pytest.mark.slow  # NUTS on spector (4 models, ~60 s for the module)
def test_nats_per_obs_printed_to_the_same_decimals(spector, context):
    text = format_analysis(spector)
    table = text.split("Model comparison by leave-one-out")[1].split("per observation")[0]
    for result in spector.fits:
        if result.spec.family.density_kind != "discrete":
            continue  # the ranked models
        row = next(line for line in table.splitlines() if line.startswith(result.spec.name))
        record = spector.comparison.table.loc[result.spec.name]
        value, se = plus_minus(record["cross_entropy_nats_per_obs"],
                               record["cross_entropy_se"]).split(" ± ")
        assert f" {value} " in row and f" {se} " in row
    rows = context["comparison"]["rows"]
    html = _environment().get_template("report.html.j2").render(fragment=True, **context)
    for row in rows:
        if row["ranked"]:
            assert plus_minus(row["cross_entropy_nats_per_obs"], row["cross_entropy_se"]) in html


def test_wide_tables_wrap():
    from importlib.resources import files

    css = (files("lossbridge") / "present/templates/report.html.j2").read_text()
    assert re.search(r"\.lb th \{ white-space: normal;", css)
    assert "td.prior { white-space: normal" in css
