"""Who each training example is, so that labels stay on their examples when the data changes.

An :class:`Identity` gives every row of a training split

* an **id** that stays with the example: a folder's relative path, a
  table's ``--id-column``, an array file's ``ids``; data without ids of its
  own (a table without an id column, arrays without ``ids``) is known by
  its content: the id is the digest (``#k`` on the k-th repeat);
* a **digest** of its content (a file's bytes, a text, a row of an array),
  ``""`` where only the id is known (published datasets, read by row);
* its **label** in the data (``-1`` where unknown).

A run records the identity of its data when it starts (``examples.csv``
and a fingerprint in ``config.json``, see :mod:`svp.workflows.identity`).
On resume, :func:`compare` matches the data as it is now against the run's
rows: by id, then by content (a file that moved: ``unlabeled/x.png`` filed
into ``train/cat/``); data known by its content is matched by content,
equal copies by their labels. :func:`svp.data.labels.in_rows` then shows
the learners the data in the run's rows, so every index file the run wrote
still names the example it named, and examples the data gained take new
rows after the run's own.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from svp.data.base import UNKNOWN, Data
from svp.data.labels import class_names

# bytes of a content digest (16 hex characters): two of 10 million examples share one with odds below 1e-5
DIGEST_SIZE = 8

#: ``identify()`` of a dataset: the id (None: known by its content) and content digest of each training example
Identify = Callable[[], tuple[Optional[Sequence[str]], Sequence[str]]]


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
    by_content: bool = False  # the ids are the contents' digests: the data has no ids of its own

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def kind(self) -> str:
        """How examples are known: "rows", "content" or "ids" (as config.json records it)."""
        return "rows" if self.by_row else "content" if self.by_content else "ids"

    def fingerprint(self) -> str:
        """One digest of the whole identity: equal fingerprints, the same examples in the same rows."""
        hasher = hashlib.sha256("\x1f".join(self.classes).encode())
        hasher.update(np.asarray(self.labels, dtype=np.int64).tobytes())
        hasher.update("\n".join(f"{i}\t{d}" for i, d in zip(self.ids, self.digests)).encode())
        return hasher.hexdigest()[:20]

    def named(self, row: int) -> str:
        """How a message names row ``row``: its id, or "row N" where the id is only its content's digest."""
        return f"row {row}" if self.by_content or self.by_row else self.ids[row]


def identity_of(data: Data) -> Identity:
    """``data``'s identity: from its ``identify()`` when it has one, else by row (a published dataset)."""
    labels = np.asarray(data.targets("train"), dtype=np.int64)
    identify = getattr(data, "identify", None)
    if identify is None:
        return Identity([str(i) for i in range(len(labels))], [""] * len(labels), labels,
                        tuple(class_names(data)), by_row=True)
    ids, digests = identify()
    by_content = ids is None
    return Identity(content_ids(digests) if by_content else list(ids), list(digests), labels,
                    tuple(class_names(data)), by_content=by_content)


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


def compare(run: Identity, now: Identity, first: Iterable[int] = ()) -> Changes:
    """Match the examples of ``now`` to the run's rows.

    Data with ids: by id, then by content for ids that vanished (a moved file; also one whose name a new file
    took). Data known by its content: by content, copies with the run's label first. ``first``: run rows to
    match before the others where copies leave a choice (those the run relies on).
    """
    rows = np.full(len(run), -1, dtype=np.int64)
    taken = np.zeros(len(now), dtype=bool)
    changes = Changes(rows)
    order = _first_then_rest(first, len(run))
    if run.by_content and now.by_content:
        _pair_by_content(run, now, rows, taken, order)
        changes.changed = _pair_edited(run, now, rows, taken)
    else:
        suspects = _pair_by_id(run, now, rows, taken)
        changes.moved = _pair_by_content(run, now, rows, taken, [i for i in order if rows[i] < 0 or i in suspects],
                                         release=suspects)
        changes.changed = [i for i in suspects if i not in changes.moved]
    changes.removed = np.flatnonzero(rows < 0).tolist()
    kept = rows >= 0
    now_labels = np.asarray(now.labels, dtype=np.int64)
    changes.relabeled = np.flatnonzero(kept & (np.where(kept, now_labels[rows], UNKNOWN) != run.labels)).tolist()
    gained = np.flatnonzero(~taken)
    changes.rows = np.concatenate([rows, gained])
    changes.gained = len(gained)
    return changes


def _first_then_rest(first: Iterable[int], count: int) -> list[int]:
    first = sorted(set(first))
    return first + sorted(set(range(count)) - set(first))


def _pair_by_id(run: Identity, now: Identity, rows: np.ndarray, taken: np.ndarray) -> set[int]:
    """Pair rows of one id; return the run rows whose content differs under it (changed, or a new file under a
    moved file's name)."""
    where = {id_: row for row, id_ in enumerate(now.ids)}
    suspects = set()
    for i, id_ in enumerate(run.ids):
        j = where.get(id_)
        if j is not None:
            rows[i], taken[j] = j, True
            if run.digests[i] and now.digests[j] and run.digests[i] != now.digests[j]:
                suspects.add(i)
    return suspects


def _pair_by_content(run: Identity, now: Identity, rows: np.ndarray, taken: np.ndarray, candidates: list[int],
                     release: Iterable[int] = ()) -> list[int]:
    """Pair each of ``candidates`` with a free row of its content, one of its label first; return those paired.

    A candidate in ``release`` holds a row already (its id's, of other content): paired by content elsewhere,
    it lets that row go (to be paired with another, or counted as gained).
    """
    release = set(release)
    free: dict[str, list[int]] = {}
    for j in np.flatnonzero(~taken).tolist():
        if now.digests[j]:
            free.setdefault(now.digests[j], []).append(j)
    now_labels = np.asarray(now.labels)
    paired = []
    for i in candidates:
        same = free.get(run.digests[i]) if run.digests[i] else None
        if not same:
            continue
        j = next((j for j in same if now_labels[j] == run.labels[i]), same[0])
        same.remove(j)
        if i in release:
            taken[rows[i]] = False
            free.setdefault(now.digests[rows[i]], []).append(int(rows[i]))
        rows[i], taken[j] = j, True
        paired.append(i)
    return paired


def _pair_edited(run: Identity, now: Identity, rows: np.ndarray, taken: np.ndarray) -> list[int]:
    """Data known by its content: an edited example has new content, so no match; the new content in its place
    (just after the row of the example before it) is that example changed, not one removed and one added."""
    changed = []
    for i in np.flatnonzero(rows < 0).tolist():
        place = 0 if i == 0 else (rows[i - 1] + 1 if rows[i - 1] >= 0 else -1)
        if 0 <= place < len(now) and not taken[place]:
            rows[i], taken[place] = place, True
            changed.append(i)
    return changed


def grown(run: Identity, now: Identity, changes: Changes) -> Identity:
    """The run's rows after ``changes``: ids and digests as they are now, the labels the run started with
    (the examples gained start unknown: a label the data gives them is recorded as a person's)."""
    rows = changes.rows
    ids = [now.ids[r] if r >= 0 else run.ids[i] for i, r in enumerate(rows[: len(run)])]
    digests = [now.digests[r] if r >= 0 else run.digests[i] for i, r in enumerate(rows[: len(run)])]
    gained = rows[len(run):]
    return Identity(ids + [now.ids[r] for r in gained], digests + [now.digests[r] for r in gained],
                    np.concatenate([run.labels, np.full(len(gained), UNKNOWN, dtype=np.int64)]), run.classes,
                    by_content=run.by_content)
