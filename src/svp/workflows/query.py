"""``svp query``: the labeling loop with a person answering.

The first call trains the proxy on the labels the dataset has (or, with
none, makes a cold start) and writes the question ``query_<round>.csv``:
the ``--budget`` examples to label next, best first. The person labels them
(in that CSV's ``label`` column, in a file of their own, or in Label Studio)
and the next call, ``svp query --resume RUN --labels ANSWERS``, checks the
answers, adds them to the run's ``labels.csv``, replays the loop from the
run's files, retrains the proxy on every label so far and asks the next
question. ``svp active`` is this loop with an oracle answering (see
:mod:`svp.workflows.loop`).

Answers come from a file (``--labels``) or, from Python, as a mapping
(:class:`svp.workflows.labeling.Query`); both become the same rows of
answers (:class:`~svp.workflows.answers.Answers`), checked and recorded by
the same code.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import os
from pathlib import Path
from typing import Optional

import numpy as np

from svp import events, rundir
from svp.config import QueryConfig
from svp.data import UNKNOWN, Data
from svp.data.labels import class_names, example_ids, relabeled
from svp.errors import UsageError
from svp.learners import learner_kind
from svp.selection import METHODS, method_scores
from svp.workflows import answers as answer_files
from svp.workflows.answers import Answers, Labels
from svp.workflows import label_studio
from svp.workflows.context import Context
from svp.workflows.identity import record, record_anew, written_ids
from svp.workflows.loop import Annotator, Question, run_loop, unlabeled_pool
from svp.workflows.result import RunResult
from svp.workflows.setup import open_run

log = logging.getLogger(__name__)


def validate_query(config: QueryConfig, data: Data, pool: np.ndarray, dev: np.ndarray,
                   answers: Optional[Answers] = None) -> None:
    """What only the data can refuse: a cold start by features the proxy cannot give, answers without a run
    (``answers``: those given in memory)."""
    if config.labels is not None and answers is not None:
        raise UsageError(f"--labels {config.labels} and {answers.source} both give answers ; give them in the file "
                         "or in memory, not both")
    if config.labels is not None and not config.runtime.resume:
        raise UsageError(f"--labels {config.labels} answers a question an earlier call asked ; give that run "
                         "too: svp query --resume RUN --labels FILE")
    if answers is not None and not config.runtime.resume:
        raise UsageError(f"{answers.source} answers a question an earlier call asked ; give that run too "
                         "(config.runtime.resume)")
    kind = learner_kind(config.proxy.arch)
    if config.cold_start != "random" and config.proxy_dataset is None and "features" not in kind.provides:
        raise UsageError(f"--cold-start {config.cold_start} needs features, which --proxy-arch "
                         f"{config.proxy.arch} cannot give before training ; give --proxy-dataset (embeddings), or "
                         "--cold-start random")
    if not (data.targets("train")[pool] == UNKNOWN).any():
        raise UsageError(f"every training example of {config.data.dataset} is labeled, so there is nothing to ask "
                         "; use svp active (it reads the labels) or add unlabeled examples")


def run_query(config: QueryConfig, answers: Optional[Answers] = None) -> RunResult:
    """Record the answers given, then train the proxy on every label so far and ask the next question.

    Parameters
    ----------
    config : QueryConfig
        A new run's config, or a resumed run's (``runtime.resume`` set).
    answers : Answers, optional
        Answers given in memory (see :func:`svp.workflows.answers.given_answers`), instead of the file
        ``config.labels`` names.

    Returns
    -------
    RunResult
        The run (``os.fspath(result)`` is its directory); its question waits in ``query_<round>.csv``.
    """
    with open_run(config, functools.partial(validate_query, answers=answers)) as ctx:
        known = ctx.pool[ctx.data.targets("train")[ctx.pool] != UNKNOWN]  # labeled in the dataset itself
        given = _record(ctx, answers)
        _show_labels(ctx, given)
        final_size = len(known) + len(given.indices)
        person = Person(given.by_round())
        run_loop(ctx, person, known, lambda round_, labeled: _question_size(ctx, config, labeled),
                 config.first_question, lambda size: config.train_target and size == final_size)
    return RunResult(ctx.run, "query")


def record_query_answers(config: QueryConfig, answers: Optional[Answers] = None) -> RunResult:
    """Only record the answers given to a run's questions (the first half of :func:`run_query`, with its checks
    and files): nothing trains, nothing is asked. ``config.runtime.resume`` names the run."""
    with open_run(config, functools.partial(validate_query, answers=answers)) as ctx:
        _record(ctx, answers)
    return RunResult(ctx.run, "query")


def _record(ctx: Context, answers: Optional[Answers]) -> Labels:
    """labels.csv checked, then this call's answers added to it (``answers``, or the file --labels names)."""
    given = answer_files.read_labels(ctx.run, class_names(ctx.data), _run_ids(ctx))
    _check_recorded(ctx, given)
    if ctx.config.labels is not None:
        source = f"--labels {ctx.config.labels}"
        _check_asked(ctx.run, rundir.query_rounds(ctx.run), source)  # a run without a question: before the file
        answers = answer_files.answers_file(Path(ctx.config.labels))
    return record_answers(ctx, answers, given)


