"""Training throughput: tensor-resident batches with batched augmentation vs per-sample PIL.

Both sides run the same training step (``svp.engine.fit._Step``: forward,
cross-entropy, backward, SGD with momentum) on the same model, batch 128;
only the data path differs:

* **ours**: ``svp.engine.fit.train_epoch`` over the ``TensorData`` of
  ``svp.data`` -- the uint8 images stay in one tensor; each batch is
  gathered by index and augmented at once (``svp.data.transforms.Augment``:
  random crop with padding 2 and horizontal flip as one gather, fused
  normalisation).
* **original**: a torchvision-style dataset producing one PIL image per
  example through ``RandomCrop(28, padding=2)``, ``RandomHorizontalFlip()``,
  ``ToTensor()``, ``Normalize()``, in a ``DataLoader`` (batch 128,
  shuffled, ``num_workers=0`` as svp's default; on 2 cores a worker
  process would compete with training for the same cores).

The model is one for which data loading matters: the MLP proxy (on the
image resampled to 16x16). A second row shows a small CNN, where the
convolutions dominate and the data path matters much less. Each round is
one epoch over the same examples per side, alternating which side goes
first; the ratio is the median over rounds.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from bench.common import median_ratio, row, timed
from bench.scoring import per_sample_dataset
from svp.config import DataConfig
from svp.data import open_dataset
from svp.engine.device import grad_scaler
from svp.engine.fit import _Step, train_epoch

BATCH = 128
FULL = dict(images=20_000, rounds=5, archs=(("mlp", 1.0), ("small-cnn-16", 0.25)))
QUICK = dict(images=1_000, rounds=2, archs=(("mlp", 1.0),))


def make_step(model: nn.Module) -> _Step:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    cpu = torch.device("cpu")
    return _Step(model, optimizer, nn.CrossEntropyLoss(), grad_scaler(cpu, False), cpu, False)


def original_epoch(step: _Step, loader: DataLoader) -> None:
    """One epoch the original way: per-sample transforms in the DataLoader, then the same step."""
    step.model.train()
    for inputs, targets in loader:
        step(inputs, targets)


def _compare(arch: str, data, per_sample, indices: np.ndarray, rounds: int) -> dict:
    from svp.models import create_model

    torch.manual_seed(0)
    model = create_model(arch, data.num_classes, data.in_channels)
    ours_step, base_step = make_step(copy.deepcopy(model)), make_step(copy.deepcopy(model))
    loader = DataLoader(Subset(per_sample, indices), batch_size=BATCH, shuffle=True, num_workers=0)
    ours = lambda: timed(lambda: train_epoch(ours_step, data, indices, BATCH, epoch=1))  # noqa: E731
    base = lambda: timed(lambda: original_epoch(base_step, loader))  # noqa: E731
    ours(), base()  # warm-up epoch each (first calls, allocator)
    base_t, ours_t = [], []
    for r in range(rounds):
        first, second = (base, ours) if r % 2 == 0 else (ours, base)
        a, b = first(), second()
        base_t.append(a if first is base else b)
        ours_t.append(b if first is base else a)
    return {"ratio": median_ratio(base_t, ours_t), "base": float(np.median(base_t)), "ours": float(np.median(ours_t))}


def run(quick: bool) -> list[dict]:
    cfg = QUICK if quick else FULL
    data = open_dataset(DataConfig())  # augmentation on: Augment(crop padding 2, flip)
    per_sample = per_sample_dataset(data, augment=True)
    rows = []
    for arch, share in cfg["archs"]:
        indices = np.arange(int(cfg["images"] * share))
        n = len(indices)
        result = _compare(arch, data, per_sample, indices, cfg["rounds"])
        is_goal = arch == cfg["archs"][0][0]
        rows.append(row(
            "training throughput", f"{arch}, epochs of {n:,} Fashion-MNIST images, batch {BATCH}, crop+flip, CPU",
            f"per-sample PIL DataLoader {n / result['base']:,.0f} img/s",
            f"TensorData+Augment {n / result['ours']:,.0f} img/s",
            result["ratio"], "x faster", ">= 2x faster" if is_goal else "- (compute-bound model, for scale)",
            met=result["ratio"] >= 2 if is_goal else None,
            notes=f"median of {cfg['rounds']} alternating epochs per side after one warm-up epoch each"))
    return rows
