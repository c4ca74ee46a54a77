"""The reference model: one model with an observed ``y`` and PyMC's own log-likelihood.

It is what the NLL check compares with (:mod:`lossbridge.estimation.nll`) and what fills
ArviZ's ``log_likelihood`` group; the MAP optimises it for a family without a faster form.
NUTS samples the joint model instead (:mod:`lossbridge.models.joint`, one block per
model), proven equal to this one by a test.

Coefficients live in the rotated parameterisation of :mod:`lossbridge.data.rotation`
(free variable ``theta``, flat); ``beta`` on the original scale is a Deterministic.
Weak priors on ``beta`` enter as a Potential: the map from theta to beta is linear, so
this is exactly the prior on beta. A learned scale is HalfFlat (flat priors) or
Exponential (weak priors); a fixed scale is a constant. A learned shape parameter
(``family.learned_shape``) is a variable of its own name under its declared prior
(``ShapeParameter.prior_dist``) and reaches the density as a keyword. The observed variable is
called ``y`` so ArviZ's log-likelihood group has one name for every model.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ..data.design import Design
from ..data.rotation import Rotation, rotated_linear_predictor
from .heteroscedastic import reference_scale
from .penalties import penalty_logp
from .priors import WeakPriors
from .spec import NO_SCALE_VALUE, ModelSpec

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
    family = spec.family
    rotation = (rotation or Rotation.of(design)).for_family(family)
    coords = {"term": list(design.terms), "rotated_term": list(range(design.k))}
    with pm.Model(coords=coords) as model:
        # Data enter as shared variables, not constants, so that PyTensor's compiled
        # code depends only on the model's structure and is reused across datasets.
        q = pm.Data("rotated_design", rotation.Q)
        to_beta = pm.Data("beta_from_theta", rotation.beta_from_theta_matrix)
        y_scale = pm.Data("y_scale", np.float64(rotation.y_scale))
        y = pm.Data("y_observed", design.y)
        theta = pm.Flat(ROTATED, dims="rotated_term")
        beta = pm.Deterministic(COEFFICIENTS, pt.dot(to_beta, theta), dims="term")
        eta = y_scale * rotated_linear_predictor(q, theta, rotation)
        if design.offset is not None:  # log exposure (--exposure): a known term of eta
            eta = eta + pm.Data("offset", design.offset)
        mu = family.link.inverse_tensor(eta)
        weak = WeakPriors.from_design(design, family) if spec.priors == "weak" else None
        if weak is not None:
            pm.Potential("coefficient_prior", _weak_coefficient_logp(beta, weak))
        if spec.penalty is not None:  # a ridge/lasso/elastic-net prior (fixed scale only)
            pm.Potential("penalty_prior", penalty_logp(beta, spec.penalty, design, spec.fixed_scale))
        if spec.modelled_scale:  # log scale_i = Z_i gamma (models/heteroscedastic.py)
            scale = reference_scale(spec, design, weak is not None)
        elif spec.scale == "learned" and weak is not None:
            scale = pm.Exponential(family.scale_name, lam=weak.scale_rate)
        elif spec.scale == "learned":
            scale = pm.HalfFlat(family.scale_name)
        elif not spec.has_scale:  # the family's density ignores it (Bernoulli, Poisson)
            scale = pt.as_tensor_variable(np.float64(NO_SCALE_VALUE))
        else:
            scale = pm.Data(f"fixed_{family.scale_name}", np.float64(spec.fixed_scale))
        # A learned shape parameter (a Student-t's nu) under its declared proper prior,
        # whatever the coefficients' priors; passed to the density as a keyword.
        names = [p.name for p in family.learned_shape]
        shape = [p.prior_variable(p.name) for p in family.learned_shape]
        # The family's own log-density: the one definition the sampler and the MAP use too.
        # mu of a categorical response is a row of class probabilities: one core dimension
        signature = None if not rotation.by_level else "(c)" + ",()" * (1 + len(shape)) + "->()"
        pm.CustomDist(OBSERVED, mu, scale, *shape,
                      logp=lambda value, m, s, *extra: family.logp(
                          value, m, s, **dict(zip(names, extra, strict=True))),
                      observed=y, signature=signature)
    return model


def _weak_coefficient_logp(beta, weak: WeakPriors):
    """Log-density of the autoscaled Normal priors at ``beta`` (a PyTensor vector of
    ``weak.blocks`` blocks of X's columns, level by level; every block under the same
    priors)."""
    p = len(weak.coefficient_sd)
    blocks = beta.reshape((weak.blocks, p))  # one row per block
    slopes = [j for j in range(p) if j != weak.intercept_index]
    terms = []
    if slopes:
        index = np.array(slopes)
        terms.append(pm.logp(pm.Normal.dist(0.0, weak.coefficient_sd[index]),
                             blocks[:, index]).sum())
    if weak.intercept_index is not None:
        # each block's intercept at centred predictors (predictor_means is 0 at the intercept)
        centred = blocks[:, weak.intercept_index] + pt.dot(blocks,
                                                            pt.as_tensor(weak.predictor_means))
        terms.append(pm.logp(pm.Normal.dist(weak.intercept_mean, weak.intercept_sd),
                             centred).sum())
    return pt.add(*terms) if len(terms) > 1 else terms[0]
