"""BADGE's k-means++ seeding: a straightforward distance-matrix implementation vs svp's.

Baseline (``matrix_badge``): what one writes first. It forms the gradient
embeddings ``(onehot(y) - p) (x) h`` (n x C d float32), keeps a float32
matrix of pool x centers squared distances, fills one column per pick
(one matrix-vector product over the embeddings, by the norm expansion),
takes each point's nearest-center distance as the minimum over the filled
columns, and draws the next center by D^2 from the float64 cumulative sum
(one uniform number per pick, as svp does).

svp (``svp.selection.badge.badge``): never forms the embeddings; a pick is
two matrix-vector products over the (n, C) and (n, d) factors, and the
state is one distance vector. Same first center, same draws: the picks
agree until a uniform number falls within rounding of a boundary of the
cumulative sum (the two compute the distances in other orders).
"""
from __future__ import annotations

import statistics

import numpy as np

from bench.common import alternate, median_ratio, mib, peak_memory, row, seconds, timed
from bench.kcenters import features
from svp.selection.badge import badge

FULL = dict(n=50_000, classes=10, d=128, budget=1_000, rounds=2)
QUICK = dict(n=5_000, classes=10, d=128, budget=200, rounds=2)


def inputs(n: int, classes: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Softmax probabilities of random logits and penultimate-like features (float32)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(n, classes))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    return probs.astype(np.float32), features(n, d, seed)


def matrix_badge(probs: np.ndarray, feats: np.ndarray, budget: int, seed: int) -> np.ndarray:
    """k-means++ on explicit gradient embeddings with a pool x centers distance matrix (the baseline)."""
    n = len(probs)
    a = -probs
    a[np.arange(n), probs.argmax(axis=1)] += 1.0
    emb = (a[:, :, None] * feats[:, None, :]).reshape(n, -1)
    sq = np.einsum("ij,ij->i", emb, emb)
    matrix = np.empty((n, budget), dtype=np.float32)
    rng = np.random.default_rng(seed)
    picks = [int(np.argmax(sq))]
    while len(picks) < budget:
        k, c = len(picks) - 1, picks[-1]
        np.maximum(sq + sq[c] - 2.0 * (emb @ emb[c]), 0.0, out=matrix[:, k])
        dist = matrix[:, :k + 1].min(axis=1)
        dist[picks] = 0.0
        cumulative = np.cumsum(dist, dtype=np.float64)
        picks.append(int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")))
    return np.asarray(picks)


def probe_ours(n: int, classes: int, d: int, budget: int):
    probs, feats = inputs(n, classes, d)
    badge(probs[:300], feats[:300], 5, np.random.default_rng(0))  # warm-up: imports, first calls
    return lambda: badge(probs, feats, budget, np.random.default_rng(0))


def probe_baseline(n: int, classes: int, d: int, budget: int):
    probs, feats = inputs(n, classes, d)
    matrix_badge(probs[:300], feats[:300], 5, 0)
    return lambda: matrix_badge(probs, feats, budget, 0)


def run(quick: bool) -> list[dict]:
    """Time both (alternating), compare the picks, measure both peaks."""
    cfg = QUICK if quick else FULL
    n, classes, d, budget = cfg["n"], cfg["classes"], cfg["d"], cfg["budget"]
    probs, feats = inputs(n, classes, d)
    picks = {}

    def side(name, fn):
        def timed_run() -> float:
            return timed(lambda: picks.__setitem__(name, fn()))
        return timed_run

    base_t, ours_t = alternate(side("base", lambda: matrix_badge(probs, feats, budget, 0)),
                               side("ours", lambda: badge(probs, feats, budget, np.random.default_rng(0))),
                               cfg["rounds"])
    ratio = median_ratio(base_t, ours_t)
    differ = np.flatnonzero(picks["base"] != picks["ours"])
    same_prefix = int(differ[0]) if len(differ) else budget
    embedding_bytes = n * classes * d * 4
    sizes = dict(n=n, classes=classes, d=d, budget=budget)
    mem_ours = peak_memory("bench.badge:probe_ours", **sizes)["peak_extra"]
    mem_base = peak_memory("bench.badge:probe_baseline", **sizes)["peak_extra"]
    workload = f"n={n:,}, {classes} classes x {d} features (embeddings {classes * d}), budget {budget:,}"
    agreement = ("identical picks in order" if same_prefix == budget else
                 f"identical picks for the first {same_prefix}/{budget} (then a draw fell within rounding of a "
                 "boundary of the cumulative sum)")
    notes = (f"{cfg['rounds']} alternating rounds, median ratio; same seed: {agreement}, "
             f"{len(np.intersect1d(picks['base'], picks['ours']))}/{budget} shared as sets; "
             f"ours' peak extra = {mem_ours / embedding_bytes:.3f}x the {mib(embedding_bytes)} gradient "
             f"embeddings (goal <= 2x; RSS above the start, so O(n) vectors that fit in memory the allocator already holds count "
             f"as 0); the baseline's holds the embeddings and the {n:,} x {budget:,} matrix")
    return [row("badge k-means++", workload, seconds(statistics.median(base_t)), seconds(statistics.median(ours_t)),
                ratio, "x faster", ">= 10x faster, <= 2x embeddings memory",
                met=ratio >= 10 and mem_ours <= 2 * embedding_bytes,
                memory=f"baseline {mib(mem_base)}, ours {mib(mem_ours)}", notes=notes)]
