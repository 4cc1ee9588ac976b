"""One command line for every workflow: ``svp {train,active,coreset,report}``.

Every option is declared once here, with its help text; the ``--proxy-*``
twins are generated from the target's options and default to them. Domain
entry points (``python -m svp.cifar``, ``svp.imagenet``, ``svp.amazon``)
call :func:`main` with their own defaults and dataset choices.
"""
from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from svp import config as cfg
from svp.engine.schedule import scale_learning_rates, validate_schedule
from svp.errors import UsageError

log = logging.getLogger("svp")


@dataclass(frozen=True)
class Domain:
    """Defaults of one family of experiments (the original's per-dataset scripts)."""

    prog: str
    defaults: dict = field(default_factory=dict)
    datasets: Optional[tuple[str, ...]] = None  # choices; None = every registered dataset
    commands: tuple[str, ...] = ("train", "active", "coreset", "report", "models")
    # original architecture names -> registry names (e.g. ImageNet's resnet50 -> imagenet-resnet50)
    arch_aliases: dict = field(default_factory=dict)
    # offer the fastText proxy's options (--dim, --ngrams, ...) in active and coreset
    fasttext: bool = False


IMAGE_DEFAULTS = {
    "dataset": "fashion-mnist", "arch": "preact20", "optimizer": "sgd",
    "epochs": [1, 90, 45, 45], "learning_rate": [0.01, 0.1, 0.01, 0.001],
    "momentum": 0.9, "weight_decay": 5e-4, "batch_size": 128, "eval_batch_size": 128,
}
GENERIC = Domain("svp", IMAGE_DEFAULTS)

# dest: (flags, argparse kwargs). Defaults come from the Domain.
MODEL_OPTIONS: dict[str, tuple[tuple[str, ...], dict]] = {
    "arch": (("--arch", "-a"), dict(help="model architecture (see `svp models`)")),
    "optimizer": (("--optimizer", "-o"), dict(choices=["sgd", "adam"], help="optimizer")),
    "epochs": (("--epochs", "-e"), dict(type=int, action="append",
               help="epochs of one schedule segment; repeat, paired with --learning-rate")),
    "learning_rate": (("--learning-rate", "-l"), dict(type=float, action="append",
                      help="learning rate of one schedule segment; repeat, paired with --epochs")),
    "momentum": (("--momentum",), dict(type=float, help="SGD momentum")),
    "weight_decay": (("--weight-decay", "--wd"), dict(type=float, help="weight decay")),
    "batch_size": (("--batch-size", "-b"), dict(type=int, help="training minibatch size")),
    "eval_batch_size": (("--eval-batch-size",), dict(type=int, help="evaluation and scoring minibatch size")),
    "label_smoothing": (("--label-smoothing",), dict(type=float, help="label smoothing of the loss")),
    "fp16": (("--fp16", "--amp"), dict(action=argparse.BooleanOptionalAction,
             help="automatic mixed precision on CUDA (bf16 where supported, else fp16 with loss scaling)")),
    "loss_scale": (("--loss-scale",), dict(type=float, help="initial fp16 loss scale (dynamic after)")),
    "scale_learning_rates": (("--scale-learning-rates",), dict(action=argparse.BooleanOptionalAction,
                             help="scale learning rates linearly with batch size / 256 (Goyal et al. 2017)")),
}
MODEL_FALLBACKS = {"label_smoothing": 0.0, "fp16": False, "loss_scale": None, "scale_learning_rates": False}

DATA_OPTIONS = {
    "datasets_dir": (("--datasets-dir",), dict(default="./data", help="folder holding the datasets")),
    "dataset": (("--dataset",), dict(help="dataset name")),
    "augmentation": (("--augmentation",), dict(action=argparse.BooleanOptionalAction, default=True,
                     help="training augmentation (random crop + flip for images)")),
    "validation": (("--validation", "-v"), dict(type=int, default=0,
                   help="examples split off the training set as a dev set")),
    "shuffle": (("--shuffle",), dict(action=argparse.BooleanOptionalAction, default=True,
                help="shuffle before splitting off the dev set")),
    "num_workers": (("--num-workers",), dict(type=int, default=0, help="data-loading workers (disk datasets)")),
    "eval_num_workers": (("--eval-num-workers",), dict(type=int, help="workers for evaluation (default: --num-workers)")),
}

