"""Simulation-study statistics over many analyses of simulated data (``lossbridge batch``).

Two proportions over replicates, each with its binomial standard error
sqrt(p (1 - p) / m) (m replicates, p the observed rate):

* the rate at which leave-one-out ranks first a likelihood that contains the law the data
  came from (``Family.noise_law``), per law;
* the coverage of each model's highest-density intervals: the share of replicates whose
  interval for a coefficient holds its true value, per law, model and coefficient.

The inputs are plain records read from the analyses' JSON and the simulation sidecars;
nothing here refits or samples.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..families.registry import FAMILIES


@dataclass(frozen=True)
class Proportion:
    """``successes`` out of ``trials`` replicates, with its binomial standard error."""

    successes: int
    trials: int

    @property
    def rate(self) -> float:
        return self.successes / self.trials if self.trials else math.nan

    @property
    def se(self) -> float:
        """sqrt(p (1 - p) / m); 0 when every replicate agrees (the plug-in estimate)."""
        if not self.trials:
            return math.nan
        p = self.rate
        return math.sqrt(p * (1.0 - p) / self.trials)

    def as_dict(self) -> dict:
        return {"successes": self.successes, "trials": self.trials, "rate": self.rate,
                "se": self.se}


@dataclass(frozen=True)
class Replicate:
    """One analysis of simulated data, as the study reads it.

    Attributes
    ----------
    law : str
        The sidecar's law name (``gaussian``, ``laplace``, ``student-t``, ...).
    beta : mapping
        The true coefficients by term.
    winner : str or None
        The family name of the model leave-one-out ranks first (None: no ranking).
    intervals : mapping
        ``{model: {term: (low, high)}}``, each model's highest-density intervals.
    """

    law: str
    beta: Mapping[str, float]
    winner: str | None
    intervals: Mapping[str, Mapping[str, tuple[float, float]]]


def true_families(law: str) -> tuple[str, ...]:
    """The registered families that contain ``law`` (``Family.noise_law``).

    By family, not by model: a Student-t model counts for student-t noise whatever its
    nu, and a quantile model at tau = 0.5 (an asymmetric Laplace that is a Laplace) does
    not count for Laplace noise."""
    return tuple(name for name, family in FAMILIES.items() if family.noise_law == law)


def pick_rates(replicates: Iterable[Replicate]) -> dict[str, Proportion]:
    """Per law: how often leave-one-out ranked a family of that law first.

    A replicate without a ranking counts as a miss: it is a replicate where leave-one-out
    did not pick the true law. Laws no registered family contains are left out.
    """
    counts: dict[str, list[int]] = {}
    for replicate in replicates:
        families = true_families(replicate.law)
        if not families:
            continue
        hit, total = counts.setdefault(replicate.law, [0, 0])
        counts[replicate.law] = [hit + (replicate.winner in families), total + 1]
    return {law: Proportion(hit, total) for law, (hit, total) in counts.items()}


# The intercept is left out of coverage: what it estimates differs between likelihoods
# (the mean, the median, an M-location or the tau-th quantile of the noise), which coincide
# with the simulated intercept only for symmetric noise and a central location; the slopes
# under additive noise are the simulated ones for every location-scale likelihood.
NOT_COVERED = ("Intercept",)


def coverages(replicates: Iterable[Replicate]) -> dict[tuple[str, str, str], Proportion]:
    """Per (law, model, term): how often the model's interval held the true coefficient
    (every term but the intercept: see ``NOT_COVERED``)."""
    counts: dict[tuple[str, str, str], list[int]] = {}
    for replicate in replicates:
        for model, intervals in replicate.intervals.items():
            for term, truth in replicate.beta.items():
                if term not in intervals or term in NOT_COVERED:
                    continue
                low, high = intervals[term]
                key = (replicate.law, model, term)
                hit, total = counts.get(key, [0, 0])
                counts[key] = [hit + (low <= truth <= high), total + 1]
    return {key: Proportion(hit, total) for key, (hit, total) in counts.items()}
