"""Penalties as priors: ridge, lasso and elastic net in scikit-learn's own scaling.

scikit-learn minimises, with ``fit_intercept=True`` (the intercept unpenalised),

* ``Ridge``: ``||y - Xw||² + alpha ||w||²``;
* ``Lasso``: ``(1/(2n)) ||y - Xw||² + alpha ||w||_1``;
* ``ElasticNet``: ``(1/(2n)) ||y - Xw||² + alpha r ||w||_1 + (alpha (1 - r)/2) ||w||²``
  (``r = l1_ratio``).

The Normal likelihood at a fixed sigma has ``-log L = RSS/(2 sigma²) + const``. Each
objective, multiplied by ``1/(2 sigma²)`` (ridge) or ``n/sigma²`` (lasso, elastic net),
is ``RSS/(2 sigma²) + lambda1 ||w||_1 + (lambda2/2) ||w||²`` with

* ridge: ``lambda1 = 0``, ``lambda2 = alpha/sigma²``: the prior Normal(0, tau), tau² = sigma²/alpha;
* lasso: ``lambda1 = n alpha/sigma²``, ``lambda2 = 0``: Laplace(0, s), s = sigma²/(n alpha);
* elastic net: ``lambda1 = n alpha r/sigma²``, ``lambda2 = n alpha (1 - r)/sigma²``: the
  density ``exp(-lambda1 |w| - lambda2 w²/2) / Z`` with
  ``Z = 2 ∫_0^∞ exp(-lambda1 w - lambda2 w²/2) dw = sqrt(2 pi/lambda2) erfcx(lambda1/sqrt(2 lambda2))``
  (complete the square: ``Z = sqrt(2pi/lambda2) exp(lambda1²/(2 lambda2)) erfc(lambda1/sqrt(2 lambda2))``;
  erfcx(x) = exp(x²) erfc(x) keeps it finite), Laplace as lambda2 -> 0 and Normal at lambda1 = 0.

So the MAP under these priors on the non-intercept coefficients (flat on the intercept)
is the scikit-learn fit at that alpha, at any fixed sigma (sigma cancels). With a learned
sigma the prior's scale would move with sigma and the equality fails, so a penalty needs
a fixed scale. Only a family whose fixed-scale NLL is RSS/(2 sigma²) + const
(``Family.least_squares``, the Normal) is given a penalty; other likelihoods are refused
rather than given a prior whose MAP is no classical fit.

A penalty's prior rates depend on n; :meth:`Penalty.for_rows` pins the n of the analysis,
so that leave-one-out refits keep the same prior.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from ..core.errors import InputError
from ..core.validation import check_choice

PENALTY_KINDS = ("ridge", "lasso", "elasticnet")
SKLEARN_NAMES = {"ridge": "Ridge", "lasso": "Lasso", "elasticnet": "ElasticNet"}
DEFAULT_L1_RATIO = 0.5  # scikit-learn's ElasticNet default


def check_alpha(label: str, value: Any) -> float:
    """``value`` as a finite float >= 0 (scikit-learn's penalty strength); raise otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or number < 0:
        raise InputError(f"{label} must be a finite number >= 0 (the penalty strength, in "
                         f"scikit-learn's scaling); got {value!r}")
    return number


def check_l1_ratio(label: str, value: Any) -> float:
    """``value`` as a float in [0, 1] (the elastic net's L1 share); raise otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not 0.0 <= number <= 1.0:
        raise InputError(f"{label} must be a number in [0, 1] (the elastic net's L1 share); "
                         f"got {value!r}")
    return number


@dataclass(frozen=True)
class Penalty:
    """A ridge, lasso or elastic-net penalty on the non-intercept coefficients.

    Attributes
    ----------
    kind : {"ridge", "lasso", "elasticnet"}
    alpha : float
        scikit-learn's ``alpha`` (>= 0; 0 is no penalty: a flat prior).
    l1_ratio : float or None
        The elastic net's ``l1_ratio`` in [0, 1] (default 0.5, scikit-learn's); None for
        ridge and lasso.
    rows : int or None
        The n the prior's rates use (:meth:`for_rows`); not part of the identity.
    """

    kind: str
    alpha: float
    l1_ratio: float | None = None
    rows: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        check_choice("penalty", self.kind, PENALTY_KINDS)
        object.__setattr__(self, "alpha", check_alpha("alpha", self.alpha))
        if self.kind == "elasticnet":
            ratio = DEFAULT_L1_RATIO if self.l1_ratio is None else self.l1_ratio
            object.__setattr__(self, "l1_ratio", check_l1_ratio("l1_ratio", ratio))
        elif self.l1_ratio is not None:
            raise InputError(f"l1_ratio is only valid with penalty 'elasticnet'; got "
                             f"l1_ratio={self.l1_ratio!r} with penalty {self.kind!r}")

    @property
    def ratio(self) -> float:
        """The L1 share r of the penalty: 0 (ridge), 1 (lasso) or ``l1_ratio``."""
        return {"ridge": 0.0, "lasso": 1.0}.get(self.kind, self.l1_ratio)

    @property
    def smooth(self) -> bool:
        """No L1 part (ridge, alpha = 0 or l1_ratio = 0): the log-density stays smooth."""
        return self.alpha == 0 or self.ratio == 0

    @property
    def sklearn_name(self) -> str:
        return SKLEARN_NAMES[self.kind]

    @property
    def label(self) -> str:
        """``ridge(alpha=1)``, ``elasticnet(alpha=0.5,l1_ratio=0.3)`` (no spaces: it names
        PyMC variables)."""
        settings = f"alpha={self.alpha:g}"
        if self.l1_ratio is not None:
            settings += f",l1_ratio={self.l1_ratio:g}"
        return f"{self.kind}({settings})"

    def for_rows(self, n: int) -> Penalty:
        """This penalty with its prior rates pinned to ``n`` rows."""
        return replace(self, rows=int(n))

    def weights(self, n: int) -> tuple[float, float]:
        """``(a1, a2)``: the MAP minimises ``RSS/2 + a1 ||w||_1 + (a2/2) ||w||²`` (sigma-free;
        the prior's rates are ``a/sigma²``). Ridge ``(0, alpha)``; lasso ``(n alpha, 0)``;
        elastic net ``(n alpha r, n alpha (1 - r))``."""
        if self.kind == "ridge":
            return 0.0, self.alpha
        n = self.rows if self.rows is not None else n
        r = self.ratio
        return n * self.alpha * r, n * self.alpha * (1.0 - r)

    def rates(self, n: int, sigma: float) -> tuple[float, float]:
        """The prior's ``(lambda1, lambda2)``: density ∝ exp(-lambda1 |w| - lambda2 w²/2)."""
        a1, a2 = self.weights(n)
        return a1 / sigma**2, a2 / sigma**2

    def sklearn_objective(self, rss: float, w_l1: float, w_l2: float, n: int) -> float:
        """scikit-learn's objective from RSS, ||w||_1 and ||w||² (of the penalised terms)."""
        a1, a2 = self.weights(n)
        half = 0.5 * rss + a1 * w_l1 + 0.5 * a2 * w_l2
        return 2.0 * half if self.kind == "ridge" else half / n

    def as_dict(self) -> dict:
        return {"kind": self.kind, "alpha": self.alpha, "l1_ratio": self.l1_ratio}

    @classmethod
    def from_dict(cls, data: dict | None) -> Penalty | None:
        if data is None:
            return None
        if not isinstance(data, dict) or "kind" not in data or "alpha" not in data:
            raise InputError(f"a penalty must be a mapping with kind and alpha; got {data!r}")
        return cls(data["kind"], data["alpha"], data.get("l1_ratio"))

    def describe(self, n: int, sigma: float) -> str:
        """The prior this penalty is, in words, on one coefficient."""
        lam1, lam2 = self.rates(n, sigma)
        name = f"{self.sklearn_name}, alpha={self.alpha:g}"
        if self.alpha == 0:
            return f"flat (improper uniform: {name} is no penalty)"
        if lam1 == 0:
            return f"Normal(0, tau={math.sqrt(1.0 / lam2):.4g}), tau² = sigma²/alpha ({name})"
        sparse = ("; its MAP is sparse (coefficients exactly 0), its posterior is not: no "
                  "draw is exactly 0")
        if lam2 == 0:
            return f"Laplace(0, s={1.0 / lam1:.4g}), s = sigma²/(n alpha) ({name}){sparse}"
        return (f"exp(-lambda1|w| - lambda2 w²/2)/Z, lambda1 = n alpha r/sigma² = {lam1:.4g}, "
                f"lambda2 = n alpha (1-r)/sigma² = {lam2:.4g}, Z = sqrt(2pi/lambda2) "
                f"erfcx(lambda1/sqrt(2 lambda2)) ({name}, r={self.ratio:g}){sparse}")


def log_normaliser(lam1: float, lam2: float) -> float:
    """log Z of the density exp(-lam1 |w| - lam2 w²/2) on the real line (0 when both are 0:
    the flat prior, improper)."""
    if lam2 > 0:
        from scipy.special import erfcx

        return 0.5 * math.log(2.0 * math.pi / lam2) + math.log(erfcx(lam1 / math.sqrt(2.0 * lam2)))
    if lam1 > 0:
        return math.log(2.0 / lam1)
    return 0.0


def penalised_columns(design) -> list[int]:
    """Indices of the coefficients a penalty applies to: all but the intercept (as
    scikit-learn's ``fit_intercept=True``; a design without one penalises every column)."""
    intercept = design.terms.index("Intercept") if design.has_intercept else None
    return [j for j in range(design.k) if j != intercept]


def penalty_logp(beta, penalty: Penalty, design, sigma: float):
    """The log-density of ``penalty``'s prior at ``beta`` (a PyTensor vector), normalised."""
    import pytensor.tensor as pt

    index = penalised_columns(design)
    lam1, lam2 = penalty.rates(design.n, sigma)
    if not index:
        return pt.as_tensor(0.0)
    w = beta[index]
    return (-lam1 * pt.sum(pt.abs(w)) - 0.5 * lam2 * pt.sum(w**2)
            - len(index) * log_normaliser(lam1, lam2))


def penalty_from_options(kind: str | None, alpha: float | None, l1_ratio: float | None,
                         labels: dict[str, str]) -> Penalty | None:
    """The :class:`Penalty` the options ask for (None without ``penalty``); ``labels``
    spells each option as the user did (``--l1-ratio``)."""
    if kind is None:
        for name, value in (("alpha", alpha), ("l1_ratio", l1_ratio)):
            if value is not None:
                raise InputError(f"{labels[name]} sets a penalty's strength or mix, but no "
                                 f"{labels['penalty']} is given (one of "
                                 f"{', '.join(PENALTY_KINDS)}); got {labels[name]}={value:g}")
        return None
    if alpha is None:
        raise InputError(f"{labels['penalty']} {kind} needs {labels['alpha']} (a number >= 0, "
                         "scikit-learn's penalty strength)")
    if l1_ratio is not None and kind != "elasticnet":
        raise InputError(f"{labels['l1_ratio']} is only valid with {labels['penalty']} "
                         f"elasticnet; got {labels['l1_ratio']}={l1_ratio:g} with {kind}")
    return Penalty(kind, alpha, l1_ratio)


def check_penalised_models(penalty: Penalty, families, scales, priors: str,
                           fix_scale: str, likelihood_label: str) -> None:
    """Refuse a penalty on a model whose MAP would not be the scikit-learn fit: a learned
    scale, a family whose NLL is not least squares, or weak priors on top of it."""
    name = penalty.sklearn_name
    # a family without a scale has one model whatever the scales: not one to fix
    if "learned" in scales and any(f.scale_name is not None for f in families):
        raise InputError(f"penalty {penalty.kind} with a learned scale: the MAP equals "
                         f"scikit-learn's {name} only at a fixed sigma; use {fix_scale}")
    others = [f.title for f in families if not _least_squares(f)]
    if others:
        raise InputError(f"penalty {penalty.kind} is a prior whose MAP is scikit-learn's {name} "
                         f"only under a least-squares likelihood (the Normal); not under "
                         f"{', '.join(others)}: drop it from {likelihood_label}")
    if priors != "flat":
        raise InputError(f"penalty {penalty.kind} is the coefficients' prior; it cannot be "
                         f"combined with priors {priors!r} (use priors 'flat')")


def _least_squares(family) -> bool:
    from ..families.base import IDENTITY

    return bool(getattr(family, "least_squares", False)) and family.link is IDENTITY
