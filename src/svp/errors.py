"""Errors the user can fix."""


class UsageError(Exception):
    """Bad user input: the CLI prints it as ``svp: error: ...`` and exits 2."""
