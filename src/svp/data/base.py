"""What every dataset gives the training engine: index-addressed batches.

Two kinds exist:

* :class:`TensorData`: the whole split lives in one tensor (uint8 images,
  character codes) on the training device; batches are gathered by index
  and transformed on the device (see :mod:`svp.data.transforms`).
* :class:`DatasetData`: a map-style ``torch.utils.data.Dataset`` read by a
  ``DataLoader`` with workers (ImageNet).

Both yield ``(inputs, targets, indices)`` where ``indices`` are positions
in the split, so per-example state (forgetting events, scores) can be kept.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional, Protocol, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from svp.errors import UsageError

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
UNKNOWN = -1  # the label of an example nobody has labeled yet
BatchTransform = Callable[[torch.Tensor], torch.Tensor]


def unreadable_image(path: str | os.PathLike, error: Exception) -> UsageError:
    """The error of a file that Pillow cannot read as an image."""
    return UsageError(f"{path} is not an image Pillow can read ({error}) ; remove or replace it")


def check_labels(labels: np.ndarray, num_classes: int, where: str, examples: Optional[int] = None) -> None:
    """Refuse labels that are not integers in ``0..num_classes - 1``, or (given ``examples``) not one per example.

    ``where`` names the file(s) the labels came from, for the message.
    """
    if examples is not None and len(labels) != examples:
        raise UsageError(f"{where}: {examples} examples but {len(labels)} labels ; each example needs one label: "
                         "fetch the files again")
    if not np.issubdtype(labels.dtype, np.integer):
        raise UsageError(f"{where}: the labels are {labels.dtype}, not class numbers ; fetch the files again")
    bad = labels[(labels < 0) | (labels >= num_classes)]
    if len(bad):
        raise UsageError(f"{where}: label {bad[0]} is not a class (0..{num_classes - 1}) ; fetch the files again")


class Data(Protocol):
    """The interface the engine needs from a dataset."""

    name: str
    num_classes: int
    in_channels: int
    modality: str  # "image", "text" or "features"

    def size(self, split: str) -> int: ...

    def targets(self, split: str) -> np.ndarray: ...

    def batches(
        self,
        split: str,
        indices: Sequence[int] | np.ndarray,
        batch_size: int,
        *,
        train: bool = False,
        shuffle: bool = False,
        device: torch.device | str = "cpu",
        generator: Optional[torch.Generator] = None,
    ) -> Iterator[Batch]: ...


def fits_on_device(tensor: torch.Tensor, device: torch.device) -> bool:
    """Whether ``tensor`` takes at most half the free memory of ``device`` (a GPU)."""
    free, _ = torch.cuda.mem_get_info(device)
    return tensor.element_size() * tensor.nelement() <= free // 2


@dataclass
class TensorData:
    """A dataset held in memory as tensors.

    Parameters
    ----------
    inputs, labels : dict
        ``{"train": tensor, "test": tensor}``; inputs are raw (uint8 images
        of shape (N, C, H, W), or character codes of shape (N, L)).
    train_transform, eval_transform : callable
        Applied to each gathered batch on its device (augmentation,
        normalisation, dtype conversion).
    texts : callable, optional
        ``texts(split, indices) -> list[str]`` for proxies that read raw text
        (fastText).
    classes : list of str, optional
        The class names (default: the class numbers), as a person labeling them reads and writes them.
    ids : callable, optional
        ``ids(indices) -> list[str]``: what a person finds training example i by (a file's path).
    identify : callable, optional
        ``identify() -> (ids, digests)``: the stable id (None: known by its content) and content digest of every
        training example (see :mod:`svp.data.identity`); without it the examples are known by their row.
    """

    name: str
    num_classes: int
    in_channels: int
    inputs: dict[str, torch.Tensor]
    labels: dict[str, torch.Tensor]
    train_transform: BatchTransform
    eval_transform: BatchTransform
    texts: Optional[Callable[[str, np.ndarray], list[str]]] = None
    modality: str = "image"  # what it holds: "image", "text" or "features" (see svp.models.MODALITIES)
    classes: Optional[list[str]] = None
    ids: Optional[Callable[[np.ndarray], list[str]]] = None
    identify: Optional[Callable[[], tuple[Optional[Sequence[str]], Sequence[str]]]] = None
    _on_device: dict = field(default_factory=dict, repr=False)

    def size(self, split: str) -> int:
        return len(self.labels[split])

    def targets(self, split: str) -> np.ndarray:
        return self.labels[split].numpy()

    def _resident(self, split: str, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """The split's tensors on ``device``, copied there once; left in host memory (a memory-mapped
        cache, say) when they would fill more than half the device's free memory."""
        key = (split, str(device))
        if key not in self._on_device:
            inputs, labels = self.inputs[split], self.labels[split]
            if device.type != "cpu" and fits_on_device(inputs, device):
                inputs, labels = inputs.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            self._on_device[key] = (inputs, labels)
        return self._on_device[key]

    def batches(self, split, indices, batch_size, *, train=False, shuffle=False,
                device="cpu", generator=None) -> Iterator[Batch]:
        device = torch.device(device)
        inputs, labels = self._resident(split, device)
        order = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        if shuffle:
            order = order[torch.randperm(len(order), generator=generator)]
        transform = self.train_transform if train else self.eval_transform
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            if inputs.device == device:
                idx_dev = idx.to(device, non_blocking=True)
                yield transform(inputs.index_select(0, idx_dev)), labels.index_select(0, idx_dev), idx
            else:  # too large for the device: gather the batch in host memory, then send it
                yield (transform(inputs.index_select(0, idx).to(device, non_blocking=True)),
                       labels.index_select(0, idx).to(device, non_blocking=True), idx)


