"""Two processes under torchrun (gloo, CPU) give what one process gives, and write files once."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from svp.config import DataConfig
from svp.data import open_dataset, split_dev
from svp.engine.device import derive_seed
from svp.engine.predict import predict
from svp.models import create_model
from svp.rundir import load_index
from svp.selection import Outputs, select
from run_helpers import only_run, rows, subprocess_env

REPO = Path(__file__).resolve().parents[2]
CHECK = Path(__file__).with_name("ddp_check.py")
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]


def run(command: list[str]) -> subprocess.CompletedProcess:
    """Run ``command`` with one thread per worker (2 cores)."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=180,
                            env=subprocess_env(OMP_NUM_THREADS="1"), cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def saved_state(tmp_path_factory) -> Path:
    """A fixed-seed small CNN whose BatchNorm statistics are not the defaults."""
    torch.manual_seed(0)
    model = create_model("small-cnn-16", 10, 3).train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, 3, 32, 32) * 2 + 0.5)
    path = tmp_path_factory.mktemp("state") / "state.pt"
    torch.save(model.state_dict(), path)
    return path


def test_two_ranks_score_evaluate_and_train_like_one(cifar_dir, saved_state, tmp_path):
    run([sys.executable, str(CHECK), str(cifar_dir), str(saved_state), str(tmp_path / "one")])
    run([*TORCHRUN, str(CHECK), str(cifar_dir), str(saved_state), str(tmp_path / "two")])
    one, rank0, rank1 = (np.load(tmp_path / name) for name in ("one.0.npz", "two.0.npz", "two.1.npz"))
    # pool scoring and evaluation: bit for bit one process's, on every rank
    for key in ("pool_probs", "pool_features", "small_probs", "small_features", "test_accuracy"):
        np.testing.assert_array_equal(rank0[key], one[key], err_msg=key)
        np.testing.assert_array_equal(rank1[key], one[key], err_msg=key)
    assert one["pool_probs"].shape == (301, 10) and len(one["small_features"]) == 20
    # DDP training: both ranks end with the same weights and BatchNorm statistics,
    # and the forgetting hook saw each of the 67 examples (shards padded to 34 + 34) once per epoch
    for key in ("trained_state", "forgetting", "seen", "train_accuracy"):
        np.testing.assert_array_equal(rank1[key], rank0[key], err_msg=key)
    np.testing.assert_array_equal(np.flatnonzero(rank0["seen"]), np.arange(0, 400, 6))
    correct = float(rank0["train_accuracy"]) * 67  # a count out of 67: the padding is not counted
    assert correct == pytest.approx(round(correct)) and round(correct) > 0


@pytest.fixture(scope="module")
def ddp_run(cifar_dir, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """`svp active` (DDP training included) by two processes on the tiny CIFAR10."""
    root = tmp_path_factory.mktemp("ddp_runs")
    result = run([*TORCHRUN, "-m", "svp.cifar", "active", "--datasets-dir", str(cifar_dir), "--run-dir", str(root),
                  "--arch", "mlp", "--proxy-arch", "small-cnn-16", "--selection-method", "least_confidence",
                  "--initial-subset", "50", "--round", "30", "--round", "20", "--validation", "40",
                  "--no-cuda", "--seed", "3", "--batch-size", "32", "--epochs", "1", "--learning-rate", "0.01"])
    run_dir = only_run(root)  # one run directory, not one per rank
    return run_dir, result


def test_ddp_run_writes_every_file_once(ddp_run):
    run_dir, result = ddp_run
    files = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file())
    # the target trains on the selected sets, not on the random initial subset (as the original)
    sizes = {"proxy": (50, 80, 100), "target": (80, 100)}
    steps = [f"{role}/{n}/{name}" for role in sizes for n in sizes[role]
             for name in ("checkpoint_best_model.t7", f"labeled_{n}.index")]
    predictions = ["proxy/50/predictions.npz", "proxy/80/predictions.npz"]  # of the proxies that selected
    assert files == sorted(["config.json", "dev.index", "initial_subset_50.index", "proxy.csv", "selection.csv",
                            "target.csv", *steps, *predictions])
    for name in ("proxy.csv", "target.csv"):
        assert [int(r["nexamples"]) for r in rows(run_dir / name)] == list(sizes[name[:-4]])
    assert [(int(r["current_nexamples"]), int(r["new_nexamples"])) for r in rows(run_dir / "selection.csv")] == [
        (50, 30), (80, 20)]
    assert json.loads((run_dir / "config.json").read_text())["device"]["world_size"] == 2
    # rank 1 logs warnings only and prints nothing
    info = [line for line in result.stderr.splitlines() if " INFO svp." in line]
    assert info and len(info) == len(set(info)), "a message was logged by both ranks"
    assert result.stdout.count("results:") == 1


def test_ddp_run_selects_what_its_saved_proxies_choose(ddp_run, cifar_dir):
    """Each labeled set is the last one plus the picks of the proxy checkpoint trained on it."""
    run_dir, _ = ddp_run
    data = open_dataset(DataConfig(dataset="cifar10", datasets_dir=str(cifar_dir)))
    pool, _ = split_dev(data.size("train"), 40, True, 3)
    labeled = load_index(run_dir / "initial_subset_50.index")
    np.testing.assert_array_equal(labeled, np.random.default_rng(3).permutation(pool)[:50])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the workers, so near-ties break alike
    try:
        for n, budget in ((50, 30), (80, 20)):
            np.testing.assert_array_equal(load_index(run_dir / f"proxy/{n}/labeled_{n}.index"), labeled)
            if n > 50:  # the target trains on selected sets only
                np.testing.assert_array_equal(load_index(run_dir / f"target/{n}/labeled_{n}.index"), labeled)
            model = create_model("small-cnn-16", 10, 3)
            model.load_state_dict(torch.load(run_dir / f"proxy/{n}/checkpoint_best_model.t7",
                                             weights_only=True)["model"])
            unlabeled = np.setdiff1d(pool, labeled, assume_unique=True)
            probs = predict(model, data, unlabeled, batch_size=32, device=torch.device("cpu")).probs
            picks = select("least_confidence", Outputs(unlabeled, probs), budget,
                           seed=derive_seed(3, "select", n + budget))
            labeled = np.concatenate([labeled, picks])
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(load_index(run_dir / "proxy/100/labeled_100.index"), labeled)
