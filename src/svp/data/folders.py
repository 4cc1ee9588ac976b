"""A folder of images of one's own: ``ROOT/train/<class>/*``, optional ``test/<class>/*`` and ``unlabeled/**``.

Any file Pillow reads is an image (PNG, JPEG, WebP, ...; greyscale or
colour, any size). The images are decoded once into a uint8 cache (a numpy
``.npy`` per split, memory-mapped), named by a fingerprint of every file's
path, size and modification time and of ``--image-size``: a second run
starts from the cache in seconds, and a changed, added or removed file
makes a new one. The cache then takes the tensor-resident path CIFAR takes
(batched augmentation on the device); on the CPU the tensors are the
memory-mapped cache itself, read as batches touch it.

Images of different sizes need ``--image-size N`` (each is resized to N x N);
images in ``unlabeled/`` join the training split with label -1.
"""
from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import os
import shutil
import unicodedata
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from svp.config import DataConfig
from svp.data.base import TensorData, unreadable_image
from svp.data.identity import DIGEST_SIZE, digest
from svp.data.labels import class_name
from svp.data.sources import UNKNOWN, channel_stats, image_data
from svp.errors import UsageError
from svp.progress import bar

log = logging.getLogger(__name__)

DONE = "done.json"  # written last into a cache folder: its splits and the training images' statistics
CACHE_ENV = "SVP_CACHE"  # where decoded folders are kept (default: ~/.cache/svp)
CACHE_FORMAT = 2  # part of every cache's name: a cache of another layout is never read


def is_folder(dataset: str) -> bool:
    return os.path.isdir(os.path.join(dataset, "train"))


Listing = list[tuple[str, os.stat_result]]  # (path, its stat), sorted by path


@functools.lru_cache(maxsize=1)
def _suffixes() -> frozenset[str]:
    from PIL import Image

    return frozenset(Image.registered_extensions())


def image_files(folder: Path) -> Listing:
    """Every file under ``folder`` that Pillow would read by its name, with its stat, sorted.

    ``os.scandir`` rather than ``Path.rglob``: a second run lists (and stats)
    every file to see whether its cache still holds, so this is its cost.
    """
    found, stack, suffixes = [], [str(folder)], _suffixes()
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir():
                    stack.append(entry.path)
                elif "." + entry.name.rpartition(".")[2].lower() in suffixes and entry.is_file():
                    found.append((entry.path, entry.stat()))
    return sorted(found)


def _labeled(folder: Path, classes: Optional[list[str]] = None) -> tuple[Listing, list[int], list[str]]:
    """Files and labels of ``folder/<class>/*`` (with ``classes``, the training split's names).

    A class is named by its folder's name as :func:`~svp.data.labels.class_name` writes it.
    """
    folders: dict[str, Path] = {}
    for path in sorted(p for p in folder.iterdir() if p.is_dir()):
        name = class_name(path.name)
        if not name or name in folders:
            raise UsageError(f"{path} names {'no class' if not name else f'the class {name!r} of {folders[name]}'} "
                             "(class names are compared without surrounding blanks, in Unicode NFC) ; rename it")
        folders[name] = path
    if classes is None:
        classes = sorted(folders)
    extra = sorted(set(folders) - set(classes))
    if extra:
        raise UsageError(f"{folder} has classes the training split lacks ({', '.join(extra[:5])}) ; give each "
                         "class a folder in train/ too")
    files, labels = [], []
    for label, name in enumerate(classes):
        found = image_files(folders[name]) if name in folders else []
        files += found
        labels += [label] * len(found)
    return files, labels, classes


def _listing(root: Path) -> tuple[dict[str, tuple[Listing, list[int]]], list[str], int]:
    """The files and labels of each split present, the class names, and the number of labeled training images.

    Unlabeled images (label -1) follow the labeled ones in the training split.
    """
    train, labels, classes = _labeled(root / "train")
    labeled = len(train)
    if (root / "unlabeled").is_dir():
        unlabeled = image_files(root / "unlabeled")
        train, labels = train + unlabeled, labels + [UNKNOWN] * len(unlabeled)
    if len(classes) < 2 or not train:
        raise UsageError(f"{root / 'train'} holds {labeled} images in {len(classes)} class folders ; put the "
                         "images of each class in train/<class>/ (two classes at least; a class folder may be "
                         "empty while its images wait in unlabeled/)")
    splits = {"train": (train, labels)}
    if (root / "test").is_dir():
        files, test_labels, _ = _labeled(root / "test", classes)
        splits["test"] = (files, test_labels)
    return splits, classes, labeled


def _fingerprint(root: Path, splits: dict, image_size: Optional[int]) -> str:
    hasher = hashlib.sha256(f"{CACHE_FORMAT}|{root.resolve()}|{image_size}".encode())
    for files, labels in splits.values():
        hasher.update("".join(f"{path}|{stat.st_size}|{stat.st_mtime_ns}|{label}\n"
                              for (path, stat), label in zip(files, labels)).encode())
    return hasher.hexdigest()[:20]


def cache_dir(root: Path, fingerprint: str) -> Path:
    base = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "svp")
    return base / f"{root.name}-{fingerprint}"


