"""Data from a declared law: ``y = X beta + noise`` (or a GLM's y), its seed and law recorded.

:func:`simulate` draws a dataset and :func:`write_simulation` writes it as a CSV with a
sidecar JSON (``PATH.law.json``) beside it: the law and its parameters, the true
coefficients, the predictors' law, the seed, n, the formula to fit and the lossbridge
version. ``lossbridge fit`` finds the sidecar (:func:`sidecar_path`) and computes the exact
cross-entropy and KL divergence of every fitted model from the law
(:mod:`lossbridge.posterior.truth`), which reads the laws' densities here (:class:`NoiseLaw`).

Laws (every continuous noise has mean zero, so ``X beta`` is the conditional mean):

* ``gaussian(sigma)``: N(0, sigma²).
* ``laplace(b)``: density exp(-|e|/b)/(2b); variance 2b².
* ``student-t(nu, sigma)``: sigma times a t with nu degrees of freedom (mean zero needs
  nu > 1 for the mean to exist; any nu > 0 is accepted, its centre is then the median).
* ``contaminated(eps, sigma, k)``: (1 - eps) N(0, sigma²) + eps N(0, (k sigma)²).
* ``skewed(alpha, sigma)``: a skew-normal with shape alpha and scale omega = sigma,
  *centred at its mean*: e = omega Z - omega delta sqrt(2/pi), Z ~ SN(alpha), delta =
  alpha/sqrt(1 + alpha²). Its median is not zero (mean convention).
* ``logistic``: y ~ Bernoulli(expit(X beta)) (logit link).
* ``poisson``: y ~ Poisson(exp(X beta)) (log link).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from ..core.errors import InputError
from ..core.version import __version__
from .design import y_hash

#: The laws, with their parameters and defaults, in the order ``--help`` lists them.
LAW_PARAMETERS: dict[str, dict[str, float]] = {
    "gaussian": {"sigma": 1.0},
    "laplace": {"b": 1.0},
    "student-t": {"nu": 3.0, "sigma": 1.0},
    "contaminated": {"eps": 0.1, "sigma": 1.0, "k": 5.0},
    "skewed": {"alpha": 4.0, "sigma": 1.0},
    "logistic": {},
    "poisson": {},
}
PREDICTOR_LAWS = ("normal", "uniform")
SIDECAR_SUFFIX = ".law.json"
SIDECAR_KIND = "lossbridge simulation"
DEFAULT_BETA = (1.0, 2.0)


@dataclass(frozen=True)
class NoiseLaw:
    """A law of the response given its linear predictor, with the densities the truth needs.

    ``kind`` is ``"continuous"`` (y = eta + e, e from :meth:`noise`) or ``"discrete"``
    (``logistic``, ``poisson``: probabilities from :meth:`window` and :meth:`logpmf`).
    """

    name: str
    parameters: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        check_law(self.name, dict(self.parameters))

    @property
    def params(self) -> dict[str, float]:
        return dict(self.parameters)

    @property
    def kind(self) -> str:
        return "discrete" if self.name in _DISCRETE else "continuous"

    @property
    def label(self) -> str:
        inside = ", ".join(f"{k}={format(v, 'g')}" for k, v in self.parameters)
        return f"{self.name}({inside})" if inside else self.name

    def as_dict(self) -> dict:
        return {"name": self.name, **self.params}

    # ------------------------------------------------------------ continuous noise
    def noise(self):
        """The noise law as a frozen scipy distribution (a mixture: :class:`_Mixture`)."""
        if self.name not in _NOISE:
            raise ValueError(f"{self.name} is not a continuous noise law")
        return _NOISE[self.name](self.params)

    def variance(self) -> float:
        """Var(e) (inf where it does not exist: a t with nu <= 2)."""
        value = float(self.noise().var())
        return value if math.isfinite(value) else math.inf

    def mean(self) -> float:
        """E(e): zero by construction (nan for a t with nu <= 1, whose centre is its median)."""
        return 0.0 if math.isfinite(float(self.noise().mean())) else math.nan

    def moment_is_finite(self, order: float) -> bool:
        """Whether E|e|^order < inf: a t(nu) has it iff order < nu; every other noise here
        (Gaussian, Laplace, a Normal mixture, a skew-normal) has every moment."""
        bound = _MOMENT_BOUND.get(self.name)
        return bound is None or order < bound(self.params)

    def entropy(self) -> float | None:
        """The differential entropy in closed form; None where there is none (quadrature)."""
        closed = _ENTROPY.get(self.name)
        return None if closed is None else float(closed(self.params))

    # ------------------------------------------------------------ discrete responses
    def mean_response(self, eta: np.ndarray) -> np.ndarray:
        """E(y | eta): the inverse link (identity for the continuous laws)."""
        if self.name in _DISCRETE:
            return _DISCRETE[self.name].inverse_link(np.asarray(eta, dtype=float))
        return np.asarray(eta, dtype=float)

    def sample(self, eta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """y given the linear predictor."""
        if self.name in _DISCRETE:
            return _DISCRETE[self.name].sample(self.mean_response(eta), rng).astype(np.int64)
        return eta + self.noise().rvs(size=eta.shape, random_state=rng)

    def window(self, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray, float | None]:
        """Each row's support window [lo_i, hi_i] (integers, inclusive) and the probability
        mass per row it leaves out, at most (None: the whole support). A Poisson's window
        is [ppf(tau/2), isf(tau/2)], tau = :data:`TAIL_MASS`: its own, not the widest row's."""
        return _DISCRETE[self.name].window(np.asarray(mean, dtype=float))

    def logpmf(self, mean: np.ndarray, y: np.ndarray) -> np.ndarray:
        """log P(y | mean), elementwise (``mean`` and ``y`` broadcast)."""
        return _DISCRETE[self.name].logpmf(np.asarray(mean, dtype=float), np.asarray(y))


