"""Run directories -> tables (CSV, markdown, text) and plots (PNG).

Reads the run directories that :mod:`svp.workflows` write (see the "Run
directory contract" in DESIGN.md) and those of the original implementation
(stanford-futuredata/selection-via-proxy), and summarises each run: accuracy
of the proxy and the target at each number of labeled examples, and where
the time went (proxy training, selection inference and ranking, target
training).

Formats read
------------
``config.json``
    Nested (ours: ``{"workflow", "data": {"dataset"}, "target": {"arch"},
    "proxy": {"arch"}, "selection_method", ...}``; a train run has ``"model"``)
    or flat (the original's: ``{"dataset", "arch", "proxy_arch",
    "selection_method", "initial_subset", "rounds", "subset", ...}``; the
    workflow is inferred: ``rounds``/``initial_subset`` -> active,
    ``subset`` -> coreset, otherwise train).
``proxy.csv`` (or the older ``selector.csv``), ``target.csv``, ``results.csv``
    One row per training: ``nexamples, train_accuracy, dev_accuracy,
    test_accuracy, train_time, dev_time, test_time``.
``selection.csv``
    One row per selection: ``nexamples, current_nexamples, new_nexamples,
    total_time, inference_time, ranking_time``.

Conventions
-----------
* Times are float seconds or Python ``timedelta`` strings (``"0:01:23.4"``,
  ``"2 days, 1:00:00"``); both are read as seconds. Empty times count as 0.
* Accuracies are fractions or percent: if any accuracy in a CSV file is
  greater than 1, every accuracy in that file is taken as percent and
  divided by 100. Empty, NaN and negative (``-1``) accuracies are missing.
* The accuracy of a training is its test accuracy, or its dev accuracy when
  the test accuracy is missing. :class:`RunSummary` holds fractions; the
  tables show percent.
* Training times are the ``train_time`` column only (evaluation on the dev
  and test splits is not counted).
* Selection time is inference + ranking; a ``selection.csv`` with neither
  column falls back to ``total_time``.
* When the target *is* the proxy (``target.csv`` links to ``proxy.csv``, or
  no ``target.csv`` and the config trains both alike), the target numbers
  are the proxy's and the total time counts that training once.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence

from svp.errors import UsageError
from svp.runs import atomic_write

log = logging.getLogger(__name__)

CONFIG = "config.json"
PROXY_CSVS = ("proxy.csv", "selector.csv")
TARGET_CSV = "target.csv"
SELECTION_CSV = "selection.csv"
RESULTS_CSV = "results.csv"

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

_TIMEDELTA = re.compile(
    r"^\s*(?:(?P<days>-?\d+) days?, )?(?P<h>\d+):(?P<m>\d{1,2}):(?P<s>\d{1,2}(?:\.\d*)?)\s*$")
_ACCURACY_COLUMNS = ("train_accuracy", "dev_accuracy", "test_accuracy")


@dataclass(frozen=True)
class RunSummary:
    """What one run directory says, in fractions and seconds.

    Attributes
    ----------
    path : str
        The run directory.
    dataset, workflow, proxy_arch, target_arch, method : str or None
        From ``config.json`` (``proxy_arch`` and ``method`` are None for a
        train run).
    sizes : list of int
        Every number of labeled examples a proxy or target was trained on,
        ascending.
    proxy_accuracy, target_accuracy : dict of int to float
        Accuracy (fraction) by number of labeled examples: test accuracy,
        dev accuracy where the test accuracy is missing.
    proxy_train_time, target_train_time : float
        Seconds spent training, summed over all trainings.
    inference_time, ranking_time, selection_time : float
        Seconds spent selecting, summed over all rounds;
        ``selection_time`` is inference + ranking.
    shared : bool
        True when the target is the proxy (trained once).
    accuracy_split : str
        Which split the accuracies come from: "test", "dev", "test+dev"
        (mixed) or "" (none recorded).
    """

    path: str
    dataset: Optional[str]
    workflow: str
    proxy_arch: Optional[str]
    target_arch: Optional[str]
    method: Optional[str]
    sizes: list[int]
    proxy_accuracy: dict[int, float]
    target_accuracy: dict[int, float]
    proxy_train_time: float
    inference_time: float
    ranking_time: float
    selection_time: float
    target_train_time: float
    shared: bool = False
    accuracy_split: str = "test"

    @property
    def name(self) -> str:
        """The run directory's base name (its timestamp)."""
        return os.path.basename(os.path.normpath(self.path))

    @property
    def total_time(self) -> float:
        """Proxy training + selection + target training, in seconds."""
        target = 0.0 if self.shared else self.target_train_time
        return self.proxy_train_time + self.selection_time + target

    @property
    def description(self) -> str:
        """A short label: ``method proxy->target`` (or the arch of a train run)."""
        if self.workflow == "train" or self.proxy_arch is None:
            return f"train {self.target_arch}"
        return f"{self.method} {self.proxy_arch}->{self.target_arch}"


