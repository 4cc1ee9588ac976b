"""``svp report``: run directories -> tables (CSV, markdown, text) and plots (PNG).

:mod:`~svp.report.read` summarises run directories (ours and the original
implementation's), :mod:`~svp.report.table` lays them out and compares them
with a baseline, :mod:`~svp.report.plot` draws them, :mod:`~svp.report.health`
says which trainings are not working; :func:`report` does all of it and
writes the files.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

from svp.errors import UsageError
from svp.report.group import RunGroup, Stat, group_runs, stat
from svp.report.plot import plot_accuracy, plot_times
from svp.report.read import NOT_RESULTS, RunSummary, find_runs, load_run, load_runs
from svp.report.results import parse_seconds
from svp.report.table import (BASELINE_COLUMNS, BASELINE_GROUP_COLUMNS, COLUMNS, GROUP_COLUMNS, TIME_COLUMNS,
                              TIME_COUNT_COLUMNS, Baseline, base_of, build_table, compare, format_csv,
                              format_markdown, format_table, grouped, run_summary, same_data)
from svp.report.health import health_warnings, trainings_of
from svp.rundir import ACCURACY_PNG, REPORT_CSV, REPORT_DIR, REPORT_MD, TIME_PNG, atomic_write

__all__ = ["BASELINE_COLUMNS", "BASELINE_GROUP_COLUMNS", "COLUMNS", "GROUP_COLUMNS", "NOT_RESULTS", "RunGroup",
           "RunSummary", "Stat", "TIME_COLUMNS", "TIME_COUNT_COLUMNS", "base_of", "build_table", "compare",
           "find_runs", "format_csv", "format_markdown", "format_table", "group_runs", "grouped",
           "health_warnings", "load_run", "load_runs", "missing_time_warnings", "parse_seconds", "plot_accuracy",
           "plot_times", "report", "run_summary", "same_data", "stat", "trainings_of", "warnings_of",
           "write_report"]


def warnings_of(runs: Sequence[RunSummary], baseline: Baseline = None) -> list[str]:
    """The warnings of every run reported (the baseline's first): times not recorded, then trainings that are
    not working (:func:`~svp.report.health.health_warnings`), run by run."""
    groups, _ = grouped(runs, baseline)
    reported = [run for group in groups for run in group.runs]
    compared = baseline is not None
    return [message for run in reported for message in missing_time_warnings(run, compared)] + [
        message for run in reported for message in health_warnings(run)]


#: The times a run's total adds up (the target's only when it is not the proxy, trained once).
_TOTAL_PARTS = ("proxy_train_time", "selection_time", "target_train_time")
#: The speed-up each time makes against a baseline.
_SPEEDUPS = {"selection_s": "selection_speedup", "total_s": "total_speedup"}


def missing_time_warnings(run: RunSummary, compared: bool = False) -> list[str]:
    """One message per reason ``run`` lacks a time: the columns it leaves missing (never 0 seconds), and the
    time columns still counted.

    Parameters
    ----------
    run : RunSummary
    compared : bool
        Whether the report compares with a baseline: then the speed-ups a missing time leaves out are named.
    """
    shown = {column: what for column, what in TIME_COLUMNS.items() if not (run.shared and column == "target_train_s")}
    counted = [column for column, what in shown.items() if getattr(run, what) is not None]
    messages = []
    for why, times in run.missing_times.items():
        parts = set(times) & set(_TOTAL_PARTS[:2] if run.shared else _TOTAL_PARTS)
        missing = [column for column, what in shown.items() if what in times or (what == "total_time" and parts)]
        speedups = [_SPEEDUPS[column] for column in missing if column in _SPEEDUPS] if compared else []
        left_out = "left out of means" + (f", and no {_and(speedups)}" if speedups else "")
        split_only = "selection_time" not in times and {"inference_time", "ranking_time"} & set(times)
        still = [f"{column} (from its total_time)" if column == "selection_s" and split_only else column
                 for column in counted]
        messages.append(f"{run.name}: {why}: shown as missing (- in the tables, empty in {REPORT_CSV}), not as 0: "
                        f"{_and(missing)} ({left_out})" + (f"; still counted: {_and(still)}" if still else ""))
    return messages


def _and(words: Sequence[str]) -> str:
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


def write_report(runs: Sequence[RunSummary], out_dir: str, baseline: Baseline = None) -> dict[str, str]:
    """Write ``report.csv``, ``report.md``, ``accuracy.png`` and ``time.png``.

    Parameters
    ----------
    runs : sequence of RunSummary
        Runs that differ only in their seed are reported as one group.
    out_dir : str
        Created if missing; each file is written atomically.
    baseline : RunSummary or runs of one setup (or of one setup per dataset), optional
        Compared against (see :func:`build_table`) and drawn first.

    Returns
    -------
    dict of str to str
        ``{"csv", "markdown", "accuracy", "time"}`` -> path written.
    """
    return _write(runs, out_dir, baseline, build_table(runs, baseline), warnings_of(runs, baseline))


def _write(runs: Sequence[RunSummary], out_dir: str, baseline: Baseline, rows: list[dict],
           warnings: list[str]) -> dict[str, str]:
    """:func:`write_report` with the table's rows and the warnings already made."""
    markdown = format_markdown(rows) + "".join(
        ["\n\n## Warnings\n\n"] + [f"- {message}\n" for message in warnings] if warnings else ["\n"])
    os.makedirs(out_dir, exist_ok=True)
    paths = {"csv": os.path.join(out_dir, REPORT_CSV),
             "markdown": os.path.join(out_dir, REPORT_MD),
             "accuracy": os.path.join(out_dir, ACCURACY_PNG),
             "time": os.path.join(out_dir, TIME_PNG)}
    atomic_write(paths["csv"], format_csv(rows))
    atomic_write(paths["markdown"], markdown)
    atomic_write(paths["accuracy"], plot_accuracy(runs, baseline))
    atomic_write(paths["time"], plot_times(runs, baseline))
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
        One run directory, or a folder of runs that differ only in their
        seed (or of such runs on each dataset reported), to compare every
        run (group) on the same dataset against.

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
    base = None if baseline is None else load_runs([baseline])  # one setup per dataset: checked by grouped
    out_dir = out_dir or os.path.join(runs[0].path, REPORT_DIR)
    rows, warnings = build_table(runs, base), warnings_of(runs, base)
    try:
        written = _write(runs, out_dir, base, rows, warnings)
    except OSError as error:
        raise UsageError(f"--out {out_dir}: cannot write {error.filename or 'there'} ({error.strerror}) ; give a "
                         "folder you can write to") from None
    shown = "\n".join(f"warning: {message}" for message in warnings)
    parts = [format_table(rows)] + ([shown] if shown else []) + [f"wrote {', '.join(written.values())}"]
    return "\n\n".join(parts), written


