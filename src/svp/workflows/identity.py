"""A run's examples: recorded when it starts, followed (or refused) when the data changed before a resume.

A new run records its data's :class:`~svp.data.identity.Identity`: its
fingerprint, size and classes in ``config.json``, and, for data of one's
own, every example's id, digest and label in ``examples.csv``. Every index
file the run writes names rows of that table.

On ``--resume`` the data is compared with it (:func:`follow`):

* unchanged: the run goes on;
* ``train``, ``active`` and ``coreset`` runs go on only on the data they
  started with (their results would not be those of an uninterrupted run):
  any change is refused, naming it;
* the labeling loop (``query``) follows data that grew: examples added
  take rows after the run's, files filed elsewhere (an answered photo moved
  into ``train/<class>/``) keep their rows and labels, and a label the data
  now gives an example is recorded as a person's (:attr:`RunExamples.filed`).
  What changed under an example the run relies on (labeled, asked, in the
  dev set) is refused, naming it.
"""
from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from svp import rundir
from svp.data import UNKNOWN, Data
from svp.data.identity import Changes, Identity, compare, display_id, grown, identity_of
from svp.data.labels import class_number, in_rows
from svp.errors import UsageError

log = logging.getLogger(__name__)

KEY = "data_identity"  # config.json's record of the data a run started on
MAX_NAMED = 5  # examples named in one message


@dataclass
class RunExamples:
    """The run's rows as they are in this call's data (see the module docstring)."""

    identity: Identity
    absent: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))  # rows gone: out of the pool
    filed: dict[int, int] = field(default_factory=dict)  # row -> the class the data gives it now, not at the start
    previous: Optional[Identity] = None  # the rows as examples.csv records them, when they changed since

    @property
    def moved(self) -> bool:
        """The rows changed since examples.csv was written: it (and labels.csv's ids) is rewritten first thing."""
        return self.previous is not None


def describe(identity: Identity) -> dict:
    """What config.json records of the data: its fingerprint, size and classes."""
    return {"fingerprint": identity.fingerprint(), "examples": len(identity), "classes": list(identity.classes)}


def record(run: Path, identity: Identity) -> None:
    """examples.csv of a new run (data read by row, a published dataset, needs none)."""
    if not identity.by_row:
        save_examples(run, identity)


def save_examples(run: Path, identity: Identity) -> None:
    rows = ((i, id_, digest, identity.classes[label] if label != UNKNOWN else "")
            for i, (id_, digest, label) in enumerate(zip(identity.ids, identity.digests, identity.labels.tolist())))
    rundir.save_rows(run / rundir.EXAMPLES_CSV, rundir.EXAMPLE_COLUMNS, rows)


def load_examples(run: Path, saved: dict) -> Optional[Identity]:
    """The run's rows as examples.csv records them, or None where it has none."""
    path = run / rundir.EXAMPLES_CSV
    if not path.is_file():
        return None
    classes = tuple(saved.get("classes") or ())
    ids, digests, labels = [], [], []
    try:
        for number, row in enumerate(rundir.read_rows(path), start=2):
            label = row["label"] or ""
            known = class_number(label, classes) if label else UNKNOWN
            if int(row["index"]) != number - 2 or known is None or row["id"] is None:
                raise ValueError(f"line {number}")
            ids.append(row["id"])
            digests.append(row["digest"] or "")
            labels.append(known)
    except (KeyError, TypeError, ValueError, csv.Error, UnicodeDecodeError) as error:
        raise UsageError(f"{path} is damaged ({error}) ; restore it from a backup (it records which example each "
                         "row of the run is)") from None
    return Identity(ids, digests, np.array(labels, dtype=np.int64), classes)


def follow(run: Path, config: Any, data: Data, proxy_data: Optional[Data]) -> tuple[Data, Optional[Data],
                                                                                     RunExamples]:
    """The data in the run's rows, or a UsageError naming what changed that the run cannot follow."""
    now = identity_of(data)
    saved = rundir.load_json(run / rundir.CONFIG).get(KEY) if (run / rundir.CONFIG).is_file() else None
    if not isinstance(saved, dict):  # a run of an svp before data identity: nothing to compare with
        log.info("%s records no identity of its data: it is not checked", run)
        return data, proxy_data, RunExamples(now)
    recorded = load_examples(run, saved)
    if recorded is None or recorded.fingerprint() == now.fingerprint():
        if saved.get("fingerprint") not in (None, now.fingerprint()) and recorded is None:
            raise UsageError(f"{config.data.dataset} is not the data --resume {run} started on (it holds "
                             f"{len(now)} training examples, the run's {saved.get('examples')} ; or their labels "
                             "differ) ; resume on the data as it was, or start a new run")
        return data, proxy_data, RunExamples(recorded or now)
    if tuple(now.classes) != recorded.classes:
        raise UsageError(f"the classes of {config.data.dataset} are {', '.join(now.classes)} now, "
                         f"{', '.join(recorded.classes)} when --resume {run} started ; restore them, or start a new "
                         "run")
    changes = compare(recorded, now)
    if config.workflow != "query":
        raise UsageError(f"{config.data.dataset} changed since --resume {run} started: {_changes(recorded, now, changes)} "
                         f"; `{config.workflow}` resumes only on the examples it started with: restore them, or "
                         "start a new run")
    _refuse_changes_under_use(run, recorded, now, changes)
    rows = grown(recorded, now, changes)
    labels_now = np.asarray(now.labels, dtype=np.int64)
    filed = {i: int(labels_now[r]) for i, r in enumerate(changes.rows.tolist())
             if r >= 0 and rows.labels[i] == UNKNOWN and labels_now[r] != UNKNOWN}
    log.info("%s changed since the run started: %s ; labels stay on their examples", config.data.dataset,
             _changes(recorded, now, changes))
    view = in_rows(data, changes.rows, rows.labels)
    proxy_view = None if proxy_data is None else in_rows(proxy_data, changes.rows, rows.labels)
    return view, proxy_view, RunExamples(rows, np.array(changes.removed, dtype=np.int64), filed, recorded)


