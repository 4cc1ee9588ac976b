"""fastText's automatic schedule: the size rule, the dev split, autotune's call, the record, chance accuracy."""
from __future__ import annotations

import json
import logging
import os
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from svp.config import ModelConfig
from svp.errors import UsageError
from svp.learners.base import Environment
from svp.learners.fasttext_native import quiet_stderr
from svp.learners.fasttext_schedule import (AUTO_RATE, MIN_DEV, autotune_split, chance_accuracy, dev_split,
                                            plan_schedule, sized_schedule)


@pytest.mark.parametrize("examples, epochs", [(1, 200), (80, 200), (201, 200), (202, 199), (400, 100), (1_200, 34),
                                              (4_800, 9), (8_000, 5), (8_001, 5), (3_600_000, 5)])
def test_the_rule_sizes_epochs_to_the_examples(examples, epochs):
    assert sized_schedule(examples) == (epochs, AUTO_RATE) == (epochs, 0.5)


def test_steps_ask_for_example_updates_in_whole_epochs():
    assert sized_schedule(400, steps=1_200) == (3, 0.5)
    assert sized_schedule(400, steps=1_300) == (3, 0.5)
    assert sized_schedule(10_000, steps=100) == (1, 0.5)  # at least one epoch


def test_dev_split_is_stratified_seeded_and_leaves_singletons_in_train():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 1 + [3] * 20)
    train, dev = dev_split(labels, seed=3)
    assert np.bincount(labels[dev], minlength=4).tolist() == [2, 1, 0, 3]  # 15% rounded, at least one
    assert sorted(np.concatenate([train, dev]).tolist()) == list(range(len(labels)))
    again = dev_split(labels, seed=3)
    assert (again[1] == dev).all() and not (dev_split(labels, seed=4)[1] == dev).all()


def test_autotune_needs_time_and_a_dev_split_large_enough():
    labels = np.repeat(np.arange(8), 44)  # 7 of 44 per class go to dev: 56
    assert autotune_split(labels, 0, seconds=0) is None
    train, dev = autotune_split(labels, 0, seconds=5)
    assert (len(dev), len(train), MIN_DEV) == (56, 296, 50)
    assert autotune_split(np.repeat(np.arange(8), 40), 0, seconds=5) is None  # 8 x 6 in dev


def test_chance_accuracy_is_the_largest_class_share_of_known_labels():
    assert chance_accuracy(np.array([0, 0, 1, 2])) == 0.5
    assert chance_accuracy(np.array([2, 2, 2, 1, -1])) == 0.75
    assert chance_accuracy(np.array([-1])) is None and chance_accuracy(np.array([], dtype=int)) is None


class _Tune:
    """A stand-in for autotune: records its calls, gives ``found``."""

    def __init__(self, found):
        self.found, self.calls = found, []

    def __call__(self, train, dev):
        self.calls.append((train, dev))
        return self.found


def test_plan_prefers_autotune_on_the_runs_dev_set():
    tune = _Tune((37, 0.8))
    record = plan_schedule(np.repeat(np.arange(4), 5), np.zeros(MIN_DEV, dtype=int), 0, 7, None, tune)
    assert record == {"schedule": "auto", "examples": 20, "dev": "run", "dev_examples": 50, "autotune_seconds": 7,
                      "how": "autotune", "epochs": 37, "learning_rate": 0.8}
    ((train, dev),) = tune.calls
    assert train.tolist() == list(range(20)) and dev is None


def test_plan_splits_the_labeled_examples_without_a_usable_dev_set():
    labels = np.repeat(np.arange(8), 44)
    for run_dev in (np.zeros(MIN_DEV - 1, dtype=int), np.array([0] * MIN_DEV + [-1])):  # too small; unlabeled
        tune = _Tune((12, 0.3))
        record = plan_schedule(labels, run_dev, 5, 3, None, tune)
        assert (record["how"], record["dev"], record["dev_examples"], record["epochs"]) == ("autotune", "labeled",
                                                                                           56, 12)
        ((train, dev),) = tune.calls
        expected = dev_split(labels, 5)
        assert (train == expected[0]).all() and (dev == expected[1]).all()


def test_plan_falls_back_to_the_rule():
    labels = np.repeat(np.arange(8), 44)
    failed = _Tune(None)  # autotune found nothing in time
    assert plan_schedule(labels, np.empty(0), 0, 3, None, failed) == {
        "schedule": "auto", "examples": 352, "dev": "labeled", "dev_examples": 56, "autotune_seconds": 3,
        "how": "rule", "epochs": 114, "learning_rate": 0.5}
    for seconds, steps, how, epochs in ((0, None, "rule", 114), (3, 3_520, "steps", 10)):
        tune = _Tune((1, 1.0))
        record = plan_schedule(labels, np.zeros(50, dtype=int), 0, seconds, steps, tune)
        assert (record["how"], record["epochs"], record["learning_rate"]) == (how, epochs, 0.5)
        assert tune.calls == [] and "dev" not in record
    tune = _Tune((1, 1.0))
    few = plan_schedule(np.repeat(np.arange(8), 40), np.empty(0), 0, 3, None, tune)  # dev split of 48
    assert (few["how"], few["epochs"], tune.calls) == ("rule", 125, [])