RUNTIME_OPTIONS = {
    "run_dir": (("--run-dir",), dict(default="./run", help="where run directories are created")),
    "cuda": (("--cuda",), dict(action=argparse.BooleanOptionalAction, default=True, help="use GPUs when present")),
    "device": (("--device", "-d"), dict(type=int, action="append", help="GPU id to use; repeat for several")),
    "seed": (("--seed", "-s"), dict(type=int, help="random seed (default: drawn and saved in config.json)")),
    "checkpoint": (("--checkpoint", "-c"), dict(choices=["best", "all", "last"], default="best",
                   help="keep the best model by dev accuracy, every epoch, or each segment's last")),
    "track_test_acc": (("--track-test-acc",), dict(action=argparse.BooleanOptionalAction, default=True,
                       help="measure test accuracy after each training")),
    "quiet": (("--quiet", "-q"), dict(action="store_true", help="no progress bars, warnings only")),
    "resume": (("--resume",), dict(metavar="RUN", help="continue the interrupted run in this run directory "
               "(RUN_DIR/<timestamp>) with its saved config; options typed as well must agree with it")),
}

SELECTION_OPTIONS = {
    "selection_method": (("--selection-method",), dict(help="how the proxy chooses examples")),
    "precomputed_selection": (("--precomputed-selection",), dict(
        help="replay the index files of an earlier run (or a plain index file) into target training")),
    "train_target": (("--train-target",), dict(action=argparse.BooleanOptionalAction, default=True,
                     help="train the target on the selected data")),
}


# fastText proxy (--proxy-arch fasttext); defaults from svp.models.fasttext.FastTextOptions
FASTTEXT_OPTIONS = {
    "dim": (("--dim",), dict(type=int, help="fastText: size of word vectors")),
    "ngrams": (("--ngrams", "-n"), dict(type=int, help="fastText: max length of word n-grams")),
    "min_count": (("--min-count",), dict(type=int, help="fastText: minimal number of word occurrences")),
    "bucket": (("--bucket",), dict(type=int, help="fastText: number of hash buckets for word n-grams")),
    "threads": (("--threads",), dict(type=int, help="fastText: training threads (1 for reproducible runs)")),
}


def _add(group: argparse._ActionsContainer, options: dict, defaults: dict) -> None:
    for dest, (flags, kwargs) in options.items():
        kwargs = dict(kwargs)
        if dest in defaults and kwargs.get("action") != "append":
            kwargs["default"] = defaults[dest]
        if "default" in kwargs and kwargs.get("help"):
            kwargs["help"] += " (default: %(default)s)"
        group.add_argument(*flags, dest=dest, **kwargs)


def _add_model(parser: argparse.ArgumentParser, domain: Domain, proxy: bool) -> None:
    if not proxy:
        _add(parser.add_argument_group("model"), MODEL_OPTIONS, domain.defaults)
        return
    group = parser.add_argument_group("proxy (each defaults to its target twin)")
    for dest, (flags, kwargs) in MODEL_OPTIONS.items():
        long_flags = [f for f in flags if f.startswith("--") and f != "--wd"]
        names = ["--proxy-" + f[2:] for f in long_flags]
        kwargs = {**kwargs, "help": f"proxy's {kwargs['help']}"}
        group.add_argument(*names, dest="proxy_" + dest, **kwargs)


def _add_data(parser: argparse.ArgumentParser, domain: Domain) -> None:
    options = dict(DATA_OPTIONS)
    flags, kwargs = options["dataset"]
    choices = domain.datasets
    if choices is None:
        from svp.data import DATASETS

        choices = tuple(sorted(DATASETS))
    options["dataset"] = (flags, {**kwargs, "choices": choices})
    _add(parser.add_argument_group("data"), options, domain.defaults)


def build_parser(domain: Domain = GENERIC) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=domain.prog, description="Selection via Proxy: fast data selection "
                                     "for deep learning (active learning and core-set selection).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    builders = {"train": _train_parser, "active": _active_parser, "coreset": _coreset_parser,
                "report": _report_parser, "models": _models_parser}
    builders.update(EXTRA_COMMANDS)
    for name in domain.commands:
        builders[name](commands, domain)
    return parser


