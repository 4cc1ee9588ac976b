"""Tests for svp.report: run directories -> tables and plots."""
from __future__ import annotations

import csv
import json
import os
import pathlib

import pytest

from svp import report as rp
from svp.errors import UsageError

HEADER = "nexamples,train_accuracy,dev_accuracy,test_accuracy,train_time,dev_time,test_time"
SELECTION_HEADER = ("nexamples,current_nexamples,new_nexamples,"
                    "total_time,inference_time,ranking_time")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _write(path, text: str) -> None:
    path.write_text(text.strip() + "\n")


def make_ours(root) -> str:
    """Our layout: nested config, float seconds, fractions."""
    run = root / "2024-01-02_03-04-05"
    run.mkdir(parents=True)
    config = {"workflow": "active", "data": {"dataset": "cifar10"},
              "target": {"arch": "preact20", "epochs": [2]},
              "proxy": {"arch": "small_cnn", "epochs": [1]},
              "selection_method": "least_confidence", "initial_subset": 100,
              "rounds": [100, 100], "runtime": {"seed": 0}, "versions": {}, "device": "cpu"}
    (run / "config.json").write_text(json.dumps(config))
    _write(run / "proxy.csv", f"""{HEADER}
100,0.9,,0.5,1.5,0.1,0.2
200,0.9,-1,0.6,2.5,0.1,0.2
300,0.9,-1,0.7,3.0,0.1,0.2""")
    _write(run / "target.csv", f"""{HEADER}
300,0.95,-1,0.8,10.0,0.5,0.5""")
    _write(run / "selection.csv", f"""{SELECTION_HEADER}
100,100,100,0.5,0.25,0.125
200,200,100,0.75,0.5,0.125""")
    return str(run)


def make_original(root) -> str:
    """The original's layout: config_<timestamp>.json with flat keys, timedelta strings, percent
    (see tests/original_runs.py for whole runs checked against the original's own)."""
    run = root / "1559383200"
    run.mkdir(parents=True)
    config = {"dataset": "cifar10", "arch": "preact20", "proxy_arch": "preact20",
              "epochs": [2], "proxy_epochs": [2], "selection_method": "entropy",
              "initial_subset": 100, "rounds": [100, 100], "run_dir": str(root), "timestamp": "1559383200"}
    (run / "config_1559383200.json").write_text(json.dumps(config))
    _write(run / "proxy.csv", f"""{HEADER}
100,90.0,-1,55.0,0:00:01.500000,0:00:00,0:00:00.100000
200,91.0,-1,65.0,0:00:02,0:00:00,0:00:00.100000
300,92.0,-1,75.5,0:00:02.500000,0:00:00,0:00:00.100000""")
    _write(run / "target.csv", f"""{HEADER}
300,99.0,-1,85.25,0:00:20,0:00:00,0:00:01""")
    _write(run / "selection.csv", f"""{SELECTION_HEADER}
100,100,100,0:00:04,0:00:02,0:00:01.500000
200,200,100,0:00:04,0:00:02,0:00:01.500000""")
    return str(run)


@pytest.mark.parametrize("value, seconds", [
    (12.5, 12.5), ("12.5", 12.5), ("", 0.0), (None, 0.0),
    ("0:01:23.456789", 83.456789), ("1:00:00", 3600.0),
    ("1 day, 0:00:01.5", 86401.5), ("2 days, 1:00:00", 176400.0),
])
def test_parse_seconds(value, seconds):
    assert rp.parse_seconds(value) == pytest.approx(seconds, abs=1e-9)


def test_parse_seconds_rejects_garbage():
    with pytest.raises(ValueError, match="garbage"):
        rp.parse_seconds("garbage")


