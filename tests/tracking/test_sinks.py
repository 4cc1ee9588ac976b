"""The TensorBoard and MLflow sinks, driven by events as a run emits them, read back by each tracker's own reader."""
from __future__ import annotations

import datetime
import json
import logging
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import pytest

from svp import events
from svp.errors import UsageError
from svp.tracking import as_number, scalars, sinks_for

CONFIG = {"data": {"dataset": "cifar10", "validation": 0}, "target": {"arch": "resnet20", "epochs": [1, 2]},
          "seed": 0, "runtime": {"run_dir": "runs", "cuda": False, "tensorboard": None}}
PARAMS = {"data.dataset": "cifar10", "data.validation": "0", "target.arch": "resnet20", "target.epochs": "[1, 2]",
          "seed": "0", "runtime.run_dir": "runs", "runtime.cuda": "false", "runtime.tensorboard": "null"}
# (tag, step) -> value, for the run emit_run plays: powers of two, exact in TensorBoard's float32
SCALARS = {
    ("proxy/100/train_accuracy", 1): 0.5, ("proxy/100/train_accuracy", 2): 0.75,
    ("proxy/100/learning_rate", 1): 0.125, ("proxy/100/learning_rate", 2): 0.0625,
    ("proxy/100/dev_accuracy", 2): 0.25,          # not at epoch 1: -1, no dev set measured
    ("proxy/test_accuracy", 100): 0.5, ("proxy/train_time", 100): 2.5,  # no proxy/dev_accuracy: -1
    ("target/test_accuracy", 200): 0.625, ("target/dev_accuracy", 200): 0.375, ("target/train_time", 200): 4.0,
    ("selection/total_time", 200): 0.5, ("selection/inference_time", 200): 0.375,
    ("selection/total_time", 300): 1.5, ("selection/inference_time", 300): 1.0,
    ("selection/changed_predictions", 300): 7.0,
}


def emit_run(run: Path, sinks: list, status: Optional[str] = "finished") -> None:
    """Emit a short active-learning run's events, as a run does (status None: it never says it ended)."""
    with events.attached(sinks, run):
        events.emit(events.RUN_STARTED, {"workflow": "active", "config": CONFIG})
        for epoch, lr, accuracy, dev in ((1, 0.125, 0.5, -1.0), (2, 0.0625, 0.75, 0.25)):
            events.emit(events.EPOCH_ENDED, {"epoch": epoch, "learning_rate": lr, "train_accuracy": accuracy,
                                             "dev_accuracy": dev, "seconds": 1.25}, role="proxy", nexamples=100)
        events.emit(events.TRAINED, row(100, 0.75, -1.0, 0.5, 2.5), role="proxy", nexamples=100)
        events.emit(events.SELECTED, {"nexamples": 200, "current_nexamples": 100, "new_nexamples": 100,
                                      "total_time": 0.5, "inference_time": 0.375, "ranking_time": 0.125,
                                      "indices": np.arange(100, 200)}, nexamples=200)
        events.emit(events.TRAINED, row(200, 0.875, 0.375, 0.625, 4.0), role="target", nexamples=200)
        events.emit(events.SELECTED, {"nexamples": 300, "current_nexamples": 200, "new_nexamples": 100,
                                      "total_time": 1.5, "inference_time": 1.0, "ranking_time": 0.5,
                                      "changed_predictions": 7, "indices": np.arange(200, 300)}, nexamples=300)
        events.emit(events.ASKED, {"round": 1, "indices": np.arange(300, 310)})
        events.emit(events.ANSWERED, {"round": 1, "indices": np.arange(300, 310), "labels": np.zeros(10, dtype=int)})
        if status is not None:
            events.emit(events.RUN_ENDED, {"status": status})


def row(nexamples: int, train: float, dev: float, test: float, seconds: float) -> dict:
    """A proxy.csv / target.csv row."""
    return {"nexamples": nexamples, "train_accuracy": train, "dev_accuracy": dev, "test_accuracy": test,
            "train_time": seconds, "dev_time": 0.0, "test_time": 0.125, "steps": 8}


class Recorder(events.Sink):
    def __init__(self) -> None:
        self.names: list[str] = []

    def handle(self, event: events.Event) -> None:
        self.names.append(event.name)


# --- what both trackers record ---------------------------------------------------------------------------------


def test_scalars_of_a_run():
    recorded = []

    class Scalars(events.Sink):
        def handle(self, event):
            recorded.extend(scalars(event))

    emit_run(Path("runs/x/2026-12-06T10-00-00.123"), [Scalars()])
    assert {(tag, step): value for tag, value, step in recorded} == SCALARS
    assert len(recorded) == len(SCALARS)


