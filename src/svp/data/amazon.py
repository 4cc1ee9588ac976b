"""Amazon Review Polarity and Full (Zhang et al., 2015) as character codes.

The published CSV layout is ``<datasets_dir>/amazon_review_polarity_csv/``
(or ``amazon_review_full_csv/``) holding ``train.csv`` and ``test.csv``,
one review per row: ``"label","title","text"`` with labels 1..2 (polarity)
or 1..5 (full), stored here 0-based.

Each row is read as a stream with :mod:`csv` (quoted fields, commas and
newlines inside text) and quantised on the fly, as the original did:
title and text joined by a space, lowercased, cut to :data:`MAX_LENGTH`
characters, each character mapped to its 1-based position in
:data:`ALPHABET` (unknown characters, including the blank, and padding
are 0). (The original svp used VDCNN's variant instead: 67 symbols with
the blank among them, unknown characters 1 and padding 0, so codes
differ from its; the model shapes are the same.) The codes of a split live in one uint8 array (N, 1014), about
3.6 GB for the 3.6M training reviews of Amazon Review Polarity; no
Python string per review is kept.

Raw text (for fastText) is not kept in memory either: the loader records
the byte offset where each row starts, and ``texts(split, indices)``
re-reads just those rows from the CSV file. The file must not change
after loading (checked by size and modification time).
"""
from __future__ import annotations

import codecs
import csv
import io
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from svp.config import DataConfig
from svp.data.base import TensorData
from svp.errors import UsageError
from svp.progress import bar as progress_bar

log = logging.getLogger(__name__)

#: Zhang et al. (2015)'s 69 characters (letters, digits, 32 others and the
#: newline); code ``i + 1`` for ``ALPHABET[i]``, 0 for anything else.
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-,;.!?:'\"/\\|_@#$%^&*~`+=<>()[]{}\n"
#: Number of distinct codes (alphabet plus the unknown/padding code 0).
NUM_CODES = len(ALPHABET) + 1
MAX_LENGTH = 1014
SPLITS = ("train", "test")
_CHUNK_ROWS = 8192
_READ_BLOCK = 1 << 24

SOURCES = {
    "amazon_review_polarity": (
        "amazon_review_polarity_csv", 2,
        "https://drive.google.com/uc?export=download&id=0Bz8a_Dbh9QhbaW12WVVZS2drcnM",
    ),
    "amazon_review_full": (
        "amazon_review_full_csv", 5,
        "https://drive.google.com/uc?export=download&id=0Bz8a_Dbh9QhbZVhsUnRWRDhETzA",
    ),
}
ZHANG_FOLDER = ("https://drive.google.com/drive/folders/"
                "0Bz8a_Dbh9Qhbfll6bVpmNUtUcFdjYmF2SEpmZUZUcVNiMUw1TWN6RDV3a0JHT3kxLVhVR2M")