@dataclass
class _Trainings:
    accuracy: dict[int, float] = field(default_factory=dict)
    train_time: float = 0.0
    splits: set = field(default_factory=set)


# ----------------------------------------------------------------- parsing

def parse_seconds(value: Any) -> float:
    """Seconds from a float, a float string or a ``timedelta`` string.

    Parameters
    ----------
    value : str, float, int or None
        ``12.5``, ``"12.5"``, ``"0:00:12.500000"``, ``"1 day, 2:00:00"``;
        None or ``""`` read as 0.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        When ``value`` is none of these.
    """
    if value is None:
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if not text:
        return 0.0
    try:
        return float(text)
    except ValueError:
        pass
    match = _TIMEDELTA.match(text)
    if match is None:
        raise ValueError(f"not seconds or a duration like 0:01:23.5: {value!r}")
    days = int(match["days"] or 0)
    return days * 86400.0 + int(match["h"]) * 3600.0 + int(match["m"]) * 60.0 + float(match["s"])


def _parse_accuracy(value: Optional[str]) -> Optional[float]:
    """A raw accuracy, or None when missing (empty, NaN, negative)."""
    if value is None or not value.strip():
        return None
    number = float(value)
    if math.isnan(number) or number < 0:
        return None
    return number


def _read_csv(path: str, required: Sequence[str]) -> list[dict[str, str]]:
    """The rows of a CSV file whose header has every ``required`` column."""
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = reader.fieldnames or []
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from error
    missing = [column for column in required if column not in header]
    if missing:
        raise UsageError(f"{path} is not a results file: it lacks the column(s) "
                         f"{', '.join(missing)} (header: {','.join(header) or 'empty'})")
    return rows


def _read_trainings(path: str) -> _Trainings:
    """Accuracy by size and total training time from proxy/target/results.csv."""
    rows = _read_csv(path, ("nexamples",))
    try:
        raw = [{c: _parse_accuracy(row.get(c)) for c in _ACCURACY_COLUMNS} for row in rows]
        scale = 100.0 if any(v is not None and v > 1 for r in raw for v in r.values()) else 1.0
        result = _Trainings()
        for row, accuracies in zip(rows, raw):
            size = int(float(row["nexamples"]))
            split = "test" if accuracies["test_accuracy"] is not None else "dev"
            accuracy = accuracies[f"{split}_accuracy"]
            if accuracy is not None:
                result.accuracy[size] = accuracy / scale  # a later row wins
                result.splits.add(split)
            result.train_time += parse_seconds(row.get("train_time"))
    except ValueError as error:
        raise UsageError(f"{path}: bad value: {error}") from error
    return result


def _read_selection(path: str) -> tuple[float, float, float]:
    """(inference, ranking, selection) seconds summed over selection.csv."""
    rows = _read_csv(path, ())
    if not rows:
        return 0.0, 0.0, 0.0
    try:
        inference = sum(parse_seconds(r.get("inference_time")) for r in rows)
        ranking = sum(parse_seconds(r.get("ranking_time")) for r in rows)
        split = any(k in rows[0] for k in ("inference_time", "ranking_time"))
        selection = inference + ranking if split else sum(
            parse_seconds(r.get("total_time")) for r in rows)
    except ValueError as error:
        raise UsageError(f"{path}: bad value: {error}") from error
    return inference, ranking, selection


