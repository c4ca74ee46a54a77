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
  reference model, the sampler and the MAP), :meth:`summed_logp` (its sum over the rows,
  as the joint model adds it up), :meth:`logpdf` (NumPy, the same density for LOO and
  PPC), :meth:`replicate` (posterior predictive noise), :meth:`quantile` (noise
  quantiles, for QQ plots; optional), ``link``;
* **the loss and the NLL**: :meth:`loss`, :meth:`scale_mle` (None: no closed form, the
  plug-in scale is then maximised numerically), :meth:`nll_constant` and
  :meth:`nll_loss_term` with their formulas, ``plug_in_formula`` (the closed form in
  words, None exactly when :meth:`scale_mle` is); :meth:`loss_term`
  (the NLL minus its constant from the residuals, for a loss that does not factor
  through one number, such as the logistic's) and :meth:`loss_rounding` (the rounding
  bound of :meth:`loss`, which widens the certificate's and the NLL check's tolerances);
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
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # only for annotations: importing pandas costs the CLI's --help 0.5 s
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

    def summed_logp(self, y, mu, scale):
        """PyTensor log-likelihood summed over the rows: ``pt.sum(self.logp(y, mu, scale))``.

        A family may override it with an algebraically equal form that PyTensor evaluates
        faster (the Laplace takes n log(2b) out of the sum: its gradient is ~10x cheaper
        than the per-row form at n = 2e5), proven equal to the sum of :meth:`logp` by a test.
        """
        import pytensor.tensor as pt

        return pt.sum(self.logp(y, mu, scale))

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

    def scale_mle(self, loss: float, n: int) -> float | None:
        """Closed-form MLE of the scale given the minimised loss; None where none exists
        (the plug-in scale is then the scale of the numerical MLE)."""
        return None

    @abstractmethod
    def nll_constant(self, n: int, scale: float) -> float:
        """The part of the NLL that does not depend on the fit."""

    def nll_loss_term(self, loss: float, scale: float) -> float:
        """The loss, divided by what the scale implies.

        Families whose NLL is not a function of one loss value override
        :meth:`loss_term` instead and may leave this unimplemented.
        """
        raise NotImplementedError(f"{self.name}: its NLL needs the residuals (loss_term)")

    def loss_term(self, residuals: np.ndarray, scale: float) -> float:
        """NLL minus :meth:`nll_constant` at these residuals (what the NLL panel shows)."""
        return self.nll_loss_term(self.loss(residuals), scale)

    def loss_rounding(self, X: np.ndarray, y: np.ndarray, beta: np.ndarray) -> float:
        """Bound on the rounding error of :meth:`loss` at ``beta``, in the loss's units;
        0 where none is known (the checks then use their contract tolerances alone)."""
        return 0.0

    def nll_rounding(self, X: np.ndarray, y: np.ndarray, beta: np.ndarray, scale: float) -> float:
        """Bound on the rounding error of :meth:`loss_term` at ``beta``, in nats."""
        bound = self.loss_rounding(X, y, beta)
        return self.nll_loss_term(bound, scale) if bound > 0 else 0.0

    # ------------------------------------------------------------------ optional forms
    def smallest_scale(self, loss: float, nats: float) -> float | None:
        """The scale at which :meth:`nll_loss_term` of ``loss`` reaches ``nats`` (below it
        double precision cannot resolve the posterior), or None without a closed form."""
        return None

    def loss_term_text(self, scale: str) -> str:
        """The NLL's loss term written with the scale's option name (for messages)."""
        return f"{self.loss_symbol} term at {scale}"

    def sufficient_log_likelihood(self, design, rotation) -> Callable | None:
        """A cheaper exact form of the summed log-likelihood, or None (sum :meth:`logp`).

        Called inside a PyMC model context; returns ``f(theta, scale)`` giving the summed
        log-likelihood at rotated coefficients ``theta`` (see
        :mod:`lossbridge.data.rotation`), registering any data it needs as ``pm.Data``
        under names prefixed ``"<name>::"``. Call it once per model context: the joint
        model (:mod:`lossbridge.models.joint`) shares the closure between every block of
        the family. The MAP optimises this form when it exists.
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
