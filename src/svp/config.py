"""Frozen configuration: the one form every workflow takes, the one home of defaults and of option checks.

The CLI (:mod:`svp.cli`) builds these from options, taking its defaults and
their help text from the fields here (a domain such as ``svp.cifar`` may
override some, as data); the Python API builds them directly. Either way a
config checks every value when it is made (type, finiteness, range; see
:mod:`svp.checks`), so a bad value fails before any data is read, with a
message naming the option (its field in Python, its flag on the command
line), the value and what it must be. Selection options are a section of
their own (:class:`SelectionOptions`), like data, model and runtime.
``to_dict`` gives the JSON saved as ``config.json``; ``from_dict`` reads it
back, also as earlier versions of svp wrote it.
"""
from __future__ import annotations

import dataclasses
import math
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Optional

from svp.checks import (COUNT, FRACTION, NON_NEGATIVE, POSITIVE, POSITIVE_COUNT, Range, check_number, check_numbers,
                        check_type, named_by, option_name)
from svp.errors import UsageError

__all__ = ["DataConfig", "ModelConfig", "RuntimeConfig", "SelectionOptions", "TrainConfig", "SelectionConfig",
           "ActiveConfig", "CoresetConfig", "QueryConfig", "Range", "check_number", "check_numbers", "check_type",
           "named_by", "option_name", "class_name", "to_dict", "from_dict"]

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
        check_type(option_name(self, "dataset"), self.dataset, str)
        check_type(option_name(self, "datasets_dir"), self.datasets_dir, str)
        check_type(option_name(self, "augmentation"), self.augmentation, bool)
        check_type(option_name(self, "shuffle"), self.shuffle, bool)
        check_number(option_name(self, "validation"), self.validation, COUNT)
        check_number(option_name(self, "num_workers"), self.num_workers, COUNT)
        check_number(option_name(self, "eval_num_workers"), self.eval_num_workers, COUNT)
        if self.image_size is not None:  # larger is a typo: 4096 x 4096 colour images already take 48 MiB each
            check_number(option_name(self, "image_size"), self.image_size, Range(integer=True, low=1, high=MAX_IMAGE_SIZE))
        check_type(option_name(self, "text_column"), self.text_column, str)
        check_type(option_name(self, "label_column"), self.label_column, str)
        if self.test_file is not None:
            check_type(option_name(self, "test_file"), self.test_file, str)
        if self.id_column is not None:
            check_type(option_name(self, "id_column"), self.id_column, str)
        object.__setattr__(self, "classes", _checked_classes(self.classes, option_name(self, "classes")))


def class_name(raw: str) -> str:
    """A class name as svp compares it, wherever it comes from (--class, a folder, a table, an answer): without
    surrounding blanks, in Unicode NFC (macOS spells a folder's name in NFD)."""
    return unicodedata.normalize("NFC", raw.strip())