class _Mixture:
    """(1 - eps) N(0, s²) + eps N(0, (k s)²), with the frozen-distribution methods used here."""

    def __init__(self, eps: float, sigma: float, k: float):
        self.eps, self.sigma, self.k = eps, sigma, k
        self._a, self._b = stats.norm(0.0, sigma), stats.norm(0.0, k * sigma)

    def pdf(self, x):
        return (1.0 - self.eps) * self._a.pdf(x) + self.eps * self._b.pdf(x)

    def logpdf(self, x):
        with np.errstate(divide="ignore"):
            return np.logaddexp(np.log1p(-self.eps) + self._a.logpdf(x),
                                np.log(self.eps) + self._b.logpdf(x))

    def cdf(self, x):
        return (1.0 - self.eps) * self._a.cdf(x) + self.eps * self._b.cdf(x)

    def mean(self) -> float:
        return 0.0

    def var(self) -> float:
        return (1.0 - self.eps) * self.sigma ** 2 + self.eps * (self.k * self.sigma) ** 2

    def rvs(self, size, random_state: np.random.Generator):
        wide = random_state.random(size) < self.eps
        z = random_state.standard_normal(size)
        return np.where(wide, self.k * self.sigma, self.sigma) * z


#: The probability mass per row a Poisson's support window may leave out (split evenly
#: between its two tails).
TAIL_MASS = 1e-15


def _skew_normal(p: dict):
    delta = p["alpha"] / math.sqrt(1.0 + p["alpha"] ** 2)
    return stats.skewnorm(p["alpha"], -p["sigma"] * delta * math.sqrt(2.0 / math.pi), p["sigma"])


def _t_entropy(p: dict) -> float:
    from scipy.special import betaln, digamma

    nu = p["nu"]
    return (0.5 * (nu + 1.0) * (digamma(0.5 * (nu + 1.0)) - digamma(0.5 * nu))
            + 0.5 * math.log(nu) + betaln(0.5 * nu, 0.5) + math.log(p["sigma"]))


