"""What every benchmark shares: A/B timing, peak memory, rows and the table.

A benchmark module exposes ``run(quick: bool) -> list[dict]``; each dict is
one row of the table with these keys (all strings except ``ratio``):

``benchmark``  short name (``k-centers``)
``workload``   what was run, sizes included
``baseline``   the baseline's figure (e.g. ``14.2 ms/pick``)
``ours``       svp's figure
``ratio``      float; ``ratio_label`` says what it means (``x faster``, ``x cost``)
``goal``       the target, e.g. ``>= 15x faster`` (``-`` when none)
``met``        ``yes`` / ``no`` / ``-``
``memory``     peak memory, where asked (``-`` otherwise)
``notes``      how it was measured (extrapolations, overlaps, model)

Timings on a shared machine are noise, so every comparison alternates the
two sides in the same process and reports the median of the per-round
ratios.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Callable, Optional, Sequence

COLUMNS = ("benchmark", "workload", "baseline", "ours", "ratio", "goal", "met", "memory", "notes")


def timed(fn: Callable[[], object]) -> float:
    """Seconds ``fn()`` took."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def alternate(baseline: Callable[[], float], ours: Callable[[], float], rounds: int) -> tuple[list[float], list[float]]:
    """Run both sides ``rounds`` times, alternating which goes first; each returns its seconds.

    Alternating (AB, BA, AB, ...) spreads slow phases of a shared machine
    over both sides instead of charging them to one.
    """
    base, mine = [], []
    for r in range(rounds):
        if r % 2 == 0:
            base.append(baseline())
            mine.append(ours())
        else:
            mine.append(ours())
            base.append(baseline())
    return base, mine


def median_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """Median of the per-round ratios ``numerators[i] / denominators[i]``."""
    return statistics.median(n / d for n, d in zip(numerators, denominators))


def row(benchmark: str, workload: str, baseline: str, ours: str, ratio: float, ratio_label: str,
        goal: str = "-", met: Optional[bool] = None, memory: str = "-", notes: str = "") -> dict:
    """One table row (see the module docstring for the keys)."""
    return {"benchmark": benchmark, "workload": workload, "baseline": baseline, "ours": ours,
            "ratio": ratio, "ratio_label": ratio_label, "goal": goal,
            "met": "-" if met is None else ("yes" if met else "NO"), "memory": memory, "notes": notes}


def mib(nbytes: float) -> str:
    return f"{nbytes / 2**20:.0f} MiB" if nbytes >= 2**24 else f"{nbytes / 2**20:.1f} MiB"


def seconds(value: float) -> str:
    if value >= 100:
        return f"{value:.0f} s"
    if value >= 1:
        return f"{value:.2f} s"
    return f"{value * 1e3:.2f} ms"


# ------------------------------------------------------------------ memory

def _proc_status_kib(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux >= 4.0); False where refused."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def measure_in_this_process(work: Callable[[], object]) -> dict:
    """Peak RSS above the RSS at the start of ``work()``, in bytes.

    Reads VmHWM from /proc/self/status after resetting it, so allocations
    made by torch (which tracemalloc cannot see) count too.
    """
    exact = reset_peak_rss()
    before = _proc_status_kib("VmRSS")
    start_peak = _proc_status_kib("VmHWM")
    work()
    peak = _proc_status_kib("VmHWM")
    if not exact and peak <= start_peak:
        raise RuntimeError("VmHWM could not be reset and the work stayed below an earlier peak")
    return {"peak_extra": (peak - before) * 1024, "exact": exact}


def peak_memory(target: str, **kwargs) -> dict:
    """Peak extra memory of a workload, measured in a fresh subprocess.

    ``target`` is ``"module:function"``; the function takes ``kwargs``, builds
    its inputs (and warms up), and returns a zero-argument callable that
    does the work to measure. Returns ``{"peak_extra": bytes, ...}``.
    """
    code = ("import json, sys; from bench.common import _probe_main; _probe_main(sys.argv[1], sys.argv[2])")
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, os.path.join(root, "src"), env.get("PYTHONPATH")]))
    out = subprocess.run([sys.executable, "-c", code, target, json.dumps(kwargs)], check=True,
                         capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _probe_main(target: str, kwargs_json: str) -> None:
    import importlib

    module, function = target.split(":")
    work = getattr(importlib.import_module(module), function)(**json.loads(kwargs_json))
    print(json.dumps(measure_in_this_process(work)))


# ------------------------------------------------------------------ table

def machine_header() -> str:
    import numpy
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (f"machine: {cores} CPU cores (os.cpu_count {os.cpu_count()}), load average {load}; "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {numpy.__version__}, "
            f"python {sys.version.split()[0]}")


def _cell(r: dict, key: str) -> str:
    if key == "ratio":
        value = r.get("ratio")
        return "-" if value is None else f"{value:.2f}{r.get('ratio_label', 'x')}"
    return str(r.get(key, "-") or "-")


def format_table(rows: Sequence[dict]) -> str:
    """A markdown table of ``rows`` (unknown keys are appended to the notes)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    known = set(COLUMNS) | {"ratio_label"}
    for r in rows:
        extra = "; ".join(f"{k}={v}" for k, v in r.items() if k not in known)
        cells = [_cell(r, k) for k in COLUMNS]
        if extra:
            cells[-1] = f"{cells[-1]}; {extra}" if cells[-1] != "-" else extra
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)
