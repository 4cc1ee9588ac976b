"""A person's labels stay on their examples: data that grows between calls, data that changed under a run.

The labeling loop here runs on a folder of photos whose file names say their
class (``unlabeled/dog_07.png``); the person answers from the names. Between
calls the folder grows, answered photos are filed into their class folder,
or something the run relies on changes. Every refusal is checked with
``run_helpers.refused``: exit 2, one ``svp: error: <what> ; <how>`` line, no
traceback, and no file of the run (nor of the data) created or changed.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from svp import rundir
from svp.cli import main
from run_helpers import only_run, refused, rows, subprocess_env

QUERY = ["--arch", "mlp", "--epochs", "1", "--learning-rate", "0.01", "--batch-size", "8", "--budget", "6",
         "--no-cuda", "--quiet", "--seed", "0"]
FEATURES = ["--arch", "mlp-head", "--epochs", "1", "--learning-rate", "0.01", "--batch-size", "8", "--no-cuda",
            "--quiet", "--seed", "0"]


def photo(path: Path, shade: int, seed: int) -> Path:
    """A 12x12 grey PNG: noise around ``shade`` (cats are dark, dogs light), distinct for each ``seed``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(seed).integers(0, 40, (12, 12))
    Image.fromarray((noise + shade).clip(0, 255).astype(np.uint8)).save(path)
    return path


SHADES = {"cat": 40, "dog": 180}


def make_photos(root: Path, unlabeled: int = 24) -> Path:
    for name in SHADES:
        for i in range(3):
            photo(root / "train" / name / f"{i}.png", SHADES[name], 100 * SHADES[name] + i)
    for i in range(unlabeled):
        name = ("cat", "dog")[i % 2]
        photo(root / "unlabeled" / f"{name}_{i:02}.png", SHADES[name], 1000 + i)
    return root


def truth(id_: str) -> str:
    """The class a photo's path says (train/<class>/... or .../<class>_<n>.png)."""
    parts = id_.split("/")
    return parts[1] if parts[0] == "train" else parts[-1].split("_")[0]


def answer(question: Path, out: Path, count: int | None = None) -> Path:
    """Fill in the question's label column from the file names (the first ``count`` rows, or all)."""
    asked = rows(question)
    for row in asked[:count]:
        row["label"] = truth(row["id"])
    with open(out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asked[0]))
        writer.writeheader()
        writer.writerows(asked)
    return out


def ids_of(run: Path) -> list[str]:
    return [row["id"] for row in rows(run / rundir.EXAMPLES_CSV)]


def assert_labels_on_their_examples(run: Path) -> None:
    """Every label recorded is the class of the file its row is now (and labels.csv's id says which file)."""
    ids = ids_of(run)
    recorded = rows(run / rundir.LABELS_CSV)
    assert recorded
    for row in recorded:
        assert row["id"] == ids[int(row["index"])]
        assert row["label"] == truth(row["id"]), row


def asked_ever(run: Path) -> list[int]:
    return [i for r in rundir.query_rounds(run) for i in rundir.load_index(rundir.query_file(run, r, "index"))]


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SVP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@dataclass
class Loop:
    """A folder of photos and a `svp query` run on it: question 1 answered, question 2 waiting."""

    data: Path
    run: Path

    def go_on(self, *more: str) -> int:
        return main(["query", "--resume", str(self.run), "--no-cuda", "--quiet", *more])

    def clone(self, into: Path) -> "Loop":
        """A copy of the data and of the run, the run's config pointing at the copy (for cases that damage)."""
        data = Path(shutil.copytree(self.data, into / "photos"))
        run = Path(shutil.copytree(self.run, into / "run"))
        config = json.loads((run / rundir.CONFIG).read_text())
        config["data"]["dataset"] = str(data)
        (run / rundir.CONFIG).write_text(json.dumps(config))
        return Loop(data, run)


