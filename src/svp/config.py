"""Frozen configuration: the one form every workflow takes, the one home of defaults and of option checks.

The CLI (:mod:`svp.cli`) builds these from options, taking its defaults and
their help text from the fields here (a domain such as ``svp.cifar`` may
override some, as data); the Python API builds them directly. Either way a
config checks every value when it is made (type, finiteness, range), so a
bad value fails before any data is read, with a message naming the option,
the value and what it must be. ``to_dict`` gives the JSON saved as
``config.json``.
"""
from __future__ import annotations

import dataclasses
import math
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable, NamedTuple, Optional

from svp.errors import UsageError


class Range(NamedTuple):
    """The values a numeric option takes: integers or finite numbers, between bounds."""

    integer: bool
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False   # low itself excluded
    high_open: bool = False  # high itself excluded

    def describe(self) -> str:
        noun = "an integer" if self.integer else "a number"
        if self.low is not None and self.high is not None:
            return f"{noun} in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{noun} {'>' if self.low_open else '>='} {self.low:g}"
        return noun

    def holds(self, value: float) -> bool:
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below


COUNT = Range(integer=True, low=0)            # workers, examples split off
POSITIVE_COUNT = Range(integer=True, low=1)   # batch sizes, subset sizes
POSITIVE = Range(integer=False, low=0, low_open=True)
NON_NEGATIVE = Range(integer=False, low=0)
FRACTION = Range(integer=False, low=0, high=1)


def check_number(option: str, value: Any, allowed: Range) -> None:
    """Refuse ``value`` of ``option`` unless it is an int (or a finite number) that ``allowed`` holds."""
    kinds = int if allowed.integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise UsageError(f"{option} {value!r} is not {'an integer' if allowed.integer else 'a number'} ; "
                         f"give {allowed.describe()}")
    if not math.isfinite(value):
        raise UsageError(f"{option} {value} is not a finite number ; give {allowed.describe()}")
    if not allowed.holds(value):
        raise UsageError(f"{option} {value} is out of range ; give {allowed.describe()}")


def check_numbers(option: str, values: Any, allowed: Range) -> None:
    """Each of a repeated option's values (a tuple)."""
    if not isinstance(values, tuple):
        raise UsageError(f"{option} {values!r} is not a list of values ; give {option} once per value")
    for value in values:
        check_number(option, value, allowed)


def check_type(option: str, value: Any, kind: type, choices: Optional[Iterable[str]] = None) -> None:
    """Refuse a value that is not a ``kind`` (a flag's bool, a name's str), or not one of ``choices``."""
    if not isinstance(value, kind):
        raise UsageError(f"{option} {value!r} is not {'true or false' if kind is bool else 'a text'} ; "
                         f"give {'--' + option[2:] + ' or --no-' + option[2:] if kind is bool else 'a name'}")
    if choices is not None and value not in choices:
        raise UsageError(f"{option} {value!r} is not one of {', '.join(choices)} ; choose one of them")


MAX_IMAGE_SIZE = 4096


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "fashion-mnist"
    datasets_dir: str = "./data"
    augmentation: bool = True
    validation: int = 0
    shuffle: bool = True
    num_workers: int = 0
    eval_num_workers: Optional[int] = None  # None: as num_workers
    image_size: Optional[int] = None  # resize the images of a folder of one's own to this size
    text_column: str = "text"  # a table of one's own: the column of the texts (a name, or a position)
    label_column: str = "label"  # ... and of the labels (empty: not labeled yet)
    test_file: Optional[str] = None  # ... and its test split, a table of the same columns
    id_column: Optional[str] = None  # ... and the column of its rows' ids (None: a row is known by its text)
    classes: tuple[str, ...] = ()  # the class names, where the labels do not show them all yet (a cold start)

    def __post_init__(self) -> None:
        if self.eval_num_workers is None:
            object.__setattr__(self, "eval_num_workers", self.num_workers)
        check_type("--dataset", self.dataset, str)
        check_type("--datasets-dir", self.datasets_dir, str)
        check_type("--augmentation", self.augmentation, bool)
        check_type("--shuffle", self.shuffle, bool)
        check_number("--validation", self.validation, COUNT)
        check_number("--num-workers", self.num_workers, COUNT)
        check_number("--eval-num-workers", self.eval_num_workers, COUNT)
        if self.image_size is not None:  # larger is a typo: 4096 x 4096 colour images already take 48 MiB each
            check_number("--image-size", self.image_size, Range(integer=True, low=1, high=MAX_IMAGE_SIZE))
        check_type("--text-column", self.text_column, str)
        check_type("--label-column", self.label_column, str)
        if self.test_file is not None:
            check_type("--test-file", self.test_file, str)
        if self.id_column is not None:
            check_type("--id-column", self.id_column, str)
        object.__setattr__(self, "classes", _checked_classes(self.classes))


