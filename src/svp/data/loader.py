"""Batched transforms for tensor-resident image data.

Augmentation runs on a whole gathered batch on its device: one random crop
offset and one flip decision per image, applied with a single gather, then
one fused multiply-add for normalisation. This replaces per-sample PIL
transforms in DataLoader workers.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F


class Normalize:
    """uint8 (N, C, H, W) -> float32, scaled to [0, 1] then standardised per channel."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        std_t = torch.tensor(std, dtype=torch.float32)
        self.scale = (1.0 / (255.0 * std_t)).view(1, -1, 1, 1)
        self.shift = (-torch.tensor(mean, dtype=torch.float32) / std_t).view(1, -1, 1, 1)
        self._cache: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def _params(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if device not in self._cache:
            self._cache[device] = (self.scale.to(device), self.shift.to(device))
        return self._cache[device]

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        scale, shift = self._params(batch.device)
        return torch.addcmul(shift, batch.float(), scale)


def random_crop(batch: torch.Tensor, padding: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Zero-pad each image by ``padding`` and crop it back at a random offset."""
    n, c, h, w = batch.shape
    padded = F.pad(batch, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(batch.device)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(batch.device)
    rows = (dy[:, None] + torch.arange(h, device=batch.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=batch.device))[:, None, None, :]
    images = torch.arange(n, device=batch.device)[:, None, None, None]
    channels = torch.arange(c, device=batch.device)[None, :, None, None]
    return padded[images, channels, rows, cols]


def random_flip(batch: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Mirror each image horizontally with probability 1/2."""
    flip = torch.rand(batch.shape[0], generator=generator) < 0.5
    flip = flip.to(batch.device)[:, None, None, None]
    return torch.where(flip, batch.flip(3), batch)


class Augment:
    """Random crop with padding and horizontal flip, then normalisation."""

    def __init__(self, normalize: Normalize, padding: int = 4, flip: bool = True) -> None:
        self.normalize = normalize
        self.padding = padding
        self.flip = flip

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        if self.padding:
            batch = random_crop(batch, self.padding)
        if self.flip:
            batch = random_flip(batch)
        return self.normalize(batch)
