"""Exact leave-one-out for the observations where PSIS-LOO is unreliable.

PSIS-LOO needs Pareto k <= 0.7 (Vehtari et al. 2024). For each observation above it,
the model is refitted without that observation and its exact leave-one-out predictive
density is estimated from the refit's draws:
log p(y_i | y_-i) = log mean_s p(y_i | theta_s), with theta_s ~ p(theta | y_-i).
This is what ``az.reloo`` and brms' ``reloo = TRUE`` do. A scale fixed at its plug-in
MLE is re-estimated on the rows left (the same closed form, sqrt(RSS/n) or SAD/n), so
the refit is leave-one-out of the whole procedure.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..core.errors import InputError
from ..data.design import Design
from ..data.rotation import Rotation
from ..estimation.exact import exact_fit
from ..estimation.map import find_map, plug_in_scale
from ..models.reference import build_model
from ..models.spec import ModelSpec
from .pointwise import RowScales, log_likelihood, logsumexp, offset_rows
from .sampling import SamplerOptions, sample_models


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
        rotation = Rotation.of(reduced)
        model_spec = spec
        if spec.fixed_scale_is_plug_in:
            model_spec = replace(spec, fixed_scale=plug_in_scale(
                family, reduced, exact_fit(family, reduced), rotation))
        estimate = find_map(build_model(model_spec, reduced, rotation), model_spec, reduced, rotation)
        draws = sample_models([model_spec], reduced, rotation, [estimate], options,
                              int(child.generate_state(1)[0]))[model_spec.name]
        scale = draws.flat_scale
        if isinstance(scale, RowScales):  # the left-out row's scale, from the full Z
            scale = RowScales(scale.gamma, design.Z[[row]])
        log_density = log_likelihood(family, design.X[[row]], design.y[[row]], draws.flat_beta,
                                     scale, draws.flat_shape, offset_rows(design, [row]))[:, 0]
        values[int(row)] = float(logsumexp(log_density) - np.log(log_density.size))
    return values
