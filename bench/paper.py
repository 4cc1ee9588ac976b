"""The paper's findings as a standing experiment: does a cheap proxy select (nearly) as well as the target?

    python -m bench.paper [--seeds 0 1 2] [--run-dir runs/paper] [--scale fashion|cifar10] [--only PART ...]
        [--threads N]

Parts (each one svp run directory per configuration and seed, made by the
real commands, which are printed; a rerun with the same ``--run-dir`` skips
finished runs and resumes interrupted ones):

``active``      target accuracy at equal budgets for random selection, for the
                target selecting for itself (traditional active learning), and
                for SVP with two proxies (a smaller network; the target's network
                on a shortened schedule); data-selection and total speed-ups.
``agreement``   on the target's own rounds: Spearman's rank correlation between each
                proxy's and the target's least-confidence scores on a seeded sample of
                10,000 unlabeled examples, and the overlap of their top-k picks (k = the
                round's budget, scaled to the sample).
``coreset``     the target trained on the training set less 10%, 30% and 50%,
                removed by a proxy's forgetting events or at random, and on all of it.
``low-budget``  tens of labels per class, where uncertainty sampling is known to
                lose to random (Hacohen et al. 2022).

Scales: ``fashion`` (Fashion-MNIST, the demo's proxy and target, for a CPU)
and ``cifar10`` (the paper's ResNet20 proxies for a ResNet164 target, for a
GPU). The tables go to ``RUN_DIR/paper.md``; every part's runs are also
reported by ``svp report`` (seed groups, mean ± std) in ``RUN_DIR/<part>/report``.
Seeds may run in parallel (one process per ``--seeds K``, same ``--run-dir``);
a last call with every seed, all finished, then writes the tables.
"""
from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

import bench  # noqa: F401  (puts src/ on the path in a bare checkout)

PARTS = ("active", "agreement", "coreset", "low-budget")


def schedule(*segments: tuple[int, float], prefix: str = "") -> list[str]:
    """``--epochs E --learning-rate L`` per segment (``--proxy-...`` with ``prefix="proxy-"``)."""
    return [arg for epochs, rate in segments
            for arg in (f"--{prefix}epochs", str(epochs), f"--{prefix}learning-rate", str(rate))]


@dataclass(frozen=True)
class Scale:
    """One scale of the experiment: data, target, proxies, budgets."""

    data: list[str]
    target: list[str]                   # --arch and the target's schedule
    proxies: dict[str, list[str]]       # name -> --proxy-arch and its schedule
    initial: int
    rounds: tuple[int, ...]             # examples labeled in each round
    coreset_target: list[str]           # the core-set part's target (cheaper: it trains on the whole set)
    coreset_proxy: list[str]
    train_size: int
    low_budget: Optional[tuple[int, tuple[int, ...], list[str]]] = None  # initial, rounds, target


FASHION = Scale(
    data=["--dataset", "fashion-mnist", "--no-augmentation", "--eval-batch-size", "1024"],
    target=["--arch", "preact20", *schedule((1, 0.01), (7, 0.1), (2, 0.01))],
    proxies={"small-cnn-16": ["--proxy-arch", "small-cnn-16", *schedule((6, 0.05), (2, 0.005), prefix="proxy-")],
             "preact20, 3 epochs": ["--proxy-arch", "preact20", *schedule((1, 0.01), (1, 0.1), (1, 0.01),
                                                                           prefix="proxy-")]},
    initial=1000, rounds=(1000,) * 4,
    coreset_target=["--arch", "small-cnn-16", *schedule((3, 0.05), (1, 0.005))],
    coreset_proxy=["--proxy-arch", "mlp", *schedule((5, 0.05), prefix="proxy-")],
    train_size=60_000,
    low_budget=(100, (100,) * 4, ["--arch", "preact20", *schedule((1, 0.01), (31, 0.1), (8, 0.01))]),
)

