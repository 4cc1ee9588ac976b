"""Greedy k-centers: layouts, dtypes and thread settings do not change the picks."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from svp.selection import kcenters
from svp.selection.kcenters import greedy_k_centers


def _data(seed: int = 0, n: int = 400, d: int = 12, m: int = 9) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32), rng.normal(size=(m, d)).astype(np.float32)


def test_layout_and_container_do_not_matter():
    pool, centers = _data()
    expected = greedy_k_centers(pool, 30, centers=centers)
    column_major = torch.from_numpy(pool).t().contiguous().t()
    np.testing.assert_array_equal(greedy_k_centers(column_major, 30, centers=torch.from_numpy(centers)), expected)
    np.testing.assert_array_equal(greedy_k_centers(np.asfortranarray(pool), 30, centers=centers), expected)


def test_float64_features_are_computed_in_float32():
    pool, centers = _data(1)
    np.testing.assert_array_equal(greedy_k_centers(pool.astype(np.float64), 20, centers=centers),
                                  greedy_k_centers(pool, 20, centers=centers))


def test_picks_are_distinct_even_with_duplicate_points():
    pool = np.repeat(np.eye(3, dtype=np.float32), 4, axis=0)  # 3 distinct points, 4 copies each
    picks = greedy_k_centers(pool, 12, centers=pool[:1])
    assert sorted(picks) == list(range(12))
    assert {int(p) // 4 for p in picks[:2]} == {1, 2}  # the two points away from the center come first


@pytest.mark.parametrize("grain", [1, 2**40])
def test_thread_setting_is_restored_and_picks_unchanged(monkeypatch, grain):
    pool, centers = _data(2)
    expected = greedy_k_centers(pool, 25, centers=centers)
    before = torch.get_num_threads()
    monkeypatch.setattr(kcenters, "PICK_GRAIN_BYTES", grain)
    np.testing.assert_array_equal(greedy_k_centers(pool, 25, centers=centers), expected)
    assert torch.get_num_threads() == before


def test_pool_blocks_larger_than_one_chunk(monkeypatch):
    pool, centers = _data(3, n=1000, m=30)
    whole = greedy_k_centers(pool, 40, centers=centers)
    monkeypatch.setattr(kcenters, "CHUNK_ROWS", 64)
    np.testing.assert_array_equal(greedy_k_centers(pool, 40, centers=centers), whole)