_NOISE = {
    "gaussian": lambda p: stats.norm(0.0, p["sigma"]),
    "laplace": lambda p: stats.laplace(0.0, p["b"]),
    "student-t": lambda p: stats.t(p["nu"], 0.0, p["sigma"]),
    "contaminated": lambda p: _Mixture(p["eps"], p["sigma"], p["k"]),
    "skewed": _skew_normal,
}
# The order p below which E|e|^p is finite, for a noise that lacks some moments.
_MOMENT_BOUND = {"student-t": lambda p: p["nu"]}
_ENTROPY = {
    "gaussian": lambda p: 0.5 * math.log(2.0 * math.pi * math.e * p["sigma"] ** 2),
    "laplace": lambda p: 1.0 + math.log(2.0 * p["b"]),
    "student-t": _t_entropy,
}


@dataclass(frozen=True)
class _DiscreteLaw:
    inverse_link: object
    sample: object
    window: object
    logpmf: object


def _expit(eta):
    from scipy.special import expit

    return expit(eta)


def _move_until(start: np.ndarray, ok, sign: int) -> np.ndarray:
    """The first k = start + sign·t (t >= 0 smallest) with ok(k), per row; ok monotone in t.
    Doubling then bisection: about 2 log2(t) evaluations of ``ok``."""
    bad = ~ok(start)
    known_bad, known_good = np.zeros_like(start), np.zeros_like(start)
    t, pending = np.ones_like(start), bad.copy()
    while pending.any():
        good = ok(start + sign * t)
        known_good = np.where(pending & good, t, known_good)
        known_bad = np.where(pending & ~good, t, known_bad)
        pending = pending & ~good
        t = np.where(pending, 2 * t, t)
    while (active := bad & (known_good - known_bad > 1)).any():
        mid = (known_bad + known_good) // 2
        good = ok(start + sign * mid)
        known_bad = np.where(active & ~good, mid, known_bad)
        known_good = np.where(active & good, mid, known_good)
    return start + sign * np.where(bad, known_good, 0)