def test_load_ours(tmp_path):
    run = rp.load_run(make_ours(tmp_path))
    assert (run.dataset, run.workflow, run.proxy_arch, run.target_arch, run.method) == (
        "cifar10", "active", "small_cnn", "preact20", "least_confidence")
    assert run.sizes == [100, 200, 300]
    assert run.proxy_accuracy == {100: 0.5, 200: 0.6, 300: 0.7}
    assert run.target_accuracy == {300: 0.8}
    assert run.proxy_train_time == 7.0
    assert (run.inference_time, run.ranking_time, run.selection_time) == (0.75, 0.25, 1.0)
    assert run.target_train_time == 10.0
    assert run.total_time == 18.0
    assert not run.shared and run.accuracy_split == "test"


def test_load_original(tmp_path):
    run = rp.load_run(make_original(tmp_path))
    assert (run.dataset, run.workflow, run.proxy_arch, run.target_arch, run.method) == (
        "cifar10", "active", "preact20", "preact20", "entropy")
    assert run.proxy_accuracy == pytest.approx({100: 0.55, 200: 0.65, 300: 0.755})
    assert run.target_accuracy == pytest.approx({300: 0.8525})
    assert run.proxy_train_time == 6.0
    assert (run.inference_time, run.ranking_time, run.selection_time) == (4.0, 3.0, 7.0)
    assert run.target_train_time == 20.0
    assert run.total_time == 33.0


def test_build_table_with_baseline(tmp_path):
    ours, original = rp.load_run(make_ours(tmp_path)), rp.load_run(make_original(tmp_path))
    rows = rp.build_table([ours], baseline=original)
    assert [r["run"] for r in rows] == ["1559383200"] * 3 + ["2024-01-02_03-04-05"] * 3
    assert list(rows[0]) == list(rp.COLUMNS) + list(rp.BASELINE_COLUMNS)
    last = rows[-1]
    assert last["nexamples"] == 300
    assert last["proxy_acc_pct"] == pytest.approx(70.0)
    assert last["target_acc_pct"] == pytest.approx(80.0)
    assert rows[3]["target_acc_pct"] is None  # no target trained at 100
    assert (last["proxy_train_s"], last["inference_s"], last["ranking_s"],
            last["selection_s"], last["target_train_s"], last["total_s"]) == (
        7.0, 0.75, 0.25, 1.0, 10.0, 18.0)
    assert last["selection_speedup"] == 7.0 / 1.0
    assert last["total_speedup"] == 33.0 / 18.0
    assert last["acc_diff_pts"] == pytest.approx(80.0 - 85.25)
    assert last["acc_diff_at"] == 300
    assert rows[0]["selection_speedup"] == 1.0 and rows[0]["acc_diff_pts"] == 0.0


def test_build_table_without_baseline(tmp_path):
    rows = rp.build_table([rp.load_run(make_ours(tmp_path))])
    assert len(rows) == 3 and list(rows[0]) == list(rp.COLUMNS)
    assert [r["nexamples"] for r in rows] == [100, 200, 300]


def test_format_table_and_markdown(tmp_path):
    ours, original = rp.load_run(make_ours(tmp_path)), rp.load_run(make_original(tmp_path))
    rows = rp.build_table([original, ours], baseline=original)
    text = rp.format_table(rows)
    lines = text.splitlines()
    assert len(lines) == 3 + 6
    assert lines[0] == "dataset: cifar10  workflow: active"  # constant columns lifted
    assert lines[1].split() == [c for c in list(rp.COLUMNS) + list(rp.BASELINE_COLUMNS)
                                if c not in ("dataset", "workflow")]
    assert "7.00x" in text and "1.83x" in text and "-5.25" in text and "85.25" in text
    assert lines[3].startswith("1559383200")
    assert lines[4].split() == ["200", "65.00", "-"]  # run-level cells on first row only
    assert lines[6].split()[8:11] == ["0.75", "0.25", "1.00"]  # inference, ranking, selection
    markdown = rp.format_markdown(rows)
    assert markdown.splitlines()[1].startswith("|---|")
    assert len(markdown.splitlines()) == 2 + 6


