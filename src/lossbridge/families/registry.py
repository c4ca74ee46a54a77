"""Registry of likelihood families: each regression loss and the likelihood it is.

A family knows its PyMC distribution, the name of its scale parameter, the loss whose
minimiser is its maximum-likelihood estimate, the closed-form scale MLE, and how its
negative log-likelihood splits into a constant plus a scaled loss (see DESIGN.md).
Look families up with :func:`get_family`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..core.errors import InputError

LOG_2PI = float(np.log(2.0 * np.pi))


def _pymc(name: str) -> Callable:
    """PyMC's distribution ``name``, imported at the first call: option checks (and so
    ``lossbridge --help`` and option errors) must not pay PyMC's seconds of import."""

    def distribution(*args, **kwargs):
        import pymc as pm

        return getattr(pm, name)(*args, **kwargs)

    distribution.__name__ = distribution.__qualname__ = name
    return distribution


@dataclass(frozen=True)
class Family:
    """One likelihood family and the loss it corresponds to.

    Attributes
    ----------
    name : str
        Registry key (``"normal"``).
    scale_name : str
        Name of the scale parameter in PyMC and in every table (``"sigma"``).
    loss_name, loss_symbol : str
        The loss whose minimiser is the MLE (``"squared error"``, ``"RSS"``).
    baseline : str
        Exact classical fit (``"ols"`` or ``"lad"``).
    distribution : callable
        PyMC distribution class, called as ``distribution(name, mu=..., <scale_name>=...)``.
    loss : callable
        ``loss(residuals) -> float``: RSS or SAD.
    scale_mle : callable
        ``scale_mle(loss, n) -> float``: closed-form MLE of the scale given the loss.
    nll_constant : callable
        ``nll_constant(n, scale) -> float``: the part of the NLL that does not depend on the fit.
    nll_loss_term : callable
        ``nll_loss_term(loss, scale) -> float``: the loss, divided by what the scale implies.
    constant_formula, loss_term_formula : str
        The two parts written out, for tables and the report.
    logpdf : callable
        ``logpdf(y, mu, scale)``: pointwise log-density (broadcasting NumPy), for LOO and PPC.
    """

    name: str
    scale_name: str
    loss_name: str
    loss_symbol: str
    baseline: str
    distribution: Callable
    loss: Callable[[np.ndarray], float]
    scale_mle: Callable[[float, int], float]
    nll_constant: Callable[[int, float], float]
    nll_loss_term: Callable[[float, float], float]
    constant_formula: str
    loss_term_formula: str
    logpdf: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _rss(residuals: np.ndarray) -> float:
    return float(np.dot(residuals, residuals))


def _sad(residuals: np.ndarray) -> float:
    return float(np.sum(np.abs(residuals)))


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            name="normal",
            scale_name="sigma",
            loss_name="squared error",
            loss_symbol="RSS",
            baseline="ols",
            distribution=_pymc("Normal"),
            loss=_rss,
            scale_mle=lambda loss, n: float(np.sqrt(loss / n)),
            nll_constant=lambda n, sigma: 0.5 * n * (LOG_2PI + 2.0 * np.log(sigma)),
            nll_loss_term=lambda loss, sigma: loss / (2.0 * sigma**2),
            constant_formula="(n/2) log(2π σ²)",
            loss_term_formula="RSS / (2σ²)",
            logpdf=lambda y, mu, scale: (-0.5 * LOG_2PI - np.log(scale)
                                         - 0.5 * ((y - mu) / scale) ** 2),
        ),
        Family(
            name="laplace",
            scale_name="b",
            loss_name="absolute error",
            loss_symbol="SAD",
            baseline="lad",
            distribution=_pymc("Laplace"),
            loss=_sad,
            scale_mle=lambda loss, n: loss / n,
            nll_constant=lambda n, b: n * float(np.log(2.0 * b)),
            nll_loss_term=lambda loss, b: loss / b,
            constant_formula="n log(2b)",
            loss_term_formula="SAD / b",
            logpdf=lambda y, mu, scale: -np.log(2.0 * scale) - np.abs(y - mu) / scale,
        ),
    )
}


def get_family(name: str) -> Family:
    """Return the family registered as ``name``; raise listing the valid names otherwise."""
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise InputError(
            f"likelihood must be one of {', '.join(repr(k) for k in FAMILIES)}; got {name!r}"
        ) from None
