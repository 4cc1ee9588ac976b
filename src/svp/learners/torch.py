"""Torch networks from :data:`svp.models.MODELS`, trained by the engine."""
from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Collection, Optional

import numpy as np
import torch

from svp.config import ModelConfig
from svp.data import Data
from svp.engine.device import prepare_model, seed_everything
from svp.engine.fit import TrainResult, fit
from svp.engine.predict import predict
from svp.errors import UsageError
from svp.learners.base import Learner, damaged
from svp.models import (MODALITIES, MODELS, PRETRAINED, add_classifier_dropout, classifier_of, create_model,
                        dropout_layers)
from svp.rundir import BEST_CHECKPOINT, PROXY
from svp.selection import METHODS, Outputs

log = logging.getLogger(__name__)


def _twin(flag: str, option: str) -> str:
    """--weights for --arch's model, --proxy-weights for --proxy-arch's."""
    return f"--proxy-{option}" if flag.startswith("--proxy-") else f"--{option}"


def read_weights(path: Path) -> dict:
    """The state dict saved in ``path`` (by ``torch.save(model.state_dict(), path)``, or an svp checkpoint)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as error:
        raise UsageError(f"{path} cannot be read as saved weights ({type(error).__name__}: {error}) ; give a "
                         "file saved by torch.save(model.state_dict(), path)") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]  # an svp checkpoint
    if not isinstance(state, dict):
        raise UsageError(f"{path} holds {type(state).__name__}, not a state dict ; give a file saved by "
                         "torch.save(model.state_dict(), path)")
    return state


def load_weights(model: torch.nn.Module, state: dict, source: str | Path) -> None:
    """Start ``model`` from the weights ``state`` (from ``source``, for messages).

    Every layer must be there with its shape, except the final classifier,
    which starts afresh when its size differs (weights pretrained for
    another number of classes).
    """
    own = model.state_dict()
    try:
        classifier = classifier_of(model)
    except TypeError:  # no classifier layer: every weight must fit
        classifier = None
    head = {f"{name}.{key}" for name, module in model.named_modules() if module is classifier
            for key in module.state_dict()}
    resized = [k for k in head if k in state and state[k].shape != own[k].shape]
    kept = {k: v for k, v in state.items() if k not in resized}
    missing = [k for k in own if k not in kept and k not in resized]
    unexpected = [k for k in kept if k not in own]
    wrong = [k for k in kept if k in own and kept[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        problems = [f"missing {', '.join(missing[:3])}" if missing else "",
                    f"unexpected {', '.join(unexpected[:3])}" if unexpected else "",
                    f"other shapes for {', '.join(wrong[:3])}" if wrong else ""]
        raise UsageError(f"{source} does not fit this architecture ({'; '.join(p for p in problems if p)}) ; give "
                         "weights saved from the same architecture")
    model.load_state_dict(kept, strict=False)
    if resized:
        log.info("%s: the classifier starts afresh (%s has another number of classes)", source, resized[0])


class TorchLearner(Learner):
    """Trains ``config.arch`` with :func:`svp.engine.fit.fit`; keeps the last trained model."""

    model: Optional[torch.nn.Module] = None
    provides = frozenset({"probs", "features", "forgetting", "labels", "mc"})

    @classmethod
    def archs(cls) -> Collection[str]:
        return MODELS.keys()

    @classmethod
    def modality(cls, arch: str) -> str:
        return MODALITIES[arch]

    @classmethod
    def check(cls, config: ModelConfig, flag: str, method: Optional[str], data: Optional[Data] = None) -> None:
        """Refuse a --weights file that is not there and, once the data is known, a model that k-centers
        cannot take features from."""
        super().check(config, flag, method, data)
        if config.weights is not None and not Path(config.weights).is_file():
            raise UsageError(f"{_twin(flag, 'weights')} {config.weights}: no such file ; give the path of a saved "
                             "state dict")
        if config.pretrained and config.arch not in PRETRAINED:
            raise UsageError(f"{_twin(flag, 'pretrained')}: {config.arch} has no published weights ; choose one of "
                             f"{', '.join(sorted(PRETRAINED))}, or give your own with --weights PATH")
        if data is not None and method is not None and METHODS[method].needs & {"features", "mc"}:
            try:
                classifier_of(create_model(config.arch, data.num_classes, data.in_channels))
            except TypeError as error:
                raise UsageError(f"{flag} {config.arch}: {error}, so {method} cannot take its penultimate "
                                 "features ; name the final linear layer `classifier` or `fc`, or choose another "
                                 "--selection-method") from None

    def _new_model(self) -> torch.nn.Module:
        data = self.env.data
        model = create_model(self.config.arch, data.num_classes, data.in_channels)
        if self.config.weights is not None:
            load_weights(model, read_weights(Path(self.config.weights)), self.config.weights)
        elif self.config.pretrained:
            load_weights(model, PRETRAINED[self.config.arch](), f"{self.config.arch}'s published weights")
        if self.role == PROXY and self.env.mc_training and not dropout_layers(model):
            model = add_classifier_dropout(model, self.env.mc_dropout)
        return prepare_model(model, self.env.device)

    def train(self, labeled, out_dir, seed, hooks=()) -> TrainResult:
        seed_everything(seed)
        env = self.env
        result = fit(self._new_model(), env.data, labeled, self.config, device=env.device,
                     dev_indices=env.dev, track_test=env.track_test, checkpoint=env.checkpoint,
                     out_dir=out_dir, hooks=hooks, desc=f"{self.role} {self.config.arch} on {len(labeled)}")
        self.model = result.model
        return result

    def start(self, seed: int) -> None:
        seed_everything(seed)
        self.model = self._new_model()

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
        env = self.env
        out = predict(self.model, env.data, indices, batch_size=self.config.eval_batch_size, device=env.device,
                      features="features" in needs, amp=self.config.fp16,
                      mc_samples=env.mc_samples if "mc" in needs else 0, mc_dropout=env.mc_dropout)
        labels = np.asarray(env.data.targets("train"))[indices] if "labels" in needs else None
        return Outputs(indices, out.probs, out.features, labels=labels, mc_probs=out.mc_probs,
                       mc_entropy=out.mc_entropy)
