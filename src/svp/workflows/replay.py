"""Replay a selection made earlier (or elsewhere) into target training.

``--precomputed-selection`` takes either a run directory of an earlier
active-learning or core-set run (ours, the original implementation's, or a
fastText run's), or a plain index file with one integer per line. Only the
target is trained; the earlier proxy results are linked into the new run.
The source must fit: same dataset (when its config says), indices in the
training set and out of the dev set, no empty selection, and
``--eval-target-at`` sizes that the source has. When the source has a
``dev.index`` (ours and the original's), the dev set is that one, not a
new split by ``--validation``: the two implementations split differently.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Optional

import numpy as np

from svp import rundir
from svp.config import ActiveConfig, CoresetConfig
from svp.errors import UsageError
from svp.learners import make_learner
from svp.rundir import TARGET
from svp.workflows.context import Context
from svp.workflows.identity import check_selected_from
from svp.workflows.result import RunResult
from svp.workflows.setup import open_run
from svp.workflows.steps import train_step

log = logging.getLogger(__name__)


def active_selections(source: Path) -> list[Path]:
    """The labeled-set index files of an earlier active run, smallest first."""
    files = [p for pattern in rundir.LABELED_INDEX_GLOBS for p in source.glob(pattern)]
    if not files:
        raise UsageError(f"--precomputed-selection {source} holds no labeled index files "
                         f"(expected {' or '.join(rundir.LABELED_INDEX_GLOBS)})")
    by_size = {}
    for path in files:
        by_size.setdefault(rundir.index_size(path), path)
    return [by_size[size] for size in sorted(by_size)]


def coreset_selection(source: Path) -> Path:
    if (source / rundir.SELECTED_INDEX).is_file():
        return source / rundir.SELECTED_INDEX
    files = active_selections(source)  # a fastText or active run: take its largest labeled set
    return files[-1]


def link_earlier_results(source: Path, run: Path) -> None:
    """Symlink the earlier run's proxy and selection results into this run."""
    for name in rundir.SELECTION_RESULTS:
        target = source / name
        link = run / name
        if target.exists() and not link.exists() and not link.is_symlink():
            os.symlink(os.path.relpath(target.resolve(), run.resolve()), link)


def _source(config: Any) -> Path:
    source = Path(config.precomputed_selection)
    if not source.exists():
        raise UsageError(f"--precomputed-selection {source} does not exist")
    if not config.train_target:
        raise UsageError("--precomputed-selection trains only the target: drop --no-train-target")
    if source.is_dir():
        _check_dataset(source, config.data.dataset)
    return source


def _source_dataset(source: Path) -> Optional[str]:
    """The dataset an earlier run's saved config names (ours nested, the original's flat), if any."""
    path = rundir.config_path(source)
    if path is None:
        return None
    try:
        values = rundir.load_json(path)
    except (OSError, ValueError) as error:
        raise UsageError(f"--precomputed-selection: {path} cannot be read ({error}) ; restore it") from None
    if not isinstance(values, dict):
        return None
    data = values.get("data")
    return data.get("dataset") if isinstance(data, dict) else values.get("dataset")


def _check_dataset(source: Path, dataset: str) -> None:
    selected_from = _source_dataset(source)
    if selected_from is not None and selected_from != dataset:
        raise UsageError(f"--precomputed-selection {source} selected from {selected_from}, not {dataset} ; "
                         f"replay it with --dataset {selected_from}")


def _check_same_data(source: Path, data: Any, config: Any) -> None:
    """Indices name examples of the data they were selected from: a source run of other data is refused."""
    if source.is_dir():
        check_selected_from(source, data, config.data.dataset)


def _dev_index(source: Path) -> Optional[Path]:
    """The dev set the source run trained with (ours, and the original's), when it says."""
    path = source / rundir.DEV_INDEX
    return path if source.is_dir() and path.is_file() else None


def _read(paths: list[Path], data: Any, dev: np.ndarray) -> list[np.ndarray]:
    return [rundir.load_checked_index(path, data.size("train"), dev) for path in paths]


def _replay(ctx: Context, selections: list[np.ndarray]) -> None:
    target = make_learner(ctx.config.target, TARGET, ctx.env)
    for labeled in selections:
        train_step(ctx, target, TARGET, labeled, need_model=False)


def _target_sizes(config: ActiveConfig, selections: list[np.ndarray]) -> list[int]:
    """--eval-target-at; without it every selected set, not the random initial one (as active learning)."""
    sizes = [len(s) for s in selections]
    if config.eval_target_at:
        return list(config.eval_target_at)
    return sizes[1:] if len(sizes) > 1 else sizes


def run_replay(config: Any) -> RunResult:
    """Replay ``config.precomputed_selection`` into target training: an active run's labeled sets, or a
    core-set's subset (as ``config`` is an :class:`ActiveConfig` or a :class:`CoresetConfig`)."""
    replay = replay_coreset if isinstance(config, CoresetConfig) else replay_active
    return RunResult(replay(config), config.workflow)


def replay_active(config: ActiveConfig) -> Path:
    """Train the target on each labeled set of an earlier run (``eval_target_at`` sizes only)."""
    source = _source(config)
    paths = [source] if source.is_file() else active_selections(source)
    selections: list[np.ndarray] = []  # read (and checked) once the data is known, before the run directory

    def validate(config: ActiveConfig, data: Any, pool: np.ndarray, dev: np.ndarray) -> None:
        _check_same_data(source, data, config)
        selections.extend(_read(paths, data, dev))
        sizes = [len(indices) for indices in selections]
        missing = [size for size in config.eval_target_at if size not in sizes]
        if missing:
            raise UsageError(f"--eval-target-at {missing[0]} is not a labeled-set size of {source} "
                             f"({', '.join(map(str, sizes))}) ; give one of them")

    with open_run(config, validate, _dev_index(source)) as ctx:
        if source.is_dir():
            ctx.write(link_earlier_results, source, ctx.run)
        keep = _target_sizes(config, selections)
        _replay(ctx, [s for s in selections if len(s) in keep])
    return ctx.run


def replay_coreset(config: CoresetConfig) -> Path:
    """Train the target on the subset an earlier core-set run (or an index file) kept."""
    source = _source(config)
    path = source if source.is_file() else coreset_selection(source)
    read: list[np.ndarray] = []  # read (and checked) once the data is known, before the run directory

    def validate(config: CoresetConfig, data: Any, pool: np.ndarray, dev: np.ndarray) -> None:
        _check_same_data(source, data, config)
        read.extend(_read([path], data, dev))

    with open_run(config, validate, _dev_index(source)) as ctx:
        (selected,) = read
        if source.is_dir():
            ctx.write(link_earlier_results, source, ctx.run)
        ctx.save_index(ctx.path(rundir.SELECTED_INDEX), selected)
        _replay(ctx, [selected])
    return ctx.run
