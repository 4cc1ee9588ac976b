"""What a new user hit, through the command line: annotators who disagree, Label Studio choices that are not
one class, report times not recorded, a baseline of another dataset, and starting weights that are not
weights (a text file, a directory, a planted pickle in torch's cache).

Each refusal is exit 2 with ``svp: error: <what> ; <how to fix>``, no traceback, and no file written or
changed (:func:`run_helpers.refused`); each case also names what the user needs to find the problem.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from svp import rundir
from svp.cli import main
from svp.models import create_model
from run_helpers import only_run, refused, rows, subprocess_env

QUERY = ["--arch", "mlp-head", "--epochs", "1", "--learning-rate", "0.05", "--batch-size", "8", "--no-cuda",
         "--quiet", "--seed", "0"]
TRAIN = ["--epochs", "1", "--learning-rate", "1e-9", "--batch-size", "8", "--no-cuda", "--quiet", "--seed", "0"]
RESNET18 = "resnet18-f37072fd.pth"  # torchvision's file name: the first 8 hex digits of its SHA-256
TIMES = "nexamples,train_accuracy,dev_accuracy,test_accuracy,train_time"


class Planted:
    """A pickle that, loaded in full (weights_only=False), creates its marker file: code a planted file runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """hidden.npz (60 feature vectors of 3 classes, none labeled), d.npz (labeled) and img.npz (8x8 RGB)."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    centers, y, y_test = rng.normal(size=(3, 8)) * 2, rng.integers(0, 3, 60), rng.integers(0, 3, 30)
    x = (centers[y] + rng.normal(size=(60, 8))).astype(np.float32)
    x_test = (centers[y_test] + rng.normal(size=(30, 8))).astype(np.float32)
    np.savez(root / "hidden.npz", x=x, y=np.full(60, -1), x_test=x_test, y_test=y_test)
    np.savez(root / "d.npz", x=x, y=y, x_test=x_test, y_test=y_test)
    images = rng.integers(0, 255, (40, 8, 8, 3), dtype=np.uint8)
    np.savez(root / "img.npz", x=images, y=np.arange(40) % 3, x_test=images[:10], y_test=np.arange(10) % 3)
    return root


def waiting_query(data: Path, runs: Path) -> Path:
    """A labeling loop waiting for the answers to its first question (6 examples, as Label Studio tasks)."""
    assert main(["query", "--dataset", str(data / "hidden.npz"), "--run-dir", str(runs), *QUERY,
                 "--initial-subset", "6", "--budget", "3", "--format", "label-studio"]) == 0
    return only_run(runs)


@pytest.fixture(scope="module")
def waiting(data, tmp_path_factory) -> Path:
    """One waiting run for every refusal: a refused answer changes nothing in it."""
    return waiting_query(data, tmp_path_factory.mktemp("query"))


def tasks_of(run: Path) -> list[dict]:
    return json.loads(rundir.query_file(run, 1, "tasks").read_text())


def annotation(choices, who=10) -> dict:
    """One annotation as Label Studio's JSON export holds it."""
    return {"id": 1, "was_cancelled": False, "completed_by": who, "result": [
        {"from_name": "label", "to_name": "item", "type": "choices", "value": {"choices": choices}}]}


def export_json(run: Path, out: Path, *annotations: dict) -> Path:
    """The export once the first task has these annotations (the others: none yet)."""
    tasks = [{**task, "id": n, "annotations": list(annotations) if n == 1 else []}
             for n, task in enumerate(tasks_of(run), start=1)]
    out.write_text(json.dumps(tasks))
    return out


def export_min(run: Path, out: Path, value) -> Path:
    """A JSON-MIN export whose first task's choice is ``value`` (the others: not annotated)."""
    records = [{**task["data"], "id": n, **({"label": value, "annotator": 10} if n == 1 else {})}
               for n, task in enumerate(tasks_of(run), start=1)]
    out.write_text(json.dumps(records))
    return out