def _shape(files: list[str], image_size: Optional[int]) -> tuple[int, int, int]:
    """(channels, height, width) all images take: colour if any is, their common size (or --image-size)."""
    from PIL import Image

    sizes, colour = {}, False
    for path in files:
        try:
            with Image.open(path) as image:
                sizes.setdefault(image.size, path)
                colour = colour or image.mode not in ("1", "L", "I", "I;16", "F")
        except OSError as error:  # PIL.UnidentifiedImageError among them
            raise unreadable_image(path, error) from None
    channels = 3 if colour else 1
    if image_size is not None:
        return channels, image_size, image_size
    if len(sizes) > 1:
        (a, first), (b, second) = list(sizes.items())[:2]
        raise UsageError(f"the images differ in size ({first} is {a[0]}x{a[1]}, {second} is {b[0]}x{b[1]}) ; "
                         "give --image-size N to resize them all to N x N")
    (width, height), = sizes
    return channels, height, width


def _decode(files: list[str], shape: tuple[int, int, int], out: np.ndarray, desc: str) -> list[str]:
    """Decode ``files`` into ``out``; return the digest of each file's bytes (its identity, see
    :mod:`svp.data.identity`), read in the same pass."""
    from PIL import Image

    channels, height, width = shape
    digests = []
    for row, path in enumerate(bar(files, desc=desc, unit="image")):
        try:
            content = Path(path).read_bytes()
            with Image.open(io.BytesIO(content)) as image:
                image = image.convert("RGB" if channels == 3 else "L")
                if image.size != (width, height):
                    image = image.resize((width, height), Image.Resampling.BILINEAR)
                pixels = np.asarray(image, dtype=np.uint8)
        except OSError as error:
            raise unreadable_image(path, error) from None
        out[row] = pixels.reshape(height, width, channels).transpose(2, 0, 1)
        digests.append(digest(content))
    return digests


def _build_cache(folder: Path, splits: dict, image_size: Optional[int], labeled: int) -> None:
    """Decode every split into ``folder/<split>.npy`` (uint8 N, C, H, W) and its labels; atomically.

    The normalisation statistics are those of the ``labeled`` first training images (of all of them when
    none is labeled yet).
    """
    shape = _shape([path for files, _ in splits.values() for path, _ in files], image_size)
    building = folder.with_name(folder.name + ".building")
    shutil.rmtree(building, ignore_errors=True)  # what a killed run left
    building.mkdir(parents=True)
    try:
        for split, (files, labels) in splits.items():
            images = np.lib.format.open_memmap(building / f"{split}.npy", mode="w+", dtype=np.uint8,
                                               shape=(len(files), *shape))
            digests = _decode([path for path, _ in files], shape, images, desc=f"decoding {split}")
            if split == "train":
                stats = channel_stats(torch.from_numpy(np.asarray(images[:labeled or len(files)])))
            images.flush()
            del images
            np.save(building / f"{split}-labels.npy", np.asarray(labels, dtype=np.int64))
            np.save(building / f"{split}-digests.npy", np.asarray(digests, dtype=f"S{2 * DIGEST_SIZE}"))
        (building / DONE).write_text(json.dumps({"splits": list(splits), "mean": stats[0], "std": stats[1]}))
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    os.replace(building, folder)  # the cache appears whole, or not at all


def open_folder(config: DataConfig) -> TensorData:
    """The image folder ``config.dataset`` names, from its cache (made now if missing or stale)."""
    root = Path(config.dataset)
    splits, classes, labeled = _listing(root)
    folder = cache_dir(root, _fingerprint(root, splits, config.image_size))
    if not (folder / DONE).is_file():
        log.info("decoding %d images of %s into %s (once)", sum(len(f) for f, _ in splits.values()), root, folder)
        _build_cache(folder, splits, config.image_size, labeled)
    # copy-on-write mappings of the cache: pages come from the page cache as batches touch them, no copy first
    inputs = {split: torch.from_numpy(np.load(folder / f"{split}.npy", mmap_mode="c")) for split in splits}
    labels = {split: torch.from_numpy(np.load(folder / f"{split}-labels.npy")) for split in splits}
    inputs.setdefault("test", inputs["train"][:0])
    labels.setdefault("test", labels["train"][:0])
    saved = json.loads((folder / DONE).read_text())
    files = splits["train"][0]

    def identify() -> tuple[list[str], list[str]]:
        ids = [_relative(path, root) for path, _ in files]
        return ids, np.load(folder / "train-digests.npy").astype(str).tolist()

    # ids only for the examples asked about (`svp query`), not every image each run
    return image_data(root.name, inputs, labels, len(classes), config.augmentation, (saved["mean"], saved["std"]),
                      classes=classes, ids=lambda indices: [_relative(files[i][0], root) for i in indices],
                      identify=identify)


def _relative(path: str, root: Path) -> str:
    """A file's id: its path under the folder, in Unicode NFC (as macOS and Linux may spell it otherwise)."""
    return unicodedata.normalize("NFC", os.path.relpath(path, root))