def _read_config(run_dir: str) -> dict:
    path = os.path.join(run_dir, CONFIG)
    try:
        with open(path) as handle:
            config = json.load(handle)
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read {path}: {error}") from error
    if not isinstance(config, dict):
        raise UsageError(f"{path} does not hold a JSON object")
    return config


def _same_model(config: dict) -> bool:
    """Whether the config trains proxy and target alike (no target.csv needed)."""
    if isinstance(config.get("target"), dict) and isinstance(config.get("proxy"), dict):
        strip = {"eval_batch_size": None}
        return {**config["target"], **strip} == {**config["proxy"], **strip}
    proxy_keys = [k for k in config if k.startswith("proxy_") and "eval" not in k]
    return bool(proxy_keys) and all(
        config[k] == config.get(k[len("proxy_"):]) for k in proxy_keys)


def _describe(config: dict, is_train: bool) -> dict[str, Optional[str]]:
    """Workflow, dataset, archs and method from a nested or flat config."""
    if isinstance(config.get("data"), dict):  # ours: nested
        model = config.get("target") or config.get("model") or {}
        return {"workflow": config.get("workflow") or ("train" if is_train else None),
                "dataset": config["data"].get("dataset"),
                "target_arch": model.get("arch"),
                "proxy_arch": (config.get("proxy") or {}).get("arch"),
                "method": config.get("selection_method")}
    if "rounds" in config or "initial_subset" in config:
        workflow = "active"
    elif "subset" in config:
        workflow = "coreset"
    else:
        workflow = "train"
    return {"workflow": config.get("workflow", workflow), "dataset": config.get("dataset"),
            "target_arch": config.get("arch"), "proxy_arch": config.get("proxy_arch"),
            "method": config.get("selection_method")}


# ------------------------------------------------------------------ loading

def _existing(run_dir: str, names: Iterable[str]) -> Optional[str]:
    for name in names:
        path = os.path.join(run_dir, name)
        if os.path.isfile(path):
            return path
    return None


def _not_a_run(path: str, why: str) -> UsageError:
    return UsageError(
        f"{path} is not a run directory ({why}): expected a directory holding "
        f"{CONFIG} and proxy.csv/target.csv/selection.csv (or results.csv for a "
        f"train run), or a directory of such run directories")


def _load_trainings(run_dir: str, config: dict) -> tuple[_Trainings, _Trainings, bool, bool]:
    """(proxy, target, shared, is_train) trainings of a run directory."""
    proxy_csv = _existing(run_dir, PROXY_CSVS)
    target_csv = _existing(run_dir, (TARGET_CSV,))
    if proxy_csv is None and target_csv is None:
        results = _existing(run_dir, (RESULTS_CSV,))
        if results is None:
            raise _not_a_run(run_dir, "no proxy.csv, target.csv or results.csv")
        return _Trainings(), _read_trainings(results), False, True
    proxy = _read_trainings(proxy_csv) if proxy_csv else _Trainings()
    if target_csv is not None:
        shared = proxy_csv is not None and os.path.samefile(proxy_csv, target_csv)
        return proxy, _read_trainings(target_csv), shared, False
    shared = _same_model(config)
    return proxy, (proxy if shared else _Trainings()), shared, False


