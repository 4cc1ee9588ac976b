"""A folder of images of one's own: ``ROOT/train/<class>/*``, optional ``test/<class>/*`` and ``unlabeled/**``.

Any file Pillow reads is an image (PNG, JPEG, WebP, TIFF, ...; greyscale or
colour, any size, 16-bit greyscale scaled to 8 bits). A class is named by
its folder, as :func:`~svp.data.labels.class_name` writes it. The training
split's rows are the labeled images, class by class in the order of their
names, each class's files sorted by path, then the images of ``unlabeled/``
(label -1) sorted by path; an image's id is its path under ``ROOT``.

The images are decoded once into a cache (:mod:`svp.data.image_cache`)
named by a fingerprint of every file's path, size, modification and change
times, inode and label, and of ``--image-size``: a second run starts from
the cache in seconds, and a changed, added, removed or replaced file (also
one put back with its old size and modification time, as ``cp -p`` or
``rsync -t`` do) makes a new one. The cache then takes the tensor-resident
path CIFAR takes (batched augmentation on the device); on the CPU the
tensors are the memory-mapped cache itself, read as batches touch it.

Images of different sizes need ``--image-size N`` (each is resized to N x N).
"""
from __future__ import annotations

import functools
import hashlib
import os
import unicodedata
from pathlib import Path
from typing import Optional

from svp.config import DataConfig
from svp.data.base import TensorData
from svp.data.image_cache import CACHE_FORMAT, Listing, Splits, cache_dir, cached_digests, cached_split, open_cache
from svp.data.labels import class_name
from svp.data.sources import UNKNOWN, image_data
from svp.errors import UsageError



def is_folder(dataset: str) -> bool:
    return os.path.isdir(os.path.join(dataset, "train"))


@functools.lru_cache(maxsize=1)
def _suffixes() -> frozenset[str]:
    from PIL import Image

    return frozenset(Image.registered_extensions())


def image_files(folder: Path) -> Listing:
    """Every file under ``folder`` that Pillow would read by its name, with its stat, sorted.

    ``os.scandir`` rather than ``Path.rglob``: a second run lists (and stats)
    every file to see whether its cache still holds, so this is its cost.
    Symbolic links to folders are followed, each real folder once: a link
    that leads back to a folder already listed (a loop) would list forever.
    """
    found, suffixes = [], _suffixes()
    seen = {_folder_id(str(folder)): str(folder)}
    stack: list[tuple[str, Optional[str]]] = [(str(folder), None)]  # (folder, the last link on the way to it)
    while stack:
        path, via = stack.pop()
        for entry in _entries(path):
            if entry.is_dir():
                link = entry.path if entry.is_symlink() else via
                key = _folder_id(entry.path)
                if key in seen:
                    raise UsageError(f"{link or entry.path} leads back to a folder already listed ({seen[key]}): a "
                                     "symbolic link loop, or a second link to one folder ; remove the link")
                seen[key] = entry.path
                stack.append((entry.path, link))
            elif "." + entry.name.rpartition(".")[2].lower() in suffixes and entry.is_file():
                found.append((entry.path, entry.stat()))
    return sorted(found)


def _folder_id(path: str) -> tuple[int, int]:
    """Who a folder really is, whatever links lead to it."""
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino


def _entries(folder: str) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except OSError as error:
        raise UsageError(f"{folder} cannot be listed ({error.strerror}) ; make it readable, or remove it") from None


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


def _listing(root: Path) -> tuple[Splits, list[str], int]:
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
    _one_row_per_file(train)
    splits = {"train": (train, labels)}
    if (root / "test").is_dir():
        files, test_labels, _ = _labeled(root / "test", classes)
        splits["test"] = (files, test_labels)
    return splits, classes, labeled


def _one_row_per_file(files: Listing) -> None:
    """Refuse a file listed twice (through a link, or a hard link): one image under two classes, or labeled and
    unlabeled at once, has no one label."""
    seen: dict[tuple[int, int], str] = {}
    for path, stat in files:
        first = seen.setdefault((stat.st_dev, stat.st_ino), path)
        if first != path:
            raise UsageError(f"{first} and {path} are one file (a link) ; keep one of them, so that each image has "
                             "one place and one label")


def _fingerprint(root: Path, splits: Splits, image_size: Optional[int]) -> str:
    """The cache's name: every file's path, size, times and inode, its label, and the image size.

    The change time and inode tell a replaced file from the original even when the copy kept its size and
    modification time (``cp -p``, ``rsync -t``, a restore from backup): no tool sets them back.
    """
    hasher = hashlib.sha256(f"{CACHE_FORMAT}|{root.resolve()}|{image_size}".encode())
    for files, labels in splits.values():
        hasher.update("".join(f"{path}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ctime_ns}|{stat.st_ino}|{label}\n"
                              for (path, stat), label in zip(files, labels)).encode())
    return hasher.hexdigest()[:20]


def open_folder(config: DataConfig) -> TensorData:
    """The image folder ``config.dataset`` names, from its cache (made now if missing, stale or damaged)."""
    root = Path(config.dataset)
    splits, classes, labeled = _listing(root)
    folder = cache_dir(root, _fingerprint(root, splits, config.image_size))
    saved = open_cache(root, folder, splits, config.image_size, labeled)
    inputs, labels = {}, {}
    for split in splits:
        inputs[split], labels[split] = cached_split(folder, split)
    inputs.setdefault("test", inputs["train"][:0])
    labels.setdefault("test", labels["train"][:0])
    files = splits["train"][0]

    @functools.cache
    def identify() -> tuple[list[str], list[str]]:
        return [_relative(path, root) for path, _ in files], cached_digests(folder)

    # ids only for the examples asked about (`svp query`), not every image each run
    return image_data(root.name, inputs, labels, len(classes), config.augmentation, (saved["mean"], saved["std"]),
                      classes=classes, ids=lambda indices: [_relative(files[i][0], root) for i in indices],
                      identify=identify)


def _relative(path: str, root: Path) -> str:
    """A file's id: its path under the folder, in Unicode NFC (as macOS and Linux may spell it otherwise)."""
    return unicodedata.normalize("NFC", os.path.relpath(path, root))
