"""What a workflow returns to Python: its run directory, its tables as rows, its best accuracy."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from svp import rundir

#: the tables a run may hold, by the name :meth:`RunResult.rows` takes
TABLES = {"proxy": rundir.PROXY_CSV, "target": rundir.TARGET_CSV, "selection": rundir.SELECTION_CSV,
          "results": rundir.RESULTS_CSV}


@dataclass(frozen=True)
class RunResult:
    """A finished (or waiting) run.

    ``run`` is its directory (``os.fspath(result)`` gives it too, so a
    result goes wherever a path does); :meth:`rows` reads one of its tables,
    numbers as numbers; :attr:`best_accuracy` is the best test accuracy of
    the model it finally trains (the target; ``svp train``'s model).
    """

    run: Path
    workflow: str

    def __fspath__(self) -> str:
        return os.fspath(self.run)

    def rows(self, table: str) -> list[dict]:
        """The rows of ``table`` ("proxy", "target", "selection" or "results"); [] when it has none yet."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}; one of {', '.join(TABLES)}")
        return [{key: _number(value) for key, value in row.items()} for row in rundir.read_rows(self.run / TABLES[table])]

    @property
    def best_accuracy(self) -> Optional[float]:
        """The highest test accuracy (a fraction) of the target's trainings (``svp train``: of its model); None
        when none was measured."""
        rows = self.rows("results" if self.workflow == "train" else "target")
        measured = [row["test_accuracy"] for row in rows if isinstance(row.get("test_accuracy"), float)
                    and row["test_accuracy"] >= 0]
        return max(measured, default=None)


def _number(text: str):
    """A CSV cell as an int or float where it is one (an empty cell: None), else the text."""
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
