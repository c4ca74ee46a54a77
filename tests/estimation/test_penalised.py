"""Penalised MAPs equal scikit-learn's Ridge, Lasso and ElasticNet; their certificates can fail."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, Lasso, Ridge

import lossbridge
from lossbridge.data.datasets import BUNDLED, resolve_formula
from lossbridge.data.design import build_design
from lossbridge.data.rotation import Rotation
from lossbridge.data.tables import load_table
from lossbridge.estimation.certificate import (
    COEFFICIENT_RTOL,
    certify,
    relative_coefficient_differences,
)
from lossbridge.estimation.map import LogDensity, find_map
from lossbridge.estimation.penalised import (
    confirm_with_pymc,
    kkt_certificate,
    objective,
    penalised_fit,
)
from lossbridge.families.normal import NORMAL
from lossbridge.models.penalties import Penalty, penalised_columns
from lossbridge.models.reference import build_model
from lossbridge.models.spec import ModelSpec

# Relative to sd(y): the same strengths mean something on every dataset's scale.
STRENGTHS = (0.01, 0.1, 1.0)
SETTINGS = [("ridge", None), ("lasso", None), ("elasticnet", 0.3), ("elasticnet", 0.8)]


def _design(name):
    return build_design(load_table(name), resolve_formula(name, None))


def _sklearn(penalty: Penalty, X, y, fit_intercept=True) -> np.ndarray:
    """scikit-learn's fit at the tightest tolerance it takes; intercept first."""
    if penalty.kind == "ridge":
        model = Ridge(alpha=penalty.alpha, solver="svd", fit_intercept=fit_intercept)
    elif penalty.kind == "lasso":
        model = Lasso(alpha=penalty.alpha, tol=1e-14, max_iter=10**5, fit_intercept=fit_intercept)
    else:
        model = ElasticNet(alpha=penalty.alpha, l1_ratio=penalty.l1_ratio, tol=1e-14,
                           max_iter=10**5, fit_intercept=fit_intercept)
    with warnings.catch_warnings():
        # On Longley's collinear columns its duality gap never reaches 1e-14 (rounding):
        # it stops at max_iter, where its point has long stopped moving (the same to
        # 1e-15 at 1e5 and 1e6 sweeps), and is compared (it agrees to 2e-12).
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    coef = np.atleast_1d(model.coef_)
    return np.r_[model.intercept_, coef] if fit_intercept else coef


def _map(design, penalty, sigma=None):
    rotation = Rotation.from_design(design.X, design.y)
    sigma = sigma or float(np.std(design.y))
    spec = ModelSpec("normal", "fixed", sigma, "user value (--sigma)", penalty=penalty)
    model = build_model(spec, design, rotation)
    estimate = find_map(model, spec, design, rotation)
    return spec, estimate, rotation, model


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_exact_fit_equals_sklearn_on_every_bundled_dataset(name):
    design = _design(name)
    columns = penalised_columns(design)
    assert columns == list(range(1, design.k))  # the intercept, first, is unpenalised
    for kind, ratio in SETTINGS:
        for strength in STRENGTHS:
            penalty = Penalty(kind, strength * float(np.std(design.y)), ratio)
            fit = penalised_fit(NORMAL, design, penalty)
            assert fit.kkt.holds, (penalty, fit.kkt)
            reference = _sklearn(penalty, design.X[:, columns], design.y)
            diff = relative_coefficient_differences(fit.coefficients, reference, design)
            assert diff.max() <= COEFFICIENT_RTOL, (penalty, diff)


# The MAP (a compiled PyMC model each): every setting on stackloss, a lasso elsewhere.
MAP_CASES = ([("stackloss", kind, ratio, strength) for kind, ratio in SETTINGS
              for strength in (0.1, 1.0)]
             + [(name, "lasso", None, 0.1) for name in sorted(BUNDLED) if name != "stackloss"])


@pytest.mark.parametrize(("name", "kind", "ratio", "strength"), MAP_CASES)
def test_map_equals_sklearn_and_is_certified(name, kind, ratio, strength):
    design = _design(name)
    penalty = Penalty(kind, strength * float(np.std(design.y)), ratio)
    spec, estimate, _, _ = _map(design, penalty)
    reference = _sklearn(penalty, design.X[:, penalised_columns(design)], design.y)
    diff = relative_coefficient_differences(estimate.coefficients, reference, design)
    assert diff.max() <= COEFFICIENT_RTOL, diff
    certificate = certify(spec, design, estimate, penalised_fit(NORMAL, design, penalty))
    assert certificate.certified, certificate.explanation
    if not penalty.smooth:
        assert certificate.checks["pymc_subgradient"]


