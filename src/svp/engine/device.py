"""Choosing the device and the numeric settings that suit it."""
from __future__ import annotations

import contextlib
import logging
import random

import numpy as np
import torch

from svp.engine import distributed
from svp.errors import UsageError

log = logging.getLogger(__name__)


def pick_device(cuda: bool = True, devices: tuple[int, ...] = ()) -> torch.device:
    """The training device: a GPU when asked and present, else the CPU.

    Under ``torchrun`` each process takes the GPU of its local rank (from
    ``devices`` when given); one process uses one GPU, the first of ``devices``.
    """
    check_devices(cuda, devices)
    if not (cuda and torch.cuda.is_available()):
        return torch.device("cpu")
    ids = devices or tuple(range(torch.cuda.device_count()))
    if len(devices) > 1 and distributed.launched_world_size() == 1:
        log.warning("one process uses one GPU (cuda:%d); to train on the %d GPUs given by --device, launch "
                    "with torchrun --nproc-per-node %d", ids[0], len(devices), len(devices))
    index = ids[distributed.local_rank() % len(ids)]
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


def check_devices(cuda: bool, devices: tuple[int, ...]) -> None:
    """Refuse ``--device`` ids this machine lacks (rather than fall back to the CPU without a word)."""
    if not devices:
        return
    flags = " ".join(f"--device {d}" for d in devices)
    if not cuda:
        raise UsageError(f"{flags} asks for a GPU but --no-cuda for the CPU ; drop one of them")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    missing = [d for d in devices if d >= count]
    if missing:
        have = f"GPUs 0..{count - 1}" if count else "no GPU torch can use"
        raise UsageError(f"--device {missing[0]}: this machine has {have} ; give an id it has, or drop --device "
                         "to run on the CPU")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so a training repeats itself."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def derive_seed(seed: int, *parts: int | str) -> int:
    """A seed for one phase of a run (e.g. the proxy of round 3), stable across restarts."""
    value = seed
    for part in parts:
        token = sum(ord(c) * 31**i for i, c in enumerate(part)) if isinstance(part, str) else int(part)
        value = (value * 1_000_003 + token) % (2**31 - 1)
    return value


def amp_dtype(device: torch.device) -> torch.dtype:
    """bf16 where the GPU supports it, fp16 otherwise."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def autocast(device: torch.device, enabled: bool):
    """Mixed precision on CUDA when enabled; a no-op elsewhere."""
    if not enabled or device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=amp_dtype(device))


def grad_scaler(device: torch.device, enabled: bool, init_scale: float | None = None) -> torch.amp.GradScaler:
    """A loss scaler, active only for fp16 autocast (bf16 needs none).

    A fixed ``init_scale`` (``--loss-scale``) sets the starting scale.
    """
    active = enabled and device.type == "cuda" and amp_dtype(device) == torch.float16
    kwargs = {"init_scale": init_scale} if init_scale else {}
    return torch.amp.GradScaler("cuda" if device.type == "cuda" else "cpu", enabled=active, **kwargs)


def to_model_layout(x: torch.Tensor) -> torch.Tensor:
    """A batch of images in the memory layout :func:`prepare_model` gives the model (channels_last on CUDA)."""
    if x.is_cuda and x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x


def prepare_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Move to ``device``; channels_last for convolutional nets on CUDA."""
    model = model.to(device)
    has_conv = any(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    if device.type == "cuda" and has_conv:
        model = model.to(memory_format=torch.channels_last)
    return model
