"""Greedy k-centers (Sener & Savarese 2018) in O(n) extra memory.

Only the vector of each pool point's squared distance to its nearest
center is kept. Each pick takes the farthest point and updates that vector
with one pass over the features (``|x|^2 + |c|^2 - 2 x.c``), on the device
where the features live. No (centers x pool) matrix is ever formed and the
pool is never copied per pick.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from svp.engine.progress import bar

CHUNK_ROWS = 4096


def _sq_norms(x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,ij->i", x, x)


def nearest_sq_distances(pool: torch.Tensor, centers: torch.Tensor, pool_norms: torch.Tensor) -> torch.Tensor:
    """Squared distance from each pool row to its nearest center, chunked over centers."""
    best = torch.full((pool.shape[0],), float("inf"), dtype=pool.dtype, device=pool.device)
    for start in range(0, centers.shape[0], CHUNK_ROWS):
        chunk = centers[start:start + CHUNK_ROWS]
        d = pool_norms[:, None] + _sq_norms(chunk)[None, :] - 2.0 * (pool @ chunk.T)
        best = torch.minimum(best, d.min(dim=1).values)
    return best.clamp_(min=0)


def greedy_k_centers(pool: np.ndarray | torch.Tensor, budget: int,
                     centers: Optional[np.ndarray | torch.Tensor] = None,
                     rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """Positions (rows of ``pool``) of ``budget`` greedy k-center picks.

    Parameters
    ----------
    pool : (n, d) array
        Features of the unlabeled examples.
    budget : int
        How many to pick.
    centers : (m, d) array, optional
        Features of the already labeled examples. Without them the first
        pick is a random pool point (drawn with ``rng``).
    """
    x = torch.as_tensor(pool)
    if budget > x.shape[0]:
        raise ValueError(f"budget {budget} exceeds the {x.shape[0]} pool points")
    norms = _sq_norms(x)
    picks = np.empty(budget, dtype=np.int64)
    if centers is not None and len(centers):
        min_dist = nearest_sq_distances(x, torch.as_tensor(centers).to(x), norms)
        first = 0
    else:
        rng = rng or np.random.default_rng()
        picks[0] = int(rng.integers(x.shape[0]))
        min_dist = (norms + norms[picks[0]] - 2.0 * (x @ x[picks[0]])).clamp_(min=0)
        min_dist[picks[0]] = -1.0
        first = 1
    for i in bar(range(first, budget), total=budget - first, desc="k-centers", unit="pick"):
        j = int(torch.argmax(min_dist))
        picks[i] = j
        torch.minimum(min_dist, norms + norms[j] - 2.0 * (x @ x[j]), out=min_dist)
        min_dist[j] = -1.0  # never pick it again, whatever the rounding says
    return picks
