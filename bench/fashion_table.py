"""Every selection method through the demo's proxy, on Fashion-MNIST: target accuracy and selection time.

Active learning: the proxy and target of the Makefile's ``make demo``
(proxy small-cnn-16, 6 + 2 epochs; target preact20, 1 + 7 + 2 epochs; no
augmentation) on the whole training set as the pool, 1,000 random labels +
4 rounds of 1,000 as in the demo, the target trained at 5,000, for each
method.
Core-set selection: the same proxy and target on a seeded 10,000-image
subset of the training set (written once as a .npz), keeping 50%, against
a random 50% and the whole 10,000.

    python -m bench.fashion_table [--seeds 0 1 2] [--run-dir runs/fashion-table] [--only LABEL ...]
        [--threads 1] [--merge OTHER_RUN_DIR ...]

Runs go seed by seed over every configuration, so an interrupted table has
every method at fewer seeds rather than some methods at none. Each finished
(configuration, seed) is kept in ``RUN_DIR/results.json``; a rerun reuses
them. The table (mean +- std over the seeds that finished) is printed,
with the results of other run directories (``--merge``: e.g. one process
per seed, each in its own run directory) folded in.

Torch runs on one thread by default: on a shared 2-core machine a small
CNN's many small parallel regions wait for descheduled threads (see
bench/README.md), so one process per seed, one thread each, does more.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
import torch

from svp import rundir
from svp.config import ActiveConfig, CoresetConfig, DataConfig, ModelConfig, RuntimeConfig, TrainConfig
from svp.data.vision import read_idx
from svp.progress import set_quiet
from svp.workflows.active import run_active
from svp.workflows.coreset import run_coreset
from svp.workflows.train import run_train

FASHION = Path("/usr/share/datasets/fashion-mnist")
TARGET = ModelConfig(arch="preact20", epochs=(1, 7, 2), learning_rates=(0.01, 0.1, 0.01), eval_batch_size=1024)
PROXY = ModelConfig(arch="small-cnn-16", epochs=(6, 2), learning_rates=(0.05, 0.005), eval_batch_size=1024)
SUBSET_SIZE, KEEP = 10_000, 5_000
ROUNDS = 4
FINAL = 1000 * (1 + ROUNDS)

#: label -> (workflow, options beyond the common ones)
ACTIVE = {
    "random": {"selection_method": "random"},
    "least_confidence": {"selection_method": "least_confidence"},
    "entropy": {"selection_method": "entropy"},
    "margin": {"selection_method": "margin"},
    "kcenters": {"selection_method": "kcenters"},
    "bald": {"selection_method": "bald"},
    "badge": {"selection_method": "badge"},
    "least_confidence --sampling power": {"selection_method": "least_confidence", "sampling": "power"},
    "least_confidence --candidates 10000": {"selection_method": "least_confidence", "candidates": 10_000},
    "typiclust": {"selection_method": "typiclust"},
}
CORESET = {
    "full 10,000": None,
    "random 50%": {"selection_method": "random"},
    "el2n 50%": {"selection_method": "el2n"},
    "grand 50%": {"selection_method": "grand"},
    "el2n 50% --keep easiest": {"selection_method": "el2n", "keep": "easiest"},
    "el2n 50% --class-balance": {"selection_method": "el2n", "class_balance": True},
    "el2n 50% --score-seeds 4": {"selection_method": "el2n", "score_seeds": 4},
    "el2n 50% --class-balance --score-seeds 4": {"selection_method": "el2n", "class_balance": True, "score_seeds": 4},
    "forgetting_events 50%": {"selection_method": "forgetting_events"},
    "kcenters 50%": {"selection_method": "kcenters"},
}

def subset_npz(path: Path) -> Path:
    """A seeded 10,000-image subset of Fashion-MNIST's training set, with its whole test set."""
    if not path.exists():
        x, y = read_idx(FASHION / "train-images-idx3-ubyte.gz"), read_idx(FASHION / "train-labels-idx1-ubyte.gz")
        keep = np.sort(np.random.default_rng(0).permutation(len(x))[:SUBSET_SIZE])
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, x=x[keep], y=y[keep].astype(np.int64),
                 x_test=read_idx(FASHION / "t10k-images-idx3-ubyte.gz"),
                 y_test=read_idx(FASHION / "t10k-labels-idx1-ubyte.gz").astype(np.int64))
    return path


