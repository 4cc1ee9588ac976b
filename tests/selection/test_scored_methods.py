"""BALD, BADGE, EL2N/GraNd and stochastic sampling against references computed by hand or by brute force."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from svp.selection import EARLY_SCORES_KEY, METHODS, Outputs, balanced_top_k, method_names, select
from svp.selection.badge import badge
from svp.selection.bald import bald, mc_summary
from svp.selection.el2n import el2n, grand
from svp.selection.sampling import sampling_keys


def test_bald_on_given_mc_probabilities():
    # example 0: two confident samples that disagree; 1: two samples that agree; 2: both uniform
    mc = np.array([[[1.0, 0.0], [0.9, 0.1], [0.5, 0.5]],
                   [[0.0, 1.0], [0.9, 0.1], [0.5, 0.5]]])
    mean_probs, mean_entropy = mc_summary(mc)
    np.testing.assert_allclose(mean_probs, [[0.5, 0.5], [0.9, 0.1], [0.5, 0.5]])
    h01 = -(0.9 * np.log(0.9) + 0.1 * np.log(0.1))
    np.testing.assert_allclose(mean_entropy, [0.0, h01, np.log(2)])
    np.testing.assert_allclose(bald(mean_probs, mean_entropy), [np.log(2), 0.0, 0.0], atol=1e-12)
    pool = Outputs(np.array([7, 8, 9]), mc_probs=mean_probs, mc_entropy=mean_entropy)
    assert list(select("bald", pool, 1)) == [7]


def _reference_badge(probs: np.ndarray, features: np.ndarray, budget: int, seed: int) -> list[int]:
    """k-means++ on explicit float64 gradient embeddings with every distance, drawing as badge() does."""
    probs, features = probs.astype(np.float64), features.astype(np.float64)
    a = -probs
    a[np.arange(len(a)), probs.argmax(axis=1)] += 1.0
    g = (a[:, :, None] * features[:, None, :]).reshape(len(a), -1)
    rng = np.random.default_rng(seed)
    picks = [int(np.argmax((g ** 2).sum(axis=1)))]
    while len(picks) < budget:
        dist = ((g[:, None, :] - g[picks][None, :, :]) ** 2).sum(axis=2).min(axis=1)
        cumulative = np.cumsum(dist)
        picks.append(int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")))
    return picks


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_badge_matches_float64_kmeanspp_with_the_same_seed(seed):
    rng = np.random.default_rng(100 + seed)
    probs = rng.dirichlet(np.ones(4) * 0.5, size=120).astype(np.float32)
    features = np.maximum(rng.normal(size=(120, 6)), 0).astype(np.float32)
    ours = badge(probs, features, 20, rng=np.random.default_rng(seed))
    assert list(ours) == _reference_badge(probs, features, 20, seed)


def test_badge_picks_every_point_once_even_with_duplicates():
    probs = np.tile(np.array([[0.7, 0.3], [0.2, 0.8]], dtype=np.float32), (5, 1))  # 10 rows, 2 distinct
    features = np.tile(np.array([[1.0, 2.0], [3.0, 0.5]], dtype=np.float32), (5, 1))
    picks = badge(probs, features, 10, rng=np.random.default_rng(0))
    assert sorted(picks) == list(range(10))


def test_badge_accepts_torch_features():
    rng = np.random.default_rng(4)
    probs, features = rng.dirichlet(np.ones(3), size=50), rng.normal(size=(50, 5))
    np.testing.assert_array_equal(badge(torch.tensor(probs), torch.tensor(features), 8, np.random.default_rng(1)),
                                  badge(probs, features, 8, np.random.default_rng(1)))


def test_badge_draws_depend_on_the_seed():
    rng = np.random.default_rng(5)
    pool = Outputs(np.arange(300), rng.dirichlet(np.ones(5), size=300), rng.normal(size=(300, 8)))
    first, other = select("badge", pool, 30, seed=1), select("badge", pool, 30, seed=2)
    assert first[0] == other[0]  # the largest gradient embedding, whatever the seed
    assert not np.array_equal(first, other)


def test_el2n_and_grand_by_hand():
    probs = np.array([[0.6, 0.4], [0.1, 0.9]])
    labels = np.array([0, 0])
    np.testing.assert_allclose(el2n(probs, labels), [np.sqrt(0.32), np.sqrt(1.62)])
    features = np.array([[3.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(grand(probs, features, labels), [np.sqrt(0.32) * np.sqrt(10.0), np.sqrt(1.62)])


def test_grand_is_the_norm_of_the_last_layers_gradient():
    torch.manual_seed(0)
    layer = torch.nn.Linear(6, 4).double()
    features, labels = torch.randn(9, 6, dtype=torch.float64), torch.randint(0, 4, (9,))
    expected = []
    for x, y in zip(features, labels):
        layer.zero_grad()
        torch.nn.functional.cross_entropy(layer(x[None]), y[None]).backward()
        expected.append(torch.cat([layer.weight.grad.flatten(), layer.bias.grad]).norm().item())
    with torch.no_grad():
        probs = torch.softmax(layer(features), dim=1).numpy()
    np.testing.assert_allclose(grand(probs, features.numpy(), labels.numpy()), expected, rtol=1e-10)


def test_early_scores_replace_the_single_proxys():
    pool = Outputs(np.array([5, 6, 7]), np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]]), labels=np.array([0, 0, 0]))
    assert list(select("el2n", pool, 1)) == [7]
    pool.extra[EARLY_SCORES_KEY] = np.array([3.0, 1.0, 2.0])
    assert list(select("el2n", pool, 2)) == [5, 7]


def test_keep_easiest_ranks_the_lowest_first():
    pool = Outputs(np.array([5, 6, 7, 8]), np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8], [0.7, 0.3]]),
                   labels=np.array([0, 0, 0, 0]))
    assert list(select("el2n", pool, 2, keep="easiest")) == [5, 8]
    assert list(select("el2n", pool, 2, keep="hardest")) == [7, 6]


def test_class_balance_gives_each_class_its_share():
    keys = np.array([9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0])
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 2])  # shares of 5: 3, 1.5, 0.5 -> 3, 2, 0
    np.testing.assert_array_equal(balanced_top_k(keys, labels, 5), [0, 1, 2, 6, 7])
    chosen = select("entropy", Outputs(np.arange(10), np.full((10, 2), 0.5), labels=labels), 5, balance=True)
    assert np.bincount(labels[chosen], minlength=3).tolist() == [3, 2, 0]


def test_methods_without_a_score_refuse_sampling():
    pool = Outputs(np.arange(4), features=np.eye(4, dtype=np.float32))
    with pytest.raises(ValueError, match="no score"):
        select("kcenters", pool, 2, sampling="power")


def test_sampling_keys_by_hand():
    scores = np.array([2.0, 0.0, 1.0])
    noise = np.random.default_rng(3).gumbel(size=3)
    np.testing.assert_array_equal(sampling_keys(scores, "top", 1.0, np.random.default_rng(3)), scores)
    np.testing.assert_allclose(sampling_keys(scores, "softmax", 2.0, np.random.default_rng(3)), 2 * scores + noise)
    power = sampling_keys(scores, "power", 2.0, np.random.default_rng(3))
    np.testing.assert_allclose(power[[0, 2]], 2 * np.log(scores[[0, 2]]) + noise[[0, 2]])
    assert power[1] == -np.inf  # a score of 0 is drawn last


def test_power_sampling_draws_in_proportion_to_the_scores():
    """One pick from scores (1, 3): the second wins with probability 3/4 (binomial bounds, 2000 draws)."""
    pool = Outputs(np.array([0, 1]), np.array([[0.5, 0.5], [0.5, 0.5]]))
    wins = 0
    scores = np.array([1.0, 3.0])
    for seed in range(2000):
        wins += int(np.argmax(sampling_keys(scores, "power", 1.0, np.random.default_rng(seed))))
    assert 1420 < wins < 1580  # mean 1500, sd 19.4: about 4 sd either side
    assert len(np.unique(select("entropy", pool, 2, sampling="power", seed=0))) == 2


@pytest.mark.parametrize("method", method_names(scored=True))
@pytest.mark.parametrize("sampling", ["power", "softmax"])
def test_sampling_is_seeded_distinct_and_in_pool(method, sampling):
    rng = np.random.default_rng(0)
    n = 200
    mc_probs, mc_entropy = mc_summary(rng.dirichlet(np.ones(5), size=(3, n)))
    pool = Outputs(np.arange(500, 500 + n), rng.dirichlet(np.ones(5), size=n), rng.normal(size=(n, 4)),
                   {"forgetting_events": rng.integers(0, 5, size=n).astype(float)},
                   labels=rng.integers(0, 5, size=n), mc_probs=mc_probs, mc_entropy=mc_entropy)
    if sampling == "power" and not METHODS[method].nonnegative:
        with pytest.raises(ValueError, match="power sampling needs scores >= 0"):
            select(method, pool, 50, seed=11, sampling=sampling)
        return
    first = select(method, pool, 50, seed=11, sampling=sampling)
    assert len(np.unique(first)) == 50 and np.isin(first, pool.indices).all()
    np.testing.assert_array_equal(first, select(method, pool, 50, seed=11, sampling=sampling))
    assert not np.array_equal(first, select(method, pool, 50, seed=12, sampling=sampling))
    assert not np.array_equal(first, select(method, pool, 50, seed=11))  # a draw, not the top-k


def _blobs(sizes, seed=0):
    rng = np.random.default_rng(seed)
    means = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0], [100.0, 100.0]])[:len(sizes)]
    return np.concatenate([m + rng.normal(size=(s, 2)) for m, s in zip(means, sizes)]).astype(np.float32)


def _most_typical(points: np.ndarray, members: np.ndarray) -> int:
    """Brute force: the member of least mean distance to its min(20, size - 1) nearest other members."""
    x = points[members].astype(np.float64)
    d = np.linalg.norm(x[:, None] - x[None], axis=2)
    np.fill_diagonal(d, np.inf)
    k = min(20, len(members) - 1)
    return int(members[np.argmin(np.sort(d, axis=1)[:, :k].mean(axis=1))])


def test_typiclust_takes_the_most_typical_of_each_cluster_largest_first():
    from svp.selection.typiclust import typiclust

    points = _blobs([30, 20, 10])
    blobs = [np.arange(0, 30), np.arange(30, 50), np.arange(50, 60)]
    picks = typiclust(points, 3, rng=np.random.default_rng(0))
    assert list(picks) == [_most_typical(points, b) for b in blobs]
    # a labeled example covers its cluster: the largest uncovered come first
    covered = typiclust(points, 2, labeled=points[[0]] + 0.1, rng=np.random.default_rng(0))
    assert list(covered) == [_most_typical(points, blobs[1]), _most_typical(points, blobs[2])]


def test_typiclust_picks_distinct_points_past_the_number_of_clusters():
    from svp.selection.typiclust import typiclust

    points = _blobs([8, 6])
    picks = typiclust(points, 14, rng=np.random.default_rng(1))
    assert sorted(picks) == list(range(14))


def test_kmeans_assignment_is_the_nearest_center():
    from svp.selection.typiclust import assign

    rng = np.random.default_rng(2)
    x, centers = torch.tensor(rng.normal(size=(3000, 5))), torch.tensor(rng.normal(size=(7, 5)))
    brute = torch.cdist(x, centers).argmin(dim=1)
    assert torch.equal(assign(x, centers), brute)
