"""Exact posteriors where they exist, and the check of sampled posteriors against them.

Normal likelihood, flat prior on beta (docs/design.md; Gelman et al., *Bayesian Data
Analysis*, 3rd ed., section 14.2):

* fixed sigma: beta | y ~ Normal(beta_OLS, sigma^2 (X'X)^-1);
* learned sigma with a flat prior on sigma itself (PyMC's HalfFlat): integrating sigma
  out of sigma^-n exp(-S(beta) / 2 sigma^2) leaves S(beta)^-(n-1)/2, a multivariate t with
  nu = n - k - 1 degrees of freedom, location beta_OLS and scale RSS / nu (X'X)^-1; and
  sigma^2 | y ~ Inv-Gamma((n - k - 1)/2, RSS/2).

The check compares sampled means and sds with the exact ones in units of their Monte
Carlo standard errors (ArviZ's mcse_mean and mcse_sd), never with a fixed tolerance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import scipy.linalg
from scipy.special import gammaln

from ..data.design import Design, scale_label
from ..data.rotation import Rotation
from ..estimation.exact import ExactFit
from ..models.spec import ModelSpec

Z_LIMIT = 4.0  # |z| above 4 MCSE has probability 6e-5 per quantity under a correct sampler


@dataclass(frozen=True, eq=False)
class ExactPosterior:
    """Exact marginal means and sds of the coefficients (and sigma, when learned)."""

    distribution: str
    mean: pd.Series
    sd: pd.Series
    covariance: np.ndarray  # of beta (for t: its covariance, nu / (nu - 2) times the scale)
    dof: float | None


def xtx_inverse(rotation: Rotation) -> np.ndarray:
    """(X'X)^-1 from the rotation's triangular factor (X D = sqrt(n) Q* ... R*), stably."""
    k = rotation.R.shape[0]
    n = rotation.Q.shape[0]
    r_inv = scipy.linalg.solve_triangular(rotation.R, np.eye(k))
    scaled = r_inv @ r_inv.T / n  # (D X'X D)^-1
    return scaled / np.outer(rotation.column_norms, rotation.column_norms)


def exact_posterior(spec: ModelSpec, design: Design, rotation: Rotation,
                    ols: ExactFit) -> ExactPosterior | None:
    """The exact posterior of ``spec``, or None where none is known (Laplace, weak priors)."""
    if spec.likelihood != "normal" or spec.priors != "flat":
        return None
    n, k = design.n, design.k
    inverse = xtx_inverse(rotation)
    terms = list(design.terms)
    if spec.scale == "fixed":
        cov = spec.fixed_scale**2 * inverse
        return ExactPosterior(
            "normal",
            pd.Series(ols.coefficients, index=terms),
            pd.Series(np.sqrt(np.diag(cov)), index=terms),
            cov,
            None,
        )
    nu = n - k - 1
    if nu <= 2:  # the t has no finite variance: nothing to compare sds with
        return None
    cov = ols.loss / nu * inverse * nu / (nu - 2)
    a, b = 0.5 * nu, 0.5 * ols.loss
    sigma_mean = float(np.sqrt(b) * np.exp(gammaln(a - 0.5) - gammaln(a)))
    sigma_sd = float(np.sqrt(b / (a - 1) - sigma_mean**2))
    labels = [*terms, scale_label("sigma")]  # the summary's row label; a term may be "sigma"
    return ExactPosterior(
        "multivariate t",
        pd.Series([*ols.coefficients, sigma_mean], index=labels),
        pd.Series([*np.sqrt(np.diag(cov)), sigma_sd], index=labels),
        cov,
        float(nu),
    )


@dataclass(frozen=True)
class ParameterCheck:
    """One parameter: exact and sampled mean and sd, their z-scores in MCSE units."""

    exact_mean: float
    sampled_mean: float
    z_mean: float
    exact_sd: float
    sampled_sd: float
    relative_sd_error: float
    relative_sd_tolerance: float  # Z_LIMIT MCSEs of the sd, relative to the exact sd
    z_sd: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class OracleCheck:
    """The sampled posterior against the exact one; :func:`check_against_exact` builds it.

    Attributes
    ----------
    distribution : str
        The exact posterior's distribution (``ExactPosterior.distribution``).
    dof : float or None
        Its degrees of freedom (a t), or None.
    parameters : dict of str to ParameterCheck
        Keyed by the summary's row labels.
    z_limit : float
        The largest |z| that passes.
    """

    distribution: str
    dof: float | None
    parameters: dict[str, ParameterCheck]
    z_limit: float = Z_LIMIT

    @property
    def max_abs_z(self) -> float:
        return float(max(max(abs(p.z_mean), abs(p.z_sd)) for p in self.parameters.values()))

    @property
    def passed(self) -> bool:
        """Every |z| within ``z_limit``."""
        return bool(self.max_abs_z <= self.z_limit)

    def as_dict(self) -> dict:
        """The JSON of ``fits[].oracle``."""
        return {
            "distribution": self.distribution,
            "dof": self.dof,
            "z_limit": self.z_limit,
            "max_abs_z": self.max_abs_z,
            "passed": self.passed,
            "parameters": {name: p.as_dict() for name, p in self.parameters.items()},
        }


def check_against_exact(summary: pd.DataFrame, exact: ExactPosterior) -> OracleCheck:
    """z-scores of sampled means and sds against the exact posterior (|z| <= 4 passes)."""
    rows = {}
    for name in exact.mean.index:
        sampled = summary.loc[name]
        z_mean = (sampled["mean"] - exact.mean[name]) / sampled["mcse_mean"]
        z_sd = (sampled["sd"] - exact.sd[name]) / sampled["mcse_sd"]
        rows[name] = ParameterCheck(
            exact_mean=float(exact.mean[name]),
            sampled_mean=float(sampled["mean"]),
            z_mean=float(z_mean),
            exact_sd=float(exact.sd[name]),
            sampled_sd=float(sampled["sd"]),
            relative_sd_error=float(sampled["sd"] / exact.sd[name] - 1.0),
            relative_sd_tolerance=float(Z_LIMIT * sampled["mcse_sd"] / exact.sd[name]),
            z_sd=float(z_sd),
        )
    return OracleCheck(exact.distribution, exact.dof, rows)