def check_selected_from(source: Path, data: Data, dataset: str) -> None:
    """A replay's source run selected from this very data (when it records what its data was)."""
    path = source / rundir.CONFIG
    saved = rundir.load_json(path).get(KEY) if path.is_file() else None
    if not isinstance(saved, dict):
        return  # the original implementation's runs, and svp's before data identity
    recorded = load_examples(source, saved)
    now = identity_of(data)
    same = (recorded.fingerprint() if recorded is not None else saved.get("fingerprint")) == now.fingerprint()
    if not same:
        what = _changes(recorded, now, compare(recorded, now)) if recorded is not None and \
            tuple(now.classes) == recorded.classes else f"{saved.get('examples')} examples then, {len(now)} now"
        raise UsageError(f"--precomputed-selection {source} selected from {dataset} as it was, and it changed since "
                         f"({what}) ; replay it on the data it selected from")


def _used(run: Path, recorded: Identity) -> set[int]:
    """Rows the run relies on: labeled when it started, in its dev set, asked, answered."""
    used = set(np.flatnonzero(recorded.labels != UNKNOWN).tolist())
    files = [run / rundir.DEV_INDEX] + [rundir.query_file(run, r, "index") for r in rundir.query_rounds(run)]
    for path in files:
        try:
            used.update(rundir.load_index(path).tolist())
        except (OSError, ValueError):  # damaged: refused with its own message once the run's files are checked
            continue
    try:
        used.update(int(row["index"]) for row in rundir.read_rows(run / rundir.LABELS_CSV))
    except (KeyError, TypeError, ValueError, csv.Error, UnicodeDecodeError):
        pass
    return used


def _refuse_changes_under_use(run: Path, recorded: Identity, now: Identity, changes: Changes) -> None:
    """Refuse examples the run relies on that changed, went away, or that the data labels otherwise now."""
    used = _used(run, recorded)
    labels_now = np.asarray(now.labels, dtype=np.int64)
    problems = [f"{display_id(recorded, i)} changed" for i in changes.changed if i in used]
    problems += [f"{display_id(recorded, i)} is gone" for i in changes.removed if i in used]
    problems += [f"{display_id(recorded, i)} was labeled {recorded.classes[recorded.labels[i]]} when the run "
                 f"started, {_label(now, labels_now[changes.rows[i]])} now"
                 for i in changes.relabeled if recorded.labels[i] != UNKNOWN]
    if problems:
        more = f" (and {len(problems) - MAX_NAMED} more)" if len(problems) > MAX_NAMED else ""
        raise UsageError(f"the data changed under examples --resume {run} relies on: "
                         f"{'; '.join(problems[:MAX_NAMED])}{more} ; restore them as they were (examples may be "
                         "added, and unlabeled ones filed into their class folder), or start a new run")


def _label(identity: Identity, label: int) -> str:
    return "unlabeled" if label == UNKNOWN else identity.classes[label]


def _changes(recorded: Identity, now: Identity, changes: Changes) -> str:
    """What changed, in words, naming a few examples of each kind (by their row in the data now, or in the run)."""
    def named(rows: list[int], identity: Identity) -> str:
        return ", ".join(display_id(identity, i) for i in rows[:MAX_NAMED]) + (" ..." if len(rows) > MAX_NAMED else "")

    parts = []
    gained = changes.rows[len(recorded):].tolist()
    if gained:
        parts.append(f"{len(gained)} example(s) added ({named(gained, now)})")
    for what, rows in (("changed", changes.changed), ("gone", changes.removed)):
        if rows:
            parts.append(f"{len(rows)} {what} ({named(rows, recorded)})")
    if changes.moved:
        pairs = [f"{display_id(recorded, i)} -> {display_id(now, changes.rows[i])}" for i in changes.moved]
        parts.append(f"{len(pairs)} moved ({', '.join(pairs[:MAX_NAMED])})")
    if changes.relabeled:
        parts.append(f"{len(changes.relabeled)} labeled otherwise ({named(changes.relabeled, recorded)})")
    if not parts and changes.reordered:
        moved = int(np.flatnonzero(changes.rows[: len(recorded)] != np.arange(len(recorded)))[0])
        parts.append(f"examples at other rows ({display_id(recorded, moved)} was row {moved}, is row "
                     f"{changes.rows[moved]})")
    return "; ".join(parts)