CIFAR10 = Scale(  # the paper's: ResNet164 target, ResNet20 proxy and ResNet164 on a shortened schedule
    data=["--dataset", "cifar10", "--eval-batch-size", "1024"],
    target=["--arch", "preact164", *schedule((1, 0.01), (90, 0.1), (45, 0.01), (45, 0.001))],
    proxies={"preact20": ["--proxy-arch", "preact20", *schedule((1, 0.01), (90, 0.1), (45, 0.01), (45, 0.001),
                                                                 prefix="proxy-")],
             "preact164, 50 epochs": ["--proxy-arch", "preact164", *schedule((1, 0.01), (25, 0.1), (12, 0.01),
                                                                             (12, 0.001), prefix="proxy-")]},
    initial=1000, rounds=(4000, 5000, 5000, 5000, 5000),  # the original's README: 1,000 to 25,000 labels
    coreset_target=["--arch", "preact164", *schedule((1, 0.01), (90, 0.1), (45, 0.01), (45, 0.001))],
    coreset_proxy=["--proxy-arch", "preact20", *schedule((1, 0.01), (90, 0.1), (45, 0.01), (45, 0.001),
                                                         prefix="proxy-")],
    train_size=50_000,
)
SCALES = {"fashion": FASHION, "cifar10": CIFAR10}
COMMON = ["--quiet"]
log = logging.getLogger("bench.paper")


# ------------------------------------------------------------------ running
def svp_run(folder: Path, argv: list[str]) -> Path:
    """The finished run of ``argv`` in ``folder``: made now, or the one there resumed (a finished run
    resumes to itself, doing nothing)."""
    from svp import rundir
    from svp.cli import main

    def runs() -> list[Path]:
        return sorted(p for p in folder.glob("*/") if (p / rundir.CONFIG).is_file()) if folder.is_dir() else []

    found = runs()
    command = [argv[0], "--resume", str(found[-1]), *COMMON] if found else [*argv, "--run-dir", str(folder), *COMMON]
    print("svp", " ".join(command), flush=True)
    if main(command) != 0:
        raise RuntimeError(f"svp {' '.join(command)} failed")
    return runs()[-1]


def active_argv(scale: Scale, seed: int, method: str, proxy: list[str],
                budgets: Optional[tuple[int, tuple[int, ...]]] = None, target: Optional[list[str]] = None) -> list[str]:
    """The `svp active` command of one configuration: the target trained at the final size only."""
    initial, rounds = budgets or (scale.initial, scale.rounds)
    return ["active", *scale.data, *(target or scale.target), *proxy, "--initial-subset", str(initial),
            *[arg for size in rounds for arg in ("--round", str(size))],
            "--eval-target-at", str(initial + sum(rounds)), "--selection-method", method, "--seed", str(seed)]


def self_proxy(scale: Scale) -> list[str]:
    """The target as its own proxy: --proxy-* twins equal to the target's options."""
    return [("--proxy-" + arg[2:]) if arg.startswith("--") else arg for arg in scale.target]


#: the methods people compare against, each chosen through the smaller proxy: name -> (method, more options)
OTHER_METHODS = {"badge": ("badge", []), "least confidence, --sampling power": ("least_confidence",
                                                                                ["--sampling", "power"])}


def active_configs(scale: Scale) -> dict[str, tuple[str, list[str]]]:
    """name -> (method, proxy and method options) of the active part."""
    smaller = scale.proxies[next(iter(scale.proxies))]
    configs = {"random": ("random", smaller)}
    configs["target selects (least confidence)"] = ("least_confidence", self_proxy(scale))
    for name, proxy in scale.proxies.items():
        configs[f"SVP: {name} (least confidence)"] = ("least_confidence", proxy)
    for name, (method, options) in OTHER_METHODS.items():
        configs[f"SVP: {next(iter(scale.proxies))} ({name})"] = (method, [*smaller, *options])
    return configs


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-").replace("--", "-")


