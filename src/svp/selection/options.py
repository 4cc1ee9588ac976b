"""Options declared as dataclasses: what a selection method (and a learner kind) may be given.

A method or learner kind that has options of its own declares them as a
dataclass whose fields all have defaults, each field's
``metadata={"help": ...}`` saying what it does. The command line and the
configs learn them from :func:`option_fields`; :func:`parse_options` checks
a mapping of values against them (an unknown name or a value of the wrong
type is refused, naming it) and gives the dataclass instance.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Mapping, NamedTuple, Optional


class OptionField(NamedTuple):
    """One option: its name, type (None when unknown), default and help text."""

    name: str
    type: Any
    default: Any
    help: str


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def check_options_class(cls: Any, owner: str, *, frozen: bool = True) -> None:
    """Refuse an options class that is not a dataclass (``frozen`` when asked) with a default for every field.

    ``owner`` names what declares it, for the message ("method 'bald'").
    """
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise ValueError(f"the options of {owner} must be a dataclass, got {cls!r}")
    if frozen and not cls.__dataclass_params__.frozen:
        raise ValueError(f"the options of {owner} ({cls.__name__}) must be a frozen dataclass")
    missing = [f.name for f in dataclasses.fields(cls) if f.init and _default(f) is dataclasses.MISSING]
    if missing:
        raise ValueError(f"the options of {owner} ({cls.__name__}) need a default for {', '.join(missing)}")


def _hints(cls: type) -> dict[str, Any]:
    """The fields' types, resolved from their (string) annotations where possible."""
    try:
        return typing.get_type_hints(cls)
    except (NameError, TypeError):
        return {f.name: f.type for f in dataclasses.fields(cls) if not isinstance(f.type, str)}


def option_fields(cls: type) -> list[OptionField]:
    """The options ``cls`` declares, in field order: name, type, default and help."""
    hints = _hints(cls)
    return [OptionField(f.name, hints.get(f.name), _default(f), f.metadata.get("help", ""))
            for f in dataclasses.fields(cls) if f.init]


def _fits(value: Any, kind: Any) -> bool:
    """Whether ``value`` is of type ``kind`` (ints for floats; no bool for a number); unknown types pass."""
    if kind is None or kind is Any:
        return True
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return any(_fits(value, arg) for arg in typing.get_args(kind))
    if kind is type(None):
        return value is None
    if kind in (int, float):
        allowed = (int,) if kind is int else (int, float)
        return isinstance(value, allowed) and not isinstance(value, bool)
    origin = typing.get_origin(kind) or kind
    return isinstance(value, origin) if isinstance(origin, type) else True


def _type_name(kind: Any) -> str:
    return getattr(kind, "__name__", None) or str(kind).replace("typing.", "")


def parse_options(cls: Optional[type], values: Optional[Mapping[str, Any]], owner: str) -> Any:
    """``values`` checked against the options class ``cls``, as an instance of it (defaults for the rest).

    Parameters
    ----------
    cls : type or None
        The declared options (None: none declared, so only an empty ``values`` passes).
    values : mapping, optional
        Option name -> value.
    owner : str
        What the options are for, in messages ("method 'bald'").

    Returns
    -------
    object or None
        The ``cls`` instance; None when ``cls`` is None.

    Raises
    ------
    ValueError
        An unknown option or a value of the wrong type, naming it.
    """
    values = dict(values or {})
    if cls is None:
        if values:
            raise ValueError(f"{owner} takes no options, got {', '.join(sorted(values))}")
        return None
    declared = {f.name: f for f in option_fields(cls)}
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for {owner}; choose from: "
                         f"{', '.join(declared) or '(none)'}")
    for name, value in values.items():
        kind = declared[name].type
        if not _fits(value, kind):
            raise ValueError(f"option {name}={value!r} of {owner} is not {_type_name(kind)}")
        if kind is float and isinstance(value, int):
            values[name] = float(value)
    return cls(**values)
