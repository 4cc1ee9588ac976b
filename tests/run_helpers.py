"""Helpers for tests that inspect run directories."""
from __future__ import annotations

from pathlib import Path

from svp.runs import read_rows as rows  # noqa: F401  (re-exported for the tests)


def only_run(run_root: Path) -> Path:
    """The one run directory a test's --run-dir holds."""
    (run,) = [p for p in run_root.iterdir() if p.is_dir()]
    return run
