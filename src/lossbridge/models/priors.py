"""Prior choices: ``flat`` (MAP = maximum likelihood) and ``weak`` (autoscaled).

``weak`` follows rstanarm's default weakly informative priors (Gabry & Goodrich,
"Prior Distributions for rstanarm Models", rstanarm vignette, 2020), autoscaled by the data:

* each non-intercept coefficient: Normal(0, 2.5 sd(y) / sd(x_j));
* the intercept, on the scale of centred predictors (its value at the mean of every
  predictor): Normal(mean(y), 2.5 sd(y));
* the likelihood's scale (sigma or b): Exponential(rate = 1 / sd(y)).

For a family with a link, sd(y) and mean(y) are replaced by the family's sizes on the
scale of eta (``Family.weak_prior_eta_scale`` and ``weak_prior_eta_centre``): a
Bernoulli's are 1 and 0, so its coefficients get rstanarm's Normal(0, 2.5 / sd(x_j)) and
its intercept Normal(0, 2.5).

A column with zero spread that is not the intercept (a design without ``Intercept``)
is scaled by its root mean square instead of its sd.

A categorical response (``Design.classes``) has one coefficient vector per non-reference
level (``Design.predictors`` blocks of X's columns): every block gets the same priors,
on the log-odds of its level against the reference (eta scale 1, centre 0): slopes
Normal(0, 2.5 / sd(x_j)), and the block's intercept at centred predictors Normal(0, 2.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..core.labels import scale_label, shape_label

if TYPE_CHECKING:  # annotations only: the CLI's option checks must not load formulaic
    from ..data.design import Design

PRIOR_CHOICES = ("flat", "weak")
COEFFICIENT_SCALE = 2.5


@dataclass(frozen=True, eq=False)
class WeakPriors:
    """Autoscaled weakly informative prior parameters for one design.

    ``coefficient_sd`` and ``predictor_means`` are per column of X (p values); the
    coefficients are ``blocks`` such vectors, level by level (one for every response but a
    categorical one), each under the same priors.
    """

    coefficient_sd: np.ndarray  # (p,), NaN at the intercept
    intercept_index: int | None  # the intercept's column of X
    intercept_mean: float
    intercept_sd: float
    predictor_means: np.ndarray  # (p,), 0 at the intercept
    scale_rate: float
    blocks: int = 1

    @classmethod
    def from_design(cls, design: Design, family=None) -> WeakPriors:
        """The priors for ``design``; the coefficients' on the scale of ``family``'s
        linear predictor (:meth:`~lossbridge.families.base.Family.weak_prior_eta_scale`;
        None: that of y, an identity link)."""
        X, y = design.X, design.y
        sd_y = float(np.std(y, ddof=1)) or float(np.sqrt(np.mean(y**2))) or 1.0
        sd_eta = sd_y if family is None else family.weak_prior_eta_scale(y)
        centre = float(np.mean(y)) if family is None else family.weak_prior_eta_centre(y)
        spread = np.std(X, axis=0, ddof=1)
        rms = np.sqrt(np.mean(X**2, axis=0))
        spread = np.where(spread > 0, spread, rms)
        intercept = design.columns.index("Intercept") if design.has_intercept else None
        coefficient_sd = COEFFICIENT_SCALE * sd_eta / spread
        means = X.mean(axis=0)
        if intercept is not None:
            coefficient_sd[intercept] = np.nan
            means[intercept] = 0.0
        return cls(
            coefficient_sd=coefficient_sd,
            intercept_index=intercept,
            intercept_mean=centre,
            intercept_sd=COEFFICIENT_SCALE * sd_eta,
            predictor_means=means,
            scale_rate=1.0 / sd_y,
            blocks=design.predictors,
        )

    def describe(self, terms: tuple[str, ...], scale_name: str | None) -> dict[str, str]:
        """Each prior in words, per parameter (``terms``: the design's, one per
        coefficient, block by block), for tables and JSON."""
        out = {}
        p = len(self.coefficient_sd)
        if len(terms) != p * self.blocks:
            raise ValueError(f"{len(terms)} terms for {self.blocks} block(s) of {p} columns")
        for t, term in enumerate(terms):
            j = t % p  # the column of X this coefficient multiplies
            if j == self.intercept_index:
                out[term] = (
                    f"Normal({self.intercept_mean:.4g}, {self.intercept_sd:.4g}) "
                    "on the intercept at centred predictors"
                )
            else:
                out[term] = f"Normal(0, {self.coefficient_sd[j]:.4g})"
        if scale_name is not None:  # a family without a scale has no scale prior
            out[scale_label(scale_name)] = f"Exponential(rate={self.scale_rate:.4g})"
        return out


def describe_flat(terms: tuple[str, ...], scale_name: str | None) -> dict[str, str]:
    """Flat priors in words, per parameter; the scale is named as its family names it and
    keyed by its label (a term may itself be called ``sigma`` or ``b``); none without one."""
    out = {term: "flat (improper uniform)" for term in terms}
    if scale_name is not None:
        out[scale_label(scale_name)] = f"HalfFlat (improper uniform on {scale_name} > 0)"
    return out


def describe_priors(spec, design: Design) -> dict[str, str]:
    """Each parameter's prior in words, as the JSON's ``prior_details`` says it."""
    scale_name = spec.family.scale_name
    if spec.priors == "weak":
        described = WeakPriors.from_design(design, spec.family).describe(design.terms, scale_name)
    else:
        described = describe_flat(design.terms, scale_name)
    if getattr(spec, "modelled_scale", False):  # gamma in place of one scale
        from .heteroscedastic import describe_gamma_priors  # lazy: it loads PyMC

        del described[scale_label(scale_name)]
        described.update(describe_gamma_priors(spec, design))
    if spec.scale == "fixed":
        described[scale_label(scale_name)] = f"fixed at {spec.fixed_scale:.6g} ({spec.fixed_scale_source})"
    penalty = getattr(spec, "penalty", None)
    if penalty is not None:  # the prior each penalty is, on each penalised coefficient
        from .penalties import penalised_columns

        text = penalty.describe(design.n, spec.fixed_scale)
        for j in penalised_columns(design):
            described[design.terms[j]] = text
        for j in set(range(design.k)) - set(penalised_columns(design)):
            described[design.terms[j]] = "flat (improper uniform; the intercept is unpenalised)"
    for parameter in spec.family.learned_shape:  # its own proper prior, under either choice
        described[shape_label(parameter.name)] = (
            f"{parameter.prior} on {parameter.name} (proper; the MAP of {parameter.name} is a "
            "posterior mode under it, not a maximum-likelihood value)")
    return described
