"""TypiClust (Hacohen et al. 2022): the most typical example of the largest uncovered clusters.

Cold-start friendly: with few labels, the most typical (dense) examples of
distinct regions teach more than the most uncertain. The labeled and pool
features are clustered by k-means into ``min(|labeled| + budget,
MAX_CLUSTERS)`` clusters; each pick takes, among the clusters holding the
fewest labeled or picked examples, the largest, and in it the unpicked
pool example of highest typicality: the inverse of its mean Euclidean
distance to its ``min(NEIGHBORS, cluster size - 1)`` nearest neighbours in
the cluster. Clusters smaller than ``MIN_CLUSTER_SIZE`` are used last.

Memory follows the rule of every diversity method here: k-means assigns
points to centers in blocks of ``BLOCK_ROWS`` rows (no pool x centers
matrix) and typicality is computed one cluster at a time, when first
needed, in blocks of rows of that cluster (``BLOCK_FLOATS`` at a time).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from svp.selection.badge import d2_draw

MAX_CLUSTERS = 500  # as the paper's code caps them
MIN_CLUSTER_SIZE = 5
NEIGHBORS = 20
KMEANS_ITERATIONS = 20
BLOCK_ROWS = 1024  # rows per block of k-means' assignment (a block x clusters buffer)
BLOCK_FLOATS = 2**22  # floats per block of a cluster's distances (16 MiB)


def assign(x: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Index of each row's nearest center, in blocks of rows (ties: the lower center)."""
    labels = torch.empty(len(x), dtype=torch.int64, device=x.device)
    center_norms = centers.square().sum(dim=1)
    for start in range(0, len(x), BLOCK_ROWS):
        rows = x[start:start + BLOCK_ROWS]
        # |x - c|^2 - |x|^2 = |c|^2 - 2 x.c: the row norms do not change the argmin
        labels[start:start + len(rows)] = torch.addmm(center_norms, rows, centers.t(), alpha=-2.0).argmin(dim=1)
    return labels


def _kmeanspp(x: torch.Tensor, k: int, rng: np.random.Generator) -> torch.Tensor:
    """``k`` seeded k-means++ centers (rows of ``x``), keeping only each row's distance to its nearest."""
    chosen = [int(rng.integers(len(x)))]
    picked = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    dist = torch.full((len(x),), float("inf"), dtype=torch.float64, device=x.device)
    sq = x.square().sum(dim=1)
    xt = x.t().contiguous()  # a row vector times (d, n) reads memory at full speed, unlike mv over (n, d) rows
    while len(chosen) < k:
        c = chosen[-1]
        picked[c] = True
        to_c = torch.mm(x[c][None], xt)[0].mul_(-2.0).add_(sq).add_(sq[c]).clamp_(min=0.0)  # |x - c|^2
        torch.minimum(dist, to_c.double(), out=dist)
        dist[c] = 0.0
        chosen.append(d2_draw(dist, picked, rng))
    return x[torch.as_tensor(chosen, device=x.device)].clone()


def kmeans(x: torch.Tensor, k: int, rng: np.random.Generator) -> torch.Tensor:
    """Cluster of each row after Lloyd's iterations from seeded k-means++ centers."""
    centers = _kmeanspp(x, k, rng)
    labels = assign(x, centers)
    for _ in range(KMEANS_ITERATIONS):
        sums = torch.zeros_like(centers).index_add_(0, labels, x)
        counts = torch.bincount(labels, minlength=k).to(x.dtype)
        filled = counts > 0  # an emptied cluster keeps its center
        centers[filled] = sums[filled] / counts[filled, None]
        new = assign(x, centers)
        if torch.equal(new, labels):
            break
        labels = new
    return labels


def typicality(x: torch.Tensor) -> torch.Tensor:
    """1 / mean distance to the ``min(NEIGHBORS, len(x) - 1)`` nearest other rows of ``x`` (inf when alone)."""
    k = min(NEIGHBORS, len(x) - 1)
    if k < 1:
        return torch.full((len(x),), float("inf"), device=x.device)
    out = torch.empty(len(x), dtype=x.dtype, device=x.device)
    rows = max(1, BLOCK_FLOATS // len(x))
    for start in range(0, len(x), rows):
        block = torch.cdist(x[start:start + rows], x)
        block[torch.arange(len(block)), torch.arange(start, start + len(block))] = float("inf")  # not itself
        out[start:start + len(block)] = 1.0 / torch.topk(block, k, dim=1, largest=False).values.mean(dim=1)
    return out


def typiclust(pool: np.ndarray | torch.Tensor, budget: int, labeled: Optional[np.ndarray | torch.Tensor] = None,
              rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """Positions (rows of ``pool``) of ``budget`` TypiClust picks, in pick order.

    Parameters
    ----------
    pool : (n, d) array
        Features of the unlabeled examples (numpy or torch; float32 on its device).
    budget : int
        How many to pick (at most n).
    labeled : (m, d) array, optional
        Features of the labeled examples: they take part in the clustering
        and count as covering their clusters.
    rng : numpy Generator, optional
        Seeds k-means' first centers.
    """
    x = torch.as_tensor(pool).to(torch.float32).reshape(len(pool), -1)
    if budget > len(x):
        raise ValueError(f"budget {budget} exceeds the {len(x)} pool points")
    known = 0 if labeled is None else len(labeled)
    if known:
        x = torch.cat([x, torch.as_tensor(labeled).to(device=x.device, dtype=torch.float32).reshape(known, -1)])
    n = len(x) - known
    k = min(known + budget, MAX_CLUSTERS, len(x))
    clusters = kmeans(x, k, rng or np.random.default_rng()).cpu().numpy()
    sizes = np.bincount(clusters, minlength=k)
    covered = np.bincount(clusters[n:], minlength=k)
    cached: dict[int, list[int]] = {}  # cluster -> its pool positions, most typical last
    open_ = np.ones(k, dtype=bool)  # an exhausted cluster is out
    small, clusters_by_number = sizes < MIN_CLUSTER_SIZE, np.arange(k)
    picks = []
    while len(picks) < budget:
        # fewest covered first, then not small, then the largest, then the lower cluster
        c = int(np.lexsort((clusters_by_number, -sizes, small, covered, ~open_))[0])
        if c not in cached:
            members = np.flatnonzero(clusters[:n] == c)
            scores = typicality(x[np.flatnonzero(clusters == c)])[:len(members)].cpu().numpy()
            cached[c] = list(members[np.argsort(-scores, kind="stable")][::-1])  # pop() gives the most typical
        if cached[c]:
            picks.append(int(cached[c].pop()))
            covered[c] += 1
        open_[c] = bool(cached[c])  # a cluster of labeled examples only closes at once
    return np.asarray(picks, dtype=np.int64)
