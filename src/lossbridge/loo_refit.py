"""Exact leave-one-out for the observations where PSIS-LOO is unreliable.

PSIS-LOO needs Pareto k <= 0.7 (Vehtari et al. 2024). For each observation above it,
the model is refitted without that observation and its exact leave-one-out predictive
density is estimated from the refit's draws:
log p(y_i | y_-i) = log mean_s p(y_i | theta_s), with theta_s ~ p(theta | y_-i).
This is what ``az.reloo`` and brms' ``reloo = TRUE`` do.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from .design import Design
from .errors import InputError
from .map_estimate import find_map
from .model import COEFFICIENTS, build_model
from .rotation import Rotation
from .sampling import SamplerOptions, sample_posterior
from .spec import ModelSpec

MAX_REFITS = 10  # per model; above this the PSIS values stay and the warning says so
PARETO_K_LIMIT = 0.7


def exact_loo_values(spec: ModelSpec, design: Design, rows: np.ndarray,
                     options: SamplerOptions, seed: int) -> dict[int, float]:
    """Exact log p(y_i | y_-i) for each row in ``rows`` (rows whose refit is impossible are skipped)."""
    family = spec.family
    seeds = np.random.SeedSequence(seed).spawn(len(rows))
    values: dict[int, float] = {}
    for row, child in zip(rows, seeds, strict=True):
        try:
            reduced = design.without_rows([row])
        except InputError:  # e.g. the only row of a category: the refit is not identified
            continue
        rotation = Rotation.from_design(reduced.X, reduced.y)
        model = build_model(spec, reduced, rotation)
        estimate = find_map(model, spec, reduced, rotation)
        idata = sample_posterior(model, spec, reduced, rotation, estimate, options,
                                 int(child.generate_state(1)[0]), pointwise=False)
        beta = np.asarray(idata.posterior[COEFFICIENTS]).reshape(-1, design.k)
        if spec.scale == "learned":
            scale = np.asarray(idata.posterior[family.scale_name]).reshape(-1)
        else:
            scale = np.full(beta.shape[0], spec.fixed_scale)
        log_density = family.logpdf(design.y[row], beta @ design.X[row], scale)
        values[int(row)] = float(logsumexp(log_density) - np.log(log_density.size))
    return values