def class_name(raw: str) -> str:
    """A class name as svp compares it, wherever it comes from (--class, a folder, a table, an answer): without
    surrounding blanks, in Unicode NFC (macOS spells a folder's name in NFD)."""
    return unicodedata.normalize("NFC", raw.strip())


def _checked_classes(classes: Any) -> tuple[str, ...]:
    """The --class names as :func:`class_name` writes them: two or more, each once."""
    if not isinstance(classes, tuple) or not all(isinstance(name, str) and name.strip() for name in classes):
        raise UsageError(f"--class {classes!r} is not a list of class names ; give --class NAME once per class")
    classes = tuple(class_name(name) for name in classes)
    if classes and len(classes) < 2:
        raise UsageError(f"--class {classes[0]} names one class ; give two or more (--class once per class)")
    if len(set(classes)) != len(classes):
        twice = next(name for name in classes if classes.count(name) > 1)
        raise UsageError(f"--class {twice!r} is given twice (names are compared without surrounding blanks) ; "
                         "give each class once")
    return classes


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
    weights: Optional[str] = None  # a state dict to start from (e.g. pretrained weights), instead of random
    pretrained: bool = False  # start from the architecture's published weights (torchvision's)
    # options of a learner that is not a torch model (see svp.learners), by name
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.eval_batch_size is None:
            object.__setattr__(self, "eval_batch_size", self.batch_size)
        check_type("--arch", self.arch, str)
        check_type("--optimizer", self.optimizer, str, OPTIMIZERS)
        # the batch size first: scaled learning rates (--scale-learning-rates) follow from it
        check_number("--batch-size", self.batch_size, POSITIVE_COUNT)
        check_number("--eval-batch-size", self.eval_batch_size, POSITIVE_COUNT)
        _check_schedule(self.epochs, self.learning_rates)
        check_number("--momentum", self.momentum, FRACTION)
        check_number("--weight-decay", self.weight_decay, NON_NEGATIVE)
        check_number("--label-smoothing", self.label_smoothing, Range(integer=False, low=0, high=1, high_open=True))
        check_type("--fp16", self.fp16, bool)
        if self.loss_scale is not None:
            check_number("--loss-scale", self.loss_scale, POSITIVE)
        check_type("--scale-learning-rates", self.scale_learning_rates, bool)
        if self.weights is not None:
            check_type("--weights", self.weights, str)
        check_type("--pretrained", self.pretrained, bool)
        if self.pretrained and self.weights is not None:
            raise UsageError("--pretrained and --weights both say where the weights come from ; give one of them")
        if not isinstance(self.options, dict):
            raise UsageError(f"the learner options {self.options!r} are not a mapping of names to values")

    def trains_like(self, other: "ModelConfig") -> bool:
        """True when training this and ``other`` gives the same model.

        The evaluation batch size does not change the trained model.
        """
        strip = {"eval_batch_size": None}
        return {**dataclasses.asdict(self), **strip} == {**dataclasses.asdict(other), **strip}


OPTIMIZERS = ("sgd", "adam")


