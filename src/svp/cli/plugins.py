"""``--plugin MODULE``: a user's module, imported before the command line is read.

A plugin registers what it brings when imported (a model with
``svp.models.register``, a method with ``svp.selection.register_method``, a
learner kind, a dataset, a workflow, a sink), so that ``svp active`` offers
it, its help lists it, and ``--resume`` of a run that used it works. svp
imports only the modules named on the command line: a run directory names
its plugins in config.json, but a file never makes svp import code (a
resumed run whose plugins are not given again is refused).
"""
from __future__ import annotations

import importlib
import logging
import sys
from typing import Sequence

from svp.errors import UsageError

log = logging.getLogger(__name__)

FLAG = "--plugin"


def plugins_in(argv: Sequence[str]) -> list[str]:
    """The modules ``argv`` names with ``--plugin MODULE`` or ``--plugin=MODULE``, in order."""
    names = []
    for at, word in enumerate(argv):
        if word == "--":
            break
        if word == FLAG and at + 1 < len(argv):
            names.append(argv[at + 1])
        elif word.startswith(FLAG + "="):
            names.append(word[len(FLAG) + 1:])
    return names


def import_plugins(names: Sequence[str]) -> None:
    """Import each module of ``names`` (a dotted name on ``sys.path``, the current directory included)."""
    if names and "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")  # `svp --plugin my_plugin` finds ./my_plugin.py, as `python -m` would
    for name in names:
        if not name or name.startswith(".") or any(not part.isidentifier() for part in name.split(".")):
            raise UsageError(f"{FLAG} {name!r} is not a module name ; give a dotted module name importable from "
                             "here (e.g. my_plugin for ./my_plugin.py)")
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name is not None and name.startswith(error.name):
                raise UsageError(f"{FLAG} {name}: no such module ; give the name of a module on the Python path "
                                 "(run svp from the folder that holds it, or install it)") from None
            raise UsageError(_failed(name, error)) from error
        except Exception as error:  # the plugin's own code failed: its author's to fix, said in one line
            raise UsageError(_failed(name, error)) from error
        log.info("plugin %s imported", name)


def _failed(name: str, error: Exception) -> str:
    why = (str(error).strip().splitlines() or [""])[0]
    return (f"{FLAG} {name} failed as it was imported ({type(error).__name__}: {why}) ; fix the plugin (--debug "
            "shows where)")
