"""Learning-rate schedules: piecewise-constant (epochs, rates) segments, and the automatic one sized to the data."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Optional


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


# An automatic schedule (ModelConfig.schedule "auto", the default for data of one's own), in optimizer steps:
# about AUTO_EPOCHS passes over the labeled set, but never fewer than FLOOR_STEPS updates (a few hundred labels
# would otherwise get a few dozen) nor more than the configured epochs' worth (the paper's schedule is the most
# a large set costs). The rate warms up linearly over WARMUP of the epochs, then decays along a cosine (Loshchilov
# & Hutter 2017; Goyal et al. 2017 for the warmup).
FLOOR_STEPS = 300
AUTO_EPOCHS = 40
WARMUP = 0.05


def step_budget(num_examples: int, batch_size: int, ceiling_epochs: int, steps: Optional[int] = None) -> int:
    """The optimizer steps an automatic schedule plans for ``num_examples`` (``steps`` when the user fixed it)."""
    if steps is not None:
        return steps
    per_epoch = -(-num_examples // batch_size)
    return min(max(FLOOR_STEPS, AUTO_EPOCHS * per_epoch), max(ceiling_epochs, 1) * per_epoch)


def warmup_cosine(budget: int, num_examples: int, batch_size: int, peak: float) -> Schedule:
    """One-epoch segments covering ``budget`` steps: a linear warmup to ``peak``, then a cosine decay (the
    last epoch's rate is small but not 0)."""
    epochs = max(1, -(-budget // -(-num_examples // batch_size)))
    warm = round(WARMUP * epochs) if epochs >= 10 else 0
    rates = []
    for epoch in range(1, epochs + 1):
        if epoch <= warm:
            rates.append(peak * epoch / warm)
        else:
            progress = (epoch - warm - 0.5) / (epochs - warm)
            rates.append(peak * 0.5 * (1 + math.cos(math.pi * progress)))
    return Schedule((1,) * epochs, tuple(rates))
