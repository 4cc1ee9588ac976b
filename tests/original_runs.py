"""Run directories in the original implementation's layout (stanford-futuredata/selection-via-proxy).

``fixtures/original_runs`` holds two runs the original itself wrote (see its
README). :func:`write_active` and :func:`write_coreset` write runs of the
same layout with other index sets (a dev set, say), as the original's writer
does: ``config_<timestamp>.json`` (flat keys), ``dev.index``, ``train.index``,
results as ``H:MM:SS`` strings and percentages, and per training its
``model.txt``, ``results.csv``, ``train_results.csv`` and ``test_results.csv``.
``tests/workflows/test_original_runs.py`` checks them against the real ones.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

FIXTURES = Path(__file__).parent / "fixtures" / "original_runs"
ORIGINAL_ACTIVE = FIXTURES / "orig-active" / "1795895259"
ORIGINAL_CORESET = FIXTURES / "orig-coreset" / "1795895315"

RESULTS_HEADER = "nexamples,train_accuracy,dev_accuracy,test_accuracy,train_time,dev_time,test_time"
SELECTION_HEADER = "nexamples,current_nexamples,new_nexamples,total_time,inference_time,ranking_time"
# what the original's run_training writes beside each model (headers as it writes them)
MODEL_FILES = {
    "model.txt": "ResNet(\n)",
    "results.csv": "timestamp,mode,epoch,global_step,duration,top1_accuracy",
    "train_results.csv": "timestamp,batch_duration,global_step,epoch,batch,batch_size,top1_correct,top1_accuracy,loss",
    "test_results.csv": "timestamp,batch_duration,global_step,epoch,batch,batch_size,top1_correct,top1_accuracy",
}


def _index(path: Path, indices: Sequence[int]) -> None:
    path.write_text("".join(f"{int(i)}\n" for i in indices))


def _training(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in MODEL_FILES.items():
        (folder / name).write_text(text + "\n")


def _row(n: int, accuracy: float) -> str:
    return f"{n},{accuracy},-1,{accuracy},0:00:01.500000,0:00:00,0:00:00.250000"


def _config(kind: Path, run: Path, timestamp: str, **values) -> None:
    """The real run's config with ``values`` changed: the original's keys, and only those."""
    config = json.loads(next(kind.glob("config_*.json")).read_text())
    unknown = set(values) - set(config)
    assert not unknown, f"the original writes no {unknown}"
    config.update(values, timestamp=timestamp, run_dir=str(run.parent))
    (run / f"config_{timestamp}.json").write_text(json.dumps(config))


def write_active(root: Path, timestamp: str, labeled: Sequence[np.ndarray], dev: Sequence[int],
                 num_train: int, **config) -> Path:
    """An original active run: ``labeled[k]`` is the labeled set after k rounds; the target trains on the
    sets after a selection (not on the initial subset), as the original does."""
    run = root / timestamp
    run.mkdir(parents=True)
    sizes = [len(s) for s in labeled]
    _config(ORIGINAL_ACTIVE, run, timestamp, initial_subset=sizes[0], rounds=np.diff(sizes).tolist(),
            validation=len(dev), **config)
    _index(run / "dev.index", dev)
    _index(run / "train.index", np.setdiff1d(np.arange(num_train), dev))
    _index(run / f"initial_subset_{sizes[0]}.index", labeled[0])
    rows = {"proxy": [], "target": []}
    for k, indices in enumerate(labeled):
        roles = ("proxy", "target") if k else ("proxy",)
        for role in roles:
            _training(run / role / str(len(indices)))
            _index(run / role / str(len(indices)) / f"labeled_{len(indices)}.index", indices)
            rows[role].append(_row(len(indices), 50.0 + k))
    for role, lines in rows.items():
        (run / f"{role}.csv").write_text("\n".join([RESULTS_HEADER, *lines]) + "\n")
    selections = [f"{b},{a},{b - a},0:00:01,0:00:00.900000,0:00:00.100000" for a, b in zip(sizes, sizes[1:])]
    (run / "selection.csv").write_text("\n".join([SELECTION_HEADER, *selections]) + "\n")
    return run


def write_coreset(root: Path, timestamp: str, selected: Sequence[int], dev: Sequence[int], num_train: int,
                  **config) -> Path:
    """An original core-set run that kept ``selected`` (its proxy trained on every other non-dev example)."""
    run = root / timestamp
    run.mkdir(parents=True)
    train = np.setdiff1d(np.arange(num_train), dev)
    _config(ORIGINAL_CORESET, run, timestamp, subset=len(selected), validation=len(dev), **config)
    for role, indices in (("proxy", train), ("target", selected)):
        _training(run / role)
        _index(run / role / "train.index", indices)
        _index(run / role / "dev.index", dev)
    _index(run / "selected.index", selected)
    _index(run / "dev.index", dev)
    (run / "proxy.csv").write_text(f"{RESULTS_HEADER}\n{_row(len(train), 30.0)}\n")
    (run / "target.csv").write_text(f"{RESULTS_HEADER}\n{_row(len(selected), 15.0)}\n")
    (run / "selection.csv").write_text(f"{SELECTION_HEADER}\n{len(selected)},0,{len(selected)},0:00:00.1,0,0\n")
    return run
