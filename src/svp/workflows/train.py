"""Plain training: one model on the whole pool (training set minus --validation)."""
from __future__ import annotations

import logging

from svp import rundir
from svp.config import TrainConfig
from svp.learners import make_learner
from svp.workflows.result import RunResult
from svp.workflows.setup import open_run
from svp.workflows.steps import warn_if_unhealthy

log = logging.getLogger(__name__)

ROLE = "train"  # names this training's progress bar and seeds it


def run_train(config: TrainConfig) -> RunResult:
    """Train ``config.model``; results.csv and checkpoints go in the run directory."""
    with open_run(config) as ctx:
        results = ctx.path(rundir.RESULTS_CSV)
        if rundir.read_rows(results):
            log.info("training finished before; nothing to do")
            return RunResult(ctx.run, config.workflow)
        learner = make_learner(ctx.config.model, ROLE, ctx.env)  # its defaults resolved for the data
        result = learner.train(ctx.pool, ctx.run, ctx.seed_for(ROLE, len(ctx.pool)))
        ctx.save_index(ctx.path(rundir.TRAIN_INDEX), ctx.pool)
        ctx.trained(ROLE, result.row())
        warn_if_unhealthy(ctx, learner, ROLE, result.row())
    return RunResult(ctx.run, config.workflow)
