"""A person's answers: the question's CSV, the answers read back (a file, or a mapping given in Python), and the
run's ``labels.csv``.

Answers are untrusted input: every problem (an example that was not asked,
a label that is no class, one example given two labels) is refused, naming
where it is (the file's line, the mapping's key), before anything is
written. A file and a mapping both become :class:`Answers` rows, which one
function checks (:func:`check_answers`).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Optional, Sequence

import numpy as np

from svp import rundir
from svp.data import Data
from svp.data.labels import class_names, class_number, example_ids
from svp.errors import UsageError
from svp.workflows import label_studio

QUESTION_COLUMNS = ("rank", "index", "id", "score", "predicted", "confidence", "label")
LABEL_COLUMNS = ("index", "id", "label", "round")
MAX_SHOWN = 8  # problems named in one error message

#: One answer as read: (where it is, e.g. "answers.csv:7"; "index" or "id"; the example's key; the label given)
Answer = tuple[str, str, str, str]


@dataclass(frozen=True)
class Answers:
    """Answers to check: ``rows`` (each an :data:`Answer`) and ``source``, what gave them, for messages (e.g.
    "--labels answers.csv")."""

    source: str
    rows: tuple[Answer, ...]


def format_question(rows: Iterable[dict]) -> str:
    """The question as CSV, with an empty ``label`` column for the person to fill in."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=QUESTION_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


@dataclass(frozen=True)
class Labels:
    """The labels people gave, in the order they were recorded: example, class number, round answered."""

    indices: np.ndarray
    labels: np.ndarray
    rounds: np.ndarray

    def by_round(self) -> dict[int, np.ndarray]:
        """Round -> the examples labeled in answer to it, in recorded order."""
        return {int(r): self.indices[self.rounds == r] for r in np.unique(self.rounds)}

    def add(self, answers: dict[int, tuple[int, str]], round_: int, asked: Sequence[np.ndarray],
            names: Sequence[str]) -> "Labels":
        """These labels and the new ``answers`` (index -> (class, where)), recorded as answers to ``round_``.

        An answer already recorded is skipped; one that contradicts a
        recorded label is refused. New answers are ordered as they were
        asked (``asked``: each question's picks, newest first), so the
        labeled set grows in the order a simulation would give; labels no
        question asked for (the data's own, given since the run started) follow, by index.
        """
        recorded = dict(zip(self.indices.tolist(), self.labels.tolist()))
        clashes = [f"{where}: index {index} is labeled {names[recorded[index]]} already, not {names[label]}"
                   for index, (label, where) in answers.items() if index in recorded and recorded[index] != label]
        _refuse(clashes, f"a label recorded in {rundir.LABELS_CSV} stands ; correct {rundir.LABELS_CSV} by hand "
                "if it is wrong, or drop these answers")
        rank = {int(index): position for position, index in enumerate(np.concatenate(asked))}
        new = sorted((index for index in answers if index not in recorded),
                     key=lambda index: (rank.get(index, len(rank)), index))
        return Labels(np.concatenate([self.indices, np.array(new, dtype=np.int64)]),
                      np.concatenate([self.labels, np.array([answers[i][0] for i in new], dtype=np.int64)]),
                      np.concatenate([self.rounds, np.full(len(new), round_, dtype=np.int64)]))


def read_labels(run: Path, names: Optional[Sequence[str]], ids: Sequence[Sequence[str]] = ()) -> Labels:
    """The run's labels.csv (none yet: empty); its class names turned into numbers when ``names`` are given.

    A row's ``id`` (written since svp records ids) must be the id of its example in one of ``ids`` (the
    run's ids now, and as last recorded): a hand-edited index, or another run's file, is refused.
    """
    path = run / rundir.LABELS_CSV
    indices, labels, rounds = [], [], []
    for number, row in enumerate(rundir.read_rows(path), start=2):
        try:
            index, round_ = int(row["index"]), int(row["round"])
        except (KeyError, TypeError, ValueError):
            raise UsageError(f"{path}:{number} is not a row of index, id, label and round ; restore the file") \
                from None
        label = -1 if names is None else class_number(row.get("label") or "", names)
        if label is None:
            raise UsageError(f"{path}:{number}: {row.get('label')!r} is not a class ({', '.join(names)}) ; "
                             "restore the file")
        known = [table[index] for table in ids if 0 <= index < len(table)]
        if row.get("id") and known and row["id"] not in known:
            raise UsageError(f"{path}:{number}: index {index} is {known[0]} in this run, but the row names "
                             f"{row['id']} ; restore the file (its rows are this run's labels)")
        indices.append(index)
        labels.append(label)
        rounds.append(round_)
    return Labels(np.array(indices, dtype=np.int64), np.array(labels, dtype=np.int64), np.array(rounds, dtype=np.int64))


def save_labels(run: Path, labels: Labels, names: Sequence[str], ids: Sequence[str]) -> None:
    """labels.csv, rewritten whole and atomically: a kill leaves the old file or the new one."""
    rundir.save_rows(run / rundir.LABELS_CSV, LABEL_COLUMNS,
                     zip(labels.indices.tolist(), [ids[i] for i in labels.indices.tolist()],
                         [names[k] for k in labels.labels], labels.rounds.tolist()))


