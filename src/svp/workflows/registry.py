"""Workflows as declared records: what the CLI, setup, resume and reports need to know of each.

A workflow is a run function (config in, :class:`RunResult` out) and one
:class:`Workflow` record that says everything else about it. A new
workflow is its module (config class, run function, record) and a
:func:`register_workflow` call; nothing else in svp names it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from svp.options import Option

#: check_files(run, config, num_train, dev): the run's own files on --resume, refused with a UsageError
FileCheck = Callable[[Path, Any, int, np.ndarray], None]


@dataclass(frozen=True)
class Workflow:
    """One workflow, declared.

    Parameters
    ----------
    name : str
        Its name: the command (``svp <name>``) and the ``workflow`` of its config.
    help : str
        One line for ``svp --help``.
    config : type
        Its frozen config class (with ``data``, ``runtime`` and either ``model`` or ``target``/``proxy``).
    run : callable
        ``run(config) -> RunResult``.
    options : tuple of Option
        Its options beyond run, data and model.
    proxy : bool
        It has a proxy (the ``--proxy-*`` twins).
    check_files : callable, optional
        Checks the files its earlier steps wrote, on ``--resume`` (see :data:`FileCheck`).
    summary : callable, optional
        ``summary(run) -> str``, what the command prints at its end (None: the report's summary of the run's
        results tables, which a workflow that writes none must replace).
    per_call : tuple of str
        Config fields that say what one call does, not what the run is: on ``--resume`` they come from the
        command line, not from the saved config.
    methods : callable, optional
        ``methods() -> names``, the selection methods it offers (asked at run time: a method registered by a
        plugin is offered too); None: it selects nothing.
    asks_person : bool
        A person labels the pool (the labeling loop): labels may be unknown, and the dev set comes from the
        examples the data labels.
    command : bool
        It is a command of its own (replay is not: ``--precomputed-selection`` of active or coreset gives it).
    """

    name: str
    help: str
    config: type
    run: Callable[[Any], Any]
    options: tuple[Option, ...] = ()
    proxy: bool = True
    check_files: Optional[FileCheck] = None
    summary: Optional[Callable[[Path], str]] = None
    per_call: tuple[str, ...] = ()
    methods: Optional[Callable[[], tuple[str, ...]]] = None
    asks_person: bool = False
    command: bool = True


#: Every workflow, by name (see :func:`register_workflow`).
WORKFLOWS: dict[str, Workflow] = {}
REPLAY = "replay"  # the record that replays a selection (--precomputed-selection)


def register_workflow(workflow: Workflow, *, replace: bool = False) -> None:
    """Make ``workflow`` known to svp: ``svp <name>`` (when it is a command), resume and reports.

    Raises ValueError for a name taken (unless ``replace``) or a record that is not a :class:`Workflow`.
    """
    if not isinstance(workflow, Workflow):
        raise ValueError(f"{workflow!r} is not a svp.workflows.Workflow record")
    if workflow.name in WORKFLOWS and not replace:
        raise ValueError(f"a workflow named {workflow.name!r} is registered already ; give replace=True to replace it")
    WORKFLOWS[workflow.name] = workflow


def workflow_of(config: Any) -> Workflow:
    """The record that runs ``config``: its workflow's, or replay's when it replays a selection."""
    if getattr(config, "precomputed_selection", None) and REPLAY in WORKFLOWS:
        return WORKFLOWS[REPLAY]
    return WORKFLOWS[config.workflow]


def commands() -> dict[str, Workflow]:
    """The workflows that are commands of their own, by name."""
    return {name: workflow for name, workflow in WORKFLOWS.items() if workflow.command}
