"""Property-based tests (hypothesis) of the fitting core: equivariance and certification.

MAP only (no sampling): each example fits four models in well under a second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lossbridge
from lossbridge.estimation.certificate import relative_coefficient_differences

SETTINGS = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def designs(draw):
    """Well-posed regression data: n in [12, 60], 1-3 continuous predictors, Laplace or Normal noise."""
    n = draw(st.integers(12, 60))
    p = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * draw(st.sampled_from([1.0, 1e-3, 1e3]))
    beta = rng.normal(size=p)
    noise = rng.laplace(size=n) if draw(st.booleans()) else rng.normal(size=n)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(p)])
    frame["y"] = 3.0 + X @ beta / np.abs(X).max() + noise
    return frame, "y ~ " + " + ".join(frame.columns[:-1])


def fit(frame, formula):
    return lossbridge.fit(frame, formula, sample=False)


def coefficients(analysis, model):
    return analysis.fit_for(model).map.coefficients


@SETTINGS
@given(designs())
def test_every_map_is_certified_on_random_designs(data):
    analysis = fit(*data)
    for result in analysis.fits:
        assert result.certificate.certified, result.certificate.explanation


@SETTINGS
@given(designs(), st.floats(-1e3, 1e3, allow_nan=False).filter(lambda c: abs(c) > 1e-3))
def test_shifting_y_shifts_only_the_intercept(data, shift):
    frame, formula = data
    base = fit(frame, formula)
    moved = fit(frame.assign(y=frame["y"] + shift), formula)
    for model in base.models:
        if not base.fit_for(model).certificate.unique:
            continue  # a flat face: either optimal vertex may be reported
        expected = coefficients(base, model).copy()
        expected[0] += shift
        # Exact in arithmetic: each coefficient relative to its own size, as certificates
        # measure it (slopes in their own units, whatever the scale of X).
        diff = relative_coefficient_differences(coefficients(moved, model), expected, moved.design)
        assert diff.max() < 1e-8
        # The learned scales do not move (the residuals are the same).
        assert moved.fit_for(model).map.scale == pytest.approx(base.fit_for(model).map.scale, rel=1e-9)


@SETTINGS
@given(designs(), st.sampled_from([-7.5, 0.01, 3.0, 1e4]))
def test_scaling_y_scales_coefficients_and_scale(data, factor):
    frame, formula = data
    base = fit(frame, formula)
    scaled = fit(frame.assign(y=frame["y"] * factor), formula)
    for model in base.models:
        expected = coefficients(base, model) * factor
        diff = relative_coefficient_differences(coefficients(scaled, model), expected, scaled.design)
        assert diff.max() < 1e-8
        if model.endswith("learned"):
            ratio = scaled.fit_for(model).map.scale / base.fit_for(model).map.scale
            assert abs(ratio / abs(factor) - 1) < 1e-9


@SETTINGS
@given(designs(), st.integers(0, 2**31 - 1))
def test_row_order_changes_nothing(data, seed):
    frame, formula = data
    base = fit(frame, formula)
    order = np.random.default_rng(seed).permutation(len(frame))
    shuffled = fit(frame.iloc[order].reset_index(drop=True), formula)
    for model in base.models:
        diff = relative_coefficient_differences(coefficients(shuffled, model), coefficients(base, model),
                                                base.design)
        certificate = base.fit_for(model).certificate
        if certificate.unique:
            assert diff.max() < 1e-9
        else:  # a flat face: the optimal loss, not the vertex, is invariant
            assert shuffled.fit_for(model).certificate.loss_map == pytest.approx(certificate.loss_map, rel=1e-12)
