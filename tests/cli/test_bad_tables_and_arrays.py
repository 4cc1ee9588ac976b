"""Tables and arrays of one's own that new users actually handed svp, through the command line.

Each bad file must end with exit 2, ``svp: error: FILE[:LINE]: <what> ; <how to fix it>``, no traceback
and nothing written; each good one that used to be misread must now be read as its author meant.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Union

import numpy as np
import pytest

from svp.cli import main
from svp.config import DataConfig
from svp.data import open_dataset
from svp.errors import UsageError
from run_helpers import refused, subprocess_env

FAST = ["--epochs", "1", "--learning-rate", "0.01", "--no-cuda", "--quiet", "--batch-size", "16"]
TEXT_ARCH, FEATURE_ARCH, IMAGE_ARCH = "vdcnn9-maxpool", "mlp-head", "small-cnn"


def _texts(n: int = 20, labels: tuple = ("pos", "neg")) -> list[tuple[str, object]]:
    return [(f"review {i} {'awful' if i % 2 else 'great'}", labels[i % len(labels)]) for i in range(n)]


def _csv(rows: list[tuple[str, object]], header: str = "text,label") -> str:
    return header + "\n" + "".join(f"{text},{label}\n" for text, label in rows)


def _jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def _records(n: int = 20, **at: dict) -> list[dict]:
    """JSONL records of ``_texts``; ``at={"3": {...}}`` replaces record 3's fields (line 4)."""
    records = [{"text": text, "label": label} for text, label in _texts(n)]
    for i, fields in at.items():
        records[int(i)] = {**records[int(i)], **fields}
    return records


