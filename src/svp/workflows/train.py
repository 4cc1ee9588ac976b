"""Plain training: one model on the whole pool (training set minus --validation)."""
from __future__ import annotations

import logging
from pathlib import Path

from svp import runs
from svp.config import TrainConfig
from svp.workflows.context import open_run
from svp.workflows.learners import TorchLearner, training_seed
from svp.workflows.steps import write

log = logging.getLogger(__name__)

RESULTS = "results.csv"


def run_train(config: TrainConfig) -> Path:
    """Train ``config.model``; results.csv and checkpoints go in the run directory."""
    ctx = open_run(config)
    if runs.read_rows(ctx.path(RESULTS)):
        log.info("training finished before; nothing to do")
        return ctx.run
    learner = TorchLearner(ctx, config.model, "train")
    result = learner.train(ctx.pool, ctx.run, training_seed(ctx, "train", len(ctx.pool)))
    write(runs.save_index, ctx.path("train.index"), ctx.pool)
    write(runs.append_row, ctx.path(RESULTS), result.row())
    log.info("test accuracy %.4f after %.1f s of training", result.test_accuracy, result.train_time)
    return ctx.run
