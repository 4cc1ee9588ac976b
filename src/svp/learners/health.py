"""Is a training working? The rules that read one training's row and say what is wrong and what to change.

A results row (proxy.csv, target.csv, results.csv: :meth:`TrainResult.row`)
is judged by the rules below, each a :class:`Problem` with what is wrong and
what to change. The run's log (``svp.workflows.steps``), its end-of-run
summary and ``svp report`` (``svp.report.health``) all say them. They live
here, below both the workflows and the report, so that the two say the same.

Rules and thresholds (accuracies are fractions)
-----------------------------------------------
*chance* (any model): its held-out accuracy (test, else dev) is at most
    ``chance + CHANCE_MARGIN * (1 - chance)``, where ``chance`` is the row's
    ``chance_accuracy`` (always predicting the most frequent class of that
    split), else ``1 / num_classes`` where the caller knows the number of
    classes (the log does; a report does not), else the rule is silent. A
    model that closes less than a tenth of the way from chance to perfect
    learned nothing usable: the fastText proxy of issue 22 scored 12.5-17%
    on 8 balanced classes (limit 21.25%). A proxy's selection is then no
    better than random.
*underfit, absolute* (any model): ``train_accuracy`` below
    ``chance + UNDERFIT_SHARE * (1 - chance)``, ``chance`` the row's
    ``chance_accuracy``, 0 where not recorded (so that the log and a report
    agree): 64% for 10 balanced classes, 60% when unknown. A trained model
    fits its own training set: issue 22's target fitted 50-56% of its 200-300
    images in 20-30 optimizer steps and tested at 34% (88% when trained 6x
    longer). The limit stays below what healthy models fit of hard sets: the
    demo's preact20 fitted 72% (and its proxy 73%) of 5,000 examples picked
    by least confidence, testing at 88%.
*underfit, relative* (targets of active learning): the previous rule, kept.
    ``train_accuracy`` ``UNDERFIT_GAP`` or more below the proxy's on the same
    number of labeled examples; where no proxy trained on that number (and in
    a core-set, whose proxy saw all the data), below ``UNDERFIT_THRESHOLD``. A
    target trained too briefly on a proxy-selected set (hard by design) fits
    it poorly and tests badly while the same schedule on a random set looks
    fine: 500 labels, a 10-epoch preact20 target, 40 steps, 60% fitted, 35%
    on test against 81% for random (40 epochs: 98% against 97%). A few points
    below the proxy is no alarm (the demo's target fits 87% of 5,000 random
    images where its proxy fits 92%), nor is a proxy that fitted no better
    (hard data: augmentation, ImageNet).
*rising* (any model with a dev set): the row's ``dev_rising`` is 1, the
    engine's verdict that the best dev accuracy came in the last epochs of a
    schedule run to its end: more training would likely help.

Each rule says what to change, naming the options of the model's role
(``--epochs``, ``--proxy-epochs``, fastText's own for a fastText proxy).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from svp.rundir import PROXY, TARGET

#: a model whose held-out accuracy closes less than this share of the way from chance to 1 learned nothing usable
CHANCE_MARGIN = 0.1
#: a model that fitted less than this share of the way from chance to all of its training set is underfit
UNDERFIT_SHARE = 0.6
#: a target that fitted less than this of its training set is flagged where no proxy trained on as many examples ...
UNDERFIT_THRESHOLD = 0.8
#: ... and one that fitted this much less (a fraction) than the proxy on the same number of examples
UNDERFIT_GAP = 0.15

#: how a role is named in messages ("train": the one model of ``svp train``)
_ROLE_NAMES = {"train": "model"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a training: ``kind`` ("chance", "underfit" or "rising"), ``what`` is wrong and
    the ``fix`` (what to change)."""

    kind: str
    what: str
    fix: str


@dataclass(frozen=True)
class Training:
    """One training's row, read: accuracies as fractions, None where not recorded.

    ``accuracy`` is the held-out accuracy (test, else dev, from ``split``);
    the other fields are the row's columns of the same names (see
    ``TrainResult``).
    """

    role: str
    nexamples: int
    arch: Optional[str] = None
    train_accuracy: Optional[float] = None
    accuracy: Optional[float] = None
    split: str = "test"
    chance_accuracy: Optional[float] = None
    steps: Optional[int] = None
    step_budget: Optional[int] = None
    best_step: Optional[int] = None
    dev_rising: Optional[int] = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any], role: str, arch: Optional[str] = None,
                 scale: float = 1.0) -> "Training":
        """A row as written (numbers) or read back from its CSV (texts); ``scale`` 100 for percent rows (the
        original implementation's). Empty, NaN and negative (-1: not measured) values are None."""
        test, dev = _number(row.get("test_accuracy"), scale), _number(row.get("dev_accuracy"), scale)
        return cls(role=role, nexamples=int(float(row["nexamples"])), arch=arch,
                   train_accuracy=_number(row.get("train_accuracy"), scale),
                   accuracy=test if test is not None else dev, split="test" if test is not None else "dev",
                   chance_accuracy=_number(row.get("chance_accuracy"), scale),
                   steps=_count(row.get("steps")), step_budget=_count(row.get("step_budget")),
                   best_step=_count(row.get("best_step")), dev_rising=_count(row.get("dev_rising")))

    @property
    def name(self) -> str:
        """``target preact20 on 500 examples``: the training, in messages."""
        model = " ".join(part for part in (_ROLE_NAMES.get(self.role, self.role), self.arch) if part)
        return f"{model} on {self.nexamples} examples"


#: the columns whose values tell a file in percent (the original implementation's) from one in fractions
_ACCURACIES = ("train_accuracy", "dev_accuracy", "test_accuracy", "chance_accuracy")


