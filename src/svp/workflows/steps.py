"""Resumable steps shared by the workflows.

A step is done when its CSV row exists; its files (index, checkpoint) are
written before the row, atomically. A rerun after a kill therefore skips
finished steps and repeats an unfinished one from its start, with the same
seed, so it gives the same result and writes its row exactly once.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from svp import rundir
from svp._faults import fault_point
from svp.engine import distributed
from svp.engine.fit import BatchHook
from svp.learners import Learner
from svp.selection import METHODS, Outputs, select
from svp.workflows.context import Context

log = logging.getLogger(__name__)

#: what only a trained model can give (labels come from the data)
MODEL_NEEDS = frozenset({"probs", "features", "mc"})
Scorer = Callable[[np.ndarray, frozenset], Outputs]


def write(fn, *args) -> None:
    """Run a file write on rank 0 only; every rank waits until it is on disk.

    The first barrier keeps rank 0 from writing before every rank has
    passed its own "is it written yet?" check (e.g. ``path.exists()``), so
    no rank sees the file early, skips this call and its barriers.
    """
    distributed.barrier()
    if distributed.is_main():
        fn(*args)
    distributed.barrier()


def train_step(ctx: Context, learner: Learner, role: str, labeled: np.ndarray, *,
               need_model: bool = True, hooks: Sequence[BatchHook] = (),
               finish: Optional[Callable[[Path], None]] = None) -> dict:
    """Train ``learner`` on ``labeled`` unless a finished row says it was; return the row.

    ``finish(out_dir)`` saves whatever else the training produced (e.g.
    forgetting counts) before the row marks the step done. Without
    ``need_model`` the learner may discard the saved model once the row is written.
    """
    n = len(labeled)
    out_dir = rundir.training_dir(ctx.run, role, n)
    results = ctx.path(rundir.role_csv(role))
    row = rundir.find_row(results, n)
    if row is not None:
        log.info("%s on %d examples: done before, skipped", role, n)
        if need_model:
            learner.load(out_dir)
        return row
    write(rundir.save_index, rundir.labeled_index(ctx.run, role, n), labeled)
    log.info("%s training on %d examples", role, n)
    result = learner.train(labeled, out_dir, ctx.seed_for(role, n), hooks)
    if finish is not None:
        write(finish, out_dir)
    row = result.row()
    write(rundir.append_row, results, row)
    if not need_model:
        write(learner.discard, out_dir)
    log.info("%s on %d examples: test accuracy %.4f, %.1f s training", role, n,
             result.test_accuracy, result.train_time)
    return row


def sample_candidates(ctx: Context, unlabeled: np.ndarray, total: int) -> np.ndarray:
    """The unlabeled examples a round scores: all, or ``--candidates`` of them drawn with the round's seed."""
    limit = getattr(ctx.config, "candidates", None)
    if limit is None or limit >= len(unlabeled):
        return unlabeled
    rng = np.random.default_rng(ctx.seed_for("candidates", total))
    return np.sort(rng.choice(unlabeled, size=limit, replace=False))


def _pool_outputs(ctx: Context, score: Scorer, candidates: np.ndarray, needs: frozenset) -> Outputs:
    """What ``needs`` asks of ``candidates``: from the model when it asks for its outputs, labels from the data."""
    if needs & MODEL_NEEDS:
        out = score(candidates, needs)
    else:
        out = Outputs(np.asarray(candidates, dtype=np.int64))
    if "labels" in needs and out.labels is None:
        out.labels = np.asarray(ctx.data.targets("train"))[out.indices]
    return out


def timed_select(ctx: Context, learner: Learner, method: str, candidates: np.ndarray, budget: int,
                 labeled: np.ndarray, extra: Optional[dict] = None,
                 score: Optional[Scorer] = None,
                 also: frozenset = frozenset()) -> tuple[np.ndarray, dict, Outputs]:
    """Score ``candidates``, pick ``budget`` of them.

    Returns the picks, the selection.csv row, and the outputs on the
    candidates (with ``also`` of them besides what the method needs, e.g.
    the class probabilities a person is shown). ``score(indices, needs)``
    replaces ``learner.score`` for the pool (e.g. scores averaged over
    several proxies); whatever it does counts as inference time.
    ``--candidates``, ``--sampling``, ``--keep`` and ``--class-balance`` of
    the workflow's config apply here.
    """
    config, total = ctx.config, len(labeled) + budget
    candidates = sample_candidates(ctx, candidates, total)
    balance = getattr(config, "class_balance", False)
    log.info("selecting %d of %d examples by %s", budget, len(candidates), method)
    start = time.perf_counter()
    needs = METHODS[method].needs | ({"labels"} if balance else frozenset())
    pool_out = _pool_outputs(ctx, score or learner.score, candidates, needs | also)
    pool_out.extra.update(extra or {})
    labeled_out = learner.score(labeled, needs) if METHODS[method].from_labeled and len(labeled) else None
    inference = time.perf_counter() - start
    fault_point("select")
    new = select(method, pool_out, budget, labeled=labeled_out, seed=ctx.seed_for("select", total),
                 sampling=config.sampling, beta=config.sampling_beta,
                 keep=getattr(config, "keep", "hardest"), balance=balance)
    ranking = time.perf_counter() - start - inference
    log.info("selected %d by %s in %.2f s (%.2f inference + %.2f ranking)", len(new), method,
             inference + ranking, inference, ranking)
    return new, {"nexamples": total, "current_nexamples": len(labeled), "new_nexamples": len(new),
                 "total_time": inference + ranking, "inference_time": inference, "ranking_time": ranking}, pool_out
