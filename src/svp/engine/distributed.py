"""Multi-process helpers for ``torchrun`` (DistributedDataParallel).

With one process every helper is a no-op, so the engine code reads the same
in both cases. CPU runs use the gloo backend, CUDA runs nccl.

Two ways of splitting work over ranks exist:

* :func:`shard` (training): every rank gets the same number of examples,
  padded by wrapping, so all ranks take the same number of DDP steps;
* :func:`part` (evaluation and pool scoring): contiguous runs of whole
  batches, no padding, so each rank computes exactly the batches one
  process would and :func:`all_gather_cat` puts the rows back in order.
"""
from __future__ import annotations

import atexit
import datetime
import logging
import os

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from svp import progress


def init_from_env(device: torch.device) -> None:
    """Join the process group that ``torchrun`` describes, if any.

    Ranks other than 0 then log warnings only and draw no progress bars,
    so each message shows once.
    """
    if launched_world_size() > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend)
        atexit.register(_leave_group)
        if not is_main():
            logging.getLogger("svp").setLevel(logging.WARNING)
            progress.set_quiet(True)


def _leave_group() -> None:
    """Leave the process group together, at exit.

    A rank that closes its connections while another still finishes its
    last collective makes that one abort (gloo: "Connection reset by
    peer"), so every rank waits for the others (a minute at most: a rank
    that died is not waited for), then the group is destroyed.
    """
    if not dist.is_initialized():
        return
    try:
        if dist.get_backend() == "gloo":
            dist.monitored_barrier(timeout=datetime.timedelta(seconds=60))
        else:
            dist.barrier()
    except RuntimeError:  # a rank that died or left: nothing to wait for
        pass
    finally:
        dist.destroy_process_group()


def launched_world_size() -> int:
    """The number of processes ``torchrun`` started (1 without it), known before joining."""
    return int(os.environ.get("WORLD_SIZE", "1"))


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


def padding(length: int) -> torch.Tensor:
    """Which entries of this rank's :func:`shard` of ``length`` items are wrap-around padding."""
    world = world_size()
    return torch.arange(rank(), -(-length // world) * world, world) >= length


def part(indices: np.ndarray, batch_size: int) -> np.ndarray:
    """This rank's contiguous run of whole ``batch_size`` batches of ``indices`` (maybe empty).

    The batches are exactly those one process would form, so per-example
    results do not depend on the number of ranks; concatenating every
    rank's part in rank order gives ``indices`` back.
    """
    world = world_size()
    if world == 1:
        return indices
    batches_per_rank = -(-len(indices) // (batch_size * world))
    start = rank() * batches_per_rank * batch_size
    return indices[start:start + batches_per_rank * batch_size]


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
    """Concatenate every rank's tensor along dim 0, in rank order.

    Lengths may differ between ranks, and a rank with no rows may pass any
    shape ``(0, ...)`` of the right number of dimensions; the other
    dimensions and the dtype must otherwise agree.
    """
    if world_size() == 1:
        return values
    device = _comm_device()
    shapes = _gather_shapes(values, device)
    rows = [int(s[0]) for s in shapes]
    shape = tuple(int(d) for d in shapes.max(0).values[1:])
    # bool is not a gloo type; uint8 carries it
    wire = torch.uint8 if values.dtype == torch.bool else values.dtype
    padded = torch.zeros((max(rows), *shape), dtype=wire, device=device)
    if rows[rank()]:
        padded[:rows[rank()]] = values.to(device=device, dtype=wire)
    parts = [torch.empty_like(padded) for _ in rows]
    dist.all_gather(parts, padded)
    gathered = torch.cat([p[:n] for p, n in zip(parts, rows)])
    return gathered.to(device=values.device, dtype=values.dtype)


def _gather_shapes(values: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Every rank's shape, one row per rank."""
    mine = torch.tensor(values.shape, dtype=torch.int64, device=device)
    shapes = [torch.empty_like(mine) for _ in range(world_size())]
    dist.all_gather(shapes, mine)
    return torch.stack(shapes).cpu()


def broadcast_buffers(module: nn.Module) -> None:
    """Give every rank rank 0's buffers (BatchNorm running statistics).

    DDP syncs buffers at the start of each training forward pass, so after
    the last step every rank holds the statistics of its own last batch;
    evaluation, scoring and checkpoints must all use the same ones.
    """
    if world_size() == 1:
        return
    device = _comm_device()
    for buffer in module.buffers():
        moved = buffer.to(device)
        dist.broadcast(moved, src=0)
        buffer.copy_(moved)


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
