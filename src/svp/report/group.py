"""Runs that differ only in their seed, as one group: mean, sample standard deviation and count.

Two runs are one group when their ``config.json`` is equal once the seed and
the options that do not change results are left out
(:attr:`RunSummary.setup`, :data:`svp.report.read.NOT_RESULTS`). The spread
is the *sample* standard deviation (ddof=1) over the runs; a group of one
has none.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence, Union

from svp.errors import UsageError
from svp.report.read import RunSummary

__all__ = ["RunGroup", "Stat", "as_group", "group_runs", "runs_of", "stat"]


@dataclass(frozen=True)
class Stat:
    """The mean of ``n`` values and their sample standard deviation (None for n = 1)."""

    mean: float
    std: Optional[float]
    n: int


def stat(values: Iterable[Optional[float]]) -> Optional[Stat]:
    """Mean, sample std (ddof=1) and count of the values that are not None; None when there are none."""
    present = [float(v) for v in values if v is not None]
    if not present:
        return None
    n = len(present)
    mean = math.fsum(present) / n
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in present) / (n - 1)) if n > 1 else None
    return Stat(mean, std, n)


@dataclass(frozen=True)
class RunGroup:
    """Runs of one setup (equal ``setup``), in the order given; the first names the group."""

    runs: tuple[RunSummary, ...]

    def __len__(self) -> int:
        return len(self.runs)

    @property
    def first(self) -> RunSummary:
        return self.runs[0]

    @property
    def seeds(self) -> list[Optional[int]]:
        return [run.seed for run in self.runs]

    @property
    def sizes(self) -> list[int]:
        """Every labeled size any run of the group trained on, ascending."""
        return sorted({size for run in self.runs for size in run.sizes})

    @property
    def shared(self) -> bool:
        return all(run.shared for run in self.runs)

    def accuracy(self, role: str, size: Optional[int]) -> Optional[Stat]:
        """The group's ``role`` ("proxy" or "target") accuracy (fraction) at ``size``, over the runs that have one."""
        return stat(getattr(run, f"{role}_accuracy").get(size) for run in self.runs)

    def seconds(self, what: str) -> Optional[Stat]:
        """A per-run time (a :class:`RunSummary` attribute or property, e.g. ``"total_time"``) over the runs
        that recorded it (None when none did)."""
        return stat(getattr(run, what) for run in self.runs)


def group_runs(runs: Sequence[RunSummary]) -> list[RunGroup]:
    """Groups of the runs that differ only in their seed, in the order each setup first appears.

    A run directory given twice counts once.
    """
    groups: dict[str, list[RunSummary]] = {}
    seen: set[str] = set()
    for run in runs:
        key = os.path.realpath(run.path)
        if key in seen:
            continue
        seen.add(key)
        groups.setdefault(run.setup, []).append(run)
    return [RunGroup(tuple(members)) for members in groups.values()]


def runs_of(runs: Union[RunSummary, RunGroup, Sequence[RunSummary]]) -> list[RunSummary]:
    """One run, a group, or runs, as a list of runs (in their order)."""
    if isinstance(runs, RunSummary):
        return [runs]
    return list(runs.runs if isinstance(runs, RunGroup) else runs)


def as_group(runs: Union[RunSummary, RunGroup, Sequence[RunSummary]]) -> RunGroup:
    """One run, or runs of one setup, as a :class:`RunGroup`.

    Raises
    ------
    UsageError
        When the runs are of more than one setup.
    """
    if isinstance(runs, RunGroup):
        return runs
    given = runs_of(runs)
    groups = group_runs(given)
    if len(groups) != 1:
        raise UsageError(f"{len(groups)} setups among {len(given)} runs ; give runs that differ only in their seed "
                         "(a group holds runs of one setup)")
    return groups[0]