def _checked_classes(classes: Any, option: str) -> tuple[str, ...]:
    """The class names (``option``: --class) as :func:`class_name` writes them: two or more, each once."""
    if not isinstance(classes, tuple) or not all(isinstance(name, str) and name.strip() for name in classes):
        raise UsageError(f"{option} {classes!r} is not a list of class names ; give one name per class")
    classes = tuple(class_name(name) for name in classes)
    if classes and len(classes) < 2:
        raise UsageError(f"{option} {classes[0]} names one class ; give two or more (one per class)")
    if len(set(classes)) != len(classes):
        twice = next(name for name in classes if classes.count(name) > 1)
        raise UsageError(f"{option} {twice!r} is given twice (names are compared without surrounding blanks) ; "
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
    schedule: Optional[str] = None  # "epochs" (the segments above) or "auto" (sized to the data); None: see open_run
    steps: Optional[int] = None  # an automatic schedule of exactly this many optimizer steps
    weights: Optional[str] = None  # a state dict to start from (e.g. pretrained weights), instead of random
    pretrained: bool = False  # start from the architecture's published weights (torchvision's)
    # options of a learner that is not a torch model (see svp.learners), by name
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.eval_batch_size is None:
            object.__setattr__(self, "eval_batch_size", self.batch_size)
        check_type(option_name(self, "arch"), self.arch, str)
        check_type(option_name(self, "optimizer"), self.optimizer, str, OPTIMIZERS)
        # the batch size first: scaled learning rates (--scale-learning-rates) follow from it
        check_number(option_name(self, "batch_size"), self.batch_size, POSITIVE_COUNT)
        check_number(option_name(self, "eval_batch_size"), self.eval_batch_size, POSITIVE_COUNT)
        _check_schedule(self.epochs, self.learning_rates, option_name(self, "epochs"), option_name(self, "learning_rates"))
        check_number(option_name(self, "momentum"), self.momentum, FRACTION)
        check_number(option_name(self, "weight_decay"), self.weight_decay, NON_NEGATIVE)
        check_number(option_name(self, "label_smoothing"), self.label_smoothing, Range(integer=False, low=0, high=1, high_open=True))
        check_type(option_name(self, "fp16"), self.fp16, bool)
        if self.loss_scale is not None:
            check_number(option_name(self, "loss_scale"), self.loss_scale, POSITIVE)
        check_type(option_name(self, "scale_learning_rates"), self.scale_learning_rates, bool)
        if self.weights is not None:
            check_type(option_name(self, "weights"), self.weights, str)
        check_type(option_name(self, "pretrained"), self.pretrained, bool)
        if self.schedule is None and not self.options and (self.epochs, self.learning_rates) != _DEFAULT_SEGMENTS:
            # segments given are the schedule asked for (a learner with options of its own, fastText, derives
            # its segments from them: it says itself)
            object.__setattr__(self, "schedule", "epochs")
        if self.schedule is not None:
            check_type(option_name(self, "schedule"), self.schedule, str, SCHEDULES)
        if self.steps is not None:
            check_number(option_name(self, "steps"), self.steps, POSITIVE_COUNT)
            if self.schedule == "epochs":
                raise UsageError(f"{option_name(self, 'steps')} sizes an automatic schedule, and "
                                 f"{option_name(self, 'schedule')} is epochs ; drop one of them")
        if self.pretrained and self.weights is not None:
            raise UsageError(f"{option_name(self, 'pretrained')} and {option_name(self, 'weights')} both say where the weights "
                             "come from ; give one of them")
        if not isinstance(self.options, dict):
            raise UsageError(f"the learner options {self.options!r} are not a mapping of names to values")

    def trains_like(self, other: "ModelConfig") -> bool:
        """True when training this and ``other`` gives the same model.

        The evaluation batch size does not change the trained model.
        """
        strip = {"eval_batch_size": None}
        return {**dataclasses.asdict(self), **strip} == {**dataclasses.asdict(other), **strip}


OPTIMIZERS = ("sgd", "adam")
#: "epochs": the piecewise-constant segments (the paper's); "auto": sized in steps to the labeled set
SCHEDULES = ("epochs", "auto")
_DEFAULT_SEGMENTS = (ModelConfig.epochs, ModelConfig.learning_rates)


def _check_schedule(epochs: Any, learning_rates: Any, epochs_name: str, rates_name: str) -> None:
    """The segments pair up, each epoch count is >= 0 with a positive total, each rate > 0."""
    check_numbers(epochs_name, epochs, COUNT)
    check_numbers(rates_name, learning_rates, POSITIVE)
    if len(epochs) != len(learning_rates):
        raise UsageError(f"{len(epochs)} {epochs_name} but {len(learning_rates)} {rates_name} values ; give one "
                         f"learning rate per epoch segment (e.g. {epochs_name} 1 {rates_name} 0.01 {epochs_name} 90 "
                         f"{rates_name} 0.1)")
    if sum(epochs) <= 0:
        raise UsageError(f"{epochs_name} {' '.join(map(str, epochs)) or '(none)'} trains for no epoch ; give at least "
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
    tensorboard: Optional[str] = None  # a folder: the run's events as TensorBoard scalars (svp[tracking])
    mlflow: Optional[str] = None  # an MLflow tracking URI ("": MLflow's default); None: off
    plugins: tuple[str, ...] = ()  # modules imported before the run (they register models, methods, ...)

    def __post_init__(self) -> None:
        check_type(option_name(self, "run_dir"), self.run_dir, str)
        if self.seed is not None:
            check_number(option_name(self, "seed"), self.seed, COUNT)
        check_type(option_name(self, "cuda"), self.cuda, bool)
        check_numbers(option_name(self, "devices"), self.devices, COUNT)
        check_type(option_name(self, "checkpoint"), self.checkpoint, str, CHECKPOINTS)
        check_type(option_name(self, "track_test_acc"), self.track_test_acc, bool)
        check_type(option_name(self, "quiet"), self.quiet, bool)
        if self.resume is not None:
            check_type(option_name(self, "resume"), self.resume, str)
        if self.tensorboard is not None:
            check_type(option_name(self, "tensorboard"), self.tensorboard, str)
        if self.mlflow is not None:
            check_type(option_name(self, "mlflow"), self.mlflow, str)
        if not isinstance(self.plugins, tuple) or not all(isinstance(name, str) for name in self.plugins):
            raise UsageError(f"{option_name(self, 'plugins')} {self.plugins!r} is not a list of module names ; give one "
                             "module name per plugin")


CHECKPOINTS = ("best", "all", "last")


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    workflow: str = "train"

    def __post_init__(self) -> None:
        _check_sections(self)


SAMPLINGS = ("top", "power", "softmax")
KEEPS = ("hardest", "easiest", "auto")


@dataclass(frozen=True)
class SelectionOptions:
    """How a proxy's outputs become a selection: the method and the options of ranking by its scores.

    ``keep``, ``class_balance`` and ``sampling`` apply to scored methods;
    ``candidates`` to active learning and the labeling loop (score only a
    seeded random sample of that many unlabeled examples per round);
    ``mc_*`` to BALD; ``score_*`` to EL2N and GraNd in core-set selection
    (``score_epoch`` None: 10% of the proxy's epochs, at least 1, as Paul et
    al. (2021) score at epoch 20 of 200). ``options`` holds the options of a
    method's own (its ``Method.options``), by name.
    """

    method: str = "least_confidence"
    sampling: str = "top"  # a scored method's top-k, or a draw by score (Kirsch et al. 2023)
    sampling_beta: float = 1.0  # the draw's inverse temperature (power: score ** beta; softmax: exp(beta score))
    keep: Optional[str] = None  # keep the highest scores, the lowest, or by the data's size (None: see open_run)
    class_balance: bool = False  # each class keeps its share of the budget
    candidates: Optional[int] = None
    mc_samples: int = 20  # BALD: Monte-Carlo dropout samples per example
    mc_dropout: float = 0.5  # BALD: dropout on the classifier's input of a proxy without dropout (training too)
    score_epoch: Optional[int] = None  # EL2N/GraNd: epochs the scoring proxies train
    score_seeds: int = 1  # EL2N/GraNd: scoring proxies (seeds) the scores are averaged over
    stratified: Optional[bool] = None  # core-sets: CCS's stratified sampling over the scores (None: see open_run)
    hard_cutoff: Optional[float] = None  # ... after dropping this fraction of the hardest (None: CCS's rule)
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_type(option_name(self, "method"), self.method, str)
        check_type(option_name(self, "sampling"), self.sampling, str, SAMPLINGS)
        check_number(option_name(self, "sampling_beta"), self.sampling_beta, POSITIVE)
        if self.keep is not None:
            check_type(option_name(self, "keep"), self.keep, str, KEEPS)
        if self.stratified is not None:
            check_type(option_name(self, "stratified"), self.stratified, bool)
        if self.hard_cutoff is not None:
            check_number(option_name(self, "hard_cutoff"), self.hard_cutoff,
                         Range(integer=False, low=0, high=1, high_open=True))
        check_type(option_name(self, "class_balance"), self.class_balance, bool)
        if self.candidates is not None:
            check_number(option_name(self, "candidates"), self.candidates, POSITIVE_COUNT)
        check_number(option_name(self, "mc_samples"), self.mc_samples, POSITIVE_COUNT)
        check_number(option_name(self, "mc_dropout"), self.mc_dropout,
                     Range(integer=False, low=0, high=1, low_open=True, high_open=True))
        if self.score_epoch is not None:
            check_number(option_name(self, "score_epoch"), self.score_epoch, POSITIVE_COUNT)
        check_number(option_name(self, "score_seeds"), self.score_seeds, POSITIVE_COUNT)
        if not isinstance(self.options, dict):
            raise UsageError(f"the method options {self.options!r} are not a mapping of names to values")


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
    selection: SelectionOptions = SelectionOptions()
    precomputed_selection: Optional[str] = None
    train_target: bool = True
    proxy_dataset: Optional[str] = None  # the proxy's own view of the same examples (e.g. embeddings)

    def __post_init__(self) -> None:
        _check_sections(self)
        if self.proxy_dataset is not None:
            check_type(option_name(self, "proxy_dataset"), self.proxy_dataset, str)
        if self.precomputed_selection is not None:
            check_type(option_name(self, "precomputed_selection"), self.precomputed_selection, str)
        check_type(option_name(self, "train_target"), self.train_target, bool)


@dataclass(frozen=True)
class ActiveConfig(SelectionConfig):
    initial_subset: int = 1000
    rounds: tuple[int, ...] = (4000, 5000, 5000, 5000, 5000)
    eval_target_at: tuple[int, ...] = ()
    workflow: str = "active"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number(option_name(self, "initial_subset"), self.initial_subset, POSITIVE_COUNT)
        check_numbers(option_name(self, "rounds"), self.rounds, POSITIVE_COUNT)
        check_numbers(option_name(self, "eval_target_at"), self.eval_target_at, POSITIVE_COUNT)
        candidates = self.selection.candidates
        if candidates is not None and self.rounds and candidates < max(self.rounds):
            raise UsageError(f"{option_name(self.selection, 'candidates')} {candidates} is smaller than the round of "
                             f"{max(self.rounds)} examples ; give at least the largest {option_name(self, 'rounds')} (a few "
                             "times it, to leave a choice)")
        sizes = self.budgets
        for size in self.eval_target_at:
            # a replay's sizes are those of the run it replays (checked there)
            if self.precomputed_selection is None and size not in sizes:
                raise UsageError(f"{option_name(self, 'eval_target_at')} {size} is not a labeled-set size "
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
    """Core-set selection: a proxy trained on the whole pool keeps ``subset`` examples of it."""

    subset: int = 25000
    selection: SelectionOptions = SelectionOptions(method="forgetting_events")
    workflow: str = "coreset"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number(option_name(self, "subset"), self.subset, POSITIVE_COUNT)
        total, selection = sum(self.proxy.epochs), self.selection
        if selection.score_epoch is None:
            selection = dataclasses.replace(selection, score_epoch=max(1, math.ceil(total / 10)))
            object.__setattr__(self, "selection", selection)
        if selection.score_epoch > total:
            raise UsageError(f"{option_name(selection, 'score_epoch')} {selection.score_epoch} is past the proxy's {total} "
                             f"epochs ; give at most {total} (EL2N and GraNd score early in training)")
        if selection.candidates is not None:
            raise UsageError(f"{option_name(selection, 'candidates')} samples the unlabeled pool of active learning ; "
                             "core-set selection scores the whole pool: drop it")


@dataclass(frozen=True)
class QueryConfig(SelectionConfig):
    """The labeling loop: each call trains the proxy on every label so far and asks for ``budget`` more.

    ``labels`` (a file of answers) and ``train_target`` say what one call
    does, not what the run is: a resumed query takes them from its command
    line (see the ``per_call`` of its workflow record).
    """

    budget: int = 100
    selection: SelectionOptions = SelectionOptions(method="auto")  # typical examples first, uncertain ones after
    initial_subset: Optional[int] = None  # the first question's size when nothing is labeled yet (None: budget)
    cold_start: str = "random"
    labels: Optional[str] = None
    format: str = "csv"
    train_target: bool = False
    workflow: str = "query"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number(option_name(self, "budget"), self.budget, POSITIVE_COUNT)
        candidates = self.selection.candidates
        if candidates is not None and candidates < self.budget:
            raise UsageError(f"{option_name(self.selection, 'candidates')} {candidates} is smaller than "
                             f"{option_name(self, 'budget')} {self.budget} ; give at least as many candidates as a "
                             "question asks for")
        if self.initial_subset is not None:
            check_number(option_name(self, "initial_subset"), self.initial_subset, POSITIVE_COUNT)
        check_type(option_name(self, "cold_start"), self.cold_start, str, COLD_STARTS)
        if self.labels is not None:
            check_type(option_name(self, "labels"), self.labels, str)
        check_type(option_name(self, "format"), self.format, str, QUERY_FORMATS)
        if self.precomputed_selection is not None:
            raise UsageError(f"{option_name(self, 'precomputed_selection')} replays a selection ; `query` asks a person "
                             "for labels: drop it (replay with `svp active --precomputed-selection`)")

    @property
    def first_question(self) -> int:
        """How many examples the first question asks for when nothing is labeled yet."""
        return self.initial_subset or self.budget


COLD_STARTS = ("random", "kcenters", "typiclust", "probcover")  # how the first question is chosen, nothing labeled
QUERY_FORMATS = ("csv", "label-studio")  # what a question is written as (a CSV always; Label Studio's tasks too)


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
            "runtime": RuntimeConfig, "selection": SelectionOptions}
# config.json keys written by svp 0.1.0 under another name: old -> new
_RENAMED_KEYS = {ModelConfig: {"fasttext": "options"}}
# what a config.json written before these fields existed meant by their absence (a new run saves them resolved)
_SAVED_BEFORE = {ModelConfig: {"schedule": "epochs"}, SelectionOptions: {"keep": "hardest", "stratified": False}}
# the selection options a workflow's config.json held at its top level before they had a section: old -> new
_SELECTION_KEYS = {"selection_method": "method", "sampling": "sampling", "sampling_beta": "sampling_beta",
                   "keep": "keep", "class_balance": "class_balance", "candidates": "candidates",
                   "mc_samples": "mc_samples", "mc_dropout": "mc_dropout", "score_epoch": "score_epoch",
                   "score_seeds": "score_seeds"}


def from_dict(cls: type, values: dict) -> Any:
    """Rebuild a config saved by :func:`to_dict` (tuples restored); every value is checked again."""
    if not isinstance(values, dict):
        raise UsageError(f"{values!r} is not a mapping of {cls.__name__} options")
    values = {_RENAMED_KEYS.get(cls, {}).get(key, key): value for key, value in values.items()}
    values = {**_SAVED_BEFORE.get(cls, {}), **values}
    if any(f.name == "selection" for f in dataclasses.fields(cls)):
        values = _selection_section(values)
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


def _selection_section(values: dict) -> dict:
    """A workflow config's values with the selection options of an earlier svp (at the top level) moved into
    their section."""
    moved = {new: values[old] for old, new in _SELECTION_KEYS.items() if old in values}
    if not moved:
        return values
    kept = {key: value for key, value in values.items() if key not in _SELECTION_KEYS}
    section = values.get("selection")
    return {**kept, "selection": {**moved, **(section if isinstance(section, dict) else {})}}
