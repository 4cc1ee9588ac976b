"""The labeling loop: `svp query` asks, a (simulated) person answers through files, the loop goes on.

The person here answers from labels the test keeps hidden from svp; what
svp sees is a dataset whose training labels are all -1 (or some known).
"""
from __future__ import annotations

import csv
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest

from svp import rundir
from svp.cli import main
from run_helpers import run_module, column, only_run, rows, write_blobs

MODEL = ["--arch", "mlp-head", "--epochs", "2", "--learning-rate", "0.05", "--batch-size", "16", "--no-cuda",
         "--quiet", "--seed", "1", "--selection-method", "least_confidence"]
SIZES = [20, 30, 40]


@pytest.fixture(scope="module")
def blobs(tmp_path_factory) -> Path:
    """300 training and 100 test feature vectors of 3 classes: labeled (full.npz) and unlabeled (hidden.npz)."""
    root = tmp_path_factory.mktemp("blobs")
    write_blobs(root, 300, 100, 16)
    return root


def answer(question: Path, out: Path, truth: np.ndarray, count: int | None = None) -> Path:
    """What a person does: fill in the question's label column (the first ``count`` rows, or all)."""
    with open(question, newline="") as handle:
        asked = list(csv.DictReader(handle))
    for row in asked[:count]:
        row["label"] = str(truth[int(row["index"])])
    with open(out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asked[0]))
        writer.writeheader()
        writer.writerows(asked)
    return out


def query(*args: str) -> int:
    return main(["query", *args])


def start(blobs: Path, runs: Path, *more: str) -> Path:
    assert query("--dataset", str(blobs / "hidden.npz"), "--run-dir", str(runs), *MODEL, "--initial-subset",
                 "20", "--budget", "10", *more) == 0
    return only_run(runs)


def go_on(run: Path, answers: Path, *more: str) -> int:
    return query("--resume", str(run), "--labels", str(answers), "--no-cuda", "--quiet", *more)


@pytest.fixture(scope="module")
def three_rounds(blobs, tmp_path_factory) -> Path:
    """A cold start and three rounds of answers, every question answered in full."""
    run = start(blobs, tmp_path_factory.mktemp("query"))
    truth = np.load(blobs / "truth.npy")
    for round_ in (1, 2, 3):
        asked = rundir.query_file(run, round_, "csv")
        assert go_on(run, answer(asked, run.parent / f"answers_{round_}.csv", truth)) == 0
    return run


def test_three_answered_rounds_end_where_active_learning_ends(blobs, three_rounds, tmp_path):
    assert main(["active", "--dataset", str(blobs / "full.npz"), "--run-dir", str(tmp_path), *MODEL,
                 "--initial-subset", "20", "--round", "10", "--round", "10", "--no-train-target"]) == 0
    active = only_run(tmp_path)
    for size in SIZES:
        labeled = f"proxy/{size}/labeled_{size}.index"
        assert (three_rounds / labeled).read_bytes() == (active / labeled).read_bytes(), labeled
    np.testing.assert_array_equal(rundir.load_index(three_rounds / "query_1.index"),
                                  rundir.load_index(active / "initial_subset_20.index"))
    measured = ("nexamples", "train_accuracy", "test_accuracy")
    assert [[r[k] for k in measured] for r in rows(three_rounds / "proxy.csv")] == \
           [[r[k] for k in measured] for r in rows(active / "proxy.csv")]


def test_the_run_holds_questions_labels_and_the_stability_signal(three_rounds, blobs):
    truth = np.load(blobs / "truth.npy")
    assert rundir.query_rounds(three_rounds) == [1, 2, 3, 4]  # the fourth waits for its answers
    labels = rows(three_rounds / "labels.csv")
    assert [int(r["round"]) for r in labels] == [1] * 20 + [2] * 10 + [3] * 10
    assert all(int(r["label"]) == truth[int(r["index"])] for r in labels)
    question = rows(three_rounds / "query_4.csv")
    assert [int(r["rank"]) for r in question] == list(range(1, 11))
    confidence = [float(r["confidence"]) for r in question]
    assert all(1 / 3 <= c <= 1 for c in confidence) and confidence == sorted(confidence)  # least confident first
    assert all(float(r["score"]) == pytest.approx(1 - float(r["confidence"]), abs=1e-4) for r in question)
    selection = rows(three_rounds / "selection.csv")
    assert [int(r["current_nexamples"]) for r in selection] == [0, 20, 30, 40]
    # predictions compared from the second proxy on: over the examples both proxies scored
    assert [r["compared_predictions"] for r in selection] == ["", "", "270", "260"]
    assert all(0 <= int(r["changed_predictions"]) <= 270 for r in selection[2:])


