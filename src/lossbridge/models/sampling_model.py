"""The PyMC model that NUTS samples: every requested model as one block of a product.

The models of an analysis share no parameters, so their joint posterior is the product
of their posteriors and one NUTS run samples all of them: one compilation, one set of
worker processes and one pass of sampler overhead instead of one per model. Each block
uses the rotated coordinates of :mod:`lossbridge.data.rotation`.

The Normal log-likelihood enters through sufficient statistics, so a gradient costs
O(k^2) whatever n is. Written around the least-squares point theta_hat,

    RSS(theta) = RSS_min + s^2 (theta - theta_hat)' G (theta - theta_hat),   G = Q*'Q*,

which is an exact identity for a quadratic and, unlike y'y - 2 theta'X'y + ..., does not
cancel catastrophically when the fit is close. The Laplace log-likelihood has no
sufficient statistics and is summed over the data.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ..data.design import Design
from ..data.rotation import Rotation
from ..families.normal import LOG_2PI
from .priors import WeakPriors
from .reference import _weak_coefficient_logp
from .spec import ModelSpec


def block_name(spec: ModelSpec, variable: str) -> str:
    """Name of one block's variable in the joint model, e.g. ``normal-learned::theta``."""
    return f"{spec.name}::{variable}"


class NormalSufficientStatistics:
    """RSS_min, theta_hat and G: everything the Normal likelihood needs from the data."""

    def __init__(self, design: Design, rotation: Rotation):
        q, s = rotation.Q, rotation.y_scale
        self.n = design.n
        self.gram = q.T @ q
        self.theta_hat = np.linalg.solve(self.gram, q.T @ design.y) / s
        residuals = design.y - s * (q @ self.theta_hat)
        self.rss_min = float(residuals @ residuals)
        self.y_scale = s



def log_scale_unit(spec: ModelSpec, n: int) -> float:
    """Approximate posterior sd of log(scale): 1/sqrt(2n) for sigma, 1/sqrt(n) for b."""
    return 1.0 / np.sqrt(2.0 * n) if spec.likelihood == "normal" else 1.0 / np.sqrt(n)


def build_sampling_model(specs: list[ModelSpec], design: Design, rotation: Rotation,
                         estimates: list | None = None) -> pm.Model:
    """One PyMC model holding a block per spec (see module docstring).

    With ``estimates`` (the MAP of each spec) every block is standardised for NUTS: the
    free variables are z = (theta - theta_MAP) / u with u = scale / (s sqrt(n)) (the
    approximate posterior sd of theta, since Q*'Q* = n I) and, for a learned scale,
    v = log(scale / scale_MAP) / c with c = 1 / sqrt(2n) (Normal) or 1 / sqrt(n)
    (Laplace), the approximate posterior sd of log scale. Every free variable then has
    posterior sd near 1 at any n, so the sampler's adaptation starts at the right scale.
    The scale's prior gets the log-Jacobian of scale = scale_MAP exp(c v), log(scale) + const.
    ``theta`` and the scale are Deterministics with the names the unstandardised model
    gives its free variables. Without ``estimates`` (the MAP's own objective) theta and
    the scale are the free variables.
    """
    k = design.k
    weak = WeakPriors.from_design(design) if any(s.priors == "weak" for s in specs) else None
    stats = NormalSufficientStatistics(design, rotation) if any(
        s.likelihood == "normal" for s in specs) else None
    with pm.Model() as model:
        to_beta = pm.Data("beta_from_theta", rotation.beta_from_theta_matrix)
        # n as data too: a constant would be compiled into the C code, once per n.
        n_rows = pm.Data("n_rows", np.float64(design.n))
        needs_data = any(s.likelihood == "laplace" for s in specs)
        if needs_data:
            q = pm.Data("rotated_design", rotation.Q)
            y = pm.Data("y_observed", design.y)
            y_scale = pm.Data("y_scale", np.float64(rotation.y_scale))
        if stats is not None:
            gram = pm.Data("gram", stats.gram)
            theta_hat = pm.Data("theta_hat", stats.theta_hat)
            rss_min = pm.Data("rss_min", np.float64(stats.rss_min))
            s2 = pm.Data("y_scale_squared", np.float64(stats.y_scale**2))
        for index, spec in enumerate(specs):
            family = spec.family
            estimate = estimates[index] if estimates is not None else None
            if estimate is None:
                theta = pm.Flat(block_name(spec, "theta"), shape=k)
            else:
                # Shared variables, not constants: compiled code is reused across datasets.
                unit = pm.Data(block_name(spec, "unit"),
                               np.float64(estimate.scale / (rotation.y_scale * np.sqrt(design.n))))
                centre = pm.Data(block_name(spec, "theta_map"), np.asarray(estimate.theta))
                z = pm.Flat(block_name(spec, "z"), shape=k)
                theta = pm.Deterministic(block_name(spec, "theta"), centre + unit * z)
            if spec.priors == "weak":
                beta = pt.dot(to_beta, theta)
                pm.Potential(block_name(spec, "prior"), _weak_coefficient_logp(beta, weak))
            if spec.scale == "learned" and estimate is not None:
                c = pm.Data(block_name(spec, "log_scale_unit"),
                            np.float64(log_scale_unit(spec, design.n)))
                scale_map = pm.Data(block_name(spec, "scale_map"), np.float64(estimate.scale))
                v = pm.Flat(block_name(spec, "v"))
                scale = pm.Deterministic(block_name(spec, family.scale_name),
                                         scale_map * pt.exp(c * v))
                prior = 0.0
                if spec.priors == "weak":
                    prior = pm.logp(pm.Exponential.dist(lam=weak.scale_rate), scale)
                pm.Potential(block_name(spec, "scale_prior_and_jacobian"), prior + pt.log(scale))
            elif spec.scale == "learned" and spec.priors == "weak":
                scale = pm.Exponential(block_name(spec, family.scale_name), lam=weak.scale_rate)
            elif spec.scale == "learned":
                scale = pm.HalfFlat(block_name(spec, family.scale_name))
            else:
                scale = pm.Data(block_name(spec, f"fixed_{family.scale_name}"),
                                np.float64(spec.fixed_scale))
            if spec.likelihood == "normal":
                delta = theta - theta_hat
                rss = rss_min + s2 * pt.dot(delta, pt.dot(gram, delta))
                loglik = (-n_rows * pt.log(scale) - 0.5 * n_rows * LOG_2PI
                          - rss / (2.0 * scale**2))
            else:
                mu = y_scale * pt.dot(q, theta)
                loglik = -n_rows * pt.log(2.0 * scale) - pt.sum(pt.abs(y - mu)) / scale
            pm.Potential(block_name(spec, "loglik"), loglik)
    return model
