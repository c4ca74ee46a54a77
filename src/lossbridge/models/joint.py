"""The joint model: the PyMC model that NUTS samples and the MAP optimises, one block per model.

Two PyMC models are built from a :class:`~lossbridge.models.spec.ModelSpec`:

* this one, :func:`build_joint_model`: every requested model as one block of a product,
  each block's log-likelihood a ``pm.Potential``. NUTS samples it
  (:mod:`lossbridge.posterior.sampling`) and the MAP optimises a one-block copy of it when
  the family has a fast form (:mod:`lossbridge.estimation.map`);
* :func:`lossbridge.models.reference.build_model`: one model with an observed ``y``, whose
  log-likelihood is PyMC's own; it is the reference the NLL check and ArviZ's
  ``log_likelihood`` group use, and a test proves this one equal to it.

The models of an analysis share no parameters, so their joint posterior is the product
of their posteriors and one NUTS run samples all of them: one compilation, one set of
worker processes and one pass of sampler overhead instead of one per model. Each block
uses the rotated coordinates of :mod:`lossbridge.data.rotation`.

Each block's log-likelihood is its family's: the family's faster exact form
(:meth:`~lossbridge.families.base.Family.sufficient_log_likelihood`, the Normal's
sufficient statistics, O(k^2) per gradient at any n) when it has one, shared by every
block of that family; otherwise the sum of :meth:`~lossbridge.families.base.Family.logp`
over the data (:meth:`~lossbridge.families.base.Family.summed_logp`), with
mu = link^-1(s Q* theta).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ..data.design import Design
from ..data.rotation import Rotation, rotated_linear_predictor
from ..families.base import Family
from .heteroscedastic import joint_scale
from .penalties import penalty_logp
from .priors import WeakPriors
from .reference import _weak_coefficient_logp
from .spec import NO_SCALE_VALUE, ModelSpec


def block_name(spec: ModelSpec, variable: str) -> str:
    """Name of one block's variable in the joint model, e.g. ``normal-learned::theta``.

    PyMC refuses '/' in a name (a scale formula may divide: ``~ I(x/1000)``); it becomes '|'
    here, which no label contains otherwise.
    """
    return f"{spec.name.replace('/', '|')}::{variable}"


def log_scale_unit(spec: ModelSpec, n: int) -> float:
    """Approximate posterior sd of log(scale), 1/sqrt(I n) with I the family's Fisher
    information of log(scale) per observation (2 for sigma, 1 for b)."""
    return 1.0 / np.sqrt(spec.family.log_scale_information * n)


class _LogLikelihoods:
    """Each family's summed log-likelihood ``f(theta, scale)`` in one model context.

    Data are registered once per model: a family's fast form once per family (its
    ``pm.Data`` names are its own), the rotated design and y once for every family
    summed over the data.
    """

    def __init__(self, design: Design, rotation: Rotation):
        self.design, self.rotation = design, rotation
        self._by_family: dict[tuple, Callable] = {}
        self._data = None
        self.fast: set[str] = set()  # the families whose blocks use their fast form

    def __call__(self, family: Family) -> Callable:
        # A fast form is shared by the family's blocks (its pm.Data are named after the
        # family); the summed form is built per block, so that two blocks of one family
        # with different shape settings (tau = 0.1, 0.9) each use their own density.
        if family.name not in self._by_family:
            self._by_family[family.name] = family.sufficient_log_likelihood(self.design,
                                                                            self.rotation)
            if self._by_family[family.name] is not None:
                self.fast.add(family.name)
        return self._by_family[family.name] or self._summed(family)

    def data(self):
        """The rotated design, y and y's scale as shared variables, registered once."""
        if self._data is None:
            # Shared variables, not constants: compiled code is reused across datasets.
            self._data = (pm.Data("rotated_design", self.rotation.Q),
                          pm.Data("y_observed", self.design.y),
                          pm.Data("y_scale", np.float64(self.rotation.y_scale)))
            # log exposure (--exposure): a known term of every block's eta
            self._offset = (None if self.design.offset is None
                            else pm.Data("offset", self.design.offset))
        return self._data

    def eta(self, theta, family: Family):
        q, _, y_scale = self.data()
        own = self.rotation.for_family(family).y_scale  # Family.coordinate_scale
        if own != self.rotation.y_scale:
            y_scale = pt.as_tensor_variable(np.float64(own))
        eta = y_scale * rotated_linear_predictor(q, theta, self.rotation)
        return eta if self._offset is None else eta + self._offset

    def elementwise(self, family: Family) -> Callable:
        """The plain sum of ``logp`` over the rows, for a per-row (vector) scale: the fast
        forms and ``summed_logp``'s shortcuts assume one scale."""
        _, y, _ = self.data()

        def log_likelihood(theta, scale):
            mu = family.link.inverse_tensor(self.eta(theta, family))
            return pt.sum(family.logp(y, mu, scale))

        return log_likelihood

    def _summed(self, family: Family) -> Callable:
        _, y, _ = self.data()

        def log_likelihood(theta, scale, **shape):
            mu = family.link.inverse_tensor(self.eta(theta, family))
            return family.summed_logp(y, mu, scale, **shape)

        return log_likelihood


