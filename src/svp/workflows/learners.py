"""A learner trains one kind of model on labeled indices and scores a pool.

``TorchLearner`` covers every architecture in :data:`svp.models.MODELS`;
the fastText proxy (not a torch model) plugs in through the same three
methods, so workflows never ask which kind they hold.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Protocol, Sequence

import numpy as np
import torch

from svp.config import ModelConfig
from svp.engine.device import derive_seed, prepare_model, seed_everything
from svp.engine.fit import BatchHook, TrainResult, fit
from svp.engine.predict import Outputs, predict
from svp.models import create_model
from svp.models.fasttext import FASTTEXT_ARCH  # the one proxy that is not a torch model
from svp.workflows.context import Context

log = logging.getLogger(__name__)

BEST_CHECKPOINT = "checkpoint_best_model.t7"


class Learner(Protocol):
    def train(self, labeled: np.ndarray, out_dir: Path, seed: int,
              hooks: Sequence[BatchHook] = ()) -> TrainResult: ...

    def load(self, out_dir: Path) -> None: ...

    def score(self, indices: np.ndarray, needs: frozenset) -> Outputs: ...


class TorchLearner:
    """Trains ``config.arch`` with the engine; keeps the last trained model."""

    def __init__(self, ctx: Context, config: ModelConfig, role: str) -> None:
        self.ctx, self.config, self.role = ctx, config, role
        self.model: Optional[torch.nn.Module] = None

    def _new_model(self) -> torch.nn.Module:
        data = self.ctx.data
        model = create_model(self.config.arch, data.num_classes, data.in_channels)
        return prepare_model(model, self.ctx.device)

    def train(self, labeled, out_dir, seed, hooks=()) -> TrainResult:
        seed_everything(seed)
        run = self.ctx.config.runtime
        result = fit(self._new_model(), self.ctx.data, labeled, self.config, device=self.ctx.device,
                     dev_indices=self.ctx.dev, track_test=run.track_test_acc,
                     checkpoint=run.checkpoint, out_dir=out_dir, hooks=hooks,
                     desc=f"{self.role} {self.config.arch} on {len(labeled)}")
        self.model = result.model
        return result

    def load(self, out_dir: Path) -> None:
        """Reload the model a finished training left in ``out_dir``."""
        state = torch.load(out_dir / BEST_CHECKPOINT, map_location=self.ctx.device, weights_only=True)
        self.model = self._new_model()
        self.model.load_state_dict(state["model"])

    def score(self, indices, needs) -> Outputs:
        return predict(self.model, self.ctx.data, indices, batch_size=self.config.eval_batch_size,
                       device=self.ctx.device, features="features" in needs, amp=self.config.fp16)


def make_learner(ctx: Context, config: ModelConfig, role: str) -> Learner:
    """The learner for ``config.arch``."""
    if config.arch == FASTTEXT_ARCH:
        from svp.workflows.fasttext_learner import FastTextLearner

        return FastTextLearner(ctx, config, role)
    return TorchLearner(ctx, config, role)


def training_seed(ctx: Context, role: str, nexamples: int) -> int:
    """The seed of one training: a restarted round repeats itself exactly."""
    return derive_seed(ctx.seed, role, nexamples)