def write_run(root: Path, name: str, dataset: str, method: str = "entropy", proxy_time: str = "1.5") -> Path:
    """An active run on ``dataset`` (proxy at 100 and 200, target at 200); ``proxy_time`` "" leaves it empty."""
    run = root / name
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({
        "workflow": "active", "data": {"dataset": dataset}, "target": {"arch": "preact20"},
        "proxy": {"arch": "resnet8"}, "selection_method": method, "runtime": {"seed": 0}}))
    (run / "proxy.csv").write_text(f"{TIMES}\n100,1.0,-1,0.5,{proxy_time}\n200,1.0,-1,0.6,{proxy_time}\n")
    (run / "target.csv").write_text(f"{TIMES}\n200,1.0,-1,0.7,10.0\n")
    (run / "selection.csv").write_text("nexamples,current_nexamples,new_nexamples,total_time,inference_time,"
                                       "ranking_time\n200,100,100,1.5,1.0,0.5\n")
    return run


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Case:
    """Where a case builds its files, and what it may patch (torch's cache, the published weights' URL)."""

    tmp: Path
    data: Path
    waiting: Path
    monkeypatch: pytest.MonkeyPatch

    def torch_home(self) -> Path:
        """An empty torch cache of this case's own; its checkpoints folder made."""
        self.monkeypatch.setenv("TORCH_HOME", str(self.tmp / "torch"))
        checkpoints = self.tmp / "torch" / "hub" / "checkpoints"
        checkpoints.mkdir(parents=True)
        return checkpoints

    def published_as(self, path: Path) -> None:
        """Make ``path``'s name, with its own hash, the published weights' file name."""
        self.monkeypatch.setattr("svp.models.resnet.published_url",
                                 lambda depth: f"https://download.pytorch.org/models/{path.name}")

    def answers(self, export: Path) -> tuple[list[str], tuple[Path, ...]]:
        return ["query", "--resume", str(self.waiting), "--labels", str(export), "--no-cuda", "--quiet"], \
            (self.waiting,)

    def train(self, *more: str, dataset: str = "d.npz", arch: str = "mlp-head") -> tuple[list[str], tuple[Path, ...]]:
        return ["train", "--dataset", str(self.data / dataset), "--arch", arch, "--run-dir", str(self.tmp / "runs"),
                *TRAIN, *more], (self.tmp / "runs",)

    def report(self, *runs: Path, baseline: Path) -> tuple[list[str], tuple[Path, ...]]:
        return ["report", *map(str, runs), "--baseline", str(baseline), "--out", str(self.tmp / "out")], \
            (self.tmp / "out", *runs, baseline)


def disagreeing_ids(case: Case):
    return case.answers(export_json(case.waiting, case.tmp / "e.json", annotation(["0"], 10),
                                    annotation(["2"], 11)))


def disagreeing_users(case: Case):
    return case.answers(export_json(case.waiting, case.tmp / "e.json",
                                    annotation(["1"], {"id": 3, "email": "ann@example.com"}),
                                    annotation(["1"], {"id": 4, "email": "bob@example.com"}),
                                    annotation(["2"], {"id": 5, "email": "cy@example.com"})))


def two_choices_in_one_annotation(case: Case):
    return case.answers(export_json(case.waiting, case.tmp / "e.json", annotation(["0", "1"], 12)))


def disagreeing_records(case: Case):
    """JSON-MIN: one record per annotation, two annotators' records of one task choosing two classes."""
    records = json.loads(export_min(case.waiting, case.tmp / "m.json", "0").read_text())
    (case.tmp / "m.json").write_text(json.dumps([records[0], {**records[0], "label": "2", "annotator": 11}]))
    return case.answers(case.tmp / "m.json")


def text_file(case: Case):
    (case.tmp / "w.txt").write_text("learning rate 0.1, 10 epochs\n")
    return case.train("--weights", str(case.tmp / "w.txt"))


def empty_file(case: Case):
    (case.tmp / "w.pt").write_bytes(b"")
    return case.train("--weights", str(case.tmp / "w.pt"))


def a_directory(case: Case):
    (case.tmp / "weights").mkdir()
    return case.train("--weights", str(case.tmp / "weights"))


def a_pickle_of_code(case: Case):
    torch.save({"fc.weight": Planted(case.tmp / "MARKER")}, case.tmp / "w.pt")
    return case.train("--weights", str(case.tmp / "w.pt"))


