"""Tables of runs: one row per group of runs and number of labeled examples, as text, markdown or CSV.

Runs that differ only in their seed are one group (:mod:`svp.report.group`):
its row holds means, with ``<column>_std`` (sample standard deviation,
ddof=1) and ``n`` beside them; text and markdown show ``mean ± std``. A
group of one shows its values as a single run always did. Accuracies are
shown in percent, times in seconds; with a baseline, each group's speed-ups
and accuracy difference against it (see :func:`compare`). A run is compared
only with a baseline on its own data (:func:`base_of`, :func:`same_data`). A
time a run did not record is missing (None, shown as ``-``), never 0; a
group's mean of a value some of its runs lack is over the others, marked
``[k]`` and counted in ``<column>_n``.
"""
from __future__ import annotations

import csv
import io
import math
import os
from typing import Any, Optional, Sequence, Union

from svp.errors import UsageError
from svp.report.group import RunGroup, Stat, as_group, group_runs, runs_of
from svp.report.read import RunSummary, load_run
from svp.report.results import selection_seconds
from svp.report.health import health_warnings
from svp.rundir import CONFIG

#: Columns of :func:`build_table` rows, in order (baseline columns last).
COLUMNS = (
    "run", "dataset", "workflow", "proxy", "target", "method", "nexamples",
    "proxy_acc_pct", "target_acc_pct", "proxy_train_s", "inference_s",
    "ranking_s", "selection_s", "target_train_s", "total_s",
)
#: Columns whose values are means over the runs of a group (and have a ``<column>_std``).
MEAN_COLUMNS = ("proxy_acc_pct", "target_acc_pct", "proxy_train_s", "inference_s", "ranking_s",
                "selection_s", "target_train_s", "total_s")
#: Time columns -> the :class:`RunSummary` attribute (or property) each shows.
TIME_COLUMNS = {"proxy_train_s": "proxy_train_time", "inference_s": "inference_time", "ranking_s": "ranking_time",
                "selection_s": "selection_time", "target_train_s": "target_train_time", "total_s": "total_time"}
#: Columns added when some group holds more than one run (after :data:`COLUMNS`): its size, seeds and
#: run names, the sample standard deviation of every mean, and how many runs each accuracy comes from.
GROUP_COLUMNS = (("n", "seeds", "runs") + tuple(f"{c}_std" for c in MEAN_COLUMNS)
                 + ("proxy_acc_pct_n", "target_acc_pct_n"))
BASELINE_COLUMNS = ("selection_speedup", "total_speedup", "acc_diff_pts", "acc_diff_at")
#: The spreads of the comparisons, added with :data:`GROUP_COLUMNS` when there is a baseline.
BASELINE_GROUP_COLUMNS = ("selection_speedup_std", "total_speedup_std", "acc_diff_pts_std")
#: How many runs of its group each time comes from: added last, only when some group's time comes from fewer
#: than all its runs (a time some runs did not record), so that a report whose runs recorded every time keeps
#: its columns.
TIME_COUNT_COLUMNS = tuple(f"{c}_n" for c in TIME_COLUMNS)
#: Columns that hold one value per run (repeated on each of its rows).
RUN_COLUMNS = tuple(c for c in COLUMNS + GROUP_COLUMNS if c not in
                    ("nexamples", "proxy_acc_pct", "target_acc_pct", "proxy_acc_pct_std",
                     "target_acc_pct_std", "proxy_acc_pct_n", "target_acc_pct_n")
                    ) + BASELINE_COLUMNS + BASELINE_GROUP_COLUMNS + TIME_COUNT_COLUMNS
Baseline = Union[RunSummary, RunGroup, Sequence[RunSummary], None]


def run_names(runs: Sequence[RunSummary]) -> list[str]:
    """Short unique names: base names, or paths relative to a common parent."""
    names = [run.name for run in runs]
    if len(set(names)) == len(names):
        return names
    paths = [os.path.abspath(run.path) for run in runs]
    common = os.path.commonpath(paths)
    return [os.path.relpath(p, os.path.dirname(common)) for p in paths]


def group_names(groups: Sequence[RunGroup]) -> list[str]:
    """The name of each group's first run, with ``(+k)`` for the k other runs of a group."""
    return [name if len(group) == 1 else f"{name} (+{len(group) - 1})"
            for group, name in zip(groups, run_names([g.first for g in groups]))]


