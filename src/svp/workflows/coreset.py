"""Core-set selection via proxy.

The proxy trains on the whole pool (tracking forgetting events when the
method needs them), ranks every example once, and the target trains on the
``subset`` kept.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from svp import rundir
from svp.config import CoresetConfig
from svp.engine.forgetting import ForgettingTracker
from svp.errors import UsageError
from svp.learners import Learner, make_learner
from svp.rundir import PROXY, TARGET
from svp.selection import FORGETTING_KEY, METHODS
from svp.workflows.context import Context
from svp.workflows.setup import open_run
from svp.workflows.steps import timed_select, train_step, write

log = logging.getLogger(__name__)


def validate_coreset(config: CoresetConfig, data, pool: np.ndarray, dev: np.ndarray) -> None:
    pool_size = len(pool)
    if not 0 < config.subset <= pool_size:
        raise UsageError(f"--subset {config.subset} must be between 1 and the {pool_size} examples of the pool "
                         "(training set minus --validation)")


def run_coreset(config: CoresetConfig) -> Path:
    """Select a core set with the proxy and train the target on it; return the run directory."""
    if config.precomputed_selection:
        from svp.workflows.replay import replay_coreset

        return replay_coreset(config)
    with open_run(config, validate_coreset) as ctx:
        selected = select_coreset(ctx, config)
        if config.train_target:
            train_step(ctx, make_learner(config.target, TARGET, ctx.env), TARGET, selected, need_model=False)
    return ctx.run


def select_coreset(ctx: Context, config: CoresetConfig) -> np.ndarray:
    """The kept subset: reloaded when a finished selection exists, else computed."""
    if rundir.find_row(ctx.path(rundir.SELECTION_CSV), config.subset) is not None:
        return rundir.load_index(ctx.path(rundir.SELECTED_INDEX))
    needs = METHODS[config.selection_method].needs
    proxy = make_learner(config.proxy, PROXY, ctx.env_of(PROXY))
    extra = {}
    if needs:
        extra = _train_proxy(ctx, proxy, "forgetting" in needs)
    selected, row, _ = timed_select(ctx, proxy, config.selection_method, ctx.pool, config.subset,
                                 np.empty(0, dtype=np.int64), extra)
    write(rundir.save_index, ctx.path(rundir.SELECTED_INDEX), np.sort(selected))
    write(rundir.append_row, ctx.path(rundir.SELECTION_CSV), row)
    write(proxy.discard, rundir.training_dir(ctx.run, PROXY, len(ctx.pool)))
    return np.sort(selected)


def _train_proxy(ctx: Context, proxy: Learner, track_forgetting: bool) -> dict:
    """Train the proxy on the whole pool; the forgetting counts when asked."""
    if not track_forgetting:
        train_step(ctx, proxy, PROXY, ctx.pool)
        return {}
    tracker = ForgettingTracker(ctx.data.size("train"))
    counts_path = rundir.training_dir(ctx.run, PROXY, len(ctx.pool)) / rundir.FORGETTING_COUNTS
    train_step(ctx, proxy, PROXY, ctx.pool, need_model=False, hooks=[tracker],
               finish=lambda out_dir: _save_counts(counts_path, tracker.counts(ctx.pool)))
    return {FORGETTING_KEY: np.load(counts_path)}


def _save_counts(path: Path, counts: np.ndarray) -> None:
    import io

    buffer = io.BytesIO()
    np.save(buffer, counts)
    rundir.atomic_write(path, buffer.getvalue())
