"""Core-sets of one's own data: ``--keep auto`` and CCS's stratified sampling, recorded in selection.csv."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import svp
import svp.cifar
from svp import config as cfg
from svp.cli import main
from svp.engine.device import derive_seed
from svp.errors import UsageError
from svp.rundir import load_index
from svp.selection import ccs
from run_helpers import only_run, rows

FAST = ["--epochs", "2", "--learning-rate", "0.1", "--batch-size", "32", "--no-cuda", "--quiet"]
POOL, SUBSET = 270, 60  # 300 training rows minus --validation 30; 22% kept, 20 per class
CUTOFF = 0.177778  # CCS's cutoff at 77.8% pruned: between 0.1 at 70% and 0.2 at 80%


@pytest.fixture(scope="module")
def mine(tmp_path_factory) -> Path:
    """Three classes of six features, 300 training and 60 test rows."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 360)
    x = (rng.normal(size=(360, 6)) + 1.5 * np.eye(3, 6)[y]).astype(np.float32)
    path = tmp_path_factory.mktemp("mine") / "mine.npz"
    np.savez(path, x=x[:300], y=y[:300], x_test=x[300:], y_test=y[300:])
    return path


def coreset(mine: Path, runs: Path, *extra: str) -> Path:
    assert main(["coreset", "--dataset", str(mine), "--run-dir", str(runs), "--arch", "linear-head",
                 "--proxy-arch", "linear-head", "--subset", str(SUBSET), "--validation", "30", "--seed", "0",
                 *FAST, *extra]) == 0
    return only_run(runs)


def _record(run: Path) -> tuple[str, str, str]:
    (row,) = rows(run / "selection.csv")
    return row["keep"], row["stratified"], row["hard_cutoff"]


def test_keep_auto_on_data_of_ones_own_samples_the_forgetting_counts_strata_after_dropping_the_hardest(
        mine, tmp_path):
    run = coreset(mine, tmp_path, "--selection-method", "forgetting_events", "--keep", "auto")
    assert _record(run) == ("easiest", "1", str(CUTOFF))  # 22% kept: scarce, so CCS as published
    saved = json.loads((run / "config.json").read_text())["selection"]
    assert (saved["keep"], saved["stratified"], saved["hard_cutoff"]) == ("auto", True, None)  # what was asked
    selected, dev = load_index(run / "selected.index"), load_index(run / "dev.index")
    pool = np.setdiff1d(np.arange(300), dev)
    counts = np.load(run / f"proxy/{POOL}/forgetting_events.npy")
    expected = ccs.stratified_sample(counts, SUBSET, cutoff=CUTOFF,
                                     rng=np.random.default_rng(derive_seed(0, "select", SUBSET)))
    np.testing.assert_array_equal(selected, pool[expected])
    dropped = np.argsort(-counts, kind="stable")[:int(CUTOFF * POOL)]  # the 48 most forgotten
    assert not np.isin(pool[dropped], selected).any()
    np.testing.assert_array_equal(load_index(run / f"target/{SUBSET}/labeled_{SUBSET}.index"), selected)


def test_class_balance_stratifies_el2n_within_each_class_with_its_share(mine, tmp_path):
    run = coreset(mine, tmp_path, "--selection-method", "el2n", "--class-balance", "--score-epoch", "1")
    assert _record(run) == ("easiest", "1", str(CUTOFF))
    selected, dev = load_index(run / "selected.index"), load_index(run / "dev.index")
    labels = np.load(mine)["y"]
    classes, quotas = ccs.class_quotas(labels[np.setdiff1d(np.arange(300), dev)], SUBSET)
    assert [int((labels[selected] == c).sum()) for c in classes] == list(quotas)
    assert len(np.unique(selected)) == SUBSET


def _config(data: Path, runs: Path, subset: int = SUBSET, method: str = "forgetting_events",
            **selection) -> cfg.CoresetConfig:
    model = cfg.ModelConfig(arch="linear-head", epochs=(2,), learning_rates=(0.1,), batch_size=64)
    return cfg.CoresetConfig(data=cfg.DataConfig(dataset=str(data), validation=30), target=model, proxy=model,
                             runtime=cfg.RuntimeConfig(run_dir=str(runs), seed=0, cuda=False, quiet=True),
                             subset=subset, train_target=False, selection=cfg.SelectionOptions(method, **selection))


