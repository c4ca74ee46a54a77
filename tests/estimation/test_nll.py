"""NLL at the MAP = constant + scaled loss, against closed forms and PyMC."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lossbridge.data.datasets import BUNDLED

# The bundled datasets fitted by the default Normal and Laplace models (a binary set such
# as spector names its own likelihood; tests/families/test_bernoulli.py covers it).
CONTINUOUS = sorted(name for name, d in BUNDLED.items() if d.likelihoods is None)


@pytest.mark.parametrize("name", CONTINUOUS)
def test_decomposition_matches_closed_forms_and_pymc(map_analyses, name):
    analysis = map_analyses[name]
    d = analysis.design
    n = d.n
    for fit in analysis.fits:
        parts = fit.nll
        r = d.y - d.X @ fit.map.coefficients
        dist = stats.norm if fit.spec.likelihood == "normal" else stats.laplace
        independent = -dist.logpdf(r, scale=fit.map.scale).sum()
        # Two sums of n terms: they agree to the rounding bound 10 n eps (size of the terms).
        scale_of_terms = abs(parts.constant) + abs(parts.loss_term)
        assert abs(parts.nll - independent) <= 10 * n * np.finfo(float).eps * scale_of_terms
        assert parts.relative_difference <= 1e-9  # the contract with PyMC's logp
        if fit.spec.scale == "learned":
            # At the scale MLE the loss term is n/2 (Normal) or n (Laplace) ...
            expected = n / 2 if fit.spec.likelihood == "normal" else n
            assert parts.loss_term == pytest.approx(expected, rel=1e-10)
            # ... and the NLL is a monotone function of the loss (docs/design.md).
            if fit.spec.likelihood == "normal":
                closed = 0.5 * n * (np.log(2 * np.pi * parts.loss / n) + 1)
            else:
                closed = n * (np.log(2 * parts.loss / n) + 1)
            assert parts.nll == pytest.approx(closed, rel=1e-12)
        else:
            sigma = fit.spec.fixed_scale
            if fit.spec.likelihood == "normal":
                assert parts.constant == pytest.approx(0.5 * n * np.log(2 * np.pi * sigma**2), rel=1e-14)
                assert parts.loss_term == pytest.approx(parts.loss / (2 * sigma**2), rel=1e-14)
            else:
                assert parts.constant == pytest.approx(n * np.log(2 * sigma), rel=1e-14)
                assert parts.loss_term == pytest.approx(parts.loss / sigma, rel=1e-14)
