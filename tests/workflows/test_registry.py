"""Every registered workflow record is complete and consistent (a common suite over WORKFLOWS, as
scikit-learn's check_estimator runs over estimators), and a workflow registered at run time is a command."""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest

import svp
from svp import config as cfg
from svp.cli import GENERIC, build_parser, main
from svp.errors import UsageError
from svp.cli.parse import option_paths
from svp.workflows import WORKFLOWS, RunResult, Workflow, register_workflow, workflow_of
from svp.workflows.registry import REPLAY


def _field_at(config_cls: type, path: tuple[str, ...]) -> bool:
    """Whether the config class ``config_cls`` has the (nested) field ``path``."""
    for at, name in enumerate(path):
        fields = {f.name: f for f in dataclasses.fields(config_cls)}
        if name not in fields:
            return False
        if name == "options":  # a learner kind's or a method's own options, checked by the kind or method
            return True
        if at < len(path) - 1:
            config_cls = cfg.SECTIONS.get(name) or type(fields[name].default)
    return True


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_every_workflow_record_is_complete(name):
    record = WORKFLOWS[name]
    assert record.name == name and record.help and callable(record.run)
    assert dataclasses.is_dataclass(record.config) and record.config.__dataclass_params__.frozen
    default = record.config()  # every field has a default, and the defaults pass the checks
    assert isinstance(default.runtime, cfg.RuntimeConfig) and isinstance(default.data, cfg.DataConfig)
    assert hasattr(default, "target" if record.proxy else "model")
    for field in record.per_call:
        assert hasattr(default, field), f"{name}: per-call field {field} is not a config field"
    if record.methods is not None:
        methods = record.methods()
        assert methods and set(methods) <= set(svp.METHODS)
        assert default.selection.method in methods
    if record.command:
        for path in option_paths(GENERIC, name).values():
            assert not path or _field_at(record.config, path), f"{name}: an option sets {path}, not a field"
        assert build_parser().parse_args([name]).command == name  # its command parses, every option at its default


def test_a_replay_is_run_by_the_replay_record():
    assert workflow_of(cfg.ActiveConfig(precomputed_selection="x.index")) is WORKFLOWS[REPLAY]
    assert workflow_of(cfg.ActiveConfig()) is WORKFLOWS["active"]
    assert not WORKFLOWS[REPLAY].command and REPLAY not in build_parser()._subparsers._group_actions[0].choices


@dataclasses.dataclass(frozen=True)
class CountConfig:
    """A toy workflow: counts the training examples and writes the count."""

    data: cfg.DataConfig = cfg.DataConfig()
    model: cfg.ModelConfig = cfg.ModelConfig()
    runtime: cfg.RuntimeConfig = cfg.RuntimeConfig()
    every: int = 1
    workflow: str = "count"


def _count(config: CountConfig) -> RunResult:
    from svp.workflows.setup import open_run

    with open_run(config) as ctx:
        ctx.write((ctx.run / "count.json").write_text, json.dumps({"count": len(ctx.pool[::config.every])}))
    return RunResult(ctx.run, config.workflow)


def test_a_workflow_registered_at_run_time_is_a_command(tmp_path, capsys):
    from svp.options import Option

    record = Workflow("count", "count the training examples", CountConfig, _count, proxy=False,
                      options=(Option("workflow", "every", ("--every",), "count one in N", {"type": int}),),
                      summary=lambda run: (run / "count.json").read_text())
    register_workflow(record)
    try:
        with pytest.raises(ValueError, match="registered already"):
            register_workflow(record)
        np_path = tmp_path / "x.npz"
        np.savez(np_path, x=np.zeros((10, 3), np.float32), y=np.arange(10) % 2)
        code = main(["count", "--dataset", str(np_path), "--arch", "mlp-head", "--every", "3", "--run-dir",
                     str(tmp_path / "runs"), "--no-cuda", "-q"])
        assert code == 0 and '{"count": 4}' in capsys.readouterr().out
        (run,) = (tmp_path / "runs").iterdir()
        assert json.loads((run / "count.json").read_text()) == {"count": 4}
        assert json.loads((run / "config.json").read_text())["every"] == 3
        with pytest.raises(SystemExit) as refused:  # its config's checks name the flag on the command line
            main(["count", "--dataset", str(np_path), "--arch", "mlp-head", "--batch-size", "0", "--run-dir",
                  str(tmp_path / "runs")])
        assert refused.value.code == 2 and "--batch-size 0 is out of range" in capsys.readouterr().err
    finally:
        del WORKFLOWS["count"]


def test_python_errors_name_config_fields_and_the_command_line_flags(tmp_path, capsys):
    with pytest.raises(UsageError, match=r"^ModelConfig.batch_size 0 is out of range"):
        cfg.ModelConfig(batch_size=0)
    with pytest.raises(UsageError, match=r"^SelectionOptions.sampling_beta -1"):
        cfg.SelectionOptions(sampling_beta=-1)
    with pytest.raises(SystemExit):
        main(["active", "--batch-size", "0", "--run-dir", str(tmp_path)])
    assert "--batch-size 0 is out of range" in capsys.readouterr().err


def test_a_workflow_returns_its_run_with_its_tables_as_rows(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80)
    x = (rng.normal(size=(80, 4)) + 3.0 * y[:, None]).astype(np.float32)
    np.savez(tmp_path / "x.npz", x=x[:60], y=y[:60], x_test=x[60:], y_test=y[60:])
    result = svp.run(cfg.TrainConfig(
        data=cfg.DataConfig(dataset=str(tmp_path / "x.npz")),
        model=cfg.ModelConfig(arch="linear-head", epochs=(3,), learning_rates=(0.1,), batch_size=16),
        runtime=cfg.RuntimeConfig(run_dir=str(tmp_path / "runs"), seed=0, cuda=False, quiet=True)))
    assert isinstance(result, RunResult) and result.workflow == "train"
    assert Path(os.fspath(result)) == result.run and result.run.parent == tmp_path / "runs"
    (row,) = result.rows("results")
    assert row["nexamples"] == 60 and row["steps"] == 12 and isinstance(row["test_accuracy"], float)
    assert result.best_accuracy == row["test_accuracy"] > 0.8  # two clusters three apart
    assert result.rows("target") == [] and result.rows("selection") == []
    with pytest.raises(ValueError, match="unknown table 'proxies'"):
        result.rows("proxies")
