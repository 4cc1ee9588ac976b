"""Errors the user can fix, and interruptions a run survives."""
from __future__ import annotations

from pathlib import Path
from typing import Optional


class UsageError(Exception):
    """Bad user input: the CLI prints it as ``svp: error: ...`` and exits 2."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a workflow; ``run`` is its run directory (None: not made yet).

    A KeyboardInterrupt, so that no ``except Exception`` (a download's fallback, a sweep in Python) takes it
    for an error and goes on. The CLI prints one line saying how to resume, and exits 128 + the signal's number.
    """

    def __init__(self, signal_name: str, exit_code: int, run: Optional[Path] = None) -> None:
        super().__init__(signal_name)
        self.signal_name, self.exit_code, self.run = signal_name, exit_code, run