@pytest.fixture(scope="module")
def answered(tmp_path_factory) -> Loop:
    root = tmp_path_factory.mktemp("loop")
    os.environ["SVP_CACHE"] = str(root / "cache")
    try:
        data = make_photos(root / "photos")
        assert main(["query", "--dataset", str(data), "--run-dir", str(root / "runs"), *QUERY]) == 0
        loop = Loop(data, only_run(root / "runs"))
        assert loop.go_on("--labels", str(answer(rundir.query_file(loop.run, 1, "csv"), root / "a1.csv"))) == 0
    finally:
        del os.environ["SVP_CACHE"]
    return loop


@pytest.fixture
def loop(answered, tmp_path) -> Loop:
    return answered.clone(tmp_path)


# ---------------------------------------------------------------- data that grew: labels follow

def test_a_photo_added_between_rounds_leaves_every_label_on_its_photo(loop):
    before = ids_of(loop.run)
    photo(loop.data / "unlabeled" / "aaa" / "cat_new.png", SHADES["cat"], 7)  # sorts before every other file
    answers = answer(rundir.query_file(loop.run, 2, "csv"), loop.run.parent / "a2.csv")
    assert loop.go_on("--labels", str(answers)) == 0
    ids = ids_of(loop.run)
    assert ids[: len(before)] == before and ids[len(before):] == ["unlabeled/aaa/cat_new.png"]  # a new row
    assert_labels_on_their_examples(loop.run)
    labeled = [int(row["index"]) for row in rows(loop.run / rundir.LABELS_CSV)]
    assert not set(rundir.load_index(rundir.query_file(loop.run, 3, "index"))) & set(labeled)  # nothing re-asked
    assert [int(r["nexamples"]) for r in rows(loop.run / rundir.PROXY_CSV)] == [6, 12, 18]


def test_answered_photos_filed_into_their_class_folder_keep_their_labels(loop):
    recorded = rows(loop.run / rundir.LABELS_CSV)
    for row in recorded:  # the natural next step: move what was answered where it belongs
        source = loop.data / row["id"]
        os.rename(source, loop.data / "train" / row["label"] / source.name)
    assert loop.go_on() == 0
    assert_labels_on_their_examples(loop.run)
    now = rows(loop.run / rundir.LABELS_CSV)
    assert [(r["index"], r["label"]) for r in now] == [(r["index"], r["label"]) for r in recorded]
    assert all(r["id"].startswith("train/") for r in now)
    assert rundir.query_rounds(loop.run) == [1, 2]  # nothing asked again: question 2 still waits


def test_an_asked_photo_filed_by_the_person_is_their_answer(loop):
    asked = rows(rundir.query_file(loop.run, 2, "csv"))
    first = loop.data / asked[0]["id"]
    os.rename(first, loop.data / "train" / truth(asked[0]["id"]) / first.name)
    assert loop.go_on() == 0
    labels = rows(loop.run / rundir.LABELS_CSV)
    assert (labels[-1]["index"], labels[-1]["label"], labels[-1]["round"]) == \
           (asked[0]["index"], truth(asked[0]["id"]), "2")
    assert_labels_on_their_examples(loop.run)


def test_answers_by_the_id_the_question_wrote_after_the_file_moved(loop):
    asked = rows(rundir.query_file(loop.run, 2, "csv"))
    moved = loop.data / asked[1]["id"]
    os.rename(moved, loop.data / "unlabeled" / f"renamed_{moved.name}")
    answers = loop.run.parent / "by_id.csv"
    answers.write_text(f"id,label\n{asked[1]['id']},{truth(asked[1]['id'])}\n")
    assert loop.go_on("--labels", str(answers)) == 0
    last = rows(loop.run / rundir.LABELS_CSV)[-1]
    assert (last["index"], last["id"]) == (asked[1]["index"], f"unlabeled/renamed_{moved.name}")