def _kept_and_counts(run: Path, rows_in_train: int) -> tuple[np.ndarray, np.ndarray]:
    """Whether each pool example was kept, and its forgetting count."""
    pool = np.setdiff1d(np.arange(rows_in_train), load_index(run / "dev.index"))
    return np.isin(pool, load_index(run / "selected.index")), np.load(run / f"proxy/{len(pool)}/forgetting_events.npy")


def test_keep_auto_without_stratification_keeps_the_least_forgotten_of_scarce_data(mine, tmp_path):
    run = svp.run(_config(mine, tmp_path, keep="auto", stratified=False)).run
    assert _record(run) == ("easiest", "0", "")
    kept, counts = _kept_and_counts(run, 300)
    assert kept.sum() == SUBSET and counts[kept].max() <= counts[~kept].min() < counts[~kept].max()


def test_keep_auto_keeps_the_most_forgotten_of_plentiful_data(tmp_path):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 2130)
    x = (rng.normal(size=(2130, 4)) + 0.7 * y[:, None]).astype(np.float32)
    np.savez(tmp_path / "two.npz", x=x, y=y, x_test=x[:50], y_test=y[:50])
    # 2,000 of 2,100 kept, 1,000 per class: plentiful
    run = svp.run(_config(tmp_path / "two.npz", tmp_path / "runs", subset=2000, keep="auto", stratified=False)).run
    assert _record(run) == ("hardest", "0", "")
    kept, counts = _kept_and_counts(run, 2130)
    assert kept.sum() == 2000 and counts[kept].min() >= counts[~kept].max()
    assert counts[kept].max() > counts[~kept].max()  # the counts differ: keeping the least forgotten would fail


def test_a_method_without_scores_picks_as_it_always_did(mine, tmp_path):
    run = coreset(mine, tmp_path, "--selection-method", "random")  # stratified by default: nothing to stratify
    assert _record(run) == ("", "0", "")
    assert len(np.unique(load_index(run / "selected.index"))) == SUBSET


def test_the_papers_datasets_keep_the_hardest_by_top_k(cifar_dir, tmp_path):
    assert main(["coreset", "--datasets-dir", str(cifar_dir), "--run-dir", str(tmp_path), "--arch", "mlp",
                 "--proxy-arch", "logistic", "--subset", "123", "--selection-method", "forgetting_events",
                 "--seed", "2", "--validation", "30", "--epochs", "1", "--learning-rate", "0.01", "--no-cuda",
                 "--quiet", "--batch-size", "32", "--no-train-target"], domain=svp.cifar.DOMAIN) == 0
    run = only_run(tmp_path)
    (row,) = rows(run / "selection.csv")  # the original's columns: nothing was resolved or stratified
    assert not {"keep", "stratified", "hard_cutoff"} & set(row)
    counts = np.load(run / "proxy/370/forgetting_events.npy")
    kept = np.isin(np.setdiff1d(np.arange(400), load_index(run / "dev.index")), load_index(run / "selected.index"))
    assert counts[kept].min() >= counts[~kept].max()


@pytest.mark.parametrize("selection, message", [
    ({"stratified": False, "hard_cutoff": 0.2}, "SelectionOptions.hard_cutoff drops the hardest before stratified "
     "sampling, and SelectionOptions.stratified is off ; drop SelectionOptions.hard_cutoff"),
    ({"method": "random", "stratified": True, "hard_cutoff": 0.2},
     "and SelectionOptions.method random ranks by no score ;"),
    ({"sampling": "softmax", "stratified": True}, "SelectionOptions.sampling softmax draws by score, and "
     "SelectionOptions.stratified "
     "(the default for data of your own) samples across the scores' strata ; choose one: drop "
     "SelectionOptions.sampling, or turn stratified sampling off (SelectionOptions.stratified = False)"),
    ({"hard_cutoff": 0.8}, "SelectionOptions.hard_cutoff 0.8 drops more of the 270 examples than the 210 a core-set "
     "of 60 leaves out ; give at most 0.7778"),
])
def test_contradictions_are_refused_before_the_run_directory_exists(mine, tmp_path, selection, message):
    with pytest.raises(UsageError) as refused:
        svp.run(_config(mine, tmp_path / "runs", **selection))
    assert message in str(refused.value)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
