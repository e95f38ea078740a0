"""Building blocks shared by the model families: one definition each.

    conv3d              a bias-free 3D convolution padded to keep the size (stride 1), the usual one before a BN
    ConvBnAct           any convolution module -> BatchNorm3d -> ReLU (``conv`` / ``bn`` keys), optional pool
    Conv2Plus1d         a t x k x k convolution factorised into 1 x k x k, BN, ReLU, t x 1 x 1 (Tran et al. 2018)
    BasicBlock          ResNet-18/34 residual block with any :data:`BlockKernel`
    Bottleneck          ResNet-50/101 bottleneck with a t x 1 x 1 first convolution (I3D-R50, SlowFast)
    Stem                a 7x7 (or t x 7 x 7) ConvBnAct, with an optional 1x3x3 max pool
    init_weights        He-normal convolutions, BN at (1, 0), small-normal linear classifiers
    linear_classifier   a new classifier head (or an identity for ``num_classes = 0``)
    LinearClassifier    ``get_classifier`` / ``reset_classifier`` of a model whose classifier is one linear layer

What every model is (the contract, the layouts of its features, the temporal pooling they share) is in
:mod:`vidact.models.contract`.

A family's file builds its networks from these and keeps only what is its own (SlowFast's lateral connections,
I3D's TensorFlow-"SAME" padding, C3D's biased convolutions). Module names inside the blocks (``conv1``, ``bn1``,
``downsample.0`` ...) are what every converter of a published layout maps onto, so they do not change.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

__all__ = [
    "Triple",
    "BlockKernel",
    "BLOCK_KERNEL_SIZES",
    "conv3d",
    "ConvBnAct",
    "Conv2Plus1d",
    "factorised_mid_channels",
    "BasicBlock",
    "Bottleneck",
    "Stem",
    "max_pool_1x3x3",
    "shortcut",
    "init_weights",
    "linear_classifier",
    "LinearClassifier",
]

Triple = tuple[int, int, int]

BlockKernel = Literal["joint", "spatial", "temporal", "2plus1d"]
"""Kernel of a residual convolution: 3x3x3, 1x3x3 (per frame), 3x1x1 (per pixel), or 3x3x3 factorised."""

BLOCK_KERNEL_SIZES: dict[str, Triple] = {"joint": (3, 3, 3), "spatial": (1, 3, 3), "temporal": (3, 1, 1)}


def _triple(value: int | Triple) -> Triple:
    return (value, value, value) if isinstance(value, int) else tuple(value)  # type: ignore[return-value]


def conv3d(
    in_channels: int,
    out_channels: int,
    kernel_size: int | Triple,
    stride: int | Triple = 1,
    *,
    bias: bool = False,
) -> nn.Conv3d:
    """A 3D convolution padded by ``k // 2`` on each axis: [B, C_in, T, H, W] -> [B, C_out, T/s_t, H/s, W/s].

    Bias-free by default, for the convolutions a BatchNorm follows.
    """
    kernel_size = _triple(kernel_size)
    padding = tuple(k // 2 for k in kernel_size)
    return nn.Conv3d(
        in_channels, out_channels, kernel_size, stride=_triple(stride), padding=padding, bias=bias
    )


class ConvBnAct(nn.Module):
    """``conv`` -> BatchNorm3d -> ReLU -> optional ``pool``: [B, C_in, T, H, W] -> [B, C_out, T', H', W'].

    Args:
        conv: the convolution, any module ([B, C_in, ...] -> [B, channels, ...]): a :func:`conv3d`, a
            :class:`Conv2Plus1d`, ...
        channels: its output channels (the BatchNorm's width).
        pool: applied last (a stem's max pool); none by default.
    """

    def __init__(self, conv: nn.Module, channels: int, pool: nn.Module | None = None) -> None:
        super().__init__()
        self.conv = conv
        self.bn = nn.BatchNorm3d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.Identity() if pool is None else pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.relu(self.bn(self.conv(x))))


class Stem(ConvBnAct):
    """A network's first ConvBnAct (a 7x7, t x 7 x 7 or (2+1)D convolution) with an optional max ``pool``.

    [B, 3, T, H, W] -> [B, C, T', H', W'] (``stem.conv`` / ``stem.bn`` in every published layout's mapping).
    """


def max_pool_1x3x3() -> nn.MaxPool3d:
    """The ResNet stem's 3x3 max pool (stride 2, padding 1) applied to every frame: H, W -> ceil(H / 2)."""
    return nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))


def factorised_mid_channels(in_channels: int, out_channels: int, kernel_size: Triple = (3, 3, 3)) -> int:
    """Width between the spatial and the temporal half of a (2+1)D convolution (Tran et al. 2018).

    ``floor(t k^2 N_in N_out / (k^2 N_in + t N_out))`` for a t x k x k kernel: the factorised pair then has
    about as many parameters as the full t x k x k convolution.
    """
    t, k = kernel_size[0], kernel_size[1]
    return (t * k * k * in_channels * out_channels) // (k * k * in_channels + t * out_channels)


class Conv2Plus1d(nn.Module):
    """A t x k x k convolution factorised into 1 x k x k (space), BatchNorm, ReLU, and t x 1 x 1 (time).

    [B, C_in, T, H, W] -> [B, C_out, T / s_t, H / s, W / s] for ``stride = (s_t, s, s)``. The temporal half has
    no BN or ReLU of its own: the caller puts one after it (a :class:`ConvBnAct`, or a residual block's BN).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        mid_channels: int,
        kernel_size: Triple = (3, 3, 3),
        stride: int | Triple = 1,
    ) -> None:
        super().__init__()
        t, kh, kw = kernel_size
        st, sh, sw = _triple(stride)
        self.spatial = conv3d(in_channels, mid_channels, (1, kh, kw), (1, sh, sw))
        self.bn = nn.BatchNorm3d(mid_channels)
        self.relu = nn.ReLU(inplace=True)
        self.temporal = conv3d(mid_channels, out_channels, (t, 1, 1), (st, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.temporal(self.relu(self.bn(self.spatial(x))))


def shortcut(in_channels: int, out_channels: int, stride: int | Triple) -> nn.Sequential | None:
    """A strided 1x1x1 projection + BatchNorm where a block changes the shape, else None (the identity)."""
    stride = _triple(stride)
    if in_channels == out_channels and stride == (1, 1, 1):
        return None
    return nn.Sequential(conv3d(in_channels, out_channels, 1, stride), nn.BatchNorm3d(out_channels))


def _block_conv(
    kernel: BlockKernel, in_channels: int, out_channels: int, stride: Triple, mid_channels: int
) -> nn.Module:
    if kernel == "2plus1d":
        return Conv2Plus1d(in_channels, out_channels, mid_channels, stride=stride)
    return conv3d(in_channels, out_channels, BLOCK_KERNEL_SIZES[kernel], stride)


class BasicBlock(nn.Module):
    """Two convolutions of one :data:`BlockKernel`, each with BatchNorm, and a residual connection.

    [B, C_in, T, H, W] -> [B, C_out, T / s_t, H / s, W / s] for ``stride = (s_t, s, s)``, applied by the
    first convolution and by the 1x1x1 projection of the shortcut.

    With ``"2plus1d"`` both convolutions factorise through ``factorised_mid_channels(C_in, C_out)`` channels:
    the width is computed once per block, from its input and output widths, as torchvision does (its
    published R(2+1)D weights have these shapes).
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel: BlockKernel, stride: int | Triple = 1
    ) -> None:
        super().__init__()
        stride = _triple(stride)
        mid_channels = factorised_mid_channels(in_channels, out_channels)
        self.conv1 = _block_conv(kernel, in_channels, out_channels, stride, mid_channels)
        self.bn1 = nn.BatchNorm3d(out_channels)
        self.conv2 = _block_conv(kernel, out_channels, out_channels, (1, 1, 1), mid_channels)
        self.bn2 = nn.BatchNorm3d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = shortcut(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out + residual)


