"""Query: the labeling loop from Python (ask, teach, ask) writes the files `svp query` writes with CSV answers.

The person answers from labels the test keeps hidden from svp: the
dataset's training labels are all -1.
"""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from svp import rundir
from svp.cli import main
from svp.config import DataConfig, ModelConfig, QueryConfig, RuntimeConfig
from svp.errors import Interrupted, UsageError
from svp.workflows import WORKFLOWS
from svp.workflows.labeling import Query
from run_helpers import only_run, rows, write_blobs

OPTIONS = ["--arch", "mlp-head", "--epochs", "2", "--learning-rate", "0.05", "--batch-size", "16", "--no-cuda",
           "--quiet", "--seed", "0", "--initial-subset", "10", "--budget", "5"]
TIMES = {"total_time", "inference_time", "ranking_time", "train_time", "dev_time", "test_time"}  # vary by run


def config(dataset: str, run_dir: str = "runs", budget: int = 5) -> QueryConfig:
    """The config OPTIONS give, in Python."""
    model = ModelConfig(arch="mlp-head", epochs=(2,), learning_rates=(0.05,), batch_size=16)
    return QueryConfig(data=DataConfig(dataset=dataset), proxy=model, target=model,
                       runtime=RuntimeConfig(run_dir=run_dir, seed=0, cuda=False, quiet=True), budget=budget,
                       initial_subset=10)


@pytest.fixture(scope="module")
def blobs(tmp_path_factory) -> Path:
    """90 training and 30 test feature vectors of 3 classes; the training labels hidden (hidden.npz, truth.npy)."""
    root = tmp_path_factory.mktemp("blobs")
    write_blobs(root, 90, 30, 8)
    return root


def _resumed_copy(api: Path, tmp_path: Path) -> tuple[Path, Query]:
    """A copy of the Query session's run, and a Query going on with it."""
    run = tmp_path / "run"
    shutil.copytree(api, run)
    return run, Query.resume(run)


def truth(blobs: Path) -> np.ndarray:
    return np.load(blobs / "truth.npy")


def answer_file(question: Path, out: Path, labels: np.ndarray) -> Path:
    """What a person does with CSV files: id and label of every example the question asks."""
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "label"])
        writer.writerows((row["id"], labels[int(row["index"])]) for row in rows(question))
    return out


def cli_answers(run: Path, round_: int, labels: np.ndarray) -> None:
    answers = answer_file(rundir.query_file(run, round_, "csv"), run.parent.parent / f"answers_{round_}.csv", labels)
    assert main(["query", "--resume", str(run), "--labels", str(answers), "--no-cuda", "--quiet"]) == 0


def taught(query: Query, labels: np.ndarray) -> None:
    """What a person does in a notebook: the class (by number) of every example of the last question, by id."""
    query.teach({row["id"]: int(labels[row["index"]]) for row in query.question})


@pytest.fixture(scope="module")
def sessions(blobs) -> tuple[Path, Path, list[list[str]]]:
    """One labeling session (a cold start, two rounds answered) through the CLI and through Query: both runs
    (each made in a working directory of its own by the same relative --run-dir, so that config.json may be
    compared whole), and the ids each Query.ask returned."""
    labels = truth(blobs)
    with pytest.MonkeyPatch.context() as patch:
        (blobs / "cli").mkdir()
        patch.chdir(blobs / "cli")
        assert main(["query", "--dataset", str(blobs / "hidden.npz"), "--run-dir", "runs", *OPTIONS]) == 0
        cli = only_run(blobs / "cli" / "runs")
        for round_ in (1, 2):
            cli_answers(cli, round_, labels)
        (blobs / "api").mkdir()
        patch.chdir(blobs / "api")
        query = Query(config(str(blobs / "hidden.npz")))
        asked = [query.ask()]
        for _ in (1, 2):
            taught(query, labels)
            asked.append(query.ask())
        api = (blobs / "api" / query.run).resolve()
    return cli, api, asked


