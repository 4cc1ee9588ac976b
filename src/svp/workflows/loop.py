"""The labeling loop: a proxy trained on the labels so far picks what to label next; someone answers.

``svp active`` and ``svp query`` run this one loop; only the :class:`Annotator` differs:

* ``svp active`` (a simulation): an oracle answers at once from the
  dataset's labels (:class:`svp.workflows.active.Oracle`);
* ``svp query``: a person (:class:`svp.workflows.query.Person`) is asked
  through files, and the call ends; the answers come with the next call
  (``--resume RUN --labels FILE``), which replays the loop from the run's
  files up to that question and goes on.

Each round trains the proxy on the labeled examples, picks the next ones,
asks for them and adds those answered to the labeled set, in the order they
were picked. With nothing labeled, the first question is a cold start:
random, or k-centers on features. Every step is resumable (see
:mod:`svp.workflows.steps`): a killed call repeats its unfinished step with
the same seed, so it gives the same result.
"""
from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch

from svp import rundir
from svp.errors import UsageError
from svp.learners import Learner, make_learner
from svp.rundir import PROXY, TARGET
from svp.selection import CLASSES_KEY, Outputs, select
from svp.workflows.context import Context
from svp.workflows.steps import timed_select, train_step

log = logging.getLogger(__name__)


@dataclass
class Question:
    """What one round asks: ``picked`` (dataset indices, best first) after ``labeled``.

    ``scored`` holds the proxy's outputs on the candidates (None for a cold
    start, which has no trained proxy); ``row`` is the selection.csv row.
    """

    round: int
    labeled: np.ndarray
    picked: np.ndarray
    scored: Optional[Outputs]
    row: dict


class Annotator(ABC):
    """Who answers the loop's questions."""

    #: what a question shows besides the picks ("probs": the proxy's guess of each class)
    needs: frozenset = frozenset()

    @abstractmethod
    def asked(self, ctx: Context, round_: int, labeled: np.ndarray, budget: int) -> Optional[np.ndarray]:
        """The examples round ``round_`` asked for, if it was asked before (a resumed run), else None."""

    @abstractmethod
    def ask(self, ctx: Context, question: Question) -> None:
        """Record ``question`` (files, then its selection.csv row): it then counts as asked."""

    @abstractmethod
    def answered(self, ctx: Context, round_: int, picked: np.ndarray) -> Optional[np.ndarray]:
        """The examples labeled in answer to round ``round_`` (``picked``, the question, or part of it; a person
        may also answer an earlier question late), in the order to add them; None while waiting."""


#: (round, labeled set) -> how many examples the round asks for, or None: no more questions
Budget = Callable[[int, np.ndarray], Optional[int]]


def run_loop(ctx: Context, annotator: Annotator, labeled: np.ndarray, budget: Budget, first_question: int,
             train_target: Callable[[int], bool] = lambda size: False) -> np.ndarray:
    """Ask, train and pick until ``budget`` says stop or the annotator waits; return the labeled set.

    ``labeled`` is what is labeled before the first round (a cold start of
    ``first_question`` examples when empty); the target trains on the
    labeled sets whose size ``train_target`` names.
    """
    config = ctx.config
    proxy = make_learner(config.proxy, PROXY, ctx.env_of(PROXY))
    target = make_learner(config.target, TARGET, ctx.env)
    round_ = 1
    if not len(labeled):
        picked = annotator.asked(ctx, round_, labeled, first_question)
        if picked is None:
            picked = _ask(ctx, annotator, cold_start_question(ctx, proxy, first_question))
        answered = annotator.answered(ctx, round_, picked)
        if answered is None:
            return labeled
        labeled, round_ = answered, round_ + 1
    previous: Optional[int] = None  # the labeled-set size of the proxy before this one
    while True:
        size = budget(round_, labeled)
        picked = annotator.asked(ctx, round_, labeled, size) if size is not None else None
        train_step(ctx, proxy, PROXY, labeled, need_model=size is not None and picked is None)
        if train_target(len(labeled)):
            train_step(ctx, target, TARGET, labeled, need_model=False)
        if size is None:
            return labeled
        if picked is None:
            question = proxy_question(ctx, proxy, round_, labeled, size, annotator.needs, previous)
            picked = _ask(ctx, annotator, question)
            ctx.write(proxy.discard, rundir.training_dir(ctx.run, PROXY, len(labeled)))  # its question is recorded
        answered = annotator.answered(ctx, round_, picked)
        if answered is None:
            return labeled
        if not len(answered):
            raise UsageError(f"round {round_} has no answers ; answer at least one example of its question")
        previous, labeled, round_ = len(labeled), np.concatenate([labeled, answered]), round_ + 1


