"""The options of an analysis, declared once with their constraints.

:func:`validate_options` checks and converts every option of :func:`lossbridge.fit`
in one place, whatever the source (Python call, command line, TOML spec), in the
spirit of scikit-learn's ``_parameter_constraints``: each failure names the option as
the user spelled it, the value received and what would be valid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import InputError
from .families import FAMILIES
from .validation import (
    check_choice,
    check_positive_float,
    check_positive_int,
    check_probability,
    check_seed,
)

SCALE_MODES = ("learned", "fixed")
SCALE_CHOICES = (*SCALE_MODES, "both")
PRIOR_CHOICES = ("flat", "weak")


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise InputError(f"{name} must be true or false; got {value!r}")


def _likelihoods(name: str, value: Any) -> list[str]:
    if value is None:
        return list(FAMILIES)
    names = [value] if isinstance(value, str) else value
    try:
        names = list(names)
    except TypeError:
        raise InputError(f"{name} must name one or more of {', '.join(map(repr, FAMILIES))}; "
                         f"got {value!r}") from None
    if not names:
        raise InputError(f"{name} must name at least one of {', '.join(map(repr, FAMILIES))}")
    for item in names:
        check_choice(name, item, FAMILIES)
    return list(dict.fromkeys(names))


def _scales(name: str, value: Any) -> list[str]:
    if isinstance(value, str):
        check_choice(name, value, SCALE_CHOICES)
        return list(SCALE_MODES) if value == "both" else [value]
    try:
        names = list(value)
    except TypeError:
        raise InputError(f"{name} must be one of {', '.join(map(repr, SCALE_CHOICES))}; "
                         f"got {value!r}") from None
    if not names:
        raise InputError(f"{name} must be one of {', '.join(map(repr, SCALE_CHOICES))}")
    for item in names:
        check_choice(name, item, SCALE_MODES)
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class Option:
    """One option: its default, whether None is allowed, and its check-and-convert."""

    default: Any
    check: Callable[[str, Any], Any]
    optional: bool = False
    flag: str | None = None  # the command-line spelling


OPTIONS: dict[str, Option] = {
    "likelihoods": Option(None, _likelihoods, flag="--likelihood"),
    "scales": Option("both", _scales, flag="--scale"),
    "sigma": Option(None, check_positive_float, optional=True, flag="--sigma"),
    "priors": Option("flat", lambda n, v: check_choice(n, v, PRIOR_CHOICES), flag="--priors"),
    "sample": Option(True, _boolean, flag="--no-sample"),
    "draws": Option(1000, check_positive_int, flag="--draws"),
    "tune": Option(1000, check_positive_int, flag="--tune"),
    "chains": Option(4, check_positive_int, flag="--chains"),
    "cores": Option(None, check_positive_int, optional=True, flag="--cores"),
    "seed": Option(None, lambda n, v: check_seed(v, n), optional=True, flag="--seed"),
    "hdi_prob": Option(0.94, check_probability, flag="--hdi-prob"),
    "dropna": Option(False, _boolean, flag="--dropna"),
    "progress": Option(None, _boolean, optional=True),
}


def validate_options(values: dict[str, Any], spelling: str = "python") -> dict[str, Any]:
    """Check and convert ``values`` (a subset of :data:`OPTIONS`); fill in defaults.

    ``spelling`` is how names appear in messages: ``"python"`` (``hdi_prob``),
    ``"cli"`` (``--hdi-prob``) or ``"toml"`` (``hdi_prob``).
    """
    unknown = sorted(set(values) - set(OPTIONS))
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(map(repr, unknown))}; valid options: "
                         f"{', '.join(OPTIONS)}")
    out = {}
    for name, option in OPTIONS.items():
        value = values.get(name, option.default)
        label = option.flag if spelling == "cli" and option.flag else name
        if value is None and (option.optional or name == "likelihoods"):
            out[name] = option.check(label, value) if name == "likelihoods" else None
            continue
        out[name] = option.check(label, value)
    return out