def test_a_row_inserted_at_the_top_of_a_table_keeps_the_labels_on_their_texts(tmp_path):
    reviews = tmp_path / "reviews.csv"
    texts = [f"review number {i} {'great' if i % 2 else 'awful'} product" for i in range(30)]
    labels = ["positive" if i % 2 else "negative" for i in range(30)]
    reviews.write_text("text,label\n" + "".join(f"{t},{lab if i < 6 else ''}\n"
                                              for i, (t, lab) in enumerate(zip(texts, labels))))
    model = ["--arch", "vdcnn9-maxpool-lite", "--epochs", "1", "--learning-rate", "0.01", "--batch-size", "8",
             "--budget", "4", "--no-cuda", "--quiet", "--seed", "0"]
    assert main(["query", "--dataset", str(reviews), "--run-dir", str(tmp_path / "runs"), *model]) == 0
    run = only_run(tmp_path / "runs")
    asked = rows(rundir.query_file(run, 1, "csv"))
    by_text = dict(zip(texts, labels))
    answers = tmp_path / "a.csv"
    answers.write_text("index,label\n" + "".join(f"{row['index']},{by_text[_text_of(row['id'], texts)]}\n"
                                                 for row in asked))
    lines = reviews.read_text().splitlines()
    reviews.write_text("\n".join([lines[0], "a brand new review,", *lines[1:]]) + "\n")  # rows shift by one
    assert main(["query", "--resume", str(run), "--labels", str(answers), "--no-cuda", "--quiet"]) == 0
    recorded = rows(run / rundir.LABELS_CSV)
    example_rows = rows(run / rundir.EXAMPLES_CSV)
    assert len(example_rows) == 31  # the new review takes a row after the run's own
    for row in recorded:  # each label is its text's, though every row of the file moved
        index = int(row["index"])
        assert index < 30 and row["label"] == labels[index]


def _text_of(excerpt: str, texts: list[str]) -> str:
    (text,) = [t for t in texts if t.startswith(excerpt.rstrip("."))]
    return text


def test_embeddings_carrying_ids_are_matched_to_the_folder_in_any_order(tmp_path):
    from svp.config import DataConfig
    from svp.data import open_dataset
    from svp.data.identity import identity_of
    from svp.data.sources import open_view

    data = open_dataset(DataConfig(dataset=str(make_photos(tmp_path / "photos", unlabeled=6))))
    ids = identity_of(data).ids
    order = np.random.default_rng(0).permutation(len(ids))
    x = np.arange(len(ids) * 2, dtype=np.float32).reshape(-1, 2)  # row i of the dataset: (2i, 2i + 1)
    np.savez(tmp_path / "emb.npz", x=x[order], ids=np.array(ids)[order])
    view = open_view(str(tmp_path / "emb.npz"), data)
    np.testing.assert_array_equal(view.inputs["train"].numpy(), x)


def test_a_photo_filed_without_being_asked_waits_for_the_answers(loop):
    unasked = sorted(set(range(6, 30)) - set(asked_ever(loop.run)) - {int(r["index"]) for r in rows(
        loop.run / rundir.LABELS_CSV)})
    name = ids_of(loop.run)[unasked[0]]
    os.rename(loop.data / name, loop.data / "train" / truth(name) / Path(name).name)
    labels_before = (loop.run / rundir.LABELS_CSV).read_bytes()
    assert loop.go_on() == 0
    assert rundir.query_rounds(loop.run) == [1, 2]  # question 2 still waits: nothing asked twice
    assert (loop.run / rundir.LABELS_CSV).read_bytes().count(b"\n") == labels_before.count(b"\n")
    answers = answer(rundir.query_file(loop.run, 2, "csv"), loop.run.parent / "a2.csv")
    assert loop.go_on("--labels", str(answers)) == 0  # with the answers, it is recorded too
    last = rows(loop.run / rundir.LABELS_CSV)[-1]
    assert (int(last["index"]), last["label"], last["round"]) == (unasked[0], truth(name), "2")
    assert_labels_on_their_examples(loop.run)


def test_a_call_on_data_that_grew_before_rewrites_nothing(loop):
    photo(loop.data / "unlabeled" / "zzz_new.png", SHADES["dog"], 8)
    for row in rows(loop.run / rundir.LABELS_CSV):
        os.rename(loop.data / row["id"], loop.data / "train" / row["label"] / Path(row["id"]).name)
    assert loop.go_on() == 0
    recorded = {name: (loop.run / name).read_bytes() for name in (rundir.EXAMPLES_CSV, rundir.LABELS_CSV)}
    assert loop.go_on() == 0
    assert {name: (loop.run / name).read_bytes() for name in recorded} == recorded