def load_run(path: str) -> RunSummary:
    """Summarise one run directory.

    Parameters
    ----------
    path : str
        A ``RUN_DIR/<timestamp>`` directory (ours or the original's).

    Returns
    -------
    RunSummary

    Raises
    ------
    UsageError
        When ``path`` is not a run directory or a file in it is malformed.
    """
    if not os.path.isdir(path):
        raise _not_a_run(path, "no such directory")
    if not os.path.isfile(os.path.join(path, CONFIG)):
        raise _not_a_run(path, f"no {CONFIG}")
    config = _read_config(path)
    proxy, target, shared, is_train = _load_trainings(path, config)
    selection_csv = _existing(path, (SELECTION_CSV,))
    inference, ranking, selection = (
        _read_selection(selection_csv) if selection_csv else (0.0, 0.0, 0.0))
    described = _describe(config, is_train)
    splits = proxy.splits | target.splits
    return RunSummary(
        path=path, dataset=described["dataset"], workflow=described["workflow"] or "",
        proxy_arch=None if is_train else described["proxy_arch"],
        target_arch=described["target_arch"],
        method=None if is_train else described["method"],
        sizes=sorted(set(proxy.accuracy) | set(target.accuracy)),
        proxy_accuracy=dict(sorted(proxy.accuracy.items())),
        target_accuracy=dict(sorted(target.accuracy.items())),
        proxy_train_time=proxy.train_time, inference_time=inference,
        ranking_time=ranking, selection_time=selection,
        target_train_time=target.train_time, shared=shared,
        accuracy_split="+".join(sorted(splits, reverse=True)))


def find_runs(path: str) -> list[str]:
    """``path`` itself if it is a run directory, else the run directories in it.

    Raises
    ------
    UsageError
        When ``path`` is neither a run directory nor holds any.
    """
    if not os.path.isdir(path):
        raise _not_a_run(path, "no such directory")
    if os.path.isfile(os.path.join(path, CONFIG)):
        return [path]
    children = sorted(os.path.join(path, name) for name in os.listdir(path))
    runs = [child for child in children if os.path.isfile(os.path.join(child, CONFIG))]
    if not runs:
        raise _not_a_run(path, f"no {CONFIG} in it or in any directory in it")
    return runs


def load_runs(paths: Sequence[str]) -> list[RunSummary]:
    """Load every run named by ``paths`` (run directories or their parents).

    Run directories found inside a parent that hold no results yet (a run
    still starting, or one that failed early) are skipped with a warning;
    a run directory named directly must hold results.
    """
    runs: list[RunSummary] = []
    for path in paths:
        found = find_runs(path)
        for run_dir in found:
            try:
                runs.append(load_run(run_dir))
            except UsageError as error:
                if found == [path]:
                    raise
                log.warning("skipping %s: %s", run_dir, error)
    if not runs:
        raise UsageError(f"no finished runs in {', '.join(paths)}")
    return runs


# ------------------------------------------------------------------- tables

def _run_names(runs: Sequence[RunSummary]) -> list[str]:
    """Short unique names: base names, or paths relative to a common parent."""
    names = [run.name for run in runs]
    if len(set(names)) == len(names):
        return names
    paths = [os.path.abspath(run.path) for run in runs]
    common = os.path.commonpath(paths)
    return [os.path.relpath(p, os.path.dirname(common)) for p in paths]


