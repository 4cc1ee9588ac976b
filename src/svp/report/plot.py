"""Plots of runs (PNG bytes): accuracy against labeled examples, and where the time went."""
from __future__ import annotations

import io
import os
from typing import Any, Optional, Sequence

from svp.report.read import RunSummary
from svp.report.table import run_names


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
            f"{sep}{run.description}" for run, name in zip(runs, run_names(runs))]


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
