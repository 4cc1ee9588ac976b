"""Shared fixtures: tiny datasets written in their real on-disk formats."""
from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(2)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write ``array`` (uint8) as a gzipped IDX file, the MNIST format."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def _learnable_images(rng: np.random.Generator, labels: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Noise plus a class-dependent brightness, so models can learn something."""
    noise = rng.integers(0, 96, size=(len(labels), *shape))
    return (noise + 16 * labels.reshape(-1, *([1] * len(shape)))).clip(0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def fashion_dir(tmp_path_factory) -> Path:
    """A Fashion-MNIST folder of 300 train / 100 test 28x28 images, 10 classes."""
    root = tmp_path_factory.mktemp("fashion")
    rng = np.random.default_rng(0)
    for split, n in (("train", 300), ("t10k", 100)):
        labels = np.arange(n) % 10
        write_idx(root / f"{split}-images-idx3-ubyte.gz", _learnable_images(rng, labels, (28, 28)))
        write_idx(root / f"{split}-labels-idx1-ubyte.gz", labels.astype(np.uint8))
    return root


def write_fake_cifar10(root: str | Path, n_train: int, n_test: int, seed: int = 1) -> Path:
    """A CIFAR10 folder (torchvision layout: five pickle batches and a test batch) of learnable images."""
    base = Path(root) / "cifar-10-batches-py"
    base.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        n = n_test if name == "test_batch" else n_train // 5
        labels = rng.integers(0, 10, size=n)
        images = _learnable_images(rng, labels, (3, 32, 32)).reshape(n, -1)
        with open(base / name, "wb") as handle:
            pickle.dump({"data": images, "labels": labels.tolist(), "batch_label": name}, handle)
    return Path(root)


@pytest.fixture(scope="session")
def cifar_dir(tmp_path_factory) -> Path:
    """A CIFAR10 folder (torchvision layout, pickle batches) of 5 x 80 train / 100 test images."""
    return write_fake_cifar10(tmp_path_factory.mktemp("cifar"), 400, 100)


@pytest.fixture
def fashion_env(fashion_dir, monkeypatch) -> Path:
    """Point Fashion-MNIST lookups at the tiny copy only."""
    monkeypatch.setenv("SVP_DATA", str(fashion_dir))
    monkeypatch.setattr("svp.data.vision.DEBIAN_FASHION_MNIST", str(fashion_dir))
    return fashion_dir


def pytest_collection_modifyitems(config, items) -> None:
    """Tests marked ``cuda`` skip themselves where no GPU is present."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)
