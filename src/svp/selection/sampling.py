"""Stochastic batch acquisition (Kirsch et al. 2023): a seeded draw by score instead of a top-k.

Taking the top ``budget`` scores of a large batch takes many near-copies
of the same few uncertain regions. Drawing the batch without replacement
with probabilities that grow with the score keeps the preference for high
scores and breaks that redundancy, at the cost of one noise vector.

The draw is the Gumbel-top-k trick: the ``budget`` largest keys
``log w_i + G_i`` (``G_i`` standard Gumbel) are a sample without
replacement with probabilities proportional to ``w_i``:

- ``softmax``: ``w = exp(beta * s)``, for scores of any sign;
- ``power``: ``w = s ** beta``, for scores >= 0 (a score of 0 is drawn last).
"""
from __future__ import annotations

import numpy as np

from svp.config import SAMPLINGS


def sampling_keys(scores: np.ndarray, mode: str, beta: float, rng: np.random.Generator) -> np.ndarray:
    """Keys whose top-k is a draw of ``mode`` from ``scores`` (``top``: the scores themselves)."""
    scores = np.asarray(scores, dtype=np.float64)
    if mode == "top":
        return scores
    if mode == "softmax":
        logits = beta * scores
    elif mode == "power":
        with np.errstate(divide="ignore"):
            logits = beta * np.log(np.maximum(scores, 0.0))
    else:
        raise ValueError(f"unknown sampling {mode!r}; choose one of {', '.join(SAMPLINGS)}")
    return logits + rng.gumbel(size=len(scores))