def run_active(root: Path, scale: Scale, seeds: Sequence[int]) -> dict[str, list[Path]]:
    runs: dict[str, list[Path]] = {}
    for seed in seeds:
        for name, (method, proxy) in active_configs(scale).items():
            runs.setdefault(name, []).append(
                svp_run(root / "active" / slug(name) / f"seed{seed}", active_argv(scale, seed, method, proxy)))
    return runs


def run_low_budget(root: Path, scale: Scale, seeds: Sequence[int]) -> dict[str, list[Path]]:
    initial, rounds, target = scale.low_budget
    proxy = scale.proxies[next(iter(scale.proxies))]
    runs: dict[str, list[Path]] = {}
    for seed in seeds:
        for name, method in (("random", "random"), ("SVP (least confidence)", "least_confidence")):
            argv = active_argv(scale, seed, method, proxy, budgets=(initial, rounds), target=target)
            runs.setdefault(name, []).append(svp_run(root / "low-budget" / slug(name) / f"seed{seed}", argv))
    return runs


CORESET_REMOVED = (10, 30, 50)


def run_coreset(root: Path, scale: Scale, seeds: Sequence[int]) -> dict[str, list[Path]]:
    runs: dict[str, list[Path]] = {}
    for seed in seeds:
        full = ["train", *scale.data, *scale.coreset_target, "--seed", str(seed)]
        runs.setdefault("all", []).append(svp_run(root / "coreset" / "all" / f"seed{seed}", full))
        for removed in CORESET_REMOVED:
            keep = scale.train_size * (100 - removed) // 100
            for method in ("forgetting_events", "random"):
                name = f"{removed}% removed: {method.replace('_', ' ')}"
                argv = ["coreset", *scale.data, *scale.coreset_target, *scale.coreset_proxy, "--subset", str(keep),
                        "--selection-method", method, "--seed", str(seed)]
                runs.setdefault(name, []).append(svp_run(root / "coreset" / slug(name) / f"seed{seed}", argv))
    return runs


# ------------------------------------------------------------------ agreement
AGREEMENT_SAMPLE = 10_000  # unlabeled examples both models score per round (a seeded sample of the pool)


def run_agreement(root: Path, scale: Scale, seeds: Sequence[int], self_runs: Sequence[Path]) -> dict:
    """Per proxy and round: Spearman and top-k overlap of the proxy's and the target's scores on one pool.

    The labeled sets are those of the target's own run (it selected for
    itself); each proxy is trained on the same labeled set, and both score
    the same seeded sample of the unlabeled pool (k scaled to the sample).
    """
    results = {}
    for seed, run in zip(seeds, self_runs):
        cache = root / "agreement" / f"seed{seed}.json"  # one file per seed: seeds may run in parallel processes
        done = json.loads(cache.read_text()) if cache.exists() else {}
        if set(done) != set(scale.proxies):
            done = _agreement_of(root / "agreement", run, scale.proxies, seed)
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(done, indent=1))
        results.update({f"{name}|{seed}": rows for name, rows in done.items()})
    return results


