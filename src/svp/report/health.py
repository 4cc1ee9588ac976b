"""Trainings that are not working, as warnings of a report or an end-of-run summary.

The rules (a model no better than chance, one that fitted its own training
set poorly, absolutely or against its proxy, one whose dev accuracy was
still rising when training stopped), their thresholds and why, are those
of :mod:`svp.learners.health`, which the run's log says too as each training
ends. Here they read a run directory's results files: one message per
(run, role, number of labeled examples) with a problem, naming every
problem of that training and what to change.
"""
from __future__ import annotations

import os
from typing import Optional

from svp.errors import UsageError
from svp.learners.health import Training, problems, trainings_of_rows, warning_line
from svp.report.read import PROXY_CSVS, RunSummary
from svp.report.results import read_csv
from svp.rundir import PROXY, RESULTS_CSV, TARGET, TARGET_CSV


def _read(path: Optional[str], role: str, arch: Optional[str]) -> list[Training]:
    """The trainings of one results file, by size (see :func:`~svp.learners.health.trainings_of_rows`)."""
    if path is None:
        return []
    try:
        return trainings_of_rows(read_csv(path, ("nexamples",)), role, arch)
    except ValueError as error:
        raise UsageError(f"{path}: bad value: {error} ; the file is damaged: restore it") from None


def _existing(run_dir: str, *names: str) -> Optional[str]:
    paths = [os.path.join(run_dir, name) for name in names]
    return next((path for path in paths if os.path.isfile(path)), None)


def trainings_of(run: RunSummary) -> list[Training]:
    """Every training ``run`` recorded: its proxy's, then its target's (none when the target is the proxy,
    trained once), or the one model of a train run."""
    proxy_csv, target_csv = _existing(run.path, *PROXY_CSVS), _existing(run.path, TARGET_CSV)
    if proxy_csv is None and target_csv is None:
        return _read(_existing(run.path, RESULTS_CSV), "train", run.target_arch)
    proxies = _read(proxy_csv, PROXY, run.proxy_arch)
    shared = run.shared or (proxy_csv is not None and target_csv is not None and
                            os.path.samefile(proxy_csv, target_csv))
    return proxies + ([] if shared else _read(target_csv, TARGET, run.target_arch))


def health_warnings(run: RunSummary) -> list[str]:
    """One message per training of ``run`` that is not working (see :mod:`svp.learners.health`): its proxy's,
    by size, then its target's.

    A target is judged against the proxy trained on as many examples, except
    in a core-set (its proxy saw all the data: the target's own threshold then). Rows that record too little
    for a rule (no training accuracy, no chance accuracy, no ``dev_rising``:
    older runs, the original's) leave that rule silent.
    """
    trainings = trainings_of(run)
    fitted = {t.nexamples: t.train_accuracy for t in trainings if t.role == PROXY and t.train_accuracy is not None}
    if run.workflow == "coreset":  # its proxy saw all the data: nothing to compare a target with
        fitted = {}
    messages = []
    for training in trainings:
        found = problems(training, fitted.get(training.nexamples))
        if found:
            messages.append(f"{run.name}: {warning_line(training, found)}")
    return messages
