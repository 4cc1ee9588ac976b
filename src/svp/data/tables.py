"""A table of texts of one's own: ``.csv`` (with a header row) or ``.jsonl`` (one object a line).

``--text-column`` and ``--label-column`` name the columns (or give their
positions in a CSV's header); labels are class names, and an empty label
means the example is not labeled yet (-1). ``--id-column`` names a column
of ids that follow each row wherever it moves in the file (without one, a
row is known by its text; see :mod:`svp.data.identity`). ``--test-file`` adds a test split
of the same columns, or ``--validation`` splits a dev set off. The texts
are quantised like Amazon reviews (VDCNN) and kept for fastText.
"""
from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
import torch

from svp.config import DataConfig
from svp.data.amazon import encode, to_long
from svp.data.base import TensorData
from svp.data.identity import content_ids, digest
from svp.data.sources import UNKNOWN, count_classes
from svp.errors import UsageError

TABLE_SUFFIXES = (".csv", ".jsonl")


def is_table(dataset: str) -> bool:
    return dataset.endswith(TABLE_SUFFIXES)


def _records(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, row as a dict of column -> value) of a CSV with a header, or of a JSONL file."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            if path.suffix == ".jsonl":
                for number, line in enumerate(handle, start=1):
                    if line.strip():
                        record = json.loads(line)
                        if not isinstance(record, dict):
                            raise ValueError(f"line {number} is not a JSON object")
                        yield number, {key: "" if value is None else str(value) for key, value in record.items()}
                return
            reader = csv.DictReader(handle)
            for row in reader:
                yield reader.line_num, row
    except (UnicodeDecodeError, csv.Error, ValueError) as error:
        raise UsageError(f"{path} cannot be read as a {path.suffix[1:].upper()} table ({error}) ; give UTF-8 "
                         "CSV with a header row, or JSON objects one a line") from None


def _column(wanted: str, columns: list[str], path: Path, flag: str) -> str:
    """The column ``wanted`` names: itself, or the column at that position."""
    if wanted in columns:
        return wanted
    if wanted.isdigit() and int(wanted) < len(columns):
        return columns[int(wanted)]
    raise UsageError(f"{path} has no column {wanted!r} ({flag}) ; its columns are {', '.join(columns)}")


def read_table(path: Path, text_column: str, label_column: str,
               id_column: Optional[str] = None) -> tuple[list[str], list[str], Optional[list[str]]]:
    """The texts, raw labels ("" when not labeled) and, given ``id_column``, the ids of a table's rows."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file ; give the path of a .csv or .jsonl table")
    texts, labels, ids, columns = [], [], [], None
    for number, row in _records(path):
        if columns is None:
            columns = [key for key in row if key is not None]
            text_key = _column(text_column, columns, path, "--text-column")
            label_key = _column(label_column, columns, path, "--label-column")
            id_key = _column(id_column, columns, path, "--id-column") if id_column is not None else None
        if None in row:
            raise UsageError(f"{path}:{number}: the row has more fields than the header ; fix it")
        if row.get(text_key) is None:
            raise UsageError(f"{path}:{number}: the row has no {text_key!r} ; give every row its text")
        texts.append(row[text_key])
        labels.append((row.get(label_key) or "").strip())
        if id_key is not None:
            ids.append(_row_id(row.get(id_key), path, number, id_key))
    if not texts:
        raise UsageError(f"{path} holds no rows ; give a table with a header and one text a row")
    return texts, labels, ids if id_column is not None else None


def _row_id(value: Optional[str], path: Path, number: int, column: str) -> str:
    if not (value or "").strip():
        raise UsageError(f"{path}:{number}: the row has no id in {column!r} (--id-column) ; give every row an id")
    return value.strip()


def _identify(texts: list[str], ids: Optional[list[str]], path: str) -> Callable[[], tuple[list[str], list[str]]]:
    """``identify()`` of a table: its id column (checked unique), else the digests of its texts."""
    if ids is not None and len(set(ids)) != len(ids):
        twice = next(id_ for id_, count in Counter(ids).items() if count > 1)
        raise UsageError(f"{path}: the id {twice!r} names {ids.count(twice)} rows (--id-column) ; give each row its "
                         "own id")

    def identify() -> tuple[list[str], list[str]]:
        digests = [digest(text.encode()) for text in texts]
        return (ids if ids is not None else content_ids(digests)), digests

    return identify


def _class_names(labels: Sequence[str]) -> list[str]:
    """The classes, sorted (numerically when every name is an integer)."""
    names = {label for label in labels if label}
    if all(name.lstrip("-").isdigit() for name in names):
        return sorted(names, key=int)
    return sorted(names)


def open_table(config: DataConfig) -> TensorData:
    """The table ``config.dataset`` names (and its ``--test-file``)."""
    paths = {"train": Path(config.dataset)}
    if config.test_file is not None:
        paths["test"] = Path(config.test_file)
    read = {split: read_table(path, config.text_column, config.label_column, config.id_column)
            for split, path in paths.items()}
    found = _class_names([label for _, labels, _ in read.values() for label in labels])
    classes = list(config.classes) or found
    stray = [name for name in found if name not in classes]
    if stray:
        raise UsageError(f"{config.dataset}: label {stray[0]!r} is not one of the --class names ({', '.join(classes)}) "
                         "; give every class with --class, or fix the label")
    index = {name: i for i, name in enumerate(classes)}
    labels = {split: np.array([index.get(label, UNKNOWN) for label in raw], dtype=np.int64)
              for split, (_, raw, _) in read.items()}
    count_classes(labels, config.dataset, len(classes))
    labels = {split: torch.from_numpy(labels.get(split, np.empty(0, dtype=np.int64))) for split in ("train", "test")}
    texts = {split: texts for split, (texts, _, _) in read.items()}
    texts.setdefault("test", [])
    inputs = {split: torch.from_numpy(encode(split_texts)) for split, split_texts in texts.items()}
    return TensorData(name=paths["train"].name, num_classes=len(classes), in_channels=1, inputs=inputs,
                      labels=labels, train_transform=to_long, eval_transform=to_long, modality="text",
                      texts=_Texts(texts), classes=classes,
                      identify=_identify(texts["train"], read["train"][2], config.dataset))


class _Texts:
    """``texts(split, indices)``: the raw texts, held in memory."""

    def __init__(self, texts: dict[str, list[str]]) -> None:
        self.texts = texts

    def __call__(self, split: str, indices: Sequence[int]) -> list[str]:
        return [self.texts[split][int(i)] for i in indices]
