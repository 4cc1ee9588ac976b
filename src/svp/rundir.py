"""The run directory: every file name in it, and how each is written.

Layout (names follow the original implementation so analysis scripts keep
working)::

    RUN_DIR/<timestamp>/config.json, examples.csv, proxy.csv, target.csv, selection.csv,
                        initial_subset_<n>.index, dev.index, selected.index,
                        proxy/<n>/labeled_<n>.index, target/<n>/labeled_<n>.index,
                        <role>/<n>/checkpoint_best_model.t7 (and checkpoint_<epoch>.t7),
                        proxy/<n>/predictions.npz (the classes a proxy predicted for the pool it scored)
    `svp query` adds:   query_<r>.csv, query_<r>.index (the question of round r), labels.csv (the answers),
                        query_<r>.label-studio.json and label-studio.xml (with --format label-studio)

This module is the only one that spells these names (a test checks it):
workflows, replay, resume and report import them from here.

Every write goes to a temporary file in the same folder and is moved into
place with ``os.replace``, so a kill at any moment leaves either the old or
the new file, never a torn one.
"""
from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import re
import tempfile
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional

import numpy as np

from svp._faults import fault_point
from svp.errors import UsageError

TEMP_SUFFIX = ".tmp"  # atomic_write's temporaries: ".<name>.<random>.tmp" beside <name>

# ------------------------------------------------------------------ names
CONFIG = "config.json"              # every resolved option (see workflows.setup.describe)
LEGACY_CONFIG_GLOB = "config_*.json"  # the original's: config_<timestamp>.json
PROXY, TARGET = "proxy", "target"   # the two roles: each has <role>.csv and a <role>/<n>/ folder per training
PROXY_CSV, TARGET_CSV = f"{PROXY}.csv", f"{TARGET}.csv"  # one row per training
SELECTION_CSV = "selection.csv"     # one row per selection
RESULTS_CSV = "results.csv"         # `train`: its one row
TRAIN_INDEX = "train.index"         # `train`: the examples trained on
DEV_INDEX = "dev.index"             # the dev set split off by --validation
SELECTED_INDEX = "selected.index"   # `coreset`: the subset kept
FORGETTING_COUNTS = "forgetting_events.npy"   # `coreset`: the proxy's forgetting counts
LABELS_CSV = "labels.csv"           # `query`: the labels people gave: index, id, label (a class name), round
EXAMPLES_CSV = "examples.csv"       # data of one's own: which example each row is (index, id, digest, label)
EXAMPLE_COLUMNS = ("index", "id", "digest", "label")
PREDICTIONS = "predictions.npz"     # <role>/<n>/: the classes the model predicted for the examples it scored
BEST_CHECKPOINT = "checkpoint_best_model.t7"
FASTTEXT_MODEL = "fasttext.bin"     # the fastText proxy's model, beside its labeled index
FASTTEXT_SCHEDULE = "fasttext_schedule.json"  # ... and what an automatic schedule chose for it
LOCK = ".svp.lock"                  # held (and holding the pid) while a process works in the run
REPORT_DIR = "report"               # `svp report`'s default output folder inside a run
REPORT_CSV, REPORT_MD, ACCURACY_PNG, TIME_PNG = "report.csv", "report.md", "accuracy.png", "time.png"

# The original implementation's older names, read by replay and report.
LEGACY_PROXY = "selector"
LEGACY_PROXY_CSV = f"{LEGACY_PROXY}.csv"
#: Where the labeled sets of an active run lie: ours first, then the original's older names.
LABELED_INDEX_GLOBS = (f"{PROXY}/*/labeled_*.index", f"{LEGACY_PROXY}/*/labelled_*.index",
                       f"{LEGACY_PROXY}/*/labeled_*.index")
#: A source run's proxy and selection results, linked into a replay's run directory.
SELECTION_RESULTS = (PROXY_CSV, LEGACY_PROXY_CSV, SELECTION_CSV, PROXY, LEGACY_PROXY)
_INDEX_SIZE = re.compile(r"_(\d+)\.index$")


def config_path(run: str | os.PathLike) -> Optional[Path]:
    """The saved config of a run directory: ours (config.json) or the original's (config_<timestamp>.json)."""
    run = Path(run)
    if (run / CONFIG).is_file():
        return run / CONFIG
    legacy = sorted(p for p in run.glob(LEGACY_CONFIG_GLOB) if p.is_file())
    return legacy[0] if legacy else None


def role_csv(role: str) -> str:
    """The results file of ``role`` (``proxy.csv`` or ``target.csv``)."""
    return f"{role}.csv"


