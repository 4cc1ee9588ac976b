"""Resuming an interrupted run: its saved config, checked against the command line.

``svp active --resume RUN_DIR/<timestamp>`` continues with the config.json
of that run. Options typed on the command line must agree with it; options
left at their defaults are not compared (the saved values win). The
workflows then skip every step whose CSV row exists (see
:mod:`svp.workflows.steps`).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping, Optional

from svp import config as cfg
from svp import runs
from svp.errors import UsageError
from svp.workflows.context import CONFIG_FILE

# options that say how (and where) to run now, not what the run is: never a conflict
EXEMPT = frozenset({"command", "resume", "quiet", "device", "cuda"})
# option dest -> config field, where the names differ
RENAMED = {"device": "devices", "learning_rate": "learning_rates"}

FieldPath = tuple[str, ...]


def resumed_config(config: Any, typed: Mapping[str, str]) -> Any:
    """The saved config of the run ``config.runtime.resume`` names, ready to continue.

    Parameters
    ----------
    config : TrainConfig, ActiveConfig or CoresetConfig
        The config the command line gives (with ``runtime.resume`` set).
    typed : mapping of str to str
        Option dest -> flag of the options typed on the command line
        (see :func:`svp.cli.typed_options`).

    Raises
    ------
    UsageError
        When the folder holds no run of this workflow, or a typed option
        disagrees with the saved config.
    """
    run = Path(config.runtime.resume)
    saved = load_saved_config(run, config.workflow, type(config))
    conflicts = [text for dest, flag in typed.items()
                 if (text := _conflict(config, saved, dest, flag)) is not None]
    if conflicts:
        raise UsageError(f"--resume {run}: {'; '.join(conflicts)}. Drop these options to continue with the "
                         "saved values, or start a new run without --resume")
    runtime = dataclasses.replace(saved.runtime, resume=str(run), quiet=config.runtime.quiet)
    return dataclasses.replace(saved, runtime=runtime)


def load_saved_config(run: Path, workflow: str, cls: type) -> Any:
    """The config saved in ``run``/config.json, refused unless it is a ``workflow`` run."""
    path = run / CONFIG_FILE
    if not path.is_file():
        raise UsageError(f"--resume {run} is not a run directory: it holds no {CONFIG_FILE}")
    try:
        values = runs.load_json(path)
    except json.JSONDecodeError as error:
        raise UsageError(f"--resume {run}: {CONFIG_FILE} is not valid JSON ({error})") from None
    if values.get("workflow") != workflow:
        raise UsageError(f"--resume {run} holds a run of `{values.get('workflow')}`, not of `{workflow}`; "
                         f"resume it with `{values.get('workflow')}`")
    return cfg.from_dict(cls, values)


def _conflict(config: Any, saved: Any, dest: str, flag: str) -> Optional[str]:
    """How the typed option ``dest`` disagrees with the saved config, or None."""
    if dest in EXEMPT:
        return None
    path = locate(config, dest)
    if path is None:
        raise UsageError(f"--resume: {flag} is not part of a saved config; drop it")
    given, kept = _value(config, path), _value(saved, path)
    if given == kept:
        return None
    return f"{flag} is {_show(kept)} in the saved config but {_show(given)} was given"


def locate(config: Any, dest: str) -> Optional[FieldPath]:
    """Where option ``dest`` lands in ``config``: a path of field names, or None."""
    model = "model" if hasattr(config, "model") else "target"
    if dest.startswith("proxy_"):
        candidates = [("proxy", RENAMED.get(dest[len("proxy_"):], dest[len("proxy_"):]))]
    else:
        name = RENAMED.get(dest, dest)
        candidates = [(name,), ("runtime", name), ("data", name), (model, name), ("proxy", "fasttext", name)]
    for path in candidates:
        if _has(config, path):
            return path
    return None


def _has(config: Any, path: FieldPath) -> bool:
    try:
        _value(config, path)
    except (AttributeError, KeyError):
        return False
    return True


def _value(config: Any, path: FieldPath) -> Any:
    value = config
    for name in path:
        value = value[name] if isinstance(value, dict) else getattr(value, name)
    return value


def _show(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return " ".join(map(str, value)) or "(none)"
    return str(value)
