"""The Laplace likelihood: absolute error, certified against exact LAD.

Its loss is piecewise linear in the coefficients, so under flat priors the MAP is a
vertex of the LAD linear program, polished to that vertex and proven by its dual.
"""

from __future__ import annotations

import numpy as np

from ..core.rounding import loss_error_bound
from .base import Family


class Laplace(Family):
    name = "laplace"
    log_concave = True  # -|r|/b is concave in the coefficients
    noise_law = "laplace"
    cross_entropy_moment = "first"
    title = "Laplace"
    scale_name = "b"
    loss_name = "absolute error"
    loss_symbol = "SAD"
    constant_formula = "n log(2b)"
    loss_term_formula = "SAD / b"
    plug_in_formula = "SAD/n"
    density_formula = "exp(−|r|/b) / (2b)"
    exact_solver = "lad"
    exact_name = "LAD"
    smooth = False
    piecewise_linear = True
    log_scale_information = 1.0  # I(log b) = 1 per observation

    def smallest_scale(self, loss, nats):
        return loss / nats  # SAD / b = nats

    def loss_term_text(self, scale):
        return f"SAD/{scale}"

    def logp(self, y, mu, scale):
        import pytensor.tensor as pt

        return -pt.log(2.0 * scale) - pt.abs(y - mu) / scale

    def summed_logp(self, y, mu, scale):
        import pytensor.tensor as pt

        # -n log(2b) once, not per row (the n is symbolic: one compiled graph for every n).
        n = pt.cast(y.shape[0], "float64")
        return -n * pt.log(2.0 * scale) - pt.sum(pt.abs(y - mu)) / scale

    def logpdf(self, y, mu, scale):
        return -np.log(2.0 * scale) - np.abs(y - mu) / scale

    def batch_log_likelihood(self, design, rotation, centre):
        from .batched import PiecewiseLinearBatch

        # |r| = -r below zero, r above; the constant per row is log(2b)
        return PiecewiseLinearBatch(design, rotation, centre, -1.0, 1.0,
                                    lambda scale: np.log(2.0 * scale))

    def replicate(self, mu, scale, rng):
        return mu + scale * rng.laplace(size=np.shape(mu))

    def quantile(self, p, scale):
        from scipy import stats

        return stats.laplace.ppf(p, scale=scale)

    def cross_entropy_closed_form(self, law, delta, scale):
        # log(2b) + E|delta + e| / b, with E|delta + e| in closed form for Normal and
        # Laplace noise (a folded Normal's mean; |d| + s exp(-|d|/s) for a Laplace(0, s)).
        from scipy.special import ndtr

        delta = np.asarray(delta, dtype=float)
        if law.name == "gaussian":
            s = law.params["sigma"]
            absolute = (s * np.sqrt(2.0 / np.pi) * np.exp(-0.5 * (delta / s) ** 2)
                        + delta * (1.0 - 2.0 * ndtr(-delta / s)))
        elif law.name == "laplace":
            s = law.params["b"]
            absolute = np.abs(delta) + s * np.exp(-np.abs(delta) / s)
        else:
            return None
        return np.log(2.0 * scale) + absolute / scale

    def loss(self, residuals):
        return float(np.sum(np.abs(residuals)))

    def scale_mle(self, loss, n):
        return loss / n

    def nll_constant(self, n, scale):
        return n * float(np.log(2.0 * scale))

    def loss_rounding(self, X, y, beta):
        return loss_error_bound(X, y, beta, "SAD")

    def nll_loss_term(self, loss, scale):
        return loss / scale


LAPLACE = Laplace()
