"""How alike two scorings of one pool are: a proxy's against the target's.

SVP rests on a cheap proxy ranking a pool much as the target would. These
measure it on two score vectors over the same examples (higher means pick
first, as everywhere in :mod:`svp.selection`):

* :func:`spearman`: Spearman's rank correlation (tied scores share their
  average rank), 1 when the orders agree, -1 when reversed;
* :func:`topk_overlap`: the fraction of the ``k`` picks from one scoring that
  the other picks too, ties going to the earlier position as :func:`top_k` does.

Pure numpy: scipy is no dependency of svp.
"""
from __future__ import annotations

import numpy as np

from svp.selection import top_k

__all__ = ["average_ranks", "spearman", "topk_overlap"]


def _scores(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one score per example (1-D), not shape {array.shape}")
    if np.isnan(array).any():
        raise ValueError(f"{name} holds NaN scores; score every example")
    return array


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = _scores(a, "a"), _scores(b, "b")
    if len(a) != len(b):
        raise ValueError(f"a scores {len(a)} examples and b {len(b)}; score the same pool with both")
    return a, b


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1 (smallest) to n; tied values all get the mean of the ranks they span.

    Examples
    --------
    >>> average_ranks([10, 30, 20, 30])
    array([1. , 3.5, 2. , 3.5])
    """
    values = _scores(values, "values")
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # first position of each run of ties
    ends = np.r_[starts[1:], len(values)]                                # one past its last
    run_of = np.repeat(np.arange(len(starts)), ends - starts)
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = ((starts + ends + 1) / 2.0)[run_of]  # mean of ranks starts+1 .. ends
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two scorings of the same examples.

    Parameters
    ----------
    a, b : array of float, shape (n,)
        Scores of the same n examples, in the same order.

    Returns
    -------
    float
        The Pearson correlation of their average ranks, in [-1, 1]; NaN when
        either scoring gives every example the same score (no order to compare).

    Raises
    ------
    ValueError
        When the lengths differ, n < 2, or a score is NaN.
    """
    a, b = _pair(a, b)
    if len(a) < 2:
        raise ValueError(f"a rank correlation needs at least 2 examples, not {len(a)}")
    ra, rb = average_ranks(a), average_ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    denominator = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    if denominator == 0:
        return float("nan")
    return float(np.clip((ra * rb).sum() / denominator, -1.0, 1.0))


def topk_overlap(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """The fraction of the ``k`` highest-scored examples under ``a`` that are also among ``b``'s ``k``.

    Parameters
    ----------
    a, b : array of float, shape (n,)
        Scores of the same n examples, in the same order.
    k : int
        How many each would pick, 1 <= k <= n.

    Returns
    -------
    float
        ``|top_k(a) & top_k(b)| / k``: 1 when both pick the same set.
    """
    a, b = _pair(a, b)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(a):
        raise ValueError(f"k must be a whole number from 1 to {len(a)} (the pool), not {k!r}")
    common = np.intersect1d(top_k(a, int(k)), top_k(b, int(k)))
    return len(common) / int(k)
