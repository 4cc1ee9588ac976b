"""A table of texts of one's own: ``.csv`` (with a header row) or ``.jsonl`` (one object a line).

``--text-column`` and ``--label-column`` name the columns (or give their
positions in a CSV's header); labels are class names, and an empty label
means the example is not labeled yet (-1). ``--id-column`` names a column
of ids that follow each row wherever it moves in the file (without one, a
row is known by its text; see :mod:`svp.data.identity`). ``--test-file`` adds a test split
of the same columns, or ``--validation`` splits a dev set off. The texts
are quantised like Amazon reviews (VDCNN) and kept for fastText.

A table is untrusted input, checked row by row; a problem is reported as
``FILE:LINE: <what> ; <how to fix it>``:

- the file is UTF-8 (Excel's byte-order mark is skipped); NUL bytes (a
  UTF-16 file) are refused;
- a CSV's header names each column once (names are stripped); every row has
  as many fields as the header (an empty field is fine, a missing one is
  not); a row that repeats the header (two files joined) is refused; rows
  whose fields are all empty are skipped, like blank lines;
- a JSONL line is one JSON object, each key once; its text is a JSON
  string; its label a string, an integer or a float of integral value
  (``1``, ``"1"`` and ``1.0`` are the class ``"1"``), ``null`` or absent when
  not labeled yet;
- class names are read as :func:`svp.data.labels.class_name` writes them
  (``" cat"`` is ``"cat"``); two spellings of one number (``1``, ``01``) are
  refused. The classes are the ``--class`` names, else the training split's
  labels, sorted (by value when every name is an integer), so the order never
  depends on the process; a test label outside them is refused, and so is an
  unlabeled test row.
"""
from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch

from svp.config import DataConfig
from svp.data.amazon import encode, to_long
from svp.data.base import TensorData
from svp.data.identity import Identify, digest
from svp.data.labels import class_name
from svp.data.sources import UNKNOWN, count_classes
from svp.errors import UsageError

TABLE_SUFFIXES = (".csv", ".jsonl")
# A class name that is a number: ASCII digits only (str.isdigit accepts "²", which int() refuses), and few
# enough of them that int() never meets Python's limit on digits.
_INTEGER = re.compile(r"-?[0-9]{1,30}")
_SAVE_AS = "save it as UTF-8 (in Excel: CSV UTF-8)"

#: A row: a CSV's fields (one per header column) or a JSONL line's object
Row = Union[list[str], dict[str, object]]


def is_table(dataset: str) -> bool:
    return dataset.endswith(TABLE_SUFFIXES)


@dataclass
class Table:
    """One file's rows: texts, labels (class names, "" when not labeled yet), ids and line numbers."""

    path: Path
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    ids: Optional[list[str]] = None
    lines: list[int] = field(default_factory=list)


def _decoded(path: Path) -> str:
    """The text of the file at ``path``: UTF-8, with or without the byte-order mark Excel writes."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise UsageError(f"{path} cannot be read ({error.strerror}) ; give a readable .csv or .jsonl file") from None
    if b"\x00" in raw:  # never in UTF-8 text; every other byte of a UTF-16 file (Excel's "Unicode text")
        line = raw[:raw.index(b"\x00")].count(b"\n") + 1
        raise UsageError(f"{path}:{line}: the file holds NUL bytes (UTF-16 text, or not text at all) ; {_SAVE_AS}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise UsageError(f"{path}:{line}: cannot be read as a {path.suffix[1:].upper()} table: byte "
                         f"0x{raw[error.start]:02x} is not UTF-8 ; {_SAVE_AS}") from None


def _csv_rows(path: Path, text: str) -> tuple[list[str], list[tuple[int, Row]]]:
    """A CSV's column names and its rows (the line each starts on, its fields), checked against the header."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header: Optional[list[str]] = None
    rows: list[tuple[int, Row]] = []
    start = 1  # the line the next row starts on (a quoted field may span lines)
    try:
        for fields in reader:
            line, start = start, reader.line_num + 1
            if not any(value.strip() for value in fields):
                continue  # a blank line, or a row of empty fields (spreadsheets write them below the data)
            if header is None:
                header = _header(fields, path, line)
            else:
                rows.append((line, _fields(fields, header, path, line)))
    except csv.Error as error:  # a field past csv's limit is most often a quote that is never closed
        raise UsageError(f"{path}:{start}: cannot be read as CSV ({error}), most likely a quote opened and never "
                         "closed ; close it (a quote inside a quoted field is written twice: \"\")") from None
    return header or [], rows


def _header(fields: list[str], path: Path, line: int) -> list[str]:
    """The column names of a CSV's header, each named once (else a row's value would be lost)."""
    names = [value.strip() for value in fields]
    first: dict[str, int] = {}
    for position, name in enumerate(names):
        if name and name in first:
            raise UsageError(f"{path}:{line}: the header names the column {name!r} twice (fields {first[name] + 1} "
                             f"and {position + 1}) ; give each column its own name")
        first.setdefault(name, position)
    return names


