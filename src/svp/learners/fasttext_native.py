"""Around fastText's C++ library, for the duration of a call: zero-filled heap allocations, a silenced stderr."""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform
import sys
from contextlib import contextmanager
from typing import Iterator, Optional

log = logging.getLogger(__name__)

# glibc's mallopt parameter: new allocations are filled with ~byte, freed ones with byte.
_M_PERTURB = -6


def _glibc() -> Optional[ctypes.CDLL]:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


@contextmanager
def zeroed_allocations() -> Iterator[None]:
    """Make glibc zero-fill new heap allocations for the duration.

    fastText 0.9.3 stores matrices in a non-zeroing aligned vector and its
    ``uniform`` initialiser fills only ``thread`` tenths of the input matrix,
    so the rest holds whatever the heap held before: training then hits
    "Encountered NaN" or starts from garbage (large matrices escape this by
    being fresh, zeroed pages from mmap). With glibc's perturb byte set to
    0xFF every new allocation is zeroed, which gives 0.9.2's behaviour
    (untouched rows start at 0). Elsewhere this does nothing.
    """
    libc = _glibc()
    if libc is None:
        yield
        return
    previous = int(os.environ.get("MALLOC_PERTURB_", "0") or 0) & 0xFF
    libc.mallopt(_M_PERTURB, 0xFF)
    try:
        yield
    finally:
        libc.mallopt(_M_PERTURB, previous)


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """Send what fastText's C++ writes to stderr (autotune's progress line and its warnings that options given
    are not searched) to /dev/null, unless the log shows debug messages."""
    if log.isEnabledFor(logging.DEBUG):
        yield
        return
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
