"""The Student-t likelihood through lossbridge.fit and the CLI: certified MAPs (nu learned,
nu = 4, nu = 1 the Cauchy), nu in the JSON with its prior, errors, and one sampled run
with nu in the posterior summary and LOO."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import lossbridge
from lossbridge.core.errors import InputError
from lossbridge.interfaces.cli import main


@pytest.mark.parametrize("nu", [None, 4.0, 1.0])
def test_engel_student_maps_are_certified(nu):
    with warnings.catch_warnings():
        warnings.simplefilter("error", lossbridge.CertificateWarning)
        analysis = lossbridge.fit("engel", likelihoods=["normal", "student"], nu=nu, sample=False)
    fits = {f.spec.name: f for f in analysis.fits}
    label = "student" if nu is None else f"student(nu={nu:g})"
    for mode in ("learned", "fixed"):
        result = fits[f"{label}-{mode}"]
        assert result.certified, result.certificate.explanation
        # MAP against the best EM optimum: 1e-8 relative is the contract (measured ~1e-15)
        assert result.certificate.max_relative_coefficient_difference <= 1e-8
        assert result.nll.matches_pymc
    record = next(f for f in analysis.to_dict()["fits"] if f["model"] == f"{label}-learned")
    assert record["family"] == {"name": "student", "nu": nu}
    if nu is None:
        assert record["map_shape"]["nu"]["prior"] == "Gamma(2, 0.1)"
        assert record["map_shape"]["nu"]["value"] == pytest.approx(
            record["certificate"]["shape_exact"]["nu"], rel=1e-8)
        assert "posterior mode" in record["map_method"]
        assert "Gamma(2, 0.1)" in analysis.options["prior_details"]["student-learned"]["shape: nu"]
    else:
        assert record["map_shape"] is None
    # the fixed-scale model is certified against EM at that scale, not the learned one
    fixed = fits[f"{label}-fixed"].certificate.reference
    assert fixed.scale_fixed and fixed.scale == fits[f"{label}-fixed"].spec.fixed_scale


@pytest.mark.parametrize("nu", [None, 4.0])
def test_longley_student_map_is_certified(nu):
    """Longley (cond(X) ~ 1e15 before scaling): EM works in the rotated coordinates, and a
    learned nu's starts that run to sigma -> 0 (16 rows, 7 coefficients: elemental fits are
    exact, where the t likelihood is unbounded) are left out rather than taken as the fit."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", lossbridge.CertificateWarning)
        analysis = lossbridge.fit("longley", likelihoods=["student"], nu=nu, scales="learned",
                                  sample=False)
    certificate = analysis.fits[0].certificate
    assert certificate.certified, certificate.explanation
    assert certificate.max_relative_coefficient_difference <= 1e-8


def test_bad_nu_is_one_line_exit_2(capsys):
    with pytest.raises(InputError, match="nu must be a number in"):
        lossbridge.fit("engel", likelihoods=["student"], nu=-1.0, sample=False)
    code = main(["fit", "engel", "--likelihood", "student", "--nu", "-1", "--no-sample"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "nu" in err, err
    code = main(["fit", "engel", "--likelihood", "normal", "--nu", "4", "--no-sample"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err


@pytest.mark.slow
def test_sampled_run_has_nu_in_the_posterior_and_loo(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny draws: ESS and misfit warnings are expected
        analysis = lossbridge.fit("engel", likelihoods=["normal", "student"], scales="learned",
                                  draws=200, tune=200, chains=2, cores=1, seed=3, progress=False)
    record = next(f for f in analysis.to_dict()["fits"] if f["model"] == "student-learned")
    nu = record["posterior_shape"]["nu"]
    assert nu["hdi_low"] < record["map_shape"]["nu"]["value"] < nu["hdi_high"]
    assert np.isfinite(nu["r_hat"]) and nu["ess_bulk"] > 50
    assert record["loo"]["estimator"].startswith("PSIS")
    assert np.isfinite(record["loo"]["elpd_loo"])
    draws = analysis.fits[[f.spec.name for f in analysis.fits].index("student-learned")].posterior.draws
    assert draws.shape["nu"].shape == (2, 200)
    analysis.to_html(tmp_path / "report.html")  # the report renders a learned nu's model
    assert (tmp_path / "report.html").stat().st_size > 0
