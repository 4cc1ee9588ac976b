"""What happens in a run, as events, and the sinks that receive them.

A run tells what it does as :class:`Event` s: it started, a training ended
an epoch (with its metrics), a model finished training, examples were
selected, a question was asked, answers were recorded, the run ended. Sinks
receive them: the run's CSV files (:class:`svp.workflows.run.CsvSink`), the
log, and optional trackers (``svp.tracking``: TensorBoard, MLflow) or a
user's own::

    class Printer(svp.events.Sink):
        def handle(self, event):
            print(event.name, event.role, event.nexamples, dict(event.values))

    svp.events.add_sink(Printer())   # every run of this process, until removed

Events are emitted by the process that writes the run directory (rank 0
under ``torchrun``). A sink that is not :attr:`Sink.essential` and fails is
logged and dropped for the rest of the run: a tracker going away never costs
the run its results.
"""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence

log = logging.getLogger(__name__)

RUN_STARTED = "run_started"      # values: workflow, config (the run's config.json as a dict)
EPOCH_ENDED = "epoch_ended"      # values: epoch, learning_rate, train_accuracy, dev_accuracy (-1: none), seconds
TRAINED = "trained"              # values: the proxy.csv / target.csv / results.csv row
SELECTED = "selected"            # values: the selection.csv row, and "indices" (the picks, best first)
ASKED = "asked"                  # values: round, "indices" of the question, best first
ANSWERED = "answered"            # values: the "indices" labeled, their "labels" (names), the "rounds" they answer
RUN_ENDED = "run_ended"          # values: status ("finished", "interrupted" or "failed")
#: every event's name, in the order a run emits them
EVENTS = (RUN_STARTED, EPOCH_ENDED, TRAINED, SELECTED, ASKED, ANSWERED, RUN_ENDED)


@dataclass(frozen=True)
class Event:
    """One thing a run did.

    ``role`` is the model it is about ("proxy", "target", or "train" for
    ``svp train``), ``nexamples`` the size of the labeled set it concerns;
    ``values`` holds its figures (numbers, texts, index arrays), as listed
    with each name in :data:`EVENTS`.
    """

    name: str
    run: Optional[Path]
    values: Mapping[str, Any] = field(default_factory=dict)
    role: Optional[str] = None
    nexamples: Optional[int] = None


class Sink:
    """Receives a run's events; override :meth:`handle` (and :meth:`close` to flush)."""

    #: a failure of an essential sink fails the run (the CSV files); another's is logged, and the sink dropped
    essential: bool = False

    def handle(self, event: Event) -> None:
        """Take one event (called in the order they happen)."""

    def close(self) -> None:
        """The run ended: flush and let go of what the sink holds."""


_added: list[Sink] = []      # add_sink's: every run of the process
_attached: list[list[Sink]] = []  # the sinks of each run in progress (innermost last)
_run: list[Optional[Path]] = []
_failed: set[int] = set()  # ids of the sinks dropped for the rest of the run in progress


def add_sink(sink: Sink) -> None:
    """Send every run's events (in this process) to ``sink`` too, until :func:`remove_sink`."""
    if not isinstance(sink, Sink):
        raise TypeError(f"{sink!r} is not an svp.events.Sink ; subclass it and override handle()")
    _added.append(sink)


def remove_sink(sink: Sink) -> None:
    """Stop sending events to a sink :func:`add_sink` added."""
    _added.remove(sink)


@contextlib.contextmanager
def attached(sinks: Sequence[Sink], run: Optional[Path]) -> Iterator[None]:
    """Send the events emitted inside to ``sinks`` (and to those :func:`add_sink` added), about ``run``;
    ``sinks`` are closed at the end (those added stay open)."""
    _attached.append(list(sinks))
    _run.append(run)
    try:
        yield
    finally:
        _attached.pop()
        _run.pop()
        for sink in sinks:
            _call(sink, sink.close)
        if not _attached:
            _failed.clear()


def receiving() -> bool:
    """Whether any sink would receive an event now (lets a caller skip building one)."""
    return bool(_added or any(_attached))


def emit(name: str, values: Mapping[str, Any], *, role: Optional[str] = None,
         nexamples: Optional[int] = None) -> None:
    """Send the event ``name`` with ``values`` to the sinks of the run in progress, then to those added."""
    if name not in EVENTS:
        raise ValueError(f"unknown event {name!r}; one of {', '.join(EVENTS)}")
    event = Event(name, _run[-1] if _run else None, dict(values), role, nexamples)
    for sink in [*(_attached[-1] if _attached else ()), *_added]:
        _call(sink, sink.handle, event)


def _call(sink: Sink, method: Any, *args: Any) -> None:
    if id(sink) in _failed:
        return
    try:
        method(*args)
    except Exception as error:
        if sink.essential:
            raise
        _failed.add(id(sink))  # one warning, not one per event
        log.warning("%s failed (%s: %s) and receives no more events of this run", type(sink).__name__,
                    type(error).__name__, error)
