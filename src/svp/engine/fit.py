"""Train a model on a subset of a dataset and measure it.

``fit`` runs the piecewise schedule, evaluates on the dev split after each
epoch (and the test split at the end), keeps checkpoints, and calls batch
hooks (the forgetting tracker) with each training batch's predictions.
Under ``torchrun`` the model is wrapped in DistributedDataParallel and each
rank trains on its shard of every epoch.
"""
from __future__ import annotations

import io
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch import nn

from svp import events
from svp._faults import fault_point
from svp.config import ModelConfig
from svp.data.base import Data
from svp.engine import distributed
from svp.engine.device import autocast, grad_scaler, to_model_layout
from svp.engine.schedule import Schedule, step_budget, warmup_cosine
from svp.progress import bar
from svp.rundir import BEST_CHECKPOINT, atomic_write, epoch_checkpoint

log = logging.getLogger(__name__)

# hook(indices, correct, epoch): dataset indices of a training batch and
# whether the training forward pass classified each one correctly.
BatchHook = Callable[[torch.Tensor, torch.Tensor, int], None]


@dataclass
class Fitted:
    """What :func:`fit` gives: the trained model and its figures (accuracies are fractions, times seconds).

    ``train_accuracy`` is the last epoch's accuracy on the batches it trained
    on; ``steps`` the optimizer steps taken. The torch learner keeps the
    model and reports the rest (``svp.learners.TrainResult``).
    """

    model: nn.Module
    nexamples: int
    train_accuracy: float
    dev_accuracy: float
    test_accuracy: float
    train_time: float
    dev_time: float
    test_time: float
    steps: int
    step_budget: Optional[int] = None  # what an automatic schedule planned
    best_step: Optional[int] = None  # the step whose weights were kept (a dev or held-out set chose them)
    dev_rising: Optional[int] = None  # 1: the dev accuracy was still rising when training stopped


#: an automatic schedule holds out this fraction of the labeled examples to stop early on, when the run has no
#: dev set and there are at least HOLDOUT_MIN labeled examples: fewer train for the whole budget, as a
#: held-out set of a few dozen judges too coarsely (on 100 MNIST digits, stopping on 10 of them cost 20 points)
HOLDOUT = 0.1
HOLDOUT_MIN = 500
#: ... and stops once the held-out accuracy has not improved for PATIENCE of the planned epochs, and for at
#: least PATIENCE_STEPS optimizer steps (a few dozen held-out examples make a noisy judge)
PATIENCE = 0.25
PATIENCE_STEPS = 100
#: an automatic schedule's peak rate when the learning rates are left at their defaults (those are the paper's
#: for ResNets with batch normalisation: 0.1 diverged for small-cnn on 100 MNIST digits, 23% where 0.05 gave 86%)
AUTO_PEAK = {"sgd": 0.05, "adam": 1e-3}
#: the dev accuracy counts as still rising when the last RISING of the epochs run beat every epoch before them
RISING = 0.1


@dataclass
class _Plan:
    """How one training goes: its schedule, the examples it trains on, those that choose the kept weights."""

    schedule: Schedule
    train: np.ndarray
    stop_on: Optional[np.ndarray]  # the dev set, or the examples held out of the labeled ones; None: neither
    budget: Optional[int] = None  # the steps an automatic schedule planned
    patience: Optional[int] = None  # epochs without improvement before stopping early; None: never