def grouped(runs: Sequence[RunSummary], baseline: Baseline = None) -> tuple[list[RunGroup], list[RunGroup]]:
    """The groups of ``runs`` (see :func:`group_runs`) and the baselines' groups among them.

    The baseline (one run, runs of one setup, or runs of one setup per
    dataset) joins the runs of its setup in ``runs``; a baseline group with
    none of its setup there comes first. Every group must have a baseline
    on its data (:func:`base_of`).

    Raises
    ------
    UsageError
        When the baseline holds two setups on one data, or a run's data has no baseline.
    """
    if baseline is None:
        return group_runs(runs), []
    base_runs = runs_of(baseline)
    groups = group_runs([*runs, *base_runs])
    setups = {run.setup for run in base_runs}
    bases = [g for g in groups if g.first.setup in setups]
    _one_setup_per_data(bases, base_runs)
    ours = {run.setup for run in runs}
    groups = [g for g in bases if g.first.setup not in ours] + [g for g in groups if g not in bases or
                                                                g.first.setup in ours]
    for group in groups:
        base_of(group, bases)
    return groups, bases


def same_data(one: RunSummary, other: RunSummary) -> bool:
    """Whether two runs ran on the same data: by their data's fingerprints where both record one, else by name.

    A fingerprint tells the same file named two ways (``./f.npz``, ``/abs/f.npz``) for the same data, and a
    file changed under one name for other data; runs that record none (the original implementation's, svp's
    before data identity) have only the ``--dataset`` they were given.
    """
    if one.fingerprint is not None and other.fingerprint is not None:
        return one.fingerprint == other.fingerprint
    return one.dataset == other.dataset


def _data(run: RunSummary) -> str:
    """The data a run ran on, in words: its dataset, and its data's fingerprint where it records one."""
    return f"{run.dataset}" + (f" [data {run.fingerprint}]" if run.fingerprint else "")


def _one_setup_per_data(bases: Sequence[RunGroup], base_runs: Sequence[RunSummary]) -> None:
    """Refuse a baseline of two setups on one data: which one would a run on it be compared with?"""
    for base in bases:
        alike = [other for other in bases if same_data(base.first, other.first)]
        if len(alike) > 1:
            setups = {group.first.setup for group in alike}
            paths = ", ".join(run.path for run in base_runs if run.setup in setups)
            raise UsageError(f"--baseline must be one run directory, or runs that differ only in their seed; it "
                             f"holds runs of {len(alike)} setups on {_data(base.first)}: {paths} ; name one run "
                             "directory, or a folder holding the seeds of one setup (one setup per dataset)")


