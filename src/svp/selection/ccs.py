"""Core-sets that do not collapse at high pruning rates: which end to keep, and coverage-centric sampling.

Two results decide how svp keeps a core-set of data of one's own:

- Sorscher et al. 2022 ("Beyond neural scaling laws: beating power law
  scaling via data pruning", NeurIPS): the best pruning keeps the *easy*
  examples when data is scarce and the *hard* ones when it is plentiful.
  :func:`keep_for` turns that into a rule on the size of what is kept.
- Zheng et al. 2023 ("Coverage-centric coreset selection for high pruning
  rates", ICLR; CCS): keeping only the top scores collapses below random at
  high pruning rates because the kept set no longer covers the data. CCS
  drops a fraction ``beta`` of the hardest examples (the likely mislabeled
  or ambiguous ones; :func:`hard_cutoff_for`) and samples the rest evenly
  across equal-width strata of the score (:func:`stratified_sample`, their
  Algorithm 1).

Scores follow svp's rule: higher = harder = ranked first. The functions here
take *keys*: the cutoff drops the highest keys. CCS as published (drop the
hardest) samples over the scores themselves; to drop the easiest end
instead, pass minus the scores (see :func:`cutoff_keys`).
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

#: CCS's number of strata (k = 50 in the paper and its code)
STRATA = 50
#: keep the easiest when at most this fraction of the pool is kept (see :func:`keep_for`)
EASY_FRACTION = 0.3
#: ... or when fewer than this many examples are kept per class on average
EASY_PER_CLASS = 1000
#: (fraction pruned, hard cutoff beta): CCS's beta by pruning rate, interpolated between (see :func:`hard_cutoff_for`)
CUTOFFS = ((0.5, 0.0), (0.7, 0.1), (0.8, 0.2), (0.9, 0.3))


def keep_for(pool_size: int, kept: int, classes: int = 1) -> str:
    """Which end of the scores a core-set of ``kept`` out of ``pool_size`` keeps: "easiest" or "hardest".

    The data-size rule of Sorscher et al. 2022 (easy examples when data is
    scarce, hard ones when it is plentiful), made concrete: keep the easiest
    when at most :data:`EASY_FRACTION` (30%) of the pool is kept, or fewer
    than :data:`EASY_PER_CLASS` (1,000) examples per class on average; else
    the hardest. Where the numbers come from:

    - 30%: in Zheng et al. 2023 (CCS, Table 1), keeping the hardest by
      forgetting or EL2N beats random on CIFAR-10 at low pruning rates and
      collapses below it at high ones, from about 70% pruned (30% kept) on
      (forgetting: 95.4% at 30% pruned, 34.0% at 90%).
    - 1,000 per class: the experiments where keeping the hardest pays off
      (CIFAR-10 at half of its 5,000 per class, ImageNet's ~1,300 per class)
      keep more than that; svp's own Fashion-MNIST bench keeping the hardest
      5,000 of 10,000 (500 per class) by EL2N or GraNd lost 16-18 points to
      random (bench/README.md).

    Parameters
    ----------
    pool_size : int
        Examples the core-set is chosen from.
    kept : int
        Examples kept, at most ``pool_size``.
    classes : int
        Classes in the pool (the per-class size is ``kept / classes``).
    """
    if not 0 < kept <= pool_size or classes < 1:
        raise ValueError(f"keeping {kept} of {pool_size} examples in {classes} classes is not a core-set")
    scarce = kept <= EASY_FRACTION * pool_size or kept < EASY_PER_CLASS * classes
    return "easiest" if scarce else "hardest"


def keep_reason(pool_size: int, kept: int, classes: int = 1) -> str:
    """Why :func:`keep_for` chose as it did, in words (for the log)."""
    keep = keep_for(pool_size, kept, classes)
    sizes = f"{kept} of {pool_size} kept ({kept / pool_size:.0%}, {kept / classes:.0f} per class)"
    rule = (f"at most {EASY_FRACTION:.0%} kept or fewer than {EASY_PER_CLASS} per class: data is scarce"
            if keep == "easiest" else f"over {EASY_FRACTION:.0%} and at least {EASY_PER_CLASS} per class kept: "
            "data is plentiful")
    return f"{sizes}; {rule}, so the {keep} are kept (Sorscher et al. 2022)"


def hard_cutoff_for(fraction_pruned: float, hard_cutoff: Optional[float] = None) -> float:
    """CCS's hard cutoff beta: the fraction of the pool dropped from the hardest end before sampling.

    ``hard_cutoff`` when given; else CCS's choice by pruning rate (Zheng
    et al. 2023 tune beta per data set and rate by grid search, and find
    it 0 at low rates and growing with the rate): 0 up to 50% pruned, 0.1
    at 70%, 0.2 at 80%, 0.3 at 90%. The 80% and 90% values are those of
    the commands in CCS's README (ImageNet: 0.2 at 80%, 0.3 at 90%;
    CIFAR-10: 0.3 at 90%); 0.1 at 70% continues their step. Linear between
    those rates, held beyond them (:data:`CUTOFFS`). It never exceeds the
    fraction pruned, so the rest always holds the core-set.
    """
    if hard_cutoff is not None:
        return float(hard_cutoff)
    if not 0 <= fraction_pruned <= 1:
        raise ValueError(f"a pruning rate is a fraction in [0, 1], got {fraction_pruned}")
    rates, cutoffs = zip(*CUTOFFS)
    return round(float(np.interp(fraction_pruned, rates, cutoffs)), 6)


def cutoff_count(size: int, cutoff: float, budget: int) -> int:
    """How many of ``size`` examples the cutoff drops: ``floor(cutoff * size)``, never so many that fewer
    than ``budget`` are left."""
    dropped = math.floor(cutoff * size + 1e-9)  # 0.29 * 100 is 28.999...: still 29
    return max(0, min(dropped, size - budget))


def strata_of(keys: np.ndarray, strata: int = STRATA) -> np.ndarray:
    """The stratum (0 to ``strata - 1``) of each key: ``strata`` equal-width bins over ``[min, max]``.

    The maximum falls in the last bin; equal keys all fall in the first.
    An infinite key counts as one beyond the finite ones (forgetting counts
    give ``inf`` to never-learned examples): it lies in the bin at its end.
    """
    keys = _finite(np.asarray(keys, dtype=np.float64))
    if not len(keys):
        return np.empty(0, dtype=np.int64)
    low, high = keys.min(), keys.max()
    if high == low:
        return np.zeros(len(keys), dtype=np.int64)
    return np.minimum(np.floor((keys - low) / (high - low) * strata), strata - 1).astype(np.int64)


def stratum_budgets(counts: np.ndarray, budget: int) -> np.ndarray:
    """How many each stratum gives (CCS's allocation): from the smallest stratum up, each gives its even
    share of what is left of ``budget`` (``left // strata left``), or all it has when it has fewer.

    The sum is exactly ``budget`` whenever the strata hold that many: a
    stratum that gives less than its share leaves more for the larger ones
    after it; the floors' remainder goes to the largest strata (the later
    stratum on equal counts).
    """
    counts = np.asarray(counts, dtype=np.int64)
    if budget > counts.sum():
        raise ValueError(f"the strata hold {counts.sum()} examples, fewer than the budget {budget}")
    given, left = np.zeros(len(counts), dtype=np.int64), budget
    for done, stratum in enumerate(np.argsort(counts, kind="stable")):
        given[stratum] = min(counts[stratum], left // (len(counts) - done))
        left -= given[stratum]
    return given


def stratified_sample(keys: np.ndarray, budget: int, strata: int = STRATA, cutoff: float = 0.0,
                      rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """CCS's Algorithm 1: exactly ``budget`` distinct positions of ``keys``, in increasing order.

    Drops the ``cutoff`` fraction of the highest keys (:func:`cutoff_count`;
    on equal keys, the earlier position first), splits the range of the
    rest into ``strata`` equal-width strata (:func:`strata_of`), gives each
    stratum its budget (:func:`stratum_budgets`) and draws that many
    uniformly at random within it, with ``rng``.

    Raises
    ------
    ValueError
        A budget out of ``[0, len(keys)]``, a cutoff out of ``[0, 1)``, or
        keys that are not numbers (NaN).
    """
    keys = np.asarray(keys, dtype=np.float64)
    if not 0 <= budget <= len(keys) or not 0 <= cutoff < 1 or strata < 1:
        raise ValueError(f"cannot sample {budget} of {len(keys)} over {strata} strata after a cutoff of {cutoff}")
    if np.isnan(keys).any():
        raise ValueError("the scores hold NaN, which no stratum holds")
    rng = rng if rng is not None else np.random.default_rng()
    order = np.argsort(-keys, kind="stable")
    rest = np.sort(order[cutoff_count(len(keys), cutoff, budget):])
    where = strata_of(keys[rest], strata)
    given = stratum_budgets(np.bincount(where, minlength=strata), budget)
    chosen = [rng.choice(rest[where == stratum], size=int(k), replace=False)
              for stratum, k in enumerate(given) if k]
    return np.sort(np.concatenate(chosen)) if chosen else np.empty(0, dtype=np.int64)


def class_quotas(labels: np.ndarray, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """The classes of ``labels`` and each one's share of ``budget``, by the rule of
    :func:`svp.selection.balanced_top_k`: ``floor(budget * n_c / n)``, then one more each to the classes of
    largest remainder (the lower class first on ties)."""
    classes, counts = np.unique(np.asarray(labels), return_counts=True)
    exact = budget * counts / counts.sum()
    quota = np.floor(exact).astype(np.int64)
    quota[np.argsort(-(exact - quota), kind="stable")[:budget - int(quota.sum())]] += 1
    return classes, quota


def stratified_by_class(keys: np.ndarray, labels: np.ndarray, budget: int, strata: int = STRATA,
                        cutoff: float = 0.0, rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """:func:`stratified_sample` within each class of ``labels`` with its :func:`class_quotas` share of
    ``budget`` (the cutoff and the strata taken within the class); positions in increasing order."""
    keys, labels = np.asarray(keys, dtype=np.float64), np.asarray(labels)
    if len(labels) != len(keys):
        raise ValueError(f"{len(labels)} labels for {len(keys)} scores")
    rng = rng if rng is not None else np.random.default_rng()
    chosen = [np.empty(0, dtype=np.int64)]
    for label, quota in zip(*class_quotas(labels, budget)):
        members = np.flatnonzero(labels == label)
        chosen.append(members[stratified_sample(keys[members], int(quota), strata, cutoff, rng)])
    return np.sort(np.concatenate(chosen))


def cutoff_keys(scores: np.ndarray, keep: str) -> np.ndarray:
    """The keys to stratify so that the cutoff drops the end that ``keep`` does not keep.

    "easiest" (CCS as published): the scores, so the cutoff drops the
    hardest (the likely mislabeled, which scarce data can least afford);
    "hardest": minus the scores, so it drops the easiest (the redundant,
    which plentiful data can most afford to lose). Stratification itself
    is symmetric: only the cutoff's end differs.
    """
    if keep not in ("easiest", "hardest"):
        raise ValueError(f"keep {keep!r} is neither easiest nor hardest (resolve auto with keep_for first)")
    scores = np.asarray(scores, dtype=np.float64)
    return scores if keep == "easiest" else -scores


def _finite(keys: np.ndarray) -> np.ndarray:
    """``keys`` with +inf one above the largest finite key and -inf one below the smallest (0 if none is)."""
    finite = keys[np.isfinite(keys)]
    high, low = (finite.max() + 1, finite.min() - 1) if len(finite) else (0.0, 0.0)
    return np.where(keys == np.inf, high, np.where(keys == -np.inf, low, keys))