class Bottleneck(nn.Module):
    """ResNet-50 bottleneck: ``t x 1 x 1`` reduce to ``width``, 1x3x3, 1x1x1 expand to ``out_channels``.

    [B, C_in, T, H, W] -> [B, out_channels, T, ceil(H / s), ceil(W / s)]; the spatial stride ``s`` sits on the
    1x3x3 convolution and on the shortcut's projection. ``temporal_kernel`` is 3 in I3D's "inflated" blocks
    and in SlowFast's res4/res5 (Slow) and every Fast block, else 1.

    Args:
        out_channels: default ``4 * width`` (ResNet's expansion).
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        width: int,
        temporal_kernel: int,
        spatial_stride: int = 1,
        out_channels: int | None = None,
    ) -> None:
        super().__init__()
        out_channels = width * self.expansion if out_channels is None else out_channels
        stride = (1, spatial_stride, spatial_stride)
        self.conv1 = conv3d(in_channels, width, (temporal_kernel, 1, 1))
        self.bn1 = nn.BatchNorm3d(width)
        self.conv2 = conv3d(width, width, (1, 3, 3), stride)
        self.bn2 = nn.BatchNorm3d(width)
        self.conv3 = conv3d(width, out_channels, 1)
        self.bn3 = nn.BatchNorm3d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = shortcut(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out + residual)


def init_weights(module: nn.Module, *, linear_std: float = 0.01, zero_init_residual: bool = False) -> None:
    """Initialise a CNN as torchvision initialises its video ResNets (and PySlowFast its networks).

    Every ``Conv3d``/``Conv2d``: He-normal (fan-out, ReLU gain), zero bias. Every BatchNorm: scale 1, shift 0.
    Every ``nn.Linear``: N(0, ``linear_std``^2), zero bias. With ``zero_init_residual`` the last BatchNorm of
    every :class:`Bottleneck` starts at scale 0, so each residual block starts as the identity (Goyal et al.).
    Modules are visited in registration order, so a seeded build draws the same weights every time.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv3d, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm3d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=linear_std)
            nn.init.zeros_(m.bias)
    if zero_init_residual:
        for m in module.modules():
            if isinstance(m, Bottleneck):
                nn.init.zeros_(m.bn3.weight)


