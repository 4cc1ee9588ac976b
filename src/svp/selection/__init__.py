"""Selection methods: pure functions from a proxy's outputs to dataset indices.

``METHODS`` maps a name to a :class:`Method`: what the method needs from the
proxy (probabilities, features, labels, MC-dropout samples, forgetting
counts, or nothing) and either a per-example score or a picker of its own.
Scores follow one rule: higher means pick first. A scored method picks the
top ``budget`` scores, or draws by score (``sampling``, see
:mod:`svp.selection.sampling`), optionally balanced over the classes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from svp.config import KEEPS, SAMPLINGS
from svp.selection import uncertainty
from svp.selection.badge import badge
from svp.selection.bald import bald
from svp.selection.el2n import EARLY_SCORES_KEY, el2n, grand
from svp.selection.forgetting import FORGETTING_KEY, forgetting_events
from svp.selection.kcenters import greedy_k_centers
from svp.selection.outputs import Outputs
from svp.selection.sampling import sampling_keys
from svp.selection.typiclust import typiclust

Picker = Callable[[Outputs, int, Optional[Outputs], np.random.Generator], np.ndarray]
Scorer = Callable[[Outputs], np.ndarray]


@dataclass(frozen=True)
class Method:
    """A selection method: a score (or a picker of its own), what it needs from the proxy, where it applies.

    ``needs`` is a subset of {"probs", "features", "labels", "mc",
    "forgetting"}. A method has a ``score`` (one value per pool example,
    higher = pick first; ``nonnegative`` when it is never below 0) or a
    ``pick`` of its own (diversity and random methods, which no score
    describes). ``active`` is False for methods that only make sense once,
    on a fully trained proxy (core-set selection); ``early`` methods score
    with proxies trained only ``--score-epoch`` epochs (see
    :mod:`svp.selection.el2n`).
    """

    pick: Optional[Picker] = None
    needs: frozenset = frozenset()
    active: bool = True
    score: Optional[Scorer] = None
    nonnegative: bool = False
    early: bool = False
    from_labeled: bool = False  # its picker takes the labeled examples' outputs too


def top_k(scores: np.ndarray, budget: int) -> np.ndarray:
    """Positions of the ``budget`` highest scores; ties go to the earlier position."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    return order[:budget]


def _by_probs(score: Callable[[np.ndarray], np.ndarray]) -> Scorer:
    def scorer(pool: Outputs) -> np.ndarray:
        return score(pool.probs)

    scorer.__doc__ = f"{score.__name__} of the pool's probabilities."
    return scorer


def _random(pool: Outputs, budget: int, labeled: Optional[Outputs], rng) -> np.ndarray:
    return rng.choice(pool.indices, size=budget, replace=False)


def _kcenters(pool: Outputs, budget: int, labeled: Optional[Outputs], rng) -> np.ndarray:
    centers = labeled.features if labeled is not None else None
    return pool.indices[greedy_k_centers(pool.features, budget, centers=centers, rng=rng)]


def _badge(pool: Outputs, budget: int, labeled: Optional[Outputs], rng) -> np.ndarray:
    return pool.indices[badge(pool.probs, pool.features, budget, rng=rng)]


def _typiclust(pool: Outputs, budget: int, labeled: Optional[Outputs], rng) -> np.ndarray:
    known = labeled.features if labeled is not None else None
    return pool.indices[typiclust(pool.features, budget, labeled=known, rng=rng)]


def _forgetting(pool: Outputs) -> np.ndarray:
    return forgetting_events(pool.extra)


def _bald(pool: Outputs) -> np.ndarray:
    return bald(pool.mc_probs, pool.mc_entropy)


def _early(score: Scorer) -> Scorer:
    """``score``, or the average the core-set workflow took over several early proxies."""
    def scorer(pool: Outputs) -> np.ndarray:
        averaged = pool.extra.get(EARLY_SCORES_KEY)
        return score(pool) if averaged is None else averaged

    scorer.__doc__ = score.__doc__
    return scorer


def _el2n(pool: Outputs) -> np.ndarray:
    """EL2N of the pool (see :mod:`svp.selection.el2n`)."""
    return el2n(pool.probs, pool.labels)


def _grand(pool: Outputs) -> np.ndarray:
    """GraNd of the pool (see :mod:`svp.selection.el2n`)."""
    return grand(pool.probs, pool.features, pool.labels)


