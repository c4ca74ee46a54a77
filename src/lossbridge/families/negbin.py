"""The negative binomial (NB2) likelihood: counts with more variance than the Poisson's.

y_i ~ NB(mu_i, alpha), log mu_i = x_i beta (+ log exposure), Var y_i = mu_i + alpha mu_i²
(Cameron and Trivedi's NB2; alpha -> 0 is the Poisson). With r = 1/alpha,

    log f(y | mu, alpha) = log Γ(y + r) − log Γ(r) − log y! + y log(alpha mu)
                           − (y + r) log(1 + alpha mu),

scipy's ``nbinom(n=r, p=1/(1 + alpha mu))`` and PyMC's ``NegativeBinomial(mu, alpha=r)``
(PyMC's alpha is our r). At a given alpha, NLL = D/2 + constant with the NB deviance
D = 2 Σ [y log(y/mu) − (y + r) log((y + r)/(mu + r))] (statsmodels' GLM NegativeBinomial
deviance) and constant = minus the saturated log-likelihood (mu = y), which depends on y
and alpha only: the "loss" of NB regression is that deviance at the fitted alpha, and
minimising it over beta at fixed alpha is maximum likelihood. alpha is learned (default)
under a proper Gamma(2, 0.5) prior, or fixed with ``--nb-alpha``; the exact fit
(:mod:`lossbridge.estimation.negbin_fit`) maximises the same posterior.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, xlogy

from .base import ShapeParameter
from .poisson import CountFamily

# Gamma(2, rate 0.5) on alpha: a boundary-avoiding prior for modal estimation (Chung,
# Rabe-Hesketh, Dorie, Gelman and Liu 2013, Psychometrika 78: 685-709): its density is
# 0 at alpha = 0, so the MAP (no Jacobian) is never on the Poisson boundary, where the
# likelihood may be flat; log prior = log alpha - alpha/2 + const is weak (prior mean 4,
# sd 2.8: variance from mu + 0.3 mu² to mu + 10 mu² within its central 90%), so n rows
# outweigh it; proper, so NUTS' posterior is too. The same shape as the Student-t's nu.
ALPHA = ShapeParameter(
    "alpha", None, lower=0.0, learnable=True, prior="Gamma(2, 0.5)",
    prior_dist=("Gamma", (("alpha", 2.0), ("beta", 0.5))), initial=1.0, option="nb_alpha",
    help=("negative binomial dispersion alpha > 0 (Var = mu + alpha mu²); default: learned "
          "under a Gamma(2, 0.5) prior"))

# Above this r = 1/alpha, log Γ(y + r) − log Γ(r) is taken from Stirling's series: the
# difference of two gammaln values near r log r loses eps r log r (0.2 nats at r = 1e14).
# Below it the gammaln form loses at most eps gammaln(100) ~ 1e-13; above it the series
# (three terms) errs by < 1/(1680 r^7) < 1e-17.
STIRLING_R = 100.0


def _stirling_correction(x, log1p):
    """log Γ(x) − [(x − 1/2) log x − x + log(2π)/2] by its asymptotic series (x >= 100)."""
    inv = 1.0 / x
    inv2 = inv * inv
    return inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 / 1260.0))


def _log_rising_minus(y, r, log1p, gammaln_, log, switch):
    """log Γ(y + r) − log Γ(r) − y log r, without cancellation at large r (both forms are
    exact in their range; ``switch`` picks by r, elementwise; NumPy or PyTensor ops)."""
    stirling = ((y + r - 0.5) * log1p(y / r) - y
                + _stirling_correction(y + r, log1p) - _stirling_correction(r, log1p))
    direct = gammaln_(y + r) - gammaln_(r) - y * log(r)
    return switch(r > STIRLING_R, stirling, direct)


class NegativeBinomial(CountFamily):
    name = "negbin"
    log_concave = True  # at a fixed alpha, y eta - (y + 1/alpha) log(1 + alpha e^eta) is concave in eta
    title = "negative binomial"
    loss_name = "negative binomial deviance"
    loss_symbol = "D_NB"
    constant_formula = "−Σ log NB(yᵢ | μ = yᵢ, α)"
    loss_term_formula = "D_NB/2"
    density_formula = "Γ(y + 1/α) / (Γ(1/α) y!) · (αμ)ʸ / (1 + αμ)^(y + 1/α)"
    parameters = (ALPHA,)
    exact_solver = "negbin"

    @property
    def exact_name(self) -> str:
        # With alpha learned the fit maximises the likelihood plus alpha's prior: a
        # posterior mode, not the MLE (statsmodels' NB2 MLE of alpha differs by the prior's
        # pull); with alpha fixed it is the GLM at that alpha.
        if self.shape_value("alpha") is None:
            return "NB2 fit (α at its posterior mode)"
        return "NB2 GLM (α fixed)"


    def _alpha(self, alpha):
        value = self.shape_value("alpha") if alpha is None else alpha
        if value is None:
            raise ValueError("alpha is learned in this model: pass its value as alpha=")
        return value

    # ------------------------------------------------------------------ the density
    def logp(self, y, mu, scale, alpha=None):
        import pytensor.tensor as pt

        # float64 constants: a Python float could become float32 (PyTensor's autocast)
        alpha = self._alpha(alpha)
        alpha = alpha if isinstance(alpha, pt.Variable) else pt.constant(np.float64(alpha))
        r = 1.0 / alpha
        # y log(alpha mu) = y log mu - y log r: the y log r goes in the rising factorial
        # (no cancellation at small alpha); y log mu is 0 at y = 0 (mu > 0)
        # the gammaln branch at r large (and the series at r small) stays finite, so the
        # switch's unused branch gives no NaN gradient
        rising = _log_rising_minus(y, r, pt.log1p, pt.gammaln, pt.log, pt.switch)
        return (rising - pt.gammaln(y + 1.0) + y * pt.log(mu) - (y + r) * pt.log1p(alpha * mu))

    def logpdf(self, y, mu, scale, alpha=None):
        alpha = np.asarray(self._alpha(alpha), dtype=float)
        r = 1.0 / alpha
        with np.errstate(all="ignore"):  # np.where evaluates both forms
            rising = _log_rising_minus(y, r, np.log1p, gammaln, np.log, np.where)
        return rising - gammaln(y + 1.0) + xlogy(y, mu) - (y + r) * np.log1p(alpha * mu)

    def replicate(self, mu, scale, rng, alpha=None):
        alpha = self._alpha(alpha)
        shape = np.broadcast_shapes(np.shape(mu), np.shape(scale), np.shape(alpha))
        mu, alpha = np.broadcast_to(mu, shape), np.broadcast_to(alpha, shape)
        # the Gamma-Poisson mixture: lambda ~ Gamma(r, scale alpha mu), y ~ Poisson(lambda)
        return rng.poisson(rng.gamma(1.0 / alpha, alpha * mu)).astype(float)

    # ------------------------------------------------------------------ loss and NLL
    def loss(self, residuals):
        raise NotImplementedError("the negative binomial deviance needs y and mu: loss_of(y, mu, ...)")

    def nll_constant(self, n, scale, alpha=None):
        raise NotImplementedError("the negative binomial NLL constant needs y: nll_constant_of(y, ...)")

    def loss_of(self, y, mu, scale, alpha=None):
        r = 1.0 / self._alpha(alpha)
        # (y + r) log((y + r)/(mu + r)) as (y + r) log1p((y − mu)/(mu + r)): no difference
        # of two logs near log r at large r
        with np.errstate(divide="ignore", invalid="ignore"):  # y = 0 rows: 0 log 1
            ratio = np.where(y > 0, y / np.where(y > 0, mu, 1.0), 1.0)
        return float(2.0 * np.sum(xlogy(y, ratio)
                                  - (y + r) * np.log1p((y - mu) / (mu + r))))

    def newton_objective(self, y, mu, alpha=None):
        return self.loss_of(y, mu, 1.0, alpha=alpha) / 2.0

    def nll_constant_of(self, y, scale, alpha=None):
        return -float(np.sum(self.logpdf(y, y, scale, alpha=alpha)))

    def loss_term_of(self, y, mu, scale, alpha=None):
        return self.loss_of(y, mu, scale, alpha=alpha) / 2.0

    def linear_predictor_scale(self, y, mu, scale, alpha=None):
        # Fisher information of eta per row: mu / (1 + alpha mu)
        alpha = self._alpha(alpha)
        return float(1.0 / np.sqrt(np.mean(mu / (1.0 + alpha * mu))))

    def eta_derivatives(self, y, eta, scale, alpha=None):
        alpha = self._alpha(alpha)
        mu = np.exp(eta)
        denominator = 1.0 + alpha * mu
        # score (y - mu)/(1 + alpha mu); observed information mu (1 + alpha y)/(1 + alpha mu)²
        # > 0: the log-likelihood is concave in eta at every alpha
        return (y - mu) / denominator, mu * (1.0 + alpha * y) / denominator**2


NEGBIN = NegativeBinomial()
