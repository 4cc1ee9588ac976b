"""Piecewise-constant learning-rate schedules from (epochs, rates) segments."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from svp.errors import UsageError


@dataclass(frozen=True)
class Schedule:
    """``epochs[i]`` epochs at ``learning_rates[i]``, one segment after another."""

    epochs: tuple[int, ...]
    learning_rates: tuple[float, ...]

    def __post_init__(self) -> None:
        validate_schedule(self.epochs, self.learning_rates)

    @property
    def total_epochs(self) -> int:
        return sum(self.epochs)

    def __iter__(self) -> Iterator[tuple[int, float]]:
        """Yield ``(epoch, learning_rate)`` for every epoch, epochs counted from 1."""
        epoch = 0
        for count, rate in zip(self.epochs, self.learning_rates):
            for _ in range(count):
                epoch += 1
                yield epoch, rate

    def segment_ends(self) -> set[int]:
        """The last epoch of each segment (where ``--checkpoint last`` saves)."""
        ends, total = set(), 0
        for count in self.epochs:
            total += count
            ends.add(total)
        return ends


def validate_schedule(epochs, learning_rates, prefix: str = "") -> None:
    """Fail with a usage error unless the segments pair up and are positive."""
    if len(epochs) != len(learning_rates):
        raise UsageError(
            f"{len(epochs)} --{prefix}epochs but {len(learning_rates)} --{prefix}learning-rate values: "
            f"give one learning rate per epoch segment (e.g. --{prefix}epochs 1 --{prefix}learning-rate 0.01 "
            f"--{prefix}epochs 90 --{prefix}learning-rate 0.1)"
        )
    if not epochs:
        raise UsageError(f"--{prefix}epochs needs at least one segment")
    if any(int(e) < 0 for e in epochs) or sum(epochs) <= 0:
        raise UsageError(f"--{prefix}epochs must be non-negative with a positive total, got {tuple(epochs)}")
    if any(float(r) <= 0 for r in learning_rates):
        raise UsageError(f"--{prefix}learning-rate must be positive, got {tuple(learning_rates)}")


def scale_learning_rates(rates: tuple[float, ...], batch_size: int, reference: int = 256) -> tuple[float, ...]:
    """Linear scaling rule (Goyal et al. 2017): rate * batch_size / reference."""
    return tuple(rate * batch_size / reference for rate in rates)
