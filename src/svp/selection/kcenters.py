"""Greedy k-centers (Sener & Savarese 2018) without a distance matrix.

Only the vector of each pool point's squared distance to its nearest
center is kept (negated: ``neg = -min_c |x - c|^2``), on the device where
the features live; nothing of size (centers x pool) is formed and the pool
is never copied per pick.

Distances by one matrix product
    The features are copied once into a transposed, augmented matrix ``A``
    of shape (d + 2, n) whose columns are ``[x, 1, |x|^2]``. For a center
    ``c`` and ``v = [2c, -|c|^2, -1]``, ``v @ A = 2 x.c - |c|^2 - |x|^2 =
    -|x - c|^2`` for every ``x`` at once, written into a preallocated
    buffer; a ``maximum`` then folds it into ``neg``.

Several picks per pass over the features
    Reading ``A`` is the whole cost of a pick, and the next picks are
    almost always among the farthest points now. So each pass takes the
    ``width`` farthest points as candidates and computes all their distance
    rows in one ``mm`` (one read of ``A`` for up to ``MAX_CANDIDATES``
    rows). The picks then go on exactly as in the one-at-a-time algorithm
    (argmax of the current distances, then fold in that center's row)
    for as long as the argmax is a candidate; the first pick that is not
    starts the next pass. The picks are therefore the greedy algorithm's;
    ``width`` adapts to how many candidates the last pass used (the data
    decides; on Gaussian and clustered features nearly all are).

Threads on CPU
    The picks use one intra-op thread per ``PICK_GRAIN_BYTES`` of
    features (at most torch's thread count). Every pick ends in a barrier
    across the threads, and on a machine whose cores are shared a
    descheduled thread holds that barrier for a scheduler time slice, which
    costs more than a small pick gains from a second thread.

Memory: ``A`` (one copy of the features, plus 2/d), the candidate rows
(``MAX_CANDIDATES`` x n) and O(n) vectors.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Optional

import numpy as np
import torch

from svp.progress import bar

# Rows of the pool, and centers, per block of the initial distance
# computation: the block buffer holds CHUNK_ROWS**2 floats (4 MiB).
CHUNK_ROWS = 1024
# Bytes of the feature matrix per intra-op thread on CPU (see above).
PICK_GRAIN_BYTES = 64 * 2**20
# Most candidate distance rows computed per pass over the features.
MAX_CANDIDATES = 32


@contextlib.contextmanager
def pick_threads(x: torch.Tensor) -> Iterator[None]:
    """Limit torch's intra-op threads for k-centers over ``x`` on CPU, restoring them after."""
    before = torch.get_num_threads()
    wanted = max(1, min(before, x.numel() * 4 // PICK_GRAIN_BYTES))  # bytes of float32 features
    if x.device.type != "cpu" or wanted == before:
        yield
        return
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _augmented_transpose(x: torch.Tensor) -> torch.Tensor:
    """``[x.T; 1; |x|^2]`` of shape (d + 2, n), float32, on ``x``'s device."""
    n, d = x.shape
    a = torch.empty((d + 2, n), dtype=torch.float32, device=x.device)
    a[:d].copy_(x.t())
    a[d].fill_(1.0)
    for start in range(0, n, CHUNK_ROWS):  # row blocks: no (n, d) temporary
        rows = a[:d, start:start + CHUNK_ROWS]
        torch.sum(rows.square(), dim=0, out=a[d + 1, start:start + CHUNK_ROWS])
    return a


def _neg_nearest_sq_distances(a: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """``-min_c |x - c|^2`` for every pool column of ``a``, in blocks of pool rows x centers."""
    d, n = a.shape[0] - 2, a.shape[1]
    centers = centers.to(device=a.device, dtype=torch.float32)
    center_norms = torch.einsum("ij,ij->i", centers, centers)
    best = torch.full((n,), -float("inf"), dtype=torch.float32, device=a.device)
    block = torch.empty((CHUNK_ROWS, CHUNK_ROWS), dtype=torch.float32, device=a.device)
    for c0 in range(0, centers.shape[0], CHUNK_ROWS):
        chunk = centers[c0:c0 + CHUNK_ROWS]
        neg_norms = -center_norms[c0:c0 + CHUNK_ROWS]
        for r0 in range(0, n, CHUNK_ROWS):
            rows = a[:d, r0:r0 + CHUNK_ROWS]
            out = block[:rows.shape[1], :chunk.shape[0]]
            torch.addmm(neg_norms, rows.t(), chunk.t(), alpha=2.0, out=out)  # 2 x.c - |c|^2
            torch.maximum(best[r0:r0 + rows.shape[1]], out.amax(dim=1), out=best[r0:r0 + rows.shape[1]])
    return best.sub_(a[d + 1])


class _Distances:
    """``neg`` and the candidate distance rows, in buffers allocated once."""

    def __init__(self, x: torch.Tensor, a: torch.Tensor, neg: torch.Tensor) -> None:
        self.x, self.a, self.neg = x, a, neg
        self.d = a.shape[0] - 2
        rows = min(MAX_CANDIDATES, a.shape[1])
        self.vectors = torch.empty((rows, self.d + 2), dtype=torch.float32, device=a.device)
        self.vectors[:, self.d + 1] = -1.0
        self.rows = torch.empty((rows, a.shape[1]), dtype=torch.float32, device=a.device)
        # On CPU the per-pick vector work goes through NumPy views of the same
        # memory: single-threaded SIMD loops, without torch's per-call dispatch and thread pool.
        self.host = (neg.numpy(), self.rows.numpy()) if a.device.type == "cpu" else None

    def compute(self, candidates: torch.Tensor) -> dict[int, int]:
        """Distance rows of ``candidates`` (pool positions); returns position -> row."""
        k, d = len(candidates), self.d
        vectors = self.vectors[:k]
        torch.mul(self.x.index_select(0, candidates).to(torch.float32), 2.0, out=vectors[:, :d])
        torch.neg(self.a[d + 1].index_select(0, candidates), out=vectors[:, d])
        torch.mm(vectors, self.a, out=self.rows[:k])  # -|x - c|^2 for every x and candidate c
        return {position: row for row, position in enumerate(candidates.tolist())}

    def add_center(self, position: int, row: int) -> None:
        """Make pool point ``position`` a center, its distances being candidate row ``row``."""
        neg = self.neg
        if self.host is not None:
            neg, rows = self.host
            np.maximum(neg, rows[row], out=neg)
        else:
            torch.maximum(neg, self.rows[row], out=neg)
        neg[position] = float("inf")  # never pick it again, whatever the rounding says

    def farthest(self) -> int:
        """Position of the point farthest from its nearest center (the first of ties)."""
        if self.host is not None:
            return int(np.argmin(self.host[0]))
        return int(torch.argmin(self.neg))

    def candidates(self, farthest: int, width: int) -> torch.Tensor:
        """The ``width`` farthest points, ``farthest`` among them whatever the ties."""
        chosen = torch.topk(self.neg, width, largest=False, sorted=False).indices
        if not bool((chosen == farthest).any()):
            chosen[-1] = farthest
        return chosen


def greedy_k_centers(pool: np.ndarray | torch.Tensor, budget: int,
                     centers: Optional[np.ndarray | torch.Tensor] = None,
                     rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """Positions (rows of ``pool``) of ``budget`` greedy k-center picks.

    Each pick is the pool point farthest (Euclidean) from its nearest
    center; it then becomes a center. Ties go to the lower position.

    Parameters
    ----------
    pool : (n, d) array
        Features of the unlabeled examples (numpy or torch, any float
        dtype; computed in float32 on the tensor's device).
    budget : int
        How many to pick.
    centers : (m, d) array, optional
        Features of the already labeled examples. Without them the first
        pick is a random pool point (drawn with ``rng``).
    rng : numpy Generator, optional
        Draws the first pick when there are no centers.

    Returns
    -------
    numpy.ndarray
        ``budget`` distinct int64 row positions, in pick order.
    """
    x = torch.as_tensor(pool)
    if budget > x.shape[0]:
        raise ValueError(f"budget {budget} exceeds the {x.shape[0]} pool points")
    with pick_threads(x):
        return np.asarray(_pick(x, _augmented_transpose(x), budget, centers, rng), dtype=np.int64)


def _pick(x: torch.Tensor, a: torch.Tensor, budget: int, centers: Optional[np.ndarray | torch.Tensor],
          rng: Optional[np.random.Generator]) -> list[int]:
    """The picks in order (see :func:`greedy_k_centers` and the module docstring)."""
    n = x.shape[0]
    picks: list[int] = []
    if centers is not None and len(centers):
        dist = _Distances(x, a, _neg_nearest_sq_distances(a, torch.as_tensor(centers)))
        farthest = dist.farthest()
    else:  # no centers: start at a random point, the farthest from nowhere
        dist = _Distances(x, a, torch.full((n,), -float("inf"), dtype=torch.float32, device=x.device))
        farthest = int((rng or np.random.default_rng()).integers(n))
    width = min(8, len(dist.rows))
    with bar(total=budget, desc="k-centers", unit="pick") as progress:
        while len(picks) < budget:
            rows = dist.compute(dist.candidates(farthest, width))
            used = 0
            while farthest in rows and len(picks) < budget:
                picks.append(farthest)
                dist.add_center(farthest, rows[farthest])
                farthest = dist.farthest()
                used += 1
            progress.update(used)
            width = min(len(dist.rows), max(1, 2 * used))
    return picks
