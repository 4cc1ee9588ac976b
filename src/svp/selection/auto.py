"""``auto``: a selection method that fits the budget; coverage while labels are few, uncertainty after.

The rule
    With C classes (the width of the proxy's probabilities) and L labeled
    examples (the labeled set's outputs; none at a cold start):

    - ``L < per_class * C`` (``per_class`` = ``LOW_BUDGET_PER_CLASS`` = 20
      by default): **ProbCover** (:mod:`svp.selection.probcover`) on the
      features, its radius by the purity rule; TypiClust where the pool is
      too small for that rule;
    - otherwise: **margin with power sampling**: the score
      ``s = 1 - (p_1 - p_2)`` (one minus the gap between the two most
      likely classes, in [0, 1]) and a seeded draw of the batch without
      replacement with probability proportional to ``s ** beta``
      (``beta`` = 1), by the Gumbel-top-k keys of
      :func:`svp.selection.sampling.sampling_keys`.

    The method used is written into ``pool.extra[AUTO_CHOICE_KEY]``:
    "probcover", "typiclust" or "margin_power".

Why
    Hacohen, Dekel & Weinshall, "Active Learning on a Budget: Opposite
    Strategies Suit High and Low Budgets" (ICML 2022) show a phase
    transition: with few labels, typical examples that represent the data
    teach most, while uncertain, atypical ones do better only once the
    budget is large. Where it falls moves with the data and the learner.
    ProbCover (Yehuda, Dekel, Hacohen & Weinshall, "Active Learning
    Through a Covering Lens", NeurIPS 2022) is their method for the low
    budget: it beats TypiClust and uncertainty sampling there. Doucet,
    Estermann, Aczel & Wattenhofer ("Bridging Diversity and Uncertainty in
    Active Learning with Self-Supervised Pre-Training", 2024, "TCM") switch
    in the same way, from TypiClust to margin, and beat both across
    budgets.

    The threshold of 20 labels per class is our choice, not a number from
    these papers. Their low-budget results use a few labels per class
    (budgets of one to a few times the number of classes), where coverage
    and typicality win by wide margins; uncertainty methods are made for,
    and benchmarked at, hundreds of labels per class and more. 20 stays
    above the low-budget range the papers show and switches well below
    the high-budget one. It is the mean over the classes (L / C), the
    papers' "budget per class", rather than the smallest class's count:
    on long-tailed data a rare class would keep the smallest count low
    and hold every round at coverage, at budgets where the proxy is
    reliable. ``bench/robustness.py`` measures the rule at about 10, 50
    and 500 labels per class; ``--auto-per-class`` changes the threshold.

    After the switch: margin rather than BADGE. Margin is the uncertainty
    score TCM switches to, and in a large comparison on tabular data
    (Bahri et al., "Is Margin All You Need?", 2022) it matched or beat the
    more elaborate methods. The top-k of any score takes near-copies from the same few
    regions of a large batch; Kirsch et al. ("Stochastic Batch
    Acquisition: A Simple Baseline for Deep Active Learning", TMLR 2023)
    show that drawing the batch by score (power sampling; beta = 1 here,
    as svp's ``--sampling-beta``) fixes that and can do as well as
    batch-aware methods such as BADGE, at the cost of a top-k rather than
    ``budget`` k-means++ passes over the pool's gradient embeddings.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from svp.selection import uncertainty
from svp.selection.outputs import Outputs
from svp.selection.probcover import cover_picks, number_of_classes
from svp.selection.sampling import sampling_keys

log = logging.getLogger(__name__)

#: key of ``Outputs.extra`` where ``auto`` writes the method it used this round
AUTO_CHOICE_KEY = "auto_choice"
LOW_BUDGET_PER_CLASS = 20  # labeled examples per class (on average) below which auto picks by coverage
MARGIN_POWER = "margin_power"
#: every value ``auto`` writes into ``pool.extra[AUTO_CHOICE_KEY]``
AUTO_CHOICES = ("probcover", "typiclust", MARGIN_POWER)


@dataclass(frozen=True)
class AutoOptions:
    """``auto``'s own options."""

    per_class: int = field(default=LOW_BUDGET_PER_CLASS, metadata={
        "help": "labeled examples per class (on average) below which it picks by coverage (ProbCover), from "
                "which on by margin with power sampling"})
    beta: float = field(default=1.0, metadata={
        "help": "power of the margin draw: probability proportional to (1 - margin) ** beta"})

    def __post_init__(self) -> None:
        if isinstance(self.per_class, bool) or not isinstance(self.per_class, int) or self.per_class < 0:
            raise ValueError(f"option per_class={self.per_class!r} of selection method 'auto' must be an "
                             "integer >= 0")
        if isinstance(self.beta, bool) or not isinstance(self.beta, (int, float)) or not self.beta > 0:
            raise ValueError(f"option beta={self.beta!r} of selection method 'auto' must be > 0")


def low_budget(labeled: Optional[Outputs], classes: int, per_class: int = LOW_BUDGET_PER_CLASS) -> bool:
    """Whether fewer than ``per_class`` examples per class are labeled, on average over ``classes`` classes."""
    count = 0 if labeled is None else len(labeled.indices)
    return count < per_class * classes


def margin_power(probs: np.ndarray, budget: int, beta: float, rng: np.random.Generator) -> np.ndarray:
    """Positions of ``budget`` rows drawn without replacement with probability proportional to
    ``(1 - (p_1 - p_2)) ** beta`` (Kirsch et al. 2023's power sampling of the margin)."""
    scores = 1.0 + uncertainty.margin(np.asarray(probs, dtype=np.float64))  # margin() is minus the gap
    keys = sampling_keys(np.clip(scores, 0.0, 1.0), "power", beta, rng)
    return np.argsort(-keys, kind="stable")[:budget]


def pick_auto(pool: Outputs, budget: int, labeled: Optional[Outputs], rng: np.random.Generator, *,
              options: AutoOptions) -> np.ndarray:
    """The ``auto`` method's picker (see the module docstring); records its choice in ``pool.extra``."""
    classes = number_of_classes(pool, labeled)
    if low_budget(labeled, classes, options.per_class):
        chosen, choice = cover_picks(pool, budget, labeled, rng)
    else:
        if pool.probs is None:
            raise ValueError("auto past the low budget picks by margin, and the pool's outputs hold no "
                             "probabilities")
        chosen, choice = pool.indices[margin_power(pool.probs, budget, options.beta, rng)], MARGIN_POWER
    pool.extra[AUTO_CHOICE_KEY] = choice
    log.info("auto: %d labeled for %d classes (switch at %d per class): %s", 0 if labeled is None else
             len(labeled.indices), classes, options.per_class, choice)
    return chosen