def training_dir(run: Path, role: str, nexamples: int) -> Path:
    """The folder of one training: its labeled index and checkpoints."""
    return run / role / str(nexamples)


def scoring_dir(run: Path, nexamples: int, seed: int) -> Path:
    """The folder of one early scoring proxy (EL2N, GraNd) trained on ``nexamples``, the ``seed``-th of them."""
    return training_dir(run, "proxy", nexamples) / f"score_seed_{seed}"


def labeled_index(run: Path, role: str, nexamples: int) -> Path:
    """The labeled set one training used."""
    return training_dir(run, role, nexamples) / f"labeled_{nexamples}.index"


def initial_subset_index(run: Path, nexamples: int) -> Path:
    """The random first labeled set of an active run."""
    return run / f"initial_subset_{nexamples}.index"


#: The files of ``svp query``'s question of one round, by kind: ``csv`` (to read and fill in), ``index``
#: (the indices asked, in rank order; written last, it marks the question asked), ``tasks`` (Label Studio's)
_QUESTION_FILES = {"csv": "query_{}.csv", "index": "query_{}.index", "tasks": "query_{}.label-studio.json"}
LABEL_CONFIG = "label-studio.xml"   # `query --format label-studio`: the labeling interface for the tasks
_QUERY_ROUND = re.compile(r"^query_(\d+)\.index$")


def query_file(run: Path, round_: int, kind: str) -> Path:
    """A file of the question of round ``round_``: its ``kind`` is "csv", "index" or "tasks"."""
    return run / _QUESTION_FILES[kind].format(round_)


def query_rounds(run: Path) -> list[int]:
    """The rounds whose question a query run has asked, in order."""
    found = (_QUERY_ROUND.match(path.name) for path in run.glob("query_*.index"))
    return sorted(int(match.group(1)) for match in found if match)


def save_predictions(path: Path, indices: np.ndarray, classes: np.ndarray) -> None:
    """The class a model predicted for each of ``indices``."""
    def save(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, indices=indices, classes=classes)

    atomic_save(path, save)


def load_predictions(path: Path) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """(indices, classes) saved by :func:`save_predictions`, or None when there are none."""
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as saved:
        return saved["indices"], saved["classes"]


def epoch_checkpoint(epoch: int) -> str:
    """The name of the checkpoint kept after ``epoch`` (``--checkpoint all/last``)."""
    return f"checkpoint_{epoch}.t7"


def index_size(path: Path) -> int:
    """The labeled-set size a ``..._<n>.index`` file name states."""
    match = _INDEX_SIZE.search(path.name)
    if match is None:
        raise ValueError(f"{path.name} does not end in _<size>.index")
    return int(match.group(1))


