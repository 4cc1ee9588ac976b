"""Who each training example is, so that labels stay on their examples when the data changes.

An :class:`Identity` gives every row of a training split

* an **id** that stays with the example: a folder's relative path, a
  table's ``--id-column`` (else a digest of its text), an array file's
  ``ids`` (else a digest of the row);
* a **digest** of its content (a file's bytes, a text, a row of an array),
  ``""`` where only the id is known (published datasets, read by row);
* its **label** in the data (``-1`` where unknown).

A run records the identity of its data when it starts (``examples.csv``
and a fingerprint in ``config.json``, see :mod:`svp.workflows.identity`).
On resume, :func:`compare` matches the data as it is now against the run's
rows: by id, then, for a file that moved (``unlabeled/x.png`` filed into
``train/cat/``), by content. :func:`svp.data.labels.in_rows` then shows the learners
the data in the run's rows, so every index file the run wrote still names
the example it named, and examples the data gained take new rows after the
run's own.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from svp.data.base import UNKNOWN, Data
from svp.data.labels import class_names

DIGEST_SIZE = 8  # bytes of a content digest (16 hex characters): collisions are out of reach at any pool size

#: ``identify()`` of a dataset: the id and the content digest of each training example, in row order
Identify = Callable[[], tuple[Sequence[str], Sequence[str]]]


def digest(content: bytes) -> str:
    """The digest of one example's content (BLAKE2b, 16 hex characters)."""
    return hashlib.blake2b(content, digest_size=DIGEST_SIZE).hexdigest()


def row_digests(array: np.ndarray) -> list[str]:
    """The digest of each row of ``array`` (its bytes in C order)."""
    rows = np.ascontiguousarray(array).reshape(len(array), -1)
    return [digest(row.tobytes()) for row in rows]


def content_ids(digests: Sequence[str]) -> list[str]:
    """Ids made from contents: the digest, with ``#k`` on its k-th repeat (duplicates stay distinct)."""
    seen: Counter = Counter()
    ids = []
    for value in digests:
        seen[value] += 1
        ids.append(value if seen[value] == 1 else f"{value}#{seen[value]}")
    return ids


@dataclass(frozen=True)
class Identity:
    """The id, content digest and label of each training example, and the class names."""

    ids: list[str]
    digests: list[str]
    labels: np.ndarray
    classes: tuple[str, ...]
    by_row: bool = False  # the ids are row numbers: a published dataset, which never grows or moves

    def __len__(self) -> int:
        return len(self.ids)

    def fingerprint(self) -> str:
        """One digest of the whole identity: equal fingerprints, the same examples in the same rows."""
        hasher = hashlib.sha256("\x1f".join(self.classes).encode())
        hasher.update(np.asarray(self.labels, dtype=np.int64).tobytes())
        hasher.update("\n".join(f"{i}\t{d}" for i, d in zip(self.ids, self.digests)).encode())
        return hasher.hexdigest()[:20]


def identity_of(data: Data) -> Identity:
    """``data``'s identity: from its ``identify()`` when it has one, else by row (a published dataset)."""
    labels = np.asarray(data.targets("train"), dtype=np.int64)
    identify = getattr(data, "identify", None)
    if identify is None:
        return Identity([str(i) for i in range(len(labels))], [""] * len(labels), labels,
                        tuple(class_names(data)), by_row=True)
    ids, digests = identify()
    return Identity(list(ids), list(digests), labels, tuple(class_names(data)))


def _named_by_content(id_: str) -> bool:
    """Whether ``id_`` is a digest that :func:`content_ids` made (the example has no id of its own)."""
    value = id_.split("#", 1)[0]
    return len(value) == 2 * DIGEST_SIZE and all(c in "0123456789abcdef" for c in value)


def display_id(identity: Identity, row: int) -> str:
    """How a message names row ``row``: its id, or "row N" when its id is only its content's digest."""
    return f"row {row}" if _named_by_content(identity.ids[row]) else identity.ids[row]


@dataclass
class Changes:
    """How the data now differs from a run's rows (see :func:`compare`).

    ``rows[i]`` is the row now of the run's row ``i`` (-1: gone); rows past
    the run's are the examples the data gained, in their order now.
    Each list names run rows.
    """

    rows: np.ndarray
    gained: int = 0
    moved: list[int] = field(default_factory=list)      # found by content under another id (a moved file)
    changed: list[int] = field(default_factory=list)    # the same id, other content
    removed: list[int] = field(default_factory=list)    # neither id nor content is in the data now
    relabeled: list[int] = field(default_factory=list)  # the data labels it otherwise than when the run started

    @property
    def reordered(self) -> bool:
        """Examples the run had are at other rows now."""
        kept = self.rows[: len(self.rows) - self.gained]
        return bool((kept != np.arange(len(kept))).any())

    @property
    def any(self) -> bool:
        return bool(self.gained or self.moved or self.changed or self.removed or self.relabeled
                    or self.reordered)


def compare(run: Identity, now: Identity) -> Changes:
    """Match the examples of ``now`` to the run's rows: by id, then by content for ids that vanished."""
    where = {id_: row for row, id_ in enumerate(now.ids)}
    rows = np.array([where.get(id_, -1) for id_ in run.ids], dtype=np.int64)
    changes = Changes(rows)
    changes.changed = [i for i in np.flatnonzero(rows >= 0).tolist()
                       if run.digests[i] and now.digests[rows[i]] and run.digests[i] != now.digests[rows[i]]]
    taken = np.zeros(len(now), dtype=bool)
    taken[rows[rows >= 0]] = True
    by_content: dict[str, list[int]] = {}
    for row in np.flatnonzero(~taken).tolist():
        if now.digests[row]:
            by_content.setdefault(now.digests[row], []).append(row)
    for i in np.flatnonzero(rows < 0).tolist():
        found = by_content.get(run.digests[i]) if run.digests[i] else None
        if found:
            rows[i] = found.pop(0)
            taken[rows[i]] = True
            changes.moved.append(i)
    for i in np.flatnonzero(rows < 0).tolist():
        # known by its content, an edited example has a new id: the new one in its place (just after the row
        # of the example before it) is that example changed, not one removed and one added
        place = rows[i - 1] + 1 if i > 0 else 0
        if _named_by_content(run.ids[i]) and place >= 0 and place < len(now) and not taken[place] \
                and _named_by_content(now.ids[place]):
            rows[i], taken[place] = place, True
            changes.changed.append(i)
        else:
            changes.removed.append(i)
    kept = rows >= 0
    now_labels = np.asarray(now.labels, dtype=np.int64)
    changes.relabeled = np.flatnonzero(kept & (np.where(kept, now_labels[rows], UNKNOWN) != run.labels)).tolist()
    gained = np.flatnonzero(~taken)
    changes.rows = np.concatenate([rows, gained])
    changes.gained = len(gained)
    return changes


def grown(run: Identity, now: Identity, changes: Changes) -> Identity:
    """The run's rows after ``changes``: ids and digests as they are now, the labels the run started with
    (the examples gained start unknown: a label the data gives them is recorded as a person's)."""
    rows = changes.rows
    ids = [now.ids[r] if r >= 0 else run.ids[i] for i, r in enumerate(rows[: len(run)])]
    digests = [now.digests[r] if r >= 0 else run.digests[i] for i, r in enumerate(rows[: len(run)])]
    gained = rows[len(run):]
    return Identity(ids + [now.ids[r] for r in gained], digests + [now.digests[r] for r in gained],
                    np.concatenate([run.labels, np.full(len(gained), UNKNOWN, dtype=np.int64)]), run.classes)
