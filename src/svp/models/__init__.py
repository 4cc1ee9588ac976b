"""Model registry: ``MODELS`` maps an architecture name to a factory, ``MODALITIES`` to what it takes.

A factory is called as ``factory(num_classes=..., in_channels=...)`` and
returns an ``nn.Module`` whose ``forward(x)`` gives logits. Methods that
need the penultimate features (the diversity methods, BADGE, GraNd) take
them as the input of the model's final linear layer, found by
:func:`classifier_of`: an attribute named ``classifier`` or ``fc`` (MC
dropout for BALD goes there too). A model without one works with every
method that needs no features; with the others it is refused before
training, with this rule in the message.

Your own models join with :func:`register` (a name already taken is refused
unless ``replace=True``); every lookup reads the registries when it is
made, so a model registered at run time trains in every workflow.
"""
from __future__ import annotations

from typing import Callable

from torch import nn
from torch.nn import functional as F

from svp.models import (cifar_resnet, heads, preact_resnet, resnet, resnext, small, stochastic_depth, vdcnn,
                        wide_resnet)

ModelFactory = Callable[..., nn.Module]
#: What an architecture may take as input.
MODALITY_NAMES = ("image", "text", "features")

MODELS: dict[str, ModelFactory] = {}
#: What each architecture takes: "image", "text" or "features".
MODALITIES: dict[str, str] = {}
#: Architectures with published weights (``--pretrained``): name -> a function giving their state dict, called
#: as ``(option=..., weights_option=...)``: the options that asked for them and that give a saved copy instead.
PRETRAINED: dict[str, Callable[..., dict]] = {}
for _module in (small, heads, cifar_resnet, preact_resnet, wide_resnet, resnext, stochastic_depth, vdcnn, resnet):
    MODELS.update(_module.MODELS)
    MODALITIES.update(dict.fromkeys(_module.MODELS, _module.MODALITY))
    PRETRAINED.update(getattr(_module, "PRETRAINED", {}))


def register(name: str, factory: ModelFactory, modality: str = "image", *, replace: bool = False) -> None:
    """Add an architecture: ``--arch name`` (and ``ModelConfig(arch=name)``) then builds it with ``factory``.

    Parameters
    ----------
    name : str
        The architecture's name.
    factory : callable
        ``factory(num_classes=..., in_channels=...) -> nn.Module`` giving logits; for methods that need
        features, its final linear layer is an attribute named ``classifier`` or ``fc`` (see
        :func:`classifier_of`).
    modality : str
        What it takes: "image" (N, C, H, W), "text" (character codes) or "features" (N, D).
    replace : bool
        Allow replacing an architecture of the same name.

    Raises
    ------
    TypeError
        A factory that is not callable.
    ValueError
        An empty name, an unknown modality, or a name taken (without ``replace``).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"an architecture's name must be a non-empty string, got {name!r}")
    if not callable(factory):
        raise TypeError(f"the factory of {name!r} is not callable: {factory!r}")
    if modality not in MODALITY_NAMES:
        raise ValueError(f"modality {modality!r}: choose 'image', 'text' or 'features'")
    if name in MODELS and not replace:
        raise ValueError(f"an architecture named {name!r} exists; pass replace=True to replace it")
    MODELS[name] = factory
    MODALITIES[name] = modality


__all__ = ["MODALITIES", "MODALITY_NAMES", "MODELS", "PRETRAINED", "ModelFactory", "add_classifier_dropout",
           "classifier_of", "create_model", "dropout_layers", "register"]


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


def dropout_layers(model: nn.Module) -> list[nn.Module]:
    """The model's dropout layers (of any dimension)."""
    return [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]


def add_classifier_dropout(model: nn.Module, p: float) -> nn.Module:
    """``model`` with dropout ``p`` on its classifier's input while it trains (a no-op in eval mode).

    What MC-dropout scoring (:mod:`svp.engine.predict`) samples on a model
    without dropout layers: trained this way, the samples come from the
    network the dropout was part of (Gal et al. 2017), not from one that
    never saw it. A hook rather than a new layer keeps the state dict, and
    so saved checkpoints and ``--weights``, the architecture's own.
    """
    def drop(module: nn.Module, inputs: tuple) -> tuple:
        return (F.dropout(inputs[0], p, training=module.training),) + tuple(inputs[1:])

    classifier_of(model).register_forward_pre_hook(drop)
    return model
