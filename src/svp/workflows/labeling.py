"""The labeling loop from Python: ask a run's question, teach it the answers, ask again.

``svp query`` asks through files and takes the answers as a file
(``--labels``); a notebook or a labeling app holds them in memory::

    q = Query(config)                 # a new run (or Query.resume(run_dir): one made by svp query, say)
    ids = q.ask()                     # the examples to label, best first
    q.teach({ids[0]: "cat", ids[1]: "dog"})
    ids = q.ask()                     # the proxy retrained on every label so far asks again

Each :meth:`Query.ask` and :meth:`Query.teach` is one call of the workflow
on the run directory (:func:`svp.workflows.query.run_query`), as one
``svp query --resume`` is: it takes the run's lock, writes the same files
the same way (a killed process loses nothing) and checks answers as it
checks a file's. The run's files and those of ``svp query`` are one and the
same: either may go on with a run the other made.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping, Optional

from svp import rundir
from svp.config import QueryConfig
from svp.errors import Interrupted, UsageError
from svp.workflows.answers import given_answers, read_labels
from svp.workflows.query import record_query_answers, run_query
from svp.workflows.registry import WORKFLOWS
from svp.workflows.resume import load_saved_config, resumed_config

#: what :meth:`Query.resume` takes besides what each call does: how it runs (not what the run is)
RUNTIME_OPTIONS = ("cuda", "devices", "quiet", "tensorboard", "mlflow", "plugins")

_NUMBERS = {"rank": int, "index": int, "score": float, "confidence": float}  # a question's numeric columns


class Query:
    """A labeling run driven from Python: :meth:`ask` a question, :meth:`teach` the answers, ask again.

    Parameters
    ----------
    config : QueryConfig
        A new run's config (``runtime.resume`` None, no ``labels``): the
        first :meth:`ask` creates its directory and asks the first question.
        To go on with a run, use :meth:`Query.resume`.

    Attributes
    ----------
    question : list of dict
        The rows of the last question :meth:`ask` returned (the columns of
        ``query_<round>.csv``: rank, index, id, score, predicted,
        confidence, label; numbers as numbers, None where empty); [] before.
    """

    def __init__(self, config: QueryConfig) -> None:
        if not isinstance(config, QueryConfig):
            raise UsageError(f"Query takes a QueryConfig, not {type(config).__name__} ; give svp.QueryConfig(...)")
        if config.runtime.resume is not None:
            raise UsageError(f"config.runtime.resume is {config.runtime.resume}, but Query(config) starts a new "
                             "run ; go on with that run by Query.resume(run_dir)")
        if config.labels is not None:
            raise UsageError(f"config.labels is {config.labels} ; a Query takes answers by teach(mapping): "
                             "leave labels None")
        self._config = config
        self._run: Optional[Path] = None
        self.question: list[dict] = []

    @classmethod
    def resume(cls, run_dir: str | os.PathLike, **options: Any) -> "Query":
        """Go on with the labeling run in ``run_dir`` (one made by ``svp query`` or by a Query).

        ``options`` are what each call does and how it runs, as on
        ``svp query --resume``'s command line: ``train_target``, ``cuda``,
        ``devices``, ``quiet``; the rest is the run's saved config.
        """
        taken = _call_options() + RUNTIME_OPTIONS
        unknown = sorted(set(options) - set(taken))
        if unknown:
            raise UsageError(f"Query.resume takes no option {', '.join(unknown)} ; give only {', '.join(taken)} "
                             f"(the run's {rundir.CONFIG} holds the rest; answers are given by teach())")
        run = Path(run_dir)
        saved = load_saved_config(run, "query", QueryConfig)
        runtime = {name: options[name] for name in RUNTIME_OPTIONS if name in options}
        calls = {name: options[name] for name in _call_options() if name in options}
        # a new run's config.json holds neither (they say what one call does): set by each call
        fresh = dataclasses.replace(saved, runtime=dataclasses.replace(saved.runtime, resume=None, **runtime),
                                    labels=None, **calls)
        query = cls(fresh)
        query._follow(run)
        return query

    @property
    def run(self) -> Optional[Path]:
        """The run directory (None until the first :meth:`ask` of a new run has made it)."""
        return self._run

    def ask(self) -> list[str]:
        """Train the proxy on every label so far and ask the next question; return its example ids, best first.

        The question's files are written as ``svp query`` writes them. Asked
        again before any answer, it returns the same question (nothing
        trains again). [] when every example of the pool is labeled.
        """
        try:
            result = run_query(self._config)
        except Interrupted as stop:  # Ctrl-C in a notebook: the next ask() goes on with the run it made
            if self._run is None and stop.run is not None and (Path(stop.run) / rundir.CONFIG).is_file():
                self._follow(Path(stop.run))
            raise
        if self._run is None:
            self._follow(result.run)
        self.question = last_question(result.run)
        return [row["id"] for row in self.question]

    def teach(self, answers: Mapping[Any, Any]) -> None:
        """Record answers to the questions asked: example id (or index, an int) -> class name (or number).

        Checked and recorded at once, in labels.csv, as ``svp query
        --labels FILE`` records a file's (None or "" for a label: not
        answered yet); the next :meth:`ask` trains on them.

        Raises
        ------
        UsageError
            An example that was not asked, a label that is no class, an
            answer contradicting a recorded label, no answer at all; nothing
            is recorded then.
        """
        if self._run is None:
            raise UsageError("teach() answers a question, and this new run has asked none yet ; call ask() first")
        record_query_answers(self._config, given_answers(answers))

    def _follow(self, run: Path) -> None:
        """From now on, each call resumes ``run``: its saved config (seed resolved), this Query's per-call and
        runtime options."""
        config = dataclasses.replace(self._config, runtime=dataclasses.replace(self._config.runtime, resume=str(run)))
        self._config = resumed_config(config, {}, WORKFLOWS["query"].per_call)
        self._run = run

    def __repr__(self) -> str:
        return f"Query(run={str(self._run) if self._run else None!r}, asked={len(self.question)})"


def _call_options() -> tuple[str, ...]:
    """What each call of the labeling loop does (its record's per-call fields) but the answers: teach() gives
    those."""
    return tuple(name for name in WORKFLOWS["query"].per_call if name != "labels")


def last_question(run: Path) -> list[dict]:
    """The rows of the last question of ``run`` waiting for answers ([] when none waits: the pool is labeled)."""
    rounds = rundir.query_rounds(run)
    if not rounds or rounds[-1] in read_labels(run, None).by_round():  # answered, and nothing was left to ask
        return []
    return [_typed(row) for row in rundir.read_rows(rundir.query_file(run, rounds[-1], "csv"))]


def _typed(row: dict[str, str]) -> dict:
    """A question's row with its numbers as numbers (None where the cell is empty: a cold start scores nothing)."""
    return {key: (_NUMBERS[key](value) if value else None) if key in _NUMBERS else value
            for key, value in row.items()}