def test_partial_answers_label_what_was_answered(blobs, tmp_path):
    run = start(blobs, tmp_path / "runs")
    truth = np.load(blobs / "truth.npy")
    assert go_on(run, answer(run / "query_1.csv", tmp_path / "a1.csv", truth, count=12)) == 0
    assert column(run, "proxy.csv") == [12]
    assert go_on(run, answer(run / "query_2.csv", tmp_path / "a2.csv", truth, count=4)) == 0
    assert column(run, "proxy.csv") == [12, 16]
    asked = rundir.load_index(run / "query_1.index")
    assert [int(r["index"]) for r in rows(run / "labels.csv")][:12] == asked[:12].tolist()


def refused(capsys, run: Path, answers: Path) -> str:
    """The error a bad answers file gets: exit 2, and nothing in the run changes."""
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(SystemExit) as exit_:
        go_on(run, answers)
    assert exit_.value.code == 2
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    return capsys.readouterr().err


def write_csv(path: Path, header: str, *lines: str) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def test_bad_answers_are_refused_naming_their_lines(blobs, tmp_path, capsys):
    run = start(blobs, tmp_path / "runs")
    asked = rundir.load_index(run / "query_1.index")
    not_asked = int(np.setdiff1d(np.arange(300), asked)[0])
    err = refused(capsys, run, write_csv(tmp_path / "a.csv", "index,label", f"{asked[0]},1", f"{not_asked},2",
                                         f"{asked[1]},zebra", f"{asked[2]},7", f"{asked[0]},2", "x,1"))
    assert err.startswith("svp: error: ") and "Traceback" not in err
    assert f"a.csv:3: index {not_asked} was not asked" in err
    assert "a.csv:4: 'zebra' is not a class (the classes: 0, 1, 2)" in err
    assert "a.csv:5: '7' is not a class" in err
    assert f"a.csv:6: index {asked[0]} is labeled 1 at {tmp_path / 'a.csv'}:2 but 2 here" in err
    assert "a.csv:7: index 'x' is not an example's index" in err
    assert "unknown" not in err
    err = refused(capsys, run, write_csv(tmp_path / "b.csv", "id,label", "no-such-id,1"))
    assert "b.csv:2: id 'no-such-id' was not asked" in err
    err = refused(capsys, run, write_csv(tmp_path / "c.csv", "example,class", "1,1"))
    assert "give a CSV with columns index (or id) and label" in err
    err = refused(capsys, run, answer(run / "query_1.csv", tmp_path / "d.csv", np.zeros(300, int), count=0))
    assert "holds no answers" in err


def test_an_answer_may_not_contradict_a_recorded_label(blobs, tmp_path, capsys):
    run = start(blobs, tmp_path / "runs")
    truth = np.load(blobs / "truth.npy")
    first = answer(run / "query_1.csv", tmp_path / "a1.csv", truth)
    assert go_on(run, first) == 0
    index = int(rundir.load_index(run / "query_1.index")[0])
    wrong = (truth[index] + 1) % 3
    err = refused(capsys, run, write_csv(tmp_path / "late.csv", "index,label", f"{index},{wrong}"))
    assert f"late.csv:2: index {index} is labeled {truth[index]} already, not {wrong}" in err
    assert go_on(run, first) == 0  # the same answers again change nothing
    assert len(rows(run / "labels.csv")) == 20 and rundir.query_rounds(run) == [1, 2]
    labels = run / "labels.csv"
    text = labels.read_text()
    labels.write_text(text + text.splitlines()[1] + "\n")  # a row copied by hand
    with pytest.raises(SystemExit):
        query("--resume", str(run), "--no-cuda", "--quiet")
    assert "labels.csv labels an example twice ; restore the file" in capsys.readouterr().err
    labels.write_text(text.replace(f"\n{index},", "\n299999,", 1))
    with pytest.raises(SystemExit):
        query("--resume", str(run), "--no-cuda", "--quiet")
    assert "labels.csv labels example 299999, which is not an unlabeled example" in capsys.readouterr().err


def svp(args: list[str], kill_at: str | None = None) -> subprocess.CompletedProcess:
    return run_module("svp", args, kill_at)


def test_killed_between_a_question_and_its_answers_nothing_is_lost(blobs, three_rounds, tmp_path):
    truth = np.load(blobs / "truth.npy")
    first = ["query", "--dataset", str(blobs / "hidden.npz"), "--run-dir", str(tmp_path), *MODEL,
             "--initial-subset", "20", "--budget", "10"]
    assert svp(first, kill_at="write:query_1.index:1").returncode == -signal.SIGKILL
    run = only_run(tmp_path)
    assert rundir.query_rounds(run) == [] and (run / "query_1.csv").is_file()
    resume = ["query", "--resume", str(run), "--no-cuda", "--quiet"]
    assert svp(resume).returncode == 0  # asks the question the kill cut short
    assert rundir.query_rounds(run) == [1] and len(rows(run / "selection.csv")) == 1
    for round_ in (1, 2, 3):
        answers = answer(rundir.query_file(run, round_, "csv"), tmp_path / f"a{round_}.csv", truth)
        # killed once the answers are recorded, while the proxy trains on them; then again while asking
        for kill_at in ("epoch:1", "select:1"):
            killed = svp([*resume, "--labels", str(answers)], kill_at=kill_at)
            assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        done = svp([*resume, "--labels", str(answers)])
        assert done.returncode == 0, done.stderr[-2000:]
    for name in ("labels.csv", "query_4.index", "proxy/40/labeled_40.index"):
        assert (run / name).read_bytes() == (three_rounds / name).read_bytes(), name
    assert column(run, "proxy.csv") == SIZES and column(run, "selection.csv") == [20, 30, 40, 50]
    assert not list(run.rglob("*.tmp"))