def test_a_new_photo_under_the_name_of_one_filed_away(loop):
    row = rows(loop.run / rundir.LABELS_CSV)[0]
    os.rename(loop.data / row["id"], loop.data / "train" / row["label"] / Path(row["id"]).name)
    photo(loop.data / row["id"], SHADES["cat"], 4242)  # a camera reuses the name
    assert loop.go_on() == 0
    ids = ids_of(loop.run)
    assert ids[int(row["index"])] == f"train/{row['label']}/{Path(row['id']).name}"  # the label followed its photo
    assert ids[-1] == row["id"]  # the new photo is a new example
    assert_labels_on_their_examples(loop.run)


def test_an_asked_photo_deleted_is_asked_no_more_and_cannot_be_answered(loop, capsys):
    asked = rows(rundir.query_file(loop.run, 2, "csv"))
    (loop.data / asked[0]["id"]).unlink()  # junk: the person deletes it instead of answering
    answers = answer(rundir.query_file(loop.run, 2, "csv"), loop.run.parent / "a2.csv")
    err = refused(capsys, ["query", "--resume", str(loop.run), "--labels", str(answers), "--no-cuda", "--quiet"],
                  watched=(loop.run,))
    assert f"index {asked[0]['index']} is gone from the data" in err
    lines = answers.read_text().splitlines()
    answers.write_text("\n".join([lines[0], *lines[2:]]) + "\n")  # its answer dropped
    assert loop.go_on("--labels", str(answers)) == 0
    assert int(asked[0]["index"]) not in rundir.load_index(rundir.query_file(loop.run, 3, "index"))
    assert_labels_on_their_examples(loop.run)


def _as_before_data_identity(run: Path) -> None:
    """What a run of svp before data identity holds: no examples.csv, no record in config.json, no ids."""
    (run / rundir.EXAMPLES_CSV).unlink()
    config = json.loads((run / rundir.CONFIG).read_text())
    del config["data_identity"]
    (run / rundir.CONFIG).write_text(json.dumps(config))
    labels = rows(run / rundir.LABELS_CSV)
    (run / rundir.LABELS_CSV).write_text("index,label,round\n" + "".join(
        f"{r['index']},{r['label']},{r['round']}\n" for r in labels))


def test_a_run_of_an_earlier_svp_is_checked_by_its_questions_then_recorded(loop, capsys):
    _as_before_data_identity(loop.run)
    photo(loop.data / "unlabeled" / "aaa_first.png", SHADES["cat"], 77)  # every unlabeled row after it shifts
    err = refused(capsys, ["query", "--resume", str(loop.run), "--no-cuda", "--quiet"], watched=(loop.run,))
    assert "was made by an svp that did not record its data, and the data changed under its questions" in err
    (loop.data / "unlabeled" / "aaa_first.png").unlink()
    assert loop.go_on() == 0  # the same data: recorded from now on
    assert json.loads((loop.run / rundir.CONFIG).read_text())["data_identity"]["examples"] == 30
    assert_labels_on_their_examples(loop.run)  # labels.csv has its ids now
    photo(loop.data / "unlabeled" / "aaa_first.png", SHADES["cat"], 77)
    assert loop.go_on() == 0  # and followed
    assert ids_of(loop.run)[-1] == "unlabeled/aaa_first.png"


def test_a_run_killed_before_its_examples_were_recorded_records_them(loop):
    (loop.run / rundir.EXAMPLES_CSV).unlink()
    assert loop.go_on() == 0
    assert len(ids_of(loop.run)) == 30
    photo(loop.data / "unlabeled" / "zzz.png", SHADES["dog"], 5)
    assert loop.go_on() == 0 and len(ids_of(loop.run)) == 31


def test_embeddings_without_ids_once_the_rows_moved(loop, capsys):
    config = json.loads((loop.run / rundir.CONFIG).read_text())
    photo(loop.data / "unlabeled" / "aaa_first.png", SHADES["cat"], 77)  # the data's rows are not the run's now
    np.savez(loop.run.parent / "emb.npz", x=np.zeros((31, 4), np.float32))
    config["proxy_dataset"] = str(loop.run.parent / "emb.npz")
    config["proxy"]["arch"] = "linear-head"
    (loop.run / rundir.CONFIG).write_text(json.dumps(config))
    err = refused(capsys, ["query", "--resume", str(loop.run), "--no-cuda", "--quiet"], watched=(loop.run,))
    assert "emb.npz has no ids, and" in err and "save the examples' ids with it" in err


