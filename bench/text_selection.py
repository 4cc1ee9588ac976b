"""Selection time of a fastText proxy vs a VDCNN9 proxy on the same reviews.

One active-learning round as the workflow runs it: train the proxy on the
labeled reviews (``learner.train``, checkpoint or model file included),
score the unlabeled pool and pick by least confidence (``timed_select``).
Both proxies go through svp's learners on the same synthetic reviews,
written as an Amazon review CSV and read by svp's loader.

Baseline: VDCNN9 with max-pooling (the paper's cheapest torch proxy), one
epoch at batch size 128 (the original's full schedule is 15 epochs, so
the real gap is larger). Ours: fastText with the original's options
(dim 10, word bigrams, 10M buckets, 5 epochs), as many threads as torch
uses. Sides alternate and the median per-round ratio is reported.
"""
from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path
from time import perf_counter

import numpy as np
import torch

from bench.common import alternate, median_ratio, row, seconds
from svp.config import ActiveConfig, DataConfig, ModelConfig, RuntimeConfig
from svp.data import DATASETS
from svp.learners import Environment, make_learner
from svp.learners.fasttext import fasttext_config
from svp.rundir import PROXY
from svp.workflows.context import Context
from svp.workflows.steps import timed_select

FULL = dict(train=2_000, pool=8_000, rounds=3)
QUICK = dict(train=200, pool=400, rounds=2)
TEST_REVIEWS = 50
VDCNN9 = ModelConfig(arch="vdcnn9-maxpool", epochs=(1,), learning_rates=(0.01,), momentum=0.9,
                     weight_decay=1e-4, batch_size=128, eval_batch_size=128)
METHOD = "least_confidence"
_WORDS = 5_000
_SENTIMENT = {1: ("awful", "broke", "refund", "disappointed", "worst", "cheap"),
              2: ("great", "love", "perfect", "excellent", "recommend", "sturdy")}


def _review(rng: np.random.Generator, label: int, vocabulary: np.ndarray) -> str:
    """A quoted CSV row: a title and about 80 words (Amazon's average), a few of them telling the label."""
    words = list(rng.choice(vocabulary, size=int(rng.integers(30, 130))))
    for _ in range(3):
        words.insert(int(rng.integers(0, len(words))), str(rng.choice(_SENTIMENT[label])))
    title = " ".join(rng.choice(vocabulary, size=3))
    return f'"{label}","{title}","{" ".join(words)}, the end."\n'


def write_reviews(root: Path, n_train: int, n_test: int, seed: int = 0) -> Path:
    """``root/amazon_review_polarity_csv/{train,test}.csv`` of synthetic reviews."""
    rng = np.random.default_rng(seed)
    vocabulary = np.array([f"w{i}" for i in range(_WORDS)])
    base = root / "amazon_review_polarity_csv"
    base.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        labels = rng.integers(1, 3, size=n)
        (base / f"{split}.csv").write_text("".join(_review(rng, int(y), vocabulary) for y in labels))
    return root


def _context(root: Path, config: ActiveConfig) -> Context:
    data = DATASETS["amazon_review_polarity"](config.data)
    pool = np.arange(data.size("train"))
    env = Environment(data, torch.device("cpu"), np.empty(0, dtype=np.int64), track_test=False)
    return Context(config, env, pool, root / "run", 0)


def _round(ctx: Context, model: ModelConfig, labeled: np.ndarray, unlabeled: np.ndarray, tag: str) -> float:
    """Seconds of one selection round with ``model`` as the proxy."""
    learner = make_learner(model, PROXY, ctx.env)
    out_dir = ctx.path(tag)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = perf_counter()
    learner.train(labeled, out_dir, seed=0)
    timed_select(ctx, learner, METHOD, unlabeled, len(unlabeled) // 10, labeled)
    elapsed = perf_counter() - start
    shutil.rmtree(out_dir)  # fastText's model file is 400 MB with 10M buckets
    return elapsed


def run(quick: bool) -> list[dict]:
    """fastText vs VDCNN9 selection time; one row (a skipped one without the fasttext package)."""
    if importlib.util.find_spec("fasttext") is None:
        return [row("text selection", "-", "-", "-", None, "", notes="skipped: the fasttext package is not "
                    "installed (pip install -e '.[text]')")]
    sizes = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="svp-bench-text-") as tmp:
        root = write_reviews(Path(tmp), sizes["train"] + sizes["pool"], TEST_REVIEWS)
        config = ActiveConfig(data=DataConfig("amazon_review_polarity", str(root)),
                              runtime=RuntimeConfig(cuda=False, track_test_acc=False, quiet=True))
        ctx = _context(root, config)
        labeled, unlabeled = np.arange(sizes["train"]), np.arange(sizes["train"], ctx.data.size("train"))
        fasttext = fasttext_config({"threads": torch.get_num_threads()})
        counter = iter(range(10**6))
        base, ours = alternate(lambda: _round(ctx, VDCNN9, labeled, unlabeled, f"vdcnn{next(counter)}"),
                               lambda: _round(ctx, fasttext, labeled, unlabeled, f"fasttext{next(counter)}"),
                               sizes["rounds"])
    workload = (f"one selection round: train on {sizes['train']:,} synthetic reviews, score {sizes['pool']:,}, "
                f"pick 10% by {METHOD}")
    notes = (f"median of {sizes['rounds']} alternating rounds; CPU, {torch.get_num_threads()} threads; "
             "VDCNN9 trains 1 epoch (the original schedule has 15); fastText 5 epochs, 10M buckets")
    return [row("text selection", workload, f"VDCNN9 {seconds(float(np.median(base)))}",
                f"fastText {seconds(float(np.median(ours)))}", median_ratio(base, ours), "x faster",
                notes=notes)]


if __name__ == "__main__":
    from bench.common import format_table

    print(format_table(run(quick=True)))
