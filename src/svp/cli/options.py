"""Every command-line option, declared once, with the config field it sets.

An :class:`Option` names its config section and field; its default and the
"(default: ...)" of its help come from :mod:`svp.config` through the
:class:`~svp.cli.domain.Domain` (which may override them). The ``--proxy-*``
twins of the model options are generated here and default to the target's.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Optional, Sequence

from svp import config as cfg
from svp import rundir
from svp.cli.domain import Domain

#: The config class of each section; "workflow" options set fields of the workflow config itself.
SECTIONS: dict[str, type] = {"data": cfg.DataConfig, "model": cfg.ModelConfig, "runtime": cfg.RuntimeConfig}
PROXY_PREFIX = "proxy_"


@dataclass(frozen=True)
class Option:
    """One option: the config field it sets (also its argparse dest), its flags, help and argparse extras."""

    section: str
    field: str
    flags: tuple[str, ...]
    help: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def repeated(self) -> bool:
        return self.kwargs.get("action") == "append"

    @property
    def takes_value(self) -> bool:
        return self.kwargs.get("action") in (None, "append")


def _metavar(flag: str) -> str:
    """``--learning-rate`` -> ``LEARNING_RATE``: one value's name, also for repeated options."""
    return flag.lstrip("-").replace("-", "_").upper()


def _bool(section: str, name: str, flags: tuple[str, ...], help: str) -> Option:
    return Option(section, name, flags, help, {"action": argparse.BooleanOptionalAction})


RUNTIME = (
    Option("runtime", "run_dir", ("--run-dir",), "where run directories are created"),
    _bool("runtime", "cuda", ("--cuda",), "use GPUs when present"),
    Option("runtime", "devices", ("--device", "-d"), "GPU id to use; repeat for several",
           {"type": int, "action": "append"}),
    Option("runtime", "seed", ("--seed", "-s"), f"random seed (default: drawn and saved in {rundir.CONFIG})",
           {"type": int}),
    Option("runtime", "checkpoint", ("--checkpoint", "-c"),
           "keep the best model by dev accuracy, every epoch, or each segment's last",
           {"choices": ["best", "all", "last"]}),
    _bool("runtime", "track_test_acc", ("--track-test-acc",), "measure test accuracy after each training"),
    Option("runtime", "quiet", ("--quiet", "-q"), "no progress bars, warnings only", {"action": "store_true"}),
    Option("runtime", "resume", ("--resume",), "continue the interrupted run in this run directory "
           "(RUN_DIR/<timestamp>) with its saved config; options typed as well must agree with it",
           {"metavar": "RUN"}),
)

DATA = (
    Option("data", "datasets_dir", ("--datasets-dir",), "folder holding the datasets"),
    Option("data", "dataset", ("--dataset",), "a dataset name (svp list datasets), a folder of your own "
           "(train/<class>/*, optional test/ and unlabeled/), a table of texts (.csv, .jsonl), or a .npz or .npy "
           "file of arrays (x, y, x_test, y_test; label -1 for unknown)"),
    _bool("data", "augmentation", ("--augmentation",), "training augmentation (random crop + flip for images)"),
    Option("data", "validation", ("--validation", "-v"), "examples split off the training set as a dev set",
           {"type": int}),
    _bool("data", "shuffle", ("--shuffle",), "shuffle before splitting off the dev set"),
    Option("data", "num_workers", ("--num-workers",), "data-loading workers (disk datasets)", {"type": int}),
    Option("data", "eval_num_workers", ("--eval-num-workers",), "workers for evaluation (default: --num-workers)",
           {"type": int}),
    Option("data", "image_size", ("--image-size",), "resize the images of a folder of your own to N x N "
           "(needed when their sizes differ)", {"type": int, "metavar": "N"}),
    Option("data", "text_column", ("--text-column",), "a table of your own (.csv, .jsonl): the column of the "
           "texts, by name or position", {"metavar": "COLUMN"}),
    Option("data", "label_column", ("--label-column",), "a table of your own: the column of the labels (class "
           "names; empty when not labeled yet)", {"metavar": "COLUMN"}),
    Option("data", "test_file", ("--test-file",), "a table of your own: its test split, with the same columns",
           {"metavar": "PATH"}),
    Option("data", "id_column", ("--id-column",), "a table of your own: a column of ids, one per row, that "
           "keeps each row's labels on it when rows are added or moved (default: a row is known by its text)",
           {"metavar": "COLUMN"}),
    Option("data", "classes", ("--class",), "a class name, for data of your own whose labels do not name every "
           "class yet (no labels at all: a cold start); repeat for each class, in order", {"action": "append",
                                                                                           "metavar": "NAME"}),
)