def _workflow_parser(commands, name: str, help_text: str, domain: Domain) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help_text, description=help_text)
    _add(parser.add_argument_group("run"), RUNTIME_OPTIONS, domain.defaults)
    _add_data(parser, domain)
    _add_model(parser, domain, proxy=False)
    return parser


def _train_parser(commands, domain: Domain) -> None:
    _workflow_parser(commands, "train", "train one model on the whole training set", domain)


def _selection_group(parser: argparse.ArgumentParser, domain: Domain, method_default: str,
                     methods: tuple[str, ...]) -> argparse._ArgumentGroup:
    _add_model(parser, domain, proxy=True)
    if domain.fasttext:
        _add(parser.add_argument_group("fastText proxy (with --proxy-arch fasttext; --proxy-epochs and "
                                       "--proxy-learning-rate given once set its epochs and learning rate)"),
             FASTTEXT_OPTIONS, fasttext_defaults())
    group = parser.add_argument_group("selection")
    defaults = {"selection_method": method_default, **domain.defaults}
    options = dict(SELECTION_OPTIONS)
    flags, kwargs = options["selection_method"]
    options["selection_method"] = (flags, {**kwargs, "choices": methods})
    _add(group, options, defaults)
    return group


def _active_parser(commands, domain: Domain) -> None:
    from svp.selection import ACTIVE_METHODS

    parser = _workflow_parser(commands, "active", "active learning: a proxy picks examples to label, "
                              "round by round", domain)
    group = _selection_group(parser, domain, "least_confidence", ACTIVE_METHODS)
    group.add_argument("--initial-subset", type=int, default=domain.defaults.get("initial_subset", 1000),
                       help="size of the random first labeled set (default: %(default)s)")
    group.add_argument("--round", "-r", dest="rounds", type=int, action="append",
                       help="examples labeled in one round; repeat for more rounds "
                            f"(default: {domain.defaults.get('rounds', [4000, 5000, 5000, 5000, 5000])})")
    group.add_argument("--eval-target-at", type=int, action="append",
                       help="train the target only at these labeled-set sizes; repeatable (default: all)")


def _coreset_parser(commands, domain: Domain) -> None:
    from svp.selection import CORESET_METHODS

    parser = _workflow_parser(commands, "coreset", "core-set selection: a proxy trained on all data "
                              "keeps a subset for the target", domain)
    group = _selection_group(parser, domain, "forgetting_events", CORESET_METHODS)
    group.add_argument("--subset", type=int, default=domain.defaults.get("subset", 25000),
                       help="examples to keep (default: %(default)s)")


def _report_parser(commands, domain: Domain) -> None:
    parser = commands.add_parser("report", help="tables and plots from run directories")
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories (or folders of them)")
    parser.add_argument("--baseline", help="run to compare the others against (speed-ups, accuracy gaps)")
    parser.add_argument("--out", help="where to write report.csv/.md and the PNGs (default: RUN_DIR/report)")


def _models_parser(commands, domain: Domain) -> None:
    commands.add_parser("models", help="list architectures, datasets and selection methods")


def _list_models(args: argparse.Namespace, domain: Domain) -> int:
    from svp.data import DATASETS
    from svp.models import MODELS
    from svp.selection import METHODS

    print("architectures:", ", ".join(sorted(MODELS)), "(and fasttext as a proxy)")
    print("datasets:", ", ".join(sorted(DATASETS)))
    print("selection methods:", ", ".join(METHODS))
    return 0


# name -> parser builder; domain modules add commands such as `fasttext`.
EXTRA_COMMANDS: dict[str, Callable] = {}
# commands that build a workflow config their own way: name -> builder(args, domain) -> config
CONFIG_BUILDERS: dict[str, Callable[[argparse.Namespace, Domain], Any]] = {}


