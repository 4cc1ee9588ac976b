"""Plots of runs (PNG bytes): accuracy against labeled examples, and where the time went.

Runs that differ only in their seed are drawn as one group (see
:func:`~svp.report.table.grouped`): their means, with error bars of one
sample standard deviation.
"""
from __future__ import annotations

import io
from typing import Any, Optional, Sequence

from svp.report.group import RunGroup
from svp.report.read import RunSummary
from svp.report.table import Baseline, group_names, grouped


_SEGMENTS = (("proxy training", "#4c72b0", "proxy_train_time"), ("selection: inference", "#dd8452", "inference_time"),
             ("selection: ranking", "#c44e52", "ranking_time"), ("selection: other", "#937860", "other_time"),
             ("target training", "#55a868", "target_train_time"))


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure  # Agg canvas; no pyplot global state

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return figure, figure.subplots()


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _labels(groups: Sequence[RunGroup], bases: Sequence[RunGroup] = (), sep: str = ": ") -> list[str]:
    return [f"{name}{' (baseline)' if any(group is base for base in bases) else ''}"
            f"{sep}{group.first.description}{f' (n={len(group)})' if len(group) > 1 else ''}"
            for group, name in zip(groups, group_names(groups))]


def _title(groups: Sequence[RunGroup], what: str) -> str:
    datasets = sorted({run.dataset for group in groups for run in group.runs if run.dataset})
    return f"{what} ({', '.join(datasets)})" if datasets else what


def _draw_accuracy(axes: Any, group: RunGroup, role: str, color: str, style: str, marker: str) -> None:
    stats = [(size, group.accuracy(role, size)) for size in group.sizes]
    stats = [(size, value) for size, value in stats if value is not None]
    if not stats:
        return
    sizes = [size for size, _ in stats]
    means = [100 * value.mean for _, value in stats]
    if len(group) == 1:
        axes.plot(sizes, means, linestyle=style, marker=marker, color=color)
        return
    errors = [100 * (value.std or 0.0) for _, value in stats]
    axes.errorbar(sizes, means, yerr=errors, linestyle=style, marker=marker, color=color, capsize=3)


def plot_accuracy(runs: Sequence[RunSummary], baseline: Baseline = None) -> bytes:
    """PNG: target (solid) and proxy (dashed) accuracy vs labeled examples; groups with error bars."""
    from matplotlib.lines import Line2D

    groups, bases = grouped(runs, baseline)
    figure, axes = _figure(8, 5)
    colors = [f"C{i % 10}" for i in range(len(groups))]
    handles = []
    for group, label, color in zip(groups, _labels(groups, bases), colors):
        _draw_accuracy(axes, group, "target", color, "-", "o")
        if not group.shared:
            _draw_accuracy(axes, group, "proxy", color, "--", "x")
        handles.append(Line2D([], [], color=color, label=label))
    handles += [Line2D([], [], color="gray", marker="o", label="target"),
                Line2D([], [], color="gray", linestyle="--", marker="x", label="proxy")]
    if any(len(group) > 1 for group in groups):
        handles.append(Line2D([], [], color="gray", marker="|", linestyle="none", markersize=10,
                              label="± 1 sample std over seeds"))
    axes.legend(handles=handles, fontsize="small", loc="best")
    axes.set_xlabel("number of labeled examples")
    axes.set_ylabel("accuracy (%)")
    axes.set_title(_title(groups, "Accuracy vs labeled examples"))
    axes.grid(True, alpha=0.3)
    return _png(figure)


def _time_segments(run: RunSummary) -> dict[str, Optional[float]]:
    """Seconds by stage of one run (the target's none when it is the proxy); None where not recorded."""
    # selection known from the rows' totals alone (no inference or ranking recorded) is drawn whole as "other"
    other = None if run.selection_time is None else max(
        run.selection_time - (run.inference_time or 0.0) - (run.ranking_time or 0.0), 0.0)
    return {"proxy_train_time": run.proxy_train_time, "inference_time": run.inference_time,
            "ranking_time": run.ranking_time, "other_time": other,
            "target_train_time": 0.0 if run.shared else run.target_train_time}


def _mean_segments(group: RunGroup) -> list[float]:
    """Each stage's mean over the runs that recorded it (a stage none recorded is drawn as 0 wide)."""
    segments = [_time_segments(run) for run in group.runs]
    means = []
    for _, _, key in _SEGMENTS:
        known = [s[key] for s in segments if s[key] is not None]
        means.append(sum(known) / len(known) if known else 0.0)
    return means


def plot_times(runs: Sequence[RunSummary], baseline: Baseline = None) -> bytes:
    """PNG: one stacked horizontal bar of seconds per group (its means), by stage; error bars on totals."""
    groups, bases = grouped(runs, baseline)
    figure, axes = _figure(8, 2.0 + 0.7 * len(groups))
    labels = _labels(groups, bases, sep="\n")
    segments = [_mean_segments(group) for group in groups]
    left = [0.0] * len(groups)
    for index, (name, color, _) in enumerate(_SEGMENTS):
        widths = [s[index] for s in segments]
        if not any(widths):
            continue
        axes.barh(labels, widths, left=left, color=color, label=name)
        left = [a + b for a, b in zip(left, widths)]
    for y, (group, total) in enumerate(zip(groups, left)):
        recorded = group.seconds("total_time")
        spread = None if recorded is None else recorded.std
        if spread is not None:
            axes.errorbar([total], [y], xerr=[spread], fmt="none", ecolor="black", capsize=4)
        text = f" {total:.1f} s" + ("" if spread is None else f" ± {spread:.1f}")
        if any(run.total_time is None for run in group.runs):  # a bar without a stage is no total
            text += " + times not recorded"
        axes.annotate(text, (total + (spread or 0.0), y), va="center", fontsize="small")
    axes.invert_yaxis()  # first run on top
    axes.margins(x=0.25 if any(len(group) > 1 for group in groups) else 0.15)  # room for "± spread"
    axes.set_xlabel("seconds")
    axes.set_title(_title(groups, "Time per stage"))
    figure.legend(fontsize="small", loc="outside lower center", ncols=5)
    return _png(figure)
