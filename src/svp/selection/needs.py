"""What a selection method needs from a learner: the ``NEEDS`` registry.

A *basic* need is something a learner gives (``Learner.provides``): class
probabilities, features, the examples' labels, Monte-Carlo dropout samples,
forgetting counts. A *derived* need is computed from basic ones once the
learner has scored the pool (a per-example loss from probabilities and
labels, a feature norm, ...): it declares what it ``requires`` and how it is
computed (``derive``), and lands in ``outputs.extra[name]``. So a method with a new
need is one module and two registrations (:func:`register_need`, then
``register_method``); learners and workflows need no change, and a learner
refuses the method only when it cannot give the need's ``requires``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Optional

import numpy as np

from svp.selection.forgetting import FORGETTING_KEY
from svp.selection.outputs import Outputs

Derive = Callable[[Outputs], np.ndarray]


@dataclass(frozen=True)
class Need:
    """One thing a method needs: its ``description`` in messages; for a derived need, how it is computed
    (``derive(outputs) -> np.ndarray``, one row per example) from the basic needs it ``requires``."""

    description: str
    derive: Optional[Derive] = None
    requires: frozenset = frozenset()

    @property
    def derived(self) -> bool:
        return self.derive is not None


NEEDS: dict[str, Need] = {
    "probs": Need("class probabilities"),
    "features": Need("features"),
    "labels": Need("the examples' labels"),
    "mc": Need("Monte-Carlo dropout samples"),
    "forgetting": Need("forgetting events"),
}

# where each built-in basic need sits in Outputs; a basic need registered later sits in ``extra[name]``
_PRESENT: dict[str, Callable[[Outputs], bool]] = {
    "probs": lambda out: out.probs is not None,
    "features": lambda out: out.features is not None,
    "labels": lambda out: out.labels is not None,
    "mc": lambda out: out.mc_probs is not None and out.mc_entropy is not None,
    "forgetting": lambda out: FORGETTING_KEY in out.extra,
}


def register_need(name: str, description: str, derive: Optional[Derive] = None,
                  requires: Iterable[str] = frozenset(), *, replace: bool = False) -> Need:
    """Add a need that methods may then declare in ``Method.needs``.

    Parameters
    ----------
    name : str
        The need's name (a key of :data:`NEEDS`).
    description : str
        What it is, in words, for messages ("per-example losses").
    derive : callable, optional
        ``derive(outputs) -> np.ndarray``: the need computed from ``outputs``,
        one row per example. Without it the need is basic: a learner kind
        that lists it in ``provides`` puts it in ``outputs.extra[name]``.
    requires : iterable of str
        The basic needs ``derive`` reads (at least one); a learner must give them.
    replace : bool
        Allow replacing a need of the same name.

    Returns
    -------
    Need
        The registered need.

    Raises
    ------
    ValueError
        A name taken (without ``replace``), ``requires`` that are not basic
        needs, or requires without ``derive`` (and the other way round).
    """
    requires = frozenset(requires)
    if not isinstance(name, str) or not name:
        raise ValueError(f"a need's name must be a non-empty string, got {name!r}")
    if name in NEEDS and not replace:
        raise ValueError(f"a need named {name!r} exists; pass replace=True to replace it")
    if derive is not None and not callable(derive):
        raise ValueError(f"the derive of need {name!r} is not callable: {derive!r}")
    if (derive is None) != (not requires):
        raise ValueError(f"need {name!r}: a derived need gives both derive and requires, a basic one neither")
    not_basic = sorted(r for r in requires if r not in NEEDS or NEEDS[r].derived)
    if not_basic:
        raise ValueError(f"need {name!r} requires {', '.join(not_basic)}, which are not basic needs; "
                         f"choose from: {', '.join(basic_needs())}")
    need = Need(description, derive, requires)
    NEEDS[name] = need
    return need


def basic_needs() -> tuple[str, ...]:
    """The names of the needs a learner gives itself (none derived), in registration order."""
    return tuple(name for name, need in NEEDS.items() if not need.derived)


def model_needs(needs: Iterable[str]) -> frozenset:
    """The basic needs a learner must give for ``needs``: derived needs replaced by what they require.

    Raises
    ------
    ValueError
        For a name that is not in :data:`NEEDS`.
    """
    basic = set()
    for name in needs:
        if name not in NEEDS:
            raise ValueError(f"unknown need {name!r}; choose from: {', '.join(NEEDS)}")
        basic.update(NEEDS[name].requires if NEEDS[name].derived else (name,))
    return frozenset(basic)


def has_need(outputs: Outputs, name: str) -> bool:
    """Whether ``outputs`` hold the need ``name`` (a derived or later-registered one: in ``extra``)."""
    present = _PRESENT.get(name)
    return present(outputs) if present is not None else name in outputs.extra


def derive_needs(outputs: Outputs, needs: Iterable[str]) -> None:
    """Compute each derived need of ``needs`` into ``outputs.extra[name]`` (kept when already there).

    Raises
    ------
    ValueError
        When ``outputs`` lack what a derived need requires.
    """
    for name in needs:
        need = NEEDS.get(name)
        if need is None or not need.derived or name in outputs.extra:
            continue
        missing = sorted(r for r in need.requires if not has_need(outputs, r))
        if missing:
            raise ValueError(f"need {name!r} is computed from {', '.join(sorted(need.requires))}, and these "
                             f"outputs lack {', '.join(missing)}")
        values = np.asarray(need.derive(outputs))
        if len(values) != len(outputs.indices):
            raise ValueError(f"need {name!r} gave {len(values)} rows for {len(outputs.indices)} examples")
        outputs.extra[name] = values


def describe(needs: Iterable[str]) -> str:
    """``needs`` in words, for messages ("class probabilities, features")."""
    return ", ".join(NEEDS[name].description if name in NEEDS else name for name in sorted(needs))
