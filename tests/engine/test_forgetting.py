"""Forgetting events counted exactly, and collected by fit() as a batch hook."""
from __future__ import annotations

import numpy as np
import torch

from svp.config import DataConfig, ModelConfig
from svp.data import open_dataset
from svp.engine.fit import fit
from svp.engine.forgetting import ForgettingTracker
from svp.models import create_model


def test_counts_transitions_from_correct_to_incorrect():
    tracker = ForgettingTracker(5)
    # presentations (epochs) of examples 0..3; example 4 is never shown
    sequence = {
        0: [1, 0, 1, 0],  # forgotten twice
        1: [0, 0, 0, 0],  # never learned
        2: [0, 1, 1, 1],  # learned, never forgotten
        3: [1, 0, 0, 1],  # forgotten once
    }
    for epoch in range(4):
        # shuffle the order within the "batch" to show order does not matter
        idx = torch.tensor([3, 0, 2, 1])
        correct = torch.tensor([bool(sequence[int(i)][epoch]) for i in idx])
        tracker(idx, correct, epoch)
    counts = tracker.counts(np.arange(5))
    np.testing.assert_array_equal(counts, [2.0, np.inf, 0.0, 1.0, np.inf])


def test_batches_split_across_an_epoch_count_the_same():
    tracker = ForgettingTracker(4)
    tracker(torch.tensor([0, 1]), torch.tensor([True, True]))
    tracker(torch.tensor([2, 3]), torch.tensor([True, False]))
    tracker(torch.tensor([3, 0]), torch.tensor([True, False]))
    tracker(torch.tensor([1, 2]), torch.tensor([False, False]))
    np.testing.assert_array_equal(tracker.counts(np.arange(4)), [1.0, 1.0, 1.0, 0.0])


def test_fit_calls_the_hook_once_per_example_per_epoch(fashion_env):
    data = open_dataset(DataConfig(datasets_dir=str(fashion_env)))
    seen = []
    indices = np.arange(0, 300, 3)
    config = ModelConfig(arch="logistic", epochs=(2,), learning_rates=(0.1,), batch_size=16)
    torch.manual_seed(0)
    model = create_model("logistic", 10, 1)
    fit(model, data, indices, config, device=torch.device("cpu"), track_test=False,
        hooks=[lambda idx, correct, epoch: seen.append((epoch, idx.numpy().copy(), correct.numpy().copy()))])
    for epoch in (1, 2):
        shown = np.concatenate([i for e, i, _ in seen if e == epoch])
        np.testing.assert_array_equal(np.sort(shown), indices)
    assert all(c.dtype == bool and len(c) == len(i) for _, i, c in seen)


def test_fit_counts_its_optimizer_steps(fashion_env):
    # 100 examples in batches of 16: 7 steps an epoch (the last batch is short), 3 epochs
    data = open_dataset(DataConfig(datasets_dir=str(fashion_env)))
    config = ModelConfig(arch="logistic", epochs=(2, 1), learning_rates=(0.1, 0.01), batch_size=16)
    torch.manual_seed(0)
    result = fit(create_model("logistic", 10, 1), data, np.arange(100), config, device=torch.device("cpu"),
                 track_test=False)
    assert result.steps == 21 and result.nexamples == 100
    assert 0 <= result.train_accuracy <= 1 and result.dev_accuracy == -1 and result.test_accuracy == -1
