"""Greedy k-centers: the original's distance-matrix algorithm vs svp's.

Baseline (``original_k_center_greedy``) is the algorithm of the original
implementation (``svp/common/selection/k_center_greedy.py``): a float32
matrix of (|labeled| + budget) x |pool| distances, filled by
``scipy.spatial.distance.cdist`` from each pick to the remaining pool,
selected with a boolean mask (a copy of the remaining rows every pick).

The baseline at full budget takes minutes, so it is timed on a prefix of
its picks and extrapolated: its per-pick cost is proportional to the
remaining pool (the copy and the cdist both are), so the prefix's mean
per-pick time is scaled by the remaining pool of every later pick. svp's
``greedy_k_centers`` runs the full budget.
"""
from __future__ import annotations

import statistics
import time
from typing import Optional

import numpy as np
import scipy.spatial.distance
import torch

from bench.common import alternate, median_ratio, mib, peak_memory, row, seconds, timed
from svp.selection.kcenters import greedy_k_centers

FULL = dict(n=50_000, d=128, labeled=1_000, budget=5_000, prefix=300, rounds=3, check=(10_000, 200, 1_000))
QUICK = dict(n=10_000, d=128, labeled=200, budget=1_000, prefix=50, rounds=2, check=(3_000, 100, 300))


def original_k_center_greedy(X: np.ndarray, s: np.ndarray, b: int, stop_after: Optional[int] = None,
                             marks: Optional[list] = None) -> np.ndarray:
    """The original implementation, line for line; ``stop_after`` ends it after that many picks.

    ``marks`` (a list) receives ``time.perf_counter()`` when the initial
    distance matrix is done, so the picks can be timed apart.
    """
    n = X.shape[0]
    p = np.setdiff1d(np.arange(n), s, assume_unique=True)  # pool indices
    sel = np.empty(b, dtype=np.int64)
    sl = len(s)
    D = np.zeros([sl + b, len(p)], dtype=np.float32)
    D[:sl] = scipy.spatial.distance.cdist(X[s], X[p], metric="euclidean")
    mins = np.min(D[:sl], axis=0)
    cols = np.ones(len(p), dtype=bool)
    if marks is not None:
        marks.append(time.perf_counter())
    for i in range(b if stop_after is None else stop_after):
        j = np.argmax(mins)
        u = p[j]
        sel[i] = u
        if i == b - 1:
            break
        mins[j] = -1
        cols[j] = False
        r = sl + i + 1
        D[r, cols] = scipy.spatial.distance.cdist(X[u:u + 1], X[p[cols]])[0]
        mins = np.minimum(mins, D[r])
    return sel[: b if stop_after is None else stop_after]


