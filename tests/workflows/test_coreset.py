"""Core-set selection, plain training and replaying selections."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import svp.cifar
from svp.cli import main
from run_helpers import only_run, rows
from svp.rundir import load_index, save_index

FAST = ["--epochs", "1", "--learning-rate", "0.01", "--no-cuda", "--quiet", "--batch-size", "32"]




def cifar(argv: list[str]) -> int:
    return main(argv, domain=svp.cifar.DOMAIN)


@pytest.mark.parametrize("method", ["forgetting_events", "least_confidence", "kcenters", "random"])
def test_coreset_keeps_exactly_subset_distinct_indices(cifar_dir, tmp_path, method):
    code = cifar(["coreset", "--datasets-dir", str(cifar_dir), "--run-dir", str(tmp_path), "--arch", "mlp",
                  "--proxy-arch", "logistic", "--subset", "123", "--selection-method", method, "--seed", "2",
                  "--validation", "30", *FAST])
    assert code == 0
    run = only_run(tmp_path)
    selected = load_index(run / "selected.index")
    dev = load_index(run / "dev.index")
    assert len(selected) == 123 and len(np.unique(selected)) == 123
    assert len(dev) == 30 and not np.isin(selected, dev).any()
    assert [int(r["nexamples"]) for r in rows(run / "target.csv")] == [123]
    np.testing.assert_array_equal(load_index(run / "target/123/labeled_123.index"), selected)
    (selection,) = rows(run / "selection.csv")
    assert int(selection["nexamples"]) == 123
    trained_proxy = method != "random"
    assert (run / "proxy.csv").exists() == trained_proxy
    if method == "forgetting_events":
        counts = np.load(run / "proxy/370/forgetting_events.npy")
        assert len(counts) == 370
        # the kept examples are the most forgotten ones
        pool = np.setdiff1d(np.arange(400), dev)
        kept = np.isin(pool, selected)
        assert counts[kept].min() >= counts[~kept].max()


def test_forgetting_coreset_is_python_m_svp_cifar_coreset(cifar_dir, tmp_path):
    """The README's command shape, as a module entry point."""
    result = subprocess.run(
        [sys.executable, "-m", "svp.cifar.coreset", "--dataset", "cifar10", "--arch", "mlp", "--num-workers", "4",
         "--subset", "200", "--selection-method", "forgetting_events", "--proxy-arch", "logistic",
         "--datasets-dir", str(cifar_dir), "--run-dir", str(tmp_path), "--seed", "0", *FAST],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(load_index(only_run(tmp_path) / "selected.index")) == 200


def test_train_writes_results_and_checkpoint(cifar_dir, tmp_path):
    assert cifar(["train", "--datasets-dir", str(cifar_dir), "--run-dir", str(tmp_path), "--arch", "mlp",
                  "--validation", "40", "--checkpoint", "all", "--seed", "1", *FAST,
                  "--epochs", "1", "--learning-rate", "0.001"]) == 0
    run = only_run(tmp_path)
    (row,) = rows(run / "results.csv")
    assert int(row["nexamples"]) == 360 and 0 <= float(row["test_accuracy"]) <= 1
    assert (run / "checkpoint_best_model.t7").exists()
    assert (run / "checkpoint_1.t7").exists() and (run / "checkpoint_2.t7").exists()


@pytest.fixture(scope="module")
def active_run(cifar_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("active")
    assert cifar(["active", "--datasets-dir", str(cifar_dir), "--run-dir", str(out), "--arch", "mlp",
                  "--proxy-arch", "logistic", "--initial-subset", "40", "--round", "20", "--round", "30",
                  "--seed", "4", "--no-train-target", *FAST]) == 0
    return only_run(out)


def test_replaying_an_active_run_trains_the_target_on_exactly_its_sets(cifar_dir, tmp_path, active_run):
    assert cifar(["active", "--datasets-dir", str(cifar_dir), "--run-dir", str(tmp_path), "--arch", "mlp",
                  "--precomputed-selection", str(active_run), "--seed", "4", *FAST]) == 0
    run = only_run(tmp_path)
    assert [int(r["nexamples"]) for r in rows(run / "target.csv")] == [60, 90]  # the selected sets, not the initial
    for n in (60, 90):
        assert (run / f"target/{n}/labeled_{n}.index").read_bytes() == \
            (active_run / f"proxy/{n}/labeled_{n}.index").read_bytes()
    assert (run / "proxy.csv").is_symlink() and rows(run / "proxy.csv") == rows(active_run / "proxy.csv")
    assert (run / "selection.csv").is_symlink()


def test_replay_respects_eval_target_at(cifar_dir, tmp_path, active_run):
    assert cifar(["active", "--datasets-dir", str(cifar_dir), "--run-dir", str(tmp_path), "--arch", "mlp",
                  "--precomputed-selection", str(active_run), "--eval-target-at", "60", *FAST]) == 0
    assert [int(r["nexamples"]) for r in rows(only_run(tmp_path) / "target.csv")] == [60]


def test_replaying_a_plain_index_file_into_coreset(cifar_dir, tmp_path):
    chosen = np.array([5, 17, 3, 399, 250])
    save_index(tmp_path / "mine.index", chosen)
    out = tmp_path / "runs"
    assert cifar(["coreset", "--datasets-dir", str(cifar_dir), "--run-dir", str(out), "--arch", "mlp",
                  "--precomputed-selection", str(tmp_path / "mine.index"), *FAST]) == 0
    run = only_run(out)
    np.testing.assert_array_equal(load_index(run / "target/5/labeled_5.index"), chosen)


@pytest.mark.parametrize("content, message", [
    ("1\n2\n400\n", "index 400 is out of range ; the training set has 400 examples"),
    ("", "holds no indices ; a selection needs at least one example"),
    ("# chosen by hand\n", "holds no indices"),
    ("1\n-3\n", "index -3 is out of range"),
    ("1\n2\n2\n", "index 2 appears 2 times"),
    ("1\nseven\n", "is not an index file (one integer per line)"),
])
def test_bad_index_files_are_refused(cifar_dir, tmp_path, capsys, content, message):
    path = tmp_path / "bad.index"
    path.write_text(content)
    out = tmp_path / "runs"
    with pytest.raises(SystemExit) as exit_info:
        cifar(["coreset", "--datasets-dir", str(cifar_dir), "--run-dir", str(out), "--arch", "mlp",
               "--precomputed-selection", str(path), *FAST])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


def test_index_in_the_dev_set_is_refused(cifar_dir, tmp_path, capsys):
    from svp.data import split_dev

    _, dev = split_dev(400, 50, True, 8)
    path = tmp_path / "dev.index"
    save_index(path, dev[:3])
    with pytest.raises(SystemExit):
        cifar(["coreset", "--datasets-dir", str(cifar_dir), "--run-dir", str(tmp_path / "r"), "--arch", "mlp",
               "--validation", "50", "--seed", "8", "--precomputed-selection", str(path), *FAST])
    assert f"index {dev[0]} belongs to the dev set" in capsys.readouterr().err
