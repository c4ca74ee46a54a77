"""The registry of likelihood families: look one up by name, or add one from outside.

>>> from lossbridge.families.registry import get_family, register_family
>>> get_family("laplace").loss_name
'absolute error'

A family registered with :func:`register_family` runs the whole pipeline (MAP, its
certificate or "no exact counterpart", NUTS, LOO, comparison, report); see
docs/design.md for the contract it implements.
"""

from __future__ import annotations

from ..core.errors import InputError
from .base import Family
from .bernoulli import BERNOULLI
from .categorical import CATEGORICAL
from .huber import HUBER
from .laplace import LAPLACE
from .negbin import NEGBIN
from .normal import NORMAL
from .poisson import POISSON
from .quantile import QUANTILE
from .student import STUDENT

FAMILIES: dict[str, Family] = {f.name: f for f in (NORMAL, LAPLACE, QUANTILE, HUBER, STUDENT, POISSON,
                                                  BERNOULLI, NEGBIN, CATEGORICAL)}


def register_family(family: Family, *, replace: bool = False) -> Family:
    """Add ``family`` to the registry under ``family.name``; returns it.

    Raises :class:`InputError` when the name is taken (unless ``replace``) or the object
    does not implement :class:`Family`.
    """
    if not isinstance(family, Family):
        raise InputError(f"family must be a lossbridge Family; got {family!r}")
    if family.name in FAMILIES and not replace:
        raise InputError(f"a family named {family.name!r} is already registered")
    FAMILIES[family.name] = family
    return family


def unregister_family(name: str) -> None:
    """Remove the family registered as ``name`` (for tests and plug-ins that clean up)."""
    FAMILIES.pop(name, None)


def get_family(name: str) -> Family:
    """Return the family registered as ``name``; raise listing the valid names otherwise."""
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise InputError(
            f"likelihood must be one of {', '.join(repr(k) for k in FAMILIES)}; got {name!r}"
        ) from None
