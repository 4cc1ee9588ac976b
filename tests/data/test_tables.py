"""Tables of texts of one's own: CSV (quotes, newlines, non-ASCII) and JSONL, some labels or none."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import svp
from svp.cli import main
from svp.config import DataConfig
from svp.data import dataset_modality, from_table, open_dataset
from svp.data.amazon import ALPHABET
from svp.errors import UsageError
from run_helpers import column, only_run

WORDS = {"pos": "great lovely works perfect", "neg": "awful broke refund worst"}


def _csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    lines = ['"review","sentiment","stars"'] + ['"{}","{}","3"'.format(text.replace('"', '""'), label)
                                                for text, label in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _rows(n: int, unlabeled_every: int = 0) -> list[tuple[str, str]]:
    rows = []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        text = f'Item {i}: "{WORDS[label].split()[i % 4]}", café\nsecond line, {WORDS[label]}'
        rows.append((text, "" if unlabeled_every and i % unlabeled_every == 0 else label))
    return rows


def test_a_csv_with_quotes_newlines_and_non_ascii(tmp_path):
    path = _csv(tmp_path / "reviews.csv", _rows(40, unlabeled_every=5))
    assert dataset_modality(str(path)) == "text"
    data = open_dataset(DataConfig(dataset=str(path), text_column="review", label_column="sentiment"))
    assert (data.num_classes, data.modality, data.size("train"), data.size("test")) == (2, "text", 40, 0)
    assert data.targets("train")[:6].tolist() == [-1, 1, 0, 1, 0, -1]  # neg=0, pos=1; empty: not labeled
    assert data.texts("train", [1]) == ['Item 1: "lovely", café\nsecond line, great lovely works perfect']
    codes = data.inputs["train"][1, :6].tolist()
    assert codes == [ALPHABET.index(c) + 1 if c in ALPHABET else 0 for c in "item 1"]
    by_position = open_dataset(DataConfig(dataset=str(path), text_column="0", label_column="1"))
    assert by_position.targets("train").tolist() == data.targets("train").tolist()
    from_python = from_table(str(path), text_column="review", label_column="sentiment")
    assert from_python.texts("train", [3]) == data.texts("train", [3])


def test_a_jsonl_with_a_test_file(tmp_path):
    lines = [json.dumps({"text": text, "label": label}) for text, label in _rows(30)]
    (tmp_path / "train.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "test.jsonl").write_text("\n".join(lines[:6]) + "\n")
    data = open_dataset(DataConfig(dataset=str(tmp_path / "train.jsonl"), test_file=str(tmp_path / "test.jsonl")))
    assert data.size("test") == 6 and data.targets("test").tolist() == [0, 1, 0, 1, 0, 1]


def test_vdcnn_active_learning_on_a_csv(tmp_path):
    path = _csv(tmp_path / "reviews.csv", _rows(60))
    argv = ["active", "--dataset", str(path), "--text-column", "review", "--label-column", "sentiment",
            "--arch", "vdcnn9-maxpool-lite", "--epochs", "1", "--learning-rate", "0.01", "--batch-size", "8",
            "--initial-subset", "20", "--round", "10", "--validation", "10", "--no-cuda", "--quiet", "--seed", "0"]
    assert main([*argv, "--run-dir", str(tmp_path / "runs")]) == 0
    assert column(only_run(tmp_path / "runs"), "proxy.csv") == [20, 30]  # the target is the proxy here


def test_a_fasttext_proxy_on_a_table(tmp_path):
    pytest.importorskip("fasttext")
    from svp.learners.fasttext import fasttext_config

    path = _csv(tmp_path / "reviews.csv", _rows(60))
    run = svp.run_active(svp.ActiveConfig(
        data=svp.DataConfig(dataset=str(path), text_column="review", label_column="sentiment"),
        target=svp.ModelConfig(arch="vdcnn9-maxpool-lite", epochs=(1,), learning_rates=(0.01,), batch_size=8),
        proxy=fasttext_config({"bucket": 1000, "threads": 1, "epochs": 20, "learning_rate": 0.5}),
        runtime=svp.RuntimeConfig(run_dir=str(tmp_path / "runs"), seed=0, cuda=False, quiet=True),
        initial_subset=20, rounds=(10,), selection=svp.SelectionOptions(method="entropy"))).run
    assert column(run, "proxy.csv") == [20, 30] and column(run, "target.csv") == [30]


@pytest.mark.parametrize("write, config, message", [
    (lambda p: _csv(p, _rows(10)), dict(text_column="body"), "has no column 'body' (--text-column) ; its columns "
                                                             "are review, sentiment, stars"),
    (lambda p: _csv(p, [("only one class", "pos")] * 4), dict(text_column="review", label_column="sentiment"),
     "the labels name 1 class"),
    (lambda p: p.write_text('"review","sentiment"\n'), dict(text_column="review"), "holds no rows"),
    (lambda p: p.write_bytes(b'"review","label"\n"caf\xe9","pos"\n'), dict(text_column="review"),
     "cannot be read as a CSV table"),
])
def test_tables_that_cannot_be_a_dataset(tmp_path, write, config, message):
    path = tmp_path / "bad.csv"
    write(path)
    with pytest.raises(UsageError) as error:
        open_dataset(DataConfig(dataset=str(path), **config))
    assert message in str(error.value) and "bad.csv" in str(error.value)


def test_jsonl_rows_without_the_text_are_named(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": "fine", "label": "a"}\n{"body": "no text here", "label": "b"}\n')
    with pytest.raises(UsageError, match=r"rows.jsonl:2: the row has no 'text'"):
        open_dataset(DataConfig(dataset=str(path)))
    path.write_text('{"text": "fine", "label": "a"}\n[1, 2]\n')
    with pytest.raises(UsageError, match=r"rows.jsonl:2: the line is an array \(\[1, 2\]\), not a JSON object"):
        open_dataset(DataConfig(dataset=str(path)))


def test_class_names_for_a_table_nobody_has_labeled_yet(tmp_path):
    path = _csv(tmp_path / "reviews.csv", [(text, "") for text, _ in _rows(10)])
    with pytest.raises(UsageError, match="no example has a label, so the classes are not known ; name them with"):
        open_dataset(DataConfig(dataset=str(path), text_column="review", label_column="sentiment"))
    data = open_dataset(DataConfig(dataset=str(path), text_column="review", label_column="sentiment",
                                   classes=("pos", "neg")))
    assert data.classes == ["pos", "neg"] and (data.targets("train") == -1).all()  # the order given
    labeled = _csv(tmp_path / "labeled.csv", _rows(10))
    with pytest.raises(UsageError, match="label 'neg' is not one of the --class names"):
        open_dataset(DataConfig(dataset=str(labeled), text_column="review", label_column="sentiment",
                                classes=("pos", "other")))
