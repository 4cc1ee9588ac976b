"""ProbCover: the purity rule's radius and the greedy coverage against brute force over dense matrices."""
from __future__ import annotations

import numpy as np
import pytest

from svp.selection import CLASSES_KEY, METHODS, Outputs, ProbCoverOptions, method_options, select
from svp.selection import probcover as pc
from svp.selection.typiclust import typiclust


def _blobs(seed: int = 0, per_blob: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """60 2-D points in 3 blobs around directions 120 degrees apart (distinct after normalising), and their blob."""
    rng = np.random.default_rng(seed)
    angles = np.deg2rad([0.0, 120.0, 240.0])
    centers = 4.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    blob = np.repeat(np.arange(3), per_blob)
    return (centers[blob] + rng.normal(scale=0.8, size=(len(blob), 2))).astype(np.float32), blob


def _distances(features: np.ndarray) -> np.ndarray:
    x = features.astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.linalg.norm(x[:, None] - x[None], axis=2)


def _brute_force_radius(features: np.ndarray, clusters: np.ndarray, purity: float) -> float:
    """The largest candidate delta (every pairwise distance) whose balls |y - x| < delta are pure around at
    least ``purity`` of the points."""
    d = _distances(features)
    best = None
    for delta in np.unique(d):
        ball = d < delta
        pure = np.array([(clusters[ball[i]] == clusters[i]).all() for i in range(len(d))])
        if pure.mean() >= purity:
            best = delta
    return best


def _brute_force_greedy(pool: np.ndarray, labeled: np.ndarray, radius: float, ranks: np.ndarray) -> list[int]:
    """Plain greedy max coverage over the dense ball matrix (ties: the lower rank), until nothing is left."""
    n = len(pool)
    inside = _distances(np.concatenate([pool, labeled]))[:, :n] < radius  # rows: every point; columns: the pool
    covered = inside[n:].any(axis=0)
    picks = []
    while True:
        gains = (inside[:n] & ~covered).sum(axis=1)
        gains[picks] = -1
        best = int(np.lexsort((ranks, -gains))[0])
        if gains[best] <= 0:
            return picks
        picks.append(best)
        covered |= inside[best]


@pytest.mark.parametrize("labels, purity", [("blobs", 0.95), ("blobs", 0.8), ("blobs", 1.0), ("shuffled", 0.5)])
def test_purity_radius_is_the_largest_pure_enough_delta_of_a_brute_force_scan(labels, purity):
    features, clusters = _blobs()
    if labels == "shuffled":  # clusters that do not follow the points: small balls only
        clusters = np.random.default_rng(1).permutation(clusters)
    radius = pc.purity_radius(features, clusters, purity)
    expected = _brute_force_radius(features, clusters, purity)
    assert radius == pytest.approx(expected, rel=1e-4)
    d = _distances(features)
    pure = [(clusters[d[i] < radius * (1 - 1e-4)] == clusters[i]).all() for i in range(len(d))]
    assert np.mean(pure) >= purity


def test_kmeans_with_the_number_of_classes_finds_the_blobs_radius():
    features, blob = _blobs(2)
    radius = pc.choose_radius(features[:50], features[50:], 3, np.random.default_rng(0))
    assert radius == pytest.approx(_brute_force_radius(features, blob, pc.PURITY), rel=1e-4)
    assert radius > 0.5  # balls as wide as the space between the blobs allows


def _points(seed: int, n: int = 80, m: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)).astype(np.float32), rng.normal(size=(m, 3)).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greedy_picks_are_a_brute_force_greedy_then_random(seed):
    pool, labeled = _points(seed)
    d = _distances(np.concatenate([pool, labeled])).ravel()
    candidates = np.linspace(0.4, 0.5, 101)
    radius = float(candidates[np.argmax([np.abs(d - r).min() for r in candidates])])
    assert np.abs(d - radius).min() > 1e-4  # no pair on the boundary, where float32 and float64 may disagree
    greedy = _brute_force_greedy(pool, labeled, radius, np.random.default_rng(0).permutation(len(pool)))
    budget = len(greedy) + 5
    picks = pc.probcover(pool, budget, labeled, radius=radius, rng=np.random.default_rng(0))
    assert picks.tolist()[:len(greedy)] == greedy  # the same point at each step, ties in the seeded order
    assert len(picks) == budget and len(set(picks.tolist())) == budget and picks.max() < len(pool)
    assert 4 < len(greedy) < len(pool) - 5
    again = pc.probcover(pool, budget, labeled, radius=radius, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(again, picks)  # the random rest is seeded


def test_labeled_balls_count_as_covered():
    groups = np.array([0, 0, 0, 1, 1, 2])  # three points close together, two, one apart
    pool = np.array([[1, 0], [1, 0.05], [1, -0.05], [0, 1], [0.05, 1], [-1, 0]], dtype=np.float32)
    assert groups[pc.probcover(pool, 3, radius=0.2, rng=np.random.default_rng(0))].tolist() == [0, 1, 2]
    picks = pc.probcover(pool, 4, pool[[3]], radius=0.2, rng=np.random.default_rng(0))
    assert groups[picks[:2]].tolist() == [0, 2]  # the labeled point covers the pair: nothing left to gain there
    assert len(set(picks.tolist())) == 4


def test_ties_follow_a_seeded_order_not_the_pool_order():
    pool = np.eye(6, dtype=np.float32)  # six points far apart: every ball holds one
    first = {int(pc.probcover(pool, 1, radius=0.5, rng=np.random.default_rng(seed))[0]) for seed in range(20)}
    assert len(first) > 1
    x = pc.normalize(pool)
    assert pc.greedy_cover(pc.ball_graph(x, 6, 0.5), 6, 3)[0] == [0, 1, 2]  # ranks default to the positions
    assert pc.greedy_cover(pc.ball_graph(x, 6, 0.5), 6, 3, np.array([5, 4, 3, 2, 1, 0]))[0] == [5, 4, 3]


def _outputs(features: np.ndarray, first: int, classes: int = 3) -> Outputs:
    rng = np.random.default_rng(first)
    return Outputs(np.arange(first, first + len(features)), probs=rng.dirichlet(np.ones(classes), len(features)),
                   features=features)


def test_the_method_picks_distinct_unlabeled_indices_repeatably():
    features, _ = _blobs(3)
    pool, labeled = _outputs(features[:54], 100), _outputs(features[54:], 0)
    chosen = select("probcover", pool, 12, labeled=labeled, seed=4)
    assert len(set(chosen.tolist())) == 12 and np.isin(chosen, pool.indices).all()
    np.testing.assert_array_equal(select("probcover", _outputs(features[:54], 100), 12, labeled=labeled, seed=4),
                                  chosen)
    rng = np.random.default_rng(4)  # as select draws: k-means' seeds, then the order of ties
    radius = pc.choose_radius(features[:54], features[54:], 3, rng)
    greedy = _brute_force_greedy(features[:54], features[54:], radius, rng.permutation(54))
    assert chosen.tolist()[:len(greedy)] == (100 + np.array(greedy)).tolist()


def test_the_number_of_classes_comes_from_extra_probs_or_labels():
    features, _ = _blobs()
    assert pc.number_of_classes(Outputs(np.arange(5), features=features, extra={CLASSES_KEY: 7})) == 7
    assert pc.number_of_classes(_outputs(features, 0, classes=4)) == 4
    labeled = Outputs(np.arange(3), labels=np.array([0, 5, -1]))
    assert pc.number_of_classes(Outputs(np.arange(5), features=features), labeled) == 6
    with pytest.raises(ValueError, match=r"probcover needs the number of classes.*'num_classes'"):
        select("probcover", Outputs(np.arange(60), features=features), 3)


def test_too_few_points_for_the_rule_fall_back_to_typiclust():
    features, _ = _blobs(per_blob=3)  # 9 points for 3 classes: fewer than 5 a class
    pool = _outputs(features, 0)
    chosen, method = pc.cover_picks(pool, 4, None, np.random.default_rng(0))
    assert method == "typiclust"
    np.testing.assert_array_equal(chosen, typiclust(features, 4, rng=np.random.default_rng(0)))


def test_the_graph_is_kept_within_max_edges_by_a_smaller_radius(monkeypatch):
    features, blob = _blobs()
    full = pc.purity_radius(features, blob)
    x = pc.normalize(features)
    assert len(pc.ball_graph(x, len(x), full).neighbors) > 600
    monkeypatch.setattr(pc, "MAX_EDGES", 600)
    capped = pc.purity_radius(features, blob)
    assert capped < full and len(pc.ball_graph(x, len(x), capped).neighbors) <= 600


def test_purity_is_an_option_checked_at_the_edge():
    assert METHODS["probcover"].options is ProbCoverOptions
    assert method_options("probcover", {"purity": 0.9}) == ProbCoverOptions(0.9)
    with pytest.raises(ValueError, match=r"option purity=1.5 of selection method 'probcover' must be in \(0, 1\]"):
        method_options("probcover", {"purity": 1.5})
