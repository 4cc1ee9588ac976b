"""``svp report``: run directories -> tables (CSV, markdown, text) and plots (PNG).

:mod:`~svp.report.read` summarises run directories (ours and the original
implementation's), :mod:`~svp.report.table` lays them out and compares them
with a baseline, :mod:`~svp.report.plot` draws them; :func:`report` does
all three and writes the files.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

from svp.errors import UsageError
from svp.report.plot import plot_accuracy, plot_times
from svp.report.read import RunSummary, find_runs, load_run, load_runs, parse_seconds
from svp.report.table import (BASELINE_COLUMNS, COLUMNS, build_table, compare, format_csv, format_markdown,
                              format_table, run_summary, with_baseline)
from svp.rundir import ACCURACY_PNG, REPORT_CSV, REPORT_DIR, REPORT_MD, TIME_PNG, atomic_write

__all__ = ["BASELINE_COLUMNS", "COLUMNS", "RunSummary", "build_table", "compare", "find_runs", "format_csv",
           "format_markdown", "format_table", "load_run", "load_runs", "parse_seconds", "plot_accuracy",
           "plot_times", "report", "run_summary", "write_report"]


def write_report(runs: Sequence[RunSummary], out_dir: str,
                 baseline: Optional[RunSummary] = None) -> dict[str, str]:
    """Write ``report.csv``, ``report.md``, ``accuracy.png`` and ``time.png``.

    Parameters
    ----------
    runs : sequence of RunSummary
    out_dir : str
        Created if missing; each file is written atomically.
    baseline : RunSummary, optional
        Compared against (see :func:`build_table`) and drawn first.

    Returns
    -------
    dict of str to str
        ``{"csv", "markdown", "accuracy", "time"}`` -> path written.
    """
    rows = build_table(runs, baseline)
    plotted = with_baseline(runs, baseline)
    os.makedirs(out_dir, exist_ok=True)
    paths = {"csv": os.path.join(out_dir, REPORT_CSV),
             "markdown": os.path.join(out_dir, REPORT_MD),
             "accuracy": os.path.join(out_dir, ACCURACY_PNG),
             "time": os.path.join(out_dir, TIME_PNG)}
    atomic_write(paths["csv"], format_csv(rows))
    atomic_write(paths["markdown"], format_markdown(rows) + "\n")
    atomic_write(paths["accuracy"], plot_accuracy(plotted, baseline))
    atomic_write(paths["time"], plot_times(plotted, baseline))
    return paths


def report(paths: Sequence[str], out_dir: Optional[str] = None,
           baseline: Optional[str] = None) -> tuple[str, dict[str, str]]:
    """Load runs, write the report files, and return the text to print.

    Parameters
    ----------
    paths : sequence of str
        Run directories or directories of run directories.
    out_dir : str, optional
        Where to write; default ``<first run directory>/report``.
    baseline : str, optional
        One run directory to compare every run against.

    Returns
    -------
    text : str
        The fixed-width table and where the files went.
    written : dict of str to str
        As :func:`write_report`.
    """
    if not paths:
        raise UsageError("give at least one run directory to report on")
    runs = load_runs(paths)
    base = None
    if baseline is not None:
        found = find_runs(baseline)
        if len(found) != 1:
            raise UsageError(f"--baseline must be one run directory; {baseline} "
                             f"holds {len(found)}: {', '.join(found)}")
        base = load_run(found[0])
    out_dir = out_dir or os.path.join(runs[0].path, REPORT_DIR)
    try:
        written = write_report(runs, out_dir, base)
    except OSError as error:
        raise UsageError(f"--out {out_dir}: cannot write {error.filename or 'there'} ({error.strerror}) ; give a "
                         "folder you can write to") from None
    text = format_table(build_table(runs, base))
    return f"{text}\n\nwrote {', '.join(written.values())}", written
