"""The README's "Your own data" examples run exactly as written, on files the test makes."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(section: str, language: str) -> list[str]:
    """The ``language`` code blocks of the README section titled ``section``."""
    text = README.read_text().split(f"### {section}\n", 1)[1].split("\n### ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 400)
    x = (rng.integers(0, 60, (400, 12, 12, 3)) + 80 * y[:, None, None, None]).astype(np.uint8)
    np.savez(tmp_path / "images.npz", x=x[:300], y=y[:300], x_test=x[300:], y_test=y[300:])
    embed = x.reshape(400, -1, 3).mean(1).astype(np.float32)
    np.savez(tmp_path / "embeddings.npz", x=embed[:300], x_test=embed[300:])
    for split, rows in (("train", range(0, 80)), ("test", range(300, 320))):  # images of three sizes
        for i in rows:
            folder = tmp_path / "pets" / split / f"class{y[i]}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(x[i]).resize((24 + i % 3 * 8, 24)).save(folder / f"{i}.png")
    words = ["bad", "fine", "great"]
    reviews = ['"review","sentiment"'] + [f'"a {words[y[i]]} thing, #{i}","{y[i]}"' for i in range(60)]
    (tmp_path / "reviews.csv").write_text("\n".join(reviews) + "\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SVP_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_the_command_line_examples(workdir):
    svp = Path(sys.executable).parent / "svp"
    if not svp.exists() and shutil.which("svp") is None:
        pytest.skip("the svp command is not installed (pip install -e .)")
    env = {**os.environ, "PATH": f"{svp.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    (block,) = _blocks("Your own data", "bash")
    result = subprocess.run(["bash", "-e", "-c", block], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list((workdir / "runs").iterdir())) == 4


def test_the_python_example(workdir, capsys):
    from svp.data import DATASETS, MODALITIES
    from run_helpers import restored

    (block,) = _blocks("Your own data", "python")
    with restored(DATASETS, MODALITIES):
        exec(compile(block, "README.md", "exec"), {})
    run = Path(capsys.readouterr().out.strip())
    assert (workdir / run / "target.csv").is_file() and run.parent == Path("runs")


def test_the_labeling_walkthrough(workdir):
    """Label your own data: ask, answer (file names tell the class), go on, train the target."""
    svp = Path(sys.executable).parent / "svp"
    if not svp.exists() and shutil.which("svp") is None:
        pytest.skip("the svp command is not installed (pip install -e .)")
    rng = np.random.default_rng(1)
    for name in ("cat", "dog"):
        (workdir / "photos" / "train" / name).mkdir(parents=True)
    (workdir / "photos" / "unlabeled").mkdir()
    for i in range(40):
        name = ("cat", "dog")[i % 2]
        pixels = rng.integers(0, 100, (32, 32, 3)) + (120 if name == "dog" else 0)
        Image.fromarray(pixels.astype(np.uint8)).save(workdir / "photos" / "unlabeled" / f"{name}_{i:02}.png")
    env = {**os.environ, "PATH": f"{svp.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    block = _blocks("Label your own data", "bash")[0]
    result = subprocess.run(["bash", "-e", "-c", block], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = (workdir / "runs").iterdir()
    asked = {row.split(",")[1]: row.split(",")[2] for row in (run / "query_1.csv").read_text().splitlines()[1:]}
    labels = [line.split(",") for line in (run / "labels.csv").read_text().splitlines()[1:]]
    assert len(labels) == 10  # of the 12 asked: the person left two unanswered
    assert all(asked[index].startswith(f"unlabeled/{label}_") and id_ == asked[index] for index, id_, label, _ in labels)
    assert "question 2: label the 12 examples" in result.stdout
    assert (run / "query_2.csv").is_file() and (run / "target.csv").read_text().count("\n") == 2


def _run_bash(block: str) -> subprocess.CompletedProcess:
    svp = Path(sys.executable).parent / "svp"
    if not svp.exists() and shutil.which("svp") is None:
        pytest.skip("the svp command is not installed (pip install -e .)")
    env = {**os.environ, "PATH": f"{svp.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(["bash", "-e", "-c", block], capture_output=True, text=True, env=env, timeout=300)


def test_extending_svp_with_a_plugin(workdir):
    """Extending svp: the plugin file as written, then the command that uses it."""
    (plugin,) = _blocks("Extending svp", "python")
    assert plugin.startswith("# my_plugin.py\n")
    (workdir / "my_plugin.py").write_text(plugin)
    (block,) = _blocks("Extending svp", "bash")
    result = _run_bash(block)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = (workdir / "runs" / "plugin").iterdir()
    config = json.loads((run / "config.json").read_text())
    assert config["selection"]["method"] == "small-norm" and config["target"]["arch"] == "tiny-conv"
    assert config["runtime"]["plugins"] == ["my_plugin"]
    assert [row.split(",")[0] for row in (run / "selection.csv").read_text().splitlines()[1:]] == ["150"]


def test_tracking_runs(workdir, capsys):
    """Tracking runs: the command with both trackers, read back with their own readers; the sink of one's own."""
    pytest.importorskip("tensorboard")
    mlflow = pytest.importorskip("mlflow")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (block,) = _blocks("Tracking runs", "bash")
    result = _run_bash(block)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = [path for path in (workdir / "runs").iterdir() if path.is_dir() and path.name != "tb"]
    (events_dir,) = (workdir / "runs" / "tb").iterdir()
    assert events_dir.name == run.name
    scalars = EventAccumulator(str(events_dir)).Reload().Tags()["scalars"]
    assert {"proxy/100/train_accuracy", "proxy/test_accuracy", "target/test_accuracy",
            "selection/total_time"} <= set(scalars)
    client = mlflow.MlflowClient(f"sqlite:///{workdir}/runs/mlflow.db")
    (logged,) = client.search_runs([client.get_experiment_by_name("svp").experiment_id])
    assert logged.info.run_name == run.name and logged.info.status == "FINISHED"
    assert logged.data.params["selection.method"] == "least_confidence"

    (python,) = _blocks("Tracking runs", "python")
    exec(compile(python, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("train on 300: ") and printed[-1].startswith("runs/")