def build_joint_model(specs: list[ModelSpec], design: Design, rotation: Rotation,
                      estimates: list | None = None) -> pm.Model:
    """One PyMC model holding a block per spec (see module docstring).

    With ``estimates`` (the MAP of each spec) every block is standardised for NUTS: the
    free variables are z = (theta - theta_MAP) / u with u = scale / (s sqrt(n)) (the
    approximate posterior sd of theta, since Q*'Q* = n I; for a link other than the
    identity the scale is the noise's size on eta, ``MapEstimate.location_scale``) and,
    for a learned scale,
    v = log(scale / scale_MAP) / c with c = :func:`log_scale_unit`, the approximate
    posterior sd of log scale. Every free variable then has
    posterior sd near 1 at any n, so the sampler's adaptation starts at the right scale.
    The scale's prior gets the log-Jacobian of scale = scale_MAP exp(c v), log(scale) + const.
    ``theta`` and the scale are Deterministics with the names the unstandardised model
    gives its free variables. A learned shape parameter (a Student-t's nu) is standardised
    the same way around its MAP (:func:`shape_coordinate`) and keeps its declared prior.
    Without ``estimates`` (the MAP's own objective) theta and
    the scale are the free variables.
    """
    return _build(specs, design, rotation, estimates)[0]


def fast_form_model(spec: ModelSpec, design: Design, rotation: Rotation) -> pm.Model | None:
    """The one-block joint model of ``spec`` when its family has a fast exact form of the
    log-likelihood (what the MAP then optimises), else None."""
    if (spec.modelled_scale
            or type(spec.family).sufficient_log_likelihood is Family.sufficient_log_likelihood):
        return None  # the contract's default: no fast form, nothing to build
    model, fast = _build([spec], design, rotation, None)
    return model if fast else None


def shape_coordinate(spec: ModelSpec, name: str) -> str:
    """The standardised free variable of learned shape parameter ``name`` in ``spec``'s block."""
    return block_name(spec, f"w_{name}")


def _learned_shape(spec: ModelSpec, estimate, n: int) -> dict:
    """Each learned shape parameter of ``spec`` under its declared prior, by name.

    Without an estimate: the prior's PyMC variable (log-transformed by PyMC where its
    support is positive). With one (NUTS): standardised as the scale is, value =
    value_MAP exp(c w) with c the MAP's approximate posterior sd of log value
    (``MapEstimate.shape_units``), the prior plus the log-Jacobian log(value) as a Potential.
    """
    out = {}
    for parameter in spec.family.learned_shape:
        name = parameter.name
        if estimate is None:
            out[name] = parameter.prior_variable(block_name(spec, name))
            continue
        unit = pm.Data(block_name(spec, f"log_{name}_unit"), np.float64(estimate.shape_units[name]))
        centre = pm.Data(block_name(spec, f"{name}_map"), np.float64(estimate.shape[name]))
        w = pm.Flat(shape_coordinate(spec, name))
        value = pm.Deterministic(block_name(spec, name), centre * pt.exp(unit * w))
        pm.Potential(block_name(spec, f"{name}_prior_and_jacobian"),
                     parameter.prior_logp(value) + pt.log(value))
        out[name] = value
    return out


def _build(specs, design, rotation, estimates) -> tuple[pm.Model, set[str]]:
    k = design.k
    with pm.Model() as model:
        to_beta = pm.Data("beta_from_theta", rotation.beta_from_theta_matrix)
        log_likelihoods = _LogLikelihoods(design, rotation)
        for index, spec in enumerate(specs):
            family = spec.family
            own = rotation.for_family(family)  # this family's coordinate scale
            block_to_beta = to_beta if own is rotation else pm.Data(
                block_name(spec, "beta_from_theta"), own.beta_from_theta_matrix)
            # on the scale of this family's linear predictor (Family.weak_prior_eta_scale)
            weak = WeakPriors.from_design(design, family) if spec.priors == "weak" else None
            estimate = estimates[index] if estimates is not None else None
            if estimate is None:
                theta = pm.Flat(block_name(spec, "theta"), shape=k)
            else:
                # Shared variables, not constants: compiled code is reused across datasets.
                unit = pm.Data(block_name(spec, "unit"),
                               np.float64(estimate.location_scale
                                          / (own.y_scale * np.sqrt(design.n))))
                centre = pm.Data(block_name(spec, "theta_map"), np.asarray(estimate.theta))
                z = pm.Flat(block_name(spec, "z"), shape=k)
                theta = pm.Deterministic(block_name(spec, "theta"), centre + unit * z)
            if spec.priors == "weak":
                beta = pt.dot(block_to_beta, theta)
                pm.Potential(block_name(spec, "prior"), _weak_coefficient_logp(beta, weak))
            if spec.penalty is not None:  # a ridge/lasso/elastic-net prior (fixed scale only)
                pm.Potential(block_name(spec, "penalty_prior"),
                             penalty_logp(pt.dot(block_to_beta, theta), spec.penalty, design,
                                          spec.fixed_scale))
            if spec.modelled_scale:  # log scale_i = Z_i gamma (models/heteroscedastic.py)
                scale = joint_scale(spec, design, estimate, partial(block_name, spec))
                pm.Potential(block_name(spec, "loglik"),
                             log_likelihoods.elementwise(family)(theta, scale))
                continue
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
            elif not spec.has_scale:  # the family's density ignores it
                scale = pt.as_tensor_variable(np.float64(NO_SCALE_VALUE))
            else:
                scale = pm.Data(block_name(spec, f"fixed_{family.scale_name}"),
                                np.float64(spec.fixed_scale))
            shape = _learned_shape(spec, estimate, design.n)
            pm.Potential(block_name(spec, "loglik"), log_likelihoods(family)(theta, scale, **shape))
    return model, log_likelihoods.fast
