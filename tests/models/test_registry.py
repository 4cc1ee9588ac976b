"""The image model families: both channel counts, parameter counts, odd sizes, their layers' behaviour."""
from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from svp.models import MODELS, classifier_of, create_model
from svp.models import cifar_resnet, preact_resnet, resnext, stochastic_depth, wide_resnet
from svp.models.residual import blocks_per_stage
from svp.models.stochastic_depth import StochasticBlock

CIFAR_ZOO = {
    name: factory
    for module in (cifar_resnet, preact_resnet, wide_resnet, resnext, stochastic_depth)
    for name, factory in module.MODELS.items()
}

# name -> (exact count for num_classes=10, in_channels=3; value in the literature)
PARAMETER_COUNTS = {
    "resnet20": (272_474, 0.27e6),  # He et al. 2015, table 6
    "resnet1202": (19_424_026, 19.4e6),  # He et al. 2015, table 6
    "preact164": (1_703_258, 1.7e6),  # He et al. 2016, table 2
    "wrn-40-4": (8_949_210, 8.9e6),  # Zagoruyko & Komodakis 2016, table 4
    "wrn-16-8": (10_961_370, 11.0e6),  # idem
    "wrn-28-10": (36_479_194, 36.5e6),  # idem
    "resnext29-8-64": (34_426_698, 34.4e6),  # Xie et al. 2017, table 7
    "resnext29-16-64": (68_155_210, 68.1e6),  # idem
    "resnet18": (11_173_962, 11.17e6),  # kuangliu/pytorch-cifar
    "resnet50": (23_520_842, 23.52e6),  # kuangliu/pytorch-cifar
}


# 1,000+ layer nets: their builders are the ones resnet20/preact164/stochastic110
# run forward through below; a forward here costs a minute of per-layer kernel setup
VERY_DEEP = {"resnet1202", "preact1001", "stochastic1202"}


def _image_shape(in_channels: int) -> tuple[int, int, int, int]:
    return (2, in_channels, 28, 28) if in_channels == 1 else (2, in_channels, 32, 32)


@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize("name", sorted(VERY_DEEP))
def test_very_deep_nets_build_with_a_linear_classifier(name: str, in_channels: int) -> None:
    model = create_model(name, num_classes=7, in_channels=in_channels)
    classifier = classifier_of(model)
    assert isinstance(classifier, nn.Linear) and classifier.out_features == 7
    first_conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert first_conv.in_channels == in_channels


# Every model's logits and features at its family's input: tests/test_registries.py (1x28x28 for the small
# Fashion-MNIST proxies, 3x32x32 for the rest). Here one model of each family at the other channel count.
OTHER_CHANNELS = {"small-cnn": 3, "mlp": 3, "logistic": 3, "resnet20": 1, "resnet18": 1, "preact20": 1,
                  "wrn-16-4": 1, "resnext29-8-64": 1, "stochastic56": 1, "imagenet-resnet18": 1}


@pytest.mark.parametrize("name", sorted(OTHER_CHANNELS))
def test_logits_and_features_at_the_other_channel_count(name: str) -> None:
    in_channels = OTHER_CHANNELS[name]
    torch.manual_seed(0)
    model = create_model(name, num_classes=7, in_channels=in_channels).eval()
    classifier = classifier_of(model)
    assert isinstance(classifier, nn.Linear)
    captured = []
    handle = classifier.register_forward_pre_hook(lambda _module, args: captured.append(args[0]))
    with torch.inference_mode():
        logits = model(torch.randn(_image_shape(in_channels)))
    handle.remove()
    assert logits.shape == (2, 7)
    assert torch.isfinite(logits).all()
    assert len(captured) == 1
    assert captured[0].shape == (2, classifier.in_features)


@pytest.mark.parametrize("name", sorted(CIFAR_ZOO))
def test_factory_signature(name: str) -> None:
    parameters = inspect.signature(CIFAR_ZOO[name]).parameters
    assert list(parameters) == ["num_classes", "in_channels"]
    assert parameters["num_classes"].default == 10
    assert parameters["in_channels"].default == 3


@pytest.mark.parametrize("name", sorted(PARAMETER_COUNTS))
def test_parameter_count(name: str) -> None:
    exact, literature = PARAMETER_COUNTS[name]
    count = sum(p.numel() for p in MODELS[name]().parameters())
    assert count == exact
    assert abs(count - literature) <= 0.01 * literature


def test_one_channel_changes_only_the_stem() -> None:
    def count(model: nn.Module) -> int:
        return sum(p.numel() for p in model.parameters())

    one, three = (count(MODELS["resnet20"](in_channels=c)) for c in (1, 3))
    assert three - one == 2 * 9 * 16  # the stem is a 3x3 convolution to 16 channels


@pytest.mark.parametrize("name", ["resnet18", "stochastic56", "preact20", "wrn-16-4"])
def test_odd_image_sizes(name: str) -> None:
    model = MODELS[name](num_classes=3).eval()
    with torch.inference_mode():
        assert model(torch.randn(1, 3, 30, 30)).shape == (1, 3)


def test_weights_are_he_initialised() -> None:
    torch.manual_seed(0)
    model = MODELS["wrn-16-4"]()
    conv = model.stages[2][0].branch[-1]  # 256 -> 256 channels, 3x3
    expected = (2 / (conv.out_channels * 9)) ** 0.5
    assert conv.weight.std().item() == pytest.approx(expected, rel=0.05)


def test_gradients_reach_every_parameter() -> None:
    model = MODELS["resnet20"](num_classes=7, in_channels=1)
    model(torch.randn(2, 1, 28, 28)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize(("name", "final"), [("stochastic56", 0.5), ("stochastic56-08", 0.8)])
def test_survival_decays_linearly(name: str, final: float) -> None:
    blocks = [m for m in MODELS[name]().modules() if isinstance(m, StochasticBlock)]
    assert len(blocks) == 27
    survival = [block.survival for block in blocks]
    assert survival[0] == pytest.approx(1 - (1 - final) / 27)
    assert survival[-1] == pytest.approx(final)
    assert all(a > b for a, b in zip(survival, survival[1:]))


def test_stochastic_depth_is_random_in_training_only() -> None:
    torch.manual_seed(0)
    model = MODELS["stochastic56"](num_classes=7)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        model.train()
        first, second = model(x), model(x)
        model.eval()
        third, fourth = model(x), model(x)
    assert not torch.allclose(first, second)
    assert torch.equal(third, fourth)


def test_depth_must_fit_the_family() -> None:
    assert blocks_per_stage(110, layers_per_block=2) == 18
    assert blocks_per_stage(1001, layers_per_block=3) == 111
    assert blocks_per_stage(28, layers_per_block=2, extra=4) == 4
    with pytest.raises(ValueError, match="depth 21"):
        blocks_per_stage(21, layers_per_block=2)
