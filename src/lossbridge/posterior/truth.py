"""The exact cross-entropy and KL divergence of each fitted model from the law that made the data.

For data from a declared law (:mod:`lossbridge.data.simulation`), at each model's MAP
θ̂ = (β̂, scale, learned shape), the conditional cross-entropy averaged over the observed rows

    H(p*, p_θ̂) = (1/n) Σ_i E_{y ~ p*(· | x_i)} [-log p_θ̂(y | x_i)]

is computed exactly: in closed form where the family has one
(:meth:`~lossbridge.families.base.Family.cross_entropy_closed_form`: a Normal model under
any noise with a variance, a Laplace model under Normal or Laplace noise), else by adaptive
quadrature (``scipy.integrate.quad`` over the noise, on (-inf, 0] and [0, inf), of the
row-averaged integrand; its error estimate is reported), and for a discrete law by
summation over the support (a Poisson's: each row's own window [ppf(τ/2), isf(τ/2)],
τ = :data:`TAIL_MASS`, summed in chunks of :data:`CHUNK` pairs; the left-out probability
mass per row, at most τ, is reported as such: it is not an error bound on H). The entropy H(p*) is the noise's
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

from ..data.simulation import NoiseLaw

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
    error: float | None = None  # quadrature's error estimate (None for a sum: its method says the tail mass)
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
                "models": [{**r.as_dict(), "ranked": r in self.ranked} for r in self.rows]}


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
#: At most this many (row, value) pairs are evaluated at once: memory stays bounded
#: (a few arrays of this length) however wide the rows' supports are.
CHUNK = 2_000_000
#: Beyond this many (row, value) pairs in all the sums are not attempted (minutes of work).
MAX_PAIRS = 200_000_000


def support_size(law: NoiseLaw, mean: np.ndarray) -> int:
    """How many (row, value) pairs the rows' support windows hold."""
    lo, hi, _ = law.window(mean)
    return int(np.sum(hi - lo + 1))


def _row_sums(law: NoiseLaw, mean: np.ndarray, term) -> tuple[float, float | None]:
    """(1/n) Σ_i Σ_{y in window_i} term(rows, y, log p*(y | row)), in chunks of
    :data:`CHUNK` pairs; and the per-row mass the windows leave out (None: none)."""
    mean = np.asarray(mean, dtype=float)
    lo, hi, tail = law.window(mean)
    widths = hi - lo + 1
    ends = np.cumsum(widths)
    starts = ends - widths
    sums = np.zeros(mean.size)
    for begin in range(0, int(ends[-1]), CHUNK):
        flat = np.arange(begin, min(begin + CHUNK, int(ends[-1])))
        rows = np.searchsorted(ends, flat, side="right")
        y = lo[rows] + (flat - starts[rows])
        logp = law.logpmf(mean[rows], y)
        sums += np.bincount(rows, weights=term(rows, y, logp), minlength=mean.size)
    return float(sums.mean()), tail


def _p_times(logp: np.ndarray, values: np.ndarray) -> np.ndarray:
    """p·values with 0·anything = 0 (a value where p = 0 does not count)."""
    p = np.exp(logp)
    return np.where(p > 0, p * np.where(p > 0, values, 0.0), 0.0)


def discrete_entropy(law: NoiseLaw, mean: np.ndarray) -> tuple[float, float | None]:
    """(1/n) Σ_i H(p*(·|x_i)) by summation over each row's support window; (value, the
    per-row probability mass the windows leave out, None: none)."""
    return _row_sums(law, mean, lambda rows, y, logp: _p_times(logp, -logp))


def discrete_cross_entropy(law: NoiseLaw, family, mean_true: np.ndarray, mu_hat: np.ndarray,
                           scale: float, shape: dict) -> tuple[float, float | None]:
    """(1/n) Σ_i Σ_y p*(y|x_i) (-log p_θ̂(y|x_i)) over each row's window; (value, the
    per-row mass left out: the omitted terms are that mass times -log q there, not bounded
    here)."""
    mu_hat = np.asarray(mu_hat, dtype=float)

    def term(rows, y, logp):
        logq = family.logpdf(y.astype(float), mu_hat[rows], scale, **shape)
        return _p_times(logp, -np.asarray(logq, dtype=float))

    return _row_sums(law, mean_true, term)


# ---------------------------------------------------------------- the table
def truth_table(law: NoiseLaw, eta_true: np.ndarray, fits, design, *, source: str,
                law_parameters: dict | None = None) -> TruthTable:
    """The truth table of every fitted model (``fits``: the pipeline's FitResults).

    ``eta_true`` is the true linear predictor x_i'β* of each row of ``design``.
    """
    eta_true = np.asarray(eta_true, dtype=float)
    mean_true = law.mean_response(eta_true)
    n = design.n
    too_wide = None
    if law.kind == "continuous":
        entropy, entropy_method, entropy_error = noise_entropy(law)
    elif (pairs := support_size(law, mean_true)) > MAX_PAIRS:
        too_wide = (f"not computed: the rows' supports hold {pairs:.3g} values "
                    f"(more than {MAX_PAIRS:.0e})")
        entropy, entropy_method, entropy_error = math.nan, too_wide, None
    else:
        entropy, tail = discrete_entropy(law, mean_true)
        entropy_method, entropy_error = _summation_label(tail), None
    rows = []
    for result in fits:
        if too_wide is not None and result.spec.family.density_kind == law.kind:
            rows.append(TruthRow(result.spec.name, "ranked", note=too_wide,
                                 **_estimates(result, n)))
            continue
        rows.append(_row(law, result, design, eta_true, mean_true, entropy, n))
    return TruthTable(law.name, dict(law_parameters or law.params), source, entropy,
                      entropy_method, entropy_error, n, tuple(rows))


def _summation_label(tail: float | None) -> str:
    """How a discrete sum was made: the probability mass each row's window leaves out is
    what is known (not the error of the sum, whose omitted terms carry -log q)."""
    if tail is None:
        return "summation over the whole support"
    return f"summation over per-row windows (tail mass <= {tail:g} per row left out)"


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
        value, tail = discrete_cross_entropy(law, family, mean_true, mu_hat, scale, shape)
        method, error = _summation_label(tail), None
    note = None
    if group == "not ranked":
        note = ("a quantile model answers one conditional quantile (the asymmetric Laplace is "
                "a working likelihood): its cross-entropy is shown, not ranked")
    kl = value - entropy
    if not math.isfinite(kl):
        kl = None
    return TruthRow(name, group, value, method, error, quadrature, kl, note=note, **estimates)
