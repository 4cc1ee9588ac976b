"""ProbCover (Yehuda et al. 2022): label the centres of the delta-balls that cover the most uncovered points.

At low budgets the best labeled set is one whose examples are close to as
many other examples as possible. ProbCover places a ball of radius delta
around every point of the pool and the labeled set (features L2-normalised,
as the paper does: distances are those of cosine space, in [0, 2]), counts
a point as covered when it lies in the ball of a labeled or picked example,
and picks greedily, ``budget`` times, the pool point whose ball holds the
most uncovered points (ties: in a seeded random order, so that a pool
sorted by class or by source is not taken from its start). Once every point is
covered no ball adds anything and, as in the paper, the rest of the picks
are drawn at random (seeded).

The radius: the purity rule
    The points are clustered by k-means (seeded k-means++ and Lloyd's
    iterations, :func:`svp.selection.typiclust.kmeans`) into k = the number
    of classes clusters. A ball is pure when every point in it belongs to
    its centre's cluster; the purity of delta is the fraction of points
    whose ball is pure, and delta is the largest with purity >= ``purity``
    (alpha = 0.95 in the paper). The paper scans a grid of deltas; purity
    only changes at the distances ``r_x`` from each point ``x`` to the
    nearest point of another cluster (the ball of radius delta around
    ``x``, ``|y - x| < delta``, is pure exactly when ``delta <= r_x``), so
    the largest delta over all values is an order statistic of the
    ``r_x``, computed exactly: no grid to choose.

Cost and memory (the limit)
    Two passes over all pairs of points, in blocks of rows of about
    ``BLOCK_FLOATS`` similarities (one for the ``r_x``, one to build the
    graph): O(n^2 d) time for n points of d features, so bound n with
    ``--candidates`` on large pools. No n x n matrix is formed: the graph
    is kept as the list of the pool points in each ball (int32), 4 bytes
    per edge (twice that while it is assembled), O(n x average ball size).
    When the balls of the purity radius would hold more than ``MAX_EDGES``
    edges (1 GiB), the radius is lowered to the largest that fits (a
    smaller radius keeps the purity rule: purity only grows as delta
    shrinks) and a warning says so. The greedy is lazy (Minoux 1978's
    accelerated greedy): gains only shrink as points are covered, so a
    stale gain is an upper bound and only the top of a heap is recomputed;
    the picks are those of the plain greedy. Distances come from float32
    dot products of unit vectors (``|x - y|^2 = 2 - 2 x.y``): their error
    is about 1e-7 / radius, so radii below about 0.01 (balls around
    near-duplicates) are resolved only roughly.

When the rule gives no radius (fewer than ``MIN_POINTS_PER_CLASS`` points
per class, one class, or duplicates across clusters leaving no pure
radius), :func:`cover_picks` falls back to TypiClust (Hacohen et al. 2022),
the other low-budget method, and logs a warning.
"""
from __future__ import annotations

import heapq
import logging
import math
from dataclasses import dataclass, field
from typing import Iterator, NamedTuple, Optional

import numpy as np
import torch

from svp.progress import bar
from svp.selection.outputs import Outputs
from svp.selection.typiclust import kmeans, typiclust

log = logging.getLogger(__name__)

PURITY = 0.95  # alpha of the purity rule, as the paper
#: key of ``Outputs.extra``: the number of classes, where the outputs hold no probabilities (a cold start)
CLASSES_KEY = "num_classes"
MIN_POINTS_PER_CLASS = 5  # fewer points than this per cluster and the purity rule says nothing
BLOCK_FLOATS = 2**22  # similarities per block of rows (16 MiB)
MAX_EDGES = 2**28  # most neighbour entries the graph keeps (int32: 1 GiB)
HISTOGRAM_BINS = 4096  # of the pairs' similarities, to size the graph before it is built
_SIMILARITY_RANGE = (-1.001, 1.001)  # cosine similarities, with room for rounding


@dataclass(frozen=True)
class ProbCoverOptions:
    """ProbCover's own options."""

    purity: float = field(default=PURITY, metadata={
        "help": "the radius is the largest whose balls are pure (one k-means cluster) around this fraction of "
                "points (the paper's alpha)"})

    def __post_init__(self) -> None:
        if isinstance(self.purity, bool) or not isinstance(self.purity, (int, float)) \
                or not 0.0 < self.purity <= 1.0:
            raise ValueError(f"option purity={self.purity!r} of selection method 'probcover' must be in (0, 1]")


