"""The Yang-Wang-He adjusted spread of quantile coefficients, as the outputs show it.

The numbers themselves are tested against the formula and by a coverage simulation in
tests/posterior/test_quantile_inference.py; here: the terminal and the HTML report show,
for each quantile model, the same raw and adjusted sds as the JSON, and the adjusted sd
equals the sandwich computed here from the model's own posterior draws of beta.
"""

from __future__ import annotations

import numpy as np
import pytest

import lossbridge
from lossbridge.present.report import _format_number, render_html


@pytest.mark.slow
def test_adjusted_spread_in_text_json_and_html():
    analysis = lossbridge.fit("engel", likelihoods=["quantile"], tau=[0.25, 0.75],
                              scales="learned", draws=200, tune=200, chains=2, cores=1,
                              seed=3, progress=False)
    text, html = analysis.summary(), render_html(analysis)
    assert "Yang-Wang-He" in text and "raw and adjusted posterior spread" in html
    X = analysis.design.X
    for result in analysis.fits:
        record = result.as_dict(analysis.design.terms)["posterior_adjusted"]
        tau = dict(result.spec.shape)["tau"]
        assert record["tau"] == tau
        # Independent sandwich from the draws: tau (1 - tau) S X'X S / sigma^2, with S the
        # sample covariance of the beta draws and sigma the posterior mean the record used.
        for values in record["coefficients"].values():
            assert values["adjusted_sd"] > values["raw_sd"] > 0
            assert _format_number(values["adjusted_sd"]) in html
        cov = np.cov(result.posterior.draws.flat_beta, rowvar=False)
        sandwich = tau * (1 - tau) * cov @ (X.T @ X) @ cov / record["sigma"] ** 2
        sds = [v["adjusted_sd"] for v in record["coefficients"].values()]
        np.testing.assert_allclose(np.sqrt(np.diag(sandwich)), sds, rtol=1e-10)
    assert text.count("adjusted_sd") == 1  # one table, every quantile model in it
