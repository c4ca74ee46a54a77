"""Named diagnostic warnings: which statistics they read and whom they name."""

import numpy as np
import pandas as pd

from lossbridge.diagnostics import pareto_k_counts, sampler_warnings

GOOD = pd.DataFrame({"r_hat": [1.0, 1.001], "ess_bulk": [2000.0, 1800.0], "ess_tail": [1500.0, 1600.0]},
                    index=["Intercept", "x"])


def test_run_statistics_of_a_joint_run_name_every_model_of_the_run():
    joint = sampler_warnings("normal-fixed", GOOD, 3, 4000, np.array([1.0, 0.1]),
                             ("normal-learned", "normal-fixed", "laplace-learned"))
    assert [w["code"] for w in joint] == ["divergences", "low_bfmi"]
    for warning in joint:
        assert "joint NUTS run of normal-learned, normal-fixed, laplace-learned" in warning["message"]
    alone = sampler_warnings("normal-fixed", GOOD, 3, 4000, np.array([1.0, 0.1]), ("normal-fixed",))
    assert all("joint" not in w["message"] for w in alone)
    assert sampler_warnings("normal-fixed", GOOD, 0, 4000, np.array([1.0, 0.9])) == []


def test_pareto_k_bands_partition_the_values():
    k = np.array([0.1, 0.5, 0.51, 0.7, 0.71, 1.0, 1.5])
    assert pareto_k_counts(k) == {"k<=0.5": 2, "0.5<k<=0.7": 2, "0.7<k<=1": 2, "k>1": 1}
