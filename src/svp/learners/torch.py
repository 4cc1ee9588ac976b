"""Torch networks from :data:`svp.models.MODELS`, trained by the engine."""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Collection, Optional

import numpy as np
import torch

from svp.engine.device import prepare_model, seed_everything
from svp.engine.fit import TrainResult, fit
from svp.engine.predict import predict
from svp.learners.base import Learner, damaged
from svp.models import MODALITIES, MODELS, create_model
from svp.rundir import BEST_CHECKPOINT
from svp.selection import Outputs


class TorchLearner(Learner):
    """Trains ``config.arch`` with :func:`svp.engine.fit.fit`; keeps the last trained model."""

    model: Optional[torch.nn.Module] = None

    @classmethod
    def archs(cls) -> Collection[str]:
        return MODELS.keys()

    @classmethod
    def modality(cls, arch: str) -> str:
        return MODALITIES[arch]

    def _new_model(self) -> torch.nn.Module:
        data = self.env.data
        model = create_model(self.config.arch, data.num_classes, data.in_channels)
        return prepare_model(model, self.env.device)

    def train(self, labeled, out_dir, seed, hooks=()) -> TrainResult:
        seed_everything(seed)
        env = self.env
        result = fit(self._new_model(), env.data, labeled, self.config, device=env.device,
                     dev_indices=env.dev, track_test=env.track_test, checkpoint=env.checkpoint,
                     out_dir=out_dir, hooks=hooks, desc=f"{self.role} {self.config.arch} on {len(labeled)}")
        self.model = result.model
        return result

    def load(self, out_dir: Path) -> None:
        path = out_dir / BEST_CHECKPOINT
        model = self._new_model()
        try:
            state = torch.load(path, map_location=self.env.device, weights_only=True)
            model.load_state_dict(state["model"])
        except (OSError, RuntimeError, EOFError, KeyError, TypeError, pickle.UnpicklingError) as error:
            raise damaged(path, error) from None
        self.model = model

    def score(self, indices, needs) -> Outputs:
        indices = np.asarray(indices, dtype=np.int64)
        probs, features = predict(self.model, self.env.data, indices, batch_size=self.config.eval_batch_size,
                                  device=self.env.device, features="features" in needs, amp=self.config.fp16)
        return Outputs(indices, probs, features)
