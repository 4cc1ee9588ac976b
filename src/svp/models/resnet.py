"""torchvision's ImageNet ResNets (He et al. 2015), randomly initialised.

``imagenet-resnet18/34/50/101/152``: the 224x224 networks (7x7 stride-2 stem
and max pooling) of ``torchvision.models``, as the original ``svp`` used
for ImageNet. ``python -m svp.imagenet`` accepts the original names
(``resnet18`` ...) for these; elsewhere ``resnet18/50/101/152`` name the
CIFAR-stem variants of :mod:`svp.models.cifar_resnet`. The final layer is
torchvision's ``fc``.
"""
from __future__ import annotations

from torch import nn

from svp.models.residual import ModelFactory, model_factory

DEPTHS = (18, 34, 50, 101, 152)


def imagenet_resnet(depth: int, num_classes: int = 1000, in_channels: int = 3) -> nn.Module:
    """torchvision's ResNet of ``depth`` layers, without pretrained weights.

    Parameters
    ----------
    depth : int
        18, 34, 50, 101 or 152.
    num_classes : int
        Outputs of the final ``fc`` layer.
    in_channels : int
        Image channels; other than 3, the stem convolution is rebuilt for them.
    """
    from torchvision import models

    if depth not in DEPTHS:
        raise ValueError(f"no torchvision ResNet of depth {depth}; choose one of {list(DEPTHS)}")
    model = getattr(models, f"resnet{depth}")(weights=None, num_classes=num_classes)
    if in_channels != 3:
        stem = model.conv1
        model.conv1 = nn.Conv2d(in_channels, stem.out_channels, kernel_size=stem.kernel_size,
                                stride=stem.stride, padding=stem.padding, bias=False)
        nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    return model


MODALITY = "image"  # the input these models take: images (N, C, H, W)
MODELS: dict[str, ModelFactory] = {
    f"imagenet-resnet{d}": model_factory(imagenet_resnet, f"imagenet-resnet{d}", depth=d) for d in DEPTHS
}