def test_shared_target_is_not_counted_twice(tmp_path):
    run_dir = make_original(tmp_path)
    os.remove(os.path.join(run_dir, "target.csv"))
    os.symlink("proxy.csv", os.path.join(run_dir, "target.csv"))
    run = rp.load_run(run_dir)
    assert run.shared and run.target_accuracy == run.proxy_accuracy
    assert run.total_time == 6.0 + 7.0
    row = rp.build_table([run])[-1]
    assert row["target_train_s"] is None and row["total_s"] == 13.0


def test_same_model_without_target_csv(tmp_path):
    run_dir = make_original(tmp_path)
    os.remove(os.path.join(run_dir, "target.csv"))
    assert rp.load_run(run_dir).shared


def test_older_selector_csv_and_train_run(tmp_path):
    run_dir = make_original(tmp_path)
    os.rename(os.path.join(run_dir, "proxy.csv"), os.path.join(run_dir, "selector.csv"))
    assert rp.load_run(run_dir).proxy_train_time == 6.0
    train = tmp_path / "train" / "2024-01-01"
    train.mkdir(parents=True)
    (train / "config.json").write_text(json.dumps(
        {"workflow": "train", "data": {"dataset": "cifar10"}, "model": {"arch": "preact56"}}))
    _write(train / "results.csv", f"{HEADER}\n50000,1.0,0.9,0.93,100.0,1,1")
    run = rp.load_run(str(train))
    assert (run.workflow, run.target_arch, run.proxy_arch) == ("train", "preact56", None)
    assert run.target_accuracy == {50000: 0.93} and run.total_time == 100.0


def test_parent_directory_expands(tmp_path):
    make_ours(tmp_path)
    make_original(tmp_path)
    (tmp_path / "notes").mkdir()
    runs = rp.load_runs([str(tmp_path)])
    assert [r.name for r in runs] == ["1559383200", "2024-01-02_03-04-05"]


