"""--exposure said where the model is: the terminal header, the HTML report's data table
and each family's loss dictionary entry (log μ = Xβ + log(t)), escaped in HTML."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import pytest

import lossbridge
from lossbridge.present.report import render_html
from lossbridge.present.text import format_analysis

COLUMN = "t<&>"  # a column name that must be escaped in HTML
STATEMENT = f"log μ = Xβ + log({COLUMN}): exposure {COLUMN} as an offset"


def counts(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    x, t = rng.normal(size=n), rng.uniform(0.2, 5.0, size=n)
    return pd.DataFrame({"y": rng.poisson(t * np.exp(0.3 + 0.5 * x)), "x": x, COLUMN: t})


@pytest.fixture(scope="module")
def analyses():
    frame = counts()
    return {exposure: lossbridge.fit(frame, "y ~ x", likelihoods=["poisson", "negbin"],
                                     exposure=exposure, sample=False)
            for exposure in (COLUMN, None)}


def test_terminal_says_the_offset_in_the_header_and_the_dictionary(analyses):
    lines = format_analysis(analyses[COLUMN]).splitlines()
    header = lines[:lines.index("MAP estimates beside the exact fits")]
    assert f"model: {STATEMENT}" in header
    # one entry per family (Poisson, NegBin), each with its mean
    assert lines.count(f"    mean: {STATEMENT}") == 2
    assert "exposure" not in format_analysis(analyses[None])


def test_html_says_the_offset_escaped(analyses):
    page = render_html(analyses[COLUMN])
    escaped = html.escape(STATEMENT, quote=False)
    assert f"<tr><th>exposure (offset)</th><td>{escaped}</td></tr>" in page
    assert page.count(f'mean <span class="eq">{escaped}</span>') == 2
    assert COLUMN not in page.replace(html.escape(COLUMN), "")  # never raw
    plain = render_html(analyses[None])
    assert "exposure (offset)" not in plain and "as an offset" not in plain
