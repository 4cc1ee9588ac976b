"""Learners: the kinds of model svp trains, behind one interface.

``LEARNERS`` maps a kind's name to its class; :func:`learner_kind` finds
the kind that builds an architecture. Adding a kind (e.g. a scikit-learn
proxy) is one module and one call, :func:`register_learner`; every lookup
reads the registry when it is made, so a kind registered at run time (by a
``--plugin`` module, or in Python before a workflow runs) is found by the
workflows and the command line alike. A kind's own options (its
``Learner.options`` dataclass) are listed by :func:`learner_options`.
"""
from __future__ import annotations

import inspect
from typing import Any, NamedTuple, Optional

from svp.config import ModelConfig
from svp.learners import fasttext, torch
from svp.learners.base import BatchHook, Environment, Learner, TrainResult
from svp.rundir import PROXY, TARGET
from svp.selection import NEEDS, option_fields
from svp.selection.options import check_options_class

LEARNERS: dict[str, type[Learner]] = {}

__all__ = ["LEARNERS", "BatchHook", "Environment", "Learner", "LearnerOption", "TrainResult", "archs_for",
           "learner_kind", "learner_options", "make_learner", "register_learner"]


def _check_kind(name: str, cls: Any) -> None:
    """Refuse a class that cannot be a learner kind, with what is wrong."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a learner kind's name must be a non-empty string, got {name!r}")
    if not (isinstance(cls, type) and issubclass(cls, Learner)) or inspect.isabstract(cls):
        raise ValueError(f"learner kind {name!r} must be a concrete subclass of svp.learners.Learner, got {cls!r}")
    archs = cls.archs()
    if isinstance(archs, str) or not all(isinstance(arch, str) for arch in archs):
        raise ValueError(f"{cls.__name__}.archs() must give a collection of architecture names, got {archs!r}")
    roles = set(cls.roles)
    if not roles or not roles <= {PROXY, TARGET}:
        raise ValueError(f"{cls.__name__}.roles must be some of {PROXY!r}, {TARGET!r}, got {cls.roles!r}")
    unknown = sorted(set(cls.provides) - set(NEEDS))
    if unknown:
        raise ValueError(f"{cls.__name__}.provides names {', '.join(unknown)}, which are no needs; choose from "
                         f"{', '.join(NEEDS)} (or svp.selection.register_need first)")
    if cls.options is not None:
        check_options_class(cls.options, f"learner kind {name!r}", frozen=False)


def register_learner(name: str, cls: type[Learner], *, replace: bool = False) -> type[Learner]:
    """Add a kind of learner: its architectures (``cls.archs()``) then train in every workflow.

    Parameters
    ----------
    name : str
        The kind's name (``--<name>-<option>`` on the command line for its options).
    cls : type
        A concrete :class:`Learner` subclass.
    replace : bool
        Allow replacing a kind of the same name.

    Returns
    -------
    type
        ``cls``.

    Raises
    ------
    ValueError
        A name taken (without ``replace``), a class that is no concrete
        Learner, archs that are not names, unknown roles or needs, options
        that are no dataclass with defaults, or an architecture another kind builds.
    """
    if isinstance(name, str) and name in LEARNERS and not replace:
        raise ValueError(f"a learner kind named {name!r} exists; pass replace=True to replace it")
    _check_kind(name, cls)
    taken = {arch: other for other, kind in LEARNERS.items() if other != name for arch in kind.archs()}
    clash = sorted(arch for arch in cls.archs() if arch in taken)
    if clash:
        raise ValueError(f"learner kind {name!r} builds {', '.join(clash[:3])}, which kind "
                         f"{taken[clash[0]]!r} builds already; rename the architecture")
    LEARNERS[name] = cls
    return cls


def learner_kind(arch: str) -> Optional[type[Learner]]:
    """The kind of learner that builds ``arch``, or None."""
    for kind in LEARNERS.values():
        if arch in kind.archs():
            return kind
    return None


def archs_for(role: str) -> list[str]:
    """Every architecture some kind of learner builds for ``role``, sorted."""
    return sorted(arch for kind in LEARNERS.values() if role in kind.roles for arch in kind.archs())


def make_learner(config: ModelConfig, role: str, env: Environment) -> Learner:
    """The learner for ``config.arch`` in ``role`` (checked by ``open_run`` to exist)."""
    kind = learner_kind(config.arch)
    assert kind is not None, f"no learner builds {config.arch!r}"
    return kind(config, role, env)


class LearnerOption(NamedTuple):
    """One option of a learner kind, as the command line offers it (``--<kind>-<name>``)."""

    kind: str
    name: str
    type: Any
    default: Any
    help: str
    roles: tuple[str, ...]


def learner_options() -> list[LearnerOption]:
    """The options of every registered kind (its ``Learner.options`` fields), kind by kind in registration
    order, each kind's in field order. ``roles`` says whether the kind plays the target (``--<kind>-<name>``)
    and/or the proxy (``--proxy-<kind>-<name>``). Read when called: kinds registered at run time are in."""
    return [LearnerOption(name, f.name, f.type, f.default, f.help, tuple(kind.roles))
            for name, kind in LEARNERS.items() if kind.options is not None
            for f in option_fields(kind.options)]


register_learner("torch", torch.TorchLearner)
register_learner("fasttext", fasttext.FastTextLearner)
