"""Pool scoring: ``svp.engine.predict.predict`` vs a bare forward pass and vs the original's loader.

* **bare forward** (the floor): the same model over the same images, held
  in one preloaded, normalised float tensor, in batches under
  ``torch.inference_mode`` -- no data path, no softmax, no output arrays.
  Its batch size is the fastest of ``BATCHES`` on the first slice (on this
  CPU larger is not faster: big activations are fresh ``mmap``s whose page
  faults cost system time), and ``predict`` is given the same one.
* **original** (the baseline): what the original implementation did
  (``svp/common/selection/__init__.py: _calc_preds_and_features``): a
  torchvision-style dataset giving one PIL image at a time through
  ``ToTensor()`` and ``Normalize()``, a ``DataLoader`` of batch 128
  (``num_workers=0``), softmax per batch, ``torch.cat`` at the end.

The pool is cut into slices; each slice is scored by all three in rotating
order, and the ratios are medians over slices.
"""
from __future__ import annotations


import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Subset
from torchvision import transforms

from bench.common import median_ratio, row, seconds, timed
from svp.config import DataConfig
from svp.data import open_dataset
from svp.data.vision import STATS
from svp.engine.predict import predict
from svp.models import create_model

ARCH = "small-cnn-16"  # the demo's proxy (Makefile)
BATCHES = (128, 256, 512, 1024)  # candidates for the bare forward pass (and predict)
ORIGINAL_BATCH = 128
FULL = dict(images=50_000, slices=5)
QUICK = dict(images=2_000, slices=2)


class PerSampleImages(Dataset):
    """torchvision's FashionMNIST ``__getitem__``: a PIL image per example, then the transform."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        image = Image.fromarray(self.images[index], mode="L")
        return self.transform(image), int(self.labels[index])


def original_transform(augment: bool = False) -> transforms.Compose:
    """The original's per-sample pipeline for Fashion-MNIST (crop 28 with padding 2 when augmenting)."""
    mean, std = STATS["fashion-mnist"]
    steps = [transforms.RandomCrop(28, padding=2), transforms.RandomHorizontalFlip()] if augment else []
    return transforms.Compose(steps + [transforms.ToTensor(), transforms.Normalize(mean, std)])


def per_sample_dataset(data, augment: bool = False) -> PerSampleImages:
    images = data.inputs["train"][:, 0].numpy()
    return PerSampleImages(images, data.targets("train"), original_transform(augment))


@torch.inference_mode()
def original_scoring(model: torch.nn.Module, dataset: Dataset, subset: np.ndarray) -> np.ndarray:
    """``_calc_preds_and_features`` of the original, probabilities only, on CPU."""
    loader = DataLoader(Subset(dataset, subset), batch_size=ORIGINAL_BATCH, shuffle=False, num_workers=0)
    preds = []
    for inputs, _ in loader:
        preds.append(torch.nn.functional.softmax(model(inputs), dim=1).detach().cpu())
    return torch.cat(preds).numpy()


@torch.inference_mode()
def bare_forward(model: torch.nn.Module, images: torch.Tensor, batch: int) -> None:
    for chunk in images.split(batch):
        model(chunk)


def fastest_batch(model: torch.nn.Module, images: torch.Tensor) -> int:
    """The batch size of ``BATCHES`` whose bare forward pass over ``images`` is fastest."""
    bare_forward(model, images[:BATCHES[-1]], BATCHES[-1])  # warm-up
    return min(BATCHES, key=lambda b: timed(lambda: bare_forward(model, images, b)))


def run(quick: bool) -> list[dict]:
    cfg = QUICK if quick else FULL
    data = open_dataset(DataConfig())
    torch.manual_seed(0)
    model = create_model(ARCH, data.num_classes, data.in_channels).eval()
    indices = np.arange(cfg["images"])
    preloaded = data.eval_transform(data.inputs["train"][: cfg["images"]])
    per_sample = per_sample_dataset(data)
    cpu = torch.device("cpu")
    times: dict[str, list[float]] = {"bare": [], "ours": [], "original": []}
    agree = True
    slices = np.array_split(indices, cfg["slices"])
    batch = fastest_batch(model, preloaded[: len(slices[0])])
    runners = {
        "bare": lambda s: bare_forward(model, preloaded[s[0]:s[-1] + 1], batch),
        "ours": lambda s: predict(model, data, s, batch_size=batch, device=cpu),
        "original": lambda s: original_scoring(model, per_sample, s),
    }
    order = list(runners)
    for k, part in enumerate(slices):
        for name in order[k % 3:] + order[:k % 3]:  # rotate who goes first
            times[name].append(timed(lambda: runners[name](part)))
        if k == 0:  # same numbers as the original's pipeline
            ours = predict(model, data, part, batch_size=batch, device=cpu).probs
            agree = bool(np.allclose(ours, original_scoring(model, per_sample, part), atol=1e-5))
    over_bare = median_ratio(times["ours"], times["bare"])
    speedup = median_ratio(times["original"], times["ours"])
    n = len(indices)
    workload = f"{ARCH} (untrained) over {n:,} Fashion-MNIST train images, CPU"
    notes = (f"{cfg['slices']} slices of {n // cfg['slices']:,} images, each scored by all three in rotating "
             f"order, median of per-slice ratios; predict and bare forward both in batches of {batch} "
             f"(the bare pass's fastest of {', '.join(map(str, BATCHES))}); "
             f"predict's probabilities match the original pipeline's (atol 1e-5): {'yes' if agree else 'NO'}")
    total = {k: sum(v) for k, v in times.items()}
    return [
        row("pool scoring vs bare forward", workload, f"bare forward {seconds(total['bare'])}",
            f"predict {seconds(total['ours'])}", over_bare, "x cost", "<= 1.15x cost", met=over_bare <= 1.15,
            notes=notes),
        row("pool scoring vs original loader", workload,
            f"per-sample PIL DataLoader (batch {ORIGINAL_BATCH}) {seconds(total['original'])}",
            f"predict {seconds(total['ours'])}", speedup, "x faster",
            notes=f"{n / total['original']:,.0f} vs {n / total['ours']:,.0f} images/s"),
    ]
