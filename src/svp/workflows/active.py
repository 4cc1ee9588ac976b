"""Active learning via proxy.

Start from a random labeled subset; each round the proxy, trained on the
labeled set, scores the unlabeled pool and the best-scored examples are
labeled. The target is trained on the labeled sets named by
``eval_target_at`` (all of them when empty). When proxy and target train
alike, the proxy's results are the target's and nothing is trained twice.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from svp import rundir
from svp.config import ActiveConfig
from svp.errors import UsageError
from svp.learners import make_learner
from svp.rundir import PROXY, TARGET
from svp.workflows.context import Context
from svp.workflows.setup import open_run
from svp.workflows.steps import selection_step, train_step, write

log = logging.getLogger(__name__)


def validate_active(config: ActiveConfig, data, pool: np.ndarray, dev: np.ndarray) -> None:
    """Refuse budgets the pool cannot supply, before anything is trained."""
    pool_size = len(pool)
    needed = config.initial_subset + sum(config.rounds)
    if needed > pool_size:
        raise UsageError(
            f"--initial-subset {config.initial_subset} + rounds {sum(config.rounds)} = {needed} exceeds the "
            f"{pool_size} examples of the pool (training set minus --validation); lower them")


def run_active(config: ActiveConfig) -> Path:
    """Run active learning; return the run directory."""
    if config.precomputed_selection:
        from svp.workflows.replay import replay_active

        return replay_active(config)
    with open_run(config, validate_active) as ctx:
        _rounds(ctx, config)
    return ctx.run


def _rounds(ctx: Context, config: ActiveConfig) -> None:
    """The initial subset, then each round: proxy (and target) training, selection."""
    labeled = initial_subset(ctx, config.initial_subset)
    proxy = make_learner(config.proxy, PROXY, ctx.env_of(PROXY))
    target = make_learner(config.target, TARGET, ctx.env)
    same = config.proxy.trains_like(config.target) and config.proxy_dataset is None
    budgets = config.budgets
    for k, size in enumerate(budgets):
        last = k + 1 == len(budgets)
        selected_before = not last and rundir.find_row(ctx.path(rundir.SELECTION_CSV), budgets[k + 1]) is not None
        train_step(ctx, proxy, PROXY, labeled, need_model=not (last or selected_before))
        if config.train_target and not same and evaluates_target_at(config, size):
            train_step(ctx, target, TARGET, labeled, need_model=False)
        if not last:
            unlabeled = np.setdiff1d(ctx.pool, labeled, assume_unique=True)
            labeled = selection_step(ctx, proxy, config.selection_method, labeled, unlabeled, config.rounds[k])
    if same and config.train_target:
        write(link_target_to_proxy, ctx.run)


def evaluates_target_at(config: ActiveConfig, size: int) -> bool:
    """The sizes --eval-target-at names; without it, every labeled set a selection made (as the original:
    the random initial subset is not one)."""
    if config.eval_target_at:
        return size in config.eval_target_at
    return size != config.initial_subset


def initial_subset(ctx: Context, size: int) -> np.ndarray:
    """The seeded random first labeled set (reloaded when resuming)."""
    path = rundir.initial_subset_index(ctx.run, size)
    if path.exists():
        return rundir.load_index(path)
    labeled = np.random.default_rng(ctx.seed).permutation(ctx.pool)[:size]
    write(rundir.save_index, path, labeled)
    return labeled


def link_target_to_proxy(run: Path) -> None:
    """Proxy and target are the same model: target.csv and target/ point at the proxy's."""
    for name, proxy_name in ((rundir.TARGET_CSV, rundir.PROXY_CSV), (TARGET, PROXY)):
        link = run / name
        if not link.exists() and not link.is_symlink():
            os.symlink(proxy_name, link)
