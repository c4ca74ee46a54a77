"""The exact cross-entropy, entropy and KL against a declared law (posterior/truth.py).

Every closed form is checked against the quadrature, the quadrature against Monte Carlo
(within 4 standard errors), the entropies against scipy's, the discrete sums against the
Poisson's closed-form KL; and the pipeline on simulated data ranks the matching family first.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from lossbridge.data.simulation import TAIL_MASS, NoiseLaw, check_law, simulate
from lossbridge.families.registry import get_family
from lossbridge.posterior.truth import (
    continuous_cross_entropy,
    discrete_cross_entropy,
    discrete_entropy,
    noise_entropy,
)

LAWS = [
    ("gaussian", {"sigma": 1.5}),
    ("laplace", {"b": 0.9}),
    ("student-t", {"nu": 3.0, "sigma": 1.2}),
    ("contaminated", {"eps": 0.1, "sigma": 1.0, "k": 5.0}),
    ("skewed", {"alpha": 4.0, "sigma": 2.0}),
]
# family, scale, shape keywords at a "MAP"
MODELS = [("normal", 1.3, {}), ("laplace", 1.1, {}), ("student", 0.9, {"nu": 4.5}),
          ("huber", 1.2, {}), ("quantile", 0.7, {})]
MU_TRUE = np.array([-1.0, 0.0, 0.5, 2.0, 3.0])
MU_HAT = np.array([-0.8, 0.3, 0.5, 1.6, 3.4])


def _law(name, params):
    return NoiseLaw(name, tuple(check_law(name, params).items()))


@pytest.mark.parametrize(("name", "params"), LAWS)
def test_entropy_against_scipy(name, params):
    law = _law(name, params)
    value, method, _ = noise_entropy(law)
    assert method == ("closed form" if name in ("gaussian", "laplace", "student-t") else "quadrature")
    if name == "contaminated":  # no scipy object: Monte Carlo, 4 standard errors
        rng = np.random.default_rng(1)
        e = law.noise().rvs(size=400_000, random_state=rng)
        values = -law.noise().logpdf(e)
        assert abs(value - values.mean()) < 4 * values.std() / math.sqrt(values.size)
    else:
        assert value == pytest.approx(float(law.noise().entropy()), rel=1e-8)


@pytest.mark.parametrize(("name", "params"), LAWS)
@pytest.mark.parametrize(("family_name", "scale", "shape"), MODELS)
def test_quadrature_against_monte_carlo(name, params, family_name, scale, shape):
    law, family = _law(name, params), get_family(family_name)
    value, error = continuous_cross_entropy(law, family, MU_TRUE, MU_HAT, scale, shape)
    assert error < 1e-6
    rng = np.random.default_rng(abs(hash((name, family_name))) % 2**32)
    m = 200_000
    rows = rng.integers(0, MU_TRUE.size, m)  # a uniformly drawn row: unbiased for the mean
    y = MU_TRUE[rows] + law.noise().rvs(size=m, random_state=rng)
    values = -family.logpdf(y, MU_HAT[rows], scale, **shape)
    se = values.std() / math.sqrt(m)
    assert abs(value - values.mean()) < 4 * se, (value, values.mean(), se)


@pytest.mark.parametrize(("name", "params"), LAWS)
def test_normal_closed_form_against_quadrature(name, params):
    law, family = _law(name, params), get_family("normal")
    closed = family.cross_entropy_closed_form(law, MU_TRUE - MU_HAT, 1.3)
    # and the formula written out: log(s sqrt(2 pi)) + (var + delta^2) / (2 s^2)
    direct = (np.log(1.3 * math.sqrt(2 * math.pi))
              + (law.noise().var() + (MU_TRUE - MU_HAT) ** 2) / (2 * 1.3**2))
    np.testing.assert_allclose(closed, direct, rtol=1e-12)
    value, error = continuous_cross_entropy(law, family, MU_TRUE, MU_HAT, 1.3, {})
    assert abs(float(np.mean(closed)) - value) <= max(10 * error, 1e-9)


@pytest.mark.parametrize(("name", "params"), LAWS[:2])
def test_laplace_closed_form_against_quadrature(name, params):
    law, family = _law(name, params), get_family("laplace")
    closed = family.cross_entropy_closed_form(law, MU_TRUE - MU_HAT, 1.1)
    value, error = continuous_cross_entropy(law, family, MU_TRUE, MU_HAT, 1.1, {})
    assert abs(float(np.mean(closed)) - value) <= max(10 * error, 1e-9)


def test_no_closed_form_where_there_is_none():
    assert get_family("laplace").cross_entropy_closed_form(
        _law("student-t", {"nu": 3.0}), MU_TRUE - MU_HAT, 1.0) is None
    # a t with nu <= 2 has no variance: the Normal's closed form does not apply
    assert get_family("normal").cross_entropy_closed_form(
        _law("student-t", {"nu": 2.0}), MU_TRUE - MU_HAT, 1.0) is None


def test_kl_of_the_true_model_is_zero():
    law = _law("student-t", {"nu": 3.0, "sigma": 1.2})
    value, error = continuous_cross_entropy(law, get_family("student"), MU_TRUE, MU_TRUE, 1.2,
                                            {"nu": 3.0})
    assert abs(value - noise_entropy(law)[0]) <= max(10 * error, 1e-9)


def test_poisson_sums_against_closed_form_kl_and_scipy():
    law = _law("poisson", {})
    lam = np.array([0.2, 1.0, 4.0, 30.0, 250.0])
    mu = np.array([0.3, 0.8, 5.0, 28.0, 260.0])
    entropy, bound = discrete_entropy(law, lam)
    assert bound == TAIL_MASS
    assert entropy == pytest.approx(float(np.mean(stats.poisson(lam).entropy())), rel=1e-10)
    cross, _ = discrete_cross_entropy(law, get_family("poisson"), lam, mu, 1.0, {})
    kl = np.mean(lam * np.log(lam / mu) - lam + mu)  # KL(Pois(lam) || Pois(mu))
    assert cross - entropy == pytest.approx(kl, rel=1e-9, abs=1e-12)


class _Bernoulli:
    """The Family contract's two hooks the truth uses, for a Bernoulli(mu) model."""

    def logpdf(self, y, mu, scale):
        return y * np.log(mu) + (1 - y) * np.log1p(-mu)


