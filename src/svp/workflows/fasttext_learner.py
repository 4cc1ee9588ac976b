"""The fastText proxy as a learner: trains on raw texts, scores with probabilities.

fastText gives class probabilities but no features and no per-batch
hooks, so with ``--proxy-arch fasttext`` only the methods in
:data:`FASTTEXT_METHODS` (random and the uncertainty scores) are allowed;
:func:`check_fasttext_method` refuses the others before any data is read.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from svp.config import ModelConfig
from svp.engine import distributed
from svp.engine.fit import BatchHook, TrainResult
from svp.engine.predict import Outputs
from svp.errors import UsageError
from svp.models.fasttext import FASTTEXT_ARCH, FastTextProxy
from svp.selection import METHODS
from svp.workflows.context import Context

log = logging.getLogger(__name__)

MODEL_FILE = "fasttext.bin"
#: Selection methods that need nothing but class probabilities.
FASTTEXT_METHODS = tuple(name for name, method in METHODS.items() if method.needs <= {"probs"})


def _selects_with_fasttext(config: Any) -> bool:
    proxy = getattr(config, "proxy", None)
    return proxy is not None and proxy.arch == FASTTEXT_ARCH and not getattr(config, "precomputed_selection", None)


def check_fasttext_method(config: Any) -> None:
    """Refuse a fastText proxy with a method that needs features or forgetting events.

    Raises
    ------
    UsageError
        When ``config.proxy`` is fastText and ``config.selection_method``
        is not one of :data:`FASTTEXT_METHODS`.
    """
    if not _selects_with_fasttext(config):
        return
    method = config.selection_method
    if method in METHODS and method not in FASTTEXT_METHODS:
        raise UsageError(f"--proxy-arch fasttext gives class probabilities only (no features, no forgetting "
                         f"events), so it cannot select by {method}; choose --selection-method "
                         f"{', '.join(FASTTEXT_METHODS[:-1])} or {FASTTEXT_METHODS[-1]}, "
                         "or a torch proxy (e.g. --proxy-arch vdcnn9-maxpool)")


def check_fasttext_data(config: Any, data: Any) -> None:
    """Refuse a fastText proxy on a dataset without raw texts (anything but text)."""
    if _selects_with_fasttext(config) and getattr(data, "texts", None) is None:
        raise UsageError(f"--proxy-arch fasttext needs a text dataset (e.g. amazon_review_polarity); "
                         f"{config.data.dataset} has no raw texts")


class FastTextLearner:
    """Trains a :class:`FastTextProxy` with ``config.fasttext`` options; keeps the last one."""

    def __init__(self, ctx: Context, config: ModelConfig, role: str) -> None:
        self.ctx, self.config, self.role = ctx, config, role
        self.model: Optional[FastTextProxy] = None

    def train(self, labeled: np.ndarray, out_dir: Path, seed: int,
              hooks: Sequence[BatchHook] = ()) -> TrainResult:
        """Train on ``labeled`` (shuffled by ``seed``), save ``out_dir/fasttext.bin``, measure accuracies."""
        if hooks:
            raise ValueError("fastText calls no training hooks; use a torch proxy for forgetting events")
        out_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        proxy = FastTextProxy.from_options(self.config.fasttext, seed=seed)
        proxy.fit_data(self.ctx.data, "train", labeled, seed=seed, tmp_dir=out_dir)
        train_time = time.perf_counter() - start
        if distributed.is_main():
            proxy.save(out_dir / MODEL_FILE)
        self.model = proxy
        train_acc, _ = self._accuracy("train", labeled)
        dev_acc, dev_time = self._accuracy("train", self.ctx.dev) if len(self.ctx.dev) else (-1.0, 0.0)
        test_acc, test_time = -1.0, 0.0
        if self.ctx.config.runtime.track_test_acc:
            test_acc, test_time = self._accuracy("test", np.arange(self.ctx.data.size("test")))
        return TrainResult(proxy, len(labeled), train_acc, dev_acc, test_acc, train_time, dev_time, test_time)

    def _accuracy(self, split: str, indices: np.ndarray) -> tuple[float, float]:
        """Accuracy of the current model on ``indices`` of ``split``, and the seconds it took."""
        start = time.perf_counter()
        probs = self.model.predict_proba_data(self.ctx.data, split, indices)
        correct = probs.argmax(axis=1) == self.ctx.data.targets(split)[np.asarray(indices, dtype=np.int64)]
        return float(correct.mean()) if len(correct) else -1.0, time.perf_counter() - start

    def load(self, out_dir: Path) -> None:
        """Reload the model a finished training left in ``out_dir``."""
        self.model = FastTextProxy.load(out_dir / MODEL_FILE, self.ctx.data.num_classes)

    def score(self, indices: np.ndarray, needs: frozenset) -> Outputs:
        """Class probabilities of ``indices`` of the training split."""
        if needs - {"probs"}:
            raise UsageError(f"the fastText proxy gives class probabilities only, not {', '.join(sorted(needs))}")
        indices = np.asarray(indices, dtype=np.int64)
        return Outputs(indices, self.model.predict_proba_data(self.ctx.data, "train", indices))