def base_of(group: RunGroup, bases: Sequence[RunGroup]) -> RunGroup:
    """The baseline ``group`` is compared with: the one on its data (:func:`same_data`).

    A speed-up or an accuracy gap between runs on two datasets means nothing, so a run is never compared
    with a baseline on another. A baseline with the run's fingerprint comes before one of the run's dataset
    name. Where a config records neither dataset nor fingerprint (nothing to tell them apart by), the one
    baseline there is stands.

    Raises
    ------
    UsageError
        When no baseline is on ``group``'s data, or several might be.
    """
    run = group.first
    matches = [base for base in bases if run.fingerprint is not None and base.first.fingerprint == run.fingerprint]
    matches = matches or [base for base in bases if same_data(base.first, run)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:  # bases on data of one name told apart by fingerprints, and a run that records none
        theirs = ", ".join(base.first.path for base in matches)
        raise UsageError(f"--baseline holds runs on {len(matches)} different data named {run.dataset} ({theirs}), "
                         f"and {run.path} records no fingerprint of its data to tell which it ran on ; give a "
                         "--baseline of one of them")
    only = bases[0].first if len(bases) == 1 else None
    if only is not None and None in (run.dataset, only.dataset) and None in (run.fingerprint, only.fingerprint):
        return bases[0]
    theirs = " and ".join(f"{_data(b.first)} ({b.first.path})" for b in bases)
    raise UsageError(f"--baseline ran on {theirs}, but {run.path} ran on {_data(run)} ; give a --baseline "
                     f"run on {_data(run)} (a run is compared only with a baseline on its own data: the same "
                     "fingerprint where both record one, else the same dataset; a --baseline folder may hold one "
                     "setup per dataset)")


def _ratio(numerator: Optional[Stat], denominator: Optional[Stat]) -> tuple[Optional[float], Optional[float]]:
    """numerator / denominator (None when the denominator is 0 or either is missing), and its first-order
    spread."""
    if numerator is None or denominator is None or denominator.mean <= 0:
        return None, None
    ratio = numerator.mean / denominator.mean
    if numerator.std is None and denominator.std is None:
        return ratio, None
    relative = [(s.std or 0.0) / s.mean if s.mean else 0.0 for s in (numerator, denominator)]
    return ratio, ratio * math.hypot(*relative)


def compare(run: Union[RunSummary, RunGroup],
            baseline: Union[RunSummary, RunGroup]) -> dict[str, Optional[float]]:
    """Speed-ups (baseline / run) and accuracy difference vs a baseline; groups by their means.

    Returns
    -------
    dict
        ``selection_speedup`` and ``total_speedup`` (None when the run's time
        is 0, or either time is missing), ``acc_diff_pts`` (run - baseline target accuracy, in percent
        points) at ``acc_diff_at``, the largest size where both have a target
        accuracy (both None when there is no such size). With ``_std``: their
        spread, the two groups' sample standard deviations combined as for
        independent runs (relative ones for the ratios, to first order); None
        when both are single runs.
    """
    run, baseline = as_group(run), as_group(baseline)
    values: dict[str, Optional[float]] = {}
    for key, what in (("selection_speedup", "selection_time"), ("total_speedup", "total_time")):
        values[key], values[f"{key}_std"] = _ratio(baseline.seconds(what), run.seconds(what))
    common = [size for size in set(run.sizes) & set(baseline.sizes)
              if run.accuracy("target", size) and baseline.accuracy("target", size)]
    at = max(common) if common else None
    diff = spread = None
    if at is not None:
        ours, theirs = run.accuracy("target", at), baseline.accuracy("target", at)
        diff = 100.0 * (ours.mean - theirs.mean)
        if ours.std is not None or theirs.std is not None:
            spread = 100.0 * math.hypot(ours.std or 0.0, theirs.std or 0.0)
    values.update(acc_diff_pts=diff, acc_diff_pts_std=spread, acc_diff_at=at)
    return values


def _scaled(value: Optional[Stat], column: str, scale: float = 1.0) -> dict[str, Any]:
    """``column``, ``column_std`` (and ``column_n`` for accuracies) of a Stat, times ``scale``."""
    if value is None:
        return {column: None, f"{column}_std": None, f"{column}_n": 0}
    std = None if value.std is None else scale * value.std
    return {column: scale * value.mean, f"{column}_std": std, f"{column}_n": value.n}


def _group_rows(group: RunGroup, name: str) -> list[dict[str, Any]]:
    """One row per labeled size of a group (one row with no size if it has none)."""
    run = group.first
    fixed = {"run": name, "dataset": run.dataset, "workflow": run.workflow, "proxy": run.proxy_arch,
             "target": run.target_arch, "method": run.method, "n": len(group),
             "seeds": " ".join("-" if seed is None else str(seed) for seed in group.seeds),
             "runs": " ".join(r.name for r in group.runs)}
    for column, what in TIME_COLUMNS.items():
        if not (column == "target_train_s" and group.shared):
            fixed.update(_scaled(group.seconds(what), column))
    rows = []
    for size in group.sizes or [None]:
        row = {**fixed, "nexamples": size}
        for role in ("proxy", "target"):
            row.update(_scaled(group.accuracy(role, size), f"{role}_acc_pct", 100.0))
        rows.append(row)
    return rows


def _table_columns(groups: Sequence[RunGroup], bases: Sequence[RunGroup], rows: Sequence[dict]) -> list[str]:
    many = any(len(group) > 1 for group in groups)
    columns = list(COLUMNS) + (list(GROUP_COLUMNS) if many else [])
    if bases:
        columns += list(BASELINE_COLUMNS) + (list(BASELINE_GROUP_COLUMNS) if many else [])
    if many and any(0 < (row.get(c) or 0) < row["n"] for row in rows for c in TIME_COUNT_COLUMNS):
        columns += list(TIME_COUNT_COLUMNS)
    return columns


def build_table(runs: Sequence[RunSummary], baseline: Baseline = None) -> list[dict[str, Any]]:
    """A long-format table: one row per group of runs (see :func:`grouped`) and number of labeled examples.

    Parameters
    ----------
    runs : sequence of RunSummary
        Runs that differ only in their seed are one group: its values are
        means over its runs.
    baseline : RunSummary or runs of one setup (or of one setup per dataset), optional
        Adds :data:`BASELINE_COLUMNS` (see :func:`compare`, against the
        baseline on the row's dataset) to every row, and the baseline's own
        rows first when it is not among ``runs``.

    Returns
    -------
    list of dict
        Keys :data:`COLUMNS` (+ :data:`GROUP_COLUMNS` when a group holds more
        than one run) (+ :data:`BASELINE_COLUMNS`, + :data:`BASELINE_GROUP_COLUMNS`)
        (+ :data:`TIME_COUNT_COLUMNS` when a group's time comes from only some of its runs).
        Accuracies are in percent, times in seconds; the run-level columns
        (:data:`RUN_COLUMNS`) repeat on each row of a group. Missing values
        are None (a time a run did not record too: never 0); ``target_train_s``
        is None when the target is the proxy (trained once, counted in
        ``proxy_train_s``), so that ``total_s = proxy_train_s + selection_s +
        target_train_s`` always.

    Raises
    ------
    UsageError
        When a run's dataset has no baseline (see :func:`base_of`).
    """
    groups, bases = grouped(runs, baseline)
    rows = []
    for group, name in zip(groups, group_names(groups)):
        extra = compare(group, base_of(group, bases)) if bases else {}
        rows += [{**row, **extra} for row in _group_rows(group, name)]
    columns = _table_columns(groups, bases, rows)
    return [{c: row.get(c) for c in columns} for row in rows]


def _columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Columns to show: the rows', with a group's spreads and counts folded into the cells of its means."""
    if not rows:
        return list(COLUMNS)
    hidden = set(GROUP_COLUMNS) | set(BASELINE_GROUP_COLUMNS) | set(TIME_COUNT_COLUMNS)
    shown = [c for c in rows[0] if c not in hidden]
    if "n" in rows[0]:
        shown.insert(1, "n")
    return shown


def _percent(accuracies: dict[int, float], size: int) -> Optional[float]:
    value = accuracies.get(size)
    return None if value is None else 100.0 * value


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


def _shown(column: str, row: dict[str, Any]) -> str:
    """A cell: ``mean ± std`` for a group, with ``[k]`` when only k of its n runs have the value."""
    text = _cell(column, row.get(column))
    std = row.get(f"{column}_std")
    if std is not None and row.get(column) is not None:
        text += f" ± {std:.2f}"
    count, n = row.get(f"{column}_n"), row.get("n")
    if count and n and count < n:
        text += f" [{count}]"
    return text


def _display_cells(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[list[str]]:
    """Cells to show; run-level values are shown on a run's first row only."""
    cells, previous = [], None
    for row in rows:
        first = row["run"] != previous
        previous = row["run"]
        cells.append(["" if not first and c in RUN_COLUMNS else _shown(c, row) for c in columns])
    return cells


def table_notes(rows: Sequence[dict[str, Any]]) -> list[str]:
    """What a grouped table's ``n``, ``±`` and ``[k]`` mean, and the seeds and runs of each group."""
    if not rows or "n" not in rows[0]:
        return []
    notes = [f"n: runs whose {CONFIG} differs only in the seed (or in options that do not change results); "
             "a ± b: their mean ± sample standard deviation (ddof=1); [k]: from the k of the n runs that have it"]
    if "acc_diff_pts_std" in rows[0]:
        notes.append("± of speed-ups and accuracy differences: both groups' standard deviations combined as for "
                     "independent runs (relative ones, to first order, for speed-ups)")
    seen = set()
    for row in rows:
        if row["n"] > 1 and row["run"] not in seen:
            seen.add(row["run"])
            notes.append(f"{row['run']}: seeds {row['seeds']} (runs {row['runs']})")
    return notes


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
    notes = table_notes(rows)
    return "\n".join(heading + body + [line(r) for r in cells] + ([""] + notes if notes else []))


def format_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """A markdown (GitHub) table of :func:`build_table` rows."""
    columns = _columns(rows)
    cells = _display_cells(rows, columns)
    numeric = [c not in ("run", "dataset", "workflow", "proxy", "target", "method")
               for c in columns]
    lines = ["| " + " | ".join(columns) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in cells]
    notes = table_notes(rows)
    return "\n".join(lines + ([""] + [f"- {note}" for note in notes] if notes else []))


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, ".10g")  # drops float noise like 52.300000000000004
    return value


