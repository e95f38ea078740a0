"""I3D: Inception-v1 inflated to 3D (Carreira & Zisserman, "Quo Vadis, Action Recognition? A New Model and the
Kinetics Dataset", CVPR 2017), as released in deepmind/kinetics-i3d.

Every convolution of Inception-v1 with batch normalisation (GoogLeNet with BN, 3x3 instead of 5x5 in the third
branch as in TF-slim) becomes k x k x k, and the pools get a temporal extent. A 64-frame RGB clip at 224x224:

    layer              kernel (T, H, W), stride     output [C, T, H, W]
    input                                           3 x 64 x 224 x 224
    Conv3d_1a_7x7      7x7x7, 2                     64 x 32 x 112 x 112
    MaxPool3d_2a_3x3   1x3x3, (1, 2, 2)             64 x 32 x 56 x 56
    Conv3d_2b_1x1      1x1x1                        64 x 32 x 56 x 56
    Conv3d_2c_3x3      3x3x3                        192 x 32 x 56 x 56
    MaxPool3d_3a_3x3   1x3x3, (1, 2, 2)             192 x 32 x 28 x 28
    Mixed_3b, 3c       Inception blocks             256, 480 x 32 x 28 x 28
    MaxPool3d_4a_3x3   3x3x3, 2                     480 x 16 x 14 x 14
    Mixed_4b .. 4f     Inception blocks             512, 512, 512, 528, 832 x 16 x 14 x 14
    MaxPool3d_5a_2x2   2x2x2, 2                     832 x 8 x 7 x 7
    Mixed_5b, 5c       Inception blocks             832, 1024 x 8 x 7 x 7
    AvgPool            2x7x7, 1 (no padding)        1024 x 7 x 1 x 1
    Dropout, Conv3d_0c_1x1 (bias) -> logits         K x 7 x 1 x 1, averaged over time -> K

An Inception block concatenates four branches: 1x1x1; 1x1x1 -> 3x3x3; 1x1x1 -> 3x3x3; 3x3x3 max-pool (stride 1)
-> 1x1x1. Each convolution but the logits is Conv3d (no bias) -> BatchNorm -> ReLU.

Fidelity to the TensorFlow release, so that its checkpoints give the same outputs here:

- Padding is TensorFlow's "SAME": ``total = max((ceil(n / s) - 1) * s + k - n, 0)`` along each axis of size n,
  ``total // 2`` before and the rest after (convolutions pad zeros, max-pools ignore the padding). With stride 2
  on an even size the extra row goes after, where PyTorch's symmetric ``padding`` would put it on both sides.
- BatchNorm has ``eps = 1e-3`` and no learned scale (Sonnet's default ``scale=False``); vidact keeps BN's
  weight (initialised at 1) so that the layer is a plain ``BatchNorm3d``, and the converter sets it to 1. The
  running averages use PyTorch's momentum 0.1 (the release trained with a decay of 0.999, i.e. 0.001).
- Weights start from Sonnet's default initialiser, a normal truncated at two standard deviations with standard
  deviation 1 / sqrt(fan_in), and zero biases.
- The logits are averaged over time. At sizes other than 224 the final map is not 7x7; the average pool then
  shrinks to the map (``min(2, T)`` x ``min(7, H)`` x ``min(7, W)``) and the logits are averaged over space as
  well, where the release's spatial squeeze would fail.

Bootstrapping from ImageNet (the paper's section 2.4): inflating a 2D Inception-v1 with
:func:`vidact.models.inflate.inflate` (``time_kernel=lambda name, conv: conv.kernel_size[0]``) yields this
network's convolutions and BN layers, shape for shape and in the same order, for torchvision's ``googlenet``;
copying them in gives an I3D that sees a boring video as the 2D network sees the image, wherever the zero
temporal padding is out of reach (tests/test_i3d.py).

The published weights are TensorFlow checkpoints; :func:`convert_kinetics_i3d_tf_variables` maps their
variables onto this module:

    >>> reader = tf.train.load_checkpoint("kinetics-i3d/data/checkpoints/rgb_imagenet/model.ckpt")
    >>> variables = {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}
    >>> torch.save(convert_kinetics_i3d_tf_variables(variables), "i3d_rgb_imagenet.pt")
    >>> model = load_weights(build_model("i3d_inception_v1"), "i3d_rgb_imagenet.pt")

Inputs as in the release: frames sampled at 25 fps; RGB scaled to [-1, 1]; flow (TV-L1, first two channels)
truncated to [-20, 20] pixels and scaled to [-1, 1].
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _triple

from ..errors import CheckpointError, ConfigError
from .contract import FeatureLayout, temporal_pool
from .converters import register_converter
from .inflate import tf_same_padding
from .registry import ModelCard, Preset, Weights, WeightsFile, register_model

__all__ = [
    "I3D",
    "InceptionBlock3d",
    "Unit3d",
    "Conv3dSame",
    "MaxPool3dSame",
    "i3d_inception_v1",
    "i3d_inception_v1_flow",
    "convert_kinetics_i3d_tf_variables",
]

# Inception blocks: (in, branch 0, branch 1 reduce, branch 1, branch 2 reduce, branch 2, branch 3), from
# GoogLeNet's Table 1 (the "5x5" branch is a 3x3 one, as in TF-slim's Inception-v1 that I3D inflates).
_MIXED = {
    "3b": (192, 64, 96, 128, 16, 32, 32),
    "3c": (256, 128, 128, 192, 32, 96, 64),
    "4b": (480, 192, 96, 208, 16, 48, 64),
    "4c": (512, 160, 112, 224, 24, 64, 64),
    "4d": (512, 128, 128, 256, 24, 64, 64),
    "4e": (512, 112, 144, 288, 32, 64, 64),
    "4f": (528, 256, 160, 320, 32, 128, 128),
    "5b": (832, 256, 160, 320, 32, 128, 128),
    "5c": (832, 384, 192, 384, 48, 128, 128),
}
_BN_EPS = 1e-3


class Conv3dSame(nn.Conv3d):
    """``Conv3d`` with TensorFlow's "SAME" zero padding (asymmetric for even totals, depends on the input size).

    Args: those of ``nn.Conv3d`` but ``padding``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int], **kwargs
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, padding=0, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, Cin, T, H, W] -> [B, Cout, ceil(T / st), ceil(H / sh), ceil(W / sw)]."""
        pad = tf_same_padding(x.shape[-3:], self.kernel_size, self.stride, self.dilation)
        return super().forward(F.pad(x, pad) if any(pad) else x)


class MaxPool3dSame(nn.MaxPool3d):
    """``MaxPool3d`` with TensorFlow's "SAME" padding: padded cells never win the max.

    Args:
        kernel_size: (T, H, W) window.
        stride: (T, H, W) stride.
    """

    def __init__(self, kernel_size: int | Sequence[int], stride: int | Sequence[int]) -> None:
        super().__init__(_triple(kernel_size), _triple(stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, T, H, W] -> [B, C, ceil(T / st), ceil(H / sh), ceil(W / sw)]."""
        pad = tf_same_padding(x.shape[-3:], self.kernel_size, self.stride)
        return super().forward(F.pad(x, pad, value=-math.inf) if any(pad) else x)


