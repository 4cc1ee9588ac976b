"""Label Studio's formats: the tasks a question is written as, and the export read back.

The export fixture follows Label Studio's documented JSON format of annotated
tasks (labelstud.io/guide/task_format); the round trip through a real server
is test_label_studio_server.py.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from svp import rundir
from svp.cli import main
from svp.errors import UsageError
from svp.workflows.answers import read_answers
from svp.workflows.label_studio import read_export
from run_helpers import only_run, rows

FIXTURE = Path(__file__).parents[1] / "fixtures" / "label_studio_export.json"
REVIEWS = [("great sound, would buy again", "positive"), ("broke in a week", "negative"),
           ("love it", "positive"), ("terrible support", "negative")]
TEXT_MODEL = ["--arch", "vdcnn9-maxpool-lite", "--epochs", "1", "--learning-rate", "0.01", "--batch-size", "8", "--no-cuda",
              "--quiet", "--seed", "2"]


def test_the_documented_export_refuses_annotators_who_disagree():
    # task 2's two annotators chose two classes: neither wins (as a CSV giving one example two labels)
    with pytest.raises(UsageError, match=r"task 2 \(svp_index 4\): its annotators disagree \(annotator 10 chose "
                                         r"'negative', annotator 11 chose 'positive'\) ; resolve the disagreement"):
        list(read_export(FIXTURE))


def _two_annotators(tmp_path: Path, first: str, second: str) -> Path:
    """An export of one task that annotators 1 and 2 labeled ``first`` and ``second``."""
    export = tmp_path / "export.json"
    export.write_text(json.dumps([{"id": 1, "data": {"svp_index": 3}, "annotations": [
        {"completed_by": who, "result": [{"from_name": "label", "to_name": "item", "type": "choices",
                                          "value": {"choices": [label]}}]}
        for who, label in ((1, first), (2, second))]}]))
    return export


@pytest.mark.parametrize("first, second", [("chat", "chat "), (" chat", "chat\t"),
                                           ("caf\u00e9", "cafe\u0301")])  # NFC, NFD
def test_annotators_who_spell_one_class_alike_agree(tmp_path, first, second):
    # names are compared as class_name writes them (folders, tables and --class are read so)
    answers = list(read_export(_two_annotators(tmp_path, first, second)))
    assert [label for *_, label in answers] == ["café" if "caf" in first else "chat"]


def test_a_disagreement_shows_each_label_as_written(tmp_path):
    with pytest.raises(UsageError, match=r"annotator 1 chose 'chat ', annotator 2 chose 'dog'\)"):
        list(read_export(_two_annotators(tmp_path, "chat ", "dog")))


def test_annotators_who_agree_give_their_class(tmp_path):
    tasks = json.loads(FIXTURE.read_text())
    tasks[1]["annotations"][0]["result"] = tasks[1]["annotations"][1]["result"]  # both chose positive
    tasks[1]["annotations"][1]["completed_by"] = {"id": 11, "email": "ann@example.com"}
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    answers = list(read_export(tmp_path / "export.json"))
    # task 3's only annotation was cancelled and task 4 has none: not answered
    assert [(kind, key, label) for _, kind, key, label in answers] == \
           [("index", "17", "negative"), ("index", "4", "positive")]
    assert answers[0][0] == f"{tmp_path / 'export.json'} task 1"


def test_json_min_exports_read_too(tmp_path):
    export = tmp_path / "min.json"
    export.write_text(json.dumps([{"svp_index": 3, "text": "x", "id": 1, "label": "positive", "annotator": 1},
                                  {"svp_index": 8, "text": "y", "id": 2},
                                  {"svp_index": 5, "id": 3, "label": ["negative"]},
                                  {"svp_index": 6, "id": 4, "label": {"choices": ["positive"]}}]))
    assert [(key, label) for _, _, key, label in read_export(export)] == \
           [("3", "positive"), ("5", "negative"), ("6", "positive")]


@pytest.mark.parametrize("value, expected", [
    (["positive", "negative"], "holds 2 choices"), ({"choices": ["positive", "negative"]}, "holds 2 choices"),
    ([], "holds no choice"), ({"choices": []}, "holds no choice"), ([1], "holds something other than a class name"),
    (7, "holds something other than a class name"),
    ([{"choices": ["positive"]}], "holds something other than a class name"),
])
def test_a_json_min_choice_that_is_not_one_class_name_is_refused(tmp_path, value, expected):
    export = tmp_path / "min.json"
    export.write_text(json.dumps([{"svp_index": 3, "id": 1, "label": "positive"},
                                  {"svp_index": 8, "id": 2, "label": value, "annotator": 4}]))
    with pytest.raises(UsageError, match=rf"task 2 \(svp_index 8, annotator 4\): 'label' {expected} .* ; choose "
                                         "exactly one class per task"):
        list(read_export(export))


def write_reviews(path: Path, labeled: int) -> Path:
    """A CSV of reviews, the first ``labeled`` with their label."""
    lines = ["text,label"] + [f'"{text} #{i}",{label if i < labeled else ""}'
                              for i, (text, label) in enumerate(REVIEWS * 10)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_question_as_label_studio_tasks_and_its_export_read_back(tmp_path, capsys):
    table = write_reviews(tmp_path / "reviews.csv", labeled=8)
    assert main(["query", "--dataset", str(table), "--run-dir", str(tmp_path / "runs"), *TEXT_MODEL,
                 "--budget", "5", "--format", "label-studio"]) == 0
    run = only_run(tmp_path / "runs")
    assert "label-studio.json into Label Studio" in capsys.readouterr().out
    tasks = json.loads(rundir.query_file(run, 1, "tasks").read_text())
    asked = rundir.load_index(run / "query_1.index")
    assert [task["data"]["svp_index"] for task in tasks] == asked.tolist()
    assert all(task["data"]["text"].startswith(REVIEWS[i % 4][0]) for task, i in zip(tasks, asked))
    for task, row in zip(tasks, rows(run / "query_1.csv")):
        (prediction,) = task["predictions"]
        assert prediction["result"][0]["value"]["choices"] == [row["predicted"]]
        assert prediction["score"] == pytest.approx(float(row["confidence"]))
    interface = ElementTree.fromstring((run / "label-studio.xml").read_text())
    assert [c.get("value") for c in interface.iter("Choice")] == ["negative", "positive"]
    assert interface.find("Choices").get("toName") == interface.find("Text").get("name")

    # what Label Studio exports once two of the five are annotated
    export = [{**task, "id": n, "annotations": [{"id": n, "was_cancelled": False, "result": [
        {"from_name": "label", "to_name": "item", "type": "choices",
         "value": {"choices": [REVIEWS[task["data"]["svp_index"] % 4][1]]}}]}] if n < 2 else []}
        for n, task in enumerate(tasks)]
    (tmp_path / "export.json").write_text(json.dumps(export))
    assert main(["query", "--resume", str(run), "--labels", str(tmp_path / "export.json"), "--no-cuda",
                 "--quiet"]) == 0
    labels = rows(run / "labels.csv")
    assert [(int(r["index"]), r["label"]) for r in labels] == [(int(i), REVIEWS[i % 4][1]) for i in asked[:2]]
    assert rundir.read_rows(run / "proxy.csv")[-1]["nexamples"] == "10"
    assert rundir.query_file(run, 2, "tasks").is_file()


def test_answers_by_id_and_a_cold_start_on_a_table_without_labels(tmp_path):
    table = write_reviews(tmp_path / "reviews.csv", labeled=0)
    assert main(["query", "--dataset", str(table), "--run-dir", str(tmp_path / "runs"), *TEXT_MODEL,
                 "--budget", "4", "--class", "negative", "--class", "positive"]) == 0
    run = only_run(tmp_path / "runs")
    question = rows(run / "query_1.csv")
    assert [r["predicted"] for r in question] == [""] * 4  # no proxy yet: a random cold start
    answers = tmp_path / "answers.csv"
    answers.write_text("id,label\n" + "".join(f'"{r["id"]}",{1 if "great" in r["id"] or "love" in r["id"] else 0}\n'
                                              for r in question))
    assert main(["query", "--resume", str(run), "--labels", str(answers), "--no-cuda", "--quiet"]) == 0
    truth = {int(r["index"]): REVIEWS[int(r["index"]) % 4][1] for r in question}
    assert {int(r["index"]): r["label"] for r in rows(run / "labels.csv")} == truth


def test_an_image_folder_is_asked_about_by_path(tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("SVP_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "photos"
    for name in ("cat", "dog"):
        (root / "train" / name).mkdir(parents=True)  # empty: nothing labeled yet
    (root / "unlabeled").mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(root / "unlabeled" / f"{i:02}.png")
    assert main(["query", "--dataset", str(root), "--run-dir", str(tmp_path / "runs"), "--arch", "small-cnn-16",
                 "--epochs", "1", "--learning-rate", "0.01", "--no-cuda", "--quiet", "--seed", "0", "--budget", "3",
                 "--format", "label-studio"]) == 0
    run = only_run(tmp_path / "runs")
    question = rows(run / "query_1.csv")
    assert [r["id"] for r in question] == [f"unlabeled/{int(r['index']):02}.png" for r in question]
    tasks = json.loads(rundir.query_file(run, 1, "tasks").read_text())
    assert tasks[0]["data"]["image"] == "/data/local-files/?d=" + question[0]["id"]
    answers = tmp_path / "answers.csv"
    answers.write_text("id,label\n" + "".join(f"{r['id']},dog\n" for r in question[:2]))
    assert main(["query", "--resume", str(run), "--labels", str(answers), "--no-cuda", "--quiet"]) == 0
    assert [r["label"] for r in rows(run / "labels.csv")] == ["dog", "dog"]


def test_an_export_whose_result_is_not_an_object_is_refused(tmp_path):
    export = tmp_path / "odd.json"
    export.write_text(json.dumps([{"id": 1, "data": {"svp_index": 3}, "annotations": [{"result": ["positive"]}]},
                                  {"id": 2, "data": {"svp_index": 4}, "annotations": [
                                      {"result": [{"from_name": "label", "value": "positive"}]}]}]))
    with pytest.raises(UsageError, match=r"task 1 \(svp_index 3\): its annotation chooses no class"):
        list(read_export(export))
    export.write_text(json.dumps([json.loads(export.read_text())[1]]))
    with pytest.raises(UsageError, match=r"task 1 \(svp_index 4\): its annotation chooses no class"):
        list(read_export(export))


def test_an_example_asked_in_two_questions_is_answered_by_its_id(tmp_path):
    answers = tmp_path / "answers.csv"
    answers.write_text("id,label\n5,1\n7,2\n")
    data = SimpleNamespace(num_classes=3)  # ids are the indices
    assert read_answers(answers, data, np.array([5, 7, 5])) == {5: (1, f"{answers}:2"), 7: (2, f"{answers}:3")}
