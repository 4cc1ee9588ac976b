"""Selection invariants and exact scores on known inputs."""
from __future__ import annotations

import numpy as np
import pytest

from svp.selection import FORGETTING_KEY, Outputs, select, top_k
from svp.selection.bald import mc_summary
from svp.selection.kcenters import greedy_k_centers
from svp.selection.uncertainty import entropy, least_confidence, margin


def _pool(n: int = 200, seed: int = 0) -> Outputs:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(5), size=n).astype(np.float32)
    features = rng.normal(size=(n, 8)).astype(np.float32)
    forgetting = rng.integers(0, 4, size=n).astype(np.float64)
    forgetting[::17] = np.inf
    indices = np.arange(1000, 1000 + 3 * n, 3)  # dataset indices, not positions
    labels = rng.integers(0, 5, size=n)
    mc_probs, mc_entropy = mc_summary(rng.dirichlet(np.ones(5), size=(4, n)))
    return Outputs(indices, probs, features, extra={FORGETTING_KEY: forgetting}, labels=labels,
                   mc_probs=mc_probs, mc_entropy=mc_entropy)


# budget, distinct pool indices, seeded: every method, in tests/test_registries.py


def test_random_depends_on_seed():
    assert not np.array_equal(select("random", _pool(), 20, seed=1), select("random", _pool(), 20, seed=2))


@pytest.mark.parametrize("budget", [0, 201])
def test_budget_out_of_range_is_refused(budget):
    with pytest.raises(ValueError, match="budget"):
        select("least_confidence", _pool(), budget)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown selection method 'oracle'"):
        select("oracle", _pool(), 3)


def test_uncertainty_scores_on_hand_computed_distributions():
    probs = np.array([[0.5, 0.3, 0.2], [1.0, 0.0, 0.0], [0.25, 0.25, 0.5]])
    np.testing.assert_allclose(least_confidence(probs), [0.5, 0.0, 0.5])
    expected_entropy = [-(0.5 * np.log(0.5) + 0.3 * np.log(0.3) + 0.2 * np.log(0.2)), 0.0,
                        -(2 * 0.25 * np.log(0.25) + 0.5 * np.log(0.5))]
    np.testing.assert_allclose(entropy(probs), expected_entropy)
    np.testing.assert_allclose(margin(probs), [-0.2, -1.0, -0.25])


def test_uncertainty_methods_pick_the_most_uncertain():
    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.6, 0.4], [0.99, 0.01]], dtype=np.float32)
    pool = Outputs(np.array([10, 11, 12, 13]), probs)
    for method in ("least_confidence", "entropy", "margin"):
        np.testing.assert_array_equal(select(method, pool, 2), [11, 12])


def test_top_k_breaks_ties_by_position():
    np.testing.assert_array_equal(top_k(np.array([1.0, 3.0, 3.0, 2.0, 3.0]), 3), [1, 2, 4])


def test_forgetting_ranks_never_learned_first():
    counts = np.array([2.0, np.inf, 0.0, 5.0, np.inf])
    pool = Outputs(np.arange(5) + 100, extra={FORGETTING_KEY: counts})
    np.testing.assert_array_equal(select("forgetting_events", pool, 3), [101, 104, 103])


def _brute_force_k_centers(pool: np.ndarray, budget: int, centers: np.ndarray) -> list[int]:
    """The textbook algorithm with the full distance matrix, in float64."""
    points = pool.astype(np.float64)
    dist = np.linalg.norm(points[:, None, :] - centers.astype(np.float64)[None, :, :], axis=2).min(axis=1)
    picks = []
    for _ in range(budget):
        j = int(np.argmax(dist))
        picks.append(j)
        dist = np.minimum(dist, np.linalg.norm(points - points[j], axis=1))
    return picks


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kcenters_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    pool = rng.normal(size=(300, 6)).astype(np.float32)
    centers = rng.normal(size=(10, 6)).astype(np.float32)
    ours = greedy_k_centers(pool, 25, centers=centers)
    assert list(ours) == _brute_force_k_centers(pool, 25, centers)


def test_kcenters_without_centers_starts_at_a_seeded_random_point():
    pool = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
    first = greedy_k_centers(pool, 10, rng=np.random.default_rng(5))
    again = greedy_k_centers(pool, 10, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(first, again)
    start = int(np.random.default_rng(5).integers(100))
    assert first[0] == start
    assert list(first[1:]) == _brute_force_k_centers(pool, 9, pool[[start]])


def test_kcenters_chunked_initialisation_matches(monkeypatch):
    """Labeled centers are processed in chunks; the chunk size must not matter."""
    rng = np.random.default_rng(3)
    pool, centers = rng.normal(size=(200, 5)).astype(np.float32), rng.normal(size=(50, 5)).astype(np.float32)
    whole = greedy_k_centers(pool, 15, centers=centers)
    monkeypatch.setattr("svp.selection.kcenters.CHUNK_ROWS", 7)
    np.testing.assert_array_equal(greedy_k_centers(pool, 15, centers=centers), whole)
