"""Batched transforms for tensor-resident data (images, and the feature vectors of one's own).

Augmentation runs on a whole gathered batch on its device: one random crop
offset and one flip decision per image, applied with a single gather, then
one fused multiply-add for normalisation (which reads the uint8 batch
directly; no float copy is made first). This replaces per-sample PIL
transforms in DataLoader workers.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F


class _Affine:
    """``batch * scale + shift`` in one fused pass, its two tensors copied once to each device."""

    def __init__(self, scale: torch.Tensor, shift: torch.Tensor) -> None:
        self.scale, self.shift = scale, shift
        self._cache: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def _params(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if device not in self._cache:
            self._cache[device] = (self.scale.to(device), self.shift.to(device))
        return self._cache[device]

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        scale, shift = self._params(batch.device)
        if batch.dtype not in (torch.uint8, torch.float32):
            batch = batch.float()
        # uint8 is cast inside the kernel: one pass, no float copy of the batch
        return torch.addcmul(shift, batch, scale)


class Normalize(_Affine):
    """uint8 (N, C, H, W) -> float32, scaled to [0, 1] then standardised per channel."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        std_t = torch.tensor(std, dtype=torch.float32)
        super().__init__((1.0 / (255.0 * std_t)).view(1, -1, 1, 1),
                         (-torch.tensor(mean, dtype=torch.float32) / std_t).view(1, -1, 1, 1))


class Standardize(_Affine):
    """Feature vectors (N, D) to zero mean and unit variance per dimension, by the statistics of ``train``."""

    def __init__(self, train: torch.Tensor) -> None:
        scale = 1.0 / train.std(0, keepdim=True).clamp_min(1e-6)
        super().__init__(scale, -train.mean(0, keepdim=True) * scale)


def crop_and_flip(batch: torch.Tensor, padding: int, flip: bool = True,
                  generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Random crop with zero padding, then a random horizontal flip, as one gather.

    Draws the crop offsets (rows, then columns) and then the flips, in that
    order; the flip is folded into the gather's column offsets instead of
    being a second pass over the batch. ``padding=0`` only flips, ``flip=False``
    only crops.
    """
    n, c, h, w = batch.shape
    device = batch.device
    zeros = torch.zeros(n, dtype=torch.int64, device=device)
    dy, dx = zeros, zeros
    if padding:
        batch = F.pad(batch, (padding,) * 4)
        dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(device)
        dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(device)
    cols = torch.arange(w, device=device).expand(n, w)
    if flip:
        mirror = (torch.rand(n, generator=generator) < 0.5).to(device)
        cols = torch.where(mirror[:, None], cols.flip(1), cols)
    rows = dy[:, None] + torch.arange(h, device=device)
    offsets = rows[:, :, None] * (w + 2 * padding) + (dx[:, None] + cols)[:, None, :]  # (n, h, w)
    flat = batch.reshape(n, c, -1)
    return flat.gather(2, offsets.view(n, 1, h * w).expand(n, c, h * w)).view(n, c, h, w)


class Augment:
    """Random crop with padding and horizontal flip, then normalisation."""

    def __init__(self, normalize: Normalize, padding: int = 4, flip: bool = True) -> None:
        self.normalize = normalize
        self.padding = padding
        self.flip = flip

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        if self.padding or self.flip:
            batch = crop_and_flip(batch, self.padding, self.flip)
        return self.normalize(batch)