def plan(config: ModelConfig, indices: np.ndarray, dev_indices: Optional[np.ndarray]) -> _Plan:
    """The schedule ``config`` asks for: its epoch segments, or an automatic one sized to ``indices`` (see
    :mod:`svp.engine.schedule`), which stops early on the dev set, else on a seeded tenth of ``indices``."""
    indices = np.asarray(indices)
    has_dev = dev_indices is not None and len(dev_indices) > 0
    if config.schedule != "auto":
        return _Plan(Schedule(tuple(config.epochs), tuple(config.learning_rates)), indices,
                     dev_indices if has_dev else None)
    train, stop_on = indices, dev_indices if has_dev else None
    if not has_dev and len(indices) >= HOLDOUT_MIN:
        order = indices[torch.randperm(len(indices)).numpy()]  # seeded by the training's seed
        held = max(1, round(HOLDOUT * len(indices)))
        train, stop_on = np.sort(order[held:]), np.sort(order[:held])
    budget = step_budget(len(train), config.batch_size, sum(config.epochs), config.steps)
    schedule = warmup_cosine(budget, len(train), config.batch_size, peak_rate(config))
    per_epoch = -(-len(train) // config.batch_size)
    patience = None if stop_on is None else max(math.ceil(PATIENCE * schedule.total_epochs),
                                                 math.ceil(PATIENCE_STEPS / per_epoch))
    return _Plan(schedule, train, stop_on, budget, patience)


def peak_rate(config: ModelConfig) -> float:
    """An automatic schedule's peak: the largest learning rate given, else :data:`AUTO_PEAK`'s."""
    if config.learning_rates != ModelConfig.learning_rates:
        return max(config.learning_rates)
    return AUTO_PEAK[config.optimizer]


def make_optimizer(model: nn.Module, config: ModelConfig) -> torch.optim.Optimizer:
    """SGD with momentum (Nesterov off, as the original) or Adam, both with weight decay."""
    lr = config.learning_rates[0]
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=config.momentum,
                               weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=config.weight_decay)
    raise ValueError(f"unknown optimizer {config.optimizer!r}; choose sgd or adam")


