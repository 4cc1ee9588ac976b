"""BALD (Houlsby et al. 2011, as in Gal et al. 2017): what the model's MC-dropout samples disagree on.

The score is the mutual information between the label and the weights,
``I = H(mean_t p_t) - mean_t H(p_t)``: the entropy of the averaged
prediction minus the average entropy of the T sampled predictions. It is
high where the samples are each confident but disagree. Only the two
summaries (averaged probabilities, averaged entropy) are kept, so the
memory is O(n x classes) whatever T is.

The samples are drawn by the learner that scores the pool
(:mod:`svp.engine.predict`), as :class:`BaldOptions` say; the score only
reads their summaries.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from svp.selection.uncertainty import entropy


@dataclass(frozen=True)
class BaldOptions:
    """BALD's own options: how the proxy samples its Monte-Carlo dropout predictions."""

    mc_samples: int = field(default=20, metadata={"help": "Monte-Carlo dropout samples per example"})
    mc_dropout: float = field(default=0.5, metadata={
        "help": "dropout probability on the classifier's input of a proxy without dropout layers (it trains "
                "with it too)"})


def mc_summary(mc_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The averaged probabilities (n, C) and averaged entropy (n,) of samples ``mc_probs`` (T, n, C)."""
    mc_probs = np.asarray(mc_probs, dtype=np.float64)
    return mc_probs.mean(axis=0), np.mean([entropy(p) for p in mc_probs], axis=0)


def bald(mean_probs: np.ndarray, mean_entropy: np.ndarray) -> np.ndarray:
    """Mutual information ``H(mean p) - mean H(p)`` in nats, in float64, never below 0.

    By Jensen's inequality it is >= 0; rounding can make it a hair
    negative for samples that all agree, hence the clip (the power
    sampling of :mod:`svp.selection.sampling` needs scores >= 0).
    """
    return np.maximum(entropy(mean_probs) - np.asarray(mean_entropy, dtype=np.float64), 0.0)
