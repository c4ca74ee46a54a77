"""The QR-rotated parameterisation is an exact linear change of variables."""

from __future__ import annotations

import numpy as np

from lossbridge.data.rotation import Rotation

EPS = np.finfo(float).eps


def test_rotation_round_trip_and_orthogonality():
    rng = np.random.default_rng(0)
    year = np.arange(1950.0, 2000.0)
    X = np.column_stack([np.ones(50), year, year**2, rng.normal(size=50) * 1e6])
    y = rng.normal(size=50) * 1e4
    rot = Rotation.from_design(X, y)
    n = X.shape[0]
    # Q*'Q* = n I to rounding (Householder QR is orthogonal to a few eps).
    np.testing.assert_allclose(rot.Q.T @ rot.Q, n * np.eye(4), atol=1e-12 * n)
    norms = np.linalg.norm(X, axis=0)
    # Error bound of a triangular solve: cond(R*) eps, normwise in column-scaled units.
    tol = 10 * np.linalg.cond(X / norms) * EPS

    def scaled_error(estimate, exact):
        return np.linalg.norm((estimate - exact) * norms) / np.linalg.norm(exact * norms)

    for beta in rng.normal(size=(3, 4)):
        theta = rot.to_theta(beta)
        assert scaled_error(rot.to_beta(theta), beta) <= tol
        # mu = y_scale * Q* theta equals X beta.
        np.testing.assert_allclose(rot.y_scale * rot.Q @ theta, X @ beta, rtol=tol,
                                   atol=tol * np.abs(X @ beta).max())
        # The explicit matrix used in the PyMC graph agrees with the triangular solve.
        assert scaled_error(rot.beta_from_theta_matrix @ theta, beta) <= tol
    # Rows of a batch are mapped independently.
    batch = rng.normal(size=(5, 4))
    np.testing.assert_array_equal(rot.to_theta(batch)[2], rot.to_theta(batch[2]))
