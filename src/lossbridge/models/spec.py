"""The frozen specification of one model: likelihood x scale mode x priors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..core.errors import InputError
from ..core.validation import check_choice, check_positive_float
from ..families.registry import get_family
from .identity import MODEL_SCALE_MODES, MODELLED, NO_SCALE, ModelId, model_label
from .penalties import Penalty, check_penalised_models
from .priors import PRIOR_CHOICES as PRIORS

# What a family without a scale receives as its scale argument: its density ignores it,
# and every stage (MAP, NUTS, pointwise log-likelihood, PPC) then treats the model as one
# with a fixed scale, without a special case.
NO_SCALE_VALUE = 1.0


@dataclass(frozen=True)
class ModelSpec:
    """What to fit: a likelihood family, how its scale is treated, and the priors.

    Attributes
    ----------
    likelihood : str
        Family name in :data:`lossbridge.families.registry.FAMILIES`.
    scale : {"learned", "fixed", "modelled", "none"}
        ``none``: the family has no scale (Bernoulli, Poisson; ``fixed_scale`` is then
        :data:`NO_SCALE_VALUE`, which its density ignores);
        ``learned``: the scale is a parameter (HalfFlat prior under flat priors);
        ``fixed``: the scale is the number ``fixed_scale``; ``modelled``: per row,
        log scale_i = Z_i gamma with Z from ``scale_formula`` (flat priors on gamma, or
        weak ones: :mod:`lossbridge.models.heteroscedastic`).
    fixed_scale : float or None
        The scale value when ``scale == "fixed"``.
    fixed_scale_source : str or None
        Where the fixed value came from, said in every output: ``"user value (--sigma)"``
        or ``"user value (--b)"`` for a value the user gave, a text starting
        ``"plug-in MLE"`` for the closed-form MLE of the exact fit to these same data.
    priors : {"flat", "weak"}
        ``flat``: flat on all coefficients (and HalfFlat on a learned scale), so the
        MAP is the maximum-likelihood estimate. ``weak``: autoscaled weakly informative
        priors (:mod:`lossbridge.models.priors`).
    fixed_scale_is_plug_in : bool
        True when the fixed scale was estimated from the same data (the plug-in MLE),
        so the model uses the data twice; False for a user value and for a learned scale.
    shape : tuple of (str, float or None)
        The family's shape settings (``(("tau", 0.9),)``), normalised as
        :class:`~lossbridge.models.identity.ModelId` does: every declared parameter,
        sorted, at its default where not given.
    scale_formula : str or None
        The one-sided formula of a modelled scale (``"~ income"``), else None.
    penalty : Penalty or None
        A ridge, lasso or elastic-net prior on the non-intercept coefficients
        (:mod:`lossbridge.models.penalties`): needs a fixed scale, flat priors and a
        least-squares family, where its MAP is scikit-learn's fit.
    """

    likelihood: str
    scale: str
    fixed_scale: float | None = None
    fixed_scale_source: str | None = None
    priors: str = "flat"
    fixed_scale_is_plug_in: bool = False
    shape: tuple = ()
    scale_formula: str | None = None
    penalty: Penalty | None = None

    def __post_init__(self) -> None:
        check_choice("scale", self.scale, MODEL_SCALE_MODES)
        object.__setattr__(self, "shape", ModelId(self.likelihood, self.scale, self.shape,
                                                  self.scale_formula).shape)
        family = self.family
        check_choice("priors", self.priors, PRIORS)
        if self.scale == NO_SCALE:
            if self.fixed_scale not in (None, NO_SCALE_VALUE) or self.fixed_scale_is_plug_in:
                raise InputError(f"likelihood {self.likelihood!r} has no scale to fix; got "
                                 f"fixed_scale={self.fixed_scale!r}")
            object.__setattr__(self, "fixed_scale", NO_SCALE_VALUE)
            object.__setattr__(self, "fixed_scale_source", None)
        elif self.scale == "fixed":
            if self.fixed_scale is None:
                raise InputError("a fixed-scale model needs fixed_scale (a positive number)")
            check_positive_float(f"fixed {self.family.scale_name}", self.fixed_scale)
        elif self.fixed_scale is not None:
            raise InputError("fixed_scale is only valid with scale='fixed'")
        if not isinstance(self.fixed_scale_is_plug_in, bool):
            raise InputError("fixed_scale_is_plug_in must be true or false; got "
                             f"{self.fixed_scale_is_plug_in!r}")
        if self.fixed_scale_is_plug_in and self.scale != "fixed":
            raise InputError("fixed_scale_is_plug_in is only valid with scale='fixed'")
        if self.penalty is not None:
            if not isinstance(self.penalty, Penalty):
                raise InputError(f"penalty must be a Penalty or None; got {self.penalty!r}")
            check_penalised_models(self.penalty, [family], [self.scale], self.priors,
                                   "scale='fixed'", "likelihoods")

    @property
    def flat_priors(self) -> bool:
        """Flat priors on every coefficient (no penalty): the closed forms of the flat-prior
        posterior (oracle, exact LOO) apply."""
        return self.priors == "flat" and self.penalty is None

    @property
    def family(self):
        """The family with this model's shape settings."""
        return self.model_id.family

    @property
    def model_id(self) -> ModelId:
        """The model's identity (:class:`lossbridge.models.identity.ModelId`): what tables key by."""
        return ModelId.of(self)

    @property
    def name(self) -> str:
        """Model label used in every table (``"normal-learned"``): :attr:`model_id`'s label,
        written here without the registry so that a fit outlives its family's registration."""
        return model_label(self.likelihood, self.shape, self.scale, self.scale_formula,
                           self.penalty)

    @property
    def has_scale(self) -> bool:
        """The family has a scale (False for Bernoulli, Poisson: scale mode ``none``)."""
        return self.scale != NO_SCALE

    @property
    def modelled_scale(self) -> bool:
        """The scale is a function of the data (log scale_i = Z_i gamma)."""
        return self.scale == MODELLED


