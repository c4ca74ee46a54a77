"""posterior/arviz_bridge.py runs ArviZ's NumPy kernels and leaves ArviZ's global numba
switch as the user had it."""

from __future__ import annotations

import warnings

import numpy as np

from lossbridge.posterior import arviz_bridge

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az


def test_numba_switch_is_restored_and_the_kernels_agree():
    az.Numba.enable_numba()  # as a user with numba (PyTensor's dependency) has it
    assert az.Numba.numba_flag
    log_weights = np.random.default_rng(0).standard_t(3, size=4000)
    smoothed, k = arviz_bridge.pareto_smoothed_log_weights(log_weights)
    assert az.Numba.numba_flag  # restored
    # ArviZ's numba kernels on the same weights: the same PSIS to rounding
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        numba_smoothed, numba_k = az.psislw(log_weights.copy(), reff=1.0)
    assert np.allclose(smoothed, numba_smoothed, rtol=0, atol=1e-12)
    assert abs(k - float(numba_k)) < 1e-12
