"""Your own data: arrays of images or feature vectors, some labels or none.

``--dataset PATH.npz`` (or ``.npy``) and :func:`from_arrays` read

- ``x``: uint8 images (N, H, W) or (N, H, W, C), or feature vectors (N, D),
  for instance embeddings from CLIP, DINO or a sentence encoder;
- ``y``: integer labels, ``-1`` where the label is not known yet;
- optionally ``x_test`` and ``y_test``, the test split (none: no test
  accuracy is measured);
- optionally ``ids``, one id per row of ``x`` (see :mod:`svp.data.identity`).

A file is untrusted input: it is read without pickles, and every array is
checked before anything is built, each refusal saying what the array is and
how to save it instead. Labels may be of any integer dtype (Keras ships
uint8, and ``(N, 1)`` columns). Without ``--class``, the labels imply the
classes 0 .. the largest label, and each of them must have an example (a
stray label of 100000 is refused, not trained as 100001 classes); with it,
labels beyond the named classes are refused.

A ``.npy`` file holds ``x`` alone: no labels, so ``--class`` names the
classes a person will label them with (``svp query``). Images are held in
memory as uint8 and augmented per batch like CIFAR's; features are
standardised (training-split statistics) for the heads of :mod:`svp.models.heads`.
"""
from __future__ import annotations

import functools
import zipfile
from collections import Counter
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from svp.config import DataConfig
from svp.data.base import UNKNOWN, Data, DatasetData, TensorData
from svp.data.identity import Identify, identity_of, row_digests
from svp.data.labels import class_names
from svp.data.transforms import Augment, Normalize, Standardize
from svp.errors import UsageError

ARRAY_SUFFIXES = (".npz", ".npy")


def is_source(dataset: str) -> bool:
    """Whether ``--dataset`` names a file of one's own rather than a registered dataset."""
    return dataset.endswith(ARRAY_SUFFIXES)


def source_modality(dataset: str) -> Optional[str]:
    """What the file holds, read from its header alone ("image" or "features"); None when unreadable."""
    try:
        shape, dtype = _x_header(Path(dataset))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None  # open_source says why, once it is asked to read the file
    return "image" if dtype == np.uint8 and len(shape) in (3, 4) else "features"