def features(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Penultimate-layer-like features: ReLU of a 20-cluster Gaussian mixture, float32."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(20, d)).astype(np.float32)
    x = means[rng.integers(0, 20, size=n)]
    x += rng.normal(scale=0.7, size=(n, d)).astype(np.float32)
    return np.maximum(x, 0, out=x)


def ours(X: np.ndarray, labeled: int, budget: int) -> np.ndarray:
    """svp's picks as dataset rows of ``X`` (the first ``labeled`` rows are the centers)."""
    return labeled + greedy_k_centers(X[labeled:], budget, centers=X[:labeled])


def extrapolate(per_pick: float, pool: int, prefix: int, budget: int) -> float:
    """Seconds of ``budget - 1`` baseline picks from the per-pick mean of the first ``prefix``.

    Each pick's cost is proportional to the pool still unselected.
    """
    measured_mean = pool - (prefix - 1) / 2
    remaining = np.arange(pool, pool - (budget - 1), -1, dtype=np.float64)
    return per_pick * remaining.sum() / measured_mean


def full_budget_agreement(n: int, labeled: int, budget: int, d: int = 128) -> tuple[int, int]:
    """(same picks in the same order, same picks as sets) of a complete baseline run vs svp's, smaller size."""
    X = features(n, d, seed=1)
    base = original_k_center_greedy(X, np.arange(labeled), budget)
    mine = ours(X, labeled, budget)
    return int((base == mine).sum()), len(np.intersect1d(base, mine))


# ------------------------------------------------------------ memory probes

def probe_baseline(n: int, d: int, labeled: int, budget: int, picks: int):
    X = features(n, d)
    original_k_center_greedy(X[:300], np.arange(10), 5)  # warm-up: imports, first calls
    return lambda: original_k_center_greedy(X, np.arange(labeled), budget, stop_after=picks)


def probe_ours(n: int, d: int, labeled: int, budget: int):
    X = features(n, d)
    ours(X[:300], 10, 5)
    return lambda: ours(X, labeled, budget)


# ----------------------------------------------------------------- timing

def _read_bandwidth(shape: tuple[int, int], repeats: int = 7) -> float:
    """Bytes per second of ``torch.sum`` over a float32 array of ``shape`` (best of ``repeats``)."""
    a = torch.ones(shape, dtype=torch.float32)
    a.sum()
    return a.numel() * 4 / min(timed(a.sum) for _ in range(repeats))


def _time_baseline(X: np.ndarray, labeled: int, budget: int, prefix: int, out: dict) -> float:
    marks: list = []
    start = time.perf_counter()
    out["picks"] = original_k_center_greedy(X, np.arange(labeled), budget, stop_after=prefix, marks=marks)
    end = time.perf_counter()
    out.setdefault("init", []).append(marks[0] - start)
    out.setdefault("per_pick", []).append((end - marks[0]) / prefix)
    pool = len(X) - labeled
    total = (marks[0] - start) + extrapolate((end - marks[0]) / prefix, pool, prefix, budget)
    out.setdefault("total", []).append(total)
    return total


def _time_ours(X: np.ndarray, labeled: int, budget: int, out: dict) -> float:
    out.setdefault("init", []).append(timed(lambda: ours(X, labeled, 1)))
    start = time.perf_counter()
    out["picks"] = ours(X, labeled, budget)
    total = time.perf_counter() - start
    out.setdefault("total", []).append(total)
    return total


def run(quick: bool) -> list[dict]:
    """Time both (alternating), compare picks, measure peak memory and bandwidth."""
    cfg = QUICK if quick else FULL
    n, d, labeled, budget, prefix = cfg["n"], cfg["d"], cfg["labeled"], cfg["budget"], cfg["prefix"]
    X = features(n, d)
    base, mine = {}, {}
    bandwidth = []

    def ours_round() -> float:
        bandwidth.append(_read_bandwidth((d + 2, n - labeled)))
        return _time_ours(X, labeled, budget, mine)

    base_t, ours_t = alternate(lambda: _time_baseline(X, labeled, budget, prefix, base), ours_round,
                               cfg["rounds"])
    ratio = median_ratio(base_t, ours_t)
    same = int((base["picks"] == mine["picks"][:prefix]).sum())
    check_n, check_labeled, check_budget = cfg["check"]
    in_order, as_set = full_budget_agreement(check_n, check_labeled, check_budget, d)
    ours_per_pick = statistics.median((t - i) / (budget - 1) for t, i in zip(mine["total"], mine["init"]))
    pick_bytes = (d + 2) * (n - labeled) * 4  # one read of svp's (d + 2) x pool matrix
    effective = pick_bytes / ours_per_pick
    feature_bytes = X.nbytes
    mem_ours = peak_memory("bench.kcenters:probe_ours", n=n, d=d, labeled=labeled, budget=budget)["peak_extra"]
    mem_base = peak_memory("bench.kcenters:probe_baseline", n=n, d=d, labeled=labeled, budget=budget,
                           picks=prefix)["peak_extra"]
    matrix_bytes = (labeled + budget) * (n - labeled) * 4  # the distance matrix a full run fills
    workload = f"n={n:,} d={d} float32, {labeled:,} labeled, budget {budget:,}"
    notes = (f"baseline timed on its first {prefix} picks (x{cfg['rounds']} rounds), per-pick cost "
             f"extrapolated to {budget:,} picks in proportion to the remaining pool; "
             f"per pick: baseline {seconds(statistics.median(base['per_pick']))}, ours "
             f"{seconds(ours_per_pick)}; reading the features once per pick would need "
             f"{effective / 1e9:.0f} GB/s = {effective / max(bandwidth):.0%} of this machine's read bandwidth "
             f"(best torch.sum over a same-size array: {max(bandwidth) / 1e9:.0f} GB/s): svp reads them once "
             f"per pass of up to 32 picks, so the bound is the distance arithmetic "
             f"({2 * pick_bytes / 4 / ours_per_pick / 1e9:.0f} GFLOP/s); "
             f"first {prefix} picks identical: {same}/{prefix}; complete runs of both at n={check_n:,}, "
             f"{check_labeled} labeled, budget {check_budget:,}: {in_order}/{check_budget} identical in order, "
             f"{as_set}/{check_budget} as sets; "
             f"ours' peak extra = {mem_ours / feature_bytes:.2f}x the {mib(feature_bytes)} features "
             f"(goal <= 2x); baseline memory: at least its full distance matrix ({labeled + budget:,} x "
             f"{n - labeled:,} float32), measured peak over the {prefix}-pick prefix {mib(mem_base)}")
    return [row("k-centers", workload, seconds(statistics.median(base["total"])) + " (extrapolated)",
                seconds(statistics.median(mine["total"])), ratio, "x faster", ">= 15x faster, <= 2x features memory",
                met=ratio >= 15 and mem_ours <= 2 * feature_bytes and same == prefix and as_set == check_budget,
                memory=f"baseline >= {mib(max(matrix_bytes, mem_base))}, ours {mib(mem_ours)}", notes=notes)]
