"""Dataset registry: ``DATASETS`` maps a name to ``factory(DataConfig) -> Data``."""
from __future__ import annotations

from typing import Callable

import numpy as np

from svp.config import DataConfig
from svp.data import amazon, imagenet, vision
from svp.data.base import Data, DatasetData, TensorData
from svp.errors import UsageError

DATASETS: dict[str, Callable[[DataConfig], Data]] = {}
#: What each dataset holds: "image" or "text" (known before it is read).
MODALITIES: dict[str, str] = {}
for _module in (vision, imagenet, amazon):
    DATASETS.update(_module.DATASETS)
    MODALITIES.update(dict.fromkeys(_module.DATASETS, _module.MODALITY))

__all__ = ["DATASETS", "MODALITIES", "Data", "DatasetData", "TensorData", "open_dataset", "split_dev"]


def open_dataset(config: DataConfig) -> Data:
    """Load ``config.dataset`` from :data:`DATASETS`."""
    if config.dataset not in DATASETS:
        raise UsageError(f"unknown dataset {config.dataset!r}; choose one of: {', '.join(sorted(DATASETS))}")
    return DATASETS[config.dataset](config)


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