def _x_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of ``x`` without reading its values."""
    if path.suffix == ".npy":
        array = np.load(path, mmap_mode="r")
        return array.shape, array.dtype
    with zipfile.ZipFile(path) as archive, archive.open("x.npy") as member:
        version = np.lib.format.read_magic(member)
        readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in readers:
            raise ValueError(f"npy format {version}")
        shape, _, dtype = readers[version](member)
    return shape, np.dtype(dtype)


ARRAY_NAMES = ("x", "y", "x_test", "y_test", "ids")


def open_source(config: DataConfig) -> TensorData:
    """The dataset in the file ``config.dataset`` names."""
    path = Path(config.dataset)
    arrays = _read(path, "--dataset")
    unknown = [name for name in arrays if name not in ARRAY_NAMES]
    if unknown:
        raise UsageError(f"{path}: arrays {', '.join(unknown)} are not {', '.join(ARRAY_NAMES)} ; rename them")
    y = arrays["y"] if "y" in arrays else np.full(len(arrays["x"]), UNKNOWN)  # _read: x has rows
    return from_arrays(arrays["x"], y, arrays.get("x_test"), arrays.get("y_test"), name=path.name,
                       augmentation=config.augmentation, where=str(path), classes=config.classes or None,
                       ids=arrays.get("ids"))


def open_view(path: str, data: Data, flag: str = "--proxy-dataset") -> TensorData:
    """Another view of ``data``'s examples, such as their embeddings, with its labels.

    With ``ids`` in the file, its rows are matched to the dataset's examples by id (see
    :mod:`svp.data.identity`); without, row i must be example i of the dataset.
    """
    file = Path(path)
    arrays = _read(file, flag)
    where = f"{flag} {path}"
    x = arrays["x"]
    if "ids" in arrays:
        x = x[_rows_of(_checked_ids(arrays["ids"], len(x), where), identity_of(data).ids, data.name, where)]
    for split, rows in (("train", x), ("test", arrays.get("x_test"))):
        if rows is not None and len(rows) != data.size(split):
            raise UsageError(f"{where}: x{'_test' if split == 'test' else ''} has {len(rows)} rows but {data.name} "
                             f"has {data.size(split)} {split} examples ; row i must be example i of the dataset "
                             "(or give ids, the dataset's ids of the rows)")
    train, test = data.targets("train"), data.targets("test")
    if "y" in arrays and "ids" not in arrays and not np.array_equal(arrays["y"], train):
        raise UsageError(f"{where}: its y differs from {data.name}'s labels ; drop y (the dataset's are used)")
    return from_arrays(x, train, arrays.get("x_test"), test if "x_test" in arrays else None,
                       name=file.name, where=where, classes=class_names(data))


def _checked_ids(ids: np.ndarray, rows: int, where: str) -> list[str]:
    """An ``ids`` array as strings: one per row of x, each once, integers or texts."""
    if ids.ndim != 1 or len(ids) != rows or not (np.issubdtype(ids.dtype, np.integer) or ids.dtype.kind in "US"):
        raise UsageError(f"{where}: ids is {ids.dtype} {ids.shape} ; give one id (an integer or a text) per row "
                         f"of x ({rows})")
    names = [value.decode() if isinstance(value, bytes) else str(value) for value in ids.tolist()]
    if len(set(names)) != len(names):
        twice = next(name for name, count in Counter(names).items() if count > 1)
        raise UsageError(f"{where}: the id {twice!r} is on {names.count(twice)} rows ; give each row its own id")
    return names


def _rows_of(ids: list[str], wanted: list[str], name: str, where: str) -> np.ndarray:
    """The row of each of ``wanted`` (the dataset's ids, in its order) among ``ids`` (a file's)."""
    row = {id_: i for i, id_ in enumerate(ids)}
    missing = [id_ for id_ in wanted if id_ not in row]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise UsageError(f"{where}: no row for {name}'s example {missing[0]!r}{more} ; give a row for every "
                         "example (the ids are a folder's file paths, a table's --id-column, or the dataset's rows)")
    return np.array([row[id_] for id_ in wanted], dtype=np.int64)


def _read(path: Path, flag: str) -> dict[str, np.ndarray]:
    """The arrays of a .npz (or the x of a .npy) that ``flag`` names, which must hold an x of one or more rows."""
    if not path.is_file():
        raise UsageError(f"{flag} {path}: no such file ; give the path of a .npz (x, y, x_test, y_test) or "
                         "a .npy (x) file")
    if path.stat().st_size == 0:
        raise UsageError(f"{path} is empty (0 bytes) ; save the arrays with np.savez(path, x=..., y=...)")
    try:
        loaded = np.load(path, allow_pickle=False)  # no pickles: a dataset file is untrusted input
        if isinstance(loaded, np.ndarray):
            arrays = {"x": loaded}
        else:
            with loaded:
                arrays = {name: loaded[name] for name in loaded.files}
    except ValueError as error:
        if "Object arrays" in str(error):  # numpy's words for an array of dtype object
            raise UsageError(f"{path} holds an array of Python objects (dtype object: rows of different lengths, "
                             "or mixed types), which svp does not load (it could run code) ; save numbers: stack "
                             "the rows into one uint8 or float array (np.stack) before np.savez") from None
        if "pickled" in str(error):  # numpy's guess for any file that is neither .npy nor .npz
            error = "neither a .npz nor a .npy file; a pickle is never loaded"
        raise UsageError(f"{path} cannot be read as numpy arrays ({error}) ; save it with np.savez or np.save") \
            from None
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        raise UsageError(f"{path} cannot be read as numpy arrays ({error}) ; save it with np.savez or np.save") \
            from None
    _check_arrays(arrays, path)
    return arrays


def _check_arrays(arrays: dict[str, np.ndarray], path: Path) -> None:
    """Refuse a file without an x of rows, or with an array of a single value (it has no rows to count)."""
    if not arrays:
        raise UsageError(f"{path} holds no arrays ; save the examples as x (np.savez(path, x=..., y=...))")
    if "x" not in arrays:
        raise UsageError(f"{path} holds {', '.join(sorted(arrays))} but no array x ; save the examples as x "
                         "(np.savez(path, x=..., y=...))")
    for name, array in arrays.items():
        if array.ndim == 0:
            raise UsageError(f"{path}: {name} is a single value ({array.dtype}), not one row per example ; save an "
                             f"array with a row per example as {name}")
    if len(arrays["x"]) == 0:
        raise UsageError(f"{path}: x has no rows ({arrays['x'].dtype} {arrays['x'].shape}) ; save one row per "
                         "example")


def from_arrays(x: np.ndarray, y: np.ndarray, x_test: Optional[np.ndarray] = None,
                y_test: Optional[np.ndarray] = None, *, name: str = "arrays", augmentation: bool = False,
                where: str = "the arrays", classes: Optional[Sequence[str]] = None,
                ids: Optional[np.ndarray] = None) -> TensorData:
    """A dataset of images or feature vectors held in memory (see the module docstring).

    Parameters
    ----------
    x, y : np.ndarray
        The training split: uint8 images (N, H, W[, C]) or float features (N, D); integer labels of any
        integer dtype (an (N, 1) column too), -1 unknown.
    x_test, y_test : np.ndarray, optional
        The test split (labels all known); without it no test accuracy is measured.
    name : str
        The dataset's name in reports.
    augmentation : bool
        Random crop and flip of training images (features are never augmented).
    where : str
        What the arrays came from, for messages.
    classes : sequence of str, optional
        The class names, label i naming ``classes[i]`` (default: the numbers up to the largest label); needed
        when no label shows how many classes there are (a cold start).
    ids : np.ndarray, optional
        An id per training example (integers or texts, each once), which keeps its labels on it when rows are
        added or moved; without, an example is known by its content (see :mod:`svp.data.identity`).
    """
    if (x_test is None) != (y_test is None):
        raise UsageError(f"{where}: x_test and y_test go together ; give both or neither")
    splits = {"train": (np.asarray(x), np.asarray(y))}
    if x_test is not None:
        splits["test"] = (np.asarray(x_test), np.asarray(y_test))
    splits = {split: (inputs, _check_split(inputs, labels, splits["train"][0], f"{where} ({split})"))
              for split, (inputs, labels) in splits.items()}
    by_split = {split: labels for split, (_, labels) in splits.items()}
    num_classes = count_classes(by_split, where, len(classes) if classes else None)
    if not classes:
        _check_every_class(by_split, num_classes, where)
    classes = list(classes) if classes else None
    names = None if ids is None else _checked_ids(np.asarray(ids), len(splits["train"][0]), where)
    images = splits["train"][0].dtype == np.uint8 and splits["train"][0].ndim in (3, 4)
    inputs = {split: torch.from_numpy(_layout(a, images)) for split, (a, _) in splits.items()}
    labels = {split: torch.from_numpy(b) for split, (_, b) in splits.items()}
    inputs.setdefault("test", inputs["train"][:0])
    labels.setdefault("test", labels["train"][:0])
    extra = {"classes": classes, "identify": _identify(splits["train"][0], names),
             "ids": None if names is None else (lambda indices: [names[i] for i in indices])}
    if images:
        return image_data(name, inputs, labels, num_classes, augmentation, **extra)
    standardize = Standardize(inputs["train"])
    return TensorData(name=name, num_classes=num_classes, in_channels=inputs["train"].shape[1], inputs=inputs,
                      labels=labels, train_transform=standardize, eval_transform=standardize, modality="features",
                      **extra)


def _identify(x: np.ndarray, ids: Optional[list[str]]) -> Identify:
    """``identify()`` of arrays: the ids given (None: an example is known by its content) and each row's
    digest, computed once."""
    @functools.cache
    def identify() -> tuple[Optional[list[str]], list[str]]:
        return ids, row_digests(x)

    return identify


def count_classes(labels: dict[str, np.ndarray], where: str, num_classes: Optional[int] = None) -> int:
    """The number of classes (given, else the largest label + 1): refused below 2, or with an unlabeled test split."""
    # Python ints: max(initial=-1) overflows an unsigned dtype
    largest = max((int(np.asarray(split).max()) for split in labels.values() if np.asarray(split).size),
                  default=UNKNOWN)
    if num_classes is not None and largest >= num_classes:
        raise UsageError(f"{where}: label {largest} is beyond the {num_classes} classes --class names (labels 0.."
                         f"{num_classes - 1}) ; give every class with --class, in the order of their labels")
    if num_classes is None:
        num_classes = largest + 1
    if num_classes == 0:
        raise UsageError(f"{where}: no example has a label, so the classes are not known ; name them with --class "
                         "(once per class), or give labels for some examples, -1 (or empty) for the others")
    if num_classes < 2:
        raise UsageError(f"{where}: the labels name {num_classes} class ; give labels of 2 classes or more "
                         "(-1 or empty for unknown)")
    if "test" in labels and (np.asarray(labels["test"]) == UNKNOWN).any():
        raise UsageError(f"{where}: the test split has unknown labels ; the test split must be labeled")
    return num_classes


def _check_every_class(labels: dict[str, np.ndarray], num_classes: int, where: str) -> None:
    """Refuse labels that imply classes without an example: most often one stray label (100000 where the
    others are 0..9), which would train a model of that many classes."""
    present = np.unique(np.concatenate([split[split >= 0] for split in labels.values()]))
    missing = num_classes - len(present)
    if not missing:
        return
    largest = num_classes - 1
    split = "train" if (labels["train"] == largest).any() else "test"
    row = int(np.flatnonzero(labels[split] == largest)[0])
    named = ""
    if missing <= 5:  # then num_classes is at most the labels seen + 5: the range is small
        named = f" ({', '.join(map(str, np.setdiff1d(np.arange(num_classes), present).tolist()))})"
    raise UsageError(f"{where}: label {largest} (row {row}{' of y_test' if split == 'test' else ''}) makes "
                     f"{num_classes} classes, of which {missing} {'has' if missing == 1 else 'have'} no example"
                     f"{named} ; fix the label, or name every class with --class")


def _check_split(inputs: np.ndarray, labels: np.ndarray, train: np.ndarray, where: str) -> np.ndarray:
    """Refuse arrays that cannot be a split (lengths, label kinds, shapes unlike the training split's); the
    labels as int64."""
    name = "x_test" if inputs is not train else "x"
    problem = _x_problem(inputs, name)
    if problem:
        raise UsageError(f"{where}: {problem}")
    if inputs.shape[1:] != train.shape[1:] or inputs.dtype != train.dtype:
        raise UsageError(f"{where}: x_test is {inputs.dtype} {inputs.shape[1:]} but x is {train.dtype} "
                         f"{train.shape[1:]} ; give both in one shape")
    if np.issubdtype(inputs.dtype, np.floating) and not np.isfinite(inputs).all():
        raise UsageError(f"{where}: {name} holds NaN or infinite values ; give finite features")
    return _labels(labels, len(inputs), where, "y_test" if name == "x_test" else "y")


def _labels(labels: np.ndarray, rows: int, where: str, name: str) -> np.ndarray:
    """A split's labels as int64, from any integer dtype, one per example (an (N, 1) column too, as Keras
    ships them), each -1 (unknown) or a class number."""
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or len(labels) != rows:
        one_hot = f" (one-hot rows? give {name}.argmax(axis=1))" if labels.ndim == 2 and len(labels) == rows else ""
        raise UsageError(f"{where}: {rows} examples but {labels.shape} labels ; give one label per "
                         f"example (-1 when unknown){one_hot}")
    if labels.dtype == np.bool_:
        raise UsageError(f"{where}: the labels are bool, not classes ; labels are integers 0, 1, ... and -1 for "
                         f"unknown: save {name}.astype(np.int64)")
    if not np.issubdtype(labels.dtype, np.integer):
        raise UsageError(f"{where}: the labels are {labels.dtype}, not classes ; labels are integers 0, 1, ... "
                         "and -1 for unknown")
    if labels.size and int(labels.max()) > np.iinfo(np.int64).max:  # only a uint64 can hold one
        raise UsageError(f"{where}: label {int(labels.max())} is not a class ; labels are integers 0, 1, ... "
                         "and -1 for unknown")
    labels = labels.astype(np.int64)  # after the check above, no value changes
    if (labels < UNKNOWN).any():
        raise UsageError(f"{where}: label {labels[labels < UNKNOWN][0]} is not a class ; labels are integers "
                         "0, 1, ... and -1 for unknown")
    return labels


ACCEPTED = "give uint8 images (N, H, W[, C]) or float feature vectors (N, D)"


def _x_problem(x: np.ndarray, name: str) -> Optional[str]:
    """What is wrong with ``x`` as images or feature vectors, and how to save it instead; None: nothing."""
    kind = f"{name} is {x.dtype} {x.shape}"
    numbers = np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating) or x.dtype == np.bool_
    if not numbers:
        return f"{kind}, not numbers ; {ACCEPTED}"
    if len(x) == 0:
        drop = " (or save no x_test and y_test)" if name == "x_test" else ""
        return f"{kind}, no rows ; save one row per example{drop}"
    if 0 in x.shape[1:]:
        return f"{kind}, examples of no values ; {ACCEPTED}"
    if x.ndim == 1:
        return f"{kind}, one value per example ; {ACCEPTED} ({name}.reshape(-1, 1) for a single feature)"
    if x.ndim > 4:
        return (f"{kind}, {x.ndim} dimensions ; give uint8 images (N, H, W) or (N, H, W, C), or float "
                "feature vectors (N, D)")
    if x.ndim == 2:
        if np.issubdtype(x.dtype, np.floating):
            return None
        return (f"{kind}: feature vectors must be float ; save {name}.astype(np.float32) (or images as uint8 "
                "(N, H, W[, C]))")
    if x.dtype != np.uint8:
        return f"{name} is {x.dtype} images {x.shape} ; images must be uint8 0..255: save {_as_uint8(x, name)} " \
               "(or give feature vectors (N, D))"
    if x.ndim == 4 and x.shape[1] in (1, 3, 4) and x.shape[3] not in (1, 3, 4):  # as torch tensors are laid out
        return (f"{kind}, images with their channels first ; save them channels last, (N, H, W, C): "
                f"{name}.transpose(0, 2, 3, 1)")
    return None


def _as_uint8(x: np.ndarray, name: str) -> str:
    """The numpy expression that saves images of another dtype as uint8 0..255."""
    if x.dtype == np.bool_:
        return f"{name}.astype(np.uint8) * 255"
    if not np.issubdtype(x.dtype, np.floating):
        return f"{name}.clip(0, 255).astype(np.uint8)"
    if np.nanmax(x) <= 1.0:  # pixel values scaled to 0..1
        return f"({name} * 255).round().astype(np.uint8)"
    return f"{name}.round().clip(0, 255).astype(np.uint8)"


def _layout(array: np.ndarray, images: bool) -> np.ndarray:
    """(N, C, H, W) uint8 images, or (N, D) float32 features."""
    if not images:
        return np.ascontiguousarray(array, dtype=np.float32)
    if array.ndim == 3:
        array = array[:, None]
    else:  # (N, H, W, C), as images are usually saved
        array = array.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(array)


STATS_CHUNK = 4096  # images at a time: a float copy of a whole memory-mapped cache may not fit in memory


def channel_stats(images: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and (sample) standard deviation of uint8 images (N, C, H, W), on the 0..1 scale."""
    channels = images.shape[1]
    total, squares, count = torch.zeros(channels, dtype=torch.float64), torch.zeros(channels, dtype=torch.float64), 0
    for start in range(0, len(images), STATS_CHUNK):
        chunk = images[start:start + STATS_CHUNK].to(torch.float64).transpose(0, 1).reshape(channels, -1) / 255.0
        total += chunk.sum(dim=1)
        squares += (chunk * chunk).sum(dim=1)
        count += chunk.shape[1]
    mean = total / count
    variance = (squares - count * mean * mean).clamp_min(0) / max(count - 1, 1)
    return mean.tolist(), variance.sqrt().clamp_min(1e-3).tolist()


