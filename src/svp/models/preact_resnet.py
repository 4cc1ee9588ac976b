"""Pre-activation ResNets (He et al. 2016, "Identity Mappings in Deep Residual Networks").

``preact110/164/1001`` are the paper's CIFAR networks (164 and 1001 with
bottleneck blocks, depth ``9n + 2``); ``preact8/14/20/56`` and
``preact164-basic`` use basic blocks (depth ``6n + 2``), as in the original
``svp``.  All have 16/32/64 channels (times 4 out of a bottleneck).
"""
from __future__ import annotations

from svp.models.residual import (
    ModelFactory,
    PreActBlock,
    ResNet,
    basic,
    blocks_per_stage,
    bottleneck,
    model_factory,
)


def preact_resnet(
    depth: int, bottlenecks: bool = False, num_classes: int = 10, in_channels: int = 3
) -> ResNet:
    """A pre-activation ResNet of ``depth`` weighted layers.

    Parameters
    ----------
    depth : int
        ``6n + 2`` with basic blocks, ``9n + 2`` with bottlenecks.
    bottlenecks : bool
        Use bottleneck blocks (1x1, 3x3, 1x1) instead of basic ones.
    num_classes, in_channels : int
        Number of outputs, and channels of the input images.

    Returns
    -------
    ResNet
    """
    layout = bottleneck if bottlenecks else basic
    n = blocks_per_stage(depth, layers_per_block=3 if bottlenecks else 2)
    return ResNet(PreActBlock, layout, [n] * 3, [16, 32, 64], num_classes, in_channels)


def _preact(name: str, depth: int, bottlenecks: bool = False) -> tuple[str, ModelFactory]:
    return name, model_factory(preact_resnet, name, depth=depth, bottlenecks=bottlenecks)


MODALITY = "image"  # the input these models take: images (N, C, H, W)
MODELS: dict[str, ModelFactory] = dict(
    [
        *(_preact(f"preact{d}", d) for d in (8, 14, 20, 56, 110)),
        _preact("preact164-basic", 164),
        _preact("preact164", 164, bottlenecks=True),
        _preact("preact1001", 1001, bottlenecks=True),
    ]
)
