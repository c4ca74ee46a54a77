"""Build the PyMC model of one :class:`~lossbridge.spec.ModelSpec` on a design.

Coefficients live in the rotated parameterisation of :mod:`lossbridge.rotation`
(free variable ``theta``); ``beta`` on the original scale is a Deterministic. The
scale is a HalfFlat random variable when learned, a constant when fixed. The observed
variable is called ``y`` so ArviZ's log-likelihood group has one name for every model.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from .design import Design
from .rotation import Rotation
from .spec import ModelSpec

OBSERVED = "y"
ROTATED = "theta"
COEFFICIENTS = "beta"


def build_model(spec: ModelSpec, design: Design, rotation: Rotation | None = None) -> pm.Model:
    """Return the PyMC model for ``spec`` on ``design``.

    Parameters
    ----------
    spec : ModelSpec
        Likelihood, scale mode and priors.
    design : Design
        Validated data.
    rotation : Rotation, optional
        Precomputed QR rotation of ``design`` (shared between the models of one analysis).
    """
    rotation = rotation or Rotation.from_design(design.X, design.y)
    family = spec.family
    coords = {"term": list(design.terms), "rotated_term": list(range(design.k))}
    with pm.Model(coords=coords) as model:
        theta = pm.Flat(ROTATED, dims="rotated_term")
        pm.Deterministic(
            COEFFICIENTS, pt.dot(pt.as_tensor(rotation.beta_from_theta_matrix), theta), dims="term"
        )
        mu = rotation.y_scale * pt.dot(pt.as_tensor(rotation.Q), theta)
        if spec.scale == "learned":
            scale = pm.HalfFlat(family.scale_name)
        else:
            scale = pt.as_tensor(np.float64(spec.fixed_scale))
        family.distribution(OBSERVED, mu=mu, observed=design.y, **{family.scale_name: scale})
    return model
