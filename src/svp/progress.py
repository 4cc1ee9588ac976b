"""Progress bars: tqdm on every loop a person waits on, silent when asked.

Bars show on a terminal and hide when output goes to a file or pipe (tqdm's
``disable=None``); ``--quiet`` hides them everywhere, and so does every
process but the first under ``torchrun`` (see ``engine.distributed``).
"""
from __future__ import annotations

from typing import Iterable, Optional

from tqdm.auto import tqdm

_quiet = False


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def bar(iterable: Optional[Iterable] = None, **kwargs) -> tqdm:
    """A tqdm bar that honours ``--quiet`` and hides off-terminal."""
    disable = True if _quiet else None
    return tqdm(iterable, disable=disable, leave=False, dynamic_ncols=True, **kwargs)
