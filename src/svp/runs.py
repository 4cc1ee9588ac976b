"""The run directory: where every result lands, atomically.

Layout (names follow the original implementation so analysis scripts keep
working)::

    RUN_DIR/<timestamp>/config.json, proxy.csv, target.csv, selection.csv,
                        initial_subset_<n>.index, proxy/<n>/labeled_<n>.index

Every write goes to a temporary file in the same folder and is moved into
place with ``os.replace``, so a kill at any moment leaves either the old or
the new file, never a torn one.
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from svp._faults import fault_point

TEMP_SUFFIX = ".tmp"  # atomic_write's temporaries: ".<name>.<random>.tmp" beside <name>


def atomic_write(path: str | os.PathLike, data: str | bytes) -> None:
    """Write ``data`` to ``path`` so that readers never see a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, mode) as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), 0o644)
            os.fsync(handle.fileno())
        fault_point(f"write:{path.name}")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def remove_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that writers killed mid-write left under ``folder``.

    Only names :func:`atomic_write` gives its temporaries are touched;
    returns the removed paths.
    """
    stale = sorted(Path(folder).rglob(f".*{TEMP_SUFFIX}"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def create_run_dir(run_dir: str | os.PathLike, timestamp: str | None = None) -> Path:
    """Make ``run_dir/<timestamp>`` (a new, unique folder) and return it."""
    stamp = timestamp or datetime.now().strftime("%Y-%m-%d_%H-%M-%S.%f")
    path = Path(run_dir) / stamp
    path.mkdir(parents=True, exist_ok=False)
    return path


def save_json(path: str | os.PathLike, values: Mapping[str, Any]) -> None:
    atomic_write(path, json.dumps(values, indent=2, sort_keys=True, default=str) + "\n")


def load_json(path: str | os.PathLike) -> dict:
    with open(path) as handle:
        return json.load(handle)


def read_rows(path: str | os.PathLike) -> list[dict[str, str]]:
    """The rows of a results CSV, or ``[]`` when it does not exist yet."""
    if not os.path.exists(path):
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


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


def save_index(path: str | os.PathLike, indices: Iterable[int]) -> None:
    """Save dataset indices, one integer per line (the original's format)."""
    values = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices, dtype=np.int64)
    atomic_write(path, "".join(f"{int(i)}\n" for i in values))


def load_index(path: str | os.PathLike) -> np.ndarray:
    """Read an index file written by :func:`save_index` (or by hand)."""
    return np.loadtxt(path, dtype=np.int64, ndmin=1)
