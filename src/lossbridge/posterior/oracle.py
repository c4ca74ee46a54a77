"""Exact posteriors where they exist, and the check of sampled posteriors against them.

The closed forms belong to the families (:meth:`lossbridge.families.base.Family.exact_posterior`,
under flat priors; for the Normal likelihood Gelman et al., *Bayesian Data Analysis*, 3rd
ed., section 14.2, see :mod:`lossbridge.families.normal` and docs/design.md). This module
asks the model's family for its exact posterior and checks the sampled one against it.

The check compares sampled means and sds with the exact ones in units of their Monte
Carlo standard errors (ArviZ's mcse_mean and mcse_sd), never with a fixed tolerance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from ..data.design import Design
from ..data.rotation import Rotation
from ..estimation.exact import ExactFit
from ..families.base import ClosedFormPosterior
from ..models.spec import ModelSpec

Z_LIMIT = 4.0  # |z| above 4 MCSE has probability 6e-5 per quantity under a correct sampler

# The exact marginal means and sds of the coefficients (and the scale, when learned).


def exact_posterior(spec: ModelSpec, design: Design, rotation: Rotation,
                    exact: ExactFit) -> ClosedFormPosterior | None:
    """The exact posterior of ``spec``, or None where none is known.

    Only flat priors have closed forms here; the family decides whether it has one
    (``exact`` is its own exact classical fit, e.g. OLS for the Normal).
    """
    # Weak priors, a penalty or a modelled scale: no closed form.
    if not spec.flat_priors or spec.modelled_scale:
        return None
    return spec.family.exact_posterior(design, rotation, exact, spec.scale, spec.fixed_scale)


@dataclass(frozen=True)
class ParameterCheck:
    """One parameter: exact and sampled mean and sd, their z-scores in MCSE units."""

    exact_mean: float
    sampled_mean: float
    z_mean: float
    exact_sd: float
    sampled_sd: float
    relative_sd_error: float
    relative_sd_tolerance: float  # Z_LIMIT MCSEs of the sd, relative to the exact sd
    z_sd: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class OracleCheck:
    """The sampled posterior against the exact one; :func:`check_against_exact` builds it.

    Attributes
    ----------
    distribution : str
        The exact posterior's distribution (``ClosedFormPosterior.distribution``).
    dof : float or None
        Its degrees of freedom (a t), or None.
    parameters : dict of str to ParameterCheck
        Keyed by the summary's row labels.
    z_limit : float
        The largest |z| that passes.
    """

    distribution: str
    dof: float | None
    parameters: dict[str, ParameterCheck]
    z_limit: float = Z_LIMIT

    @property
    def max_abs_z(self) -> float:
        return float(max(max(abs(p.z_mean), abs(p.z_sd)) for p in self.parameters.values()))

    @property
    def passed(self) -> bool:
        """Every |z| within ``z_limit``."""
        return bool(self.max_abs_z <= self.z_limit)

    def as_dict(self) -> dict:
        """The JSON of ``fits[].oracle``."""
        return {
            "distribution": self.distribution,
            "dof": self.dof,
            "z_limit": self.z_limit,
            "max_abs_z": self.max_abs_z,
            "passed": self.passed,
            "parameters": {name: p.as_dict() for name, p in self.parameters.items()},
        }


def check_against_exact(summary: pd.DataFrame, exact: ClosedFormPosterior) -> OracleCheck:
    """z-scores of sampled means and sds against the exact posterior (|z| <= 4 passes)."""
    rows = {}
    for name in exact.mean.index:
        sampled = summary.loc[name]
        z_mean = (sampled["mean"] - exact.mean[name]) / sampled["mcse_mean"]
        z_sd = (sampled["sd"] - exact.sd[name]) / sampled["mcse_sd"]
        rows[name] = ParameterCheck(
            exact_mean=float(exact.mean[name]),
            sampled_mean=float(sampled["mean"]),
            z_mean=float(z_mean),
            exact_sd=float(exact.sd[name]),
            sampled_sd=float(sampled["sd"]),
            relative_sd_error=float(sampled["sd"] / exact.sd[name] - 1.0),
            relative_sd_tolerance=float(Z_LIMIT * sampled["mcse_sd"] / exact.sd[name]),
            z_sd=float(z_sd),
        )
    return OracleCheck(exact.distribution, exact.dof, rows)
