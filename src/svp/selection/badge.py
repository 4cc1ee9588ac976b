"""BADGE (Ash et al. 2020): k-means++ seeding on gradient embeddings, without forming them.

The gradient embedding of example ``i`` is the gradient of the loss under
its predicted label ``y_i`` with respect to the last layer's weights:
``g_i = a_i (x) h_i`` with ``a_i = onehot(y_i) - p_i`` (C values, sign
irrelevant to distances) and ``h_i`` the penultimate features (d values).
It has C x d entries, but k-means++ needs only distances, and for outer
products ``<g_i, g_j> = <a_i, a_j> <h_i, h_j>``, so

    |g_i - g_c|^2 = |a_i|^2 |h_i|^2 + |a_c|^2 |h_c|^2 - 2 (a_i . a_c)(h_i . h_c).

A pick therefore costs two matrix-vector products over the (n, C) and
(n, d) factors instead of one over (n, C d), and the state is O(n): the
squared distance of each point to its nearest center (no pool x centers
matrix, no embedding matrix). The work runs on the device the features
are on.

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


def _factors(probs: np.ndarray | torch.Tensor, features: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``a = onehot(argmax p) - p`` and ``h``, float32, on the features' device."""
    h = torch.as_tensor(features).to(torch.float32)
    p = torch.as_tensor(probs).to(device=h.device, dtype=torch.float32)
    a = -p
    a[torch.arange(len(p), device=h.device), p.argmax(dim=1)] += 1.0
    return a, h.flatten(1)


def _draw(dist: torch.Tensor, picked: torch.Tensor, rng: np.random.Generator) -> int:
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
    a, h = _factors(probs, features)
    n = len(a)
    if budget > n:
        raise ValueError(f"budget {budget} exceeds the {n} pool points")
    sq_a, sq_h = torch.einsum("ij,ij->i", a, a), torch.einsum("ij,ij->i", h, h)
    sq_norm = sq_a * sq_h
    picked = torch.zeros(n, dtype=torch.bool, device=h.device)
    dist = torch.full((n,), float("inf"), dtype=torch.float32, device=h.device)
    center = int(torch.argmax(sq_norm))
    picks = []
    with bar(total=budget, desc="badge", unit="pick") as progress:
        for _ in range(budget):
            picks.append(center)
            picked[center] = True
            progress.update(1)
            if len(picks) == budget:
                break
            cross = torch.mv(a, a[center]).mul_(torch.mv(h, h[center]))
            to_center = cross.mul_(-2.0).add_(sq_norm).add_(sq_norm[center]).clamp_(min=0.0)
            torch.minimum(dist, to_center, out=dist)
            dist.masked_fill_(picked, 0.0)  # a center is never drawn again, whatever the rounding says
            center = _draw(dist, picked, rng)
    return np.asarray(picks, dtype=np.int64)