def _run_ids(ctx: Context) -> list[list[str]]:
    """The ids of the run's rows: as they are now, and as the run last recorded them (a kill may fall between
    rewriting labels.csv and examples.csv)."""
    examples = ctx.examples
    return [examples.identity.ids] + ([examples.previous.ids] if examples.previous is not None else [])


def _check_recorded(ctx: Context, given: Labels) -> None:
    """labels.csv names pool examples the dataset did not label when the run started, each once (it is a file a
    person may edit); a run whose labels.csv is lost is not taken for one nobody answered."""
    path = ctx.path(rundir.LABELS_CSV)
    unknown = ctx.data.targets("train") == UNKNOWN
    outside = [int(i) for i in given.indices if not (0 <= i < len(unknown) and unknown[i])]
    if outside:
        raise UsageError(f"{path} labels example {outside[0]}, which is not an unlabeled example of "
                         f"{ctx.config.data.dataset} ; restore the file")
    if len(np.unique(given.indices)) != len(given.indices):
        raise UsageError(f"{path} labels an example twice ; restore the file (one row per example)")
    known = int((~unknown[ctx.pool]).sum())
    trained = [int(row["nexamples"]) for row in rundir.read_rows(ctx.path(rundir.PROXY_CSV))]
    if trained and max(trained) > known + len(given.indices):
        raise UsageError(f"{path} holds {len(given.indices)} labels, but this run's proxy trained on "
                         f"{max(trained)} examples ({known} labeled in the data) ; restore {path.name} from a backup "
                         f"(or give the answers again: svp query --resume {ctx.run} --labels FILE, one file a "
                         "question, in order)")


def _question_size(ctx: Context, config: QueryConfig, labeled: np.ndarray) -> Optional[int]:
    """--budget, or what is left to label (None: nothing)."""
    left = len(unlabeled_pool(ctx, labeled))
    return min(config.budget, left) or None


def _show_labels(ctx: Context, given: Labels) -> None:
    """Let the learners see the labels people gave (the dataset's own stay as they are)."""
    if not len(given.indices):
        return
    ctx.env = dataclasses.replace(ctx.env, data=relabeled(ctx.env.data, given.indices, given.labels))
    if ctx.proxy_env is not None:
        ctx.proxy_env = dataclasses.replace(ctx.proxy_env,
                                            data=relabeled(ctx.proxy_env.data, given.indices, given.labels))


def record_answers(ctx: Context, answers: Optional[Answers], given: Labels) -> Labels:
    """Add to labels.csv ``answers`` and the labels the data gives examples it did not label when the run started
    (a file filed into its class folder), checked against the questions asked and labels.csv (``given``)."""
    names = class_names(ctx.data)
    rounds = rundir.query_rounds(ctx.run)
    if answers is not None:
        _check_asked(ctx.run, rounds, answers.source)
    asked = [rundir.load_index(rundir.query_file(ctx.run, r, "index")) for r in rounds]
    found = _filed(ctx, given, names)
    if answers is not None:
        checked = answer_files.check_answers(answers, ctx.data, np.concatenate(asked), written_ids(ctx.run))
        found = _merged(found, checked, names)
    found = _without_unasked_alone(found, given, asked)
    _refuse_gone(ctx, found)
    updated = given.add(found, rounds[-1], asked[::-1], names) if rounds else given
    _write(ctx, given, updated, names)
    if len(updated.indices) > len(given.indices):
        log.info("%d new labels for question %d", len(updated.indices) - len(given.indices), rounds[-1])
    elif answers is not None:
        log.info("%s: every answer was recorded before", answers.source)
    return updated


