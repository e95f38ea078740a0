"""A sliding-window detection baseline: what ActionFormer's transformer and boundary regression buy.

    features [B, D, T] + mask [B, T]
      -> embedding: 2 x (masked conv k=3, LayerNorm, ReLU), as ActionFormer's                [B, C, T]
      -> level l: a window of fixed length 2 h_l centred on every ``stride_l``-th step, the mean of the embedded
         features of its real steps (masked average pooling)                               [B, C, T_l]
      -> an MLP shared by every level (plus a learnt embedding of the level) -> K sigmoid logits per window
      -> offsets: the window's own half-length h_l / stride_l on both sides, constant
    -> {"cls_logits": [[B, T_l, K]], "offsets": [[B, T_l, 2]], "masks": [[B, T_l]]},  T_l = ceil(T / stride_l)

The output is ActionFormer's (:mod:`vidact.models.actionformer`): the same levels, strides, regression ranges,
targets, focal loss, decoding and NMS apply. Only two things differ: no transformer (each window sees its own
mean, nothing of its context) and no regression (a window proposes its own extent). The default half-lengths
sit inside each level's regression range (the middle of a bounded range, 1.5 x the lower bound of the last,
open one), so a window has the length of the actions its level is trained on. Its offsets carry no gradient:
the regression loss of :func:`~vidact.detect.losses.detection_losses` is then a measurement of how well the fixed
extents fit, not a training signal (only the classification loss trains it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..data.features import FeaturesSpec
from ..errors import ConfigError
from .actionformer import (
    ConvEmbedding,
    Pyramid,
    check_detector_input,
    crop_pyramid,
    default_regression_ranges,
    init_prior_bias,
)
from .registry import ModelCard, register_model

__all__ = [
    "window_means",
    "default_half_lengths",
    "SlidingWindowDetector",
    "tad_baseline",
    "tad_baseline_tiny",
]


def window_means(x: Tensor, mask: Tensor, stride: int, half_length: float) -> Tensor:
    """The mean of the real steps in a window around every ``stride``-th step.

    Args:
        x: [B, C, T] features (zero on padded steps).
        mask: [B, T] bool, True on real steps.
        stride: the window centres are the steps ``i * stride``, i < ceil(T / stride).
        half_length: a window holds the steps within ``half_length`` of its centre.

    Returns:
        [B, C, ceil(T / stride)] float32; zero where a window holds no real step.
    """
    t = x.shape[2]
    keep = mask.to(torch.float32)
    totals = torch.cumsum(x.float() * keep[:, None, :], dim=2)
    totals = torch.cat([totals.new_zeros(totals.shape[:2] + (1,)), totals], dim=2)  # [B, C, T + 1]
    counts = torch.cat([keep.new_zeros(keep.shape[0], 1), torch.cumsum(keep, dim=1)], dim=1)  # [B, T + 1]
    centres = torch.arange(0, t, stride, device=x.device)
    first = (centres - math.floor(half_length)).clamp(min=0)
    last = (centres + math.floor(half_length)).clamp(max=t - 1) + 1
    sums = totals[:, :, last] - totals[:, :, first]
    return sums / (counts[:, last] - counts[:, first]).clamp(min=1.0)[:, None, :]


def default_half_lengths(regression_ranges: Sequence[Sequence[float]]) -> tuple[float, ...]:
    """One half-length (steps) per level, inside its regression range of the distance to the farther boundary:
    the middle of a bounded range, 1.5 x the lower bound of an open one."""
    return tuple((low + high) / 2 if math.isfinite(high) else 1.5 * low for low, high in regression_ranges)


class SlidingWindowDetector(nn.Module):
    """Multi-scale sliding windows classified from their mean features: features [B, D, T] + mask [B, T] ->
    ActionFormer's per-level outputs (see the module docstring).

    Args:
        num_classes: K (>= 1).
        in_channels: D.
        embed_dim: C, the embedding's width.
        hidden_dim: the MLP's hidden width.
        num_levels: L.
        scale_factor: the stride ratio between levels (strides 1, f, f^2, ...).
        regression_ranges: per level, as ActionFormer's (default: :func:`default_regression_ranges`).
        half_lengths: per level, the windows' half-length in steps (default: :func:`default_half_lengths`).
        max_seq_len: the training length (the data pads to it).
        embed_kernel_size: the embedding convolutions' kernel.
        dropout: dropout in the MLP.
        prior_prob: the initial probability of every class.
    """

    def __init__(
        self,
        num_classes: int = 20,
        in_channels: int = 2048,
        *,
        embed_dim: int = 512,
        hidden_dim: int = 512,
        num_levels: int = 6,
        scale_factor: int = 2,
        regression_ranges: Sequence[Sequence[float]] | None = None,
        half_lengths: Sequence[float] | None = None,
        max_seq_len: int = 2304,
        embed_kernel_size: int = 3,
        dropout: float = 0.0,
        prior_prob: float = 0.01,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ConfigError(f"a detector needs num_classes >= 1, got {num_classes}")
        ranges = (
            default_regression_ranges(num_levels, scale_factor)
            if regression_ranges is None
            else tuple((float(lo), float(hi)) for lo, hi in regression_ranges)
        )
        halves = default_half_lengths(ranges) if half_lengths is None else tuple(map(float, half_lengths))
        if not len(ranges) == len(halves) == num_levels or min(halves) <= 0:
            raise ConfigError(
                f"{num_levels} levels need as many regression ranges and positive half-lengths, got "
                f"{len(ranges)} and {list(halves)}"
            )
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.num_features = embed_dim
        self.head_hidden_size = hidden_dim
        self.max_seq_len = max_seq_len
        self.strides: tuple[int, ...] = tuple(scale_factor**level for level in range(num_levels))
        self.regression_ranges: tuple[tuple[float, float], ...] = ranges
        self.half_lengths: tuple[float, ...] = halves
        if max_seq_len % self.strides[-1]:
            raise ConfigError(
                f"max_seq_len {max_seq_len} is not a multiple of the largest stride {self.strides[-1]}"
            )
        self.embedding = ConvEmbedding(in_channels, embed_dim, kernel_size=embed_kernel_size)
        self.level_embed = nn.Parameter(torch.zeros(num_levels, embed_dim))
        self.mlp = nn.Sequential(nn.Linear(embed_dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout))
        self.prior_prob = prior_prob
        self.reset_classifier(num_classes)

    def forward_features(self, features: Tensor, mask: Tensor | None = None) -> Pyramid:
        """features [B, D, T], mask [B, T] bool (None: all real) -> Pyramid of window means [B, C, ceil(T /
        s_l)]."""
        x, mask, length = check_detector_input(self, features, mask)
        x = self.embedding(x, mask)
        levels = [
            window_means(x, mask, stride, half).to(x.dtype)
            for stride, half in zip(self.strides, self.half_lengths, strict=True)
        ]
        return crop_pyramid(Pyramid(levels, [mask[:, ::s] for s in self.strides]), self.strides, length)

    def forward_head(self, pyramid: Pyramid) -> dict[str, list[Tensor]]:
        """Pyramid of [B, C, T_l] -> {"cls_logits": [[B, T_l, K]], "offsets": [[B, T_l, 2]], "masks":
        [[B, T_l]]}; offsets are the fixed ``half_length / stride`` (zero on padded steps)."""
        logits, offsets = [], []
        for level, (x, mask) in enumerate(zip(*pyramid, strict=True)):
            keep = mask[:, :, None].to(x.dtype)
            hidden = self.mlp(x.transpose(1, 2) + self.level_embed[level])
            logits.append(self.classifier(hidden) * keep)
            extent = self.half_lengths[level] / self.strides[level]
            offsets.append(keep.expand(-1, -1, 2) * extent)
        return {"cls_logits": logits, "offsets": offsets, "masks": list(pyramid.masks)}

    def forward(self, features: Tensor, mask: Tensor | None = None) -> dict[str, list[Tensor]]:
        """features [B, D, T], mask [B, T] bool (None: all real) -> the per-level outputs."""
        return self.forward_head(self.forward_features(features, mask))

    def get_classifier(self) -> nn.Module:
        """The MLP's last layer (``classifier``: weight [K, hidden_dim])."""
        return self.classifier

    def reset_classifier(self, num_classes: int) -> None:
        """A new last layer for ``num_classes`` (>= 1), biases at the prior; the rest kept.

        Raises:
            ConfigError: ``num_classes`` < 1.
        """
        if num_classes < 1:
            raise ConfigError(f"a detector needs num_classes >= 1, got {num_classes}")
        like = self.level_embed
        self.classifier = nn.Linear(self.head_hidden_size, num_classes, device=like.device, dtype=like.dtype)
        if self.prior_prob > 0:
            init_prior_bias(self.classifier, self.prior_prob)
        self.num_classes = num_classes


