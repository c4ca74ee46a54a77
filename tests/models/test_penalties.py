"""Penalties as priors: the prior scales, the normalising constants, the models' log-density,
the identity and the refusals."""

from __future__ import annotations

import math

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import integrate, stats

from lossbridge.core.errors import InputError
from lossbridge.data.datasets import resolve_formula
from lossbridge.data.design import build_design
from lossbridge.data.rotation import Rotation
from lossbridge.data.tables import load_table
from lossbridge.interfaces.options import validate_options
from lossbridge.models.identity import ModelId
from lossbridge.models.joint import build_joint_model
from lossbridge.models.penalties import Penalty, log_normaliser, penalty_logp
from lossbridge.models.reference import build_model
from lossbridge.models.spec import ModelSpec

FAST = "FAST_COMPILE"  # a few evaluations: PyTensor's rewrites cost more than they save


@pytest.fixture(scope="module")
def stackloss():
    design = build_design(load_table("stackloss"), resolve_formula("stackloss", None))
    return design, Rotation.from_design(design.X, design.y)


def test_prior_scales_follow_from_sklearn_objectives():
    n, sigma = 40, 1.7
    ridge = Penalty("ridge", 2.5)
    lam1, lam2 = ridge.rates(n, sigma)
    assert lam1 == 0 and 1.0 / lam2 == pytest.approx(sigma**2 / 2.5, rel=1e-15)  # tau²
    lam1, lam2 = Penalty("lasso", 0.3).rates(n, sigma)
    assert lam2 == 0 and 1.0 / lam1 == pytest.approx(sigma**2 / (n * 0.3), rel=1e-15)  # s
    lam1, lam2 = Penalty("elasticnet", 0.3, 0.25).rates(n, sigma)
    assert lam1 == pytest.approx(n * 0.3 * 0.25 / sigma**2, rel=1e-15)
    assert lam2 == pytest.approx(n * 0.3 * 0.75 / sigma**2, rel=1e-15)
    # An objective's minimiser is the MAP: -log prior + RSS/(2 sigma²) is the objective
    # times 1/(2 sigma²) (ridge) or n/sigma² (lasso, elastic net), at any w.
    rng = np.random.default_rng(0)
    rss, w = 12.3, rng.normal(size=3)
    for penalty, factor in ((ridge, 1 / (2 * sigma**2)), (Penalty("lasso", 0.3), n / sigma**2),
                            (Penalty("elasticnet", 0.3, 0.25), n / sigma**2)):
        l1, l2 = penalty.rates(n, sigma)
        neg_log_posterior = rss / (2 * sigma**2) + l1 * np.abs(w).sum() + 0.5 * l2 * (w @ w)
        sklearn = penalty.sklearn_objective(rss, np.abs(w).sum(), w @ w, n)
        assert neg_log_posterior == pytest.approx(factor * sklearn, rel=1e-14)
    # The sklearn objectives written out.
    assert Penalty("ridge", 2.0).sklearn_objective(5.0, 1.0, 3.0, 10) == pytest.approx(5 + 2 * 3)
    assert Penalty("lasso", 2.0).sklearn_objective(5.0, 1.0, 3.0, 10) == pytest.approx(5 / 20 + 2)
    assert Penalty("elasticnet", 2.0, 0.25).sklearn_objective(5.0, 1.0, 3.0, 10) == pytest.approx(
        5 / 20 + 2 * 0.25 * 1 + 0.5 * 2 * 0.75 * 3)


@pytest.mark.parametrize(("lam1", "lam2"), [(1.0, 1.0), (0.1, 5.0), (30.0, 0.01), (4.0, 0.0),
                                            (0.0, 2.0), (1e3, 1e-4), (1e-3, 1e3)])
def test_normalising_constant_by_quadrature(lam1, lam2):
    def density(w):
        return math.exp(-lam1 * abs(w) - 0.5 * lam2 * w * w)

    half, error = integrate.quad(density, 0, np.inf, epsabs=0, epsrel=1e-13, limit=500)
    assert 2 * half == pytest.approx(math.exp(log_normaliser(lam1, lam2)), rel=1e-10)


