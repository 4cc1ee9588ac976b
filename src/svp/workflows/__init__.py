"""Workflows: one function each, config in, :class:`RunResult` out, each declared by a :class:`Workflow` record.

``WORKFLOWS`` maps a name to its record (see :mod:`svp.workflows.registry`);
:func:`register_workflow` adds one (from Python or a ``--plugin`` module).
The built-in records are registered here, once.
"""
from svp import config as cfg
from svp.selection import method_names
from svp.workflows import options, resume
from svp.workflows.active import run_active
from svp.workflows.coreset import run_coreset
from svp.workflows.query import instructions, run_query
from svp.workflows.registry import REPLAY, WORKFLOWS, Workflow, register_workflow, workflow_of
from svp.workflows.replay import run_replay
from svp.workflows.result import RunResult
from svp.workflows.train import run_train

for _record in (
    Workflow("train", "train one model on the whole training set", cfg.TrainConfig, run_train, proxy=False,
             check_files=resume.check_train_files),
    Workflow("active", "active learning: a proxy picks examples to label, round by round", cfg.ActiveConfig,
             run_active, options.ACTIVE, check_files=resume.check_active_files,
             methods=lambda: method_names(active=True)),
    Workflow("coreset", "core-set selection: a proxy trained on all data keeps a subset for the target",
             cfg.CoresetConfig, run_coreset, options.CORESET, check_files=resume.check_coreset_files,
             methods=method_names),
    Workflow("query", "the labeling loop: a proxy trained on the labels so far asks a person for the next ones; "
             "--resume RUN --labels ANSWERS goes on", cfg.QueryConfig, run_query, options.QUERY,
             check_files=resume.check_query_files, summary=instructions, per_call=("labels", "train_target"),
             methods=lambda: method_names(active=True), asks_person=True),
    Workflow(REPLAY, "replay an earlier selection into target training (--precomputed-selection of active or "
             "coreset)", cfg.SelectionConfig, run_replay, check_files=resume.check_replay_files, command=False),
):
    register_workflow(_record)



def run(config) -> RunResult:
    """Run the workflow ``config`` is for (its ``workflow``, or a replay); return its result."""
    return workflow_of(config).run(config)


__all__ = ["WORKFLOWS", "Workflow", "RunResult", "register_workflow", "run", "workflow_of", "run_active",
           "run_coreset", "run_query", "run_replay", "run_train"]
