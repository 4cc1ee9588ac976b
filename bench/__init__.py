"""Benchmarks of svp against baselines that mirror the original implementation.

Run them all with ``python -m bench`` (``--quick`` for a smoke run). Each
module exposes ``run(quick: bool) -> list[dict]``; see :mod:`bench.common`
for the row format and README.md for what each benchmark measures.
"""
from __future__ import annotations

import sys
from pathlib import Path

try:  # run from a checkout without `pip install -e .`
    import svp  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