def _check_schedule(epochs: Any, learning_rates: Any) -> None:
    """The segments pair up, each epoch count is >= 0 with a positive total, each rate > 0."""
    check_numbers("--epochs", epochs, COUNT)
    check_numbers("--learning-rate", learning_rates, POSITIVE)
    if len(epochs) != len(learning_rates):
        raise UsageError(f"{len(epochs)} --epochs but {len(learning_rates)} --learning-rate values ; give one "
                         "learning rate per epoch segment (e.g. --epochs 1 --learning-rate 0.01 --epochs 90 "
                         "--learning-rate 0.1)")
    if sum(epochs) <= 0:
        raise UsageError(f"--epochs {' '.join(map(str, epochs)) or '(none)'} trains for no epoch ; give at least "
                         "one segment of one epoch or more")


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

    def __post_init__(self) -> None:
        check_type("--run-dir", self.run_dir, str)
        if self.seed is not None:
            check_number("--seed", self.seed, COUNT)
        check_type("--cuda", self.cuda, bool)
        check_numbers("--device", self.devices, COUNT)
        check_type("--checkpoint", self.checkpoint, str, CHECKPOINTS)
        check_type("--track-test-acc", self.track_test_acc, bool)
        check_type("--quiet", self.quiet, bool)
        if self.resume is not None:
            check_type("--resume", self.resume, str)


CHECKPOINTS = ("best", "all", "last")


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    workflow: str = "train"

    def __post_init__(self) -> None:
        _check_sections(self)


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
    proxy_dataset: Optional[str] = None  # the proxy's own view of the same examples (e.g. embeddings)
    sampling: str = "top"  # a scored method's top-k, or a draw by score (Kirsch et al. 2023)
    sampling_beta: float = 1.0  # the draw's inverse temperature (power: score ** beta; softmax: exp(beta score))
    mc_samples: int = 20  # BALD: Monte-Carlo dropout samples per example
    mc_dropout: float = 0.5  # BALD: dropout on the classifier's input of a proxy without dropout (training too)

    def __post_init__(self) -> None:
        _check_sections(self)
        check_type("--selection-method", self.selection_method, str)
        check_type("--sampling", self.sampling, str, SAMPLINGS)
        check_number("--sampling-beta", self.sampling_beta, POSITIVE)
        check_number("--mc-samples", self.mc_samples, POSITIVE_COUNT)
        check_number("--mc-dropout", self.mc_dropout, Range(integer=False, low=0, high=1, low_open=True,
                                                             high_open=True))
        if self.proxy_dataset is not None:
            check_type("--proxy-dataset", self.proxy_dataset, str)
        if self.precomputed_selection is not None:
            check_type("--precomputed-selection", self.precomputed_selection, str)
        check_type("--train-target", self.train_target, bool)


SAMPLINGS = ("top", "power", "softmax")


@dataclass(frozen=True)
class ActiveConfig(SelectionConfig):
    initial_subset: int = 1000
    rounds: tuple[int, ...] = (4000, 5000, 5000, 5000, 5000)
    eval_target_at: tuple[int, ...] = ()
    candidates: Optional[int] = None  # score only a seeded random sample of this many unlabeled examples per round
    workflow: str = "active"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number("--initial-subset", self.initial_subset, POSITIVE_COUNT)
        check_numbers("--round", self.rounds, POSITIVE_COUNT)
        check_numbers("--eval-target-at", self.eval_target_at, POSITIVE_COUNT)
        if self.candidates is not None:
            check_number("--candidates", self.candidates, POSITIVE_COUNT)
            if self.rounds and self.candidates < max(self.rounds):
                raise UsageError(f"--candidates {self.candidates} is smaller than the round of {max(self.rounds)} "
                                 "examples ; give at least the largest --round (a few times it, to leave a choice)")
        sizes = self.budgets
        for size in self.eval_target_at:
            # a replay's sizes are those of the run it replays (checked there)
            if self.precomputed_selection is None and size not in sizes:
                raise UsageError(f"--eval-target-at {size} is not a labeled-set size "
                                 f"({', '.join(map(str, sizes))}) ; give one of them")

    @property
    def budgets(self) -> list[int]:
        """Labeled-set sizes after the initial subset and each round."""
        sizes = [self.initial_subset]
        for size in self.rounds:
            sizes.append(sizes[-1] + size)
        return sizes