class _Indexed(Dataset):
    """Wraps a dataset so each item also carries its index."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int):
        x, y = self.dataset[index]
        return x, y, index


def _quiet_when_cut_off(worker_id: int) -> None:
    """A DataLoader worker says nothing of the connections its main process cuts off as it stops: the thread
    that hands its tensors over reports those through ``sys.excepthook``, tracebacks no one is to act on."""
    report = sys.excepthook

    def unless_cut_off(kind: type, error: BaseException, trace: object) -> None:
        if not issubclass(kind, (EOFError, ConnectionError)):
            report(kind, error, trace)

    sys.excepthook = unless_cut_off


@dataclass
class DatasetData:
    """A dataset read from disk per example by a ``DataLoader``.

    ``datasets`` maps ``(split, train)`` to a Dataset: ``("train", True)``
    carries the training augmentation, ``("train", False)`` the evaluation
    transform of the same images (for pool scoring), ``("test", False)``
    the test split.
    """

    name: str
    num_classes: int
    in_channels: int
    datasets: dict[tuple[str, bool], Dataset]
    labels: dict[str, np.ndarray]
    num_workers: int = 0
    eval_num_workers: int = 0
    modality: str = "image"
    classes: Optional[list[str]] = None
    ids: Optional[Callable[[np.ndarray], list[str]]] = None

    def size(self, split: str) -> int:
        return len(self.labels[split])

    def targets(self, split: str) -> np.ndarray:
        return self.labels[split]

    def batches(self, split, indices, batch_size, *, train=False, shuffle=False,
                device="cpu", generator=None) -> Iterator[Batch]:
        device = torch.device(device)
        dataset = self.datasets[(split, train and split == "train")]
        order = np.asarray(indices, dtype=np.int64)
        if shuffle:
            order = order[torch.randperm(len(order), generator=generator).numpy()]
        loader = DataLoader(
            _Indexed(dataset),
            worker_init_fn=_quiet_when_cut_off,
            batch_size=batch_size,
            sampler=order.tolist(),
            num_workers=self.num_workers if train else self.eval_num_workers,
            pin_memory=device.type == "cuda",
        )
        for x, y, idx in loader:
            yield x.to(device, non_blocking=True), y.to(device, non_blocking=True), idx