def _agreement_of(folder: Path, run: Path, proxies: dict[str, list[str]], seed: int) -> dict[str, list[dict]]:
    from svp import rundir
    from svp.cli import GENERIC, build_config, build_parser
    from svp.config import ActiveConfig
    from svp.data import open_dataset
    from svp.engine.device import derive_seed, pick_device
    from svp.learners import Environment, make_learner
    from svp.selection import uncertainty
    from svp.selection.agreement import spearman, topk_overlap
    from svp.workflows.resume import load_saved_config

    config = load_saved_config(run, "active", ActiveConfig)
    data = open_dataset(config.data)
    env = Environment(data, pick_device(True, ()), rundir.load_index(run / rundir.DEV_INDEX), track_test=False)
    target = make_learner(config.target, rundir.PROXY, env)
    learners = {name: make_learner(build_config(build_parser().parse_args(["active", *argv]), GENERIC).proxy,
                                   rundir.PROXY, env) for name, argv in proxies.items()}
    pool = np.setdiff1d(np.arange(data.size("train")), env.dev)
    rows: dict[str, list[dict]] = {name: [] for name in proxies}
    for size, next_size in zip(config.budgets, config.budgets[1:]):
        labeled = rundir.load_index(rundir.labeled_index(run, rundir.PROXY, size))
        unlabeled = np.setdiff1d(pool, labeled)
        rng = np.random.default_rng(derive_seed(seed, "agreement-sample", size))
        sample = np.sort(rng.choice(unlabeled, size=min(AGREEMENT_SAMPLE, len(unlabeled)), replace=False))
        k = max(1, round((next_size - size) * len(sample) / len(unlabeled)))
        target.load(rundir.training_dir(run, rundir.PROXY, size))
        theirs = uncertainty.least_confidence(target.score(sample, frozenset({"probs"})).probs)
        for name, proxy in learners.items():
            out = folder / slug(name) / f"seed{seed}" / str(size)
            if (out / rundir.BEST_CHECKPOINT).is_file():
                proxy.load(out)
            else:
                proxy.train(labeled, out, derive_seed(seed, "agreement", size))
            ours = uncertainty.least_confidence(proxy.score(sample, frozenset({"probs"})).probs)
            rows[name].append({"labeled": size, "spearman": spearman(ours, theirs), "k": k,
                               "overlap": topk_overlap(ours, theirs, k)})
            print(f"agreement {name} seed {seed} at {size}: {rows[name][-1]}", flush=True)
    return rows


# ------------------------------------------------------------------ tables
def mean_std(values: Sequence[float], digits: int = 2) -> str:
    from svp.report.group import stat

    found = stat(values)
    if found is None:
        return "-"
    spread = f" ± {found.std:.{digits}f}" if found.std is not None else ""
    return f"{found.mean:.{digits}f}{spread}"


def phases(run: Path) -> dict[str, float]:
    """Target test accuracy at the final size, and seconds of data selection and in all.

    Data selection is everything before the final target training: the
    proxy's trainings on the smaller labeled sets, and scoring and ranking.
    """
    from svp import rundir

    proxy = {int(r["nexamples"]): r for r in rundir.read_rows(run / rundir.PROXY_CSV)}
    target_csv = run / rundir.TARGET_CSV
    target = {int(r["nexamples"]): r for r in rundir.read_rows(target_csv)} if target_csv.exists() else proxy
    final = max(proxy)
    random = rundir.load_json(run / rundir.CONFIG)["selection_method"] == "random"
    # random selection needs no proxy: its proxy trained only to be reported, so its time is not selection's
    selecting = 0.0 if random else sum(float(r["train_time"]) for n, r in proxy.items() if n < final)
    selecting += sum(float(r["total_time"]) for r in rundir.read_rows(run / rundir.SELECTION_CSV))
    training = float(target[final]["train_time"])
    return {"accuracy": 100 * float(target[final]["test_accuracy"]), "selection": selecting,
            "total": selecting + training}


