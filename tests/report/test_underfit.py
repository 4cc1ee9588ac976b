"""Targets that did not fit their training set are flagged against their proxy, with their optimizer steps (the
relative rule of svp.learners.health; its other rules: tests/report/test_health.py)."""
from __future__ import annotations

import json

import pytest

from svp import report as rp
from svp.learners.health import UNDERFIT_GAP, UNDERFIT_THRESHOLD

HEADER = "nexamples,train_accuracy,dev_accuracy,test_accuracy,train_time,dev_time,test_time"


def _run(root, proxy_rows: str, target_rows: str, header: str = HEADER, workflow: str = "active") -> str:
    run = root / "2024-05-06_07-08-09"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({
        "workflow": workflow, "data": {"dataset": "cifar10"}, "target": {"arch": "preact20"},
        "proxy": {"arch": "resnet8"}, "selection_method": "entropy", "runtime": {"seed": 1}}))
    (run / "proxy.csv").write_text(f"{header}\n{proxy_rows}\n")
    (run / "target.csv").write_text(f"{header}\n{target_rows}\n")
    return str(run)


def test_constants():
    assert (UNDERFIT_THRESHOLD, UNDERFIT_GAP) == (0.8, 0.15)


def test_reads_train_accuracy_and_steps(tmp_path):
    run = rp.load_run(_run(tmp_path, "500,0.99,-1,0.4,1,0,0,40", "500,0.6,-1,0.35,2,0,0,40",
                           header=HEADER + ",steps"))
    assert run.proxy_train_accuracy == {500: 0.99} and run.target_train_accuracy == {500: 0.6}
    assert run.target_steps == {500: 40} and run.seed == 1


def test_a_target_far_below_the_proxy_is_flagged_with_its_steps(tmp_path):
    path = _run(tmp_path, "500,0.99,-1,0.4,1,0,0,40", "500,0.6,-1,0.35,2,0,0,40", header=HEADER + ",steps")
    (message,) = rp.health_warnings(rp.load_run(path))
    assert message == ("2024-05-06_07-08-09: target preact20 on 500 examples: fitted only 60.0% of its training "
                       "set, where the proxy fitted 99.0%, in 40 optimizer steps; its accuracy reflects too short a "
                       "schedule rather than the selection ; train it longer: more --epochs (or --steps)")
    summary = rp.run_summary(path)
    assert summary.splitlines()[-1] == f"warning: {message}"
    text, paths = rp.report([path], str(tmp_path / "out"))
    assert f"warning: {message}" in text
    assert f"- {message}" in open(paths["markdown"]).read()


@pytest.mark.parametrize("proxy, target, flagged", [
    ("0.99", "0.95", False),   # fitted, close to the proxy
    ("0.99", "0.84", True),    # 15 points below the proxy
    ("0.92", "0.87", False),   # a few points below the proxy (the demo's target on a random 5,000): no alarm
    ("0.70", "0.65", False),   # below the threshold, but the proxy fitted no better: hard data, not a short schedule
    ("0.70", "0.59", True),    # ... unless it fitted too little absolutely (svp.learners.health.UNDERFIT_SHARE)
    ("", "0.79", True),        # no proxy training accuracy: the threshold alone
    ("", "0.81", False),
    ("0.99", "", False),       # no target training accuracy recorded: nothing to say
])
def test_rule(tmp_path, proxy, target, flagged):
    run = rp.load_run(_run(tmp_path, f"300,{proxy},-1,0.5,1,0,0", f"300,{target},-1,0.5,1,0,0"))
    messages = rp.health_warnings(run)
    assert bool(messages) == flagged
    if flagged:  # old runs (no steps column) say so
        assert "an unrecorded number of optimizer steps" in messages[0]


def test_percent_rows_and_other_sizes(tmp_path):
    # the original's percent; the proxy trained at 100 only: the target at 300 is judged by the threshold
    run = rp.load_run(_run(tmp_path, "100,99.0,-1,50.0,1,0,0", "300,95.0,-1,60.0,1,0,0\n400,70.0,-1,60.0,1,0,0"))
    assert run.target_train_accuracy == {300: 0.95, 400: 0.70}
    (message,) = rp.health_warnings(run)
    assert "on 400 examples: fitted only 70.0% of its training set, in an unrecorded number of" in message


def test_a_coreset_target_is_not_compared_with_a_proxy_that_saw_everything(tmp_path):
    run = rp.load_run(_run(tmp_path, "300,1.0,-1,0.5,1,0,0", "300,0.92,-1,0.5,1,0,0", workflow="coreset"))
    assert rp.health_warnings(run) == []


def test_a_run_resumed_across_the_steps_column_reads_both_rows(tmp_path):
    from svp import rundir

    path = _run(tmp_path, "300,0.99,-1,0.5,1,0,0", "300,0.95,-1,0.5,1,0,0")
    rundir.append_row(f"{path}/target.csv", {"nexamples": 400, "train_accuracy": 0.5, "dev_accuracy": -1,
                                             "test_accuracy": 0.6, "train_time": 1.0, "dev_time": 0,
                                             "test_time": 0, "steps": 7})
    run = rp.load_run(path)
    assert run.target_steps == {400: 7} and run.target_train_accuracy == {300: 0.95, 400: 0.5}
    (message,) = rp.health_warnings(run)
    assert "on 400 examples: fitted only 50.0% of its training set (under 60.0%), in 7 optimizer steps" in message
