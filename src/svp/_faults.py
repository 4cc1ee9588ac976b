"""Test-only fault injection: die abruptly at a named point of a run.

The resume tests set ``SVP_TEST_KILL_AT=<event>:<n>`` and the process
SIGKILLs itself (no cleanup, no ``finally``) the ``n``-th time it reaches
:func:`fault_point` with that event. Events::

    epoch          after each training epoch (its checkpoint is written)
    select         during a selection, after scoring, before ranking
    write:<name>   inside an atomic write of the file <name> (e.g. proxy.csv),
                   after its temporary file is written, before it is moved
                   into place: the temporary file is left behind

Without the variable every call is one dictionary lookup.
"""
from __future__ import annotations

import os
import signal
from collections import Counter

ENV = "SVP_TEST_KILL_AT"
_seen: Counter = Counter()


def fault_point(event: str) -> None:
    """SIGKILL this process if ``SVP_TEST_KILL_AT`` names ``event`` and this is its n-th time."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    name, _, count = spec.rpartition(":")
    if name != event:
        return
    _seen[event] += 1
    if _seen[event] == int(count):
        os.kill(os.getpid(), signal.SIGKILL)
