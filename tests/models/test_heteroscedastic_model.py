"""The modelled scale (log sigma_i = Z_i gamma): joint block = reference model = scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lossbridge.core.errors import InputError
from lossbridge.data.design import build_design
from lossbridge.data.rotation import Rotation
from lossbridge.data.tables import load_table
from lossbridge.models.identity import ModelId
from lossbridge.models.joint import block_name, build_joint_model
from lossbridge.models.reference import build_model
from lossbridge.models.spec import ModelSpec

SCIPY = {"normal": stats.norm.logpdf, "laplace": stats.laplace.logpdf}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, 80)
    frame = pd.DataFrame({"x": x, "y": 1 + 2 * x + np.exp(0.2 + 0.5 * x) * rng.standard_normal(80)})
    design = build_design(load_table(frame), "y ~ x", scale_formula="~ x")
    return design, Rotation.from_design(design.X, design.y)


@pytest.mark.parametrize("likelihood", ["normal", "laplace"])
def test_reference_joint_and_scipy_agree(data, likelihood):
    design, rotation = data
    spec = ModelSpec(likelihood, "modelled", scale_formula="~ x")
    reference = build_model(spec, design, rotation)
    joint = build_joint_model([spec], design, rotation)
    ref_logp = reference.compile_logp(jacobian=False)
    joint_logp = joint.compile_logp(jacobian=False)
    rng = np.random.default_rng(1)
    for _ in range(3):
        theta, gamma = rng.normal(size=2), rng.normal(scale=0.3, size=2)
        beta = rotation.to_beta(theta)
        expected = SCIPY[likelihood](design.y, design.X @ beta, np.exp(design.Z @ gamma)).sum()
        got_ref = ref_logp({"theta": theta, "gamma": gamma})
        got_joint = joint_logp({block_name(spec, "theta"): theta, block_name(spec, "gamma"): gamma})
        # Sums of n terms: rounding ~ n eps |terms|; 1e-12 relative is far above it.
        assert got_ref == pytest.approx(expected, rel=1e-12)
        assert got_joint == pytest.approx(expected, rel=1e-12)


def test_identity_label_and_json_round_trip():
    model = ModelId("normal", "modelled", scale_formula="~  income")
    assert model.label == "normal-scale(~ income)"
    assert ModelId.from_dict(model.as_dict()) == model
    assert model != ModelId("normal", "learned")
    with pytest.raises(InputError, match="scale_formula"):
        ModelId("normal", "modelled")
    with pytest.raises(InputError, match="scale_formula"):
        ModelSpec("normal", "learned", scale_formula="~ x")
