"""Monte-Carlo dropout scoring: seeded, summaries consistent, training's random stream untouched."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from svp.data.base import TensorData
from svp.engine.predict import predict
from svp.models import add_classifier_dropout
from svp.selection.bald import bald


class _Net(nn.Module):
    def __init__(self, dropout: float = 0.0, zero: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.ReLU())
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
        self.classifier = nn.Linear(8, 3)
        if zero:
            nn.init.zeros_(self.classifier.weight)
            nn.init.zeros_(self.classifier.bias)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.classifier(self.drop(self.body(x)))


def _data(n: int = 30) -> TensorData:
    g = torch.Generator().manual_seed(1)
    x = torch.rand((n, 3, 2, 2), generator=g)
    return TensorData("toy", 3, 3, {"train": x}, {"train": torch.zeros(n, dtype=torch.long)}, nn.Identity(),
                      nn.Identity())


def _predict(model, **kwargs):
    return predict(model, _data(), np.arange(30)[::-1].copy(), batch_size=7, device=torch.device("cpu"), **kwargs)


def test_mc_scoring_keeps_the_plain_outputs_and_repeats_itself():
    model = _Net()
    plain = _predict(model, features=True)
    mc = _predict(model, features=True, mc_samples=5, mc_dropout=0.3)
    np.testing.assert_array_equal(mc.probs, plain.probs)
    np.testing.assert_array_equal(mc.features, plain.features)
    np.testing.assert_allclose(mc.mc_probs.sum(axis=1), 1.0, rtol=1e-6)
    assert mc.mc_probs.shape == (30, 3) and mc.mc_entropy.shape == (30,)
    assert not np.allclose(mc.mc_probs, plain.probs)  # the samples did differ from the plain pass
    again = _predict(model, mc_samples=5, mc_dropout=0.3)
    np.testing.assert_array_equal(again.mc_probs, mc.mc_probs)
    np.testing.assert_array_equal(again.mc_entropy, mc.mc_entropy)
    assert (bald(mc.mc_probs, mc.mc_entropy) > 0).all()


def test_mc_scoring_leaves_torchs_random_stream_as_it_was():
    model = _Net()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _predict(model, mc_samples=4)
    assert torch.equal(torch.rand(3), expected)


def test_a_classifier_that_ignores_its_input_gives_no_disagreement():
    mc = _predict(_Net(zero=True), mc_samples=6, mc_dropout=0.5)
    np.testing.assert_allclose(mc.mc_probs, 1 / 3, rtol=1e-6)
    np.testing.assert_allclose(mc.mc_entropy, np.log(3), rtol=1e-12)
    np.testing.assert_allclose(bald(mc.mc_probs, mc.mc_entropy), 0.0, atol=1e-6)


def test_a_model_with_dropout_layers_runs_one_full_pass_per_sample():
    model = _Net(dropout=0.5)
    mc = _predict(model, mc_samples=4)
    batches = -(-30 // 7)
    assert model.calls == batches * (1 + 4)
    assert not model.drop.training  # put back in eval mode
    plain = _predict(_Net(dropout=0.5))
    np.testing.assert_array_equal(mc.probs, plain.probs)  # the plain pass has dropout off
    assert not np.allclose(mc.mc_probs, plain.probs)


def test_a_model_without_dropout_runs_its_body_once():
    model = _Net()
    _predict(model, mc_samples=8)
    assert model.calls == -(-30 // 7)


def test_classifier_dropout_drops_its_input_in_training_only_and_keeps_the_state_dict():
    model = _Net()
    keys = list(model.state_dict())
    add_classifier_dropout(model, 0.5)
    seen = []
    model.classifier.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0]))
    x = torch.rand((64, 3, 2, 2), generator=torch.Generator().manual_seed(2))
    features = model.body(x)
    model.train()
    model(x)
    active = features > 0  # the ReLU's zeros say nothing
    dropped = (seen[-1] == 0) & active
    assert 0.3 < dropped[active].float().mean() < 0.7  # p = 0.5 of them, the rest scaled by 1 / (1 - p)
    torch.testing.assert_close(seen[-1][~dropped], 2 * features[~dropped])
    model.eval()
    model(x)
    torch.testing.assert_close(seen[-1], features)
    assert list(model.state_dict()) == keys