def test_as_number_reads_the_forms_a_row_holds():
    assert as_number(datetime.timedelta(seconds=1.5)) == 1.5
    assert as_number("0.25") == 0.25
    assert as_number(np.float32(0.5)) == 0.5 and as_number(np.int64(3)) == 3.0
    assert [as_number(value) for value in (None, True, "fast", np.arange(3))] == [None] * 4


# --- TensorBoard ------------------------------------------------------------------------------------------------


def read_tensorboard(folder: Path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def tensorboard_scalars(folder: Path) -> dict:
    accumulator = read_tensorboard(folder)
    return {(tag, scalar.step): scalar.value for tag in accumulator.Tags()["scalars"]
            for scalar in accumulator.Scalars(tag)}


def test_tensorboard_writes_the_runs_scalars_and_config(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.util import tensor_util
    run = tmp_path / "runs" / "x" / "2026-12-06T10-00-00.123"
    (sink,) = sinks_for(str(tmp_path / "tb"), None)
    emit_run(run, [sink])
    assert [p.name for p in (tmp_path / "tb").iterdir()] == [run.name]
    folder = tmp_path / "tb" / run.name
    assert tensorboard_scalars(folder) == SCALARS
    (text,) = read_tensorboard(folder).Tensors("config/text_summary")
    shown = tensor_util.make_ndarray(text.tensor_proto).item().decode()
    lines = shown.splitlines()  # a Markdown code block (four spaces in) of the config's JSON
    assert all(line.startswith("    ") for line in lines)
    assert json.loads("\n".join(line[4:] for line in lines)) == CONFIG


def test_tensorboard_puts_runs_side_by_side(tmp_path):
    pytest.importorskip("tensorboard")
    (sink,) = sinks_for(str(tmp_path / "tb"), None)
    events.add_sink(sink)  # one sink for every run of the process: each run gets its own folder
    try:
        emit_run(tmp_path / "a" / "2026-12-06T10-00-00.123", [])
        emit_run(tmp_path / "b" / "2026-12-06T11-00-00.456", [])
    finally:
        events.remove_sink(sink)
        sink.close()
    folders = sorted(p.name for p in (tmp_path / "tb").iterdir())
    assert folders == ["2026-12-06T10-00-00.123", "2026-12-06T11-00-00.456"]
    for name in folders:
        assert tensorboard_scalars(tmp_path / "tb" / name) == SCALARS


# --- MLflow -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """One local MLflow database for the module's tests (making one takes a few seconds): its folder."""
    pytest.importorskip("mlflow")
    pytest.importorskip("sqlalchemy")
    folder = tmp_path_factory.mktemp("mlflow")
    from svp.tracking.mlflow import MlflowSink
    MlflowSink(f"sqlite:///{folder / 'mlflow.db'}")  # makes the database
    return folder


def mlflow_run(uri: str, run: Path):
    """The MLflow run recorded for the run directory ``run``, and a client of its store."""
    import mlflow
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("svp")
    (found,) = client.search_runs([experiment.experiment_id], filter_string=f"tags.`svp.run_dir` = '{run}'")
    return found, client


@pytest.mark.parametrize("status, expected", [("finished", "FINISHED"), ("interrupted", "KILLED"),
                                              ("failed", "FAILED"), (None, "KILLED")])
def test_mlflow_records_params_metrics_and_status(store, tmp_path, status, expected):
    uri = f"sqlite:///{store / 'mlflow.db'}"
    run = tmp_path / "runs" / "x" / "2026-12-06T10-00-00.123"
    emit_run(run, sinks_for(None, uri), status)
    found, client = mlflow_run(uri, run)
    assert found.info.run_name == run.name and found.info.status == expected
    assert found.data.params == PARAMS
    assert found.data.tags["svp.workflow"] == "active" and found.data.tags["svp.run_dir"] == str(run)
    history = {(metric.key, metric.step): metric.value for key in found.data.metrics
               for metric in client.get_metric_history(found.info.run_id, key)}
    assert history == SCALARS


def test_mlflow_empty_uri_is_mlflows_own_default(store, monkeypatch):
    monkeypatch.chdir(store)  # MLflow's default store, sqlite:///mlflow.db, made absolute
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (sink,) = sinks_for(None, "")
    assert sink.tracking_uri == f"sqlite:///{store.resolve() / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///./mlflow.db")
    run = store / "runs" / "2026-12-06T10-00-00.123"
    emit_run(run, sinks_for(None, ""))
    monkeypatch.chdir(store.parent)  # the run is found through the absolute URI, wherever one stands
    assert mlflow_run(f"sqlite:///{store.resolve() / 'mlflow.db'}", run)[0].info.status == "FINISHED"


def test_mlflow_params_respect_its_limits(store, tmp_path):
    from svp.tracking.mlflow import flatten
    config = {"many": {f"option{i}": i for i in range(150)}, "long": "x" * 7000, "empty": {}}
    params = flatten(config)
    assert len(params) == 152 and params["many.option149"] == "149" and params["empty"] == "{}"
    assert len(params["long"]) == 6000 and params["long"].endswith("x...")
    uri = f"sqlite:///{store / 'mlflow.db'}"
    run = tmp_path / "2026-12-06T10-00-00.123"
    with events.attached(sinks_for(None, uri), run):
        events.emit(events.RUN_STARTED, {"workflow": "coreset", "config": config})
    assert mlflow_run(uri, run)[0].data.params == params  # 152 params: two batches


def test_mlflow_store_it_cannot_open():
    pytest.importorskip("mlflow")
    with pytest.raises(UsageError, match=r"^--mlflow: MLflow cannot open nosuch://host .* ; give --mlflow"):
        sinks_for(None, "nosuch://host")


# --- missing packages, failing trackers -------------------------------------------------------------------------


def test_missing_tensorboard_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if not installed: importing it fails
    monkeypatch.delitem(sys.modules, "torch.utils.tensorboard", raising=False)
    with pytest.raises(UsageError) as caught:
        sinks_for(str(tmp_path), None)
    assert str(caught.value) == "--tensorboard needs the tensorboard package ; pip install 'svp[tracking]'"
    assert not any(tmp_path.iterdir())


def test_missing_mlflow_is_a_usage_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(UsageError) as caught:
        sinks_for(None, "")
    assert str(caught.value) == "--mlflow needs the mlflow package ; pip install 'svp[tracking]'"
    assert sinks_for(None, None) == []


def test_a_failing_tracker_does_not_stop_the_run(tmp_path, caplog):
    pytest.importorskip("tensorboard")
    (sink,) = sinks_for(str(tmp_path / "tb"), None)
    (tmp_path / "tb").write_text("a file where the event folders should go")  # put there after the start
    recorder = Recorder()
    caplog.set_level(logging.WARNING, logger="svp.events")
    emit_run(tmp_path / "run", [sink, recorder])
    assert recorder.names == [events.RUN_STARTED, *[events.EPOCH_ENDED] * 2, events.TRAINED, events.SELECTED,
                              events.TRAINED, events.SELECTED, events.ASKED, events.ANSWERED, events.RUN_ENDED]
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "svp.events"]
    assert warning.startswith("TensorBoardSink failed (") and warning.endswith("receives no more events of this run")


