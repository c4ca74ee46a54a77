"""The exact LAD vertex polish and its dual certificate."""

from __future__ import annotations

import numpy as np
import pytest

from lossbridge.core.rounding import loss_error_bound
from lossbridge.estimation.lad import (
    GLOBBING_MIN_ROWS,
    dual_certificate,
    exact_lad_vertex,
    globbing_subsample_size,
    polish_to_vertex,
    solve_lad_lp,
)


def random_problem(n, k, seed, ties=False):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, k - 1))])
    if ties:  # integer data: many tied residuals, degenerate vertices
        X[:, 1:] = np.round(X[:, 1:] * 2)
    y = X @ np.arange(1.0, k + 1) + rng.laplace(size=n)
    if ties:
        y = np.round(y)
    return X, y


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ties", [False, True])
def test_polish_from_any_start_reaches_the_lp_optimum(seed, ties):
    X, y = random_problem(300, 4, seed, ties)
    beta_lp, _ = solve_lad_lp(X, y, "primal")
    sad_lp = np.sum(np.abs(y - X @ beta_lp))
    starts = [np.zeros(4), np.linalg.lstsq(X, y, rcond=None)[0], np.full(4, 50.0)]
    for start in starts:
        vertex = polish_to_vertex(X, y, start)
        cert = vertex.certificate
        assert cert.holds, cert
        # Same optimum as HiGHS: the objective equal to rounding (HiGHS tolerance 1e-7 on beta).
        assert cert.sad == pytest.approx(sad_lp, rel=1e-9)
        if cert.unique:
            np.testing.assert_allclose(vertex.coefficients, beta_lp, rtol=1e-7, atol=1e-9)
        # A vertex: k residuals exactly zero by construction (X_B beta = y_B).
        np.testing.assert_allclose(X[vertex.basis] @ vertex.coefficients, y[vertex.basis],
                                   rtol=1e-12, atol=1e-12)


def test_certificate_rejects_a_non_optimal_point():
    X, y = random_problem(200, 3, 11)
    vertex = polish_to_vertex(X, y, np.zeros(3))
    off = vertex.coefficients + np.array([0.0, 0.05, 0.0])
    cert = dual_certificate(X, y, off, vertex.dual, unique=True)
    assert not cert.holds  # the duality gap is positive away from the optimum
    assert cert.relative_gap > 1e-4