def atomic_save(path: str | os.PathLike, save: Callable[[Path], None]) -> None:
    """Have ``save(temporary)`` write a file, then move it to ``path``: readers never see it partial.

    The temporary file lies beside ``path`` under a name :func:`remove_temporaries` knows.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    os.close(fd)
    try:
        save(Path(tmp))
        os.chmod(tmp, 0o644)
        fault_point(f"write:{path.name}")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write(path: str | os.PathLike, data: str | bytes) -> None:
    """Write ``data`` to ``path`` so that readers never see a partial file."""
    mode, encoding = ("wb", None) if isinstance(data, bytes) else ("w", "utf-8")

    def save(tmp: Path) -> None:
        with open(tmp, mode, encoding=encoding) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    atomic_save(path, save)


def remove_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that writers killed mid-write left under ``folder``.

    Only names :func:`atomic_write` gives its temporaries are touched;
    returns the removed paths.
    """
    stale = sorted(Path(folder).rglob(f".*{TEMP_SUFFIX}"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


class RunLock:
    """An exclusive lock on a run directory while one process works in it.

    ``flock`` on ``RUN/.svp.lock``: the kernel drops it when its process
    dies, even by SIGKILL, so a killed run never leaves a stale lock behind.
    The file holds the holder's pid (for the message a second process gets)
    and is removed on release.
    """

    def __init__(self, run: str | os.PathLike) -> None:
        self.path = Path(run) / LOCK
        self._fd: Optional[int] = None

    def acquire(self) -> "RunLock":
        """Take the lock, or raise a UsageError naming the process that holds it."""
        while self._fd is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise UsageError(f"{self.path.parent} is in use by process {holder} (another svp run or --resume) "
                                 "; wait for it to end, or stop it, then resume") from None
            if os.path.exists(self.path) and os.path.samestat(os.fstat(fd), os.stat(self.path)):
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self._fd = fd
            else:  # the holder released (and removed) this file as we opened it: lock the new one
                os.close(fd)
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)  # first, so no one locks the file that is going away
        os.close(self._fd)
        self._fd = None


def check_writable(folder: str | os.PathLike, flag: str) -> None:
    """Refuse a folder that a run could not be written in (a file, or not writable), before anything runs.

    The folder need not exist yet: its nearest existing ancestor is checked.
    """
    path = Path(folder).absolute()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{flag} {folder}: {existing} is a file, not a folder ; give a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {folder}: {existing} cannot be written to ; give a folder you can write to")


def create_run_dir(run_dir: str | os.PathLike, timestamp: str | None = None) -> Path:
    """Make ``run_dir/<timestamp>`` (a new, unique folder) and return it."""
    stamp = timestamp or datetime.now().strftime("%Y-%m-%d_%H-%M-%S.%f")
    path = Path(run_dir) / stamp
    path.mkdir(parents=True, exist_ok=False)
    return path


def save_json(path: str | os.PathLike, values: Mapping[str, Any]) -> None:
    atomic_write(path, json.dumps(values, indent=2, sort_keys=True, default=str) + "\n")


def load_json(path: str | os.PathLike) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def read_rows(path: str | os.PathLike) -> list[dict[str, str]]:
    """The rows of a results CSV, or ``[]`` when it does not exist yet."""
    if not os.path.exists(path):
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def find_row(path: str | os.PathLike, nexamples: int) -> Optional[dict[str, str]]:
    """The row of a results CSV recording a step on ``nexamples`` examples, if any."""
    for row in read_rows(path):
        if int(row["nexamples"]) == nexamples:
            return row
    return None


def append_row(path: str | os.PathLike, row: Mapping[str, Any]) -> None:
    """Add one row to a results CSV, rewriting it atomically.

    Results files hold one row per training or selection (tens of rows), so
    rewriting the whole file is cheap and keeps every write all-or-nothing.
    """
    rows = read_rows(path)
    fields = list(rows[0].keys()) if rows else list(row.keys())
    fields += [key for key in row if key not in fields]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    writer.writerow({key: _cell(value) for key, value in row.items()})
    atomic_write(path, buffer.getvalue())


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)
    return value


def save_rows(path: str | os.PathLike, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    """A CSV of ``columns`` and ``rows``, written whole and atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows(rows)
    atomic_write(path, buffer.getvalue())


def save_index(path: str | os.PathLike, indices: Iterable[int]) -> None:
    """Save dataset indices, one integer per line (the original's format)."""
    values = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices, dtype=np.int64)
    atomic_write(path, "".join(f"{int(i)}\n" for i in values))


def load_index(path: str | os.PathLike) -> np.ndarray:
    """Read an index file written by :func:`save_index` (or by hand)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "input contained no data": callers judge empty files
        return np.loadtxt(path, dtype=np.int64, ndmin=1)


def load_checked_index(path: Path, num_train: int, dev: np.ndarray, count: Optional[int] = None) -> np.ndarray:
    """An index file's indices, refused (UsageError naming the file) unless they can be a labeled set.

    Every index must lie in the training set (``0..num_train - 1``), appear
    once and not be in the dev set; the file may not be empty and, given
    ``count``, must hold exactly that many.
    """
    try:
        values = load_index(path)
    except (OSError, ValueError) as error:
        raise UsageError(f"{path} is not an index file (one integer per line): {error}") from None
    if len(values) == 0:
        raise UsageError(f"{path} holds no indices ; a selection needs at least one example")
    if count is not None and len(values) != count:
        raise UsageError(f"{path} holds {len(values)} indices, not the {count} its name and results say ; "
                         "the file is damaged: start a new run, or restore it")
    bad = values[(values < 0) | (values >= num_train)]
    if len(bad):
        raise UsageError(f"{path}: index {bad[0]} is out of range ; the training set has {num_train} examples "
                         f"(valid indices 0..{num_train - 1})")
    unique, counts = np.unique(values, return_counts=True)
    if (counts > 1).any():
        raise UsageError(f"{path}: index {unique[counts > 1][0]} appears {counts.max()} times ; "
                         "each example may be selected once")
    in_dev = values[np.isin(values, dev)]
    if len(in_dev):
        raise UsageError(f"{path}: index {in_dev[0]} belongs to the dev set (--validation) ; "
                         "use the same --validation/--shuffle/--seed as the run that selected it")
    return values
