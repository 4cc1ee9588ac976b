"""Core-set selection via proxy.

The proxy trains on the whole pool (tracking forgetting events when the
method needs them), ranks every example once, and the target trains on the
``subset`` kept. Methods scored early in training (EL2N, GraNd) train
``--score-seeds`` proxies for ``--score-epoch`` epochs instead and average
their scores.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
from pathlib import Path
from typing import Optional

import numpy as np

from svp import rundir
from svp.config import CoresetConfig, ModelConfig, SelectionOptions
from svp.engine.forgetting import ForgettingTracker
from svp.errors import UsageError
from svp.learners import Learner, make_learner
from svp.rundir import PROXY, TARGET
from svp.selection import EARLY_SCORES_KEY, FORGETTING_KEY, METHODS, Outputs, method_scores, model_needs
from svp.workflows.context import Context
from svp.workflows.registry import workflow_of
from svp.workflows.result import RunResult
from svp.workflows.setup import open_run
from svp.workflows.steps import timed_select, train_step

log = logging.getLogger(__name__)


def validate_coreset(config: CoresetConfig, data, pool: np.ndarray, dev: np.ndarray) -> None:
    pool_size = len(pool)
    if not 0 < config.subset <= pool_size:
        raise UsageError(f"--subset {config.subset} must be between 1 and the {pool_size} examples of the pool "
                         "(training set minus --validation)")


def run_coreset(config: CoresetConfig) -> RunResult:
    """Select a core set with the proxy and train the target on it (or, given ``precomputed_selection``, the
    replay record's workflow)."""
    if config.precomputed_selection:
        return workflow_of(config).run(config)
    with open_run(config, validate_coreset) as ctx:
        selected = select_coreset(ctx, config)
        if config.train_target:
            train_step(ctx, make_learner(config.target, TARGET, ctx.env), TARGET, selected, need_model=False)
    return RunResult(ctx.run, config.workflow)


def select_coreset(ctx: Context, config: CoresetConfig) -> np.ndarray:
    """The kept subset: reloaded when a finished selection exists, else computed."""
    if rundir.find_row(ctx.path(rundir.SELECTION_CSV), config.subset) is not None:
        return rundir.load_index(ctx.path(rundir.SELECTED_INDEX))
    method = METHODS[config.selection.method]
    proxy = make_learner(config.proxy, PROXY, ctx.env_of(PROXY))
    extra, score = {}, None
    if method.early:  # every scoring proxy's pass over the pool counts as the selection's inference
        score = functools.partial(_early_scores, _scoring_proxies(ctx, config), config.selection)
    elif method.needs:
        extra = _train_proxy(ctx, proxy, "forgetting" in model_needs(method.needs))
    selected, row, _ = timed_select(ctx, proxy, config.selection.method, ctx.pool, config.subset,
                                    np.empty(0, dtype=np.int64), extra, score)
    ctx.save_index(ctx.path(rundir.SELECTED_INDEX), np.sort(selected))
    ctx.selected(row, selected)
    ctx.write(proxy.discard, rundir.training_dir(ctx.run, PROXY, len(ctx.pool)))
    return np.sort(selected)


def early_schedule(model: ModelConfig, epochs: int) -> ModelConfig:
    """``model`` with its schedule cut after ``epochs`` epochs (the segments' learning rates kept)."""
    kept, rates, left = [], [], epochs
    for count, rate in zip(model.epochs, model.learning_rates):
        if left <= 0:
            break
        kept.append(min(count, left))
        rates.append(rate)
        left -= kept[-1]
    return dataclasses.replace(model, epochs=tuple(kept), learning_rates=tuple(rates))


def _scoring_proxies(ctx: Context, config: CoresetConfig) -> list[Learner]:
    """``--score-seeds`` proxies trained ``--score-epoch`` epochs on the pool (reloaded when done before).

    They share one proxy.csv row: the mean of their accuracies and the sum
    of their times, written once all are saved.
    """
    n, model = len(ctx.pool), early_schedule(config.proxy, config.selection.score_epoch)
    learners = [make_learner(model, PROXY, ctx.env_of(PROXY)) for _ in range(config.selection.score_seeds)]
    results = ctx.path(rundir.role_csv(PROXY))
    if rundir.find_row(results, n) is not None:
        for s, learner in enumerate(learners):
            learner.load(rundir.scoring_dir(ctx.run, n, s))
        return learners
    rows = []
    for s, learner in enumerate(learners):
        log.info("scoring proxy %d of %d: %d epochs on %d examples", s + 1, len(learners), config.selection.score_epoch, n)
        rows.append(learner.train(ctx.pool, rundir.scoring_dir(ctx.run, n, s), ctx.seed_for(f"score_seed_{s}", n))
                    .row())
    ctx.trained(PROXY, {**{key: _combined(key, [r[key] for r in rows]) for key in rows[0]}, "nexamples": n})
    return learners


def _combined(key: str, values: list) -> Optional[float]:
    """Times add up, accuracies average (None when not measured)."""
    if any(value is None for value in values):
        return None
    return float(sum(values)) if key.endswith("_time") else float(sum(values) / len(values))


def _early_scores(learners: list[Learner], selection: SelectionOptions, indices: np.ndarray,
                  needs: frozenset) -> Outputs:
    """The selection method's scores of ``indices`` by each of ``learners``, averaged (under
    ``EARLY_SCORES_KEY`` of the last one's outputs)."""
    total = None
    for learner in learners:
        out = learner.score(indices, needs)
        scores = np.asarray(method_scores(selection.method, out, selection.options), dtype=np.float64)
        total = scores if total is None else total + scores
    out.extra[EARLY_SCORES_KEY] = total / len(learners)
    return out


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
