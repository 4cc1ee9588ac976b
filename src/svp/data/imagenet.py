"""ImageNet (ILSVRC 2012) read from its class-folder layout with torchvision.

The layout is the usual one (see the README for how to extract the
archives)::

    <datasets_dir>/imagenet/train/<class>/*.JPEG
    <datasets_dir>/imagenet/val/<class>/*.JPEG

``--datasets-dir`` may also point at the ``imagenet`` folder itself. Images
are decoded per example by ``DataLoader`` workers (``--num-workers``):
training reads a random resized 224x224 crop with a horizontal flip,
evaluation and pool scoring a 224x224 centre crop of the image resized to
256 pixels (the standard ResNet recipe, as the original ``svp``).
"""
from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Callable

import numpy as np

from svp.config import DataConfig
from svp.data.base import DatasetData, unreadable_image
from svp.errors import UsageError

log = logging.getLogger(__name__)

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
CROP = 224
RESIZE = 256
LAYOUT_HINT = "one subfolder of images per class, e.g. train/n01440764/n01440764_10026.JPEG"


def imagenet_root(datasets_dir: str) -> Path:
    """The folder holding ``train/`` and ``val/``.

    ``<datasets_dir>/imagenet`` is preferred; ``datasets_dir`` itself is
    accepted when it holds the two folders.

    Raises
    ------
    UsageError
        When neither does, naming the folder that is missing.
    """
    base = Path(datasets_dir)
    candidates = (base / "imagenet", base)
    for root in candidates:
        if (root / "train").is_dir() and (root / "val").is_dir():
            return root
    # report against the folder the user most likely meant
    root = next((r for r in candidates if (r / "train").is_dir() or (r / "val").is_dir()), candidates[0])
    missing = [str(root / split) for split in ("train", "val") if not (root / split).is_dir()]
    raise UsageError(
        f"ImageNet not found: expected the folder{'s' if len(missing) > 1 else ''} {' and '.join(missing)} "
        f"({LAYOUT_HINT}); point --datasets-dir at the folder holding imagenet/train and imagenet/val")


def train_transform() -> Callable:
    """Random resized crop to 224 and horizontal flip, then normalisation."""
    from torchvision import transforms

    return transforms.Compose([transforms.RandomResizedCrop(CROP), transforms.RandomHorizontalFlip(),
                               transforms.ToTensor(), transforms.Normalize(MEAN, STD)])


def eval_transform() -> Callable:
    """Resize to 256, centre crop to 224, then normalisation."""
    from torchvision import transforms

    return transforms.Compose([transforms.Resize(RESIZE), transforms.CenterCrop(CROP),
                               transforms.ToTensor(), transforms.Normalize(MEAN, STD)])


def _image_folder(root: Path, transform: Callable, allow_empty: bool = False):
    """A torchvision ImageFolder of ``root``.

    Raises
    ------
    UsageError
        When the folder holds no class folders or no images.
    """
    from torchvision.datasets import ImageFolder

    try:
        folder = ImageFolder(str(root), transform=transform, loader=load_image, allow_empty=allow_empty)
    except FileNotFoundError as error:
        raise UsageError(f"no images in {root} ({LAYOUT_HINT}): {error}") from None
    if not folder.samples:
        raise UsageError(f"no images in {root} ({LAYOUT_HINT})")
    return folder


def load_image(path: str):
    """An RGB image read by Pillow (as ImageFolder does); a file Pillow cannot read is a UsageError naming it."""
    from torchvision.datasets.folder import default_loader

    try:
        return default_loader(path)
    except OSError as error:  # PIL.UnidentifiedImageError, truncated files, unreadable files
        raise unreadable_image(path, error) from None


def _relabel(folder, class_to_idx: dict[str, int]):
    """Label ``folder``'s images by another class mapping (the training set's).

    ``val/`` may lack some classes; its own indices would then shift.
    """
    remap = {index: class_to_idx[name] for name, index in folder.class_to_idx.items()}
    folder.samples = [(path, remap[label]) for path, label in folder.samples]
    folder.imgs = folder.samples
    folder.targets = [label for _, label in folder.samples]
    folder.classes = sorted(class_to_idx, key=class_to_idx.__getitem__)
    folder.class_to_idx = dict(class_to_idx)
    return folder


def _check_val_classes(val_dir: Path, classes: list[str]) -> None:
    """Every class folder of ``val/`` must also be one of ``train/``."""
    known = set(classes)
    extra = sorted(p.name for p in val_dir.iterdir() if p.is_dir() and p.name not in known)
    if extra:
        shown = ", ".join(extra[:5]) + (", ..." if len(extra) > 5 else "")
        raise UsageError(f"{val_dir} has {len(extra)} class folder(s) that {val_dir.parent / 'train'} lacks: "
                         f"{shown}; both must use the same class folder names")


def _with_transform(folder, transform: Callable):
    """The same images (no second folder scan) read through another transform."""
    view = copy.copy(folder)
    view.transform = transform
    return view


def imagenet(config: DataConfig) -> DatasetData:
    """ImageNet from ``<datasets_dir>/imagenet/{train,val}`` (the val folder is the test split).

    Parameters
    ----------
    config : DataConfig
        ``datasets_dir``, ``augmentation`` (off: training reads the
        evaluation crop) and the loader workers.

    Returns
    -------
    DatasetData
        Datasets for ``("train", True)`` (augmented), ``("train", False)``
        (evaluation transform, for dev evaluation and pool scoring) and
        ``("test", False)``.
    """
    root = imagenet_root(config.datasets_dir)
    evaluate = eval_transform()
    train = _image_folder(root / "train", train_transform() if config.augmentation else evaluate)
    _check_val_classes(root / "val", train.classes)
    test = _relabel(_image_folder(root / "val", evaluate, allow_empty=True), train.class_to_idx)
    log.info("imagenet: %d training and %d validation images of %d classes in %s",
             len(train.samples), len(test.samples), len(train.classes), root)
    datasets = {("train", True): train, ("train", False): _with_transform(train, evaluate),
                ("test", False): test}
    labels = {"train": np.asarray(train.targets, dtype=np.int64), "test": np.asarray(test.targets, dtype=np.int64)}
    return DatasetData(name="imagenet", num_classes=len(train.classes), in_channels=3, datasets=datasets,
                       labels=labels, num_workers=config.num_workers, eval_num_workers=config.eval_num_workers)


MODALITY = "image"  # what these datasets hold: images
DATASETS = {"imagenet": imagenet}
