"""auto: coverage (ProbCover) while few labels per class, then margin drawn by power sampling; the choice recorded."""
from __future__ import annotations

from typing import Optional

import numpy as np
import pytest

from svp.selection import AUTO_CHOICE_KEY, AUTO_CHOICES, METHODS, AutoOptions, Outputs, method_options, select
from svp.selection.auto import LOW_BUDGET_PER_CLASS

CLASSES = 3


def _pool(n: int = 90, seed: int = 0) -> Outputs:
    """Three blobs of features; probabilities whose top two are close for every third example."""
    rng = np.random.default_rng(seed)
    blob = np.arange(n) % CLASSES
    features = 5.0 * np.eye(4)[blob] + rng.normal(size=(n, 4))
    probs = np.full((n, CLASSES), 0.0)
    probs[np.arange(n), blob] = 1.0  # certain: a margin score of 0, never drawn while others are left
    probs[::3] = [0.45, 0.45, 0.1]
    probs[1::3] = [0.7, 0.2, 0.1]
    return Outputs(np.arange(1000, 1000 + n), probs=probs.astype(np.float32), features=features.astype(np.float32),
                   labels=blob)


def _labeled(count: int, seed: int = 1) -> Optional[Outputs]:
    if count == 0:
        return None
    out = _pool(count, seed)
    return Outputs(np.arange(count), probs=out.probs, features=out.features, labels=out.labels)


@pytest.mark.parametrize("count", [0, 4, LOW_BUDGET_PER_CLASS * CLASSES - 1])
def test_few_labels_per_class_pick_by_coverage(count):
    pool, labeled = _pool(), _labeled(count)
    chosen = select("auto", pool, 10, labeled=labeled, seed=5)
    assert pool.extra[AUTO_CHOICE_KEY] == "probcover"
    np.testing.assert_array_equal(chosen, select("probcover", _pool(), 10, labeled=labeled, seed=5))


@pytest.mark.parametrize("count", [LOW_BUDGET_PER_CLASS * CLASSES, 200])
def test_many_labels_per_class_draw_by_margin(count):
    pool = _pool()
    chosen = select("auto", pool, 12, labeled=_labeled(count), seed=5)
    assert pool.extra[AUTO_CHOICE_KEY] == "margin_power"
    # the draw: the top keys of log(1 - gap) + Gumbel noise from the seed
    gap = np.sort(pool.probs, axis=1)[:, -1] - np.sort(pool.probs, axis=1)[:, -2]
    with np.errstate(divide="ignore"):
        keys = np.log(1.0 - gap.astype(np.float64)) + np.random.default_rng(5).gumbel(size=len(gap))
    np.testing.assert_array_equal(chosen, pool.indices[np.argsort(-keys, kind="stable")[:12]])
    assert ((chosen - 1000) % CLASSES != 2).all()  # the certain examples (every third, from the third) never


def test_the_switch_follows_the_per_class_option():
    labeled = _labeled(6)  # 2 per class
    for per_class, expected in [(2, "margin_power"), (3, "probcover")]:
        pool = _pool()
        select("auto", pool, 5, labeled=labeled, seed=0, options={"per_class": per_class})
        assert pool.extra[AUTO_CHOICE_KEY] == expected


def test_a_pool_too_small_for_the_purity_rule_picks_by_typiclust():
    pool = _pool(9)  # 9 points for 3 classes: fewer than 5 a class
    chosen = select("auto", pool, 4, seed=0)
    assert pool.extra[AUTO_CHOICE_KEY] == "typiclust" and len(set(chosen.tolist())) == 4
    assert set(AUTO_CHOICES) == {"probcover", "typiclust", "margin_power"}


def test_options_are_declared_and_checked():
    assert METHODS["auto"].options is AutoOptions and METHODS["auto"].from_labeled
    assert METHODS["auto"].needs == {"features", "probs"}
    assert method_options("auto", {"per_class": 5, "beta": 2}) == AutoOptions(5, 2.0)
    with pytest.raises(ValueError, match="option per_class=-1 of selection method 'auto' must be an integer >= 0"):
        method_options("auto", {"per_class": -1})
    with pytest.raises(ValueError, match="option beta=0.0 of selection method 'auto' must be > 0"):
        method_options("auto", {"beta": 0.0})


def test_options_out_of_range_are_refused():
    from svp.selection import method_options

    for name, options, message in (("auto", {"per_class": -1}, "per_class=-1 of selection method 'auto'"),
                                   ("probcover", {"purity": 1.5}, r"purity=1.5 of selection method 'probcover' "
                                                                  r"must be in \(0, 1\]")):
        with pytest.raises(ValueError, match=message):
            method_options(name, options)
