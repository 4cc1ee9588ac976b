"""Labels a person gives: class names, how a person finds an example, and a dataset seen with their labels.

The labeling loop (``svp query``) asks for labels of training examples by
their id (a file's path, the start of a text) and reads answers that name a
class (by name or number); :func:`relabeled` then shows the learners the
dataset with those labels in place of its unknown ones (-1), and
:func:`in_rows` shows it in a run's rows when it changed since the run
started (see :mod:`svp.data.identity`). Class names are compared as
:func:`class_name` writes them, wherever they come from.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
import torch

from svp.config import class_name
from svp.data.base import Batch, Data

__all__ = ["class_name", "class_names", "class_number", "example_ids", "excerpt", "in_rows", "relabeled"]

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
class _View:
    """``data`` seen in other rows and with other training labels: row ``i`` is the data's row ``rows[i]``,
    labeled ``labels[i]`` (the test split as it is). Rows that are gone (-1) are never batched."""

    data: Data
    rows: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        present = self.rows >= 0
        own = np.full(self.data.size("train"), -1, dtype=np.int64)
        own[self.rows[present]] = np.flatnonzero(present)
        self._view_row = torch.from_numpy(own)  # the data's row -> this view's
        self._by_device: dict[str, torch.Tensor] = {}

    def __getattr__(self, name: str):  # name, num_classes, modality, classes, ...: the dataset's own
        if name == "data":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.data, name)

    def size(self, split: str) -> int:
        return len(self.rows) if split == "train" else self.data.size(split)

    def targets(self, split: str) -> np.ndarray:
        return self.labels if split == "train" else self.data.targets(split)

    def _at(self, indices) -> np.ndarray:
        rows = self.rows[np.asarray(indices, dtype=np.int64)]
        assert (rows >= 0).all(), "an example that is gone from the data was asked for"
        return rows

    @property
    def ids(self) -> Optional[Callable[[np.ndarray], list[str]]]:
        """What a person finds each example by; "" for one gone from the data (a question may still name it)."""
        ids = getattr(self.data, "ids", None)
        if ids is None:
            return None

        def named(indices) -> list[str]:
            rows = self.rows[np.asarray(indices, dtype=np.int64)]
            found = iter(ids(rows[rows >= 0]))
            return [next(found) if row >= 0 else "" for row in rows]

        return named

    @property
    def identify(self) -> Optional[Callable[[], tuple[Optional[list[str]], list[str]]]]:
        """The data's identity in these rows (a row gone from the data: an id that names nothing, no digest)."""
        identify = getattr(self.data, "identify", None)
        if identify is None:
            return None

        def mapped() -> tuple[Optional[list[str]], list[str]]:
            ids, digests = identify()
            pairs = [(None if ids is None else ids[r], digests[r]) if r >= 0 else (f"(gone: row {i})", "")
                     for i, r in enumerate(self.rows.tolist())]
            return (None if ids is None else [id_ for id_, _ in pairs]), [d for _, d in pairs]

        return mapped

    @property
    def texts(self) -> Optional[Callable[[str, np.ndarray], list[str]]]:
        texts = getattr(self.data, "texts", None)
        if texts is None:
            return None
        return lambda split, indices: texts(split, self._at(indices) if split == "train" else indices)

    def batches(self, split, indices, batch_size, **kwargs) -> Iterator[Batch]:
        if split != "train":
            yield from self.data.batches(split, indices, batch_size, **kwargs)
            return
        for inputs, _, idx in self.data.batches(split, self._at(indices), batch_size, **kwargs):
            own = self._view_row[idx]
            yield inputs, self._on(inputs.device).index_select(0, own.to(inputs.device)), own

    def _on(self, device: torch.device) -> torch.Tensor:
        key = str(device)
        if key not in self._by_device:
            self._by_device[key] = torch.from_numpy(self.labels).to(device)
        return self._by_device[key]


def relabeled(data: Data, indices: np.ndarray, labels: np.ndarray) -> Data:
    """``data`` with training examples ``indices`` labeled ``labels`` (class numbers)."""
    if isinstance(data, _View):  # one view, not a chain of them
        data, rows, merged = data.data, data.rows, np.array(data.labels, copy=True)
    else:
        rows, merged = np.arange(data.size("train")), np.array(data.targets("train"), dtype=np.int64, copy=True)
    merged[np.asarray(indices, dtype=np.int64)] = np.asarray(labels, dtype=np.int64)
    return _View(data, rows, merged)


def in_rows(data: Data, rows: np.ndarray, labels: np.ndarray) -> Data:
    """``data`` in other rows: row ``i`` is the data's row ``rows[i]`` (-1: gone), labeled ``labels[i]``."""
    return _View(data, np.asarray(rows, dtype=np.int64), np.asarray(labels, dtype=np.int64))


def class_number(value: str, names: Sequence[str]) -> Optional[int]:
    """The class ``value`` names (a class name, else a class number), or None."""
    value, names = class_name(value), list(names)  # names are normalised where they are read
    if value in names:
        return names.index(value)
    # isdecimal, not isdigit: "²" is a digit that int() refuses
    numeric_names = all(name.lstrip("-").isdecimal() for name in names)  # then a number is a name, not a position
    if not numeric_names and value.isdecimal() and int(value) < len(names):
        return int(value)
    return None
