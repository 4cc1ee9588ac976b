"""The automatic schedule: its step budget, its rates, early stopping and "still rising", on known numbers."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from svp.config import ModelConfig
from svp.engine.fit import HOLDOUT, plan, still_rising, stops_early
from svp.engine.schedule import FLOOR_STEPS, step_budget, warmup_cosine


@pytest.mark.parametrize("examples, expected", [
    (100, 181),      # one step an epoch: the floor (300) is above the configured 181 epochs' worth: the ceiling
    (1000, 320),     # 8 steps an epoch: 40 epochs' worth
    (5000, 1600),    # 40 steps an epoch: 40 epochs' worth
    (50_000, 15_640),  # 391 steps an epoch: 40 epochs' worth, far below the paper's 181
    (300, 300),      # 3 steps an epoch: 120 steps, lifted to the floor
])
def test_the_step_budget_has_a_floor_and_a_ceiling(examples, expected):
    assert step_budget(examples, 128, 181) == expected
    assert step_budget(examples, 128, 181, steps=77) == 77  # --steps: exactly that many
    assert FLOOR_STEPS == 300


def test_the_rates_warm_up_then_decay_along_a_cosine():
    schedule = warmup_cosine(1600, 5000, 128, 0.1)  # 40 epochs of 40 steps
    rates = np.array(schedule.learning_rates)
    assert schedule.total_epochs == 40 and schedule.epochs == (1,) * 40
    np.testing.assert_allclose(rates[:2], [0.05, 0.1])  # 5% of 40 epochs: 2 of warmup
    assert (np.diff(rates[2:]) < 0).all() and 0 < rates[-1] < 1e-3
    np.testing.assert_allclose(rates[2], 0.1 * 0.5 * (1 + math.cos(math.pi * 0.5 / 38)))


def test_stopping_early_and_still_rising_on_hand_made_accuracies():
    assert not stops_early([0.5, 0.6, 0.6, 0.6], 3)  # the latest of equals is the best: no stop
    assert stops_early([0.5, 0.7, 0.6, 0.6, 0.65], 3)  # best at epoch 2, three epochs since
    assert not stops_early([0.5, 0.7, 0.6, 0.6, 0.71], 3)
    rising = [0.1 * i for i in range(20)]
    assert still_rising(rising, ran_to_the_end=True) == 1
    assert still_rising(rising, ran_to_the_end=False) == 0  # stopped early: it had stopped rising
    assert still_rising([0.5] * 10 + [0.9] * 8 + [0.9, 0.9], True) == 0  # flat at the end
    assert still_rising([0.9], True) == 0


def test_an_automatic_plan_holds_out_a_tenth_of_the_labeled_examples_to_stop_on():
    config = ModelConfig(schedule="auto", batch_size=32)
    torch.manual_seed(0)
    how = plan(config, np.arange(1000), np.empty(0, dtype=np.int64))
    assert len(how.stop_on) == round(HOLDOUT * 1000) and len(how.train) == 900
    assert not np.intersect1d(how.train, how.stop_on).size and how.budget == 1160  # 29 steps an epoch, 40 epochs
    assert how.patience == max(math.ceil(0.25 * 40), math.ceil(100 / 29)) == 10
    with_dev = plan(config, np.arange(200), np.arange(200, 220))  # a dev set of the run's own: it stops on that
    assert len(with_dev.train) == 200 and with_dev.stop_on.tolist() == list(range(200, 220))
    assert with_dev.schedule.total_epochs == 43 and with_dev.patience == max(math.ceil(0.25 * 43), 15) == 15
    few = plan(config, np.arange(300), np.empty(0, dtype=np.int64))  # too few to hold out: the whole budget
    assert few.stop_on is None and few.patience is None and len(few.train) == 300
    epochs = plan(ModelConfig(epochs=(3,), learning_rates=(0.1,)), np.arange(200), None)
    assert epochs.schedule.total_epochs == 3 and epochs.budget is None and epochs.stop_on is None


def test_the_peak_rate_is_the_users_else_a_safe_one():
    from svp.engine.fit import AUTO_PEAK, peak_rate

    assert peak_rate(ModelConfig(schedule="auto")) == AUTO_PEAK["sgd"] == 0.05
    assert peak_rate(ModelConfig(schedule="auto", optimizer="adam")) == 1e-3
    assert peak_rate(ModelConfig(schedule="auto", epochs=(5,), learning_rates=(0.2,))) == 0.2