def trainings_of_rows(rows: Sequence[Mapping[str, Any]], role: str, arch: Optional[str] = None) -> list[Training]:
    """The trainings of one results file's rows, by size: the last row of each (a resumed run may repeat one),
    read as percent when any accuracy in the file is above 1 (as ``svp report`` reads them)."""
    percent = any((_number(row.get(column)) or 0.0) > 1 for row in rows for column in _ACCURACIES)
    last = {int(float(row["nexamples"])): row for row in rows}
    return [Training.from_row(last[size], role, arch, 100.0 if percent else 1.0) for size in sorted(last)]


def _number(value: Any, scale: float = 1.0) -> Optional[float]:
    """A recorded figure, or None when missing (None, empty, NaN, negative)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = float(value)
    return None if math.isnan(number) or number < 0 else number / scale


def _count(value: Any) -> Optional[int]:
    number = _number(value)
    return None if number is None else int(number)


def chance_accuracy(labels: Sequence[int] | np.ndarray) -> Optional[float]:
    """The accuracy of always predicting the most frequent class of ``labels`` (unknown ones, -1, left out);
    None when no label is known."""
    known = np.asarray(labels, dtype=np.int64)
    known = known[known >= 0]
    return float(np.bincount(known).max() / len(known)) if len(known) else None


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _options(training: Training) -> dict[str, str]:
    """The options that change ``training``'s model and schedule, as its role spells them."""
    prefix = "--proxy-" if training.role == PROXY else "--"
    if training.arch == "fasttext":  # fastText's schedule is its own options (see svp.learners.fasttext)
        return {"longer": f"more {prefix}fasttext-epochs or a higher {prefix}fasttext-learning-rate",
                "arch": f"{prefix}arch"}
    return {"longer": f"more {prefix}epochs (or {prefix}steps)", "arch": f"{prefix}arch"}


def _longer(training: Training) -> str:
    return f"train it longer: {_options(training)['longer']}"


def _chance(training: Training, num_classes: Optional[int]) -> Optional[Problem]:
    """The *chance* rule (see the module's docstring)."""
    chance, why = training.chance_accuracy, "always predicting the most frequent class"
    if chance is None and num_classes:
        chance, why = 1.0 / num_classes, f"1 in {num_classes} classes"
    if chance is None or training.accuracy is None:
        return None
    if training.accuracy > chance + CHANCE_MARGIN * (1.0 - chance):
        return None
    what = (f"scored {_percent(training.accuracy)} on its {training.split} split, no better than chance "
            f"({_percent(chance)}: {why})")
    fix = f"{_longer(training)}, or choose another {_options(training)['arch']}"
    if training.role == PROXY:
        fix = f"the proxy cannot select better than random: {fix}"
    return Problem("chance", what, fix)


def _steps(training: Training) -> str:
    return f"in {'an unrecorded number of' if training.steps is None else training.steps} optimizer steps"


def _underfit(training: Training, proxy_fitted: Optional[float]) -> Optional[Problem]:
    """The *underfit* rules, absolute then relative (see the module's docstring)."""
    fitted = training.train_accuracy
    if fitted is None:
        return None
    chance = training.chance_accuracy or 0.0
    floor = chance + UNDERFIT_SHARE * (1.0 - chance)
    if fitted < floor:
        what = f"fitted only {_percent(fitted)} of its training set (under {_percent(floor)}), {_steps(training)}"
    elif training.role == TARGET and (
            fitted < UNDERFIT_THRESHOLD if proxy_fitted is None else proxy_fitted - fitted >= UNDERFIT_GAP):
        besides = "" if proxy_fitted is None else f", where the proxy fitted {_percent(proxy_fitted)}"
        what = f"fitted only {_percent(fitted)} of its training set{besides}, {_steps(training)}"
    else:
        return None
    if training.role == TARGET:
        what += "; its accuracy reflects too short a schedule rather than the selection"
    return Problem("underfit", what, _longer(training))


def _rising(training: Training) -> Optional[Problem]:
    """The *rising* rule (see the module's docstring)."""
    if training.dev_rising != 1:
        return None
    where = "" if training.best_step is None else (
        f" (its best weights came at step {training.best_step}"
        + ("" if training.steps is None else f" of {training.steps}") + ")")
    return Problem("rising", f"its dev accuracy was still rising when training stopped{where}", _longer(training))


def problems(training: Training, proxy_fitted: Optional[float] = None,
             num_classes: Optional[int] = None) -> list[Problem]:
    """What is wrong with ``training``, by the module's rules: chance, underfit, rising (in that order).

    Parameters
    ----------
    training : Training
    proxy_fitted : float, optional
        The training accuracy of the proxy on as many labeled examples, for a target's relative rule (None
        where there is none, and in a core-set, whose proxy saw all the data).
    num_classes : int, optional
        The number of classes, for the chance rule where the row records no ``chance_accuracy``.

    Returns
    -------
    list of Problem
        Empty for a healthy training.
    """
    found = [_chance(training, num_classes), _underfit(training, proxy_fitted), _rising(training)]
    return [problem for problem in found if problem is not None]


def warning_line(training: Training, found: Sequence[Problem]) -> str:
    """One line for all ``found`` problems of ``training``: what is wrong (each), then what to change (each
    fix once: one that another fix already says is left out), as ``<what> ; <how to fix it>``."""
    fixes: list[str] = []
    for fix in (problem.fix for problem in found):
        if not any(fix in other for other in fixes):
            fixes = [other for other in fixes if other not in fix] + [fix]
    return (f"{training.name}: {'; and '.join(problem.what for problem in found)} ; "
            f"{'; '.join(fixes)}")
