"""Names that cannot clash: data columns called like the model's own parameters.

A predictor may be called ``b`` or ``sigma`` (the likelihood scales), ``beta``,
``theta``, ``y``... (the PyMC variables): its coefficient must keep its key in every
table, the JSON and the report, and the numbers must be those of the same data under
a neutral name. A column called ``Intercept`` is refused (formulaic would let it
replace the constant).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import lossbridge
from lossbridge.core.errors import InputError
from lossbridge.core.jsonio import dumps
from lossbridge.core.labels import scale_label
from lossbridge.data.design import build_design
from lossbridge.data.tables import load_table
from lossbridge.interfaces.cli import main


@pytest.fixture(scope="module")
def engel() -> pd.DataFrame:
    return load_table("engel").frame[["foodexp", "income"]]


@pytest.fixture(scope="module")
def plain(engel) -> lossbridge.Analysis:
    return lossbridge.fit(engel, "foodexp ~ income", sample=False)


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", ["b", "sigma"])
def test_predictor_named_like_a_scale_keeps_its_coefficient(engel, plain, name):
    renamed = lossbridge.fit(engel.rename(columns={"income": name}), f"foodexp ~ {name}",
                             sample=False)
    table = renamed.coefficients()
    expected = plain.coefficients()
    # Same arrays in, same arithmetic: the numbers are identical; only the row name differs.
    assert list(table.index) == ["Intercept", name, scale_label("sigma"), scale_label("b")]
    assert table.index.is_unique
    np.testing.assert_array_equal(table.loc[name].to_numpy(), expected.loc["income"].to_numpy())
    np.testing.assert_array_equal(table.iloc[2:].to_numpy(), expected.iloc[2:].to_numpy())
    # Against an independent solver: statsmodels OLS (Engel's X is well conditioned,
    # cond ~ 3e3, so 1e-10 is far above rounding).
    ols = sm.OLS(engel["foodexp"], sm.add_constant(engel["income"])).fit()
    assert table.loc[name, "OLS"] == pytest.approx(ols.params["income"], rel=1e-10)
    assert table.loc[scale_label("sigma"), "normal-learned"] == pytest.approx(
        np.sqrt(ols.ssr / len(engel)), rel=1e-10)
    lad = renamed.fit_for("laplace-learned")
    sad = float(np.sum(np.abs(renamed.design.y - renamed.design.X @ lad.baseline.coefficients)))
    assert table.loc[scale_label("b"), "laplace-learned"] == pytest.approx(sad / len(engel), rel=1e-12)
    assert table.loc[name, "laplace-learned"] == lad.map.coefficients[1]
    # JSON: coefficients by term under "map", the scale under "map_scale".
    doc = json.loads(dumps(renamed.to_dict()))
    for fit, result in zip(doc["fits"], renamed.fits, strict=True):
        assert fit["map"] == {"Intercept": result.map.coefficients[0], name: result.map.coefficients[1]}
        assert fit["map_scale"] == {"name": result.spec.family.scale_name, "value": result.map.scale}
        priors = doc["options"]["prior_details"][fit["model"]]
        assert set(priors) == {"Intercept", name, scale_label(result.spec.family.scale_name)}
        assert priors[name] == "flat (improper uniform)"


def test_cli_json_keeps_a_coefficient_named_b(capsys, engel, plain, tmp_path):
    path = tmp_path / "engel_b.csv"
    engel.rename(columns={"income": "b"}).to_csv(path, index=False)
    code, out, err = run_cli(capsys, "fit", str(path), "--formula", "foodexp ~ b", "--json",
                             "--no-sample", "--seed", "1")
    assert code == 0, err
    doc = json.loads(out)
    reference = json.loads(dumps(plain.to_dict()))  # the same data, column called income
    for fit, ref in zip(doc["fits"], reference["fits"], strict=True):
        assert fit["map"] == {"Intercept": ref["map"]["Intercept"], "b": ref["map"]["income"]}
        assert fit["map_scale"] == ref["map_scale"]
        assert fit["baseline"]["coefficients"]["b"] == ref["baseline"]["coefficients"]["income"]
    laplace = next(f for f in doc["fits"] if f["model"] == "laplace-learned")
    assert laplace["map_scale"]["name"] == "b"
    assert laplace["map"]["b"] != laplace["map_scale"]["value"]  # 0.56 versus 74.7


# Every name the PyMC models and the InferenceData use internally (models/reference.py,
# models/joint.py, arviz_bridge.py), as data columns.
INTERNAL = ["beta", "theta", "mu", "y_obs", "y_observed", "sigma", "b", "rotated_design",
            "beta_from_theta", "y_scale", "term", "obs_id", "loglik", "z", "v", "chain", "draw"]


# The sampled test uses a few (each model's cost grows with k).
SAMPLED = ["beta", "theta", "sigma", "b", "y_observed", "term"]


def internal_frame(names: list[str], n: int) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    X = rng.normal(size=(n, len(names)))
    y = 1.0 + X @ np.linspace(-1, 1, len(names)) + rng.normal(size=n)
    return pd.DataFrame({"y": y, **{name: X[:, j] for j, name in enumerate(names)}})


def neutral(frame: pd.DataFrame, names: list[str]) -> tuple[pd.DataFrame, str]:
    renamed = frame.rename(columns={name: f"x{j}" for j, name in enumerate(names)})
    return renamed, "y ~ " + " + ".join(f"x{j}" for j in range(len(names)))


@pytest.mark.slow
def test_internal_model_names_as_columns_change_nothing():
    frame = internal_frame(INTERNAL, 60)
    named = lossbridge.fit(frame, "y ~ " + " + ".join(INTERNAL), scales="learned", sample=False)
    reference = lossbridge.fit(*neutral(frame, INTERNAL), scales="learned", sample=False)
    assert named.design.terms == ("Intercept", *INTERNAL)
    assert named.all_certified
    np.testing.assert_array_equal(named.coefficients().to_numpy(), reference.coefficients().to_numpy())
    for a, b in zip(named.fits, reference.fits, strict=True):
        np.testing.assert_array_equal(a.map.coefficients, b.map.coefficients)


@pytest.mark.slow
def test_internal_model_names_survive_sampling_save_and_report(tmp_path):
    """Sampled: summary, oracle, JSON, netCDF and report keep every term apart from the scale."""
    frame = internal_frame(SAMPLED, 200)
    formula = "y ~ " + " + ".join(SAMPLED)
    analysis = lossbridge.fit(frame, formula, draws=200, tune=200, chains=2, cores=1, seed=3,
                              progress=False)
    terms = ["Intercept", *SAMPLED]
    for result in analysis.fits:
        summary = result.posterior.summary
        scale = result.spec.family.scale_name
        learned = result.spec.scale == "learned"
        assert list(summary.index) == terms + ([scale_label(scale)] if learned else [])
        # The row called "sigma" is the coefficient of the column sigma: the mean of beta's draws.
        beta = result.posterior.draws.flat_beta
        np.testing.assert_allclose(summary.loc[terms, "mean"], beta.mean(axis=0), rtol=1e-12)
        if learned:
            assert summary.loc[scale_label(scale), "mean"] == pytest.approx(
                result.posterior.draws.flat_scale.mean(), rel=1e-12)
        if result.posterior.oracle is not None:
            expected = terms + ([scale_label("sigma")] if learned else [])
            assert list(result.posterior.oracle.parameters) == expected
    doc = json.loads(dumps(analysis.to_dict()))
    for fit in doc["fits"]:
        assert list(fit["posterior"]) == terms
        assert (fit["posterior_scale"] is None) == (fit["scale"] == "fixed")
    saved = lossbridge.load(analysis.save(tmp_path / "saved"))
    idata = saved.posteriors["normal-learned"]
    assert list(idata.posterior["beta"].coords["term"].values) == terms
    np.testing.assert_allclose(idata.posterior["beta"].sel(term="sigma").values.mean(),
                               analysis.fit_for("normal-learned").posterior.summary.loc["sigma", "mean"],
                               rtol=1e-12)
    html = analysis.to_html(tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<code>scale: sigma</code>" in html and "<code>scale: b</code>" in html


@pytest.mark.parametrize("formula", ["y ~ Intercept", "y ~ x + Intercept", "y ~ 0 + Intercept",
                                     "y ~ np.log(Intercept)", "y ~ `Intercept`"])
def test_a_column_named_intercept_is_refused(formula):
    frame = pd.DataFrame({"y": [1.0, 2, 3, 5, 4, 6], "x": [1.0, 0, 2, 1, 3, 2],
                          "Intercept": [3.0, 1, 4, 1, 5, 9]})
    with pytest.raises(InputError, match="column 'Intercept' used in formula .* has the name of "
                                         "the constant term.*rename the column") as info:
        build_design(load_table(frame), formula)
    assert "\n" not in str(info.value)
    # Unused, it is harmless: the constant keeps its name and is a column of ones.
    d = build_design(load_table(frame), "y ~ x")
    assert d.terms == ("Intercept", "x") and np.all(d.X[:, 0] == 1.0)


def test_cli_refuses_a_column_named_intercept(capsys, tmp_path):
    path = tmp_path / "intercept.csv"
    path.write_text("y,Intercept\n1,3\n2,1\n3,4\n5,1\n4,5\n6,9\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "fit", str(path), "--formula", "y ~ Intercept", "--no-sample")
    assert code == 2 and out == ""
    assert "column 'Intercept'" in err and len(err.strip().splitlines()) == 1


def test_a_term_named_like_a_scale_row_is_refused():
    frame = pd.DataFrame({"y": [1.0, 2, 3, 5, 4, 6], "scale: b": [1.0, 0, 2, 1, 3, 2]})
    with pytest.raises(InputError, match="term 'scale: b' .* labels the likelihood's scale"):
        build_design(load_table(frame), "y ~ `scale: b`")
