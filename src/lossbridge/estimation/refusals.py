"""Refusals decided by the exact fits, before any model is built: a loss that overflows,
and the models an exact fit (all residuals zero) leaves without a maximum.

A family without an exact fit (its baseline None) is judged by the least-squares fit:
when least squares leaves no residual, no fit does, and a learned scale of any
location-scale family then has no maximum.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..core.errors import InputError, ModelRefusedWarning
from ..data.design import Design
from ..families.registry import get_family
from ..models.identity import NO_SCALE, model_label
from .exact import ExactFit, exact_ols


def reference_scale(design: Design, baseline: ExactFit) -> float:
    """The plug-in MLE; on an exact fit (where it is 0 up to rounding) the root mean square
    of the response, so that a user-fixed scale still has a limit in the data's units."""
    if not is_exact_fit(design, baseline):
        if baseline.scale_mle is not None:
            return baseline.scale_mle
        # no closed-form scale MLE: the root mean square residual, in the same units
        residuals = design.y - design.X @ baseline.coefficients
        return float(np.linalg.norm(residuals) / np.sqrt(design.n))
    return float(np.linalg.norm(design.y) / np.sqrt(design.n)) or 1.0


def refuse_overflow(design: Design, baselines: dict[str, ExactFit | None]) -> None:
    for base in baselines.values():
        if base is None:
            continue
        if not np.isfinite(base.loss) or not np.all(np.isfinite(base.coefficients)):
            raise InputError(
                f"the values of {design.response!r} or the predictors are so large that the "
                f"{base.method.upper()} loss overflows double precision; rescale them (for "
                "example divide by a power of ten) and fit again"
            )


def is_exact_fit(design: Design, base: ExactFit | None) -> bool:
    """All residuals of the exact fit zero (to rounding): the scale's likelihood has no maximum.

    ``base`` None (a family without an exact fit): the least-squares fit decides.
    """
    if base is None:
        base = exact_ols(design)
    size = float(np.linalg.norm(design.y)) or 1.0
    spread = base.scale_mle
    if spread is None:  # no closed-form scale: the root mean square residual
        residuals = design.y - design.X @ base.coefficients
        spread = float(np.linalg.norm(residuals) / np.sqrt(design.n))
    return bool(spread <= 1e-12 * size / np.sqrt(design.n))


def refuse_perfect_fit(
    design: Design, baselines: dict[str, ExactFit | None], requested: list[tuple[str, str]],
    fixed_values: dict[str, float | None],
) -> tuple[list[tuple[str, str]], list[dict]]:
    """Drop the models an exact fit leaves undefined; refuse the run when none is left.

    ``requested`` holds ``(family key, scale mode)`` pairs, a family key being
    ``(likelihood, shape settings)`` as ``baselines`` is keyed; ``fixed_values`` is keyed
    by likelihood. When the formula fits the
    response exactly, a learned scale's likelihood grows without bound as the scale goes
    to 0, and the plug-in MLE is 0: those models have no MAP. A scale the user fixed is a
    well-defined model (its MAP is the exact fit), so it runs; the dropped models are
    named in a warning. Returns the pairs kept and the warnings.
    """
    # only where a scale can collapse: a scale-less family's fit has no residuals to judge
    exact = {key: is_exact_fit(design, baselines[key]) for key in dict.fromkeys(
        key for key, mode in requested if mode != NO_SCALE)}

    def undefined(key, mode: str) -> bool:
        if mode == NO_SCALE:  # no scale to collapse (separation is refused on its own)
            return False
        user_fixed = mode == "fixed" and fixed_values.get(key[0]) is not None
        return exact[key] and not user_fixed

    refused = [pair for pair in requested if undefined(*pair)]
    if not refused:
        return requested, []
    kept = [pair for pair in requested if pair not in refused]
    if np.ptp(design.y) == 0:
        reason = (f"the response {design.response!r} is constant (every value is "
                  f"{design.y[0]:.6g}): the formula fits it exactly")
        check = "check that the right column is the response"
    else:
        methods = "/".join(dict.fromkeys(get_family(key[0]).exact_name or "least-squares"
                                         for key, _ in refused))
        reason = f"the formula fits {design.response!r} exactly (the {methods} residuals are all zero)"
        check = "check that the response is not also a predictor"
    if not kept:
        hint = " or ".join(
            f"--scale fixed --{get_family(n).fixed_scale_option.replace('_', '-')} VALUE"
            for n in dict.fromkeys(key[0] for key, _ in refused))
        raise InputError(
            f"{reason}, so a likelihood scale has no maximum: there is nothing to estimate; "
            f"{check} (or, to fit under a scale you choose, give {hint})"
        )
    names = ", ".join(model_label(key[0], key[1], m) for key, m in refused)
    fitted = ", ".join(model_label(key[0], key[1], m) for key, m in kept)
    message = (f"{reason}: {names} not fitted, since a learned or plug-in scale has no maximum "
               f"here; fitted {fitted} (scale fixed by the user)")
    warnings.warn(message, ModelRefusedWarning, stacklevel=3)
    return kept, [{"code": "exact_fit_models_dropped", "model": names, "message": message}]
