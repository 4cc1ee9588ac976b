"""An option a user sets on the command line, declared next to the config field it sets.

Options are declared by whoever owns the field: :mod:`svp.cli.options` the
data, model and run options, each workflow record its own (see
:class:`svp.workflows.registry.Workflow`). The CLI turns them into argparse
arguments; their defaults and help's "(default: ...)" come from the config.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class Option:
    """One option: the config section and field it sets (the field is also its argparse dest), its flags,
    help and argparse extras.

    ``section`` is "data", "model", "runtime" or "selection" (a section of
    the config), or "workflow" (a field of the workflow's config itself).
    """

    section: str
    field: str
    flags: tuple[str, ...]
    help: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def repeated(self) -> bool:
        return self.kwargs.get("action") == "append"

    @property
    def takes_value(self) -> bool:
        return self.kwargs.get("action") in (None, "append")


def flag_option(section: str, name: str, flags: tuple[str, ...], help: str) -> Option:
    """An on/off option: ``--flag`` and ``--no-flag``."""
    return Option(section, name, flags, help, {"action": argparse.BooleanOptionalAction})