# ---------------------------------------------------------------- changes under the run: refused

def _damage_labeled_photo(loop: Loop) -> None:
    labeled = rows(loop.run / rundir.LABELS_CSV)[0]["id"]
    photo(loop.data / labeled, SHADES["dog"], 99)  # another picture under the same name


def _delete_answered_photo(loop: Loop) -> None:
    (loop.data / rows(loop.run / rundir.LABELS_CSV)[0]["id"]).unlink()


def _file_in_the_wrong_class(loop: Loop) -> None:
    row = rows(loop.run / rundir.LABELS_CSV)[0]
    wrong = "dog" if row["label"] == "cat" else "cat"
    os.rename(loop.data / row["id"], loop.data / "train" / wrong / Path(row["id"]).name)


def _unlabel_a_labeled_photo(loop: Loop) -> None:
    os.rename(loop.data / "train" / "cat" / "0.png", loop.data / "unlabeled" / "was_labeled.png")


def _new_class(loop: Loop) -> None:
    photo(loop.data / "train" / "bird" / "0.png", 100, 5)


def _edit_labels_index(loop: Loop) -> None:
    path = loop.run / rundir.LABELS_CSV
    lines = path.read_text().splitlines()
    index, *rest = lines[1].split(",")
    other = next(i for i in range(6, 30) if str(i) != index and str(i) not in path.read_text().split())
    path.write_text("\n".join([lines[0], ",".join([str(other), *rest]), *lines[2:]]) + "\n")


def _lose_labels(loop: Loop) -> None:
    (loop.run / rundir.LABELS_CSV).unlink()


def _damage_examples(loop: Loop) -> None:
    path = loop.run / rundir.EXAMPLES_CSV
    path.write_text(path.read_text().replace("\n1,", "\nseven,", 1))


def _answer_against_the_folder(loop: Loop) -> list[str]:
    asked = rows(rundir.query_file(loop.run, 2, "csv"))[0]
    os.rename(loop.data / asked["id"], loop.data / "train" / truth(asked["id"]) / Path(asked["id"]).name)
    wrong = "dog" if truth(asked["id"]) == "cat" else "cat"
    answers = loop.run.parent / "wrong.csv"
    answers.write_text(f"index,label\n{asked['index']},{wrong}\n")
    return ["--labels", str(answers)]


@dataclass
class Change:
    name: str
    damage: Callable[[Loop], object]
    message: str


CHANGES = [
    Change("a labeled photo changed", _damage_labeled_photo, "changed ; restore them as they were"),
    Change("an answered photo deleted", _delete_answered_photo, "is gone ; restore them"),
    Change("a photo filed against its answer", _file_in_the_wrong_class, "but labels.csv labels it"),
    Change("a labeled photo moved to unlabeled", _unlabel_a_labeled_photo,
           "train/cat/0.png was labeled cat when the run started, unlabeled now"),
    Change("a class added", _new_class, "the classes of"),
    Change("labels.csv's index edited by hand", _edit_labels_index, "in this run, but the row names"),
    Change("labels.csv lost", _lose_labels, "restore labels.csv from a backup"),
    Change("examples.csv damaged", _damage_examples, "examples.csv is damaged"),
    Change("an answer against the photo's folder", _answer_against_the_folder, "but filed as"),
]


@pytest.mark.parametrize("change", CHANGES, ids=lambda change: change.name)
def test_a_change_under_the_run_is_refused_naming_it(change, loop, capsys):
    more = change.damage(loop) or []
    err = refused(capsys, ["query", "--resume", str(loop.run), "--no-cuda", "--quiet", *more],
                  watched=(loop.run, loop.data))
    assert change.message in err


def _features(tmp_path: Path, n: int = 60) -> Path:
    rng = np.random.default_rng(0)
    y = np.arange(n) % 3
    np.savez(tmp_path / "f.npz", x=(rng.normal(size=(n, 8)) + y[:, None]).astype(np.float32), y=y)
    return tmp_path / "f.npz"


