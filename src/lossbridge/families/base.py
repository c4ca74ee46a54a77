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

Shape parameters (a Student-t's nu, a quantile's tau, Huber's c) are declared in
``parameters``: a registered family is a template, and :meth:`Family.with_shape` gives
the instance one model uses (``tau = 0.9``), whose methods read the settings with
:meth:`Family.shape_value`; a parameter learned by the model (value None) is passed to
the density methods as a keyword. Links other than the identity are set in ``link``;
families without a scale set ``scale_name = None``.
"""

from __future__ import annotations

import copy
import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
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
    """A parameter of the density other than the location and the scale (nu, tau, c).

    A model fixes it to a number (the family's :meth:`Family.with_shape`) or, where
    ``learnable``, learns it: its value is then None and the models give it ``prior``
    (said in every output). Valid numbers lie strictly between ``lower`` and ``upper``.

    Attributes
    ----------
    name : str
        The parameter's name in labels, JSON and the PyMC model (``"tau"``).
    default : float or None
        Its value when the user gives none (None: learned).
    lower, upper : float or None
        Exclusive bounds of the valid values (None: unbounded).
    learnable : bool
        The parameter may be learned (value None) under ``prior``.
    prior : str or None
        The prior of a learned value, in words (``"Gamma(2, 0.1)"``).
    option : str or None
        The option that sets it (Python keyword and TOML key; the flag is ``--`` plus it
        with dashes); None: not settable.
    multiple : bool
        The option takes several values, one model each (``--tau 0.1 --tau 0.9``).
    help : str
        The option's help text.
    prior_dist : (str, tuple of (str, float)) or None
        The prior of a learned value as a PyMC distribution and its keyword arguments
        (``("Gamma", (("alpha", 2.0), ("beta", 0.1)))``), what ``prior`` says in words;
        every model and the exact solvers build it from here (:meth:`prior_variable`,
        :meth:`prior_logp`, :meth:`prior_logpdf`). Needed where ``learnable``.
    initial : float or None
        Where optimisers start a learned value (the MAP, the exact solvers' first start).
    """

    name: str
    default: float | None
    lower: float | None = 0.0
    upper: float | None = None
    learnable: bool = False
    prior: str | None = None
    option: str | None = None
    multiple: bool = False
    help: str = ""
    prior_dist: tuple | None = None
    initial: float | None = None
    # A setting that is a word, not a number (a Bernoulli's link): its valid values, in
    # order, the first being the default; ``lower``/``upper`` do not apply.
    choices: tuple[str, ...] | None = None

    def valid_range(self) -> str:
        if self.choices is not None:  # a word-valued setting
            return "{" + ", ".join(self.choices) + "}"
        low = "-inf" if self.lower is None else format(self.lower, "g")
        high = "inf" if self.upper is None else format(self.upper, "g")
        return f"({low}, {high})"

    def check(self, label: str, value: object) -> float | str | None:
        """``value`` as a float inside the bounds (None where learnable), or one of
        ``choices`` for a word-valued setting; else InputError."""
        from ..core.errors import InputError  # families import core only

        if value is None and self.learnable:
            return None
        if self.choices is not None:
            if not isinstance(value, str) or value not in self.choices:
                raise InputError(f"{label} must be one of {', '.join(map(repr, self.choices))}; "
                                 f"got {value!r}")
            return value
        given = value
        if isinstance(value, str):  # the command line passes text ("0.9")
            try:
                value = float(value)
            except ValueError:
                pass
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not np.isfinite(value)
                or (self.lower is not None and value <= self.lower)
                or (self.upper is not None and value >= self.upper)):
            learned = " (or omitted: learned)" if self.learnable else ""
            raise InputError(f"{label} must be a number in {self.valid_range()}{learned}; "
                             f"got {given!r}")
        return float(value)

    # The prior of a learned value, built from ``prior_dist`` (one declaration, three uses).
    def _prior(self):
        if self.prior_dist is None:
            raise ValueError(f"shape parameter {self.name!r} declares no prior_dist")
        distribution, arguments = self.prior_dist
        # float64 arrays: a Python float exact in float32 (2.0, 0.5) would otherwise become
        # a float32 constant (PyTensor's autocast) and the prior be computed to 1e-8
        return distribution, {k: np.asarray(v, dtype=np.float64) for k, v in arguments}

    def prior_variable(self, name: str):
        """The PyMC random variable ``name`` with this prior (inside a model context)."""
        import pymc as pm

        distribution, arguments = self._prior()
        return getattr(pm, distribution)(name, **arguments)

    def prior_logp(self, value):
        """PyTensor log-density of the prior at ``value`` (PyMC's own)."""
        import pymc as pm

        distribution, arguments = self._prior()
        return pm.logp(getattr(pm, distribution).dist(**arguments), value)

    def prior_logpdf(self, value: float) -> float:
        """NumPy log-density of the prior at ``value`` (scipy's, for the exact solvers)."""
        return float(_scipy_prior(self.prior_dist).logpdf(value))


def _scipy_gamma(alpha: float, beta: float):
    from scipy import stats

    return stats.gamma(alpha, scale=1.0 / beta)  # PyMC's beta is a rate


def _scipy_exponential(lam: float):
    from scipy import stats

    return stats.expon(scale=1.0 / lam)


@functools.lru_cache(maxsize=64)
def _scipy_prior(prior_dist: tuple):
    """The frozen scipy distribution of a ``prior_dist`` (cached: freezing costs ~1 ms,
    and the exact solvers evaluate a prior thousands of times)."""
    if prior_dist is None:
        raise ValueError("this shape parameter declares no prior_dist")
    distribution, arguments = prior_dist
    if distribution not in SCIPY_PRIORS:
        raise ValueError(f"no scipy form of the {distribution} prior; add one to SCIPY_PRIORS")
    return SCIPY_PRIORS[distribution](**dict(arguments))


# PyMC distribution name -> the same distribution in scipy (PyMC's parameterisation).
SCIPY_PRIORS: dict[str, Callable] = {"Gamma": _scipy_gamma, "Exponential": _scipy_exponential}


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
    # What the likelihood is: "continuous" (a density on the real line) or "discrete" (a
    # probability mass function: binary, categories or counts). Leave-one-out ranks only
    # models of one kind: a density and a probability are not on one scale (Vehtari et
    # al., cross-validation FAQ).
    density_kind: str = "continuous"
    # A binary response: the MLE may not exist (separation, estimation/separation.py checks
    # it), and a two-level text response may be coded 0/1 by ``--positive``.
    separation_check: bool = False
    # The response is a set of K unordered levels (a Categorical): the design codes them
    # 0..K-1 with the reference level 0 (``Design.classes``), eta has K - 1 columns, one
    # coefficient vector per non-reference level, and ``mu`` = link^-1(eta) holds each
    # row's K class probabilities (last axis); such a family is fitted only beside others
    # of its kind. Its MLE may not exist either (separation against some level:
    # estimation/separation.py checks it too, on the margins against every other level).
    categorical_response: bool = False
    link: Link = IDENTITY
    parameters: tuple[ShapeParameter, ...] = ()
    # The settings of ``parameters`` this instance has (see :meth:`with_shape`); a
    # registered family is the template, with every parameter at its default.
    shape_values: Mapping[str, float | None] = MappingProxyType({})
    # The option that fixes the scale (``--sigma``); None: ``scale_name``. Families whose
    # scales share a name (the Normal's and the Student-t's sigma) need their own.
    scale_option: str | None = None
    # Fitted when the user names no likelihood (Normal and Laplace: the original question).
    in_default_set: bool = True
    # The simulation law (``data.simulation.LAW_PARAMETERS``) this likelihood contains: a
    # fit of the family to data from that law is correctly specified, so a simulation
    # study counts leave-one-out ranking this family first as picking the true law.
    # None: no law of the simulator is of this family.
    noise_law: str | None = None
    # The density with its normalising constant, in words, for the report's dictionary
    # panel ("exp(-r²/(2σ²)) / (σ √(2π))"); "" where the family does not say.
    density_formula: str = ""
    # What the model answers, so that only like is ranked with like: "distribution" (the
    # whole conditional law of y; ranked together by leave-one-out) or "quantile" (one
    # conditional quantile; shown in its own section, outside the ranking).
    comparison_group: str = "distribution"
    # eta may carry a known offset (``--exposure``: log exposure): meaningful only where
    # mu = exp(eta) scales with exposure (a log link on a count); the pipeline refuses an
    # exposure for a family that does not declare it.
    supports_offset: bool = False
    exact_solver: str | None = None
    exact_name: str | None = None
    # The loss depends on the scale (Huber's rho_c(r/sigma), a Student-t's), so its exact
    # fit does too: the solver is called with ``scale=`` for a fixed-scale model (None:
    # the scale is estimated with the coefficients), and :meth:`scaled_loss` is the loss
    # at a scale (see estimation.exact.exact_fit_for).
    scale_dependent_fit: bool = False
    smooth: bool = True
    piecewise_linear: bool = False
    # The log-likelihood is concave in the coefficients at a fixed scale (and the density
    # a location-scale one, for a learned scale): the flat-prior posterior is unimodal, so
    # the independence sampler may take it (posterior/sampling.py). False is the safe default.
    log_concave: bool = False
    # At a fixed scale the NLL is RSS/(2 scale²) + const (the Normal): a ridge, lasso or
    # elastic-net prior's MAP is then scikit-learn's fit (models/penalties.py).
    least_squares: bool = False
    # Fisher information of log(scale) per observation: the posterior sd of log(scale)
    # is about 1 / sqrt(information * n), which standardises NUTS' coordinates.
    log_scale_information: float = 1.0
    # A correction the posterior module applies to the coefficients' posterior covariance
    # (``"yang_wang_he"``: the quantile likelihood's sandwich, Yang, Wang and He 2016);
    # None: the posterior is reported as sampled.
    sandwich_adjustment: str | None = None
    # The shape parameter that is the model's quantile level (the quantile family's "tau"),
    # for the check that fitted quantile lines do not cross; None: not a quantile model.
    quantile_level: str | None = None
    # Which moment of the noise e the continuous -log f(mu + e) grows like in |e|, so that
    # the cross-entropy from a law is infinite where that moment is: "second" (e², the
    # Normal), "first" (|e|: linear tails, Laplace, Huber, quantile), "log" (log|e|: a
    # Student-t; finite under every law here); None: not declared (quadrature is trusted).
    cross_entropy_moment: str | None = None

    # ------------------------------------------------------------------ shape parameters
    def with_shape(self, **values: float | None) -> Family:
        """This family with its shape parameters set (the others at their defaults).

        A number fixes a parameter; None (where ``learnable``) leaves it to be learned, its
        value then passed to :meth:`logp`, :meth:`logpdf` and :meth:`replicate` as a
        keyword. Returns a copy: the registered template is unchanged.
        """
        from ..core.errors import InputError

        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(values) - set(known))
        if unknown:
            valid = ", ".join(sorted(known)) or "none"
            raise InputError(f"the {self.title} family has no parameter {unknown[0]!r} "
                             f"(its parameters: {valid})")
        settings = {name: p.check(name, values.get(name, p.default)) for name, p in known.items()}
        bound = copy.copy(self)
        bound.shape_values = MappingProxyType(settings)
        return bound

    def shape_value(self, name: str) -> float | None:
        """The setting of shape parameter ``name`` (None: learned)."""
        if name in self.shape_values:
            return self.shape_values[name]
        return next(p.default for p in self.parameters if p.name == name)

    @property
    def learned_shape(self) -> tuple[ShapeParameter, ...]:
        """The shape parameters this instance learns (value None)."""
        return tuple(p for p in self.parameters if self.shape_value(p.name) is None)

    @property
    def additive_noise(self) -> bool:
        """y = mu + noise with mu = X beta: an identity link and a continuous density. Only
        then are y - X beta residuals draws of the noise, so the residual figures (density,
        against fitted, QQ) and the residual-shape tests (skew, tails) apply; a count or a
        binary y under a log or logit link has no such noise."""
        return self.link.name == "identity" and self.density_kind == "continuous"

    @property
    def fixed_scale_option(self) -> str | None:
        """The option fixing this family's scale: ``scale_option``, else ``scale_name``."""
        return self.scale_option or self.scale_name

    # ------------------------------------------------------------------ the density
    @abstractmethod
    def logp(self, y, mu, scale):
        """PyTensor log-density of each y given mu and the scale (elementwise)."""

    def summed_logp(self, y, mu, scale, **shape):
        """PyTensor log-likelihood summed over the rows: ``pt.sum(self.logp(y, mu, scale))``
        (learned shape values as keywords).

        A family may override it with an algebraically equal form that PyTensor evaluates
        faster (the Laplace takes n log(2b) out of the sum: its gradient is ~10x cheaper
        than the per-row form at n = 2e5), proven equal to the sum of :meth:`logp` by a test.
        """
        import pytensor.tensor as pt

        return pt.sum(self.logp(y, mu, scale, **shape))

    @abstractmethod
    def logpdf(self, y: np.ndarray, mu: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """NumPy log-density, broadcasting: the same density as :meth:`logp`."""

    @abstractmethod
    def replicate(self, mu: np.ndarray, scale: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Posterior predictive draws y_rep ~ p(. | mu, scale), broadcasting ``scale``."""

    def quantile(self, p: np.ndarray, scale: float) -> np.ndarray | None:
        """Quantiles of the noise y - mu at probabilities ``p`` (for QQ plots); None if unknown."""
        return None

    def cross_entropy_closed_form(self, law, delta: np.ndarray, scale: float,
                                  **shape) -> np.ndarray | None:
        """E[-log f(y | mu_hat, scale)] per row for y = mu_hat + delta + e, e from ``law``
        (a :class:`lossbridge.data.simulation.NoiseLaw`), in closed form; None where there
        is none (:mod:`lossbridge.posterior.truth` then integrates numerically)."""
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

    def scaled_loss(self, residuals: np.ndarray, scale: float) -> float:
        """The loss at ``scale``: what the exact fit at that scale minimises (the
        certificate compares the MAP with it there). :meth:`loss` itself unless the
        family's loss depends on the scale (``scale_dependent_fit``)."""
        return self.loss(residuals)

    def scaled_loss_rounding(self, X: np.ndarray, y: np.ndarray, beta: np.ndarray,
                             scale: float) -> float:
        """Bound on the rounding error of :meth:`scaled_loss` at ``beta``."""
        return self.loss_rounding(X, y, beta)

    def loss_at(self, residuals: np.ndarray, scale: float, **shape: float) -> float:
        """The loss at these residuals, for a loss that depends on the scale and the shape
        (the Student-t's); :meth:`scaled_loss` (Huber's) or :meth:`loss` where it does not."""
        return self.scaled_loss(residuals, scale)

    # The loss and the NLL at fitted means mu = link^-1(eta). A location family's loss is a
    # function of the residuals y - mu (the defaults); a GLM's (Bernoulli, Poisson) is a
    # function of y and mu, and its NLL constant of y (log y! for a count).
    def loss_of(self, y: np.ndarray, mu: np.ndarray, scale: float, **shape: float) -> float:
        """The loss at fitted means ``mu`` (:meth:`loss_at` of the residuals by default)."""
        return self.loss_at(y - mu, scale, **shape)

    def nll_constant_of(self, y: np.ndarray, scale: float, **shape: float) -> float:
        """The NLL's part that does not depend on the fit, given y (:meth:`nll_constant`)."""
        return self.nll_constant(int(np.size(y)), scale, **shape)

    def loss_term_of(self, y: np.ndarray, mu: np.ndarray, scale: float, **shape: float) -> float:
        """NLL minus :meth:`nll_constant_of` at fitted means ``mu`` (:meth:`loss_term`)."""
        return self.loss_term(y - mu, scale, **shape)

    def check_response(self, y: np.ndarray, response: str) -> None:
        """Raise :class:`InputError` when ``y`` is not data this family can model (a
        non-binary y for a Bernoulli, a negative count for a Poisson); continuous
        families take any finite y."""
        return None

    def initial_linear_predictor(self, y: np.ndarray) -> np.ndarray:
        """A linear predictor eta to start the MAP from (its least-squares projection on
        X is the start): y itself for the identity link, link(y) made finite otherwise."""
        return y

    def linear_predictor_scale(self, y: np.ndarray, mu: np.ndarray, scale: float,
                               **shape: float) -> float:
        """The noise's size on the scale of eta at fitted means ``mu``: 1/sqrt of the mean
        Fisher information of eta per row. The posterior sd of a coefficient is about this
        over sqrt(n) (NUTS' coordinates are standardised by it); the scale itself for an
        identity link."""
        return scale

    def eta_derivatives(self, y: np.ndarray, eta: np.ndarray, scale: float,
                        **shape: float) -> tuple[np.ndarray, np.ndarray] | None:
        """Per row, d log f / d eta and -d^2 log f / d eta^2 at linear predictor ``eta``:
        the score and the observed information the exact GLM solver's Newton steps and its
        KKT certificate use (:mod:`lossbridge.estimation.glm`); None where not given."""
        return None

    def newton_objective(self, y: np.ndarray, mu: np.ndarray, **shape: float) -> float:
        """The NLL at fitted means ``mu`` up to a constant in y, in a form free of
        cancellation (a deviance), which the exact GLM solver's line search compares:
        minus the summed :meth:`logpdf` by default."""
        return -float(np.sum(self.logpdf(y, mu, 1.0, **shape)))

    def coordinate_scale(self, y_scale: float) -> float:
        """The scale s of the rotated coordinates, eta = s Q* theta
        (:meth:`lossbridge.data.rotation.Rotation.for_family`), given the sd-based
        ``y_scale``: y_scale itself for the identity link; 1 for any other link, since eta
        is then on the link's scale whatever the size of y (a unit of theta of sd(y) on
        the log mean of counts near e^12 would be a step of thousands on eta)."""
        return y_scale if self.link is IDENTITY else 1.0

    def weak_prior_eta_scale(self, y: np.ndarray) -> float:
        """The size of y on the scale of eta, which the weak priors autoscale the
        coefficients by (Normal(0, 2.5 s / sd(x_j)), intercept sd 2.5 s): sd(y) for an
        identity link (its root mean square if y is constant); a link family says its own
        (1 for a Bernoulli's logit, as rstanarm)."""
        return float(np.std(y, ddof=1)) or float(np.sqrt(np.mean(y**2))) or 1.0

    def weak_prior_eta_centre(self, y: np.ndarray) -> float:
        """The weak prior's mean of the intercept at centred predictors, on the scale of
        eta: mean(y) for an identity link."""
        return float(np.mean(y))

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

    def batch_log_likelihood(self, design, rotation, centre: np.ndarray) -> Callable | None:
        """The summed log-likelihood at many rotated coefficient vectors at once, in NumPy:
        ``f(theta (S, k), scale (S,)) -> (S,)``, for the independence sampler; None where
        the family cannot give it (a learned shape parameter, a categorical response).

        ``rotation`` is the family's own (``Rotation.for_family``); ``centre`` the MAP's
        rotated coefficients (the proposals lie around it). The default evaluates
        :meth:`logpdf` row by row in chunks (:class:`lossbridge.families.batched.GenericBatch`);
        a family with a faster exact form overrides it.
        """
        if self.learned_shape or self.categorical_response:
            return None
        from .batched import GenericBatch

        return GenericBatch(self, design, rotation)

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

    # ------------------------------------------------------------------ presentation hooks
    def ppc_statistics(self, classes: tuple[str, ...] | None) -> dict[str, Callable] | None:
        """The posterior predictive check's statistics of this family's y, as
        ``{label: T(values, axis)}``; None: the generic ones (mean, sd, median, ...: see
        :data:`lossbridge.posterior.ppc.STATISTICS`). ``classes``: the design's levels of a
        categorical response (None otherwise); for a categorical response, one statistic
        per level in the order of ``classes`` (the report reads them so)."""
        return None
