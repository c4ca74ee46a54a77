"""Independence Metropolis-Hastings from the MAP, where the posterior allows it.

NUTS pays, per draw, several gradient evaluations in PyTensor's Python loop, and at
large n each is an O(n) pass. Around the MAP, in the standardised coordinates the joint
model already uses (:func:`lossbridge.models.joint.build_joint_model`:
z = (theta - theta_MAP)/u and v = log(scale/scale_MAP)/c, posterior sd near 1), a
regression posterior is close to a Gaussian. An independence sampler then needs no
gradient at all, and its proposals do not depend on the chain's state, so every
proposal's log-density is evaluated up front in one vectorised pass
(:mod:`lossbridge.families.batched`); the accept/reject loop is O(chains × draws).

The algorithm (Tierney 1994, "Markov chains for exploring posterior distributions",
*Ann. Statist.* 22(4), section 2.3.2):

1. Proposal q: a multivariate t with ``degrees_of_freedom`` (7 unless the caller needs
   heavier tails, see below). Its centre and scale matrix start at 0 and I (the
   standardisation's promise) and are refitted in up to ``ADAPT_ROUNDS`` rounds of
   importance sampling: the Pareto-smoothed weighted mean and covariance of the round's
   draws (Vehtari, Simpson, Gelman, Yao and Gabry 2024, "Pareto smoothed importance
   sampling", *JMLR* 25).
2. Two tests decide whether q is good enough, else the caller samples the model with
   NUTS (:class:`Declined` says why):

   * the weights fall off outward: along each principal axis of q (both ways) and along
     random directions, w = log p - log q at ``TAIL_RADII`` (in q's own scale, far
     beyond any draw) decreases. An independence chain is uniformly ergodic when the
     weights are bounded and not even geometrically ergodic when they are not
     (Mengersen and Tweedie 1996, *Ann. Statist.* 24(1), theorem 2.1). A target with
     heavier tails than q along a straight line (a Cauchy-like posterior) can pass k̂
     on a few thousand draws, not this probe. The probe looks along straight lines
     only: what it cannot see is ruled out by the caller (the scale ridge, a second
     mode; :mod:`lossbridge.posterior.sampling`);
   * the Pareto shape k̂ of the weights of ``ADAPT_DRAWS`` fresh draws of q is at most
     ``PARETO_K_MAX`` (0.5: below it the weights have a finite variance; the same
     paper, section 3). The draws are kept apart from the chains' proposals, so the
     test does not select the chains' own draws.
3. The proposals of all chains are drawn at once; each chain starts at an
   importance-resampled draw of the last adaptation round and accepts proposal j with
   probability min(1, exp(w_j - w_current)).

The chains are then ordinary MCMC chains: R-hat, ESS and MCSE apply as for NUTS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# The ``sampler`` option's values (interfaces/options.py reads them; this module imports
# no PyMC or ArviZ at import time, so ``--help`` stays fast).
SAMPLER_CHOICES = ("auto", "nuts")
DEGREES_OF_FREEDOM = 7.0
ADAPT_ROUNDS = 3
ADAPT_DRAWS = 1000
# Stop adapting once the proposal's importance weights are this light-tailed.
ADAPTED_K = 0.3
PARETO_K_MAX = 0.5
# Radii (in units of the proposal's scale) where the tail probe evaluates the weights.
TAIL_RADII = (10.0, 30.0, 100.0)
TAIL_RANDOM_DIRECTIONS = 8


@dataclass(frozen=True)
class IndependenceRun:
    """Draws of an independence Metropolis-Hastings run in the standardised coordinates.

    Attributes
    ----------
    x : ndarray of shape (chains, draws, d)
    accepted : ndarray of shape (chains, draws) of bool
        Whether each draw is a newly accepted proposal (else the previous state again).
    pareto_k : float
        Pareto k̂ of the final proposals' importance weights.
    adapt_rounds : int
        Importance-sampling rounds used to fit the proposal.
    evaluations : int
        Log-density evaluations, adaptation included.
    """

    x: np.ndarray
    accepted: np.ndarray
    pareto_k: float
    adapt_rounds: int
    evaluations: int
    degrees_of_freedom: float = 7.0

    @property
    def acceptance(self) -> float:
        return float(self.accepted.mean())


@dataclass(frozen=True)
class _Proposal:
    centre: np.ndarray
    chol: np.ndarray  # lower Cholesky factor of the scale matrix
    nu: float = DEGREES_OF_FREEDOM

    @property
    def dim(self) -> int:
        return self.centre.size

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        gauss = rng.standard_normal((size, self.dim))
        mix = np.sqrt(rng.chisquare(self.nu, size) / self.nu)
        return self.centre + (gauss / mix[:, None]) @ self.chol.T

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        from scipy.special import gammaln

        d, nu = self.dim, self.nu
        solved = np.linalg.solve(self.chol, (x - self.centre).T)  # L^-1 (x - m)
        quad = np.sum(solved**2, axis=0)
        log_det = np.sum(np.log(np.diag(self.chol)))
        return (gammaln((nu + d) / 2) - gammaln(nu / 2) - 0.5 * d * np.log(nu * np.pi)
                - log_det - 0.5 * (nu + d) * np.log1p(quad / nu))


def _log_weights(log_target: Callable, proposal: _Proposal, x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        target = np.asarray(log_target(x), dtype=float)
    weights = target - proposal.logpdf(x)
    return np.where(np.isfinite(weights), weights, -np.inf)


def _smoothed(log_weights: np.ndarray) -> tuple[np.ndarray, float]:
    """Normalised PSIS weights (0 for impossible proposals) and k̂."""
    from . import arviz_bridge

    finite = np.isfinite(log_weights)
    weights = np.zeros(log_weights.size)
    if finite.sum() < 10:
        return weights, np.inf
    smoothed, k = arviz_bridge.pareto_smoothed_log_weights(log_weights[finite])
    weights[finite] = np.exp(smoothed - smoothed.max())
    return weights / weights.sum(), k


def _refit(x: np.ndarray, weights: np.ndarray, old: _Proposal) -> _Proposal:
    centre = weights @ x
    centred = x - centre
    cov = (weights[:, None] * centred).T @ centred
    cov = 0.5 * (cov + cov.T) + 1e-10 * np.eye(x.shape[1])
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return old
    return _Proposal(centre, chol)


def weights_fall_off_outward(log_target: Callable, proposal: _Proposal,
                             rng: np.random.Generator) -> tuple[bool, int]:
    """Whether the log-weight decreases from radius to radius of ``TAIL_RADII`` along
    every probed direction (see module docstring), and the evaluations it took. The
    directions are the principal axes of the proposal's scale matrix (its eigenvectors,
    in units of their own sd), both ways, and ``TAIL_RANDOM_DIRECTIONS`` random ones. A
    direction where the target is impossible far out (-inf) passes."""
    d = proposal.dim
    values, vectors = np.linalg.eigh(proposal.chol @ proposal.chol.T)
    axes = vectors * np.sqrt(np.maximum(values, 0.0))  # columns: the principal axes
    random = rng.standard_normal((TAIL_RANDOM_DIRECTIONS, d))
    random = (random / np.linalg.norm(random, axis=1, keepdims=True)) @ proposal.chol.T
    directions = np.vstack([axes.T, -axes.T, random])
    radii = np.asarray(TAIL_RADII)
    points = proposal.centre + radii[:, None, None] * directions[None]
    log_weights = _log_weights(log_target, proposal, points.reshape(-1, d)).reshape(radii.size, -1)
    with np.errstate(invalid="ignore"):
        falling = np.all((np.diff(log_weights, axis=0) < 0) | ~np.isfinite(log_weights[1:]),
                         axis=0)
    return bool(falling.all()), int(log_weights.size)


@dataclass(frozen=True)
class Declined:
    """Why the independence sampler declined a model (it is then sampled by NUTS)."""

    reason: str


def independence_sample(log_target: Callable[[np.ndarray], np.ndarray], dim: int, chains: int,
                        draws: int, rng: np.random.Generator,
                        degrees_of_freedom: float = DEGREES_OF_FREEDOM) -> IndependenceRun | Declined:
    """Sample ``log_target`` (a batch (S, dim) -> (S,) unnormalised log-density in
    standardised coordinates) by independence Metropolis-Hastings, or say why not
    (:class:`Declined`: too few finite weights, the tail probe, or k̂ above
    ``PARETO_K_MAX``; see the module docstring).

    k̂ is estimated on ``ADAPT_DRAWS`` draws of the final proposal kept apart from the
    chains' proposals, so that the test does not select the chains' own draws.
    """
    proposal = _Proposal(np.zeros(dim), np.eye(dim), degrees_of_freedom)
    evaluations, rounds = 0, 0
    pilot = pilot_weights = None
    for _ in range(ADAPT_ROUNDS):
        rounds += 1
        x = proposal.draw(rng, ADAPT_DRAWS)
        log_weights = _log_weights(log_target, proposal, x)
        evaluations += ADAPT_DRAWS
        weights, k = _smoothed(log_weights)
        if not np.isfinite(k):
            return Declined("fewer than 10 proposals with a finite density")
        pilot, pilot_weights = x, weights
        proposal = _refit(x, weights, proposal)
        if k <= ADAPTED_K:
            break
    tail_ok, probes = weights_fall_off_outward(log_target, proposal, rng)
    evaluations += probes
    if not tail_ok:
        return Declined("its importance weights grow in the tails (the posterior has heavier "
                        "tails than the proposal)")
    test = proposal.draw(rng, ADAPT_DRAWS)
    _, k = _smoothed(_log_weights(log_target, proposal, test))
    evaluations += ADAPT_DRAWS
    if not np.isfinite(k) or k > PARETO_K_MAX:
        return Declined(f"the proposal's Pareto k is {k:.2f} > {PARETO_K_MAX}")
    x = proposal.draw(rng, chains * draws)
    log_weights = _log_weights(log_target, proposal, x)
    evaluations += chains * draws
    x = x.reshape(chains, draws, dim)
    log_weights = log_weights.reshape(chains, draws)
    # Starts: importance-resampled pilot draws (approximately from the posterior), one per chain.
    starts = rng.choice(pilot.shape[0], size=chains, p=pilot_weights)
    state = pilot[starts]
    with np.errstate(all="ignore"):
        state_weight = _log_weights(log_target, proposal, state)
    evaluations += chains
    out = np.empty_like(x)
    accepted = np.zeros((chains, draws), dtype=bool)
    log_u = np.log(rng.uniform(size=(chains, draws)))
    for j in range(draws):
        take = log_u[:, j] < log_weights[:, j] - state_weight
        state = np.where(take[:, None], x[:, j], state)
        state_weight = np.where(take, log_weights[:, j], state_weight)
        out[:, j] = state
        accepted[:, j] = take
    return IndependenceRun(out, accepted, float(k), rounds, evaluations, degrees_of_freedom)
