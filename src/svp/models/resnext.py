"""ResNeXt-29 for CIFAR (Xie et al. 2017, "Aggregated Residual Transformations").

Three stages of three post-activation bottlenecks whose 3x3 convolution has
``cardinality`` groups of ``width`` channels (scaled with the stage), putting
out 256/512/1024 channels; a 64-channel stem.
"""
from __future__ import annotations

from functools import partial

from svp.models.residual import ModelFactory, ResidualBlock, ResNet, bottleneck, model_factory


def resnext29(cardinality: int, width: int, num_classes: int = 10, in_channels: int = 3) -> ResNet:
    """ResNeXt-29 (``cardinality`` x ``width``d).

    Parameters
    ----------
    cardinality : int
        Number of groups of each 3x3 convolution (8 or 16 in the paper).
    width : int
        Channels per group in the first stage (64 in the paper).
    num_classes, in_channels : int
        Number of outputs, and channels of the input images.

    Returns
    -------
    ResNet
    """
    layout = partial(bottleneck, cardinality=cardinality, base_width=width)
    return ResNet(ResidualBlock, layout, [3, 3, 3], [64, 128, 256], num_classes, in_channels)


MODALITY = "image"  # the input these models take: images (N, C, H, W)
MODELS: dict[str, ModelFactory] = {
    f"resnext29-{c}-{w}": model_factory(resnext29, f"resnext29-{c}-{w}", cardinality=c, width=w)
    for c, w in ((8, 64), (16, 64))
}