def _fields(fields: list[str], header: list[str], path: Path, line: int) -> list[str]:
    """A CSV row's fields, refused when it is not a row of the header's columns."""
    if len(fields) < len(header):  # a missing field is not an empty one: the row lost a comma or a column
        raise UsageError(f"{path}:{line}: the row has {len(fields)} field{'s' * (len(fields) != 1)} where the "
                         f"header has {len(header)} ; give every field (an empty label field, as in \"some "
                         "text,\", means not labeled yet)")
    if len(fields) > len(header):
        raise UsageError(f"{path}:{line}: the row has more fields than the header ({len(fields)} where it has "
                         f"{len(header)}) ; quote a field that holds a comma (\"a, b\")")
    if [value.strip() for value in fields] == header:
        raise UsageError(f"{path}:{line}: the row repeats the header (two files joined into one?) ; remove it")
    return fields


def _jsonl_rows(path: Path, text: str) -> tuple[list[str], list[tuple[int, Row]]]:
    """The keys of a JSONL file's objects (in the order they first appear) and its rows (line, object)."""
    columns: dict[str, None] = {}
    rows: list[tuple[int, Row]] = []
    for line, content in enumerate(text.split("\n"), start=1):  # not splitlines: JSON strings may hold U+2028
        if content.strip():
            record = _json_object(content, path, line)
            columns.update(dict.fromkeys(record))
            rows.append((line, record))
    return list(columns), rows


def _json_object(content: str, path: Path, line: int) -> dict[str, object]:
    """One line of a JSONL file, which must be an object with each key once."""
    def unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
        twice = [key for key, count in Counter(key for key, _ in pairs).items() if count > 1]
        if twice:  # json keeps the last silently
            raise UsageError(f"{path}:{line}: the key {twice[0]!r} is given twice ; give each key once")
        return dict(pairs)

    try:
        record = json.loads(content, object_pairs_hook=unique)
    except json.JSONDecodeError as error:  # its own position is within the line: the column is what helps
        raise UsageError(f"{path}:{line}: not JSON ({error.msg}, column {error.colno}) ; give one JSON object a "
                         "line") from None
    except (ValueError, RecursionError) as error:  # an integer of too many digits; arrays nested too deep
        raise UsageError(f"{path}:{line}: not JSON that can be read ({error.__class__.__name__}) ; give one JSON "
                         "object a line") from None
    if not isinstance(record, dict):
        raise UsageError(f"{path}:{line}: the line is {_shown(record)}, not a JSON object ; give one object a line, "
                         "such as {\"text\": \"...\", \"label\": \"...\"}")
    return record


def _shown(value: object) -> str:
    """A JSON value as a message shows it: its kind and its start."""
    kind = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")
    written = json.dumps(value, ensure_ascii=False)
    return f"{kind} ({written if len(written) <= 40 else written[:37] + '...'})"


def _column(wanted: str, columns: list[str], path: Path, flag: str) -> int:
    """The position of the column ``wanted`` names: by its name, else by its position."""
    wanted = wanted.strip()
    if wanted in columns:
        return columns.index(wanted)
    if wanted.isascii() and wanted.isdigit() and int(wanted) < len(columns):
        return int(wanted)
    raise UsageError(f"{path} has no column {wanted!r} ({flag}) ; its columns are {', '.join(columns)}")


def _cell(row: Row, column: int, columns: list[str]) -> object:
    """The value of ``row`` in the column at ``column`` (None where a JSONL object lacks the key)."""
    return row[column] if isinstance(row, list) else row.get(columns[column])


def _text(value: object, path: Path, line: int, column: str) -> str:
    """A row's text: a string (a JSON number, object or list is not a text, nor is its Python repr)."""
    if isinstance(value, str):
        return value
    if value is None:
        raise UsageError(f"{path}:{line}: the row has no {column!r} ; give every row its text")
    raise UsageError(f"{path}:{line}: {column!r} is {_shown(value)}, not a text ; give each text as a JSON string")


def _label(value: object, path: Path, line: int) -> str:
    """A row's class name ("" when not labeled yet): JSON's ``1``, ``"1"`` and ``1.0`` all name class "1"."""
    if value is None:
        return ""
    if isinstance(value, str):
        return class_name(value)
    if isinstance(value, int) and not isinstance(value, bool):  # bool is an int to Python, not to a person
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    raise UsageError(f"{path}:{line}: the label is {_shown(value)} ; give a class name (a string or an integer), "
                     "or null when the row is not labeled yet")


def _row_id(value: object, path: Path, line: int, column: str) -> str:
    """A row's id (--id-column): a text or a number, never empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise UsageError(f"{path}:{line}: the row has no id in {column!r} (--id-column) ; give every row an id")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise UsageError(f"{path}:{line}: the id in {column!r} is {_shown(value)} ; give each id as a string or a "
                         "number")
    return str(value).strip()


def read_table(path: Path, text_column: str, label_column: str, id_column: Optional[str] = None) -> Table:
    """The texts, class names ("" when not labeled) and, given ``id_column``, the ids of a table's rows."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file ; give the path of a .csv or .jsonl table")
    text = _decoded(path)
    columns, rows = (_jsonl_rows if path.suffix == ".jsonl" else _csv_rows)(path, text)
    if not rows:
        raise UsageError(f"{path} holds no rows ; give a table with a header and one text a row")
    text_at = _column(text_column, columns, path, "--text-column")
    label_at = _column(label_column, columns, path, "--label-column")
    id_at = _column(id_column, columns, path, "--id-column") if id_column is not None else None
    table = Table(path, ids=[] if id_at is not None else None)
    for line, row in rows:
        table.lines.append(line)
        table.texts.append(_text(_cell(row, text_at, columns), path, line, columns[text_at]))
        table.labels.append(_label(_cell(row, label_at, columns), path, line))
        if id_at is not None:
            table.ids.append(_row_id(_cell(row, id_at, columns), path, line, columns[id_at]))
    return table