def snapshot(run: Path) -> dict[str, bytes]:
    return {str(path.relative_to(run)): path.read_bytes() for path in sorted(run.rglob("*")) if path.is_file()}


def comparable(name: str, content: bytes):
    """A file as the two runs must agree on it: config.json without what one call does; a CSV without times."""
    if name == rundir.CONFIG:
        values = json.loads(content)
        for field in WORKFLOWS["query"].per_call:
            values.pop(field)
        values["runtime"].pop("resume")
        return values
    if name.endswith(".csv"):
        table = list(csv.reader(content.decode().splitlines()))
        kept = [i for i, column in enumerate(table[0]) if column not in TIMES]
        return [[line[i] for i in kept] for line in table]
    return content


def test_query_writes_exactly_the_files_svp_query_writes_with_csv_answers(sessions):
    cli, api, _ = sessions
    cli_files, api_files = snapshot(cli), snapshot(api)
    assert sorted(api_files) == sorted(cli_files)
    assert {"query_3.csv", "labels.csv", "proxy/15/checkpoint_best_model.t7"} <= set(cli_files)
    for name in cli_files:  # checkpoints too: the same seeds train the same weights
        assert comparable(name, api_files[name]) == comparable(name, cli_files[name]), name
    assert [int(row["round"]) for row in rows(api / "labels.csv")] == [1] * 10 + [2] * 5


def test_ask_returns_the_ids_of_each_question_best_first(sessions):
    _, api, asked = sessions
    assert [len(ids) for ids in asked] == [10, 5, 5]
    for round_, ids in enumerate(asked, start=1):
        question = rows(rundir.query_file(api, round_, "csv"))
        assert ids == [row["id"] for row in question]
    ranks = [row["rank"] for row in rows(api / "query_3.csv")]
    assert ranks == ["1", "2", "3", "4", "5"]


def test_question_holds_the_rows_of_the_last_question_with_numbers(sessions, blobs, tmp_path):
    _, api, asked = sessions
    run, query = _resumed_copy(api, tmp_path)
    assert query.question == [] and query.run == run
    assert query.ask() == asked[-1]
    written = rows(run / "query_3.csv")
    assert [row["index"] for row in query.question] == [int(row["index"]) for row in written]
    first = query.question[0]
    assert first["rank"] == 1 and first["id"] == written[0]["id"] and first["label"] == ""
    assert first["predicted"] == written[0]["predicted"] and first["confidence"] == float(written[0]["confidence"])
    # the labeling loop selects by auto, ProbCover at this budget: a picker, no score (an empty cell: None)
    assert written[0]["score"] == "" and first["score"] is None


def test_asking_twice_returns_the_same_question_and_trains_nothing(sessions, tmp_path, monkeypatch):
    _, api, asked = sessions
    run, query = _resumed_copy(api, tmp_path)
    first = query.ask()
    before = snapshot(run)

    def refuse(*args, **kwargs):
        raise AssertionError("asked again, the proxy trained again")

    monkeypatch.setattr("svp.learners.torch.fit", refuse)
    assert query.ask() == first == asked[-1]
    assert snapshot(run) == before


def refused(query: Query, answers, match: str) -> None:
    """teach() refuses ``answers`` with a UsageError saying ``match``, and the run's files stay as they were."""
    before = snapshot(query.run)
    with pytest.raises(UsageError, match=match):
        query.teach(answers)
    assert snapshot(query.run) == before


def test_teach_refuses_unknown_ids_and_classes_and_records_nothing(sessions, tmp_path):
    _, api, _ = sessions
    run, query = _resumed_copy(api, tmp_path)
    ids = query.ask()
    not_asked = next(str(i) for i in range(90) if str(i) not in ids)
    labels_csv = (run / "labels.csv").read_bytes()
    refused(query, {ids[0]: 1, "no such example": 0}, r"teach\(\)\['no such example'\]: id 'no such example' was "
            r"not asked")
    refused(query, {not_asked: 1}, f"id '{not_asked}' was not asked")
    refused(query, {ids[0]: "zebra"}, r"'zebra' is not a class \(the classes: 0, 1, 2\)")
    refused(query, {ids[0]: 7}, "'7' is not a class")
    refused(query, {}, "the mapping given to teach\\(\\) holds no answers")
    refused(query, [(ids[0], 1)], "teach\\(\\) takes a mapping of example id -> label, not list")
    assert (run / "labels.csv").read_bytes() == labels_csv


