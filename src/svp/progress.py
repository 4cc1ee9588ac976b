"""Progress bars: tqdm on every loop a person waits on, silent when asked; where a stop requested is raised.

Bars show on a terminal and hide when output goes to a file or pipe (tqdm's
``disable=None``); ``--quiet`` hides them everywhere, and so does every
process but the first under ``torchrun`` (see ``engine.distributed``).

A signal handler raises where it lands, and where that is a finalizer or
an after-fork hook (DataLoader workers starting) Python prints the
exception and carries on: the interruption is lost. So the handler also
:func:`request_stop`, and every step of a loop with a bar raises it
(:func:`check_stop`) until the CLI has taken it.
"""
from __future__ import annotations

from typing import Iterable, Iterator, Optional

from tqdm.auto import tqdm

_quiet = False
_stop: Optional[BaseException] = None


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def request_stop(error: Optional[BaseException]) -> None:
    """Have every loop with a bar raise ``error`` at its next step (None: the stop was taken)."""
    global _stop
    _stop = error


def stop_requested() -> Optional[BaseException]:
    """The stop requested and not taken yet, if any."""
    return _stop


def check_stop() -> None:
    """Raise the stop requested, if any."""
    if _stop is not None:
        raise _stop


class _Bar(tqdm):
    def __iter__(self) -> Iterator:
        for item in super().__iter__():
            check_stop()
            yield item


def bar(iterable: Optional[Iterable] = None, **kwargs) -> tqdm:
    """A tqdm bar that honours ``--quiet``, hides off-terminal, and raises a stop requested at each step."""
    disable = True if _quiet else None
    return _Bar(iterable, disable=disable, leave=False, dynamic_ncols=True, **kwargs)
