"""The Bernoulli likelihood: binary cross-entropy (log loss), certified against logistic,
probit and complementary log-log regression.

y_i ~ Bernoulli(p_i), g(p_i) = x_i beta with the link g chosen by ``--link`` (logit, the
default; probit; cloglog). NLL = -sum[y log p + (1 - y) log(1 - p)]: the binary
cross-entropy between the data and the model *is* the negative log-likelihood (the NLL
constant is 0), and the MAP under flat priors is the maximum-likelihood GLM fit (Newton
to a zero gradient, :mod:`lossbridge.estimation.glm`). There is no scale.

Numerics. The log-probabilities are evaluated from eta, not from p, wherever eta is at
hand: in PyTensor the link's inverse builds p as exp(log p) with log p exact in both
tails (-softplus(-eta) logit, log Phi(eta) by the erfcx form probit, log1mexp(-e^eta)
cloglog), and :meth:`Bernoulli.logp` reads log p off that graph, with
log(1 - p) = log1mexp(log p) (cloglog: -e^eta, read off too): exact where p rounds to 0
or 1 (logit and probit while log p does not round to 0, eta < 745 and 38);
:meth:`Bernoulli.eta_derivatives` (the exact solver's gradient) works in eta too. The
NumPy density :meth:`Bernoulli.logpdf` receives p (the contract's mu) and so loses
precision only where 1 - p rounds to 0 (eta > 37 logit, > 8.3 probit, > 3.6 cloglog).
"""

from __future__ import annotations

import math

import numpy as np

from .base import Family, Link, ShapeParameter

LINKS = ("logit", "probit", "cloglog")
SQRT2 = math.sqrt(2.0)
LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _tensor_log_p(name: str, eta):
    """log p at ``eta`` in PyTensor, exact in both tails."""
    import pytensor.tensor as pt

    if name == "logit":
        return -pt.softplus(-eta)
    if name == "probit":
        return _log_ndtr_tensor(eta)
    return pt.log1mexp(-pt.exp(eta))


def _tensor_inverse(name: str):
    # p is built as exp(log p): the density reads log p back off the graph (its Exp
    # node's input), exact where p rounds to 1, and log(1 - p) = log1mexp(log p) from it.
    def inverse(eta):
        import pytensor.tensor as pt

        return pt.exp(_tensor_log_p(name, eta))

    return inverse


def _argument_of(variable, scalar_op: str):
    """The input of ``variable`` when it is the elementwise ``scalar_op`` (a class name of
    pytensor.scalar) of it; None for another graph."""
    from pytensor.tensor.elemwise import Elemwise

    owner = getattr(variable, "owner", None)
    if (owner is not None and isinstance(owner.op, Elemwise)
            and type(owner.op.scalar_op).__name__ == scalar_op):
        return owner.inputs[0]
    return None


def _log_of_tensor(p):
    """log p read off a p = exp(log p) graph (the links' form); None for another graph."""
    return _argument_of(p, "Exp")


def _numpy_inverse(name: str):
    def inverse(eta):
        from scipy import special

        eta = np.asarray(eta, dtype=float)
        if name == "logit":
            return special.expit(eta)
        if name == "probit":
            return special.ndtr(eta)
        with np.errstate(over="ignore"):
            return -np.expm1(-np.exp(eta))

    return inverse


LINK_OBJECTS = {name: Link(name, _numpy_inverse(name), _tensor_inverse(name)) for name in LINKS}


def link_function(name: str, p: np.ndarray) -> np.ndarray:
    """g(p): the link itself (eta from a probability)."""
    from scipy import special

    p = np.asarray(p, dtype=float)
    if name == "logit":
        return special.logit(p)
    if name == "probit":
        return special.ndtri(p)
    return np.log(-np.log1p(-p))


def _log_ndtr_tensor(z):
    """log Phi(z), exact in both tails: log(erfcx(-z/sqrt2)/2) - z^2/2 below -1 (where
    Phi underflows), log1p(-erfc(z/sqrt2)/2) above (as PyMC's normal_lcdf)."""
    import pytensor.tensor as pt

    return pt.switch(pt.lt(z, -1.0), pt.log(pt.erfcx(-z / SQRT2) / 2.0) - z**2 / 2.0,
                     pt.log1p(-pt.erfc(z / SQRT2) / 2.0))