def _ask(ctx: Context, annotator: Annotator, question: Question) -> np.ndarray:
    assert len(np.unique(question.picked)) == len(question.picked), "a question repeated an example"
    assert not np.isin(question.picked, question.labeled).any(), "a question asked for a labeled example"
    annotator.ask(ctx, question)
    return question.picked


def unlabeled_pool(ctx: Context, labeled: np.ndarray) -> np.ndarray:
    """The pool examples not labeled yet."""
    return np.setdiff1d(ctx.pool, labeled, assume_unique=True)


def proxy_question(ctx: Context, proxy: Learner, round_: int, labeled: np.ndarray, budget: int,
                   needs: frozenset, previous: Optional[int]) -> Question:
    """The proxy's pick of ``budget`` unlabeled examples, and how many of its predictions changed."""
    candidates = unlabeled_pool(ctx, labeled)
    picked, row, scored = timed_select(ctx, proxy, ctx.config.selection.method, candidates, budget, labeled,
                                       also=needs)
    if scored.probs is not None:
        row.update(prediction_changes(ctx, len(labeled), previous, scored))
    return Question(round_, labeled, picked, scored, row)


def prediction_changes(ctx: Context, size: int, previous: Optional[int], scored: Outputs) -> dict:
    """Save the proxy's predicted classes; count those that changed since the previous proxy's.

    When they stop changing, more labels change little: a signal to stop
    (the stabilizing-predictions criterion of Bloodgood and Vijay-Shanker, 2009).
    """
    classes = scored.probs.argmax(axis=1).astype(np.int16)
    ctx.write(rundir.save_predictions, rundir.training_dir(ctx.run, PROXY, size) / rundir.PREDICTIONS,
          scored.indices, classes)
    before = None if previous is None else rundir.load_predictions(
        rundir.training_dir(ctx.run, PROXY, previous) / rundir.PREDICTIONS)
    if before is None:
        return {}
    common, now_at, before_at = np.intersect1d(scored.indices, before[0], assume_unique=True, return_indices=True)
    changed = int((classes[now_at] != before[1][before_at]).sum())
    log.info("%d of the %d unlabeled examples both proxies scored changed their predicted class (%.1f%%)",
             changed, len(common), 100.0 * changed / max(len(common), 1))
    return {"changed_predictions": changed, "compared_predictions": len(common)}


def cold_start_question(ctx: Context, proxy: Learner, size: int) -> Question:
    """The first question, with nothing labeled: seeded random picks, or k-centers, typiclust or probcover on
    features (probcover's clusters: as many as the data's classes)."""
    pool = ctx.pool
    if size > len(pool):
        raise UsageError(f"the first question asks for {size} examples but the pool holds {len(pool)} ; lower "
                         "--initial-subset (or --budget)")
    start = time.perf_counter()
    method = getattr(ctx.config, "cold_start", "random")
    if method == "random":
        picked = np.random.default_rng(ctx.seed).permutation(pool)[:size]
    else:  # a diversity method on features (k-centers, typiclust)
        features = cold_start_features(ctx, proxy, pool)
        outputs = Outputs(pool, features=features, extra={CLASSES_KEY: ctx.data.num_classes})
        picked = select(method, outputs, size, seed=ctx.seed_for("select", size))
    elapsed = time.perf_counter() - start
    row = {"nexamples": size, "current_nexamples": 0, "new_nexamples": size, "total_time": elapsed,
           "inference_time": 0.0, "ranking_time": elapsed}
    return Question(1, np.empty(0, dtype=np.int64), picked, None, row)


def cold_start_features(ctx: Context, proxy: Learner, indices: np.ndarray) -> np.ndarray:
    """Features of ``indices`` before any label: the proxy's own view (--proxy-dataset), else an untrained
    proxy's penultimate features (its starting weights: random, --proxy-weights or --proxy-pretrained)."""
    if ctx.proxy_env is not None:
        data = ctx.proxy_env.data
        batches = data.batches("train", indices, ctx.config.proxy.eval_batch_size, device="cpu")
        return torch.cat([inputs.flatten(1).float() for inputs, _, _ in batches]).numpy()
    proxy.start(ctx.seed_for("cold-start", len(indices)))
    return proxy.score(indices, frozenset({"features"})).features
