"""The Categorical likelihood: multiclass cross-entropy, certified against the multinomial
logit (softmax regression).

y_i is one of K unordered levels, coded 0..K-1 by the design with the reference level 0
(:attr:`lossbridge.data.design.Design.classes`). Each non-reference level c has its own
coefficient vector: eta_ic = x_i beta_c (eta_i0 = 0), and
P(y_i = c) = softmax(eta_i)_c = exp(eta_ic) / sum_j exp(eta_ij). The NLL,
-sum_i log softmax(eta_i)_{y_i}, is the multiclass cross-entropy (log loss) between the
data and the model: its constant is 0. Under flat priors the MAP is the maximum-likelihood
multinomial logit (statsmodels ``MNLogit``; scikit-learn's ``LogisticRegression`` uses a
symmetric, over-parameterised softmax instead, equal in its probabilities), found and
certified by Newton's method on the vectorised score
(:mod:`lossbridge.estimation.multinomial`). There is no scale.

Numerics: the log-probabilities are computed from eta as eta - logsumexp(eta) (with the
row's maximum taken out), exact where a probability underflows. The contract's ``mu`` is
the (..., n, K) matrix of class probabilities, built in PyTensor as exp(log softmax) so
that :meth:`Categorical.logp` reads the exact log-probabilities back off the graph (as the
Bernoulli does).
"""

from __future__ import annotations

import numpy as np

from .base import Family, Link


def log_softmax(eta: np.ndarray) -> np.ndarray:
    """(..., n, K) log-probabilities from (..., n, m) linear predictors, m = K - 1 (the
    reference level's eta is 0)."""
    eta = np.asarray(eta, dtype=float)
    full = np.concatenate([np.zeros(eta.shape[:-1] + (1,)), eta], axis=-1)
    peak = np.max(full, axis=-1, keepdims=True)
    shifted = full - peak
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _tensor_log_softmax(eta):
    import pytensor.tensor as pt

    full = pt.concatenate([pt.zeros_like(eta[..., :1]), eta], axis=-1)
    peak = pt.max(full, axis=-1, keepdims=True)
    shifted = full - peak
    return shifted - pt.log(pt.sum(pt.exp(shifted), axis=-1, keepdims=True))


def _tensor_inverse(eta):
    import pytensor.tensor as pt

    return pt.exp(_tensor_log_softmax(eta))


def _numpy_inverse(eta):
    return np.exp(log_softmax(eta))


SOFTMAX = Link("softmax", _numpy_inverse, _tensor_inverse)


def _log_of_tensor(p):
    """log p read off a p = exp(log p) graph (the link's form); None for another graph."""
    from pytensor.tensor.elemwise import Elemwise

    owner = getattr(p, "owner", None)
    if (owner is not None and isinstance(owner.op, Elemwise)
            and type(owner.op.scalar_op).__name__ == "Exp"):
        return owner.inputs[0]
    return None


def _codes(y) -> np.ndarray:
    return np.asarray(y, dtype=float).astype(np.int64)


def _pick(values: np.ndarray, y) -> np.ndarray:
    """values[..., i, y_i]: the entry of each row's class (y broadcasting over draws)."""
    codes = _codes(y)
    codes = np.broadcast_to(codes, values.shape[:-1])
    return np.take_along_axis(values, codes[..., None], axis=-1)[..., 0]


