"""Tables of runs: one row per run and number of labeled examples, as text, markdown or CSV.

Accuracies are shown in percent, times in seconds; with a baseline, each
run's speed-ups and accuracy difference against it (see :func:`compare`).
"""
from __future__ import annotations

import csv
import io
import os
from typing import Any, Optional, Sequence

from svp.report.read import RunSummary, load_run, selection_seconds

#: Columns of :func:`build_table` rows, in order (baseline columns last).
COLUMNS = (
    "run", "dataset", "workflow", "proxy", "target", "method", "nexamples",
    "proxy_acc_pct", "target_acc_pct", "proxy_train_s", "inference_s",
    "ranking_s", "selection_s", "target_train_s", "total_s",
)
BASELINE_COLUMNS = ("selection_speedup", "total_speedup", "acc_diff_pts", "acc_diff_at")
#: Columns that hold one value per run (repeated on each of its rows).
RUN_COLUMNS = tuple(c for c in COLUMNS if c not in
                    ("nexamples", "proxy_acc_pct", "target_acc_pct")) + BASELINE_COLUMNS



def run_names(runs: Sequence[RunSummary]) -> list[str]:
    """Short unique names: base names, or paths relative to a common parent."""
    names = [run.name for run in runs]
    if len(set(names)) == len(names):
        return names
    paths = [os.path.abspath(run.path) for run in runs]
    common = os.path.commonpath(paths)
    return [os.path.relpath(p, os.path.dirname(common)) for p in paths]


def with_baseline(runs: Sequence[RunSummary],
                   baseline: Optional[RunSummary]) -> list[RunSummary]:
    """``runs`` with the baseline first when it is not among them."""
    if baseline is None:
        return list(runs)
    key = os.path.realpath(baseline.path)
    if any(os.path.realpath(run.path) == key for run in runs):
        return list(runs)
    return [baseline, *runs]


def _ratio(numerator: float, denominator: float) -> Optional[float]:
    return numerator / denominator if denominator > 0 else None


def compare(run: RunSummary, baseline: RunSummary) -> dict[str, Optional[float]]:
    """Speed-ups (baseline / run) and accuracy difference vs a baseline.

    Returns
    -------
    dict
        ``selection_speedup`` and ``total_speedup`` (None when the run's time
        is 0), ``acc_diff_pts`` (run - baseline target accuracy, in percent
        points) at ``acc_diff_at``, the largest size where both have a target
        accuracy (both None when there is no such size).
    """
    common = set(run.target_accuracy) & set(baseline.target_accuracy)
    at = max(common) if common else None
    diff = None if at is None else 100.0 * (
        run.target_accuracy[at] - baseline.target_accuracy[at])
    return {"selection_speedup": _ratio(baseline.selection_time, run.selection_time),
            "total_speedup": _ratio(baseline.total_time, run.total_time),
            "acc_diff_pts": diff, "acc_diff_at": at}


def _percent(accuracies: dict[int, float], size: int) -> Optional[float]:
    value = accuracies.get(size)
    return None if value is None else 100.0 * value


def _run_rows(run: RunSummary, name: str) -> list[dict[str, Any]]:
    """One row per labeled size of a run (one row with no size if it has none)."""
    fixed = {"run": name, "dataset": run.dataset, "workflow": run.workflow,
             "proxy": run.proxy_arch, "target": run.target_arch, "method": run.method}
    times = {"proxy_train_s": run.proxy_train_time, "inference_s": run.inference_time,
             "ranking_s": run.ranking_time, "selection_s": run.selection_time,
             "target_train_s": None if run.shared else run.target_train_time,
             "total_s": run.total_time}
    rows = []
    for size in run.sizes or [None]:
        rows.append({**fixed, "nexamples": size,
                     "proxy_acc_pct": _percent(run.proxy_accuracy, size),
                     "target_acc_pct": _percent(run.target_accuracy, size), **times})
    return rows


