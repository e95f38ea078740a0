"""EfficientGCN (Song, Zhang, Shan and Wang, "Constructing Stronger and Faster Baselines for Skeleton-based
Action Recognition", IEEE TPAMI 2022): a graph convolutional network scaled EfficientNet-style, and its
published NTU RGB+D 60 weights.

    joints [N, M, T, V, 3]            raw camera coordinates (metres for NTU's Kinect v2)
      -> three input branches, 6 channels each, derived inside the model (:func:`input_branches`):
           joint     x, and x minus the centre joint (spine-mid for NTU)
           velocity  x[t + 1] - x[t], and x[t + 2] - x[t]
           bone      x minus its parent joint, and the bone's angles to the three axes
      -> each branch: BatchNorm, stem (graph convolution, temporal convolution), stages 1-2
      -> the branches' channels concatenated ("early fusion") -> stages 3-4 (the trunk)
      -> mean over persons, frames and joints -> dropout -> linear -> logits [N, K]

A stage is a spatial graph convolution to its width, ``depth`` separable temporal convolutions (the first
with the stage's temporal stride) and a spatio-temporal joint attention (ST-JointAtt); every unit is residual
and the activation is Swish. The graph convolution sums three adjacency slices, the joints at hop distance 0,
1 and 2, each with a learnt elementwise mask (``edge``) — see :func:`distance_partition`.

**B-scaling.** EfficientGCN-Bφ multiplies each stage's width by 1.2^φ, rounded to a multiple of 16 (at
least 16), and its depth by 1.35^φ, rounded (:func:`scaled_stages`). Rounding is Python's (half to even), as in
the official code: at B0 the base 24-channel stage becomes 32 channels and the depth 0.5 of the branch stages
becomes 0, so B0's branches have no temporal convolution after the stem. The stem keeps 64 channels.

    model   stages (width, temporal stride, depth)           params     GMACs (2 x 288 x 25 input)
    B0      (48, 1, 0) (32, 1, 0) (64, 2, 1) (128, 2, 1)      345,333    3.58
    B2      (64, 1, 1) (32, 1, 1) (96, 2, 2) (192, 2, 2)      814,401    6.64
    B4      (96, 1, 2) (48, 1, 2) (128, 2, 3) (272, 2, 3)   2,055,585   15.78

Parameters at 60 classes, the graph's adjacency (a buffer) not counted, its learnt masks counted: these are
the official code's trainable parameter counts (its README's 0.32 M / 0.79 M / 2.03 M leave the masks out).
MACs as :func:`vidact.models.profile.count_macs` counts them; the official README's 3.08 / 6.12 / 15.24 G
come from ``thop``, which leaves out the graph convolutions' einsum (0.60 / 0.73 / 0.96 G of the totals here)
and counts some elementwise operations.

**Its graph** (:data:`NTU25_EFFICIENTGCN`) is the NTU-25 skeleton in NTU's joint order, with EfficientGCN's
own tree: rooted at the spine-mid (joint 1), with each hand tip hanging off its thumb. vidact's ``ntu25``
layout (:mod:`vidact.data.skeleton.layouts`, PYSKL's edges) is rooted at the spine-shoulder and hangs tip and
thumb off the hand; the weights need the tree they were trained with, so the model builds its adjacency, its
bones and its centre from this one. Any other :class:`~vidact.data.skeleton.Layout` can be passed to train
from scratch.

**Published weights**: ``efficientgcn_b0.ntu60``, config 2001 of the official code (NTU-60 cross-subject).
Its inputs are Kinect v2 camera-space joints in metres, neither centred nor rotated, two person slots (zeros
for a missing second person), each sequence zero-padded to 300 frames of which the model sees the first 288
(the :class:`~vidact.data.skeleton.SkeletonPreset` on the weights). Its file is a training checkpoint (model,
optimizer and scheduler state, a confusion matrix as a numpy array); vidact reads it weights-only
(:func:`vidact.models.weights.read_checkpoint`) and maps its keys with :func:`convert_upstream_state_dict`.
tests/test_efficientgcn.py compares the logits with the official code's on a real NTU sequence.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..data.skeleton import Layout, SkeletonPreset, get_layout
from ..data.skeleton.layouts import NTU25
from ..errors import CheckpointError, ConfigError
from .contract import FeatureLayout, temporal_pool
from .converters import register_converter
from .layers import LinearClassifier, init_weights, linear_classifier
from .registry import ModelCard, Weights, WeightsFile, register_model

__all__ = [
    "NTU25_EFFICIENTGCN",
    "StageSpec",
    "BASE_STAGES",
    "scaled_stages",
    "hop_distances",
    "distance_partition",
    "input_branches",
    "GraphConv",
    "SpatialGraphUnit",
    "TemporalUnit",
    "SepTemporalUnit",
    "STJointAttention",
    "AttentionUnit",
    "Stage",
    "InputBranch",
    "EfficientGCN",
    "convert_upstream_state_dict",
    "efficientgcn",
    "efficientgcn_b0",
    "efficientgcn_b2",
    "efficientgcn_b4",
]

# The official code's tree of the NTU-25 joints (its ``connect_joint``): the parent of each joint, 0-based.
# Rooted at the spine-mid (1); the hand tips (21, 23) hang off the thumbs (22, 24), the thumbs off the hands.
NTU25_EFFICIENTGCN = Layout(
    name="ntu25_efficientgcn",
    joints=NTU25.joints,
    parents=(1, 1, 20, 2, 20, 4, 5, 6, 20, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18, 1, 22, 7, 24, 11),
    center=1,
)


@dataclass(frozen=True)
class StageSpec:
    """One stage: a graph convolution to ``width`` channels, ``depth`` temporal convolutions (the first with
    temporal stride ``stride``), an attention. ``depth`` may be fractional before scaling."""

    width: int
    stride: int
    depth: float


#: EfficientGCN's base network (the official configs' ``block_args``); the first two stages are per branch.
BASE_STAGES = (StageSpec(48, 1, 0.5), StageSpec(24, 1, 0.5), StageSpec(64, 2, 1), StageSpec(128, 2, 1))
BRANCH_STAGES = 2  #: stages of each input branch before the fusion (the official ``fusion_stage``)
WIDTH_COEFFICIENT = 1.2  #: width multiplier per unit of the compound coefficient
DEPTH_COEFFICIENT = 1.35  #: depth multiplier per unit of the compound coefficient
STEM_CHANNELS = 64
TEMPORAL_KERNEL = 5
PARTITIONS = 3  #: adjacency slices: hop distances 0, 1, 2 (the official ``max_graph_distance`` 2, plus 1)
NORMALISE_WITHIN = 3  #: hops counted in each joint's normaliser (see :func:`distance_partition`)
EXPAND_RATIO = 2  #: channel expansion inside a separable temporal unit
ATTENTION_REDUCTION = 4  #: channel reduction inside ST-JointAtt
BONE_EPS = 1e-4  #: added to bone lengths before the angles are taken (official)


def scaled_stages(phi: int, base: Sequence[StageSpec] = BASE_STAGES) -> tuple[StageSpec, ...]:
    """The stages of EfficientGCN-B0, B1, ... for the scaling coefficient ``phi``: widths times 1.2^phi rounded
    to a multiple of 16 (>= 16), depths times 1.35^phi rounded (Python's round, half to even, as the official
    code rounds).

    >>> [(s.width, s.depth) for s in scaled_stages(0)]
    [(48, 0), (32, 0), (64, 1), (128, 1)]
    """
    if phi < 0:
        raise ConfigError(f"efficientgcn: the scaling coefficient must be >= 0, got {phi}")
    width_scale, depth_scale = WIDTH_COEFFICIENT**phi, DEPTH_COEFFICIENT**phi
    return tuple(
        StageSpec(max(round(s.width * width_scale / 16) * 16, 16), s.stride, round(s.depth * depth_scale))
        for s in base
    )


def hop_distances(layout: Layout) -> Tensor:
    """Graph distances between the joints of ``layout`` along its bones: [V, V] int64 (0 on the diagonal)."""
    return torch.tensor(_hops(layout), dtype=torch.int64)


def _hops(layout: Layout) -> list[list[int]]:
    """:func:`hop_distances` as lists (plain Python: the graph is built the same under any default device)."""
    v = layout.num_joints
    neighbours: list[list[int]] = [[] for _ in range(v)]
    for child, parent in layout.edges:
        neighbours[child].append(parent)
        neighbours[parent].append(child)
    dist = [[-1] * v for _ in range(v)]
    for source, row in enumerate(dist):  # breadth-first search from every joint; a layout is a tree
        row[source] = 0
        queue = deque([source])
        while queue:
            node = queue.popleft()
            for nxt in neighbours[node]:
                if row[nxt] < 0:
                    row[nxt] = row[node] + 1
                    queue.append(nxt)
    return dist


def distance_partition(
    layout: Layout, partitions: int = PARTITIONS, normalise_within: int = NORMALISE_WITHIN
) -> Tensor:
    """EfficientGCN's adjacency: [partitions, V, V] float32, slice k links joints k hops apart.

    ``A[k, v, w] = 1 / n(w)`` where ``v`` and ``w`` are ``k`` hops apart, else 0; ``n(w)`` counts the joints
    within ``normalise_within`` hops of ``w`` (itself included), so each column is averaged over a fixed
    neighbourhood. A graph convolution sums ``x[..., v] * A[k, v, w]`` over ``v``: joint ``w`` gathers from
    its neighbours. The published B0 file stores exactly this matrix with ``normalise_within = 3`` (the
    official code's ``Graph(max_hop=3)``; its ``max_hop`` default of 10 would average over the whole body).
    """
    hops = _hops(layout)
    v = len(hops)
    within = [sum(hops[u][w] <= normalise_within for u in range(v)) for w in range(v)]  # n(w)
    slices = [
        [[float(hops[u][w] == k) / within[w] for w in range(v)] for u in range(v)] for k in range(partitions)
    ]
    return torch.tensor(slices, dtype=torch.float32)


def input_branches(joints: Tensor, *, center: int, parents: Tensor | Sequence[int]) -> Tensor:
    """EfficientGCN's three inputs from raw joints: [N, M, T, V, C] -> [3, N, M, 2C, T, V] (same dtype).

    Branch 0, joint: ``x`` and ``x - x[center]``. Branch 1, velocity: ``x[t + 1] - x[t]`` and
    ``x[t + 2] - x[t]``, both zero on the last two frames (as the official feeder leaves them). Branch 2,
    bone: ``b = x - x[parents]`` and ``arccos(b / (|b| + 1e-4))`` per axis (pi / 2 where the bone is zero:
    the centre, padded frames, missing persons).

    Computed in at least float32 (float64 joints stay float64, as the official feeder's numpy does): from
    float16 or bfloat16 joints (8 to 11 bits of mantissa), the bone angles would be coarse.

    Args:
        joints: [N, M, T, V, C] coordinates.
        center: the joint subtracted in the joint branch.
        parents: [V], the joint each bone starts from (``parents[center] == center``).
    """
    work = torch.promote_types(joints.dtype, torch.float32)
    x = joints.to(work).permute(0, 1, 4, 2, 3)  # [N, M, C, T, V]
    parents = torch.as_tensor(parents, dtype=torch.long, device=x.device)
    joint = torch.cat([x, x - x[..., center : center + 1]], dim=2)
    frames = x.shape[3]
    steps = max(frames - 2, 0)
    zeros = x.new_zeros(*x.shape[:3], frames - steps, x.shape[4])
    step1 = torch.cat([x[..., 1 : 1 + steps, :] - x[..., :steps, :], zeros], dim=3)
    step2 = torch.cat([x[..., 2 : 2 + steps, :] - x[..., :steps, :], zeros], dim=3)
    velocity = torch.cat([step1, step2], dim=2)
    bone = x - x.index_select(-1, parents)
    length = bone.square().sum(dim=2, keepdim=True).sqrt() + BONE_EPS
    bone = torch.cat([bone, torch.arccos(bone / length)], dim=2)
    return torch.stack([joint, velocity, bone]).to(joints.dtype)


class GraphConv(nn.Module):
    """Spatial graph convolution: [B, C_in, T, V] -> [B, C_out, T, V].

    A 1x1 convolution to ``C_out`` channels per adjacency slice, then per slice ``k`` a sum over joints with
    ``A[k] * edge[k]``: ``A`` is the fixed adjacency (a buffer, saved with the weights), ``edge`` a learnt
    elementwise mask starting at 1.

    Args:
        adjacency: [K, V, V], see :func:`distance_partition`.
    """

    def __init__(self, in_channels: int, out_channels: int, adjacency: Tensor) -> None:
        super().__init__()
        self.partitions = adjacency.shape[0]
        self.proj = nn.Conv2d(in_channels, out_channels * self.partitions, 1)
        self.register_buffer("A", adjacency.clone())
        self.edge = nn.Parameter(torch.ones_like(adjacency))

    def forward(self, x: Tensor) -> Tensor:
        """[B, C_in, T, V] -> [B, C_out, T, V]."""
        y = self.proj(x)
        b, kc, t, v = y.shape
        y = y.view(b, self.partitions, kc // self.partitions, t, v)
        return torch.einsum("bkctv,kvw->bctw", y, self.A * self.edge)


def _conv_bn(
    in_channels: int, out_channels: int, kernel: int = 1, stride: int = 1, groups: int = 1
) -> nn.Sequential:
    """A temporal (``kernel`` x 1) convolution and its BatchNorm: [B, C_in, T, V] -> [B, C_out, T / stride, V]."""
    conv = nn.Conv2d(
        in_channels, out_channels, (kernel, 1), (stride, 1), ((kernel - 1) // 2, 0), groups=groups
    )
    return nn.Sequential(conv, nn.BatchNorm2d(out_channels))


class SpatialGraphUnit(nn.Module):
    """``swish(BN(GraphConv(x)) + residual(x))``: [B, C_in, T, V] -> [B, C_out, T, V]; the residual is a 1x1
    convolution and BatchNorm when the width changes."""

    def __init__(self, in_channels: int, out_channels: int, adjacency: Tensor) -> None:
        super().__init__()
        self.conv = GraphConv(in_channels, out_channels, adjacency)
        self.bn = nn.BatchNorm2d(out_channels)
        self.residual = nn.Identity() if in_channels == out_channels else _conv_bn(in_channels, out_channels)
        self.act = nn.SiLU()

    def forward(self, x: Tensor) -> Tensor:
        """[B, C_in, T, V] -> [B, C_out, T, V]."""
        return self.act(self.bn(self.conv(x)) + self.residual(x))


class TemporalUnit(nn.Module):
    """The stem's temporal convolution: ``swish(BN(conv_k x 1(x)) + x)``, [B, C, T, V] -> [B, C, T, V]."""

    def __init__(self, channels: int, kernel: int = TEMPORAL_KERNEL) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, (kernel, 1), 1, ((kernel - 1) // 2, 0))
        self.bn = nn.BatchNorm2d(channels)
        self.act = nn.SiLU()

    def forward(self, x: Tensor) -> Tensor:
        """[B, C, T, V] -> [B, C, T, V]."""
        return self.act(self.bn(self.conv(x)) + x)


class SepTemporalUnit(nn.Module):
    """Separable temporal convolution (an inverted bottleneck, MobileNetV2-style):
    ``point(swish(depth(swish(expand(x))))) + residual(x)``, [B, C, T, V] -> [B, C, ceil(T / stride), V].

    ``expand`` is a 1x1 convolution to ``expand_ratio * C`` channels, ``depth`` a depthwise ``kernel`` x 1
    temporal convolution with the stride, ``point`` a 1x1 convolution back to ``C``; each with BatchNorm. The
    residual is the identity, or a strided 1x1 convolution and BatchNorm. No activation after the sum.
    """

    def __init__(
        self, channels: int, stride: int = 1, kernel: int = TEMPORAL_KERNEL, expand_ratio: int = EXPAND_RATIO
    ) -> None:
        super().__init__()
        inner = channels * expand_ratio
        self.expand_conv = _conv_bn(channels, inner)
        self.depth_conv = _conv_bn(inner, inner, kernel, stride, groups=inner)
        self.point_conv = _conv_bn(inner, channels)
        self.residual = nn.Identity() if stride == 1 else _conv_bn(channels, channels, 1, stride)
        self.act = nn.SiLU()

    def forward(self, x: Tensor) -> Tensor:
        """[B, C, T, V] -> [B, C, ceil(T / stride), V]."""
        y = self.act(self.depth_conv(self.act(self.expand_conv(x))))
        return self.point_conv(y) + self.residual(x)


class STJointAttention(nn.Module):
    """ST-JointAtt: an attention map [B, C, T, V] in (0, 1) that factorises into a per-frame and a per-joint
    part, for x [B, C, T, V].

    The frame profile (mean over joints, [B, C, T]) and the joint profile (mean over frames, [B, C, V]) are
    concatenated along their length, go through one shared 1x1 convolution to ``C / reduction`` channels, BN
    and hard-swish, are split again, and each is mapped back to ``C`` channels and a sigmoid: the map is the
    product ``frame[t] * joint[v]``.
    """

    def __init__(self, channels: int, reduction: int = ATTENTION_REDUCTION) -> None:
        super().__init__()
        inner = channels // reduction
        self.fcn = nn.Sequential(nn.Conv2d(channels, inner, 1), nn.BatchNorm2d(inner), nn.Hardswish())
        self.conv_t = nn.Conv2d(inner, channels, 1)
        self.conv_v = nn.Conv2d(inner, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        """[B, C, T, V] -> attention [B, C, T, V]."""
        frames, joints = x.shape[2], x.shape[3]
        per_frame = x.mean(dim=3, keepdim=True)  # [B, C, T, 1]
        per_joint = x.mean(dim=2, keepdim=True).transpose(2, 3)  # [B, C, V, 1]
        mixed = self.fcn(torch.cat([per_frame, per_joint], dim=2))  # [B, C / reduction, T + V, 1]
        per_frame, per_joint = mixed.split([frames, joints], dim=2)
        return self.conv_t(per_frame).sigmoid() * self.conv_v(per_joint.transpose(2, 3)).sigmoid()


class AttentionUnit(nn.Module):
    """``swish(BN(x * STJointAttention(x)) + x)``: [B, C, T, V] -> [B, C, T, V]."""

    def __init__(self, channels: int, reduction: int = ATTENTION_REDUCTION) -> None:
        super().__init__()
        self.att = STJointAttention(channels, reduction)
        self.bn = nn.BatchNorm2d(channels)
        self.act = nn.SiLU()

    def forward(self, x: Tensor) -> Tensor:
        """[B, C, T, V] -> [B, C, T, V]."""
        return self.act(self.bn(x * self.att(x)) + x)


class Stage(nn.Module):
    """Graph convolution to ``width``, ``depth`` separable temporal units (the first strided), attention:
    [B, C_in, T, V] -> [B, width, T / stride, V] (T unchanged when ``depth`` is 0)."""

    def __init__(self, in_channels: int, spec: StageSpec, adjacency: Tensor) -> None:
        super().__init__()
        depth = int(spec.depth)
        self.gcn = SpatialGraphUnit(in_channels, spec.width, adjacency)
        self.tcn = nn.Sequential(
            *(SepTemporalUnit(spec.width, spec.stride if i == 0 else 1) for i in range(depth))
        )
        self.att = AttentionUnit(spec.width)

    def forward(self, x: Tensor) -> Tensor:
        """[B, C_in, T, V] -> [B, width, T', V]."""
        return self.att(self.tcn(self.gcn(x)))


class InputBranch(nn.Module):
    """One input branch: BatchNorm of its channels, stem (graph convolution to 64 channels, temporal
    convolution), its stages: [B, C_in, T, V] -> [B, stages[-1].width, T', V]."""

    def __init__(self, in_channels: int, stages: Sequence[StageSpec], adjacency: Tensor) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels)
        self.stem_gcn = SpatialGraphUnit(in_channels, STEM_CHANNELS, adjacency)
        self.stem_tcn = TemporalUnit(STEM_CHANNELS)
        widths = [STEM_CHANNELS, *(s.width for s in stages)]
        self.stages = nn.Sequential(*(Stage(widths[i], s, adjacency) for i, s in enumerate(stages)))

    def forward(self, x: Tensor) -> Tensor:
        """[B, C_in, T, V] -> [B, width, T', V]."""
        return self.stages(self.stem_tcn(self.stem_gcn(self.norm(x))))


class EfficientGCN(LinearClassifier, nn.Module):
    """EfficientGCN: raw joints [N, M, T, V, C] -> logits [N, num_classes]. See the module docstring.

    Args:
        num_classes: K.
        phi: the compound scaling coefficient (0 for B0, 2 for B2, ...), see :func:`scaled_stages`.
        layout: the skeleton (a :class:`~vidact.data.skeleton.Layout` or a layout name): its edges build the
            adjacency, its parents the bones, its centre the joint branch. Default: the official NTU-25 tree.
        in_channels: C, coordinates per joint (3: x, y, z; 2 for image keypoints).
        dropout: on the pooled features before the classifier.
    """

    feature_layout: ClassVar[FeatureLayout] = FeatureLayout.BMCTV

    def __init__(
        self,
        num_classes: int = 60,
        *,
        phi: int = 0,
        layout: Layout | str = NTU25_EFFICIENTGCN,
        in_channels: int = 3,
        dropout: float = 0.25,
    ) -> None:
        super().__init__()
        self.layout = get_layout(layout)
        self.phi = phi
        self.in_channels = in_channels
        self.stage_specs = scaled_stages(phi)
        adjacency = distance_partition(self.layout)
        self.register_buffer("bone_parents", torch.tensor(self.layout.parents), persistent=False)
        branch, trunk = self.stage_specs[:BRANCH_STAGES], self.stage_specs[BRANCH_STAGES:]
        self.branches = nn.ModuleList(InputBranch(2 * in_channels, branch, adjacency) for _ in range(3))
        widths = [3 * branch[-1].width, *(s.width for s in trunk)]
        self.trunk = nn.Sequential(*(Stage(widths[i], s, adjacency) for i, s in enumerate(trunk)))
        self.num_features = self.head_hidden_size = trunk[-1].width
        self.num_classes = num_classes
        self.dropout = nn.Dropout(dropout)
        self.fc = linear_classifier(self.num_features, num_classes, std=0.001)
        init_weights(self, linear_std=0.001)  # He-normal convolutions, BN (1, 0), N(0, 0.001^2) classifier

    def forward_features(self, x: Tensor) -> Tensor:
        """Joints [N, M, T, V, C] -> features [N, M, num_features, T', V] (T' = ceil(T / 4): two strides of 2).

        Raises:
            ValueError: ``x`` is not [N, M, T, V, C] with this model's V and C.
        """
        if x.ndim != 5 or x.shape[3] != self.layout.num_joints or x.shape[4] != self.in_channels:
            raise ValueError(
                f"efficientgcn: expected joints [N, M, T, {self.layout.num_joints}, {self.in_channels}], "
                f"got {list(x.shape)}"
            )
        n, m = x.shape[:2]
        inputs = input_branches(x, center=self.layout.center, parents=self.bone_parents)
        inputs = inputs.flatten(1, 2)  # [3, N * M, 2C, T, V]
        y = torch.cat([branch(inputs[i]) for i, branch in enumerate(self.branches)], dim=1)
        y = self.trunk(y)
        return y.view(n, m, *y.shape[1:])

    def forward_temporal(self, x: Tensor) -> Tensor:
        """Joints [N, M, T, V, C] -> features averaged over persons and joints: [N, ceil(T / 4), num_features]."""
        return temporal_pool(self.forward_features(x), self.feature_layout)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Features [N, M, D, T', V] -> logits [N, K] (``pre_logits``: the mean over persons, frames and
        joints, [N, D])."""
        pooled = x.mean(dim=(1, 3, 4))
        return pooled if pre_logits else self.fc(self.dropout(pooled))

    def forward(self, x: Tensor) -> Tensor:
        """Joints [N, M, T, V, C] -> logits [N, K]."""
        return self.forward_head(self.forward_features(x))


# The official code's module names (``input_branches.<i>.block-<j>_tcn-<k>``, ``main_stream.block-<j>_att``,
# ``classifier.fc``) -> EfficientGCN's. The official ``EfficientGCN_Blocks`` is one flat ``nn.Sequential``
# whose names hold the stage and unit numbers; here branches and trunk hold ``Stage`` modules.
_RENAMES = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"^input_branches\.(\d+)\.init_bn\.", r"branches.\1.norm."),
        (r"^input_branches\.(\d+)\.stem_scn\.", r"branches.\1.stem_gcn."),
        (r"^input_branches\.(\d+)\.stem_tcn\.", r"branches.\1.stem_tcn."),
        (r"^input_branches\.(\d+)\.block-(\d+)_scn\.", r"branches.\1.stages.\2.gcn."),
        (r"^input_branches\.(\d+)\.block-(\d+)_tcn-(\d+)\.", r"branches.\1.stages.\2.tcn.\3."),
        (r"^input_branches\.(\d+)\.block-(\d+)_att\.", r"branches.\1.stages.\2.att."),
        (r"^main_stream\.block-(\d+)_scn\.", r"trunk.\1.gcn."),
        (r"^main_stream\.block-(\d+)_tcn-(\d+)\.", r"trunk.\1.tcn.\2."),
        (r"^main_stream\.block-(\d+)_att\.", r"trunk.\1.att."),
        (r"^classifier\.fc\.", "fc."),
    )
)


def convert_upstream_state_dict(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """The official code's keys (``input_branches.0.block-1_scn.conv.gcn.weight``,
    ``main_stream.block-0_tcn-0.depth_conv.0.weight``, ``classifier.fc.weight``) -> :class:`EfficientGCN`'s
    (``branches.0.stages.1.gcn.conv.proj.weight``, ``trunk.0.tcn.0.depth_conv.0.weight``, ``fc.weight``).
    The classifier, a 1x1x1 convolution [K, D, 1, 1, 1] on pooled features, becomes the linear [K, D].

    Raises:
        CheckpointError: a key the official EfficientGCN does not have.
    """
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        for pattern, replacement in _RENAMES:
            new, found = pattern.subn(replacement, key)
            if found:
                break
        else:
            raise CheckpointError(f"not a key of the official EfficientGCN: {key!r}")
        new = new.replace(".conv.gcn.", ".conv.proj.")  # the graph convolution's 1x1 convolution
        out[new] = value.flatten(1) if new == "fc.weight" else value
    return out


# -- builders and their cards ------------------------------------------------------------------------------

_PAPER = (
    "Song, Zhang, Shan and Wang, Constructing Stronger and Faster Baselines for Skeleton-based Action "
    "Recognition, IEEE TPAMI 2022 (arXiv:2106.15125, EfficientGCN)"
)
_UPSTREAM_COMMIT = "6c6e9a31a5dd4f847c50ae1575da96b42e56a8cf"
_NTU_PRESET = SkeletonPreset(
    layout="ntu25", frames=288, sampler="pad", persons=2, coords="world", channels=3, pad_to=300
)
_NTU_PROTOCOL = (
    "NTU RGB+D 60 cross-subject evaluation set (the 20 test performers, samples with missing skeletons left "
    "out): Kinect v2 joints in metres, zero-padded to 300 frames, the first 288 seen, two person slots, one "
    "view per sample"
)

_NTU60_XSUB = Weights(
    tag="ntu60",
    files=(
        WeightsFile(
            url="https://drive.google.com/drive/folders/1HpvkKyfmmOCzuJXemtDxQCgGGQmWMvj4",
            sha256="003abdb6d17a57755d12013407e7b3b68a9a2ed06327db2b1a4fc58d4c2b27c7",
            size=3_101_207,
            filename="2001_EfficientGCN-B0_ntu-xsub.pth.tar",
            manual=True,
        ),
    ),
    dataset="NTU RGB+D 60 (cross-subject)",
    num_classes=60,
    labels="ntu60",
    preset=_NTU_PRESET,
    layout="efficientgcn",
    source="yfsong0709/EfficientGCNv1",
    license="MIT (the official code's licence; no separate licence is stated for the weights, which may carry "
    "the terms of their training data, NTU RGB+D)",
    top1=89.86,
    top5=98.26,
    test_protocol=_NTU_PROTOCOL,
    notes=(
        "Config 2001 of the official code (B0, separable temporal units with expansion 2, attention "
        "reduction 4, Swish). The URL is the Google Drive folder the official README links (a folder: no "
        "direct download; fetch the file by hand and run `vidact weights add efficientgcn_b0.ntu60 FILE`); "
        "file name as the official code names its checkpoints. SHA-256 and size measured on a copy of the "
        "file. Top-1/top-5 are what the file's own best_state records (0.89865, 0.98259); the official "
        "README lists 89.9 % for B0 X-sub. Verified here: the file loads weights-only; its 11 stored "
        "adjacency buffers equal distance_partition(NTU25_EFFICIENTGCN) (normalised within 3 hops, not the "
        "GitHub code's default 10); vidact's logits equal the official code's (commit "
        f"{_UPSTREAM_COMMIT[:12]}, run beside vidact) to 1e-4 on a real NTU-60 sequence and a synthetic one "
        "(tests/test_efficientgcn.py). The evaluation-set accuracy was not re-measured (the NTU data set is "
        "not here)."
    ),
)


def _card(phi: int, params: int, gmacs: float, weights: tuple[Weights, ...] = ()) -> ModelCard:
    stages = ", ".join(f"({s.width}, {s.stride}, {s.depth})" for s in scaled_stages(phi))
    return ModelCard(
        name=f"efficientgcn_b{phi}",
        family="efficientgcn",
        input_size=(3, 288, 25, 2),
        frames=288,
        frame_stride=1,
        params=params,
        gmacs=gmacs,
        default_num_classes=60,
        paper=_PAPER,
        test_protocol=_NTU_PROTOCOL,
        weights=weights,
        notes=(
            f"EfficientGCN-B{phi}: stages (width, temporal stride, depth) {stages}; stem 64 channels. Params at "
            "60 classes (adjacency buffers not counted, learnt edge masks counted), as the official code's "
            "trainable count; MACs for one 2-person, 288-frame, 25-joint sample. The official code's weights "
            "load with converter=convert_upstream_state_dict."
        ),
        classifier="fc",
        preset=_NTU_PRESET,
        modality="skeleton",
    )


def efficientgcn(
    phi: int,
    *,
    num_classes: int = 60,
    layout: Layout | str = NTU25_EFFICIENTGCN,
    in_channels: int = 3,
    dropout: float = 0.25,
) -> EfficientGCN:
    """EfficientGCN with scaling coefficient ``phi`` (any; B0, B2 and B4 are registered): raw joints
    [N, M, T, V, in_channels] -> logits [N, num_classes]. See :class:`EfficientGCN`."""
    return EfficientGCN(num_classes, phi=phi, layout=layout, in_channels=in_channels, dropout=dropout)


@register_model(card=_card(0, params=345_333, gmacs=3.576, weights=(_NTU60_XSUB,)))
def efficientgcn_b0(*, num_classes: int = 60, **kwargs: Any) -> EfficientGCN:
    """EfficientGCN-B0: joints [N, M, T, V, 3] -> logits [N, num_classes] (published: ``efficientgcn_b0.ntu60``)."""
    return efficientgcn(0, num_classes=num_classes, **kwargs)


@register_model(card=_card(2, params=814_401, gmacs=6.644))
def efficientgcn_b2(*, num_classes: int = 60, **kwargs: Any) -> EfficientGCN:
    """EfficientGCN-B2: joints [N, M, T, V, 3] -> logits [N, num_classes]."""
    return efficientgcn(2, num_classes=num_classes, **kwargs)


@register_model(card=_card(4, params=2_055_585, gmacs=15.781))
def efficientgcn_b4(*, num_classes: int = 60, **kwargs: Any) -> EfficientGCN:
    """EfficientGCN-B4: joints [N, M, T, V, 3] -> logits [N, num_classes]."""
    return efficientgcn(4, num_classes=num_classes, **kwargs)


# -- the published layouts this family reads (see vidact.models.converters) ----------
register_converter("efficientgcn", "efficientgcn", convert_upstream_state_dict)
