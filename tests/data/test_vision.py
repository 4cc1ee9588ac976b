"""Image datasets read from their real on-disk formats; batched transforms."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from svp.config import DataConfig
from svp.data import open_dataset, split_dev
from svp.data.vision import read_idx
from svp.errors import UsageError


def test_fashion_mnist_reads_idx_files(fashion_env):
    data = open_dataset(DataConfig(datasets_dir=str(fashion_env)))
    assert data.inputs["train"].shape == (300, 1, 28, 28) and data.inputs["train"].dtype == torch.uint8
    assert data.size("test") == 100 and data.num_classes == 10 and data.in_channels == 1
    np.testing.assert_array_equal(data.targets("train")[:12], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1])
    raw = read_idx(fashion_env / "train-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(data.inputs["train"][7, 0].numpy(), raw[7])


def test_idx_reader_refuses_truncated_files(tmp_path):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]))
    with pytest.raises(UsageError, match="truncated: expected 5 values, found 2"):
        read_idx(path)


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv("SVP_DATA", raising=False)
    monkeypatch.setattr("svp.data.vision.DEBIAN_FASHION_MNIST", str(tmp_path / "absent"))
    monkeypatch.setattr("svp.data.vision._try_download", lambda download, what: None)  # offline
    with pytest.raises(UsageError, match="apt-get install dataset-fashion-mnist"):
        open_dataset(DataConfig(datasets_dir=str(tmp_path)))


def test_cifar10_reads_pickle_batches(cifar_dir):
    data = open_dataset(DataConfig(dataset="cifar10", datasets_dir=str(cifar_dir)))
    assert data.inputs["train"].shape == (400, 3, 32, 32) and data.size("test") == 100
    with open(cifar_dir / "cifar-10-batches-py" / "data_batch_2", "rb") as handle:
        batch = pickle.load(handle)
    first = batch["data"][0].reshape(3, 32, 32)
    np.testing.assert_array_equal(data.inputs["train"][80].numpy(), first)
    assert data.targets("train")[80] == batch["labels"][0]


def test_missing_cifar_batches_are_named(tmp_path, monkeypatch):
    monkeypatch.setattr("svp.data.vision._try_download", lambda download, what: None)
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(UsageError, match="data_batch_1.*cifar.html"):
        open_dataset(DataConfig(dataset="cifar10", datasets_dir=str(tmp_path)))


def test_batches_follow_the_indices_and_return_them(fashion_env):
    data = open_dataset(DataConfig(datasets_dir=str(fashion_env), augmentation=False))
    indices = np.array([5, 3, 200, 17, 9])
    got = list(data.batches("train", indices, 2))
    assert [len(b[2]) for b in got] == [2, 2, 1]
    np.testing.assert_array_equal(torch.cat([b[2] for b in got]).numpy(), indices)
    np.testing.assert_array_equal(torch.cat([b[1] for b in got]).numpy(), data.targets("train")[indices])


def test_split_dev_is_seeded_and_disjoint():
    pool, dev = split_dev(100, 10, True, 3)
    again, _ = split_dev(100, 10, True, 3)
    np.testing.assert_array_equal(pool, again)
    assert len(dev) == 10 and len(np.union1d(pool, dev)) == 100
    pool, dev = split_dev(100, 10, False, 3)
    np.testing.assert_array_equal(dev, np.arange(90, 100))
    with pytest.raises(UsageError, match="--validation 100"):
        split_dev(100, 100, True, 0)


def test_cifar_is_found_under_torchvisions_and_the_originals_layouts(tmp_path):
    from conftest import write_fake_cifar10

    torchvision_layout = write_fake_cifar10(tmp_path / "tv", 100, 20, seed=3)  # <dir>/cifar-10-batches-py
    write_fake_cifar10(tmp_path / "original" / "cifar10", 100, 20, seed=3)  # the original's <dir>/cifar10/...
    ours = open_dataset(DataConfig(dataset="cifar10", datasets_dir=str(torchvision_layout)))
    theirs = open_dataset(DataConfig(dataset="cifar10", datasets_dir=str(tmp_path / "original")))
    assert torch.equal(ours.inputs["train"], theirs.inputs["train"]) and ours.size("train") == 100
