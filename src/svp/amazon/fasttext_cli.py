"""fastText on the command line: its options, ``--proxy-arch fasttext``, and the original's ``fasttext`` command.

The original trained the fastText binary on growing labeled sets given as
``--size`` values. Here the command is parsed into the ordinary workflows
with a fastText proxy and no target training, so it writes the same run
directory as ``svp active`` (or ``svp coreset``), ready for
``--precomputed-selection``:

- increasing sizes are active learning: a random initial subset of the
  first size, then rounds that grow the labeled set to each next size;
- two decreasing sizes are core-set selection: fastText trains on the whole
  training set (the first size, as in the original) and keeps the second.

The original's first argument, the path of the fastText binary, is
accepted and ignored: training goes through the ``fasttext`` package.
"""
from __future__ import annotations

import argparse
import logging
from typing import Any

import numpy as np

from svp import config as cfg
from svp.cli import Domain
from svp.cli.options import DATA, RUNTIME, Option, add_options
from svp.cli.parse import data_config, model_config, runtime_config
from svp.errors import UsageError
from svp.learners.fasttext import FastTextLearner, FastTextOptions, fasttext_config
from svp.selection import method_names, option_fields

log = logging.getLogger(__name__)

COMMAND = "fasttext"
SIZES = (72_000, 360_000, 720_000, 1_080_000, 1_440_000, 1_800_000)
METHOD = "entropy"
RUNTIME_FIELDS = ("run_dir", "seed", "checkpoint", "track_test_acc", "quiet")  # the options of ours it takes
DATA_FIELDS = ("datasets_dir", "dataset", "validation", "shuffle")


def _option(name: str, *flags: str) -> Option:
    """The option of FastTextOptions' field ``name`` (its help and type declared there), as ``flags``."""
    declared = next(f for f in option_fields(FastTextOptions) if f.name == name)
    return Option("learner", name, flags, declared.help, {"type": declared.type})


FASTTEXT_OPTIONS = (_option("dim", "--dim"), _option("ngrams", "--ngrams", "-n"),
                    _option("min_count", "--min-count"), _option("bucket", "--bucket"),
                    _option("threads", "--threads"))
# the fasttext command's own schedule: fastText trains some epochs at one learning rate
SCHEDULE_OPTIONS = (_option("epochs", "--epochs", "-e"), _option("learning_rate", "--learning-rate", "-l"))


def fasttext_methods() -> tuple[str, ...]:
    """The selection methods fastText can serve (it gives class probabilities only), registered ones included."""
    return method_names(provides=FastTextLearner.provides)


def _flags(options: tuple[Option, ...]) -> dict[str, str]:
    return {option.field: option.flags[0] for option in options}


def fasttext_proxy(args: argparse.Namespace) -> cfg.ModelConfig:
    """The fastText proxy of ``active``/``coreset --proxy-arch fasttext``."""
    values = {o.field: getattr(args, o.field) for o in FASTTEXT_OPTIONS if getattr(args, o.field) is not None}
    flags = _flags(FASTTEXT_OPTIONS)
    # the proxy's schedule options, given once, set fastText's epochs and learning rate
    for dest, key, flag in (("proxy_epochs", "epochs", "--proxy-epochs"),
                            ("proxy_learning_rates", "learning_rate", "--proxy-learning-rate")):
        given = getattr(args, dest, None)
        if given is not None and len(given) != 1:
            raise UsageError(f"fastText trains for some epochs at one learning rate: give {flag} once, "
                             f"not {len(given)} times")
        if given is not None:
            values[key] = given[0]
        flags[key] = flag
    return fasttext_config(values, flags)


def add_parser(commands: Any, domain: Domain) -> None:
    """The ``fasttext`` command, with the original's options and defaults."""
    text = ("select data with a fastText proxy alone (no target): increasing --size values are active "
            "learning, two decreasing ones core-set selection")
    parser = commands.add_parser(COMMAND, help=text, description=text)
    parser.add_argument("executable", nargs="?", help="the original's fastText binary; accepted and ignored "
                        "(svp trains with the fasttext Python package)")
    add_options(parser.add_argument_group("run"), [o for o in RUNTIME if o.field in RUNTIME_FIELDS], domain)
    add_options(parser.add_argument_group("data"), [o for o in DATA if o.field in DATA_FIELDS], domain,
                choices={"dataset": domain.datasets})
    parser.set_defaults(augmentation=False, num_workers=0, eval_num_workers=0, cuda=False)
    add_options(parser.add_argument_group("fastText"), FASTTEXT_OPTIONS + SCHEDULE_OPTIONS, domain,
                FastTextOptions)
    group = parser.add_argument_group("selection")
    group.add_argument("--size", dest="sizes", type=int, action="append",
                       help="labeled-set size after each selection; repeat. The first is the random initial "
                            "subset; increasing sizes are active learning, two decreasing ones core-set "
                            f"selection (default: {' '.join(map(str, SIZES))})")
    group.add_argument("--selection-method", choices=fasttext_methods(), default=METHOD,
                       help="how fastText chooses examples (default: %(default)s)")


def check_sizes(sizes: tuple[int, ...]) -> str:
    """``"active"`` or ``"coreset"`` for valid ``--size`` values; a UsageError otherwise."""
    if len(sizes) < 2:
        raise UsageError("give --size at least twice: the random initial subset, then the labeled-set size "
                         "after each fastText selection (e.g. --size 72000 --size 360000)")
    if min(sizes) <= 0:
        raise UsageError(f"--size values must be positive, got {min(sizes)}")
    signs = set(np.sign(np.diff(sizes)).tolist())
    if 0 in signs or len(signs) > 1:
        raise UsageError(f"--size values must all increase (active learning) or all decrease (core-set "
                         f"selection), got {', '.join(map(str, sizes))}")
    if signs == {1}:
        return "active"
    if len(sizes) > 2:
        raise UsageError("core-set selection takes two --size values: the whole training set, then the "
                         f"subset to keep; got {len(sizes)}")
    return "coreset"


def build_config(args: argparse.Namespace, domain: Domain) -> Any:
    """The active-learning or core-set config the ``fasttext`` command stands for."""
    sizes = tuple(args.sizes or SIZES)
    setting = check_sizes(sizes)
    if args.executable:
        log.info("ignoring %s: fastText trains through the fasttext package", args.executable)
    options = FASTTEXT_OPTIONS + SCHEDULE_OPTIONS
    proxy = fasttext_config({o.field: getattr(args, o.field) for o in options}, _flags(options))
    common = dict(data=data_config(args, domain), target=model_config(argparse.Namespace(), domain),
                  proxy=proxy, selection=cfg.SelectionOptions(method=args.selection_method), train_target=False,
                  runtime=runtime_config(args, domain))
    if setting == "coreset":
        log.info("core-set selection: fastText trains on the whole training set and keeps %d", sizes[1])
        return cfg.CoresetConfig(**common, subset=sizes[1])
    return cfg.ActiveConfig(**common, initial_subset=sizes[0], rounds=tuple(np.diff(sizes).tolist()))
