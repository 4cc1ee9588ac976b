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
from svp.learners import BatchHook, Learner
from svp.learners.health import Training, problems, trainings_of_rows
from svp.selection import AUTO_CHOICE_KEY, METHODS, Outputs, derive_needs, model_needs, select
from svp.workflows.context import Context

log = logging.getLogger(__name__)

#: the basic needs a model does not give when it scores: labels come from the data, forgetting counts from training
NOT_SCORED = frozenset({"labels", "forgetting"})
Scorer = Callable[[np.ndarray, frozenset], Outputs]


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
    ctx.save_index(rundir.labeled_index(ctx.run, role, n), labeled)
    log.info("%s training on %d examples", role, n)
    result = learner.train(labeled, out_dir, ctx.seed_for(role, n), hooks)
    if finish is not None:
        ctx.write(finish, out_dir)
    row = result.row()
    ctx.trained(role, row)
    warn_if_unhealthy(ctx, learner, role, row)
    if not need_model:
        ctx.write(learner.discard, out_dir)
    return row


def warn_if_unhealthy(ctx: Context, learner: Learner, role: str, row: dict) -> None:
    """Log a warning for each problem of a training just done (see :mod:`svp.learners.health`): no better than
    chance, its training set fitted poorly, its dev accuracy still rising; each says what to change.

    A target is judged against the proxy trained on as many examples (not in a core-set, whose proxy saw all
    the data; a replay's proxy.csv may be the original implementation's, in percent); the number of classes stands in for a chance accuracy the row does not record.
    """
    if not distributed.is_main():  # the process that writes the run says it, once
        return
    training = Training.from_row(row, role, learner.config.arch)
    proxy = None
    if role == rundir.TARGET and ctx.config.workflow != "coreset":
        proxies = trainings_of_rows(rundir.read_rows(ctx.path(rundir.role_csv(rundir.PROXY))), rundir.PROXY)
        proxy = next((p.train_accuracy for p in proxies if p.nexamples == training.nexamples), None)
    for problem in problems(training, proxy, ctx.env_of(role).data.num_classes):
        log.warning("%s: %s ; %s", training.name, problem.what, problem.fix)


def sample_candidates(ctx: Context, unlabeled: np.ndarray, total: int) -> np.ndarray:
    """The unlabeled examples a round scores: all, or ``--candidates`` of them drawn with the round's seed."""
    limit = ctx.config.selection.candidates
    if limit is None or limit >= len(unlabeled):
        return unlabeled
    rng = np.random.default_rng(ctx.seed_for("candidates", total))
    return np.sort(rng.choice(unlabeled, size=limit, replace=False))


def pool_outputs(ctx: Context, score: Scorer, candidates: np.ndarray, needs: frozenset) -> Outputs:
    """What ``needs`` asks of ``candidates``: from the model when it asks for its outputs, labels from the data,
    then the derived needs from those (see :mod:`svp.selection.needs`)."""
    basic = model_needs(needs)
    if basic - NOT_SCORED:
        out = score(candidates, basic)
    else:
        out = Outputs(np.asarray(candidates, dtype=np.int64))
    if "labels" in basic and out.labels is None:
        out.labels = np.asarray(ctx.data.targets("train"))[out.indices]
    derive_needs(out, needs)
    return out


def timed_select(ctx: Context, learner: Learner, method: str, candidates: np.ndarray, budget: int,
                 labeled: np.ndarray, extra: Optional[dict] = None,
                 score: Optional[Scorer] = None, also: frozenset = frozenset(),
                 keep: Optional[str] = None) -> tuple[np.ndarray, dict, Outputs]:
    """Score ``candidates``, pick ``budget`` of them.

    Returns the picks, the selection.csv row, and the outputs on the
    candidates (with ``also`` of them besides what the method needs, e.g.
    the class probabilities a person is shown). ``score(indices, needs)``
    replaces ``learner.score`` for the pool (e.g. scores averaged over
    several proxies); whatever it does counts as inference time.
    The config's selection options (candidates, sampling, keep, class
    balance, a method's own options) apply here; ``keep`` overrides the
    config's (a core-set's "auto", once resolved).
    """
    options, total = ctx.config.selection, len(labeled) + budget
    candidates = sample_candidates(ctx, candidates, total)
    balance = options.class_balance
    log.info("selecting %d of %d examples by %s", budget, len(candidates), method)
    start = time.perf_counter()
    needs = METHODS[method].needs | ({"labels"} if balance else frozenset())
    pool_out = pool_outputs(ctx, score or learner.score, candidates, needs | also)
    pool_out.extra.update(extra or {})
    labeled_out = learner.score(labeled, model_needs(needs)) if METHODS[method].from_labeled and len(labeled) \
        else None
    inference = time.perf_counter() - start
    fault_point("select")
    new = select(method, pool_out, budget, labeled=labeled_out, seed=ctx.seed_for("select", total),
                 sampling=options.sampling, beta=options.sampling_beta, keep=keep or options.keep, balance=balance,
                 options=options.options)
    ranking = time.perf_counter() - start - inference
    log.info("selected %d by %s in %.2f s (%.2f inference + %.2f ranking)", len(new), method,
             inference + ranking, inference, ranking)
    row = {"nexamples": total, "current_nexamples": len(labeled), "new_nexamples": len(new),
           "total_time": inference + ranking, "inference_time": inference, "ranking_time": ranking}
    if AUTO_CHOICE_KEY in pool_out.extra:  # what `auto` chose this round
        row["auto_choice"] = pool_out.extra[AUTO_CHOICE_KEY]
    return new, row, pool_out
