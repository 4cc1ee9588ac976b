"""Core-set selection via proxy.

The proxy trains on the whole pool (tracking forgetting events when the
method needs them), ranks every example once, and the target trains on the
``subset`` kept. Methods scored early in training (EL2N, GraNd) train
``--score-seeds`` proxies for ``--score-epoch`` epochs instead and average
their scores.

A scored method keeps the top ``subset`` scores (the paper's datasets), or,
with ``stratified`` (the default for data of one's own), samples across the
strata of its scores after a hard cutoff (CCS, see :mod:`svp.selection.ccs`);
``keep`` "auto" keeps the easiest or the hardest by the size of what is kept.
selection.csv records what was done: ``keep``, ``stratified`` and ``hard_cutoff``.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from svp import config as cfg
from svp import rundir
from svp._faults import fault_point
from svp.config import CoresetConfig, ModelConfig, SelectionOptions
from svp.engine.forgetting import ForgettingTracker
from svp.errors import UsageError
from svp.learners import Learner, make_learner
from svp.rundir import PROXY, TARGET
from svp.selection import EARLY_SCORES_KEY, FORGETTING_KEY, METHODS, Outputs, method_scores, model_needs
from svp.selection import ccs
from svp.workflows.context import Context
from svp.workflows.registry import workflow_of
from svp.workflows.result import RunResult
from svp.workflows.setup import open_run
from svp.workflows.steps import Scorer, pool_outputs, timed_select, train_step

log = logging.getLogger(__name__)


def validate_coreset(config: CoresetConfig, data, pool: np.ndarray, dev: np.ndarray) -> None:
    pool_size = len(pool)
    if not 0 < config.subset <= pool_size:
        raise UsageError(f"--subset {config.subset} must be between 1 and the {pool_size} examples of the pool "
                         "(training set minus --validation)")
    check_stratified(config.selection, pool_size, config.subset)


def check_stratified(options: SelectionOptions, pool_size: int, subset: int) -> None:
    """Stratified sampling and its hard cutoff apply to a scored method's top-k: refuse what contradicts them."""
    name = functools.partial(cfg.option_name, options)
    applies = options.stratified and METHODS[options.method].score is not None
    if options.hard_cutoff is not None and not applies:
        why = f"{name('method')} {options.method} ranks by no score" if options.stratified else \
            f"{name('stratified')} is off"
        raise UsageError(f"{name('hard_cutoff')} drops the hardest before stratified sampling, and {why} ; "
                         f"drop {name('hard_cutoff')}")
    if applies and options.sampling != "top":
        raise UsageError(f"{name('sampling')} {options.sampling} draws by score, and {name('stratified')} (the "
                         f"default for data of your own) samples across the scores' strata ; choose one: drop "
                         f"{name('sampling')}, or turn stratified sampling off ({_negated(name('stratified'))})")
    if applies and options.hard_cutoff is not None and \
            ccs.cutoff_count(pool_size, options.hard_cutoff, 0) > pool_size - subset:
        most = (pool_size - subset) / pool_size
        raise UsageError(f"{name('hard_cutoff')} {options.hard_cutoff:g} drops more of the {pool_size} examples "
                         f"than the {pool_size - subset} a core-set of {subset} leaves out ; give at most "
                         f"{most:.4g}")


def _negated(flag: str) -> str:
    """``--no-stratified`` for ``--stratified``; ``... = False`` for a config field."""
    return f"--no-{flag[2:]}" if flag.startswith("--") else f"{flag} = False"


@dataclass(frozen=True)
class Keeping:
    """How a core-set keeps its examples, resolved: the end of the scores kept ("hardest", "easiest"; "" for a
    method that picks by no score), whether it samples across the scores' strata, and the hard cutoff then."""

    keep: str
    stratified: bool = False
    hard_cutoff: Optional[float] = None  # the fraction of the pool dropped first (None when not stratified)

    def columns(self) -> dict:
        """The selection.csv columns that record it."""
        return {"keep": self.keep, "stratified": int(self.stratified), "hard_cutoff": self.hard_cutoff}


def keeping_for(ctx: Context, config: CoresetConfig) -> Keeping:
    """``keep`` and ``stratified`` resolved against the pool: "auto" by its size (:func:`svp.selection.ccs.keep_for`),
    the hard cutoff by CCS's rule unless given (:func:`svp.selection.ccs.hard_cutoff_for`)."""
    options, pool_size, kept = config.selection, len(ctx.pool), config.subset
    if METHODS[options.method].score is None:
        if options.stratified:
            log.info("%s picks by no score: it chooses the core-set itself, without stratified sampling",
                     options.method)
        return Keeping("")
    keep = options.keep
    if keep == "auto":
        classes = len(np.unique(np.asarray(ctx.data.targets("train"))[ctx.pool]))
        keep = ccs.keep_for(pool_size, kept, classes)
        log.info("keep auto: %s", ccs.keep_reason(pool_size, kept, classes))
    if not options.stratified:
        return Keeping(keep)
    cutoff = ccs.hard_cutoff_for(1 - kept / pool_size, options.hard_cutoff)
    log.info("stratified sampling (CCS) over %d strata of the %s scores, after dropping the %s %.1f%% "
             "(hard cutoff %s)", ccs.STRATA, options.method, "hardest" if keep == "easiest" else "easiest",
             100 * cutoff, "given" if options.hard_cutoff is not None else
             f"for {1 - kept / pool_size:.0%} pruned")
    return Keeping(keep, True, cutoff)