def _identify(texts: list[str], ids: Optional[list[str]], path: str) -> Identify:
    """``identify()`` of a table: its id column (checked unique; None: a row is known by its text) and the
    digests of its texts, computed once."""
    if ids is not None and len(set(ids)) != len(ids):
        twice = next(id_ for id_, count in Counter(ids).items() if count > 1)
        raise UsageError(f"{path}: the id {twice!r} names {ids.count(twice)} rows (--id-column) ; give each row its "
                         "own id")

    @functools.cache
    def identify() -> tuple[Optional[list[str]], list[str]]:
        return ids, [digest(text.encode()) for text in texts]

    return identify


def _one_spelling(tables: Sequence[Table]) -> None:
    """Refuse two spellings of one number (``1``, ``01``): two classes a person means as one, in no fixed order."""
    first: dict[int, tuple[str, Path, int]] = {}
    for table in tables:
        for label, line in zip(table.labels, table.lines):
            if _INTEGER.fullmatch(label):
                spelling, where, at = first.setdefault(int(label), (label, table.path, line))
                if spelling != label:
                    raise UsageError(f"{table.path}:{line}: the label {label!r} is the number {int(label)}, "
                                     f"spelled {spelling!r} at {where}:{at} ; spell each class one way")


def _class_names(train: Table, given: Sequence[str]) -> list[str]:
    """The classes: the ``--class`` names, else the training labels, sorted (by value when all are integers)."""
    if given:
        return list(given)  # DataConfig normalised them with class_name, and refused repeats
    names = {label for label in train.labels if label}
    if all(_INTEGER.fullmatch(name) for name in names):
        return sorted(names, key=int)  # one spelling per number (checked), so no ties
    return sorted(names)


def _numbers(table: Table, classes: list[str], given: bool, test: bool) -> np.ndarray:
    """Each row's class number (-1 where not labeled), refusing a label that is not one of ``classes``."""
    index = {name: i for i, name in enumerate(classes)}
    numbers = np.full(len(table.labels), UNKNOWN, dtype=np.int64)
    for row, (label, line) in enumerate(zip(table.labels, table.lines)):
        if not label and test:
            raise UsageError(f"{table.path}:{line}: the test row has no label ; label every test example (the test "
                             "split measures accuracy)")
        if label and label not in index and given:
            raise UsageError(f"{table.path}:{line}: label {label!r} is not one of the --class names "
                             f"({', '.join(classes)}) ; give every class with --class, or fix the label")
        if label and label not in index:  # only a test label: the training labels make the classes
            raise UsageError(f"{table.path}:{line}: label {label!r} has no training example, so it is not a class "
                             f"; add a training example of class {label!r}, or name every class with --class")
        numbers[row] = index.get(label, UNKNOWN)
    return numbers


def open_table(config: DataConfig) -> TensorData:
    """The table ``config.dataset`` names (and its ``--test-file``)."""
    paths = {"train": Path(config.dataset)}
    if config.test_file is not None:
        paths["test"] = Path(config.test_file)
    read = {split: read_table(path, config.text_column, config.label_column, config.id_column)
            for split, path in paths.items()}
    _one_spelling(list(read.values()))
    classes = _class_names(read["train"], config.classes)
    labels = {"train": _numbers(read["train"], classes, bool(config.classes), test=False)}
    count_classes(labels, config.dataset, len(classes))
    if "test" in read:
        labels["test"] = _numbers(read["test"], classes, bool(config.classes), test=True)
    labels = {split: torch.from_numpy(labels.get(split, np.empty(0, dtype=np.int64))) for split in ("train", "test")}
    texts = {split: table.texts for split, table in read.items()}
    texts.setdefault("test", [])
    inputs = {split: torch.from_numpy(encode(split_texts)) for split, split_texts in texts.items()}
    return TensorData(name=paths["train"].name, num_classes=len(classes), in_channels=1, inputs=inputs,
                      labels=labels, train_transform=to_long, eval_transform=to_long, modality="text",
                      texts=_Texts(texts), classes=classes,
                      identify=_identify(texts["train"], read["train"].ids, config.dataset))


class _Texts:
    """``texts(split, indices)``: the raw texts, held in memory."""

    def __init__(self, texts: dict[str, list[str]]) -> None:
        self.texts = texts

    def __call__(self, split: str, indices: Sequence[int]) -> list[str]:
        return [self.texts[split][int(i)] for i in indices]
