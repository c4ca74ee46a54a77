"""The Normal likelihood: squared error, certified against exact OLS.

Its summed log-likelihood has sufficient statistics, so a gradient costs O(k^2) at any
n (:meth:`Normal.sufficient_log_likelihood`), and under flat priors its posterior and
its leave-one-out predictive densities are known in closed form (the oracle and the
exact LOO).
"""

from __future__ import annotations

import math

import numpy as np

from ..core.labels import scale_label
from ..core.rounding import loss_error_bound
from .base import IDENTITY, ClosedFormLoo, ClosedFormPosterior, Family

LOG_2PI = float(np.log(2.0 * np.pi))


class NormalSufficientStatistics:
    """RSS_min, theta_hat and G: everything the Normal likelihood needs from the data.

    Written around the least-squares point theta_hat,
    ``RSS(theta) = RSS_min + s^2 (theta - theta_hat)' G (theta - theta_hat)``, G = Q*'Q*:
    an exact identity for a quadratic that, unlike y'y - 2 theta'X'y + ..., does not
    cancel catastrophically when the fit is close.
    """

    def __init__(self, design, rotation):
        q, s = rotation.Q, rotation.y_scale
        self.n = design.n
        self.gram = q.T @ q
        self.theta_hat = np.linalg.solve(self.gram, q.T @ design.y) / s
        residuals = design.y - s * (q @ self.theta_hat)
        self.rss_min = float(residuals @ residuals)
        self.y_scale = s