def _finished(tmp_path: Path, workflow: list[str], dataset: Path) -> Path:
    assert main([*workflow, "--dataset", str(dataset), "--run-dir", str(tmp_path / "runs"), *FEATURES]) == 0
    return only_run(tmp_path / "runs")


def _edit_row(path: Path) -> None:
    arrays = dict(np.load(path))
    arrays["x"][5] += 1
    np.savez(path, **arrays)


def _insert_row(path: Path) -> None:
    arrays = dict(np.load(path))
    np.savez(path, x=np.concatenate([arrays["x"][:1] * 0, arrays["x"]]), y=np.concatenate([[0], arrays["y"]]))


ACTIVE = ["active", "--initial-subset", "20", "--round", "10"]
CORESET = ["coreset", "--subset", "30", "--selection-method", "kcenters"]


@pytest.mark.parametrize("workflow, damage, message", [
    (ACTIVE, _edit_row, "1 changed"),
    (ACTIVE, _insert_row, "1 example(s) added"),
    (CORESET, _edit_row, "`coreset` resumes only on the examples it started with"),
    (["train"], _insert_row, "`train` resumes only on the examples it started with"),
], ids=["active: a row edited", "active: a row inserted at the top", "coreset: a row edited",
        "train: a row inserted"])
def test_simulations_resume_only_on_the_data_they_started_with(tmp_path, capsys, workflow, damage, message):
    dataset = _features(tmp_path)
    run = _finished(tmp_path, workflow, dataset)
    damage(dataset)
    err = refused(capsys, [workflow[0], "--resume", str(run), "--no-cuda", "--quiet"], watched=(run,))
    assert message in err and "f.npz changed since" in err


def test_a_published_dataset_that_changed_under_a_run_is_refused(tmp_path, capsys, fashion_env):
    from conftest import write_idx

    run = tmp_path / "runs"
    assert main(["active", "--run-dir", str(run), "--arch", "logistic", "--epochs", "1", "--learning-rate", "0.01",
                 "--initial-subset", "30", "--round", "10", "--no-cuda", "--quiet", "--seed", "0"]) == 0
    run = only_run(run)
    labels = (np.arange(300) + 1) % 10  # another labeling of the same images
    data = Path(shutil.copytree(fashion_env, tmp_path / "fashion"))
    write_idx(data / "train-labels-idx1-ubyte.gz", labels)
    os.environ["SVP_DATA"] = str(data)  # restored by fashion_env's monkeypatch
    err = refused(capsys, ["active", "--resume", str(run), "--no-cuda", "--quiet"], watched=(run,))
    assert "is not the data --resume" in err


def test_a_replay_of_a_selection_made_on_other_data_is_refused(tmp_path, capsys):
    dataset = _features(tmp_path)
    source = _finished(tmp_path, ACTIVE, dataset)
    _edit_row(dataset)
    err = refused(capsys, ["active", "--dataset", str(dataset), "--precomputed-selection", str(source),
                           "--run-dir", str(tmp_path / "replay"), *FEATURES], watched=(source,))
    assert "selected from" in err and "changed since (1 changed" in err


@pytest.mark.parametrize("make, message", [
    (lambda x, ids: {"x": x, "ids": ids[1:]}, "ids is"),
    (lambda x, ids: {"x": x[1:], "ids": ids[1:]}, "no row for"),
    (lambda x, ids: {"x": x, "ids": np.array([ids[0]] * len(ids))}, "is on"),
], ids=["ids shorter than x", "an example without a row", "an id twice"])
def test_embeddings_whose_ids_do_not_fit_are_refused(tmp_path, capsys, make, message):
    data = make_photos(tmp_path / "photos", unlabeled=6)
    from svp.config import DataConfig
    from svp.data import open_dataset
    from svp.data.identity import identity_of

    ids = np.array(identity_of(open_dataset(DataConfig(dataset=str(data)))).ids)
    np.savez(tmp_path / "emb.npz", **make(np.zeros((len(ids), 4), np.float32), ids))
    err = refused(capsys, ["query", "--dataset", str(data), "--proxy-dataset", str(tmp_path / "emb.npz"),
                           "--proxy-arch", "linear-head", "--run-dir", str(tmp_path / "runs"), *QUERY],
                  watched=(tmp_path,))
    assert message in err


