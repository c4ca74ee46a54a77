"""Typed LOO, PPC and oracle results: one constructor each, an estimator field, the JSON
they give (key sets pinned), and a save/load round trip that rebuilds them."""

from __future__ import annotations

import dataclasses
import json
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

import lossbridge
from lossbridge.core.errors import SamplingWarning
from lossbridge.core.jsonio import dumps
from lossbridge.interfaces.persistence import _loaded_loo, _save_loo
from lossbridge.posterior.diagnostics import PARETO_K_LIMIT
from lossbridge.posterior.loo import (
    LooEstimator,
    LooResult,
    LooSubsample,
)
from lossbridge.posterior.oracle import Z_LIMIT, OracleCheck, ParameterCheck
from lossbridge.posterior.ppc import STATISTICS, PpcResult

# The JSON contract of fits[].loo / .ppc / .oracle, in key order (README, docs/design.md).
LOO_KEYS = ["method", "elpd_loo", "se", "p_loo", "estimator", "pareto_k_counts", "max_pareto_k",
            "refitted_rows"]
LOO_SUBSAMPLE_KEYS = [*LOO_KEYS, "subsample_size", "subsampling_se"]
PPC_KEYS = ["p_values", "observed", "replicated_draws", "loo_pit_ks_distance",
            "loo_pit_ks_reference_95", "loo_pit_ks_p_value", "loo_pit_values"]
ORACLE_KEYS = ["distribution", "dof", "z_limit", "max_abs_z", "passed", "parameters"]
ORACLE_PARAMETER_KEYS = ["exact_mean", "sampled_mean", "z_mean", "exact_sd", "sampled_sd",
                         "relative_sd_error", "relative_sd_tolerance", "z_sd"]
PARETO_BANDS = ["k<=0.5", "0.5<k<=0.7", "0.7<k<=1", "k>1"]


