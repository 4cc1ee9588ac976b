"""Worker of tests/engine/test_distributed.py: score, evaluate and train with a saved model.

    python tests/engine/ddp_check.py DATASETS_DIR STATE OUT
    python -m torch.distributed.run --standalone --nproc-per-node 2 tests/engine/ddp_check.py DATASETS_DIR STATE OUT

Every rank writes ``OUT.<rank>.npz``: the pool scores and features of the
model in ``STATE`` (a ``small-cnn-16`` state dict, CIFAR10 shapes), its
test accuracy, and what a short training from it gives (forgetting
counts, accuracy, every parameter and buffer).
"""
from __future__ import annotations

import sys

import numpy as np
import torch

from svp.config import DataConfig, ModelConfig
from svp.data import open_dataset
from svp.engine import distributed
from svp.engine.fit import evaluate, fit
from svp.engine.forgetting import ForgettingTracker
from svp.engine.predict import predict
from svp.models import create_model

ARCH = "small-cnn-16"
POOL = np.random.default_rng(0).permutation(400)[:301]  # 10 batches of 32, the last one short
SMALL_POOL = np.arange(7, 27)  # one batch: the second rank's part is empty
TRAIN = np.arange(0, 400, 6)  # 67 examples: the shards need padding


def saved_model(path: str) -> torch.nn.Module:
    model = create_model(ARCH, 10, 3)
    model.load_state_dict(torch.load(path, weights_only=True))
    return model


def main(datasets_dir: str, state: str, out: str) -> None:
    cpu = torch.device("cpu")
    distributed.init_from_env(cpu)
    data = open_dataset(DataConfig(dataset="cifar10", datasets_dir=datasets_dir, augmentation=False))
    model = saved_model(state)
    results = {}
    for name, pool in (("pool", POOL), ("small", SMALL_POOL)):
        outputs = predict(model, data, pool, batch_size=32, device=cpu, features=True)
        results[f"{name}_probs"], results[f"{name}_features"] = outputs.probs, outputs.features
    results["test_accuracy"] = evaluate(model, data, "test", None, 32, cpu)[0]
    torch.manual_seed(0)
    tracker = ForgettingTracker(data.size("train"))
    config = ModelConfig(arch=ARCH, epochs=(2,), learning_rates=(0.05,), batch_size=16)
    trained = fit(model, data, TRAIN, config, device=cpu, track_test=False, hooks=[tracker])
    results["forgetting"] = tracker.counts(TRAIN)
    results["seen"] = tracker.seen
    results["train_accuracy"] = trained.train_accuracy
    results["trained_state"] = torch.cat([t.double().flatten() for t in trained.model.state_dict().values()])
    np.savez(f"{out}.{distributed.rank()}.npz", **results)


if __name__ == "__main__":
    main(*sys.argv[1:])
