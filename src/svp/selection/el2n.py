"""EL2N and GraNd (Paul et al. 2021): how hard an example is, early in training.

Both come from the proxy's outputs on labeled examples:

- EL2N: ``|p - onehot(y)|_2``, the norm of the error vector;
- GraNd: the norm of the loss gradient. Taken, as the cheap and common
  variant does, over the last layer (weights and bias): for cross-entropy
  that gradient is ``(p - onehot(y)) (x) [h, 1]``, whose norm is
  ``|p - onehot(y)|_2 * sqrt(|h|^2 + 1)``.

Paul et al. take them a few epochs into training and average them over
several seeds: the core-set workflow trains those proxies (see
``--score-epoch``, ``--score-seeds``) and hands the averaged scores over
under :data:`EARLY_SCORES_KEY`. High scores are the hard examples.
"""
from __future__ import annotations

import numpy as np

#: where the core-set workflow puts scores averaged over several early proxies
EARLY_SCORES_KEY = "early_scores"


def _error(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``p - onehot(y)`` in float64."""
    error = np.array(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    error[np.arange(len(error)), labels] -= 1.0
    return error


def el2n(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The L2 norm of each row's error vector ``p - onehot(y)``."""
    return np.linalg.norm(_error(probs, labels), axis=1)


def grand(probs: np.ndarray, features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The norm of the cross-entropy gradient over a last linear layer (weights and bias)."""
    features = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    return el2n(probs, labels) * np.sqrt(np.einsum("ij,ij->i", features, features) + 1.0)