# ---------------------------------------------------------------- class names, normalised once

def test_a_class_folder_with_a_trailing_blank_answered_by_number(tmp_path):
    data = make_photos(tmp_path / "photos", unlabeled=12)
    os.rename(data / "train" / "cat", data / "train" / "cat ")  # as a careless rename leaves it
    assert main(["query", "--dataset", str(data), "--run-dir", str(tmp_path / "runs"), *QUERY]) == 0
    run = only_run(tmp_path / "runs")
    asked = rows(rundir.query_file(run, 1, "csv"))
    answers = tmp_path / "a.csv"
    answers.write_text("index,label\n" + "".join(f"{r['index']},{0 if truth(r['id']) == 'cat' else 1}\n"
                                                 for r in asked))
    for _ in range(2):  # the labels.csv it wrote is read back by every later call
        assert main(["query", "--resume", str(run), "--labels", str(answers), "--no-cuda", "--quiet"]) == 0
    assert {r["label"] for r in rows(run / rundir.LABELS_CSV)} == {"cat", "dog"}


def test_a_class_folder_named_in_nfd_is_answered_in_nfc(tmp_path):
    data = make_photos(tmp_path / "photos", unlabeled=12)
    nfd = unicodedata.normalize("NFD", "café")
    os.rename(data / "train" / "cat", data / "train" / nfd)  # as macOS writes it
    assert main(["query", "--dataset", str(data), "--run-dir", str(tmp_path / "runs"), *QUERY]) == 0
    run = only_run(tmp_path / "runs")
    first = rows(rundir.query_file(run, 1, "csv"))[0]
    answers = tmp_path / "a.csv"
    answers.write_text(f"index,label\n{first['index']},{unicodedata.normalize('NFC', 'café')}\n", encoding="utf-8")
    assert main(["query", "--resume", str(run), "--labels", str(answers), "--no-cuda", "--quiet"]) == 0
    assert rows(run / rundir.LABELS_CSV)[0]["label"] == unicodedata.normalize("NFC", "café")


@pytest.mark.parametrize("argv, message", [
    (lambda d, r: ["query", "--dataset", str(d), "--class", " cat", "--class", "cat", "--run-dir", str(r), *QUERY],
     "--class 'cat' is given twice"),
    (lambda d, r: ["train", "--dataset", str(d), "--image-size", "100000", "--run-dir", str(r), *FEATURES[2:]],
     "--image-size 100000 is out of range ; give an integer in [1, 4096]"),
], ids=["--class twice once stripped", "--image-size 100000"])
def test_options_that_name_data_are_refused(tmp_path, capsys, argv, message):
    data = make_photos(tmp_path / "photos", unlabeled=4)
    err = refused(capsys, argv(data, tmp_path / "runs"), watched=(tmp_path,))
    assert message in err


def test_two_class_folders_that_are_one_name(tmp_path, capsys):
    data = make_photos(tmp_path / "photos", unlabeled=4)
    photo(data / "train" / "cat " / "9.png", 40, 9)
    err = refused(capsys, ["train", "--dataset", str(data), "--run-dir", str(tmp_path / "runs"), "--arch", "mlp",
                           "--epochs", "1", "--learning-rate", "0.01", "--no-cuda", "--quiet"], watched=(tmp_path,))
    assert "names the class 'cat' of" in err


# ---------------------------------------------------------------- Ctrl-C and SIGTERM