MODEL = (
    Option("model", "arch", ("--arch", "-a"), "model architecture (see `svp list models`)"),
    Option("model", "optimizer", ("--optimizer", "-o"), "optimizer", {"choices": ["sgd", "adam"]}),
    Option("model", "epochs", ("--epochs", "-e"),
           "epochs of one schedule segment; repeat, paired with --learning-rate", {"type": int, "action": "append"}),
    Option("model", "learning_rates", ("--learning-rate", "-l"),
           "learning rate of one schedule segment; repeat, paired with --epochs",
           {"type": float, "action": "append"}),
    Option("model", "momentum", ("--momentum",), "SGD momentum", {"type": float}),
    Option("model", "weight_decay", ("--weight-decay", "--wd"), "weight decay", {"type": float}),
    Option("model", "batch_size", ("--batch-size", "-b"), "training minibatch size", {"type": int}),
    Option("model", "eval_batch_size", ("--eval-batch-size",),
           "evaluation and scoring minibatch size (default: --batch-size)", {"type": int}),
    Option("model", "label_smoothing", ("--label-smoothing",), "label smoothing of the loss", {"type": float}),
    _bool("model", "fp16", ("--fp16", "--amp"),
          "automatic mixed precision on CUDA (bf16 where supported, else fp16 with loss scaling)"),
    Option("model", "loss_scale", ("--loss-scale",), "initial fp16 loss scale (dynamic after)", {"type": float}),
    _bool("model", "scale_learning_rates", ("--scale-learning-rates",),
          "scale learning rates linearly with batch size / 256 (Goyal et al. 2017)"),
    Option("model", "weights", ("--weights",), "start from the weights in this file (a state dict, or an svp "
           "checkpoint) instead of random ones; a classifier of another size starts afresh", {"metavar": "PATH"}),
    _bool("model", "pretrained", ("--pretrained",), "start from the architecture's published ImageNet weights "
          "(torchvision's ResNets; downloaded once, then cached)"),
)

SELECTION = (
    Option("workflow", "selection_method", ("--selection-method",),
           "how the proxy chooses examples (see `svp list methods`)"),
    Option("workflow", "precomputed_selection", ("--precomputed-selection",),
           "replay the index files of an earlier run (or a plain index file) into target training"),
    _bool("workflow", "train_target", ("--train-target",), "train the target on the selected data"),
    Option("workflow", "proxy_dataset", ("--proxy-dataset",), "the proxy's own view of the same examples, row i "
           "for example i: a .npz of x (and x_test), such as embeddings for --proxy-arch linear-head",
           {"metavar": "PATH"}),
    Option("workflow", "sampling", ("--sampling",), "a scored method's top-k, or a seeded draw by score (Kirsch "
           "et al. 2023): power draws in proportion to score ** beta (scores >= 0), softmax to exp(beta score)",
           {"choices": list(cfg.SAMPLINGS)}),
    Option("workflow", "sampling_beta", ("--sampling-beta",), "inverse temperature of --sampling power/softmax",
           {"type": float, "metavar": "BETA"}),
    Option("workflow", "mc_samples", ("--mc-samples",), "bald: Monte-Carlo dropout samples per example",
           {"type": int, "metavar": "T"}),
    Option("workflow", "mc_dropout", ("--mc-dropout",), "bald: dropout probability put on the classifier's input "
           "of a proxy without dropout layers, in training and scoring", {"type": float, "metavar": "P"}),
)

