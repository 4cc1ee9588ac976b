"""Torch learners: your own architectures, starting weights, what methods that need features need of a model."""
from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import pytest
import torch
from torch import nn

import svp.cifar
from svp.cli import main
from svp.config import ActiveConfig, DataConfig, ModelConfig, RuntimeConfig, SelectionOptions
from svp.errors import UsageError
from svp.learners.torch import load_weights, read_weights, starting_model
from svp.models import MODALITIES, MODELS, create_model, register
from svp.workflows.active import run_active
from run_helpers import column, restored


class Tiny(nn.Module):
    """A user's own network: a linear map of a 4x4 average of the image."""

    def __init__(self, num_classes: int, in_channels: int, head: str = "classifier") -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(4)
        setattr(self, head, nn.Linear(in_channels * 16, num_classes))
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, self.head)(self.pool(x).flatten(1))


@pytest.fixture
def registry():
    """Registrations made by a test are undone after it."""
    with restored(MODELS, MODALITIES):
        yield


def test_a_model_registered_at_run_time_runs_active_learning(registry, cifar_dir, tmp_path):
    register("tiny", lambda num_classes, in_channels: Tiny(num_classes, in_channels))
    schedule = dict(epochs=(2,), learning_rates=(0.05,), batch_size=32)
    run = Path(run_active(ActiveConfig(
        data=DataConfig(dataset="cifar10", datasets_dir=str(cifar_dir)),
        target=ModelConfig(arch="mlp", **schedule), proxy=ModelConfig(arch="tiny", **schedule),
        runtime=RuntimeConfig(run_dir=str(tmp_path), seed=0, cuda=False, quiet=True),
        initial_subset=40, rounds=(20, 20), selection=SelectionOptions(method="kcenters"))))
    assert column(run, "proxy.csv") == [40, 60, 80] and column(run, "target.csv") == [60, 80]
    assert column(run, "selection.csv") == [60, 80]


def test_register_refuses_a_name_taken(registry):
    with pytest.raises(ValueError, match="an architecture named 'mlp' exists"):
        register("mlp", lambda num_classes, in_channels: Tiny(num_classes, in_channels))
    register("mlp", lambda num_classes, in_channels: Tiny(num_classes, in_channels), replace=True)
    assert isinstance(create_model("mlp", 10, 3), Tiny)


def test_kcenters_needs_a_named_classifier_layer(registry, cifar_dir, tmp_path, capsys):
    register("headless", lambda num_classes, in_channels: Tiny(num_classes, in_channels, head="last"))
    argv = ["active", "--datasets-dir", str(cifar_dir), "--run-dir", str(tmp_path / "runs"), "--arch", "mlp",
            "--proxy-arch", "headless", "--epochs", "1", "--learning-rate", "0.05", "--initial-subset", "40",
            "--round", "20", "--no-cuda", "--quiet"]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--selection-method", "kcenters"], domain=svp.cifar.DOMAIN)
    assert exit_info.value.code == 2
    assert ("--proxy-arch headless: Tiny has no 'classifier' or 'fc' layer to take features from, so kcenters "
            "cannot take its penultimate features ; name the final linear layer `classifier` or `fc`") in \
        capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
    assert main([*argv, "--selection-method", "least_confidence"], domain=svp.cifar.DOMAIN) == 0  # others work


def test_weights_start_a_model_and_a_resized_classifier_starts_afresh(tmp_path):
    trained = create_model("small-cnn", 10, 3)
    path = tmp_path / "pretrained.pt"
    torch.save(trained.state_dict(), path)
    same = create_model("small-cnn", 10, 3)
    load_weights(same, read_weights(path), path)
    for key, value in trained.state_dict().items():
        assert torch.equal(same.state_dict()[key], value), key
    torch.save({"model": trained.state_dict(), "epoch": 3}, tmp_path / "checkpoint.t7")  # an svp checkpoint
    other_classes = create_model("small-cnn", 4, 3)
    before = other_classes.classifier.weight.clone()
    load_weights(other_classes, read_weights(tmp_path / "checkpoint.t7"), "checkpoint.t7")
    assert torch.equal(other_classes.classifier.weight, before)  # 4 classes, not 10: its own
    body = [k for k in trained.state_dict() if not k.startswith("classifier")]
    assert all(torch.equal(other_classes.state_dict()[k], trained.state_dict()[k]) for k in body)


