"""A run's examples: recorded when it starts, followed (or refused) when the data changed before a resume.

A new run records its data's :class:`~svp.data.identity.Identity`: its
fingerprint, size, classes and kind of ids in ``config.json``, and, for data
of one's own, every example's id, digest and label in ``examples.csv``.
Every index file the run writes names rows of that table.

On ``--resume`` the data is compared with it (:func:`follow`):

* unchanged: the run goes on;
* ``train``, ``active`` and ``coreset`` runs go on only on the data they
  started with (their results would not be those of an uninterrupted run):
  any change is refused, naming it;
* the labeling loop (``query``) follows data that grew: examples added
  take rows after the run's, files filed elsewhere (an answered photo moved
  into ``train/<class>/``) keep their rows and labels, a label the data now
  gives an example is recorded as a person's (:attr:`RunExamples.filed`),
  and an example asked but not answered may go (it is asked no more). What
  changed under an example the run relies on (labeled, asked, in the dev
  set), or went while labeled, is refused, naming it.

A query run made before svp recorded its data is checked against the ids
its questions wrote, then recorded from then on.
"""
from __future__ import annotations

import csv
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from svp import rundir
from svp.data import UNKNOWN, Data
from svp.data.identity import Changes, Identity, compare, grown, identity_of
from svp.data.labels import class_number, example_ids, in_rows
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
    previous: Optional[Identity] = None  # the rows as examples.csv records them, where they differ now
    unrecorded: bool = False  # the run records no examples.csv (made before svp recorded its data)

    @property
    def stale(self) -> bool:
        """What the run records of its rows is out of date: rewrite it before this call writes anything else."""
        return self.previous is not None or self.unrecorded


def describe(identity: Identity) -> dict:
    """What config.json records of the data: its fingerprint, size, classes and kind of ids."""
    return {"fingerprint": identity.fingerprint(), "examples": len(identity), "classes": list(identity.classes),
            "ids": identity.kind}


def record(run: Path, identity: Identity) -> None:
    """examples.csv of a run (data read by row, a published dataset, needs none)."""
    if not identity.by_row:
        rows = ((i, id_, digest, identity.classes[label] if label != UNKNOWN else "")
                for i, (id_, digest, label) in enumerate(zip(identity.ids, identity.digests,
                                                              identity.labels.tolist())))
        rundir.save_rows(run / rundir.EXAMPLES_CSV, rundir.EXAMPLE_COLUMNS, rows)


def record_anew(run: Path, identity: Identity) -> None:
    """examples.csv and config.json's record of a run that had none (made before svp recorded its data)."""
    record(run, identity)
    values = rundir.load_json(run / rundir.CONFIG)
    rundir.save_json(run / rundir.CONFIG, {**values, KEY: describe(identity)})


def _saved(run: Path) -> Optional[dict]:
    """config.json's record of the data, or None (a run of an svp before data identity)."""
    path = run / rundir.CONFIG
    saved = rundir.load_json(path).get(KEY) if path.is_file() else None
    return saved if isinstance(saved, dict) else None


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
    return Identity(ids, digests, np.array(labels, dtype=np.int64), classes,
                    by_content=saved.get("ids") == "content")


def follow(run: Path, config: Any, data: Data, proxy_data: Optional[Data]) -> tuple[Data, Optional[Data],
                                                                                     RunExamples]:
    """The data in the run's rows, or a UsageError naming what changed that the run cannot follow."""
    now = identity_of(data)
    saved = _saved(run)
    if saved is None:
        return data, proxy_data, _unrecorded(run, config, data, now)
    recorded = load_examples(run, saved)
    if recorded is None:  # a published dataset (read by row), or a kill before examples.csv was written
        if saved.get("fingerprint") != now.fingerprint():
            raise UsageError(f"{config.data.dataset} is not the data --resume {run} started on (it holds "
                             f"{len(now)} training examples, the run's {saved.get('examples')} ; or their labels "
                             "differ) ; resume on the data as it was, or start a new run")
        return data, proxy_data, RunExamples(now, unrecorded=not now.by_row)
    if recorded.fingerprint() == now.fingerprint():
        return data, proxy_data, RunExamples(recorded)
    _refuse_other_kinds(run, config, recorded, now)
    relied, kept = _used(run, recorded)
    changes = compare(recorded, now, first=sorted(relied))
    if config.workflow != "query":
        raise UsageError(f"{config.data.dataset} changed since --resume {run} started: "
                         f"{_changes(recorded, now, changes, data)} ; `{config.workflow}` resumes only on the examples "
                         "it started with: restore them, or start a new run")
    _refuse_changes_under_use(run, recorded, now, changes, relied, kept)
    _refuse_unmatched_view(config, changes)
    rows = grown(recorded, now, changes)
    labels_now = np.asarray(now.labels, dtype=np.int64)
    filed = {i: int(labels_now[r]) for i, r in enumerate(changes.rows.tolist())
             if r >= 0 and rows.labels[i] == UNKNOWN and labels_now[r] != UNKNOWN}
    log.info("%s changed since the run started: %s ; labels stay on their examples", config.data.dataset,
             _changes(recorded, now, changes, data))
    view = in_rows(data, changes.rows, rows.labels)
    proxy_view = None if proxy_data is None else in_rows(proxy_data, changes.rows, rows.labels)
    previous = recorded if rows.fingerprint() != recorded.fingerprint() else None
    return view, proxy_view, RunExamples(rows, np.array(changes.removed, dtype=np.int64), filed, previous)