def linear_classifier(num_features: int, num_classes: int, *, std: float = 0.01) -> nn.Module:
    """A new classifier [B, num_features] -> [B, num_classes], weights N(0, std^2), zero bias.

    ``num_classes = 0`` gives an ``nn.Identity``: the model then returns its pooled features (timm's
    convention for ``reset_classifier(0)``).
    """
    if num_classes < 0:
        raise ValueError(f"num_classes must be >= 0, got {num_classes}")
    if num_classes == 0:
        return nn.Identity()
    fc = nn.Linear(num_features, num_classes)
    nn.init.normal_(fc.weight, std=std)
    nn.init.zeros_(fc.bias)
    return fc


class LinearClassifier:
    """The classifier half of the model contract for a model whose classifier is one linear layer on its
    ``head_hidden_size`` pre-logits (``num_features`` wide unless the head has hidden layers, as C3D's), held in
    the attribute :attr:`classifier_attr` (``fc``, C3D's ``fc8``)."""

    classifier_attr = "fc"
    head_hidden_size: int
    num_classes: int

    def get_classifier(self) -> nn.Module:
        return getattr(self, self.classifier_attr)

    def reset_classifier(self, num_classes: int) -> None:
        """A new classifier for ``num_classes`` (0: none, ``forward`` returns the pre-logits [B,
        head_hidden_size])."""
        self.num_classes = num_classes
        setattr(self, self.classifier_attr, linear_classifier(self.head_hidden_size, num_classes))
