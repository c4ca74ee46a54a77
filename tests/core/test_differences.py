"""The central-difference Hessian against closed forms."""

from __future__ import annotations

import numpy as np

from lossbridge.core.differences import central_difference_hessian


def test_quadratic_hessian_is_exact_to_rounding():
    # gradient A x + b is linear: the central difference is exact up to rounding,
    # about eps * |A| |x| / h = 2e-16 * 10 * 3 / 1e-5 < 1e-9.
    rng = np.random.default_rng(0)
    m = rng.normal(size=(4, 4))
    a, b = m @ m.T + np.eye(4), rng.normal(size=4)
    x = rng.normal(size=4)
    hess = central_difference_hessian(lambda p: a @ p + b, x)
    np.testing.assert_allclose(hess, a, atol=1e-8)
    block = central_difference_hessian(lambda p: a @ p + b, x, index=np.array([1, 3]))
    np.testing.assert_array_equal(block, hess[np.ix_([1, 3], [1, 3])])


def test_smooth_hessian_within_truncation_error():
    # f = sum exp(x_i) + x_0 x_1: Hessian diag(exp x) + [[0, 1], [1, 0]]; truncation error
    # of a central difference of the gradient is h^2 |f'''| / 6 ~ 1e-10 * e^2 / 6.
    x = np.array([0.3, -1.2])

    def gradient(p):
        return np.exp(p) + np.array([p[1], p[0]])

    expected = np.diag(np.exp(x)) + np.array([[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_allclose(central_difference_hessian(gradient, x), expected, atol=1e-8)
