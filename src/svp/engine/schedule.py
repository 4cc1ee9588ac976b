"""Piecewise-constant learning-rate schedules from (epochs, rates) segments."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class Schedule:
    """``epochs[i]`` epochs at ``learning_rates[i]``, one segment after another.

    The segments come from a :class:`~svp.config.ModelConfig`, which checked them.
    """

    epochs: tuple[int, ...]
    learning_rates: tuple[float, ...]

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


def scale_learning_rates(rates: tuple[float, ...], batch_size: int, reference: int = 256) -> tuple[float, ...]:
    """Linear scaling rule (Goyal et al. 2017): rate * batch_size / reference."""
    return tuple(rate * batch_size / reference for rate in rates)
