"""The frozen specification of one model: likelihood x scale mode x priors."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError
from .families import get_family
from .options import PRIOR_CHOICES as PRIORS
from .options import SCALE_MODES
from .validation import check_choice, check_positive_float


@dataclass(frozen=True)
class ModelSpec:
    """What to fit: a likelihood family, how its scale is treated, and the priors.

    Attributes
    ----------
    likelihood : str
        Family name in :data:`lossbridge.families.FAMILIES`.
    scale : {"learned", "fixed"}
        ``learned``: the scale is a parameter (HalfFlat prior under flat priors);
        ``fixed``: the scale is the number ``fixed_scale``.
    fixed_scale : float or None
        The scale value when ``scale == "fixed"``.
    fixed_scale_source : str or None
        Where the fixed value came from, said in every output.
    priors : {"flat", "weak"}
        ``flat``: flat on all coefficients (and HalfFlat on a learned scale), so the
        MAP is the maximum-likelihood estimate. ``weak``: autoscaled weakly informative
        priors (:mod:`lossbridge.priors`).
    """

    likelihood: str
    scale: str
    fixed_scale: float | None = None
    fixed_scale_source: str | None = None
    priors: str = "flat"

    def __post_init__(self) -> None:
        get_family(self.likelihood)
        check_choice("scale", self.scale, SCALE_MODES)
        check_choice("priors", self.priors, PRIORS)
        if self.scale == "fixed":
            if self.fixed_scale is None:
                raise InputError("a fixed-scale model needs fixed_scale (a positive number)")
            check_positive_float(f"fixed {self.family.scale_name}", self.fixed_scale)
        elif self.fixed_scale is not None:
            raise InputError("fixed_scale is only valid with scale='fixed'")

    @property
    def family(self):
        return get_family(self.likelihood)

    @property
    def name(self) -> str:
        """Model label used in every table: ``"<likelihood>-<scale>"``."""
        return f"{self.likelihood}-{self.scale}"
