"""What every workflow does first: check the config, then seed, device, data, splits, run directory.

Everything that can fail on bad input (unknown names, a learner asked for
what it cannot do, budgets larger than the pool, a missing dataset) fails
here, before any training and before the run directory is created.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import platform
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np
import torch

import svp
from svp import config as cfg
from svp import rundir
from svp.data import PUBLISHED, UNKNOWN, Data, dataset_modality, open_dataset, split_dev
from svp.data.identity import Identity, identity_of
from svp.data.sources import open_view
from svp.engine import distributed
from svp.engine.device import pick_device
from svp.errors import UsageError
from svp.learners import Environment, archs_for, learner_kind
from svp.tracking import sinks_for
from svp.selection import METHODS, method_options, model_needs
from svp.workflows import identity
from svp.workflows.context import Context
from svp.workflows.registry import workflow_of

log = logging.getLogger(__name__)

Validator = Callable[[Any, Data, np.ndarray, np.ndarray], None]


def open_run(config: Any, validate: Optional[Validator] = None, dev_index: Optional[Path] = None) -> Context:
    """Check the config, load data, check it against the data, then create (or reopen) the run directory.

    ``validate(config, data, pool, dev)`` raises :class:`UsageError` for
    inputs that only the data can show to be wrong. ``dev_index`` (a
    replay's source run's ``dev.index``) gives the dev set instead of
    ``--validation``. A resumed run sees the data in its own rows (see
    :mod:`svp.workflows.identity`).
    """
    config = resolve_defaults(config)
    check_selection_method(config)
    check_learners(config)
    runtime = config.runtime
    # trackers first: one not installed (or not reachable) fails before any data is read
    sinks = sinks_for(runtime.tensorboard, runtime.mlflow) if distributed.is_main() else []
    rundir.check_writable(*((runtime.resume, "--resume") if runtime.resume else (runtime.run_dir, "--run-dir")))
    device = pick_device(config.runtime.cuda, config.runtime.devices)
    distributed.init_from_env(device)
    seed = resolve_seed(config.runtime.seed)
    config = dataclasses.replace(config, runtime=dataclasses.replace(config.runtime, seed=seed))
    data = open_dataset(config.data)
    proxy_data = open_view(config.proxy_dataset, data) if getattr(config, "proxy_dataset", None) else None
    check_learners(config, data, proxy_data)
    record = workflow_of(config)
    if not record.asks_person:  # the labeling loop asks a person for the unknown ones
        check_labels_known(config, data)
    lock = _lock_resumed(config)  # before reading the run's files: another process may be writing them
    try:
        if config.runtime.resume:
            data, proxy_data, examples = identity.follow(Path(config.runtime.resume), config, data, proxy_data)
        else:
            examples = identity.RunExamples(identity_of(data))
        config, pool, dev = _pool_and_dev(config, data, dev_index)
        pool = np.setdiff1d(pool, examples.absent)
        if validate is not None:
            validate(config, data, pool, dev)
        run, lock = _run_directory(config, dev, examples.identity, lock)
        if config.runtime.resume and record.check_files is not None:
            record.check_files(run, config, data.size("train"), dev)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    log.info("run directory %s (seed %d, device %s)", run, seed, device)
    env = _environment(config, data, device, dev)
    proxy_env = None if proxy_data is None else dataclasses.replace(env, data=proxy_data)
    return Context(config, env, pool, run, seed, lock, proxy_env, examples, sinks)


def resolve_defaults(config: Any) -> Any:
    """The defaults that depend on the data, made explicit (config.json then shows them): the paper's datasets
    keep its published schedules and rank core-sets by their hardest; data of one's own gets schedules sized to
    it (see :mod:`svp.engine.schedule`) and core-sets that keep easy or hard by its size, sampled across the
    scores (CCS, see :mod:`svp.selection.ccs`)."""
    published = config.data.dataset in PUBLISHED
    sized = {name: dataclasses.replace(model, schedule="epochs" if published else "auto")
             for name in ("model", "target", "proxy")
             if isinstance(model := getattr(config, name, None), cfg.ModelConfig) and model.schedule is None}
    if isinstance(config, cfg.SelectionConfig):
        own_coreset = isinstance(config, cfg.CoresetConfig) and not published
        selection = config.selection
        if selection.keep is None:
            selection = dataclasses.replace(selection, keep="auto" if own_coreset else "hardest")
        if selection.stratified is None:  # CCS samples across a method's scores, not a draw by them
            scored = METHODS[selection.method].score is not None if selection.method in METHODS else False
            selection = dataclasses.replace(selection, stratified=own_coreset and scored and
                                            selection.sampling == "top")
        sized["selection"] = _auto_without_features(config, selection)
    return dataclasses.replace(config, **sized)


def _auto_without_features(config: Any, selection: cfg.SelectionOptions) -> cfg.SelectionOptions:
    """``auto`` starts by coverage of the proxy's features: a proxy that gives none (fastText) selects by its
    later phase from the first round, uncertainty drawn by power sampling (least confidence: scores >= 0)."""
    kind = learner_kind(config.proxy.arch)
    if selection.method != "auto" or kind is None or "features" in kind.provides or config.proxy_dataset:
        return selection
    log.warning("--selection-method auto covers the proxy's features while labels are few, and %s gives none: it "
                "selects by least confidence with power sampling from the first round (give --proxy-dataset "
                "embeddings for coverage)", config.proxy.arch)
    return dataclasses.replace(selection, method="least_confidence", sampling="power")


def _environment(config: Any, data: Data, device: torch.device, dev: np.ndarray) -> Environment:
    """What the run's learners share (with BALD's Monte-Carlo dropout settings when its method samples)."""
    env = Environment(data, device, dev, config.runtime.track_test_acc, config.runtime.checkpoint)
    if not isinstance(config, cfg.SelectionConfig):
        return env
    options = config.selection
    samples_mc = not config.precomputed_selection and "mc" in model_needs(METHODS[options.method].needs)
    return dataclasses.replace(env, mc_samples=options.mc_samples, mc_dropout=options.mc_dropout,
                               mc_training=samples_mc)


def _pool_and_dev(config: Any, data: Data, dev_index: Optional[Path]) -> tuple[Any, np.ndarray, np.ndarray]:
    """The pool and dev set: split by --validation, or as ``dev_index`` says (the config then records its size).

    The labeling loop's dev set comes from the examples the dataset labels (a dev set needs labels).
    """
    num_train = data.size("train")
    if dev_index is None and workflow_of(config).asks_person:
        known = np.flatnonzero(data.targets("train") != UNKNOWN)
        if config.data.validation and config.data.validation >= len(known):
            raise UsageError(f"--validation {config.data.validation}: the dev set is split off the labeled "
                             f"examples, and {config.data.dataset} labels {len(known)} ; lower --validation")
        _, dev_at = split_dev(len(known), config.data.validation, config.data.shuffle, config.runtime.seed) \
            if len(known) else (None, np.empty(0, dtype=np.int64))
        dev = known[dev_at]
        return config, np.setdiff1d(np.arange(num_train), dev), dev
    if dev_index is None:
        pool, dev = split_dev(num_train, config.data.validation, config.data.shuffle, config.runtime.seed)
        return config, pool, dev
    pool, dev = _splits_of(dev_index, num_train)
    if len(dev) != config.data.validation:
        log.info("dev set of %d examples from %s (not --validation %d)", len(dev), dev_index, config.data.validation)
    return dataclasses.replace(config, data=dataclasses.replace(config.data, validation=len(dev))), pool, dev


def _splits_of(dev_index: Path, num_train: int) -> tuple[np.ndarray, np.ndarray]:
    """The pool and dev set an earlier run's dev.index says (it may be empty)."""
    try:
        dev = rundir.load_index(dev_index)
    except (OSError, ValueError) as error:
        raise UsageError(f"{dev_index} is not an index file ({error}) ; restore it") from None
    if len(dev) and (dev.min() < 0 or dev.max() >= num_train or len(np.unique(dev)) != len(dev)):
        raise UsageError(f"{dev_index} is not a dev set of this training set ({num_train} examples) ; replay the "
                         "run on the dataset it was made on")
    return np.setdiff1d(np.arange(num_train), dev), np.sort(dev)


