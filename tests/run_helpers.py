"""Helpers for tests that inspect run directories or run svp in subprocesses."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

import svp
from svp._faults import ENV as KILL_AT_ENV
from svp.rundir import read_rows as rows  # noqa: F401  (re-exported for the tests)

SRC = Path(svp.__file__).resolve().parents[1]


def only_run(run_root: Path) -> Path:
    """The one run directory a test's --run-dir holds."""
    (run,) = [p for p in run_root.iterdir() if p.is_dir()]
    return run


def column(run: Path, name: str, key: str = "nexamples") -> list[int]:
    """One integer column of a run's results CSV."""
    return [int(row[key]) for row in rows(run / name)]


def subprocess_env(**extra: str) -> dict[str, str]:
    """This environment with svp's source importable (and ``extra`` set), for child processes."""
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))
    return env


@contextlib.contextmanager
def restored(*registries: dict) -> Iterator[None]:
    """Undo, on leaving, what a test registered in these registries (MODELS, DATASETS, ...)."""
    saved = [dict(registry) for registry in registries]
    try:
        yield
    finally:
        for registry, entries in zip(registries, saved):
            registry.clear()
            registry.update(entries)


def run_module(module: str, args: list[str], kill_at: str | None = None) -> subprocess.CompletedProcess:
    """``python -m module args`` in a child process, SIGKILLed at the fault point ``kill_at`` if given
    (see :mod:`svp._faults`)."""
    env = subprocess_env()
    env.pop(KILL_AT_ENV, None)
    if kill_at:
        env[KILL_AT_ENV] = kill_at
    return subprocess.run([sys.executable, "-m", module, *args], env=env, capture_output=True, text=True,
                          timeout=300)


def snapshot(*folders: Path) -> dict[str, bytes]:
    """Every file under ``folders``, by path, with its bytes."""
    return {str(p): p.read_bytes() for folder in folders if folder.exists()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def refused(capsys, argv: list[str], domain=None, watched: tuple[Path, ...] = ()) -> str:
    """``svp argv``'s error output: exit 2, a last line ``<prog>: error: <what> ; <how to fix>``, no traceback,
    and no file under ``watched`` (run directories, datasets, caches) created, changed or removed."""
    from svp.cli import GENERIC, main

    domain = domain or GENERIC
    before = snapshot(*watched)
    with pytest.raises(SystemExit) as exit_info:
        main(argv, domain=domain)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert "Traceback" not in err
    message = err.rstrip("\n").splitlines()[-1]  # log lines may come before it
    assert message.startswith(f"{domain.prog}: error: ") and " ; " in message, err
    assert snapshot(*watched) == before
    return err


def write_blobs(root: Path, train: int, test: int, dim: int) -> np.ndarray:
    """Feature vectors of 3 seeded Gaussian classes: ``root/hidden.npz`` with every training label hidden (-1),
    ``root/full.npz`` with them, ``root/truth.npy``; returns the training labels."""
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, dim)) * 2
    y, y_test = rng.integers(0, 3, train), rng.integers(0, 3, test)
    x = (centers[y] + rng.normal(size=(train, dim))).astype(np.float32)
    x_test = (centers[y_test] + rng.normal(size=(test, dim))).astype(np.float32)
    np.savez(root / "full.npz", x=x, y=y, x_test=x_test, y_test=y_test)
    np.savez(root / "hidden.npz", x=x, y=np.full(train, -1), x_test=x_test, y_test=y_test)
    np.save(root / "truth.npy", y)
    return y