def _features(n: int = 40, dims: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.arange(n) % 2
    return (rng.normal(size=(n, dims)) + y[:, None]).astype(np.float32), y


def _arrays(**changes) -> dict[str, np.ndarray]:
    x, y = _features()
    return {"x": x, "y": y, **changes}


Content = Union[str, bytes, dict]


def _write(path: Path, content: Content) -> Path:
    if isinstance(content, dict):
        with open(path, "wb") as handle:  # np.savez(path) would add .npz to a name without it
            np.savez(handle, **content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


GOOD_CSV = _csv(_texts())
DEEP = "[" * 100_000 + "]" * 100_000

# (id, file name, content, arch, extra argv (TEST: the test file's path), the words the message must hold)
CASES = [
    # tables: --id-column
    ("id-column-missing", "reviews.csv", GOOD_CSV, TEXT_ARCH, ["--id-column", "key"],
     "reviews.csv has no column 'key' (--id-column) ; its columns are text, label"),
    ("id-twice", "reviews.csv", _csv([(f"{t},{i // 2}", l) for i, (t, l) in enumerate(_texts())], "text,key,label"),
     TEXT_ARCH, ["--id-column", "key"], "reviews.csv: the id '0' names 2 rows (--id-column) ; give each row its own id"),
    ("id-empty", "reviews.csv", _csv([(f"{t},{'' if i == 3 else i}", l) for i, (t, l) in enumerate(_texts())],
                                      "text,key,label"),
     TEXT_ARCH, ["--id-column", "key"], "reviews.csv:5: the row has no id in 'key' (--id-column) ; give every row an id"),
    # tables
    ("repeated-header", "reviews.csv", GOOD_CSV * 2, TEXT_ARCH, [],
     "reviews.csv:22: the row repeats the header (two files joined into one?) ; remove it"),
    ("duplicate-column", "reviews.csv", _csv([(t, f"{l},x") for t, l in _texts()], "text,label,label"), TEXT_ARCH,
     [], "reviews.csv:1: the header names the column 'label' twice (fields 2 and 3)"),
    ("json-label-true", "rows.jsonl", _jsonl(_records(**{"2": {"label": True}})), TEXT_ARCH, [],
     "rows.jsonl:3: the label is a boolean (true) ; give a class name"),
    ("json-label-fraction", "rows.jsonl", _jsonl(_records(**{"4": {"label": 1.5}})), TEXT_ARCH, [],
     "rows.jsonl:5: the label is a number (1.5)"),
    ("json-label-list", "rows.jsonl", _jsonl(_records(**{"0": {"label": ["pos"]}})), TEXT_ARCH, [],
     'rows.jsonl:1: the label is an array (["pos"])'),
    ("one-number-two-spellings", "reviews.csv", _csv(_texts(labels=("1", "01", "2"))), TEXT_ARCH, [],
     "reviews.csv:3: the label '01' is the number 1, spelled '1' at"),
    ("json-text-object", "rows.jsonl", _jsonl(_records(**{"3": {"text": {"body": "hi"}}})), TEXT_ARCH, [],
     "rows.jsonl:4: 'text' is an object ({\"body\": \"hi\"}), not a text ; give each text as a JSON string"),
    ("json-text-number", "rows.jsonl", _jsonl(_records(**{"3": {"text": 42}})), TEXT_ARCH, [],
     "rows.jsonl:4: 'text' is a number (42), not a text"),
    ("json-text-null", "rows.jsonl", _jsonl(_records(**{"5": {"text": None}})), TEXT_ARCH, [],
     "rows.jsonl:6: the row has no 'text'"),
    ("test-label-not-trained", "reviews.csv", GOOD_CSV, TEXT_ARCH, ["--test-file", "TEST"],
     "test.csv:3: label 'meh' has no training example, so it is not a class ; add a training example of class "
     "'meh', or name every class with --class"),
    ("test-row-unlabeled", "reviews.csv", GOOD_CSV, TEXT_ARCH, ["--test-file", "TEST"],
     "test.csv:2: the test row has no label"),
    ("short-row", "reviews.csv", GOOD_CSV + "a text whose label cell is missing\n", TEXT_ARCH, [],
     "reviews.csv:22: the row has 1 field where the header has 2"),
    ("bad-json-line", "rows.jsonl", _jsonl(_records(5)) + '{"text": "c" "label": "pos"}\n', TEXT_ARCH, [],
     "rows.jsonl:6: not JSON (Expecting ',' delimiter, column 14)"),
    ("json-line-array", "rows.jsonl", _jsonl(_records(3)) + '["a text", "pos"]\n', TEXT_ARCH, [],
     "rows.jsonl:4: the line is an array"),
    ("json-key-twice", "rows.jsonl", _jsonl(_records(3)) + '{"text": "a", "label": "pos", "label": "neg"}\n',
     TEXT_ARCH, [], "rows.jsonl:4: the key 'label' is given twice"),
    ("json-nested-too-deep", "rows.jsonl", _jsonl(_records(3)) + DEEP + "\n", TEXT_ARCH, [],
     "rows.jsonl:4: not JSON that can be read (RecursionError)"),
    ("utf16-csv", "reviews.csv", GOOD_CSV.encode("utf-16-le"), TEXT_ARCH, [],
     "reviews.csv:1: the file holds NUL bytes (UTF-16 text, or not text at all) ; save it as UTF-8"),
    ("latin1-byte", "reviews.csv", GOOD_CSV.encode() + "café,pos\n".encode("latin-1"), TEXT_ARCH, [],
     "reviews.csv:22: cannot be read as a CSV table: byte 0xe9 is not UTF-8"),
    ("unclosed-quote", "reviews.csv", GOOD_CSV + '"a quote never closed,pos\n' + "x" * 140_000 + "\n", TEXT_ARCH,
     [], "reviews.csv:22: cannot be read as CSV (field larger than field limit (131072)), most likely a quote"),
    ("label-outside-class-names", "reviews.csv", GOOD_CSV.replace("awful,neg", "awful,fox", 1), TEXT_ARCH,
     ["--class", "pos", "--class", "neg"], "reviews.csv:3: label 'fox' is not one of the --class names (pos, neg)"),
    ("text-column-superscript", "reviews.csv", GOOD_CSV, TEXT_ARCH, ["--text-column", "²"],
     "reviews.csv has no column '²' (--text-column) ; its columns are text, label"),
    # arrays
    ("stray-label", "data.npz", _arrays(y=np.where(np.arange(40) == 7, 100_000, np.arange(40) % 2)), FEATURE_ARCH,
     [], "data.npz: label 100000 (row 7) makes 100001 classes, of which 99998 have no example ; fix the label, "
         "or name every class with --class"),
    ("stray-test-label", "data.npz", _arrays(x_test=_features(5)[0], y_test=np.array([0, 1, 0, 4, 1])),
     FEATURE_ARCH, [], "label 4 (row 3 of y_test) makes 5 classes, of which 2 have no example (2, 3)"),
    ("float-images", "data.npz", _arrays(x=np.random.default_rng(0).random((40, 28, 28), dtype=np.float32)),
     FEATURE_ARCH, [], "x is float32 images (40, 28, 28) ; images must be uint8 0..255: save "
                       "(x * 255).round().astype(np.uint8) (or give feature vectors (N, D))"),
    ("float-images-0-255", "data.npz", _arrays(x=np.full((40, 8, 8, 3), 200.0)), FEATURE_ARCH, [],
     "x is float64 images (40, 8, 8, 3) ; images must be uint8 0..255: save x.round().clip(0, 255)"),
    ("five-dimensions", "data.npz", _arrays(x=np.zeros((40, 2, 3, 4, 5), np.float32)), FEATURE_ARCH, [],
     "x is float32 (40, 2, 3, 4, 5), 5 dimensions ; give uint8 images (N, H, W) or (N, H, W, C)"),
    ("channels-first", "data.npz", _arrays(x=np.zeros((40, 3, 16, 16), np.uint8)), IMAGE_ARCH, [],
     "x is uint8 (40, 3, 16, 16), images with their channels first ; save them channels last"),
    ("uint8-feature-rows", "data.npz", _arrays(x=np.zeros((40, 64), np.uint8)), FEATURE_ARCH, [],
     "x is uint8 (40, 64): feature vectors must be float ; save x.astype(np.float32)"),
    ("zero-bytes", "data.npz", b"", FEATURE_ARCH, [], "data.npz is empty (0 bytes)"),
    ("no-arrays", "data.npz", {}, FEATURE_ARCH, [], "data.npz holds no arrays ; save the examples as x"),
    ("zero-rows", "data.npz", {"x": np.zeros((0, 4), np.float32), "y": np.zeros(0, np.int64)}, FEATURE_ARCH, [],
     "data.npz: x has no rows"),
    ("empty-test-split", "data.npz", _arrays(x_test=np.zeros((0, 4), np.float32), y_test=np.zeros(0, int)),
     FEATURE_ARCH, [], "x_test is float32 (0, 4), no rows ; save one row per example (or save no x_test and y_test)"),
    ("object-x", "data.npz", _arrays(x=np.array([np.zeros(4), np.zeros(3)] * 20, dtype=object)), FEATURE_ARCH,
     [], "data.npz holds an array of Python objects (dtype object"),
    ("scalar-x", "data.npz", {"x": np.float32(3.0)}, FEATURE_ARCH, [],
     "data.npz: x is a single value (float32), not one row per example"),
    ("bool-labels", "data.npz", _arrays(y=np.arange(40) % 2 == 1), FEATURE_ARCH, [],
     "the labels are bool, not classes ; labels are integers 0, 1, ... and -1 for unknown: save y.astype"),
    ("one-hot-labels", "data.npz", _arrays(y=np.eye(2, dtype=np.int64)[np.arange(40) % 2]), FEATURE_ARCH, [],
     "40 examples but (40, 2) labels ; give one label per example (-1 when unknown) (one-hot rows? give "
     "y.argmax(axis=1))"),
    ("uint64-label-past-int64", "data.npz", _arrays(y=np.array([0, 1] * 19 + [0, 2 ** 64 - 1], np.uint64)),
     FEATURE_ARCH, [], "label 18446744073709551615 is not a class"),
]
TEST_FILES = {"test-label-not-trained": _csv([("fine", "pos"), ("so-so", "meh")]),
              "test-row-unlabeled": _csv([("fine", ""), ("bad", "neg")])}


@pytest.mark.parametrize("case, name, content, arch, extra, message", CASES, ids=[case[0] for case in CASES])
def test_a_bad_table_or_array_file_is_refused_naming_it(tmp_path, capsys, case, name, content, arch, extra,
                                                        message):
    data = tmp_path / "data"
    data.mkdir()
    path = _write(data / name, content)
    if case in TEST_FILES:
        extra = [_write(data / "test.csv", TEST_FILES[case]).as_posix() if value == "TEST" else value
                 for value in extra]
    argv = ["train", "--dataset", str(path), "--arch", arch, *FAST, "--run-dir", str(tmp_path / "runs"), *extra]
    err = refused(capsys, argv, watched=(tmp_path,))
    assert message in err, err
    assert not (tmp_path / "runs").exists()


def _train(tmp_path: Path, path: Path, arch: str, *extra: str) -> int:
    return main(["train", "--dataset", str(path), "--arch", arch, *FAST, "--run-dir", str(tmp_path / "runs"),
                 *extra])


def test_uint8_labels_as_keras_ships_them_train(tmp_path, capsys):
    x, y = _features()
    _write(tmp_path / "keras.npz", {"x": x, "y": y.astype(np.uint8)[:, None],  # (N, 1) uint8, as cifar10 ships
                                    "x_test": x[:10], "y_test": y[:10].astype(np.uint8)})
    assert _train(tmp_path, tmp_path / "keras.npz", FEATURE_ARCH) == 0
    data = open_dataset(DataConfig(dataset=str(tmp_path / "keras.npz")))
    assert data.num_classes == 2 and data.targets("train").dtype == np.int64
    assert data.targets("train").tolist() == y.tolist()


def test_json_labels_1_and_string_1_and_1_0_are_one_class(tmp_path):
    records = [{"text": f"text {i}", "label": [1, "1", 1.0, 0, "0", None][i % 6]} for i in range(30)]
    records[5]["label"] = " 0 "  # a class name is stripped
    _write(tmp_path / "rows.jsonl", _jsonl(records))
    data = open_dataset(DataConfig(dataset=str(tmp_path / "rows.jsonl")))
    assert data.classes == ["0", "1"]
    assert data.targets("train")[:12].tolist() == [1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, -1]


def test_an_excel_csv_with_a_byte_order_mark_reads(tmp_path):
    _write(tmp_path / "excel.csv", b"\xef\xbb\xbf" + GOOD_CSV.replace("\n", "\r\n").encode())
    data = open_dataset(DataConfig(dataset=str(tmp_path / "excel.csv")))
    assert data.classes == ["neg", "pos"] and data.size("train") == 20
    assert data.texts("train", [0]) == ["review 0 great"]


def test_class_names_are_normalised_and_sorted_by_value(tmp_path):
    cafe_nfd = "cafe\u0301"
    rows = [("a", "café"), ("b", f" {cafe_nfd}"), ("c", "tea ")]
    _write(tmp_path / "drinks.csv", _csv(rows))
    assert open_dataset(DataConfig(dataset=str(tmp_path / "drinks.csv"))).classes == ["café", "tea"]
    _write(tmp_path / "numbers.csv", _csv([("a", "10"), ("b", "9"), ("c", "-1"), ("d", " 9")]))
    assert open_dataset(DataConfig(dataset=str(tmp_path / "numbers.csv"))).classes == ["-1", "9", "10"]
    _write(tmp_path / "digits.csv", _csv([("a", "1"), ("b", "²")]))  # "²".isdigit(), but int("²") fails
    assert open_dataset(DataConfig(dataset=str(tmp_path / "digits.csv"))).classes == ["1", "²"]


def test_an_empty_label_cell_is_still_not_labeled_yet(tmp_path):
    _write(tmp_path / "some.csv", GOOD_CSV + "not labeled yet,\n,\n\n")  # ",": a row of empty fields, skipped
    data = open_dataset(DataConfig(dataset=str(tmp_path / "some.csv")))
    assert data.size("train") == 21 and data.targets("train")[-1] == -1


CLASSES_OF = ("import sys; from svp.data import from_table\n"
              "try:\n    print(from_table(sys.argv[1]).classes)\n"
              "except Exception as error:\n    print(type(error).__name__, error)\n")


def test_the_class_order_does_not_depend_on_the_hash_seed(tmp_path):
    """``1`` and ``01`` tied under sort(key=int), so set order (PYTHONHASHSEED) chose the class numbers."""
    path = _write(tmp_path / "numbers.csv", _csv(_texts(12, labels=("2", "1", "01"))))
    # before the fix, seeds 0 and 4 put "01" and "1" in opposite orders (sorted by int, ties in set order)
    children = [subprocess.Popen([sys.executable, "-c", CLASSES_OF, str(path)], stdout=subprocess.PIPE, text=True,
                                 env=subprocess_env(PYTHONHASHSEED=seed)) for seed in ("0", "4")]
    outputs = {child.communicate(timeout=120)[0] for child in children}
    assert len(outputs) == 1, outputs
    (output,) = outputs
    assert output.startswith("UsageError") and "the label '01' is the number 1, spelled '1' at" in output
    with pytest.raises(UsageError, match="numbers.csv:4: the label '01'"):
        open_dataset(DataConfig(dataset=str(path)))


def test_labels_are_refused_beyond_the_class_names_but_gaps_are_fine_with_them(tmp_path):
    x, _ = _features()
    y = np.full(40, -1)
    y[:3] = [0, 2, 2]  # class 1 has no example yet: fine once every class is named
    _write(tmp_path / "some.npz", {"x": x, "y": y})
    with pytest.raises(UsageError, match=r"label 2 \(row 1\) makes 3 classes, of which 1 has no example \(1\)"):
        open_dataset(DataConfig(dataset=str(tmp_path / "some.npz")))
    data = open_dataset(DataConfig(dataset=str(tmp_path / "some.npz"), classes=("cat", "dog", "fox")))
    assert data.num_classes == 3