def test_logistic_sums_are_binary_cross_entropy():
    law = _law("logistic", {})
    p, q = np.array([0.1, 0.5, 0.9]), np.array([0.2, 0.4, 0.95])
    cross, bound = discrete_cross_entropy(law, _Bernoulli(), p, q, 1.0, {})
    assert bound is None
    assert cross == pytest.approx(np.mean(-p * np.log(q) - (1 - p) * np.log(1 - q)), rel=1e-12)
    entropy, _ = discrete_entropy(law, p)
    assert entropy == pytest.approx(np.mean(stats.bernoulli(p).entropy()), rel=1e-12)


# ---------------------------------------------------------------- the pipeline
FAMILIES4 = ["normal", "laplace", "student", "huber"]


def _fit(tmp_path, law, n=2000, **params):
    import lossbridge

    path = tmp_path / "d.csv"
    simulate(law, n=n, seed=20261201, **params).write(path)
    return lossbridge.fit(str(path), likelihoods=FAMILIES4 + ["quantile"], scales="learned",
                          sample=False)


@pytest.mark.slow
@pytest.mark.parametrize(("law", "params", "best"), [
    ("gaussian", {"sigma": 1.0}, "normal-learned"),
    ("laplace", {"b": 1.0}, "laplace-learned"),
    ("student-t", {"nu": 3.0, "sigma": 1.0}, "student-learned"),
])
def test_matching_family_has_the_smallest_kl(tmp_path, law, params, best):
    analysis = _fit(tmp_path, law, **params)
    truth = analysis.truth
    assert truth is not None and "found beside the data" in truth.source
    assert truth.closest == best
    for row in truth.rows:
        assert row.kl is not None and row.kl > -1e-9, row  # KL >= 0 within quadrature
    quantile = [r for r in truth.rows if r.group == "not ranked"]
    assert quantile and quantile[0].note and quantile[0] not in truth.ranked
    document = analysis.to_dict()["truth"]
    assert document["closest"] == best and len(document["models"]) == 5
    assert "Truth:" in analysis.summary()


