"""What a proxy says about a set of examples: the input of every selection method."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np


@dataclass
class Outputs:
    """A proxy's outputs, row ``i`` for dataset index ``indices[i]``.

    ``probs`` are class probabilities, ``features`` penultimate-layer
    features, ``labels`` the examples' known labels; ``mc_probs`` and
    ``mc_entropy`` summarise T Monte-Carlo dropout samples (the averaged
    probabilities and the averaged entropy of the samples, see
    :mod:`svp.selection.bald`); ``extra`` holds what a method needs beyond
    them (e.g. the forgetting counts of core-set selection).
    """

    indices: np.ndarray
    probs: Optional[np.ndarray] = None
    features: Optional[np.ndarray] = None
    extra: dict = field(default_factory=dict)
    labels: Optional[np.ndarray] = None
    mc_probs: Optional[np.ndarray] = None
    mc_entropy: Optional[np.ndarray] = None
