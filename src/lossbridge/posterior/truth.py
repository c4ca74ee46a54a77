"""The exact cross-entropy and KL divergence of each fitted model from the law that made the data.

For data from a declared law (:mod:`lossbridge.data.simulation`), at each model's MAP
θ̂ = (β̂, scale, learned shape), the conditional cross-entropy averaged over the observed rows

    H(p*, p_θ̂) = (1/n) Σ_i E_{y ~ p*(· | x_i)} [-log p_θ̂(y | x_i)]

is computed exactly: in closed form where the family has one
(:meth:`~lossbridge.families.base.Family.cross_entropy_closed_form`: a Normal model under
any noise with a variance, a Laplace model under Normal or Laplace noise), else by adaptive
quadrature (``scipy.integrate.quad`` over the noise, on (-inf, 0] and [0, inf), of the
row-averaged integrand; its error estimate is reported), and for a discrete law by
summation over the support (a Poisson's truncated where the tail mass of every row is
below :data:`TAIL_MASS`; that bound is reported). The entropy H(p*) is the noise's
(closed forms for the Gaussian, Laplace and t; quadrature otherwise) or the summed
entropy of the rows' laws; KL = H(p*, p_θ̂) - H(p*) >= 0.

Beside them the fit's estimates: the mean NLL at the MAP (in-sample, optimistic) and
-elpd_loo/n ± se/n when sampled. A quantile model (``comparison_group != "distribution"``)
answers one conditional quantile, not the law: its cross-entropy is shown in a note of its
own and never ranked. A continuous density and a discrete law (or the reverse) have no
cross-entropy in common units: such models are listed as not comparable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import integrate

from ..data.simulation import TAIL_MASS, NoiseLaw

_QUAD_LIMIT = 1000
# A family's ``cross_entropy_moment``: the order p of the moment E|e|^p that -log f grows
# like, and how the note writes it. "log" (order 0) is finite under every law.
_MOMENTS = {"second": (2.0, "E e² = ∞"), "first": (1.0, "E|e| = ∞"), "log": (0.0, "")}


@dataclass(frozen=True)
class TruthRow:
    """One model against the truth (nats per observation).

    ``group`` is ``"ranked"`` (a model of the whole conditional law), ``"not ranked"`` (a
    quantile model: its own note) or ``"not comparable"`` (density against probabilities).
    """

    model: str
    group: str
    cross_entropy: float | None = None
    method: str | None = None
    error: float | None = None  # quadrature's error estimate, or the truncation bound
    quadrature: float | None = None  # the quadrature value when a closed form is used
    kl: float | None = None
    mean_nll: float | None = None
    loo: float | None = None  # -elpd_loo / n
    loo_se: float | None = None  # se(elpd_loo) / n
    note: str | None = None

    def as_dict(self) -> dict:
        return {"model": self.model, "group": self.group, "cross_entropy": self.cross_entropy,
                "method": self.method, "error": self.error, "quadrature": self.quadrature,
                "kl": self.kl, "mean_nll": self.mean_nll, "minus_elpd_loo_per_obs": self.loo,
                "minus_elpd_loo_per_obs_se": self.loo_se, "note": self.note}


@dataclass(frozen=True)
class TruthTable:
    """Every model's exact cross-entropy and KL from one law, beside the fit's estimates."""

    law: str
    law_parameters: dict
    source: str
    entropy: float
    entropy_method: str
    entropy_error: float | None
    n: int
    rows: tuple[TruthRow, ...] = field(default_factory=tuple)

    @property
    def ranked(self) -> list[TruthRow]:
        """Ranked models with a finite KL, smallest first (an infinite KL is not ranked:
        infinities do not order)."""
        return sorted((r for r in self.rows if r.group == "ranked" and r.kl is not None
                       and math.isfinite(r.kl)), key=lambda r: r.kl)

    @property
    def closest(self) -> str | None:
        ranked = self.ranked
        return ranked[0].model if ranked else None

    def as_dict(self) -> dict:
        return {"law": self.law, "parameters": dict(self.law_parameters), "source": self.source,
                "n": self.n, "entropy": self.entropy, "entropy_method": self.entropy_method,
                "entropy_error": self.entropy_error, "closest": self.closest,
                "units": "nats per observation",
                "models": [r.as_dict() for r in self.rows]}


# ---------------------------------------------------------------- continuous laws
def _quad_infinite(function) -> tuple[float, float]:
    """∫ over the real line as (-inf, 0] + [0, inf): value and summed error estimate."""
    left, left_error = integrate.quad(function, -np.inf, 0.0, limit=_QUAD_LIMIT)
    right, right_error = integrate.quad(function, 0.0, np.inf, limit=_QUAD_LIMIT)
    return left + right, left_error + right_error


def noise_entropy(law: NoiseLaw) -> tuple[float, str, float | None]:
    """H of the noise: (value, method, quadrature error or None)."""
    closed = law.entropy()
    if closed is not None:
        return closed, "closed form", None
    noise = law.noise()

    def integrand(e: float) -> float:
        density = float(noise.pdf(e))
        return 0.0 if density == 0.0 else -density * float(noise.logpdf(e))

    value, error = _quad_infinite(integrand)
    return value, "quadrature", error


def infinite_moment(law: NoiseLaw, family) -> str | None:
    """Why H(p*, p_θ̂) = ∞ exactly ("E e² = ∞ under t(nu=0.5)"), or None where it is finite.

    -log f(mu + e) grows like the family's ``cross_entropy_moment`` of e; when the law's
    moment of that order is infinite, so is the expectation (whatever θ̂: shifting e by
    a finite delta does not change which moments are finite). Quadrature would return a
    finite number there (it cannot see an infinite tail), so it is never called.
    """
    moment = _MOMENTS.get(family.cross_entropy_moment)
    if moment is None or law.moment_is_finite(moment[0]):
        return None
    return f"{moment[1]} under {law.label}"


def continuous_cross_entropy(law: NoiseLaw, family, mu_true: np.ndarray, mu_hat: np.ndarray,
                             scale: float, shape: dict) -> tuple[float, float]:
    """(1/n) Σ_i E_e[-log f(mu_true_i + e | mu_hat_i)] by quadrature: (value, error)."""
    noise = law.noise()
    mu_true, mu_hat = np.asarray(mu_true, float), np.asarray(mu_hat, float)

    def integrand(e: float) -> float:
        density = float(noise.pdf(e))
        if density == 0.0:
            return 0.0
        return -density * float(np.mean(family.logpdf(mu_true + e, mu_hat, scale, **shape)))

    return _quad_infinite(integrand)


# ---------------------------------------------------------------- discrete laws
def discrete_entropy(law: NoiseLaw, mean: np.ndarray) -> tuple[float, float | None]:
    """(1/n) Σ_i H(p*(·|x_i)): summation over the (truncated) support; (value, bound)."""
    support, tail = law.support(mean)
    p = law.pmf(mean, support)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    return float(terms.sum(axis=1).mean()), tail


def discrete_cross_entropy(law: NoiseLaw, family, mean_true: np.ndarray, mu_hat: np.ndarray,
                           scale: float, shape: dict) -> tuple[float, float | None]:
    """(1/n) Σ_i Σ_y p*(y|x_i) (-log p_θ̂(y|x_i)) over the support; (value, tail bound)."""
    support, tail = law.support(mean_true)
    p = law.pmf(mean_true, support)
    logq = family.logpdf(support[None, :].astype(float), np.asarray(mu_hat)[:, None], scale, **shape)
    terms = np.where(p > 0, -p * np.where(p > 0, logq, 0.0), 0.0)
    return float(terms.sum(axis=1).mean()), tail


# ---------------------------------------------------------------- the table
def truth_table(law: NoiseLaw, eta_true: np.ndarray, fits, design, *, source: str,
                law_parameters: dict | None = None) -> TruthTable:
    """The truth table of every fitted model (``fits``: the pipeline's FitResults).

    ``eta_true`` is the true linear predictor x_i'β* of each row of ``design``.
    """
    eta_true = np.asarray(eta_true, dtype=float)
    mean_true = law.mean_response(eta_true)
    n = design.n
    if law.kind == "continuous":
        entropy, entropy_method, entropy_error = noise_entropy(law)
    else:
        entropy, entropy_error = discrete_entropy(law, mean_true)
        entropy_method = "summation" + ("" if entropy_error is None else
                                        f" (support cut where the tail mass < {TAIL_MASS:g})")
    rows = []
    for result in fits:
        rows.append(_row(law, result, design, eta_true, mean_true, entropy, n))
    return TruthTable(law.name, dict(law_parameters or law.params), source, entropy,
                      entropy_method, entropy_error, n, tuple(rows))


def _estimates(result, n: int) -> dict:
    out = {"mean_nll": float(result.nll.nll) / n}
    posterior = getattr(result, "posterior", None)
    if posterior is not None and getattr(posterior, "loo", None) is not None:
        out["loo"] = -float(posterior.loo.elpd_loo) / n
        out["loo_se"] = float(posterior.loo.se) / n
    return out


def _row(law: NoiseLaw, result, design, eta_true, mean_true, entropy: float, n: int) -> TruthRow:
    spec = result.spec
    family = spec.family
    estimates = _estimates(result, n)
    name = spec.name
    if family.density_kind != law.kind:
        what = ("a density for a continuous y" if family.density_kind == "continuous"
                else "probabilities of a discrete y")
        return TruthRow(name, "not comparable", note=f"the model gives {what}; the law is "
                        f"{law.kind}: no cross-entropy in common units", **estimates)
    if spec.modelled_scale:
        return TruthRow(name, "not comparable", note="a modelled scale (per-row scales): "
                        "not computed", **estimates)
    shape = dict(result.map.shape)
    scale = float(result.map.scale)
    mu_hat = family.link.inverse(design.linear_predictor(result.map.coefficients))
    quadrature = None
    group = "ranked" if family.comparison_group == "distribution" else "not ranked"
    infinite = infinite_moment(law, family) if law.kind == "continuous" else None
    if infinite is not None:
        return TruthRow(name, group, math.inf, "infinite", kl=math.inf,
                        note=f"infinite: {infinite}, so H(p*, p) = KL = ∞ (not ranked)",
                        **estimates)
    if law.kind == "continuous":
        value, error = continuous_cross_entropy(law, family, eta_true, mu_hat, scale, shape)
        method = "quadrature"
        closed = family.cross_entropy_closed_form(law, eta_true - mu_hat, scale, **shape)
        if closed is not None:
            quadrature, value, method = value, float(np.mean(closed)), "closed form"
    else:
        value, error = discrete_cross_entropy(law, family, mean_true, mu_hat, scale, shape)
        method = "summation" if error is None else f"summation (tail mass < {TAIL_MASS:g})"
    note = None
    if group == "not ranked":
        note = ("a quantile model answers one conditional quantile (the asymmetric Laplace is "
                "a working likelihood): its cross-entropy is shown, not ranked")
    kl = value - entropy
    if not math.isfinite(kl):
        kl = None
    return TruthRow(name, group, value, method, error, quadrature, kl, note=note, **estimates)