def make_spec(name: str, mode: str, fixed_value: float | None, plug_in_scale: float | None,
              priors: str, other_user_scales: Sequence[str] = (), shape: tuple = (),
              penalty: Penalty | None = None) -> ModelSpec:
    """The spec of one model; a fixed scale is the user's value for this family, or the plug-in.

    ``plug_in_scale`` is the plug-in MLE (:func:`lossbridge.estimation.map.plug_in_scale`):
    the closed form at the exact fit where the family has both, else the scale of the
    numerical MLE; it is only needed for a fixed scale without a user value.
    ``other_user_scales`` names the families given a user value, so that a plug-in scale
    can say it was not set by another family's option (``--sigma`` never sets ``b``).
    """
    if mode in ("learned", NO_SCALE):
        return ModelSpec(name, mode, priors=priors, shape=shape, penalty=penalty)
    family = get_family(name)
    option = family.fixed_scale_option.replace("_", "-")
    if fixed_value is not None:
        return ModelSpec(name, "fixed", fixed_value, f"user value (--{option})", priors,
                         shape=shape, penalty=penalty)
    if plug_in_scale is None:
        raise InputError(f"the {name}-fixed model needs a scale: give a value for "
                         f"{family.scale_name} (a positive number) or a plug-in MLE")
    if family.exact_solver is not None and family.plug_in_formula is not None:
        source = f"plug-in MLE of the exact {family.exact_name} fit, {family.plug_in_formula}"
    else:  # no closed form: the scale of the joint maximum-likelihood fit, found numerically
        source = (f"plug-in MLE of the {family.title} likelihood's {family.scale_name}, "
                  "maximised numerically with the coefficients (no closed form)")
    others = [get_family(n).fixed_scale_option.replace("_", "-") for n in other_user_scales
              if n != name]
    if others:
        flags = " and ".join(f"--{scale}" for scale in others)
        source += (f"; {flags} does not set {family.scale_name}: give --{option} "
                   "to fix it")
    return ModelSpec(name, "fixed", plug_in_scale, source, priors,
                     fixed_scale_is_plug_in=True, shape=shape, penalty=penalty)
