"""Resume: a run killed anywhere ends exactly as an uninterrupted one.

The kills are real SIGKILLs at points named by ``SVP_TEST_KILL_AT``
(see :mod:`svp._faults`), in subprocesses of ``python -m svp.cifar``.
"""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

import svp.cifar
from svp import config as cfg
from svp.cli import build_parser, main
from svp.cli.parse import typed_fields
from run_helpers import run_module, column, only_run, rows

SIZES = [50, 80, 100, 120]
KILLED = -signal.SIGKILL


def argv(cifar_dir: Path, run_root: Path) -> list[str]:
    """A small active run: 3 rounds, a 2-epoch MLP proxy, a logistic-regression target trained at every size."""
    return ["active", "--datasets-dir", str(cifar_dir), "--run-dir", str(run_root), "--no-cuda", "--seed", "5",
            "--arch", "logistic", "--proxy-arch", "mlp", "--selection-method", "kcenters", "--initial-subset", "50",
            "--round", "30", "--round", "20", "--round", "20", "--validation", "40", "--batch-size", "64",
            "--epochs", "1", "--learning-rate", "0.01", "--proxy-epochs", "2", "--proxy-learning-rate", "0.01",
            *[arg for size in SIZES for arg in ("--eval-target-at", str(size))], "--quiet"]


def svp_cifar(args: list[str], kill_at: str | None = None) -> subprocess.CompletedProcess:
    return run_module("svp.cifar", args, kill_at)


def temporaries(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run)).rsplit(".", 2)[0] for p in run.rglob("*.tmp"))


def snapshot(run: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(run)): (p.read_bytes(), p.stat().st_mtime_ns) for p in run.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def reference(cifar_dir, tmp_path_factory) -> Path:
    """The same run, never interrupted."""
    root = tmp_path_factory.mktemp("reference")
    result = svp_cifar(argv(cifar_dir, root))
    assert result.returncode == 0, result.stderr[-3000:]
    return only_run(root)


def assert_same_results(run: Path, reference: Path) -> None:
    indexes = {str(p.relative_to(reference)): p.read_bytes() for p in reference.rglob("*.index")}
    assert {str(p.relative_to(run)): p.read_bytes() for p in run.rglob("*.index")} == indexes
    assert len(indexes) == 2 + 2 * len(SIZES)  # dev set, initial subset, proxy/<n> and target/<n> labeled sets
    measured = ("nexamples", "train_accuracy", "dev_accuracy", "test_accuracy")
    for name in ("proxy.csv", "target.csv"):
        assert column(run, name) == SIZES, name  # one row per training: none lost, none repeated
        assert [[r[k] for k in measured] for r in rows(run / name)] == \
               [[r[k] for k in measured] for r in rows(reference / name)]
    counts = ("nexamples", "current_nexamples", "new_nexamples")
    assert [[r[k] for k in counts] for r in rows(run / "selection.csv")] == \
           [["80", "50", "30"], ["100", "80", "20"], ["120", "100", "20"]]
    assert temporaries(run) == []


def test_killed_run_resumes_to_the_same_results(cifar_dir, tmp_path, reference):
    # killed inside the first proxy training, after its first of two epochs
    assert svp_cifar(argv(cifar_dir, tmp_path), kill_at="epoch:1").returncode == KILLED
    run = only_run(tmp_path)
    config = (run / "config.json").read_bytes()
    assert (run / "proxy/50/checkpoint_best_model.t7").is_file() and not (run / "proxy.csv").exists()
    resume = ["active", "--resume", str(run), "--quiet"]

    # killed while selecting: the first round's trainings are recorded, nothing selected yet
    assert svp_cifar(resume, kill_at="select:1").returncode == KILLED
    assert (column(run, "proxy.csv"), column(run, "target.csv"), column(run, "selection.csv")) == ([50], [50], [])

    # killed between writes: the labeled set of 80 is on disk, its selection row half-written
    assert svp_cifar(resume, kill_at="write:selection.csv:1").returncode == KILLED
    assert (run / "proxy/80/labeled_80.index").is_file() and column(run, "selection.csv") == []
    assert temporaries(run) == [".selection.csv"]

    # killed after training the proxy on 80, before its row lands
    assert svp_cifar(resume, kill_at="write:proxy.csv:1").returncode == KILLED
    assert (column(run, "proxy.csv"), column(run, "selection.csv")) == ([50], [80])
    assert temporaries(run) == [".proxy.csv"]  # the earlier one was cleaned up

    # the original command, plus --resume: options that agree with the saved config are fine
    final = svp_cifar([*argv(cifar_dir, tmp_path), "--resume", str(run)])
    assert final.returncode == 0, final.stderr[-3000:]
    assert_same_results(run, reference)
    assert (run / "config.json").read_bytes() == config
    assert len(list(tmp_path.iterdir())) == 1  # no second run directory


