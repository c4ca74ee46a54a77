"""The PyMC model that NUTS samples: every requested model as one block of a product.

The models of an analysis share no parameters, so their joint posterior is the product
of their posteriors and one NUTS run samples all of them: one compilation, one set of
worker processes and one pass of sampler overhead instead of one per model. Each block
uses the rotated coordinates of :mod:`lossbridge.rotation`.

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

from .design import Design
from .model import _weak_coefficient_logp
from .priors import WeakPriors
from .rotation import Rotation
from .spec import ModelSpec

LOG_2PI = float(np.log(2 * np.pi))


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

    def rss(self, theta):
        """RSS at ``theta`` (PyTensor or NumPy vector)."""
        delta = theta - self.theta_hat
        return self.rss_min + self.y_scale**2 * (delta @ self.gram @ delta)

    def loglik(self, theta, sigma):
        return -self.n * pt.log(sigma) - 0.5 * self.n * LOG_2PI - self.rss(theta) / (2.0 * sigma**2)


def build_sampling_model(specs: list[ModelSpec], design: Design, rotation: Rotation) -> pm.Model:
    """One PyMC model holding a block per spec (see module docstring)."""
    k = design.k
    weak = WeakPriors.from_design(design) if any(s.priors == "weak" for s in specs) else None
    stats = NormalSufficientStatistics(design, rotation) if any(
        s.likelihood == "normal" for s in specs) else None
    with pm.Model() as model:
        to_beta = pm.Data("beta_from_theta", rotation.beta_from_theta_matrix)
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
        for spec in specs:
            family = spec.family
            theta = pm.Flat(block_name(spec, "theta"), shape=k)
            if spec.priors == "weak":
                beta = pt.dot(to_beta, theta)
                pm.Potential(block_name(spec, "prior"), _weak_coefficient_logp(beta, weak))
            if spec.scale == "learned" and spec.priors == "weak":
                scale = pm.Exponential(block_name(spec, family.scale_name), lam=weak.scale_rate)
            elif spec.scale == "learned":
                scale = pm.HalfFlat(block_name(spec, family.scale_name))
            else:
                scale = pm.Data(block_name(spec, f"fixed_{family.scale_name}"),
                                np.float64(spec.fixed_scale))
            if spec.likelihood == "normal":
                delta = theta - theta_hat
                rss = rss_min + s2 * pt.dot(delta, pt.dot(gram, delta))
                loglik = (-design.n * pt.log(scale) - 0.5 * design.n * LOG_2PI
                          - rss / (2.0 * scale**2))
            else:
                mu = y_scale * pt.dot(q, theta)
                loglik = -design.n * pt.log(2.0 * scale) - pt.sum(pt.abs(y - mu)) / scale
            pm.Potential(block_name(spec, "loglik"), loglik)
    return model