ACTIVE = (
    Option("workflow", "initial_subset", ("--initial-subset",), "size of the random first labeled set",
           {"type": int}),
    Option("workflow", "rounds", ("--round", "-r"), "examples labeled in one round; repeat for more rounds",
           {"type": int, "action": "append"}),
    Option("workflow", "eval_target_at", ("--eval-target-at",),
           "train the target only at these labeled-set sizes; repeatable (default: all)",
           {"type": int, "action": "append"}),
    Option("workflow", "candidates", ("--candidates",), "each round, score only a seeded random sample of N "
           "unlabeled examples (default: all of them)", {"type": int, "metavar": "N"}),
)

CORESET = (
    Option("workflow", "subset", ("--subset",), "examples to keep", {"type": int}),
    Option("workflow", "keep", ("--keep",), "scored methods: keep the highest scores (hardest) or the lowest "
           "(easiest)", {"choices": list(cfg.KEEPS)}),
    _bool("workflow", "class_balance", ("--class-balance",), "scored methods: each class keeps its share of "
          "--subset"),
    Option("workflow", "score_epoch", ("--score-epoch",), "el2n, grand: epochs the scoring proxies train "
           "(default: 10% of the proxy's epochs)", {"type": int, "metavar": "E"}),
    Option("workflow", "score_seeds", ("--score-seeds",), "el2n, grand: proxies (seeds) the scores are averaged "
           "over", {"type": int, "metavar": "K"}),
)

QUERY = (
    SELECTION[0],  # --selection-method
    SELECTION[3],  # --proxy-dataset
    *SELECTION[4:],  # --sampling, --mc-samples, ...
    ACTIVE[3],  # --candidates
    Option("workflow", "budget", ("--budget",), "examples each question asks a person to label", {"type": int}),
    Option("workflow", "initial_subset", ("--initial-subset",), "the first question's size when nothing is "
           "labeled yet (default: --budget)", {"type": int}),
    Option("workflow", "cold_start", ("--cold-start",), "how the first question is chosen when nothing is labeled "
           "yet: at random, or by k-centers or typiclust on features (--proxy-dataset's, else an untrained "
           "proxy's)",
           {"choices": list(cfg.COLD_STARTS)}),
    Option("workflow", "labels", ("--labels",), "with --resume: a person's answers to the last question (a CSV "
           "of index or id, and label: a class name or number; or Label Studio's JSON export)", {"metavar": "FILE"}),
    Option("workflow", "format", ("--format",), "also write each question as Label Studio tasks (with the "
           "proxy's prediction as a pre-annotation) and its labeling interface", {"choices": list(cfg.QUERY_FORMATS)}),
    _bool("workflow", "train_target", ("--train-target",), "also train the target on every label so far"),
)


@dataclass(frozen=True)
class WorkflowCommand:
    """A workflow's command: its help, the config it builds, and its options beyond run, data and model."""

    help: str
    config: type
    options: tuple[Option, ...] = ()
    proxy: bool = True  # has a proxy (the --proxy-* twins)


WORKFLOW_COMMANDS = {
    "train": WorkflowCommand("train one model on the whole training set", cfg.TrainConfig, proxy=False),
    "active": WorkflowCommand("active learning: a proxy picks examples to label, round by round",
                              cfg.ActiveConfig, SELECTION + ACTIVE),
    "coreset": WorkflowCommand("core-set selection: a proxy trained on all data keeps a subset for the target",
                               cfg.CoresetConfig, SELECTION + CORESET),
    "query": WorkflowCommand("the labeling loop: a proxy trained on the labels so far asks a person for the next "
                             "ones; --resume RUN --labels ANSWERS goes on", cfg.QueryConfig, QUERY),
}


