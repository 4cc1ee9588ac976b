"""BALD's Monte-Carlo dropout scoring: cost per MC sample vs one plain scoring pass.

Workload: the demo's proxy architecture (``small-cnn-16``, untrained: the
cost does not depend on the weights) over real Fashion-MNIST training
images, on CPU, ``T`` = 20 samples (the default ``--mc-samples``).

Two models, two paths of :func:`svp.engine.predict.predict`:

- as built (no dropout layer): dropout goes on the classifier's input, the
  body runs once per batch and the classifier runs on T dropped copies;
- with a dropout layer before the classifier: T full forward passes with
  that layer in training mode.

The figure is ``time(predict with T samples) / (T x time(plain predict))``
on the same images, the two alternating slice by slice, median over
slices: the cost of one MC sample in units of one plain scoring pass.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from bench.common import median_ratio, row, seconds, timed
from svp.config import DataConfig
from svp.data import open_dataset
from svp.engine.predict import predict
from svp.models import classifier_of, create_model

ARCH = "small-cnn-16"
SAMPLES = 20
BATCH = 512
FULL = dict(images=10_000, slices=4, full_pass_images=2_000)
QUICK = dict(images=1_000, slices=2, full_pass_images=256)


def _with_dropout(model: nn.Module) -> nn.Module:
    """``model`` with a dropout layer (p = 0.5) in front of its classifier."""
    model = copy.deepcopy(model)
    for name, module in model.named_children():
        if module is classifier_of(model):
            setattr(model, name, nn.Sequential(nn.Dropout(0.5), module))
            return model
    raise TypeError(f"{ARCH}: no top-level classifier")


def _ratio(model: nn.Module, data, indices: np.ndarray, slices: int) -> tuple[float, float, float]:
    """(median per-sample cost ratio, total plain seconds, total MC seconds)."""
    cpu = torch.device("cpu")
    plain, mc = [], []
    for k, part in enumerate(np.array_split(indices, slices)):
        runs = [lambda: predict(model, data, part, batch_size=BATCH, device=cpu),
                lambda: predict(model, data, part, batch_size=BATCH, device=cpu, mc_samples=SAMPLES)]
        first, second = (0, 1) if k % 2 == 0 else (1, 0)
        times = {first: timed(runs[first]), second: timed(runs[second])}
        plain.append(times[0] * SAMPLES)
        mc.append(times[1])
    return median_ratio(mc, plain), sum(plain) / SAMPLES, sum(mc)


def run(quick: bool) -> list[dict]:
    cfg = QUICK if quick else FULL
    data = open_dataset(DataConfig())
    torch.manual_seed(0)
    model = create_model(ARCH, data.num_classes, data.in_channels).eval()
    predict(model, data, np.arange(64), batch_size=BATCH, device=torch.device("cpu"), mc_samples=2)  # warm-up
    rows = []
    for label, net, images in (("no dropout layer: dropout on the classifier's input", model, cfg["images"]),
                               ("dropout layer before the classifier: full passes", _with_dropout(model),
                                cfg["full_pass_images"])):
        ratio, plain, mc = _ratio(net, data, np.arange(images), cfg["slices"])
        rows.append(row("bald MC-dropout scoring", f"{ARCH} (untrained), {images:,} Fashion-MNIST images, CPU, "
                        f"T={SAMPLES}; {label}", f"plain predict {seconds(plain)}",
                        f"predict with T={SAMPLES} {seconds(mc)}", ratio, "x a plain pass per sample",
                        "<= 1.1x per sample", met=ratio <= 1.1,
                        notes=f"{cfg['slices']} slices, plain and MC alternating which goes first, median of "
                              f"per-slice ratios time(MC) / ({SAMPLES} x time(plain)); batches of {BATCH}"))
    return rows