def _unrecorded(run: Path, config: Any, data: Data, now: Identity) -> RunExamples:
    """A run of an svp before data identity: a query run is checked against the ids its questions wrote (labels
    on other examples are refused) and records its data from now on; other runs are not checked."""
    if config.workflow != "query":
        log.warning("%s records no identity of its data (made by an earlier svp): the data is not checked", run)
        return RunExamples(now)
    written = written_ids(run)
    indices = np.array([i for i in sorted(written) if i < len(now)], dtype=np.int64)
    shown = dict(zip(indices.tolist(), example_ids(data, indices)))
    other = [f"index {i} was {written[i]}, is {shown.get(i, 'gone')} now" for i in sorted(written)
             if shown.get(i) != written[i]]
    if other:
        raise UsageError(f"--resume {run} was made by an svp that did not record its data, and the data changed under "
                         f"its questions: {'; '.join(other[:MAX_NAMED])} ; restore the data as it was, or start a "
                         "new run")
    log.warning("%s records no identity of its data (made by an earlier svp): its questions name the same "
                "examples, so it is recorded now", run)
    return RunExamples(now, unrecorded=True)


def written_ids(run: Path) -> dict[int, str]:
    """Index -> id, as the run's questions wrote them (query_<r>.csv)."""
    written: dict[int, str] = {}
    for round_ in rundir.query_rounds(run):
        try:
            rows = rundir.read_rows(rundir.query_file(run, round_, "csv"))
            written.update((int(row["index"]), row["id"]) for row in rows if row.get("id"))
        except (KeyError, TypeError, ValueError, csv.Error, UnicodeDecodeError):
            continue  # a question file a person damaged: answers by index still work
    return written


def _refuse_other_kinds(run: Path, config: Any, recorded: Identity, now: Identity) -> None:
    """Classes and the kind of ids cannot change under a run: every label and row depends on them."""
    if tuple(now.classes) != recorded.classes:
        raise UsageError(f"the classes of {config.data.dataset} are {', '.join(now.classes)} now, "
                         f"{', '.join(recorded.classes)} when --resume {run} started ; restore them, or start a new "
                         "run")
    if now.kind != recorded.kind:
        raise UsageError(f"the examples of {config.data.dataset} are known by {now.kind} now, by {recorded.kind} "
                         f"when --resume {run} started (ids added or dropped) ; restore the data as it was, or "
                         "start a new run")


def _used(run: Path, recorded: Identity) -> tuple[set[int], set[int]]:
    """Rows the run relies on (labeled when it started, in its dev set, asked, answered: none may change), and
    those of them that may not go (all but the asked ones nobody answered)."""
    kept = set(np.flatnonzero(recorded.labels != UNKNOWN).tolist())
    asked: set[int] = set()
    files = [(run / rundir.DEV_INDEX, kept)] + [(rundir.query_file(run, r, "index"), asked)
                                                 for r in rundir.query_rounds(run)]
    for path, into in files:
        try:
            into.update(rundir.load_index(path).tolist())
        except (OSError, ValueError):  # damaged: refused with its own message once the run's files are checked
            continue
    try:
        kept.update(int(row["index"]) for row in rundir.read_rows(run / rundir.LABELS_CSV))
    except (KeyError, TypeError, ValueError, csv.Error, UnicodeDecodeError):
        pass  # idem
    return kept | asked, kept