def image_data(name: str, inputs: dict, labels: dict, num_classes: int, augmentation: bool,
               stats: Optional[tuple[list[float], list[float]]] = None, **extra) -> TensorData:
    """Images held in memory, normalised by their per-channel statistics (``stats``, else computed),
    cropped and flipped in training; ``extra`` are further TensorData fields (classes, ids)."""
    mean, std = stats if stats is not None else channel_stats(inputs["train"])
    normalize = Normalize(mean, std)
    padding = max(1, inputs["train"].shape[-1] // 8)  # 4 on CIFAR's 32 pixels
    return TensorData(name=name, num_classes=num_classes, in_channels=inputs["train"].shape[1], inputs=inputs,
                      labels=labels, train_transform=Augment(normalize, padding) if augmentation else normalize,
                      eval_transform=normalize, **extra)


def from_torch(train: Dataset, test: Optional[Dataset] = None, *, num_classes: Optional[int] = None,
               name: str = "torch", num_workers: int = 0) -> DatasetData:
    """Any map-style torch Dataset of ``(input, label)`` pairs, read by a DataLoader.

    Parameters
    ----------
    train, test : Dataset
        The splits; each item an input tensor (an image (C, H, W) or a feature vector (D,)) and an integer
        label (-1 when not labeled yet). Their transforms are theirs: svp adds none.
    num_classes : int, optional
        Default: the largest label + 1.
    name : str
        The dataset's name in reports.
    num_workers : int
        DataLoader workers.

    The labels are read once, from ``dataset.targets`` when it has them (torchvision's datasets do), else
    by reading every item.
    """
    splits = {"train": train, **({"test": test} if test is not None else {})}
    labels = {split: _torch_labels(dataset, f"{name} ({split})") for split, dataset in splits.items()}
    labels.setdefault("test", np.empty(0, dtype=np.int64))
    if test is None:
        splits["test"] = torch.utils.data.Subset(train, [])
    classes = count_classes(labels, name, num_classes)
    sample = train[0][0]
    if not isinstance(sample, torch.Tensor) or sample.dim() not in (1, 3):
        raise UsageError(f"{name}: an item's input is {type(sample).__name__} "
                         f"{tuple(getattr(sample, 'shape', ()))} ; give tensors (C, H, W) or (D,) (add a "
                         "ToTensor() transform)")
    return DatasetData(name=name, num_classes=classes, in_channels=sample.shape[0],
                       datasets={("train", True): splits["train"], ("train", False): splits["train"],
                                 ("test", False): splits["test"]},
                       labels=labels, num_workers=num_workers, eval_num_workers=num_workers,
                       modality="image" if sample.dim() == 3 else "features")


def _torch_labels(dataset: Dataset, where: str) -> np.ndarray:
    targets = getattr(dataset, "targets", None)
    labels = np.asarray(targets if targets is not None else [int(dataset[i][1]) for i in range(len(dataset))])
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or (labels < UNKNOWN).any():
        raise UsageError(f"{where}: the labels are not integers 0, 1, ... (-1 for unknown) ; give such labels")
    return labels.astype(np.int64)
