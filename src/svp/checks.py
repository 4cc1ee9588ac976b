"""The checks every config field goes through, and how their errors name the field.

A bad value is refused when its config is made (type, finiteness, range),
with a message that names it the way the user gave it: by its config field
in Python (``ModelConfig.batch_size``), by its flag on the command line
(``--batch-size``, see :func:`named_by`).
"""
from __future__ import annotations

import contextlib
import contextvars
import math
from typing import Any, Iterable, Iterator, Mapping, NamedTuple, Optional

from svp.errors import UsageError

#: where the command line is building configs: field name -> the flag that sets it (see :func:`named_by`)
_FLAGS: contextvars.ContextVar[Optional[Mapping[str, str]]] = contextvars.ContextVar("svp_flags", default=None)


@contextlib.contextmanager
def named_by(flags: Mapping[str, str]) -> Iterator[None]:
    """Inside, errors name an option by its flag (``--batch-size``), as the command line knows it; outside, by
    its config field (``ModelConfig.batch_size``), as Python knows it."""
    token = _FLAGS.set(flags)
    try:
        yield
    finally:
        _FLAGS.reset(token)


def option_name(owner: Any, field_name: str) -> str:
    """How an error names the field ``field_name`` of the config ``owner`` (see :func:`named_by`)."""
    flags = _FLAGS.get()
    if flags is not None and field_name in flags:
        return flags[field_name]
    return f"{type(owner).__name__}.{field_name}"


class Range(NamedTuple):
    """The values a numeric option takes: integers or finite numbers, between bounds."""

    integer: bool
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False   # low itself excluded
    high_open: bool = False  # high itself excluded

    def describe(self) -> str:
        noun = "an integer" if self.integer else "a number"
        if self.low is not None and self.high is not None:
            return f"{noun} in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{noun} {'>' if self.low_open else '>='} {self.low:g}"
        return noun

    def holds(self, value: float) -> bool:
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below


COUNT = Range(integer=True, low=0)            # workers, examples split off
POSITIVE_COUNT = Range(integer=True, low=1)   # batch sizes, subset sizes
POSITIVE = Range(integer=False, low=0, low_open=True)
NON_NEGATIVE = Range(integer=False, low=0)
FRACTION = Range(integer=False, low=0, high=1)


def check_number(option: str, value: Any, allowed: Range) -> None:
    """Refuse ``value`` of ``option`` unless it is an int (or a finite number) that ``allowed`` holds."""
    kinds = int if allowed.integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise UsageError(f"{option} {value!r} is not {'an integer' if allowed.integer else 'a number'} ; "
                         f"give {allowed.describe()}")
    if not math.isfinite(value):
        raise UsageError(f"{option} {value} is not a finite number ; give {allowed.describe()}")
    if not allowed.holds(value):
        raise UsageError(f"{option} {value} is out of range ; give {allowed.describe()}")


def check_numbers(option: str, values: Any, allowed: Range) -> None:
    """Each of a repeated option's values (a tuple)."""
    if not isinstance(values, tuple):
        raise UsageError(f"{option} {values!r} is not a list of values ; give {option} once per value")
    for value in values:
        check_number(option, value, allowed)


def check_type(option: str, value: Any, kind: type, choices: Optional[Iterable[str]] = None) -> None:
    """Refuse a value that is not a ``kind`` (a flag's bool, a name's str), or not one of ``choices``."""
    if not isinstance(value, kind):
        raise UsageError(f"{option} {value!r} is not {'true or false' if kind is bool else 'a text'} ; "
                         f"give {_bool_hint(option) if kind is bool else 'a name'}")
    if choices is not None and value not in choices:
        raise UsageError(f"{option} {value!r} is not one of {', '.join(choices)} ; choose one of them")


def _bool_hint(option: str) -> str:
    return f"{option} or --no-{option[2:]}" if option.startswith("--") else "True or False"
