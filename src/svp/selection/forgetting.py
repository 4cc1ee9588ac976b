"""Rank by forgetting events: the most forgotten (never learned first) are kept."""
from __future__ import annotations

import numpy as np

FORGETTING_KEY = "forgetting_events"


def forgetting_events(extra: dict) -> np.ndarray:
    """The forgetting counts the tracker attached to the outputs (inf = never learned)."""
    if FORGETTING_KEY not in extra:
        raise ValueError("forgetting_events needs counts from a ForgettingTracker run during proxy training")
    return extra[FORGETTING_KEY]