def _check_asked(run: Path, rounds: list[int], source: str) -> None:
    """Answers need a question: refused in a run that asked none (``rounds``: those it asked)."""
    if not rounds:
        raise UsageError(f"--resume {run} has asked no question yet, so {source} answers nothing ; ask its first "
                         "question (svp query --resume RUN), then label what it asks")


def _without_unasked_alone(answers: dict[int, tuple[int, str]], given: Labels,
                           asked: list[np.ndarray]) -> dict[int, tuple[int, str]]:
    """Labels of examples no question asked (filed by the person, or new labeled files) wait for an answer to
    an asked one: alone, they would count as the answers to the question waiting, and the next one would ask
    again what the person is still labeling."""
    asked_ever = set(np.concatenate(asked).tolist()) if asked else set()
    recorded = set(given.indices.tolist())
    if any(index in asked_ever and index not in recorded for index in answers):
        return answers
    waiting = [index for index in answers if index not in asked_ever and index not in recorded]
    if waiting:
        log.info("%d labels the data gives examples no question asked wait for answers to the question asked",
                 len(waiting))
    return {index: answer for index, answer in answers.items() if index in asked_ever or index in recorded}


def _refuse_gone(ctx: Context, answers: dict[int, tuple[int, str]]) -> None:
    absent = set(ctx.examples.absent.tolist())
    gone = [f"{where}: index {index} is gone from the data" for index, (_, where) in answers.items()
            if index in absent]
    if gone:
        raise UsageError("; ".join(gone[:answer_files.MAX_SHOWN]) + " ; drop these answers (an example that is gone "
                         "is asked no more), or put its file back")


def _write(ctx: Context, given: Labels, updated: Labels, names: list[str]) -> None:
    """labels.csv when it gained labels (or its ids are out of date), then what the run records of its rows
    (after labels.csv: a kill between the two leaves files the next call reads back)."""
    examples, new = ctx.examples, slice(len(given.indices), None)
    if len(updated.indices) > len(given.indices) or (examples.stale and len(updated.indices)):
        ctx.write(answer_files.save_labels, ctx.run, updated, names, examples.identity.ids)
    if examples.unrecorded:
        ctx.write(record_anew, ctx.run, examples.identity)
    elif examples.previous is not None:
        ctx.write(record, ctx.run, examples.identity)
    if len(updated.indices) > len(given.indices):
        ctx.emit(events.ANSWERED, {"indices": updated.indices[new], "rounds": updated.rounds[new],
                                   "labels": [names[label] for label in updated.labels[new]]})


def _filed(ctx: Context, given: Labels, names: list[str]) -> dict[int, tuple[int, str]]:
    """The labels the data gives now to examples it did not label when the run started: index -> (class, where).

    One that labels.csv records otherwise is refused: the folder and the answers disagree.
    """
    filed = ctx.examples.filed
    if not filed:
        return {}
    indices = np.array(sorted(filed), dtype=np.int64)
    where = dict(zip(indices.tolist(), example_ids(ctx.data, indices)))
    recorded = dict(zip(given.indices.tolist(), given.labels.tolist()))
    clashes = [f"{where[i]} is filed as {names[label]} but {rundir.LABELS_CSV} labels it {names[recorded[i]]}"
               for i, label in filed.items() if i in recorded and recorded[i] != label]
    if clashes:
        raise UsageError("; ".join(clashes[:answer_files.MAX_SHOWN]) + " ; move the files to the class they belong "
                         f"to, or correct {rundir.LABELS_CSV}")
    return {i: (label, where[i]) for i, label in filed.items()}


def _merged(filed: dict[int, tuple[int, str]], answers: dict[int, tuple[int, str]],
            names: list[str]) -> dict[int, tuple[int, str]]:
    """The answers of a file and the labels of the data, refused where they disagree."""
    clashes = [f"{where}: index {i} is labeled {names[label]} here, but filed as {names[filed[i][0]]} "
               f"({filed[i][1]})" for i, (label, where) in answers.items() if i in filed and filed[i][0] != label]
    if clashes:
        raise UsageError("; ".join(clashes[:answer_files.MAX_SHOWN]) + " ; correct these answers, or move the files")
    return {**filed, **answers}


