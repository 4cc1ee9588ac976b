"""Trainings that are not working are said, with what to change: in the log, the end-of-run summary and `svp report`
(the rules of svp.learners.health; the relative underfit rule: test_underfit.py)."""
from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest

import svp
from svp import config as cfg
from svp import report as rp
from svp.errors import UsageError
from svp.learners.health import (CHANCE_MARGIN, UNDERFIT_SHARE, Training, chance_accuracy, problems,
                                 trainings_of_rows, warning_line)

COLUMNS = "nexamples,train_accuracy,dev_accuracy,test_accuracy,train_time,dev_time,test_time,steps"
NEW_COLUMNS = COLUMNS + ",chance_accuracy,best_step,dev_rising"
RUN = "2024-05-06_07-08-09"


def _training(role="target", arch="preact20", **values) -> Training:
    return Training(role=role, nexamples=200, arch=arch, **values)


def test_thresholds():
    assert (CHANCE_MARGIN, UNDERFIT_SHARE) == (0.1, 0.6)


@pytest.mark.parametrize("accuracy, chance, num_classes, flagged", [
    (0.17, 0.125, None, True),    # issue 22's fastText proxy on 8 classes: limit 12.5 + 8.75 = 21.25%
    (0.21, 0.125, None, True),
    (0.22, 0.125, None, False),
    (0.55, 0.5, None, True),      # the largest class is half the split: 55% says nothing
    (0.19, None, 10, True),       # no chance accuracy recorded: 1 in 10 classes
    (0.19, None, None, False),    # neither known: silent
    (None, 0.1, None, False),     # no held-out accuracy
])
def test_the_chance_rule(accuracy, chance, num_classes, flagged):
    found = problems(_training(accuracy=accuracy, chance_accuracy=chance), num_classes=num_classes)
    assert [problem.kind for problem in found] == (["chance"] if flagged else [])


def test_a_proxy_at_chance_says_its_selection_is_random():
    (problem,) = problems(_training(role="proxy", arch="small-cnn", accuracy=0.15, chance_accuracy=0.125,
                                    split="dev"))
    assert problem.what == ("scored 15.0% on its dev split, no better than chance (12.5%: always predicting the "
                            "most frequent class)")
    assert problem.fix == ("the proxy cannot select better than random: train it longer: more --proxy-epochs (or "
                           "--proxy-steps), or choose another --proxy-arch")
    (problem,) = problems(_training(role="proxy", arch="fasttext", accuracy=0.15), num_classes=8)
    assert problem.what.endswith("no better than chance (12.5%: 1 in 8 classes)")
    assert problem.fix == ("the proxy cannot select better than random: train it longer: more "
                           "--proxy-fasttext-epochs or a higher --proxy-fasttext-learning-rate, or choose another "
                           "--proxy-arch")


@pytest.mark.parametrize("role, fitted, chance, proxy, flagged", [
    ("target", 0.56, 0.1, 0.58, True),     # issue 22: 56% fitted on 10 classes (limit 64%), its proxy no better
    ("target", 0.72, 0.1, 0.7328, False),  # the demo's healthy target on 5,000 hard examples, and its proxy:
    ("proxy", 0.7328, 0.1, None, False),
    ("proxy", 0.5, 0.1, None, True),       # a proxy too
    ("train", 0.59, None, None, True),     # no chance recorded: 60%
    ("proxy", 0.61, None, None, False),
    ("target", 0.75, 0.5, 0.76, True),     # half the examples in one class: 75% is the limit
])
def test_the_absolute_underfit_rule(role, fitted, chance, proxy, flagged):
    found = problems(_training(role=role, train_accuracy=fitted, chance_accuracy=chance, steps=20), proxy)
    assert [problem.kind for problem in found] == (["underfit"] if flagged else [])


def test_an_underfit_target_says_its_steps_and_to_train_longer():
    (problem,) = problems(_training(train_accuracy=0.56, chance_accuracy=0.1, steps=20))
    assert problem.what == ("fitted only 56.0% of its training set (under 64.0%), in 20 optimizer steps; its "
                            "accuracy reflects too short a schedule rather than the selection")
    assert problem.fix == "train it longer: more --epochs (or --steps)"


def test_the_rising_rule():
    (problem,) = problems(_training(role="proxy", dev_rising=1, best_step=95, steps=100))
    assert problem.what == ("its dev accuracy was still rising when training stopped (its best weights came at "
                            "step 95 of 100)")
    assert problem.fix == "train it longer: more --proxy-epochs (or --proxy-steps)"
    assert problems(_training(dev_rising=0, best_step=95, steps=100)) == []
    assert problems(_training()) == []  # nothing recorded: nothing to say


def test_one_line_per_training_with_each_fix_once():
    training = _training(role="proxy", arch="mlp", accuracy=0.1, chance_accuracy=0.1, train_accuracy=0.2,
                         steps=3, dev_rising=1)
    found = problems(training)
    assert [problem.kind for problem in found] == ["chance", "underfit", "rising"]
    assert warning_line(training, found) == (
        "proxy mlp on 200 examples: scored 10.0% on its test split, no better than chance (10.0%: always predicting "
        "the most frequent class); and fitted only 20.0% of its training set (under 64.0%), in 3 optimizer steps; "
        "and its dev accuracy was still rising when training stopped ; the proxy cannot select better than random: "
        "train it longer: more --proxy-epochs (or --proxy-steps), or choose another --proxy-arch")


