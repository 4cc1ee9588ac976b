"""Pool scoring reads the split it is asked for and keeps pool order."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from svp.config import DataConfig
from svp.data import open_dataset
from svp.engine.predict import predict


class _MeanPixel(nn.Module):
    """Logits (mean pixel, 0): softmax then depends on each image alone."""

    def __init__(self) -> None:
        super().__init__()
        self.classifier = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.flatten(1).mean(1, keepdim=True)
        return self.classifier(torch.cat([mean, torch.zeros_like(mean)], dim=1))


def _expected(data, split: str, indices: np.ndarray) -> np.ndarray:
    images = data.eval_transform(data.inputs[split][torch.as_tensor(indices)])
    return torch.softmax(_MeanPixel()(images), dim=1).numpy()


def test_predict_scores_the_requested_split_in_order(fashion_env):
    data = open_dataset(DataConfig(datasets_dir=str(fashion_env)))
    indices = np.array([7, 3, 99, 0, 42])
    cpu = torch.device("cpu")
    for split in ("train", "test"):
        out = predict(_MeanPixel(), data, indices, batch_size=2, device=cpu, features=True, split=split)
        np.testing.assert_allclose(out.probs, _expected(data, split, indices), rtol=1e-6)
        assert out.features.shape == (5, 2)