def _poisson_window(mean: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    # ppf(tau/2) and isf(tau/2) start the window; scipy's isf can stop a step or more short
    # (sf(isf(q)) > q by ~10% at q = 5e-16), so each end is moved out until scipy's own
    # cdf below and sf above are <= tau/2.
    half = TAIL_MASS / 2
    lo = np.maximum(stats.poisson.ppf(half, mean), 0).astype(np.int64)
    hi = np.maximum(stats.poisson.isf(half, mean).astype(np.int64), lo)
    lo = _move_until(lo, lambda k: stats.poisson.cdf(k - 1, mean) <= half, -1)
    hi = _move_until(hi, lambda k: stats.poisson.sf(k, mean) <= half, +1)
    return lo, hi, TAIL_MASS


def _bernoulli_logpmf(p, y):
    with np.errstate(divide="ignore"):
        return np.where(y == 1, np.log(p), np.log1p(-p))


_DISCRETE = {
    "logistic": _DiscreteLaw(_expit, lambda p, rng: rng.random(p.shape) < p,
                             lambda mean: (np.zeros(mean.shape, np.int64),
                                           np.ones(mean.shape, np.int64), None),
                             _bernoulli_logpmf),
    "poisson": _DiscreteLaw(np.exp, lambda lam, rng: rng.poisson(lam), _poisson_window,
                            lambda mean, y: stats.poisson.logpmf(y, mean)),
}
_PREDICTORS = {
    "normal": ("independent N(0, 1)", lambda rng, size: rng.standard_normal(size)),
    "uniform": ("independent Uniform(-1, 1)", lambda rng, size: rng.uniform(-1.0, 1.0, size)),
}


def check_law(name: str, params: dict[str, float]) -> dict[str, float]:
    """The law's full parameters (defaults filled in); :class:`InputError` on a bad one."""
    if name not in LAW_PARAMETERS:
        raise InputError(f"--law must be one of {', '.join(LAW_PARAMETERS)}; got {name!r}")
    known = LAW_PARAMETERS[name]
    for key in params:
        if key not in known:
            owners = [law for law, ps in LAW_PARAMETERS.items() if key in ps]
            raise InputError(f"--{key} is not a parameter of the {name} law"
                             + (f" (it is one of {', '.join(owners)})" if owners else "")
                             + (f"; its parameters: {', '.join('--' + k for k in known)}"
                                if known else "; it has none"))
    out = {**known, **{k: v for k, v in params.items() if v is not None}}
    for key, value in out.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InputError(f"--{key} must be a finite number; got {value!r}")
        if key == "eps":
            if not 0.0 <= value <= 1.0:
                raise InputError(f"--eps must be in [0, 1]; got {value!r}")
        elif key == "alpha":
            continue  # any real skewness shape; 0 is the Normal
        elif value <= 0:
            what = "degrees of freedom" if key == "nu" else "scale"
            raise InputError(f"--{key} ({what}) must be > 0; got {value!r}")
    return {k: float(v) for k, v in out.items()}


@dataclass(frozen=True)
class Simulation:
    """A simulated dataset: the columns, the law and everything needed to repeat it."""

    law: NoiseLaw
    beta: tuple[float, ...]
    predictors: str
    n: int
    seed: int
    columns: dict = field(repr=False, default_factory=dict)

    @property
    def terms(self) -> list[str]:
        return [f"x{j}" for j in range(1, len(self.beta))]

    @property
    def formula(self) -> str:
        return "y ~ " + (" + ".join(self.terms) if self.terms else "1")

    def sidecar(self) -> dict:
        """The sidecar JSON's content (no time stamp: the same seed gives the same bytes)."""
        return {
            "kind": SIDECAR_KIND,
            "law": self.law.as_dict(),
            "response": "y",
            "beta": {"Intercept": self.beta[0], **dict(zip(self.terms, self.beta[1:], strict=True))},
            "predictors": {"columns": self.terms, "law": self.predictors,
                           "description": _PREDICTORS[self.predictors][0]},
            "formula": self.formula,
            "n": self.n,
            # identifies the CSV's y: fit refuses the sidecar for any other data
            "y_hash": y_hash(np.asarray(self.columns["y"], dtype=float)),
            "seed": self.seed,
            "lossbridge_version": __version__,
        }

    def write(self, out: str | Path) -> tuple[Path, Path]:
        """Write the CSV to ``out`` and the sidecar beside it (atomic, both or neither)."""
        return write_simulation(self, out)

    def csv(self) -> str:
        """The CSV text: repr() of each float (shortest round-trip form), integers as such."""
        names = [*self.terms, "y"]
        cols = [self.columns[name] for name in names]
        lines = [",".join(names)]
        for row in zip(*cols, strict=True):
            lines.append(",".join(str(int(v)) if isinstance(v, (np.integer, int)) else repr(float(v))
                                  for v in row))
        return "\n".join(lines) + "\n"


def simulate(law: str = "gaussian", *, n: int = 200, seed: int | None = None,
             beta: tuple[float, ...] | list[float] | str | None = None,
             predictors: str = "normal", **parameters: float) -> Simulation:
    """Draw ``n`` rows of ``y = X beta + noise`` (or a logistic / Poisson y).

    Parameters
    ----------
    law : str
        One of :data:`LAW_PARAMETERS` (``gaussian``, ``laplace``, ``student-t``,
        ``contaminated``, ``skewed``, ``logistic``, ``poisson``).
    n : int
        Rows, at least 2.
    seed : int, optional
        Seed of numpy's default generator; drawn (and recorded) when omitted.
    beta : sequence of float or str, optional
        Intercept first, then one slope per predictor x1..xk (``"1,2,-0.5"``); default (1, 2).
    predictors : {"normal", "uniform"}
        x_j ~ N(0, 1) or Uniform(-1, 1), independent.
    **parameters : float
        The law's parameters (``sigma``, ``b``, ``nu``, ``eps``, ``k``, ``alpha``).

    Returns
    -------
    Simulation
    """
    from ..core.validation import check_seed

    noise = NoiseLaw(law, tuple(check_law(law, parameters).items()))
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise InputError(f"--n must be an integer >= 2; got {n!r}")
    if predictors not in PREDICTOR_LAWS:
        raise InputError(f"--predictors must be {' or '.join(PREDICTOR_LAWS)}; got {predictors!r}")
    coefficients = parse_beta(beta)
    seed = check_seed("--seed", seed)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**32)
    rng = np.random.default_rng(seed)
    k = len(coefficients) - 1
    X = _PREDICTORS[predictors][1](rng, (int(n), k)) if k else np.empty((int(n), 0))
    eta = coefficients[0] + X @ np.asarray(coefficients[1:])
    _check_eta(noise, eta, beta)
    y = noise.sample(eta, rng)
    columns = {f"x{j + 1}": X[:, j] for j in range(k)}
    columns["y"] = y if noise.kind == "discrete" else np.asarray(y, dtype=float)
    if noise.kind == "discrete":
        columns["y"] = [int(v) for v in y]
    return Simulation(noise, coefficients, predictors, int(n), seed, columns)