def test_chance_accuracy_and_rows_read_back():
    assert chance_accuracy([0, 0, 1, 2, -1]) == 0.5 and chance_accuracy([-1]) is None and chance_accuracy([]) is None
    row = {"nexamples": "300", "train_accuracy": "95.0", "dev_accuracy": "60.0", "test_accuracy": "-1", "steps": ""}
    training = Training.from_row(row, "target", "preact20", scale=100.0)
    assert (training.train_accuracy, training.accuracy, training.split, training.steps) == (0.95, 0.6, "dev", None)
    # a file is in percent when any accuracy in it is above 1 (the original's; a replay's proxy.csv may be one)
    rows = [{"nexamples": "100", "train_accuracy": "0.5"}, {"nexamples": "200", "train_accuracy": "90.0"},
            {"nexamples": "100", "train_accuracy": "60.0"}]  # resumed: the last row of a size wins
    assert [(t.nexamples, t.train_accuracy) for t in trainings_of_rows(rows, "proxy")] == [(100, 0.6), (200, 0.9)]


def test_a_damaged_value_is_a_usage_error(tmp_path):
    path = _run(tmp_path, "100,0.9,-1,0.5,1,0,0,8,lots,,")
    with pytest.raises(UsageError, match=r"proxy.csv: bad value: could not convert string to float: 'lots' ;"):
        rp.health_warnings(rp.load_run(path))


# ------------------------------------------------------------------ run directories written by hand

def _run(root, proxy: str, target: str = "", workflow: str = "active", name: str = RUN) -> str:
    run = root / name
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({
        "workflow": workflow, "data": {"dataset": "folder"}, "target": {"arch": "small-cnn"},
        "proxy": {"arch": "logistic"}, "selection": {"method": "least_confidence"}, "runtime": {"seed": 1}}))
    (run / "proxy.csv").write_text(f"{NEW_COLUMNS}\n{proxy}\n")
    if target:
        (run / "target.csv").write_text(f"{NEW_COLUMNS}\n{target}\n")
    return str(run)


#: issue 22's image folder: a logistic proxy near chance, a small-cnn target that fitted 56% in 20 steps
PROXY_ROWS = "100,0.9,0.3,0.13,1,0,0,8,0.1,8,0\n200,0.9,0.5,0.45,1,0,0,16,0.1,12,0"
TARGET_ROWS = "200,0.56,0.40,0.34,2,0,0,20,0.1,20,1"
EXPECTED = [
    f"{RUN}: proxy logistic on 100 examples: scored 13.0% on its test split, no better than chance (10.0%: always "
    "predicting the most frequent class) ; the proxy cannot select better than random: train it longer: more "
    "--proxy-epochs (or --proxy-steps), or choose another --proxy-arch",
    f"{RUN}: target small-cnn on 200 examples: fitted only 56.0% of its training set (under 64.0%), in 20 optimizer "
    "steps; its accuracy reflects too short a schedule rather than the selection; and its dev accuracy was still "
    "rising when training stopped (its best weights came at step 20 of 20) ; train it longer: more --epochs (or "
    "--steps)",
]


def test_a_report_and_a_summary_say_each_training_once(tmp_path):
    path = _run(tmp_path, PROXY_ROWS, TARGET_ROWS)
    assert rp.health_warnings(rp.load_run(path)) == EXPECTED
    assert rp.run_summary(path).splitlines()[-2:] == [f"warning: {message}" for message in EXPECTED]
    text, paths = rp.report([path], str(tmp_path / "out"))
    assert [line for line in text.splitlines() if line.startswith("warning:")] == [
        f"warning: {message}" for message in EXPECTED]
    markdown = open(paths["markdown"]).read()
    assert markdown.endswith("## Warnings\n\n" + "".join(f"- {message}\n" for message in EXPECTED))


def test_a_healthy_run_is_silent(tmp_path):
    # the demo's svp run (least confidence: hard examples fitted 72-90%, tested 82-88%), with chance recorded
    proxy = "\n".join(f"{n},{fit},-1,{test},1,0,0,{steps},0.1,,0" for n, fit, test, steps in (
        (1000, 0.904, 0.8197, 64), (2000, 0.887, 0.8516, 128), (3000, 0.8427, 0.8694, 192),
        (4000, 0.799, 0.8785, 256), (5000, 0.7328, 0.8747, 320)))
    path = _run(tmp_path, proxy, "5000,0.72,-1,0.8778,119,0,15,400,0.1,,0")
    assert rp.health_warnings(rp.load_run(path)) == []
    assert "warning" not in rp.run_summary(path)
    text, paths = rp.report([path], str(tmp_path / "out"))
    assert "warning" not in text and "Warnings" not in open(paths["markdown"]).read()