class Unit3d(nn.Module):
    """Conv3d ("SAME" padding, no bias) -> BatchNorm3d (eps 1e-3) -> ReLU: the release's ``Unit3D``.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        kernel_size: (T, H, W) kernel, or one int for a cube.
        stride: (T, H, W) stride, or one int.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
    ) -> None:
        super().__init__()
        self.conv = Conv3dSame(in_channels, out_channels, kernel_size, stride=stride, bias=False)
        self.bn = nn.BatchNorm3d(out_channels, eps=_BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, in_channels, T, H, W] -> [B, out_channels, ceil(T / st), ceil(H / sh), ceil(W / sw)]."""
        return F.relu(self.bn(self.conv(x)), inplace=True)


class InceptionBlock3d(nn.Module):
    """Inflated Inception block: four branches concatenated along channels; T, H, W are kept.

    Args:
        in_channels: channels of the input.
        b0: output channels of branch 0 (1x1x1).
        b1_reduce, b1: branch 1, 1x1x1 to ``b1_reduce`` then 3x3x3 to ``b1``.
        b2_reduce, b2: branch 2, the same shape (the "5x5" branch of GoogLeNet, 3x3 in Inception-v1 as trained).
        b3: branch 3, 3x3x3 max-pool (stride 1) then 1x1x1 to ``b3``.
    """

    def __init__(
        self, in_channels: int, b0: int, b1_reduce: int, b1: int, b2_reduce: int, b2: int, b3: int
    ) -> None:
        super().__init__()
        self.branch0 = Unit3d(in_channels, b0, 1)
        self.branch1 = nn.Sequential(Unit3d(in_channels, b1_reduce, 1), Unit3d(b1_reduce, b1, 3))
        self.branch2 = nn.Sequential(Unit3d(in_channels, b2_reduce, 1), Unit3d(b2_reduce, b2, 3))
        self.branch3 = nn.Sequential(MaxPool3dSame(3, 1), Unit3d(in_channels, b3, 1))
        self.out_channels = b0 + b1 + b2 + b3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, in_channels, T, H, W] -> [B, b0 + b1 + b2 + b3, T, H, W]."""
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], dim=1)


class I3D(nn.Module):
    """Inception-v1 I3D: a clip [B, in_channels, T, H, W] -> logits [B, K] (see the module docstring).

    Args:
        in_channels: 3 for RGB, 2 for optical flow (x, y).
        num_classes: K.
        dropout: dropout rate before the logits (the release trained with 0.5).
    """

    feature_layout: ClassVar[FeatureLayout] = FeatureLayout.BCTHW

    def __init__(self, in_channels: int = 3, num_classes: int = 400, dropout: float = 0.5) -> None:
        super().__init__()
        if in_channels < 1 or num_classes < 0:
            raise ConfigError(
                f"I3D: in_channels must be positive and num_classes >= 0, got {in_channels}, {num_classes}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"I3D: dropout must be in [0, 1), got {dropout}")
        self.conv_1a = Unit3d(in_channels, 64, 7, stride=2)
        self.pool_2a = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.conv_2b = Unit3d(64, 64, 1)
        self.conv_2c = Unit3d(64, 192, 3)
        self.pool_3a = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.mixed_3b = InceptionBlock3d(*_MIXED["3b"])
        self.mixed_3c = InceptionBlock3d(*_MIXED["3c"])
        self.pool_4a = MaxPool3dSame(3, 2)
        self.mixed_4b = InceptionBlock3d(*_MIXED["4b"])
        self.mixed_4c = InceptionBlock3d(*_MIXED["4c"])
        self.mixed_4d = InceptionBlock3d(*_MIXED["4d"])
        self.mixed_4e = InceptionBlock3d(*_MIXED["4e"])
        self.mixed_4f = InceptionBlock3d(*_MIXED["4f"])
        self.pool_5a = MaxPool3dSame(2, 2)
        self.mixed_5b = InceptionBlock3d(*_MIXED["5b"])
        self.mixed_5c = InceptionBlock3d(*_MIXED["5c"])
        self.dropout = nn.Dropout(dropout)
        self.num_features = self.head_hidden_size = self.mixed_5c.out_channels
        self.num_classes = num_classes
        self.logits = self._classifier(num_classes)
        self._init_weights()

    def _classifier(self, num_classes: int) -> nn.Module:
        # The release's Conv3d_0c_1x1: a 1x1x1 convolution with bias (0 classes: none).
        if num_classes == 0:
            return nn.Identity()
        return nn.Conv3d(self.num_features, num_classes, kernel_size=1)

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                std = 1.0 / math.sqrt(m.weight[0].numel())
                nn.init.trunc_normal_(m.weight, std=std, a=-2 * std, b=2 * std)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """[B, in_channels, T, H, W] -> Mixed_5c's [B, 1024, ceil(T / 8), ceil(H / 32), ceil(W / 32)]."""
        x = self.pool_2a(self.conv_1a(x))
        x = self.pool_3a(self.conv_2c(self.conv_2b(x)))
        x = self.pool_4a(self.mixed_3c(self.mixed_3b(x)))
        x = self.mixed_4f(self.mixed_4e(self.mixed_4d(self.mixed_4c(self.mixed_4b(x)))))
        x = self.pool_5a(x)
        return self.mixed_5c(self.mixed_5b(x))

    def forward_temporal(self, x: torch.Tensor) -> torch.Tensor:
        """[B, in_channels, T, H, W] -> Mixed_5c's maps averaged over H', W': [B, ceil(T / 8), 1024]."""
        return temporal_pool(self.forward_features(x), self.feature_layout)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Mixed_5c maps [B, 1024, T', H', W'] -> [B, K]: 2x7x7 average pool (stride 1), dropout, 1x1x1 logits,
        mean over T, H, W. ``pre_logits``: the pooled maps averaged over T, H, W, [B, 1024] (the logits are
        linear, so they equal the classifier applied to these)."""
        t, h, w = x.shape[-3:]
        x = F.avg_pool3d(x, kernel_size=(min(2, t), min(7, h), min(7, w)), stride=1)
        if pre_logits:
            return x.mean(dim=(2, 3, 4))
        return self.logits(self.dropout(x)).mean(dim=(2, 3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, in_channels, T, H, W] -> [B, K] logits."""
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.logits

    def reset_classifier(self, num_classes: int) -> None:
        """A new 1x1x1 ``logits`` convolution for ``num_classes`` (0: none, ``forward`` returns [B, 1024])."""
        self.num_classes = num_classes
        self.logits = self._classifier(num_classes)
        if num_classes:
            std = 1.0 / math.sqrt(self.logits.weight[0].numel())
            nn.init.trunc_normal_(self.logits.weight, std=std, a=-2 * std, b=2 * std)
            nn.init.zeros_(self.logits.bias)


# ---------------------------------------------------------------------------------------------------------
# The TensorFlow checkpoints of deepmind/kinetics-i3d.


def _tf_units() -> list[tuple[str, str]]:
    """(vidact module, TF scope) of every Conv3d + BN unit, in network order."""
    units = [("conv_1a", "Conv3d_1a_7x7"), ("conv_2b", "Conv3d_2b_1x1"), ("conv_2c", "Conv3d_2c_3x3")]
    for block in _MIXED:
        ours, theirs = f"mixed_{block}", f"Mixed_{block}"
        # The release names Mixed_5b's second branch-2 convolution Conv3d_0a_3x3 (every other block: 0b).
        branch2_conv = "Conv3d_0a_3x3" if block == "5b" else "Conv3d_0b_3x3"
        units += [
            (f"{ours}.branch0", f"{theirs}/Branch_0/Conv3d_0a_1x1"),
            (f"{ours}.branch1.0", f"{theirs}/Branch_1/Conv3d_0a_1x1"),
            (f"{ours}.branch1.1", f"{theirs}/Branch_1/Conv3d_0b_3x3"),
            (f"{ours}.branch2.0", f"{theirs}/Branch_2/Conv3d_0a_1x1"),
            (f"{ours}.branch2.1", f"{theirs}/Branch_2/{branch2_conv}"),
            (f"{ours}.branch3.1", f"{theirs}/Branch_3/Conv3d_0b_1x1"),
        ]
    return units


_UNIT_VARIABLES = ("conv_3d/w", "batch_norm/beta", "batch_norm/moving_mean", "batch_norm/moving_variance")
_LOGITS = "Logits/Conv3d_0c_1x1"
_OPTIMIZER_STATE = re.compile(r"(^|/)global_step$|/(Momentum|ExponentialMovingAverage)$")


def convert_kinetics_i3d_tf_variables(
    variables: Mapping[str, np.ndarray | torch.Tensor],
) -> dict[str, torch.Tensor]:
    """Map the variables of a deepmind/kinetics-i3d TensorFlow checkpoint onto :class:`I3D`'s state_dict.

    Variable names are ``[RGB|Flow/inception_i3d/]<unit>/conv_3d/w`` ([kt, kh, kw, Cin, Cout]) and
    ``<unit>/batch_norm/{beta,moving_mean,moving_variance}`` ([C], or [1, 1, 1, 1, C] in the Kinetics-600
    checkpoint), with units ``Conv3d_1a_7x7``, ``Mixed_3b/Branch_1/Conv3d_0b_3x3``, ... (``Mixed_5b``'s
    second branch-2 unit is ``Conv3d_0a_3x3`` in the release) and ``Logits/Conv3d_0c_1x1/conv_3d/{w,b}``.
    BN has no ``gamma`` (scale) in the release, so BN weights are set to 1 (a ``gamma`` is used if present);
    ``num_batches_tracked`` is set to 0. Optimizer state (``.../Momentum``, ``global_step``) is dropped.

    Args:
        variables: name -> array, e.g. ``{n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}``.

    Raises:
        CheckpointError: variables of I3D are missing, a kernel is not 5-D, or the dict holds both streams.
    """
    local: dict[str, torch.Tensor] = {}
    for name, value in variables.items():
        if _OPTIMIZER_STATE.search(name):
            continue
        key = name.rpartition("inception_i3d/")[2]
        if key in local:
            raise CheckpointError(
                f"kinetics-i3d variables: {key} appears twice; pass one stream (RGB or Flow) at a time"
            )
        local[key] = torch.from_numpy(np.array(value))

    expected = [f"{scope}/{var}" for _, scope in _tf_units() for var in _UNIT_VARIABLES]
    missing = [
        name for name in [*expected, f"{_LOGITS}/conv_3d/w", f"{_LOGITS}/conv_3d/b"] if name not in local
    ]
    if missing:
        raise CheckpointError(
            f"kinetics-i3d variables: {len(missing)} I3D variables missing (first: {', '.join(missing[:3])})"
        )

    state: dict[str, torch.Tensor] = {}
    for ours, scope in _tf_units():
        state[f"{ours}.conv.weight"] = _conv_kernel(local.pop(f"{scope}/conv_3d/w"), scope)
        beta = local.pop(f"{scope}/batch_norm/beta").reshape(-1)
        gamma = local.pop(f"{scope}/batch_norm/gamma", None)
        state[f"{ours}.bn.weight"] = torch.ones_like(beta) if gamma is None else gamma.reshape(-1)
        state[f"{ours}.bn.bias"] = beta
        state[f"{ours}.bn.running_mean"] = local.pop(f"{scope}/batch_norm/moving_mean").reshape(-1)
        state[f"{ours}.bn.running_var"] = local.pop(f"{scope}/batch_norm/moving_variance").reshape(-1)
        state[f"{ours}.bn.num_batches_tracked"] = torch.tensor(0)
    state["logits.weight"] = _conv_kernel(local.pop(f"{_LOGITS}/conv_3d/w"), _LOGITS)
    state["logits.bias"] = local.pop(f"{_LOGITS}/conv_3d/b").reshape(-1)
    state.update(local)  # anything left is not I3D's: loading reports it as unexpected
    return state


def _conv_kernel(w: torch.Tensor, scope: str) -> torch.Tensor:
    """TF [kt, kh, kw, Cin, Cout] -> PyTorch [Cout, Cin, kt, kh, kw]."""
    if w.ndim != 5:
        raise CheckpointError(
            f"kinetics-i3d variables: {scope}/conv_3d/w has shape {tuple(w.shape)}, expected 5-D"
        )
    return w.permute(4, 3, 0, 1, 2).contiguous()


# ---------------------------------------------------------------------------------------------------------
# Registered builders.

_PAPER = (
    "Carreira, Zisserman. Quo Vadis, Action Recognition? A New Model and the Kinetics Dataset. CVPR 2017 "
    "(arXiv:1705.07750)"
)
_TEST_PROTOCOL = "whole video at 25 fps, centre 224x224 crop of a 256 short side, logits averaged over time"
# The checkpoints are plain files in the repository, pinned here to its last commit.
_RELEASE = (
    "https://raw.githubusercontent.com/deepmind/kinetics-i3d/0667e889a5904b4dc122e0ded4c332f49f8df42c/"
    "data/checkpoints"
)
_NOTES = (
    "Weights: TensorFlow checkpoints (Apache-2.0, deepmind/kinetics-i3d), read without TensorFlow by "
    "vidact.models.tf_checkpoint and mapped with convert_kinetics_i3d_tf_variables. The release's BN has no "
    "scale; vidact's BN weight is set to 1 on conversion, so params counts {extra:,} BN weights more than "
    "the release's {release:,} (the paper's 12M). The 'ImageNet + Kinetics' weights started from an ImageNet "
    "Inception-v1 inflated as vidact.models.inflate does. Two-stream I3D (RGB + flow logits summed): "
    "74.2 / 91.3 top-1 / top-5."
)

#: (index size, index sha256, index git blob, data size, data git blob) of each checkpoint in the release: the
#: sizes and blob ids are the repository tree's, the index hashes were computed on the index files, and the data
#: sizes are the sums of the tensor sizes the index lists.
_FILES = {
    "rgb_imagenet": (
        10953,
        "f4bfd6f4af485f276c68333d3eca3697b691bb647f0167a03fe021147ca7f8eb",
        "5ab1058b8f4f89a896c01f67c0a4c96a31548af7",
        50_818_176,
        "2958652e0c9c48a65010c0ebda5c9cfd4edc7c18",
    ),
    "rgb_scratch": (
        10953,
        "4fcd08b3e140f0267730e462295054c6a38f6cfd9991c310ee3d37bbdfd7030c",
        "84dd4518e982d9ca6ce1ff02e95fca2e8cbb1f73",
        50_818_176,
        "fa7df95674dbf3579e7fccd954e51e706b4734c1",
    ),
    "flow_imagenet": (
        10968,
        "71594ac5f63cb0eb58512a13b56097dc0368d09e5959dffcc6e7a45b19832366",
        "8217f9450d851d24782aaf1af01c5c3b35b81a35",
        50_730_368,
        "bf56831f663abc3de0d35f193030b73a3df7fb61",
    ),
    "flow_scratch": (
        10968,
        "81fccedbe8352f8509b05ca9f2959f5aac13552dc680c808acd4f39be82620e6",
        "193bc425100f3978c793da66bd9eb54baea8dc6a",
        50_730_368,
        "1d6a0b68f32544af11111342857e47e30d13afa9",
    ),
    "rgb_scratch_kin600": (
        19632,
        "366815af85b76e46222db13761f087584b3dc9c56abf67b822949846302e432a",
        "d378d8f01215fe92a29cd170f040c284070e9cd5",
        103_218_112,
        "6392a74c3180e706cabada39d8f40a50a48642e5",
    ),
}

#: Kinetics-i3d's input: 25 fps, short side 256, centre 224 crop, values in [-1, 1]; the whole video in one
#: clip at test time (``frames`` is the training clip).
_PRESET = Preset(
    frames=64,
    fps=25.0,
    short_side=256,
    crop_size=224,
    value_range=(-1.0, 1.0),
)


def _weights(
    tag: str, stream: str, dataset: str, num_classes: int, top1: float | None, top5: float | None
) -> Weights:
    index_size, index_sha256, index_blob, data_size, data_blob = _FILES[stream]
    return Weights(
        tag=tag,
        files=(
            WeightsFile(
                f"{_RELEASE}/{stream}/model.ckpt.index",
                sha256=index_sha256,
                git_blob=index_blob,
                size=index_size,
            ),
            WeightsFile(
                f"{_RELEASE}/{stream}/model.ckpt.data-00000-of-00001", git_blob=data_blob, size=data_size
            ),
        ),
        dataset=dataset,
        num_classes=num_classes,
        labels="kinetics600" if num_classes == 600 else "kinetics400",
        preset=_PRESET,
        layout="kinetics-i3d-tf",
        source="deepmind/kinetics-i3d",
        license="Apache-2.0 (the repository's licence, which holds the checkpoints)",
        top1=top1,
        top5=top5,
        test_protocol=_TEST_PROTOCOL + "; on the Kinetics test set (the README's table)",
        notes=(
            "Files and labels from the repository at its last commit; accuracy from its README (clips x crops "
            "not stated there). Integrity: git object ids from the repository tree; the data size is derived "
            "from the index, not measured on a downloaded file."
        ),
    )


@register_model(
    card=ModelCard(
        name="i3d_inception_v1",
        family="i3d",
        input_size=(3, 64, 224, 224),
        frames=64,
        frame_stride=1,
        params=12_697_264,
        gmacs=111.15,
        classifier="logits",
        paper=_PAPER,
        test_protocol=_TEST_PROTOCOL,
        weights=(
            _weights("kinetics400_imagenet", "rgb_imagenet", "Kinetics-400", 400, 71.1, 89.3),
            _weights("kinetics400", "rgb_scratch", "Kinetics-400", 400, 68.4, 88.0),
            _weights("kinetics600", "rgb_scratch_kin600", "Kinetics-600", 600, None, None),
        ),
        notes=_NOTES.format(extra=7_280, release=12_689_984),
    )
)
def i3d_inception_v1(*, num_classes: int = 400, dropout: float = 0.5) -> I3D:
    """I3D on RGB clips [B, 3, T, H, W] (25 fps, values in [-1, 1]; 64 x 224 x 224 in training)."""
    return I3D(in_channels=3, num_classes=num_classes, dropout=dropout)


@register_model(
    card=ModelCard(
        name="i3d_inception_v1_flow",
        family="i3d",
        input_size=(2, 64, 224, 224),
        frames=64,
        frame_stride=1,
        params=12_675_312,
        gmacs=102.34,
        classifier="logits",
        paper=_PAPER,
        test_protocol=_TEST_PROTOCOL,
        weights=(
            _weights("kinetics400_imagenet", "flow_imagenet", "Kinetics-400", 400, 63.4, 84.9),
            _weights("kinetics400", "flow_scratch", "Kinetics-400", 400, 61.5, 83.4),
        ),
        notes=_NOTES.format(extra=7_280, release=12_668_032)
        + " Flow input: TV-L1 flow (x, y) truncated to [-20, 20] pixels and scaled to [-1, 1].",
    )
)
def i3d_inception_v1_flow(*, num_classes: int = 400, dropout: float = 0.5) -> I3D:
    """I3D on TV-L1 flow clips [B, 2, T, H, W] (x, y; 25 fps; truncated to +-20 px and scaled to [-1, 1])."""
    return I3D(in_channels=2, num_classes=num_classes, dropout=dropout)


# -- the published layouts this family reads (see vidact.models.converters) ----------
register_converter("i3d", "kinetics-i3d-tf", convert_kinetics_i3d_tf_variables)