def answers_file(path: Path) -> Answers:
    """The answers in ``path`` (a CSV, or Label Studio's JSON export), read but not checked.

    A CSV names each example by ``index`` or ``id`` and its label by class
    name or number; rows without a label are not answered yet.
    """
    if not path.is_file():
        raise UsageError(f"--labels {path}: no such file ; give the answers file (a CSV, or Label Studio's export)")
    rows = label_studio.read_export(path) if path.suffix == ".json" else _read_csv(path)
    return Answers(f"--labels {path}", tuple(rows))


def given_answers(answers: Mapping, source: str = "teach()") -> Answers:
    """Answers given in memory: example id (a str) or index (an int) -> class name or number.

    As in a file, an example whose label is None or empty is not answered
    yet. ``source`` names the mapping in messages (each answer is named
    ``source[key]``).
    """
    if not isinstance(answers, Mapping):
        raise UsageError(f"{source} takes a mapping of example id -> label, not {type(answers).__name__} ; give "
                         "e.g. {'id of an example asked': 'its class'}")
    rows = []
    for key, label in answers.items():
        text = "" if label is None else str(label).strip()
        if text:  # an index is a whole number; anything else names the example by its id
            kind = "index" if isinstance(key, (int, np.integer)) and not isinstance(key, bool) else "id"
            rows.append((f"{source}[{key!r}]", kind, str(key), text))
    return Answers(f"the mapping given to {source}", tuple(rows))


def read_answers(path: Path, data: Data, asked: np.ndarray,
                 written: Optional[dict[int, str]] = None) -> dict[int, tuple[int, str]]:
    """The answers in ``path``, checked (see :func:`answers_file` and :func:`check_answers`)."""
    return check_answers(answers_file(path), data, asked, written)


def check_answers(answers: Answers, data: Data, asked: np.ndarray,
                  written: Optional[dict[int, str]] = None) -> dict[int, tuple[int, str]]:
    """``answers`` checked against the examples ``asked``: index -> (class, where).

    Each answer names an example by ``index`` or ``id`` (as the question
    wrote it, ``written``: index -> id, or as it is now: a file filed since)
    and its label by class name or number. Refused, naming where: examples
    that were not asked, unknown classes, one example given two labels, no
    answer at all.
    """
    asked = np.unique(asked)  # an example left unanswered may be asked again: its id still names one example
    names = class_names(data)
    ids = _ids_of(data, asked, written or {}) if any(kind == "id" for _, kind, _, _ in answers.rows) else {}
    asked_set = set(asked.tolist())
    found: dict[int, tuple[int, str]] = {}
    problems = []
    for where, kind, key, value in answers.rows:
        index = _resolve(kind, key, asked_set, ids)
        label = class_number(value, names)
        if isinstance(index, str):
            problems.append(f"{where}: {index}")
        elif label is None:
            problems.append(f"{where}: {value!r} is not a class (the classes: {', '.join(names)})")
        elif index in found and found[index][0] != label:
            problems.append(f"{where}: index {index} is labeled {names[found[index][0]]} at "
                            f"{found[index][1]} but {names[label]} here")
        else:
            found.setdefault(index, (label, where))
    _refuse(problems, "fix these answers (an example asked can be answered once, with a class name or number)")
    if not found:
        raise UsageError(f"{answers.source} holds no answers ; fill in the label of at least one example asked")
    return found


def _resolve(kind: str, key: str, asked: set[int], ids: dict[str, list[int]]) -> int | str:
    """The dataset index an answer names, or what is wrong with it."""
    if kind == "index":
        if not key.strip().isdigit():
            return f"index {key!r} is not an example's index (a whole number)"
        index = int(key)
        return index if index in asked else f"index {index} was not asked"
    matches = sorted(ids.get(key.strip(), ()))
    if len(matches) != 1:
        return (f"id {key!r} was not asked" if not matches else
                f"id {key!r} names {len(matches)} examples asked ; answer them by index")
    return matches[0]


def _ids_of(data: Data, asked: np.ndarray, written: dict[int, str]) -> dict[str, set[int]]:
    """Id -> the examples asked that it names: as the question wrote it, and as it is now."""
    found: dict[str, set[int]] = {}
    for index, id_ in zip(asked.tolist(), example_ids(data, asked)):
        found.setdefault(id_, set()).add(index)
        if index in written:
            found.setdefault(written[index], set()).add(index)
    return found


def _read_csv(path: Path) -> Iterator[Answer]:
    """(where, "index" or "id", key, label) of each row with a label, of a CSV with a header."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            key = "index" if "index" in columns else "id" if "id" in columns else None
            if key is None or "label" not in columns:
                raise UsageError(f"--labels {path}: its header is {', '.join(columns) or 'empty'} ; give a CSV "
                                 "with columns index (or id) and label, such as the question's CSV filled in")
            for row in reader:
                label = (row.get("label") or "").strip()
                if label:
                    yield f"{path}:{reader.line_num}", key, row.get(key) or "", label
    except (UnicodeDecodeError, csv.Error) as error:
        raise UsageError(f"--labels {path} cannot be read as CSV ({error}) ; give UTF-8 CSV with a header row") \
            from None


def _refuse(problems: list[str], fix: str) -> None:
    if not problems:
        return
    more = f" (and {len(problems) - MAX_SHOWN} more)" if len(problems) > MAX_SHOWN else ""
    raise UsageError("; ".join(problems[:MAX_SHOWN]) + more + f" ; {fix}")
