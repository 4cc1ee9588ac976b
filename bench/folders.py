"""A folder of images of one's own: the first load (decoding every file) vs the next (the cache).

Writes ``train/<class>/*.jpg``: 20,000 Fashion-MNIST images (1,000 in the
quick run) as 96x96 RGB JPEGs, the size of STL-10's, read with
``--image-size 32``; then

* **loading**: the first ``open_dataset`` of the folder decodes and resizes
  every file into the cache; the second reads the cache. Goal: the second
  >= 20x faster.
* **training throughput**: epochs of the MLP proxy on the folder's data vs
  on a CIFAR-format copy of the very pixels the folder gave (through the
  CIFAR loader). Goal: within 10% (both take the tensor-resident path).
"""
from __future__ import annotations

import os
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.common import alternate, median_ratio, row, seconds
from bench.training import make_step
from svp.config import DataConfig
from svp.data import open_dataset
from svp.engine.fit import train_epoch
from svp.models import create_model

FULL = dict(images=20_000, rounds=5)
QUICK = dict(images=1_000, rounds=2)


SIDE = 96  # pixels of the files; read with --image-size 32


def _fashion(n: int) -> tuple[np.ndarray, np.ndarray]:
    data = open_dataset(DataConfig(augmentation=False))
    return data.inputs["train"][:n, 0].numpy(), data.targets("train")[:n]


def write_folder(root: Path, images: np.ndarray, labels: np.ndarray) -> None:
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = root / "train" / f"class{label}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).convert("RGB").resize((SIDE, SIDE)).save(folder / f"{i}.jpg", quality=90)


def write_cifar(root: Path, images: torch.Tensor, labels: np.ndarray) -> None:
    """Images (N, 3, 32, 32) in CIFAR's pickle batches, in the order given."""
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    flat = images.numpy().reshape(len(images), -1)
    for k, part in enumerate(np.array_split(np.arange(len(images)), 5), start=1):
        with open(base / f"data_batch_{k}", "wb") as handle:
            pickle.dump({"data": flat[part], "labels": labels[part].tolist()}, handle)
    with open(base / "test_batch", "wb") as handle:
        pickle.dump({"data": flat[:10], "labels": labels[:10].tolist()}, handle)


def _timed_open(config: DataConfig) -> tuple[float, object]:
    start = time.perf_counter()
    data = open_dataset(config)
    return time.perf_counter() - start, data


def _epoch(data, indices: np.ndarray) -> float:
    torch.manual_seed(0)
    step = make_step(create_model("mlp", data.num_classes, data.in_channels))
    start = time.perf_counter()
    train_epoch(step, data, indices, 128, epoch=1)
    return time.perf_counter() - start


def run(quick: bool) -> list[dict]:
    sizes = QUICK if quick else FULL
    images, labels = _fashion(sizes["images"])
    with tempfile.TemporaryDirectory(prefix="svp-bench-folders-") as tmp:
        root = Path(tmp)
        os.environ["SVP_CACHE"] = str(root / "cache")
        write_folder(root / "folder", images, labels)
        config = DataConfig(dataset=str(root / "folder"), image_size=32)
        firsts, seconds_ = [], []
        for k in range(sizes["rounds"]):  # each round a fresh cache: one decoding load, then one from the cache
            os.environ["SVP_CACHE"] = str(root / f"cache{k}")
            first, folder_data = _timed_open(config)
            second, _ = _timed_open(config)
            firsts.append(first)
            seconds_.append(second)
        write_cifar(root / "cifar", folder_data.inputs["train"], folder_data.targets("train"))
        cifar_data = open_dataset(DataConfig(dataset="cifar10", datasets_dir=str(root / "cifar")))
        indices = np.arange(len(labels))
        cifar_times, folder_times = alternate(lambda: _epoch(cifar_data, indices),
                                              lambda: _epoch(folder_data, indices), sizes["rounds"])
        del os.environ["SVP_CACHE"]
    n = len(labels)
    ratio = median_ratio(cifar_times, folder_times)
    load_ratio = median_ratio(firsts, seconds_)
    return [
        row("own image folder: loading", f"{n:,} JPEG files ({SIDE}x{SIDE}, 10 classes), --image-size 32",
            f"first load {seconds(float(np.median(firsts)))}", f"second load {seconds(float(np.median(seconds_)))}",
            load_ratio, "x faster", ">= 20x faster", load_ratio >= 20,
            notes=f"median of {sizes['rounds']} rounds, each with a fresh cache; the first load decodes every file "
                  "into the cache, the second finds it by the files' paths, sizes and times"),
        row("own image folder: training", f"mlp, epochs of {n:,} images, batch 128, crop+flip",
            f"CIFAR-format copy {n / np.median(cifar_times):,.0f} img/s",
            f"folder {n / np.median(folder_times):,.0f} img/s", ratio, "x the CIFAR throughput",
            "within 10%", 0.9 <= ratio <= 1.1, notes=f"median of {sizes['rounds']} alternating epochs"),
    ]


if __name__ == "__main__":
    from bench.common import format_table

    print(format_table(run(quick=True)))