def _shown(value: Any) -> Optional[str]:
    """A default as the user would type it, or None when there is nothing to show."""
    if value is None or value == ():
        return None
    if isinstance(value, (tuple, list)):
        return " ".join(map(str, value))
    return str(value)


def add_options(group: argparse._ActionsContainer, options: Sequence[Option], domain: Domain,
                defaults: Optional[type] = None, choices: Mapping[str, Sequence[str]] = {}) -> None:
    """Add ``options`` to ``group`` with their defaults in ``domain``.

    ``defaults`` is the dataclass whose fields give the defaults of options
    outside the data, model and runtime sections (e.g. the workflow config);
    ``choices`` restricts an option (by field) to some values.
    """
    for option in options:
        kwargs = dict(option.kwargs)
        if option.field in choices:
            kwargs["choices"] = choices[option.field]
        cls = SECTIONS.get(option.section, defaults)
        default = domain.default(cls, option.field) if cls is not None else None
        # a repeated option starts empty (argparse would append to a default list); parse fills it in
        kwargs["default"] = None if option.repeated else default
        if option.takes_value and "choices" not in kwargs:  # choices show themselves
            kwargs.setdefault("metavar", _metavar(option.flags[0]))
        shown = _shown(default) if option.takes_value or default else None
        help_text = option.help if shown is None or "(default:" in option.help else f"{option.help} (default: {shown})"
        group.add_argument(*option.flags, dest=option.field, help=help_text.replace("%", "%%"), **kwargs)


# The original (click) declared -a and -o for --arch/--optimizer and again for --proxy-arch/--proxy-optimizer;
# the later declaration wins, so in its active and coreset commands they set the proxy's. Commands typed
# for the original mean the same here; svp says so in the help and warns when they are used.
PROXY_SHORT_FLAGS = {"arch": "-a", "optimizer": "-o"}
SHORT_FORMS = "short_forms"  # where parsing notes the proxy short forms used, for the warning


class _NoteShortForm(argparse._StoreAction):
    """Stores the value, and notes when the proxy's short form (-a, -o) gave it."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        super().__call__(parser, namespace, values, option_string)
        if option_string in PROXY_SHORT_FLAGS.values():
            noted = getattr(namespace, SHORT_FORMS, None) or []
            setattr(namespace, SHORT_FORMS, [*noted, (option_string, self.option_strings[0])])


def without_proxy_short_flags(options: Sequence[Option]) -> list[Option]:
    """The target's options where the proxy owns -a and -o (active, coreset)."""
    short = set(PROXY_SHORT_FLAGS.values())
    return [replace(option, flags=tuple(f for f in option.flags if f not in short)) for option in options]


def add_proxy_twins(group: argparse._ActionsContainer) -> None:
    """``--proxy-arch``, ``--proxy-epochs``, ...: each model option again for the proxy, defaulting to None.

    ``-a`` and ``-o`` are the proxy's, as in the original's active and coreset commands.
    """
    for option in MODEL:
        flags = ["--proxy-" + f[2:] for f in option.flags if f.startswith("--") and f != "--wd"]
        own_help = option.help.split(" (default:")[0]
        kwargs = {**option.kwargs, "default": None}
        if option.takes_value and "choices" not in kwargs:
            kwargs["metavar"] = _metavar(flags[0])
        if option.field in PROXY_SHORT_FLAGS:
            flags.append(PROXY_SHORT_FLAGS[option.field])
            own_help += f" ({PROXY_SHORT_FLAGS[option.field]} sets it, as in the original's commands)"
            kwargs["action"] = _NoteShortForm
        group.add_argument(*flags, dest=PROXY_PREFIX + option.field, help=f"proxy's {own_help}", **kwargs)