def test_resuming_a_finished_run_changes_nothing(reference, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    before = snapshot(run)

    def refuse(*args, **kwargs):
        raise AssertionError("a finished run trained again")

    monkeypatch.setattr("svp.learners.torch.fit", refuse)
    assert main(["active", "--resume", str(run), "--quiet"], domain=svp.cifar.DOMAIN) == 0
    assert snapshot(run) == before
    assert f"results: {run}" in capsys.readouterr().out


def _refused(capsys, args: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(args, domain=svp.cifar.DOMAIN)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_conflicting_options_are_refused(reference, capsys):
    before = snapshot(reference)
    err = _refused(capsys, ["active", "--resume", str(reference), "--seed", "6", "--proxy-arch", "logistic",
                            "--round", "30", "--round", "20", "--round", "20"])
    assert err == (f"python -m svp.cifar: error: --resume {reference}: --seed is 5 in the saved config but 6 was "
                   "given; --proxy-arch is mlp in the saved config but logistic was given. Drop these options to "
                   "continue with the saved values, or start a new run without --resume\n")
    assert snapshot(reference) == before


def test_resume_needs_a_run_directory_of_the_same_workflow(reference, tmp_path, capsys):
    err = _refused(capsys, ["active", "--resume", str(tmp_path)])
    assert err == (f"python -m svp.cifar: error: --resume {tmp_path} is not a run directory: "
                   "it holds no config.json\n")
    err = _refused(capsys, ["coreset", "--resume", str(reference)])
    assert err == (f"python -m svp.cifar: error: --resume {reference} holds a run of `active`, not of `coreset`; "
                   "resume it with `active`\n")


def test_train_resume_compares_the_model_options(tmp_path, capsys):
    saved = cfg.TrainConfig(model=cfg.ModelConfig(arch="mlp", epochs=(2,), learning_rates=(0.1,)),
                            runtime=cfg.RuntimeConfig(seed=1))
    (tmp_path / "config.json").write_text(json.dumps(cfg.to_dict(saved)))
    err = _refused(capsys, ["train", "--resume", str(tmp_path), "--arch", "mlp", "--epochs", "3",
                            "--learning-rate", "0.1"])
    assert err == (f"python -m svp.cifar: error: --resume {tmp_path}: --epochs is 2 in the saved config but 3 was "
                   "given. Drop these options to continue with the saved values, or start a new run without "
                   "--resume\n")


def test_typed_options_include_defaults_typed_out_loud():
    argv = ["active", "--checkpoint", "best", "--no-cuda", "--arch", "mlp", "-a", "mlp", "--wd", "0.1",
            "--proxy-epochs", "3", "--resume", "x"]
    typed = typed_fields(build_parser(svp.cifar.DOMAIN), svp.cifar.DOMAIN, argv, "active")
    assert typed == {("runtime", "checkpoint"): "--checkpoint", ("runtime", "cuda"): "--cuda",
                     ("target", "arch"): "--arch", ("proxy", "arch"): "--proxy-arch",
                     ("target", "weight_decay"): "--weight-decay", ("proxy", "epochs"): "--proxy-epochs",
                     ("runtime", "resume"): "--resume"}