class Person(Annotator):
    """Asks through files (the question's CSV, Label Studio's tasks); answers are those labels.csv holds."""

    needs = frozenset({"probs"})  # the question shows the proxy's guess of each example's class

    def __init__(self, answers: dict[int, np.ndarray]) -> None:
        self.answers = answers

    def asked(self, ctx: Context, round_: int, labeled: np.ndarray, budget: int) -> Optional[np.ndarray]:
        path = rundir.query_file(ctx.run, round_, "index")
        return rundir.load_index(path) if path.exists() else None

    def ask(self, ctx: Context, question: Question) -> None:
        """The question's files first, its selection.csv row, then its index file (which marks it asked)."""
        rows = question_rows(ctx, question)
        ctx.write(rundir.atomic_write, rundir.query_file(ctx.run, question.round, "csv"),
                  answer_files.format_question(rows))
        if ctx.config.format == "label-studio":
            ctx.write(label_studio.write_tasks, ctx.run, question.round, rows, ctx.data)
        selection = ctx.path(rundir.SELECTION_CSV)
        if not any(int(row["current_nexamples"]) == len(question.labeled) for row in rundir.read_rows(selection)):
            ctx.selected({**question.row, "round": question.round}, question.picked)
        ctx.save_index(rundir.query_file(ctx.run, question.round, "index"), question.picked)
        ctx.emit(events.ASKED, {"round": question.round, "indices": question.picked})

    def answered(self, ctx: Context, round_: int, picked: np.ndarray) -> Optional[np.ndarray]:
        return self.answers.get(round_)


def question_rows(ctx: Context, question: Question) -> list[dict]:
    """One row per example asked: rank, index, id, the method's score, the proxy's guess and its confidence."""
    picked = question.picked
    names = class_names(ctx.data)
    rows = [{"rank": rank, "index": int(index), "id": id_, "score": "", "predicted": "", "confidence": "",
             "label": ""} for rank, (index, id_) in enumerate(zip(picked, example_ids(ctx.data, picked)), start=1)]
    scored = question.scored
    if scored is None or scored.probs is None:  # a cold start: no proxy has seen a label yet
        return rows
    order = np.argsort(scored.indices)
    at = order[np.searchsorted(scored.indices, picked, sorter=order)]  # each pick's row in the scored outputs
    probs = scored.probs[at]
    selection = ctx.config.selection
    scores = method_scores(selection.method, scored, selection.options)[at] \
        if METHODS[selection.method].score is not None else None
    for i, row in enumerate(rows):
        row.update(predicted=names[int(probs[i].argmax())], confidence=round(float(probs[i].max()), 4))
        if scores is not None:
            row["score"] = round(float(scores[i]), 6)
    return rows


def instructions(run: str | os.PathLike) -> str:
    """What a query call leaves for the person: the question's files, each round's signals, the next command."""
    run = Path(run)
    rounds = rundir.query_rounds(run)
    proxies = rundir.read_rows(run / rundir.PROXY_CSV)
    lines = [_round_table(run, proxies)] if proxies else []
    if not rounds:
        return "\n".join(lines)
    last = rounds[-1]
    question = rundir.query_file(run, last, "csv")
    asked = len(rundir.load_index(rundir.query_file(run, last, "index")))
    answered = last in answer_files.read_labels(run, None).by_round()
    if answered:  # a call asks again whenever it can: only an exhausted pool leaves the last question answered
        lines.append(f"question {last} is answered and nothing is left to ask: every example of the pool is labeled")
        return "\n".join(lines)
    tasks = rundir.query_file(run, last, "tasks")
    lines.append(f"question {last}: label the {asked} examples listed in {question}"
                 + (f" (or import {tasks} into Label Studio, with the interface {run / rundir.LABEL_CONFIG})"
                    if tasks.exists() else ""))
    lines.append(f"then: svp query --resume {run} --labels ANSWERS  (ANSWERS: that CSV with its label column "
                 "filled in, a CSV of index (or id) and label, or Label Studio's JSON export; some may stay "
                 "unanswered)")
    return "\n".join(lines)


def _round_table(run: Path, proxies: list[dict]) -> str:
    """Per proxy (``proxies``: proxy.csv's rows): labeled examples, test accuracy, predictions changed."""
    changed = {int(row["current_nexamples"]): row for row in rundir.read_rows(run / rundir.SELECTION_CSV)}
    lines = ["labeled  proxy_test_acc_pct  predictions_changed"]
    for row in proxies:
        size, accuracy = int(row["nexamples"]), float(row["test_accuracy"])
        selection = changed.get(size, {})
        moved = selection.get("changed_predictions") or ""
        shown = f"{moved} of {selection['compared_predictions']}" if moved else "-"
        lines.append(f"{size:>7}  {f'{100 * accuracy:.2f}' if accuracy >= 0 else '-':>18}  {shown:>19}")
    return "\n".join(lines)
