"""The options of an analysis, declared once: the Python API, the CLI and TOML read them here.

Each :class:`Option` carries its default, its check-and-convert, its help text and its
command-line spelling. From these declarations :mod:`lossbridge.interfaces.cli` builds
its flags, :mod:`lossbridge.interfaces.runspec` the keys a TOML spec accepts, and
:func:`lossbridge.fit` its checks. :func:`validate_options` checks every value once, at the
interface, in the spirit of scikit-learn's ``_parameter_constraints``: each failure names
the option as the user spelled it (``hdi_prob``, ``--hdi-prob``), the value received and
what would be valid. It returns :class:`CheckedOptions`, the typed values that the
pipeline (:func:`lossbridge.interfaces.pipeline.run_pipeline`) takes without checking again.

The fixed-scale options are not written out: each registered family with a scale gets
one, named after its ``scale_name`` (``sigma`` for the Normal, ``b`` for the Laplace), in
:data:`FIXED_SCALE_OPTIONS`. A family registered later brings its own (``--s`` and
``s = ...`` for a scale named ``s``). See docs/design.md.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Iterator, Mapping
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
from ..models.identity import SCALE_MODES
from ..models.penalties import (
    PENALTY_KINDS,
    Penalty,
    check_alpha,
    check_l1_ratio,
    check_penalised_models,
    penalty_from_options,
)
from ..models.priors import PRIOR_CHOICES
from ..posterior.independence import SAMPLER_CHOICES

SCALE_CHOICES = (*SCALE_MODES, "both")
SPELLINGS = ("python", "cli", "toml")


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise InputError(f"{name} must be true or false; got {value!r}")


def _truth(name: str, value: Any) -> str | None:
    # A path (read and checked by the pipeline, which knows the data) or "none".
    import os

    if value is None:
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str) and value.strip():
        return value
    raise InputError(f"{name} must be the path of a simulation sidecar (PATH.law.json) or "
                     f"'none'; got {value!r}")


def _formula(name: str, value: Any) -> str | None:
    # Only the type: what the formula may say is judged against the data (data/formula_safety).
    if value is None or isinstance(value, str):
        return value
    raise InputError(f"{name} must be a string; got {value!r}")


def _level(name: str, value: Any) -> str | None:
    """A level of the response, as the design writes it: text, or a number (an integral
    one without its decimals, so ``reference = 6`` in TOML names the level "6")."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    raise InputError(f"{name} must be a level of the response (text or a number); got {value!r}")


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


def default_likelihoods() -> list[str]:
    """The families fitted when the user names none (``in_default_set``)."""
    return [name for name, family in FAMILIES.items() if family.in_default_set]


def _likelihoods(name: str, value: Any) -> list[str]:
    return default_likelihoods() if value is None else _names(name, value, tuple(FAMILIES), {})


def _scales(name: str, value: Any) -> list[str]:
    return _names(name, value, SCALE_MODES, {"both": list(SCALE_MODES)})


def _priors(name: str, value: Any) -> str:
    return check_choice(name, value, PRIOR_CHOICES)


def _sampler(name: str, value: Any) -> str:
    return check_choice(name, value, SAMPLER_CHOICES)


def _penalty(name: str, value: Any) -> str:
    return check_choice(name, value, PENALTY_KINDS)


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
    """One option of an analysis, declared once for the three interfaces.

    Attributes
    ----------
    name : str
        The Python keyword of :func:`lossbridge.fit` and the TOML key.
    default : object
        The value when the option is not given (the same in all three interfaces).
    check : callable
        ``check(label, value)`` returns the typed value or raises :class:`InputError`
        naming ``label`` (the option as the user spelled it).
    help : str
        The ``--help`` text; argparse fills in ``%(default)s``.
    type : type or tuple of types
        The Python type of the checked value (besides None for an ``optional`` option).
    optional : bool
        None is a valid value (kept as None, not checked).
    flag, short : str or None
        The command-line spelling (``--hdi-prob``) and a short alias (``-f``); ``flag``
        None: not on the command line.
    metavar : str or None
        The value's placeholder in ``--help`` (argparse's default: the name in capitals).
    action : {"store", "append", "store_true", "store_false"}
        How argparse reads the flag: one value, a repeated flag gathered in a list, or a
        switch (``--dropna`` gives True, ``--no-sample`` gives ``sample`` False).
    choices : tuple of str or None
        The valid values, for help and introspection (``check`` enforces them).
    toml : bool
        A TOML spec may set it; False for run-time options such as ``progress``, which the
        ``run`` command takes as a flag.
    """

    name: str
    default: Any
    check: Callable[[str, Any], Any]
    help: str
    type: type | tuple[type, ...]
    optional: bool = False
    flag: str | None = None
    short: str | None = None
    metavar: str | None = None
    action: str = "store"
    choices: tuple[str, ...] | None = None
    toml: bool = True

    def label(self, spelling: str = "python") -> str:
        """The option's name as ``spelling`` writes it: ``hdi_prob`` or ``--hdi-prob``."""
        return self.flag if spelling == "cli" and self.flag else self.name

    def validate(self, value: Any, spelling: str = "python") -> Any:
        """The typed value of ``value``; :class:`InputError` naming the option otherwise."""
        if value is None and self.optional:
            return None
        return self.check(self.label(spelling), value)


