"""BADGE (Ash et al. 2020): k-means++ seeding on gradient embeddings, without forming them.

The gradient embedding of example ``i`` is the gradient of the loss under
its predicted label ``y_i`` with respect to the last layer's weights:
``g_i = a_i (x) h_i`` with ``a_i = onehot(y_i) - p_i`` (C values, sign
irrelevant to distances) and ``h_i`` the penultimate features (d values).
It has C x d entries, but k-means++ needs only distances, and for outer
products ``<g_i, g_j> = <a_i, a_j> <h_i, h_j>``, so

    |g_i - g_c|^2 = |a_i|^2 |h_i|^2 + |a_c|^2 |h_c|^2 - 2 (a_i . a_c)(h_i . h_c).

A pick therefore costs one read of the factors instead of the (n, C d)
embeddings: they are copied once, transposed, into a (C + d, n) matrix
``M = [a^T; h^T]``, and two row-vector products, ``a_c^T`` with the top
of ``M`` and ``h_c^T`` with the rest, give both dot products for every
point in one read of ``M`` (the row-vector-times-wide-matrix layout reads
memory contiguously, where a matrix-vector product over (n, d) rows does not).
The state is O(n): the squared distance of each point to its nearest
center (no pool x centers matrix, no embedding matrix); the extra memory is
the copy ``M`` (a fraction (C + d) / (C d) of the embeddings) and a few
n-vectors. The work runs on the device the features are on, with the
thread policy of greedy k-centers on CPU (one thread per 64 MiB: every
small parallel region waits for descheduled threads on a shared machine).

Seeding follows Ash et al.'s code: the first center is the embedding of
largest norm, each next one a D^2 draw (probability proportional to the
squared distance to the nearest center), made exactly: one uniform number
from the seeded generator, located in the float64 cumulative sum.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from svp.progress import bar
from svp.selection.kcenters import pick_threads


def _factors(probs: np.ndarray | torch.Tensor, features: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``M = [a^T; h^T]`` of shape (C + d, n), float32, on the features' device (``a = onehot(argmax p) - p``)."""
    h = torch.as_tensor(features)
    h = h.reshape(len(h), -1)
    p = torch.as_tensor(probs).to(device=h.device, dtype=torch.float32)
    m = torch.empty((p.shape[1] + h.shape[1], len(h)), dtype=torch.float32, device=h.device)
    a = m[:p.shape[1]]
    torch.neg(p.t(), out=a)
    a[p.argmax(dim=1), torch.arange(len(p), device=h.device)] += 1.0
    m[p.shape[1]:].copy_(h.t())
    return m


def d2_draw(dist: torch.Tensor, picked: torch.Tensor, rng: np.random.Generator) -> int:
    """A D^2 draw: position ``i`` with probability ``dist[i] / dist.sum()`` (float64 sums)."""
    cumulative = torch.cumsum(dist, dim=0, dtype=torch.float64)
    total = float(cumulative[-1])
    if not total > 0:  # every point coincides with a center: any unpicked one will do
        return int(torch.nonzero(~picked)[0])
    u = rng.random() * total
    position = int(torch.searchsorted(cumulative, torch.tensor([u], dtype=torch.float64,
                                                                device=dist.device), right=True))
    if position >= len(dist) or dist[position] <= 0:  # u rounded onto the very end: the last positive point
        position = int(torch.nonzero(dist > 0)[-1])
    return position


def badge(probs: np.ndarray | torch.Tensor, features: np.ndarray | torch.Tensor, budget: int,
          rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """Positions of ``budget`` k-means++ seeds on the gradient embeddings of ``probs`` and ``features``.

    Parameters
    ----------
    probs : (n, C) array
        Class probabilities; the predicted label is their argmax.
    features : (n, d) array
        The last layer's inputs (penultimate features), numpy or torch; the
        work runs on the tensor's device, in float32.
    budget : int
        How many to pick (at most n).
    rng : numpy Generator, optional
        Draws the D^2 samples.

    Returns
    -------
    numpy.ndarray
        ``budget`` distinct int64 positions, in pick order.
    """
    rng = rng or np.random.default_rng()
    m = _factors(probs, features)
    n = m.shape[1]
    if budget > n:
        raise ValueError(f"budget {budget} exceeds the {n} pool points")
    with pick_threads(m):
        return np.asarray(_seed(m, int(torch.as_tensor(probs).shape[1]), budget, rng), dtype=np.int64)


def _seed(m: torch.Tensor, classes: int, budget: int, rng: np.random.Generator) -> list[int]:
    """The k-means++ picks over ``M`` (see :func:`badge` and the module docstring)."""
    n = m.shape[1]
    sq_norm = m[:classes].square().sum(dim=0) * m[classes:].square().sum(dim=0)
    dots = torch.empty((2, n), dtype=torch.float32, device=m.device)
    column = torch.empty(m.shape[0], dtype=torch.float32, device=m.device)
    picked = torch.zeros(n, dtype=torch.bool, device=m.device)
    dist = torch.full((n,), float("inf"), dtype=torch.float32, device=m.device)
    center = int(torch.argmax(sq_norm))
    picks = []
    with bar(total=budget, desc="badge", unit="pick") as progress:
        for _ in range(budget):
            picks.append(center)
            picked[center] = True
            progress.update(1)
            if len(picks) == budget:
                break
            column.copy_(m[:, center])  # [a_c, h_c] as a contiguous row (a strided one halves mm's speed)
            torch.mm(column[None, :classes], m[:classes], out=dots[:1])  # a . a_c for every point
            torch.mm(column[None, classes:], m[classes:], out=dots[1:])  # h . h_c for every point
            to_center = dots[0].mul_(dots[1]).mul_(-2.0).add_(sq_norm).add_(sq_norm[center]).clamp_(min=0.0)
            torch.minimum(dist, to_center, out=dist)
            dist.masked_fill_(picked, 0.0)  # a center is never drawn again, whatever the rounding says
            center = d2_draw(dist, picked, rng)
    return picks
