"""Forgetting events (Toneva et al. 2019), tracked during training.

An example is *forgotten* when the training forward pass classifies it
correctly in one presentation and incorrectly in the next. Examples that
were never classified correctly count as forgotten infinitely often.
The tracker is a batch hook of :func:`svp.engine.fit.fit`.
"""
from __future__ import annotations

import numpy as np
import torch


class ForgettingTracker:
    """Per-example forgetting counts over a training run.

    Parameters
    ----------
    num_examples : int
        Size of the split whose indices the batches carry.
    """

    def __init__(self, num_examples: int) -> None:
        self.last_correct = np.zeros(num_examples, dtype=bool)
        self.ever_correct = np.zeros(num_examples, dtype=bool)
        self.seen = np.zeros(num_examples, dtype=bool)
        self.forgotten = np.zeros(num_examples, dtype=np.int64)

    def __call__(self, indices: torch.Tensor, correct: torch.Tensor, epoch: int = 0) -> None:
        """Record one batch: ``correct[i]`` for the example at ``indices[i]``."""
        idx = np.asarray(indices, dtype=np.int64)
        now = np.asarray(correct, dtype=bool)
        self.forgotten[idx] += self.last_correct[idx] & ~now
        self.last_correct[idx] = now
        self.ever_correct[idx] |= now
        self.seen[idx] = True

    def counts(self, indices: np.ndarray) -> np.ndarray:
        """Forgetting counts for ``indices``, ``inf`` for never-learned examples."""
        indices = np.asarray(indices, dtype=np.int64)
        counts = self.forgotten[indices].astype(np.float64)
        counts[~self.ever_correct[indices]] = np.inf
        return counts