def _listing(words: list[str] | tuple[str, ...]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    words = list(words)
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _symbol(scale_name: str) -> str:
    """A Greek scale name as its letter in help texts (``sigma`` -> σ); others as they are."""
    try:
        return unicodedata.lookup(f"GREEK SMALL LETTER {scale_name}")
    except KeyError:
        return scale_name


def _fixed_scale_help(scale_name: str, families: list) -> str:
    parts = []
    for family in families:
        plug_in = ("plug-in MLE" + (f" {family.plug_in_formula}" if family.plug_in_formula else "")
                   + (f" of the exact {family.exact_name} fit" if family.exact_name else ""))
        parts.append(f"the {family.title} likelihood ({family.name}-fixed; default: {plug_in})")
    return f"fixed scale {_symbol(scale_name)} of {' and of '.join(parts)}"


def _fixed_scale_option(option: str, families: list) -> Option:
    return Option(option, None, check_positive_float,
                  _fixed_scale_help(families[0].scale_name, families),
                  float, optional=True, flag=f"--{option.replace('_', '-')}", metavar="VALUE")


def _shape_option(parameter, family) -> Option:
    """The option of one shape parameter (``--tau``, repeatable; ``--nu``; ``--huber-c``)."""
    flag = f"--{parameter.option.replace('_', '-')}"
    default = ("learned" if parameter.default is None else parameter.default
               if isinstance(parameter.default, str) else format(parameter.default, "g"))
    # A family's own help text says it all; otherwise a generic one.
    help_text = parameter.help or (
        f"{parameter.name} of the {family.title} likelihood ({family.name}), in "
        f"{parameter.valid_range()}; default {default}"
        + ("; repeat for several models" if parameter.multiple else ""))

    def number(label: str, value: Any):
        # ShapeParameter.check reads the command line's text as a number and names a bad
        # value as the user typed it ('1.5').
        return parameter.check(label, value)

    def check(label: str, value: Any):
        if parameter.multiple:
            values = [value] if not isinstance(value, (list, tuple)) else list(value)
            if not values:
                raise InputError(f"{label} must give at least one value in "
                                 f"{parameter.valid_range()}")
            return list(dict.fromkeys(number(label, v) for v in values))
        return number(label, value)

    return Option(parameter.option, None, check, help_text,
                  list if parameter.multiple else str if parameter.choices else float,
                  optional=True, flag=flag,
                  metavar=parameter.name.upper() if parameter.choices else "VALUE",
                  action="append" if parameter.multiple else "store")


def _declare() -> dict[str, Option]:
    """Every option, in ``--help`` order, for the families registered now."""
    defaults = " and ".join(n for n, f in FAMILIES.items() if f.in_default_set)
    count = f"{defaults}; a bundled dataset may name its own"
    head = [
        Option("formula", None, _formula, "formulaic formula, e.g. 'foodexp ~ income' (optional "
               "for bundled datasets)", str, optional=True, flag="--formula", short="-f"),
        Option("likelihoods", None, _likelihoods,
               f"{_listing(list(FAMILIES))}; repeat for several (default: {count})", list,
               flag="--likelihood", metavar="NAME", action="append", choices=tuple(FAMILIES)),
        Option("scales", "both", _scales, f"{_listing(SCALE_CHOICES)} (default: %(default)s)",
               list, flag="--scale", metavar="MODE", choices=SCALE_CHOICES),
        Option("scale_formula", None, _formula, "one-sided formula of a heteroscedastic scale, "
               "log scale = Z gamma, e.g. '~ income': adds a model with that scale per "
               "likelihood, compared by LOO with the constant-scale ones", str, optional=True,
               flag="--scale-formula", metavar="FORMULA"),
        Option("exposure", None, _formula, "column of positive exposures (time at risk, "
               "population) for a count likelihood: log(exposure) is an offset, "
               "mu = exposure x exp(X beta)", str, optional=True, flag="--exposure",
               metavar="COLUMN"),
        Option("positive", None, _formula, "the level of a two-level response that is 1 "
               "(the other is 0), e.g. 'yes': a text response becomes a binary y",
               str, optional=True, flag="--positive", metavar="LEVEL"),
        Option("reference", None, _level, "the reference level of a categorical response "
               "(its coefficients are 0; default: the first level in order)", str,
               optional=True, flag="--reference", metavar="LEVEL"),
    ]
    tail = [
        Option("priors", "flat", _priors, "flat (default: MAP = maximum likelihood) or weak "
               "(autoscaled, rstanarm-style)", str, flag="--priors", choices=PRIOR_CHOICES),
        Option("penalty", None, _penalty, "ridge, lasso or elasticnet: a prior on the "
               "non-intercept coefficients whose MAP is scikit-learn's Ridge, Lasso or "
               "ElasticNet at --alpha (Normal likelihood, --scale fixed)", str, optional=True,
               flag="--penalty", choices=PENALTY_KINDS),
        Option("alpha", None, check_alpha, "the penalty's strength, in scikit-learn's scaling "
               "(>= 0; needed with --penalty)", float, optional=True, flag="--alpha",
               metavar="A"),
        Option("l1_ratio", None, check_l1_ratio, "the elastic net's L1 share r in [0, 1] "
               "(default 0.5, scikit-learn's)", float, optional=True, flag="--l1-ratio",
               metavar="R"),
        Option("sample", True, _boolean, "MAP and exact fits only: no NUTS, no LOO comparison",
               bool, flag="--no-sample", action="store_false"),
        Option("sampler", "auto", _sampler, "auto (default: independence Metropolis-Hastings "
               "from the MAP for each model whose proposal passes its tests (Pareto k <= 0.5, "
               "bounded weights), "
               "NUTS for the others) or nuts (NUTS for every model)", str, flag="--sampler",
               choices=SAMPLER_CHOICES),
        Option("draws", 1000, _draws, f"posterior draws per chain, at least {MIN_DRAWS} "
               "(%(default)s)", int, flag="--draws", metavar="N"),
        Option("tune", 1000, check_positive_int, "tuning steps per chain (%(default)s)", int,
               flag="--tune", metavar="N"),
        Option("chains", 4, check_positive_int, "chains (%(default)s)", int, flag="--chains",
               metavar="N"),
        Option("cores", None, check_positive_int, "parallel chains (all cores)", int,
               optional=True, flag="--cores", metavar="N"),
        Option("seed", None, check_seed, "random seed (default: drawn and recorded)", int,
               optional=True, flag="--seed", metavar="N"),
        Option("hdi_prob", 0.94, check_probability, "mass of the highest-density intervals "
               "(%(default)s)", float, flag="--hdi-prob", metavar="P"),
        Option("dropna", False, _boolean, "drop rows with missing values in the used columns",
               bool, flag="--dropna", action="store_true"),
        Option("truth", None, _truth, "the law the data came from: a sidecar PATH.law.json "
               "written by 'lossbridge simulate' (default: the sidecar beside the data file, "
               "if any; 'none': no truth table); adds the exact cross-entropy and KL table",
               str, optional=True, flag="--truth", metavar="SPEC"),
        Option("progress", None, _boolean, "progress output even when stderr is not a terminal",
               bool, optional=True, flag="--progress", action="store_true", toml=False),
    ]
    declared = {option.name: option for option in (*head, *tail)}
    scales: dict[str, list] = {}
    for family in FAMILIES.values():
        if family.fixed_scale_option is not None:
            scales.setdefault(family.fixed_scale_option, []).append(family)
    fixed = {}
    for option, families in scales.items():
        if option in declared:
            raise InputError(f"family {families[0].name!r} names its scale {option!r}, which "
                             f"is already the option {option!r}; give it another scale_option")
        fixed[option] = _fixed_scale_option(option, families)
    shapes = {}
    for family in FAMILIES.values():
        for parameter in family.parameters:
            if parameter.option is None:
                continue
            if parameter.option in declared or parameter.option in fixed or parameter.option in shapes:
                raise InputError(f"family {family.name!r} names its parameter option "
                                 f"{parameter.option!r}, which is already an option")
            shapes[parameter.option] = _shape_option(parameter, family)
    return {option.name: option for option in (*head, *fixed.values(), *shapes.values(), *tail)}


_CACHE: dict[tuple, dict[str, Option]] = {}


def declared_options() -> dict[str, Option]:
    """The declarations for the families registered now (rebuilt when the registry changes)."""
    key = tuple((name, id(family), family.fixed_scale_option) for name, family in FAMILIES.items())
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = _declare()
    return _CACHE[key]


class _Live(Mapping):
    """A read-only mapping recomputed from the family registry on every use."""

    def __init__(self, build: Callable[[], Mapping]):
        self._build = build

    def __getitem__(self, key):
        return self._build()[key]

    def __iter__(self) -> Iterator:
        return iter(self._build())

    def __len__(self) -> int:
        return len(self._build())

    def __repr__(self) -> str:
        return repr(dict(self._build()))


#: Every option by name (a live view: a family registered later brings its fixed scale).
OPTIONS: Mapping[str, Option] = _Live(declared_options)

#: Which option fixes which family's scale: family name -> option name, the family's
#: ``scale_name`` (families without a scale have none). The one place this is decided.
FIXED_SCALE_OPTIONS: Mapping[str, str] = _Live(
    lambda: {name: f.fixed_scale_option for name, f in FAMILIES.items()
             if f.fixed_scale_option is not None})

#: Which option sets which shape parameter: option name -> (family name, parameter name).
SHAPE_OPTIONS: Mapping[str, tuple[str, str]] = _Live(
    lambda: {p.option: (name, p.name) for name, f in FAMILIES.items() for p in f.parameters
             if p.option is not None})


class CheckedOptions(Mapping):
    """The typed value of every declared option, as :func:`validate_options` returns them.

    The pipeline takes only this type, so what reaches it has been checked, once.
    """

    def __init__(self, values: dict[str, Any], spelling: str, token: object):
        if token is not _TOKEN:
            raise TypeError("CheckedOptions are made by validate_options(), not directly")
        self._values = dict(values)
        self.spelling = spelling

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"CheckedOptions({self._values!r})"

    @property
    def fixed_scales(self) -> dict[str, float | None]:
        """The user's fixed scale per registered family (None: not given, or no scale)."""
        return {name: (self._values.get(FIXED_SCALE_OPTIONS[name]) if name in FIXED_SCALE_OPTIONS
                       else None) for name in FAMILIES}

    def family_settings(self) -> list[tuple[str, tuple]]:
        """``(likelihood, shape)`` for every family model the options ask for, in order.

        A family with a multiple-valued parameter gives one entry per value
        (``--tau 0.1 --tau 0.9``: two quantile families); unset parameters are at their
        defaults. ``shape`` is normalised as :class:`~lossbridge.models.identity.ModelId`'s.
        """
        import itertools

        out = []
        for name in self._values["likelihoods"]:
            family = FAMILIES[name]
            choices = []
            for parameter in family.parameters:
                given = self._values.get(parameter.option) if parameter.option else None
                values = (given if isinstance(given, list) else [given]) if given is not None \
                    else [parameter.default]
                choices.append([(parameter.name, v) for v in values])
            for combination in itertools.product(*choices):
                out.append((name, tuple(sorted(combination))))
        return out

    @property
    def penalty(self) -> Penalty | None:
        """The ridge, lasso or elastic-net penalty asked for (None: no penalty)."""
        return penalty_from_options(self._values["penalty"], self._values["alpha"],
                                    self._values["l1_ratio"], _penalty_labels(self.spelling))

    def shape_options(self) -> dict[str, Any]:
        """The shape-parameter options and their values, as the JSON ``options`` echo them."""
        return {option: self._values[option] for option in SHAPE_OPTIONS}

    def fixed_scale_options(self) -> dict[str, float | None]:
        """The fixed-scale options and their values, as the JSON ``options`` echo them."""
        return {option: self._values[option] for option in dict.fromkeys(FIXED_SCALE_OPTIONS.values())}

    def replace(self, **values: Any) -> CheckedOptions:
        """These options with ``values`` checked and put in (the others are not checked again)."""
        unknown = sorted(set(values) - set(OPTIONS))
        if unknown:
            raise InputError(_unknown(unknown))
        merged = dict(self._values)
        merged.update({name: OPTIONS[name].validate(v, self.spelling) for name, v in values.items()})
        _check_fixed_scales(merged, self.spelling)
        _check_shape_options(merged, self.spelling)
        _check_scales(merged, self.spelling)
        _check_positive(merged, self.spelling)
        _check_classes(merged, self.spelling)
        _check_penalty(merged, self.spelling)
        _check_scale_formula(merged, self.spelling)
        return CheckedOptions(merged, self.spelling, _TOKEN)


_TOKEN = object()


def _unknown(names: list[str]) -> str:
    return (f"unknown option(s) {', '.join(map(repr, names))}; valid options: "
            f"{', '.join(OPTIONS)}")


def validate_options(values: Mapping[str, Any], spelling: str = "python",
                     data: object = None) -> CheckedOptions:
    """Check and convert ``values`` (a subset of :data:`OPTIONS`); fill in defaults.

    ``spelling`` is how names appear in messages: ``"python"`` (``hdi_prob``),
    ``"cli"`` (``--hdi-prob``) or ``"toml"`` (``hdi_prob``). ``data``: the data argument
    when known; a bundled dataset's own default likelihoods (``spector``: bernoulli) then
    stand in for the package's default set when ``likelihoods`` is not given.
    """
    if spelling not in SPELLINGS:
        raise ValueError(f"spelling must be one of {SPELLINGS}; got {spelling!r}")
    if values.get("likelihoods") is None:
        from ..data.datasets import bundled_likelihoods

        chosen = bundled_likelihoods(data)
        if chosen is not None:
            values = {**values, "likelihoods": chosen}
    declared = declared_options()
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise InputError(_unknown(unknown))
    out = {name: option.validate(values.get(name, option.default), spelling)
           for name, option in declared.items()}
    _check_fixed_scales(out, spelling)
    _check_shape_options(out, spelling)
    _check_scales(out, spelling)
    _check_positive(out, spelling)
    _check_classes(out, spelling)
    _check_penalty(out, spelling)
    _check_scale_formula(out, spelling)
    return CheckedOptions(out, spelling, _TOKEN)


def _check_fixed_scales(options: dict[str, Any], spelling: str) -> None:
    """A fixed-scale value must have a fixed-scale model of its own family to apply to.

    ``sigma`` never sets the Laplace ``b`` (a Laplace sd is ``b * sqrt(2)``): a value
    that no requested model would use is refused rather than silently ignored.
    """

    def label(name: str) -> str:
        return OPTIONS[name].label(spelling)

    fixed = dict(FIXED_SCALE_OPTIONS)
    for name in dict.fromkeys(fixed.values()):
        families = [family for family, option in fixed.items() if option == name]
        if options.get(name) is None or ("fixed" in options["scales"]
                                     and set(families) & set(options["likelihoods"])):
            continue
        titles = " or ".join(FAMILIES[f].title for f in families)
        models = " or ".join(f"{f}-fixed" for f in families)
        # the scale by its name (sigma), not by its option (huber_sigma)
        others = "; ".join(f"{label(n)} fixes the {FAMILIES[f].title} scale {FAMILIES[f].scale_name}"
                           for f, n in fixed.items() if n != name and f in options["likelihoods"])
        raise InputError(
            f"{label(name)} fixes the {titles} scale {FAMILIES[families[0]].scale_name} of the {models} "
            f"model, which is not requested (likelihoods: {', '.join(options['likelihoods'])}; "
            f"scales: {', '.join(options['scales'])}); got {label(name)}={options[name]:g}"
            + (f"; {others}" if others else "")
        )


def _check_shape_options(options: dict[str, Any], spelling: str) -> None:
    """A shape-parameter value must have its family among the likelihoods to apply to."""
    for option, (family, _) in SHAPE_OPTIONS.items():
        if options.get(option) is not None and family not in options["likelihoods"]:
            label = OPTIONS[option].label(spelling)
            raise InputError(f"{label} sets a parameter of the {FAMILIES[family].title} "
                             f"likelihood, which is not requested (likelihoods: "
                             f"{', '.join(options['likelihoods'])}); add {family} to the "
                             f"likelihoods or drop {label}")


def _check_scales(options: dict[str, Any], spelling: str) -> None:
    """A scale mode other than the default needs a requested family with a scale: a
    scale-less family (Bernoulli, Poisson) has one model whatever the mode, so a mode
    the user set would otherwise be silently ignored (the default, both, is not)."""
    if set(options["scales"]) == set(SCALE_MODES) or any(FAMILIES[name].scale_name is not None
                                           for name in options["likelihoods"]):
        return
    label = OPTIONS["scales"].label(spelling)
    raise InputError(f"{label} {', '.join(options['scales'])} chooses how a scale is treated, but "
                     f"no requested likelihood has a scale (likelihoods: "
                     f"{', '.join(options['likelihoods'])}; each fits one model without one); "
                     f"drop {label}")


def _check_positive(options: dict[str, Any], spelling: str) -> None:
    """A positive level codes a two-level response 0/1 for a binary likelihood (those that
    check separation, ``Family.separation_check``); for any other likelihood the coding
    would be fitted silently as a number."""
    if options.get("positive") is None or any(FAMILIES[name].separation_check
                                              for name in options["likelihoods"]):
        return
    label = OPTIONS["positive"].label(spelling)
    binary = ", ".join(n for n, f in FAMILIES.items() if f.separation_check)
    raise InputError(f"{label} {options['positive']!r} codes a binary response, but no requested "
                     f"likelihood is binary (likelihoods: {', '.join(options['likelihoods'])}); "
                     f"add --likelihood {binary} or drop {label}")


def _check_classes(options: dict[str, Any], spelling: str) -> None:
    """A categorical likelihood has one coefficient vector per non-reference level, so its
    models cannot share a design with one-vector likelihoods: refuse the mix; and a
    reference level means nothing without a categorical likelihood."""
    names = options["likelihoods"]
    categorical = [name for name in names if FAMILIES[name].categorical_response]
    if categorical and len(categorical) != len(names):
        label = OPTIONS["likelihoods"].label(spelling)
        others = [name for name in names if name not in categorical]
        raise InputError(f"{label} {', '.join(categorical)} models a categorical response with "
                         f"one coefficient vector per level, and cannot be fitted beside "
                         f"{', '.join(others)} (one coefficient vector) on one design; run them "
                         "as separate analyses")
    if options.get("reference") is not None and not categorical:
        label = OPTIONS["reference"].label(spelling)
        kinds = ", ".join(n for n, f in FAMILIES.items() if f.categorical_response)
        raise InputError(f"{label} {options['reference']!r} chooses the reference level of a "
                         f"categorical response, but no requested likelihood is categorical "
                         f"(likelihoods: {', '.join(names)}); add --likelihood {kinds} or "
                         f"drop {label}")


def _penalty_labels(spelling: str) -> dict[str, str]:
    return {name: OPTIONS[name].label(spelling) for name in ("penalty", "alpha", "l1_ratio")}


def _check_penalty(options: dict[str, Any], spelling: str) -> None:
    """A penalty needs alpha, and models whose MAP is scikit-learn's fit: a fixed scale,
    least-squares likelihoods, flat priors (models/penalties.py); alpha and l1_ratio need it."""
    penalty = penalty_from_options(options["penalty"], options["alpha"], options["l1_ratio"],
                                   _penalty_labels(spelling))
    if penalty is None:
        return
    fix = "--scale fixed" if spelling == "cli" else "scales = 'fixed'"
    check_penalised_models(penalty, [FAMILIES[name] for name in options["likelihoods"]],
                           options["scales"], options["priors"], fix,
                           OPTIONS["likelihoods"].label(spelling))


def _check_scale_formula(options: dict[str, Any], spelling: str) -> None:
    """A modelled scale (log scale_i = Z_i gamma) is fitted for families whose loss does not
    itself depend on the scale; with a penalty its MAP would no longer be scikit-learn's fit."""
    if options.get("scale_formula") is None:
        return
    label = OPTIONS["scale_formula"].label(spelling)

    def modelled(family) -> bool:
        # A loss that depends on the scale itself (Huber, Student-t) is not supported yet;
        # a quantile model's scale is a working parameter, not the spread of y.
        return (family.scale_name is not None and not family.scale_dependent_fit
                and not family.learned_shape and family.comparison_group == "distribution")

    unsupported = [name for name in options["likelihoods"] if not modelled(FAMILIES[name])]
    if unsupported:
        titles = ", ".join(FAMILIES[name].title for name in unsupported)
        supported = [n for n, f in FAMILIES.items() if modelled(f)]
        raise InputError(f"{label} models the scale of the {' and '.join(supported)} "
                         f"likelihoods only; not of {titles} (a loss that depends on the "
                         "scale itself, a quantile's working scale, or no scale); drop "
                         f"{label} or those likelihoods")
    if options.get("penalty") is not None:
        penalty = OPTIONS["penalty"].label(spelling)
        raise InputError(f"{label} and {penalty} cannot be combined: a penalty's MAP equals "
                         "scikit-learn's fit only at one fixed scale; drop one of them")