class Normal(Family):
    name = "normal"
    log_concave = True  # -r²/(2σ²) is concave in the coefficients
    noise_law = "gaussian"
    cross_entropy_moment = "second"
    title = "Normal"
    scale_name = "sigma"
    loss_name = "squared error"
    loss_symbol = "RSS"
    constant_formula = "(n/2) log(2π σ²)"
    loss_term_formula = "RSS / (2σ²)"
    plug_in_formula = "sqrt(RSS/n)"
    density_formula = "exp(−r²/(2σ²)) / (σ √(2π))"
    exact_solver = "ols"
    exact_name = "OLS"
    smooth = True
    piecewise_linear = False
    least_squares = True
    log_scale_information = 2.0  # I(log sigma) = 2 per observation

    def logp(self, y, mu, scale):
        import pytensor.tensor as pt

        return -0.5 * LOG_2PI - pt.log(scale) - 0.5 * ((y - mu) / scale) ** 2

    def logpdf(self, y, mu, scale):
        return -0.5 * LOG_2PI - np.log(scale) - 0.5 * ((y - mu) / scale) ** 2

    def replicate(self, mu, scale, rng):
        return mu + scale * rng.standard_normal(np.shape(mu))

    def quantile(self, p, scale):
        from scipy import stats

        return stats.norm.ppf(p, scale=scale)

    def cross_entropy_closed_form(self, law, delta, scale):
        # log(sigma sqrt(2 pi)) + E[(delta + e)^2] / (2 sigma^2): any noise with a mean and
        # a variance (zero mean by construction).
        if law.kind != "continuous" or not np.isfinite(law.variance()) or not np.isfinite(law.mean()):
            return None
        return 0.5 * LOG_2PI + np.log(scale) + (law.variance() + (law.mean() + delta) ** 2) / (2.0 * scale**2)

    def loss(self, residuals):
        return float(np.dot(residuals, residuals))

    def scale_mle(self, loss, n):
        return float(np.sqrt(loss / n))

    def nll_constant(self, n, scale):
        return 0.5 * n * (LOG_2PI + 2.0 * np.log(scale))

    def loss_rounding(self, X, y, beta):
        return loss_error_bound(X, y, beta, "RSS")

    def nll_loss_term(self, loss, scale):
        return loss / (2.0 * scale**2)

    def smallest_scale(self, loss, nats):
        return math.sqrt(loss / (2.0 * nats))  # RSS / (2 sigma^2) = nats

    def loss_term_text(self, scale):
        return f"RSS/(2·{scale}²)"

    def sufficient_log_likelihood(self, design, rotation):
        if self.link is not IDENTITY:  # the closed form is that of the identity link
            return None
        import pymc as pm
        import pytensor.tensor as pt

        statistics = NormalSufficientStatistics(design, rotation)
        # Shared variables, not constants: the compiled code is reused across datasets.
        # Named after the family, so that a family reusing this form under another name
        # can share a joint model with the Normal.
        n_rows = pm.Data(f"{self.name}::n_rows", np.float64(design.n))
        gram = pm.Data(f"{self.name}::gram", statistics.gram)
        theta_hat = pm.Data(f"{self.name}::theta_hat", statistics.theta_hat)
        rss_min = pm.Data(f"{self.name}::rss_min", np.float64(statistics.rss_min))
        s2 = pm.Data(f"{self.name}::y_scale_squared", np.float64(statistics.y_scale**2))

        def log_likelihood(theta, scale):
            delta = theta - theta_hat
            rss = rss_min + s2 * pt.dot(delta, pt.dot(gram, delta))
            return -n_rows * pt.log(scale) - 0.5 * n_rows * LOG_2PI - rss / (2.0 * scale**2)

        return log_likelihood

    def batch_log_likelihood(self, design, rotation, centre):
        if self.link is not IDENTITY:
            return super().batch_log_likelihood(design, rotation, centre)
        from .batched import QuadraticBatch

        return QuadraticBatch(NormalSufficientStatistics(design, rotation))

    def exact_posterior(self, design, rotation, exact, scale_mode, fixed_scale):
        """Flat priors: beta | sigma Normal around OLS; sigma learned: multivariate t for
        beta and an inverse-gamma for sigma^2 (Gelman et al., BDA3, section 14.2)."""
        if self.link is not IDENTITY:  # the closed form is that of the identity link
            return None
        import pandas as pd
        from scipy.special import gammaln

        n, k = design.n, design.k
        inverse = rotation.xtx_inverse()
        terms = list(design.terms)
        if scale_mode == "fixed":
            cov = fixed_scale**2 * inverse
            return ClosedFormPosterior("normal", pd.Series(exact.coefficients, index=terms),
                                       pd.Series(np.sqrt(np.diag(cov)), index=terms), cov, None)
        nu = n - k - 1
        if nu <= 2:  # the t has no finite variance: nothing to compare sds with
            return None
        cov = exact.loss / nu * inverse * nu / (nu - 2)
        a, b = 0.5 * nu, 0.5 * exact.loss
        sigma_mean = float(np.sqrt(b) * np.exp(gammaln(a - 0.5) - gammaln(a)))
        sigma_sd = float(np.sqrt(b / (a - 1) - sigma_mean**2))
        labels = [*terms, scale_label(self.scale_name)]  # a term may itself be called "sigma"
        return ClosedFormPosterior(
            "multivariate t",
            pd.Series([*exact.coefficients, sigma_mean], index=labels),
            pd.Series([*np.sqrt(np.diag(cov)), sigma_sd], index=labels),
            cov,
            float(nu),
        )

    def exact_loo(self, design, rotation, scale_mode, fixed_scale, plug_in):
        """Exact log p(y_i | y_-i) from the leverages (flat priors)."""
        if self.link is not IDENTITY:  # the closed form is that of the identity link
            return None
        from scipy import stats

        n, k = design.n, design.k
        if scale_mode == "learned" and n - k - 2 < 1:
            return None
        if plug_in and n - k - 1 < 1:
            return None  # without a row there would be no residual to estimate sigma from
        h = rotation.leverages()
        if not np.max(h) < 1.0 - 1e-10:
            return None  # a row that alone determines a coefficient: no predictive density
        beta = rotation.to_beta(np.linalg.lstsq(rotation.Q, design.y, rcond=None)[0] / rotation.y_scale)
        residuals = design.y - design.X @ beta
        error = residuals / (1.0 - h)
        rss_minus = residuals @ residuals - residuals**2 / (1.0 - h)
        if plug_in:
            # the plug-in rule sqrt(RSS/n) applied to the n - 1 rows left
            scale = np.sqrt(rss_minus / (n - 1) / (1.0 - h))
            return ClosedFormLoo(stats.norm.logpdf(error, scale=scale),
                                 stats.norm.cdf(error, scale=scale))
        if scale_mode == "fixed":
            scale = fixed_scale / np.sqrt(1.0 - h)
            return ClosedFormLoo(stats.norm.logpdf(error, scale=scale),
                                 stats.norm.cdf(error, scale=scale))
        nu = n - k - 2
        scale = np.sqrt(rss_minus / nu / (1.0 - h))
        return ClosedFormLoo(stats.t.logpdf(error, df=nu, scale=scale),
                             stats.t.cdf(error, df=nu, scale=scale))


NORMAL = Normal()