def test_write_report(tmp_path):
    ours, original = rp.load_run(make_ours(tmp_path)), rp.load_run(make_original(tmp_path))
    paths = rp.write_report([ours], str(tmp_path / "out"), baseline=original)
    assert set(paths) == {"csv", "markdown", "accuracy", "time"}
    for key in ("accuracy", "time"):
        data = pathlib.Path(paths[key]).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000
    with open(paths["csv"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6
    assert rows[-1]["total_speedup"] == format(33.0 / 18.0, ".10g")
    assert rows[-1]["proxy_acc_pct"] == "70" and rows[0]["target_acc_pct"] == ""
    assert "| run |" in pathlib.Path(paths["markdown"]).read_text()
    assert not [n for n in os.listdir(tmp_path / "out") if n.startswith(".")]


def test_report_default_out_dir(tmp_path):
    run_dir = make_ours(tmp_path)
    baseline = make_original(tmp_path / "base")
    text, paths = rp.report([run_dir], None, baseline)
    assert os.path.dirname(paths["csv"]) == os.path.join(run_dir, "report")
    assert "least_confidence" in text and "7.00x" in text
    # the report folder is not mistaken for a run when the parent is expanded
    assert len(rp.load_runs([str(tmp_path)])) == 1


@pytest.mark.parametrize("setup, expected", [
    ("missing", "no such directory"),
    ("empty", "config.json"),
    ("no_csv", "proxy.csv"),
])
def test_bad_path_names_it(tmp_path, setup, expected):
    path = tmp_path / "somewhere"
    if setup != "missing":
        path.mkdir()
    if setup == "no_csv":
        (path / "config.json").write_text("{}")
    with pytest.raises(UsageError) as info:
        rp.report([str(path)], str(tmp_path / "out"), None)
    assert str(path) in str(info.value) and expected in str(info.value)


def test_baseline_must_be_one_run(tmp_path):
    make_ours(tmp_path / "a")
    make_original(tmp_path / "a")
    with pytest.raises(UsageError, match="one run directory"):
        rp.report([str(tmp_path / "a")], str(tmp_path / "out"), str(tmp_path / "a"))


def test_malformed_csv_names_file(tmp_path):
    run_dir = make_ours(tmp_path)
    _write(tmp_path / run_dir / "proxy.csv", "foo,bar\n1,2")
    with pytest.raises(UsageError, match="proxy.csv.*nexamples"):
        rp.load_run(run_dir)


def test_a_time_not_recorded_is_missing_not_zero(tmp_path):
    run_dir = make_ours(tmp_path)
    _write(tmp_path / run_dir / "proxy.csv", """nexamples,train_accuracy,dev_accuracy,test_accuracy
100,0.9,,0.5
200,0.9,-1,0.6
300,0.9,-1,0.7""")  # no train_time column
    _write(tmp_path / run_dir / "target.csv", f"{HEADER}\n300,0.95,-1,0.8,,0.5,0.5")  # an empty one
    run = rp.load_run(run_dir)
    assert (run.proxy_train_time, run.target_train_time, run.total_time) == (None, None, None)
    assert run.selection_time == 1.0  # recorded: still counted
    rows = rp.build_table([run])
    assert [rows[0][c] for c in ("proxy_train_s", "target_train_s", "total_s", "selection_s")] == [None, None, None,
                                                                                                  1.0]
    text = rp.format_table(rows)
    assert text.splitlines()[3].split()[5:] == ["50.00", "-", "-", "0.75", "0.25", "1.00", "-", "-"]
    assert "0.00" not in text.split()
    warnings = rp.warnings_of([run])
    assert any("proxy.csv has no train_time column: shown as missing" in w for w in warnings)
    assert any("target.csv has an empty train_time in 1 of its 1 rows" in w for w in warnings)


def test_a_time_some_seeds_did_not_record_is_left_out_of_the_mean(tmp_path):
    first, second = make_ours(tmp_path / "a"), make_ours(tmp_path / "b")
    config = json.loads((pathlib.Path(second) / "config.json").read_text())
    config["runtime"]["seed"] = 1
    (pathlib.Path(second) / "config.json").write_text(json.dumps(config))
    _write(pathlib.Path(second) / "selection.csv", f"{SELECTION_HEADER}\n100,100,100,,,\n200,200,100,,,")
    rows = rp.build_table([rp.load_run(first), rp.load_run(second)])
    assert rows[0]["n"] == 2 and rows[0]["selection_s"] == 1.0 and rows[0]["selection_s_std"] is None
    assert rows[0]["total_s"] == 18.0  # the run that recorded every time
    text, _ = rp.report([first, second], str(tmp_path / "out"))
    assert "selection.csv has no" not in text and "empty inference_time in 2 of its 2 rows" in text


def test_a_baseline_on_another_dataset_is_refused(tmp_path):
    ours, original = make_ours(tmp_path / "ours"), make_original(tmp_path / "original")
    config = json.loads((pathlib.Path(original) / "config_1559383200.json").read_text())
    (pathlib.Path(original) / "config_1559383200.json").write_text(json.dumps({**config, "dataset": "cifar100"}))
    with pytest.raises(UsageError, match=rf"--baseline ran on cifar100 \({original}\), but {ours} ran on cifar10 "
                                         "; give a --baseline run on cifar10"):
        rp.report([ours], str(tmp_path / "out"), original)
    assert not (tmp_path / "out").exists()


def test_runs_on_two_datasets_compare_each_with_its_own_baseline(tmp_path):
    ours = make_ours(tmp_path / "runs")
    other = make_ours(tmp_path / "other")
    config = json.loads((pathlib.Path(other) / "config.json").read_text())
    config["data"]["dataset"] = "cifar100"
    (pathlib.Path(other) / "config.json").write_text(json.dumps(config))
    bases = tmp_path / "bases"
    make_original(bases)  # cifar10
    with pytest.raises(UsageError, match=f"but {other} ran on cifar100"):
        rp.report([ours, other], str(tmp_path / "out"), str(bases))
    os.rename(other, bases / "cifar100-base")  # the same setup, now the cifar100 baseline
    other = make_ours(tmp_path / "other2")
    (pathlib.Path(other) / "config.json").write_text(json.dumps({**config, "selection_method": "entropy"}))
    text, paths = rp.report([ours, other], str(tmp_path / "out"), str(bases))
    rows = list(csv.DictReader(open(paths["csv"], newline="")))
    by_setup = {(r["dataset"], r["method"]): r for r in rows if r["nexamples"] == "300"}
    assert by_setup["cifar10", "least_confidence"]["total_speedup"] == format(33.0 / 18.0, ".10g")
    assert by_setup["cifar100", "entropy"]["total_speedup"] == "1"  # its baseline took as long as it did
    assert len(by_setup) == 4  # both baselines, then both runs


def _config(run_dir: str, **changes) -> None:
    """Update a run of ours' config.json: ``dataset`` and ``fingerprint`` (None: no data_identity) by name."""
    path = pathlib.Path(run_dir) / "config.json"
    config = json.loads(path.read_text())
    if "dataset" in changes:
        config["data"]["dataset"] = changes.pop("dataset")
    if "fingerprint" in changes:
        fingerprint = changes.pop("fingerprint")
        config.pop("data_identity", None)
        if fingerprint is not None:
            config["data_identity"] = {"fingerprint": fingerprint, "examples": 300, "classes": ["a", "b"]}
    path.write_text(json.dumps({**config, **changes}))


def test_the_same_data_named_two_ways_is_compared_by_its_fingerprint(tmp_path):
    ours, base = make_ours(tmp_path / "ours"), make_ours(tmp_path / "base")
    _config(ours, dataset="./f.npz", fingerprint="0123456789abcdef0123")
    _config(base, dataset=str(tmp_path / "f.npz"), fingerprint="0123456789abcdef0123", selection_method="entropy")
    assert rp.load_run(ours).fingerprint == "0123456789abcdef0123"
    text, paths = rp.report([ours], str(tmp_path / "out"), base)
    assert "1.00x" in text  # compared: the baseline took as long
    _config(base, fingerprint="ffffffffffffffffffff")  # the same name, other examples: other data
    with pytest.raises(UsageError, match=r"--baseline ran on .*f.npz \[data ffffffffffffffffffff\] .*, but "
                                         rf"{ours} ran on ./f.npz \[data 0123456789abcdef0123\] ; give a --baseline"):
        rp.report([ours], str(tmp_path / "out"), base)


def test_a_run_without_a_fingerprint_is_compared_by_its_dataset_name(tmp_path):
    ours, base = make_ours(tmp_path / "ours"), make_ours(tmp_path / "base")
    _config(ours, dataset="./f.npz", fingerprint=None)  # an older run: its --dataset only
    _config(base, dataset=str(tmp_path / "f.npz"), fingerprint="0123456789abcdef0123", selection_method="entropy")
    with pytest.raises(UsageError, match=rf"but {ours} ran on ./f.npz ; give a --baseline run on ./f.npz"):
        rp.report([ours], str(tmp_path / "out"), base)
    _config(ours, dataset=str(tmp_path / "f.npz"))
    assert "1.00x" in rp.report([ours], str(tmp_path / "out"), base)[0]


def test_a_baseline_of_two_setups_on_one_data_is_a_usage_error_in_python_too(tmp_path):
    ours, first, second = (make_ours(tmp_path / name) for name in ("ours", "first", "second"))
    _config(second, selection_method="entropy")
    baseline = [rp.load_run(first), rp.load_run(second)]
    for call in (lambda: rp.build_table([rp.load_run(ours)], baseline),
                 lambda: rp.warnings_of([rp.load_run(ours)], baseline),
                 lambda: rp.compare(rp.load_run(ours), baseline)):
        with pytest.raises(UsageError, match="2 setups"):  # not a ValueError: a user's mistake
            call()


def _seeds_one_without_split_times(tmp_path) -> tuple[str, str]:
    """Two seeds of ours; the second's selection.csv has only total_time (as the original's older runs)."""
    first, second = make_ours(tmp_path / "a"), make_ours(tmp_path / "b")
    _config(second, runtime={"seed": 1})
    _write(pathlib.Path(second) / "selection.csv", "nexamples,current_nexamples,new_nexamples,total_time\n"
                                                   "100,100,100,1.5\n200,200,100,1.5")
    return first, second


def test_a_groups_time_some_runs_lack_says_how_many_it_comes_from(tmp_path):
    first, second = _seeds_one_without_split_times(tmp_path)
    rows = rp.build_table([rp.load_run(first), rp.load_run(second)])
    assert (rows[0]["inference_s"], rows[0]["inference_s_n"], rows[0]["selection_s_n"], rows[0]["n"]) == (
        0.75, 1, 2, 2)
    assert rows[0]["selection_s"] == 2.0 and rows[0]["selection_s_std"] == pytest.approx(2 ** 0.5)
    text = rp.format_table(rows)
    assert "0.75 [1]" in text and "0.25 [1]" in text and "2.00 ± 1.41" in text and "2.00 ± 1.41 [" not in text
    assert "0.75 [1]" in rp.format_markdown(rows)
    written = list(csv.DictReader(rp.format_csv(rows).splitlines()))
    assert list(written[0])[-len(rp.TIME_COUNT_COLUMNS):] == list(rp.TIME_COUNT_COLUMNS)  # last: the others stay
    assert [written[0][f"{c}_n"] for c in ("inference_s", "ranking_s", "selection_s", "total_s")] == ["1", "1", "2",
                                                                                                      "2"]


def test_the_warning_names_the_times_missing_and_those_still_counted(tmp_path):
    _, second = _seeds_one_without_split_times(tmp_path)
    (warning,) = rp.warnings_of([rp.load_run(second)])
    assert warning == ("2024-01-02_03-04-05: selection.csv has no inference_time column and no ranking_time "
                       "column: shown as missing (- in the tables, empty in report.csv), not as 0: inference_s and "
                       "ranking_s (left out of means); still counted: proxy_train_s, selection_s (from its "
                       "total_time), target_train_s and total_s")  # not "left out of totals": total_s is there
    run_dir = make_ours(tmp_path / "c")
    _write(pathlib.Path(run_dir) / "target.csv", f"{HEADER}\n300,0.95,-1,0.8,,0.5,0.5")
    (warning,) = rp.warnings_of([rp.load_run(run_dir)], baseline=rp.load_run(run_dir))
    assert warning.endswith("not as 0: target_train_s and total_s (left out of means, and no total_speedup); "
                            "still counted: proxy_train_s, inference_s, ranking_s and selection_s")


@pytest.mark.parametrize("row, seconds", [
    ({"total_time": "5", "inference_time": "0", "ranking_time": "0"}, 5.0),  # a split never measured
    ({"total_time": "5", "inference_time": "", "ranking_time": ""}, 5.0),
    ({"total_time": "5"}, 5.0),
    ({"total_time": "5", "inference_time": "1", "ranking_time": "2"}, 3.0),  # the split, where measured
    ({"total_time": "", "inference_time": "0", "ranking_time": "0"}, 0.0),
    ({"total_time": "", "inference_time": "1", "ranking_time": ""}, None),
])
def test_one_rule_for_a_selections_time(row, seconds):
    from svp.report.results import selection_of

    assert selection_of(row) == seconds


def test_a_selection_whose_split_reads_zero_counts_its_total(tmp_path):
    run_dir = make_ours(tmp_path)
    _write(pathlib.Path(run_dir) / "selection.csv", f"{SELECTION_HEADER}\n100,100,100,5,0,0\n200,200,100,5,0,0")
    assert rp.load_run(run_dir).selection_time == 10.0
    summary = rp.run_summary(run_dir)
    assert "selection 10.0 s" in summary.splitlines()[0]
    assert summary.splitlines()[2].split() == ["100", "50.00", "5.00", "-"]  # labeled, proxy, selection, target