def test_truth_none_and_explicit_path(tmp_path):
    import lossbridge

    path = tmp_path / "d.csv"
    simulate("poisson", n=300, seed=4, beta=(0.5, 0.3)).write(path)
    off = lossbridge.fit(str(path), "y ~ x1", likelihoods="poisson", sample=False, truth="none")
    assert off.truth is None and off.to_dict()["truth"] is None
    moved = tmp_path / "law.json"
    (tmp_path / "d.law.json").rename(moved)
    on = lossbridge.fit(str(path), likelihoods=["poisson", "normal"], scales="learned",
                        sample=False, truth=str(moved))
    rows = {r.model: r for r in on.truth.rows}
    assert rows["normal-learned"].group == "not comparable"
    poisson = rows["poisson"]
    assert poisson.method.startswith("summation") and poisson.kl >= 0
    # the fit is close to the truth: KL of order k/(2n)
    assert poisson.kl < 0.05


@pytest.mark.slow
def test_sampled_run_shows_loo_beside_the_truth(tmp_path):
    import lossbridge

    path = tmp_path / "d.csv"
    simulate("gaussian", n=300, seed=5).write(path)
    analysis = lossbridge.fit(str(path), likelihoods=["normal", "laplace"], scales="learned",
                              draws=200, tune=200, chains=2, cores=1, seed=1)
    for row in analysis.truth.rows:
        assert row.loo is not None and row.loo_se > 0
        # -elpd_loo/n estimates the cross-entropy: within 4 of its standard errors
        assert abs(row.loo - row.cross_entropy) < 4 * row.loo_se, row
    assert "-elpd_loo/n" in analysis.summary()


# ---------------------------------------------------------------- infinite cross-entropies
@pytest.mark.parametrize("nu", [0.5, 1.5])
def test_infinite_moment_matches_scipys_moments(nu):
    """-log f grows like e² (Normal), |e| (Laplace, Huber, quantile) or log|e| (Student-t):
    H = ∞ exactly where scipy's t(nu) has no variance / no mean."""
    from lossbridge.posterior.truth import infinite_moment

    law = _law("student-t", {"nu": nu, "sigma": 1.0})
    no_variance = not np.isfinite(stats.t(nu).var())
    no_mean = not np.isfinite(stats.t(nu).mean())
    assert no_variance  # both nu here
    assert no_mean == (nu <= 1)
    assert infinite_moment(law, get_family("normal")).startswith("E e² = ∞")
    for name in ("laplace", "huber", "quantile"):
        reason = infinite_moment(law, get_family(name))
        assert (reason is not None) == no_mean, name
        if no_mean:
            assert reason.startswith("E|e| = ∞") and "nu=0.5" in reason
    assert infinite_moment(law, get_family("student")) is None
    for name, params in LAWS:  # every other law, and a t(3), has both moments
        for family in ("normal", "laplace", "huber", "quantile", "student"):
            assert infinite_moment(_law(name, params), get_family(family)) is None


@pytest.mark.parametrize(("nu", "infinite"), [
    (0.5, {"normal", "laplace", "huber", "quantile"}),
    (1.5, {"normal"}),
])
def test_infinite_kl_is_reported_and_never_closest(tmp_path, nu, infinite):
    import lossbridge

    path = tmp_path / "t.csv"
    simulate("student-t", n=300, seed=5, nu=nu).write(path)
    analysis = lossbridge.fit(str(path), likelihoods=["normal", "laplace", "huber", "student",
                                                      "quantile"], scales="learned",
                              sample=False)
    truth = analysis.truth
    rows = {r.model.split("-")[0].split("(")[0]: r for r in truth.rows}  # by family
    assert {m for m, r in rows.items() if r.kl == math.inf} == infinite
    for family in infinite:
        row = rows[family]
        assert row.cross_entropy == math.inf and row.method == "infinite"
        assert row.note.startswith("infinite: E") and f"nu={nu:g}" in row.note
        assert row not in truth.ranked
    assert truth.closest == "student-learned"
    assert all(math.isfinite(r.kl) for r in truth.ranked)
    text = analysis.summary()
    assert "no (KL = ∞)" in text and "E e² = ∞" in text
    # JSON: no infinities (they become null); the note says why
    import json

    from lossbridge.core.jsonio import dumps

    document = json.loads(dumps(analysis.to_dict()))["truth"]
    models = {m["model"]: m for m in document["models"]}
    assert models["normal-learned"]["kl"] is None
    assert "E e² = ∞" in models["normal-learned"]["note"]
    assert not models["normal-learned"]["ranked"] and models["student-learned"]["ranked"]
    from lossbridge.present.report import render_html

    html = render_html(analysis)
    assert "no: see the note" in html and "E e² = ∞" in html


