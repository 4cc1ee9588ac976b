"""Amazon review CSVs: streaming reader, quantisation, texts, errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from svp.config import DataConfig
from svp.data.amazon import ALPHABET, DATASETS, MAX_LENGTH
from svp.errors import UsageError

# Physical lines: row 0 on line 1, row 1 on lines 2-3 (newline inside text), row 2 on line 4.
TRAIN = (
    '"2","Great, really","Works well; 10/10 — café ""best"" buy!"\n'
    '"1","Bad","Broke after\na day, sadly."\n'
    '"2","Ok","fine"\n'
)
TEST = '"1","Meh","so-so"\n'


def _write(root: Path, train: str = TRAIN, test: str = TEST, folder: str = "amazon_review_polarity_csv") -> Path:
    base = root / folder
    base.mkdir(parents=True, exist_ok=True)
    (base / "train.csv").write_text(train, encoding="utf-8")
    (base / "test.csv").write_text(test, encoding="utf-8")
    return base


def _load(root: Path, name: str = "amazon_review_polarity"):
    return DATASETS[name](DataConfig(dataset=name, datasets_dir=str(root)))


def _codes(chars: str) -> list[int]:
    return [ALPHABET.index(c) + 1 if c in ALPHABET else 0 for c in chars]


def test_reads_rows_labels_and_sizes(tmp_path):
    _write(tmp_path)
    data = _load(tmp_path)
    assert (data.name, data.num_classes, data.in_channels) == ("amazon_review_polarity", 2, 1)
    assert data.size("train") == 3 and data.size("test") == 1
    assert data.inputs["train"].dtype == torch.uint8
    assert data.inputs["train"].shape == (3, MAX_LENGTH)
    assert data.labels["train"].dtype == torch.int64
    assert data.targets("train").tolist() == [1, 0, 1]
    assert data.targets("test").tolist() == [0]


def test_exact_char_codes(tmp_path):
    _write(tmp_path)
    codes = _load(tmp_path).inputs["train"].numpy()
    # Title and text joined by a space, lowercased; space, 'é' and '—' are unknown (0).
    joined = 'great, really works well; 10/10 \x00 caf\x00 "best" buy!'
    expected = _codes(joined)
    assert codes[0, :len(expected)].tolist() == expected
    # Spelled out: "great, really" and '"best" buy!' (the tail of the row).
    assert codes[0, :13].tolist() == [7, 18, 5, 1, 20, 38, 0, 18, 5, 1, 12, 12, 25]
    assert codes[0, len(expected) - 11:len(expected)].tolist() == [45, 2, 5, 19, 20, 45, 0, 2, 21, 25, 41]
    assert not codes[0, len(expected):].any()  # padding
    newline_row = _codes("bad broke after\na day, sadly.")
    assert codes[1, :len(newline_row)].tolist() == newline_row
    assert ALPHABET.index("\n") + 1 in codes[1]


def test_long_text_is_cut(tmp_path):
    _write(tmp_path, train=f'"1","T","{"ab" * 800}"\n')
    codes = _load(tmp_path).inputs["train"].numpy()
    assert codes.shape == (1, MAX_LENGTH)
    assert codes[0, :3].tolist() == [20, 0, 1]  # "t ab..."
    assert codes[0, -1] == 2  # "t " + the first 1012 chars of "abab...": ends with "b"


def test_transform_gives_long(tmp_path):
    _write(tmp_path)
    data = _load(tmp_path)
    x, y, idx = next(data.batches("train", np.array([2, 0]), batch_size=2))
    assert x.dtype == torch.int64 and x.shape == (2, MAX_LENGTH)
    assert y.tolist() == [1, 1] and idx.tolist() == [2, 0]


def test_texts_reread_raw_rows(tmp_path):
    _write(tmp_path)
    data = _load(tmp_path)
    assert data.texts("train", np.array([2, 0, 1])) == [
        "Ok fine",
        'Great, really Works well; 10/10 — café "best" buy!',
        "Bad Broke after\na day, sadly.",
    ]
    assert data.texts("test", [0]) == ["Meh so-so"]


def test_full_has_five_classes(tmp_path):
    _write(tmp_path, train='"5","a","b"\n"1","c","d"\n"3","e","f"\n', folder="amazon_review_full_csv")
    data = _load(tmp_path, "amazon_review_full")
    assert data.num_classes == 5
    assert data.targets("train").tolist() == [4, 0, 2]


def test_crlf_and_blank_line(tmp_path):
    _write(tmp_path, train='"1","a","b"\r\n\r\n"2","c","d"\r\n')
    data = _load(tmp_path)
    assert data.targets("train").tolist() == [0, 1]
    assert data.texts("train", [1]) == ["c d"]


def test_malformed_row_names_line(tmp_path):
    _write(tmp_path, train=TRAIN + '"1","only two"\n')
    with pytest.raises(UsageError, match=r"train\.csv:5: expected 3 fields"):
        _load(tmp_path)


@pytest.mark.parametrize("label, message", [("3", "out of range"), ("x", "not an integer"), ("0", "out of range")])
def test_bad_label_names_line(tmp_path, label, message):
    _write(tmp_path, train=TRAIN + f'"{label}","t","u"\n')
    with pytest.raises(UsageError, match=rf"train\.csv:5: label .*{message}"):
        _load(tmp_path)


def test_label_out_of_range_for_full(tmp_path):
    _write(tmp_path, train='"5","a","b"\n"6","c","d"\n', folder="amazon_review_full_csv")
    with pytest.raises(UsageError, match=r"train\.csv:2: label 6 is out of range; expected 1\.\.5"):
        _load(tmp_path, "amazon_review_full")


def test_missing_file_names_expected_path(tmp_path):
    base = _write(tmp_path)
    (base / "test.csv").unlink()
    with pytest.raises(UsageError) as info:
        _load(tmp_path)
    assert str(base / "test.csv") in str(info.value)
    assert "drive.google.com" in str(info.value)


def test_empty_file_is_an_error(tmp_path):
    _write(tmp_path, train="")
    with pytest.raises(UsageError, match="no reviews"):
        _load(tmp_path)


def test_changed_file_is_detected(tmp_path):
    base = _write(tmp_path)
    data = _load(tmp_path)
    (base / "train.csv").write_text(TRAIN + '"1","x","y"\n', encoding="utf-8")
    with pytest.raises(UsageError, match="changed since it was loaded"):
        data.texts("train", [0])


def test_each_review_is_quantized_from_its_raw_text(tmp_path):
    _write(tmp_path)
    data = _load(tmp_path)
    for i, doc in enumerate(data.texts("train", [0, 1, 2])):
        codes = _codes(doc.lower()[:MAX_LENGTH])
        assert data.inputs["train"][i].tolist() == codes + [0] * (MAX_LENGTH - len(codes))
