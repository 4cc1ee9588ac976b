"""Uncertainty scores from class probabilities; higher means pick first."""
from __future__ import annotations

import numpy as np


def least_confidence(probs: np.ndarray) -> np.ndarray:
    """1 - the probability of the most likely class."""
    return 1.0 - probs.max(axis=1)


def entropy(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy in nats (0 log 0 taken as 0), computed in float64.

    Near-uniform distributions differ in the last float32 digits; float64
    keeps them from tying (the original computed in float64 too).
    """
    probs = np.asarray(probs, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(probs > 0, probs * np.log(probs), 0.0)
    return -terms.sum(axis=1)


def margin(probs: np.ndarray) -> np.ndarray:
    """Minus the gap between the two most likely classes (small gap, high score)."""
    if probs.shape[1] < 2:
        return np.zeros(len(probs), dtype=probs.dtype)
    top2 = np.partition(probs, -2, axis=1)[:, -2:]
    return -(top2[:, 1] - top2[:, 0])