def _zero_error(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: each character ASCII cannot hold becomes NUL (code 0)."""
    assert isinstance(error, UnicodeEncodeError)
    return "\x00" * (error.end - error.start), error.end


codecs.register_error("svp.zero", _zero_error)


def _lookup_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint8)
    for code, char in enumerate(ALPHABET, start=1):
        table[ord(char)] = code
    return table


_LUT = _lookup_table()


def encode(texts: Sequence[str], length: int = MAX_LENGTH) -> np.ndarray:
    """Character codes (uint8, (len(texts), length)) of documents, as the review loader computes them."""
    raw = b"".join(_ascii_bytes(text, length).ljust(length, b"\x00") for text in texts)
    return _LUT[np.frombuffer(raw, dtype=np.uint8).reshape(len(texts), length)]


def _ascii_bytes(text: str, length: int) -> bytes:
    """Lowercased, cut to ``length`` characters, one byte per character (non-ASCII -> NUL)."""
    return text[:length].lower()[:length].encode("ascii", "svp.zero")


def to_long(batch: torch.Tensor) -> torch.Tensor:
    """The batch transform: uint8 codes -> int64 indices for ``nn.Embedding``."""
    return batch.long()


class _Lines:
    """Decoded lines of a binary file, counting the bytes and lines handed out; bytes that are not
    UTF-8 are a UsageError naming the line (never silently replaced)."""

    def __init__(self, handle: io.BufferedReader, path: Path) -> None:
        self.handle, self.path = handle, path
        self.pos = self.lines = 0

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        line = next(self.handle)
        self.pos += len(line)
        self.lines += 1
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise UsageError(f"{self.path}:{self.lines}: bytes that are not UTF-8 ({error.reason} at byte "
                             f"{error.start}) ; convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)") from None


@dataclass
class _Row:
    label: int
    title: str
    text: str
    offset: int  # byte where the row starts
    line: int  # physical line where the row starts (1-based)


def _parse_label(value: str, num_classes: int, where: str) -> int:
    try:
        label = int(value.strip())
    except ValueError:
        raise UsageError(f"{where}: label {value!r} is not an integer; "
                         f"expected 1..{num_classes}") from None
    if not 1 <= label <= num_classes:
        raise UsageError(f"{where}: label {label} is out of range; expected 1..{num_classes}")
    return label - 1


def _iter_rows(path: Path, num_classes: int, lines: _Lines) -> Iterator[_Row]:
    """The rows of a review CSV, validated, with where each one starts."""
    reader = csv.reader(lines)
    labels = {str(k): k - 1 for k in range(1, num_classes + 1)}
    while True:
        offset, line = lines.pos, reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise UsageError(f"{path}:{line}: malformed CSV row ({error})") from None
        if not row:  # blank line
            continue
        if len(row) != 3:
            raise UsageError(f"{path}:{line}: expected 3 fields (\"label\",\"title\",\"text\"), "
                             f"found {len(row)}")
        label = labels.get(row[0])
        if label is None:
            label = _parse_label(row[0], num_classes, f"{path}:{line}")
        yield _Row(label, row[1], row[2], offset, line)


def _count_lines(path: Path) -> int:
    """An upper bound on the number of rows: newlines, plus one."""
    count = 1
    with open(path, "rb") as handle:
        while block := handle.read(_READ_BLOCK):
            count += block.count(b"\n")
    return count


@dataclass
class Reviews:
    """One split read by :func:`read_reviews`."""

    codes: np.ndarray  # uint8 (N, MAX_LENGTH)
    labels: np.ndarray  # int64 (N,)
    offsets: np.ndarray  # int64 (N + 1,): row i is bytes [offsets[i], offsets[i + 1])


def read_reviews(path: str | os.PathLike, num_classes: int) -> Reviews:
    """Read one review CSV into character codes, labels and row offsets.

    Parameters
    ----------
    path : path-like
        A ``train.csv`` or ``test.csv`` in the published layout.
    num_classes : int
        Labels in the file must lie in ``1..num_classes``.

    Returns
    -------
    Reviews
        ``codes`` uint8 (N, 1014), ``labels`` int64 0-based (N,), and
        ``offsets`` int64 (N + 1,) byte offsets of the rows.

    Raises
    ------
    UsageError
        On a malformed row or a bad label, naming the file and line.
    """
    path = Path(path)
    bound = _count_lines(path)
    # Untouched pages of these arrays are never committed, so the bound costs nothing.
    codes = np.empty((bound, MAX_LENGTH), dtype=np.uint8)
    labels = np.empty(bound, dtype=np.int64)
    offsets = np.empty(bound + 1, dtype=np.int64)
    n = 0
    chunk: list[bytes] = []
    with open(path, "rb") as handle, progress_bar(total=path.stat().st_size, unit="B", unit_scale=True,
                                                  desc=path.name) as bar:
        lines = _Lines(handle, path)
        for row in _iter_rows(path, num_classes, lines):
            labels[n], offsets[n] = row.label, row.offset
            chunk.append(_ascii_bytes(f"{row.title} {row.text}", MAX_LENGTH).ljust(MAX_LENGTH, b"\x00"))
            n += 1
            if len(chunk) == _CHUNK_ROWS:
                _flush(codes, n, chunk)
                bar.update(lines.pos - bar.n)
        _flush(codes, n, chunk)
        offsets[n] = lines.pos
    if n == 0:
        raise UsageError(f"{path} holds no reviews")
    return Reviews(codes[:n], labels[:n], offsets[:n + 1])


def _flush(codes: np.ndarray, end: int, chunk: list[bytes]) -> None:
    """Map a chunk of raw rows (ending at row ``end``) to codes, in place."""
    if chunk:
        raw = np.frombuffer(b"".join(chunk), dtype=np.uint8).reshape(len(chunk), MAX_LENGTH)
        np.take(_LUT, raw, out=codes[end - len(chunk):end])
        chunk.clear()


class CsvTexts:
    """``texts(split, indices)``: raw "title text" strings, re-read from the CSV files.

    Parameters
    ----------
    paths : dict
        ``{split: path}`` of the CSV files.
    offsets : dict
        ``{split: int64 array (N + 1,)}`` byte offsets of the rows.
    """

    def __init__(self, paths: dict[str, Path], offsets: dict[str, np.ndarray]) -> None:
        self.paths = paths
        self.offsets = offsets
        self._stamps = {split: _stamp(path) for split, path in paths.items()}

    def __call__(self, split: str, indices: Sequence[int] | np.ndarray) -> list[str]:
        """The raw texts of rows ``indices`` of ``split``, in the order given."""
        path, offsets = self.paths[split], self.offsets[split]
        if _stamp(path) != self._stamps[split]:
            raise UsageError(f"{path} changed since it was loaded; load the dataset again")
        indices = np.asarray(indices, dtype=np.int64)
        out: list[str] = [""] * len(indices)
        with open(path, "rb") as handle:
            for position in np.argsort(indices, kind="stable"):  # read forwards through the file
                index = indices[position]
                handle.seek(offsets[index])
                raw = handle.read(offsets[index + 1] - offsets[index]).decode("utf-8", "replace")
                row = next(row for row in csv.reader(io.StringIO(raw, newline="")) if row)
                out[position] = f"{row[1]} {row[2]}"
        return out


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _paths(name: str, datasets_dir: str) -> dict[str, Path]:
    folder, _, url = SOURCES[name]
    paths = {split: Path(datasets_dir) / folder / f"{split}.csv" for split in SPLITS}
    missing = [str(path) for path in paths.values() if not path.is_file()]
    if missing:
        raise UsageError(
            f"{name} not found: missing {', '.join(missing)}; download {folder}.tar.gz "
            f"(Zhang et al. 2015: {url}, or the folder {ZHANG_FOLDER}) and extract it into "
            f"{datasets_dir} (--datasets-dir)")
    return paths


def load_reviews(name: str, config: DataConfig) -> TensorData:
    """Load ``name`` (a key of :data:`SOURCES`) from ``config.datasets_dir``.

    Parameters
    ----------
    name : str
        ``"amazon_review_polarity"`` or ``"amazon_review_full"``.
    config : DataConfig
        Only ``datasets_dir`` is used.

    Returns
    -------
    TensorData
        uint8 codes (N, 1014) per split, int64 labels, ``to_long`` as both
        transforms and a :class:`CsvTexts` as ``texts``.
    """
    paths = _paths(name, config.datasets_dir)
    num_classes = SOURCES[name][1]
    splits = {}
    for split, path in paths.items():
        start = time.perf_counter()
        splits[split] = read_reviews(path, num_classes)
        log.info("read %d reviews from %s in %.1f s", len(splits[split].labels), path,
                 time.perf_counter() - start)
    return TensorData(
        name=name, num_classes=num_classes, in_channels=1, modality=MODALITY,
        inputs={split: torch.from_numpy(s.codes) for split, s in splits.items()},
        labels={split: torch.from_numpy(s.labels) for split, s in splits.items()},
        train_transform=to_long, eval_transform=to_long,
        texts=CsvTexts(paths, {split: s.offsets for split, s in splits.items()}),
    )


def amazon_review_polarity(config: DataConfig) -> TensorData:
    """Amazon Review Polarity: 3.6M train / 400k test reviews, 2 classes."""
    return load_reviews("amazon_review_polarity", config)


def amazon_review_full(config: DataConfig) -> TensorData:
    """Amazon Review Full: 3M train / 650k test reviews, 5 classes (stars)."""
    return load_reviews("amazon_review_full", config)


MODALITY = "text"  # what these datasets hold: texts
DATASETS = {"amazon_review_polarity": amazon_review_polarity, "amazon_review_full": amazon_review_full}
