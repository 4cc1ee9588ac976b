"""Multi-process helpers for ``torchrun`` (DistributedDataParallel).

With one process every helper is a no-op, so the engine code reads the same
in both cases. CPU runs use the gloo backend, CUDA runs nccl.
"""
from __future__ import annotations

import os

import numpy as np
import torch
import torch.distributed as dist


def init_from_env(device: torch.device) -> None:
    """Join the process group that ``torchrun`` describes, if any."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend)


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    """True in the one process that writes files."""
    return rank() == 0


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def shard(order: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """This rank's share of ``order``, padded by wrapping so all ranks get equal lengths."""
    world = world_size()
    if world == 1:
        return order
    per_rank = -(-len(order) // world)
    if isinstance(order, torch.Tensor):
        padded = torch.cat([order, order[: per_rank * world - len(order)]])
    else:
        padded = np.concatenate([order, order[: per_rank * world - len(order)]])
    return padded[rank()::world]


def _comm_device() -> torch.device:
    """nccl moves only CUDA tensors; gloo takes CPU ones."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_sum(values: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over ranks and return it (on the tensor's own device)."""
    if world_size() == 1:
        return values
    moved = values.to(_comm_device())
    dist.all_reduce(moved)
    values.copy_(moved)
    return values


def all_gather_cat(values: torch.Tensor) -> torch.Tensor:
    """Concatenate equal-shaped tensors from every rank, in rank order."""
    if world_size() == 1:
        return values
    moved = values.to(_comm_device()).contiguous()
    parts = [torch.empty_like(moved) for _ in range(world_size())]
    dist.all_gather(parts, moved)
    return torch.cat(parts).to(values.device)


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def broadcast_object(value):
    """Rank 0's ``value`` on every rank."""
    if world_size() == 1:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]
