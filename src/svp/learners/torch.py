"""Torch networks from :data:`svp.models.MODELS`, trained by the engine."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Collection, Optional

import numpy as np
import torch

from svp.config import ModelConfig
from svp.data import Data
from svp.engine.device import prepare_model, seed_everything
from svp.engine.fit import fit
from svp.engine.predict import predict
from svp.errors import UsageError
from svp.learners.base import Environment, Learner, TrainResult, damaged
from svp.learners.health import chance_accuracy
from svp.models import (MODALITIES, MODELS, PRETRAINED, add_classifier_dropout, classifier_of, create_model,
                        dropout_layers)
from svp.models.weights import UnreadableTensors, load_tensors
from svp.rundir import BEST_CHECKPOINT, PROXY
from svp.selection import METHODS, Outputs, model_needs

log = logging.getLogger(__name__)


def _twin(flag: str, option: str) -> str:
    """The option named ``option`` of ``flag``'s model: ``--weights`` for --arch's, ``--proxy-weights`` for
    --proxy-arch's; in Python, ``ActiveConfig.proxy.weights`` for ``ActiveConfig.proxy.arch``'s. The one place
    that builds such names."""
    if not flag.startswith("--"):
        return f"{flag.rsplit('.', 1)[0]}.{option}"
    return f"--proxy-{option}" if flag.startswith("--proxy-") else f"--{option}"


def start_source(config: ModelConfig, flag: str) -> str:
    """Where a model's starting weights come from, as the option that gave them, for messages."""
    if config.weights is not None:
        return f"{_twin(flag, 'weights')} {config.weights}"
    return _twin(flag, "pretrained")


def read_weights(path: Path, source: Optional[str] = None) -> dict[str, torch.Tensor]:
    """The state dict saved in ``path`` (by ``torch.save(model.state_dict(), path)``, or an svp checkpoint).

    Read as tensors only (:func:`svp.models.weights.load_tensors`): a file a user hands svp runs no code.
    ``source`` names the file in messages (the option that gave it), else its path.
    """
    return load_tensors(path, source or str(path), checkpoint=True)


def load_weights(model: torch.nn.Module, state: dict, source: str | Path, arch: Optional[str] = None,
                 flag: str = "--arch") -> None:
    """Start ``model`` (``arch``, chosen by ``flag``) from the weights ``state`` (from ``source``): the last three
    for messages.

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
        raise UsageError(f"{source} does not fit {arch or 'this architecture'} "
                         f"({'; '.join(p for p in problems if p)}) ; give {_twin(flag, 'weights')} PATH with "
                         f"weights saved from {arch or 'the same architecture'}")
    model.load_state_dict(kept, strict=False)
    if resized:
        log.info("%s: the classifier starts afresh (%s has another number of classes)", source, resized[0])


def starting_model(config: ModelConfig, data: Data, flag: str) -> torch.nn.Module:
    """``config.arch`` for ``data``, started from its --weights or --pretrained weights when given.

    Raises
    ------
    UsageError
        When the weights cannot be read, or do not fit the architecture (named as the user gave them, see
        :func:`start_source`).
    """
    model = create_model(config.arch, data.num_classes, data.in_channels)
    if config.weights is None and not config.pretrained:
        return model
    source = start_source(config, flag)
    if config.weights is not None:
        state = read_weights(Path(config.weights), source)
    else:
        state = PRETRAINED[config.arch](option=source, weights_option=_twin(flag, "weights"))
    load_weights(model, state, source, config.arch, flag)
    return model


def _check_start_options(config: ModelConfig, flag: str) -> None:
    """Refuse a --weights that is no file (the one place a directory is refused: before any data is read), and
    --pretrained for an architecture without published weights."""
    if config.weights is not None and not Path(config.weights).is_file():
        what = "is a directory, not a file" if Path(config.weights).is_dir() else "no such file"
        raise UsageError(f"{start_source(config, flag)}: {what} ; give the path of a saved state dict")
    if config.pretrained and config.arch not in PRETRAINED:
        published = ", ".join(sorted(PRETRAINED))
        fix = (f"give --no-proxy-pretrained to start the proxy from random weights (and --proxy-weights PATH for "
               f"weights of your own), or choose a --proxy-arch with published weights: {published}"
               if flag.startswith("--proxy-") else f"choose one of {published}, or give your own with --weights PATH")
        raise UsageError(f"{start_source(config, flag)}: {config.arch} has no published weights ; {fix}")


def _chance(env: Environment) -> Optional[float]:
    """The accuracy of always predicting the most frequent class of the split :func:`~svp.engine.fit.fit`
    measures (the test split where it is tracked, else the dev set); None when it measures neither."""
    data = env.data
    if env.track_test and data.size("test"):
        return chance_accuracy(data.targets("test"))
    if env.dev is not None and len(env.dev):
        return chance_accuracy(np.asarray(data.targets("train"))[env.dev])
    return None


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
        """Refuse a --weights file that is not there and, once the data is known, weights that cannot be read
        or do not fit the model, and a model whose penultimate features a method needs but cannot be taken.

        The weights are read here, before the run directory exists, so that bad ones leave nothing behind.
        """
        super().check(config, flag, method, data)
        _check_start_options(config, flag)
        features = method in METHODS and bool(model_needs(METHODS[method].needs) & {"features", "mc"})
        if data is None or not (features or config.weights is not None or config.pretrained):
            return  # building a large model only to drop it costs seconds: only when there is something to see
        model = starting_model(config, data, flag)
        if features:
            try:
                classifier_of(model)
            except TypeError as error:
                raise UsageError(f"{flag} {config.arch}: {error}, so {method} cannot take its penultimate "
                                 "features ; name the final linear layer `classifier` or `fc`, or choose another "
                                 "--selection-method") from None

    def _new_model(self) -> torch.nn.Module:
        model = starting_model(self.config, self.env.data, "--proxy-arch" if self.role == PROXY else "--arch")
        if self.role == PROXY and self.env.mc_training and not dropout_layers(model):
            model = add_classifier_dropout(model, self.env.mc_dropout)
        return prepare_model(model, self.env.device)

    def train(self, labeled, out_dir, seed, hooks=()) -> TrainResult:
        seed_everything(seed)
        env = self.env
        fitted = fit(self._new_model(), env.data, labeled, self.config, device=env.device,
                     dev_indices=env.dev, track_test=env.track_test, checkpoint=env.checkpoint,
                     out_dir=out_dir, hooks=hooks, desc=f"{self.role} {self.config.arch} on {len(labeled)}",
                     role=self.role)
        self.model = fitted.model
        return TrainResult(fitted.nexamples, fitted.train_accuracy, fitted.dev_accuracy, fitted.test_accuracy,
                           fitted.train_time, fitted.dev_time, fitted.test_time, fitted.steps,
                           chance_accuracy=_chance(env), step_budget=fitted.step_budget, best_step=fitted.best_step,
                           dev_rising=fitted.dev_rising)

    def start(self, seed: int) -> None:
        seed_everything(seed)
        self.model = self._new_model()

    def load(self, out_dir: Path) -> None:
        path = out_dir / BEST_CHECKPOINT
        model = self._new_model()
        try:
            model.load_state_dict(load_tensors(path, str(path), checkpoint=True, map_location=self.env.device))
        except UnreadableTensors as error:
            raise damaged(path, error.error) from None
        except RuntimeError as error:  # names or shapes not the model's
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
