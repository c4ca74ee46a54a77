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


def check_seed(value: Any, name: str = "seed") -> int | None:
    """Return a non-negative int seed (below 2**32) or None."""
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