def active_table(runs: dict[str, list[Path]], reference: str, title: str) -> str:
    """Accuracy (mean ± std), selection and total seconds, and speed-ups against ``reference`` per seed
    (a speed-up of data selection only where both select with a model)."""
    measured = {name: [phases(run) for run in group] for name, group in runs.items()}
    base = measured[reference]
    random = measured.get("random")
    lines = [f"#### {title}", "",
             "| selection | target acc. (%) | vs random (points) | data selection (s) | total (s) "
             f"| selection speed-up vs {reference} | total speed-up |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, rows in measured.items():
        gain = mean_std([r["accuracy"] - b["accuracy"] for r, b in zip(rows, random)]) if random else "-"
        speed = [b["selection"] / r["selection"] for r, b in zip(rows, base) if r["selection"] > 0.5]
        total = [b["total"] / r["total"] for r, b in zip(rows, base)]
        lines.append(f"| {name} | {mean_std([r['accuracy'] for r in rows])} | {gain if name != 'random' else '-'} "
                     f"| {mean_std([r['selection'] for r in rows], 1)} | {mean_std([r['total'] for r in rows], 1)} "
                     f"| {mean_std(speed, 1) if speed else '-'} | {mean_std(total, 2)} |")
    lines.append(f"\nn = {len(base)} seeds each; ± is the sample standard deviation; speed-ups are per seed "
                 "(runs of one seed ran side by side), then averaged.")
    return "\n".join(lines)


def agreement_table(results: dict, proxies: Sequence[str]) -> str:
    lines = ["#### Ranking agreement with the target (least confidence; the target's own labeled sets, "
             f"{AGREEMENT_SAMPLE:,} unlabeled examples a round)", "",
             "| proxy | labeled | Spearman | top-k overlap |", "|---|---:|---:|---:|"]
    for name in proxies:
        per_seed = [rows for key, rows in results.items() if key.split("|")[0] == name]
        for position, size in enumerate(r["labeled"] for r in per_seed[0]):
            rows = [seed_rows[position] for seed_rows in per_seed]
            lines.append(f"| {name} | {size} | {mean_std([r['spearman'] for r in rows])} "
                         f"| {mean_std([r['overlap'] for r in rows])} |")
    return "\n".join(lines)


def coreset_table(runs: dict[str, list[Path]]) -> str:
    from svp import rundir

    def accuracy(run: Path) -> float:
        name = rundir.RESULTS_CSV if (run / rundir.RESULTS_CSV).exists() else rundir.TARGET_CSV
        return 100 * float(rundir.read_rows(run / name)[0]["test_accuracy"])

    full = [accuracy(run) for run in runs["all"]]
    lines = ["#### Core-set selection", "", "| training data | target acc. (%) | vs all (points) |", "|---|---:|---:|"]
    for name, group in runs.items():
        values = [accuracy(run) for run in group]
        gap = mean_std([v - f for v, f in zip(values, full)]) if name != "all" else "-"
        lines.append(f"| {name} | {mean_std(values)} | {gap} |")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.paper", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--run-dir", default="runs/paper")
    parser.add_argument("--scale", choices=sorted(SCALES), default="fashion")
    parser.add_argument("--only", action="append", choices=PARTS, help="run only this part; repeatable")
    parser.add_argument("--threads", type=int, help="torch threads (on a shared CPU, one process per seed with "
                        "--threads 1 does more than one process with several)")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from svp.progress import set_quiet
    from svp.report import report
    from svp.rundir import CONFIG

    set_quiet(True)
    logging.basicConfig(level=logging.WARNING)
    scale, root, parts = SCALES[args.scale], Path(args.run_dir), args.only or PARTS
    sections = []
    if "active" in parts or "agreement" in parts:
        runs = run_active(root, scale, args.seeds)
        sections.append(active_table(runs, "target selects (least confidence)", "Active learning"))
        if "agreement" in parts:
            results = run_agreement(root, scale, args.seeds, runs["target selects (least confidence)"])
            sections.append(agreement_table(results, list(scale.proxies)))
    if "low-budget" in parts and scale.low_budget is not None:
        runs = run_low_budget(root, scale, args.seeds)
        sections.append(active_table(runs, "random", "Low budget (10 labels per class a round)"))
    if "coreset" in parts:
        sections.append(coreset_table(run_coreset(root, scale, args.seeds)))
    for part in parts:
        found = sorted(str(path.parent) for path in (root / part).rglob(CONFIG)) if part != "agreement" else []
        if found:  # every run of the part: svp report groups the seeds of each configuration
            report(found, str(root / part / "report"))
    text = "\n\n".join(sections)
    (root / "paper.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
