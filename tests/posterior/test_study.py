"""``Family.noise_law``: the simulation law a family contains, checked by its density.

The simulation study (``posterior/study.py``) counts leave-one-out ranking a family first
as picking the true law when the family declares that law. The declaration is checked
here against the simulator's own densities (scipy's, in ``data/simulation.py``): at
matching parameters the family's ``logpdf`` is the law's log density to 1e-12, and at
other parameters it is not, so a wrong declaration fails.
"""

from __future__ import annotations

import numpy as np
import pytest

from lossbridge.data.simulation import LAW_PARAMETERS, NoiseLaw
from lossbridge.families.registry import FAMILIES
from lossbridge.posterior.study import true_families

# (law, its parameters, the family's scale, its shape keywords) at matching values
MATCHING = {
    "gaussian": ({"sigma": 1.7}, 1.7, {}),
    "laplace": ({"b": 0.6}, 0.6, {}),
    "student-t": ({"nu": 3.0, "sigma": 1.3}, 1.3, {"nu": 3.0}),
}


def test_every_declared_law_is_a_simulator_law():
    declared = {f.noise_law for f in FAMILIES.values() if f.noise_law is not None}
    assert declared <= set(LAW_PARAMETERS)
    assert set(MATCHING) <= declared  # the continuous laws of the study


@pytest.mark.parametrize("law", sorted(MATCHING))
def test_the_family_of_a_law_has_its_density(law):
    params, scale, shape = MATCHING[law]
    (name,) = true_families(law)
    family = FAMILIES[name]
    e = np.linspace(-6.0, 6.0, 97)
    expected = NoiseLaw(law, tuple(params.items())).noise().logpdf(e)
    got = family.logpdf(e, 0.0, scale, **shape)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    # another scale is another density: the check can fail
    assert np.max(np.abs(family.logpdf(e, 0.0, 1.5 * scale, **shape) - expected)) > 0.1


def test_the_poisson_family_has_the_poisson_law():
    (name,) = true_families("poisson")
    mean, y = np.array([0.3, 2.0, 11.0]), np.array([0, 3, 9])
    np.testing.assert_allclose(FAMILIES[name].logpdf(y, mean, 1.0),
                               NoiseLaw("poisson").logpmf(mean, y), rtol=1e-12)
