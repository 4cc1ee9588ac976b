"""``python -m bench``: run every benchmark and print one table of ratios.

Options: ``--quick`` (a smoke run at small sizes), ``--only NAME`` (repeat
to pick benchmarks), ``--threads N`` (torch intra-op threads; default:
torch's own choice), ``--json PATH`` (also write the rows).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import sys
import time
import traceback
from typing import Optional, Sequence

import bench  # noqa: F401  (puts src/ on the path in a bare checkout)
from bench.common import format_table, machine_header, row

# In table order; a module that is not there (text_selection comes from
# another change) is skipped.
BENCHMARKS = ("kcenters", "badge", "bald", "scoring", "training", "folders", "text_selection", "end_to_end")


def _available(names: Sequence[str]) -> list[str]:
    found = []
    for name in names:
        if importlib.util.find_spec(f"bench.{name}") is not None:
            found.append(name)
    return found


def _run_one(name: str, quick: bool) -> list[dict]:
    module = importlib.import_module(f"bench.{name}")
    try:
        return module.run(quick)
    except Exception as error:  # one broken benchmark must not hide the others
        traceback.print_exc()
        return [row(name, "-", "-", "-", None, "", notes=f"FAILED: {type(error).__name__}: {error}")]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of a minute or so")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run only this benchmark; repeatable")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)

    import torch

    from svp.progress import set_quiet

    if args.threads:
        torch.set_num_threads(args.threads)
    set_quiet(True)
    logging.basicConfig(level=logging.WARNING)
    names = _available(args.only or BENCHMARKS)
    print(machine_header(), flush=True)
    sizes = "quick sizes: a smoke run, the goals apply to the full sizes" if args.quick else "full sizes"
    print(f"benchmarks: {', '.join(names)} ({sizes})", flush=True)
    rows, started = [], time.perf_counter()
    for name in names:
        start = time.perf_counter()
        result = _run_one(name, args.quick)
        rows += result
        print(f"  {name}: {time.perf_counter() - start:.0f} s", flush=True)
        print(format_table(result), flush=True)  # now, in case a later benchmark is cut short
    print("\nall benchmarks:")
    print(format_table(rows))
    print(f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
