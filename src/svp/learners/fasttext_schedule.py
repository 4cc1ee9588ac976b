"""fastText's automatic schedule: epochs and learning rate sized to the labeled set.

Under ``ModelConfig.schedule == "auto"`` (data of one's own) with neither
epochs nor a learning rate given, each training of the fastText proxy
sizes them (see ``FastTextLearner``):

- ``ModelConfig.steps`` given: that many example updates (fastText makes
  one per example and epoch), at the rule's rate;
- else, where the user gave ``autotune_seconds`` > 0 and the run's dev
  set or :func:`dev_split` of the labeled examples holds :data:`MIN_DEV`
  examples or more: fastText's own autotune
  (``train_supervised(autotuneValidationFile=...)``) searches epochs and
  rate on it within that time, and the model is trained again on every
  labeled example with what it found;
- else the rule :func:`sized_schedule`.

The rule is the default: on the two real text sets it was measured on,
it came within a point of the best of a grid of epochs and rates, while
autotune (10 s a training) did no better from 400 examples on and far
worse below (see the constants below).
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np

# The rule, measured on two real text sets in 8 classes (short Debian package descriptions, 80-4,800 examples;
# botocore's operation documentation, 80-800), 3 seeds, against a grid of 5-200 epochs x rates 0.05-1.0: test
# accuracy levels off once the rate summed over example updates (examples x epochs x rate) reaches 10,000-20,000,
# however epochs and rate share it, and rate 0.5 never diverged. The floor of 5 epochs is the original's, so a
# large set costs no more than the paper's schedule; the ceiling bounds tiny sets, whose curve is flat by then.
AUTO_RATE = 0.5
AUTO_UPDATES = 40_000  # example updates: a summed rate of 20,000 at AUTO_RATE
AUTO_EPOCHS = (5, 200)
# autotune's dev split: this fraction of each class (at least one) from classes of two examples or more. On
# those sets autotune on 16 dev examples chose schedules far worse than the rule, on 60 or more as good as it.
DEV_FRACTION = 0.15
MIN_DEV = 50


def sized_schedule(num_examples: int, steps: Optional[int] = None) -> tuple[int, float]:
    """fastText's epochs and learning rate sized to ``num_examples`` labeled examples.

    Epochs bring the example updates to :data:`AUTO_UPDATES` at rate
    :data:`AUTO_RATE`, within :data:`AUTO_EPOCHS`; ``steps``
    (``ModelConfig.steps``) asks for that many example updates instead,
    to the nearest whole epoch (at least one).

    Parameters
    ----------
    num_examples : int
        Labeled examples fastText trains on.
    steps : int, optional
        Example updates wanted, whatever the set's size.

    Returns
    -------
    tuple of (int, float)
        Epochs and learning rate.
    """
    size = max(num_examples, 1)
    if steps is not None:
        return max(1, round(steps / size)), AUTO_RATE
    low, high = AUTO_EPOCHS
    return min(high, max(low, math.ceil(AUTO_UPDATES / size))), AUTO_RATE


def dev_split(labels: np.ndarray, seed: int, fraction: float = DEV_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``labels`` split into (train, dev), stratified and seeded.

    Each class with two examples or more gives ``round(fraction * count)``
    of them, at least one, to dev; a class with one stays in train.

    Returns
    -------
    tuple of np.ndarray
        Sorted positions in ``labels``: those to train on, those to tune on.
    """
    rng = np.random.default_rng(seed)
    dev = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        if len(members) >= 2:
            dev[members[:max(1, round(fraction * len(members)))]] = True
    return np.flatnonzero(~dev), np.flatnonzero(dev)


def autotune_split(labels: np.ndarray, seed: int, seconds: int) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """The (train, dev) positions autotune would use, or None where it does not serve: no time given, or a
    dev split of fewer than :data:`MIN_DEV` examples."""
    if seconds <= 0:
        return None
    train, dev = dev_split(np.asarray(labels), seed)
    return (train, dev) if len(dev) >= MIN_DEV else None


def chance_accuracy(labels: np.ndarray) -> Optional[float]:
    """The accuracy of always predicting the most frequent class of ``labels`` (unknown ones, -1, left out);
    None when none is known."""
    known = np.asarray(labels, dtype=np.int64)
    known = known[known >= 0]
    return float(np.bincount(known).max() / len(known)) if len(known) else None


def plan_schedule(labels: np.ndarray, dev_labels: np.ndarray, seed: int, seconds: int, steps: Optional[int],
                  tune: Callable[[np.ndarray, Optional[np.ndarray]], Optional[tuple[int, float]]]) -> dict:
    """The automatic schedule of one training on examples of ``labels``, as a record (for the log and the
    training's folder): ``epochs``, ``learning_rate``, ``how`` ("steps", "autotune" or "rule") and what it
    was based on.

    Parameters
    ----------
    labels : np.ndarray
        Classes of the labeled examples.
    dev_labels : np.ndarray
        Classes of the run's dev set (empty: none); autotune scores on it when it holds :data:`MIN_DEV`
        examples, all labeled, else on :func:`dev_split` of ``labels``.
    seed : int
        Seeds the dev split.
    seconds : int
        Autotune's time limit (0: the rule alone).
    steps : int, optional
        ``ModelConfig.steps``: that many example updates, no search.
    tune : callable
        ``tune(train, dev)`` runs autotune on positions ``train`` of ``labels`` and scores on positions ``dev``
        (None: on the run's dev set); gives (epochs, rate), or None when it found nothing in time.
    """
    record: dict = {"schedule": "auto", "examples": len(labels)}
    split: Optional[tuple[np.ndarray, Optional[np.ndarray]]] = None
    if steps is None and seconds > 0:
        dev_labels = np.asarray(dev_labels)
        if len(dev_labels) >= MIN_DEV and (dev_labels >= 0).all():
            split, record["dev"], record["dev_examples"] = (np.arange(len(labels)), None), "run", len(dev_labels)
        elif (own := autotune_split(labels, seed, seconds)) is not None:
            split, record["dev"], record["dev_examples"] = own, "labeled", len(own[1])
    found = None
    if split is not None:
        record["autotune_seconds"] = seconds
        found = tune(*split)
    if found is not None:
        record["how"] = "autotune"
        epochs, rate = found
    else:
        record["how"] = "steps" if steps is not None else "rule"
        epochs, rate = sized_schedule(len(labels), steps)
    record.update(epochs=epochs, learning_rate=rate)
    return record