def resolve_seed(seed: Optional[int]) -> int:
    """The given seed, or a fresh one shared by every rank."""
    if seed is None:
        seed = distributed.broadcast_object(secrets.randbelow(2**31 - 1))
    return int(seed)


def check_selection_method(config: Any) -> None:
    """An unknown method, or one the workflow does not offer, fails before any data is read."""
    record = workflow_of(config)
    if record.methods is None or config.precomputed_selection:
        return
    allowed, options = record.methods(), config.selection
    if options.method not in allowed:
        raise UsageError(f"unknown {cfg.option_name(options, 'method')} {options.method!r}; "
                         f"choose one of: {', '.join(allowed)}")
    check_scoring_options(options, allowed)
    if options.keep == "auto" and not isinstance(config, cfg.CoresetConfig):
        raise UsageError(f"{cfg.option_name(options, 'keep')} auto keeps easy or hard examples by the size of a "
                         "core-set ; an active learner picks the hardest: drop it")
    try:
        method_options(options.method, options.options)
    except ValueError as error:
        raise UsageError(f"{error} ; correct or drop it") from None


def check_scoring_options(options: cfg.SelectionOptions, allowed: tuple[str, ...]) -> None:
    """Sampling, keep and class balance work on a method's scores: refuse them for a method without."""
    method, easiest = METHODS[options.method], options.keep == "easiest"
    name = functools.partial(cfg.option_name, options)
    asked = [text for text, on in ((f"{name('sampling')} {options.sampling}", options.sampling != "top"),
                                   (f"{name('keep')} easiest", easiest),
                                   (name("class_balance"), options.class_balance)) if on]
    if asked and method.score is None:
        scored = [m for m in allowed if METHODS[m].score is not None]
        raise UsageError(f"{name('method')} {options.method} ranks by no score, so {' and '.join(asked)} cannot "
                         f"apply ; drop {asked[0]}, or choose a scored method ({', '.join(scored)})")
    if options.sampling == "power" and (easiest or not method.nonnegative):
        what = f"{name('keep')} easiest (minus the score)" if easiest else options.method
        raise UsageError(f"{name('sampling')} power draws in proportion to scores >= 0, and {what} gives negative "
                         f"ones ; use {name('sampling')} softmax")


