"""CCS's stratified sampling and the keep-easy-or-hard rule, on scores whose strata are known by hand."""
from __future__ import annotations

import numpy as np
import pytest

from svp.selection import balanced_top_k, ccs


def test_a_hundred_scores_in_ten_strata_give_three_each_after_the_ten_hardest_are_dropped():
    scores = np.random.default_rng(7).permutation(100).astype(float)  # positions hold the scores 0..99 shuffled
    picked = ccs.stratified_sample(scores, 30, strata=10, cutoff=0.1, rng=np.random.default_rng(0))
    kept = scores[picked]
    assert len(picked) == len(np.unique(picked)) == 30 and list(picked) == sorted(picked)
    assert kept.max() < 90  # the ten hardest (90..99) dropped
    # the rest, 0..89, span 89 in ten strata of width 8.9: 0-8, 9-17, ..., 81-89, nine scores each
    np.testing.assert_array_equal(np.bincount((kept // 9).astype(int), minlength=10), [3] * 10)


def test_strata_are_equal_width_over_the_range_with_the_maximum_in_the_last():
    np.testing.assert_array_equal(ccs.strata_of(np.arange(90.0), 10), np.arange(90) // 9)
    np.testing.assert_array_equal(ccs.strata_of([0.0, 0.5, 1.0], 2), [0, 1, 1])
    np.testing.assert_array_equal(ccs.strata_of([3.0, 3.0, 3.0], 50), [0, 0, 0])
    # never-learned examples (forgetting count inf) count one above the largest count: the last stratum
    np.testing.assert_array_equal(ccs.strata_of([0.0, 1.0, 2.0, np.inf], 4), [0, 1, 2, 3])
    np.testing.assert_array_equal(ccs.strata_of([-np.inf, 0.0, 2.0], 3), [0, 1, 2])


def _uneven() -> np.ndarray:
    """Scores over [0, 100] in ten strata of width 10: 1, 2, then 10 each (the 100 in the last)."""
    return np.array([0.0, 10, 11] + [10.0 * j + m for j in range(2, 9) for m in range(10)]
                    + [90.0 + m for m in range(9)] + [100.0])


def test_small_strata_give_all_they_have_and_the_larger_ones_share_the_rest():
    counts = np.bincount(ccs.strata_of(_uneven(), 10), minlength=10)
    np.testing.assert_array_equal(counts, [1, 2] + [10] * 8)
    # shares from the smallest up: 30//10 -> 1 (all it has), 29//9 -> 2 (all), then 27 over eight strata of ten:
    # 3, 3, 3, 3, 3 (24//7, 21//6, ...), then 12//3 = 4, 8//2 = 4, 4 -- the floors' remainder to the last ones
    np.testing.assert_array_equal(ccs.stratum_budgets(counts, 30), [1, 2, 3, 3, 3, 3, 3, 4, 4, 4])
    picked = ccs.stratified_sample(_uneven(), 30, strata=10, rng=np.random.default_rng(3))
    assert len(np.unique(picked)) == 30 and {0, 1, 2} <= set(picked)  # the two small strata whole
    np.testing.assert_array_equal(np.bincount(ccs.strata_of(_uneven(), 10)[picked], minlength=10),
                                  [1, 2, 3, 3, 3, 3, 3, 4, 4, 4])


def test_the_budgets_always_add_up_to_the_budget_within_what_each_stratum_holds():
    rng = np.random.default_rng(0)
    for _ in range(200):
        counts = rng.integers(0, 20, size=rng.integers(1, 12))
        budget = int(rng.integers(0, counts.sum() + 1))
        given = ccs.stratum_budgets(counts, budget)
        assert given.sum() == budget and (given <= counts).all() and (given >= 0).all()
    with pytest.raises(ValueError, match="fewer than the budget 4"):
        ccs.stratum_budgets(np.array([1, 2]), 4)


def test_the_same_seed_draws_the_same_core_set_and_another_seed_another():
    scores = np.random.default_rng(1).normal(size=500)

    def draw(seed):
        return ccs.stratified_sample(scores, 100, cutoff=0.2, rng=np.random.default_rng(seed))

    np.testing.assert_array_equal(draw(5), draw(5))
    assert not np.array_equal(draw(5), draw(6))


def test_the_cutoff_counts_whole_examples_and_never_leaves_fewer_than_the_budget():
    assert ccs.cutoff_count(100, 0.29, 10) == 29  # 0.29 * 100 is 28.999... in floating point
    assert ccs.cutoff_count(100, 0.3, 80) == 20  # would leave 70 for a budget of 80
    assert ccs.cutoff_count(7, 0.5, 0) == 3
    scores = np.arange(10.0)
    assert list(ccs.stratified_sample(scores, 8, strata=3, cutoff=0.5)) == list(range(8))  # drops only 8, 9


def test_keep_decides_which_end_the_cutoff_drops():
    scores = np.array([5.0, 0, 9, 1, 8, 2, 7, 3, 6, 4])
    easiest = ccs.stratified_sample(ccs.cutoff_keys(scores, "easiest"), 5, strata=4, cutoff=0.5)
    hardest = ccs.stratified_sample(ccs.cutoff_keys(scores, "hardest"), 5, strata=4, cutoff=0.5)
    assert sorted(scores[easiest]) == [0, 1, 2, 3, 4]  # CCS as published: the hardest half dropped
    assert sorted(scores[hardest]) == [5, 6, 7, 8, 9]  # the easiest half dropped
    with pytest.raises(ValueError, match="resolve auto"):
        ccs.cutoff_keys(scores, "auto")


def test_never_learned_examples_are_the_hardest_the_cutoff_drops():
    counts = np.array([0.0, np.inf, 1.0, 0.0, np.inf, 2.0, 1.0, 0.0, 3.0, 0.0])
    picked = ccs.stratified_sample(counts, 6, strata=5, cutoff=0.2, rng=np.random.default_rng(0))
    assert np.isfinite(counts[picked]).all() and len(picked) == 6


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        ccs.stratified_sample(np.array([0.0, np.nan]), 1)
    for budget, cutoff in ((3, 0.0), (-1, 0.0), (1, 1.0)):
        with pytest.raises(ValueError, match="cannot sample"):
            ccs.stratified_sample(np.zeros(2), budget, cutoff=cutoff)
    assert len(ccs.stratified_sample(np.zeros(3), 0)) == 0


def test_class_quotas_follow_balanced_top_k_and_each_class_is_stratified_within():
    labels = np.repeat([2, 0, 1], [50, 30, 20])
    scores = np.concatenate([np.arange(50.0), np.arange(30.0), np.arange(20.0)])
    classes, quotas = ccs.class_quotas(labels, 13)
    chosen_by_top_k = balanced_top_k(np.zeros(100), labels, 13)
    assert dict(zip(classes, quotas)) == {c: int((labels[chosen_by_top_k] == c).sum()) for c in (0, 1, 2)}
    assert dict(zip(classes, quotas)) == {0: 4, 1: 3, 2: 6}  # 3.9, 2.6, 6.5: the two left go to the largest remainders, 0 and 1
    picked = ccs.stratified_by_class(scores, labels, 13, strata=5, cutoff=0.1, rng=np.random.default_rng(0))
    assert len(np.unique(picked)) == 13
    assert {c: int((labels[picked] == c).sum()) for c in (0, 1, 2)} == {0: 4, 1: 3, 2: 6}
    # the cutoff within each class: its 10% hardest (5 of 50, 3 of 30, 2 of 20) are never picked
    for label, size in ((2, 50), (0, 30), (1, 20)):
        assert scores[picked][labels[picked] == label].max() < size - size // 10
    with pytest.raises(ValueError, match="3 labels for 100 scores"):
        ccs.stratified_by_class(scores, labels[:3], 13)


@pytest.mark.parametrize("pool, kept, classes, keep", [
    (10_000, 3_000, 1, "easiest"),    # exactly 30% kept
    (10_000, 3_001, 1, "hardest"),    # above 30%, and over 1,000 per class
    (50_000, 25_000, 10, "hardest"),  # CIFAR-10 at half: 2,500 per class
    (50_000, 25_000, 30, "easiest"),  # 833 per class
    (20_000, 10_000, 10, "hardest"),  # exactly 1,000 per class
    (19_998, 9_999, 10, "easiest"),   # 999.9 per class
    (1_000, 900, 10, "easiest"),      # most of a small set: still scarce (90 per class)
    (500_000, 100_000, 10, "easiest"),  # 20% kept: high pruning rates collapse whatever the size
])
def test_keep_auto_keeps_the_easiest_when_little_is_kept(pool, kept, classes, keep):
    assert ccs.keep_for(pool, kept, classes) == keep
    assert f"the {keep} are kept" in ccs.keep_reason(pool, kept, classes)


def test_keep_for_refuses_what_is_no_core_set():
    for pool, kept, classes in ((10, 0, 1), (10, 11, 1), (10, 5, 0)):
        with pytest.raises(ValueError, match="is not a core-set"):
            ccs.keep_for(pool, kept, classes)


def test_the_hard_cutoff_follows_ccs_by_pruning_rate_unless_given():
    assert [ccs.hard_cutoff_for(rate) for rate in (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.99)] == \
        [0.0, 0.0, 0.0, 0.1, 0.2, 0.3, 0.3]
    assert ccs.hard_cutoff_for(0.75) == 0.15 and ccs.hard_cutoff_for(0.6) == 0.05  # linear between
    assert all(ccs.hard_cutoff_for(rate) <= rate for rate in np.linspace(0, 1, 101))
    assert ccs.hard_cutoff_for(0.9, 0.05) == 0.05
    with pytest.raises(ValueError, match="a pruning rate"):
        ccs.hard_cutoff_for(1.5)