def test_a_tracker_that_goes_away_mid_run_is_dropped(store, tmp_path, caplog):
    (sink,) = sinks_for(None, f"sqlite:///{store / 'mlflow.db'}")
    recorder = Recorder()

    def gone(*args, **kwargs):
        raise ConnectionError("tracking server went away")

    caplog.set_level(logging.WARNING, logger="svp.events")
    with events.attached([sink, recorder], tmp_path / "run"):
        events.emit(events.RUN_STARTED, {"workflow": "train", "config": CONFIG})
        sink._client.log_batch = gone
        for epoch in (1, 2):
            events.emit(events.EPOCH_ENDED, {"epoch": epoch, "learning_rate": 0.5, "train_accuracy": 0.5,
                                             "dev_accuracy": -1.0, "seconds": 1.0}, role="train", nexamples=50)
        events.emit(events.RUN_ENDED, {"status": "finished"})
    assert recorder.names == [events.RUN_STARTED, events.EPOCH_ENDED, events.EPOCH_ENDED, events.RUN_ENDED]
    assert [r.getMessage() for r in caplog.records if r.name == "svp.events"] == [
        "MlflowSink failed (ConnectionError: tracking server went away) and receives no more events of this run"]


def test_a_tensorboard_folder_that_is_a_file_is_refused(tmp_path):
    pytest.importorskip("tensorboard")
    (tmp_path / "taken").write_text("")
    with pytest.raises(UsageError, match="--tensorboard .*taken is a file, not a folder"):
        sinks_for(str(tmp_path / "taken"), None)