def model_config(args: argparse.Namespace, domain: Domain, prefix: str = "",
                 base: Optional[cfg.ModelConfig] = None) -> cfg.ModelConfig:
    """A ModelConfig from the options with ``prefix``; unset ones fall back to ``base``."""
    values = {}
    for dest in MODEL_OPTIONS:
        value = getattr(args, prefix + dest, None)
        if value is None:
            value = getattr(base, _field(dest)) if base is not None else domain.defaults.get(
                dest, MODEL_FALLBACKS.get(dest))
        values[_field(dest)] = value
    values["arch"] = domain.arch_aliases.get(values["arch"], values["arch"])
    validate_schedule(values["epochs"], values["learning_rates"], prefix=prefix.replace("_", "-"))
    values["epochs"] = tuple(values["epochs"])
    values["learning_rates"] = tuple(_scaled_rates(args, prefix, values, base))
    if values["eval_batch_size"] is None:
        values["eval_batch_size"] = values["batch_size"]
    return cfg.ModelConfig(**values)


def _scaled_rates(args: argparse.Namespace, prefix: str, values: dict,
                  base: Optional[cfg.ModelConfig]) -> tuple[float, ...]:
    """Apply ``--scale-learning-rates``: rates given for batch 256 scale to this batch size.

    Rates inherited from the target are already scaled for the target's
    batch size, so they move by the ratio of the two batch sizes.
    """
    rates = values["learning_rates"]
    if not values["scale_learning_rates"]:
        return rates
    inherited = base is not None and getattr(args, prefix + "learning_rate") is None
    if inherited:
        return tuple(rate * values["batch_size"] / base.batch_size for rate in rates)
    return scale_learning_rates(rates, values["batch_size"])


def fasttext_defaults() -> dict:
    """fastText's options and their defaults (the original's), the seed aside."""
    from dataclasses import fields

    from svp.models.fasttext import FastTextOptions

    return {f.name: f.default for f in fields(FastTextOptions) if f.name != "seed"}


def fasttext_model(values: dict, schedule_flags: tuple[str, str] = ("--proxy-epochs", "--proxy-learning-rate"),
                   ) -> cfg.ModelConfig:
    """The ModelConfig of a fastText proxy with ``values`` (see :func:`fasttext_defaults`).

    Its one-segment schedule repeats fastText's epochs and learning rate, so
    config.json shows what was trained.
    """
    from svp.models.fasttext import FASTTEXT_ARCH, FastTextOptions

    options = FastTextOptions.from_dict({**fasttext_defaults(), **values})  # unknown keys, wrong types
    values = {name: getattr(options, name) for name in fasttext_defaults()}
    flags = {"epochs": schedule_flags[0], "learning_rate": schedule_flags[1],
             **{dest: names[0] for dest, (names, _) in FASTTEXT_OPTIONS.items()}}
    for name, value in values.items():
        if value <= 0:
            raise UsageError(f"{flags[name]} must be positive for fastText, got {value}")
    return cfg.ModelConfig(arch=FASTTEXT_ARCH, epochs=(int(values["epochs"]),),
                           learning_rates=(float(values["learning_rate"]),), fasttext=values)


def _fasttext_proxy(args: argparse.Namespace) -> cfg.ModelConfig:
    """The fastText proxy of ``svp active/coreset --proxy-arch fasttext``."""
    values = {dest: getattr(args, dest) for dest in FASTTEXT_OPTIONS if getattr(args, dest, None) is not None}
    for dest, key in (("proxy_epochs", "epochs"), ("proxy_learning_rate", "learning_rate")):
        given = getattr(args, dest, None)
        if given is not None and len(given) != 1:
            raise UsageError(f"fastText trains for some epochs at one learning rate: give "
                             f"--{dest.replace('_', '-')} once, not {len(given)} times")
        if given is not None:
            values[key] = given[0]
    return fasttext_model(values)


def _field(dest: str) -> str:
    return "learning_rates" if dest == "learning_rate" else dest


def data_config(args: argparse.Namespace) -> cfg.DataConfig:
    workers = args.num_workers
    return cfg.DataConfig(dataset=args.dataset, datasets_dir=args.datasets_dir, augmentation=args.augmentation,
                          validation=args.validation, shuffle=args.shuffle, num_workers=workers,
                          eval_num_workers=workers if args.eval_num_workers is None else args.eval_num_workers)


def runtime_config(args: argparse.Namespace) -> cfg.RuntimeConfig:
    return cfg.RuntimeConfig(run_dir=args.run_dir, seed=args.seed, cuda=args.cuda,
                             devices=tuple(args.device or ()), checkpoint=args.checkpoint,
                             track_test_acc=args.track_test_acc, quiet=args.quiet,
                             resume=getattr(args, "resume", None))


