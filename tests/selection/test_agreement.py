"""Ranking agreement on hand-made scores: Spearman's rho (average ranks for ties) and top-k overlap."""
from __future__ import annotations

import numpy as np
import pytest

from svp.selection.agreement import average_ranks, spearman, topk_overlap


def test_average_ranks_share_ties():
    assert average_ranks([10, 30, 20, 30]).tolist() == [1.0, 3.5, 2.0, 3.5]
    assert average_ranks([5, 5, 5]).tolist() == [2.0, 2.0, 2.0]
    assert average_ranks([3.0, -1.0, 2.0, 2.0, 2.0, 9.0]).tolist() == [5.0, 1.0, 3.0, 3.0, 3.0, 6.0]


def test_spearman_same_and_reversed_order():
    a = [0.1, 0.4, 0.3, 0.9]
    assert spearman(a, [1, 4, 3, 9]) == pytest.approx(1.0)       # any increasing map of a
    assert spearman(a, [-1, -4, -3, -9]) == pytest.approx(-1.0)


def test_spearman_by_hand_without_ties():
    # ranks a: 1 2 3 4 5, b: 2 1 4 3 5; d^2 sums to 4, rho = 1 - 6*4 / (5*24) = 0.8
    assert spearman([1, 2, 3, 4, 5], [20, 10, 40, 30, 50]) == pytest.approx(0.8)


def test_spearman_by_hand_with_ties():
    # ranks a: 1.5 1.5 3 4, b: 1 2 3 4 -> centred a: -1 -1 .5 1.5, b: -1.5 -.5 .5 1.5
    # sum ab = 1.5 + .5 + .25 + 2.25 = 4.5; |a|^2 = 4.5, |b|^2 = 5 -> rho = 4.5 / sqrt(22.5)
    assert spearman([7, 7, 8, 9], [1, 2, 3, 4]) == pytest.approx(4.5 / np.sqrt(22.5))


def test_spearman_matches_scipy_on_ties():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 5, 200), rng.integers(0, 5, 200) + rng.integers(0, 2, 200)
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)


def test_spearman_of_a_constant_scoring_is_nan():
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))


@pytest.mark.parametrize("a, b, match", [
    ([1, 2, 3], [1, 2], "same pool"),
    ([1], [1], "at least 2"),
    ([1, float("nan")], [1, 2], "NaN"),
    ([[1, 2]], [[1, 2]], "1-D"),
])
def test_spearman_refuses(a, b, match):
    with pytest.raises(ValueError, match=match):
        spearman(a, b)


def test_topk_overlap_by_hand():
    a = [0.9, 0.8, 0.7, 0.1, 0.0]   # top 2: positions 0, 1; top 3: 0, 1, 2
    b = [0.9, 0.0, 0.1, 0.8, 0.7]   # top 2: 0, 3;          top 3: 0, 3, 4
    assert topk_overlap(a, b, 2) == 0.5
    assert topk_overlap(a, b, 3) == pytest.approx(1 / 3)
    assert topk_overlap(a, b, 5) == 1.0
    assert topk_overlap(a, a, 1) == 1.0


def test_topk_overlap_ties_go_to_the_earlier_position():
    # a ties everywhere: its top 2 are positions 0 and 1, as svp's selection would pick
    assert topk_overlap([1, 1, 1, 1], [0, 0, 5, 6], 2) == 0.0
    assert topk_overlap([1, 1, 1, 1], [6, 5, 0, 0], 2) == 1.0


@pytest.mark.parametrize("k", [0, 4, -1, 1.5, True])
def test_topk_overlap_refuses_bad_k(k):
    with pytest.raises(ValueError, match="k must be"):
        topk_overlap([1, 2, 3], [3, 2, 1], k)