def test_teach_records_at_once_and_a_contradiction_is_refused(sessions, blobs, tmp_path):
    _, api, _ = sessions
    run, query = _resumed_copy(api, tmp_path)
    ids = query.ask()
    labels = truth(blobs)
    index = {row["id"]: row["index"] for row in query.question}
    query.teach({ids[0]: int(labels[index[ids[0]]]), ids[1]: None})  # None: not answered yet
    recorded = rows(run / "labels.csv")
    assert len(recorded) == 16
    assert [recorded[-1][key] for key in ("index", "label", "round")] == [str(index[ids[0]]),
                                                                          str(labels[index[ids[0]]]), "3"]
    assert not (run / "query_4.csv").exists()  # asked by the next ask(), after training on the answers
    wrong = (int(labels[index[ids[0]]]) + 1) % 3
    refused(query, {ids[0]: wrong}, f"is labeled {labels[index[ids[0]]]} already, not {wrong}")


def test_query_resume_goes_on_with_a_cli_run_as_svp_query_would(sessions, blobs, tmp_path):
    cli, _, _ = sessions
    labels = truth(blobs)
    by_cli, by_query = tmp_path / "cli" / "runs" / "run", tmp_path / "api" / "run"
    shutil.copytree(cli, by_cli)
    shutil.copytree(cli, by_query)
    cli_answers(by_cli, 3, labels)
    query = Query.resume(by_query)
    assert query.ask() == [row["id"] for row in rows(by_query / "query_3.csv")]
    taught(query, labels)
    assert query.ask() == [row["id"] for row in rows(by_query / "query_4.csv")]
    expected = snapshot(by_cli)
    assert sorted(snapshot(by_query)) == sorted(expected)
    assert all(comparable(name, content) == comparable(name, expected[name])
               for name, content in snapshot(by_query).items())


def test_asking_when_every_example_is_labeled_returns_no_question(blobs, tmp_path):
    query = Query(config(str(blobs / "hidden.npz"), str(tmp_path), budget=100))
    assert len(query.ask()) == 10
    taught(query, truth(blobs))
    assert len(query.ask()) == 80  # what is left
    taught(query, truth(blobs))
    assert query.ask() == [] and query.question == []
    assert len(rows(query.run / "labels.csv")) == 90


def test_a_query_is_refused_what_it_cannot_do(blobs, tmp_path, sessions):
    fresh = config(str(blobs / "hidden.npz"), str(tmp_path))
    with pytest.raises(UsageError, match=r"call ask\(\) first"):
        Query(fresh).teach({"0": 1})
    assert not any(tmp_path.iterdir())  # teach() made no run
    with pytest.raises(UsageError, match=r"Query.resume\(run_dir\)"):
        Query(QueryConfig(data=fresh.data, runtime=RuntimeConfig(resume=str(sessions[0]))))
    with pytest.raises(UsageError, match="teach"):
        Query(QueryConfig(data=fresh.data, labels="answers.csv"))
    with pytest.raises(UsageError, match="takes no option labels, seed"):
        Query.resume(sessions[0], labels="answers.csv", seed=1)
    with pytest.raises(UsageError, match="not a run directory"):
        Query.resume(tmp_path)


def test_a_first_ask_interrupted_goes_on_with_the_run_it_made(blobs, tmp_path, monkeypatch):
    query = Query(config(str(blobs / "hidden.npz"), str(tmp_path)))

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr("svp.workflows.query.run_loop", ctrl_c)
        with pytest.raises(Interrupted):
            query.ask()
    run = only_run(tmp_path)
    assert query.run == run
    assert len(query.ask()) == 10 and only_run(tmp_path) == run  # no second run
