"""Declarative checks for option values, raising :class:`InputError`.

Each check names the parameter, the value received and the valid choices, in the
spirit of scikit-learn's parameter validation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .errors import InputError


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``; raise otherwise."""
    choices = list(choices)
    if not isinstance(value, str) or value not in choices:
        raise InputError(
            f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}"
        )
    return value


def check_positive_float(name: str, value: Any) -> float:
    """Return ``value`` as a finite float > 0; raise otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a positive number; got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(number) or number <= 0:
        raise InputError(f"{name} must be a positive finite number; got {value!r}")
    return number


#: Largest loss term (RSS/(2 sigma^2) or SAD/b), in nats at the exact fit, that a fixed
#: scale may give. The log-density then has a rounding unit of about 2e-9 nats; on Engel
#: NUTS samples cleanly at 1.2e8 nats and its energy diagnostics break down at 1.2e10.
MAX_LOSS_TERM_NATS = 1e7
#: Largest ratio of a fixed scale to the plug-in MLE of the exact fit. The likelihood is
#: then flat in the coefficients to 1e-24 relative; far beyond (1e98 on Engel) the MAP's
#: Newton steps cannot see the loss any more, and draws' squared residuals overflow.
MAX_SCALE_FACTOR = 1e12


def check_fixed_scale(name: str, value: float, *, likelihood: str, smallest: float | None,
                      loss_term: str, plug_in: float) -> float:
    """Return ``value`` if the data's numbers can carry it as a fixed scale; raise otherwise.

    ``name`` is the option as the user spells it (``sigma``, ``b``). The range is judged
    by the exact fit: from ``smallest``, the scale at which the NLL's loss term
    (``loss_term``, e.g. ``"RSS/(2·sigma²)"``) reaches :data:`MAX_LOSS_TERM_NATS` (None:
    the family has no closed form for it, so no lower limit), to :data:`MAX_SCALE_FACTOR`
    times the plug-in MLE ``plug_in``.
    """
    low, high = (0.0 if smallest is None else smallest), plug_in * MAX_SCALE_FACTOR
    if low <= value <= high:
        return value
    why = (f"below it the loss term {loss_term} exceeds 10^{math.log10(MAX_LOSS_TERM_NATS):.0f} nats at "
           "the exact fit and double precision cannot resolve the posterior" if value < low else
           f"above it {name} is over 10^{math.log10(MAX_SCALE_FACTOR):.0f} times the plug-in MLE "
           f"{plug_in:.4g} and the loss is lost in rounding against the NLL's constant")
    raise InputError(
        f"{name} = {value:g} is outside what the {likelihood} likelihood can compute with on "
        f"this data, {low:.4g} to {high:.4g} ({why}); give a value in that range, or omit "
        f"{name} to fix the scale at the plug-in MLE"
    )


def check_positive_int(name: str, value: Any) -> int:
    """Return ``value`` as an int >= 1; raise otherwise."""
    if isinstance(value, bool):
        raise InputError(f"{name} must be a positive integer; got {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a positive integer; got {value!r}") from None
    if number != value and not (isinstance(value, str) and value.strip() == str(number)):
        raise InputError(f"{name} must be a positive integer; got {value!r}")
    if number < 1:
        raise InputError(f"{name} must be a positive integer (>= 1); got {value!r}")
    return number


def check_seed(name: str, value: Any) -> int | None:
    """Return ``value`` as a non-negative int seed (below 2**32), or None."""
    if value is None:
        return None
    message = f"{name} must be a non-negative integer below 2**32; got {value!r}"
    if isinstance(value, bool):
        raise InputError(message)
    try:
        seed = int(value)
    except (TypeError, ValueError):
        raise InputError(message) from None
    if isinstance(value, str) and value.strip() != str(seed):
        raise InputError(message)
    if not isinstance(value, str) and seed != value:
        raise InputError(message)
    if not 0 <= seed < 2**32:
        raise InputError(message)
    return seed


def check_probability(name: str, value: Any) -> float:
    """Return ``value`` as a float strictly inside (0, 1); raise otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number in (0, 1); got {value!r}") from None
    if not 0.0 < number < 1.0:
        raise InputError(f"{name} must be strictly between 0 and 1; got {value!r}")
    return number