class BallGraph(NamedTuple):
    """Each point's ball as the pool positions in it: row ``i``'s are ``neighbors[indptr[i]:indptr[i + 1]]``."""

    indptr: np.ndarray  # (rows + 1,) int64
    neighbors: np.ndarray  # int32 pool positions, ascending within a row


def normalize(features: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Rows of ``features`` scaled to unit length (all-zero rows stay zero), float32 on their device."""
    x = torch.as_tensor(features).to(torch.float32)
    x = x.reshape(len(x), -1)
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


def _points(pool: np.ndarray | torch.Tensor, labeled: Optional[np.ndarray | torch.Tensor]) -> torch.Tensor:
    """The pool's normalised features, then the labeled examples' (the same tensor for every pass)."""
    x = torch.as_tensor(pool)
    x = x.reshape(len(x), -1)
    if labeled is not None and len(labeled):
        known = torch.as_tensor(labeled).to(device=x.device, dtype=x.dtype)
        x = torch.cat([x, known.reshape(len(known), -1)])
    return normalize(x)


def _blocks(n: int) -> Iterator[tuple[int, int]]:
    """Row ranges of the (n, n) similarities, about ``BLOCK_FLOATS`` at a time."""
    step = max(1, BLOCK_FLOATS // max(n, 1))
    for start in range(0, n, step):
        yield start, min(start + step, n)


def _similarities(x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Cosine similarities of rows ``start:stop`` to every row: one product of one shape per block, so that
    both passes see the very same numbers."""
    return torch.mm(x[start:stop], x.t())


def _foreign(x: torch.Tensor, clusters: torch.Tensor, pool_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's largest similarity to a row of another cluster (-inf when none), and a histogram of the
    similarities of every row to the pool rows (the graph's edges, counted before it is built)."""
    clusters = clusters.to(x.device)
    foreign = torch.empty(len(x), dtype=torch.float32, device=x.device)
    histogram = torch.zeros(HISTOGRAM_BINS, dtype=torch.float64, device=x.device)
    for start, stop in bar(list(_blocks(len(x))), desc="probcover radius", unit="block"):
        sims = _similarities(x, start, stop)
        histogram += torch.histc(sims[:, :pool_size], HISTOGRAM_BINS, *_SIMILARITY_RANGE).double()
        sims.masked_fill_(clusters[start:stop, None] == clusters[None, :], -math.inf)
        foreign[start:stop] = sims.amax(dim=1)
    return foreign, histogram


def _radius(similarity: float) -> float:
    """The distance between unit vectors of cosine ``similarity``."""
    return math.sqrt(max(0.0, 2.0 - 2.0 * similarity))


def _threshold(radius: float) -> float:
    """The cosine similarity above which unit vectors are closer than ``radius``."""
    return 1.0 - radius * radius / 2.0


def _pure_count(n: int, purity: float) -> int:
    """The fewest pure points out of ``n`` whose fraction (as ``count / n`` in floats) is at least ``purity``."""
    m = min(n, max(1, math.ceil(purity * n)))
    while m > 1 and (m - 1) / n >= purity:
        m -= 1
    while m < n and m / n < purity:
        m += 1
    return m


def _fitting_threshold(threshold: float, histogram: torch.Tensor) -> Optional[float]:
    """``threshold``, raised where needed so that at most ``MAX_EDGES`` similarities lie above it (None: even the
    top bin holds more)."""
    low, high = _SIMILARITY_RANGE
    width = (high - low) / HISTOGRAM_BINS
    above = torch.flip(torch.cumsum(torch.flip(histogram, [0]), 0), [0]).cpu().numpy()  # count in bin i or higher
    first = min(HISTOGRAM_BINS - 1, max(0, int((threshold - low) // width)))
    if above[first] <= MAX_EDGES:
        return threshold
    fitting = np.flatnonzero(above[first:] <= MAX_EDGES)
    return None if not len(fitting) else low + (first + int(fitting[0])) * width


def _purity_radius(x: torch.Tensor, clusters: torch.Tensor, purity: float, pool_size: int) -> Optional[float]:
    """The purity rule on normalised rows ``x`` (see the module docstring); None where it gives no radius."""
    foreign, histogram = _foreign(x, clusters, pool_size)
    # ball(x) = {y: sim(x, y) > t} is pure iff foreign[x] <= t; the largest radius is the smallest such t
    threshold = float(torch.kthvalue(foreign.cpu(), _pure_count(len(x), purity)).values)
    if not -1.5 < threshold < 1.0:  # -inf: one cluster holds them all; 1: duplicates across clusters
        return None
    fitting = _fitting_threshold(threshold, histogram)
    if fitting is None or fitting >= 1.0:
        log.warning("probcover: no radius keeps the graph within %d edges", MAX_EDGES)
        return None
    if fitting != threshold:
        log.warning("probcover: radius lowered from %.4f to %.4f to keep the graph within %d edges (about %d "
                    "MiB); bound the pool with --candidates to keep the purity rule's", _radius(threshold),
                    _radius(fitting), MAX_EDGES, MAX_EDGES * 4 // 2**20)
    return _radius(fitting)


def purity_radius(features: np.ndarray | torch.Tensor, clusters: np.ndarray | torch.Tensor,
                  purity: float = PURITY, *, pool_size: Optional[int] = None) -> Optional[float]:
    """The largest radius whose balls are pure around at least ``purity`` of the points (Yehuda et al. 2022).

    Parameters
    ----------
    features : (n, d) array
        The points (L2-normalised here: the radius is a distance in cosine space).
    clusters : (n,) int array
        Each point's cluster (the purity rule takes k-means with k = the number of classes).
    purity : float
        The fraction of points whose ball must hold only points of their own cluster (alpha, 0.95).
    pool_size : int, optional
        How many of the first rows are pool points, whose balls the graph keeps (all by default): the
        radius is lowered where those balls would hold more than ``MAX_EDGES`` entries.

    Returns
    -------
    float or None
        The radius (balls are ``|y - x| < radius``), or None when no radius is pure enough.
    """
    x = normalize(features)
    return _purity_radius(x, torch.as_tensor(clusters).to(torch.int64), purity,
                          len(x) if pool_size is None else pool_size)


def choose_radius(pool: np.ndarray | torch.Tensor, labeled: Optional[np.ndarray | torch.Tensor], classes: int,
                  rng: np.random.Generator, purity: float = PURITY) -> Optional[float]:
    """The purity rule's radius for the pool and labeled features: k-means into ``classes`` clusters (seeded by
    ``rng``) on both, then :func:`purity_radius`. None when there are too few points for it (fewer than
    ``MIN_POINTS_PER_CLASS`` per class, or one class) or no radius is pure enough."""
    x = _points(pool, labeled)
    if classes < 2 or len(x) < MIN_POINTS_PER_CLASS * classes:
        return None
    return _purity_radius(x, kmeans(x, classes, rng), purity, len(pool))


def ball_graph(x: torch.Tensor, pool_size: int, radius: float) -> BallGraph:
    """The pool points within ``radius`` of each row of the normalised ``x`` (the pool's rows first).

    A pool point always lies in its own ball, whatever the rounding of its similarity to itself.
    """
    threshold = _threshold(radius)
    counts, chunks = [], []
    for start, stop in bar(list(_blocks(len(x))), desc="probcover graph", unit="block"):
        inside = _similarities(x, start, stop)[:, :pool_size] > threshold
        own = torch.arange(start, min(stop, pool_size), device=x.device)
        inside[own - start, own] = True
        rows, columns = inside.nonzero(as_tuple=True)  # row-major: by row, then by column
        counts.append(torch.bincount(rows, minlength=stop - start).cpu().numpy())
        chunks.append(columns.to(torch.int32).cpu().numpy())
    indptr = np.zeros(len(x) + 1, dtype=np.int64)
    np.cumsum(np.concatenate(counts), out=indptr[1:])
    return BallGraph(indptr, np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int32))


def greedy_cover(graph: BallGraph, pool_size: int, budget: int,
                 ranks: Optional[np.ndarray] = None) -> tuple[list[int], np.ndarray]:
    """Up to ``budget`` pool positions, each covering the most points not covered yet.

    Ties go to the lower ``ranks`` (a permutation of the pool positions; the positions themselves by
    default). Rows past ``pool_size`` are the labeled examples: what their balls hold is covered from the
    start. Stops early once every pool point is covered. Returns the picks and the final coverage mask.
    """
    indptr, neighbors = graph
    ranks = np.arange(pool_size) if ranks is None else np.asarray(ranks)
    covered = np.zeros(pool_size, dtype=bool)
    covered[neighbors[indptr[pool_size]:]] = True
    gains = np.add.reduceat(~covered[neighbors[:indptr[pool_size]]], indptr[:pool_size], dtype=np.int64)
    # the top of the heap: the most gain, then the lowest rank
    heap = [(-gain, rank, point) for point, (gain, rank) in enumerate(zip(gains.tolist(), ranks.tolist()))]
    heapq.heapify(heap)
    picks: list[int] = []
    with bar(total=budget, desc="probcover", unit="pick") as progress:
        while heap and len(picks) < budget:
            bound, rank, point = heap[0]
            ball = neighbors[indptr[point]:indptr[point + 1]]
            gain = int(np.count_nonzero(~covered[ball]))
            if gain != -bound:  # stale: gains only shrink, so re-rank it with its true gain
                heapq.heapreplace(heap, (-gain, rank, point))
                continue
            if gain == 0:  # the largest gain left is nothing: every point is covered
                break
            heapq.heappop(heap)
            picks.append(point)
            covered[ball] = True
            progress.update(1)
    return picks, covered


def probcover(pool: np.ndarray | torch.Tensor, budget: int, labeled: Optional[np.ndarray | torch.Tensor] = None,
              *, radius: float, rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """Positions (rows of ``pool``) of ``budget`` ProbCover picks with balls of ``radius``, in pick order.

    Parameters
    ----------
    pool : (n, d) array
        Features of the unlabeled examples (numpy or torch; L2-normalised, float32, on their device).
    budget : int
        How many to pick (at most n).
    labeled : (m, d) array, optional
        Features of the labeled examples: what their balls hold is covered from the start.
    radius : float
        The balls' radius in cosine space (:func:`choose_radius` gives the purity rule's).
    rng : numpy Generator, optional
        Orders the ties between points of equal gain (a seeded permutation, so that no order of the pool
        favours its first rows), and draws the picks left once every point is covered.

    Returns
    -------
    numpy.ndarray
        ``budget`` distinct int64 positions: the greedy picks, then the random ones.
    """
    n = len(pool)
    if budget > n:
        raise ValueError(f"budget {budget} exceeds the {n} pool points")
    rng = rng or np.random.default_rng()
    graph = ball_graph(_points(pool, labeled), n, radius)
    picks, covered = greedy_cover(graph, n, budget, rng.permutation(n))
    log.info("probcover: radius %.4f, %d edges, %d greedy picks cover %.1f%% of the pool", radius,
             len(graph.neighbors), len(picks), 100.0 * covered.mean())
    if len(picks) < budget:  # every point covered: the rest at random, as the paper
        rest = np.setdiff1d(np.arange(n), np.asarray(picks, dtype=np.int64))
        drawn = rng.choice(rest, size=budget - len(picks), replace=False)
        picks.extend(int(p) for p in drawn)
    return np.asarray(picks, dtype=np.int64)


def number_of_classes(pool: Outputs, labeled: Optional[Outputs] = None) -> int:
    """The number of classes: ``pool.extra[CLASSES_KEY]``, else the width of the probabilities, else one more
    than the largest known label of the labeled examples.

    Raises
    ------
    ValueError
        When none of these is there.
    """
    if pool.extra.get(CLASSES_KEY) is not None:
        return int(pool.extra[CLASSES_KEY])
    for out in (pool, labeled):
        if out is not None and out.probs is not None:
            return int(np.shape(out.probs)[1])
    if labeled is not None and labeled.labels is not None and (np.asarray(labeled.labels) >= 0).any():
        return int(np.max(labeled.labels)) + 1
    raise ValueError(f"probcover needs the number of classes: give the outputs probabilities, or put it in "
                     f"pool.extra[{CLASSES_KEY!r}]")


def cover_picks(pool: Outputs, budget: int, labeled: Optional[Outputs], rng: np.random.Generator,
                purity: float = PURITY) -> tuple[np.ndarray, str]:
    """ProbCover's picks (dataset indices) with the purity rule's radius, and the method that made them:
    "probcover", or "typiclust" where the rule gives no radius (see the module docstring)."""
    known = labeled.features if labeled is not None and len(labeled.indices) else None
    radius = choose_radius(pool.features, known, number_of_classes(pool, labeled), rng, purity)
    if radius is None:
        log.warning("probcover: the purity rule gives no radius for %d points; picking by typiclust instead",
                    len(pool.indices) + (0 if known is None else len(known)))
        return pool.indices[typiclust(pool.features, budget, labeled=known, rng=rng)], "typiclust"
    return pool.indices[probcover(pool.features, budget, known, radius=radius, rng=rng)], "probcover"


def pick_probcover(pool: Outputs, budget: int, labeled: Optional[Outputs], rng: np.random.Generator, *,
                   options: ProbCoverOptions) -> np.ndarray:
    """The ``probcover`` method's picker (see :func:`cover_picks`)."""
    return cover_picks(pool, budget, labeled, rng, options.purity)[0]