#: The largest linear predictor a Poisson law accepts: a mean of 1e15 (numpy's Poisson
#: sampler refuses means near 1e19; the truth's support sums need finite counts).
POISSON_MAX_ETA = math.log(1e15)


_MAX_ETA = {"poisson": POISSON_MAX_ETA}


def _check_eta(noise: NoiseLaw, eta: np.ndarray, beta) -> None:
    """Refuse a Poisson mean exp(eta) beyond 1e15 (the logistic's expit cannot overflow)."""
    if not np.all(np.isfinite(eta)):
        raise InputError(f"--beta {beta!r} overflows: x'beta is not finite for some row")
    top = _MAX_ETA.get(noise.name)
    if top is not None and eta.size and float(np.max(eta)) > top:
        raise InputError(f"--beta {beta!r} gives a largest linear predictor x'beta = "
                         f"{float(np.max(eta)):.4g} for the {noise.name} law; its mean "
                         f"exp(x'beta) must stay <= 1e15, so x'beta <= log(1e15) = {top:.4g}")


def parse_beta(beta) -> tuple[float, ...]:
    """The coefficients (intercept first) from a sequence or ``"1,2,-0.5"``."""
    if beta is None:
        return DEFAULT_BETA
    items = beta.split(",") if isinstance(beta, str) else list(beta)
    try:
        values = tuple(float(v) for v in items)
    except (TypeError, ValueError):
        raise InputError(f"--beta must be comma-separated numbers, intercept first "
                         f"(e.g. 1,2,-0.5); got {beta!r}") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise InputError(f"--beta must be finite numbers, intercept first (e.g. 1,2); got {beta!r}")
    return values


def sidecar_path(path: str | Path) -> Path:
    """``data.csv`` -> ``data.law.json`` (any other name: the suffix is appended)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return path.with_suffix(SIDECAR_SUFFIX)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def write_simulation(simulation: Simulation, out: str | Path) -> tuple[Path, Path]:
    """Write the CSV and its sidecar atomically (both or neither); returns their paths."""
    from ..core.jsonio import dumps
    from ..core.outputs import Outputs, check_output

    out = Path(os.fspath(out))
    side = sidecar_path(out)
    check_output(out, what="simulated data", option="--out")
    check_output(side, what="law sidecar", option="--out")
    with Outputs() as outputs:
        outputs.text(out, simulation.csv(), "--out")
        outputs.text(side, dumps(simulation.sidecar()) + "\n", "--out")
        outputs.commit()
    return out, side


def read_sidecar(path: str | Path) -> dict:
    """A sidecar's content, checked; :class:`InputError` naming the file otherwise."""
    path = Path(path)
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"--truth {str(path)!r}: no such file") from None
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8, not JSON, a NUL in the path
        raise InputError(f"--truth {str(path)!r} is not a readable JSON file ({exc})") from None
    if not isinstance(content, dict) or content.get("kind") != SIDECAR_KIND:
        raise InputError(f"--truth {str(path)!r} is not a lossbridge simulation sidecar "
                         f"(its 'kind' must be {SIDECAR_KIND!r})")
    law = content.get("law")
    if not isinstance(law, dict) or "name" not in law:
        raise InputError(f"--truth {str(path)!r} has no law")
    params = {k: v for k, v in law.items() if k != "name"}
    NoiseLaw(law["name"], tuple(check_law(law["name"], params).items()))
    beta = content.get("beta")
    if not isinstance(beta, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in beta.values()):
        raise InputError(f"--truth {str(path)!r}: 'beta' must map terms to finite numbers")
    return content


