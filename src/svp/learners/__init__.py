"""Learners: the kinds of model svp trains, behind one interface.

``LEARNERS`` maps a kind's name to its class; :func:`learner_kind` finds
the kind that builds an architecture. Adding a kind (e.g. a scikit-learn
proxy) is one module here and one entry below; no workflow changes.
"""
from __future__ import annotations

from typing import Optional

from svp.config import ModelConfig
from svp.learners import fasttext, torch
from svp.learners.base import Environment, Learner

LEARNERS: dict[str, type[Learner]] = {"torch": torch.TorchLearner, "fasttext": fasttext.FastTextLearner}

__all__ = ["LEARNERS", "Environment", "Learner", "archs_for", "learner_kind", "make_learner"]


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
