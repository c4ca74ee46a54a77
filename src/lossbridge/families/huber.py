"""The Huber likelihood: Huber's loss as a proper density, certified against the Huber fit.

The density is f(r) = exp(-rho_c(r/sigma)) / (A sigma), with Huber's loss
rho_c(u) = u²/2 for |u| <= c and c|u| - c²/2 beyond, and the normalising constant

    A = ∫ exp(-rho_c(u)) du = 2 √(2π) (Φ(c) + φ(c)/c - 1/2)

(the Gaussian centre gives 2 √(2π) (Φ(c) - 1/2), each exponential tail φ(c) √(2π) / c).
Its loss depends on the scale: at a fixed sigma the MAP is the Huber M-estimate with that
scale, with a learned sigma the joint maximum-likelihood fit of (beta, sigma), so the
family sets ``scale_dependent_fit`` and its exact solver takes the scale
(:mod:`lossbridge.estimation.huber`).
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np

from ..core.rounding import EPS, SAFETY, residual_errors
from .base import Family, ShapeParameter

SQRT_2PI = math.sqrt(2.0 * math.pi)


def _phi(u: float) -> float:
    return math.exp(-0.5 * u * u) / SQRT_2PI


def _Phi(u: float) -> float:
    return 0.5 * math.erfc(-u / math.sqrt(2.0))


def huber_rho(u: np.ndarray, c: float) -> np.ndarray:
    """Huber's loss rho_c(u): u²/2 for |u| <= c, c|u| - c²/2 beyond."""
    a = np.abs(u)
    return np.where(a <= c, 0.5 * u * u, c * a - 0.5 * c * c)


def huber_psi(u: np.ndarray, c: float) -> np.ndarray:
    """rho_c'(u) = clip(u, -c, c)."""
    return np.clip(u, -c, c)


def normalising_constant(c: float) -> float:
    """A = 2 √(2π) (Φ(c) + φ(c)/c - 1/2), the integral of exp(-rho_c(u)) over the line."""
    # Φ(c) - 1/2 = erf(c/√2)/2: no cancellation for small c.
    return 2.0 * SQRT_2PI * (0.5 * math.erf(c / math.sqrt(2.0)) + _phi(c) / c)


