"""The resolved environment a workflow runs in (made by :func:`svp.workflows.setup.open_run`)."""
from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from svp import progress
from svp.data import Data
from svp.engine.device import derive_seed
from svp.errors import Interrupted
from svp.learners import Environment
from svp.rundir import PROXY, RunLock
from svp.workflows.identity import RunExamples


@dataclass
class Context:
    """A workflow's config (seed resolved), what its learners share, its pool and run directory.

    Used as ``with open_run(config) as ctx:``, so that the run directory's
    lock (held by the process that writes, rank 0) is released at the end.
    """

    config: Any
    env: Environment
    pool: np.ndarray
    run: Path
    seed: int
    lock: Optional[RunLock] = None
    proxy_env: Optional[Environment] = None  # when the proxy sees its own view of the data (--proxy-dataset)
    examples: Optional[RunExamples] = None  # which example each row of the run is (svp.workflows.identity)

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, exc_type: Any, error: Any, traceback: Any) -> None:
        if self.lock is not None:
            self.lock.release()
        if exc_type is KeyboardInterrupt:  # Ctrl-C: the CLI says how to resume this run
            raise Interrupted("Ctrl-C", 128 + signal.SIGINT, self.run) from None
        for stop in (error, progress.stop_requested()):  # the one raised, and one swallowed where it landed
            if isinstance(stop, Interrupted) and stop.run is None:
                stop.run = self.run

    @property
    def data(self) -> Data:
        return self.env.data

    @property
    def dev(self) -> np.ndarray:
        return self.env.dev

    @property
    def device(self) -> torch.device:
        return self.env.device

    def env_of(self, role: str) -> Environment:
        """What the learner of ``role`` trains and scores on."""
        return self.proxy_env if role == PROXY and self.proxy_env is not None else self.env

    def path(self, *parts: str | int) -> Path:
        return self.run.joinpath(*map(str, parts))

    def seed_for(self, phase: str, nexamples: int) -> int:
        """The seed of one phase (a training, a selection): a restarted phase repeats itself exactly."""
        return derive_seed(self.seed, phase, nexamples)
