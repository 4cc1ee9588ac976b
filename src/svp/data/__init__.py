"""Datasets: ``DATASETS`` maps a name to ``factory(DataConfig) -> Data``; data of your own opens by path.

``--dataset`` (``DataConfig.dataset``) is a registered name (``svp list
datasets``), a folder of images (:mod:`svp.data.folders`), a table of texts
(:mod:`svp.data.tables`) or a file of arrays (:mod:`svp.data.sources`).
:func:`register` adds a name at run time, for data built in Python
(``register("mine", from_arrays(x, y))``); a name already taken is refused
unless ``replace=True``. Every lookup reads the registries when it is made.
"""
from __future__ import annotations

from typing import Callable, Optional, Union

import numpy as np

from svp.config import DataConfig
from svp.data import amazon, folders, imagenet, sources, tables, vision
from svp.data.base import Data, DatasetData, TensorData
from svp.data.sources import UNKNOWN, from_arrays, from_torch
from svp.errors import UsageError

DatasetFactory = Callable[[DataConfig], Data]

_MODALITY_NAMES = ("image", "text", "features")

DATASETS: dict[str, DatasetFactory] = {}
#: What each dataset holds: "image", "text" or "features" (known before it is read).
MODALITIES: dict[str, str] = {}
for _module in (vision, imagenet, amazon):
    DATASETS.update(_module.DATASETS)
    MODALITIES.update(dict.fromkeys(_module.DATASETS, _module.MODALITY))
#: The paper's datasets: they keep its published schedules and selection defaults (data of one's own gets
#: schedules sized to it, see svp.engine.schedule)
PUBLISHED = frozenset(DATASETS)

__all__ = ["DATASETS", "MODALITIES", "PUBLISHED", "UNKNOWN", "Data", "DatasetData", "TensorData", "dataset_modality",
           "from_arrays", "from_folder", "from_table", "from_torch", "open_dataset", "register", "split_dev"]


def from_folder(root: str, image_size: Optional[int] = None, augmentation: bool = True) -> Data:
    """A folder of images (see :mod:`svp.data.folders`), for :func:`register`."""
    return folders.open_folder(DataConfig(dataset=str(root), image_size=image_size, augmentation=augmentation))


def from_table(path: str, text_column: str = "text", label_column: str = "label",
               test_file: Optional[str] = None) -> Data:
    """A table of texts, .csv or .jsonl (see :mod:`svp.data.tables`), for :func:`register`."""
    return tables.open_table(DataConfig(dataset=str(path), text_column=text_column, label_column=label_column,
                                        test_file=test_file))


def register(name: str, dataset: Union[Data, DatasetFactory], modality: Optional[str] = None, *,
             replace: bool = False) -> None:
    """Add a dataset under ``name``: ``--dataset name`` (``DataConfig(dataset=name)``) then opens it.

    Parameters
    ----------
    name : str
        The dataset's name.
    dataset : Data or callable
        A Data object (say from :func:`from_arrays`), the same whatever the
        config, or a factory ``factory(DataConfig) -> Data``.
    modality : str, optional
        What it holds: "image", "text" or "features"; a Data's own by
        default, required with a factory (known before any data is read).
    replace : bool
        Allow replacing a dataset of the same name.

    Raises
    ------
    ValueError
        An empty name, a name taken (without ``replace``), a factory without
        ``modality``, or an unknown modality.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a dataset's name must be a non-empty string, got {name!r}")
    if name in DATASETS and not replace:
        raise ValueError(f"a dataset named {name!r} exists; pass replace=True to replace it")
    if callable(dataset) and not hasattr(dataset, "batches"):
        factory = dataset
        if modality is None:
            raise ValueError(f"dataset {name!r}: give modality= ('image', 'text' or 'features') with a factory")
    else:
        factory = lambda config, data=dataset: data  # noqa: E731  (one object, whatever the config)
        modality = modality or dataset.modality
    if modality not in _MODALITY_NAMES:
        raise ValueError(f"dataset {name!r}: modality {modality!r}; choose one of {', '.join(_MODALITY_NAMES)}")
    DATASETS[name] = factory
    MODALITIES[name] = modality


def dataset_modality(dataset: str) -> Optional[str]:
    """What ``dataset`` holds, before it is read; None when only reading it can tell."""
    if dataset in MODALITIES:
        return MODALITIES[dataset]
    if folders.is_folder(dataset):
        return "image"
    if tables.is_table(dataset):
        return "text"
    return sources.source_modality(dataset) if sources.is_source(dataset) else None


def open_dataset(config: DataConfig) -> Data:
    """Load ``config.dataset``: a registered dataset, or a file of one's own."""
    if config.dataset in DATASETS:
        return DATASETS[config.dataset](config)
    if folders.is_folder(config.dataset):
        return folders.open_folder(config)
    if tables.is_table(config.dataset):
        return tables.open_table(config)
    if sources.is_source(config.dataset):
        return sources.open_source(config)
    raise UsageError(f"unknown dataset {config.dataset!r} ; choose one of: {', '.join(sorted(DATASETS))}, or "
                     f"give a folder of your own (with train/<class>/ in it), a table of texts "
                     f"({', '.join(tables.TABLE_SUFFIXES)}) or a file of arrays ({', '.join(sources.ARRAY_SUFFIXES)})")


def split_dev(num_train: int, validation: int, shuffle: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split training indices into a pool and a dev set of ``validation`` examples.

    With ``shuffle`` the dev set is a seeded random sample; without it, the
    last ``validation`` examples.
    """
    if not 0 <= validation < num_train:
        raise UsageError(f"--validation {validation} must be at least 0 and below the {num_train} training examples")
    order = np.random.default_rng(seed).permutation(num_train) if shuffle else np.arange(num_train)
    pool, dev = order[: num_train - validation], order[num_train - validation:]
    return np.sort(pool), np.sort(dev)