def _log1mexp_neg(u):
    """log(1 - exp(-u)) for u > 0, exact at both ends (Maechler 2012)."""
    with np.errstate(divide="ignore"):
        return np.where(u < math.log(2.0), np.log(-np.expm1(-np.minimum(u, math.log(2.0)))),
                        np.log1p(-np.exp(-np.maximum(u, math.log(2.0)))))


def eta_log_probabilities(name: str, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log p, log(1 - p)) at linear predictor ``eta`` under link ``name``, exact in the tails."""
    from scipy import special

    eta = np.asarray(eta, dtype=float)
    if name == "logit":
        return special.log_expit(eta), special.log_expit(-eta)
    if name == "probit":
        return special.log_ndtr(eta), special.log_ndtr(-eta)
    with np.errstate(over="ignore"):
        u = np.exp(eta)
    return _log1mexp_neg(u), -u


class Bernoulli(Family):
    name = "bernoulli"
    log_concave = True  # log p and log(1 - p) are concave in eta for the logit, probit and cloglog links
    title = "Bernoulli"
    scale_name = None
    loss_name = "binary cross-entropy (log loss)"
    loss_symbol = "BCE"
    constant_formula = "0"
    loss_term_formula = "BCE"
    density_formula = "pʸ (1 − p)¹⁻ʸ"
    density_kind = "discrete"
    in_default_set = False
    exact_solver = "glm"
    # Under separation the likelihood has no maximum (estimation/separation.py decides).
    separation_check = True
    parameters = (
        ShapeParameter("link", LINKS[0], lower=None, choices=LINKS, option="link",
                       multiple=True,
                       help="Link of the Bernoulli likelihood: logit (logistic regression, "
                            "the default), probit or cloglog; repeat to fit one model per "
                            "link (e.g. --link logit --link probit)."),
    )

    @property
    def link_name(self) -> str:
        return str(self.shape_value("link"))

    @property
    def link(self) -> Link:  # the instance's setting, not a class attribute
        return LINK_OBJECTS[self.link_name]

    @property
    def exact_name(self) -> str:
        return {"logit": "logistic regression", "probit": "probit regression",
                "cloglog": "complementary log-log regression"}[self.link_name]

    # ------------------------------------------------------------------ the density
    def logp(self, y, mu, scale):
        import pytensor.tensor as pt

        log_p = _log_of_tensor(mu)
        if log_p is None:  # a p not built by the link: the plain form
            return pt.switch(pt.eq(y, 1.0), pt.log(mu), pt.log1p(-mu))
        log_q = _argument_of(log_p, "Log1mexp")  # cloglog: log p = log1mexp(log(1 - p))
        if log_q is None:  # log(1 - p) from log p, exact while log p does not round to 0
            log_q = pt.log1mexp(log_p)
        return pt.switch(pt.eq(y, 1.0), log_p, log_q)

    def logpdf(self, y, mu, scale):
        from scipy.special import xlog1py, xlogy

        y, p = np.asarray(y, dtype=float), np.asarray(mu, dtype=float)
        with np.errstate(divide="ignore"):
            return xlogy(y, p) + xlog1py(1.0 - y, -p)

    def replicate(self, mu, scale, rng):
        p = np.broadcast_to(mu, np.broadcast_shapes(np.shape(mu), np.shape(scale)))
        return (rng.random(p.shape) < p).astype(float)

    # ------------------------------------------------------------------ loss and NLL
    def loss(self, residuals):
        raise NotImplementedError("the binary cross-entropy needs y and p: loss_of(y, mu, ...)")

    def nll_constant(self, n, scale):
        return 0.0

    def loss_of(self, y, mu, scale):
        return float(-np.sum(self.logpdf(y, mu, scale)))

    def nll_constant_of(self, y, scale):
        return 0.0

    def loss_term_of(self, y, mu, scale):
        return self.loss_of(y, mu, scale)

    def check_response(self, y, response):
        check_binary(y, response, self.name)

    # ------------------------------------------------------------------ GLM hooks
    def initial_linear_predictor(self, y):
        return link_function(self.link_name, (np.asarray(y, dtype=float) + 0.5) / 2.0)

    def linear_predictor_scale(self, y, mu, scale):
        p = np.clip(np.asarray(mu, dtype=float), 1e-12, 1.0 - 1e-12)
        information = self._fisher_information(p)
        return float(1.0 / np.sqrt(max(float(np.mean(information)), 1e-300)))

    def _fisher_information(self, p):
        """E[-d2 log f / d eta2] per row: (dp/deta)^2 / (p (1 - p))."""
        from scipy import stats

        eta = link_function(self.link_name, p)
        if self.link_name == "logit":
            return p * (1.0 - p)
        if self.link_name == "probit":
            return stats.norm.pdf(eta) ** 2 / (p * (1.0 - p))
        u = np.exp(eta)
        return (u * np.exp(-u)) ** 2 / (p * (1.0 - p))

    def eta_derivatives(self, y, eta, scale):
        """Exact score and observed information of log f in eta, per link (in eta, so
        exact where p rounds to 0 or 1)."""
        from scipy import special

        y = np.asarray(y, dtype=float)
        eta = np.asarray(eta, dtype=float)
        link = self.link_name
        if link == "logit":
            p = special.expit(eta)
            return y - p, p * special.expit(-eta)
        if link == "probit":
            s = 2.0 * y - 1.0
            z = s * eta
            # the inverse Mills ratio phi(z)/Phi(z) from logs: exact for z -> -inf
            mills = np.exp(-0.5 * z**2 - LOG_SQRT_2PI - special.log_ndtr(z))
            return s * mills, mills * (z + mills)
        with np.errstate(over="ignore"):
            u = np.exp(eta)
        e = np.exp(-u)
        one_minus = -np.expm1(-u)  # p
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            # u + expm1(-u) = u^2 q(u), q = 1/2 - u/6 + ...: the difference cancels for
            # small u (every digit lost below u ~ 1e-16, eta < -37), so its series there,
            # with u^2 kept beside p^2 as (u/p)^2 (each alone underflows below eta ~ -354)
            small = u < CLOGLOG_SERIES_BELOW
            ratio = np.where(small, u / one_minus, 0.0)
            info_small = u * _cloglog_series(u) * ratio**2 * e
            info_large = u * (u + np.expm1(-u)) * e / one_minus**2
            # where e^-u underflows (eta > 6.6) both are u^k e^-u = 0 (and u = inf: inf * 0)
            score_one = np.where(one_minus > 0, np.where(e > 0, u * e / one_minus, 0.0), 1.0)
            info_one = np.where(one_minus > 0, np.where(
                small, info_small, np.where(e > 0, info_large, 0.0)), 0.0)
        d = np.where(y == 1.0, score_one, -u)
        w = np.where(y == 1.0, info_one, u)
        return d, w

    def weak_prior_eta_scale(self, y):
        """Coefficients live on the logit/probit scale, where a unit change is large
        whatever y's spread (rstanarm: Normal(0, 2.5/sd(x)))."""
        return 1.0

    def weak_prior_eta_centre(self, y):
        return 0.0


