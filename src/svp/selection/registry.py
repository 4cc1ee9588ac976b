"""The ``METHODS`` registry: a selection method is a :class:`Method` registered under a name.

Everything that offers methods (the command line's choices, the workflows'
checks, what a learner kind can serve) asks :func:`method_names` when it
needs them, so a method registered at run time (by a ``--plugin`` module, or
in Python before a workflow runs) is offered everywhere.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional

import numpy as np

from svp.selection.needs import NEEDS, model_needs
from svp.selection.options import check_options_class, parse_options
from svp.selection.outputs import Outputs

#: ``pick(pool, budget, labeled, rng)`` -> dataset indices; with ``options=`` too when the method declares some
Picker = Callable[..., np.ndarray]
#: ``score(pool)`` -> one value per pool example; with ``options=`` too when the method declares some
Scorer = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Method:
    """A selection method: a score (or a picker of its own), what it needs from the proxy, where it applies.

    ``needs`` are names of :data:`svp.selection.needs.NEEDS`: basic ones
    ("probs", "features", "labels", "mc", "forgetting") or derived ones,
    computed from basic ones before the method runs. A method has a
    ``score`` (one value per pool example, higher = pick first;
    ``nonnegative`` when it is never below 0) or a ``pick`` of its own
    (diversity and random methods, which no score describes). ``active``
    is False for methods that only make sense once, on a fully trained
    proxy (core-set selection); ``early`` methods score with proxies
    trained only ``--score-epoch`` epochs (see :mod:`svp.selection.el2n`);
    ``from_labeled`` pickers take the labeled examples' outputs too.

    ``options`` is a frozen dataclass (every field with a default, its
    ``metadata={"help": ...}`` for the command line) of the method's own
    options; a method that declares it gets its instance as the keyword
    ``options`` of ``score(pool, options=...)`` or ``pick(pool, budget,
    labeled, rng, options=...)``. Methods without options are called
    without it.
    """

    pick: Optional[Picker] = None
    needs: frozenset = frozenset()
    active: bool = True
    score: Optional[Scorer] = None
    nonnegative: bool = False
    early: bool = False
    from_labeled: bool = False
    options: Optional[type] = None


METHODS: dict[str, Method] = {}


def _check_method(name: str, method: Method) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"a method's name must be a non-empty string, got {name!r}")
    if not isinstance(method, Method):
        raise ValueError(f"method {name!r} must be a svp.selection.Method, got {type(method).__name__}")
    if (method.score is None) == (method.pick is None):
        raise ValueError(f"method {name!r} must have either a score or a pick (not both, not neither)")
    if not callable(method.score or method.pick):
        raise ValueError(f"the {'score' if method.score is not None else 'pick'} of method {name!r} is not callable")
    unknown = sorted(set(method.needs) - set(NEEDS))
    if unknown:
        raise ValueError(f"method {name!r} needs {', '.join(unknown)}, which no need is called; choose from "
                         f"{', '.join(NEEDS)}, or register it first (svp.selection.register_need)")
    if method.options is not None:
        check_options_class(method.options, f"method {name!r}")


def register_method(name: str, method: Method, *, replace: bool = False) -> Method:
    """Add a selection method: ``select(name, ...)``, ``--selection-method name`` and every list of methods
    then offer it.

    Parameters
    ----------
    name : str
        The method's name.
    method : Method
        Its score or picker, needs and flags (see :class:`Method`).
    replace : bool
        Allow replacing a method of the same name.

    Returns
    -------
    Method
        The registered method (``needs`` as a frozenset).

    Raises
    ------
    ValueError
        A name taken (without ``replace``), both or neither of score and
        pick, an unknown need, or options that are no frozen dataclass with defaults.
    """
    if isinstance(name, str) and name in METHODS and not replace:
        raise ValueError(f"a selection method named {name!r} exists; pass replace=True to replace it")
    _check_method(name, method)
    method = dataclasses.replace(method, needs=frozenset(method.needs))
    METHODS[name] = method
    return method


def method_names(*, active: Optional[bool] = None, scored: Optional[bool] = None,
                 provides: Optional[Iterable[str]] = None) -> tuple[str, ...]:
    """The names of the registered methods, in registration order, read now (run-time registrations included).

    Parameters
    ----------
    active : bool, optional
        True: those active learning offers; False: those only core-set selection offers.
    scored : bool, optional
        True: those that rank by a score (``--sampling``, ``--keep`` and
        ``--class-balance`` apply); False: those with a picker of their own.
    provides : iterable of str, optional
        Only those a learner giving these basic needs can serve (derived needs count as what they require).
    """
    given = None if provides is None else frozenset(provides)
    return tuple(name for name, method in METHODS.items()
                 if (active is None or method.active == active)
                 and (scored is None or (method.score is not None) == scored)
                 and (given is None or model_needs(method.needs) <= given))


def get_method(name: str) -> Method:
    """The method registered as ``name``; a ValueError naming the registered ones otherwise."""
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown selection method {name!r}; choose one of: {', '.join(METHODS)}") from None


def method_options(name: str, options: Optional[Mapping[str, Any]] = None) -> Any:
    """``options`` checked against method ``name``'s declared options, as their dataclass instance.

    Returns None for a method that declares none (and is given none).

    Raises
    ------
    ValueError
        An unknown method, an unknown option or a value of the wrong type, naming it.
    """
    return parse_options(get_method(name).options, options, f"selection method {name!r}")


def call_score(method: Method, pool: Outputs, options: Any) -> np.ndarray:
    """``method.score(pool)``, with ``options=`` when it declares options; float64."""
    scores = method.score(pool) if method.options is None else method.score(pool, options=options)
    return np.asarray(scores, dtype=np.float64)


def call_pick(method: Method, pool: Outputs, budget: int, labeled: Optional[Outputs], rng: np.random.Generator,
              options: Any) -> np.ndarray:
    """``method.pick(pool, budget, labeled, rng)``, with ``options=`` when it declares options."""
    if method.options is None:
        return method.pick(pool, budget, labeled, rng)
    return method.pick(pool, budget, labeled, rng, options=options)
