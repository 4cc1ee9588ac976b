"""The learner interface: one kind of model, trained on labeled indices, scoring a pool.

Workflows hold learners only through this interface, so they never ask
which kind they hold; a kind says what it can do (:meth:`Learner.check`)
and ``open_run`` asks it before anything is trained.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Optional, Sequence

import numpy as np
import torch

from svp.config import ModelConfig
from svp.data import Data
from svp.engine.fit import BatchHook, TrainResult
from svp.errors import UsageError
from svp.rundir import PROXY, TARGET
from svp.selection import METHODS, Outputs

# what a learner can give a selection method (see svp.selection.Method.needs)
_GIVES = {"probs": "class probabilities", "features": "features", "forgetting": "forgetting events",
          "labels": "the examples' labels", "mc": "Monte-Carlo dropout samples"}


@dataclass(frozen=True)
class Environment:
    """What every learner of a run shares: the data, the device, the dev set, run options."""

    data: Data
    device: torch.device
    dev: np.ndarray          # dev-set indices of the training split (empty: no dev set)
    track_test: bool = True  # measure test accuracy after each training
    checkpoint: str = "best"
    mc_samples: int = 20     # Monte-Carlo dropout samples per example, when a method needs them ("mc")
    mc_dropout: float = 0.5  # their dropout probability on the classifier's input (models without dropout)
    mc_training: bool = False  # the proxy trains with that dropout too (its method samples it)


def damaged(path: Path, error: Exception) -> UsageError:
    """The error of a saved model that cannot be loaded back (on --resume), on one line (torch's messages span
    several)."""
    why = (str(error).strip().splitlines() or [""])[0]
    return UsageError(f"{path} cannot be loaded ({type(error).__name__}: {why}) ; it is damaged: restore it, or "
                      "start a new run (this run's other results stay as they are)")


class Learner(ABC):
    """One kind of model (torch networks, fastText, ...) behind the calls workflows make.

    Subclasses declare the architectures they build (:meth:`archs`), the
    roles they can play and what they can give a selection method
    (``provides``); :meth:`check` refuses the rest before any data is read.
    """

    #: roles this kind can play (``rundir.PROXY``, ``rundir.TARGET``)
    roles: tuple[str, ...] = (PROXY, TARGET)
    #: what :meth:`score` and training hooks can give (see ``Method.needs``)
    provides: frozenset = frozenset({"probs", "features", "forgetting"})

    def __init__(self, config: ModelConfig, role: str, env: Environment) -> None:
        self.config, self.role, self.env = config, role, env

    @classmethod
    @abstractmethod
    def archs(cls) -> Collection[str]:
        """The architecture names this kind builds."""

    @classmethod
    @abstractmethod
    def modality(cls, arch: str) -> str:
        """What ``arch`` takes as input: "image" or "text" (see ``svp.data.MODALITIES``)."""

    @classmethod
    def check(cls, config: ModelConfig, flag: str, method: Optional[str], data: Optional[Data] = None) -> None:
        """Refuse, with a :class:`UsageError`, what this kind cannot do.

        Parameters
        ----------
        config : ModelConfig
            The model this learner would train.
        flag : str
            The option that chose its architecture (``--arch``, ``--proxy-arch``), for messages.
        method : str or None
            The selection method it would serve, None when it selects nothing.
        data : Data, optional
            The dataset, once loaded (checks that need it run then).
        """
        if method is None or method not in METHODS:
            return
        missing = METHODS[method].needs - cls.provides
        if missing:
            usable = [name for name, m in METHODS.items() if m.needs <= cls.provides]
            gives = ", ".join(_GIVES[k] for k in sorted(cls.provides))
            choices = f"{', '.join(usable[:-1])} or {usable[-1]}" if len(usable) > 1 else usable[0]
            raise UsageError(f"{flag} {config.arch} gives {gives} only, so it cannot select by {method} "
                             f"(it needs {', '.join(_GIVES[k] for k in sorted(missing))}); choose "
                             f"--selection-method {choices}, or another {flag}")

    @abstractmethod
    def train(self, labeled: np.ndarray, out_dir: Path, seed: int,
              hooks: Sequence[BatchHook] = ()) -> TrainResult:
        """Train a fresh model on ``labeled`` indices; files go in ``out_dir``; keep the model."""

    @abstractmethod
    def load(self, out_dir: Path) -> None:
        """Reload the model a finished :meth:`train` left in ``out_dir``."""

    def start(self, seed: int) -> None:
        """Take the model as it is before any training (its starting weights), for :meth:`score` to give
        features before any label exists (a cold start). Kinds without features never get this call."""
        raise NotImplementedError(f"{type(self).__name__} gives no features before training")

    @abstractmethod
    def score(self, indices: np.ndarray, needs: frozenset) -> Outputs:
        """What the current model says about ``indices`` of the training split (``needs`` of it)."""

    def discard(self, out_dir: Path) -> None:
        """Called once the model :meth:`train` left in ``out_dir`` will never be loaded again.

        Torch checkpoints stay (``--checkpoint`` says which); a learner whose
        saved models are large removes what no resume and no --checkpoint needs.
        """
