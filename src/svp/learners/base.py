"""The learner interface: one kind of model, trained on labeled indices, scoring a pool.

Workflows hold learners only through this interface, so they never ask
which kind they hold; a kind says what it can do (:meth:`Learner.check`)
and ``open_run`` asks it before anything is trained.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection, Mapping, Optional, Sequence

import numpy as np
import torch

from svp.config import ModelConfig
from svp.data import Data
from svp.errors import UsageError
from svp.rundir import PROXY, TARGET
from svp.selection import METHODS, BaldOptions, Outputs, method_names, model_needs
from svp.selection.needs import describe
from svp.selection.options import parse_options

# hook(indices, correct, epoch): dataset indices of a training batch and
# whether the training forward pass classified each one correctly.
BatchHook = Callable[[torch.Tensor, torch.Tensor, int], None]


@dataclass
class TrainResult:
    """What one training gave (accuracies are fractions, times seconds): the row of proxy.csv / target.csv.

    ``train_accuracy`` is the last epoch's accuracy on the batches it trained
    on; ``steps`` the optimizer steps taken (None where a learner has no such
    count, fastText's say). Together they tell a target that had too short a
    schedule to fit its training set (see ``svp.report``). The trained model
    stays with the learner.

    The columns after the original's are written only when a learner knows
    them: ``chance_accuracy``, the accuracy of always predicting the most
    frequent class of the split the test (else dev) accuracy is measured on;
    ``step_budget``, the optimizer steps an automatic schedule planned;
    ``best_step``, the step whose weights were kept (early stopping), and
    ``dev_rising``, 1 when the dev accuracy was still rising as training
    stopped (more training would likely help), else 0.
    """

    nexamples: int
    train_accuracy: float
    dev_accuracy: float
    test_accuracy: float
    train_time: float
    dev_time: float
    test_time: float
    steps: Optional[int] = None
    chance_accuracy: Optional[float] = None
    step_budget: Optional[int] = None
    best_step: Optional[int] = None
    dev_rising: Optional[int] = None

    def row(self) -> dict:
        """The row written to proxy.csv / target.csv: the original's columns, then those counted (see above)."""
        row = {k: getattr(self, k) for k in ("nexamples", "train_accuracy", "dev_accuracy",
                                             "test_accuracy", "train_time", "dev_time", "test_time")}
        for name in OPTIONAL_COLUMNS:
            if getattr(self, name) is not None:
                row[name] = getattr(self, name)
        return row


#: the columns of a training row after the original's, in order, each written when known
OPTIONAL_COLUMNS = ("steps", "chance_accuracy", "step_budget", "best_step", "dev_rising")


@dataclass(frozen=True)
class Environment:
    """What every learner of a run shares: the data, the device, the dev set, run options."""

    data: Data
    device: torch.device
    dev: np.ndarray          # dev-set indices of the training split (empty: no dev set)
    track_test: bool = True  # measure test accuracy after each training
    checkpoint: str = "best"
    mc_samples: int = BaldOptions.mc_samples     # Monte-Carlo dropout samples per example, when a method needs "mc"
    mc_dropout: float = BaldOptions.mc_dropout  # their dropout on the classifier's input (models without dropout)
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
    roles they can play, what they can give a selection method
    (``provides``, basic needs of :data:`svp.selection.NEEDS`) and the
    options of their own (``options``); :meth:`check` refuses the rest
    before any data is read. A kind joins with
    :func:`svp.learners.register_learner`.
    """

    #: roles this kind can play (``rundir.PROXY``, ``rundir.TARGET``)
    roles: tuple[str, ...] = (PROXY, TARGET)
    #: the basic needs :meth:`score` and training hooks can give (see ``svp.selection.NEEDS``)
    provides: frozenset = frozenset({"probs", "features", "forgetting"})
    #: this kind's own options (``ModelConfig.options``): a dataclass whose fields all have defaults and a
    #: ``metadata={"help": ...}``; the command line offers each as ``--<kind>-<field>`` (``--proxy-<kind>-<field>``)
    options: Optional[type] = None

    def __init__(self, config: ModelConfig, role: str, env: Environment) -> None:
        self.config, self.role, self.env = config, role, env

    @classmethod
    @abstractmethod
    def archs(cls) -> Collection[str]:
        """The architecture names this kind builds."""

    @classmethod
    @abstractmethod
    def modality(cls, arch: str) -> str:
        """What ``arch`` takes as input: "image", "text" or "features" (see ``svp.data.MODALITIES``)."""

    @classmethod
    def check_options(cls, options: Mapping[str, Any], flag: str, arch: Optional[str] = None) -> Any:
        """``options`` (a ``ModelConfig.options``) checked against :attr:`options`, as its instance (None for a
        kind without options). ``flag`` and ``arch`` (``--proxy-arch fasttext``) name the model in messages.

        Raises
        ------
        UsageError
            Options this kind does not declare (named), or values of the wrong type.
        """
        try:
            return parse_options(cls.options, options, f"{flag} {arch or cls.__name__}")
        except ValueError as error:
            raise UsageError(f"{error} ; correct or drop it (svp.learners.learner_options() lists each kind's)") \
                from None

    @classmethod
    def configure(cls, config: ModelConfig) -> ModelConfig:
        """``config`` made whole for this kind once its options are set (e.g. by the command line): a kind
        whose options also decide other fields of the config (fastText's schedule) brings them in line.
        The config as it is by default."""
        return config

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
        cls.check_options(config.options, flag, config.arch)
        if method is None or method not in METHODS:
            return
        missing = model_needs(METHODS[method].needs) - cls.provides
        if missing:
            usable = method_names(provides=cls.provides)
            choices = f"{', '.join(usable[:-1])} or {usable[-1]}" if len(usable) > 1 else "".join(usable)
            raise UsageError(f"{flag} {config.arch} gives {describe(cls.provides)} only, so it cannot select by "
                             f"{method} (it needs {describe(missing)}); choose --selection-method {choices}, or "
                             f"another {flag}")

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
        """What the current model says about ``indices`` of the training split: ``needs`` of it, basic needs of
        :attr:`provides` (workflows expand derived needs with ``svp.selection.model_needs``)."""

    def discard(self, out_dir: Path) -> None:
        """Called once the model :meth:`train` left in ``out_dir`` will never be loaded again.

        Torch checkpoints stay (``--checkpoint`` says which); a learner whose
        saved models are large removes what no resume and no --checkpoint needs.
        """
