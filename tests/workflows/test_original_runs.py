"""Runs of the original implementation: read by `svp report`, replayed into svp's target training."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import svp.cifar
from svp import report
from svp.cli import main
from svp.rundir import load_index
from conftest import write_fake_cifar10
from original_runs import (MODEL_FILES, ORIGINAL_ACTIVE, ORIGINAL_CORESET, write_active, write_coreset)
from run_helpers import column, only_run, rows

NUM_TRAIN = 1000  # the fake CIFAR10 the original runs were made on (shared/fixtures/make_fake_cifar.py)
TARGET = ["--arch", "logistic", "--epochs", "1", "--learning-rate", "0.01", "--no-cuda", "--quiet", "--seed", "2"]


@pytest.fixture(scope="module")
def original_data(tmp_path_factory) -> Path:
    """A 1,000-image CIFAR10 in the original's folder layout: <dir>/cifar10/cifar-10-batches-py."""
    root = tmp_path_factory.mktemp("original_data")
    write_fake_cifar10(root / "cifar10", NUM_TRAIN, 200)
    return root


def _layout(run: Path) -> dict[str, str]:
    """Each file's path (timestamp as <ts>) -> what describes its format: a CSV's header, a JSON's keys."""
    stamp = run.name
    described = {}
    for path in sorted(p for p in run.rglob("*") if p.is_file()):
        name = str(path.relative_to(run)).replace(stamp, "<ts>")
        if path.suffix == ".csv":
            described[name] = path.read_text().splitlines()[0]
        elif path.suffix == ".json":
            described[name] = ",".join(sorted(json.loads(path.read_text())))
        else:
            described[name] = path.suffix
    return described


def test_the_helpers_write_the_originals_layout(tmp_path):
    labeled = [load_index(ORIGINAL_ACTIVE / f"proxy/{n}/labeled_{n}.index") for n in (200, 300, 400)]
    active = write_active(tmp_path, ORIGINAL_ACTIVE.name, labeled, [], NUM_TRAIN)
    assert _layout(active) == _layout(ORIGINAL_ACTIVE)
    for n in (200, 300, 400):
        name = f"proxy/{n}/labeled_{n}.index"
        assert (active / name).read_bytes() == (ORIGINAL_ACTIVE / name).read_bytes()
    selected = load_index(ORIGINAL_CORESET / "selected.index")
    coreset = write_coreset(tmp_path / "c", ORIGINAL_CORESET.name, selected, [], NUM_TRAIN)
    assert _layout(coreset) == _layout(ORIGINAL_CORESET)
    assert (coreset / "selected.index").read_bytes() == (ORIGINAL_CORESET / "selected.index").read_bytes()
    assert set(MODEL_FILES) <= {p.name for p in (ORIGINAL_ACTIVE / "proxy" / "200").iterdir()}


def test_report_reads_the_originals_runs():
    active = report.load_run(str(ORIGINAL_ACTIVE))
    assert (active.workflow, active.dataset, active.description) == ("active", "cifar10",
                                                                     "least_confidence preact20->resnet20")
    assert active.proxy_accuracy == pytest.approx({200: 0.15, 300: 0.05, 400: 0.145})
    assert active.target_accuracy == pytest.approx({300: 0.15, 400: 0.15})
    assert active.selection_time == pytest.approx(1.018297 + 0.921279)  # inference + ranking, H:MM:SS strings
    coreset = report.load_run(str(ORIGINAL_CORESET))
    assert (coreset.workflow, coreset.description) == ("coreset", "forgetting_events preact20->resnet20")
    assert coreset.proxy_accuracy == pytest.approx({1000: 0.30}) and coreset.target_accuracy == {200: 0.15}
    # and as a folder of runs, with the command
    assert [run.name for run in report.load_runs([str(ORIGINAL_ACTIVE.parent)])] == [ORIGINAL_ACTIVE.name]


def test_active_replay_of_an_original_run(original_data, tmp_path, capsys):
    assert main(["active", "--datasets-dir", str(original_data), "--run-dir", str(tmp_path), *TARGET,
                 "--precomputed-selection", str(ORIGINAL_ACTIVE)], domain=svp.cifar.DOMAIN) == 0
    run = only_run(tmp_path)
    assert column(run, "target.csv") == [300, 400]  # the selected sets, as the original trains its target
    for n in (300, 400):
        assert (run / f"target/{n}/labeled_{n}.index").read_bytes() == \
            (ORIGINAL_ACTIVE / f"proxy/{n}/labeled_{n}.index").read_bytes()
    # the summary names the proxy that selected (the original's preact20), not the replay's own default
    assert "least_confidence preact20->logistic" in capsys.readouterr().out


def test_a_replay_takes_the_dev_set_of_the_run_it_replays(original_data, tmp_path):
    rng = np.random.default_rng(0)
    dev = np.sort(rng.choice(NUM_TRAIN, 100, replace=False))
    pool = rng.permutation(np.setdiff1d(np.arange(NUM_TRAIN), dev))
    source = write_active(tmp_path / "original", "1795900000", [pool[:200], pool[:300]], dev, NUM_TRAIN)
    out = tmp_path / "runs"
    # svp would split --validation 100 differently: the dev set must come from the source
    assert main(["active", "--datasets-dir", str(original_data), "--run-dir", str(out), *TARGET,
                 "--validation", "100", "--precomputed-selection", str(source)], domain=svp.cifar.DOMAIN) == 0
    run = only_run(out)
    assert load_index(run / "dev.index").tolist() == dev.tolist()
    assert json.loads((run / "config.json").read_text())["data"]["validation"] == 100
    (row,) = rows(run / "target.csv")
    assert float(row["dev_accuracy"]) >= 0  # measured on the source's dev set


def test_coreset_replay_of_an_original_run(original_data, tmp_path):
    assert main(["coreset", "--datasets-dir", str(original_data), "--run-dir", str(tmp_path), *TARGET,
                 "--precomputed-selection", str(ORIGINAL_CORESET)], domain=svp.cifar.DOMAIN) == 0
    run = only_run(tmp_path)
    selected = load_index(ORIGINAL_CORESET / "selected.index")
    assert load_index(run / "selected.index").tolist() == selected.tolist()
    assert sorted(load_index(run / "target/200/labeled_200.index").tolist()) == sorted(selected.tolist())
    assert report.load_run(str(run)).description == "forgetting_events preact20->logistic"


def test_a_coreset_replay_takes_the_dev_set_too(original_data, tmp_path):
    rng = np.random.default_rng(1)
    dev = np.sort(rng.choice(NUM_TRAIN, 50, replace=False))
    selected = np.sort(rng.choice(np.setdiff1d(np.arange(NUM_TRAIN), dev), 120, replace=False))
    source = write_coreset(tmp_path / "original", "1795900001", selected, dev, NUM_TRAIN)
    out = tmp_path / "runs"
    assert main(["coreset", "--datasets-dir", str(original_data), "--run-dir", str(out), *TARGET,
                 "--precomputed-selection", str(source)], domain=svp.cifar.DOMAIN) == 0
    run = only_run(out)
    assert load_index(run / "dev.index").tolist() == dev.tolist()
    assert load_index(run / "selected.index").tolist() == selected.tolist()
    (row,) = rows(run / "target.csv")
    assert int(row["nexamples"]) == 120 and float(row["dev_accuracy"]) >= 0
