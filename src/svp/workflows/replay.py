"""Replay a selection made earlier (or elsewhere) into target training.

``--precomputed-selection`` takes either a run directory of an earlier
active-learning or core-set run (ours, the original implementation's, or a
fastText run's), or a plain index file with one integer per line. Only the
target is trained; the earlier proxy results are linked into the new run.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from svp import rundir
from svp.config import ActiveConfig, CoresetConfig
from svp.errors import UsageError
from svp.learners import make_learner
from svp.rundir import TARGET
from svp.workflows.context import Context
from svp.workflows.setup import open_run
from svp.workflows.steps import train_step, write

log = logging.getLogger(__name__)


def read_index_file(path: Path, pool: np.ndarray, dev: np.ndarray) -> np.ndarray:
    """Indices from a file of one integer per line, checked against the pool."""
    try:
        values = np.loadtxt(path, dtype=np.int64, ndmin=1)
    except ValueError as error:
        raise UsageError(f"{path} is not an index file (one integer per line): {error}") from None
    return check_indices(values, path, pool, dev)


def check_indices(values: np.ndarray, path: Path, pool: np.ndarray, dev: np.ndarray) -> np.ndarray:
    """Refuse indices outside the training set, repeated, or in the dev set."""
    size = int(pool.max(initial=-1)) + 1 if len(dev) == 0 else max(int(pool.max()), int(dev.max())) + 1
    bad = values[(values < 0) | (values >= size)]
    if len(bad):
        raise UsageError(f"{path}: index {bad[0]} is out of range: the training set has {size} examples "
                         f"(valid indices 0..{size - 1})")
    unique, counts = np.unique(values, return_counts=True)
    if (counts > 1).any():
        raise UsageError(f"{path}: index {unique[counts > 1][0]} appears {counts.max()} times; "
                         "each example may be selected once")
    in_dev = values[np.isin(values, dev)]
    if len(in_dev):
        raise UsageError(f"{path}: index {in_dev[0]} belongs to the dev set (--validation); "
                         "use the same --validation/--shuffle/--seed as the run that selected it")
    return values


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


def _source(config) -> Path:
    source = Path(config.precomputed_selection)
    if not source.exists():
        raise UsageError(f"--precomputed-selection {source} does not exist")
    if not config.train_target:
        raise UsageError("--precomputed-selection trains only the target: drop --no-train-target")
    return source


def _replay(ctx: Context, selections: list[np.ndarray], keep) -> Path:
    target = make_learner(ctx.config.target, TARGET, ctx.env)
    for labeled in selections:
        if keep(len(labeled)):
            train_step(ctx, target, TARGET, labeled, need_model=False)
    return ctx.run


def _active_files(source: Path) -> list[Path]:
    return [source] if source.is_file() else active_selections(source)


def _coreset_file(source: Path) -> Path:
    return source if source.is_file() else coreset_selection(source)


def replay_active(config: ActiveConfig) -> Path:
    """Train the target on each labeled set of an earlier run (``eval_target_at`` sizes only)."""
    source = _source(config)

    def validate(config, data, pool, dev):
        for path in _active_files(source):
            read_index_file(path, pool, dev)

    ctx = open_run(config, validate)
    selections = [read_index_file(path, ctx.pool, ctx.dev) for path in _active_files(source)]
    if source.is_dir():
        write(link_earlier_results, source, ctx.run)
    return _replay(ctx, selections, lambda n: not config.eval_target_at or n in config.eval_target_at)


def replay_coreset(config: CoresetConfig) -> Path:
    """Train the target on the subset an earlier core-set run (or an index file) kept."""
    source = _source(config)
    ctx = open_run(config, lambda config, data, pool, dev: read_index_file(_coreset_file(source), pool, dev))
    selected = read_index_file(_coreset_file(source), ctx.pool, ctx.dev)
    if source.is_dir():
        write(link_earlier_results, source, ctx.run)
    write(rundir.save_index, ctx.path(rundir.SELECTED_INDEX), selected)
    return _replay(ctx, [selected], lambda n: True)