@dataclass(frozen=True)
class CoresetConfig(SelectionConfig):
    """Core-set selection; ``keep``, ``class_balance`` apply to scored methods, ``score_*`` to EL2N and GraNd.

    ``score_epoch`` None resolves to 10% of the proxy's epochs (at least 1),
    as Paul et al. (2021) score at epoch 20 of 200.
    """

    subset: int = 25000
    selection_method: str = "forgetting_events"
    keep: str = "hardest"  # keep the highest scores, or the lowest
    class_balance: bool = False  # each class keeps its share of --subset
    score_epoch: Optional[int] = None  # EL2N/GraNd: epochs the scoring proxies train
    score_seeds: int = 1  # EL2N/GraNd: scoring proxies (seeds) the scores are averaged over
    workflow: str = "coreset"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number("--subset", self.subset, POSITIVE_COUNT)
        check_type("--keep", self.keep, str, KEEPS)
        check_type("--class-balance", self.class_balance, bool)
        check_number("--score-seeds", self.score_seeds, POSITIVE_COUNT)
        total = sum(self.proxy.epochs)
        if self.score_epoch is None:
            object.__setattr__(self, "score_epoch", max(1, math.ceil(total / 10)))
        check_number("--score-epoch", self.score_epoch, POSITIVE_COUNT)
        if self.score_epoch > total:
            raise UsageError(f"--score-epoch {self.score_epoch} is past the proxy's {total} epochs ; give at most "
                             f"{total} (EL2N and GraNd score early in training)")


KEEPS = ("hardest", "easiest")


@dataclass(frozen=True)
class QueryConfig(SelectionConfig):
    """The labeling loop: each call trains the proxy on every label so far and asks for ``budget`` more.

    ``labels`` (a file of answers) and ``train_target`` say what one call
    does, not what the run is: a resumed query takes them from its command
    line (see :data:`PER_CALL`).
    """

    budget: int = 100
    initial_subset: Optional[int] = None  # the first question's size when nothing is labeled yet (None: budget)
    cold_start: str = "random"
    labels: Optional[str] = None
    format: str = "csv"
    train_target: bool = False
    candidates: Optional[int] = None  # score only a seeded random sample of this many unlabeled examples per round
    workflow: str = "query"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number("--budget", self.budget, POSITIVE_COUNT)
        if self.candidates is not None:
            check_number("--candidates", self.candidates, POSITIVE_COUNT)
            if self.candidates < self.budget:
                raise UsageError(f"--candidates {self.candidates} is smaller than --budget {self.budget} ; give "
                                 "at least as many candidates as a question asks for")
        if self.initial_subset is not None:
            check_number("--initial-subset", self.initial_subset, POSITIVE_COUNT)
        check_type("--cold-start", self.cold_start, str, COLD_STARTS)
        if self.labels is not None:
            check_type("--labels", self.labels, str)
        check_type("--format", self.format, str, QUERY_FORMATS)
        if self.precomputed_selection is not None:
            raise UsageError("--precomputed-selection replays a selection ; `query` asks a person for labels: "
                             "drop it (replay with `svp active --precomputed-selection`)")

    @property
    def first_question(self) -> int:
        """How many examples the first question asks for when nothing is labeled yet."""
        return self.initial_subset or self.budget


COLD_STARTS = ("random", "kcenters", "typiclust")  # how the first question is chosen when nothing is labeled
QUERY_FORMATS = ("csv", "label-studio")  # what a question is written as (a CSV always; Label Studio's tasks too)
#: The fields of a workflow's config that say what one call does (taken from its command line on --resume).
PER_CALL = {"query": ("labels", "train_target")}


def _check_sections(config: Any) -> None:
    """Each section of a workflow config is a config of its kind (a saved config.json may say otherwise)."""
    for name, cls in SECTIONS.items():
        value = getattr(config, name, None)
        if hasattr(config, name) and not isinstance(value, cls):
            raise UsageError(f"the {name} section {value!r} is not a {cls.__name__} ; give a mapping of its "
                             "options (as a saved run config holds it)")


def to_dict(config: Any) -> dict:
    """A JSON-ready dict of a (nested) config."""
    return dataclasses.asdict(config)


#: The sections of a workflow config, by field name.
SECTIONS = {"data": DataConfig, "target": ModelConfig, "proxy": ModelConfig, "model": ModelConfig,
            "runtime": RuntimeConfig}
# config.json keys written by svp 0.1.0 under another name: old -> new
_RENAMED_KEYS = {ModelConfig: {"fasttext": "options"}}


def from_dict(cls: type, values: dict) -> Any:
    """Rebuild a config saved by :func:`to_dict` (tuples restored); every value is checked again."""
    if not isinstance(values, dict):
        raise UsageError(f"{values!r} is not a mapping of {cls.__name__} options")
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