CLOGLOG_SERIES_BELOW = 0.1  # below it the series' 13th term is < 1e-20 of the sum


def _cloglog_series(u: np.ndarray) -> np.ndarray:
    """q(u) = (u + expm1(-u)) / u^2 = sum_{m >= 0} (-u)^m / (m + 2)!, terms to m = 10."""
    total = np.zeros_like(u)
    for m in range(10, -1, -1):  # Horner
        total = total * (-u) + 1.0 / math.factorial(m + 2)
    return total


def check_binary(y: np.ndarray, response: str, likelihood: str) -> None:
    """y must hold 0 and 1 only, both present; else one InputError naming the first bad row."""
    from ..core.errors import InputError

    y = np.asarray(y, dtype=float)
    bad = np.flatnonzero(~np.isin(y, (0.0, 1.0)))
    if bad.size:
        row = int(bad[0])
        raise InputError(
            f"the {likelihood} likelihood needs a 0/1 response in {response!r}; got {y[row]:g} "
            f"in row {row + 1}" + (f" and {bad.size - 1} more row(s)" if bad.size > 1 else "")
            + "; recode it in the data as a column holding 1 for the positive level and 0 "
            "otherwise (formulas do not allow comparisons)")
    if np.all(y == y[0]):
        raise InputError(f"the {likelihood} likelihood needs both classes in {response!r}; "
                         f"every value is {y[0]:g}, so the MLE does not exist")


BERNOULLI = Bernoulli()
