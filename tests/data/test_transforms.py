"""Batched augmentation: the fused crop-and-flip gather equals crop, then flip."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from svp.data.transforms import Augment, Normalize, crop_and_flip


def _crop_then_flip(batch: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """The two-pass reference: pad, cut each window, then mirror about half the images."""
    n, _, h, w = batch.shape
    padded = F.pad(batch, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    crops = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
    mirror = torch.rand(n, generator=generator) < 0.5
    return torch.where(mirror[:, None, None, None], crops.flip(3), crops)


def test_crop_and_flip_equals_crop_then_flip():
    x = torch.randint(0, 256, (64, 3, 9, 7), dtype=torch.uint8)
    ours = crop_and_flip(x, 3, generator=torch.Generator().manual_seed(4))
    assert torch.equal(ours, _crop_then_flip(x, 3, torch.Generator().manual_seed(4)))


def test_augment_draws_from_the_global_generator_like_before():
    x = torch.randint(0, 256, (32, 1, 28, 28), dtype=torch.uint8)
    normalize = Normalize((0.3,), (0.4,))
    torch.manual_seed(11)
    ours = Augment(normalize, padding=2)(x)
    torch.manual_seed(11)
    expected = normalize(_crop_then_flip(x, 2, torch.default_generator))
    assert torch.equal(ours, expected)


def test_no_padding_no_flip_is_the_identity():
    x = torch.randint(0, 256, (5, 2, 4, 6), dtype=torch.uint8)
    assert torch.equal(crop_and_flip(x, 0, flip=False), x)


def test_normalize_reads_uint8_exactly_like_float():
    x = torch.randint(0, 256, (8, 3, 5, 5), dtype=torch.uint8)
    normalize = Normalize((0.1, 0.5, 0.9), (0.2, 0.3, 0.4))
    assert torch.equal(normalize(x), normalize(x.float()))
    assert normalize(x.double()).dtype == torch.float32


def test_normalize_is_exact():
    batch = torch.tensor([[[[0, 255]], [[51, 102]]]], dtype=torch.uint8)
    out = Normalize((0.5, 0.2), (0.25, 0.4))(batch)
    expected = torch.tensor([[[[-2.0, 2.0]], [[0.0, 0.5]]]])
    torch.testing.assert_close(out, expected)


def test_crop_alone_is_a_window_of_the_padded_image():
    x = torch.randint(0, 255, (6, 2, 5, 7), dtype=torch.uint8)
    out = crop_and_flip(x, 2, flip=False, generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(1)
    dy, dx = torch.randint(0, 5, (6,), generator=g), torch.randint(0, 5, (6,), generator=g)
    padded = F.pad(x, (2, 2, 2, 2))
    for i in range(6):
        assert torch.equal(out[i], padded[i, :, dy[i]:dy[i] + 5, dx[i]:dx[i] + 7])


def test_flip_alone_mirrors_about_half():
    x = torch.arange(2000 * 3, dtype=torch.float32).reshape(2000, 1, 1, 3)
    out = crop_and_flip(x, 0, generator=torch.Generator().manual_seed(0))
    flipped = (out[:, 0, 0, 0] == x[:, 0, 0, 2])
    kept = (out[:, 0, 0, 0] == x[:, 0, 0, 0])
    assert (flipped ^ kept).all()
    assert 900 < int(flipped.sum()) < 1100