def test_weights_of_another_architecture_are_refused(tmp_path):
    path = tmp_path / "mlp.pt"
    torch.save(create_model("mlp", 10, 3).state_dict(), path)
    with pytest.raises(UsageError, match="mlp.pt does not fit this architecture .*missing"):
        load_weights(create_model("small-cnn", 10, 3), read_weights(path), path)
    (tmp_path / "garbage.pt").write_bytes(b"not a state dict")
    with pytest.raises(UsageError, match="garbage.pt cannot be read as saved weights"):
        read_weights(tmp_path / "garbage.pt")


def test_weights_through_the_command_line(cifar_dir, tmp_path):
    model = create_model("mlp", 10, 3)
    torch.save(model.state_dict(), tmp_path / "start.pt")
    assert main(["train", "--datasets-dir", str(cifar_dir), "--run-dir", str(tmp_path / "runs"), "--arch", "mlp",
                 "--weights", str(tmp_path / "start.pt"), "--epochs", "1", "--learning-rate", "1e-9", "--no-cuda",
                 "--quiet", "--no-augmentation"], domain=svp.cifar.DOMAIN) == 0
    (run,) = (tmp_path / "runs").iterdir()
    saved = torch.load(run / "checkpoint_best_model.t7", weights_only=True)["model"]
    # a learning rate of 1e-9 for one epoch leaves the model where the weights started it
    assert all(torch.allclose(saved[k], v, atol=1e-6) for k, v in model.state_dict().items())


def test_pretrained_weights_load_and_offline_says_what_to_do(monkeypatch, tmp_path):
    import svp.models.resnet as resnet
    from svp.learners.base import Environment
    from svp.learners.torch import TorchLearner
    from svp.data.base import TensorData

    published = create_model("imagenet-resnet18", 1000, 3).state_dict()
    monkeypatch.setitem(resnet.PRETRAINED, "imagenet-resnet18", lambda **options: published)
    monkeypatch.setattr("svp.learners.torch.PRETRAINED", resnet.PRETRAINED)
    data = TensorData("toy", 5, 3, {}, {}, None, None)
    learner = TorchLearner(ModelConfig(arch="imagenet-resnet18", pretrained=True), "proxy",
                           Environment(data, torch.device("cpu"), torch.empty(0)))
    model = learner._new_model()
    assert torch.equal(model.conv1.weight, published["conv1.weight"]) and model.fc.out_features == 5

    def offline(*args, **kwargs):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no cached copy there
    monkeypatch.setattr("torch.hub.download_url_to_file", offline)
    with pytest.raises(UsageError, match="could not be downloaded .* give a saved copy with --weights PATH"):
        resnet.published_weights(18)
    monkeypatch.setitem(resnet.PRETRAINED, "imagenet-resnet18", lambda **options: resnet.published_weights(
        18, **options))
    with pytest.raises(UsageError, match="^--proxy-pretrained: torchvision's weights .* could not be downloaded .* "
                                         "give a saved copy with --proxy-weights PATH$"):
        starting_model(ModelConfig(arch="imagenet-resnet18", pretrained=True), data, "--proxy-arch")
    with pytest.raises(UsageError, match="--pretrained: mlp has no published weights"):
        TorchLearner.check(ModelConfig(arch="mlp", pretrained=True), "--arch", None)
    with pytest.raises(UsageError, match=r"pretrained and \S*weights both say where the weights come from"):
        ModelConfig(pretrained=True, weights=str(tmp_path / "w.pt"))