def test_map_equals_sklearn_on_simulated_sparse_data():
    rng = np.random.default_rng(12)
    n = 300
    X = rng.normal(size=(n, 8)) @ np.triu(np.full((8, 8), 0.3)) + 2.0
    truth = np.array([3.0, -2.0, 0, 0, 1.5, 0, 0, 0.5])
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(8)])
    frame["y"] = 5.0 + X @ truth + rng.normal(size=n)
    design = build_design(load_table(frame), "y ~ " + " + ".join(f"x{j}" for j in range(8)))
    zeros_seen = 0
    for kind, ratio in SETTINGS:
        for alpha in (0.01, 0.1, 0.5):
            penalty = Penalty(kind, alpha, ratio)
            fit = penalised_fit(NORMAL, design, penalty)
            reference = _sklearn(penalty, X, design.y)
            diff = relative_coefficient_differences(fit.coefficients, reference, design)
            assert fit.kkt.holds and diff.max() <= COEFFICIENT_RTOL, (penalty, diff)
            # The sparsity pattern is scikit-learn's exactly.
            np.testing.assert_array_equal(fit.coefficients == 0, reference == 0)
            zeros_seen += int(np.sum(fit.coefficients == 0))
    assert zeros_seen > 0  # the lasso path did set coefficients to zero
    # The MAP (compiled once per penalty): one with zeros, certified by the PyMC gradient.
    penalty = Penalty("elasticnet", 0.5, 0.8)
    spec, estimate, _, _ = _map(design, penalty, sigma=1.3)
    assert np.sum(estimate.coefficients == 0) >= 1
    reference = _sklearn(penalty, X, design.y)
    assert relative_coefficient_differences(estimate.coefficients, reference,
                                            design).max() <= COEFFICIENT_RTOL
    assert certify(spec, design, estimate, penalised_fit(NORMAL, design, penalty)).certified


def test_without_an_intercept_every_coefficient_is_penalised():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    frame["y"] = 2 * frame.a - 0.2 * frame.b + rng.normal(size=60)
    design = build_design(load_table(frame), "y ~ a + b - 1")
    assert penalised_columns(design) == [0, 1]
    for penalty in (Penalty("ridge", 3.0), Penalty("lasso", 0.3), Penalty("elasticnet", 0.2, 0.5)):
        _, estimate, _, _ = _map(design, penalty)
        reference = _sklearn(penalty, design.X, design.y, fit_intercept=False)
        assert relative_coefficient_differences(estimate.coefficients, reference,
                                                design).max() <= COEFFICIENT_RTOL


def test_the_map_does_not_depend_on_the_fixed_sigma():
    # sigma cancels between likelihood and prior: the penalty is sklearn's at any sigma.
    design = _design("stackloss")
    for penalty in (Penalty("ridge", 2.0), Penalty("lasso", 1.0)):
        a = _map(design, penalty, sigma=0.5)[1].coefficients
        b = _map(design, penalty, sigma=50.0)[1].coefficients
        assert relative_coefficient_differences(a, b, design).max() <= COEFFICIENT_RTOL


def test_ridge_map_is_newton_on_the_density_not_the_solver():
    design = _design("longley")  # cond(X) ~ 1e9: the closed form and Newton still agree
    penalty = Penalty("ridge", 10.0)
    spec, estimate, _, _ = _map(design, penalty)
    assert "Newton" in estimate.method and estimate.penalty_check is None
    exact = penalised_fit(NORMAL, design, penalty)
    assert relative_coefficient_differences(estimate.coefficients, exact.coefficients,
                                            design).max() <= COEFFICIENT_RTOL


def test_kkt_certificate_rejects_a_non_optimal_point():
    design = _design("stackloss")
    columns = penalised_columns(design)
    penalty = Penalty("lasso", 3.0)  # ACIDCONC is 0 at this alpha
    fit = penalised_fit(NORMAL, design, penalty)
    assert fit.kkt.holds and fit.kkt.zeros == 1
    moved = fit.coefficients * (1 + 1e-9)  # a relative move of 1e-9 breaks stationarity
    assert not kkt_certificate(design.X, design.y, moved, penalty, columns).holds
    # A zero coefficient moved off zero: its objective is larger, and KKT fails.
    off = fit.coefficients.copy()
    off[np.flatnonzero(fit.coefficients == 0)] = 1e-3
    assert objective(design, off, penalty) > fit.objective
    assert not kkt_certificate(design.X, design.y, off, penalty, columns).holds
    # The wrong alpha's optimum is not this alpha's.
    other = penalised_fit(NORMAL, design, Penalty("lasso", 2.9)).coefficients
    assert not kkt_certificate(design.X, design.y, other, penalty, columns).holds