# ---------------------------------------------------------------- discrete sums at scale
def test_poisson_windows_are_per_row_and_leave_out_at_most_tau():
    law = _law("poisson", {})
    lam = np.array([0.01, 1.0, 40.0, 1e4, 1.2e6])
    lo, hi, tail = law.window(lam)
    assert tail == TAIL_MASS
    left_out = stats.poisson.cdf(lo - 1, lam) + stats.poisson.sf(hi, lam)  # scipy's tails
    assert np.all(left_out <= TAIL_MASS)
    # each row's own window: about 2·8·sqrt(lam) wide (z = 8.03 at 5e-16), not the widest's
    assert hi[0] - lo[0] + 1 == 7 and lo[-1] > 1.1e6  # P(y > 5 | 0.01) = 1.4e-15 > tau/2
    assert np.all(hi - lo + 1 <= 20 * np.sqrt(lam) + 10)


def test_chunked_sums_match_closed_form_kl_for_large_means(monkeypatch):
    import lossbridge.posterior.truth as truth

    law = _law("poisson", {})
    lam = np.array([0.5, 3.0, 1e3, 1.2e6])  # the reviewer's case reached 1.2e6
    mu = lam * np.array([1.1, 0.9, 1.02, 0.999])
    results = []
    for chunk in (truth.CHUNK, 7):  # 7: every block splits rows, many blocks
        monkeypatch.setattr(truth, "CHUNK", chunk)
        entropy, _ = discrete_entropy(law, lam)
        cross, _ = discrete_cross_entropy(law, get_family("poisson"), lam, mu, 1.0, {})
        results.append((entropy, cross))
        if chunk == 7:
            break
    assert results[0] == pytest.approx(results[1], rel=1e-13)
    entropy, cross = results[0]
    # reference: a dense sum over 0..lam + 40 sqrt(lam) + 50 per row (scipy's entropy()
    # does not converge at 1.2e6)
    dense = []
    for m in lam:
        logp = stats.poisson.logpmf(np.arange(int(m + 40 * np.sqrt(m) + 50)), m)
        dense.append(-np.sum(np.exp(logp) * logp))
    assert entropy == pytest.approx(float(np.mean(dense)), rel=1e-12)
    kl = np.mean(lam * np.log(lam / mu) - lam + mu)
    # the sums' rounding: ~1e-16 relative on each of ~4e4 terms of size ~H = 8
    assert cross - entropy == pytest.approx(kl, rel=1e-6, abs=1e-9)


def test_discrete_truth_labels_tail_mass_and_refuses_huge_supports(tmp_path, monkeypatch):
    import lossbridge
    import lossbridge.posterior.truth as truth

    path = tmp_path / "d.csv"
    simulate("poisson", n=60, seed=4, beta=(0.5, 0.3)).write(path)
    on = lossbridge.fit(str(path), likelihoods="poisson", sample=False)
    row = on.truth.rows[0]
    assert "tail mass <= 1e-15 per row" in row.method and row.error is None
    assert on.truth.entropy_error is None and "tail mass" in on.truth.entropy_method
    monkeypatch.setattr(truth, "MAX_PAIRS", 10)
    off = lossbridge.fit(str(path), likelihoods="poisson", sample=False)
    row = off.truth.rows[0]
    assert row.kl is None and row.note.startswith("not computed") and off.truth.closest is None