@pytest.mark.parametrize("role, mc_training, dropped", [("proxy", True, True), ("proxy", False, False),
                                                        ("target", True, False)])
def test_only_a_proxy_that_bald_samples_trains_with_classifier_dropout(role, mc_training, dropped):
    from svp.data.base import TensorData
    from svp.learners.base import Environment
    from svp.learners.torch import TorchLearner

    env = Environment(TensorData("toy", 5, 1, {}, {}, None, None), torch.device("cpu"), torch.empty(0),
                      mc_dropout=0.5, mc_training=mc_training)
    model = TorchLearner(ModelConfig(arch="mlp"), role, env)._new_model().train()
    x = torch.rand((16, 1, 28, 28), generator=torch.Generator().manual_seed(0))
    assert torch.equal(model(x), model(x)) != dropped


@pytest.mark.parametrize("content, expected", [
    (b"hello, these are not weights\n", "it is a text file"), (b"", "the file is empty"),
    ("pickle", "it holds other objects than tensors (print)"),
    ("legacy pickle", f"it holds other objects than tensors ({os.system.__module__}.system)"),
    ("truncated", "not a file torch.save wrote, or a damaged one: RuntimeError"),
    ("not tensors", "it is not a state dict of tensors: epoch holds int"),
    ("a list", "it holds a list, not a state dict"), ("a directory", "Is a directory"),
])
@pytest.mark.filterwarnings("error")  # torch's warnings (pickle protocols) must not reach the user: one line
def test_weights_that_are_not_a_state_dict_are_refused_by_name(tmp_path, content, expected):
    path = tmp_path / "w.pt"
    if content == "pickle":
        torch.save({"w": torch.zeros(1), "greeting": print}, path)  # a full pickle: would run on loading
    elif content == "truncated":
        torch.save(create_model("mlp", 10, 3).state_dict(), path)
        path.write_bytes(path.read_bytes()[:500])
    elif content == "legacy pickle":  # pickle.dump, not torch.save: torch's loader warns and fails on protocol 4
        with open(path, "wb") as handle:
            pickle.dump({"w": torch.zeros(1), "f": os.system}, handle, protocol=4)
    elif content == "not tensors":
        torch.save({"w": torch.zeros(1), "epoch": 3}, path)
    elif content == "a list":
        torch.save([torch.zeros(1)], path)
    elif content == "a directory":  # refused before any data is read by --weights' check; in Python, here
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(UsageError, match=rf"--weights {path} .*{re.escape(expected)}.* ; give a file saved by "
                                         r"torch\.save"):
        read_weights(path, f"--weights {path}")


def test_training_reports_a_result_and_keeps_the_model(fashion_env, tmp_path):
    from svp.data import open_dataset
    from svp.learners import TrainResult
    from svp.learners.base import Environment
    from svp.learners.torch import TorchLearner

    data = open_dataset(DataConfig(datasets_dir=str(fashion_env)))
    env = Environment(data, torch.device("cpu"), torch.empty(0, dtype=torch.int64).numpy(), track_test=False)
    learner = TorchLearner(ModelConfig(arch="logistic", epochs=(2, 1), learning_rates=(0.1, 0.01), batch_size=16),
                           "target", env)
    result = learner.train(torch.arange(100).numpy(), tmp_path, seed=0)
    assert isinstance(result, TrainResult) and isinstance(learner.model, nn.Module)
    row = result.row()  # 100 examples in batches of 16: 7 steps an epoch, 3 epochs
    assert list(row) == ["nexamples", "train_accuracy", "dev_accuracy", "test_accuracy", "train_time", "dev_time",
                         "test_time", "steps"]
    assert (row["nexamples"], row["steps"], row["dev_accuracy"], row["test_accuracy"]) == (100, 21, -1.0, -1.0)