_NOTES = (
    "A baseline, not a published model: multi-scale sliding windows over the features, each classified from "
    "its mean embedded feature, proposing its own fixed extent (no regression, no context), decoded and "
    "suppressed as ActionFormer's outputs. input_size of a features model is (D, max_seq_len, 1, 1); frames = "
    "max_seq_len, frame_stride = 1. Parameters at the default class count; MACs at batch 1, one max_seq_len "
    "sequence."
)
_PAPER = (
    "none: the window-classification idea of early detectors (e.g. Shou, Wang and Chang, Temporal Action "
    "Localization in Untrimmed Videos via Multi-stage CNNs, CVPR 2016), on ActionFormer's outputs"
)


@register_model(
    card=ModelCard(
        name="tad_baseline",
        family="tad_baseline",
        modality="features",
        input_size=(2048, 2304, 1, 1),
        frames=2304,
        frame_stride=1,
        params=4_210_196,
        gmacs=10.3,
        default_num_classes=20,
        paper=_PAPER,
        classifier="classifier",
        preset=FeaturesSpec(dim=2048, max_seq_len=2304, feat_stride=4, num_frames=16),
        notes="Sized as ActionFormer's THUMOS14 configuration (512 wide, 6 levels, max_seq_len 2304). "
        + _NOTES,
    )
)
def tad_baseline(*, num_classes: int = 20, in_channels: int = 2048, **options: Any) -> SlidingWindowDetector:
    """The sliding-window baseline at ActionFormer's THUMOS14 size; options: see :class:`SlidingWindowDetector`."""
    return SlidingWindowDetector(num_classes, in_channels, **options)


@register_model(
    card=ModelCard(
        name="tad_baseline_tiny",
        family="tad_baseline",
        modality="features",
        input_size=(128, 256, 1, 1),
        frames=256,
        frame_stride=1,
        params=42_836,
        gmacs=0.012,
        default_num_classes=20,
        paper=_PAPER,
        classifier="classifier",
        preset=FeaturesSpec(dim=128, max_seq_len=256),
        notes="Sized as actionformer_tiny (64 wide, 4 levels, max_seq_len 256). " + _NOTES,
    )
)
def tad_baseline_tiny(
    *, num_classes: int = 20, in_channels: int = 128, **options: Any
) -> SlidingWindowDetector:
    """The sliding-window baseline at actionformer_tiny's size; options: see :class:`SlidingWindowDetector`."""
    defaults = {"embed_dim": 64, "hidden_dim": 64, "num_levels": 4, "max_seq_len": 256}
    return SlidingWindowDetector(num_classes, in_channels, **{**defaults, **options})
