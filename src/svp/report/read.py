"""Run directories -> :class:`RunSummary`: what each run says, in fractions and seconds.

Reads the run directories that :mod:`svp.workflows` write (every name in
them comes from :mod:`svp.rundir`) and those of the original implementation
(stanford-futuredata/selection-via-proxy), and summarises each run: accuracy
of the proxy and the target at each number of labeled examples, and where
the time went (proxy training, selection inference and ranking, target
training).

Formats read
------------
``config.json``
    Nested (ours: ``{"workflow", "data": {"dataset"}, "target": {"arch"},
    "proxy": {"arch"}, "selection": {"method"}, "data_identity": {"fingerprint"},
    ...}``; a train run has ``"model"``; runs before data identity have no
    ``data_identity``, and those before the selection section a top-level
    ``"selection_method"``)
    or flat (the original's: ``{"dataset", "arch", "proxy_arch",
    "selection_method", "initial_subset", "rounds", "subset", ...}``; the
    workflow is inferred: ``rounds``/``initial_subset`` -> active,
    ``subset`` -> coreset, otherwise train).
``proxy.csv`` (or the older ``selector.csv``), ``target.csv``, ``results.csv``
    One row per training: ``nexamples, train_accuracy, dev_accuracy,
    test_accuracy, train_time, dev_time, test_time``.
``selection.csv``
    One row per selection: ``nexamples, current_nexamples, new_nexamples,
    total_time, inference_time, ranking_time``.

Conventions
-----------
* Times are float seconds or Python ``timedelta`` strings (``"0:01:23.4"``,
  ``"2 days, 1:00:00"``); both are read as seconds. A time column missing
  from a CSV with rows, or an empty cell in it, makes that time *missing*
  (None): shown as missing, left out of means, totals and speed-ups, and
  named in :attr:`RunSummary.missing_times` (never counted as 0 seconds).
* Accuracies are fractions or percent: if any accuracy in a CSV file is
  greater than 1, every accuracy in that file is taken as percent and
  divided by 100. Empty, NaN and negative (``-1``) accuracies are missing.
* The accuracy of a training is its test accuracy, or its dev accuracy when
  the test accuracy is missing. :class:`RunSummary` holds fractions; the
  tables show percent.
* Training times are the ``train_time`` column only (evaluation on the dev
  and test splits is not counted).
* A selection's time is its inference + ranking, else its recorded
  ``total_time`` where those are missing or both 0 (:func:`selection_of`);
  a run's selection time is the sum over its selections.
* When the target *is* the proxy (``target.csv`` links to ``proxy.csv``, or
  no ``target.csv`` and the config trains both alike), the target numbers
  are the proxy's and the total time counts that training once.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

from svp.errors import UsageError
from svp.report.results import Trainings, read_selection, read_trainings
from svp.rundir import (CONFIG, LEGACY_CONFIG_GLOB, LEGACY_PROXY_CSV, PROXY_CSV, RESULTS_CSV, SELECTION_CSV,
                        TARGET_CSV, config_path)

log = logging.getLogger(__name__)

PROXY_CSVS = (PROXY_CSV, LEGACY_PROXY_CSV)



@dataclass(frozen=True)
class RunSummary:
    """What one run directory says, in fractions and seconds.

    Attributes
    ----------
    path : str
        The run directory.
    dataset, workflow, proxy_arch, target_arch, method : str or None
        From ``config.json`` (``proxy_arch`` and ``method`` are None for a
        train run).
    sizes : list of int
        Every number of labeled examples a proxy or target was trained on,
        ascending.
    proxy_accuracy, target_accuracy : dict of int to float
        Accuracy (fraction) by number of labeled examples: test accuracy,
        dev accuracy where the test accuracy is missing.
    proxy_train_time, target_train_time : float or None
        Seconds spent training, summed over all trainings; None when a
        training's time is not recorded (see ``missing_times``).
    inference_time, ranking_time, selection_time : float or None
        Seconds spent selecting, summed over all rounds;
        ``selection_time`` sums each selection's :func:`selection_of`; None
        when not recorded.
    shared : bool
        True when the target is the proxy (trained once).
    accuracy_split : str
        Which split the accuracies come from: "test", "dev", "test+dev"
        (mixed) or "" (none recorded).
    proxy_train_accuracy, target_train_accuracy : dict of int to float
        Accuracy (fraction) on the training set itself, by labeled size, where recorded.
    target_steps : dict of int to int
        Optimizer steps of each target training, where recorded (runs
        before the ``steps`` column, and the original's, have none).
    seed : int or None
        The run's seed, from ``config.json``.
    setup : str
        ``config.json`` without the seed and the options that do not change
        results (:data:`NOT_RESULTS`), as canonical JSON: runs with equal
        ``setup`` differ only in their seed (see :func:`svp.report.group_runs`).
    missing_times : dict of str to tuple of str
        Why a time above is None ("proxy.csv has no train_time column") ->
        the attributes it leaves None (``("proxy_train_time",)``; ``total_time``
        follows from its parts), for the report's warnings.
    fingerprint : str or None
        The fingerprint of the data the run started on (``config.json``'s
        ``data_identity``): runs with equal fingerprints ran on the same
        examples, however the dataset was named. None for runs that record
        none (the original implementation's, svp's before data identity).
    """

    path: str
    dataset: Optional[str]
    workflow: str
    proxy_arch: Optional[str]
    target_arch: Optional[str]
    method: Optional[str]
    sizes: list[int]
    proxy_accuracy: dict[int, float]
    target_accuracy: dict[int, float]
    proxy_train_time: Optional[float]
    inference_time: Optional[float]
    ranking_time: Optional[float]
    selection_time: Optional[float]
    target_train_time: Optional[float]
    shared: bool = False
    accuracy_split: str = "test"
    proxy_train_accuracy: dict[int, float] = field(default_factory=dict)
    target_train_accuracy: dict[int, float] = field(default_factory=dict)
    target_steps: dict[int, int] = field(default_factory=dict)
    seed: Optional[int] = None
    setup: str = ""
    missing_times: dict[str, tuple[str, ...]] = field(default_factory=dict)
    fingerprint: Optional[str] = None

    @property
    def name(self) -> str:
        """The run directory's base name (its timestamp)."""
        return os.path.basename(os.path.normpath(self.path))

    @property
    def total_time(self) -> Optional[float]:
        """Proxy training + selection + target training, in seconds; None when one of them is missing."""
        parts = [self.proxy_train_time, self.selection_time] + ([] if self.shared else [self.target_train_time])
        return None if any(part is None for part in parts) else sum(parts)

    @property
    def description(self) -> str:
        """A short label: ``method proxy->target`` (or the arch of a train run)."""
        if self.workflow == "train" or self.proxy_arch is None:
            return f"train {self.target_arch}"
        return f"{self.method} {self.proxy_arch}->{self.target_arch}"


def _fingerprint(config: dict) -> Optional[str]:
    """The fingerprint config.json records of the run's data (``data_identity``), or None."""
    recorded = config.get("data_identity")
    fingerprint = recorded.get("fingerprint") if isinstance(recorded, dict) else None
    return fingerprint if isinstance(fingerprint, str) and fingerprint else None


def _read_config(run_dir: str) -> dict:
    path = str(config_path(run_dir))
    try:
        with open(path) as handle:
            config = json.load(handle)
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read {path}: {error}") from error
    if not isinstance(config, dict):
        raise UsageError(f"{path} does not hold a JSON object")
    return config


#: Options of config.json that do not change a run's results (where it ran, how it logged, which
#: files it kept), with the seed: runs that differ in these only are seeds of one setup. Dotted
#: paths into ours (nested) and names of the original's (flat).
NOT_RESULTS = frozenset({
    "runtime.seed", "runtime.run_dir", "runtime.resume", "runtime.quiet", "runtime.cuda", "runtime.devices",
    "runtime.checkpoint", "data.datasets_dir", "data.num_workers", "data.eval_num_workers", "versions", "device",
    "seed", "run_dir", "timestamp", "local_timestamp", "cuda", "device_ids", "datasets_dir", "num_workers",
    "eval_num_workers", "checkpoint",
})


def _without(values: dict, skip: frozenset, prefix: str = "") -> dict:
    """``values`` less the (dotted) paths in ``skip``, at any depth."""
    kept = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if path in skip:
            continue
        kept[key] = _without(value, skip, f"{path}.") if isinstance(value, dict) else value
    return kept


def _setup(config: dict) -> str:
    """What runs of one setup share: the config without :data:`NOT_RESULTS`, as canonical JSON."""
    return json.dumps(_without(config, NOT_RESULTS), sort_keys=True, default=str)


def _seed(config: dict) -> Optional[int]:
    seed = (config.get("runtime") or {}).get("seed") if isinstance(config.get("runtime"), dict) else None
    seed = config.get("seed") if seed is None else seed
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def _same_model(config: dict) -> bool:
    """Whether the config trains proxy and target alike (no target.csv needed).

    Not in the labeling loop: there the target trains only when asked to (``--train-target``).
    """
    if config.get("workflow") == "query":
        return False
    if isinstance(config.get("target"), dict) and isinstance(config.get("proxy"), dict):
        strip = {"eval_batch_size": None}
        return {**config["target"], **strip} == {**config["proxy"], **strip}
    proxy_keys = [k for k in config if k.startswith("proxy_") and "eval" not in k]
    return bool(proxy_keys) and all(
        config[k] == config.get(k[len("proxy_"):]) for k in proxy_keys)


def _describe(config: dict, is_train: bool) -> dict[str, Optional[str]]:
    """Workflow, dataset, archs and method from a nested or flat config."""
    if isinstance(config.get("data"), dict):  # ours: nested
        model = config.get("target") or config.get("model") or {}
        return {"workflow": config.get("workflow") or ("train" if is_train else None),
                "dataset": config["data"].get("dataset"),
                "target_arch": model.get("arch"),
                "proxy_arch": (config.get("proxy") or {}).get("arch"),
                "method": _method(config)}
    if "rounds" in config or "initial_subset" in config:
        workflow = "active"
    elif "subset" in config:
        workflow = "coreset"
    else:
        workflow = "train"
    return {"workflow": config.get("workflow", workflow), "dataset": config.get("dataset"),
            "target_arch": config.get("arch"), "proxy_arch": config.get("proxy_arch"),
            "method": config.get("selection_method")}


def _method(config: dict) -> Optional[str]:
    """The selection method of a nested config: in its selection section, or (svp before that section) at its
    top level."""
    section = config.get("selection")
    return section.get("method") if isinstance(section, dict) else config.get("selection_method")


def _replayed(run_dir: str) -> dict[str, Optional[str]]:
    """The proxy and method of the run a replay took its selection from.

    A replay's own config names no proxy of its own: the selection came from
    the run its proxy results link to (or from a plain index file).
    """
    for name in PROXY_CSVS:
        link = os.path.join(run_dir, name)
        if os.path.islink(link):
            source = os.path.dirname(os.path.realpath(link))
            if config_path(source) is not None:
                described = _describe(_read_config(source), is_train=False)
                return {"proxy_arch": described["proxy_arch"], "method": described["method"]}
    return {"proxy_arch": "(index file)", "method": "replay"}


# ------------------------------------------------------------------ loading

def _existing(run_dir: str, names: Iterable[str]) -> Optional[str]:
    for name in names:
        path = os.path.join(run_dir, name)
        if os.path.isfile(path):
            return path
    return None


def _not_a_run(path: str, why: str) -> UsageError:
    return UsageError(
        f"{path} is not a run directory ({why}): expected a directory holding "
        f"{CONFIG} (or the original's {LEGACY_CONFIG_GLOB}) and {PROXY_CSV}/{TARGET_CSV}/{SELECTION_CSV} "
        f"(or {RESULTS_CSV} for a "
        f"train run), or a directory of such run directories")


def _load_trainings(run_dir: str, config: dict) -> tuple[Trainings, Trainings, bool, bool]:
    """(proxy, target, shared, is_train) trainings of a run directory."""
    proxy_csv = _existing(run_dir, PROXY_CSVS)
    target_csv = _existing(run_dir, (TARGET_CSV,))
    if proxy_csv is None and target_csv is None:
        results = _existing(run_dir, (RESULTS_CSV,))
        if results is None:
            raise _not_a_run(run_dir, f"no {PROXY_CSV}, {TARGET_CSV} or {RESULTS_CSV}")
        return Trainings(), read_trainings(results), False, True
    proxy = read_trainings(proxy_csv) if proxy_csv else Trainings()
    if target_csv is not None:
        shared = proxy_csv is not None and os.path.samefile(proxy_csv, target_csv)
        return proxy, read_trainings(target_csv), shared, False
    shared = _same_model(config)
    return proxy, (proxy if shared else Trainings()), shared, False


def load_run(path: str) -> RunSummary:
    """Summarise one run directory.

    Parameters
    ----------
    path : str
        A ``RUN_DIR/<timestamp>`` directory (ours or the original's).

    Returns
    -------
    RunSummary

    Raises
    ------
    UsageError
        When ``path`` is not a run directory or a file in it is malformed.
    """
    if not os.path.isdir(path):
        raise _not_a_run(path, "no such directory")
    if config_path(path) is None:
        raise _not_a_run(path, f"no {CONFIG}")
    config = _read_config(path)
    proxy, target, shared, is_train = _load_trainings(path, config)
    selection_csv = _existing(path, (SELECTION_CSV,))
    times, missing = read_selection(selection_csv) if selection_csv else (
        dict.fromkeys(("inference_time", "ranking_time", "selection_time"), 0.0), {})
    missing = {**_missing_trainings(proxy, target, shared), **missing}
    described = _describe(config, is_train)
    if config.get("precomputed_selection"):
        described.update(_replayed(path))
    splits = proxy.splits | target.splits
    return RunSummary(
        path=path, dataset=described["dataset"], workflow=described["workflow"] or "",
        proxy_arch=None if is_train else described["proxy_arch"],
        target_arch=described["target_arch"],
        method=None if is_train else described["method"],
        sizes=sorted(proxy.sizes | target.sizes),
        proxy_accuracy=dict(sorted(proxy.accuracy.items())),
        target_accuracy=dict(sorted(target.accuracy.items())),
        proxy_train_time=proxy.train_time, **times, target_train_time=target.train_time, shared=shared,
        accuracy_split="+".join(sorted(splits, reverse=True)),
        proxy_train_accuracy=dict(sorted(proxy.train_accuracy.items())),
        target_train_accuracy=dict(sorted(target.train_accuracy.items())),
        target_steps=dict(sorted(target.steps.items())), seed=_seed(config), setup=_setup(config),
        missing_times=missing, fingerprint=_fingerprint(config))


def _missing_trainings(proxy: Trainings, target: Trainings, shared: bool) -> dict[str, tuple[str, ...]]:
    """Why a training time is missing -> the times it leaves None (a shared training's: both, said once)."""
    missing: dict[str, tuple[str, ...]] = {}
    for trainings, what in ((proxy, "proxy_train_time"), (target, "target_train_time")):
        if trainings.missing:
            missing[trainings.missing] = missing.get(trainings.missing, ()) + (what,)
    return missing


def find_runs(path: str) -> list[str]:
    """``path`` itself if it is a run directory, else the run directories in it.

    Raises
    ------
    UsageError
        When ``path`` is neither a run directory nor holds any.
    """
    if not os.path.isdir(path):
        raise _not_a_run(path, "no such directory")
    if config_path(path) is not None:
        return [path]
    children = sorted(os.path.join(path, name) for name in os.listdir(path))
    runs = [child for child in children if os.path.isdir(child) and config_path(child) is not None]
    if not runs:
        raise _not_a_run(path, f"no {CONFIG} in it or in any directory in it")
    return runs


def load_runs(paths: Sequence[str]) -> list[RunSummary]:
    """Load every run named by ``paths`` (run directories or their parents).

    Run directories found inside a parent that hold no results yet (a run
    still starting, or one that failed early) are skipped with a warning;
    a run directory named directly must hold results.
    """
    runs: list[RunSummary] = []
    for path in paths:
        found = find_runs(path)
        for run_dir in found:
            try:
                runs.append(load_run(run_dir))
            except UsageError as error:
                if found == [path]:
                    raise
                log.warning("skipping %s: %s", run_dir, error)
    if not runs:
        raise UsageError(f"no finished runs in {', '.join(paths)}")
    return runs
