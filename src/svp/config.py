"""Frozen configuration: the one form every workflow takes, and the one home of defaults.

The CLI (:mod:`svp.cli`) builds these from options, taking its defaults and
their help text from the fields here (a domain such as ``svp.cifar`` may
override some, as data); the Python API builds them directly. ``to_dict``
gives the JSON saved as ``config.json``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "fashion-mnist"
    datasets_dir: str = "./data"
    augmentation: bool = True
    validation: int = 0
    shuffle: bool = True
    num_workers: int = 0
    eval_num_workers: Optional[int] = None  # None: as num_workers

    def __post_init__(self) -> None:
        if self.eval_num_workers is None:
            object.__setattr__(self, "eval_num_workers", self.num_workers)


@dataclass(frozen=True)
class ModelConfig:
    """An architecture and how to train it.

    ``epochs`` and ``learning_rates`` pair up into a piecewise-constant
    schedule: ``epochs[i]`` epochs at ``learning_rates[i]``.
    """

    arch: str = "preact20"
    optimizer: str = "sgd"
    epochs: tuple[int, ...] = (1, 90, 45, 45)
    learning_rates: tuple[float, ...] = (0.01, 0.1, 0.01, 0.001)
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 128
    eval_batch_size: Optional[int] = None  # None: as batch_size
    label_smoothing: float = 0.0
    fp16: bool = False
    loss_scale: Optional[float] = None
    scale_learning_rates: bool = False
    # options of a learner that is not a torch model (see svp.learners), by name
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.eval_batch_size is None:
            object.__setattr__(self, "eval_batch_size", self.batch_size)

    def trains_like(self, other: "ModelConfig") -> bool:
        """True when training this and ``other`` gives the same model.

        The evaluation batch size does not change the trained model.
        """
        strip = {"eval_batch_size": 0}
        return dataclasses.replace(self, **strip) == dataclasses.replace(other, **strip)


@dataclass(frozen=True)
class RuntimeConfig:
    run_dir: str = "./run"
    seed: Optional[int] = None
    cuda: bool = True
    devices: tuple[int, ...] = ()
    checkpoint: str = "best"
    track_test_acc: bool = True
    quiet: bool = False
    resume: Optional[str] = None


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    workflow: str = "train"


@dataclass(frozen=True)
class SelectionConfig:
    """What active learning and core-set selection share: a proxy selects, a target trains on it.

    ``precomputed_selection`` replays an earlier run's selection instead
    (only the target trains).
    """

    data: DataConfig = DataConfig()
    target: ModelConfig = ModelConfig()
    proxy: ModelConfig = ModelConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    selection_method: str = "least_confidence"
    precomputed_selection: Optional[str] = None
    train_target: bool = True


@dataclass(frozen=True)
class ActiveConfig(SelectionConfig):
    initial_subset: int = 1000
    rounds: tuple[int, ...] = (4000, 5000, 5000, 5000, 5000)
    eval_target_at: tuple[int, ...] = ()
    workflow: str = "active"

    @property
    def budgets(self) -> list[int]:
        """Labeled-set sizes after the initial subset and each round."""
        sizes = [self.initial_subset]
        for size in self.rounds:
            sizes.append(sizes[-1] + size)
        return sizes


@dataclass(frozen=True)
class CoresetConfig(SelectionConfig):
    subset: int = 25000
    selection_method: str = "forgetting_events"
    workflow: str = "coreset"


def to_dict(config: Any) -> dict:
    """A JSON-ready dict of a (nested) config."""
    return dataclasses.asdict(config)


#: The sections of a workflow config, by field name.
SECTIONS = {"data": DataConfig, "target": ModelConfig, "proxy": ModelConfig, "model": ModelConfig,
            "runtime": RuntimeConfig}
# config.json keys written by svp 0.1.0 under another name: old -> new
_RENAMED_KEYS = {ModelConfig: {"fasttext": "options"}}


def from_dict(cls: type, values: dict) -> Any:
    """Rebuild a config saved by :func:`to_dict` (tuples restored)."""
    values = {_RENAMED_KEYS.get(cls, {}).get(key, key): value for key, value in values.items()}
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        value = values[f.name]
        sub = SECTIONS.get(f.name)
        if sub is not None and isinstance(value, dict):
            value = from_dict(sub, value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)