def build_config(args: argparse.Namespace, domain: Domain) -> Any:
    """The frozen config of the chosen workflow."""
    if args.command in CONFIG_BUILDERS:
        return CONFIG_BUILDERS[args.command](args, domain)
    data, runtime = data_config(args), runtime_config(args)
    target = model_config(args, domain)
    if args.command == "train":
        return cfg.TrainConfig(data=data, model=target, runtime=runtime)
    from svp.models.fasttext import FASTTEXT_ARCH

    if getattr(args, "proxy_arch", None) == FASTTEXT_ARCH:
        proxy = _fasttext_proxy(args)
    else:
        proxy = model_config(args, domain, "proxy_", base=target)
    common = dict(data=data, target=target, proxy=proxy, runtime=runtime,
                  selection_method=args.selection_method, precomputed_selection=args.precomputed_selection,
                  train_target=args.train_target)
    if args.command == "active":
        rounds = args.rounds if args.rounds is not None else domain.defaults.get("rounds", [4000, 5000, 5000, 5000, 5000])
        return cfg.ActiveConfig(**common, initial_subset=args.initial_subset, rounds=tuple(rounds),
                                eval_target_at=tuple(args.eval_target_at or ()))
    return cfg.CoresetConfig(**common, subset=args.subset)


def typed_options(domain: Domain, argv: Optional[Sequence[str]]) -> dict[str, str]:
    """Option dest -> flag of the options typed in ``argv`` (those left at their defaults omitted).

    ``argv`` is parsed again by a parser whose defaults are all suppressed,
    so an option typed with its default value still counts as typed.
    """
    parser = build_parser(domain)
    flags: dict[str, str] = {}
    for each in _all_parsers(parser):
        each._defaults.clear()  # those of set_defaults()
        for action in each._actions:
            action.default = argparse.SUPPRESS
            long_flags = [o for o in action.option_strings if o.startswith("--")]
            flags.setdefault(action.dest, long_flags[0] if long_flags else action.dest)
    return {dest: flags[dest] for dest in vars(parser.parse_args(argv)) if dest != "command"}


def _all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return [parser] + [p for action in subparsers for sub in action.choices.values() for p in _all_parsers(sub)]


def run_workflow(config: Any) -> Any:
    """Dispatch a config to its workflow; returns the run directory."""
    from svp.workflows.active import run_active
    from svp.workflows.coreset import run_coreset
    from svp.workflows.train import run_train

    return {"train": run_train, "active": run_active, "coreset": run_coreset}[config.workflow](config)


def setup_logging(quiet: bool) -> None:
    from svp.engine.progress import set_quiet

    set_quiet(quiet)
    level = logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    log.setLevel(level)  # also when logging was configured before (basicConfig then does nothing)


def main(argv: Optional[Sequence[str]] = None, domain: Domain = GENERIC) -> int:
    """Entry point of ``svp`` and of the domain shims; returns the exit code."""
    parser = build_parser(domain)
    args = parser.parse_args(argv)
    try:
        if args.command in COMMAND_HANDLERS:
            return COMMAND_HANDLERS[args.command](args, domain)
        setup_logging(args.quiet)
        config = build_config(args, domain)
        if config.runtime.resume:
            from svp.workflows.resume import resumed_config

            config = resumed_config(config, typed_options(domain, argv))
        run = run_workflow(config)
    except UsageError as error:
        parser.exit(2, f"{domain.prog}: error: {error}\n")
    from svp.engine.distributed import is_main
    from svp.report import run_summary

    if not is_main():  # under torchrun the summary shows once
        return 0
    print(run_summary(run))
    print(f"results: {run}")
    return 0


def _report(args: argparse.Namespace, domain: Domain) -> int:
    from svp.report import report

    text, _ = report(args.runs, args.out, args.baseline)
    print(text)  # ends with the paths written
    return 0


# commands that are not workflows: name -> handler(args, domain) -> exit code
COMMAND_HANDLERS: dict[str, Callable[[argparse.Namespace, Domain], int]] = {
    "report": _report, "models": _list_models}


if __name__ == "__main__":
    sys.exit(main())
