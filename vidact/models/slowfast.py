"""SlowFast networks (Feichtenhofer et al., "SlowFast Networks for Video Recognition", ICCV 2019).

Two ResNet-3D pathways look at one clip. The Slow pathway sees T frames with full channel width; the Fast
pathway sees α·T frames with 1/``beta_inv`` of the channels. Before each of res2..res5 (i.e. after the stem
and after res2, res3, res4) a lateral connection maps the Fast features onto the Slow time axis with a
time-strided convolution (kernel [k, 1, 1], stride [α, 1, 1], padding [k // 2, 0, 0]) + BN + ReLU, and
concatenates them to the Slow features along channels. The head average-pools each pathway globally,
concatenates, and classifies (dropout, linear).

SlowFast-R50 8x8 (α = 4, ``beta_inv`` = 8, ``lateral_ratio`` = 2) on a 32-frame 224x224 clip, per sample:

    stage   Slow [C, T, H, W]   Fast [C, T, H, W]   lateral into the next Slow stage
    input   3 x 8 x 224^2       3 x 32 x 224^2
    stem    64 x 8 x 56^2       8 x 32 x 56^2       8 -> 16 channels: res2 reads 64 + 16 = 80
    res2    256 x 8 x 56^2      32 x 32 x 56^2      32 -> 64: res3 reads 320
    res3    512 x 8 x 28^2      64 x 32 x 28^2      64 -> 128: res4 reads 640
    res4    1024 x 8 x 14^2     128 x 32 x 14^2     128 -> 256: res5 reads 1280
    res5    2048 x 8 x 7^2      256 x 32 x 7^2
    head    pool both, concatenate 2048 + 256 = 2304 -> dropout -> linear -> num_classes

Temporal kernels (the paper's Table 1): Slow stem 1x7x7, Slow res2/res3 no temporal convolution, Slow
res4/res5 3x1x1 in the first conv of every bottleneck; Fast stem 5x7x7, and 3x1x1 in every Fast bottleneck.

Lateral width. The lateral convolution outputs ``lateral_ratio * C_fast`` channels. ``lateral_ratio=2`` is
the paper's "2βC" and what every published checkpoint uses; ``lateral_ratio=1`` keeps the Fast width. With
α = 8, a Fast map [8, 32, 56, 56] (C_fast = 8) becomes [8, 4, 56, 56] at ratio 1, and concatenated with the
Slow map [64, 4, 56, 56] gives [72, 4, 56, 56]; at ratio 2 it becomes [16, 4, 56, 56] and the Slow stage
reads [80, 4, 56, 56].

Lateral kernel. The paper uses k = 5. The published SlowFast-R50 8x8 checkpoints (PySlowFast, PyTorchVideo)
were trained with k = 7, the R50 4x16 and R101 8x8 ones with k = 5; each builder defaults to the kernel of
the checkpoints its model card lists.

Input. ``model([slow, fast])`` takes slow [B, 3, T, H, W] and fast [B, 3, αT, H, W]. ``model(clip)`` takes a
single fast-rate clip [B, 3, αT, H, W] and feeds the Slow pathway ``clip[:, :, ::α]`` (frames 0, α, 2α, ...,
which are the Fast frames the lateral convolutions centre on). PySlowFast's loader picks the Slow frames with
``linspace(0, αT - 1, T)`` instead; pass ``[slow, fast]`` to reproduce that exactly. Sampling the clip is the
caller's job: ``model.num_frames`` (αT) frames, one every ``model.frame_stride`` (τ / α) source frames.

Published weights load through a converter of their key layout:

    >>> from vidact.models import build_model
    >>> from vidact.models.weights import load_weights
    >>> model = build_model("slowfast_r50")
    >>> load_weights(model, "SLOWFAST_8x8_R50.pyth", converter=convert_pytorchvideo_state_dict)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from ..errors import ConfigError
from .contract import FeatureLayout, temporal_pool
from .converters import register_converter
from .layers import (
    Bottleneck,
    ConvBnAct,
    LinearClassifier,
    Stem,
    conv3d,
    init_weights,
    linear_classifier,
    max_pool_1x3x3,
)
from .registry import ModelCard, Preset, Weights, WeightsFile, register_model

__all__ = [
    "SlowFast",
    "LateralConnection",
    "slowfast_r50",
    "slowfast_r50_4x16",
    "slowfast_r101",
    "convert_pytorchvideo_state_dict",
    "convert_pyslowfast_state_dict",
    "convert_caffe2_state_dict",
]

_STAGE_BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
# Temporal kernel of the first conv of every bottleneck in res2, res3, res4, res5.
_SLOW_TEMPORAL_KERNELS = (1, 1, 3, 3)
_FAST_TEMPORAL_KERNELS = (3, 3, 3, 3)
_SPATIAL_STRIDES = (1, 2, 2, 2)
_SLOW_STEM_KERNEL, _FAST_STEM_KERNEL = 1, 5


class LateralConnection(ConvBnAct):
    """Fast -> Slow fusion: time-strided convolution + BN + ReLU, concatenated to the Slow features.

    Args:
        fast_channels: C_fast, channels of the Fast features.
        ratio: the convolution outputs ``ratio * C_fast`` channels (the paper's 2βC is ``ratio=2``).
        alpha: temporal stride, the Fast/Slow frame-rate ratio α.
        kernel: temporal kernel size k (odd); with padding k // 2 a Fast time axis of length αT maps onto T.
    """

    def __init__(self, fast_channels: int, ratio: int, alpha: int, kernel: int) -> None:
        conv = conv3d(fast_channels, ratio * fast_channels, (kernel, 1, 1), (alpha, 1, 1))
        super().__init__(conv, ratio * fast_channels)

    def forward(self, slow: torch.Tensor, fast: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """slow [B, C_slow, T, H, W], fast [B, C_fast, αT, H, W] -> [B, C_slow + ratio * C_fast, T, H, W]."""
        return torch.cat([slow, super().forward(fast)], dim=1)


class SlowFast(LinearClassifier, nn.Module):
    """SlowFast network: [slow [B, 3, T, H, W], fast [B, 3, αT, H, W]] or a clip [B, 3, αT, H, W] -> [B, K].

    Args:
        stage_blocks: bottlenecks in res2..res5: (3, 4, 6, 3) for ResNet-50, (3, 4, 23, 3) for ResNet-101.
        num_classes: K (0: no classifier, the model returns the pooled features [B, num_features]).
        alpha: α, the Fast/Slow frame-rate ratio (the lateral convolutions' temporal stride).
        beta_inv: 1/β, the Slow/Fast channel ratio.
        lateral_ratio: each lateral convolution outputs ``lateral_ratio * C_fast`` channels (paper: 2).
        lateral_kernel: temporal kernel of the lateral convolutions (odd; paper: 5).
        slow_frames: T, the Slow pathway's frame count the model is built for (``num_frames`` = αT).
        tau: τ, the Slow pathway's temporal stride in source frames (``frame_stride`` = τ / α).
        width: channels of the Slow stem (64); stage widths and the Fast pathway scale with it.
        dropout: dropout rate before the classifier.
        zero_init_residual: start every bottleneck's last BN at zero (the published training recipes do).

    Attributes:
        num_frames: αT, the length of the fast-rate clip to sample.
        frame_stride: τ / α, the step in source frames between consecutive clip frames.

    Raises:
        ConfigError: a value that does not describe a SlowFast network (e.g. ``width`` not divisible by
            ``beta_inv``, ``tau`` not a multiple of ``alpha``, an even ``lateral_kernel``).
    """

    feature_layout: ClassVar[FeatureLayout] = FeatureLayout.PATHWAYS

    def __init__(
        self,
        stage_blocks: Sequence[int],
        *,
        num_classes: int = 400,
        alpha: int = 4,
        beta_inv: int = 8,
        lateral_ratio: int = 2,
        lateral_kernel: int = 5,
        slow_frames: int = 8,
        tau: int = 8,
        width: int = 64,
        dropout: float = 0.5,
        zero_init_residual: bool = True,
    ) -> None:
        super().__init__()
        if num_classes < 0:
            raise ConfigError(f"SlowFast: num_classes must be >= 0 (0: no classifier), got {num_classes}")
        counts = {
            "alpha": alpha,
            "beta_inv": beta_inv,
            "lateral_ratio": lateral_ratio,
            "slow_frames": slow_frames,
        }
        for name, value in counts.items():
            if value < 1:
                raise ConfigError(f"SlowFast: {name} must be a positive integer, got {value}")
        if len(stage_blocks) != 4 or min(stage_blocks) < 1:
            raise ConfigError(
                f"SlowFast: stage_blocks must be 4 positive block counts (res2..res5), got {stage_blocks}"
            )
        if width < beta_inv or width % beta_inv:
            raise ConfigError(f"SlowFast: width={width} must be a positive multiple of beta_inv={beta_inv}")
        if lateral_kernel < 1 or lateral_kernel % 2 == 0:
            raise ConfigError(
                f"SlowFast: lateral_kernel must be odd (it is padded by k // 2), got {lateral_kernel}"
            )
        if tau < alpha or tau % alpha:
            raise ConfigError(
                f"SlowFast: tau={tau} must be a multiple of alpha={alpha} (the Fast stride is tau / alpha)"
            )
        self.alpha = alpha
        self.num_frames = alpha * slow_frames
        self.frame_stride = tau // alpha

        fast_width = width // beta_inv
        self.slow_stem = _stem(width, _SLOW_STEM_KERNEL)
        self.fast_stem = _stem(fast_width, _FAST_STEM_KERNEL)
        self.laterals = nn.ModuleList()
        self.slow_layers = nn.ModuleList()
        self.fast_layers = nn.ModuleList()
        slow_in, fast_in = width, fast_width
        for stage, num_blocks in enumerate(stage_blocks):
            slow_inner, fast_inner, stride = width * 2**stage, fast_width * 2**stage, _SPATIAL_STRIDES[stage]
            self.laterals.append(LateralConnection(fast_in, lateral_ratio, alpha, lateral_kernel))
            slow_in += lateral_ratio * fast_in
            self.slow_layers.append(
                _make_layer(slow_in, slow_inner, num_blocks, _SLOW_TEMPORAL_KERNELS[stage], stride)
            )
            self.fast_layers.append(
                _make_layer(fast_in, fast_inner, num_blocks, _FAST_TEMPORAL_KERNELS[stage], stride)
            )
            slow_in, fast_in = 4 * slow_inner, 4 * fast_inner

        self.num_features = self.head_hidden_size = slow_in + fast_in
        self.num_classes = num_classes
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = linear_classifier(self.num_features, num_classes)
        init_weights(self, zero_init_residual=zero_init_residual)

    def forward_features(self, x: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """The res5 maps of both pathways, unpooled: a list ``[slow, fast]``.

        For a clip [B, 3, αT, H, W] (or a ``[slow, fast]`` pair) and stem width C (64):
        ``[slow [B, 32C, T, H', W'], fast [B, 32C / beta_inv, αT, H', W']]`` with H' = ceil(H / 32), i.e.
        [B, 2048, 8, 7, 7] and [B, 256, 32, 7, 7] for SlowFast-R50 8x8 at 32 x 224 x 224.

        Raises:
            ValueError: a pair whose Slow clip does not have ⌈T_fast / α⌉ frames (T_fast: Fast frames).
        """
        slow, fast = self._pathway_inputs(x)
        slow, fast = self.slow_stem(slow), self.fast_stem(fast)
        stages = zip(self.laterals, self.slow_layers, self.fast_layers, strict=True)
        for lateral, slow_layer, fast_layer in stages:
            slow = lateral(slow, fast)
            slow, fast = slow_layer(slow), fast_layer(fast)
        return [slow, fast]

    def forward_temporal(self, x: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        """Temporal features [B, T, num_features] of a clip [B, 3, αT, H, W] (or a ``[slow, fast]`` pair).

        Both res5 maps averaged over H', W'; the Fast one also over each group of α frames, onto the Slow
        pathway's T steps; concatenated on channels (Slow first, as in the head): [B, 8, 2304] for
        SlowFast-R50 8x8 at 32 x 224 x 224.
        """
        return temporal_pool(self.forward_features(x), self.feature_layout)

    def forward_head(self, x: Sequence[torch.Tensor], pre_logits: bool = False) -> torch.Tensor:
        """``[slow, fast]`` maps -> [B, K] logits: each pathway pooled globally, concatenated, dropout, ``fc``.

        ``pre_logits``: the concatenated pooled features [B, num_features] (2048 + 256 for R50).
        """
        features = torch.cat([self.avgpool(pathway).flatten(1) for pathway in x], dim=1)
        return features if pre_logits else self.fc(self.dropout(features))

    def forward(self, x: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        """Logits [B, K] of ``[slow [B, 3, T, H, W], fast [B, 3, αT, H, W]]`` or of a clip [B, 3, αT, H, W]."""
        return self.forward_head(self.forward_features(x))

    def _pathway_inputs(self, x: torch.Tensor | Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(x, torch.Tensor):
            return x[:, :, :: self.alpha], x
        if len(x) != 2:
            raise ValueError(f"SlowFast takes a clip or a [slow, fast] pair of clips, got {len(x)} tensors")
        slow, fast = x
        expected = -(-fast.shape[2] // self.alpha)
        if slow.shape[2] != expected:
            raise ValueError(
                f"SlowFast: a Fast clip of {fast.shape[2]} frames needs a Slow clip of {expected} frames "
                f"(alpha={self.alpha}), got {slow.shape[2]}"
            )
        return slow, fast


def _stem(out_channels: int, temporal_kernel: int) -> Stem:
    """[kt, 7, 7] convolution (spatial stride 2), BN, ReLU, 1x3x3 max pool (stride 2): H, W -> ceil(H / 4)."""
    return Stem(
        conv3d(3, out_channels, (temporal_kernel, 7, 7), (1, 2, 2)), out_channels, pool=max_pool_1x3x3()
    )


def _make_layer(
    in_channels: int, width: int, num_blocks: int, temporal_kernel: int, stride: int
) -> nn.Sequential:
    blocks = [Bottleneck(in_channels, width, temporal_kernel, stride)]
    blocks += [Bottleneck(4 * width, width, temporal_kernel) for _ in range(num_blocks - 1)]
    return nn.Sequential(*blocks)


# ---------------------------------------------------------------------------------------------------------
# Converters of published checkpoint layouts.

_PATHWAYS = ("slow", "fast")
_PYTORCHVIDEO_BLOCK_PARTS = {
    "branch1_conv": "downsample.0",
    "branch1_norm": "downsample.1",
    "branch2.conv_a": "conv1",
    "branch2.norm_a": "bn1",
    "branch2.conv_b": "conv2",
    "branch2.norm_b": "bn2",
    "branch2.conv_c": "conv3",
    "branch2.norm_c": "bn3",
}
_PYSLOWFAST_BLOCK_PARTS = {
    "branch1": "downsample.0",
    "branch1_bn": "downsample.1",
    "branch2.a": "conv1",
    "branch2.a_bn": "bn1",
    "branch2.b": "conv2",
    "branch2.b_bn": "bn2",
    "branch2.c": "conv3",
    "branch2.c_bn": "bn3",
}


def convert_pytorchvideo_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map PyTorchVideo's ``create_slowfast`` key layout onto :class:`SlowFast`'s.

    ``blocks.0.multipathway_blocks.{0,1}`` are the Slow/Fast stems, ``blocks.{0..3}.multipathway_fusion``
    the lateral connections, ``blocks.{1..4}.multipathway_blocks.{p}.res_blocks.{i}`` the bottlenecks and
    ``blocks.{n}.proj`` the classifier. A ``model.`` prefix (PySlowFast's ``PTVSlowFast`` wrapper) is
    accepted. Other keys pass through unchanged (a vidact-layout key stays valid, anything else is
    reported as unexpected on loading).
    """
    return {_pytorchvideo_key(key.removeprefix("model.")): value for key, value in state.items()}


def _pytorchvideo_key(key: str) -> str:
    if m := re.fullmatch(r"blocks\.0\.multipathway_blocks\.([01])\.(conv|norm)\.(\w+)", key):
        pathway, part, tensor = m.groups()
        return f"{_PATHWAYS[int(pathway)]}_stem.{'bn' if part == 'norm' else 'conv'}.{tensor}"
    if m := re.fullmatch(r"blocks\.([0-3])\.multipathway_fusion\.(conv_fast_to_slow|norm)\.(\w+)", key):
        stage, part, tensor = m.groups()
        return f"laterals.{stage}.{'bn' if part == 'norm' else 'conv'}.{tensor}"
    if m := re.fullmatch(
        r"blocks\.([1-4])\.multipathway_blocks\.([01])\.res_blocks\.(\d+)\.(.+)\.(\w+)", key
    ):
        stage, pathway, block, part, tensor = m.groups()
        if part in _PYTORCHVIDEO_BLOCK_PARTS:
            layer = f"{_PATHWAYS[int(pathway)]}_layers.{int(stage) - 1}.{block}"
            return f"{layer}.{_PYTORCHVIDEO_BLOCK_PARTS[part]}.{tensor}"
    if m := re.fullmatch(r"blocks\.\d+\.proj\.(weight|bias)", key):
        return f"fc.{m.group(1)}"
    return key


def convert_pyslowfast_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a PySlowFast (facebookresearch/SlowFast) ``model_state`` onto :class:`SlowFast`'s key layout.

    ``s1.pathway{0,1}_stem`` are the stems, ``s{1..4}_fuse`` the lateral connections,
    ``s{2..5}.pathway{p}_res{i}`` the bottlenecks (``branch1`` the shortcut, ``branch2.{a,b,c}`` the three
    convolutions) and ``head.projection`` the classifier. This is the layout of PyTorch checkpoints that
    PySlowFast saves (``{"model_state": ..., ...}``); its Kinetics ``.pkl`` files are Caffe2 blobs that
    PySlowFast must load and save again first. Other keys pass through unchanged.
    """
    return {_pyslowfast_key(key): value for key, value in state.items()}


def _pyslowfast_key(key: str) -> str:
    if m := re.fullmatch(r"s1\.pathway([01])_stem\.(conv|bn)\.(\w+)", key):
        pathway, part, tensor = m.groups()
        return f"{_PATHWAYS[int(pathway)]}_stem.{part}.{tensor}"
    if m := re.fullmatch(r"s([1-4])_fuse\.(conv_f2s|bn)\.(\w+)", key):
        stage, part, tensor = m.groups()
        return f"laterals.{int(stage) - 1}.{'conv' if part == 'conv_f2s' else 'bn'}.{tensor}"
    if m := re.fullmatch(r"s([2-5])\.pathway([01])_res(\d+)\.(.+)\.(\w+)", key):
        stage, pathway, block, part, tensor = m.groups()
        if part in _PYSLOWFAST_BLOCK_PARTS:
            layer = f"{_PATHWAYS[int(pathway)]}_layers.{int(stage) - 2}.{block}"
            return f"{layer}.{_PYSLOWFAST_BLOCK_PARTS[part]}.{tensor}"
    if m := re.fullmatch(r"head\.projection\.(weight|bias)", key):
        return f"fc.{m.group(1)}"
    return key


_C2_BN = {"s": "weight", "b": "bias", "rm": "running_mean", "riv": "running_var"}
_C2_BRANCH2 = {"a": "1", "b": "2", "c": "3"}


def _caffe2_key(name: str) -> str | None:
    """vidact's key of a PySlowFast Caffe2 blob name, or None for a name this mapping does not know."""
    pathway = "fast" if name.startswith("t_") else "slow"
    base = name[2:] if pathway == "fast" else name
    # Lateral connections sit on the Fast side: t_pool1_subsample (before res2), t_res{S}_{I}_branch2c_bn_subsample.
    if m := re.fullmatch(r"t_(?:pool1|res([2-4])_\d+_branch2c_bn)_subsample(_bn)?_(w|s|b|rm|riv)", name):
        stage, bn, suffix = m.groups()
        lateral = 0 if stage is None else int(stage) - 1
        if bn:
            return f"laterals.{lateral}.bn.{_C2_BN[suffix]}" if suffix in _C2_BN else None
        return f"laterals.{lateral}.conv.weight" if suffix == "w" else None
    if base == "conv1_w":
        return f"{pathway}_stem.conv.weight"
    if m := re.fullmatch(r"res_conv1_bn_(s|b|rm|riv)", base):
        return f"{pathway}_stem.bn.{_C2_BN[m[1]]}"
    if m := re.fullmatch(r"res([2-5])_(\d+)_branch(1|2[abc])(_bn)?_(w|s|b|rm|riv)", base):
        stage, block, branch, bn, suffix = m.groups()
        layer = f"{pathway}_layers.{int(stage) - 2}.{block}"
        if branch == "1":
            part = "downsample.1" if bn else "downsample.0"
        else:
            part = f"{'bn' if bn else 'conv'}{_C2_BRANCH2[branch[1]]}"
        if bn:
            return f"{layer}.{part}.{_C2_BN[suffix]}" if suffix in _C2_BN else None
        return f"{layer}.{part}.weight" if suffix == "w" else None
    if m := re.fullmatch(r"pred_(w|b)", name):
        return f"fc.{'weight' if m[1] == 'w' else 'bias'}"
    return None


def convert_caffe2_state_dict(blobs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map the blobs of a PySlowFast Caffe2 ``.pkl`` (:func:`vidact.models.caffe2.read_caffe2_blobs`) onto
    :class:`SlowFast`'s keys.

    Caffe2 names (the rules of PySlowFast's ``c2_model_loading``, written here for this network): the Slow
    pathway's blobs have no prefix and the Fast pathway's a ``t_``; ``conv1_w`` and ``res_conv1_bn_*`` are the
    stems; ``res{S}_{I}_branch2{a,b,c}[_bn]_*`` the bottlenecks' convolutions and BNs, ``res{S}_{I}_branch1[_bn]``
    their shortcuts; ``t_pool1_subsample[_bn]`` and ``t_res{S}_{I}_branch2c_bn_subsample[_bn]`` the lateral
    connections before res2 and after res{S}; ``pred_{w,b}`` the classifier. BN blobs end in ``_s`` (scale),
    ``_b`` (shift), ``_rm`` and ``_riv`` (running mean and variance). BN's ``num_batches_tracked``, which Caffe2
    does not have, is set to 0. A blob no rule maps keeps its name, so loading reports it as unexpected.
    """
    out: dict[str, torch.Tensor] = {}
    for name, value in blobs.items():
        key = _caffe2_key(name)
        out[key if key is not None else name] = value
        if key is not None and key.endswith(".running_mean"):
            out[key.replace(".running_mean", ".num_batches_tracked")] = torch.tensor(0)
    return out


# ---------------------------------------------------------------------------------------------------------
# Registered builders.

_PAPER = (
    "Feichtenhofer, Fan, Malik, He. SlowFast Networks for Video Recognition. ICCV 2019 (arXiv:1812.03982)"
)
_TEST_PROTOCOL = "10 temporal clips x 3 spatial crops, short side 256 (256x256 crops)"
_PYTORCHVIDEO_ZOO = "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics"
_PYSLOWFAST_ZOO = "https://dl.fbaipublicfiles.com/pyslowfast/model_zoo/kinetics400"
_NOTES = (
    "Input: a fast-rate clip [B, 3, 32, H, W] (the Slow pathway takes every alpha-th frame) or a "
    "[slow, fast] pair. vidact pools each pathway globally; the published 256-crop results pooled 7x7 "
    "windows and averaged (identical at 224, slightly different at 256). PySlowFast's Kinetics .pkl files "
    "are Caffe2 blobs (convert_caffe2_blobs maps their names onto PySlowFast's, then "
    "convert_pyslowfast_state_dict onto vidact's); PyTorchVideo's .pyth files load with "
    "convert_pytorchvideo_state_dict. Both codebases are Apache-2.0; the weights are published under the "
    "same terms."
)


def _kinetics_weights(
    tag: str, url: str, source: str, layout: str, top1: float, top5: float, alpha: int
) -> Weights:
    pytorchvideo = source == "PyTorchVideo"
    return Weights(
        tag=tag,
        files=(WeightsFile(url),),
        dataset="Kinetics-400",
        num_classes=400,
        labels="kinetics400",
        # 32 frames every 2nd of 30 fps (the Slow pathway takes every alpha-th), short side 256, 3 x 256 crops.
        preset=Preset(
            frames=32,
            frame_stride=2,
            fps=15.0,
            short_side=256,
            crop_size=256,
            mean=(0.45, 0.45, 0.45),
            std=(0.225, 0.225, 0.225),
            num_clips=10,
            num_crops=3,
        ),
        layout=layout,
        source=source,
        license=f"Apache-2.0 ({source}'s code; no separate licence is stated for the weights)",
        top1=top1,
        top5=top5,
        test_protocol=_TEST_PROTOCOL,
        notes=(
            (
                "PyTorchVideo's model zoo (docs/source/model_zoo.md, hub/slowfast.py): a torch checkpoint whose "
                "weights are under model_state."
                if pytorchvideo
                else "PySlowFast's MODEL_ZOO.md: a Caffe2 pickle of numpy blobs (its configs set "
                "TRAIN.CHECKPOINT_TYPE caffe2), read by a restricted unpickler that admits numpy arrays only."
            )
            + f" Preprocessing from PySlowFast's Kinetics configs (alpha {alpha}). No hash or size is "
            "published: the file is checked by loading it."
        ),
    )


def _card(name: str, params: int, gmacs: float, weights: tuple[Weights, ...]) -> ModelCard:
    return ModelCard(
        name=name,
        family="slowfast",
        input_size=(3, 32, 256, 256),
        frames=32,
        frame_stride=2,
        params=params,
        gmacs=gmacs,
        paper=_PAPER,
        test_protocol=_TEST_PROTOCOL,
        weights=weights,
        notes=_NOTES,
    )


@register_model(
    card=_card(
        "slowfast_r50",
        params=34_566_488,
        gmacs=65.71,
        weights=(
            _kinetics_weights(
                "kinetics400",
                f"{_PYTORCHVIDEO_ZOO}/SLOWFAST_8x8_R50.pyth",
                "PyTorchVideo",
                "pytorchvideo",
                76.94,
                92.69,
                alpha=4,
            ),
            _kinetics_weights(
                "kinetics400_pyslowfast",
                f"{_PYSLOWFAST_ZOO}/SLOWFAST_8x8_R50.pkl",
                "PySlowFast",
                "pyslowfast-caffe2",
                77.0,
                92.6,
                alpha=4,
            ),
        ),
    )
)
def slowfast_r50(
    *,
    num_classes: int = 400,
    alpha: int = 4,
    beta_inv: int = 8,
    slow_frames: int = 8,
    tau: int = 8,
    lateral_ratio: int = 2,
    lateral_kernel: int = 7,
    **kwargs: Any,
) -> SlowFast:
    """SlowFast-R50 8x8: T = 8 Slow frames every τ = 8, α = 4 (32 Fast frames every 2nd source frame).

    ``kwargs`` go to :class:`SlowFast` (``width``, ``dropout``, ``zero_init_residual``).
    """
    return SlowFast(
        _STAGE_BLOCKS[50],
        num_classes=num_classes,
        alpha=alpha,
        beta_inv=beta_inv,
        slow_frames=slow_frames,
        tau=tau,
        lateral_ratio=lateral_ratio,
        lateral_kernel=lateral_kernel,
        **kwargs,
    )


@register_model(
    card=_card(
        "slowfast_r50_4x16",
        params=34_480_216,
        gmacs=36.10,
        weights=(
            _kinetics_weights(
                "kinetics400",
                f"{_PYTORCHVIDEO_ZOO}/SLOWFAST_4x16_R50.pyth",
                "PyTorchVideo",
                "pytorchvideo",
                75.34,
                91.89,
                alpha=8,
            ),
            _kinetics_weights(
                "kinetics400_pyslowfast",
                f"{_PYSLOWFAST_ZOO}/SLOWFAST_4x16_R50.pkl",
                "PySlowFast",
                "pyslowfast-caffe2",
                75.6,
                92.0,
                alpha=8,
            ),
        ),
    )
)
def slowfast_r50_4x16(
    *,
    num_classes: int = 400,
    alpha: int = 8,
    beta_inv: int = 8,
    slow_frames: int = 4,
    tau: int = 16,
    lateral_ratio: int = 2,
    lateral_kernel: int = 5,
    **kwargs: Any,
) -> SlowFast:
    """SlowFast-R50 4x16: T = 4 Slow frames every τ = 16, α = 8 (32 Fast frames every 2nd source frame).

    ``kwargs`` go to :class:`SlowFast` (``width``, ``dropout``, ``zero_init_residual``).
    """
    return SlowFast(
        _STAGE_BLOCKS[50],
        num_classes=num_classes,
        alpha=alpha,
        beta_inv=beta_inv,
        slow_frames=slow_frames,
        tau=tau,
        lateral_ratio=lateral_ratio,
        lateral_kernel=lateral_kernel,
        **kwargs,
    )


@register_model(
    card=_card(
        "slowfast_r101",
        params=62_826_968,
        gmacs=125.91,
        weights=(
            _kinetics_weights(
                "kinetics400",
                f"{_PYTORCHVIDEO_ZOO}/SLOWFAST_8x8_R101.pyth",
                "PyTorchVideo",
                "pytorchvideo",
                77.90,
                93.27,
                alpha=4,
            ),
        ),
    )
)
def slowfast_r101(
    *,
    num_classes: int = 400,
    alpha: int = 4,
    beta_inv: int = 8,
    slow_frames: int = 8,
    tau: int = 8,
    lateral_ratio: int = 2,
    lateral_kernel: int = 5,
    **kwargs: Any,
) -> SlowFast:
    """SlowFast-R101 8x8: T = 8 Slow frames every τ = 8, α = 4 (32 Fast frames every 2nd source frame).

    ``kwargs`` go to :class:`SlowFast` (``width``, ``dropout``, ``zero_init_residual``).
    """
    return SlowFast(
        _STAGE_BLOCKS[101],
        num_classes=num_classes,
        alpha=alpha,
        beta_inv=beta_inv,
        slow_frames=slow_frames,
        tau=tau,
        lateral_ratio=lateral_ratio,
        lateral_kernel=lateral_kernel,
        **kwargs,
    )


# -- the published layouts this family reads (see vidact.models.converters) ----------
register_converter("slowfast", "pytorchvideo", convert_pytorchvideo_state_dict)
register_converter("slowfast", "pyslowfast", convert_pyslowfast_state_dict)
register_converter("slowfast", "pyslowfast-caffe2", convert_caffe2_state_dict)
