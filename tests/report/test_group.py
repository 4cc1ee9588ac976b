"""Runs that differ only in their seed are reported as one group: mean ± sample std (ddof=1), n."""
from __future__ import annotations

import csv
import json
import math
import pathlib

import pytest

from svp import report as rp
from svp.errors import UsageError

HEADER = "nexamples,train_accuracy,dev_accuracy,test_accuracy,train_time,dev_time,test_time"
SELECTION_HEADER = "nexamples,current_nexamples,new_nexamples,total_time,inference_time,ranking_time"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_run(root: pathlib.Path, name: str, seed: int, target: float, proxy_train_s: float,
              method: str = "entropy", ranking_s: float = 0.5, **runtime) -> str:
    """An active run: proxy at 100 (acc 0.5) and 200 (acc 0.6 + seed/100), target at 200 (``target``)."""
    run = root / name
    run.mkdir(parents=True)
    config = {"workflow": "active", "data": {"dataset": "cifar10", "datasets_dir": f"/data/{seed}",
                                             "num_workers": seed},
              "target": {"arch": "preact20", "epochs": [10]}, "proxy": {"arch": "resnet8", "epochs": [2]},
              "selection_method": method, "initial_subset": 100, "rounds": [100],
              "runtime": {"seed": seed, "run_dir": str(root), "quiet": bool(seed % 2), **runtime},
              "versions": {"torch": f"2.{seed}"}, "device": {"cuda": False, "threads": seed}}
    (run / "config.json").write_text(json.dumps(config))
    (run / "proxy.csv").write_text(f"{HEADER}\n100,1.0,-1,0.5,{proxy_train_s / 2},0,0\n"
                                   f"200,1.0,-1,{0.6 + seed / 100},{proxy_train_s / 2},0,0\n")
    (run / "target.csv").write_text(f"{HEADER}\n200,1.0,-1,{target},10.0,0,0\n")
    (run / "selection.csv").write_text(f"{SELECTION_HEADER}\n200,100,100,1.5,1.0,{ranking_s}\n")
    return str(run)


@pytest.fixture
def seeds(tmp_path) -> pathlib.Path:
    """Three seeds of one setup (targets 80, 82, 87 %; proxy training 7, 8, 12 s) and one other setup."""
    root = tmp_path / "runs"
    write_run(root, "a", 0, 0.80, 7.0)
    write_run(root, "b", 1, 0.82, 8.0)
    write_run(root, "c", 2, 0.87, 12.0)
    write_run(root, "d", 0, 0.70, 1.0, method="random", ranking_s=0.0)
    return root


def test_stat_is_the_sample_std():
    assert rp.stat([1.0, 2.0, 6.0]) == rp.Stat(3.0, math.sqrt(7.0), 3)
    assert rp.stat([4.0, None]) == rp.Stat(4.0, None, 1)  # one value: no spread, not 0
    assert rp.stat([None]) is None


def test_runs_that_differ_only_in_the_seed_group(seeds):
    groups = rp.group_runs(rp.load_runs([str(seeds)]))
    assert [[run.name for run in group.runs] for group in groups] == [["a", "b", "c"], ["d"]]
    assert groups[0].seeds == [0, 1, 2]


def test_an_option_that_changes_results_splits_groups(tmp_path):
    write_run(tmp_path, "a", 0, 0.8, 7.0)
    write_run(tmp_path, "b", 1, 0.8, 7.0, track_test_acc=False)
    assert len(rp.group_runs(rp.load_runs([str(tmp_path)]))) == 2


def test_a_run_given_twice_counts_once(seeds):
    run = rp.load_run(str(seeds / "a"))
    assert [len(g) for g in rp.group_runs([run, rp.load_run(str(seeds / "a"))])] == [1]


def test_table_means_stds_and_counts(seeds):
    rows = rp.build_table(rp.load_runs([str(seeds)]))
    assert list(rows[0]) == list(rp.COLUMNS) + list(rp.GROUP_COLUMNS)
    first, second, other = rows[0], rows[1], rows[3]
    assert [r["run"] for r in rows] == ["a (+2)", "a (+2)", "d", "d"]
    assert (second["n"], second["seeds"], second["runs"]) == (3, "0 1 2", "a b c")
    assert second["target_acc_pct"] == pytest.approx(83.0)
    assert second["target_acc_pct_std"] == pytest.approx(math.sqrt(13.0))   # deviations -3, -1, 4
    assert second["proxy_acc_pct"] == pytest.approx(61.0) and second["proxy_acc_pct_std"] == pytest.approx(1.0)
    assert (second["proxy_train_s"], second["proxy_train_s_std"]) == (9.0, pytest.approx(math.sqrt(7.0)))
    assert (second["total_s"], second["total_s_std"]) == (9.0 + 1.5 + 10.0, pytest.approx(math.sqrt(7.0)))
    assert second["target_train_s_std"] == 0.0
    assert (first["target_acc_pct"], first["target_acc_pct_n"]) == (None, 0)  # no target at 100
    assert first["proxy_acc_pct_std"] == 0.0 and first["proxy_acc_pct_n"] == 3
    # a group of one: its values as before, no spread
    assert (other["n"], other["target_acc_pct"], other["target_acc_pct_std"]) == (1, 70.0, None)