def test_pymc_confirmation_rejects_a_non_optimal_point():
    design = _design("stackloss")
    penalty = Penalty("lasso", 3.0)
    spec, estimate, rotation, model = _map(design, penalty)
    assert estimate.penalty_check["holds"]
    density = LogDensity(model, "FAST_COMPILE")
    fit = penalised_fit(NORMAL, design, penalty)
    moved = fit.coefficients * (1 + 1e-8)
    assert not confirm_with_pymc(density, design, rotation, moved, penalty, spec.fixed_scale).holds
    # alpha too small for the zero: the one-sided derivatives beside it point away from 0.
    small = Penalty("lasso", 1.0)
    zeroed = penalised_fit(NORMAL, design, small).coefficients.copy()
    zeroed[3] = 0.0
    small_spec = ModelSpec("normal", "fixed", spec.fixed_scale, "user value (--sigma)",
                           penalty=small)
    small_density = LogDensity(build_model(small_spec, design, rotation), "FAST_COMPILE")
    assert not confirm_with_pymc(small_density, design, rotation, zeroed, small,
                                 spec.fixed_scale).holds


def test_certificate_fails_for_a_wrong_map():
    design = _design("stackloss")
    penalty = Penalty("elasticnet", 0.5, 0.5)
    spec, estimate, _, _ = _map(design, penalty)
    exact = penalised_fit(NORMAL, design, penalty)
    from dataclasses import replace

    wrong = replace(estimate, coefficients=estimate.coefficients * (1 + 1e-6))
    certificate = certify(spec, design, wrong, exact)
    assert not certificate.certified
    assert not certificate.checks["coefficients"] and not certificate.checks["objective"]


def test_the_pipeline_certifies_a_lasso_model_and_reports_the_sklearn_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("error", lossbridge.CertificateWarning)
        analysis = lossbridge.fit("stackloss", likelihoods="normal", scales="fixed",
                                  penalty="lasso", alpha=0.5, sample=False)
    assert analysis.models == ["normal-fixed+lasso(alpha=0.5)"]
    fit = analysis.fits[0]
    assert fit.certificate.certified, fit.certificate.explanation
    assert fit.nll.matches_pymc
    design = analysis.design
    reference = _sklearn(Penalty("lasso", 0.5), design.X[:, 1:], design.y)
    assert relative_coefficient_differences(fit.map.coefficients, reference,
                                            design).max() <= COEFFICIENT_RTOL
    document = analysis.to_dict()
    assert document["options"]["penalty"] == {"kind": "lasso", "alpha": 0.5, "l1_ratio": None}
    details = document["options"]["prior_details"]["normal-fixed+lasso(alpha=0.5)"]
    assert details["Intercept"].startswith("flat")
    assert details["AIRFLOW"].startswith("Laplace(0, s=")
    assert "posterior is not" in details["AIRFLOW"]
    text = analysis.summary()
    assert "Lasso(alpha=0.5)" in text and "Laplace(0, s=" in text


def test_cli_fits_and_certifies_a_lasso(capsys):
    from lossbridge.interfaces.cli import main

    status = main(["fit", "stackloss", "--likelihood", "normal", "--scale", "fixed",
                   "--penalty", "lasso", "--alpha", "0.5", "--no-sample"])
    out = capsys.readouterr().out
    assert status in (0, None)
    assert "All 1 MAP estimates certified" in out


def test_cli_refuses_a_penalty_with_a_learned_scale(capsys):
    from lossbridge.interfaces.cli import main

    status = main(["fit", "stackloss", "--likelihood", "normal", "--penalty", "ridge",
                   "--alpha", "1", "--no-sample"])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err.count("\n") == 0 and "--scale fixed" in err and "fixed sigma" in err


def test_cli_json_of_a_penalised_fit_carries_its_kkt_certificate(capsys):
    # Found in review: the penalised fit's KKT certificate (an object) broke --json.
    import json

    from lossbridge.interfaces.cli import main

    status = main(["fit", "stackloss", "--likelihood", "normal", "--scale", "fixed",
                   "--penalty", "lasso", "--alpha", "0.5", "--no-sample", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert status in (0, None)
    kkt = doc["fits"][0]["baseline"]["kkt"]
    assert kkt["holds"] is True and doc["all_certified"] is True