def test_cold_start_by_k_centers_on_the_proxys_embeddings(blobs, tmp_path):
    view = tmp_path / "view.npz"
    x = np.load(blobs / "hidden.npz")["x"]
    np.savez(view, x=x[:, :4])  # the proxy's own view of the same examples
    run = start(blobs, tmp_path / "runs", "--cold-start", "kcenters", "--proxy-dataset", str(view),
                "--proxy-arch", "linear-head")
    picked = rundir.load_index(run / "query_1.index")
    assert len(np.unique(picked)) == 20
    # greedy k-centers: each pick is the farthest example from the picks before it (standardised view)
    z = (x[:, :4] - x[:, :4].mean(0)) / x[:, :4].std(0)
    for k in range(1, 20):
        distance = np.linalg.norm(z[:, None] - z[picked[:k]][None], axis=2).min(axis=1)
        assert distance[picked[k]] == pytest.approx(distance.max(), rel=1e-4)
    assert not (run / "proxy.csv").exists()  # nothing is trained before the first answers


def test_cold_start_by_an_untrained_proxy_and_a_dataset_with_some_labels(blobs, tmp_path):
    run = start(blobs, tmp_path / "a", "--cold-start", "kcenters")
    assert len(np.unique(rundir.load_index(run / "query_1.index"))) == 20
    some = tmp_path / "some.npz"
    arrays = dict(np.load(blobs / "full.npz"))
    arrays["y"][30:] = -1  # the first 30 are labeled already: no cold start, and the dev set comes from them
    np.savez(some, **arrays)
    assert query("--dataset", str(some), "--run-dir", str(tmp_path / "b"), *MODEL, "--budget", "10",
                 "--validation", "5") == 0
    run = only_run(tmp_path / "b")
    assert column(run, "proxy.csv") == [25]
    assert set(rundir.load_index(run / "dev.index")) < set(range(30))
    assert not set(rundir.load_index(run / "query_1.index")) & set(range(30))


def test_train_target_trains_on_every_label_so_far(blobs, three_rounds, tmp_path, capsys):
    run = Path(str(tmp_path / "copy"))
    import shutil

    shutil.copytree(three_rounds, run)
    capsys.readouterr()
    assert query("--resume", str(run), "--train-target", "--no-cuda", "--quiet") == 0
    assert column(run, "target.csv") == [40]
    out = capsys.readouterr().out
    assert f"question 4: label the 10 examples listed in {run / 'query_4.csv'}" in out
    assert f"svp query --resume {run} --labels ANSWERS" in out


def test_a_question_without_a_run_and_a_dataset_without_unknowns_are_refused(blobs, tmp_path, capsys):
    for args, message in ((["--dataset", str(blobs / "hidden.npz"), "--labels", "a.csv"], "give that run too"),
                          (["--dataset", str(blobs / "full.npz")], "nothing to ask")):
        with pytest.raises(SystemExit) as exit_:
            query(*args, "--run-dir", str(tmp_path), *MODEL)
        assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_report_of_a_query_run_shows_no_target_it_did_not_train(three_rounds, tmp_path):
    from svp.report import load_run

    summary = load_run(str(three_rounds))
    assert summary.workflow == "query" and summary.sizes == SIZES
    assert summary.target_accuracy == {}  # proxy and target are alike here, yet no target was trained


def test_typiclust_cold_start_then_sampled_questions_from_candidates(blobs, tmp_path):
    truth = np.load(blobs / "truth.npy")
    run = start(blobs, tmp_path / "runs", "--cold-start", "typiclust", "--candidates", "50", "--sampling", "power")
    first = rundir.load_index(run / "query_1.index")
    assert len(np.unique(first)) == 20
    assert go_on(run, answer(run / "query_1.csv", tmp_path / "a1.csv", truth)) == 0
    second = rundir.load_index(run / "query_2.index")
    assert len(np.unique(second)) == 10 and not set(second) & set(first)
    scored = np.load(run / "proxy/20/predictions.npz")["indices"]  # the 50 candidates the proxy scored
    assert len(scored) == 50 and set(second) <= set(scored)
