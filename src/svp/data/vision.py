"""Small image datasets held in memory: Fashion-MNIST, CIFAR10, CIFAR100.

Each loader reads the dataset's own on-disk format (IDX files, CIFAR pickle
batches) into one uint8 tensor (N, C, H, W) and returns a
:class:`~svp.data.base.TensorData`. Where the files are missing, the
torchvision downloader fetches them (which needs a network).
"""
from __future__ import annotations

import gzip
import logging
import os
import pickle
import zlib
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from svp.config import DataConfig
from svp.data.base import TensorData, check_labels
from svp.data.transforms import Augment, Normalize
from svp.errors import UsageError

log = logging.getLogger(__name__)

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_FILES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}
STATS = {
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
CROP_PADDING = {"fashion-mnist": 2, "cifar10": 4, "cifar100": 4}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not; a damaged file is a UsageError naming it."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        raise UsageError(f"{path} cannot be read ({error}) ; it is damaged or cut short: fetch it again") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise UsageError(f"{path} is not an IDX file of unsigned bytes ; fetch it again")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise UsageError(f"{path} is truncated: expected {int(np.prod(shape))} values, found {data.size} ; "
                         "fetch it again")
    return data.reshape(shape)


def _fashion_mnist_dirs(datasets_dir: str) -> list[Path]:
    """Where to look, in order: --datasets-dir, then $SVP_DATA, then Debian's copy."""
    roots = [datasets_dir, os.environ.get("SVP_DATA"), DEBIAN_FASHION_MNIST]
    dirs = []
    for root in filter(None, roots):
        base = Path(root)
        dirs += [base, base / "fashion-mnist", base / "FashionMNIST" / "raw"]
    return dirs


def _idx_files(folder: Path) -> dict[tuple[str, str], Path]:
    """The Fashion-MNIST files ``folder`` holds (gzipped or not), by (split, kind)."""
    found = {}
    for key, name in FASHION_MNIST_FILES.items():
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                found[key] = candidate
                break
    return found


def _find_fashion_mnist(dirs: list[Path]) -> Optional[dict[tuple[str, str], Path]]:
    """All four files from the first folder that holds any: never some from one place, some from another."""
    for folder in dirs:
        found = _idx_files(folder)
        if len(found) == len(FASHION_MNIST_FILES):
            return found
        if found:
            missing = [name for key, name in FASHION_MNIST_FILES.items() if key not in found]
            raise UsageError(f"{folder} holds only some of Fashion-MNIST's files (missing {', '.join(missing)}) ; "
                             "put all four *-ubyte[.gz] files there, or none")
    return None


def _fashion_mnist_paths(datasets_dir: str) -> dict[tuple[str, str], Path]:
    dirs = _fashion_mnist_dirs(datasets_dir)
    paths = _find_fashion_mnist(dirs)
    if paths is None:
        _try_download(lambda: _torchvision("FashionMNIST")(datasets_dir, download=True), "Fashion-MNIST")
        paths = _find_fashion_mnist(dirs)
    if paths is None:
        raise UsageError(
            f"Fashion-MNIST not found in {datasets_dir!r}, $SVP_DATA or {DEBIAN_FASHION_MNIST} and "
            "it could not be downloaded ; on Debian/Ubuntu: apt-get install dataset-fashion-mnist, "
            "or put the four *-ubyte[.gz] files in --datasets-dir"
        )
    return paths


def _torchvision(name: str) -> Callable:
    import torchvision.datasets

    return getattr(torchvision.datasets, name)


def _try_download(download: Callable[[], object], what: str) -> None:
    """Run a torchvision download; offline, log why and carry on."""
    try:
        download()
    except Exception as error:  # no network, refused, corrupted archive...
        log.warning("could not download %s: %s", what, error)


