"""Post-activation ResNets for 32x32 (or 28x28) images.

- ``resnet20/32/44/56/110/1202``: He et al. 2015, "Deep Residual Learning for
  Image Recognition", section 4.2: basic blocks, 16/32/64 channels, depth
  ``6n + 2``.  Shortcuts that change shape are 1x1 projections (option B),
  as in the original ``svp``; so resnet20 has 0.27M parameters.
- ``resnet152-svhn``: the 152-layer network of the same family used for SVHN
  in "Deep Networks with Stochastic Depth", without stochastic depth.
- ``resnet18/50/101/152``: the ImageNet ResNets with a CIFAR stem (one 3x3
  convolution at stride 1, no max pooling), 64/128/256/512 channels.
"""
from __future__ import annotations

from svp.models.residual import (
    ModelFactory,
    ResidualBlock,
    ResNet,
    basic,
    blocks_per_stage,
    bottleneck,
    model_factory,
)

_IMAGENET_DEPTHS = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}


def cifar_resnet(depth: int, num_classes: int = 10, in_channels: int = 3,
                 block: type[ResidualBlock] = ResidualBlock) -> ResNet:
    """He et al.'s CIFAR ResNet of ``depth = 6n + 2`` layers (basic blocks).

    Parameters
    ----------
    depth : int
        Number of weighted layers, e.g. 20, 56, 110.
    num_classes, in_channels : int
        Number of outputs, and channels of the input images.
    block : type
        The residual block (stochastic depth brings its own).

    Returns
    -------
    ResNet
    """
    n = blocks_per_stage(depth, layers_per_block=2)
    return ResNet(block, basic, [n] * 3, [16, 32, 64], num_classes, in_channels)


def resnet_cifar_stem(depth: int, num_classes: int = 10, in_channels: int = 3) -> ResNet:
    """An ImageNet ResNet (18, 34, 50, 101 or 152 layers) with a CIFAR stem.

    Parameters
    ----------
    depth : int
        18 or 34 (basic blocks), 50, 101 or 152 (bottlenecks).
    num_classes, in_channels : int
        Number of outputs, and channels of the input images.

    Returns
    -------
    ResNet
    """
    if depth not in _IMAGENET_DEPTHS:
        raise ValueError(f"no ResNet of depth {depth}; choose one of {sorted(_IMAGENET_DEPTHS)}")
    layout = basic if depth < 50 else bottleneck
    depths = _IMAGENET_DEPTHS[depth]
    return ResNet(ResidualBlock, layout, depths, [64, 128, 256, 512], num_classes, in_channels)


MODALITY = "image"  # the input these models take: images (N, C, H, W)
MODELS: dict[str, ModelFactory] = {
    **{
        f"resnet{d}": model_factory(cifar_resnet, f"resnet{d}", depth=d)
        for d in (20, 32, 44, 56, 110, 1202)
    },
    "resnet152-svhn": model_factory(cifar_resnet, "resnet152-svhn", depth=152),
    **{
        f"resnet{d}": model_factory(resnet_cifar_stem, f"resnet{d}", depth=d)
        for d in (18, 50, 101, 152)
    },
}
