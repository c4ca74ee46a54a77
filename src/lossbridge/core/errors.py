"""Exception and warning classes.

Every problem with the user's input raises :class:`InputError`; the CLI prints its
message as one line on stderr and exits with status 2. Statistical caveats that do
not stop the analysis are warnings of their own classes so callers can filter them.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: a file, column, formula or option value that cannot be used.

    The message names the problem, the value received and what would be valid.
    """


class LossbridgeWarning(UserWarning):
    """Base class of every warning lossbridge emits."""


class CertificateWarning(LossbridgeWarning):
    """A MAP estimate could not be certified against its exact baseline."""


class NonUniqueSolutionWarning(LossbridgeWarning):
    """The least-absolute-deviation fit is not unique (a flat face of the LP)."""


class LocalOptimaWarning(LossbridgeWarning):
    """The MAP's objective is not convex and the exact solver found several local optima."""


class SamplingWarning(LossbridgeWarning):
    """A sampler or LOO diagnostic failed (divergences, R-hat, ESS, E-BFMI, Pareto k, oracle)."""


class ModelRefusedWarning(LossbridgeWarning):
    """A requested model was not fitted because it is undefined on these data (an exact fit)."""


class MisfitWarning(LossbridgeWarning):
    """The fitted models describe the data badly (LOO-PIT, predictive p-values, p_loo, Pareto k)."""


class QuantileCrossingWarning(LossbridgeWarning):
    """Fitted quantile lines of different tau cross inside the data (a lower tau's fitted
    quantile exceeds a higher tau's at some observed row)."""


class SeparationWarning(LossbridgeWarning):
    """A binary response is separated by the predictors: the maximum-likelihood fit does
    not exist, and under weak priors the posterior is driven by the prior in that direction."""
