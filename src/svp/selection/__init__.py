"""Selection methods: pure functions from a proxy's outputs to dataset indices.

``METHODS`` maps a name to a :class:`Method`: what the method needs from the
proxy (probabilities, features, forgetting counts, or nothing) and the
function that picks. Scores follow one rule: higher means pick first.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from svp.selection import uncertainty
from svp.selection.forgetting import FORGETTING_KEY, forgetting_events
from svp.selection.kcenters import greedy_k_centers
from svp.selection.outputs import Outputs

Picker = Callable[[Outputs, int, Optional[Outputs], np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class Method:
    """A selection method: its picker, what it needs from the proxy, where it applies.

    ``needs`` is a subset of {"probs", "features", "forgetting"}; ``active``
    is False for methods that only make sense once, on a fully trained
    proxy (core-set selection).
    """

    pick: Picker
    needs: frozenset = frozenset()
    active: bool = True
    #: the per-example score it ranks by, from class probabilities (shown to a person with a question)
    score: Optional[Callable[[np.ndarray], np.ndarray]] = None


def top_k(scores: np.ndarray, budget: int) -> np.ndarray:
    """Positions of the ``budget`` highest scores; ties go to the earlier position."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    return order[:budget]


def _by_probs(score: Callable[[np.ndarray], np.ndarray]) -> Picker:
    def pick(pool: Outputs, budget: int, labeled: Optional[Outputs], rng) -> np.ndarray:
        return pool.indices[top_k(score(pool.probs), budget)]

    pick.__doc__ = f"Top ``budget`` pool examples by {score.__name__}."
    return pick


def _random(pool: Outputs, budget: int, labeled: Optional[Outputs], rng) -> np.ndarray:
    return rng.choice(pool.indices, size=budget, replace=False)


def _kcenters(pool: Outputs, budget: int, labeled: Optional[Outputs], rng) -> np.ndarray:
    centers = labeled.features if labeled is not None else None
    return pool.indices[greedy_k_centers(pool.features, budget, centers=centers, rng=rng)]


def _forgetting(pool: Outputs, budget: int, labeled: Optional[Outputs], rng) -> np.ndarray:
    return pool.indices[top_k(forgetting_events(pool.extra), budget)]


METHODS: dict[str, Method] = {
    "least_confidence": Method(_by_probs(uncertainty.least_confidence), frozenset({"probs"}),
                               score=uncertainty.least_confidence),
    "entropy": Method(_by_probs(uncertainty.entropy), frozenset({"probs"}), score=uncertainty.entropy),
    "margin": Method(_by_probs(uncertainty.margin), frozenset({"probs"}), score=uncertainty.margin),
    "kcenters": Method(_kcenters, frozenset({"features"})),
    "random": Method(_random),
    "forgetting_events": Method(_forgetting, frozenset({"forgetting"}), active=False),
}
ACTIVE_METHODS = tuple(name for name, method in METHODS.items() if method.active)
CORESET_METHODS = tuple(METHODS)

__all__ = ["METHODS", "Method", "Outputs", "select", "top_k", "FORGETTING_KEY"]


def select(method: str, pool: Outputs, budget: int, *, labeled: Optional[Outputs] = None,
           seed: Optional[int] = None) -> np.ndarray:
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
        Seed for random choices (random selection, k-centers' first pick).
    """
    if method not in METHODS:
        raise ValueError(f"unknown selection method {method!r}; choose one of: {', '.join(METHODS)}")
    if not 0 < budget <= len(pool.indices):
        raise ValueError(f"budget {budget} must be between 1 and the {len(pool.indices)} pool examples")
    chosen = METHODS[method].pick(pool, budget, labeled, np.random.default_rng(seed))
    return np.asarray(chosen, dtype=np.int64)
