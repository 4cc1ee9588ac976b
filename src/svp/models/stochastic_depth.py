"""ResNets with stochastic depth (Huang et al. 2016, "Deep Networks with Stochastic Depth").

During training each residual block's branch is skipped, for the whole
batch, with probability ``1 - p_l``; the survival probability decays
linearly with the block index ``l = 1..L`` from 1 to ``p_L`` (0.5 unless the
name says otherwise: ``stochastic56-08`` has ``p_L = 0.8``).  A surviving
branch is scaled by ``1 / p_l`` during training, so that evaluation uses the
whole network unscaled.  Shortcuts are parameter-free (average pooling and
zero channels), as in the paper.

Because dropped blocks leave their parameters without gradients, these
blocks say so (``skips_parameters``), and the engine wraps such models in
``DistributedDataParallel(..., find_unused_parameters=True)``.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from svp.models.cifar_resnet import cifar_resnet
from svp.models.residual import ModelFactory, ResidualBlock, ResNet, model_factory


class PadShortcut(nn.Module):
    """Parameter-free shortcut: average pooling by ``stride``, zero channels up to ``cout``."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        if cout < cin:
            raise ValueError(f"a zero-padding shortcut cannot reduce {cin} channels to {cout}")
        self.extra = cout - cin
        # ceil_mode keeps the size equal to the strided convolution's on odd inputs (7 -> 4)
        self.pool = nn.AvgPool2d(stride, ceil_mode=True) if stride > 1 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(self.pool(x), (0, 0, 0, 0, 0, self.extra))


class StochasticBlock(ResidualBlock):
    """A post-activation block whose branch survives a training step with probability ``survival``.

    Its shortcut is a :class:`PadShortcut`; the block index sets ``survival``
    (see :func:`set_linear_survival`).
    """

    make_shortcut = PadShortcut
    skips_parameters = True  # a dropped branch's parameters get no gradient in that step

    def __init__(self, convs: Sequence[nn.Conv2d], survival: float = 1.0) -> None:
        super().__init__(convs)
        self.survival = survival

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.shortcut(x)
        if not self.training:
            return F.relu(self.branch(x) + skip, inplace=True)
        if torch.rand(()).item() >= self.survival:
            return F.relu(skip)
        return F.relu(self.branch(x) / self.survival + skip, inplace=True)

    def extra_repr(self) -> str:
        return f"survival={self.survival:.4g}"


def set_linear_survival(model: nn.Module, final_survival: float) -> None:
    """Give the ``L`` stochastic blocks of ``model`` survival ``1 - l / L * (1 - final_survival)``.

    Parameters
    ----------
    model : nn.Module
        A network containing :class:`StochasticBlock` modules (in order).
    final_survival : float
        Survival probability ``p_L`` of the last block, in (0, 1].
    """
    if not 0 < final_survival <= 1:
        raise ValueError(f"final survival probability must be in (0, 1], got {final_survival}")
    blocks = [m for m in model.modules() if isinstance(m, StochasticBlock)]
    for index, block in enumerate(blocks, start=1):
        block.survival = 1 - index / len(blocks) * (1 - final_survival)


def stochastic_resnet(
    depth: int, final_survival: float = 0.5, num_classes: int = 10, in_channels: int = 3
) -> ResNet:
    """A CIFAR ResNet of ``depth = 6n + 2`` layers with stochastic depth.

    Parameters
    ----------
    depth : int
        Number of weighted layers, e.g. 56, 110, 1202 (152 for SVHN).
    final_survival : float
        Survival probability of the last block (linear decay from 1).
    num_classes, in_channels : int
        Number of outputs, and channels of the input images.

    Returns
    -------
    ResNet
    """
    model = cifar_resnet(depth, num_classes, in_channels, block=StochasticBlock)
    set_linear_survival(model, final_survival)
    return model


MODALITY = "image"  # the input these models take: images (N, C, H, W)
MODELS: dict[str, ModelFactory] = {
    "stochastic56": model_factory(stochastic_resnet, "stochastic56", depth=56),
    "stochastic56-08": model_factory(
        stochastic_resnet, "stochastic56-08", depth=56, final_survival=0.8
    ),
    "stochastic110": model_factory(stochastic_resnet, "stochastic110", depth=110),
    "stochastic1202": model_factory(stochastic_resnet, "stochastic1202", depth=1202),
    "stochastic152-svhn": model_factory(stochastic_resnet, "stochastic152-svhn", depth=152),
}
