"""Labels a person gives: class names, how a person finds an example, and a dataset seen with their labels.

The labeling loop (``svp query``) asks for labels of training examples by
their id (a file's path, the start of a text) and reads answers that name a
class (by name or number); :func:`relabeled` then shows the learners the
dataset with those labels in place of its unknown ones (-1).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import numpy as np
import torch

from svp.data.base import Batch, Data

EXCERPT = 80  # characters of a text that identify it in a query


def class_names(data: Data) -> list[str]:
    """The names of ``data``'s classes (its class numbers when it has none)."""
    names = getattr(data, "classes", None)
    return list(names) if names else [str(label) for label in range(data.num_classes)]


def example_ids(data: Data, indices: Sequence[int] | np.ndarray) -> list[str]:
    """What a person finds each training example by: its file, the start of its text, else its index."""
    indices = np.asarray(indices, dtype=np.int64)
    ids = getattr(data, "ids", None)
    if ids is not None:
        return ids(indices)
    texts = getattr(data, "texts", None)
    if texts is not None:
        return [excerpt(text) for text in texts("train", indices)]
    return [str(int(i)) for i in indices]


def excerpt(text: str) -> str:
    """The start of ``text`` on one line."""
    line = " ".join(text.split())
    return line if len(line) <= EXCERPT else line[:EXCERPT - 3] + "..."


@dataclass
class _Relabeled:
    """``data`` whose training labels are ``labels`` (the rest of it as it is)."""

    data: Data
    labels: np.ndarray

    def __post_init__(self) -> None:
        self._by_device: dict[str, torch.Tensor] = {}

    def __getattr__(self, name: str):  # name, num_classes, modality, texts, ids, ...: the dataset's own
        if name == "data":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.data, name)

    def targets(self, split: str) -> np.ndarray:
        return self.labels if split == "train" else self.data.targets(split)

    def batches(self, split, indices, batch_size, **kwargs) -> Iterator[Batch]:
        batches = self.data.batches(split, indices, batch_size, **kwargs)
        if split != "train":
            yield from batches
            return
        for inputs, _, idx in batches:
            yield inputs, self._on(inputs.device).index_select(0, idx.to(inputs.device)), idx

    def _on(self, device: torch.device) -> torch.Tensor:
        key = str(device)
        if key not in self._by_device:
            self._by_device[key] = torch.from_numpy(self.labels).to(device)
        return self._by_device[key]


def relabeled(data: Data, indices: np.ndarray, labels: np.ndarray) -> Data:
    """``data`` with training examples ``indices`` labeled ``labels`` (class numbers)."""
    merged = np.array(data.targets("train"), dtype=np.int64, copy=True)
    merged[np.asarray(indices, dtype=np.int64)] = np.asarray(labels, dtype=np.int64)
    return _Relabeled(data, merged)


def class_number(value: str, names: Sequence[str]) -> Optional[int]:
    """The class ``value`` names (a class name, else a class number), or None."""
    value, names = value.strip(), list(names)
    if value in names:
        return names.index(value)
    numeric_names = all(name.lstrip("-").isdigit() for name in names)  # then a number is a name, not a position
    if not numeric_names and value.isdigit() and int(value) < len(names):
        return int(value)
    return None
