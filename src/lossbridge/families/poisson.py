"""The Poisson likelihood: the Poisson deviance, certified against the Poisson GLM.

y_i ~ Poisson(mu_i), log mu_i = x_i beta (+ log exposure). NLL = sum(mu - y log mu +
log y!) = D/2 + sum(log y! + y - y log y), with the deviance
D = 2 sum[y log(y/mu) - (y - mu)] (0 log 0 = 0): minimising the deviance is maximum
likelihood, and the MAP under flat priors is the GLM fit (Newton to a zero gradient,
:mod:`lossbridge.estimation.glm`). There is no scale: the variance is the mean.
"""

from __future__ import annotations

import numpy as np

from .base import Family, Link

LOG = Link("log", np.exp, lambda eta: __import__("pytensor.tensor", fromlist=["exp"]).exp(eta))


def check_counts(y: np.ndarray, response: str, likelihood: str) -> None:
    """Counts: finite, non-negative integers; else one InputError naming the first bad row."""
    from ..core.errors import InputError

    bad = np.flatnonzero(~np.isfinite(y) | (y < 0) | (y != np.round(y)))
    if bad.size:
        row = int(bad[0])
        raise InputError(f"the {likelihood} likelihood needs counts (integers >= 0) in "
                         f"{response!r}; got {y[row]:g} in row {row + 1}"
                         + (f" and {bad.size - 1} more row(s)" if bad.size > 1 else ""))
    if not np.any(y > 0):
        raise InputError(f"the {likelihood} likelihood needs some positive counts in {response!r}; "
                         "every value is 0, so the log mean has no maximum")


class CountFamily(Family):
    """What every log-link count family shares (Poisson, negative binomial): counts as y,
    the start log(y + 1/2), weak priors on the log scale, log exposure as an offset."""

    scale_name = None
    density_kind = "discrete"
    link = LOG
    in_default_set = False
    supports_offset = True  # mu = exposure x exp(X beta): log exposure is an offset

    def check_response(self, y, response):
        check_counts(y, response, self.name)

    def initial_linear_predictor(self, y):
        return np.log(y + 0.5)

    def weak_prior_eta_scale(self, y):
        # on the log link's scale (rstanarm's autoscale for a non-Gaussian family: 2.5/sd(x))
        return 1.0

    def weak_prior_eta_centre(self, y):
        return float(np.log(np.mean(y)))  # the log of the mean count (check_counts: > 0)


class Poisson(CountFamily):
    name = "poisson"
    log_concave = True  # y eta - e^eta is concave in eta
    noise_law = "poisson"
    title = "Poisson"
    scale_name = None
    loss_name = "Poisson deviance"
    loss_symbol = "D"
    constant_formula = "Σ [log yᵢ! + yᵢ − yᵢ log yᵢ]"
    loss_term_formula = "D/2"
    density_formula = "μʸ e^(−μ) / y!"
    density_kind = "discrete"
    link = LOG
    in_default_set = False
    supports_offset = True  # mu = exposure x exp(X beta): log exposure is an offset
    exact_solver = "glm"
    exact_name = "Poisson GLM"

    def logp(self, y, mu, scale):
        import pytensor.tensor as pt

        return y * pt.log(mu) - mu - pt.gammaln(y + 1.0)

    def batch_log_likelihood(self, design, rotation, centre):
        from scipy.special import gammaln

        from .batched import CanonicalBatch

        # log f = y eta - exp(eta) - log y!: the log link is the Poisson's canonical one
        return CanonicalBatch(design, rotation, np.exp, -float(gammaln(design.y + 1.0).sum()))

    def logpdf(self, y, mu, scale):
        from scipy.special import gammaln, xlogy

        return xlogy(y, mu) - mu - gammaln(y + 1.0)

    def replicate(self, mu, scale, rng):
        return rng.poisson(np.broadcast_to(mu, np.broadcast_shapes(np.shape(mu),
                                                                   np.shape(scale)))).astype(float)

    def loss(self, residuals):
        raise NotImplementedError("the Poisson deviance needs y and mu: loss_of(y, mu, ...)")

    def nll_constant(self, n, scale):
        raise NotImplementedError("the Poisson NLL constant needs y: nll_constant_of(y, ...)")

    def loss_of(self, y, mu, scale):
        from scipy.special import xlogy

        # y log(y/mu) - (y - mu), each row >= 0 and near 0 at a good fit: no cancellation
        # between sums of size y log mu
        with np.errstate(divide="ignore", invalid="ignore"):  # y = 0 rows: 0 log 1
            ratio = np.where(y > 0, y / np.where(y > 0, mu, 1.0), 1.0)
        return float(2.0 * np.sum(xlogy(y, ratio) - (y - mu)))

    def nll_constant_of(self, y, scale):
        from scipy.special import gammaln, xlogy

        return float(np.sum(gammaln(y + 1.0) + y - xlogy(y, y)))

    def loss_term_of(self, y, mu, scale):
        return self.loss_of(y, mu, scale) / 2.0

    def newton_objective(self, y, mu):
        return self.loss_of(y, mu, 1.0) / 2.0

    def linear_predictor_scale(self, y, mu, scale):
        return float(1.0 / np.sqrt(np.mean(mu)))

    def eta_derivatives(self, y, eta, scale):
        mu = np.exp(eta)
        return y - mu, mu


POISSON = Poisson()
