"""Score a pool: one batched inference pass giving probabilities and features.

Results are written into arrays allocated once for the whole pool; features
(the classifier's input) are captured by a forward pre-hook, so the model
runs once per batch whatever is asked. Under ``torchrun`` each rank scores
a contiguous run of the very batches one process would form (see
:func:`svp.engine.distributed.part`) and the parts are gathered back in
pool order, so the scores are bit for bit those of one process.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np
import torch
from torch import nn

from svp.data.base import Data
from svp.engine import distributed
from svp.engine.device import autocast, to_model_layout
from svp.models import classifier_of
from svp.progress import bar


class Predictions(NamedTuple):
    """Row ``i`` for the ``i``-th index asked: class probabilities, and features when asked."""

    probs: np.ndarray
    features: Optional[np.ndarray] = None


class _FeatureCapture:
    """Forward pre-hook that copies the classifier's input into a buffer."""

    def __init__(self) -> None:
        self.value: Optional[torch.Tensor] = None

    def __call__(self, module: nn.Module, inputs: tuple) -> None:
        self.value = inputs[0]


@torch.inference_mode()
def predict(model: nn.Module, data: Data, indices: np.ndarray, *, batch_size: int,
            device: torch.device, features: bool = False, amp: bool = False,
            split: str = "train") -> Predictions:
    """Class probabilities (and penultimate features) for ``indices`` of ``split``."""
    indices = np.asarray(indices, dtype=np.int64)
    model.eval()
    capture = _FeatureCapture()
    handle = classifier_of(model).register_forward_pre_hook(capture) if features else None
    try:
        probs, feats = _run(model, data, split, distributed.part(indices, batch_size), batch_size, device,
                            amp, capture, features)
    finally:
        if handle is not None:
            handle.remove()
    probs = distributed.all_gather_cat(probs)
    feats = distributed.all_gather_cat(feats) if features else None
    return Predictions(probs.numpy(), None if feats is None else feats.numpy())


def _run(model, data, split, indices, batch_size, device, amp, capture, features):
    probs = feats = None
    offset = 0
    batches = data.batches(split=split, indices=indices, batch_size=batch_size, device=device)
    for x, _, _ in bar(batches, total=-(-len(indices) // batch_size), desc="scoring pool", unit="batch"):
        with autocast(device, amp):
            logits = model(to_model_layout(x))
        batch_probs = torch.softmax(logits.float(), dim=1)
        if probs is None:  # allocate once, now that the widths are known
            probs = torch.empty((len(indices), batch_probs.shape[1]), dtype=torch.float32)
            if features:
                feats = torch.empty((len(indices), capture.value.shape[1]), dtype=torch.float32)
        end = offset + len(batch_probs)
        probs[offset:end].copy_(batch_probs)
        if features:
            feats[offset:end].copy_(capture.value.float().flatten(1))
        offset = end
    if probs is None:  # no rows here (a rank whose part of a small pool is empty)
        probs, feats = torch.empty((0, 0)), torch.empty((0, 0))
    return probs, feats
