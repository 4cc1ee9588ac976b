"""Active learning via proxy, simulated: the labeling loop with an oracle that answers from the dataset.

Start from a random labeled subset; each round the proxy, trained on the
labeled set, scores the unlabeled pool and the best-scored examples are
labeled. The target is trained on the labeled sets named by
``eval_target_at`` (all of them when empty). When proxy and target train
alike, the proxy's results are the target's and nothing is trained twice.
The loop itself is :func:`svp.workflows.loop.run_loop`, which ``svp query``
runs with a person answering.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional

import numpy as np

from svp import rundir
from svp.config import ActiveConfig
from svp.errors import UsageError
from svp.rundir import PROXY, TARGET
from svp.workflows.context import Context
from svp.workflows.loop import Annotator, Question, run_loop
from svp.workflows.registry import workflow_of
from svp.workflows.result import RunResult
from svp.workflows.setup import open_run

log = logging.getLogger(__name__)


def validate_active(config: ActiveConfig, data, pool: np.ndarray, dev: np.ndarray) -> None:
    """Refuse budgets the pool cannot supply, before anything is trained."""
    pool_size = len(pool)
    needed = config.initial_subset + sum(config.rounds)
    if needed > pool_size:
        raise UsageError(
            f"--initial-subset {config.initial_subset} + rounds {sum(config.rounds)} = {needed} exceeds the "
            f"{pool_size} examples of the pool (training set minus --validation); lower them")


def run_active(config: ActiveConfig) -> RunResult:
    """Run active learning (or, given ``precomputed_selection``, the replay record's workflow)."""
    if config.precomputed_selection:
        return workflow_of(config).run(config)
    with open_run(config, validate_active) as ctx:
        same = config.proxy.trains_like(config.target) and config.proxy_dataset is None
        trains_target = config.train_target and not same
        run_loop(ctx, Oracle(), np.empty(0, dtype=np.int64), lambda round_, labeled: _round_size(config, round_),
                 config.initial_subset, lambda size: trains_target and evaluates_target_at(config, size))
        if same and config.train_target:
            ctx.write(link_target_to_proxy, ctx.run)
    return RunResult(ctx.run, config.workflow)


def _round_size(config: ActiveConfig, round_: int) -> Optional[int]:
    """Round 1 is the initial subset; round k > 1 labels ``--round``'s (k-1)-th value."""
    return config.rounds[round_ - 2] if round_ - 2 < len(config.rounds) else None


class Oracle(Annotator):
    """Answers every question at once, from the dataset's labels; records each labeled set as the original did."""

    def asked(self, ctx: Context, round_: int, labeled: np.ndarray, budget: int) -> Optional[np.ndarray]:
        if round_ == 1:
            path = rundir.initial_subset_index(ctx.run, budget)
            return rundir.load_index(path) if path.exists() else None
        total = len(labeled) + budget
        if rundir.find_row(ctx.path(rundir.SELECTION_CSV), total) is None:
            return None
        log.info("selection of %d: done before, reloaded", total)
        return rundir.load_index(rundir.labeled_index(ctx.run, PROXY, total))[len(labeled):]

    def ask(self, ctx: Context, question: Question) -> None:
        if question.round == 1:  # the random initial subset: no selection.csv row, as in the original
            ctx.save_index(rundir.initial_subset_index(ctx.run, len(question.picked)), question.picked)
            return
        updated = np.concatenate([question.labeled, question.picked])
        ctx.save_index(rundir.labeled_index(ctx.run, PROXY, len(updated)), updated)
        ctx.selected(question.row, question.picked)

    def answered(self, ctx: Context, round_: int, picked: np.ndarray) -> np.ndarray:
        return picked


def evaluates_target_at(config: ActiveConfig, size: int) -> bool:
    """The sizes --eval-target-at names; without it, every labeled set a selection made (as the original:
    the random initial subset is not one)."""
    if config.eval_target_at:
        return size in config.eval_target_at
    return size != config.initial_subset


def link_target_to_proxy(run: Path) -> None:
    """Proxy and target are the same model: target.csv and target/ point at the proxy's."""
    for name, proxy_name in ((rundir.TARGET_CSV, rundir.PROXY_CSV), (TARGET, PROXY)):
        link = run / name
        if not link.exists() and not link.is_symlink():
            os.symlink(proxy_name, link)