def test_text_shows_mean_plus_minus_std_and_says_what_it_is(seeds):
    text = rp.format_table(rp.build_table(rp.load_runs([str(seeds)])))
    lines = text.splitlines()
    assert lines[1].split()[:3] == ["run", "n", "proxy"]
    assert "83.00 ± 3.61" in text and "9.00 ± 2.65" in text
    assert "± 0" not in lines[5] + lines[6]  # the group of one shows plain values
    assert "sample standard deviation (ddof=1)" in text
    assert "a (+2): seeds 0 1 2 (runs a b c)" in text


def test_a_missing_value_in_some_runs_is_counted(seeds):
    (seeds / "c" / "target.csv").write_text(f"{HEADER}\n")
    rows = rp.build_table(rp.load_runs([str(seeds)]))
    assert rows[1]["target_acc_pct"] == pytest.approx(81.0) and rows[1]["target_acc_pct_n"] == 2
    assert "81.00 ± 1.41 [2]" in rp.format_table(rows)


def test_ungrouped_reports_keep_their_columns(seeds):
    rows = rp.build_table([rp.load_run(str(seeds / "a")), rp.load_run(str(seeds / "d"))])
    assert list(rows[0]) == list(rp.COLUMNS) and "±" not in rp.format_table(rows)


def test_baseline_groups_compare_with_spread(seeds, tmp_path):
    text, paths = rp.report([str(seeds / name) for name in "abc"], str(tmp_path / "out"), str(seeds / "d"))
    with open(paths["csv"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == (list(rp.COLUMNS) + list(rp.GROUP_COLUMNS) + list(rp.BASELINE_COLUMNS)
                             + list(rp.BASELINE_GROUP_COLUMNS))
    assert [r["run"] for r in rows] == ["d", "d", "a (+2)", "a (+2)"]  # the baseline first
    group = rows[-1]
    assert float(group["acc_diff_pts"]) == pytest.approx(83.0 - 70.0)
    assert float(group["acc_diff_pts_std"]) == pytest.approx(math.sqrt(13.0))  # the baseline has no spread
    # total: baseline 1 + 1 + 10 = 12 s, group 20.5 ± sqrt(7) s
    assert float(group["total_speedup"]) == pytest.approx(12.0 / 20.5)
    assert float(group["total_speedup_std"]) == pytest.approx(12.0 / 20.5 * math.sqrt(7.0) / 20.5)
    assert float(group["selection_speedup"]) == pytest.approx(1.0 / 1.5) and group["selection_speedup_std"] == "0"
    assert rows[0]["n"] == "1" and rows[0]["target_acc_pct_std"] == "" and rows[0]["acc_diff_pts"] == "0"
    assert "+13.00 ± 3.61" in text
    for key in ("accuracy", "time"):
        assert pathlib.Path(paths[key]).read_bytes().startswith(PNG_MAGIC)


def test_a_folder_of_seeds_is_a_baseline(seeds, tmp_path):
    base = tmp_path / "base"
    for name, seed, target in (("x", 3, 0.6), ("y", 4, 0.7)):
        write_run(base, name, seed, target, 2.0, method="random", ranking_s=0.0)
    rows = rp.build_table(rp.load_runs([str(seeds / "a")]), rp.load_runs([str(base)]))
    rp.report([str(seeds / "a")], str(tmp_path / "out"), str(base))
    assert [r["run"] for r in rows][::2] == ["x (+1)", "a"]
    # a: 80 %; baseline 65 ± sqrt(50) %
    assert rows[-1]["acc_diff_pts"] == pytest.approx(15.0)
    assert rows[-1]["acc_diff_pts_std"] == pytest.approx(math.sqrt(50.0))


def test_the_baseline_joins_its_seeds_among_the_runs(seeds):
    rows = rp.build_table(rp.load_runs([str(seeds)]), rp.load_run(str(seeds / "b")))
    assert [r["run"] for r in rows][::2] == ["a (+2)", "d"]
    assert rows[0]["acc_diff_pts"] == 0.0 and rows[0]["n"] == 3


def test_a_baseline_of_several_setups_is_refused(seeds, tmp_path):
    with pytest.raises(UsageError, match="differ only in their seed.*2 setups"):
        rp.report([str(seeds / "a")], str(tmp_path / "out"), str(seeds))


def test_original_runs_group_by_their_flat_config(tmp_path):
    for stamp, seed, acc in (("1559383200", 0, 80.0), ("1559383300", 1, 84.0)):
        run = tmp_path / stamp
        run.mkdir()
        (run / f"config_{stamp}.json").write_text(json.dumps(
            {"dataset": "cifar10", "arch": "preact20", "proxy_arch": "resnet8", "selection_method": "entropy",
             "initial_subset": 100, "rounds": [100], "seed": seed, "timestamp": stamp, "run_dir": str(tmp_path),
             "local_timestamp": stamp}))
        (run / "proxy.csv").write_text(f"{HEADER}\n100,99.0,-1,50.0,0:00:01,0:00:00,0:00:00\n")
        (run / "target.csv").write_text(f"{HEADER}\n200,99.0,-1,{acc},0:00:02,0:00:00,0:00:00\n")
    rows = rp.build_table(rp.load_runs([str(tmp_path)]))
    assert rows[-1]["n"] == 2 and rows[-1]["target_acc_pct"] == pytest.approx(82.0)
    assert rows[-1]["target_acc_pct_std"] == pytest.approx(math.sqrt(8.0))


def test_the_report_command_groups(seeds, tmp_path, capsys):
    from svp.cli import main

    assert main(["report", str(seeds), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "83.00 ± 3.61" in out and "a (+2): seeds 0 1 2" in out