def run_coreset(config: CoresetConfig) -> RunResult:
    """Select a core set with the proxy and train the target on it (or, given ``precomputed_selection``, the
    replay record's workflow)."""
    if config.precomputed_selection:
        return workflow_of(config).run(config)
    with open_run(config, validate_coreset) as ctx:
        config = ctx.config  # its defaults resolved (keep, stratified, schedules) and its seed
        selected = select_coreset(ctx, config)
        if config.train_target:
            train_step(ctx, make_learner(config.target, TARGET, ctx.env), TARGET, selected, need_model=False)
    return RunResult(ctx.run, config.workflow)


def select_coreset(ctx: Context, config: CoresetConfig) -> np.ndarray:
    """The kept subset: reloaded when a finished selection exists, else computed."""
    if rundir.find_row(ctx.path(rundir.SELECTION_CSV), config.subset) is not None:
        return rundir.load_index(ctx.path(rundir.SELECTED_INDEX))
    method, keeping = METHODS[config.selection.method], keeping_for(ctx, config)
    proxy = make_learner(config.proxy, PROXY, ctx.env_of(PROXY))
    extra, score = {}, None
    if method.early:  # every scoring proxy's pass over the pool counts as the selection's inference
        score = functools.partial(_early_scores, _scoring_proxies(ctx, config), config.selection)
    elif method.needs:
        extra = _train_proxy(ctx, proxy, "forgetting" in model_needs(method.needs))
    if keeping.stratified:
        selected, row = _stratified_select(ctx, proxy, config, keeping, extra, score)
    else:
        selected, row, _ = timed_select(ctx, proxy, config.selection.method, ctx.pool, config.subset,
                                        np.empty(0, dtype=np.int64), extra, score,
                                        keep=keeping.keep or "hardest")  # a method without a score: as it picks
    if keeping.stratified or config.selection.keep == "auto":  # the paper's datasets: the original's columns
        row = {**row, **keeping.columns()}
    ctx.save_index(ctx.path(rundir.SELECTED_INDEX), np.sort(selected))
    ctx.selected(row, selected)
    ctx.write(proxy.discard, rundir.training_dir(ctx.run, PROXY, len(ctx.pool)))
    return np.sort(selected)


def _stratified_select(ctx: Context, proxy: Learner, config: CoresetConfig, keeping: Keeping, extra: dict,
                       score: Optional[Scorer]) -> tuple[np.ndarray, dict]:
    """The core-set by CCS's stratified sampling over the method's scores (within each class with
    ``class_balance``): the picks, the most preferred first, and the selection.csv row (as
    :func:`svp.workflows.steps.timed_select` times it: the pool's outputs are inference, the rest ranking)."""
    options, budget = config.selection, config.subset
    log.info("selecting %d of %d examples by %s, stratified", budget, len(ctx.pool), options.method)
    start = time.perf_counter()
    out = pool_outputs(ctx, score or proxy.score, ctx.pool, METHODS[options.method].needs |
                   ({"labels"} if options.class_balance else frozenset()))
    out.extra.update(extra)
    inference = time.perf_counter() - start
    fault_point("select")
    scores = method_scores(options.method, out, options.options)
    keys, rng = ccs.cutoff_keys(scores, keeping.keep), np.random.default_rng(ctx.seed_for("select", budget))
    positions = ccs.stratified_by_class(keys, out.labels, budget, cutoff=keeping.hard_cutoff, rng=rng) \
        if options.class_balance else ccs.stratified_sample(keys, budget, cutoff=keeping.hard_cutoff, rng=rng)
    preferred = scores if keeping.keep == "hardest" else -scores
    picked = out.indices[positions[np.argsort(-preferred[positions], kind="stable")]]
    ranking = time.perf_counter() - start - inference
    log.info("selected %d by %s in %.2f s (%.2f inference + %.2f ranking)", len(picked), options.method,
             inference + ranking, inference, ranking)
    return picked, {"nexamples": budget, "current_nexamples": 0, "new_nexamples": len(picked),
                    "total_time": inference + ranking, "inference_time": inference, "ranking_time": ranking}


def early_schedule(model: ModelConfig, epochs: int) -> ModelConfig:
    """``model`` with its schedule cut after ``epochs`` epochs (the segments' learning rates kept), as epoch
    segments whatever schedule it had: EL2N and GraNd score at an epoch count (an automatic schedule would
    train on)."""
    kept, rates, left = [], [], epochs
    for count, rate in zip(model.epochs, model.learning_rates):
        if left <= 0:
            break
        kept.append(min(count, left))
        rates.append(rate)
        left -= kept[-1]
    return dataclasses.replace(model, epochs=tuple(kept), learning_rates=tuple(rates), schedule="epochs",
                               steps=None)


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
