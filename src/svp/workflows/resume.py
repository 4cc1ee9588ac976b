"""Resuming an interrupted run: its saved config, checked against the command line.

``svp active --resume RUN_DIR/<timestamp>`` continues with the config.json
of that run. Options typed on the command line must agree with it; options
left at their defaults are not compared (the saved values win). The
workflows then skip every step whose CSV row exists (see
:mod:`svp.workflows.steps`).
"""
from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np

from svp import config as cfg
from svp import rundir
from svp.errors import UsageError
from svp.rundir import PROXY, TARGET

FieldPath = tuple[str, ...]

# fields that say how (and where) to run now, not what the run is: never a conflict
EXEMPT: frozenset[FieldPath] = frozenset({("runtime", "resume"), ("runtime", "quiet"), ("runtime", "devices"),
                                          ("runtime", "cuda"), ("runtime", "tensorboard"), ("runtime", "mlflow"),
                                          ("runtime", "plugins")})


def resumed_config(config: Any, typed: Mapping[FieldPath, str], per_call: tuple[str, ...] = ()) -> Any:
    """The saved config of the run ``config.runtime.resume`` names, ready to continue.

    Parameters
    ----------
    config : TrainConfig, ActiveConfig or CoresetConfig
        The config the command line gives (with ``runtime.resume`` set).
    typed : mapping of field path to str
        Where each option typed on the command line lands in the config
        (e.g. ``("proxy", "epochs")``) -> its flag (see :func:`svp.cli.parse.typed_fields`).

    Raises
    ------
    UsageError
        When the folder holds no run of this workflow, or a typed option
        disagrees with the saved config.

    ``per_call`` names the fields that say what one call does (see
    :class:`svp.workflows.registry.Workflow`): they come from ``config``.
    """
    run = Path(config.runtime.resume)
    saved = load_saved_config(run, config.workflow, type(config))
    conflicts = [text for path, flag in typed.items()
                 if path not in EXEMPT and path[0] not in per_call
                 and (text := _conflict(config, saved, path, flag)) is not None]
    if conflicts:
        raise UsageError(f"--resume {run}: {'; '.join(conflicts)}. Drop these options to continue with the "
                         "saved values, or start a new run without --resume")
    missing = [name for name in saved.runtime.plugins if name not in config.runtime.plugins]
    if missing:  # a run directory's file never makes svp import code: the user names the plugins each time
        raise UsageError(f"--resume {run} was made with {' '.join('--plugin ' + name for name in missing)} ; give "
                         "it again (the models, methods or data the run uses are registered by it)")
    # how to run now (devices, progress) comes from this command line, what the run is from the saved config
    runtime = dataclasses.replace(saved.runtime, resume=str(run), quiet=config.runtime.quiet,
                                  cuda=config.runtime.cuda, devices=config.runtime.devices,
                                  tensorboard=config.runtime.tensorboard, mlflow=config.runtime.mlflow,
                                  plugins=config.runtime.plugins)
    # and what this call does (a query's answers) from this command line too
    return dataclasses.replace(saved, runtime=runtime, **{name: getattr(config, name) for name in per_call})


def load_saved_config(run: Path, workflow: str, cls: type) -> Any:
    """The config saved in ``run``, refused unless it is a ``workflow`` run."""
    path = run / rundir.CONFIG
    if not path.is_file():
        raise UsageError(f"--resume {run} is not a run directory: it holds no {rundir.CONFIG}")
    try:
        values = rundir.load_json(path)
    except json.JSONDecodeError as error:
        raise UsageError(f"--resume {run}: {rundir.CONFIG} is not valid JSON ({error}) ; restore it, or start a "
                         "new run without --resume") from None
    if not isinstance(values, dict):
        raise UsageError(f"--resume {run}: {rundir.CONFIG} holds {type(values).__name__}, not a saved config ; "
                         "restore it, or start a new run without --resume")
    if values.get("workflow") != workflow:
        raise UsageError(f"--resume {run} holds a run of `{values.get('workflow')}`, not of `{workflow}`; "
                         f"resume it with `{values.get('workflow')}`")
    try:
        return cfg.from_dict(cls, values)
    except UsageError as error:
        raise UsageError(f"--resume {run}: {rundir.CONFIG} is damaged: {error}") from None


def check_train_files(run: Path, config: Any, num_train: int, dev: np.ndarray) -> None:
    """``svp train``'s: the pool it trained on, once results.csv says it did."""
    if _sizes(run / rundir.RESULTS_CSV):
        rundir.load_checked_index(run / rundir.TRAIN_INDEX, num_train, dev, count=num_train - len(dev))


def check_trained_files(run: Path, num_train: int, dev: np.ndarray) -> None:
    """The labeled set of each proxy and target training that proxy.csv and target.csv record."""
    for role in (PROXY, TARGET):
        for n in _sizes(run / rundir.role_csv(role)):
            rundir.load_checked_index(rundir.labeled_index(run, role, n), num_train, dev, count=n)


def check_active_files(run: Path, config: Any, num_train: int, dev: np.ndarray) -> None:
    """Active learning's (and a replay's): the trainings', each selection's labeled set, the initial subset."""
    check_trained_files(run, num_train, dev)
    for n in _sizes(run / rundir.SELECTION_CSV):
        rundir.load_checked_index(rundir.labeled_index(run, PROXY, n), num_train, dev, count=n)
    initial = getattr(config, "initial_subset", None)
    if initial is not None and rundir.initial_subset_index(run, initial).exists():
        rundir.load_checked_index(rundir.initial_subset_index(run, initial), num_train, dev, count=initial)


def check_coreset_files(run: Path, config: Any, num_train: int, dev: np.ndarray) -> None:
    """Core-set selection's: the trainings', and the subset kept."""
    check_trained_files(run, num_train, dev)
    for n in _sizes(run / rundir.SELECTION_CSV):
        rundir.load_checked_index(run / rundir.SELECTED_INDEX, num_train, dev, count=n)


def check_query_files(run: Path, config: Any, num_train: int, dev: np.ndarray) -> None:
    """The labeling loop's: the trainings', and each question, in its own index file."""
    check_trained_files(run, num_train, dev)
    for round_ in rundir.query_rounds(run):
        rundir.load_checked_index(rundir.query_file(run, round_, "index"), num_train, dev)


def check_replay_files(run: Path, config: Any, num_train: int, dev: np.ndarray) -> None:
    """A replay's: those of the workflow whose selection it replays."""
    check = check_coreset_files if config.workflow == "coreset" else check_active_files
    check(run, config, num_train, dev)


def _sizes(path: Path) -> list[int]:
    """The ``nexamples`` of each row of a results CSV (none when it does not exist)."""
    try:
        return [int(row["nexamples"]) for row in rundir.read_rows(path)]
    except (KeyError, ValueError, TypeError, csv.Error, UnicodeDecodeError) as error:
        raise UsageError(f"{path} is damaged ({type(error).__name__}: {error}) ; restore it, or start a new run") \
            from None


def _conflict(config: Any, saved: Any, path: FieldPath, flag: str) -> Optional[str]:
    """How the typed option at ``path`` disagrees with the saved config, or None."""
    given, kept = _value(config, path), _value(saved, path)
    if given == kept:
        return None
    return f"{flag} is {_show(kept)} in the saved config but {_show(given)} was given"


def _value(config: Any, path: FieldPath) -> Any:
    value = config
    for name in path:
        value = value.get(name) if isinstance(value, dict) else getattr(value, name)
    return value


def _show(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return " ".join(map(str, value)) or "(none)"
    return str(value)
