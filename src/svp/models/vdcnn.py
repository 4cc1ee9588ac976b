"""VDCNN: very deep convolutional networks for text (Conneau et al., 2017).

Input is a (batch, 1014) int64 tensor of character codes (see
:mod:`svp.data.amazon`), embedded in 16 dimensions, then a 3-wide
convolution and four sections of convolutional blocks (64, 128, 256, 512
filters). Entering sections 2-4 halves the sequence length, by one of:

* ``conv``: the block's first convolution has stride 2;
* ``maxpool``: max pooling (size 3, stride 2) before the block;
* ``kmaxpool``: k-max pooling to half the length before the block.

``-shortcut`` adds residual connections (1x1 projection where the width
grows). A final k-max pooling (k=8) feeds two 2048-unit layers and the
``classifier``. The registered names follow the original implementation
(``vdcnn29-conv``, ``vdcnn17-kmaxpool-shortcut``, ``vdcnn9-maxpool-lite``, ...).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from svp.data.amazon import NUM_CODES

#: Blocks per section for each depth (Conneau et al., Table 2).
DEPTHS = {9: (1, 1, 1, 1), 17: (2, 2, 2, 2), 29: (5, 5, 2, 2), 49: (8, 8, 5, 3)}
FILTERS = (64, 128, 256, 512)
LITE_FILTERS = (16, 32, 64, 128)
DOWNSAMPLING = ("conv", "maxpool", "kmaxpool")


def kmax_pooling(x: torch.Tensor, k: int, dim: int = 2) -> torch.Tensor:
    """The ``k`` largest values along ``dim``, kept in their original order."""
    indices = x.topk(k, dim=dim).indices.sort(dim=dim).values
    return x.gather(dim, indices)


class KMaxPool1d(nn.Module):
    """k-max pooling over the last dimension; ``k=None`` keeps half the length."""

    def __init__(self, k: int | None = None) -> None:
        super().__init__()
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return kmax_pooling(x, self.k or x.size(2) // 2)

    def extra_repr(self) -> str:
        return f"k={self.k or 'length // 2'}"


class ConvBlock(nn.Module):
    """Two conv-bn layers with ReLUs; downsamples first when the width grows.

    Parameters
    ----------
    in_filters, out_filters : int
        Channels in and out; ``out_filters > in_filters`` halves the length.
    downsampling : str
        ``"conv"``, ``"maxpool"`` or ``"kmaxpool"``.
    shortcut : bool
        Add the (projected) input before the last ReLU.
    """

    def __init__(self, in_filters: int, out_filters: int, downsampling: str = "maxpool",
                 shortcut: bool = False) -> None:
        super().__init__()
        down = out_filters > in_filters
        stride = 2 if down and downsampling == "conv" else 1
        self.pool = _pool(downsampling) if down else nn.Identity()
        self.conv1 = nn.Conv1d(in_filters, out_filters, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm1d(out_filters)
        self.conv2 = nn.Conv1d(out_filters, out_filters, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm1d(out_filters)
        self.shortcut: nn.Module | None = None
        if shortcut:
            self.shortcut = (nn.Conv1d(in_filters, out_filters, 1, stride=stride, bias=False)
                             if down else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(x)
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        if self.shortcut is not None:
            h = h + self.shortcut(x)
        return F.relu(h)


def _pool(downsampling: str) -> nn.Module:
    if downsampling == "maxpool":
        return nn.MaxPool1d(3, stride=2, padding=1)
    if downsampling == "kmaxpool":
        return KMaxPool1d()
    return nn.Identity()  # "conv": the strided convolution downsamples


class VDCNN(nn.Module):
    """A VDCNN of any depth and downsampling.

    Parameters
    ----------
    blocks : tuple of int
        Blocks per section.
    filters : tuple of int
        Channels per section.
    num_classes : int
        Outputs of ``classifier``.
    downsampling : str
        ``"conv"``, ``"maxpool"`` or ``"kmaxpool"``.
    shortcut : bool
        Residual connections in every block.
    num_codes, embedding_dim : int
        Character vocabulary (codes ``0..num_codes - 1``) and embedding size.
    k : int
        Final k-max pooling.
    hidden : int
        Width of the two fully connected layers before ``classifier``.
    """

    def __init__(self, blocks: tuple[int, ...], filters: tuple[int, ...] = FILTERS, num_classes: int = 2,
                 downsampling: str = "maxpool", shortcut: bool = False, num_codes: int = NUM_CODES,
                 embedding_dim: int = 16, k: int = 8, hidden: int = 2048) -> None:
        super().__init__()
        if downsampling not in DOWNSAMPLING:
            raise ValueError(f"downsampling must be one of {DOWNSAMPLING}, got {downsampling!r}")
        self.embedding = nn.Embedding(num_codes, embedding_dim)
        self.conv = nn.Conv1d(embedding_dim, filters[0], 3, padding=1, bias=False)
        self.sections = _sections(blocks, filters, downsampling, shortcut)
        self.kmax = KMaxPool1d(k)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(filters[-1] * k, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(hidden, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv1d):
                nn.init.kaiming_normal_(module.weight, mode="fan_in")
            elif isinstance(module, nn.BatchNorm1d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embedding(x).transpose(1, 2)  # (batch, embedding_dim, length)
        h = self.sections(self.conv(h))
        return self.classifier(self.head(self.kmax(h)))


def _sections(blocks: tuple[int, ...], filters: tuple[int, ...], downsampling: str,
              shortcut: bool) -> nn.Sequential:
    layers = []
    width = filters[0]
    for count, out in zip(blocks, filters):
        for _ in range(count):
            layers.append(ConvBlock(width, out, downsampling, shortcut))
            width = out
    return nn.Sequential(*layers)


def vdcnn(depth: int, downsampling: str, shortcut: bool = False, lite: bool = False,
          num_classes: int = 2) -> VDCNN:
    """Build the VDCNN of ``depth`` (9, 17, 29 or 49).

    Parameters
    ----------
    depth : int
        Number of convolutional layers (a key of :data:`DEPTHS`).
    downsampling : str
        ``"conv"``, ``"maxpool"`` or ``"kmaxpool"``.
    shortcut : bool
        Residual connections.
    lite : bool
        The original's cheap proxy: a quarter of the filters and 512 hidden units.
    num_classes : int
        Outputs of the classifier.

    Returns
    -------
    VDCNN
    """
    filters, hidden = (LITE_FILTERS, 512) if lite else (FILTERS, 2048)
    return VDCNN(DEPTHS[depth], filters, num_classes=num_classes, downsampling=downsampling,
                 shortcut=shortcut, hidden=hidden)


def _factory(depth: int, downsampling: str, shortcut: bool = False,
             lite: bool = False) -> Callable[..., VDCNN]:
    def factory(num_classes: int = 2, in_channels: int = 1) -> VDCNN:
        # in_channels is part of the factory interface; text input has no channels.
        return vdcnn(depth, downsampling, shortcut, lite, num_classes)

    return factory


def _name(depth: int, downsampling: str, shortcut: bool = False, lite: bool = False) -> str:
    return f"vdcnn{depth}-{downsampling}" + ("-shortcut" if shortcut else "") + ("-lite" if lite else "")


# Every combination the original registered: 4 depths x 3 downsamplings x
# shortcut or not, plus the one lite variant (vdcnn9-maxpool-lite).
_VARIANTS = [(d, m, s, False) for d in DEPTHS for m in DOWNSAMPLING for s in (False, True)]
_VARIANTS.append((9, "maxpool", False, True))
MODALITY = "text"  # the input these models take: character codes (N, L)
MODELS = {_name(*variant): _factory(*variant) for variant in _VARIANTS}
