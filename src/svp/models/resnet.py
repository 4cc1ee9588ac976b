"""torchvision's ImageNet ResNets (He et al. 2015), randomly initialised or pretrained.

``imagenet-resnet18/34/50/101/152``: the 224x224 networks (7x7 stride-2 stem
and max pooling) of ``torchvision.models``, as the original ``svp`` used
for ImageNet. ``python -m svp.imagenet`` accepts the original names
(``resnet18`` ...) for these; elsewhere ``resnet18/50/101/152`` name the
CIFAR-stem variants of :mod:`svp.models.cifar_resnet`. The final layer is
torchvision's ``fc``. :data:`PRETRAINED` gives torchvision's published
ImageNet weights (``--pretrained``).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from svp.errors import UsageError
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


def published_weights(depth: int) -> dict[str, torch.Tensor]:
    """torchvision's ImageNet weights for ResNet``depth`` (downloaded once, then from torch's cache)."""
    from torchvision import models

    weights = models.get_model_weights(f"resnet{depth}").DEFAULT
    try:
        return weights.get_state_dict(progress=False)
    except OSError as error:  # URLError and the like: no network, or no way to the download host
        raise UsageError(f"--pretrained: torchvision's {weights} could not be downloaded ({error}) ; download them "
                         f"where there is a network (torch caches them in {torch.hub.get_dir()}/checkpoints), or "
                         "give a saved copy with --weights PATH") from None


MODALITY = "image"  # the input these models take: images (N, C, H, W)
MODELS: dict[str, ModelFactory] = {
    f"imagenet-resnet{d}": model_factory(imagenet_resnet, f"imagenet-resnet{d}", depth=d) for d in DEPTHS
}
#: Architecture -> its published weights, for --pretrained.
PRETRAINED: dict[str, Callable[[], dict]] = {
    f"imagenet-resnet{d}": (lambda d=d: published_weights(d)) for d in DEPTHS
}
