"""A count y fitted with the Poisson and the Normal: only the Poisson is ranked, in every
output, and ``lossbridge.compare`` refuses the mixed set (live or saved).

One sampled analysis (cpunish, n = 17, tiny draws) serves every test of this module.
"""

from __future__ import annotations

import json
import re

import pytest

import lossbridge
from lossbridge.core.errors import InputError
from lossbridge.core.jsonio import dumps
from lossbridge.posterior.verdict import KIND_GROUPS
from lossbridge.present.report import render_html
from lossbridge.present.text import format_analysis

from ..posterior.test_verdict import html_headline

FORMULA = "EXECUTIONS ~ INCOME + PERPOVERTY + PERBLACK + np.log(VC100k96) + SOUTH + DEGREE"
QUICK = {"draws": 200, "tune": 200, "chains": 2, "cores": 1, "progress": False}


@pytest.fixture(scope="module")
def cpunish():
    import statsmodels.api as sm

    return sm.datasets.cpunish.load_pandas().data


@pytest.fixture(scope="module")
def mixed(cpunish):
    return lossbridge.fit(cpunish, FORMULA, likelihoods=["poisson", "normal"], seed=1, **QUICK)


@pytest.mark.slow
def test_only_the_poisson_is_ranked_in_json_terminal_and_html(mixed):
    document = json.loads(dumps(mixed.to_dict()))
    verdict = document["verdict"]
    assert verdict["ranking"] == ["poisson"]
    assert [row["model"] for row in document["comparison"]] == ["poisson"]
    outside = {row["model"]: row for row in document["comparison_not_ranked_models"]}
    assert set(outside) == {"normal-learned", "normal-fixed"}
    reason = KIND_GROUPS["continuous"][2]
    assert all(row["comparison_group"] == "continuous" and row["not_ranked_reason"] == reason
               for row in outside.values())
    poisson = document["comparison"][0]
    loo = next(f["loo"] for f in document["fits"] if f["model"] == "poisson")
    assert poisson["cross_entropy_nats_per_obs"] == pytest.approx(-loo["elpd_loo"] / 17, rel=1e-12)
    assert poisson["kl_difference_nats_per_obs"] == 0.0

    text = format_analysis(mixed)
    assert text.startswith(f"Verdict: {verdict['headline']}")
    assert f"Models not ranked (continuous density): {reason}" in text
    table = text.split("Model comparison by leave-one-out")[1].split("\n\n")[0]
    assert "H/obs" in table and "dKL/obs" in table and "normal-learned" not in table.split(
        "per observation")[0]

    html = render_html(mixed)
    # the one verdict, word for word, in the report and the notebook view too
    assert html_headline(html) == html_headline(mixed._repr_html_()) == verdict["headline"]
    assert "discrete model" in verdict["headline"] and "not ranked" in verdict["headline"]
    assert "Models with a continuous density (not ranked)" in html
    assert "cross-entropy −elpd_loo/n ± se (nats/obs)" in html
    ranked = html.split('id="comparison"')[1].split("not-ranked-continuous")[0]
    assert "normal-learned" not in re.sub(r"<li>.*?</li>", "", ranked, flags=re.S)
    assert 'alt="hanging rootograms of the discrete fits"' in html
    assert "probability <span" in html and "P(y | μ)" in html


@pytest.mark.slow
def test_compare_refuses_a_mixed_set_live_and_saved(mixed, tmp_path):
    with pytest.raises(InputError, match=r"^compare: the models mix density kinds \(discrete: "
                                         r"poisson; continuous: normal-learned, normal-fixed\)") as e:
        lossbridge.compare(mixed)
    assert "\n" not in str(e.value)
    saved = lossbridge.load(mixed.save(tmp_path / "mixed"))
    with pytest.raises(InputError, match="mix density kinds"):
        lossbridge.compare(saved)
