"""Core-set selection on Fashion-MNIST: is half the data, chosen by a cheap proxy, enough?

Trains the target on (a) all 60,000 training images, (b) the 50% that a
cheap proxy forgot most often (forgetting events), (c) a random 50%, each
over three seeds, and compares the proxy's selection time with the
target's full training time.

    python -m bench.coreset_fashion [--seeds 0 1 2] [--run-dir runs/coreset-bench]

Each finished (data, seed) result is kept in ``RUN_DIR/results.json``; a
rerun with the same ``--run-dir`` reuses them and runs only what is missing.

Schedules are shortened to fit a 2-core CPU (see TARGET and PROXY below).
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from svp import rundir
from svp.config import CoresetConfig, DataConfig, ModelConfig, RuntimeConfig, TrainConfig
from svp.progress import set_quiet
from svp.workflows.coreset import run_coreset
from svp.workflows.train import run_train

DATA = DataConfig(dataset="fashion-mnist", augmentation=False)
TARGET = ModelConfig(arch="small-cnn-16", epochs=(3, 1), learning_rates=(0.05, 0.005), batch_size=128,
                     eval_batch_size=1024)
PROXY = ModelConfig(arch="mlp", epochs=(5,), learning_rates=(0.05,), batch_size=128, eval_batch_size=4096)
SUBSET = 30_000


def _first_row(path: Path) -> dict:
    return rundir.read_rows(path)[0]


def full(seed: int, run_dir: str) -> dict:
    run = run_train(TrainConfig(data=DATA, model=TARGET, runtime=RuntimeConfig(run_dir=run_dir, seed=seed)))
    row = _first_row(run / rundir.RESULTS_CSV)
    return {"accuracy": float(row["test_accuracy"]), "target_time": float(row["train_time"]), "selection_time": 0.0}


def coreset(seed: int, run_dir: str, method: str) -> dict:
    config = CoresetConfig(data=DATA, target=TARGET, proxy=PROXY, subset=SUBSET, selection_method=method,
                           runtime=RuntimeConfig(run_dir=run_dir, seed=seed))
    run = run_coreset(config)
    target = _first_row(run / rundir.TARGET_CSV)
    selection = float(_first_row(run / rundir.SELECTION_CSV)["total_time"])
    proxy_csv = run / rundir.PROXY_CSV
    proxy_time = float(_first_row(proxy_csv)["train_time"]) if proxy_csv.exists() else 0.0
    return {"accuracy": float(target["test_accuracy"]), "target_time": float(target["train_time"]),
            "selection_time": proxy_time + selection}


def _mean_std(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {std:.2f}"


def table(results: dict[str, list[dict]]) -> str:
    """Accuracy as mean ± std over seeds; times as medians, and the selection
    cost as the median over seeds of (selection time / that seed's full
    training time), so that each ratio compares runs measured side by side."""
    full_runs = results["all 60,000"]
    lines = ["| training data | target test accuracy (%) | selection time (s, median) "
             "| selection / full training time (median) |", "|---|---:|---:|---:|"]
    for name, rows in results.items():
        accuracy = _mean_std([100 * r["accuracy"] for r in rows])
        selection = statistics.median(r["selection_time"] for r in rows)
        ratios = [r["selection_time"] / f["target_time"] for r, f in zip(rows, full_runs)]
        ratio = f"{statistics.median(ratios):.3f}" if selection else "-"
        lines.append(f"| {name} | {accuracy} | {selection:.1f} | {ratio} |")
    full_time = statistics.median(r["target_time"] for r in full_runs)
    lines.append(f"\nfull training of the target ({TARGET.arch}, {sum(TARGET.epochs)} epochs): median {full_time:.1f} s; "
                 f"proxy: {PROXY.arch}, {sum(PROXY.epochs)} epochs on all 60,000")
    return "\n".join(lines)


EXPERIMENTS = {
    "all 60,000": full,
    "50% by forgetting events (proxy)": lambda seed, run_dir: coreset(seed, run_dir, "forgetting_events"),
    "random 50%": lambda seed, run_dir: coreset(seed, run_dir, "random"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--run-dir", default=None, help="keep the run directories here (default: a temp dir)")
    args = parser.parse_args()
    set_quiet(True)
    run_dir = Path(args.run_dir or tempfile.mkdtemp(prefix="svp-coreset-bench-"))
    cache_path = run_dir / "results.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    for seed in args.seeds:
        for name, experiment in EXPERIMENTS.items():
            key = f"{name}|{seed}"
            if key not in cache:
                cache[key] = experiment(seed, str(run_dir))
                rundir.save_json(cache_path, cache)
            print(f"seed {seed}, {name}: {100 * cache[key]['accuracy']:.2f}%", flush=True)
    results = {name: [cache[f"{name}|{seed}"] for seed in args.seeds] for name in EXPERIMENTS}
    print(table(results))


if __name__ == "__main__":
    main()