def _refuse_changes_under_use(run: Path, recorded: Identity, now: Identity, changes: Changes, relied: set[int],
                              kept: set[int]) -> None:
    """Refuse examples the run relies on that changed, labeled ones that went, and labels the data changed."""
    labels_now = np.asarray(now.labels, dtype=np.int64)
    problems = [f"{recorded.named(i)} changed" for i in changes.changed if i in relied]
    problems += [f"{recorded.named(i)} is gone" for i in changes.removed if i in kept]
    problems += [f"{recorded.named(i)} was labeled {recorded.classes[recorded.labels[i]]} when the run started, "
                 f"{_label(now, labels_now[changes.rows[i]])} now"
                 for i in changes.relabeled if recorded.labels[i] != UNKNOWN]
    if problems:
        more = f" (and {len(problems) - MAX_NAMED} more)" if len(problems) > MAX_NAMED else ""
        raise UsageError(f"the data changed under examples --resume {run} relies on: "
                         f"{'; '.join(problems[:MAX_NAMED])}{more} ; restore them as they were (examples may be "
                         "added, and unlabeled ones filed into their class folder), or start a new run")


def _refuse_unmatched_view(config: Any, changes: Changes) -> None:
    """Embeddings without ids, once the data's rows are not the run's: row i of the file could be either's."""
    path = getattr(config, "proxy_dataset", None)
    if path is None or np.array_equal(changes.rows, np.arange(len(changes.rows))) or _has_ids(path):
        return
    raise UsageError(f"--proxy-dataset {path} has no ids, and {config.data.dataset} changed since the run started, so "
                     "its rows cannot say which example each is ; save the examples' ids with it "
                     "(np.savez(path, x=..., ids=...): a folder's image paths, a table's --id-column or the "
                     f"ids in the run's {rundir.EXAMPLES_CSV})")


def _has_ids(path: str) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "ids.npy" in archive.namelist()
    except (OSError, zipfile.BadZipFile):  # a .npy (x alone), or unreadable: open_view has said why
        return False


def _label(identity: Identity, label: int) -> str:
    return "unlabeled" if label == UNKNOWN else identity.classes[label]


def _changes(recorded: Identity, now: Identity, changes: Changes, data: Data) -> str:
    """What changed, in words, naming a few examples of each kind."""
    def now_named(row: int) -> str:
        if not (now.by_content or now.by_row):
            return now.ids[row]
        shown = example_ids(data, [row])[0]  # the start of a text, say
        return f"row {row}" if shown == str(row) else repr(shown)

    def named(rows: list[int], name) -> str:
        return ", ".join(name(i) for i in rows[:MAX_NAMED]) + (" ..." if len(rows) > MAX_NAMED else "")

    parts = []
    gained = changes.rows[len(recorded):].tolist()
    if gained:
        parts.append(f"{len(gained)} example(s) added ({named(gained, now_named)})")
    if changes.changed:
        edited = [int(changes.rows[i]) for i in changes.changed]
        parts.append(f"{len(edited)} changed ({named(edited, now_named)})")
    if changes.removed:
        parts.append(f"{len(changes.removed)} gone ({named(changes.removed, recorded.named)})")
    if changes.moved:
        pairs = [f"{recorded.named(i)} -> {now_named(changes.rows[i])}" for i in changes.moved]
        parts.append(f"{len(pairs)} moved ({', '.join(pairs[:MAX_NAMED])})")
    filed = [i for i in changes.relabeled if recorded.labels[i] == UNKNOWN]
    relabeled = [i for i in changes.relabeled if recorded.labels[i] != UNKNOWN]
    if filed:
        parts.append(f"{len(filed)} unlabeled then, labeled by the data now ({named(filed, recorded.named)})")
    if relabeled:
        parts.append(f"{len(relabeled)} labeled otherwise ({named(relabeled, recorded.named)})")
    if not parts and changes.reordered:
        moved = int(np.flatnonzero(changes.rows[: len(recorded)] != np.arange(len(recorded)))[0])
        parts.append(f"examples at other rows ({recorded.named(moved)} was row {moved}, is row "
                     f"{changes.rows[moved]})")
    return "; ".join(parts)


def check_selected_from(source: Path, data: Data, dataset: str) -> None:
    """A replay's source run selected from this very data (when it records what its data was)."""
    saved = _saved(source)
    if saved is None:
        return  # the original implementation's runs, and svp's before data identity
    recorded = load_examples(source, saved)
    now = identity_of(data)
    if (recorded.fingerprint() if recorded is not None else saved.get("fingerprint")) == now.fingerprint():
        return
    comparable = recorded is not None and recorded.classes == tuple(now.classes) and recorded.kind == now.kind
    what = _changes(recorded, now, compare(recorded, now), data) if comparable else \
        f"{saved.get('examples')} examples then, {len(now)} now"
    raise UsageError(f"--precomputed-selection {source} selected from {dataset} as it was, and it changed since "
                     f"({what}) ; replay it on the data it selected from")