_PROBS = frozenset({"probs"})
METHODS: dict[str, Method] = {
    "least_confidence": Method(needs=_PROBS, score=_by_probs(uncertainty.least_confidence), nonnegative=True),
    "entropy": Method(needs=_PROBS, score=_by_probs(uncertainty.entropy), nonnegative=True),
    "margin": Method(needs=_PROBS, score=_by_probs(uncertainty.margin)),
    "bald": Method(needs=frozenset({"mc"}), score=_bald, nonnegative=True),
    "kcenters": Method(_kcenters, frozenset({"features"}), from_labeled=True),
    "badge": Method(_badge, frozenset({"probs", "features"})),
    "typiclust": Method(_typiclust, frozenset({"features"}), from_labeled=True),
    "random": Method(_random),
    "forgetting_events": Method(needs=frozenset({"forgetting"}), active=False, score=_forgetting, nonnegative=True),
    "el2n": Method(needs=frozenset({"probs", "labels"}), active=False, score=_early(_el2n), nonnegative=True,
                   early=True),
    "grand": Method(needs=frozenset({"probs", "features", "labels"}), active=False, score=_early(_grand),
                    nonnegative=True, early=True),
}
ACTIVE_METHODS = tuple(name for name, method in METHODS.items() if method.active)
CORESET_METHODS = tuple(METHODS)
SCORED_METHODS = tuple(name for name, method in METHODS.items() if method.score is not None)

__all__ = ["METHODS", "Method", "Outputs", "select", "top_k", "FORGETTING_KEY", "EARLY_SCORES_KEY",
           "SAMPLINGS", "KEEPS", "SCORED_METHODS"]


def balanced_top_k(keys: np.ndarray, labels: np.ndarray, budget: int) -> np.ndarray:
    """Positions of the highest ``keys`` with each class's share of ``budget`` as in ``labels``.

    Class ``c`` gets ``floor(budget * n_c / n)``; what is left goes one each
    to the classes of largest remainder (the lower class first on ties).
    Within a class, the highest keys (the earlier position on ties).
    """
    classes, counts = np.unique(np.asarray(labels), return_counts=True)
    exact = budget * counts / counts.sum()
    quota = np.floor(exact).astype(np.int64)
    extra = np.argsort(-(exact - quota), kind="stable")[:budget - int(quota.sum())]
    quota[extra] += 1
    chosen = []
    for label, k in zip(classes, quota):
        members = np.flatnonzero(labels == label)
        chosen.append(members[top_k(keys[members], int(k))])
    chosen = np.concatenate(chosen)
    return chosen[top_k(keys[chosen], len(chosen))]  # in the order of their keys


def select(method: str, pool: Outputs, budget: int, *, labeled: Optional[Outputs] = None,
           seed: Optional[int] = None, sampling: str = "top", beta: float = 1.0, keep: str = "hardest",
           balance: bool = False) -> np.ndarray:
    """Choose ``budget`` dataset indices from ``pool`` with ``method``.

    Parameters
    ----------
    method : str
        A key of :data:`METHODS`.
    pool : Outputs
        The proxy's outputs for the candidate examples.
    budget : int
        How many to choose; at most ``len(pool.indices)``.
    labeled : Outputs, optional
        Outputs for the already-labeled examples (k-centers starts from them).
    seed : int, optional
        Seed for random choices (random selection, k-centers' first pick,
        BADGE's draws, stochastic sampling).
    sampling : {"top", "power", "softmax"}
        A scored method's top ``budget`` scores, or a draw by score
        (:mod:`svp.selection.sampling`) with inverse temperature ``beta``.
    keep : {"hardest", "easiest"}
        "easiest" ranks by minus the score (the lowest first), so that the
        rule "higher = pick first" holds for what is ranked.
    balance : bool
        Each class (``pool.labels``) gets its share of the budget.
    """
    if method not in METHODS:
        raise ValueError(f"unknown selection method {method!r}; choose one of: {', '.join(METHODS)}")
    if not 0 < budget <= len(pool.indices):
        raise ValueError(f"budget {budget} must be between 1 and the {len(pool.indices)} pool examples")
    if sampling not in SAMPLINGS or keep not in KEEPS:
        raise ValueError(f"sampling {sampling!r} or keep {keep!r} is not one of {SAMPLINGS} or {KEEPS}")
    chosen_by, rng = METHODS[method], np.random.default_rng(seed)
    if chosen_by.score is None:
        if (sampling, keep, balance) != ("top", "hardest", False):
            raise ValueError(f"{method} has no score to sample by, invert or balance")
        chosen = chosen_by.pick(pool, budget, labeled, rng)
    else:
        if sampling == "power" and (keep == "easiest" or not chosen_by.nonnegative):
            raise ValueError(f"power sampling needs scores >= 0, which {keep} by {method} does not give")
        scores = np.asarray(chosen_by.score(pool), dtype=np.float64)
        keys = sampling_keys(scores if keep == "hardest" else -scores, sampling, beta, rng)
        positions = balanced_top_k(keys, pool.labels, budget) if balance else top_k(keys, budget)
        chosen = pool.indices[positions]
    return np.asarray(chosen, dtype=np.int64)
