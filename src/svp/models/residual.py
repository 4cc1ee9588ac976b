"""Shared building blocks of the CIFAR residual networks.

Every residual network in the CIFAR zoo (ResNets, pre-activation ResNets,
wide ResNets, ResNeXts, stochastic-depth ResNets) is one :class:`ResNet`:
a 3x3 stem, stages of residual blocks (the first block of every stage after
the first halves the resolution), global average pooling and a linear
``classifier``.  They differ only in

- the *layout* of the residual branch: :func:`basic` (two 3x3 convolutions)
  or :func:`bottleneck` (1x1, 3x3 possibly grouped, 1x1);
- the *block* wrapping it: :class:`ResidualBlock` (post-activation, He et al.
  2015), :class:`PreActBlock` (pre-activation, He et al. 2016) or a subclass
  such as the stochastic-depth block;
- the number of blocks and channels per stage.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

ModelFactory = Callable[..., nn.Module]
"""A registry entry: ``factory(num_classes=10, in_channels=3) -> nn.Module``."""

Layout = Callable[[int, int, int], list[nn.Conv2d]]
"""``layout(in_channels, planes, stride)`` -> the convolutions of a residual branch."""


def conv3x3(cin: int, cout: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """A 3x3 convolution without bias, padded to keep the size (at stride 1)."""
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, groups=groups, bias=False)


def conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    """A 1x1 convolution without bias."""
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


def basic(cin: int, planes: int, stride: int = 1) -> list[nn.Conv2d]:
    """Two 3x3 convolutions: the branch of a basic block (expansion 1).

    Parameters
    ----------
    cin : int
        Channels into the block.
    planes : int
        Channels of both convolutions, and out of the block.
    stride : int
        Stride of the first convolution.

    Returns
    -------
    list of nn.Conv2d
    """
    return [conv3x3(cin, planes, stride), conv3x3(planes, planes)]


def bottleneck(
    cin: int, planes: int, stride: int = 1, cardinality: int = 1, base_width: int = 64
) -> list[nn.Conv2d]:
    """1x1 reduce, 3x3 (grouped when ``cardinality > 1``), 1x1 expand by 4.

    With the defaults it is the ResNet bottleneck; with ``cardinality`` C and
    ``base_width`` w it is the ResNeXt one, whose 3x3 convolution has C groups
    of ``floor(planes * w / 64)`` channels each.

    Parameters
    ----------
    cin : int
        Channels into the block.
    planes : int
        Width of the bottleneck; the block puts out ``4 * planes`` channels.
    stride : int
        Stride of the 3x3 convolution.
    cardinality : int
        Number of groups of the 3x3 convolution.
    base_width : int
        Width of each group for ``planes == 64``.

    Returns
    -------
    list of nn.Conv2d
    """
    inner = math.floor(planes * base_width / 64) * cardinality
    return [
        conv1x1(cin, inner),
        conv3x3(inner, inner, stride, groups=cardinality),
        conv1x1(inner, 4 * planes),
    ]


def _branch(convs: Sequence[nn.Conv2d], preact: bool) -> nn.Sequential:
    """Interleave ``convs`` with batch norm and ReLU.

    Post-activation: conv-bn-relu-...-conv-bn (the final ReLU follows the sum).
    Pre-activation: conv-bn-relu-...-conv (the first bn-relu precedes the
    branch, see :class:`PreActBlock`).
    """
    layers: list[nn.Module] = []
    for i, conv in enumerate(convs):
        if preact and i > 0:
            layers += [nn.BatchNorm2d(conv.in_channels), nn.ReLU(inplace=True)]
        layers.append(conv)
        if not preact:
            layers.append(nn.BatchNorm2d(conv.out_channels))
            if i < len(convs) - 1:
                layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _shape(convs: Sequence[nn.Conv2d]) -> tuple[int, int, int]:
    """(in channels, out channels, overall stride) of a branch."""
    stride = math.prod(conv.stride[0] for conv in convs)
    return convs[0].in_channels, convs[-1].out_channels, stride


class ResidualBlock(nn.Module):
    """Post-activation residual block: ``relu(branch(x) + shortcut(x))``.

    The shortcut is the identity, or a strided 1x1 convolution with batch norm
    (a projection) where the shape changes.
    """

    preact = False

    def __init__(self, convs: Sequence[nn.Conv2d]) -> None:
        super().__init__()
        cin, cout, stride = _shape(convs)
        self.branch = _branch(convs, preact=False)
        self.shortcut = self.make_shortcut(cin, cout, stride)

    @staticmethod
    def make_shortcut(cin: int, cout: int, stride: int) -> nn.Module:
        """Identity, or a projection where the shape changes."""
        if stride == 1 and cin == cout:
            return nn.Identity()
        return nn.Sequential(conv1x1(cin, cout, stride), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.branch(x) + self.shortcut(x), inplace=True)


class PreActBlock(nn.Module):
    """Pre-activation residual block: ``branch(h) + shortcut``, ``h = relu(bn(x))``.

    Where the shape changes the shortcut is a strided 1x1 convolution of the
    pre-activated ``h`` (as in the reference implementations of pre-activation
    and wide ResNets); otherwise it is ``x`` itself.
    """

    preact = True

    def __init__(self, convs: Sequence[nn.Conv2d]) -> None:
        super().__init__()
        cin, cout, stride = _shape(convs)
        self.pre = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(inplace=True))
        self.branch = _branch(convs, preact=True)
        self.shortcut = None if stride == 1 and cin == cout else conv1x1(cin, cout, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pre(x)
        skip = x if self.shortcut is None else self.shortcut(h)
        return self.branch(h) + skip


Block = Callable[[Sequence[nn.Conv2d]], nn.Module]


class ResNet(nn.Module):
    """A CIFAR-style residual network built from a block and a layout.

    Parameters
    ----------
    block : callable
        Block class taking the branch's convolutions, e.g.
        :class:`ResidualBlock` or :class:`PreActBlock`; its ``preact``
        attribute decides where the stem and head put batch norm.
    layout : Layout
        ``layout(in_channels, planes, stride)`` -> branch convolutions, e.g.
        :func:`basic` or :func:`bottleneck`.
    depths : sequence of int
        Number of blocks per stage.
    widths : sequence of int
        ``planes`` of the blocks of each stage.
    num_classes : int
        Number of outputs of ``classifier``.
    in_channels : int
        Channels of the input images (1 for Fashion-MNIST, 3 for CIFAR).
    stem_width : int, optional
        Channels put out by the stem; ``widths[0]`` by default.
    """

    def __init__(
        self,
        block: Block,
        layout: Layout,
        depths: Sequence[int],
        widths: Sequence[int],
        num_classes: int = 10,
        in_channels: int = 3,
        stem_width: int | None = None,
    ) -> None:
        super().__init__()
        if len(depths) != len(widths):
            raise ValueError(f"got {len(depths)} stage depths but {len(widths)} stage widths")
        preact = getattr(block, "preact", False)
        channels = stem_width or widths[0]
        self.stem = _stem(in_channels, channels, preact)
        stages = []
        for index, (depth, planes) in enumerate(zip(depths, widths)):
            stage, channels = _stage(block, layout, channels, planes, depth, 1 if index == 0 else 2)
            stages.append(stage)
        self.stages = nn.Sequential(*stages)
        self.head = _head(channels, preact)
        self.classifier = nn.Linear(channels, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.head(self.stages(self.stem(x))))


def _stem(in_channels: int, channels: int, preact: bool) -> nn.Sequential:
    if preact:  # the first block's pre-activation normalises the stem's output
        return nn.Sequential(conv3x3(in_channels, channels))
    return nn.Sequential(
        conv3x3(in_channels, channels), nn.BatchNorm2d(channels), nn.ReLU(inplace=True)
    )


def _stage(
    block: Block, layout: Layout, cin: int, planes: int, depth: int, stride: int
) -> tuple[nn.Sequential, int]:
    """``depth`` blocks, the first strided; returns them and their output channels."""
    blocks = []
    for index in range(depth):
        convs = layout(cin, planes, stride if index == 0 else 1)
        blocks.append(block(convs))
        cin = convs[-1].out_channels
    return nn.Sequential(*blocks), cin


def _head(channels: int, preact: bool) -> nn.Sequential:
    """Global average pooling and flattening (after a final bn-relu if pre-activated)."""
    layers: list[nn.Module] = []
    if preact:
        layers += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers)


def init_weights(model: nn.Module) -> None:
    """He (Kaiming) normal initialisation of convolutions, unit batch norm.

    Convolutions get ``kaiming_normal_(mode="fan_out", nonlinearity="relu")``;
    batch norm gets weight 1 and bias 0; linear layers keep PyTorch's default.
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def blocks_per_stage(depth: int, layers_per_block: int, extra: int = 2, stages: int = 3) -> int:
    """Blocks per stage of a network of ``depth`` weighted layers.

    ``depth = stages * n * layers_per_block + extra``, where ``extra`` counts
    the layers outside the blocks (the stem and the classifier: 2; wide
    ResNets also count their shortcut projections: 4).

    Raises
    ------
    ValueError
        If ``depth`` does not have that form.
    """
    per_stage, remainder = divmod(depth - extra, stages * layers_per_block)
    if remainder or per_stage < 1:
        raise ValueError(
            f"depth {depth} is not {stages} * n * {layers_per_block} + {extra} for a whole n >= 1"
        )
    return per_stage


def model_factory(build: Callable[..., nn.Module], name: str, **config: object) -> ModelFactory:
    """A registry factory ``(num_classes=10, in_channels=3) -> nn.Module``.

    Parameters
    ----------
    build : callable
        Called as ``build(num_classes=..., in_channels=..., **config)``.
    name : str
        Name given to the factory (shown in reprs and errors).
    **config
        The architecture's fixed settings.
    """

    def factory(num_classes: int = 10, in_channels: int = 3) -> nn.Module:
        return build(num_classes=num_classes, in_channels=in_channels, **config)

    factory.__name__ = factory.__qualname__ = name.replace("-", "_")
    factory.__doc__ = f"Build ``{name}`` ({build.__name__} with {config})."
    return factory
