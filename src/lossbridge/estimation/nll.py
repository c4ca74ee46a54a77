"""Negative log-likelihood at the MAP, split into a constant and a scaled loss.

docs/design.md: Normal NLL = (n/2) log(2 pi sigma^2) + RSS / (2 sigma^2);
Laplace NLL = n log(2b) + SAD / b. With a learned scale at its MLE the loss term is
n/2 (Normal) or n (Laplace), and the NLL is monotone in the loss. Each family gives its
own split (``Family.nll_constant`` and ``Family.loss_term``). The decomposition is
checked against PyMC's own log-likelihood at the same point.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..data.design import Design
from ..models.spec import ModelSpec
from .map import MapEstimate

NLL_RTOL = 1e-9


@dataclass(frozen=True)
class NllDecomposition:
    """NLL = constant + loss_term, and PyMC's own NLL at the same point."""

    loss_name: str
    loss: float
    scale_name: str | None
    scale: float
    constant: float
    loss_term: float
    nll: float
    pymc_nll: float
    relative_difference: float
    constant_formula: str
    loss_term_formula: str
    tolerance: float = NLL_RTOL

    @property
    def matches_pymc(self) -> bool:
        return self.relative_difference <= self.tolerance

    def as_dict(self) -> dict:
        return {
            "loss": self.loss_name,
            "loss_value": self.loss,
            "scale": self.scale_name,
            "scale_value": self.scale,
            "constant": self.constant,
            "loss_term": self.loss_term,
            "nll": self.nll,
            "pymc_nll": self.pymc_nll,
            "relative_difference": self.relative_difference,
            "matches_pymc": self.matches_pymc,
            "tolerance": self.tolerance,
            "constant_formula": self.constant_formula,
            "loss_term_formula": self.loss_term_formula,
        }


def decompose_nll(spec: ModelSpec, design: Design, estimate: MapEstimate) -> NllDecomposition:
    """Split the NLL at ``estimate`` into constant + scaled loss and compare with PyMC."""
    if spec.modelled_scale:  # a scale per row: the sums over rows of both parts
        from .heteroscedastic import decompose_heteroscedastic_nll

        return decompose_heteroscedastic_nll(spec, design, estimate)
    family = spec.family
    y = design.y
    mu = family.link.inverse(design.linear_predictor(estimate.coefficients))
    shape = estimate.shape  # learned shape parameters (nu) at the MAP, as keywords
    # the loss itself unless it depends on the scale (Huber's) or the shape (a Student-t's);
    # a function of y and mu for a GLM (log loss, Poisson deviance)
    loss = family.loss_of(y, mu, estimate.scale, **shape)
    constant = family.nll_constant_of(y, estimate.scale, **shape)
    loss_term = family.loss_term_of(y, mu, estimate.scale, **shape)
    nll = constant + loss_term
    pymc_nll = -estimate.log_likelihood
    size = max(abs(pymc_nll), abs(constant) + abs(loss_term))
    # 1e-9 (the contract), or the rounding of the loss term when data are extreme: both
    # sides compute the residuals, with cancellation when |y| dwarfs the residuals.
    rounding = family.nll_rounding(design.X, design.y, estimate.coefficients,
                                   estimate.scale) / size
    return NllDecomposition(
        loss_name=family.loss_symbol,
        loss=loss,
        scale_name=family.scale_name,
        scale=estimate.scale,
        constant=constant,
        loss_term=loss_term,
        nll=nll,
        pymc_nll=pymc_nll,
        # Relative to the size of the terms summed: the NLL itself can be near zero.
        relative_difference=abs(nll - pymc_nll) / size,
        constant_formula=family.constant_formula,
        loss_term_formula=family.loss_term_formula,
        tolerance=max(NLL_RTOL, rounding),
    )