class Categorical(Family):
    name = "categorical"
    title = "Categorical"
    scale_name = None
    loss_name = "multiclass cross-entropy (log loss)"
    loss_symbol = "CE"
    constant_formula = "0"
    loss_term_formula = "CE"
    density_formula = "softmax(η)ᵧ = exp(η_y) / Σ_c exp(η_c), η_reference = 0"
    density_kind = "discrete"
    categorical_response = True
    in_default_set = False
    link = SOFTMAX
    exact_solver = "multinomial"
    exact_name = "multinomial logit"

    # ------------------------------------------------------------------ the density
    def logp(self, y, mu, scale):
        import pytensor.tensor as pt

        log_p = _log_of_tensor(mu)
        if log_p is None:  # probabilities not built by the link: the plain form
            log_p = pt.log(mu)
        codes = pt.cast(y, "int64")
        return log_p[pt.arange(log_p.shape[0]), codes]

    def logpdf(self, y, mu, scale):
        with np.errstate(divide="ignore"):
            return _pick(np.log(np.asarray(mu, dtype=float)), y)

    def replicate(self, mu, scale, rng):
        """Class codes drawn from each row's probabilities (inverse CDF of one uniform)."""
        p = np.asarray(mu, dtype=float)
        cumulative = np.cumsum(p, axis=-1)
        u = rng.random(p.shape[:-1] + (1,)) * cumulative[..., -1:]
        codes = np.minimum(np.sum(u > cumulative, axis=-1), p.shape[-1] - 1)
        return codes.astype(float)

    # ------------------------------------------------------------------ loss and NLL
    def loss(self, residuals):
        raise NotImplementedError("the cross-entropy needs y and p: loss_of(y, mu, ...)")

    def nll_constant(self, n, scale):
        return 0.0

    def loss_of(self, y, mu, scale):
        return float(-np.sum(self.logpdf(y, mu, scale)))

    def nll_constant_of(self, y, scale):
        return 0.0

    def loss_term_of(self, y, mu, scale):
        return self.loss_of(y, mu, scale)

    def check_response(self, y, response):
        from ..core.errors import InputError

        y = np.asarray(y, dtype=float)
        codes = np.round(y)
        if np.any(codes != y) or np.any(codes < 0):
            raise InputError(f"the {self.name} likelihood needs the levels of {response!r} "
                             "coded 0..K-1 (the design does this for a categorical response)")
        present = np.unique(codes)
        if present.size < 2:
            raise InputError(f"the {self.name} likelihood needs at least two levels in "
                             f"{response!r}; every value is the same, so the MLE does not exist")

    # ------------------------------------------------------------------ GLM hooks
    def initial_linear_predictor(self, y):
        """log((1[y = c] + 1/2) / (1[y = 0] + 1/2)) per non-reference level c."""
        codes = _codes(y)
        levels = int(codes.max()) + 1
        smoothed = np.eye(levels)[codes] + 0.5
        return np.log(smoothed[:, 1:] / smoothed[:, :1])

    def linear_predictor_scale(self, y, mu, scale):
        """1/sqrt of the mean Fisher information p_c (1 - p_c) of the non-reference etas."""
        p = np.asarray(mu, dtype=float)[..., 1:]
        information = float(np.mean(p * (1.0 - p)))
        return float(1.0 / np.sqrt(max(information, 1e-300)))

    def eta_derivatives(self, y, eta, scale):
        """Score d_ic = 1[y_i = c] - p_ic and information W_i = diag(p_i) - p_i p_i' over
        the non-reference levels: (n, m) and (n, m, m), from eta (exact in the tails)."""
        eta = np.asarray(eta, dtype=float)
        p = np.exp(log_softmax(eta))[..., 1:]
        onehot = np.zeros_like(p)
        codes = _codes(y)
        rows = np.flatnonzero(codes > 0)
        onehot[rows, codes[rows] - 1] = 1.0
        information = -p[:, :, None] * p[:, None, :]
        diagonal = np.arange(p.shape[1])
        information[:, diagonal, diagonal] += p
        return onehot - p, information

    def newton_objective(self, y, mu):
        return self.loss_of(y, mu, 1.0)

    def weak_prior_eta_scale(self, y):
        """Coefficients live on the log-odds scale against the reference level, where a
        unit change is large whatever y's codes (rstanarm: Normal(0, 2.5/sd(x)))."""
        return 1.0

    def weak_prior_eta_centre(self, y):
        return 0.0

    # presentation hooks
    def ppc_statistics(self, classes):
        """The share of each level, labelled by the level: the codes of unordered classes
        have no meaningful mean, sd or median."""
        return {f"share {level}": (lambda v, axis, c=code: np.mean(np.asarray(v) == c, axis=axis))
                for code, level in enumerate(classes)}


CATEGORICAL = Categorical()
