"""Wide residual networks (Zagoruyko & Komodakis 2016), ``wrn-<depth>-<k>``.

Pre-activation basic blocks with ``16k/32k/64k`` channels after a 16-channel
stem; depth ``6n + 4`` (the paper counts the three shortcut projections).
No dropout, as in the original ``svp``.
"""
from __future__ import annotations

from svp.models.residual import (
    ModelFactory,
    PreActBlock,
    ResNet,
    basic,
    blocks_per_stage,
    model_factory,
)


def wide_resnet(depth: int, widen: int, num_classes: int = 10, in_channels: int = 3) -> ResNet:
    """WRN-``depth``-``widen``.

    Parameters
    ----------
    depth : int
        ``6n + 4``, e.g. 16, 28, 40.
    widen : int
        Widening factor k.
    num_classes, in_channels : int
        Number of outputs, and channels of the input images.

    Returns
    -------
    ResNet
    """
    n = blocks_per_stage(depth, layers_per_block=2, extra=4)
    widths = [16 * widen, 32 * widen, 64 * widen]
    return ResNet(PreActBlock, basic, [n] * 3, widths, num_classes, in_channels, stem_width=16)


MODALITY = "image"  # the input these models take: images (N, C, H, W)
MODELS: dict[str, ModelFactory] = {
    f"wrn-{d}-{k}": model_factory(wide_resnet, f"wrn-{d}-{k}", depth=d, widen=k)
    for d, k in ((16, 4), (16, 8), (28, 10), (40, 4))
}