def test_quiet_stderr_hides_what_is_written_to_fd_2(capfd):
    with quiet_stderr():
        os.write(2, b"Progress: 100%\n")
    os.write(2, b"shown\n")
    assert capfd.readouterr().err == "shown\n"


# --- the learner (needs fastText) -------------------------------------------------------------------------

WORDS = ("good great lovely", "bad awful terrible", "meh average okay")


def _data(per_class: int, test_labels: list[int]) -> SimpleNamespace:
    """Separable texts of 3 classes; the test split has ``test_labels``."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), per_class)
    texts = [f"the item was {WORDS[c].split()[i % 3]} really {rng.choice(['x', 'y', 'z'])}"
             for i, c in enumerate(labels)]
    test = np.array(test_labels)
    splits = {"train": (texts, labels), "test": ([f"so {WORDS[c].split()[0]}" for c in test], test)}
    return SimpleNamespace(name="toy", num_classes=3, size=lambda s: len(splits[s][1]),
                           targets=lambda s: splits[s][1], texts=lambda s, idx: [splits[s][0][i] for i in idx])


def _learner(config: ModelConfig, data: SimpleNamespace, dev=()):
    from svp.learners.fasttext import FastTextLearner

    return FastTextLearner(config, "proxy", Environment(data, torch.device("cpu"), np.asarray(dev, dtype=np.int64)))


def _auto(**options) -> ModelConfig:
    from svp.learners.fasttext import fasttext_config

    return replace(fasttext_config({"bucket": 1000, "threads": 1, **options}), schedule="auto")


def _capture(monkeypatch) -> list[dict]:
    """Record train_supervised's arguments, with the lines of its input and validation files."""
    fasttext = pytest.importorskip("fasttext")
    real, calls = fasttext.train_supervised, []

    def spy(**kwargs):
        files = {key: open(kwargs[key]).read().splitlines() for key in ("input", "autotuneValidationFile")
                 if key in kwargs}
        calls.append({**kwargs, **{f"{key}_lines": lines for key, lines in files.items()}})
        if "autotuneValidationFile" in kwargs:
            return SimpleNamespace(epoch=37, lr=0.75)
        return real(**kwargs)

    monkeypatch.setattr(fasttext, "train_supervised", spy)
    return calls


def test_autotune_gets_the_dev_file_and_the_time_limit_then_all_examples_train(tmp_path, monkeypatch, caplog):
    calls = _capture(monkeypatch)
    data = _data(150, [0, 1, 2, 2])
    labeled = np.arange(450)
    with caplog.at_level(logging.INFO, logger="svp.learners.fasttext"):
        result = _learner(_auto(autotune_seconds=4), data).train(labeled, tmp_path, seed=2)
    tuned, final = calls
    assert tuned["autotuneDuration"] == 4 and "epoch" not in tuned and "lr" not in tuned  # searched
    assert (tuned["dim"], tuned["wordNgrams"], tuned["bucket"], tuned["minn"], tuned["maxn"]) == (10, 2, 1000, 0, 0)
    train, dev = dev_split(data.targets("train")[labeled], 2)
    assert sorted(tuned["autotuneValidationFile_lines"]) == sorted(
        f"__label__{data.targets('train')[i]} {data.texts('train', [i])[0]}" for i in dev)
    assert len(tuned["input_lines"]) == len(train) == 384
    assert (final["epoch"], final["lr"], len(final["input_lines"])) == (37, 0.75, 450)  # retrained on all
    assert "autotuneValidationFile" not in final
    assert json.loads((tmp_path / "fasttext_schedule.json").read_text()) == {
        "schedule": "auto", "examples": 450, "dev": "labeled", "dev_examples": 66, "autotune_seconds": 4,
        "how": "autotune", "epochs": 37, "learning_rate": 0.75}
    assert "fastText's schedule for 450 examples (autotune): 37 epochs at learning rate 0.75" in caplog.text
    assert result.chance_accuracy == 0.5  # class 2 is half the test split


def test_without_autotune_the_rule_trains_and_chance_comes_from_dev(tmp_path, monkeypatch):
    calls = _capture(monkeypatch)
    data = _data(20, [0])
    learner = _learner(_auto(), data, dev=[0, 1, 2, 20, 40])  # autotune_seconds 0 by default
    learner.env = replace(learner.env, track_test=False)
    result = learner.train(np.arange(3, 60, 2), tmp_path, seed=0)
    ((final,),) = [calls]
    assert (final["epoch"], final["lr"]) == (200, 0.5)
    assert json.loads((tmp_path / "fasttext_schedule.json").read_text())["how"] == "rule"
    assert result.test_accuracy == -1 and result.chance_accuracy == 0.6  # dev: classes 0, 0, 0, 1, 2
    assert result.dev_accuracy == 1.0


