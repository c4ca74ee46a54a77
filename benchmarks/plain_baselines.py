"""The baselines, written plainly, as a user would write them without lossbridge.

(a) a plain PyMC script: the same four models (Normal / Laplace likelihood, learned /
fixed scale, flat priors), ``pm.find_MAP``, ``pm.sample()`` with its defaults, the
pointwise log-likelihood for ``az.compare``; (b) statsmodels ``QuantReg(q=0.5)`` for
LAD; (c) ``numpy.linalg.lstsq`` for OLS.
"""

from __future__ import annotations

import numpy as np


def plain_pymc_four_models(X: np.ndarray, y: np.ndarray, seed: int, sample_kwargs: dict | None = None):
    """find_MAP + pm.sample() defaults + az.compare on the four models; returns (compare table, idatas)."""
    import arviz as az
    import pymc as pm

    sample_kwargs = sample_kwargs or {}
    n, k = X.shape
    ols = np.linalg.lstsq(X, y, rcond=None)[0]
    sigma_fixed = float(np.sqrt(np.mean((y - X @ ols) ** 2)))
    b_fixed = float(np.mean(np.abs(y - X @ statsmodels_lad(X, y))))  # SAD/n, as lossbridge fixes it
    idatas = {}
    for likelihood in ("normal", "laplace"):
        for scale in ("learned", "fixed"):
            with pm.Model():
                beta = pm.Flat("beta", shape=k)
                mu = pm.math.dot(X, beta)
                if scale == "learned":
                    s = pm.HalfFlat("sigma" if likelihood == "normal" else "b")
                else:
                    s = sigma_fixed if likelihood == "normal" else b_fixed
                if likelihood == "normal":
                    pm.Normal("y", mu=mu, sigma=s, observed=y)
                else:
                    pm.Laplace("y", mu=mu, b=s, observed=y)
                start = pm.find_MAP(progressbar=False)
                idata = pm.sample(random_seed=seed, initvals=start, progressbar=False,
                                  idata_kwargs={"log_likelihood": True}, **sample_kwargs)
            idatas[f"{likelihood}-{scale}"] = idata
    return az.compare(idatas), idatas


def plain_pymc_sample(X: np.ndarray, y: np.ndarray, likelihood: str, seed: int,
                      sample_kwargs: dict | None = None):
    """One model with PyMC's default sampler settings, as a user would write it."""
    import pymc as pm

    with pm.Model():
        beta = pm.Flat("beta", shape=X.shape[1])
        mu = pm.math.dot(X, beta)
        if likelihood == "normal":
            pm.Normal("y", mu=mu, sigma=pm.HalfFlat("sigma"), observed=y)
        else:
            pm.Laplace("y", mu=mu, b=pm.HalfFlat("b"), observed=y)
        return pm.sample(random_seed=seed, progressbar=False, **(sample_kwargs or {}))


def statsmodels_lad(X: np.ndarray, y: np.ndarray, max_iter: int = 1000) -> np.ndarray:
    import statsmodels.api as sm

    return np.asarray(sm.QuantReg(y, X).fit(q=0.5, max_iter=max_iter).params)


def _highs_dual(X: np.ndarray, y: np.ndarray, queue) -> None:
    from scipy.optimize import linprog

    res = linprog(-y, A_eq=X.T, b_eq=np.zeros(X.shape[1]), bounds=(-1, 1), method="highs")
    queue.put(-np.asarray(res.eqlin.marginals) if res.status == 0 else None)


def highs_lad(X: np.ndarray, y: np.ndarray, time_limit: float = 120.0) -> np.ndarray | None:
    """LAD as HiGHS' dual LP on the raw data, as a user would call it; None if HiGHS does
    not finish within ``time_limit`` seconds. It runs in a forked process that is ended at
    the limit: HiGHS' own time_limit option was not honoured at n = 10^6 (839 s measured)."""
    import multiprocessing
    import queue as queues

    context = multiprocessing.get_context("fork")
    results = context.Queue()
    worker = context.Process(target=_highs_dual, args=(X, y, results))
    worker.start()
    try:
        return results.get(timeout=time_limit)
    except queues.Empty:
        return None
    finally:
        worker.terminate()
        worker.join()


def numpy_ols(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.linalg.lstsq(X, y, rcond=None)[0]