def test_prior_logp_is_scipys_normal_laplace_and_elastic_net(stackloss):
    design, _ = stackloss
    sigma = 2.0
    beta = pt.dvector("beta")
    value = np.array([-39.0, 0.7, -1.3, 0.05])
    w = value[1:]  # the intercept, first, is unpenalised
    n = design.n
    ridge = pytensor.function([beta], penalty_logp(beta, Penalty("ridge", 1.5), design, sigma),
                              mode=FAST)
    assert ridge(value) == pytest.approx(stats.norm.logpdf(w, 0, sigma / math.sqrt(1.5)).sum(),
                                         rel=1e-13)
    lasso = pytensor.function([beta], penalty_logp(beta, Penalty("lasso", 0.2), design, sigma),
                              mode=FAST)
    assert lasso(value) == pytest.approx(stats.laplace.logpdf(w, 0, sigma**2 / (n * 0.2)).sum(),
                                         rel=1e-13)
    net = Penalty("elasticnet", 0.2, 0.4)
    lam1, lam2 = net.rates(n, sigma)
    z = integrate.quad(lambda t: math.exp(-lam1 * abs(t) - 0.5 * lam2 * t * t), -np.inf, np.inf,
                       epsrel=1e-13)[0]
    expected = np.sum(-lam1 * np.abs(w) - 0.5 * lam2 * w**2) - 3 * math.log(z)
    elastic = pytensor.function([beta], penalty_logp(beta, net, design, sigma), mode=FAST)
    assert elastic(value) == pytest.approx(expected, rel=1e-10)
    # The intercept does not enter.
    moved = value.copy()
    moved[0] += 100.0
    assert elastic(moved) == elastic(value)


def test_both_models_carry_the_penalty_as_the_prior_on_beta(stackloss):
    design, rotation = stackloss
    sigma = 3.0
    penalty = Penalty("elasticnet", 0.4, 0.6)
    flat = ModelSpec("normal", "fixed", sigma, "user value (--sigma)")
    penalised = ModelSpec("normal", "fixed", sigma, "user value (--sigma)", penalty=penalty)
    beta = pt.dvector("beta")
    prior = pytensor.function([beta], penalty_logp(beta, penalty, design, sigma), mode=FAST)
    theta = rotation.to_theta(np.array([-40.0, 0.7, 1.2, -0.1]))
    for build, name in ((lambda s: build_model(s, design, rotation), "theta"),
                        (lambda s: build_joint_model([s], design, rotation), None)):
        values = {}
        for spec in (flat, penalised):
            model = build(spec)
            variable = name or f"{spec.name}::theta"
            values[spec.name] = model.compile_logp(jacobian=False, mode=FAST)({variable: theta})
        difference = values[penalised.name] - values[flat.name]
        assert difference == pytest.approx(prior(rotation.to_beta(theta)), rel=1e-9)


def test_identity_label_and_json_round_trip():
    spec = ModelSpec("normal", "fixed", 2.0, "user value (--sigma)",
                     penalty=Penalty("lasso", 0.5).for_rows(21))
    assert spec.name == "normal-fixed+lasso(alpha=0.5)" == spec.model_id.label
    net = ModelId("normal", "fixed", (), penalty=Penalty("elasticnet", 1.0, 0.3))
    assert net.label == "normal-fixed+elasticnet(alpha=1,l1_ratio=0.3)"
    assert ModelId.from_dict(net.as_dict()) == net
    assert ModelId("normal", "fixed", (), penalty=Penalty("ridge", 1.0)) != ModelId(
        "normal", "fixed", (), penalty=Penalty("ridge", 2.0))
    assert ModelId("normal", "fixed").as_dict() == {"likelihood": "normal", "scale": "fixed",
                                                     "shape": {}}  # unchanged without one
    # The pinned n is not part of the identity.
    assert Penalty("lasso", 0.5).for_rows(21) == Penalty("lasso", 0.5)
    assert Penalty("elasticnet", 1.0).l1_ratio == 0.5  # scikit-learn's default
    assert not spec.flat_priors and ModelSpec("normal", "learned").flat_priors


def test_describe_prints_each_prior_and_the_sparsity_caveat(stackloss):
    design, _ = stackloss
    from lossbridge.models.priors import describe_priors

    spec = ModelSpec("normal", "fixed", 2.0, "user value (--sigma)", penalty=Penalty("lasso", 0.5))
    details = describe_priors(spec, design)
    assert details["Intercept"].startswith("flat")
    assert details["AIRFLOW"].startswith(f"Laplace(0, s={4 / (21 * 0.5):.4g})")
    assert "posterior is not" in details["AIRFLOW"]
    ridge = ModelSpec("normal", "fixed", 2.0, "user value (--sigma)", penalty=Penalty("ridge", 4.0))
    assert describe_priors(ridge, design)["AIRFLOW"].startswith("Normal(0, tau=1)")