@pytest.mark.parametrize("schedule", ["epochs", None])
def test_the_epochs_schedule_trains_the_options_as_before(tmp_path, monkeypatch, schedule):
    from svp.learners.fasttext import FASTTEXT_MODEL, fasttext_config

    calls = _capture(monkeypatch)
    config = replace(fasttext_config({"bucket": 1000, "threads": 1}), schedule=schedule)
    result = _learner(config, _data(10, [1, 1, 2])).train(np.arange(30), tmp_path, seed=1)
    ((final,),) = [calls]
    assert {k: final[k] for k in ("dim", "lr", "wordNgrams", "minCount", "bucket", "epoch", "thread", "seed")} == {
        "dim": 10, "lr": 0.05, "wordNgrams": 2, "minCount": 1, "bucket": 1000, "epoch": 5, "thread": 1, "seed": 1}
    assert not any(key.startswith("autotune") for key in final)
    assert sorted(p.name for p in tmp_path.iterdir()) == [FASTTEXT_MODEL]  # no schedule record
    assert result.chance_accuracy == pytest.approx(2 / 3)


def test_a_real_autotune_within_its_time_limit(tmp_path):
    pytest.importorskip("fasttext")
    data = _data(150, [0, 1, 2])
    result = _learner(_auto(autotune_seconds=2), data).train(np.arange(450), tmp_path, seed=0)
    record = json.loads((tmp_path / "fasttext_schedule.json").read_text())
    assert (record["how"], record["dev_examples"], record["autotune_seconds"]) == ("autotune", 66, 2)
    assert 1 <= record["epochs"] <= 100 and 0.01 <= record["learning_rate"] <= 5.0  # autotune's bounds
    assert result.train_accuracy == 1.0 and result.chance_accuracy == pytest.approx(1 / 3)


def test_autotune_that_finds_nothing_falls_back_to_the_rule(tmp_path, monkeypatch, caplog):
    fasttext = pytest.importorskip("fasttext")
    real = fasttext.train_supervised

    def out_of_time(**kwargs):
        if "autotuneValidationFile" in kwargs:
            raise RuntimeError("Didn't have enough time to train once: please increase `autotune-duration`.")
        return real(**kwargs)

    monkeypatch.setattr(fasttext, "train_supervised", out_of_time)
    _learner(_auto(autotune_seconds=1), _data(150, [0])).train(np.arange(450), tmp_path, seed=0)
    record = json.loads((tmp_path / "fasttext_schedule.json").read_text())
    assert (record["how"], record["epochs"], record["autotune_seconds"]) == ("rule", 89, 1)
    assert "fastText's autotune found nothing in 1 s (Didn't have enough time" in caplog.text


def test_fasttext_config_leaves_the_schedule_to_the_run():
    from svp.learners.fasttext import FASTTEXT_ARCH, FastTextLearner, fasttext_config

    assert fasttext_config({}).schedule is None and "autotune_seconds" not in fasttext_config({}).options
    assert fasttext_config({"dim": 5, "autotune_seconds": 3}).schedule is None
    assert FastTextLearner.configure(ModelConfig(arch=FASTTEXT_ARCH)).schedule is None


def test_given_epochs_or_rate_fix_the_schedule():
    from svp.learners.fasttext import FASTTEXT_ARCH, FastTextLearner, FastTextOptions, fasttext_config

    assert fasttext_config({"learning_rate": 0.5}).schedule == fasttext_config({"epochs": 9}).schedule == "epochs"
    assert fasttext_config({"autotune_seconds": 0}).options["autotune_seconds"] == 0
    inherited = ModelConfig(arch=FASTTEXT_ARCH, epochs=(3, 3), learning_rates=(0.1, 0.01))
    assert FastTextLearner.configure(replace(inherited, options={"epochs": 9})).schedule == "epochs"
    made = FastTextLearner.configure(replace(inherited, schedule="auto", options={"autotune_seconds": 5}))
    assert (made.schedule, made.epochs, made.options["autotune_seconds"]) == ("auto", (5,), 5)
    FastTextLearner.check(made, "--proxy-arch", "entropy")
    with pytest.raises(UsageError, match=r"ModelConfig.schedule auto sizes fastText's epochs and learning rate to "
                                         r"the data, and its learning_rate option is given ; drop one of them"):
        FastTextLearner.configure(replace(inherited, schedule="auto", options={"learning_rate": 0.1}))
    assert FastTextOptions.from_dict({"autotune_seconds": "0"}).autotune_seconds == 0
    with pytest.raises(UsageError, match="autotune_seconds must be 0 or more for fastText, got -1"):
        FastTextOptions.from_dict({"autotune_seconds": -1})
    with pytest.raises(UsageError, match="epochs must be positive for fastText, got 0"):
        FastTextOptions.from_dict({"epochs": 0})
