"""MLflow: a run as an MLflow run of the experiment "svp", its config as params, its figures as metrics.

The sink talks to its tracking store through its own ``MlflowClient``, never
through MLflow's global state (``mlflow.start_run`` and friends): a library
must not end, reuse or nest under a run the user's own code has active.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional
from urllib.parse import urlparse

from svp import events
from svp.errors import UsageError
from svp.tracking import missing, scalars

log = logging.getLogger(__name__)

EXPERIMENT = "svp"
#: MLflow's limits (mlflow.utils.validation): a param's key and value lengths, params in one log_batch
MAX_KEY, MAX_VALUE, MAX_PARAMS_PER_BATCH = 250, 6000, 100
#: a run's RUN_ENDED status -> the MLflow run status
STATUSES = {"finished": "FINISHED", "interrupted": "KILLED", "failed": "FAILED"}
TAG_WORKFLOW, TAG_RUN_DIR = "svp.workflow", "svp.run_dir"


class MlflowSink(events.Sink):
    """Records each run as an MLflow run named after its run directory.

    At ``RUN_STARTED``: a run of the experiment ``"svp"`` (made if missing),
    tagged ``svp.workflow`` and ``svp.run_dir``, with the config flattened
    into params (``data.dataset``, ``target.arch``, ...). Every figure of
    :func:`svp.tracking.scalars` is a metric with its step. ``RUN_ENDED``
    sets the status (FINISHED, KILLED when interrupted, FAILED); a run whose
    end never came is KILLED when the sink closes.

    Parameters
    ----------
    tracking_uri : str
        Where MLflow keeps runs (``sqlite:///...``, ``http://host:5000``, ...); ``""``: the URI MLflow
        itself would use (``MLFLOW_TRACKING_URI``, else its local default). Relative paths are made absolute,
        so that a run changing its working directory records in the same place.
    experiment : str
        The experiment the runs go to.

    Raises
    ------
    UsageError
        When ``mlflow`` (or a package its store needs) is not installed, or the store cannot be opened.
    """

    def __init__(self, tracking_uri: str, experiment: str = EXPERIMENT) -> None:
        try:
            import mlflow
            from mlflow import entities
        except ImportError as error:
            raise missing("--mlflow", "mlflow") from error
        self.tracking_uri = absolute_uri(tracking_uri or mlflow.get_tracking_uri())
        self.experiment = experiment
        self._entities = entities
        self._client = _open(mlflow, self.tracking_uri)
        self.run_id: Optional[str] = None

    def handle(self, event: events.Event) -> None:
        """Start, record into or end the MLflow run, as ``event`` says."""
        if event.name == events.RUN_STARTED:
            self._start(event)
            return
        if event.name == events.RUN_ENDED:
            self._end(STATUSES.get(str(event.values.get("status")), "FAILED"))
            return
        figures = scalars(event)
        if not figures:
            return
        if self.run_id is None:  # a sink added in the middle of a run: record it anyway, without its config
            self._start(event)
        now = _milliseconds()
        metrics = [self._entities.Metric(name, value, now, step) for name, value, step in figures]
        self._client.log_batch(self.run_id, metrics=metrics)

    def close(self) -> None:
        """End a run whose ``RUN_ENDED`` never came as KILLED."""
        self._end("KILLED")

    def _start(self, event: events.Event) -> None:
        self._end("KILLED")  # the previous run of an added sink, if it never ended
        run_dir = Path(event.run) if event.run is not None else None
        tags = {TAG_WORKFLOW: str(event.values.get("workflow", "")), TAG_RUN_DIR: str(run_dir or "")}
        run = self._client.create_run(self._experiment_id(), run_name=run_dir.name if run_dir else None,
                                      tags=tags)
        self.run_id = run.info.run_id
        params = flatten(event.values.get("config") or {})
        batch = [self._entities.Param(key, value) for key, value in params.items()]
        for part in _batches(batch, MAX_PARAMS_PER_BATCH):
            self._client.log_batch(self.run_id, params=part)
        log.info("MLflow: run %s (%s) at %s", run.info.run_name, self.run_id, self.tracking_uri)

    def _end(self, status: str) -> None:
        if self.run_id is not None:
            run_id, self.run_id = self.run_id, None  # once, even if the store fails now
            self._client.set_terminated(run_id, status)

    def _experiment_id(self) -> str:
        found = self._client.get_experiment_by_name(self.experiment)
        if found is None:
            try:
                return self._client.create_experiment(self.experiment)
            except Exception:
                # another process made it in the meantime; anything else fails again below
                found = self._client.get_experiment_by_name(self.experiment)
                if found is None:
                    raise
        if found.lifecycle_stage == "deleted":
            raise UsageError(f"the MLflow experiment {self.experiment!r} is deleted ; restore it "
                             f"(mlflow experiments restore --experiment-id {found.experiment_id}) or remove it for good "
                             f"(mlflow gc)")
        return found.experiment_id


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``config`` as MLflow params: nested keys joined by ".", values as text (JSON for all but texts).

    Keys and values longer than MLflow allows are cut (a cut value ends with "...").

    Examples
    --------
    >>> flatten({"data": {"dataset": "cifar10"}, "target": {"epochs": [1, 2]}, "seed": None})
    {'data.dataset': 'cifar10', 'target.epochs': '[1, 2]', 'seed': 'null'}
    """
    params: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            params.update(flatten(value, f"{name}."))
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        if len(text) > MAX_VALUE:
            text = text[:MAX_VALUE - 3] + "..."
        params[name[:MAX_KEY]] = text
    return params


def absolute_uri(uri: str) -> str:
    """``uri`` with a relative local path made absolute (``sqlite:///runs.db``, ``mlruns``); others as given."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return "sqlite:///" + str(Path(uri[len("sqlite:///"):]).resolve())
    if urlparse(uri).scheme == "" and uri not in ("databricks", "databricks-uc", "uc"):
        return Path(uri).resolve().as_uri()  # a bare path is MLflow's file store
    return uri


def _open(mlflow: Any, uri: str) -> Any:
    """An ``MlflowClient`` of ``uri``; a store that cannot be opened is the user's to fix."""
    try:
        return mlflow.MlflowClient(uri)
    except ModuleNotFoundError as error:  # a database store needs sqlalchemy and alembic
        package = (error.name or "a missing").split(".")[0]
        raise UsageError(f"--mlflow {uri} needs the {package} package ; pip install 'svp[tracking]'") from error
    except Exception as error:
        raise UsageError(f"--mlflow: MLflow cannot open {uri} ({error}) ; give --mlflow a tracking URI it can "
                         f"open (sqlite:///path/to/mlflow.db, http://host:5000)") from error


def _milliseconds() -> int:
    return int(time.time() * 1000)


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
