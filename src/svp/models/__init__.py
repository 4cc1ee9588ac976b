"""Model registry: ``MODELS`` maps an architecture name to a factory.

A factory is called as ``factory(num_classes=..., in_channels=...)`` and
returns an ``nn.Module`` whose ``forward(x)`` gives logits and whose final
linear layer is reachable through :func:`classifier_of`, so that the
penultimate features (the classifier's input) can be captured for
k-centers without a second forward pass.
"""
from __future__ import annotations

from typing import Callable

from torch import nn

from svp.models import cifar_resnet, preact_resnet, resnet, resnext, small, stochastic_depth, vdcnn, wide_resnet

ModelFactory = Callable[..., nn.Module]

MODELS: dict[str, ModelFactory] = {}
#: What each architecture takes: "image" or "text".
MODALITIES: dict[str, str] = {}
for _module in (small, cifar_resnet, preact_resnet, wide_resnet, resnext, stochastic_depth, vdcnn, resnet):
    MODELS.update(_module.MODELS)
    MODALITIES.update(dict.fromkeys(_module.MODELS, _module.MODALITY))


def create_model(arch: str, num_classes: int, in_channels: int = 3) -> nn.Module:
    """Build ``arch`` from :data:`MODELS`."""
    try:
        factory = MODELS[arch]
    except KeyError:
        raise ValueError(f"unknown arch {arch!r}; choose one of: {', '.join(sorted(MODELS))}") from None
    return factory(num_classes=num_classes, in_channels=in_channels)


def classifier_of(model: nn.Module) -> nn.Module:
    """The final layer whose input is the model's penultimate feature vector."""
    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    for name in ("classifier", "fc"):
        layer = getattr(model, name, None)
        if isinstance(layer, nn.Module):
            return layer
    raise TypeError(f"{type(model).__name__} has no 'classifier' or 'fc' layer to take features from")