def another_architecture(case: Case):
    torch.save(create_model("linear-head", 3, 8).state_dict(), case.tmp / "w.pt")
    return case.train("--weights", str(case.tmp / "w.pt"))


def proxy_weights_of_the_target(case: Case):
    torch.save(create_model("mlp-head", 3, 8).state_dict(), case.tmp / "w.pt")  # fits the target only
    return ["active", "--dataset", str(case.data / "d.npz"), "--arch", "mlp-head", "--proxy-arch", "linear-head",
            "--proxy-weights", str(case.tmp / "w.pt"), "--initial-subset", "10", "--round", "10",
            "--run-dir", str(case.tmp / "runs"), *TRAIN], (case.tmp / "runs",)


def planted_in_torch_cache(case: Case):
    """A pickle that would run code, planted under the published file's name: its hash gives it away."""
    checkpoints = case.torch_home()
    torch.save({"conv1.weight": Planted(case.tmp / "MARKER")}, checkpoints / RESNET18)
    argv, watched = case.train("--pretrained", dataset="img.npz", arch="imagenet-resnet18")
    return argv, (*watched, case.tmp / "torch")


def planted_with_a_matching_name(case: Case):
    """The same pickle named with its own hash (as one who can write the cache could): read as tensors only."""
    checkpoints = case.torch_home()
    planted = checkpoints / "planted.pth"
    torch.save({"conv1.weight": Planted(case.tmp / "MARKER")}, planted)
    named = planted.rename(checkpoints / f"resnet18-{sha256(planted)[:8]}.pth")
    case.published_as(named)
    argv, watched = case.train("--pretrained", dataset="img.npz", arch="imagenet-resnet18")
    return argv, (*watched, case.tmp / "torch")


def _offline_with_no_copy(case: Case) -> None:
    """An empty torch cache, and no network to fill it."""
    case.torch_home()

    def offline(*args, **kwargs):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    case.monkeypatch.setattr("torch.hub.download_url_to_file", offline)


def offline_without_a_copy(case: Case):
    _offline_with_no_copy(case)
    argv, watched = case.train("--pretrained", dataset="img.npz", arch="imagenet-resnet18")
    return argv, (*watched, case.tmp / "torch")


def proxy_offline_without_a_copy(case: Case):
    """--proxy-pretrained, not --pretrained, is what asked for the weights: the message names it."""
    _offline_with_no_copy(case)
    return ["active", "--dataset", str(case.data / "img.npz"), "--arch", "imagenet-resnet18", "--proxy-arch",
            "imagenet-resnet18", "--proxy-pretrained", "--initial-subset", "10", "--round", "10",
            "--run-dir", str(case.tmp / "runs"), *TRAIN], (case.tmp / "runs", case.tmp / "torch")


def baseline_of_another_dataset(case: Case):
    return case.report(write_run(case.tmp, "ours", "cifar10"), baseline=write_run(case.tmp, "base", "cifar100"))


def runs_of_two_datasets(case: Case):
    ours, theirs = write_run(case.tmp / "runs", "a", "cifar10"), write_run(case.tmp / "runs", "b", "svhn")
    return case.report(ours, theirs, baseline=write_run(case.tmp, "base", "cifar10", method="random"))