def _learners(config: Any) -> Iterator[tuple[str, str, cfg.ModelConfig, Optional[str], str]]:
    """(role, flag, model, the method it selects by or None, its dataset) of each model the config names."""
    if not isinstance(config, cfg.SelectionConfig):  # train
        yield rundir.TARGET, cfg.option_name(config, "model.arch"), config.model, None, config.data.dataset
        return
    yield rundir.TARGET, cfg.option_name(config, "target.arch"), config.target, None, config.data.dataset
    method = None if config.precomputed_selection else config.selection.method
    yield (rundir.PROXY, cfg.option_name(config, "proxy.arch"), config.proxy, method,
           config.proxy_dataset or config.data.dataset)


#: a modality in words, for messages
_KINDS = {"image": "images", "text": "texts", "features": "feature vectors"}


def check_learners(config: Any, data: Optional[Data] = None, proxy_data: Optional[Data] = None) -> None:
    """Ask each model's kind of learner whether it can do its part (with its data once loaded)."""
    for role, flag, model, method, dataset in _learners(config):
        kind = learner_kind(model.arch)
        if kind is None or role not in kind.roles:
            raise UsageError(f"unknown {flag} {model.arch!r}; choose one of: {', '.join(archs_for(role))}")
        own = proxy_data if role == rundir.PROXY and proxy_data is not None else data
        takes, holds = kind.modality(model.arch), own.modality if own is not None else dataset_modality(dataset)
        if holds is not None and takes != holds and (role == rundir.TARGET or method is not None):
            fitting = [arch for arch in archs_for(role) if learner_kind(arch).modality(arch) == holds]
            named = ", ".join(fitting) if len(fitting) <= 6 else ", ".join(fitting[:6]) + ", ... (svp list models)"
            raise UsageError(f"{flag} {model.arch} takes {_KINDS[takes]} but {dataset} holds {_KINDS[holds]} ; "
                             f"choose an architecture that takes {_KINDS[holds]}: {named}")
        kind.check(model, flag, method, own)


def check_labels_known(config: Any, data: Data) -> None:
    """Training, active learning and core-sets read every label from the data: refuse unknown ones (-1)."""
    unknown = int((data.targets("train") == UNKNOWN).sum())
    if unknown:
        raise UsageError(f"{config.data.dataset}: {unknown} of its {data.size('train')} training examples have no "
                         f"label (-1), and `{config.workflow}` reads every label from the data ; label them, or "
                         "ask a person for labels with the labeling loop (svp query)")


def _lock_resumed(config: Any) -> Optional[rundir.RunLock]:
    """The lock of the run being resumed (held by the process that writes, rank 0); None for a new run."""
    lock = None
    if config.runtime.resume and distributed.is_main():
        lock = rundir.RunLock(config.runtime.resume).acquire()
    distributed.barrier()
    return lock


def _run_directory(config: Any, dev: np.ndarray, examples: Identity,
                   lock: Optional[rundir.RunLock]) -> tuple[Path, Optional[rundir.RunLock]]:
    """A new run directory with config.json, the data's examples (see :mod:`svp.workflows.identity`) and, for
    selections, dev.index (replays take the dev set from it, as from the original's), or the one being resumed
    (untouched but for the temporaries a killed write left); locked by the process that writes."""
    if config.runtime.resume:
        path = Path(config.runtime.resume)
        if distributed.is_main():  # under the lock: the temporaries are no live run's
            for stale in rundir.remove_temporaries(path):
                log.info("removed %s, left by a write the interruption cut short", stale)
        distributed.barrier()
        return path, lock
    path = None
    if distributed.is_main():
        path = rundir.create_run_dir(config.runtime.run_dir)
        try:
            lock = rundir.RunLock(path).acquire()
            identity.record(path, examples)  # before config.json: a run whose config is there has its examples
            rundir.save_json(path / rundir.CONFIG, {**describe(config), identity.KEY: identity.describe(examples)})
            if isinstance(config, cfg.SelectionConfig):
                rundir.save_index(path / rundir.DEV_INDEX, dev)
        except BaseException:  # a full or read-only disk: leave no empty run directory behind
            if lock is not None:
                lock.release()
            shutil.rmtree(path, ignore_errors=True)
            raise
    return Path(distributed.broadcast_object(str(path))), lock


def describe(config: Any) -> dict:
    """config.json: every resolved option, plus versions and device."""
    values = cfg.to_dict(config)
    values["versions"] = {"svp": svp.__version__, "torch": torch.__version__, "python": sys.version.split()[0],
                          "numpy": np.__version__}
    values["device"] = {"cuda": torch.cuda.is_available() and config.runtime.cuda,
                        "name": torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor(),
                        "world_size": distributed.world_size(), "threads": torch.get_num_threads()}
    return values
