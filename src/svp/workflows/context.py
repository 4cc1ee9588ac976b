"""The run in progress: its resolved environment, the one writer of its directory, the source of its events.

Made by :func:`svp.workflows.setup.open_run`. Every file of the run
directory is written through :meth:`Context.write` (by rank 0 under
``torchrun``, every rank waiting until it is on disk); results rows are
events (:meth:`Context.trained`, :meth:`Context.selected`) that the CSV sink
appends to proxy.csv, target.csv, results.csv or selection.csv, and that the
log, TensorBoard, MLflow and a user's sinks receive too (see :mod:`svp.events`).
"""
from __future__ import annotations

import contextlib
import logging
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np
import torch

from svp import config as cfg
from svp import events, progress, rundir
from svp.data import Data
from svp.engine import distributed
from svp.engine.device import derive_seed
from svp.errors import Interrupted
from svp.learners import Environment
from svp.rundir import PROXY, TARGET, RunLock
from svp.workflows.identity import RunExamples

log = logging.getLogger(__name__)


def write(fn: Callable[..., Any], *args: Any) -> None:
    """Run a file write on rank 0 only; every rank waits until it is on disk.

    The first barrier keeps rank 0 from writing before every rank has
    passed its own "is it written yet?" check (e.g. ``path.exists()``), so
    no rank sees the file early, skips this call and its barriers.
    """
    distributed.barrier()
    if distributed.is_main():
        fn(*args)
    distributed.barrier()


class CsvSink(events.Sink):
    """The run's results tables, as the original implementation wrote them: a row per training (proxy.csv,
    target.csv; results.csv for ``svp train``) and per selection (selection.csv)."""

    essential = True  # the rows are how a resumed run knows what is done

    def handle(self, event: events.Event) -> None:
        if event.name == events.TRAINED:
            table = rundir.role_csv(event.role) if event.role in (PROXY, TARGET) else rundir.RESULTS_CSV
            rundir.append_row(event.run / table, dict(event.values))
        elif event.name == events.SELECTED:
            row = {key: value for key, value in event.values.items() if key != "indices"}
            rundir.append_row(event.run / rundir.SELECTION_CSV, row)


class LogSink(events.Sink):
    """What a person watching the log wants to see of each training (each epoch's figures at debug level)."""

    def handle(self, event: events.Event) -> None:
        values = event.values
        if event.name == events.TRAINED:
            log.info("%s on %d examples: test accuracy %.4f, %.1f s training", event.role, event.nexamples,
                     values["test_accuracy"], values["train_time"])
        elif event.name == events.EPOCH_ENDED:
            log.debug("%s on %d examples, epoch %d: learning rate %g, train %.4f, dev %.4f", event.role,
                      event.nexamples, values["epoch"], values["learning_rate"], values["train_accuracy"],
                      values["dev_accuracy"])


@dataclass
class Context:
    """A workflow's config (seed resolved), what its learners share, its pool and run directory.

    Used as ``with open_run(config) as ctx:``: the run's sinks receive its
    events inside, and the run directory's lock (held by the process that
    writes, rank 0) is released at the end.
    """

    config: Any
    env: Environment
    pool: np.ndarray
    run: Path
    seed: int
    lock: Optional[RunLock] = None
    proxy_env: Optional[Environment] = None  # when the proxy sees its own view of the data (--proxy-dataset)
    examples: Optional[RunExamples] = None  # which example each row of the run is (svp.workflows.identity)
    sinks: Sequence[events.Sink] = ()  # besides the CSV files and the log (--tensorboard, --mlflow)
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack, repr=False)

    def __enter__(self) -> "Context":
        self._stack.enter_context(events.attached([CsvSink(), LogSink(), *self.sinks], self.run))
        self.emit(events.RUN_STARTED, {"workflow": self.config.workflow, "config": cfg.to_dict(self.config)})
        return self

    def __exit__(self, exc_type: Any, error: Any, traceback: Any) -> None:
        status = "finished" if exc_type is None else \
            "interrupted" if issubclass(exc_type, KeyboardInterrupt) else "failed"
        try:
            self.emit(events.RUN_ENDED, {"status": status})
        finally:
            self._stack.close()
            if self.lock is not None:
                self.lock.release()
        if exc_type is KeyboardInterrupt:  # Ctrl-C: the CLI says how to resume this run
            raise Interrupted("Ctrl-C", 128 + signal.SIGINT, self.run) from None
        for stop in (error, progress.stop_requested()):  # the one raised, and one swallowed where it landed
            if isinstance(stop, Interrupted) and stop.run is None:
                stop.run = self.run

    def write(self, fn: Callable[..., Any], *args: Any) -> None:
        """``fn(*args)`` writes a file of the run: by rank 0 alone, every rank waiting (see :func:`write`)."""
        write(fn, *args)

    def save_index(self, path: Path, indices: np.ndarray) -> None:
        """An index file of the run (see :func:`svp.rundir.save_index`)."""
        write(rundir.save_index, path, indices)

    def emit(self, name: str, values: Mapping[str, Any]) -> None:
        """The event ``name`` with ``values`` to the run's sinks, from the process that writes the run (rank 0)."""
        if distributed.is_main():
            events.emit(name, values)

    def trained(self, role: str, row: dict) -> None:
        """A training of ``role`` is done: its results row (in proxy.csv, target.csv or results.csv) marks it."""
        write(lambda: events.emit(events.TRAINED, row, role=role, nexamples=int(row["nexamples"])))

    def selected(self, row: dict, picked: np.ndarray) -> None:
        """A selection is done: its selection.csv row marks it; ``picked`` are the examples chosen, best first."""
        write(lambda: events.emit(events.SELECTED, {**row, "indices": picked}, nexamples=int(row["nexamples"])))

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
