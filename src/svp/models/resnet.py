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

import logging
import os
from functools import partial
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

import torch
from torch import nn

from svp.errors import UsageError
from svp.models.residual import ModelFactory, model_factory
from svp.models.weights import load_tensors, sha256_mismatch

log = logging.getLogger(__name__)

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


def published_url(depth: int) -> str:
    """Where torchvision publishes its ImageNet weights for ResNet``depth``; the file name carries the
    first digits of the file's SHA-256 (``resnet18-f37072fd.pth``)."""
    from torchvision import models

    return models.get_model_weights(f"resnet{depth}").DEFAULT.url


def published_weights(depth: int, option: str = "--pretrained", weights_option: str = "--weights"
                      ) -> dict[str, torch.Tensor]:
    """torchvision's ImageNet weights for ResNet``depth`` (downloaded once, then from torch's cache).

    The cached file is read as tensors only (``weights_only=True``), never as a full pickle (which is what
    torchvision's ``Weights.get_state_dict`` would do): that, not the hash, is what keeps a file planted in
    the cache from running code. Its SHA-256 must start with the digits its name carries: an integrity check
    against a wrong or damaged download (8 hex digits are no defence against a forged file). The check is
    made once per process for each state of the file (:func:`svp.models.weights.sha256_mismatch`).

    Parameters
    ----------
    depth : int
        18, 34, 50, 101 or 152.
    option, weights_option : str
        The options that asked for these weights and that give a saved copy instead, as the user knows them
        (``--proxy-pretrained`` and ``--proxy-weights`` for the proxy), for messages.

    Raises
    ------
    UsageError
        When the weights cannot be downloaded, or the cached file is not the one published.
    """
    url = published_url(depth)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)
    if not os.path.lexists(cached):
        log.info("downloading %s to %s", url, cached)
        _download(url, cached, option, weights_option)
    match = torch.hub.HASH_REGEX.search(cached.name)
    try:
        found = sha256_mismatch(cached, match.group(1)) if match else None
    except OSError as error:
        raise _not_published(cached, url, error.strerror or str(error), option) from None
    if found is not None:
        raise _not_published(cached, url, f"its SHA-256 starts {found}, not {match.group(1)} as its name says",
                             option)
    return load_tensors(cached, f"{option}: {cached}", what="is not torchvision's published file",
                        fix=f"delete it so it is downloaded again from {url}")


def _download(url: str, cached: Path, option: str, weights_option: str) -> None:
    """Download ``url`` to ``cached``, checked against the SHA-256 digits in its name (torch.hub's check)."""
    match = torch.hub.HASH_REGEX.search(cached.name)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(cached), match.group(1) if match else None, progress=False)
    except OSError as error:  # URLError and the like: no network, or no way to the download host
        raise UsageError(f"{option}: torchvision's weights {url} could not be downloaded ({error}) ; download "
                         f"them where there is a network (torch caches them in {cached.parent}), or give a saved "
                         f"copy with {weights_option} PATH") from None
    except RuntimeError as error:  # torch.hub: the download's SHA-256 is not the one its name carries
        raise UsageError(f"{option}: the download of {url} is damaged ({error}) ; download it again") from None


def _not_published(cached: Path, url: str, why: str, option: str) -> UsageError:
    return UsageError(f"{option}: {cached} is not torchvision's published file ({why}) ; delete it so it is "
                      f"downloaded again from {url}")


MODALITY = "image"  # the input these models take: images (N, C, H, W)
MODELS: dict[str, ModelFactory] = {
    f"imagenet-resnet{d}": model_factory(imagenet_resnet, f"imagenet-resnet{d}", depth=d) for d in DEPTHS
}
#: Architecture -> its published weights, for --pretrained: called as ``(option=..., weights_option=...)``,
#: the options named in messages (see :func:`published_weights`).
PRETRAINED: dict[str, Callable[..., dict]] = {f"imagenet-resnet{d}": partial(published_weights, d) for d in DEPTHS}