def _with_baseline(runs: Sequence[RunSummary],
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
    runs = _with_baseline(runs, baseline)
    rows = []
    for run, name in zip(runs, _run_names(runs)):
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


# -------------------------------------------------------------------- plots

_SEGMENTS = (("proxy training", "#4c72b0"), ("selection: inference", "#dd8452"),
             ("selection: ranking", "#c44e52"), ("selection: other", "#937860"),
             ("target training", "#55a868"))


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure  # Agg canvas; no pyplot global state

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return figure, figure.subplots()


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _labels(runs: Sequence[RunSummary], baseline: Optional[RunSummary] = None,
            sep: str = ": ") -> list[str]:
    key = os.path.realpath(baseline.path) if baseline is not None else None
    return [f"{name}{' (baseline)' if os.path.realpath(run.path) == key else ''}"
            f"{sep}{run.description}" for run, name in zip(runs, _run_names(runs))]


def _title(runs: Sequence[RunSummary], what: str) -> str:
    datasets = sorted({run.dataset for run in runs if run.dataset})
    return f"{what} ({', '.join(datasets)})" if datasets else what


def plot_accuracy(runs: Sequence[RunSummary], baseline: Optional[RunSummary] = None) -> bytes:
    """PNG: target (solid) and proxy (dashed) accuracy vs labeled examples."""
    from matplotlib.lines import Line2D

    figure, axes = _figure(8, 5)
    colors = [f"C{i % 10}" for i in range(len(runs))]
    handles = []
    for run, label, color in zip(runs, _labels(runs, baseline), colors):
        for accuracy, style, marker in ((run.target_accuracy, "-", "o"),
                                        (run.proxy_accuracy, "--", "x")):
            if accuracy and not (style == "--" and run.shared):
                axes.plot(list(accuracy), [100 * v for v in accuracy.values()],
                          linestyle=style, marker=marker, color=color)
        handles.append(Line2D([], [], color=color, label=label))
    handles += [Line2D([], [], color="gray", marker="o", label="target"),
                Line2D([], [], color="gray", linestyle="--", marker="x", label="proxy")]
    axes.legend(handles=handles, fontsize="small", loc="best")
    axes.set_xlabel("number of labeled examples")
    axes.set_ylabel("accuracy (%)")
    axes.set_title(_title(runs, "Accuracy vs labeled examples"))
    axes.grid(True, alpha=0.3)
    return _png(figure)


def _time_segments(run: RunSummary) -> list[float]:
    other = max(run.selection_time - run.inference_time - run.ranking_time, 0.0)
    target = 0.0 if run.shared else run.target_train_time
    return [run.proxy_train_time, run.inference_time, run.ranking_time, other, target]


def plot_times(runs: Sequence[RunSummary], baseline: Optional[RunSummary] = None) -> bytes:
    """PNG: one stacked horizontal bar of seconds per run, by stage."""
    figure, axes = _figure(8, 2.0 + 0.7 * len(runs))
    labels = _labels(runs, baseline, sep="\n")
    segments = [_time_segments(run) for run in runs]
    left = [0.0] * len(runs)
    for index, (name, color) in enumerate(_SEGMENTS):
        widths = [s[index] for s in segments]
        if not any(widths):
            continue
        axes.barh(labels, widths, left=left, color=color, label=name)
        left = [a + b for a, b in zip(left, widths)]
    for y, total in enumerate(left):
        axes.annotate(f" {total:.1f} s", (total, y), va="center", fontsize="small")
    axes.invert_yaxis()  # first run on top
    axes.margins(x=0.15)
    axes.set_xlabel("seconds")
    axes.set_title(_title(runs, "Time per stage"))
    figure.legend(fontsize="small", loc="outside lower center", ncols=5)
    return _png(figure)


# ------------------------------------------------------------------ writing

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
    plotted = _with_baseline(runs, baseline)
    os.makedirs(out_dir, exist_ok=True)
    paths = {"csv": os.path.join(out_dir, "report.csv"),
             "markdown": os.path.join(out_dir, "report.md"),
             "accuracy": os.path.join(out_dir, "accuracy.png"),
             "time": os.path.join(out_dir, "time.png")}
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
    out_dir = out_dir or os.path.join(runs[0].path, "report")
    written = write_report(runs, out_dir, base)
    text = format_table(build_table(runs, base))
    return f"{text}\n\nwrote {', '.join(written.values())}", written


def run_summary(path: str | os.PathLike) -> str:
    """The short table a workflow prints at its end: one line per labeled size.

    Columns: labeled examples, proxy accuracy, seconds of the selection that
    produced this labeled set (inference + ranking), target accuracy.
    """
    run = load_run(str(path))
    selection_csv = os.path.join(str(path), "selection.csv")
    seconds: dict[int, float] = {}
    if os.path.exists(selection_csv):
        for row in _read_csv(selection_csv, ("nexamples",)):
            parts = [parse_seconds(row.get(k)) for k in ("inference_time", "ranking_time")]
            seconds[int(float(row["nexamples"]))] = sum(parts) or parse_seconds(row.get("total_time"))
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
