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

from ..core.errors import InputError
from ..core.validation import (
    check_choice,
    check_positive_float,
    check_positive_int,
    check_probability,
    check_seed,
)
from ..families.registry import FAMILIES
from ..models.priors import PRIOR_CHOICES
from ..models.spec import SCALE_MODES

SCALE_CHOICES = (*SCALE_MODES, "both")


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise InputError(f"{name} must be true or false; got {value!r}")


def _names(name: str, value: Any, choices: tuple[str, ...], aliases: dict[str, list[str]]) -> list[str]:
    """One or several names from ``choices`` (a string or a list), deduplicated in order;
    ``aliases`` expands shorthands such as ``"both"``."""
    valid = (*choices, *aliases)
    listing = ", ".join(map(repr, valid))
    names = [value] if isinstance(value, str) else value
    try:
        names = list(names)
    except TypeError:
        raise InputError(f"{name} must be one or more of {listing}; got {value!r}") from None
    if not names:
        raise InputError(f"{name} must name at least one of {listing}")
    out: list[str] = []
    for item in names:
        if isinstance(item, str) and item in aliases and isinstance(value, str):
            out.extend(aliases[item])
        else:
            out.append(check_choice(name, item, choices if not isinstance(value, str) else valid))
    return list(dict.fromkeys(out))


def _likelihoods(name: str, value: Any) -> list[str]:
    return list(FAMILIES) if value is None else _names(name, value, tuple(FAMILIES), {})


def _scales(name: str, value: Any) -> list[str]:
    return _names(name, value, SCALE_MODES, {"both": list(SCALE_MODES)})


# ArviZ's own minimum for ESS and R-hat (its shape validation asks for 4 draws per
# chain); E-BFMI needs 2. Below it the diagnostics are undefined, not just noisy.
MIN_DRAWS = 4


def _draws(name: str, value: Any) -> int:
    number = check_positive_int(name, value)
    if number < MIN_DRAWS:
        raise InputError(f"{name} must be at least {MIN_DRAWS} (draws per chain needed for "
                         f"effective sample sizes, R-hat and E-BFMI); got {value!r}")
    return number


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
    # Each family's fixed scale on its own scale: sigma for the Normal, b for the Laplace.
    "sigma": Option(None, check_positive_float, optional=True, flag="--sigma"),
    "b": Option(None, check_positive_float, optional=True, flag="--b"),
    "priors": Option("flat", lambda n, v: check_choice(n, v, PRIOR_CHOICES), flag="--priors"),
    "sample": Option(True, _boolean, flag="--no-sample"),
    "draws": Option(1000, _draws, flag="--draws"),
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
    _check_fixed_scales(out, spelling)
    return out


# Which option fixes which family's scale: the option is named after the scale.
FIXED_SCALE_OPTIONS = {name: family.scale_name for name, family in FAMILIES.items()}


def _check_fixed_scales(options: dict[str, Any], spelling: str) -> None:
    """A fixed-scale value must have a fixed-scale model of its own family to apply to.

    ``sigma`` never sets the Laplace ``b`` (a Laplace sd is ``b * sqrt(2)``): a value
    that no requested model would use is refused rather than silently ignored.
    """

    def label(name: str) -> str:
        return OPTIONS[name].flag if spelling == "cli" else name

    for family, name in FIXED_SCALE_OPTIONS.items():
        # .get: a family registered before this module was imported has no option of its own
        if options.get(name) is None or (family in options["likelihoods"]
                                     and "fixed" in options["scales"]):
            continue
        others = "; ".join(f"{label(n)} fixes the {f.capitalize()} scale {n}"
                           for f, n in FIXED_SCALE_OPTIONS.items() if f != family)
        raise InputError(
            f"{label(name)} fixes the {family.capitalize()} scale {name} of the {family}-fixed "
            f"model, which is not requested (likelihoods: {', '.join(options['likelihoods'])}; "
            f"scales: {', '.join(options['scales'])}); got {label(name)}={options[name]:g}; "
            f"{others}"
        )