def build_table(runs: Sequence[RunSummary],
                baseline: Optional[RunSummary] = None) -> list[dict[str, Any]]:
    """A long-format table: one row per run and number of labeled examples.

    Parameters
    ----------
    runs : sequence of RunSummary
    baseline : RunSummary, optional
        Adds :data:`BASELINE_COLUMNS` (see :func:`compare`) to every row, and
        the baseline's own rows first when it is not among ``runs``.

    Returns
    -------
    list of dict
        Keys :data:`COLUMNS` (+ :data:`BASELINE_COLUMNS`). Accuracies are in
        percent, times in seconds; the run-level columns
        (:data:`RUN_COLUMNS`) repeat on each row of a run. Missing values
        are None; ``target_train_s`` is None when the target is the proxy
        (trained once, counted in ``proxy_train_s``), so that
        ``total_s = proxy_train_s + selection_s + target_train_s`` always.
    """
    runs = with_baseline(runs, baseline)
    rows = []
    for run, name in zip(runs, run_names(runs)):
        extra = compare(run, baseline) if baseline is not None else {}
        rows.extend({**row, **extra} for row in _run_rows(run, name))
    return rows


def _columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    has_baseline = any(c in row for row in rows for c in BASELINE_COLUMNS)
    return list(COLUMNS) + (list(BASELINE_COLUMNS) if has_baseline else [])


def _cell(column: str, value: Any) -> str:
    """Display text of one value (accuracy/time to 2/1 decimals, ratios 2)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if column.endswith("_s"):
            return f"{value:.2f}"
        if column == "acc_diff_pts":
            return f"{value:+.2f}"
        if column.endswith("speedup"):
            return f"{value:.2f}x"
        return f"{value:.2f}"
    return str(value)


def _display_cells(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[list[str]]:
    """Cells to show; run-level values are shown on a run's first row only."""
    cells, previous = [], None
    for row in rows:
        first = row["run"] != previous
        previous = row["run"]
        cells.append(["" if not first and c in RUN_COLUMNS else _cell(c, row.get(c))
                      for c in columns])
    return cells


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A fixed-width text table of :func:`build_table` rows, for printing.

    Text columns are left-aligned, numbers right-aligned; a run's run-level
    values (names, times, comparisons) appear on its first row only. The
    dataset and workflow columns, when the same on every row, move to a
    heading line to keep the table narrow.
    """
    constant = [c for c in ("dataset", "workflow")
                if rows and len({row.get(c) for row in rows}) == 1]
    columns = [c for c in _columns(rows) if c not in constant]
    cells = _display_cells(rows, columns)
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    numeric = [c not in ("run", "dataset", "workflow", "proxy", "target", "method")
               for c in columns]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w)
                         for v, w, n in zip(values, widths, numeric)).rstrip()

    heading = ["  ".join(f"{c}: {rows[0][c]}" for c in constant)] if constant else []
    body = [line(columns), line(["-" * w for w in widths])]
    return "\n".join(heading + body + [line(r) for r in cells])


def format_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """A markdown (GitHub) table of :func:`build_table` rows."""
    columns = _columns(rows)
    cells = _display_cells(rows, columns)
    numeric = [c not in ("run", "dataset", "workflow", "proxy", "target", "method")
               for c in columns]
    lines = ["| " + " | ".join(columns) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in cells]
    return "\n".join(lines)


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, ".10g")  # drops float noise like 52.300000000000004
    return value


def format_csv(rows: Sequence[dict[str, Any]]) -> str:
    """CSV text of :func:`build_table` rows (every value on every row)."""
    columns = _columns(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_value(row.get(c)) for c in columns])
    return buffer.getvalue()


def run_summary(path: str | os.PathLike) -> str:
    """The short table a workflow prints at its end: one line per labeled size.

    Columns: labeled examples, proxy accuracy, seconds of the selection that
    produced this labeled set (inference + ranking), target accuracy.
    """
    run = load_run(str(path))
    seconds = selection_seconds(str(path))
    rows = [{"labeled": size,
             "proxy_acc_pct": _percent(run.proxy_accuracy, size),
             "selection_s": seconds.get(size),
             "target_acc_pct": _percent(run.target_accuracy, size)} for size in run.sizes]
    head = (f"{run.workflow} on {run.dataset}: {run.description}; proxy training {run.proxy_train_time:.1f} s, "
            f"selection {run.selection_time:.1f} s, target training {run.target_train_time:.1f} s")
    columns = list(rows[0]) if rows else ["labeled"]
    cells = [[_cell(c, row[c]) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(v.rjust(w) for v, w in zip(values, widths)) for values in [columns] + cells]
    return "\n".join([head] + lines)
