"""Score a pool: one batched inference pass giving probabilities and features.

Results are written into arrays allocated once for the whole pool; features
(the classifier's input) are captured by a forward pre-hook, so the model
runs once per batch whatever is asked. Under ``torchrun`` each rank scores
a contiguous run of the very batches one process would form (see
:func:`svp.engine.distributed.part`) and the parts are gathered back in
pool order, so the scores are bit for bit those of one process.

Monte-Carlo dropout (``mc_samples`` > 0, for BALD)
    A model without dropout layers gets dropout on the classifier's input
    (the proxy trained with it, see :func:`svp.models.add_classifier_dropout`):
    the body runs once per batch and the classifier
    runs on ``mc_samples`` dropped copies of its input in one call, so a
    sample costs a small fraction of a forward pass. A model with dropout
    layers runs ``mc_samples`` full forward passes with those layers in
    training mode (batch norm stays in eval mode). Only the averaged
    probabilities and the averaged entropy of the samples are kept
    (float64 summaries, see :mod:`svp.selection.bald`). The masks come from
    torch's generator seeded with :data:`MC_SEED` inside ``fork_rng``, so a
    scoring repeats itself and leaves training's random stream untouched
    (under ``torchrun`` each rank draws its own masks).
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from svp.data.base import Data
from svp.engine import distributed
from svp.engine.device import autocast, to_model_layout
from svp.models import classifier_of, dropout_layers
from svp.progress import bar

#: seed of the MC-dropout masks (scoring is repeatable; training's stream is not touched)
MC_SEED = 0


class Predictions(NamedTuple):
    """Row ``i`` for the ``i``-th index asked: class probabilities, and features / MC summaries when asked."""

    probs: np.ndarray
    features: Optional[np.ndarray] = None
    mc_probs: Optional[np.ndarray] = None    # (n, C) mean of the MC-dropout samples' probabilities
    mc_entropy: Optional[np.ndarray] = None  # (n,) mean of their entropies


class _FeatureCapture:
    """Forward pre-hook that copies the classifier's input into a buffer."""

    def __init__(self) -> None:
        self.value: Optional[torch.Tensor] = None

    def __call__(self, module: nn.Module, inputs: tuple) -> None:
        self.value = inputs[0]


class _MonteCarlo:
    """Draws ``samples`` MC-dropout predictions of a batch (see the module docstring)."""

    def __init__(self, model: nn.Module, samples: int, p: float) -> None:
        self.model, self.samples, self.p = model, samples, p
        self.dropouts = dropout_layers(model)

    def summary(self, x: torch.Tensor, logits: torch.Tensor, inputs: torch.Tensor,
                device: torch.device, amp: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean probabilities (float32) and mean entropy (float64) of the samples for one batch."""
        if self.dropouts:
            for module in self.dropouts:
                module.train()
            try:
                with autocast(device, amp):
                    logits = torch.stack([self.model(x) for _ in range(self.samples)])
            finally:
                for module in self.dropouts:
                    module.eval()
        else:
            flat = inputs.flatten(1) if inputs.dim() > 2 else inputs
            dropped = F.dropout(flat.repeat(self.samples, 1), self.p, training=True)
            with autocast(device, amp):
                logits = classifier_of(self.model)(dropped.view(self.samples * len(flat), *inputs.shape[1:]))
            logits = logits.view(self.samples, len(flat), -1)
        probs = torch.softmax(logits.double(), dim=-1)
        return probs.mean(dim=0).float(), torch.special.entr(probs).sum(dim=-1).mean(dim=0)


@torch.inference_mode()
def predict(model: nn.Module, data: Data, indices: np.ndarray, *, batch_size: int,
            device: torch.device, features: bool = False, amp: bool = False,
            split: str = "train", mc_samples: int = 0, mc_dropout: float = 0.5) -> Predictions:
    """Class probabilities (and penultimate features, and MC-dropout summaries) for ``indices`` of ``split``."""
    indices = np.asarray(indices, dtype=np.int64)
    model.eval()
    capture = _FeatureCapture()
    mc = _MonteCarlo(model, mc_samples, mc_dropout) if mc_samples else None
    hooked = features or (mc is not None and not mc.dropouts)
    handle = classifier_of(model).register_forward_pre_hook(capture) if hooked else None
    devices = [device] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices, enabled=mc is not None):
            if mc is not None:
                torch.manual_seed(MC_SEED)
            columns = _run(model, data, split, distributed.part(indices, batch_size), batch_size, device,
                           amp, capture, features, mc)
    finally:
        if handle is not None:
            handle.remove()
    gathered = [None if c is None else distributed.all_gather_cat(c).numpy() for c in columns]
    return Predictions(*gathered)


def _run(model, data, split, indices, batch_size, device, amp, capture, features, mc):
    """The four columns of :class:`Predictions` for ``indices`` (None where not asked)."""
    columns: list = [None, None, None, None]
    offset = 0
    batches = data.batches(split=split, indices=indices, batch_size=batch_size, device=device)
    for x, _, _ in bar(batches, total=-(-len(indices) // batch_size), desc="scoring pool", unit="batch"):
        x = to_model_layout(x)
        with autocast(device, amp):
            logits = model(x)
        inputs = capture.value  # the classifier's input, before any MC pass replaces it
        values = [torch.softmax(logits.float(), dim=1), inputs.float().flatten(1) if features else None]
        values += list(mc.summary(x, logits, inputs, device, amp)) if mc is not None else [None, None]
        if columns[0] is None:  # allocate once, now that the widths are known
            columns = [None if v is None else torch.empty((len(indices), *v.shape[1:]), dtype=v.dtype)
                       for v in values]
        end = offset + len(values[0])
        for column, value in zip(columns, values):
            if column is not None:
                column[offset:end].copy_(value)
        offset = end
    if columns[0] is None:  # no rows here (a rank whose part of a small pool is empty)
        columns = [torch.empty((0, 0)), torch.empty((0, 0)) if features else None,
                   torch.empty((0, 0)) if mc else None, torch.empty((0,), dtype=torch.float64) if mc else None]
    return columns
