"""The single-frame skeleton baseline: every frame's pose on its own, then a mean over time.

The skeleton twin of the per-frame video baseline (:mod:`vidact.models.per_frame`). Each frame of each person
goes through the same network, which mixes the joints of that frame with each other and never one frame with
another; the head averages over persons, frames and joints. The prediction therefore depends on the set of
frames and not on their order: a sequence and the same sequence played backwards get the same scores, so the
model cannot tell "sit down" from "stand up", nor a clockwise circle from a counter-clockwise one. That is the
floor a temporal skeleton model (:mod:`vidact.models.stgcn`) has to beat.

    joints [N, M, T, V, C] -> data BN over (V, C) -> per joint: Linear C -> D, plus a learned embedding of the
    joint -> depth x (mix joints: an MLP across V per channel; mix channels: an MLP across D per joint), each
    pre-normed and residual -> LayerNorm -> features [N, M, D, T, V] -> mean over M, T, V -> dropout, fc -> [N, K]

The per-frame block is MLP-Mixer's (Tolstikhin et al., 2021) with joints as the tokens: the joint-mixing MLP
sees the whole body of the frame at once, as the flattened-pose MLPs of early skeleton work did, while the
features keep a joint axis as vidact's skeleton contract asks.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from ..data.skeleton.layouts import get_layout
from ..data.skeleton.presets import SkeletonPreset
from .contract import FeatureLayout, temporal_pool
from .layers import LinearClassifier, linear_classifier
from .registry import ModelCard, register_model

__all__ = ["FrameMixerBlock", "SkeletonFrameMLP", "skeleton_frame_mlp"]


class FrameMixerBlock(nn.Module):
    """One Mixer block over the joints of single frames: [B, V, D] -> [B, V, D].

    Args:
        num_joints: V, the tokens.
        dim: D, the channels per joint.
        expansion: the hidden width of both MLPs, as a multiple of their input width.
        dropout: dropout after each MLP's hidden layer.
    """

    def __init__(self, num_joints: int, dim: int, expansion: int = 2, dropout: float = 0.0):
        super().__init__()
        self.joint_norm = nn.LayerNorm(dim)
        self.joint_mlp = nn.Sequential(
            nn.Linear(num_joints, num_joints * expansion),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(num_joints * expansion, num_joints),
        )
        self.channel_norm = nn.LayerNorm(dim)
        self.channel_mlp = nn.Sequential(
            nn.Linear(dim, dim * expansion), nn.GELU(), nn.Dropout(dropout), nn.Linear(dim * expansion, dim)
        )

    def forward(self, x: Tensor) -> Tensor:
        """Joint features of single frames [B, V, D] -> [B, V, D]."""
        x = x + self.joint_mlp(self.joint_norm(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channel_mlp(self.channel_norm(x))


class SkeletonFrameMLP(LinearClassifier, nn.Module):
    """A per-frame pose network and a mean over persons, frames and joints (see the module docstring).

    Args:
        num_classes: K (0: no classifier, ``forward`` returns the pooled features [N, D]).
        num_joints: V.
        in_channels: C, coordinates per joint.
        dim: D, the feature width.
        depth: Mixer blocks.
        expansion: hidden width of the blocks' MLPs, as a multiple of their input.
        dropout: dropout inside the blocks and before the classifier.
    """

    feature_layout: ClassVar[FeatureLayout] = FeatureLayout.BMCTV

    def __init__(
        self,
        num_classes: int,
        *,
        num_joints: int,
        in_channels: int,
        dim: int = 64,
        depth: int = 3,
        expansion: int = 2,
        dropout: float = 0.1,
    ):
        super().__init__()
        if num_joints < 1 or in_channels < 1 or dim < 1 or depth < 0 or expansion < 1:
            raise ValueError(
                f"need num_joints, in_channels, dim, expansion >= 1 and depth >= 0, got {num_joints}, "
                f"{in_channels}, {dim}, {expansion}, {depth}"
            )
        self.num_joints, self.in_channels = num_joints, in_channels
        self.num_features = self.head_hidden_size = dim
        self.num_classes = num_classes
        # Per (joint, coordinate) statistics over the batch, persons and frames, as ST-GCN's data BN.
        self.data_bn = nn.BatchNorm1d(num_joints * in_channels)
        self.embed = nn.Linear(in_channels, dim)
        self.joint_embedding = nn.Parameter(torch.zeros(num_joints, dim))
        nn.init.normal_(self.joint_embedding, std=0.02)
        self.blocks = nn.Sequential(
            *(FrameMixerBlock(num_joints, dim, expansion, dropout) for _ in range(depth))
        )
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.fc = linear_classifier(dim, num_classes)

    def forward_features(self, x: Tensor) -> Tensor:
        """Joints [N, M, T, V, C] -> per-frame features [N, M, D, T, V] (no mixing across frames)."""
        if x.ndim != 5 or x.shape[3:] != (self.num_joints, self.in_channels):
            raise ValueError(
                f"expected joints [N, M, T, {self.num_joints}, {self.in_channels}], got {tuple(x.shape)}"
            )
        n, m, t, v, c = x.shape
        x = self.data_bn(x.reshape(n * m, t, v * c).transpose(1, 2)).transpose(1, 2)  # [N*M, T, V*C]
        x = self.embed(x.reshape(n * m * t, v, c)) + self.joint_embedding  # [N*M*T, V, D]
        x = self.norm(self.blocks(x))
        return x.reshape(n, m, t, v, -1).permute(0, 1, 4, 2, 3)

    def forward_temporal(self, x: Tensor) -> Tensor:
        """Joints [N, M, T, V, C] -> per-frame features averaged over persons and joints: [N, T, D]."""
        return temporal_pool(self.forward_features(x), self.feature_layout)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Features [N, M, D, T, V] -> logits [N, K] (``pre_logits``: the mean over M, T, V, [N, D])."""
        x = x.mean(dim=(1, 3, 4))
        return x if pre_logits else self.fc(self.dropout(x))

    def forward(self, x: Tensor) -> Tensor:
        """Joints [N, M, T, V, C] -> logits [N, K]."""
        return self.forward_head(self.forward_features(x))


@register_model(
    card=ModelCard(
        name="skeleton_frame_mlp",
        family="skeleton_frame",
        input_size=(3, 100, 25, 2),
        frames=100,
        frame_stride=1,
        params=64_255,
        gmacs=0.343,
        default_num_classes=60,
        paper="Tolstikhin et al., MLP-Mixer: An all-MLP Architecture for Vision, NeurIPS 2021 (the block, "
        "with joints as tokens); a frame-order-blind baseline for skeleton action recognition",
        notes="Trained from scratch; no published weights. Sees every frame, never their order. MACs at batch "
        "1, input (C, T, V, M) = (3, 100, 25, 2).",
        modality="skeleton",
        preset=SkeletonPreset(layout="ntu25", frames=100, persons=2, coords="world", channels=3),
    )
)
def skeleton_frame_mlp(
    *,
    num_classes: int = 60,
    layout: str = "ntu25",
    in_channels: int = 3,
    dim: int = 64,
    depth: int = 3,
    expansion: int = 2,
    dropout: float = 0.1,
) -> SkeletonFrameMLP:
    """The single-frame skeleton baseline (:class:`SkeletonFrameMLP`): joints [N, M, T, V, C] of ``layout``
    -> logits [N, num_classes]."""
    return SkeletonFrameMLP(
        num_classes,
        num_joints=get_layout(layout).num_joints,
        in_channels=in_channels,
        dim=dim,
        depth=depth,
        expansion=expansion,
        dropout=dropout,
    )
