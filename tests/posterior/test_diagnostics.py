"""Named diagnostic warnings: which statistics they read and whom they name."""

import numpy as np
import pandas as pd
import pytest

from lossbridge.posterior.diagnostics import pareto_k_counts, sampler_warnings

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


def test_loo_pit_reference_is_the_95_percent_point_for_as_many_independent_uniforms():
    # 20,000 simulated sets per size: a 5 % rate has se 0.0015, so +-0.0075 is 5 se; at
    # the warning level 0.001 the count is Poisson(20): P(outside 5..40) < 1e-4.
    from lossbridge.posterior.ppc import ks_distance, loo_pit_p_value, loo_pit_reference

    rng = np.random.default_rng(2)
    for m in (21, 300, 2000):
        distances = np.array([ks_distance(rng.uniform(size=m)) for _ in range(20_000)])
        assert abs(np.mean(distances > loo_pit_reference(m)) - 0.05) < 0.0075
        assert 5 <= np.sum(distances > loo_pit_reference(m, 0.999)) <= 40
        assert loo_pit_p_value(loo_pit_reference(m), m) == pytest.approx(0.05, rel=1e-6)
    # the old asymptotic 1.36 / sqrt(m) agrees for large m only
    assert loo_pit_reference(2000) == pytest.approx(1.36 / np.sqrt(2000), rel=0.01)


def test_ks_distance_matches_scipy():
    from scipy import stats

    from lossbridge.posterior.ppc import ks_distance

    pit = np.random.default_rng(0).beta(2, 2, size=137)
    assert ks_distance(pit) == pytest.approx(stats.kstest(pit, "uniform").statistic, rel=1e-12)


@pytest.mark.slow
def test_each_model_shows_the_reference_for_its_own_loo_pit_values(monkeypatch, tmp_path):
    # Subsampled LOO: the Laplace models have LOO-PIT values on the subsample only, the
    # Normal ones (exact LOO) on every row; the terminal once printed the first model's
    # reference for all of them. Shrink the thresholds so a small data set subsamples.
    from scipy import stats

    import lossbridge

    monkeypatch.setattr("lossbridge.interfaces.pipeline.FULL_LOO_MAX_N", 100)
    monkeypatch.setattr("lossbridge.posterior.summary.FULL_LOO_MAX_N", 100)
    monkeypatch.setattr("lossbridge.interfaces.pipeline.SUBSAMPLE_SIZE", 50)
    rng = np.random.default_rng(4)
    x = rng.normal(size=150)
    frame = pd.DataFrame({"x": x, "y": 1 + x + rng.normal(size=150)})
    analysis = lossbridge.fit(frame, "y ~ x", draws=100, tune=100, chains=2, seed=3, progress=False)
    expected = {"normal-learned": 150, "normal-fixed": 150, "laplace-learned": 50, "laplace-fixed": 50}
    text = analysis.summary()
    block = text[text.index("Posterior predictive p-values"):]
    html = analysis.to_html(tmp_path / "r.html").read_text()
    for model, m in expected.items():
        reference = stats.kstwo.ppf(0.95, m)
        ppc = analysis.fit_for(model).posterior.ppc_dict()
        assert ppc["loo_pit_values"] == m
        assert ppc["loo_pit_ks_reference_95"] == pytest.approx(reference, rel=1e-12)
        row = next(line for line in block.splitlines() if line.startswith(model))
        assert row.split()[-1] == f"{reference:.6g}"  # the last column, ks_ref_95
        assert f"(ref. {reference:.3g})" in html  # the report shows 3 significant digits