def test_a_target_that_is_the_proxy_is_said_once_and_a_train_run_names_its_model(tmp_path):
    path = _run(tmp_path, PROXY_ROWS)
    os.symlink("proxy.csv", os.path.join(path, "target.csv"))
    assert rp.health_warnings(rp.load_run(path)) == EXPECTED[:1]
    train = tmp_path / "train"
    train.mkdir()
    (train / "config.json").write_text(json.dumps({"workflow": "train", "data": {"dataset": "folder"},
                                                   "model": {"arch": "resnet18"}}))
    (train / "results.csv").write_text(f"{COLUMNS}\n1000,52.0,-1,50.0,1,0,0,30\n")  # percent, as the original's
    (message,) = rp.health_warnings(rp.load_run(str(train)))
    assert message == ("train: model resnet18 on 1000 examples: fitted only 52.0% of its training set (under "
                       "60.0%), in 30 optimizer steps ; train it longer: more --epochs (or --steps)")


def test_a_coreset_target_is_judged_without_its_proxy(tmp_path):
    # the proxy saw all the data: a target 20 points under it is no alarm, one under the threshold is
    path = _run(tmp_path, "1000,0.99,-1,0.9,1,0,0,80,0.1,,", "500,0.79,-1,0.85,1,0,0,40,0.1,,", workflow="coreset")
    (message,) = rp.health_warnings(rp.load_run(path))
    assert message.startswith(f"{RUN}: target small-cnn on 500 examples: fitted only 79.0% of its training set, in 40")


# ------------------------------------------------------------------ real runs

@pytest.fixture(scope="module")
def clusters(tmp_path_factory) -> str:
    """Five classes of 4-feature clusters, 200 training and 100 test examples: a linear model learns them."""
    root = tmp_path_factory.mktemp("clusters")
    rng = np.random.default_rng(0)
    y = np.arange(300) % 5
    x = (rng.normal(size=(300, 4)) + rng.normal(scale=4, size=(5, 4))[y]).astype(np.float32)
    np.savez(root / "x.npz", x=x[:200], y=y[:200], x_test=x[200:], y_test=y[200:])
    return str(root / "x.npz")


def _active(dataset: str, run_dir, epochs: int, rate: float) -> str:
    def model(batch_size: int) -> cfg.ModelConfig:
        return cfg.ModelConfig(arch="linear-head", epochs=(epochs,), learning_rates=(rate,), batch_size=batch_size)
    result = svp.run(cfg.ActiveConfig(  # a target of its own: not the proxy's config
        data=cfg.DataConfig(dataset=dataset, validation=20), proxy=model(16), target=model(8),
        initial_subset=40, rounds=(40,), selection=cfg.SelectionOptions(method="least_confidence"),
        runtime=cfg.RuntimeConfig(run_dir=str(run_dir), seed=0, cuda=False, quiet=True)))
    return str(result.run)


def _logged(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "svp.workflows.steps" and r.levelno == logging.WARNING]


def test_a_run_that_underfits_says_so_in_its_log_and_summary(clusters, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="svp.workflows.steps")
    path = _active(clusters, tmp_path, epochs=1, rate=1e-4)  # one epoch at a rate that moves nothing
    logged = _logged(caplog)
    run = rp.load_run(path)
    trainings = rp.trainings_of(run)
    assert [t.name for t in trainings] == ["proxy linear-head on 40 examples", "proxy linear-head on 80 examples",
                                           "target linear-head on 80 examples"]
    assert all(t.chance_accuracy == 0.2 and t.train_accuracy < 0.68 for t in trainings)  # five balanced classes
    # every training is flagged: underfit, each problem a line of the log, as soon as its row was written
    for training in trainings:
        said = [m for m in logged if m.startswith(f"{training.name}: ")]
        assert any(f"{training.name}: fitted only {100 * training.train_accuracy:.1f}% of its training set (under "
                   f"68.0%), in {training.steps} optimizer steps" in m for m in said)
        assert len(said) == len(problems(training, None if training.role == "proxy" else
                                         trainings[1].train_accuracy))
    assert len(logged) == sum(1 for m in logged if " ; " in m and "train it longer" in m)
    # the summary says each training once, with the problems the log said
    warnings = [line for line in rp.run_summary(path).splitlines() if line.startswith("warning: ")]
    assert [w.split(": ")[2] for w in warnings] == [t.name for t in trainings]
    for message in logged:
        name, rest = message.split(": ", 1)
        what, _ = rest.split(" ; ", 1)
        assert any(w.startswith(f"warning: {run.name}: {name}: ") and what in w for w in warnings)


def test_a_healthy_run_logs_and_reports_nothing(clusters, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="svp.workflows.steps")
    path = _active(clusters, tmp_path, epochs=10, rate=0.5)
    assert _logged(caplog) == []
    assert all(t.train_accuracy > 0.9 and t.dev_rising == 0 for t in rp.trainings_of(rp.load_run(path)))
    assert "warning" not in rp.run_summary(path)
    assert rp.warnings_of([rp.load_run(path)]) == []  # what `svp report` would say
