"""Heads on feature vectors: the cheapest proxy of all, on embeddings a user already has (CLIP, DINO, ...).

They take (N, D) float features (``in_channels`` is D) and give logits; the
final layer is ``classifier``, so k-centers takes the head's input (for the
linear head, the embeddings themselves) as the features.
"""
from __future__ import annotations

import torch
from torch import nn


class LinearHead(nn.Module):
    """Logistic regression on the features."""

    def __init__(self, num_classes: int = 10, in_channels: int = 512) -> None:
        super().__init__()
        self.classifier = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(x.flatten(1))


class MLPHead(nn.Module):
    """One hidden layer (256 wide) on the features."""

    def __init__(self, num_classes: int = 10, in_channels: int = 512, hidden: int = 256) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_channels, hidden), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.body(x.flatten(1)))


MODALITY = "features"  # the input these models take: feature vectors (N, D)
MODELS = {"linear-head": LinearHead, "mlp-head": MLPHead}