def _result(run: Path, size: int, proxy_sizes: set[int]) -> dict:
    """The target's accuracy at ``size``; the selections' times; the proxy trainings at ``proxy_sizes``."""
    target = {int(r["nexamples"]): r for r in rundir.read_rows(run / rundir.TARGET_CSV)}
    selection, proxy = rundir.read_rows(run / rundir.SELECTION_CSV), rundir.read_rows(run / rundir.PROXY_CSV)
    return {"accuracy": float(target[size]["test_accuracy"]),
            "selection_time": sum(float(r["total_time"]) for r in selection),
            "inference_time": sum(float(r["inference_time"]) for r in selection),
            "ranking_time": sum(float(r["ranking_time"]) for r in selection),
            "proxy_training_time": sum(float(r["train_time"]) for r in proxy if int(r["nexamples"]) in proxy_sizes)}


def active(label: str, seed: int, run_dir: Path) -> dict:
    config = ActiveConfig(data=DataConfig(augmentation=False), target=TARGET, proxy=PROXY,
                          runtime=RuntimeConfig(run_dir=str(run_dir / label.replace(" ", "_")), seed=seed, quiet=True),
                          initial_subset=1000, rounds=(1000,) * ROUNDS, eval_target_at=(FINAL,), **ACTIVE[label])
    # the proxy trainings each selection used (random uses none: its proxy trains for the report's curve only)
    used = set(range(1000, FINAL, 1000)) if config.selection_method != "random" else set()
    return _result(run_active(config), FINAL, used)


def coreset(label: str, seed: int, run_dir: Path) -> dict:
    data = DataConfig(dataset=str(subset_npz(run_dir / "fashion-mnist-10k.npz")), augmentation=False)
    runtime = RuntimeConfig(run_dir=str(run_dir / label.replace(" ", "_")), seed=seed, quiet=True)
    if CORESET[label] is None:
        run = run_train(TrainConfig(data=data, model=TARGET, runtime=runtime))
        rows = rundir.read_rows(run / rundir.RESULTS_CSV)
        return {"accuracy": float(rows[-1]["test_accuracy"]), "selection_time": 0.0, "inference_time": 0.0,
                "ranking_time": 0.0, "proxy_training_time": 0.0}
    config = CoresetConfig(data=data, target=TARGET, proxy=PROXY, runtime=runtime, subset=KEEP, **CORESET[label])
    return _result(run_coreset(config), KEEP, {SUBSET_SIZE})


ACTIVE_KIND = f"active, {FINAL:,} labels"
CORESET_KIND = f"core-set, {SUBSET_SIZE:,} -> {KEEP:,}"


def _mean_std(values: list[float], digits: int, scale: float = 1.0) -> str:
    values = [v * scale for v in values]
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} +- {std:.{digits}f}"


def table(results: dict) -> str:
    lines = ["| experiment | method | seeds | target test accuracy (%) | selection time (s): total (inference + "
             "ranking) | proxy training (s) |", "|---|---|---|---|---|---|"]
    for kind, labels in ((ACTIVE_KIND, ACTIVE), (CORESET_KIND, CORESET)):
        for label in labels:
            runs = [r for key, r in results.items() if key.startswith(f"{kind}|{label}|")]
            if not runs:
                continue
            times = (f"{_mean_std([r['selection_time'] for r in runs], 1)} ("
                     f"{statistics.mean(r['inference_time'] for r in runs):.1f} + "
                     f"{statistics.mean(r['ranking_time'] for r in runs):.1f})")
            lines.append(f"| {kind} | {label} | {len(runs)} | {_mean_std([r['accuracy'] for r in runs], 2, 100)} "
                         f"| {times} | {_mean_std([r['proxy_training_time'] for r in runs], 1)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--run-dir", default="runs/fashion-table")
    parser.add_argument("--only", nargs="+", help="run only these labels")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--merge", nargs="+", default=[], help="fold these run directories' results into the table")
    args = parser.parse_args()
    set_quiet(True)
    torch.set_num_threads(args.threads)
    run_dir = Path(args.run_dir)
    store = run_dir / "results.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    jobs = [(ACTIVE_KIND, label, active) for label in ACTIVE] + [(CORESET_KIND, label, coreset) for label in CORESET]
    for seed in args.seeds:
        for kind, label, fn in jobs:
            key = f"{kind}|{label}|{seed}"
            if key in results or (args.only and label not in args.only):
                continue
            results[key] = fn(label, seed, run_dir)
            run_dir.mkdir(parents=True, exist_ok=True)
            store.write_text(json.dumps(results, indent=1))
            print(key, results[key], flush=True)
    for other in args.merge:
        stored = Path(other) / "results.json"
        results.update(json.loads(stored.read_text()) if stored.exists() else {})
    print(table(results))


if __name__ == "__main__":
    main()
