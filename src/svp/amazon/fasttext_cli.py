"""``python -m svp.amazon fasttext``: the original's stand-alone fastText selection.

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

from svp import cli
from svp import config as cfg
from svp.errors import UsageError

log = logging.getLogger(__name__)

COMMAND = "fasttext"
SIZES = (72_000, 360_000, 720_000, 1_080_000, 1_440_000, 1_800_000)
METHOD = "entropy"
RUNTIME = ("run_dir", "seed", "track_test_acc", "quiet")  # the options of ours it takes
DATA = ("datasets_dir", "dataset", "validation", "shuffle")


def add_parser(commands: Any, domain: cli.Domain) -> None:
    """The ``fasttext`` subcommand, with the original's options and defaults."""
    from svp.workflows.fasttext_learner import FASTTEXT_METHODS

    text = ("select data with a fastText proxy alone (no target): increasing --size values are active "
            "learning, two decreasing ones core-set selection")
    parser = commands.add_parser(COMMAND, help=text, description=text)
    parser.add_argument("executable", nargs="?", help="the original's fastText binary; accepted and ignored "
                        "(svp trains with the fasttext Python package)")
    cli._add(parser.add_argument_group("run"), {k: cli.RUNTIME_OPTIONS[k] for k in RUNTIME}, domain.defaults)
    flags, kwargs = cli.DATA_OPTIONS["dataset"]
    data = {**{k: cli.DATA_OPTIONS[k] for k in DATA}, "dataset": (flags, {**kwargs, "choices": domain.datasets})}
    cli._add(parser.add_argument_group("data"), data, domain.defaults)
    parser.set_defaults(augmentation=False, num_workers=0, eval_num_workers=0)
    defaults = cli.fasttext_defaults()
    group = parser.add_argument_group("fastText")
    cli._add(group, cli.FASTTEXT_OPTIONS, defaults)
    group.add_argument("--epochs", "-e", type=int, default=defaults["epochs"],
                       help="fastText: epochs of training (default: %(default)s)")
    group.add_argument("--learning-rate", "-l", type=float, default=defaults["learning_rate"],
                       help="fastText: learning rate (default: %(default)s)")
    group = parser.add_argument_group("selection")
    group.add_argument("--size", dest="sizes", type=int, action="append",
                       help="labeled-set size after each selection; repeat. The first is the random initial "
                            "subset; increasing sizes are active learning, two decreasing ones core-set "
                            f"selection (default: {' '.join(map(str, SIZES))})")
    group.add_argument("--selection-method", choices=FASTTEXT_METHODS, default=METHOD,
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


def build_config(args: argparse.Namespace, domain: cli.Domain) -> Any:
    """The active-learning or core-set config the ``fasttext`` command stands for."""
    sizes = tuple(args.sizes or SIZES)
    setting = check_sizes(sizes)
    if args.executable:
        log.info("ignoring %s: fastText trains through the fasttext package", args.executable)
    values = {dest: getattr(args, dest) for dest in (*cli.FASTTEXT_OPTIONS, "epochs", "learning_rate")}
    proxy = cli.fasttext_model(values, schedule_flags=("--epochs", "--learning-rate"))
    common = dict(data=cli.data_config(args), target=cli.model_config(argparse.Namespace(), domain),
                  proxy=proxy, selection_method=args.selection_method, train_target=False,
                  runtime=cfg.RuntimeConfig(run_dir=args.run_dir, seed=args.seed, cuda=False,
                                            track_test_acc=args.track_test_acc, quiet=args.quiet))
    if setting == "coreset":
        log.info("core-set selection: fastText trains on the whole training set and keeps %d", sizes[1])
        return cfg.CoresetConfig(**common, subset=sizes[1])
    return cfg.ActiveConfig(**common, initial_subset=sizes[0], rounds=tuple(np.diff(sizes).tolist()))