def format_csv(rows: Sequence[dict[str, Any]]) -> str:
    """CSV text of :func:`build_table` rows (every column, every value on every row)."""
    columns = list(rows[0]) if rows else list(COLUMNS)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_value(row.get(c)) for c in columns])
    return buffer.getvalue()


def _seconds(value: Optional[float]) -> str:
    return "not recorded" if value is None else f"{value:.1f} s"


def run_summary(path: str | os.PathLike) -> str:
    """The short table a workflow prints at its end: one line per labeled size.

    Columns: labeled examples, proxy accuracy, seconds of the selection that
    produced this labeled set (inference + ranking), target accuracy; then a
    warning for each training that is not working: no better than chance,
    its training set fitted poorly, its dev accuracy still rising
    (:func:`~svp.report.health.health_warnings`).
    """
    run = load_run(str(path))
    seconds = selection_seconds(str(path))
    rows = [{"labeled": size,
             "proxy_acc_pct": _percent(run.proxy_accuracy, size),
             "selection_s": seconds.get(size),
             "target_acc_pct": _percent(run.target_accuracy, size)} for size in run.sizes]
    head = (f"{run.workflow} on {run.dataset}: {run.description}; proxy training {_seconds(run.proxy_train_time)}, "
            f"selection {_seconds(run.selection_time)}, target training {_seconds(run.target_train_time)}")
    columns = list(rows[0]) if rows else ["labeled"]
    cells = [[_cell(c, row[c]) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(v.rjust(w) for v, w in zip(values, widths)) for values in [columns] + cells]
    return "\n".join([head] + lines + [f"warning: {message}" for message in health_warnings(run)])
