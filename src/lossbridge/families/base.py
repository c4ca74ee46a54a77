"""The family contract: everything that differs between likelihoods, behind one interface.

A family is one module (``normal.py``, ``laplace.py``) holding one :class:`Family`
subclass. The rest of the package calls these methods and never asks which family it
has: no module outside ``families/`` compares a family's name (a test checks this).
A family from outside the package is added with
:func:`lossbridge.families.registry.register_family` and then runs the whole pipeline.

What a family declares (see docs/design.md, "The family contract"):

* **identity and words**: ``name`` (registry key), ``title``, the loss it corresponds
  to (``loss_name``, ``loss_symbol``), its scale's name (``scale_name``, or None for a
  family without a scale) and ``density_kind`` (only densities of one kind compare);
* **the density**: :meth:`logp` (PyTensor, elementwise: the one definition used by the
  reference model, the sampler and the MAP), :meth:`logpdf` (NumPy, the same density
  for LOO and PPC), :meth:`replicate` (posterior predictive noise),
  :meth:`quantile` (noise quantiles, for QQ plots; optional), ``link``;
* **the loss and the NLL**: :meth:`loss`, :meth:`scale_mle`, :meth:`nll_constant` and
  :meth:`nll_loss_term` with their formulas, ``plug_in_formula``;
* **how its MAP is found and proven**: ``exact_solver`` names the exact classical fit in
  :data:`lossbridge.estimation.exact.SOLVERS` (None: the certificate says "no exact
  counterpart"), ``exact_name`` is its display name; ``smooth`` (Newton applies) and
  ``piecewise_linear`` (under flat priors the MAP is a vertex of the exact solver's LP);
* **optional faster or closed forms**: :meth:`sufficient_log_likelihood` (a form of the
  summed log-likelihood that costs less than O(n) per gradient, proven equal to the sum
  of :meth:`logp` by a test), :meth:`exact_posterior` and :meth:`exact_loo` (closed
  forms under flat priors, used as the oracle and as exact leave-one-out).

Shape parameters (a Student-t's nu, a quantile's tau) are declared in ``parameters``
and links other than the identity in ``link``; families without a scale set
``scale_name = None``. Families that need them arrive with later issues.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Link:
    """mu = inverse(eta) with eta = X beta; NumPy and PyTensor forms of the same map."""

    name: str
    inverse: Callable[[np.ndarray], np.ndarray]
    inverse_tensor: Callable


IDENTITY = Link("identity", lambda eta: eta, lambda eta: eta)


@dataclass(frozen=True)
class ShapeParameter:
    """A parameter of the density other than the location and the scale (nu, tau).

    ``fixed`` holds its value when the user fixes it; ``None`` means it is learned
    under ``prior`` (said in every output).
    """

    name: str
    default: float | None
    fixed: float | None = None
    prior: str | None = None


@dataclass(frozen=True)
class ClosedFormPosterior:
    """An exact posterior: the oracle the sampled one is checked against.

    ``mean`` and ``sd`` are indexed by the summary's row labels (terms, then the scale's
    ``scale: <name>`` label when the scale is learned); ``covariance`` is that of the
    coefficients; ``dof`` the degrees of freedom of a t, or None.
    """

    distribution: str
    mean: pd.Series
    sd: pd.Series
    covariance: np.ndarray
    dof: float | None


@dataclass(frozen=True)
class ClosedFormLoo:
    """Exact leave-one-out: log p(y_i | y_-i) and the LOO-PIT P(y_i^rep <= y_i | y_-i)."""

    elpd_pointwise: np.ndarray
    pit: np.ndarray


class Family(ABC):
    """One likelihood family and the loss it corresponds to (see the module docstring)."""

    name: str
    title: str
    scale_name: str | None
    loss_name: str
    loss_symbol: str
    constant_formula: str
    loss_term_formula: str
    plug_in_formula: str | None = None
    density_kind: str = "continuous"
    link: Link = IDENTITY
    parameters: tuple[ShapeParameter, ...] = ()
    exact_solver: str | None = None
    exact_name: str | None = None
    smooth: bool = True
    piecewise_linear: bool = False
    # Fisher information of log(scale) per observation: the posterior sd of log(scale)
    # is about 1 / sqrt(information * n), which standardises NUTS' coordinates.
    log_scale_information: float = 1.0

    # ------------------------------------------------------------------ the density
    @abstractmethod
    def logp(self, y, mu, scale):
        """PyTensor log-density of each y given mu and the scale (elementwise)."""

    @abstractmethod
    def logpdf(self, y: np.ndarray, mu: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """NumPy log-density, broadcasting: the same density as :meth:`logp`."""

    @abstractmethod
    def replicate(self, mu: np.ndarray, scale: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Posterior predictive draws y_rep ~ p(. | mu, scale), broadcasting ``scale``."""

    def quantile(self, p: np.ndarray, scale: float) -> np.ndarray | None:
        """Quantiles of the noise y - mu at probabilities ``p`` (for QQ plots); None if unknown."""
        return None

    # ------------------------------------------------------------------ loss and NLL
    @abstractmethod
    def loss(self, residuals: np.ndarray) -> float:
        """The loss whose minimiser is the MLE (RSS, SAD)."""

    @abstractmethod
    def scale_mle(self, loss: float, n: int) -> float:
        """Closed-form MLE of the scale given the minimised loss."""

    @abstractmethod
    def nll_constant(self, n: int, scale: float) -> float:
        """The part of the NLL that does not depend on the fit."""

    @abstractmethod
    def nll_loss_term(self, loss: float, scale: float) -> float:
        """The loss, divided by what the scale implies."""

    # ------------------------------------------------------------------ optional forms
    def sufficient_log_likelihood(self, design, rotation) -> Callable | None:
        """A cheaper exact form of the summed log-likelihood, or None (sum :meth:`logp`).

        Called inside a PyMC model context; returns ``f(theta, scale)`` giving the summed
        log-likelihood at rotated coefficients ``theta`` (see
        :mod:`lossbridge.data.rotation`), registering any data it needs as ``pm.Data``.
        """
        return None

    def exact_posterior(self, design, rotation, exact, scale_mode: str,
                        fixed_scale: float | None) -> ClosedFormPosterior | None:
        """The exact posterior under flat priors, or None where none is known."""
        return None

    def exact_loo(self, design, rotation, scale_mode: str, fixed_scale: float | None,
                  plug_in: bool) -> ClosedFormLoo | None:
        """Exact leave-one-out under flat priors, or None where no closed form applies.

        ``plug_in``: the fixed scale is this family's plug-in MLE, re-estimated without
        each row in the closed form.
        """
        return None

    def __repr__(self) -> str:
        return f"<family {self.name}>"
