"""The asymmetric Laplace likelihood: the pinball loss, certified against exact quantile regression.

With the pinball (check) loss rho_tau(r) = r (tau - 1[r < 0]), the density

    f(r) = tau (1 - tau) / sigma * exp(-rho_tau(r) / sigma)

is proper for every tau in (0, 1) and sigma > 0, its tau-quantile is 0 (P(r < 0) = tau),
and its NLL is n log(sigma / (tau (1 - tau))) + sum rho_tau(r_i) / sigma: under flat
priors the MAP is the tau-th regression quantile (Koenker and Bassett 1978) whatever the
scale, and the learned scale is the mean pinball loss. tau = 1/2 is the Laplace with
b = 2 sigma.

PyMC's ``pm.AsymmetricLaplace(b, kappa, mu)`` has density
b / (kappa + 1/kappa) * exp(-(x - mu) b s kappa^s), s = sign(x - mu): its ``b`` is a
*rate*, not a scale. It is this density at

    mu = x'beta,  kappa = sqrt(tau / (1 - tau))  (PyMC's ``q = tau``),  b = sqrt(tau (1 - tau)) / sigma,

since then b kappa = tau / sigma, b / kappa = (1 - tau) / sigma and
b / (kappa + 1/kappa) = tau (1 - tau) / sigma (:func:`pymc_parameters`; a test checks
``pm.logp`` against :meth:`Quantile.logp`).
"""

from __future__ import annotations

import numpy as np

from ..core.rounding import loss_error_bound
from .base import Family, ShapeParameter


def pinball(residuals: np.ndarray, tau: float) -> np.ndarray:
    """rho_tau(r) = r (tau - 1[r < 0]), elementwise."""
    r = np.asarray(residuals, dtype=float)
    return np.where(r < 0, (tau - 1.0) * r, tau * r)


def pymc_parameters(tau: float, sigma):
    """PyMC's ``AsymmetricLaplace`` parameters ``(b, kappa)`` of this density (mu = x'beta)."""
    return np.sqrt(tau * (1.0 - tau)) / sigma, np.sqrt(tau / (1.0 - tau))


class Quantile(Family):
    name = "quantile"
    log_concave = True  # -pinball(r)/σ is concave in the coefficients
    cross_entropy_moment = "first"
    title = "Asymmetric Laplace"
    scale_name = "sigma"
    scale_option = "quantile_sigma"
    loss_name = "pinball loss"
    loss_symbol = "pinball"
    constant_formula = "n log(σ / (τ(1−τ)))"
    loss_term_formula = "Σρ_τ / σ"
    plug_in_formula = "Σρ_τ/n"
    density_formula = "τ(1−τ)/σ · exp(−ρ_τ(r)/σ), ρ_τ(r) = r (τ − 1[r < 0])"
    parameters = (
        ShapeParameter("tau", 0.5, lower=0.0, upper=1.0, option="tau", multiple=True,
                       help="quantile level of the quantile likelihood, in (0, 1), default 0.5; "
                            "repeat the flag for several quantiles (--tau 0.1 --tau 0.9), one "
                            "model each"),
    )
    in_default_set = False
    comparison_group = "quantile"
    exact_solver = "quantile"
    exact_name = "quantile regression"
    smooth = False
    piecewise_linear = True
    log_scale_information = 1.0  # rho/sigma ~ Exp(1): I(log sigma) = Var = 1 per observation
    # The AL posterior of the coefficients has the wrong spread for the tau-quantile
    # (misspecified likelihood): the posterior module reports the Yang-Wang-He (2016)
    # adjusted covariance beside the raw one.
    sandwich_adjustment = "yang_wang_he"
    quantile_level = "tau"

    @property
    def tau(self) -> float:
        return float(self.shape_value("tau"))

    def smallest_scale(self, loss, nats):
        return loss / nats  # pinball / sigma = nats

    def loss_term_text(self, scale):
        return f"Σρ_τ/{scale}"

    def _log_constant(self):
        return float(np.log(self.tau * (1.0 - self.tau)))

    def logp(self, y, mu, scale):
        import pytensor.tensor as pt

        r = y - mu
        rho = pt.switch(pt.lt(r, 0.0), (self.tau - 1.0) * r, self.tau * r)
        return self._log_constant() - pt.log(scale) - rho / scale

    def summed_logp(self, y, mu, scale):
        import pytensor.tensor as pt

        n = pt.cast(y.shape[0], "float64")
        r = y - mu
        rho = pt.switch(pt.lt(r, 0.0), (self.tau - 1.0) * r, self.tau * r)
        return n * (self._log_constant() - pt.log(scale)) - pt.sum(rho) / scale

    def batch_log_likelihood(self, design, rotation, centre):
        from .batched import PiecewiseLinearBatch

        # pinball: (tau - 1) r below zero, tau r above; the constant per row log sigma - log c
        log_constant = self._log_constant()
        return PiecewiseLinearBatch(design, rotation, centre, self.tau - 1.0, self.tau,
                                    lambda scale: np.log(scale) - log_constant)

    def logpdf(self, y, mu, scale):
        return self._log_constant() - np.log(scale) - pinball(np.asarray(y) - mu, self.tau) / scale

    def replicate(self, mu, scale, rng):
        # A difference of exponentials with rates tau/sigma (right) and (1-tau)/sigma (left).
        shape = np.shape(mu)
        e1, e2 = rng.standard_exponential(shape), rng.standard_exponential(shape)
        return mu + scale * (e1 / self.tau - e2 / (1.0 - self.tau))

    def quantile(self, p, scale):
        # F(r) = tau exp((1-tau) r/sigma) for r < 0, 1 - (1-tau) exp(-tau r/sigma) for r >= 0.
        p = np.asarray(p, dtype=float)
        tau = self.tau
        with np.errstate(divide="ignore", invalid="ignore"):
            left = scale / (1.0 - tau) * np.log(p / tau)
            right = -scale / tau * np.log((1.0 - p) / (1.0 - tau))
        return np.where(p <= tau, left, right)

    def loss(self, residuals):
        return float(np.sum(pinball(residuals, self.tau)))

    def scale_mle(self, loss, n):
        return loss / n

    def nll_constant(self, n, scale):
        return n * float(np.log(scale) - self._log_constant())

    def nll_loss_term(self, loss, scale):
        return loss / scale

    def loss_rounding(self, X, y, beta):
        # |rho(a) - rho(b)| <= max(tau, 1-tau) |a - b| <= |a - b| and rho(r) <= |r|: the
        # SAD's bound bounds the pinball loss's rounding too.
        return loss_error_bound(X, y, beta, "SAD")


QUANTILE = Quantile()
