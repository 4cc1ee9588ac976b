"""``--plugin``: a user's module registers a model, a learner kind (with an option) and a selection method (with
a need of its own); `svp active` uses all three, and a run killed mid-way resumes in a new process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from svp import rundir

PLUGIN = textwrap.dedent('''
    """A toy plugin: one file, three registrations."""
    from dataclasses import dataclass, field

    import numpy as np
    from torch import nn

    from svp.learners import Learner, TrainResult, register_learner
    from svp.models import register
    from svp.rundir import PROXY
    from svp.selection import Method, Outputs, register_method, register_need


    class TinyNet(nn.Module):
        def __init__(self, num_classes, in_channels):
            super().__init__()
            self.classifier = nn.Linear(in_channels, num_classes)

        def forward(self, x):
            return self.classifier(x.flatten(1))


    register("tiny-net", TinyNet, modality="features")


    @dataclass(frozen=True)
    class CentroidOptions:
        temperature: float = field(default=1.0, metadata={"help": "softmax temperature of minus the distances"})


    class Centroids(Learner):
        """Nearest class centroid: probabilities from the distances to each class's mean."""

        roles = (PROXY,)
        provides = frozenset({"probs", "labels"})
        options = CentroidOptions

        @classmethod
        def archs(cls):
            return ("centroids",)

        @classmethod
        def modality(cls, arch):
            return "features"

        def _inputs(self, indices, split="train"):
            return np.concatenate([x.flatten(1).numpy() for x, _, _ in
                                   self.env.data.batches(split, indices, 256, device="cpu")])

        def train(self, labeled, out_dir, seed, hooks=()):
            x, y = self._inputs(labeled), np.asarray(self.env.data.targets("train"))[labeled]
            self.centers = np.stack([x[y == c].mean(0) if (y == c).any() else np.zeros(x.shape[1])
                                     for c in range(self.env.data.num_classes)])
            out_dir.mkdir(parents=True, exist_ok=True)
            np.save(out_dir / "centers.npy", self.centers)
            train = float((self._probs(x).argmax(1) == y).mean())
            return TrainResult(len(labeled), train, -1.0, -1.0, 0.0, 0.0, 0.0)

        def load(self, out_dir):
            self.centers = np.load(out_dir / "centers.npy", allow_pickle=False)

        def _probs(self, x):
            temperature = self.check_options(self.config.options, "--proxy-arch").temperature
            logits = -((x[:, None, :] - self.centers[None]) ** 2).sum(-1) / temperature
            logits -= logits.max(1, keepdims=True)
            return np.exp(logits) / np.exp(logits).sum(1, keepdims=True)

        def score(self, indices, needs):
            probs = self._probs(self._inputs(indices))
            labels = np.asarray(self.env.data.targets("train"))[indices] if "labels" in needs else None
            return Outputs(np.asarray(indices), probs, labels=labels)


    register_learner("centroid", Centroids)

    # a need no learner gives: derived from the probabilities every learner here gives
    register_need("runner_up", "the second-highest class probability",
                  derive=lambda out: np.sort(out.probs, axis=1)[:, -2], requires={"probs"})


    @dataclass(frozen=True)
    class RunnerUpOptions:
        power: float = field(default=1.0, metadata={"help": "rank by the runner-up probability to this power"})


    register_method("runner-up", Method(score=lambda pool, options: pool.extra["runner_up"] ** options.power,
                                        needs=frozenset({"runner_up"}), nonnegative=True, options=RunnerUpOptions))
