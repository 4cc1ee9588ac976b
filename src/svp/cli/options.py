"""Every command-line option, declared once, with the config field it sets.

An :class:`Option` names its config section and field; its default and the
"(default: ...)" of its help come from :mod:`svp.config` through the
:class:`~svp.cli.domain.Domain` (which may override them). The ``--proxy-*``
twins of the model options are generated here and default to the target's.
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import replace
from typing import Any, Mapping, Optional, Sequence

from svp import config as cfg
from svp import rundir
from svp.cli.domain import Domain
from svp.learners import learner_options
from svp.selection import METHODS, option_fields
from svp.options import Option, flag_option

#: The config class of each section; "workflow" options set fields of the workflow config itself, and
#: "selection" ones its selection section (their defaults are the workflow config's, see :func:`add_options`).
SECTIONS: dict[str, type] = {"data": cfg.DataConfig, "model": cfg.ModelConfig, "runtime": cfg.RuntimeConfig}
PROXY_PREFIX = "proxy_"


def _metavar(flag: str) -> str:
    """``--learning-rate`` -> ``LEARNING_RATE``: one value's name, also for repeated options."""
    return flag.lstrip("-").replace("-", "_").upper()


RUNTIME = (
    Option("runtime", "run_dir", ("--run-dir",), "where run directories are created"),
    flag_option("runtime", "cuda", ("--cuda",), "use GPUs when present"),
    Option("runtime", "devices", ("--device", "-d"), "GPU id to use; repeat for several",
           {"type": int, "action": "append"}),
    Option("runtime", "seed", ("--seed", "-s"), f"random seed (default: drawn and saved in {rundir.CONFIG})",
           {"type": int}),
    Option("runtime", "checkpoint", ("--checkpoint", "-c"),
           "keep the best model by dev accuracy, every epoch, or each segment's last",
           {"choices": ["best", "all", "last"]}),
    flag_option("runtime", "track_test_acc", ("--track-test-acc",), "measure test accuracy after each training"),
    Option("runtime", "quiet", ("--quiet", "-q"), "no progress bars, warnings only", {"action": "store_true"}),
    Option("runtime", "resume", ("--resume",), "continue the interrupted run in this run directory "
           "(RUN_DIR/<timestamp>) with its saved config; options typed as well must agree with it",
           {"metavar": "RUN"}),
    Option("runtime", "tensorboard", ("--tensorboard",), "also write the run's metrics (each epoch, each training, "
           "each selection) as TensorBoard scalars under DIR/<run> (pip install 'svp[tracking]')",
           {"metavar": "DIR"}),
    Option("runtime", "mlflow", ("--mlflow",), "also log the run to MLflow: its config as params, its metrics; at "
           "URI, else $MLFLOW_TRACKING_URI, else ./mlflow.db (pip install 'svp[tracking]')",
           {"nargs": "?", "const": "", "metavar": "URI"}),
    Option("runtime", "plugins", ("--plugin",), "import this module first: its models, methods, learners, datasets "
           "or workflows register themselves; repeat for several (give them again on --resume)",
           {"action": "append", "metavar": "MODULE"}),
)

DATA = (
    Option("data", "datasets_dir", ("--datasets-dir",), "folder holding the datasets"),
    Option("data", "dataset", ("--dataset",), "a dataset name (svp list datasets), a folder of your own "
           "(train/<class>/*, optional test/ and unlabeled/), a table of texts (.csv, .jsonl), or a .npz or .npy "
           "file of arrays (x, y, x_test, y_test; label -1 for unknown)"),
    flag_option("data", "augmentation", ("--augmentation",), "training augmentation (random crop + flip for images)"),
    Option("data", "validation", ("--validation", "-v"), "examples split off the training set as a dev set",
           {"type": int}),
    flag_option("data", "shuffle", ("--shuffle",), "shuffle before splitting off the dev set"),
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
    flag_option("model", "fp16", ("--fp16", "--amp"),
          "automatic mixed precision on CUDA (bf16 where supported, else fp16 with loss scaling)"),
    Option("model", "loss_scale", ("--loss-scale",), "initial fp16 loss scale (dynamic after)", {"type": float}),
    Option("model", "schedule", ("--schedule",), "epochs: the --epochs/--learning-rate segments as given; auto: "
           "sized in optimizer steps to the labeled set (a floor for small sets, at most the segments' epochs), "
           "linear warmup then cosine decay from the largest --learning-rate, early stopping on the dev set or "
           "on a tenth of the labeled examples (default: auto for data of your own, epochs for the paper's "
           "datasets and whenever --epochs is given)", {"choices": list(cfg.SCHEDULES)}),
    Option("model", "steps", ("--steps",), "an automatic schedule of exactly N optimizer steps, whatever the "
           "labeled set's size", {"type": int, "metavar": "N"}),
    flag_option("model", "scale_learning_rates", ("--scale-learning-rates",),
          "scale learning rates linearly with batch size / 256 (Goyal et al. 2017)"),
    Option("model", "weights", ("--weights",), "start from the weights in this file (a state dict, or an svp "
           "checkpoint) instead of random ones; a classifier of another size starts afresh", {"metavar": "PATH"}),
    flag_option("model", "pretrained", ("--pretrained",), "start from the architecture's published ImageNet weights "
          "(torchvision's ResNets; downloaded once, then cached)"),
)

