"""Active learning end to end on tiny datasets written by the tests."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import svp.cifar
from svp.cli import main
from run_helpers import only_run, rows
from svp.rundir import load_index

SCHEDULE = ["--epochs", "1", "--learning-rate", "0.01"]




def test_seed_command_scaled_down_runs(cifar_dir, tmp_path, capsys):
    """Every flag of the issue's command, on a 400-image CIFAR10, as `python -m svp.cifar.active`."""
    argv = ["--dataset", "cifar10", "--num-workers", "4", "--proxy-arch", "preact20", "--arch", "preact164",
            "--selection-method", "least_confidence", "--initial-subset", "40", "--round", "16",
            "--round", "20", "--round", "20", "--round", "20", "--round", "20", "--eval-target-at", "136",
            "--datasets-dir", str(cifar_dir), "--run-dir", str(tmp_path), "--no-cuda", "--seed", "0",
            "--batch-size", "32", *SCHEDULE]
    result = subprocess.run([sys.executable, "-m", "svp.cifar.active", *argv], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    run = only_run(tmp_path)
    assert [int(r["nexamples"]) for r in rows(run / "proxy.csv")] == [40, 56, 76, 96, 116, 136]
    assert [int(r["nexamples"]) for r in rows(run / "target.csv")] == [136]
    config = json.loads((run / "config.json").read_text())
    assert config["target"]["arch"] == "preact164" and config["proxy"]["arch"] == "preact20"
    assert "136" in result.stdout.split("results:")[0]  # the summary table


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, cifar_dir) -> Path:
    """One small run of every step, reused by the contract tests."""
    out = tmp_path_factory.mktemp("runs")
    code = main(["active", "--datasets-dir", str(cifar_dir), "--run-dir", str(out), "--arch", "small-cnn-16",
                 "--proxy-arch", "mlp", "--selection-method", "kcenters", "--initial-subset", "50",
                 "--round", "30", "--round", "20", "--validation", "40", "--no-cuda", "--seed", "3",
                 "--checkpoint", "best", "--quiet", *SCHEDULE], domain=svp.cifar.DOMAIN)
    assert code == 0
    return only_run(out)


def test_run_directory_holds_the_contract(tiny_run):
    for name in ("config.json", "proxy.csv", "target.csv", "selection.csv", "initial_subset_50.index",
                 "proxy/50/labeled_50.index", "proxy/80/labeled_80.index", "proxy/100/labeled_100.index",
                 "target/100/labeled_100.index", "target/100/checkpoint_best_model.t7"):
        assert (tiny_run / name).is_file(), name
    assert not list(tiny_run.rglob("*.tmp")), "a temporary file was left behind"


def test_csv_rows_have_the_original_columns(tiny_run):
    proxy = rows(tiny_run / "proxy.csv")
    # the original's columns first (its analysis scripts read them), then the optimizer steps, the accuracy of
    # predicting the most frequent class, the step whose weights were kept (by the dev set) and whether the dev
    # accuracy was still rising at the end
    assert list(proxy[0]) == ["nexamples", "train_accuracy", "dev_accuracy", "test_accuracy",
                              "train_time", "dev_time", "test_time", "steps", "chance_accuracy", "best_step",
                              "dev_rising"]
    assert [int(r["nexamples"]) for r in proxy] == [50, 80, 100]
    assert [int(r["steps"]) for r in proxy] == [1, 1, 1]  # one epoch, each set within one batch of 128
    assert all(0 <= float(r["dev_accuracy"]) <= 1 and float(r["train_time"]) > 0 for r in proxy)
    selection = rows(tiny_run / "selection.csv")
    # the original's columns first; then how many of the proxy's predictions changed since the previous round
    assert list(selection[0]) == ["nexamples", "current_nexamples", "new_nexamples", "total_time",
                                  "inference_time", "ranking_time", "changed_predictions", "compared_predictions"]
    assert [r["changed_predictions"] for r in selection][0] == ""  # no proxy before the first
    # the second proxy scored the 400 - 40 (dev) - 80 unlabeled examples, all of which the first scored too
    assert int(selection[1]["compared_predictions"]) == 280
    assert 0 <= int(selection[1]["changed_predictions"]) <= 280
    assert [(int(r["current_nexamples"]), int(r["new_nexamples"])) for r in selection] == [(50, 30), (80, 20)]
    for r in selection:
        assert float(r["total_time"]) == pytest.approx(float(r["inference_time"]) + float(r["ranking_time"]))


def test_labeled_sets_grow_without_repeats_and_avoid_the_dev_set(tiny_run):
    config = json.loads((tiny_run / "config.json").read_text())
    assert config["runtime"]["seed"] == 3 and config["versions"]["torch"]
    initial = load_index(tiny_run / "initial_subset_50.index")
    second = load_index(tiny_run / "proxy/80/labeled_80.index")
    third = load_index(tiny_run / "proxy/100/labeled_100.index")
    np.testing.assert_array_equal(second[:50], initial)
    np.testing.assert_array_equal(third[:80], second)
    assert len(np.unique(third)) == 100
    from svp.data import split_dev

    _, dev = split_dev(400, 40, True, 3)
    assert not np.isin(third, dev).any()


def test_same_proxy_and_target_train_once(cifar_dir, tmp_path):
    code = main(["active", "--datasets-dir", str(cifar_dir), "--run-dir", str(tmp_path), "--arch", "mlp",
                 "--initial-subset", "20", "--round", "10", "--no-cuda", "--seed", "1", "--quiet", *SCHEDULE],
                domain=svp.cifar.DOMAIN)
    assert code == 0
    run = only_run(tmp_path)
    assert (run / "target.csv").is_symlink() and (run / "target").is_symlink()
    assert rows(run / "target.csv") == rows(run / "proxy.csv")
    assert len(rows(run / "proxy.csv")) == 2


def test_same_seed_same_selection(cifar_dir, tmp_path):
    def labeled(sub: str) -> np.ndarray:
        out = tmp_path / sub
        main(["active", "--datasets-dir", str(cifar_dir), "--run-dir", str(out), "--arch", "mlp",
              "--proxy-arch", "logistic", "--initial-subset", "20", "--round", "15", "--no-cuda", "--seed", "9",
              "--quiet", "--no-train-target", *SCHEDULE], domain=svp.cifar.DOMAIN)
        return load_index(only_run(out) / "proxy/35/labeled_35.index")

    np.testing.assert_array_equal(labeled("a"), labeled("b"))