def _set_lr(optimizer: torch.optim.Optimizer, rate: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = rate


@dataclass
class _Step:
    """What one training step needs, bundled so the epoch loop stays short."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    criterion: nn.Module
    scaler: torch.amp.GradScaler
    device: torch.device
    amp: bool
    steps: int = 0  # optimizer steps taken so far

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with autocast(self.device, self.amp):
            logits = self.model(to_model_layout(x))
            loss = self.criterion(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.steps += 1
        return loss.detach(), logits.detach().argmax(1) == y


def train_epoch(step: _Step, data: Data, indices: np.ndarray, batch_size: int, epoch: int,
                hooks: Sequence[BatchHook] = ()) -> float:
    """One pass over ``indices`` (this rank's shard); returns the training accuracy.

    Under ``torchrun`` every rank ends the epoch with rank 0's buffers
    (BatchNorm statistics), so all ranks evaluate and score the same model.
    The examples that pad the shards to equal lengths train but are left
    out of the accuracy and the hooks: each example counts once per epoch.
    """
    step.model.train()
    order = distributed.shard(torch.as_tensor(indices)[torch.randperm(len(indices))])
    padded = distributed.padding(len(indices))
    per_rank = max(1, batch_size // distributed.world_size())
    totals = torch.zeros(3, dtype=torch.float64)  # correct, seen, loss sum
    batches = data.batches("train", order, per_rank, train=True, device=step.device)
    progress = bar(batches, total=-(-len(order) // per_rank), desc=f"epoch {epoch}", unit="batch")
    done = 0
    for x, y, idx in progress:
        loss, correct = step(x, y)
        keep = ~padded[done:done + len(y)]
        done += len(y)
        correct = correct.cpu()[keep]
        if hooks:
            _call_hooks(hooks, idx[keep], correct, epoch)
        totals += torch.tensor([correct.sum().item(), len(correct), loss.item() * len(correct)],
                               dtype=torch.float64)
        progress.set_postfix(loss=f"{totals[2] / totals[1]:.3f}", acc=f"{totals[0] / totals[1]:.3f}")
    distributed.broadcast_buffers(step.model)
    distributed.all_sum(totals)
    return float(totals[0] / totals[1])


def _call_hooks(hooks: Sequence[BatchHook], idx: torch.Tensor, correct: torch.Tensor, epoch: int) -> None:
    """Give hooks the whole global batch: every rank's part, gathered."""
    if distributed.world_size() > 1:  # one collective for both
        both = distributed.all_gather_cat(torch.stack([idx.long(), correct.long()], 1))
        idx, correct = both[:, 0], both[:, 1].bool()
    for hook in hooks:
        hook(idx, correct, epoch)


@torch.inference_mode()
def evaluate(model: nn.Module, data: Data, split: str, indices: Optional[np.ndarray], batch_size: int,
             device: torch.device, amp: bool = False, desc: str = "evaluating") -> tuple[float, float]:
    """Accuracy of ``model`` on ``indices`` of ``split`` (all when None), and the seconds it took.

    Under ``torchrun`` each rank evaluates its part of ``indices`` (each
    example once) with the unwrapped module: DDP's forward pass may sync
    buffers, and ranks can hold different numbers of batches here.
    """
    start = time.perf_counter()
    if indices is None:
        indices = np.arange(data.size(split))
    model = getattr(model, "module", model)
    model.eval()
    totals = torch.zeros(2, dtype=torch.float64)
    shard = distributed.part(np.asarray(indices), batch_size)
    batches = data.batches(split, shard, batch_size, device=device)
    for x, y, _ in bar(batches, total=-(-len(shard) // batch_size), desc=desc, unit="batch"):
        with autocast(device, amp):
            logits = model(to_model_layout(x))
        totals += torch.tensor([(logits.argmax(1) == y).sum().item(), len(y)], dtype=torch.float64)
    distributed.all_sum(totals)
    return float(totals[0] / max(totals[1], 1)), time.perf_counter() - start


def save_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int,
                    accuracy: float) -> None:
    """Save model and optimizer state atomically (rank 0 only)."""
    if not distributed.is_main():
        return
    module = getattr(model, "module", model)
    buffer = io.BytesIO()
    torch.save({"epoch": epoch, "accuracy": accuracy, "model": module.state_dict(),
                "optimizer": optimizer.state_dict()}, buffer)
    atomic_write(path, buffer.getvalue())


def wrap_distributed(model: nn.Module, device: torch.device) -> nn.Module:
    """DistributedDataParallel under torchrun; the model itself otherwise."""
    if distributed.world_size() == 1:
        return model
    ids = [device.index] if device.type == "cuda" else None
    # a layer may leave some parameters without gradient in a step (stochastic depth drops blocks)
    skips = any(getattr(m, "skips_parameters", False) for m in model.modules())
    return nn.parallel.DistributedDataParallel(model, device_ids=ids, find_unused_parameters=skips)


class _Checkpointer:
    """Keeps the best weights (by dev accuracy) and writes checkpoint files.

    ``best``: the best model by dev accuracy (the last one without a dev set);
    ``last``: also the last epoch of each schedule segment; ``all``: every epoch.
    """

    def __init__(self, mode: str, out_dir: Optional[Path], segment_ends: set[int], keep_weights: bool) -> None:
        self.mode, self.out_dir, self.segment_ends = mode, out_dir, segment_ends
        self.keep_weights = keep_weights  # to restore the best epoch at the end (with a dev set)
        self.best_accuracy, self.best_state = -1.0, None
        self.best_epoch = self.best_step = 0

    def update(self, model: nn.Module, optimizer, epoch: int, accuracy: float, steps: int = 0) -> None:
        module = getattr(model, "module", model)
        is_best = accuracy >= self.best_accuracy
        if is_best:
            self.best_accuracy, self.best_epoch, self.best_step = accuracy, epoch, steps
            if self.keep_weights:
                self.best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        if self.out_dir is None:
            return
        if is_best:
            save_checkpoint(self.out_dir / BEST_CHECKPOINT, model, optimizer, epoch, accuracy)
        if self.mode == "all" or (self.mode == "last" and epoch in self.segment_ends):
            save_checkpoint(self.out_dir / epoch_checkpoint(epoch), model, optimizer, epoch, accuracy)

    def restore_best(self, model: nn.Module) -> None:
        if self.best_state is not None:
            getattr(model, "module", model).load_state_dict(self.best_state)


def fit(model: nn.Module, data: Data, indices: np.ndarray, config: ModelConfig, *,
        device: torch.device, dev_indices: Optional[np.ndarray] = None, track_test: bool = True,
        checkpoint: str = "best", out_dir: Optional[Path] = None, hooks: Sequence[BatchHook] = (),
        desc: str = "train", role: Optional[str] = None) -> Fitted:
    """Train ``model`` on ``indices`` of the training split with ``config``'s schedule (see :func:`plan`).

    With a dev set (or, for an automatic schedule, examples held out of
    ``indices``), the weights of the epoch with the best accuracy on it are
    restored at the end and reported; without one, the last epoch's are.
    Test accuracy is measured once, on the final weights (-1 when
    ``track_test`` is off, like a missing dev set). Each epoch's figures go
    to the run's sinks as an ``epoch_ended`` event about ``role``.
    """
    how = plan(config, indices, dev_indices)
    has_dev = dev_indices is not None and len(dev_indices) > 0
    model = wrap_distributed(model, device)
    optimizer = make_optimizer(model, config)
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    step = _Step(model, optimizer, criterion, grad_scaler(device, config.fp16, config.loss_scale),
                 device, config.fp16)
    keeper = _Checkpointer(checkpoint, out_dir, how.schedule.segment_ends(), keep_weights=how.stop_on is not None)
    times = {"train": 0.0, "dev": 0.0}
    train_acc, history = -1.0, []  # the accuracy on the examples that choose the kept weights, epoch by epoch
    epochs = bar(how.schedule, total=how.schedule.total_epochs, desc=desc, unit="epoch")
    for epoch, rate in epochs:
        train_acc, stop_acc = _epoch(step, data, how, config, epoch, rate, hooks, times)
        keeper.update(model, optimizer, epoch, stop_acc if how.stop_on is not None else float(epoch), step.steps)
        fault_point("epoch")
        epochs.set_postfix(train=f"{train_acc:.3f}", dev=f"{stop_acc:.3f}" if how.stop_on is not None else "-")
        if distributed.is_main():
            events.emit(events.EPOCH_ENDED, {"epoch": epoch, "learning_rate": rate, "train_accuracy": train_acc,
                                             "dev_accuracy": stop_acc, "seconds": times.pop("epoch")},
                        role=role, nexamples=len(indices))
        history.append(stop_acc)
        if how.patience is not None and stops_early(history, how.patience):
            log.info("%s: no better on its %d held-out examples for %d epochs: stopped at epoch %d of %d", desc,
                     len(how.stop_on), how.patience, epoch, how.schedule.total_epochs)
            break
    keeper.restore_best(model)
    dev_acc = keeper.best_accuracy if has_dev else -1.0
    test_acc, test_time = -1.0, 0.0
    if track_test and data.size("test"):  # a dataset may come without a test split
        test_acc, test_time = evaluate(model, data, "test", None, config.eval_batch_size, device, config.fp16,
                                       desc="test")
    module = getattr(model, "module", model)
    followed = how.stop_on is not None
    rising = still_rising(history, len(history) == how.schedule.total_epochs) if followed else None
    return Fitted(module, len(indices), train_acc, dev_acc, test_acc, times["train"], times["dev"], test_time,
                  step.steps, how.budget, keeper.best_step if followed else None, rising)


def stops_early(accuracies: Sequence[float], patience: int) -> bool:
    """Whether ``patience`` epochs have passed since the best accuracy (the latest of equals) of ``accuracies``."""
    best = len(accuracies) - 1 - int(np.argmax(np.asarray(accuracies)[::-1]))
    return len(accuracies) - 1 - best >= patience


def still_rising(accuracies: Sequence[float], ran_to_the_end: bool) -> int:
    """1 when training ran its whole schedule and its last epochs (the last :data:`RISING` of them) reached a
    dev accuracy above every earlier epoch's: more training would likely have helped. Else 0."""
    window = max(1, math.ceil(RISING * len(accuracies)))
    earlier, last = accuracies[:-window], accuracies[-window:]
    return int(ran_to_the_end and bool(earlier) and max(last) > max(earlier))


def _epoch(step: _Step, data: Data, how: _Plan, config: ModelConfig, epoch: int, rate: float,
           hooks: Sequence[BatchHook], times: dict) -> tuple[float, float]:
    """One epoch at ``rate``, then the accuracy on the examples that choose the kept weights (-1: none);
    ``times`` gains the training and dev seconds (and this epoch's, under "epoch")."""
    _set_lr(step.optimizer, rate)
    start = time.perf_counter()
    train_acc = train_epoch(step, data, how.train, config.batch_size, epoch, hooks)
    times["train"] += time.perf_counter() - start
    stop_acc = -1.0
    if how.stop_on is not None:
        stop_acc, seconds = evaluate(step.model, data, "train", how.stop_on, config.eval_batch_size, step.device,
                                     config.fp16, desc="dev")
        times["dev"] += seconds
    times["epoch"] = time.perf_counter() - start
    log.debug("epoch %d lr %g train %.4f dev %.4f", epoch, rate, train_acc, stop_acc)
    return train_acc, stop_acc
