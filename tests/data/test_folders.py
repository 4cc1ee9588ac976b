"""Folders of images of one's own: mixed formats, sizes and modes, unlabeled images, a cache that knows."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from svp.cli import main
from svp.config import DataConfig
from svp.data import dataset_modality, from_folder, open_dataset
from svp.errors import UsageError
from run_helpers import column, only_run


def _save(path: Path, shade: int, size: tuple[int, int], mode: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((size[1], size[0], 3), shade, np.uint8)
    image = Image.fromarray(pixels).convert(mode)
    image.save(path, quality=95) if path.suffix == ".jpg" else image.save(path)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SVP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def folder(tmp_path) -> Path:
    """PNG and JPEG, greyscale, RGB, RGBA and palette images of three sizes; a test split; unlabeled images."""
    root = tmp_path / "pets"
    kinds = [(".png", "L", (20, 16)), (".jpg", "RGB", (24, 24)), (".png", "RGBA", (16, 20)), (".png", "P", (20, 16))]
    for label, name in enumerate(("cat", "dog")):
        for i in range(12):
            suffix, mode, size = kinds[i % len(kinds)]
            _save(root / "train" / name / f"{i}{suffix}", 40 + 150 * label, size, mode)
        for i in range(3):
            _save(root / "test" / name / f"t{i}.png", 40 + 150 * label, (16, 16), "RGB")
    for i in range(5):
        _save(root / "unlabeled" / "batch1" / f"u{i}.jpg", 120, (30, 30), "RGB")
    (root / "train" / "cat" / "notes.txt").write_text("not an image, and not named like one: skipped")
    return root


def test_a_folder_of_mixed_images(cache, folder):
    assert dataset_modality(str(folder)) == "image"
    data = open_dataset(DataConfig(dataset=str(folder), image_size=16, augmentation=False))
    assert (data.num_classes, data.in_channels, data.modality) == (2, 3, "image")  # colour: some are
    assert data.inputs["train"].shape == (24 + 5, 3, 16, 16) and data.inputs["test"].shape == (6, 3, 16, 16)
    assert data.targets("train").tolist() == [0] * 12 + [1] * 12 + [-1] * 5  # unlabeled join as -1
    assert data.targets("test").tolist() == [0, 0, 0, 1, 1, 1]
    cat, dog = data.inputs["train"][0].float().mean(), data.inputs["train"][12].float().mean()
    assert abs(cat - 40) < 3 and abs(dog - 190) < 3  # the pixels, whatever the format
    same = from_folder(str(folder), image_size=16)  # the Python API's way to the same data
    assert np.array_equal(same.inputs["train"].numpy(), data.inputs["train"].numpy())


def test_sizes_that_differ_need_image_size(cache, folder):
    with pytest.raises(UsageError, match=r"the images differ in size \(.* is 20x16, .* is 24x24\) ; give "
                                         r"--image-size N"):
        open_dataset(DataConfig(dataset=str(folder)))


def test_the_cache_is_reused_and_rebuilt_when_a_file_changes(cache, folder, monkeypatch):
    config = DataConfig(dataset=str(folder), image_size=16)
    first = open_dataset(config)
    assert len(list(cache.iterdir())) == 1

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr("svp.data.image_cache.decode", no_decoding)
    second = open_dataset(config)  # from the cache alone
    assert np.array_equal(first.inputs["train"].numpy(), second.inputs["train"].numpy())
    monkeypatch.undo()
    monkeypatch.setenv("SVP_CACHE", str(cache))
    _save(folder / "train" / "dog" / "0.png", 250, (20, 16), "L")  # one file changes
    os.utime(folder / "train" / "dog" / "0.png", ns=(1, 1))
    (before,) = cache.iterdir()
    third = open_dataset(config)
    (after,) = cache.iterdir()  # a new cache, and the one of the folder as it was removed
    assert after != before and third.inputs["train"][12].float().mean() > 240


def test_an_unreadable_image_names_its_path(cache, folder):
    (folder / "train" / "dog" / "broken.png").write_bytes(b"\x89PNG but not really")
    with pytest.raises(UsageError, match=r"dog/broken.png is not an image Pillow can read"):
        open_dataset(DataConfig(dataset=str(folder), image_size=16))
    assert not cache.exists() or not any(cache.iterdir())  # no half-built cache


@pytest.mark.parametrize("make, message", [
    (lambda root: (root / "train").mkdir(parents=True), "holds 0 images in 0 class folders"),
    (lambda root: _save(root / "train" / "only" / "a.png", 1, (8, 8), "L"), "holds 1 images in 1 class folders"),
    (lambda root: [_save(root / s / c / "a.png", 1, (8, 8), "L") for s, c in
                   (("train", "a"), ("train", "b"), ("test", "zebra"))], "classes the training split lacks (zebra)"),
])
def test_folders_that_cannot_be_a_dataset(cache, tmp_path, make, message):
    root = tmp_path / "bad"
    make(root)
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        open_dataset(DataConfig(dataset=str(root)))


def test_active_learning_on_a_folder(cache, folder, tmp_path):
    labeled = tmp_path / "labeled"
    (labeled / "train").mkdir(parents=True)
    for name in ("cat", "dog"):
        os.symlink(folder / "train" / name, labeled / "train" / name)
    os.symlink(folder / "test", labeled / "test")
    assert main(["active", "--dataset", str(labeled), "--image-size", "16", "--arch", "small-cnn-16",
                 "--proxy-arch", "logistic", "--epochs", "2", "--learning-rate", "0.05", "--initial-subset", "8",
                 "--round", "8", "--run-dir", str(tmp_path / "runs"), "--no-cuda", "--quiet", "--seed", "0"]) == 0
    assert column(only_run(tmp_path / "runs"), "target.csv") == [16]


def test_one_file_listed_twice_has_no_one_label(cache, folder, tmp_path, capsys):
    from run_helpers import refused

    os.symlink(folder / "train" / "dog", folder / "train" / "cat" / "dogs")  # dog's images under cat too
    argv = ["train", "--dataset", str(folder), "--image-size", "16", "--arch", "mlp", "--epochs", "1",
            "--learning-rate", "0.01", "--no-cuda", "--quiet", "--run-dir", str(tmp_path / "runs")]
    err = refused(capsys, argv, watched=(folder, tmp_path / "runs"))
    assert f"{folder}/train/cat/dogs/0.png and {folder}/train/dog/0.png are one file (a link)" in err


def test_channel_statistics_in_chunks_are_those_of_the_whole(monkeypatch):
    from svp.data import sources

    images = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (50, 3, 4, 5), dtype=np.uint8))
    values = images.double() / 255
    mean, std = values.mean(dim=(0, 2, 3)), values.std(dim=(0, 2, 3))
    for chunk in (7, 4096):  # several chunks, and one
        monkeypatch.setattr(sources, "STATS_CHUNK", chunk)
        got = sources.channel_stats(images)
        np.testing.assert_allclose(got[0], mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(got[1], std.numpy(), rtol=1e-9)
