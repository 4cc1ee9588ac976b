"""What every workflow sets up first: seed, device, data, splits, run directory.

Everything that can fail on bad input (unknown names, budgets larger than
the pool, a missing dataset) fails here, before any training and before
the run directory is created.
"""
from __future__ import annotations

import dataclasses
import logging
import platform
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from svp import config as cfg
from svp import runs
from svp.data import Data, create_dataset, split_dev
from svp.engine import distributed
from svp.engine.device import pick_device
from svp.errors import UsageError

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"


@dataclass
class Context:
    """A workflow's resolved environment."""

    config: Any
    data: Data
    device: torch.device
    pool: np.ndarray
    dev: np.ndarray
    run: Path
    seed: int

    def path(self, *parts: str | int) -> Path:
        return self.run.joinpath(*map(str, parts))


def resolve_seed(seed: Optional[int]) -> int:
    """The given seed, or a fresh one shared by every rank."""
    if seed is None:
        seed = distributed.broadcast_object(secrets.randbelow(2**31 - 1))
    return int(seed)


def open_run(config: Any, validate=None) -> Context:
    """Load data, check the config against it, then create (or reopen) the run directory.

    ``validate(config, data, pool, dev)`` raises :class:`UsageError` for
    inputs that only the data can show to be wrong.
    """
    from svp.workflows.fasttext_learner import check_fasttext_data

    check_archs(config)
    device = pick_device(config.runtime.cuda, config.runtime.devices)
    distributed.init_from_env(device)
    seed = resolve_seed(config.runtime.seed)
    config = dataclasses.replace(config, runtime=dataclasses.replace(config.runtime, seed=seed))
    data = create_dataset(config.data)
    check_fasttext_data(config, data)
    pool, dev = split_dev(data.size("train"), config.data.validation, config.data.shuffle, seed)
    if validate is not None:
        validate(config, data, pool, dev)
    run = _run_directory(config)
    log.info("run directory %s (seed %d, device %s)", run, seed, device)
    return Context(config, data, device, pool, dev, run, seed)


def _run_directory(config: Any) -> Path:
    """A new run directory with config.json, or the one being resumed (its config.json untouched)."""
    if config.runtime.resume:
        path = Path(config.runtime.resume)
        if distributed.is_main():
            for stale in runs.remove_temporaries(path):
                log.info("removed %s, left by a write the interruption cut short", stale)
        distributed.barrier()
        return path
    path = None
    if distributed.is_main():
        path = runs.create_run_dir(config.runtime.run_dir)
        runs.save_json(path / CONFIG_FILE, describe(config))
    return Path(distributed.broadcast_object(str(path)))


def describe(config: Any) -> dict:
    """config.json: every resolved option, plus versions and device."""
    values = cfg.to_dict(config)
    values["versions"] = {"svp": _version(), "torch": torch.__version__, "python": sys.version.split()[0],
                          "numpy": np.__version__}
    values["device"] = {"cuda": torch.cuda.is_available() and config.runtime.cuda,
                        "name": torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor(),
                        "world_size": distributed.world_size(), "threads": torch.get_num_threads()}
    return values


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("svp")
    except PackageNotFoundError:
        return "unknown"


def check_method(method: str, allowed: tuple[str, ...]) -> None:
    if method not in allowed:
        raise UsageError(f"unknown --selection-method {method!r}; choose one of: {', '.join(allowed)}")


def check_archs(config: Any) -> None:
    """Unknown architectures fail before any data is read."""
    from svp.models import MODELS
    from svp.workflows.fasttext_learner import check_fasttext_method
    from svp.workflows.learners import FASTTEXT_ARCH

    for role in ("model", "target", "proxy"):
        model = getattr(config, role, None)
        if model is None:
            continue
        flag = "--proxy-arch" if role == "proxy" else "--arch"
        allowed = [FASTTEXT_ARCH] if role == "proxy" else []
        if model.arch not in MODELS and model.arch not in allowed:
            raise UsageError(f"unknown {flag} {model.arch!r}; choose one of: {', '.join(sorted(MODELS) + allowed)}")
    check_fasttext_method(config)