def _pointwise(n: int = 30, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(-1.3, 0.4, size=n)


def _subsampled(seed: int = 1) -> tuple[LooResult, dict]:
    rng = np.random.default_rng(seed)
    n, rows = 200, np.sort(rng.choice(200, size=40, replace=False))
    approximation = rng.normal(-1.5, 0.3, size=n)
    elpd_rows = approximation[rows] + rng.normal(0, 0.05, size=rows.size)
    loo = LooResult(LooEstimator.PSIS_SUBSAMPLE, 3.2, 400, rng.uniform(0, 0.9, size=rows.size),
                    subsample=LooSubsample(rows, elpd_rows, approximation))
    return loo, {"n": n, "rows": rows, "approximation": approximation, "elpd_rows": elpd_rows}


# ------------------------------------------------------------------ the dataclasses alone
def test_method_is_derived_from_the_estimator():
    """The prose of each estimator, as the JSON has always said it."""
    pointwise = _pointwise()
    k = np.zeros(pointwise.size)
    basis = "Normal likelihood, flat priors"
    exact = LooResult("exact", 1.0, 400, k, elpd_pointwise=pointwise, exact_basis=basis)
    assert exact.method == "exact LOO in closed form (Normal likelihood, flat priors)"
    plug_in = LooResult("exact", 1.0, 400, k, elpd_pointwise=pointwise, scale_reestimated=True,
                        exact_basis=basis + "; plug-in sigma re-estimated without each row")
    assert plug_in.method == ("exact LOO in closed form (Normal likelihood, flat priors; plug-in "
                              "sigma re-estimated without each row)")
    assert LooResult("PSIS", 1.0, 400, k, elpd_pointwise=pointwise).method == "PSIS-LOO"
    refits = LooResult("PSIS + refits", 1.0, 400, k, elpd_pointwise=pointwise, refitted=(7, 2))
    assert refits.refitted == (2, 7)
    assert refits.method == f"PSIS-LOO with exact refits for 2 observation(s) with Pareto k > {PARETO_K_LIMIT}"
    loo, _ = _subsampled()
    assert loo.method == "PSIS-LOO with subsampling (40 of 200 rows, difference estimator)"
    assert [e.value for e in LooEstimator] == ["exact", "PSIS", "PSIS + refits", "PSIS, subsample"]


@pytest.mark.parametrize("kwargs, match", [
    ({"estimator": "PSIS, subsample"}, "needs a subsample"),  # pointwise values instead
    ({"estimator": "PSIS + refits"}, "refitted rows"),  # refits without refitted rows
    ({"estimator": "PSIS", "refitted": (3,)}, "refitted rows"),
    ({"estimator": "PSIS", "scale_reestimated": True}, "only exact LOO"),
    ({"estimator": "exact", "elpd_pointwise": None}, "needs pointwise values"),
])
def test_inconsistent_results_cannot_be_built(kwargs, match):
    arguments = {"estimator": "exact", "p_loo": 1.0, "n_samples": 400, "pareto_k": np.zeros(30),
                 "elpd_pointwise": _pointwise(), **kwargs}
    with pytest.raises(ValueError, match=match):
        LooResult(**arguments)
    with pytest.raises(ValueError):
        LooResult("psis", 1.0, 400, np.zeros(30), elpd_pointwise=_pointwise())  # not an estimator


def test_results_are_frozen():
    loo = LooResult("PSIS", 1.0, 400, np.zeros(30), elpd_pointwise=_pointwise())
    with pytest.raises(dataclasses.FrozenInstanceError):
        loo.p_loo = 2.0
    check = OracleCheck("normal", None, {"x": ParameterCheck(0, 0, 1.0, 1, 1, 0, 0.1, -2.0)})
    with pytest.raises(dataclasses.FrozenInstanceError):
        check.distribution = "t"


def test_loo_json_of_full_pointwise_values():
    pointwise = _pointwise()
    k = np.linspace(0.0, 1.2, pointwise.size)
    loo = LooResult("PSIS + refits", 4.5, 400, k, elpd_pointwise=pointwise, refitted=(29,))
    out = loo.as_dict()
    assert list(out) == LOO_KEYS
    assert out["elpd_loo"] == pytest.approx(np.sum(pointwise), rel=1e-14)
    # Vehtari, Gelman and Gabry (2017): se = sqrt(n Var(elpd_i)), population variance
    assert out["se"] == pytest.approx(np.sqrt(pointwise.size * pointwise.var()), rel=1e-14)
    assert out["p_loo"] == 4.5 and out["estimator"] == "PSIS + refits"
    assert out["max_pareto_k"] == pytest.approx(1.2)
    expected = {PARETO_BANDS[0]: int(np.sum(k <= 0.5)),
                PARETO_BANDS[1]: int(np.sum((k > 0.5) & (k <= 0.7))),
                PARETO_BANDS[2]: int(np.sum((k > 0.7) & (k <= 1))),
                PARETO_BANDS[3]: int(np.sum(k > 1))}
    assert out["pareto_k_counts"] == expected and sum(expected.values()) == pointwise.size
    assert out["refitted_rows"] == [29]
    exact = LooResult("exact", 4.5, 400, np.zeros(30), elpd_pointwise=pointwise).as_dict()
    assert exact["pareto_k_counts"] is None and exact["max_pareto_k"] is None  # no weights


def test_loo_json_of_a_subsample_is_the_difference_estimator():
    """Magnusson et al. (2020), computed here from the arrays."""
    loo, parts = _subsampled()
    n, rows, m = parts["n"], parts["rows"], parts["rows"].size
    errors = parts["elpd_rows"] - parts["approximation"][rows]
    total = parts["approximation"].sum() + n / m * errors.sum()
    subsampling_se = np.sqrt(n**2 * (1 - m / n) * np.var(errors, ddof=1) / m)
    out = loo.as_dict()
    assert list(out) == LOO_SUBSAMPLE_KEYS
    assert out["elpd_loo"] == pytest.approx(total, rel=1e-12)
    assert out["subsampling_se"] == pytest.approx(subsampling_se, rel=1e-12)
    assert out["se"] > out["subsampling_se"]  # the spread of the pointwise values is added
    assert out["subsample_size"] == m and loo.n_data_points == n
    assert loo.elpd_data is None  # az.compare needs every pointwise value


def test_oracle_check_derives_its_verdict_from_the_z_scores():
    rows = {"a": ParameterCheck(1.0, 1.1, 2.5, 0.5, 0.52, 0.04, 0.1, -3.9),
            "b": ParameterCheck(0.0, 0.0, 0.1, 1.0, 1.0, 0.0, 0.1, 0.2)}
    check = OracleCheck("multivariate t", 17.0, rows)
    out = check.as_dict()
    assert list(out) == ORACLE_KEYS and list(out["parameters"]["a"]) == ORACLE_PARAMETER_KEYS
    assert out["max_abs_z"] == 3.9 and out["passed"] is True and out["z_limit"] == Z_LIMIT
    failing = OracleCheck("normal", None, {**rows, "c": ParameterCheck(0, 0, -4.01, 1, 1, 0, 0.1, 0)})
    assert failing.max_abs_z == 4.01 and not failing.passed


# ------------------------------------------------------------------ save and load, unit
@pytest.mark.parametrize("plug_in", [False, True])
def test_saved_loo_arrays_rebuild_the_same_results(tmp_path, plug_in):
    """Every estimator: the loaded result gives the same JSON, bit for bit."""
    pointwise, k = _pointwise(), np.random.default_rng(2).uniform(0, 1, size=30)
    subsampled, _ = _subsampled()
    results = {
        "exact": LooResult("exact", 4.0, 400, np.zeros(30), elpd_pointwise=pointwise,
                           scale_reestimated=plug_in, pit=np.full(30, 0.5)),
        "psis": LooResult("PSIS", 4.1, 400, k, elpd_pointwise=pointwise + 0.1,
                          log_weights=np.zeros((400, 30))),
        "refits": LooResult("PSIS + refits", 4.2, 400, k, elpd_pointwise=pointwise - 0.1,
                            refitted=(3, 11)),
        "sub": subsampled,
    }
    fits = [SimpleNamespace(spec=SimpleNamespace(name=name), posterior=SimpleNamespace(loo=loo))
            for name, loo in results.items()]
    path = tmp_path / "loo.npz"
    _save_loo(SimpleNamespace(fits=fits), path)
    with np.load(path) as stored:
        arrays = {key: stored[key] for key in stored.files}
    for name, loo in results.items():
        fit = json.loads(dumps({"loo": loo.as_dict(),
                                "fixed_scale": {"plug_in": plug_in} if name == "exact" else None}))
        loaded = _loaded_loo(name, arrays, fit, 400)
        assert loaded.as_dict() == fit["loo"]
        assert loaded.estimator is loo.estimator and loaded.method == loo.method
        assert (loaded.elpd_loo, loaded.se, loaded.p_loo) == (loo.elpd_loo, loo.se, loo.p_loo)
        assert loaded.scale_reestimated == loo.scale_reestimated
        np.testing.assert_array_equal(loaded.pareto_k, loo.pareto_k)
        if loo.subsample is None:
            np.testing.assert_array_equal(loaded.elpd_pointwise, loo.elpd_pointwise)
            assert float(loaded.elpd_data["elpd_loo"]) == float(loo.elpd_data["elpd_loo"])
        else:
            for key in ("rows", "elpd_rows", "approximation"):
                np.testing.assert_array_equal(getattr(loaded.subsample, key),
                                              getattr(loo.subsample, key))
        # A folder saved before the JSON carried "estimator" is still read.
        legacy = {**fit, "loo": {k: v for k, v in fit["loo"].items() if k != "estimator"}}
        assert _loaded_loo(name, arrays, legacy, 400).estimator is loo.estimator


# ------------------------------------------------------------------ a sampled analysis
@pytest.fixture(scope="module")
def stackloss():
    with warnings.catch_warnings():  # 200 draws: low ESS is expected and beside the point
        warnings.simplefilter("ignore", SamplingWarning)
        return lossbridge.fit("stackloss", draws=200, tune=200, chains=2, seed=1, progress=False)


@pytest.mark.slow
def test_sampled_results_and_their_json(stackloss):
    doc = json.loads(dumps(stackloss.to_dict()))
    estimators = {}
    for result, fit in zip(stackloss.fits, doc["fits"], strict=True):
        posterior = result.posterior
        loo, ppc, oracle = posterior.loo, posterior.ppc, posterior.oracle
        assert isinstance(loo, LooResult) and isinstance(ppc, PpcResult)
        estimators[result.spec.name] = loo.estimator
        assert list(fit["loo"]) == LOO_KEYS and fit["loo"]["estimator"] == loo.estimator.value
        assert list(fit["ppc"]) == PPC_KEYS and list(fit["ppc"]["p_values"]) == list(STATISTICS)
        assert ppc.pit_estimator is loo.estimator
        # LOO-PIT distance and its p-value against scipy's exact one-sample KS test
        ks = stats.kstest(ppc.loo_pit, "uniform", method="exact")
        assert fit["ppc"]["loo_pit_ks_distance"] == pytest.approx(ks.statistic, rel=1e-12)
        assert fit["ppc"]["loo_pit_ks_p_value"] == pytest.approx(ks.pvalue, rel=1e-9)
        assert fit["ppc"]["loo_pit_ks_reference_95"] == pytest.approx(
            stats.kstwo.ppf(0.95, ppc.loo_pit.size), rel=1e-12)
        y = stackloss.design.y
        for name, check in ppc.statistics.items():
            assert check.observed == pytest.approx(float(STATISTICS[name](y, axis=0)), rel=1e-12)
            assert check.p_value == np.mean(check.replicated >= check.observed)
            assert check.replicated.size == fit["ppc"]["replicated_draws"]
        if oracle is None:
            assert fit["oracle"] is None
            continue
        assert list(fit["oracle"]) == ORACLE_KEYS
        summary = posterior.summary
        for name, row in fit["oracle"]["parameters"].items():
            assert list(row) == ORACLE_PARAMETER_KEYS
            z_mean = (summary.loc[name, "mean"] - row["exact_mean"]) / summary.loc[name, "mcse_mean"]
            assert row["z_mean"] == pytest.approx(z_mean, rel=1e-12)
        largest = max(max(abs(r["z_mean"]), abs(r["z_sd"])) for r in fit["oracle"]["parameters"].values())
        assert fit["oracle"]["max_abs_z"] == largest
        assert fit["oracle"]["passed"] == (largest <= Z_LIMIT)
    assert estimators == {"normal-learned": LooEstimator.EXACT, "normal-fixed": LooEstimator.EXACT,
                          "laplace-learned": LooEstimator.PSIS, "laplace-fixed": LooEstimator.PSIS}
    assert stackloss.fit_for("normal-fixed").posterior.loo.scale_reestimated  # plug-in, true LOO
    assert list(stackloss.comparison.table["loo"]) == [e.value for e in
                                                       (estimators[m] for m in stackloss.comparison.table.index)]


@pytest.mark.slow
def test_save_and_load_rebuild_the_typed_loo_results(stackloss, tmp_path):
    saved = lossbridge.load(stackloss.save(tmp_path / "saved"))
    for result in stackloss.fits:
        live, loaded = result.posterior.loo, saved.loo[result.spec.name]
        assert isinstance(loaded, LooResult)
        assert loaded.estimator is live.estimator
        assert loaded.scale_reestimated == live.scale_reestimated
        assert loaded.as_dict() == live.as_dict()
        np.testing.assert_array_equal(loaded.elpd_pointwise, live.elpd_pointwise)
    assert saved.loo_results()["laplace-learned"]["loo"] is saved.loo["laplace-learned"]
    assert lossbridge.compare(saved).as_records() == lossbridge.compare(stackloss).as_records()
