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

import hashlib
import logging
import os
import pickle
import re
import struct
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

import torch
from torch import nn

from svp.errors import UsageError
from svp.models.residual import ModelFactory, model_factory

log = logging.getLogger(__name__)

DEPTHS = (18, 34, 50, 101, 152)

#: What torch.load raises, weights_only, on a file that is not a torch file or is damaged: a text file
#: gives KeyError or IndexError, an empty one EOFError, a foreign zip RuntimeError, a corrupt legacy file
#: AssertionError, ValueError or struct.error, a pickle of other objects UnpicklingError (without running it).
TORCH_LOAD_ERRORS = (OSError, EOFError, RuntimeError, pickle.UnpicklingError, LookupError, ValueError,
                     struct.error, AssertionError)


def unreadable_why(path: Path, error: BaseException) -> str:
    """Why torch.load (``weights_only``) could not read ``path``, in words: torch's own message advises
    loading the file in full, which is what must not happen to a file from outside. (Also for --weights:
    :func:`svp.learners.torch.read_weights`.)"""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        head = None
    if head == b"":
        return "the file is empty"
    found = re.search(r"unsupported (?:global: )?GLOBAL (\S+)", str(error), re.IGNORECASE)
    if isinstance(error, pickle.UnpicklingError) and found:  # a pickle of other objects (code, even): not run
        return f"it holds other objects than tensors ({found.group(1)}), which svp does not load"
    if head is not None and b"\0" not in head and _is_text(head):
        return "it is a text file, not one torch.save wrote"
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return f"not a file torch.save wrote, or a damaged one: {type(error).__name__}"


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start >= len(head) - 3  # a character cut at the end of what was read
    return True


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


def published_weights(depth: int) -> dict[str, torch.Tensor]:
    """torchvision's ImageNet weights for ResNet``depth`` (downloaded once, then from torch's cache).

    The cached file is untrusted (anyone who can write to the cache can plant one): its SHA-256 must
    start with the digits its name carries, and it is read as tensors only (``weights_only=True``),
    never as a full pickle, which is what torchvision's ``Weights.get_state_dict`` would do.

    Raises
    ------
    UsageError
        When the weights cannot be downloaded, or the cached file is not the one published.
    """
    url = published_url(depth)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)
    if not os.path.lexists(cached):
        log.info("downloading %s to %s", url, cached)
        _download(url, cached)
    _check_published(cached, url)
    try:
        state = torch.load(cached, map_location="cpu", weights_only=True)
    except TORCH_LOAD_ERRORS as error:
        raise _not_published(cached, url, unreadable_why(cached, error)) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise _not_published(cached, url, f"it holds a {type(state).__name__}, not a state dict")
    return state


def _download(url: str, cached: Path) -> None:
    """Download ``url`` to ``cached``, checked against the SHA-256 digits in its name (torch.hub's check)."""
    match = torch.hub.HASH_REGEX.search(cached.name)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(cached), match.group(1) if match else None, progress=False)
    except OSError as error:  # URLError and the like: no network, or no way to the download host
        raise UsageError(f"--pretrained: torchvision's weights {url} could not be downloaded ({error}) ; download "
                         f"them where there is a network (torch caches them in {cached.parent}), or give a saved "
                         "copy with --weights PATH") from None
    except RuntimeError as error:  # torch.hub: the download's SHA-256 is not the one its name carries
        raise UsageError(f"--pretrained: the download of {url} is damaged ({error}) ; download it again") from None


def _check_published(cached: Path, url: str) -> None:
    """Refuse a cached file whose SHA-256 does not start with the digits its name carries."""
    match = torch.hub.HASH_REGEX.search(cached.name)
    digest = hashlib.sha256()
    try:
        with open(cached, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as error:
        raise _not_published(cached, url, error.strerror or str(error)) from None
    if match and not digest.hexdigest().startswith(match.group(1)):
        raise _not_published(cached, url, f"its SHA-256 starts {digest.hexdigest()[:len(match.group(1))]}, not "
                             f"{match.group(1)} as its name says")


def _not_published(cached: Path, url: str, why: str) -> UsageError:
    return UsageError(f"--pretrained: {cached} is not torchvision's published file ({why}) ; delete it so it is "
                      f"downloaded again from {url}")


MODALITY = "image"  # the input these models take: images (N, C, H, W)
MODELS: dict[str, ModelFactory] = {
    f"imagenet-resnet{d}": model_factory(imagenet_resnet, f"imagenet-resnet{d}", depth=d) for d in DEPTHS
}
#: Architecture -> its published weights, for --pretrained.
PRETRAINED: dict[str, Callable[[], dict]] = {
    f"imagenet-resnet{d}": (lambda d=d: published_weights(d)) for d in DEPTHS
}