def test_dual_vector_is_a_subgradient_certificate():
    X, y = random_problem(500, 5, 2)
    vertex = polish_to_vertex(X, y, np.zeros(5))
    d, beta = vertex.dual, vertex.coefficients
    r = y - X @ beta
    off_basis = np.setdiff1d(np.arange(500), vertex.basis)
    # d_i = sign(r_i) off the basis, |d_i| <= 1 on it, X'd = 0, y'd = SAD.
    np.testing.assert_array_equal(d[off_basis], np.sign(r[off_basis]))
    assert np.max(np.abs(d)) <= 1 + 1e-9
    np.testing.assert_allclose(X.T @ d, 0, atol=1e-9 * np.linalg.norm(X, axis=0).max())
    assert y @ d == pytest.approx(np.sum(np.abs(r)), rel=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("ties", [False, True])
def test_globbing_path_reaches_the_highs_optimum_at_large_n(ties):
    # n above GLOBBING_MIN_ROWS: Portnoy-Koenker globbing, then the dual certificate on all rows.
    X, y = random_problem(60_000, 4, 7, ties)
    assert globbing_subsample_size(*X.shape) is not None
    vertex = exact_lad_vertex(X, y)
    assert vertex.certificate.holds, vertex.certificate
    beta_lp, _ = solve_lad_lp(X, y, "dual")  # HiGHS, an independent exact solver
    sad_lp = float(np.sum(np.abs(y - X @ beta_lp)))
    # Equal objectives within the rounding bound of evaluating both SADs (HiGHS' own
    # feasibility tolerance can only make its objective larger, never smaller).
    bound = loss_error_bound(X, y, vertex.coefficients, "SAD") + loss_error_bound(X, y, beta_lp, "SAD")
    assert vertex.certificate.sad <= sad_lp + bound
    assert sad_lp - vertex.certificate.sad <= 1e-9 * sad_lp
    if vertex.certificate.unique:
        np.testing.assert_allclose(vertex.coefficients, beta_lp, rtol=1e-6, atol=1e-8)


def test_globbing_only_where_the_subsample_is_small():
    # m = ((k + 1) n)^(2/3), Portnoy and Koenker (1997), section 4.
    assert globbing_subsample_size(GLOBBING_MIN_ROWS, 4) is None
    assert globbing_subsample_size(60_000, 4) == int((5 * 60_000) ** (2 / 3))
    # Many columns: the subsample would exceed half the rows, so plain simplex pivots run
    # (this used to raise inside numpy's choice without replacement when m > n).
    assert int((224 * 50_001) ** (2 / 3)) > 50_001
    assert globbing_subsample_size(50_001, 223) is None


def test_raw_year_polynomial_lad_is_certified_and_optimal():
    """A quartic in a raw year column (cond ~2.5e9 after column scaling): every vertex basis
    of X is far worse conditioned than X, which left the LAD uncertified (or HiGHS
    failing). The fit is made on the QR-rotated design and judged by the dual on X; its
    SAD must equal HiGHS' on the centred, scaled basis of the same column space (a
    well-conditioned LP), within the certificate's own rounding bound."""
    import pandas as pd

    import lossbridge

    rng = np.random.default_rng(1)
    year = np.linspace(1950, 2020, 200)
    y = 1 + 0.01 * (year - 1985) + rng.normal(size=year.size)
    analysis = lossbridge.fit(pd.DataFrame({"year": year, "y": y}),
                              "y ~ year + I(year**2) + I(year**3) + I(year**4)",
                              likelihoods="laplace", scales="learned", sample=False)
    fit = analysis.fits[0]
    assert fit.baseline.certificate.holds and fit.certified
    t = (year - year.mean()) / year.std()
    well = np.column_stack([t**p for p in range(5)])
    beta, _ = solve_lad_lp(well, y)
    reference = float(np.abs(y - well @ beta).sum())
    tolerance = fit.baseline.certificate.gap_tolerance * reference
    assert abs(fit.baseline.loss - reference) <= tolerance


@pytest.mark.slow
@pytest.mark.parametrize("tau", [0.2, 0.75])
def test_globbing_reaches_the_highs_optimum_of_a_regression_quantile(tau):
    """The tau-th regression quantile above GLOBBING_MIN_ROWS goes through Portnoy-Koenker
    globbing too (it took HiGHS on all rows 31 s at n = 2e5 before): certified by its dual
    on all rows, and its pinball loss equal to that of HiGHS' LP on the whole data
    (scipy.optimize.linprog, an independent solve) within the rounding bound of both."""
    from scipy.optimize import linprog

    from lossbridge.families.quantile import pinball

    X, y = random_problem(60_000, 4, 11)
    messages = []
    vertex = exact_lad_vertex(X, y, tau=tau, progress=messages.append)
    assert vertex.certificate.holds, vertex.certificate
    assert any("globbing" in m for m in messages)
    lp = linprog(-y, A_eq=X.T, b_eq=np.zeros(X.shape[1]), bounds=(tau - 1.0, tau), method="highs")
    beta_lp = -np.asarray(lp.eqlin.marginals)
    ours = float(np.sum(pinball(y - X @ vertex.coefficients, tau)))
    theirs = float(np.sum(pinball(y - X @ beta_lp, tau)))
    bound = loss_error_bound(X, y, vertex.coefficients, "SAD") + loss_error_bound(X, y, beta_lp, "SAD")
    assert ours <= theirs + bound
    assert theirs - ours <= 1e-9 * theirs