@pytest.mark.parametrize(("arguments", "fragment"), [
    (("foo", 1.0), "penalty must be one of"),
    (("ridge", -1.0), "alpha must be a finite number >= 0"),
    (("lasso", float("nan")), "alpha must be"),
    (("lasso", True), "alpha must be"),
    (("elasticnet", 1.0, 1.5), "l1_ratio must be a number in [0, 1]"),
    (("elasticnet", 1.0, -0.1), "l1_ratio must be a number in [0, 1]"),
    (("lasso", 1.0, 0.3), "l1_ratio is only valid with penalty 'elasticnet'"),
])
def test_bad_penalties_are_one_line_errors(arguments, fragment):
    with pytest.raises(InputError) as error:
        Penalty(*arguments)
    assert fragment in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(("spec", "fragment"), [
    (dict(likelihood="normal", scale="learned"), "only at a fixed sigma"),
    (dict(likelihood="laplace", scale="fixed", fixed_scale=1.0), "not under Laplace"),
    (dict(likelihood="normal", scale="fixed", fixed_scale=1.0, priors="weak"), "priors 'weak'"),
])
def test_specs_refuse_penalties_whose_map_is_no_sklearn_fit(spec, fragment):
    with pytest.raises(InputError) as error:
        ModelSpec(**spec, penalty=Penalty("lasso", 1.0))
    assert fragment in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(("options", "fragment"), [
    (dict(penalty="lasso", alpha=1.0), "use scales = 'fixed'"),  # default scales: both
    (dict(penalty="lasso", scales="fixed"), "needs alpha"),
    (dict(alpha=1.0, likelihoods="normal", scales="fixed"), "no penalty is given"),
    (dict(l1_ratio=0.5, likelihoods="normal", scales="fixed"), "no penalty is given"),
    (dict(penalty="ridge", alpha=1.0, l1_ratio=0.5, likelihoods="normal", scales="fixed"),
     "only valid with penalty elasticnet"),
    (dict(penalty="ridge", alpha=1.0, scales="fixed"), "not under Laplace"),
    (dict(penalty="ridge", alpha=-2, likelihoods="normal", scales="fixed"), "alpha must be"),
    (dict(penalty="lasso_", alpha=1, likelihoods="normal", scales="fixed"), "penalty must be"),
])
def test_options_refuse_inconsistent_penalties(options, fragment):
    with pytest.raises(InputError) as error:
        validate_options(options)
    assert fragment in str(error.value) and "\n" not in str(error.value)


def test_options_give_the_penalty():
    checked = validate_options(dict(penalty="elasticnet", alpha=0.5, likelihoods="normal",
                                    scales="fixed"))
    assert checked.penalty == Penalty("elasticnet", 0.5, 0.5)
    assert validate_options({}).penalty is None


@pytest.mark.slow
def test_lasso_posterior_has_no_coefficient_exactly_zero(stackloss):
    # The MAP of a Laplace prior is sparse; its posterior is continuous: no draw is 0.
    from lossbridge.estimation.map import find_map
    from lossbridge.posterior.sampling import SamplerOptions, sample_models

    design, rotation = stackloss
    spec = ModelSpec("normal", "fixed", 3.0, "user value (--sigma)",
                     penalty=Penalty("lasso", 3.0))
    estimate = find_map(build_model(spec, design, rotation), spec, design, rotation)
    assert np.sum(estimate.coefficients == 0) == 1  # ACIDCONC is 0 at the MAP
    draws = sample_models([spec], design, rotation, [estimate],
                          SamplerOptions(draws=200, tune=200, chains=2, cores=1,
                                         progress=False), seed=5)[spec.name]
    beta = draws.flat_beta
    assert beta.shape[0] == 400
    assert np.all(beta != 0)
    zero = int(np.flatnonzero(estimate.coefficients == 0)[0])
    # ... and it spreads on both sides of 0 (a sparse posterior would pile up there).
    assert np.mean(beta[:, zero] > 0) > 0.05 and np.mean(beta[:, zero] < 0) > 0.05