@pytest.mark.parametrize("sig, code, words", [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")])
def test_an_interrupted_run_says_how_to_resume_it_and_resumes(tmp_path, sig, code, words):
    dataset = _features(tmp_path, n=3000)
    argv = ["active", "--dataset", str(dataset), "--run-dir", str(tmp_path / "runs"), "--arch", "mlp-head",
            "--epochs", "15", "--learning-rate", "0.01", "--initial-subset", "500", "--round", "100", "--no-cuda",
            "--quiet", "--seed", "0", "--no-train-target"]
    child = subprocess.Popen([sys.executable, "-m", "svp", *argv], env=subprocess_env(), stderr=subprocess.PIPE,
                             text=True)
    deadline = time.monotonic() + 120
    while not list((tmp_path / "runs").glob("*/proxy/500/labeled_500.index")) and time.monotonic() < deadline \
            and child.poll() is None:
        time.sleep(0.1)  # training has started
    child.send_signal(sig)
    err = child.communicate(timeout=120)[1]
    run = only_run(tmp_path / "runs")
    assert child.returncode == code, err[-2000:]
    assert "Traceback" not in err
    assert err.splitlines()[-1] == (f"svp: interrupted ({words}) ; every finished step is kept: resume with "
                                    f"svp active --resume {run}")
    assert not (run / rundir.LOCK).exists()
    if sig == signal.SIGINT:  # what the line says works
        assert main(["active", "--resume", str(run), "--no-cuda", "--quiet"]) == 0
        assert [int(row["nexamples"]) for row in rows(run / rundir.PROXY_CSV)] == [500, 600]


def test_sigterm_to_the_whole_process_group_with_loader_workers(tmp_path):
    """A scheduler stops the job's process group: DataLoader workers too, which must not fail the main process."""
    for split, count in (("train", 40), ("val", 4)):
        for name, shade in (("n01", 40), ("n02", 200)):
            for i in range(count):
                photo(tmp_path / "imagenet" / split / name / f"{i}.JPEG", shade, i)
    argv = ["train", "--dataset", "imagenet", "--datasets-dir", str(tmp_path), "--run-dir", str(tmp_path / "runs"),
            "--arch", "mlp", "--epochs", "200", "--learning-rate", "0.01", "--batch-size", "4", "--num-workers", "2",
            "--eval-num-workers", "2", "--no-cuda", "--quiet"]
    child = subprocess.Popen([sys.executable, "-m", "svp", *argv], env=subprocess_env(), stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None and len(subprocess.run(
            ["pgrep", "-P", str(child.pid)], capture_output=True, text=True).stdout.split()) < 2:
        time.sleep(0.1)  # until its loader workers run
    time.sleep(0.5)
    os.killpg(child.pid, signal.SIGTERM)
    err = child.communicate(timeout=120)[1]
    assert child.returncode == 143, err[-2000:]
    assert "Traceback" not in err and "Exception ignored" not in err
    assert err.splitlines()[-1].startswith("svp: interrupted (SIGTERM) ; every finished step is kept: resume with "
                                           "svp train --resume ")


def test_an_interruption_is_not_an_error_to_code_that_catches_errors(tmp_path, monkeypatch):
    from svp.errors import Interrupted
    from svp.learners.torch import TorchLearner
    from svp.workflows import run_active
    from svp.config import ActiveConfig, DataConfig, ModelConfig, RuntimeConfig

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(TorchLearner, "train", stop)
    config = ActiveConfig(data=DataConfig(dataset=str(_features(tmp_path))),
                          target=ModelConfig(arch="mlp-head", epochs=(1,), learning_rates=(0.01,)),
                          proxy=ModelConfig(arch="mlp-head", epochs=(1,), learning_rates=(0.01,)),
                          runtime=RuntimeConfig(run_dir=str(tmp_path / "runs"), cuda=False, seed=0),
                          initial_subset=20, rounds=(10,))
    with pytest.raises(Interrupted) as stopped:
        try:
            run_active(config)
        except Exception:  # a sweep that skips failed configs must not skip a Ctrl-C
            pytest.fail("the interruption was taken for an error")
    assert stopped.value.run == only_run(tmp_path / "runs")


def test_ctrl_c_while_a_resumed_run_opens_says_to_resume_it(tmp_path, monkeypatch, capsys):
    dataset = _features(tmp_path)
    run = _finished(tmp_path, ACTIVE, dataset)

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("svp.workflows.identity.follow", stop)
    with pytest.raises(SystemExit) as exit_info:
        main(["active", "--resume", str(run), "--no-cuda", "--quiet"])
    assert exit_info.value.code == 130
    assert capsys.readouterr().err.splitlines()[-1] == (f"svp: interrupted (Ctrl-C) ; every finished step is kept: "
                                                        f"resume with svp active --resume {run}")
