"""Cheap proxies of our own: a small CNN, an MLP and logistic regression.

They work for any image size and any number of input channels.
"""
from __future__ import annotations

import torch
from torch import nn


class SmallCNN(nn.Module):
    """Three conv-bn-relu-maxpool stages, a 4x4 spatial summary and one hidden layer.

    About 2 MFLOPs per 28x28 image at ``width=16``: a proxy an order of
    magnitude cheaper than a ResNet20. Its features (for k-centers) are the
    ``hidden``-wide layer before the classifier.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, width: int = 32, hidden: int = 128) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv_block(in_channels, width),
            _conv_block(width, 2 * width),
            _conv_block(2 * width, 4 * width),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(4 * width * 16, hidden),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.body(x))


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2, ceil_mode=True),
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


MODALITY = "image"  # the input these models take: images (N, C, H, W)
MODELS = {
    "small-cnn": SmallCNN,
    "small-cnn-16": lambda num_classes=10, in_channels=3: SmallCNN(num_classes, in_channels, width=16),
    "mlp": MLP,
    "logistic": LogisticRegression,
}
