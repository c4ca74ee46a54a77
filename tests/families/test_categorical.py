"""The Categorical family (softmax link, a reference level) against statsmodels, scikit-learn,
scipy and PyMC.

References: statsmodels' ``MNLogit`` (Newton to 1e-14) on its ``anes96`` data (the 1996
American National Election Study, seven party-identification classes) and on a simulated
three-class text response; scikit-learn's unpenalised multinomial ``LogisticRegression``
(over-parameterised: one coefficient vector per class, so its probabilities, not its
coefficients, are compared) and ``log_loss``; ``scipy.stats.multinomial(1, p)`` and PyMC's
``pm.Categorical``; finite differences; an independent penalised fit (scipy on the log
posterior written in NumPy) for the weak priors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import statsmodels.api as sm
from scipy import stats
from scipy.optimize import minimize
from scipy.special import logsumexp, softmax
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

import lossbridge
from lossbridge.data.design import build_design
from lossbridge.data.rotation import Rotation
from lossbridge.data.tables import load_table
from lossbridge.estimation.multinomial import multinomial_derivatives, newton_multinomial
from lossbridge.families.categorical import CATEGORICAL, log_softmax
from lossbridge.models.joint import block_name, build_joint_model
from lossbridge.models.priors import WeakPriors
from lossbridge.models.reference import build_model
from lossbridge.models.spec import ModelSpec

ANES = "PID ~ logpopul + selfLR + age + educ + income"
ANES_COLUMNS = ["logpopul", "selfLR", "age", "educ", "income"]
SIMULATED = "fruit ~ x + z"
LEVELS = ("apple", "banana", "cherry")


@pytest.fixture(scope="module")
def anes():
    frame = sm.datasets.anes96.load_pandas().data
    X = sm.add_constant(frame[ANES_COLUMNS], prepend=True).to_numpy()
    return frame, X, frame["PID"].to_numpy()


@pytest.fixture(scope="module")
def anes_map(anes):
    return fit_map(anes[0], ANES)


def simulated_frame(n: int = 300, seed: int = 3) -> pd.DataFrame:
    """Three text levels from a multinomial logit in (x, z), banana the intended reference."""
    rng = np.random.default_rng(seed)
    x, z = rng.normal(size=n), rng.uniform(-1, 1, size=n)
    eta = np.c_[0.4 + 1.2 * x - 0.5 * z, np.zeros(n), -0.3 - 0.8 * x + 1.5 * z]
    p = softmax(eta, axis=1)
    codes = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return pd.DataFrame({"fruit": np.array(LEVELS)[codes], "x": x, "z": z})


def mnlogit(X, codes):
    """statsmodels' MNLogit by Newton to 1e-14; coefficients flat, level by level (its
    params are (p, K-1), one column per non-reference level, the lowest code the reference)."""
    result = sm.MNLogit(codes, X).fit(method="newton", tol=1e-14, maxiter=200, disp=0)
    return np.asarray(result.params).T.reshape(-1), result


def fit_map(frame, formula, **options):
    [result] = lossbridge.fit(frame, formula, likelihoods="categorical", sample=False,
                              **options).fits
    return result


# ---------------------------------------------------------------------- (a) the MAP is MNLogit
def test_map_equals_statsmodels_mnlogit_on_anes96(anes, anes_map):
    frame, X, y = anes
    result = anes_map
    assert result.certified
    expected, fitted = mnlogit(X, y)
    # every coefficient to 1e-8 relative (measured 1.6e-14: both are Newton to a zero
    # gradient of the same strictly concave log-likelihood, condition ~2.6e3)
    np.testing.assert_allclose(result.map.coefficients, expected, rtol=1e-8, atol=0)
    # the coefficients are named x[level], level by level, the reference (0) left out
    assert result.map.coefficients.size == 6 * 6
    # MNLogit's log-likelihood is minus the NLL, to the sum's rounding (n eps sum|terms|)
    assert -fitted.llf == pytest.approx(result.nll.nll, rel=1e-12)


def test_sklearn_multinomial_gives_the_same_probabilities_on_anes96(anes, anes_map):
    """scikit-learn fits one vector per class (over-parameterised, identified only by its
    penalty, here none: C = inf): the probabilities are the identified quantity. newton-cg
    stops at max|gradient of the mean loss| <= tol = 1e-10, a bound that alone allows
    far more than 1e-8 in the flattest direction (the information's condition number is
    2.6e3 on unit-norm columns, far worse on these raw ones), but Newton's last step
    converges quadratically: measured 1.2e-11, held to 1e-8.
    (lbfgs at tol 1e-12 stops at 3.5e-6: a first-order method's stopping rule.)"""
    frame, X, y = anes
    result = anes_map
    model = LogisticRegression(C=np.inf, solver="newton-cg", tol=1e-10, max_iter=1000)
    model.fit(frame[ANES_COLUMNS].to_numpy(), y)
    ours = np.exp(log_softmax(X @ result.map.coefficients.reshape(-1, X.shape[1]).T))
    assert list(model.classes_) == list(range(7))
    np.testing.assert_allclose(model.predict_proba(frame[ANES_COLUMNS].to_numpy()), ours,
                               rtol=0, atol=1e-8)


def test_nll_panel_is_n_times_sklearn_log_loss(anes, anes_map):
    """Multiclass cross-entropy = Categorical NLL: the NLL split at the MAP (constant 0 +
    CE) equals n * log_loss at the MAP's probabilities and PyMC's own log-likelihood of
    the reference model (estimation/nll.py) within its tolerance."""
    frame, X, y = anes
    result = anes_map
    p = np.exp(log_softmax(X @ result.map.coefficients.reshape(-1, X.shape[1]).T))
    assert result.nll.constant == 0.0 and result.nll.matches_pymc
    assert result.nll.relative_difference <= 1e-9
    # log_loss renormalises p and clips at eps: neither binds here (rows sum to 1 within
    # 1e-15, the smallest p is 4.5e-5), so the rounding of the n-term sum bounds the gap
    assert result.nll.nll == pytest.approx(len(y) * log_loss(y, p, labels=range(7)), rel=1e-12)


@pytest.fixture(scope="module")
def simulated():
    return simulated_frame()


def _codes(frame, order):
    return frame["fruit"].map({level: i for i, level in enumerate(order)}).to_numpy()


def test_text_response_with_a_chosen_reference_is_mnlogit(simulated):
    """--reference banana: banana's eta is 0 and apple, cherry (text order) have the
    coefficient blocks, as MNLogit with banana coded 0."""
    result = fit_map(simulated, SIMULATED, reference="banana")
    X = sm.add_constant(simulated[["x", "z"]], prepend=True).to_numpy()
    expected, fitted = mnlogit(X, _codes(simulated, ("banana", "apple", "cherry")))
    np.testing.assert_allclose(result.map.coefficients, expected, rtol=1e-8, atol=0)
    assert result.certified and -fitted.llf == pytest.approx(result.nll.nll, rel=1e-12)
    design = build_design(load_table(simulated), SIMULATED, classes=True, reference="banana")
    assert design.classes == ("banana", "apple", "cherry")
    assert design.terms == ("Intercept[apple]", "x[apple]", "z[apple]",
                            "Intercept[cherry]", "x[cherry]", "z[cherry]")
    # the default reference is the first level in text order, apple
    default = fit_map(simulated, SIMULATED)
    expected_default, _ = mnlogit(X, _codes(simulated, LEVELS))
    np.testing.assert_allclose(default.map.coefficients, expected_default, rtol=1e-8, atol=0)
    # the same model either way: reference apple's banana block is minus banana's apple block
    np.testing.assert_allclose(default.map.coefficients[:3], -result.map.coefficients[:3],
                               rtol=1e-8)
    assert default.nll.nll == pytest.approx(result.nll.nll, rel=1e-12)


def test_row_order_and_level_names_do_not_change_the_fit(simulated):
    result = fit_map(simulated, SIMULATED, reference="banana")
    shuffled = simulated.sample(frac=1.0, random_state=11).reset_index(drop=True)
    again = fit_map(shuffled, SIMULATED, reference="banana")
    # a permutation of the rows changes only the order of the sums: rounding, 1e-10
    np.testing.assert_allclose(again.map.coefficients, result.map.coefficients, rtol=1e-10)
    # renamed levels whose text order differs (cherry -> "a_cherry" now sorts first):
    # the blocks follow the levels' order, each block's coefficients the same
    renamed = simulated.assign(fruit=simulated["fruit"].map(
        {"apple": "z_apple", "banana": "m_banana", "cherry": "a_cherry"}))
    other = fit_map(renamed, SIMULATED, reference="m_banana")
    design = build_design(load_table(renamed), SIMULATED, classes=True, reference="m_banana")
    assert design.classes == ("m_banana", "a_cherry", "z_apple")
    blocks = result.map.coefficients.reshape(2, 3)  # apple, cherry
    np.testing.assert_allclose(other.map.coefficients.reshape(2, 3), blocks[::-1], rtol=1e-10)


def test_numeric_levels_are_ordered_as_numbers():
    """Codes 1, 2, 10: the reference is 1 (numerically first), not 10 (text order)."""
    frame = simulated_frame(200, seed=8)
    frame["fruit"] = frame["fruit"].map({"apple": 10, "banana": 1, "cherry": 2})
    design = build_design(load_table(frame), SIMULATED, classes=True)
    assert design.classes == ("1", "2", "10")
    X = sm.add_constant(frame[["x", "z"]], prepend=True).to_numpy()
    expected, _ = mnlogit(X, frame["fruit"].to_numpy())  # statsmodels sorts the numbers
    np.testing.assert_allclose(fit_map(frame, SIMULATED).map.coefficients, expected, rtol=1e-8)


# ---------------------------------------------------------------------- (b) the density
def test_logpdf_is_scipys_multinomial_and_pymcs_categorical():
    rng = np.random.default_rng(0)
    eta = np.r_[rng.normal(scale=3.0, size=(20, 3)), [[40.0, -40.0, 0.5]]]
    p = np.exp(log_softmax(eta))
    codes = rng.integers(0, 4, size=eta.shape[0])
    ours = CATEGORICAL.logpdf(codes.astype(float), p, 1.0)
    expected = [stats.multinomial(1, row).logpmf(np.eye(4)[c]) for row, c in zip(p, codes, strict=True)]
    np.testing.assert_allclose(ours, expected, rtol=1e-12)
    pymc = pm.logp(pm.Categorical.dist(p=p), codes).eval()
    np.testing.assert_allclose(ours, pymc, rtol=1e-12)
    # the PyTensor logp reads log softmax off the link's graph: exact where p underflows
    import pytensor.tensor as pt

    e = pt.dmatrix("eta")
    logp = CATEGORICAL.logp(pt.as_tensor(codes.astype(float)),
                            CATEGORICAL.link.inverse_tensor(e), 1.0).eval({e: eta})
    eta_full = np.c_[np.zeros(len(eta)), eta]
    reference = eta_full[np.arange(len(eta)), codes] - logsumexp(eta_full, axis=1)
    np.testing.assert_allclose(logp, reference, rtol=1e-12)
    tail = np.array([[800.0, 0.0]])  # p of the reference level is exp(-800): 0 in float
    deep = CATEGORICAL.logp(pt.as_tensor(np.array([0.0])),
                            CATEGORICAL.link.inverse_tensor(e), 1.0).eval({e: tail})
    assert deep[0] == pytest.approx(-800.0, rel=1e-12)


def test_reference_model_log_likelihood_is_the_sum_of_logpdf(simulated):
    design = build_design(load_table(simulated), SIMULATED, classes=True, reference="banana")
    rotation = Rotation.of(design)
    spec = ModelSpec("categorical", "none")
    model = build_model(spec, design, rotation)
    beta = np.array([0.3, 1.0, -0.4, -0.2, -0.7, 1.1])
    own = rotation.for_family(spec.family)
    loglik = model.compile_logp(vars=model.observed_RVs)({"theta": own.to_theta(beta)})
    p = softmax(np.c_[np.zeros(design.n), design.X @ beta.reshape(2, 3).T], axis=1)
    expected = sum(stats.multinomial(1, row).logpmf(np.eye(3)[int(c)])
                   for row, c in zip(p, design.y, strict=True))
    assert loglik == pytest.approx(expected, rel=1e-12)
    assert list(model.coords["term"]) == list(design.terms)


@pytest.mark.parametrize("priors", ["flat", "weak"])
def test_joint_model_equals_the_reference_model(simulated, priors):
    """Log-density and gradient at random points to 1e-10 relative (as for the other
    families in tests/models/test_joint_model.py)."""
    from tests.models.test_joint_model import logp_and_grad

    design = build_design(load_table(simulated), SIMULATED, classes=True, reference="banana")
    rotation = Rotation.of(design)
    spec = ModelSpec("categorical", "none", priors=priors)
    f_e = logp_and_grad(build_model(spec, design, rotation), ["theta"])
    f_s = logp_and_grad(build_joint_model([spec], design, rotation),
                        [block_name(spec, "theta")])
    rng = np.random.default_rng(4)
    for _ in range(5):
        theta = rng.normal(scale=0.5, size=design.k)
        out_e, out_s = f_e(theta), f_s(theta)
        assert out_s[0] == pytest.approx(out_e[0], rel=1e-10)
        np.testing.assert_allclose(out_s[1], out_e[1], rtol=1e-10,
                                   atol=1e-10 * np.abs(out_e[1]).max())


# ---------------------------------------------------------------------- (c) derivatives, KKT
def test_eta_derivatives_by_finite_differences():
    rng = np.random.default_rng(1)
    eta = rng.normal(scale=2.0, size=(12, 3))
    codes = rng.integers(0, 4, size=12).astype(float)
    d, w = CATEGORICAL.eta_derivatives(codes, eta, 1.0)
    h = 1e-5

    def loglik(e):
        return np.take_along_axis(log_softmax(e), codes.astype(int)[:, None], axis=1)[:, 0]

    for c in range(3):
        step = np.zeros_like(eta)
        step[:, c] = h
        # central differences: truncation O(h^2) ~ 1e-10, rounding eps/h ~ 1e-11
        np.testing.assert_allclose(d[:, c], (loglik(eta + step) - loglik(eta - step)) / (2 * h),
                                   rtol=1e-7, atol=1e-9)
        second = (CATEGORICAL.eta_derivatives(codes, eta + step, 1.0)[0]
                  - CATEGORICAL.eta_derivatives(codes, eta - step, 1.0)[0]) / (2 * h)
        np.testing.assert_allclose(w[:, :, c], -second, rtol=1e-7, atol=1e-9)
    assert np.all(np.linalg.eigvalsh(w) > 0)  # each W_i = diag(p) - pp' is positive definite


def test_kkt_holds_at_the_solution_and_fails_at_a_perturbed_point(anes):
    frame, X, y = anes
    fit = newton_multinomial(CATEGORICAL, X, y)
    gradient, _, bound = multinomial_derivatives(CATEGORICAL, X, y, fit.coefficients)
    assert fit.kkt()["holds"] and np.all(np.abs(gradient) <= bound)
    assert fit.min_eigenvalue > 0
    expected, _ = mnlogit(X, y)
    np.testing.assert_allclose(fit.coefficients, expected, rtol=1e-8, atol=0)
    # the gradient against finite differences of the NLL along a random direction
    rng = np.random.default_rng(2)
    v = rng.normal(size=expected.size) * np.abs(expected)
    h = 1e-6

    def loglik(b):
        return float(np.sum(np.take_along_axis(log_softmax(X @ b.reshape(-1, X.shape[1]).T),
                                               y.astype(int)[:, None], axis=1)))

    point = expected + 1e-3 * v  # away from the optimum, where the gradient is not ~0
    slope = (loglik(point + h * v) - loglik(point - h * v)) / (2 * h)
    g, _, _ = multinomial_derivatives(CATEGORICAL, X, y, point)
    info = multinomial_derivatives(CATEGORICAL, X, y, point)[1]
    # central differences of a sum of ~6e3 terms of size ~1: rounding ~1e3 eps / h ~ 1e-7
    # against a slope of ~1e2 and more; truncation h^2 |third derivative| is smaller still
    assert g @ v == pytest.approx(slope, rel=1e-6)
    curvature = (multinomial_derivatives(CATEGORICAL, X, y, point + h * v)[0] @ v
                 - multinomial_derivatives(CATEGORICAL, X, y, point - h * v)[0] @ v) / (2 * h)
    assert v @ info @ v == pytest.approx(-curvature, rel=1e-6)
    # one coefficient moved by 1e-9 relative: the certificate's bound rejects it
    worse = expected.copy()
    worse[7] *= 1 + 1e-9
    g, _, b = multinomial_derivatives(CATEGORICAL, X, y, worse)
    assert np.any(np.abs(g) > b)


# ---------------------------------------------------------------------- (d) replicate
def test_replicated_class_frequencies_are_within_binomial_error():
    rng = np.random.default_rng(5)
    p = np.exp(log_softmax(np.array([[0.5, -1.0, 2.0], [-3.0, 0.0, 0.1]])))
    draws = 200_000
    codes = CATEGORICAL.replicate(np.broadcast_to(p, (draws, 2, 4)), 1.0, rng)
    assert codes.shape == (draws, 2)
    for row in range(2):
        freq = np.bincount(codes[:, row].astype(int), minlength=4) / draws
        se = np.sqrt(p[row] * (1 - p[row]) / draws)
        assert np.all(np.abs(freq - p[row]) <= 4 * se)  # 4 se: 8 checks, p ~ 5e-4 overall


# ---------------------------------------------------------------------- weak priors
def penalised_multinomial(X: np.ndarray, codes: np.ndarray, levels: int) -> np.ndarray:
    """The posterior mode under the weak priors, written out in NumPy: log-likelihood of
    the multinomial logit plus, per block, Normal(0, 2.5/sd(x_j)) on each slope and
    Normal(0, 2.5) on the intercept at centred predictors (X's first column the intercept);
    scipy's trust-region Newton, then plain Newton to a gradient below 1e-10."""
    n, p = X.shape
    m = levels - 1
    onehot = np.eye(levels)[codes]
    sd = X[:, 1:].std(axis=0, ddof=1)
    precision = np.r_[0.0, (sd / 2.5) ** 2]  # 1/prior variance of each slope
    lift = np.r_[1.0, X[:, 1:].mean(axis=0)]  # d(centred intercept)/d beta

    def objective(flat):
        B = flat.reshape(m, p)
        eta = np.c_[np.zeros(n), X @ B.T]
        value = -np.sum(onehot * (eta - logsumexp(eta, axis=1)[:, None]))
        centred = B @ lift
        value += 0.5 * np.sum(precision * B**2) + 0.5 * np.sum((centred / 2.5) ** 2)
        prob = softmax(eta, axis=1)[:, 1:]
        grad = (X.T @ (prob - onehot[:, 1:])).T + precision * B + np.outer(centred, lift) / 2.5**2
        hess = np.zeros((m * p, m * p))
        for c in range(m):
            for e in range(m):
                w = prob[:, c] * ((c == e) - prob[:, e])
                hess[p * c:p * c + p, p * e:p * e + p] = (X * w[:, None]).T @ X
            hess[p * c:p * c + p, p * c:p * c + p] += (np.diag(precision)
                                                       + np.outer(lift, lift) / 2.5**2)
        return value, grad.reshape(-1), hess

    beta = minimize(lambda b: objective(b)[0], np.zeros(m * p), jac=lambda b: objective(b)[1],
                    hess=lambda b: objective(b)[2], method="trust-exact").x
    for _ in range(20):  # strictly convex: Newton from scipy's point
        _, grad, hess = objective(beta)
        beta = beta - np.linalg.solve(hess, grad)
    assert np.max(np.abs(objective(beta)[1])) < 1e-10
    return beta


def test_weak_prior_map_is_the_penalised_multinomial_fit(simulated):
    """Under weak priors every block has rstanarm's priors on the log-odds scale: the MAP
    is the independent penalised fit (strictly convex, both at gradients ~1e-10: 1e-7
    relative; measured 3e-16)."""
    frame = simulated.iloc[:60]  # small n: the prior moves the fit visibly
    X = np.c_[np.ones(len(frame)), frame[["x", "z"]].to_numpy()]
    beta = penalised_multinomial(X, _codes(frame, ("banana", "apple", "cherry")), 3)
    flat = fit_map(frame, SIMULATED, reference="banana")
    result = fit_map(frame, SIMULATED, reference="banana", priors="weak")
    # the prior changes the fit beyond the tolerance (so this test can fail) ...
    assert np.max(np.abs(flat.map.coefficients - beta) / np.abs(beta)) > 1e-3
    # ... and the MAP is the penalised fit
    np.testing.assert_allclose(result.map.coefficients, beta, rtol=1e-7, atol=0)


def test_weak_prior_map_on_separated_iris_is_the_penalised_fit():
    """iris: setosa is separable, so there is no MLE and the weak prior alone bounds the
    fit along the separating direction (a SeparationWarning says so); the MAP is still the
    independent penalised fit to 1e-7 (measured 2.3e-15, coefficients up to 19)."""
    from sklearn.datasets import load_iris

    from lossbridge.core.errors import SeparationWarning

    iris = load_iris(as_frame=True)
    columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    frame = pd.DataFrame(iris.data.to_numpy(), columns=columns).assign(
        species=np.asarray(iris.target_names)[iris.target])
    beta = penalised_multinomial(np.c_[np.ones(150), frame[columns].to_numpy()],
                                 iris.target.to_numpy(), 3)
    with pytest.warns(SeparationWarning):
        result = fit_map(frame, "species ~ " + " + ".join(columns), priors="weak")
    np.testing.assert_allclose(result.map.coefficients, beta, rtol=1e-7, atol=0)


def test_weak_priors_are_described_per_term(simulated):
    design = build_design(load_table(simulated), SIMULATED, classes=True, reference="banana")
    weak = WeakPriors.from_design(design, CATEGORICAL)
    assert weak.blocks == 2 and weak.intercept_index == 0
    assert weak.intercept_sd == 2.5 and weak.intercept_mean == 0.0
    np.testing.assert_allclose(weak.coefficient_sd[1:],
                               2.5 / simulated[["x", "z"]].std(ddof=1).to_numpy(), rtol=1e-14)
    described = weak.describe(design.terms, None)
    assert list(described) == list(design.terms)
    for level in ("apple", "cherry"):
        assert described[f"Intercept[{level}]"] == (
            "Normal(0, 2.5) on the intercept at centred predictors")
        assert described[f"x[{level}]"] == f"Normal(0, {weak.coefficient_sd[1]:.4g})"
        assert described[f"z[{level}]"] == f"Normal(0, {weak.coefficient_sd[2]:.4g})"


def test_two_levels_are_the_logistic_regression_and_the_reference_only_flips_signs():
    """K = 2: one block of coefficients, kept as eta of shape (n, 1); the MAP is the
    Bernoulli-logit MLE (an independent solver, estimation/glm.py, on y coded 0/1), and
    choosing the other level as reference negates it while the data's hash is unchanged."""
    rng = np.random.default_rng(21)
    x = rng.normal(size=200)
    y = np.where(rng.random(200) < 1 / (1 + np.exp(-(0.4 + 1.1 * x))), "yes", "no")
    frame = pd.DataFrame({"x": x, "y": y})
    first = lossbridge.fit(frame, "y ~ x", likelihoods="categorical", sample=False)
    other = lossbridge.fit(frame, "y ~ x", likelihoods="categorical", reference="yes",
                           sample=False)
    binary = lossbridge.fit(frame.assign(y=(frame.y == "yes").astype(float)), "y ~ x",
                            likelihoods="bernoulli", sample=False)
    assert first.design.terms == ("Intercept[yes]", "x[yes]")
    assert first.fits[0].certified and other.fits[0].certified
    np.testing.assert_allclose(first.fits[0].map.coefficients,
                               binary.fits[0].map.coefficients, rtol=1e-10)
    np.testing.assert_allclose(other.fits[0].map.coefficients,
                               -binary.fits[0].map.coefficients, rtol=1e-10)
    assert first.design.y_hash == other.design.y_hash


def test_a_level_with_one_row_leaves_no_identified_refit_without_it():
    """Leaving out the only row of a level removes that level from the data: its
    coefficients have no MLE, so the exact LOO refit is refused (InputError, which the
    refit loop skips) instead of fitting a design with a level missing."""
    from lossbridge.core.errors import InputError

    rng = np.random.default_rng(3)
    x = rng.normal(size=120)
    y = np.where(rng.random(120) < 0.5, "a", "b").astype(object)
    y[5] = "z"
    design = build_design(load_table(pd.DataFrame({"x": x, "y": y})), "y ~ x", classes=True)
    assert design.classes == ("a", "b", "z")
    with pytest.raises(InputError, match="level 'z'.*no rows left"):
        design.without_rows([5])
    assert design.without_rows([6]).classes == design.classes  # other rows: refit as usual


def test_a_numeric_reference_names_the_level_as_the_design_writes_it():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"x": rng.normal(size=90), "y": rng.integers(1, 4, size=90)})
    by_number = lossbridge.fit(frame, "y ~ x", likelihoods="categorical", reference=2,
                               sample=False)
    by_text = lossbridge.fit(frame, "y ~ x", likelihoods="categorical", reference="2",
                             sample=False)
    assert by_number.design.classes == by_text.design.classes == ("2", "1", "3")
    np.testing.assert_array_equal(by_number.fits[0].map.coefficients,
                                  by_text.fits[0].map.coefficients)
