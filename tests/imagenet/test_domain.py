"""The ImageNet domain: class-folder data, torchvision ResNets, the original defaults."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from svp.cli import build_config, build_parser, main
from svp.config import DataConfig
from svp.data import DATASETS
from svp.data.imagenet import imagenet
from svp.errors import UsageError
from svp.imagenet import DOMAIN, IMAGENET_DEFAULTS
from svp.models import MODELS, classifier_of

CLASSES = ("n01440764", "n01443537")


def write_folder(root: Path, per_class: int, classes: tuple[str, ...] = CLASSES) -> None:
    """``per_class`` small JPEGs per class, each class its own colour."""
    rng = np.random.default_rng(len(str(root)))
    for label, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 64, size=(30, 40, 3)) + 120 * label
            Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{name}_{i}.JPEG", quality=90)


@pytest.fixture(scope="module")
def datasets_dir(tmp_path_factory) -> Path:
    """``<dir>/imagenet/{train,val}``: 2 classes, 4 training and 2 validation images each."""
    root = tmp_path_factory.mktemp("datasets")
    write_folder(root / "imagenet" / "train", 4)
    write_folder(root / "imagenet" / "val", 2)
    return root


def parse(*argv: str):
    return build_config(build_parser(DOMAIN).parse_args(list(argv)), DOMAIN)


def test_registered() -> None:
    assert "imagenet" in DATASETS
    for depth in (18, 34, 50, 101, 152):
        assert f"imagenet-resnet{depth}" in MODELS


def test_torchvision_resnet_has_fc() -> None:
    model = MODELS["imagenet-resnet18"](num_classes=5, in_channels=1)
    assert classifier_of(model) is model.fc
    assert model.fc.out_features == 5
    assert model(torch.randn(1, 1, 64, 64)).shape == (1, 5)


def test_dataset_reads_class_folders(datasets_dir: Path) -> None:
    # --datasets-dir may also name the imagenet folder itself
    data = imagenet(DataConfig(dataset="imagenet", datasets_dir=str(datasets_dir / "imagenet")))
    assert (data.num_classes, data.in_channels) == (2, 3)
    assert (data.size("train"), data.size("test")) == (8, 4)
    assert data.targets("train").tolist() == [0] * 4 + [1] * 4
    assert data.targets("test").tolist() == [0, 0, 1, 1]
    for split, train in (("train", True), ("train", False), ("test", False)):
        x, y, idx = next(data.batches(split, [3, 0, 2], 4, train=train))
        assert x.shape == (3, 3, 224, 224) and x.dtype == torch.float32
        assert idx.tolist() == [3, 0, 2]
        assert y.tolist() == data.targets(split)[[3, 0, 2]].tolist()
    # pool scoring reads the training images deterministically (centre crop)
    first, second = (next(data.batches("train", [5], 1))[0] for _ in range(2))
    assert torch.equal(first, second)


def test_val_labels_follow_train_classes(tmp_path: Path) -> None:
    write_folder(tmp_path / "train", 1)
    write_folder(tmp_path / "val", 1, classes=CLASSES[1:])
    data = imagenet(DataConfig(dataset="imagenet", datasets_dir=str(tmp_path)))
    assert data.targets("test").tolist() == [1]


def test_val_class_unknown_to_train(tmp_path: Path) -> None:
    write_folder(tmp_path / "train", 1)
    write_folder(tmp_path / "val", 1, classes=("n99999999",))
    with pytest.raises(UsageError, match="n99999999"):
        imagenet(DataConfig(dataset="imagenet", datasets_dir=str(tmp_path)))


def test_missing_val_folder_exits_2(tmp_path: Path, capsys) -> None:
    write_folder(tmp_path / "imagenet" / "train", 1)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--datasets-dir", str(tmp_path), "--run-dir", str(tmp_path / "run"), "--no-cuda",
              "--quiet"], domain=DOMAIN)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "imagenet" / "val") in err
    assert "one subfolder of images per class" in err
    assert not (tmp_path / "run").exists()


def test_original_defaults() -> None:
    config = parse("active")
    for model in (config.target, config.proxy):
        assert model.arch == "imagenet-resnet18"
        assert model.epochs == (1, 1, 1, 1, 1, 25, 30, 20, 20)
        assert model.learning_rates == (0.0167, 0.0333, 0.05, 0.0667, 0.0833, 0.1, 0.01, 0.001, 0.0001)
        assert (model.batch_size, model.eval_batch_size) == (256, 256)
        assert (model.momentum, model.weight_decay) == (0.9, 1e-4)
        assert (model.label_smoothing, model.fp16, model.loss_scale) == (0.1, False, 256.0)
        assert model.scale_learning_rates
    assert config.data.dataset == "imagenet"
    assert (config.initial_subset, config.rounds) == (25_623, (102_493, 128_117, 128_117, 128_117, 128_117))
    assert config.selection.method == "least_confidence"
    coreset = parse("coreset")
    assert (coreset.subset, coreset.selection.method) == (512_466, "least_confidence")


def test_scale_learning_rates_by_batch_over_256() -> None:
    base = IMAGENET_DEFAULTS["learning_rates"]
    config = parse("active", "--arch", "resnet50", "--batch-size", "512", "--proxy-arch", "resnet18",
                   "--proxy-batch-size", "1024", "--proxy-scale-learning-rates")
    assert config.target.arch == "imagenet-resnet50" and config.proxy.arch == "imagenet-resnet18"
    assert config.target.learning_rates == pytest.approx([r * 2 for r in base])
    assert config.proxy.learning_rates == pytest.approx([r * 4 for r in base])
    assert config.proxy.eval_batch_size == config.target.eval_batch_size == 512
    unscaled = parse("train", "--batch-size", "512", "--no-scale-learning-rates")
    assert unscaled.model.learning_rates == pytest.approx(base)
    given = parse("train", "--batch-size", "128", "-e", "2", "-l", "0.4")
    assert given.model.learning_rates == pytest.approx([0.2])


def test_names_outside_the_aliases_pass_through() -> None:
    config = parse("active", "--proxy-arch", "small-cnn", "--arch", "imagenet-resnet34")
    assert (config.proxy.arch, config.target.arch) == ("small-cnn", "imagenet-resnet34")


def test_active_end_to_end(datasets_dir: Path, tmp_path: Path) -> None:
    # a cheap proxy (an alias-free name) selects; the ResNet18 target trains once, at 6 examples
    code = main(["active", "--datasets-dir", str(datasets_dir), "--run-dir", str(tmp_path),
                 "--arch", "resnet18", "--proxy-arch", "mlp", "--epochs", "1", "--learning-rate", "0.01",
                 "--batch-size", "4", "--initial-subset", "4", "--round", "2", "--eval-target-at", "6",
                 "--no-cuda", "--seed", "0", "--quiet"], domain=DOMAIN)
    assert code == 0
    (run,) = tmp_path.iterdir()
    for name in ("config.json", "proxy.csv", "target.csv", "selection.csv", "initial_subset_4.index",
                 "proxy/4/labeled_4.index", "proxy/6/labeled_6.index", "target/6/labeled_6.index"):
        assert (run / name).exists(), name
    config = json.loads((run / "config.json").read_text())
    assert (config["target"]["arch"], config["proxy"]["arch"]) == ("imagenet-resnet18", "mlp")
    assert config["target"]["learning_rates"] == pytest.approx([0.01 * 4 / 256])
    assert config["target"]["label_smoothing"] == 0.1
    target_rows = (run / "target.csv").read_text().splitlines()
    assert len(target_rows) == 2 and target_rows[1].startswith("6,")
    labeled = np.loadtxt(run / "proxy" / "6" / "labeled_6.index", dtype=np.int64)
    assert len(set(labeled.tolist())) == 6 and labeled.max() < 8
