"""The results CSVs of a run directory, read: accuracies as fractions, times as seconds (None: not recorded).

See :mod:`svp.report.read` for the formats and conventions; this module
reads one file at a time, ``proxy.csv``/``target.csv``/``results.csv``
(:func:`read_trainings`) and ``selection.csv`` (:func:`read_selection`,
:func:`selection_seconds`).
"""
from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from svp.errors import UsageError
from svp.rundir import SELECTION_CSV

_TIMEDELTA = re.compile(
    r"^\s*(?:(?P<days>-?\d+) days?, )?(?P<h>\d+):(?P<m>\d{1,2}):(?P<s>\d{1,2}(?:\.\d*)?)\s*$")
_ACCURACY_COLUMNS = ("train_accuracy", "dev_accuracy", "test_accuracy")


@dataclass
class Trainings:
    accuracy: dict[int, float] = field(default_factory=dict)
    train_accuracy: dict[int, float] = field(default_factory=dict)
    steps: dict[int, int] = field(default_factory=dict)
    train_time: Optional[float] = 0.0  # None: not recorded (see missing)
    missing: Optional[str] = None  # why train_time is None
    splits: set = field(default_factory=set)
    sizes: set = field(default_factory=set)  # every training's, measured or not


def parse_seconds(value: Any) -> float:
    """Seconds from a float, a float string or a ``timedelta`` string.

    Parameters
    ----------
    value : str, float, int or None
        ``12.5``, ``"12.5"``, ``"0:00:12.500000"``, ``"1 day, 2:00:00"``;
        None or ``""`` read as 0.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        When ``value`` is none of these.
    """
    if value is None:
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if not text:
        return 0.0
    try:
        return float(text)
    except ValueError:
        pass
    match = _TIMEDELTA.match(text)
    if match is None:
        raise ValueError(f"not seconds or a duration like 0:01:23.5: {value!r}")
    days = int(match["days"] or 0)
    return days * 86400.0 + int(match["h"]) * 3600.0 + int(match["m"]) * 60.0 + float(match["s"])


def _parse_accuracy(value: Optional[str]) -> Optional[float]:
    """A raw accuracy, or None when missing (empty, NaN, negative)."""
    if value is None or not value.strip():
        return None
    number = float(value)
    if math.isnan(number) or number < 0:
        return None
    return number


def read_csv(path: str, required: Sequence[str]) -> list[dict[str, str]]:
    """The rows of a CSV file whose header has every ``required`` column; a row cut short is refused."""
    rows: list[dict[str, str]] = []
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            for row in reader:
                if None in row or None in row.values():  # more, or fewer, fields than the header
                    fields = sum(v is not None for k, v in row.items() if k is not None) + len(row.get(None) or [])
                    raise UsageError(f"{path}:{reader.line_num}: {fields} fields where the header has "
                                     f"{len(reader.fieldnames)} ; the file is damaged (cut mid-row?): restore it")
                rows.append(row)
            header = reader.fieldnames or []
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from error
    except (UnicodeDecodeError, csv.Error) as error:
        raise UsageError(f"{path} is not a results CSV ({error}) ; the file is damaged: restore it") from None
    missing = [column for column in required if column not in header]
    if missing:
        raise UsageError(f"{path} is not a results file: it lacks the column(s) "
                         f"{', '.join(missing)} (header: {','.join(header) or 'empty'})")
    return rows


