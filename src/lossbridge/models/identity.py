"""Model identity as data: which family, with which parameter settings, and how its scale is treated.

A :class:`ModelId` is what every table, the comparison and the report key by. Its
:attr:`~ModelId.label` (``"normal-learned"``, ``"quantile(tau=0.9)-learned"``) is
derived from it for display and for the JSON contract, and is never parsed back: code
that needs the family or the scale mode reads the fields. See docs/design.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import InputError
from ..core.validation import check_choice
from ..families.base import Family
from ..families.registry import get_family
from .penalties import Penalty

# How a model treats its likelihood's scale: a parameter, or a number given to it.
SCALE_MODES = ("learned", "fixed")
# A model's scale may also be a function of the data, log scale_i = Z_i gamma with Z from
# its own formula (``--scale-formula``): added beside the constant-scale models, never a
# choice of ``--scale``.
MODELLED = "modelled"
# A family without a scale (Bernoulli, Poisson) has one model, whatever ``--scale`` asks.
NO_SCALE = "none"
MODEL_SCALE_MODES = (*SCALE_MODES, MODELLED, NO_SCALE)


def family_label(likelihood: str, shape) -> str:
    """``"quantile(tau=0.9)"``: the family's name and its fixed shape settings (learned
    ones, None, are left out: ``"student"`` learns nu, ``"student(nu=4)"`` fixes it)."""
    settings = ", ".join(f"{name}={value if isinstance(value, str) else format(value, 'g')}"
                         for name, value in shape if value is not None)
    return f"{likelihood}({settings})" if settings else likelihood


def model_label(likelihood: str, shape, scale: str, scale_formula: str | None = None,
                penalty: Penalty | None = None) -> str:
    """A model's display label from its fields, without the registry:
    ``"<family label>-<scale mode>"``, or ``"normal-scale(~ x)"`` for a modelled scale,
    then ``"+<penalty>"`` (``normal-fixed+lasso(alpha=0.5)``); a family without a scale
    is its family label alone (``"bernoulli(link=probit)"``)."""
    if scale == NO_SCALE:
        label = family_label(likelihood, shape)
    elif scale == MODELLED:
        label = f"{family_label(likelihood, shape)}-scale({' '.join(str(scale_formula).split())})"
    else:
        label = f"{family_label(likelihood, shape)}-{scale}"
    return label if penalty is None else f"{label}+{penalty.label}"


@dataclass(frozen=True)
class ModelId:
    """The identity of one model: a family, its shape-parameter settings, a scale mode.

    Frozen and hashable, so it keys dictionaries and sets; two ids are equal when they
    describe the same model, whatever the display label.

    Attributes
    ----------
    likelihood : str
        Name of a family registered in :data:`lossbridge.families.registry.FAMILIES`.
    scale : {"learned", "fixed", "modelled", "none"}
        How the family's scale is treated (modelled: log scale_i = Z_i gamma; none: the
        family has no scale).
    shape : tuple of (str, float or None)
        Settings of the family's shape parameters (a Student-t's nu, a quantile's tau),
        sorted by name: a number when fixed, None when learned; every declared parameter,
        at its default where not given. Empty for the families that have none.
    scale_formula : str or None
        The one-sided formula of a modelled scale (``"~ x"``); None otherwise.
    penalty : Penalty or None
        A ridge, lasso or elastic-net prior on the coefficients (:mod:`lossbridge.models.penalties`).
    """

    likelihood: str
    scale: str
    shape: tuple[tuple[str, float | None], ...] = ()
    scale_formula: str | None = None
    penalty: Penalty | None = None

    def __post_init__(self) -> None:
        family = get_family(self.likelihood)
        check_choice("scale", self.scale, MODEL_SCALE_MODES)
        if (self.scale == NO_SCALE) != (family.scale_name is None):
            what = ("has no scale: its only mode is 'none'" if family.scale_name is None
                    else f"has a scale ({family.scale_name}): 'none' is for families without one")
            raise InputError(f"likelihood {self.likelihood!r} {what}; got scale={self.scale!r}")
        if (self.scale == MODELLED) != (self.scale_formula is not None):
            raise InputError("a modelled scale needs its scale_formula, and only a modelled "
                             f"scale has one; got scale={self.scale!r}, "
                             f"scale_formula={self.scale_formula!r}")
        pairs = self.shape if isinstance(self.shape, (tuple, list)) else None
        if pairs is None or not all(isinstance(p, (tuple, list)) and len(p) == 2
                                    and isinstance(p[0], str) for p in pairs):
            raise InputError("shape must be a sequence of (parameter name, value or None) "
                             f"pairs; got {self.shape!r}")
        settings = dict(pairs)
        if len(settings) != len(pairs):
            raise InputError(f"shape names a parameter twice; got {self.shape!r}")
        # Every declared parameter, at its default where not given: one id per model.
        bound = family.with_shape(**settings)
        object.__setattr__(self, "shape", tuple(sorted(bound.shape_values.items())))
        if self.penalty is not None and not isinstance(self.penalty, Penalty):
            raise InputError(f"penalty must be a Penalty or None; got {self.penalty!r}")

    @classmethod
    def of(cls, spec) -> ModelId:
        """The identity of a :class:`lossbridge.models.spec.ModelSpec` (or of any object
        with ``likelihood``, ``scale`` and, optionally, ``shape``)."""
        return cls(spec.likelihood, spec.scale, tuple(getattr(spec, "shape", ()) or ()),
                   getattr(spec, "scale_formula", None), getattr(spec, "penalty", None))

    @property
    def family(self) -> Family:
        """The registered family with this model's shape settings (:meth:`Family.with_shape`)."""
        family = get_family(self.likelihood)
        return family.with_shape(**dict(self.shape)) if family.parameters else family

    @property
    def family_label(self) -> str:
        """The likelihood part of the label: ``"normal"``, ``"quantile(tau=0.9)"``."""
        return family_label(self.likelihood, self.shape)

    @property
    def label(self) -> str:
        """Display label, also the JSON ``model`` value: ``"<family>[(<settings>)]-<scale>"``.

        For display only: nothing reads a model's family or scale mode back out of it.
        """
        return model_label(self.likelihood, self.shape, self.scale, self.scale_formula,
                           self.penalty)

    def as_dict(self) -> dict:
        """JSON form: ``{"likelihood", "scale", "shape": {name: value}}``, and
        ``"scale_formula"`` / ``"penalty"`` when there is one (see :meth:`from_dict`)."""
        out = {"likelihood": self.likelihood, "scale": self.scale, "shape": dict(self.shape)}
        if self.scale_formula is not None:
            out["scale_formula"] = self.scale_formula
        if self.penalty is not None:
            out["penalty"] = self.penalty.as_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> ModelId:
        """Inverse of :meth:`as_dict`; ``shape`` may be missing (no shape parameters)."""
        if not isinstance(data, dict):
            raise InputError(f"a model id must be a mapping with likelihood and scale; got {data!r}")
        try:
            likelihood, scale = data["likelihood"], data["scale"]
        except KeyError as missing:
            raise InputError(f"a model id needs {missing.args[0]!r}; got {data!r}") from None
        shape = data.get("shape") or {}
        if not isinstance(shape, dict):
            raise InputError(f"a model id's shape must be a mapping; got {shape!r}")
        return cls(likelihood, scale, tuple(shape.items()), data.get("scale_formula"),
                   Penalty.from_dict(data.get("penalty")))

    def __str__(self) -> str:
        return self.label
