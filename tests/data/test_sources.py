"""Data of one's own: .npz/.npy files of images or feature vectors, and arrays from Python."""
from __future__ import annotations

import json

import numpy as np
import pytest

import svp
from svp.cli import main
from svp.config import ActiveConfig, DataConfig, ModelConfig, RuntimeConfig
from svp.data import DATASETS, MODALITIES, dataset_modality, from_arrays, open_dataset, register
from svp.errors import UsageError
from run_helpers import column, only_run, restored, rows

FAST = ["--epochs", "2", "--learning-rate", "0.05", "--batch-size", "32", "--no-cuda", "--quiet", "--seed", "0"]


def _images(n: int, seed: int = 0, channels: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Learnable uint8 images (N, 12, 12, 3): the brightness tells the class."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (rng.integers(0, 60, (n, 12, 12, 3)) + 80 * y[:, None, None, None]).astype(np.uint8)
    return (x if channels else x[..., 0]), y


def _features(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings (N, 16): three separable clusters."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    return (rng.normal(size=(n, 16)) + 3 * np.eye(3, 16)[y]).astype(np.float32), y


@pytest.fixture
def registry():
    with restored(DATASETS, MODALITIES):
        yield


def test_an_npz_of_images_runs_active_learning(tmp_path):
    x, y = _images(300)
    x_test, y_test = _images(60, seed=1)
    path = tmp_path / "mine.npz"
    np.savez(path, x=x, y=y, x_test=x_test, y_test=y_test)
    assert dataset_modality(str(path)) == "image"
    assert main(["active", "--dataset", str(path), "--run-dir", str(tmp_path / "runs"), "--arch", "small-cnn-16",
                 "--proxy-arch", "logistic", "--initial-subset", "60", "--round", "60", *FAST]) == 0
    run = only_run(tmp_path / "runs")
    assert column(run, "proxy.csv") == [60, 120] and column(run, "target.csv") == [120]
    assert json.loads((run / "config.json").read_text())["data"]["dataset"] == str(path)
    data = open_dataset(DataConfig(dataset=str(path)))
    assert (data.num_classes, data.in_channels, data.modality) == (3, 3, "image")
    assert data.inputs["train"].shape == (300, 3, 12, 12)  # (N, C, H, W), as the engine takes images


def test_an_npz_of_embeddings_with_a_linear_head(tmp_path):
    x, y = _features(400)
    path = tmp_path / "embeddings.npz"
    np.savez(path, x=x, y=y)  # no test split: no test accuracy, the dev set measures instead
    assert dataset_modality(str(path)) == "features"
    assert main(["active", "--dataset", str(path), "--run-dir", str(tmp_path / "runs"), "--arch", "mlp-head",
                 "--proxy-arch", "linear-head", "--selection-method", "kcenters", "--validation", "100",
                 "--initial-subset", "30", "--round", "30", *FAST]) == 0
    run = only_run(tmp_path / "runs")
    (target,) = rows(run / "target.csv")
    assert float(target["test_accuracy"]) == -1 and float(target["dev_accuracy"]) > 0.5  # chance: 1/3


def test_arrays_from_python_registered_under_a_name(registry, tmp_path):
    x, y = _images(200, channels=False)  # greyscale (N, H, W)
    register("mine", from_arrays(x, y, *_images(40, seed=2, channels=False)))
    assert MODALITIES["mine"] == "image"
    run = svp.run_active(ActiveConfig(
        data=DataConfig(dataset="mine", augmentation=False),
        target=ModelConfig(arch="mlp", epochs=(2,), learning_rates=(0.05,), batch_size=32),
        proxy=ModelConfig(arch="logistic", epochs=(2,), learning_rates=(0.05,), batch_size=32),
        runtime=RuntimeConfig(run_dir=str(tmp_path), seed=1, cuda=False, quiet=True),
        initial_subset=40, rounds=(40,), selection=svp.SelectionOptions(method="entropy"))).run
    assert column(run, "target.csv") == [80]
    with pytest.raises(ValueError, match="a dataset named 'mine' exists"):
        register("mine", from_arrays(x, y))


def test_unknown_labels_are_refused_by_the_simulation(tmp_path, capsys):
    x, y = _images(100)
    y[::4] = -1
    path = tmp_path / "partly.npz"
    np.savez(path, x=x, y=y)
    with pytest.raises(SystemExit) as exit_info:
        main(["active", "--dataset", str(path), "--run-dir", str(tmp_path / "runs"), "--arch", "logistic",
              "--initial-subset", "20", "--round", "20", *FAST])
    assert exit_info.value.code == 2
    assert "25 of its 100 training examples have no label (-1)" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
    np.save(tmp_path / "unlabeled.npy", x)  # x alone: nothing labeled, so no classes known
    with pytest.raises(UsageError, match="unlabeled.npy: no example has a label, so the classes are not known"):
        open_dataset(DataConfig(dataset=str(tmp_path / "unlabeled.npy")))


@pytest.mark.parametrize("arrays, message", [
    (lambda: dict(x=np.zeros((10, 8, 8), np.uint8), y=np.zeros(9, int)), "10 examples but (9,) labels"),
    (lambda: dict(x=np.zeros((10, 4), np.float32), y=np.full(10, 0.5)), "the labels are float64, not classes"),
    (lambda: dict(x=np.zeros((10, 4), np.float32), y=np.array([0, 1] * 4 + [-2, 1])), "label -2 is not a class"),
    (lambda: dict(x=np.zeros((10, 4), np.float32), y=np.zeros(10, int)), "the labels name 1 class"),
    (lambda: dict(x=np.zeros((10, 4), np.float32), y=np.arange(10) % 2, x_test=np.zeros((3, 4), np.float32)),
     "x_test and y_test go together"),
    (lambda: dict(x=np.zeros((10, 4), np.float32), y=np.arange(10) % 2, x_test=np.zeros((3, 5), np.float32),
                  y_test=np.zeros(3, int)), "give both in one shape"),
    (lambda: dict(x=np.full((10, 4), np.nan, np.float32), y=np.arange(10) % 2), "x holds NaN"),
    (lambda: dict(x=np.zeros(10, np.float32), y=np.arange(10) % 2), "give uint8 images (N, H, W[, C]) or float"),
    (lambda: dict(images=np.zeros((10, 4), np.float32)), "but no array x"),
    (lambda: dict(x=np.zeros((10, 4), np.float32), y=np.arange(10) % 2, z=np.zeros(2)), "arrays z are not"),
])
def test_bad_arrays_are_refused_naming_the_file(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays())
    with pytest.raises(UsageError, match="bad.npz") as error:
        open_dataset(DataConfig(dataset=str(path)))
    assert message in str(error.value)


def test_files_that_are_not_arrays_or_not_there(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(UsageError, match="junk.npz cannot be read as numpy arrays"):
        open_dataset(DataConfig(dataset=str(tmp_path / "junk.npz")))
    with pytest.raises(UsageError, match="missing.npz: no such file"):
        open_dataset(DataConfig(dataset=str(tmp_path / "missing.npz")))
    with pytest.raises(UsageError, match="unknown dataset 'cifar11' ; choose one of: .* or give a folder"):
        open_dataset(DataConfig(dataset="cifar11"))


def test_an_architecture_for_other_inputs_is_refused_before_training(tmp_path, capsys):
    x, y = _features(50)
    np.savez(tmp_path / "emb.npz", x=x, y=y)
    with pytest.raises(SystemExit):
        main(["train", "--dataset", str(tmp_path / "emb.npz"), "--run-dir", str(tmp_path / "runs"), "--arch",
              "small-cnn", *FAST])
    assert "--arch small-cnn takes images but " in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_embeddings_as_the_proxys_view_of_an_image_dataset(tmp_path, capsys):
    x, y = _images(300)
    x_test, y_test = _images(60, seed=1)
    np.savez(tmp_path / "images.npz", x=x, y=y, x_test=x_test, y_test=y_test)
    # "embeddings" of the same images, row for row: here their mean colour, a cheap feature
    embed = lambda images: images.reshape(len(images), -1, 3).mean(1).astype(np.float32) / 255  # noqa: E731
    np.savez(tmp_path / "embeddings.npz", x=embed(x), x_test=embed(x_test))
    argv = ["active", "--dataset", str(tmp_path / "images.npz"), "--arch", "small-cnn-16", "--proxy-arch",
            "linear-head", "--initial-subset", "60", "--round", "60", *FAST]
    assert main([*argv, "--proxy-dataset", str(tmp_path / "embeddings.npz"), "--run-dir", str(tmp_path / "r")]) == 0
    run = only_run(tmp_path / "r")
    assert column(run, "proxy.csv") == [60, 120] and column(run, "target.csv") == [120]
    assert all(float(r["test_accuracy"]) > 0.5 for r in rows(run / "proxy.csv"))  # the head learned the colours
    np.savez(tmp_path / "short.npz", x=embed(x[:299]))
    with pytest.raises(SystemExit):
        main([*argv, "--proxy-dataset", str(tmp_path / "short.npz"), "--run-dir", str(tmp_path / "r2")])
    assert "short.npz: x has 299 rows but images.npz has 300 train examples" in capsys.readouterr().err
    assert not (tmp_path / "r2").exists()


def test_a_torch_dataset_through_from_torch(registry, tmp_path):
    from torch.utils.data import TensorDataset

    import torch
    from svp.data import from_torch

    x, y = _features(200)
    x_test, y_test = _features(40, seed=3)
    train = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    data = from_torch(train, TensorDataset(torch.from_numpy(x_test), torch.from_numpy(y_test)), name="tensors")
    assert (data.num_classes, data.in_channels, data.modality, data.size("test")) == (3, 16, "features", 40)
    register("tensors", data)
    run = svp.run_active(ActiveConfig(
        data=DataConfig(dataset="tensors"),
        target=ModelConfig(arch="mlp-head", epochs=(2,), learning_rates=(0.05,), batch_size=32),
        proxy=ModelConfig(arch="linear-head", epochs=(2,), learning_rates=(0.05,), batch_size=32),
        runtime=RuntimeConfig(run_dir=str(tmp_path), seed=1, cuda=False, quiet=True),
        initial_subset=30, rounds=(30,), selection=svp.SelectionOptions(method="kcenters"))).run
    (target,) = rows(run / "target.csv")
    assert float(target["test_accuracy"]) > 0.5  # three clusters; chance is 1/3
    with pytest.raises(UsageError, match="an item's input is list"):
        from_torch([([0.0], 1), ([1.0], 0)])


def test_class_names_for_arrays_nobody_has_labeled_yet(tmp_path):
    x, _ = _images(30)
    np.save(tmp_path / "unlabeled.npy", x)
    data = open_dataset(DataConfig(dataset=str(tmp_path / "unlabeled.npy"), classes=("cat", "dog", "fox")))
    assert (data.num_classes, data.classes) == (3, ["cat", "dog", "fox"])
    assert (data.targets("train") == -1).all()
    np.savez(tmp_path / "some.npz", x=x, y=np.array([2] + [-1] * 29))
    with pytest.raises(UsageError, match=r"label 2 is beyond the 2 classes --class names \(labels 0..1\)"):
        open_dataset(DataConfig(dataset=str(tmp_path / "some.npz"), classes=("cat", "dog")))
    for classes, message in ((("cat",), "names one class"), (("cat", "cat"), "DataConfig.classes 'cat' is given twice"),
                             (("cat", " "), "is not a list of class names")):
        with pytest.raises(UsageError, match=message):
            DataConfig(dataset="x.npz", classes=classes)