def truth_law(content: dict) -> NoiseLaw:
    """The :class:`NoiseLaw` of a sidecar's content."""
    law = dict(content["law"])
    name = law.pop("name")
    return NoiseLaw(name, tuple(check_law(name, law).items()))


@dataclass(frozen=True)
class TruthSpec:
    """The law a dataset came from, as ``fit`` uses it: the sidecar's content and where."""

    path: str
    source: str
    content: dict = field(repr=False)

    @property
    def law(self) -> NoiseLaw:
        return truth_law(self.content)

    @property
    def formula(self) -> str | None:
        return self.content.get("formula")

    def check_data(self, table, design) -> None:
        """Refuse data the sidecar was not written for: its n and y's hash must match.

        A sidecar without a hash (written before it was recorded) is refused too: without
        it nothing shows the CSV is still the one simulated.
        """
        advice = "; re-simulate, or fit without the truth: --truth none"
        n, recorded = self.content.get("n"), self.content.get("y_hash")
        if recorded is None:
            raise InputError(f"--truth {self.path!r} records no hash of y (an older sidecar), "
                             f"so it cannot show the data are the simulated ones{advice}")
        if n != len(table) or recorded != design.y_hash:
            what = (f"n = {n}, the data have {len(table)} rows" if n != len(table) else
                    f"y's hash {recorded}, the data's is {design.y_hash}")
            raise InputError(f"--truth {self.path!r} does not describe these data (it records "
                             f"{what}){advice}")

    def eta(self, table, design) -> np.ndarray:
        """The true linear predictor x_i'β* of each row of ``design``, from the table's columns."""
        beta = dict(self.content["beta"])
        response = self.content.get("response", "y")
        if design.response != response:
            raise InputError(f"--truth {self.path!r} describes the response {response!r}; the "
                             f"formula's response is {design.response!r}")
        if design.n != len(table):
            raise InputError(f"--truth {self.path!r}: {len(table) - design.n} row(s) were "
                             "dropped, so the rows no longer match the law's predictors")
        self.check_data(table, design)
        eta = np.full(len(table), float(beta.pop("Intercept", 0.0)))
        for column, value in beta.items():
            if column not in table.columns:
                raise InputError(f"--truth {self.path!r} names the predictor {column!r}, which "
                                 "is not a column of the data")
            eta = eta + float(value) * np.asarray(table[column], dtype=float)
        return eta


def resolve_truth(data, truth: str | None) -> TruthSpec | None:
    """The truth of a fit: ``--truth PATH``, ``none``, or (None) the sidecar beside a CSV."""
    if truth is not None and truth.strip().lower() == "none":
        return None
    if truth is not None:
        return TruthSpec(truth, f"--truth {truth}", read_sidecar(truth))
    if isinstance(data, (str, Path)) and Path(data).is_file():
        side = sidecar_path(data)
        if side.is_file():
            return TruthSpec(str(side), f"sidecar {side} found beside the data "
                             "(automatic; --truth none turns it off)", read_sidecar(side))
    return None


def require_formula_without_truth(data, formula: str | None, truth_spec) -> None:
    """With ``--truth none`` the sidecar is ignored, its formula too: if none is given and a
    sidecar with one lies beside the data, say which to pass (InputError)."""
    if formula is not None or truth_spec is not None or not isinstance(data, (str, Path)):
        return
    side = sidecar_path(data)
    try:
        recorded = json.loads(side.read_text(encoding="utf-8")).get("formula")
    except (OSError, ValueError, AttributeError):
        return  # no readable sidecar: the usual "formula is required" error follows
    if isinstance(recorded, str):
        raise InputError(f"formula is required with --truth none (the sidecar {side}, and its "
                         f"formula, are then not used): give --formula {recorded!r}")
