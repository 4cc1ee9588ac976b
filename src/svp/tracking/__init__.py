"""Run trackers as event sinks: TensorBoard and MLflow (the ``tracking`` extra).

:func:`sinks_for` makes the sinks the ``--tensorboard`` and ``--mlflow``
options ask for. Both trackers record the same figures, named the same way
(:func:`scalars`): per epoch ``"{role}/{nexamples}/train_accuracy"``,
``.../dev_accuracy`` and ``.../learning_rate`` at step = epoch; per training
``"{role}/test_accuracy"``, ``"{role}/dev_accuracy"`` and
``"{role}/train_time"`` at step = labeled set size; per selection
``"selection/total_time"``, ``"selection/inference_time"`` (and
``"selection/changed_predictions"`` where counted) at step = labeled set size.

The trackers' libraries are imported when a sink is made, never when this
package is, so that ``svp`` runs without them.
"""
from __future__ import annotations

import datetime
import numbers
from typing import Any, Mapping, Optional

from svp import events
from svp.errors import UsageError

__all__ = ["sinks_for", "scalars", "missing", "as_number"]

#: the selection.csv columns recorded as scalars (``changed_predictions`` only where a run counts them)
SELECTION_SCALARS = ("total_time", "inference_time", "changed_predictions")


def sinks_for(tensorboard: Optional[str], mlflow: Optional[str]) -> list[events.Sink]:
    """The tracker sinks that ``--tensorboard`` and ``--mlflow`` ask for.

    Parameters
    ----------
    tensorboard : str or None
        A directory: each run writes its event files to ``<directory>/<run directory's name>``, so that
        ``tensorboard --logdir <directory>`` shows runs side by side. None: no TensorBoard.
    mlflow : str or None
        An MLflow tracking URI; ``""``: the one MLflow itself would use (``MLFLOW_TRACKING_URI`` when set,
        else MLflow's local default), made absolute. None: no MLflow.

    Returns
    -------
    list of svp.events.Sink
        ``[]`` when both are None.

    Raises
    ------
    UsageError
        When the library a tracker needs is not installed, or MLflow cannot open the tracking store.
    """
    sinks: list[events.Sink] = []
    if tensorboard is not None:
        from svp.tracking.tensorboard import TensorBoardSink
        sinks.append(TensorBoardSink(tensorboard))
    if mlflow is not None:
        from svp.tracking.mlflow import MlflowSink
        sinks.append(MlflowSink(mlflow))
    return sinks


def missing(option: str, package: str) -> UsageError:
    """The error for a tracker whose library is not installed."""
    return UsageError(f"{option} needs the {package} package ; pip install 'svp[tracking]'")


def scalars(event: events.Event) -> list[tuple[str, float, int]]:
    """The figures of ``event`` a tracker records, as ``(name, value, step)``; [] for events without any.

    Accuracies below 0 (no dev or test set) are left out, as are values that are not numbers.
    """
    values = event.values
    if event.name == events.EPOCH_ENDED:
        epoch = _step(values.get("epoch"))
        prefix = f"{event.role}/{_size(event)}"
        return _collect(values, epoch, {"train_accuracy": f"{prefix}/train_accuracy",
                                        "dev_accuracy": f"{prefix}/dev_accuracy",
                                        "learning_rate": f"{prefix}/learning_rate"})
    if event.name == events.TRAINED:
        return _collect(values, _size(event), {key: f"{event.role}/{key}"
                                               for key in ("test_accuracy", "dev_accuracy", "train_time")})
    if event.name == events.SELECTED:
        return _collect(values, _size(event), {key: f"selection/{key}" for key in SELECTION_SCALARS})
    return []


def _collect(values: Mapping[str, Any], step: Optional[int], names: Mapping[str, str]) -> list[tuple[str, float, int]]:
    if step is None:
        return []
    found = []
    for key, name in names.items():
        number = as_number(values.get(key))
        # -1 is the runs' mark for "not measured" (no dev set, no test set), not an accuracy
        if number is None or (key.endswith("accuracy") and number < 0):
            continue
        found.append((name, number, step))
    return found


def _size(event: events.Event) -> Optional[int]:
    return event.nexamples if event.nexamples is not None else _step(event.values.get("nexamples"))


def _step(value: Any) -> Optional[int]:
    number = as_number(value)
    return None if number is None else int(number)


def as_number(value: Any) -> Optional[float]:
    """``value`` as a float: a number, a ``timedelta`` (seconds) or a numeric text; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
