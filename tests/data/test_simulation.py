"""lossbridge simulate: the laws' samplers (KS / chi-square), their entropies, the files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate, stats

from lossbridge.core.errors import InputError
from lossbridge.data.simulation import (
    LAW_PARAMETERS,
    NoiseLaw,
    check_law,
    read_sidecar,
    sidecar_path,
    simulate,
    write_simulation,
)

CONTINUOUS = [
    ("gaussian", {"sigma": 1.7}),
    ("laplace", {"b": 0.8}),
    ("student-t", {"nu": 3.0, "sigma": 1.3}),
    ("contaminated", {"eps": 0.1, "sigma": 1.0, "k": 5.0}),
    ("skewed", {"alpha": 4.0, "sigma": 2.0}),
]


def _law(name, params):
    return NoiseLaw(name, tuple(check_law(name, params).items()))


@pytest.mark.parametrize(("name", "params"), CONTINUOUS)
def test_noise_sampler_follows_its_law_by_ks(name, params):
    # beta = (0,): no predictors, y is the noise itself.
    sim = simulate(name, n=5000, seed=11, beta=(0.0,), **params)
    law = sim.law
    # The law's cdf, written independently of the sampler for the mixture.
    if name == "contaminated":
        p = law.params

        def cdf(x):
            return ((1 - p["eps"]) * stats.norm.cdf(x, scale=p["sigma"])
                    + p["eps"] * stats.norm.cdf(x, scale=p["k"] * p["sigma"]))
    else:
        cdf = law.noise().cdf
    assert stats.kstest(np.asarray(sim.columns["y"]), cdf).pvalue > 1e-3


def test_skewed_noise_is_centred_at_its_mean():
    law = _law("skewed", {"alpha": 4.0, "sigma": 2.0})
    mean = integrate.quad(lambda e: e * law.noise().pdf(e), -np.inf, np.inf)[0]
    assert abs(mean) < 1e-9
    assert law.noise().median() < 0  # right-skewed: mean convention, not median


@pytest.mark.parametrize(("name", "params"), CONTINUOUS)
def test_variance_against_quadrature(name, params):
    law = _law(name, params)
    second = integrate.quad(lambda e: e * e * law.noise().pdf(e), -np.inf, np.inf, limit=500)[0]
    if math.isinf(law.variance()):
        return
    assert law.variance() == pytest.approx(second, rel=1e-8)


@pytest.mark.parametrize(("name", "params"), CONTINUOUS[:3])
def test_closed_form_entropies_against_quadrature_and_scipy(name, params):
    law = _law(name, params)
    noise = law.noise()

    def integrand(e):  # 0 log 0 = 0 where the density underflows
        density = noise.pdf(e)
        return 0.0 if density == 0 else -density * noise.logpdf(e)

    quad = sum(integrate.quad(integrand, a, b, limit=500)[0] for a, b in ((-np.inf, 0), (0, np.inf)))
    assert law.entropy() == pytest.approx(quad, rel=1e-9)
    assert law.entropy() == pytest.approx(float(noise.entropy()), rel=1e-9)


def test_logistic_and_poisson_samplers():
    sim = simulate("logistic", n=4000, seed=3, beta=(0.4,))
    y = np.asarray(sim.columns["y"])
    assert set(np.unique(y)) <= {0, 1}
    p = 1 / (1 + math.exp(-0.4))
    assert stats.binomtest(int(y.sum()), y.size, p).pvalue > 1e-3
    sim = simulate("poisson", n=4000, seed=3, beta=(math.log(3.0),))
    y = np.asarray(sim.columns["y"])
    counts = np.bincount(y, minlength=12)[:12]
    expected = stats.poisson.pmf(np.arange(12), 3.0) * y.size
    observed = np.append(counts[:11], y.size - counts[:11].sum())
    expected = np.append(expected[:11], y.size - expected[:11].sum())
    assert stats.chisquare(observed, expected).pvalue > 1e-3


def test_same_seed_same_bytes(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        simulate("student-t", n=50, seed=7, beta="1,2,-0.5", nu=4).write(tmp_path / folder / "d.csv")
    for name in ("d.csv", "d.law.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    simulate("student-t", n=50, seed=8, beta="1,2,-0.5", nu=4).write(tmp_path / "c.csv")
    assert (tmp_path / "c.csv").read_bytes() != (tmp_path / "a" / "d.csv").read_bytes()


def test_sidecar_records_the_law(tmp_path):
    sim = simulate("contaminated", n=30, seed=5, beta=(1, 2, 3), predictors="uniform", eps=0.2)
    out, side = write_simulation(sim, tmp_path / "x.csv")
    assert side == tmp_path / "x.law.json" == sidecar_path(out)
    content = read_sidecar(side)
    assert content["law"] == {"name": "contaminated", "eps": 0.2, "sigma": 1.0, "k": 5.0}
    assert content["beta"] == {"Intercept": 1.0, "x1": 2.0, "x2": 3.0}
    assert content["seed"] == 5 and content["n"] == 30 and content["formula"] == "y ~ x1 + x2"
    assert "lossbridge_version" in content
    lines = out.read_text().splitlines()
    assert lines[0] == "x1,x2,y" and len(lines) == 31
    x = np.loadtxt(out, delimiter=",", skiprows=1)
    assert np.all(np.abs(x[:, :2]) <= 1)
    # the CSV round-trips the floats exactly
    assert np.array_equal(x[:, 2], np.asarray(sim.columns["y"]))


def test_a_seed_is_drawn_and_recorded():
    a, b = simulate("gaussian", n=5), simulate("gaussian", n=5)
    assert isinstance(a.seed, int) and a.seed != b.seed
    again = simulate("gaussian", n=5, seed=a.seed)
    assert again.csv() == a.csv()


@pytest.mark.parametrize(("law", "params", "word"), [
    ("cauchy", {}, "--law"),
    ("gaussian", {"sigma": -1.0}, "--sigma"),
    ("gaussian", {"sigma": 0.0}, "--sigma"),
    ("laplace", {"b": -2.0}, "--b"),
    ("student-t", {"nu": 0.0}, "--nu"),
    ("contaminated", {"eps": 1.5}, "--eps"),
    ("contaminated", {"eps": -0.1}, "--eps"),
    ("laplace", {"nu": 3.0}, "--nu"),
    ("poisson", {"sigma": 1.0}, "--sigma"),
    ("gaussian", {"sigma": math.nan}, "--sigma"),
])
def test_bad_laws_are_one_line_errors(law, params, word):
    with pytest.raises(InputError, match=word) as info:
        simulate(law, n=10, seed=1, **params)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("kwargs", "word"), [
    ({"n": 1}, "--n"), ({"n": 2.5}, "--n"), ({"beta": "1,a"}, "--beta"),
    ({"predictors": "cauchy"}, "--predictors"), ({"seed": -1}, "--seed"),
])
def test_bad_options(kwargs, word):
    with pytest.raises(InputError, match=word):
        simulate("gaussian", **{"n": 10, "seed": 1, **kwargs})


def test_every_law_is_listed_with_defaults():
    for name, params in LAW_PARAMETERS.items():
        assert simulate(name, n=3, seed=1).law.params == params


def test_output_must_be_a_regular_file(tmp_path):
    with pytest.raises(InputError, match="directory"):
        write_simulation(simulate("gaussian", n=3, seed=1), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_bad_sidecars(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"kind": "other"}))
    with pytest.raises(InputError, match="not a lossbridge simulation sidecar"):
        read_sidecar(tmp_path / "a.json")
    with pytest.raises(InputError, match="no such file"):
        read_sidecar(tmp_path / "missing.json")
    (tmp_path / "b.json").write_text(json.dumps({"kind": "lossbridge simulation",
                                                 "law": {"name": "gaussian", "sigma": -1},
                                                 "beta": {}}))
    with pytest.raises(InputError, match="--sigma"):
        read_sidecar(tmp_path / "b.json")


def test_sidecar_with_bad_beta_or_path(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"kind": "lossbridge simulation",
                                                 "law": {"name": "gaussian"},
                                                 "beta": {"Intercept": "one"}}))
    with pytest.raises(InputError, match="beta"):
        read_sidecar(tmp_path / "c.json")
    with pytest.raises(InputError, match="not a readable JSON file"):
        read_sidecar("a\x00b")
    with pytest.raises(InputError, match="not a readable JSON file"):
        read_sidecar(tmp_path)


def test_sidecar_records_n_and_the_hash_of_y(tmp_path):
    import hashlib

    from lossbridge.data.design import y_hash

    for law in ("student-t", "poisson"):
        out, side = simulate(law, n=40, seed=3).write(tmp_path / f"{law}.csv")
        content = read_sidecar(side)
        y = np.loadtxt(out, delimiter=",", skiprows=1)[:, -1]
        # independent: sha256 of the CSV's y as little-endian float64, first 16 hex digits
        expected = hashlib.sha256(y.astype("<f8").tobytes()).hexdigest()[:16]
        assert content["y_hash"] == expected == y_hash(y) and content["n"] == 40