def read_trainings(path: str) -> Trainings:
    """Accuracy by size and total training time from proxy/target/results.csv."""
    rows = read_csv(path, ("nexamples",))
    try:
        raw = [{c: _parse_accuracy(row.get(c)) for c in _ACCURACY_COLUMNS} for row in rows]
        scale = 100.0 if any(v is not None and v > 1 for r in raw for v in r.values()) else 1.0
        result = Trainings()
        for row, accuracies in zip(rows, raw):
            size = int(float(row["nexamples"]))
            result.sizes.add(size)
            split = "test" if accuracies["test_accuracy"] is not None else "dev"
            accuracy = accuracies[f"{split}_accuracy"]
            if accuracy is not None:
                result.accuracy[size] = accuracy / scale  # a later row wins
                result.splits.add(split)
            if accuracies["train_accuracy"] is not None:
                result.train_accuracy[size] = accuracies["train_accuracy"] / scale
            if (row.get("steps") or "").strip():
                result.steps[size] = int(float(row["steps"]))
        result.train_time, why = _time_sum(rows, "train_time")
        result.missing = f"{os.path.basename(path)} has {why}" if why else None
    except ValueError as error:
        raise UsageError(f"{path}: bad value: {error}") from error
    return result


def _time_sum(rows: Sequence[dict[str, str]], column: str) -> tuple[Optional[float], Optional[str]]:
    """A time column's sum over ``rows``, or (None, why) when the header lacks it or a cell is empty.

    A missing time is unknown, not 0 seconds: counting it as 0 would make a run look faster than it was
    (and inflate the speed-ups against it). No rows: nothing ran, so 0.
    """
    if rows and column not in rows[0]:
        return None, f"no {column} column"
    empty = sum(not (row.get(column) or "").strip() for row in rows)
    if empty:
        return None, f"an empty {column} in {empty} of its {len(rows)} rows"
    return math.fsum(parse_seconds(row[column]) for row in rows), None


def read_selection(path: str) -> tuple[dict[str, Optional[float]], dict[str, tuple[str, ...]]]:
    """Inference, ranking and selection seconds summed over selection.csv (None: not recorded), and why
    any is missing -> the times it leaves None.

    A selection's time is :func:`selection_of` its row; the run's is their sum (None when a row has none).
    """
    rows = read_csv(path, ())
    try:
        sums = {column: _time_sum(rows, column) for column in ("inference_time", "ranking_time", "total_time")}
        each = [selection_of(row) for row in rows]
    except ValueError as error:
        raise UsageError(f"{path}: bad value: {error}") from error
    (inference, why_inference), (ranking, why_ranking), (_, why_total) = sums.values()
    selection = None if None in each else math.fsum(each)
    why = [w for w in (why_inference, why_ranking) if w] + ([why_total] if selection is None and why_total else [])
    times = {"inference_time": inference, "ranking_time": ranking, "selection_time": selection}
    missing = tuple(name for name, seconds in times.items() if seconds is None)
    return times, {f"{os.path.basename(path)} has {' and '.join(why)}": missing} if why else {}


def selection_of(row: dict[str, str]) -> Optional[float]:
    """One selection's seconds (a row of selection.csv): inference + ranking, else its ``total_time``.

    The recorded ``total_time`` wins when inference and ranking are missing or both 0: the original
    implementation's older runs recorded only the total, and a split that reads 0 + 0 beside a total that
    does not is a split never measured, not a selection that took no time (svp writes total = inference
    + ranking, so for its runs both rules agree). None when neither is recorded; empty cells are missing.

    Raises
    ------
    ValueError
        When a time is not seconds (see :func:`parse_seconds`).
    """
    given = {k: parse_seconds(row[k]) for k in ("inference_time", "ranking_time", "total_time")
             if (row.get(k) or "").strip()}
    split = given.get("inference_time", 0.0) + given.get("ranking_time", 0.0)
    both = {"inference_time", "ranking_time"} <= set(given)
    if both and split > 0:
        return split
    return given.get("total_time", split if both else None)


def selection_seconds(run_dir: str) -> dict[int, Optional[float]]:
    """Seconds of each selection (see :func:`selection_of`) by the labeled-set size it produced."""
    path = os.path.join(run_dir, SELECTION_CSV)
    seconds: dict[int, Optional[float]] = {}
    if os.path.exists(path):
        try:
            for row in read_csv(path, ("nexamples",)):
                seconds[int(float(row["nexamples"]))] = selection_of(row)
        except ValueError as error:
            raise UsageError(f"{path}: bad value: {error}") from error
    return seconds
