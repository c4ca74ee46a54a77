"""Exact posteriors where they exist, and the check of sampled posteriors against them.

The closed forms belong to the families (:meth:`lossbridge.families.base.Family.exact_posterior`,
under flat priors; for the Normal likelihood Gelman et al., *Bayesian Data Analysis*, 3rd
ed., section 14.2, see :mod:`lossbridge.families.normal` and docs/design.md). This module
asks the model's family for its exact posterior and checks the sampled one against it.

The check compares sampled means and sds with the exact ones in units of their Monte
Carlo standard errors (ArviZ's mcse_mean and mcse_sd), never with a fixed tolerance.
"""

from __future__ import annotations

import pandas as pd

from ..data.design import Design
from ..data.rotation import Rotation
from ..estimation.exact import ExactFit
from ..families.base import ClosedFormPosterior
from ..models.spec import ModelSpec

Z_LIMIT = 4.0  # |z| above 4 MCSE has probability 6e-5 per quantity under a correct sampler

# The exact marginal means and sds of the coefficients (and the scale, when learned).
ExactPosterior = ClosedFormPosterior


def exact_posterior(spec: ModelSpec, design: Design, rotation: Rotation,
                    exact: ExactFit) -> ExactPosterior | None:
    """The exact posterior of ``spec``, or None where none is known.

    Only flat priors have closed forms here; the family decides whether it has one
    (``exact`` is its own exact classical fit, e.g. OLS for the Normal).
    """
    if spec.priors != "flat":
        return None
    return spec.family.exact_posterior(design, rotation, exact, spec.scale, spec.fixed_scale)


def check_against_exact(summary: pd.DataFrame, exact: ExactPosterior) -> dict:
    """z-scores of sampled means and sds against the exact posterior.

    Returns a JSON-ready dict with ``passed`` (all |z| <= 4), the largest |z|, and per
    parameter the exact and sampled mean and sd and their z-scores.
    """
    rows = {}
    for name in exact.mean.index:
        sampled = summary.loc[name]
        z_mean = (sampled["mean"] - exact.mean[name]) / sampled["mcse_mean"]
        z_sd = (sampled["sd"] - exact.sd[name]) / sampled["mcse_sd"]
        rows[name] = {
            "exact_mean": float(exact.mean[name]),
            "sampled_mean": float(sampled["mean"]),
            "z_mean": float(z_mean),
            "exact_sd": float(exact.sd[name]),
            "sampled_sd": float(sampled["sd"]),
            "relative_sd_error": float(sampled["sd"] / exact.sd[name] - 1.0),
            "relative_sd_tolerance": float(Z_LIMIT * sampled["mcse_sd"] / exact.sd[name]),
            "z_sd": float(z_sd),
        }
    largest = max(max(abs(r["z_mean"]), abs(r["z_sd"])) for r in rows.values())
    return {
        "distribution": exact.distribution,
        "dof": exact.dof,
        "z_limit": Z_LIMIT,
        "max_abs_z": float(largest),
        "passed": bool(largest <= Z_LIMIT),
        "parameters": rows,
    }
