"""The Student-t likelihood: a heavy-tailed, robust loss, certified against EM for t regression.

With r = y - mu, scale sigma and nu degrees of freedom the density is

    f(r) = Γ((ν+1)/2) / (Γ(ν/2) √(νπ) σ) · (1 + r²/(νσ²))^(−(ν+1)/2),

so the NLL is n [log σ + ½ log(νπ) + log Γ(ν/2) − log Γ((ν+1)/2)] plus the loss
Σ ρ(rᵢ), ρ(r) = ((ν+1)/2) log(1 + r²/(νσ²)); ν = 1 is the Cauchy loss. The loss depends
on σ and ν, not on the residuals alone, so the NLL is split by :meth:`Student.loss_term`.
ν is learned (value None, the default) under a proper Gamma(2, 0.1) prior (Juárez and
Steel 2010), so its MAP is a posterior mode, or fixed (``--nu 4``). The objective is not
convex: :mod:`lossbridge.estimation.student_em` certifies the MAP by EM from several
starts and reports distinct local optima.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from .base import Family, ShapeParameter

LOG_PI = float(np.log(np.pi))

NU = ShapeParameter(
    "nu", None, lower=0.0, learnable=True, prior="Gamma(2, 0.1)",
    prior_dist=("Gamma", (("alpha", 2.0), ("beta", 0.1))), initial=5.0, option="nu",
    help=("Student-t degrees of freedom nu > 0 (1: the Cauchy loss); default: learned "
          "under a Gamma(2, 0.1) prior"))


class Student(Family):
    name = "student"
    noise_law = "student-t"
    cross_entropy_moment = "log"
    title = "Student-t"
    scale_name = "sigma"
    scale_option = "t_sigma"
    loss_name = "Student-t loss"
    loss_symbol = "Σρ_t"
    constant_formula = "n [log σ + ½ log(νπ) + log Γ(ν/2) − log Γ((ν+1)/2)]"
    loss_term_formula = "Σ ((ν+1)/2) log(1 + r²/(νσ²))"
    plug_in_formula = None  # no closed form: the scale of the joint MLE (EM)
    density_formula = "Γ((ν+1)/2) / (Γ(ν/2) √(νπ) σ) · (1 + r²/(νσ²))^(−(ν+1)/2)"
    parameters = (NU,)
    in_default_set = False
    exact_solver = "student"
    exact_name = "EM (t regression)"
    scale_dependent_fit = True
    smooth = True
    piecewise_linear = False

    def _nu(self, nu):
        value = self.shape_value("nu") if nu is None else nu
        if value is None:
            raise ValueError("nu is learned in this model: pass its value as nu=")
        return value

    @property
    def log_scale_information(self) -> float:
        # I(log sigma) = 2ν/(ν+3) per observation (Lange, Little & Taylor 1989); a learned ν:
        # that of ν = 3, NUTS adapts the rest.
        nu = self.shape_value("nu")
        nu = 3.0 if nu is None else nu
        return 2.0 * nu / (nu + 3.0)

    # ------------------------------------------------------------------ the density
    def logp(self, y, mu, scale, nu=None):
        import pytensor.tensor as pt

        # A Python float would become a float32 constant where exactly representable
        # (PyTensor's autocast), and the density would then be computed in single precision.
        nu, scale, mu = (v if isinstance(v, pt.Variable) else pt.constant(np.asarray(v, dtype=np.float64))
                         for v in (self._nu(nu), scale, mu))
        z2 = ((y - mu) / scale) ** 2
        return (pt.gammaln(0.5 * (nu + 1.0)) - pt.gammaln(0.5 * nu) - 0.5 * (pt.log(nu) + LOG_PI)
                - pt.log(scale) - 0.5 * (nu + 1.0) * pt.log1p(z2 / nu))

    def logpdf(self, y, mu, scale, nu=None):
        nu = self._nu(nu)
        z2 = ((y - mu) / scale) ** 2
        return (gammaln(0.5 * (nu + 1.0)) - gammaln(0.5 * nu) - 0.5 * (np.log(nu) + LOG_PI)
                - np.log(scale) - 0.5 * (nu + 1.0) * np.log1p(z2 / nu))

    def replicate(self, mu, scale, rng, nu=None):
        nu = self._nu(nu)
        shape = np.broadcast_shapes(np.shape(mu), np.shape(scale), np.shape(nu))
        return mu + scale * rng.standard_t(np.broadcast_to(nu, shape), size=shape)

    def quantile(self, p, scale, nu=None):
        from scipy import stats

        nu = self.shape_value("nu") if nu is None else nu
        if nu is None:  # learned: no single noise distribution to draw
            return None
        return stats.t.ppf(p, nu, scale=scale)

    # ------------------------------------------------------------------ loss and NLL
    def loss(self, residuals):
        raise NotImplementedError("the Student-t loss depends on sigma and nu: use "
                                  "loss_at(residuals, sigma, nu=...) or loss_term")

    def loss_at(self, residuals, scale, nu=None):
        nu = self._nu(nu)
        return float(0.5 * (nu + 1.0) * np.sum(np.log1p((np.asarray(residuals) / scale) ** 2 / nu)))

    def loss_term(self, residuals, scale, nu=None):
        return self.loss_at(residuals, scale, nu=nu)

    def nll_constant(self, n, scale, nu=None):
        nu = self._nu(nu)
        return float(n * (np.log(scale) + 0.5 * (np.log(nu) + LOG_PI) + gammaln(0.5 * nu)
                          - gammaln(0.5 * (nu + 1.0))))

    def loss_term_text(self, scale):
        return f"Σ ((ν+1)/2) log(1 + r²/(ν·{scale}²))"


STUDENT = Student()