def fashion_mnist(config: DataConfig) -> TensorData:
    """Fashion-MNIST (60,000 train / 10,000 test, 28x28 grey, 10 classes)."""
    paths = _fashion_mnist_paths(config.datasets_dir)
    inputs, labels = {}, {}
    for split in ("train", "test"):
        images_path, labels_path = paths[(split, "images")], paths[(split, "labels")]
        images, targets = read_idx(images_path), read_idx(labels_path).astype(np.int64)
        if images.ndim != 3 or targets.ndim != 1:
            raise UsageError(f"{images_path} and {labels_path} do not hold images (N, H, W) and labels (N,) ; "
                             "fetch them again")
        check_labels(targets, 10, f"{images_path} and {labels_path}", examples=len(images))
        inputs[split] = torch.from_numpy(images.copy()).unsqueeze(1)
        labels[split] = torch.from_numpy(targets)
    return _image_data("fashion-mnist", config, inputs, labels, num_classes=10)


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles what a CIFAR batch holds (dicts, lists, numbers, strings, numpy arrays) and nothing else.

    A pickle can name any callable to run while it loads; a dataset file is
    untrusted input, so every global outside numpy's array reconstruction is refused.
    """

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which a CIFAR batch never does")
        return super().find_class(module, name)


def _read_cifar_batch(path: Path, label_key: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) and labels of one batch file, checked against each other."""
    try:
        with open(path, "rb") as handle:
            batch = _CifarUnpickler(handle, encoding="latin1").load()
        data, targets = np.asarray(batch["data"]), np.asarray(batch[label_key])
    except Exception as error:  # a damaged or foreign pickle can raise almost anything
        raise UsageError(f"{path} is not a CIFAR batch ({type(error).__name__}: {error}) ; fetch it again from "
                         "https://www.cs.toronto.edu/~kriz/cifar.html") from None
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or targets.ndim != 1:
        raise UsageError(f"{path}: its data is {data.dtype} {data.shape}, not uint8 images of 3x32x32 values ; "
                         "fetch it again")
    check_labels(targets, num_classes, str(path), examples=len(data))
    return data.reshape(-1, 3, 32, 32), targets.astype(np.int64)


CIFAR_LAYOUT = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"],
                "labels", "CIFAR10", 10),
    "cifar100": ("cifar-100-python", ["train"], ["test"], "fine_labels", "CIFAR100", 100),
}


def _cifar(name: str, config: DataConfig) -> TensorData:
    folder, train_files, test_files, label_key, tv_name, num_classes = CIFAR_LAYOUT[name]
    root = Path(config.datasets_dir)
    if not config.datasets_dir or not root.is_dir():
        raise UsageError(f"--datasets-dir {config.datasets_dir!r} does not exist ; create it or point it "
                         f"at the folder holding {folder}/")
    # torchvision's layout (<dir>/cifar-10-batches-py), or the original implementation's (<dir>/cifar10/...)
    layouts = [root / folder, root / name / folder]
    base = next((path for path in layouts if path.is_dir()), None)
    if base is None:
        _try_download(lambda: _torchvision(tv_name)(str(root), download=True), name)
        base = layouts[0]
    files = {"train": train_files, "test": test_files}
    missing = [str(base / f) for split in files.values() for f in split if not (base / f).exists()]
    if missing:
        raise UsageError(f"{name} not found: missing {', '.join(missing)} (nor under {layouts[1]}) ; download it "
                         f"from https://www.cs.toronto.edu/~kriz/cifar.html and extract it into {root}")
    inputs, labels = {}, {}
    for split, names in files.items():
        parts = [_read_cifar_batch(base / f, label_key, num_classes) for f in names]
        inputs[split] = torch.from_numpy(np.concatenate([p[0] for p in parts]))
        labels[split] = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    return _image_data(name, config, inputs, labels, num_classes=num_classes)


def cifar10(config: DataConfig) -> TensorData:
    """CIFAR10 from torchvision's on-disk layout (``cifar-10-batches-py``)."""
    return _cifar("cifar10", config)


def cifar100(config: DataConfig) -> TensorData:
    """CIFAR100 from torchvision's on-disk layout (``cifar-100-python``)."""
    return _cifar("cifar100", config)


def _image_data(name: str, config: DataConfig, inputs: dict, labels: dict, num_classes: int) -> TensorData:
    mean, std = STATS[name]
    normalize = Normalize(mean, std)
    train_transform = Augment(normalize, padding=CROP_PADDING[name]) if config.augmentation else normalize
    return TensorData(name=name, num_classes=num_classes, in_channels=inputs["train"].shape[1],
                      inputs=inputs, labels=labels,
                      train_transform=train_transform, eval_transform=normalize)


MODALITY = "image"  # what these datasets hold: images
DATASETS = {"fashion-mnist": fashion_mnist, "cifar10": cifar10, "cifar100": cifar100}