class Huber(Family):
    name = "huber"
    log_concave = True  # -rho_c(r/σ) with rho_c convex
    cross_entropy_moment = "first"
    title = "Huber"
    scale_name = "sigma"
    scale_option = "huber_sigma"
    in_default_set = False
    loss_name = "Huber loss"
    loss_symbol = "Σρ_c(r/σ)"
    constant_formula = "n log(A_c σ)"
    loss_term_formula = "Σ ρ_c(r/σ)"
    plug_in_formula = None  # the joint MLE of (beta, sigma) has no closed form
    density_formula = ("exp(−ρ_c(r/σ)) / (A σ), ρ_c(u) = u²/2 for |u| ≤ c, c|u| − c²/2 beyond, "
                       "A_c = 2√(2π)(Φ(c) + φ(c)/c − ½)")
    parameters = (ShapeParameter("c", 1.345, lower=0.0, option="huber_c",
                                 help="Huber threshold c > 0, in units of σ (default 1.345)"),)
    exact_solver = "huber"
    exact_name = "Huber M-estimate"
    # C1, with a piecewise-constant Hessian: Newton applies (semismooth Newton converges
    # once the set of rows in the quadratic zone settles).
    smooth = True
    piecewise_linear = False
    scale_dependent_fit = True

    @property
    def c(self) -> float:
        return float(self.shape_value("c"))

    def with_shape(self, **values):
        bound = super().with_shape(**values)
        bound.__dict__.pop("log_scale_information", None)  # cached for the old c
        return bound

    @property
    def log_normaliser(self) -> float:
        """log A for this instance's c."""
        return math.log(normalising_constant(self.c))

    @cached_property
    def log_scale_information(self) -> float:  # type: ignore[override]
        """E[(u psi_c(u) - 1)²] under the unit density: the Fisher information of log sigma."""
        c = self.c
        from scipy import integrate

        a = normalising_constant(c)

        def integrand(u):
            return (u * min(max(u, -c), c) - 1.0) ** 2 * math.exp(-huber_rho(u, c)) / a

        centre = integrate.quad(integrand, 0.0, c)[0]
        tail = integrate.quad(integrand, c, np.inf)[0]
        return 2.0 * (centre + tail)

    # ------------------------------------------------------------------ the density
    def logp(self, y, mu, scale):
        import pytensor.tensor as pt

        c = self.c
        u = (y - mu) / scale
        a = pt.abs(u)
        rho = pt.switch(a <= c, 0.5 * u**2, c * a - 0.5 * c**2)
        return -rho - pt.log(scale) - self.log_normaliser

    def logpdf(self, y, mu, scale):
        u = (np.asarray(y) - mu) / scale
        return -huber_rho(u, self.c) - np.log(scale) - self.log_normaliser

    def replicate(self, mu, scale, rng):
        """Exact draws: with probability 2√(2π)(Φ(c) − ½)/A a standard normal truncated to
        [−c, c], else c + E/c (E ~ Exp(1)) with a random sign: the exponential tail
        exp(−c|u| + c²/2) beyond c."""
        from scipy.special import ndtr, ndtri

        c = self.c
        shape = np.broadcast_shapes(np.shape(mu), np.shape(scale))
        centre_mass = SQRT_2PI * math.erf(c / math.sqrt(2.0)) / normalising_constant(c)
        in_centre = rng.random(shape) < centre_mass
        # the truncated normal by inversion of Φ on [Φ(-c), Φ(c)]
        low = ndtr(-c)
        centre = ndtri(low + rng.random(shape) * (1.0 - 2.0 * low))
        tail = (c + rng.standard_exponential(shape) / c) * rng.choice([-1.0, 1.0], size=shape)
        u = np.where(in_centre, centre, tail)
        return mu + scale * u

    def quantile(self, p, scale):
        """Closed-form inverse of the CDF: exponential tails, Gaussian centre."""
        from scipy.special import ndtr, ndtri

        c = self.c
        a = normalising_constant(c)
        p = np.asarray(p, dtype=float)
        tail_mass = _phi(c) * SQRT_2PI / (c * a)  # P(u < -c)
        q = np.minimum(p, 1.0 - p)  # by symmetry, the lower half
        with np.errstate(divide="ignore", invalid="ignore"):
            lower_tail = (np.log(q * c * a) - 0.5 * c * c) / c
            centre = ndtri(ndtr(-c) + (q - tail_mass) * a / SQRT_2PI)
        u = np.where(q <= tail_mass, lower_tail, np.minimum(centre, 0.0))
        return scale * np.where(p > 0.5, -u, u)

    # ------------------------------------------------------------------ loss and NLL
    def loss(self, residuals):
        """The Huber loss of the residuals at unit scale, Σ rho_c(r) (σ = 1 in y's units).

        The loss of the likelihood depends on σ: the NLL and the certificate use
        :meth:`scaled_loss` at the model's scale.
        """
        return float(np.sum(huber_rho(np.asarray(residuals, dtype=float), self.c)))

    def scaled_loss(self, residuals, scale):
        """Σ rho_c(r/σ): what the Huber M-estimate at scale σ minimises."""
        return float(np.sum(huber_rho(np.asarray(residuals, dtype=float) / scale, self.c)))

    def scaled_loss_rounding(self, X, y, beta, scale):
        """|psi_c| <= c propagates each residual's error e_i as |psi_c(r_i/σ)| e_i / σ;
        plus the n-term sum."""
        residuals = y - X @ beta
        errors = residual_errors(X, y, beta)
        u = residuals / scale
        value = float(np.sum(huber_rho(u, self.c)))
        propagated = float(np.sum(np.abs(np.clip(u, -self.c, self.c)) * errors)) / scale
        return SAFETY * (len(y) * EPS * value + propagated)

    def nll_constant(self, n, scale):
        return n * (self.log_normaliser + float(np.log(scale)))

    def loss_term(self, residuals, scale):
        return self.scaled_loss(residuals, scale)

    def nll_rounding(self, X, y, beta, scale):
        return self.scaled_loss_rounding(X, y, beta, scale)

    def loss_term_text(self, scale):
        return f"Σρ_c(r/{scale})"


HUBER = Huber()
