"""Selection methods: pure functions from a proxy's outputs to dataset indices.

``METHODS`` maps a name to a :class:`Method`: what the method needs from the
proxy (:data:`NEEDS`: probabilities, features, labels, MC-dropout samples,
forgetting counts, or needs derived from them) and either a per-example
score or a picker of its own. Scores follow one rule: higher means pick
first. A scored method picks the top ``budget`` scores, or draws by score
(``sampling``, see :mod:`svp.selection.sampling`), optionally balanced over
the classes.

A method of your own is a score (or picker) and one call:
``register_method("mine", Method(score=..., needs=frozenset({"probs"})))``;
one with a new need registers it first (:func:`register_need`) with how it
is derived from what learners give. :func:`method_names` lists the methods
registered when it is called.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

import numpy as np

from svp.config import KEEPS, SAMPLINGS
from svp.selection import uncertainty
from svp.selection.auto import AUTO_CHOICE_KEY, AUTO_CHOICES, AutoOptions, pick_auto
from svp.selection.badge import badge
from svp.selection.bald import BaldOptions, bald
from svp.selection.el2n import EARLY_SCORES_KEY, el2n, grand
from svp.selection.forgetting import FORGETTING_KEY, forgetting_events
from svp.selection.kcenters import greedy_k_centers
from svp.selection.needs import NEEDS, Need, derive_needs, model_needs, register_need
from svp.selection.options import OptionField, option_fields
from svp.selection.outputs import Outputs
from svp.selection.probcover import CLASSES_KEY, ProbCoverOptions, pick_probcover
from svp.selection.registry import (METHODS, Method, Picker, Scorer, call_pick, call_score, get_method,
                                    method_names, method_options, register_method)
from svp.selection.sampling import sampling_keys
from svp.selection.typiclust import typiclust

__all__ = ["METHODS", "NEEDS", "Method", "Need", "OptionField", "Outputs", "Picker", "Scorer", "BaldOptions",
           "derive_needs", "method_names", "method_options", "method_scores", "model_needs", "option_fields",
           "register_method", "register_need", "select", "top_k", "balanced_top_k", "FORGETTING_KEY",
           "EARLY_SCORES_KEY", "SAMPLINGS", "KEEPS", "AUTO_CHOICE_KEY", "AUTO_CHOICES", "AutoOptions", "CLASSES_KEY",
           "ProbCoverOptions"]


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


def _bald(pool: Outputs, *, options: BaldOptions) -> np.ndarray:
    # the options told the learner how to sample (Environment.mc_samples, mc_dropout); the score reads the result
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
for _name, _method in {
    "least_confidence": Method(needs=_PROBS, score=_by_probs(uncertainty.least_confidence), nonnegative=True),
    "entropy": Method(needs=_PROBS, score=_by_probs(uncertainty.entropy), nonnegative=True),
    "margin": Method(needs=_PROBS, score=_by_probs(uncertainty.margin)),
    "bald": Method(needs=frozenset({"mc"}), score=_bald, nonnegative=True, options=BaldOptions),
    "kcenters": Method(_kcenters, frozenset({"features"}), from_labeled=True),
    "badge": Method(_badge, frozenset({"probs", "features"})),
    "typiclust": Method(_typiclust, frozenset({"features"}), from_labeled=True),
    "probcover": Method(pick_probcover, frozenset({"features"}), from_labeled=True, options=ProbCoverOptions),
    "auto": Method(pick_auto, frozenset({"features", "probs"}), from_labeled=True, options=AutoOptions),
    "random": Method(_random),
    "forgetting_events": Method(needs=frozenset({"forgetting"}), active=False, score=_forgetting, nonnegative=True),
    "el2n": Method(needs=frozenset({"probs", "labels"}), active=False, score=_early(_el2n), nonnegative=True,
                   early=True),
    "grand": Method(needs=frozenset({"probs", "features", "labels"}), active=False, score=_early(_grand),
                    nonnegative=True, early=True),
}.items():
    register_method(_name, _method)
del _name, _method


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


def method_scores(method: str, pool: Outputs, options: Optional[Mapping[str, Any]] = None) -> np.ndarray:
    """The scores of the scored method ``method`` on ``pool`` (higher = pick first), in float64.

    Derived needs are computed into ``pool.extra`` first; ``options`` are
    checked against the method's (see :func:`method_options`).
    """
    chosen_by = get_method(method)
    if chosen_by.score is None:
        raise ValueError(f"{method} picks by no score; choose one of: {', '.join(method_names(scored=True))}")
    parsed = method_options(method, options)
    derive_needs(pool, chosen_by.needs)
    return call_score(chosen_by, pool, parsed)


def select(method: str, pool: Outputs, budget: int, *, labeled: Optional[Outputs] = None,
           seed: Optional[int] = None, sampling: str = "top", beta: float = 1.0, keep: str = "hardest",
           balance: bool = False, options: Optional[Mapping[str, Any]] = None) -> np.ndarray:
    """Choose ``budget`` dataset indices from ``pool`` with ``method``.

    Parameters
    ----------
    method : str
        A key of :data:`METHODS`.
    pool : Outputs
        The proxy's outputs for the candidate examples; the method's derived
        needs are computed into ``pool.extra`` when not there yet.
    budget : int
        How many to choose; at most ``len(pool.indices)``.
    labeled : Outputs, optional
        Outputs for the already-labeled examples (the methods that start
        from them: k-centers, typiclust, probcover, auto).
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
    options : mapping, optional
        The method's own options (its ``Method.options``), by name.

    Raises
    ------
    ValueError
        An unknown method, a budget out of range, unknown sampling or keep,
        options the method does not declare or of the wrong type, or
        outputs that lack what a derived need is computed from.
    """
    chosen_by = get_method(method)
    if not 0 < budget <= len(pool.indices):
        raise ValueError(f"budget {budget} must be between 1 and the {len(pool.indices)} pool examples")
    if sampling not in SAMPLINGS or keep not in KEEPS:
        raise ValueError(f"sampling {sampling!r} or keep {keep!r} is not one of {SAMPLINGS} or {KEEPS}")
    parsed, rng = method_options(method, options), np.random.default_rng(seed)
    derive_needs(pool, chosen_by.needs)
    if chosen_by.score is None:
        if (sampling, keep, balance) != ("top", "hardest", False):
            raise ValueError(f"{method} has no score to sample by, invert or balance")
        if labeled is not None and chosen_by.from_labeled:
            derive_needs(labeled, chosen_by.needs)
        chosen = call_pick(chosen_by, pool, budget, labeled, rng, parsed)
    else:
        if sampling == "power" and (keep == "easiest" or not chosen_by.nonnegative):
            raise ValueError(f"power sampling needs scores >= 0, which {keep} by {method} does not give")
        scores = call_score(chosen_by, pool, parsed)
        keys = sampling_keys(scores if keep == "hardest" else -scores, sampling, beta, rng)
        positions = balanced_top_k(keys, pool.labels, budget) if balance else top_k(keys, budget)
        chosen = pool.indices[positions]
    return np.asarray(chosen, dtype=np.int64)