def _shown(value: Any) -> Optional[str]:
    """A default as the user would type it, or None when there is nothing to show."""
    if value is None or value == ():
        return None
    if isinstance(value, (tuple, list)):
        return " ".join(map(str, value))
    return str(value)


def option_default(option: Option, domain: Domain, config: Optional[type] = None) -> Any:
    """The default of ``option`` in ``domain``: of its section's field, or of the workflow config ``config``'s
    (its own fields, and its selection section's)."""
    if option.section in SECTIONS:
        return domain.default(SECTIONS[option.section], option.field)
    if config is None:
        return None
    if option.section == "selection":
        return domain.selection_default(config, option.field)
    return domain.default(config, option.field)


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
        default = option_default(option, domain, defaults)
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


LEARNER_PREFIX = "learner_"  # dests of learner kinds' options: learner_<kind>_<field> (proxy_learner_... for the proxy)


def learner_flag(kind: str, name: str, proxy: bool) -> str:
    """``--<kind>-<option>`` (the target's), or ``--proxy-<kind>-<option>``."""
    return f"--{'proxy-' if proxy else ''}{kind}-{name}".replace("_", "-")


def learner_dest(kind: str, name: str, proxy: bool) -> str:
    return f"{PROXY_PREFIX if proxy else ''}{LEARNER_PREFIX}{kind}_{name}"


def add_learner_options(parser: argparse.ArgumentParser, proxy: bool) -> None:
    """Each registered learner kind's own options (``Learner.options``), for the target (``--<kind>-<option>``)
    and, with ``proxy``, for the proxy (``--proxy-<kind>-<option>``), as the kind plays either role."""
    groups: dict[str, Any] = {}
    for option in learner_options():
        for as_proxy in (False, True) if proxy else (False,):
            if (rundir.PROXY if as_proxy else rundir.TARGET) not in option.roles:
                continue
            if option.kind not in groups:
                groups[option.kind] = parser.add_argument_group(f"{option.kind} learner (with an architecture "
                                                                f"it builds; default: the kind's own)")
            kwargs = ({"action": argparse.BooleanOptionalAction} if option.type is bool else
                      {"type": option.type if option.type in (int, float) else str,
                       "metavar": option.name.upper()})
            groups[option.kind].add_argument(
                learner_flag(option.kind, option.name, as_proxy), dest=learner_dest(option.kind, option.name, as_proxy),
                default=None, help=f"{'proxy: ' if as_proxy else ''}{option.help or option.name} "
                f"(default: {option.default})".replace("%", "%%"), **kwargs)


METHOD_PREFIX = "method_"  # dests of selection methods' own options: method_<method>_<field>


def method_option_dest(method: str, name: str) -> str:
    return f"{METHOD_PREFIX}{method}_{name}".replace("-", "_")


def method_option_flag(method: str, name: str) -> str:
    return f"--{method}-{name}".replace("_", "-")


def method_option_fields() -> list[tuple[str, Any]]:
    """(method, option field) of every registered method's own options (``Method.options``), but for those
    the selection section holds already (BALD's --mc-samples and --mc-dropout)."""
    own = {field.name for field in dataclasses.fields(cfg.SelectionOptions)}
    return [(name, option) for name, method in METHODS.items() if method.options is not None
            for option in option_fields(method.options) if option.name not in own]


def add_method_options(group: argparse._ActionsContainer) -> None:
    """``--<method>-<option>`` for each registered method's own options (landing in the selection section's
    ``options`` when that method selects)."""
    for method, option in method_option_fields():
        kwargs = ({"action": argparse.BooleanOptionalAction} if option.type is bool else
                  {"type": option.type if option.type in (int, float) else str, "metavar": option.name.upper()})
        group.add_argument(method_option_flag(method, option.name), dest=method_option_dest(method, option.name),
                           default=None, help=f"{method}: {option.help or option.name} (default: {option.default})"
                           .replace("%", "%%"), **kwargs)
