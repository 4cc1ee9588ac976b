"""Targets that did not fit their training set: a short schedule, not the selection, to blame.

A target trained too briefly on a proxy-selected set (hard examples, by
design) fits it poorly and scores badly on test, while the same schedule on
an easy random set looks fine: SVP then looks broken when the schedule is
(500 labels, a 10-epoch preact20 target: 40 optimizer steps, 60% of its
training set fitted, 35% on test against 81% for a random set; 40 epochs
gave 98% against 97%). :func:`underfit_warnings` says so wherever a report
or an end-of-run summary shows a target's accuracy.
"""
from __future__ import annotations

from svp.report.read import RunSummary

#: A target that fitted less than this fraction of its training set is flagged (when no proxy trained on it) ...
UNDERFIT_THRESHOLD = 0.8
#: ... and so is one that fitted this much less (a fraction) than the proxy on the same examples.
UNDERFIT_GAP = 0.15


def _underfit(target: float, proxy: float | None) -> bool:
    """Far below the proxy on the same examples; without a proxy to compare with, below the threshold.

    A target a few points below its proxy is no alarm: the demo's preact20
    fits 87% of 5,000 random Fashion-MNIST images in 10 epochs where its small
    CNN proxy fits 92%, and tests at 85%. And when the proxy fitted the same
    examples no better, the data (heavy augmentation, ImageNet) is what keeps
    training accuracy low, not the target's schedule.
    """
    if proxy is None:
        return target < UNDERFIT_THRESHOLD
    return proxy - target >= UNDERFIT_GAP


def underfit_warnings(run: RunSummary) -> list[str]:
    """One message per target training of ``run`` that fitted its training set poorly.

    A training is flagged when its training accuracy is below
    :data:`UNDERFIT_THRESHOLD`, or :data:`UNDERFIT_GAP` below the proxy's on
    the same number of labeled examples (see :func:`_underfit`). Runs that
    recorded no training accuracy get no message.
    """
    messages = []
    proxy = {} if run.workflow == "coreset" else run.proxy_train_accuracy  # a core-set's proxy saw all the data
    for size, fitted in run.target_train_accuracy.items():
        if not _underfit(fitted, proxy.get(size)):
            continue
        steps = run.target_steps.get(size)
        besides = "" if size not in proxy else f", where the proxy fitted {100 * proxy[size]:.1f}%"
        messages.append(
            f"{run.name}: target {run.target_arch} on {size} examples fitted only {100 * fitted:.1f}% of its "
            f"training set{besides}, in {'an unrecorded number of' if steps is None else steps} optimizer "
            f"steps ; its accuracy reflects too short a schedule rather than the selection: train the "
            f"target longer (more --epochs)")
    return messages
