"""The Hessian of a function whose exact gradient is known, by central differences of it.

Shared by the MAP (:mod:`lossbridge.estimation.map`, the gradient PyTensor computes) and
the Student-t EM's Newton polish (:mod:`lossbridge.estimation.student_em`, a NumPy
gradient): far cheaper to compile than a symbolic Hessian, and exact for the quadratic
blocks that dominate these problems.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# Relative step: the rounding error of a central difference of a gradient is about
# eps / h and its truncation error about h^2, balanced near h = 1e-5 for O(1) curvature.
RELATIVE_STEP = 1e-5


def central_difference_hessian(gradient: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                               index: np.ndarray | None = None) -> np.ndarray:
    """Symmetrised central differences of ``gradient`` at ``x``; only the ``index`` block
    (rows and columns) when given, at the cost of that many gradient pairs."""
    x = np.asarray(x, dtype=float)
    index = np.arange(x.size) if index is None else np.asarray(index)
    block = np.empty((index.size, index.size))
    for row, i in enumerate(index):
        step = RELATIVE_STEP * max(1.0, abs(x[i]))
        up, down = x.copy(), x.copy()
        up[i] += step
        down[i] -= step
        block[row] = ((gradient(up) - gradient(down)) / (up[i] - down[i]))[index]
    return 0.5 * (block + block.T)
