"""VDCNN: every registered variant maps character codes to logits."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from svp.data.amazon import MAX_LENGTH, NUM_CODES
from svp.models import MODELS, classifier_of, create_model
from svp.models.vdcnn import DEPTHS, DOWNSAMPLING, kmax_pooling

VDCNN_NAMES = sorted(name for name in MODELS if name.startswith("vdcnn"))


def _codes(batch: int = 2) -> torch.Tensor:
    return torch.randint(0, NUM_CODES, (batch, MAX_LENGTH), generator=torch.Generator().manual_seed(0))


def test_registry_has_every_original_variant():
    expected = {f"vdcnn{d}-{m}{s}" for d in DEPTHS for m in DOWNSAMPLING for s in ("", "-shortcut")}
    assert set(VDCNN_NAMES) == expected | {"vdcnn9-maxpool-lite"}
    assert len(VDCNN_NAMES) == 25


# every variant's logits on short codes: tests/test_registries.py; here at the reviews' full length
@pytest.mark.parametrize("name", ["vdcnn9-conv", "vdcnn9-maxpool", "vdcnn9-kmaxpool-shortcut"])
def test_forward_at_full_length_gives_logits(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=5, in_channels=1).eval()
    assert isinstance(classifier_of(model), nn.Linear)
    with torch.inference_mode():
        logits = model(_codes())
    assert logits.shape == (2, 5)
    assert torch.isfinite(logits).all()


def test_depth_counts_conv_layers():
    for depth in DEPTHS:
        model = MODELS[f"vdcnn{depth}-conv"](num_classes=2, in_channels=1)
        convs = [m for m in model.modules() if isinstance(m, nn.Conv1d) and m.kernel_size == (3,)]
        assert len(convs) == depth  # the first conv plus two per block


def test_shortcut_adds_projections_only_where_width_grows():
    plain = MODELS["vdcnn9-conv"](num_classes=2)
    residual = MODELS["vdcnn9-conv-shortcut"](num_classes=2)
    projections = [m for m in residual.modules() if isinstance(m, nn.Conv1d) and m.kernel_size == (1,)]
    assert len(projections) == 3
    assert not [m for m in plain.modules() if isinstance(m, nn.Conv1d) and m.kernel_size == (1,)]


def test_lite_is_smaller():
    size = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert size(MODELS["vdcnn9-maxpool-lite"]()) < size(MODELS["vdcnn9-maxpool"]()) / 10


def test_trains_one_step():
    torch.manual_seed(0)
    model = MODELS["vdcnn9-kmaxpool-shortcut"](num_classes=2)
    loss = nn.functional.cross_entropy(model(_codes(4)), torch.tensor([0, 1, 0, 1]))
    loss.backward()
    assert model.embedding.weight.grad is not None
    assert torch.isfinite(loss)


def test_kmax_pooling_keeps_order():
    x = torch.tensor([[[1.0, 5.0, 2.0, 4.0, 3.0]]])
    assert kmax_pooling(x, 3).tolist() == [[[5.0, 4.0, 3.0]]]
