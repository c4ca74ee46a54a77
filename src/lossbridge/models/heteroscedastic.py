"""The modelled scale of a heteroscedastic model: log scale_i = Z_i gamma.

``Z`` is the design of the scale's own one-sided formula (``--scale-formula "~ x"``,
:attr:`lossbridge.data.design.Design.Z`), on the same rows as ``X``. Under flat priors
gamma is flat (the MAP is the joint maximum-likelihood estimate of beta and gamma);
under weak priors each gamma_j is Normal: Normal(0, 2.5 / sd(z_j)) for a column that
varies and, for a constant column c (the intercept), Normal(log sd(y) / c, 2.5 / |c|),
i.e. a scale of about sd(y) within a factor e^2.5 either way.

The scale is a vector, so the block's log-likelihood is the plain elementwise sum of
:meth:`~lossbridge.families.base.Family.logp`: the families' fast forms
(the Normal's sufficient statistics, the Laplace's n log(2b)) assume one scale.

For NUTS gamma is standardised around its MAP with the Fisher information of log scale,
``I Z'Z`` (I = ``Family.log_scale_information`` per row): gamma = gamma_MAP + U w with
U = L^-T, L L' = I Z'Z, so w has posterior covariance near the identity.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ..core.labels import scale_label
from ..data.design import Design

GAMMA = "gamma"
WEAK_SD = 2.5


def gamma_labels(scale_name: str, scale_terms) -> list[str]:
    """Row labels of gamma beside the coefficients: ``"scale: log sigma[income]"``."""
    return [scale_label(f"log {scale_name}[{term}]") for term in scale_terms]


def _check(design: Design) -> np.ndarray:
    if design.Z is None:
        raise ValueError("a modelled-scale model needs a design built with scale_formula")
    return design.Z


def weak_gamma_prior(design: Design) -> tuple[np.ndarray, np.ndarray]:
    """Means and sds of the weak Normal priors on gamma (see the module docstring)."""
    Z = _check(design)
    sd_y = float(np.std(design.y, ddof=1)) or 1.0
    spread = np.std(Z, axis=0, ddof=1) if design.n > 1 else np.zeros(Z.shape[1])
    constant = Z[0]
    means = np.where(spread > 0, 0.0, np.log(sd_y) / np.where(spread > 0, 1.0, constant))
    sds = np.where(spread > 0, WEAK_SD / np.where(spread > 0, spread, 1.0),
                   WEAK_SD / np.abs(np.where(spread > 0, 1.0, constant)))
    return means, sds


def describe_gamma_priors(spec, design: Design) -> dict[str, str]:
    """Each gamma prior in words, keyed by :func:`gamma_labels`."""
    labels = gamma_labels(spec.family.scale_name, design.scale_terms)
    if spec.priors != "weak":
        return dict.fromkeys(labels, "flat (improper uniform)")
    means, sds = weak_gamma_prior(design)
    return {label: f"Normal({m:.4g}, {s:.4g})" for label, m, s in zip(labels, means, sds,
                                                                       strict=True)}


def information_unit(family, Z: np.ndarray) -> np.ndarray:
    """U = L^-T with L L' = I Z'Z: the approximate posterior sd matrix of gamma."""
    information = family.log_scale_information * (Z.T @ Z)
    chol = np.linalg.cholesky(information)
    return np.linalg.solve(chol.T, np.eye(Z.shape[1]))


def _prior(gamma, design: Design, name: str) -> None:
    means, sds = weak_gamma_prior(design)
    pm.Potential(name, pm.logp(pm.Normal.dist(means, sds), gamma).sum())


def reference_scale(spec, design: Design, weak: bool):
    """Inside the reference model's context: flat ``gamma`` (dims ``scale_term``) and the
    per-row scale exp(Z gamma)."""
    Z = _check(design)
    model = pm.modelcontext(None)
    model.add_coord("scale_term", list(design.scale_terms))
    z = pm.Data("scale_design", Z)
    gamma = pm.Flat(GAMMA, dims="scale_term")
    if weak:
        _prior(gamma, design, "scale_prior")
    return pt.exp(pt.dot(z, gamma))


def joint_scale(spec, design: Design, estimate, name):
    """Inside the joint model's context: the block's gamma and per-row scale.

    ``name(variable)`` gives the block's variable names. With ``estimate`` (its MAP,
    carrying ``gamma``) gamma = gamma_MAP + U w (module docstring), else gamma is free.
    """
    Z = _check(design)
    z = pm.Data(name("scale_design"), Z)
    if estimate is None:
        gamma = pm.Flat(name(GAMMA), shape=Z.shape[1])
    else:
        unit = pm.Data(name("gamma_unit"), information_unit(spec.family, Z))
        centre = pm.Data(name("gamma_map"), np.asarray(estimate.gamma, dtype=float))
        w = pm.Flat(name("w"), shape=Z.shape[1])
        gamma = pm.Deterministic(name(GAMMA), centre + pt.dot(unit, w))
    if spec.priors == "weak":
        _prior(gamma, design, name("scale_prior"))
    return pt.exp(pt.dot(z, gamma))
