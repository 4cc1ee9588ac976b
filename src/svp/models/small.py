"""Cheap proxies of our own: a small CNN, an MLP and logistic regression.

They work for any image size and any number of input channels.
"""
from __future__ import annotations

import torch
from torch import nn


class SmallCNN(nn.Module):
    """Two conv blocks (conv-bn-relu-pool) and a linear classifier."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, width: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv_block(in_channels, width),
            _conv_block(width, 2 * width),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(2 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.body(x))


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


_SIDE = 16


def _flat_pixels() -> nn.Sequential:
    return nn.Sequential(nn.AdaptiveAvgPool2d(_SIDE), nn.Flatten())


class MLP(nn.Module):
    """One hidden layer on the image resampled to 16x16, whatever its size."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, hidden: int = 256) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _flat_pixels(), nn.Linear(in_channels * _SIDE**2, hidden), nn.ReLU(inplace=True)
        )
        self.classifier = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.body(x))


class LogisticRegression(nn.Module):
    """A linear model on raw pixels: the cheapest proxy there is."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        self.body = _flat_pixels()
        self.classifier = nn.Linear(in_channels * _SIDE**2, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.body(x))


MODELS = {
    "small-cnn": SmallCNN,
    "small-cnn-16": lambda num_classes=10, in_channels=3: SmallCNN(num_classes, in_channels, width=16),
    "mlp": MLP,
    "logistic": LogisticRegression,
}
