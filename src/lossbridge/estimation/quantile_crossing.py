"""Crossing of fitted quantile lines: a lower tau's fit above a higher tau's inside the data.

Regression quantiles fitted one tau at a time need not be monotone in tau: at an
observed row x_i the fitted tau_1-quantile x_i'beta(tau_1) can exceed the
tau_2-quantile x_i'beta(tau_2) with tau_1 < tau_2, which no conditional distribution
allows. :func:`crossing_notes` checks every pair of the run's models of one
quantile family (one whose ``quantile_level`` names the shape parameter that is its
level, the quantile family's ``tau``) at every observed row and warns with
:class:`~lossbridge.core.errors.QuantileCrossingWarning`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np

from ..core.errors import QuantileCrossingWarning
from ..core.rounding import EPS, SAFETY
from ..models.spec import ModelSpec


def crossing_notes(X: np.ndarray, models: Iterable[tuple[ModelSpec, np.ndarray]],
                   stacklevel: int = 2) -> list[dict]:
    """One note (and warning) per pair of adjacent tau whose fitted lines cross at a row.

    Parameters
    ----------
    X : ndarray of shape (n, k)
        The design whose rows are checked.
    models : iterable of (ModelSpec, coefficients)
        The run's fits; only those of a quantile family (``Family.quantile_level``) are read, one fit per
        (family, tau) (a learned and a fixed scale share the exact coefficients).

    Returns
    -------
    list of dict
        ``{"code": "quantile_crossing", "likelihood", "tau_low", "tau_high", "rows",
        "first_row", "max_excess", "message"}``; a crossing counts only beyond the
        rounding bound of the two fitted values.
    """
    lines: dict[str, dict[float, tuple[str, np.ndarray]]] = {}
    for spec, beta in models:
        family = spec.family
        if family.quantile_level is None:
            continue
        tau = family.shape_value(family.quantile_level)
        lines.setdefault(spec.likelihood, {}).setdefault(tau, (spec.name, np.asarray(beta)))
    notes = []
    k = X.shape[1]
    for likelihood, by_tau in lines.items():
        taus = sorted(by_tau)
        for low, high in zip(taus, taus[1:], strict=False):
            b_low, b_high = by_tau[low][1], by_tau[high][1]
            excess = X @ b_low - X @ b_high
            # Each fitted value x_i'beta carries a rounding error of k eps |x_i|'|beta|.
            bound = SAFETY * k * EPS * (np.abs(X) @ (np.abs(b_low) + np.abs(b_high)))
            crossed = np.flatnonzero(excess > bound)
            if crossed.size == 0:
                continue
            first = int(crossed[0])
            message = (
                f"fitted quantile lines cross inside the data: the {likelihood} fit at "
                f"tau={low:g} lies above the fit at tau={high:g} at {crossed.size} of "
                f"{X.shape[0]} rows (first row {first}, by up to {float(excess.max()):.4g}); "
                "quantiles fitted one tau at a time are not guaranteed monotone, so read "
                "them with care there"
            )
            warnings.warn(message, QuantileCrossingWarning, stacklevel=stacklevel)
            notes.append({"code": "quantile_crossing", "model": by_tau[low][0],
                          "likelihood": likelihood,
                          "tau_low": low, "tau_high": high, "rows": int(crossed.size),
                          "first_row": first, "max_excess": float(excess.max()),
                          "models": [by_tau[low][0], by_tau[high][0]], "message": message})
    return notes