''')


@pytest.fixture
def workdir(tmp_path) -> Path:
    (tmp_path / "toy_plugin.py").write_text(PLUGIN)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 160)
    x = (rng.normal(size=(160, 6)) + 2.0 * y[:, None]).astype(np.float32)
    np.savez(tmp_path / "points.npz", x=x[:120], y=y[:120], x_test=x[120:], y_test=y[120:])
    return tmp_path


def _svp(workdir: Path, *args: str, kill_at: str = "") -> subprocess.CompletedProcess:
    """``python -m svp ARGS`` in a new process, in ``workdir`` (the plugin is found from there, as a user's)."""
    env = {**os.environ, "SVP_TEST_KILL_AT": kill_at, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-m", "svp", *args], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=300)


ACTIVE = ["active", "--plugin", "toy_plugin", "--dataset", "points.npz", "--arch", "tiny-net", "--epochs", "2",
          "--learning-rate", "0.1", "--batch-size", "16", "--proxy-arch", "centroids",
          "--proxy-centroid-temperature", "0.5", "--selection-method", "runner-up", "--initial-subset", "20",
          "--runner-up-power", "2", "--round", "10", "--round", "10", "--run-dir", "runs", "--seed", "3", "--no-cuda",
          "-q"]


def test_a_plugins_model_learner_and_method_run_and_resume_in_a_new_process(workdir):
    killed = _svp(workdir, *ACTIVE, kill_at="select:2")  # dies while selecting its second round
    assert killed.returncode == -9, killed.stderr[-2000:]
    (run,) = (workdir / "runs").iterdir()
    config = json.loads((run / rundir.CONFIG).read_text())
    assert config["proxy"]["options"] == {"temperature": 0.5} and config["runtime"]["plugins"] == ["toy_plugin"]
    assert config["selection"]["method"] == "runner-up" and config["selection"]["options"] == {"power": 2.0}
    assert config["target"]["arch"] == "tiny-net"
    assert len(rundir.read_rows(run / rundir.SELECTION_CSV)) == 1

    forgotten = _svp(workdir, "active", "--resume", str(run), "-q")  # a run dir never makes svp import code
    assert forgotten.returncode == 2 and "was made with --plugin toy_plugin ; give it again" in forgotten.stderr

    resumed = _svp(workdir, "active", "--resume", str(run), "--plugin", "toy_plugin", "-q")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert [int(r["nexamples"]) for r in rundir.read_rows(run / rundir.SELECTION_CSV)] == [30, 40]
    assert [int(r["nexamples"]) for r in rundir.read_rows(run / rundir.TARGET_CSV)] == [30, 40]

    fresh = _svp(workdir, *ACTIVE[:-6], "--run-dir", "again", "--seed", "3", "--no-cuda", "-q")  # never killed
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    (uninterrupted,) = (workdir / "again").iterdir()
    for name in ("proxy/40/labeled_40.index", "initial_subset_20.index"):  # the same picks, killed or not
        np.testing.assert_array_equal(rundir.load_index(run / name), rundir.load_index(uninterrupted / name))


def test_a_plugin_that_is_not_there_is_refused(workdir):
    result = _svp(workdir, *ACTIVE[:1], "--plugin", "not_a_plugin", *ACTIVE[3:])
    assert result.returncode == 2 and "--plugin not_a_plugin: no such module" in result.stderr
    assert not (workdir / "runs").exists()


def test_a_learner_option_of_another_kind_is_refused(workdir):
    result = _svp(workdir, *[a if a != "centroids" else "linear-head" for a in ACTIVE])
    assert result.returncode == 2 and "--proxy-centroid-temperature is an option of the centroid learner" \
        in result.stderr
    assert not (workdir / "runs").exists()


def test_a_method_option_of_another_method_is_refused(workdir):
    result = _svp(workdir, *[a if a != "runner-up" else "least_confidence" for a in ACTIVE])
    assert result.returncode == 2 and "--runner-up-power is an option of runner-up, not of --selection-method " \
        "least_confidence" in result.stderr
    assert not (workdir / "runs").exists()


MORE = textwrap.dedent('''
    """A second toy plugin, also one file: a dataset source, a sink and a workflow."""
    import json
    from dataclasses import dataclass

    import numpy as np

    import svp
    from svp import config as cfg
    from svp.data import from_arrays
    from svp.options import Option


    def blobs(config):
        rng = np.random.default_rng(0)
        y = rng.integers(0, 2, 60)
        x = (rng.normal(size=(60, 4)) + 3.0 * y[:, None]).astype(np.float32)
        return from_arrays(x[:40], y[:40], x[40:], y[40:])


    svp.register_dataset("blobs", blobs, modality="features")


    class Ledger(svp.Sink):
        """Writes each event's name, as a run tells them, to ledger.txt."""

        def handle(self, event):
            with open("ledger.txt", "a") as ledger:
                ledger.write(f"{event.name} {event.role or '-'} {event.nexamples or '-'}\\n")


    svp.add_sink(Ledger())


    @dataclass(frozen=True)
    class ClassCountConfig:
        data: cfg.DataConfig = cfg.DataConfig()
        model: cfg.ModelConfig = cfg.ModelConfig()
        runtime: cfg.RuntimeConfig = cfg.RuntimeConfig()
        workflow: str = "class-count"


    def class_count(config):
        from svp.workflows.setup import open_run

        with open_run(config) as ctx:
            counts = np.bincount(ctx.data.targets("train")[ctx.pool]).tolist()
            ctx.write((ctx.run / "counts.json").write_text, json.dumps(counts))
        return svp.RunResult(ctx.run, config.workflow)


    svp.register_workflow(svp.Workflow("class-count", "count the training examples of each class",
                                       ClassCountConfig, class_count, proxy=False,
                                       summary=lambda run: (run / "counts.json").read_text()))
''')


def _tree(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*.py"))}


def test_a_dataset_a_sink_and_a_workflow_each_in_a_plugin_file(workdir):
    """Each toy is one file and its registration: svp's own files stay as they are."""
    package = Path(rundir.__file__).parent
    before = _tree(package)
    (workdir / "more_toys.py").write_text(MORE)
    counted = _svp(workdir, "class-count", "--plugin", "more_toys", "--dataset", "blobs", "--arch", "linear-head",
                   "--run-dir", "runs", "-q")
    assert counted.returncode == 0, counted.stderr[-2000:]
    (run,) = (workdir / "runs").iterdir()
    counts = json.loads((run / "counts.json").read_text())
    assert sum(counts) == 40 and counts[0] > 0 and counts[1] > 0 and counted.stdout.startswith(json.dumps(counts))
    trained = _svp(workdir, "train", "--plugin", "more_toys", "--dataset", "blobs", "--arch", "linear-head",
                   "--epochs", "2", "--learning-rate", "0.1", "--run-dir", "runs", "-q")
    assert trained.returncode == 0, trained.stderr[-2000:]
    ledger = (workdir / "ledger.txt").read_text().splitlines()
    assert ledger == ["run_started - -", "run_ended - -", "run_started - -", "epoch_ended train 40",
                      "epoch_ended train 40", "trained train 40", "run_ended - -"]
    assert _tree(package) == before


def test_a_plugin_that_fails_as_it_is_imported_is_one_line(workdir):
    (workdir / "broken_plugin.py").write_text("import svp\nsvp.register_method('x', object())\n")
    result = _svp(workdir, "list", "--plugin", "broken_plugin")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("svp: error: --plugin broken_plugin failed as it was imported (ValueError: "
                                    "method 'x' must be a svp.selection.Method")