CASES: dict[str, tuple[Callable[[Case], tuple], list[str]]] = {
    "annotators disagree": (disagreeing_ids, [
        "task 1 (svp_index", "its annotators disagree (annotator 10 chose '0', annotator 11 chose '2')",
        "; resolve the disagreement in Label Studio (or keep one annotation), then export again"]),
    "annotators by email": (disagreeing_users, [
        "annotator ann@example.com chose '1', annotator bob@example.com chose '1', annotator cy@example.com chose '2'"]),
    "JSON-MIN annotators disagree": (disagreeing_records, [
        "m.json task 2 (annotator 11): index", "is labeled 0 at", "m.json task 1 (annotator 10) but 2 here"]),
    "two choices in one annotation": (two_choices_in_one_annotation, [
        "task 1 (svp_index", "its annotation by annotator 12: 'label' holds 2 choices", "choose exactly one class"]),
    "JSON-MIN list of two": (lambda case: case.answers(export_min(case.waiting, case.tmp / "m.json", ["0", "1"])), [
        "task 1 (svp_index", "annotator 10): 'label' holds 2 choices ([\"0\", \"1\"])", "choose exactly one class"]),
    "JSON-MIN no choice": (lambda case: case.answers(export_min(case.waiting, case.tmp / "m.json", {"choices": []})),
                           ["'label' holds no choice", "choose exactly one class per task"]),
    "JSON-MIN not a name": (lambda case: case.answers(export_min(case.waiting, case.tmp / "m.json", [2])),
                            ["'label' holds something other than a class name ([2])"]),
    "weights: a text file": (text_file, ["--weights", "w.txt cannot be read as saved weights (it is a text file",
                                         "; give a file saved by torch.save(model.state_dict(), path)"]),
    "weights: an empty file": (empty_file, ["w.pt cannot be read as saved weights (the file is empty)"]),
    "weights: a directory": (a_directory, ["weights: is a directory, not a file ; give the path of a saved"]),
    "weights: a pickle of code": (a_pickle_of_code, ["w.pt cannot be read as saved weights (it holds other objects "
                                                     "than tensors", "which svp does not load"]),
    "weights: another architecture": (another_architecture, ["w.pt does not fit mlp-head (missing body.0.weight",
                                                             "; give --weights PATH with weights saved from mlp-head"]),
    "proxy weights of the target's architecture": (proxy_weights_of_the_target, [
        "--proxy-weights", "does not fit linear-head", "; give --proxy-weights PATH with weights saved from "
        "linear-head"]),
    "pretrained: planted in torch's cache": (planted_in_torch_cache, [
        "--pretrained: ", f"{RESNET18} is not torchvision's published file (its SHA-256 starts",
        "not f37072fd as its name says) ; delete it so it is downloaded again from https://download.pytorch.org"]),
    "pretrained: planted with its own hash": (planted_with_a_matching_name, [
        "is not torchvision's published file (it holds other objects than tensors", "which svp does not load) "
        "; delete it so it is downloaded again"]),
    "pretrained: offline, no copy": (offline_without_a_copy, [
        "--pretrained: torchvision's weights https://download.pytorch.org/models/resnet18-f37072fd.pth could not "
        "be downloaded", "give a saved copy with --weights PATH"]),
    "pretrained: the proxy's, offline": (proxy_offline_without_a_copy, [
        "error: --proxy-pretrained: torchvision's weights https://download.pytorch.org/models/resnet18-f37072fd.pth "
        "could not be downloaded", "give a saved copy with --proxy-weights PATH"]),
    "report: baseline of another dataset": (baseline_of_another_dataset, [
        "--baseline ran on cifar100", "ours ran on cifar10 ; give a --baseline run on cifar10"]),
    "report: runs of two datasets": (runs_of_two_datasets, [
        "--baseline ran on cifar10", "b ran on svhn ; give a --baseline run on svhn",
        "a --baseline folder may hold one setup per dataset"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_refused(name, data, waiting, tmp_path, monkeypatch, capsys):
    build, expected = CASES[name]
    argv, watched = build(Case(tmp_path, data, waiting, monkeypatch))
    message = refused(capsys, argv, watched=watched).rstrip("\n").splitlines()[-1]
    for words in expected:
        assert words in message, message
    assert not (tmp_path / "MARKER").exists()  # no planted pickle ran
    assert not (tmp_path / "runs").exists() or name.startswith("report")  # nothing made for a refused start


class SystemCall:
    """A pickle that, loaded in full, runs ``os.system`` to create its marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


def test_a_legacy_pickle_as_weights_is_one_line_of_error(data, tmp_path):
    """A file pickle.dump wrote (protocol 4, not torch.save): torch warns over two lines of its own before it
    fails; svp says, in its one line, what the file holds (in a child process: pytest would catch the warning)."""
    weights = tmp_path / "w.pt"
    with open(weights, "wb") as handle:
        pickle.dump({"w": torch.zeros(1), "f": os.system, "m": SystemCall(tmp_path / "MARKER")}, handle, protocol=4)
    done = subprocess.run([sys.executable, "-m", "svp", "train", "--dataset", str(data / "d.npz"), "--arch",
                           "mlp-head", "--run-dir", str(tmp_path / "runs"), *TRAIN, "--weights", str(weights)],
                          env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"svp: error: --weights {weights} cannot be read as saved weights (it holds other objects than tensors "
        f"({os.system.__module__}.system), which svp does not load) ; give a file saved by "
        "torch.save(model.state_dict(), path)"]
    assert not (tmp_path / "MARKER").exists() and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("format", ["json", "json-min"])
def test_annotators_who_agree_label_the_task(data, tmp_path, format):
    run = waiting_query(data, tmp_path / "runs")
    first = tasks_of(run)[0]["data"]["svp_index"]
    if format == "json":  # a cancelled annotation does not count
        export = export_json(run, tmp_path / "e.json", annotation(["2"], {"id": 3, "email": "ann@example.com"}),
                             annotation(["2"], 11), {**annotation([], 12), "was_cancelled": True})
    else:  # JSON-MIN: one record per annotation, each choice as Label Studio may write it
        records = json.loads(export_min(run, tmp_path / "e.json", ["2"]).read_text())
        export = tmp_path / "e.json"
        export.write_text(json.dumps(records[:1] + [{**records[0], "label": {"choices": ["2"]}, "annotator": 11}]
                                     + records[1:]))
    assert main(["query", "--resume", str(run), "--labels", str(export), "--no-cuda", "--quiet"]) == 0
    assert [(int(r["index"]), r["label"]) for r in rows(run / rundir.LABELS_CSV)] == [(first, "2")]


def test_a_json_min_list_of_one_class_labels_the_task(data, tmp_path):
    run = waiting_query(data, tmp_path / "runs")
    first = tasks_of(run)[0]["data"]["svp_index"]
    export = export_min(run, tmp_path / "m.json", ["1"])
    assert main(["query", "--resume", str(run), "--labels", str(export), "--no-cuda", "--quiet"]) == 0
    assert [(int(r["index"]), r["label"]) for r in rows(run / rundir.LABELS_CSV)] == [(first, "1")]


def test_a_report_shows_a_time_not_recorded_as_missing(tmp_path, capsys):
    run = write_run(tmp_path, "ours", "cifar10", proxy_time="")
    assert main(["report", str(run), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    first = [line for line in out.splitlines() if line.startswith("ours")][0].split()
    assert first[5:] == ["50.00", "-", "-", "1.00", "0.50", "1.50", "10.00", "-"]  # proxy training and total
    assert "0.00" not in out.split()
    assert "warning: ours: proxy.csv has an empty train_time in 2 of its 2 rows: shown as missing" in out
    assert (tmp_path / "out" / "report.csv").read_text().splitlines()[1].split(",")[9:15] == \
        ["", "1", "0.5", "1.5", "10", ""]  # proxy_train_s ... total_s: missing is empty, not 0


def test_a_published_file_in_torchs_cache_loads(data, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    published = create_model("imagenet-resnet18", 1000, 3).state_dict()
    torch.save(published, checkpoints / "weights.pth")
    named = (checkpoints / "weights.pth").rename(checkpoints / f"resnet18-{sha256(checkpoints / 'weights.pth')[:8]}"
                                                               ".pth")
    monkeypatch.setattr("svp.models.resnet.published_url",
                        lambda depth: f"https://download.pytorch.org/models/{named.name}")
    assert main(["train", "--dataset", str(data / "img.npz"), "--arch", "imagenet-resnet18", "--pretrained",
                 "--run-dir", str(tmp_path / "runs"), *TRAIN]) == 0
    saved = torch.load(only_run(tmp_path / "runs") / "checkpoint_best_model.t7", weights_only=True)["model"]
    # a learning rate of 1e-9 leaves the convolutions where the published weights started them
    assert torch.allclose(saved["conv1.weight"], published["conv1.weight"], atol=1e-6)
    assert saved["fc.weight"].shape == (3, 512)  # a classifier of its own: 3 classes, not 1000
