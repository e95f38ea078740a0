"""ST-GCN and ST-GCN++: spatial-temporal graph convolution networks on skeleton sequences.

    joints [N, M, T, V, C] -> stream (joint / bone / motion) -> data BN -> S blocks -> mean over M, T', V -> fc

Each block is a graph convolution over the joints (:class:`GraphConv`: one 1x1 convolution per adjacency subset
of a :class:`~vidact.data.skeleton.graph.Graph`, summed over the joints each subset connects), then a temporal
convolution over the frames, then a residual connection and ReLU. Blocks are laid out by a plan of (width,
stride) pairs (:func:`stage_plan`, PYSKL's ``num_stages`` / ``down_stages`` / ``inflate_stages``); what varies
between the two networks is a :class:`BlockConfig`:

* **ST-GCN** (Yan et al., AAAI 2018; :data:`STGCN_BLOCK`): ten blocks, widths 64 x 4, 128 x 3 and 256 x 3,
  time halved at blocks 5 and 8, a 9-frame temporal convolution, fixed adjacency scaled element-wise by a
  learnable edge importance, a residual around each block but the first, dropout 0.5 after the temporal
  convolutions (training only). The paper's text says nine layers; its released code, which produced its
  results, has these ten, and PYSKL's ``STGCN`` builds the same network. Graph: ``stgcn_spatial``, the
  released code's spatial partition (see :mod:`vidact.data.skeleton.graph`).
* **ST-GCN++** (Duan et al., PYSKL, ACM MM 2022; :data:`STGCNPP_BLOCK`): the same plan with the adjacency
  itself learnt (initialised from the ``inward_outward`` graph), a residual around the graph convolution, and
  a multi-scale temporal convolution (:class:`MultiScaleTemporalConv`: four dilated 3-frame branches, a max-pool
  branch and a 1x1 branch).

Input contract: every model takes raw joints ``[N, M, T, V, C]`` (batch, persons, frames, joints, coordinates)
and derives what it was trained on inside (:class:`SkeletonStream`: PYSKL's ``GenSkeFeat`` — joints, bones,
joint motion or bone motion). ``forward_features`` returns ``[N, M, D, T', V]``; the head averages persons,
frames and joints (PYSKL's ``GCNHead``).

Weights in PYSKL's layout (``backbone.gcn.<i>.*``, ``cls_head.fc_cls.*``) load through
:func:`convert_pyskl_state_dict`; the block internals keep PYSKL's names (``gcn.A``, ``gcn.PA``,
``tcn.branches.<b>``...). ``stgcnpp_hand.hagrid`` is PYSKL's hand-gesture model (HaGRID, 40 classes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..data.skeleton.graph import Graph
from ..data.skeleton.layouts import get_layout
from ..data.skeleton.presets import SkeletonPreset
from ..errors import ConfigError
from .contract import FeatureLayout, temporal_pool
from .converters import register_converter
from .layers import LinearClassifier, init_weights, linear_classifier
from .registry import ModelCard, Weights, WeightsFile, register_model
from .weights import StateDict

__all__ = [
    "STREAMS",
    "ADAPTIVE",
    "bones",
    "motion",
    "SkeletonStream",
    "GraphConv",
    "TemporalConv",
    "MultiScaleTemporalConv",
    "BlockConfig",
    "STGCN_BLOCK",
    "STGCNPP_BLOCK",
    "STGCNBlock",
    "stage_plan",
    "STGCN",
    "build_stgcn",
    "stgcn",
    "stgcnpp",
    "stgcnpp_hand",
    "convert_pyskl_state_dict",
]

#: The input streams a model can be trained on, all computed from raw joints (PYSKL's ``j``, ``b``, ``jm``,
#: ``bm``).
STREAMS = ("joint", "bone", "joint_motion", "bone_motion")

#: How a graph convolution treats its adjacency (PYSKL's ``gcn_adaptive``): ``"fixed"`` (as built),
#: ``"importance"`` (scaled element-wise by a learnt ``PA``, initialised to ones: ST-GCN's edge importance),
#: ``"offset"`` (plus a learnt ``PA``, initialised near zero), ``"init"`` (the adjacency itself is learnt,
#: initialised from the graph: ST-GCN++).
ADAPTIVE = ("fixed", "importance", "offset", "init")


# -- input streams -------------------------------------------------------------------------------------------
def bones(x: Tensor, parents: Tensor, *, scores: bool = False) -> Tensor:
    """Bone vectors: each joint minus its parent (PYSKL's ``JointToBone``); the centre's bone is zero.

    Args:
        x: joints [..., V, C].
        parents: [V] long, the parent of each joint (the centre is its own).
        scores: the last channel is a detection confidence: a bone gets the mean confidence of its two joints
            instead of their difference.

    Returns:
        [..., V, C].
    """
    parent = x.index_select(-2, parents)
    out = x - parent
    if scores:
        out = torch.cat([out[..., :-1], (x[..., -1:] + parent[..., -1:]) / 2], dim=-1)
    return out


def motion(x: Tensor, *, scores: bool = False) -> Tensor:
    """Motion: ``x[t + 1] - x[t]`` at every frame but the last, which is zero (PYSKL's ``ToMotion``).

    Args:
        x: [..., T, V, C] (frames third from last).
        scores: the last channel is a detection confidence: it becomes the mean of the two frames' instead
            of their difference.

    Returns:
        [..., T, V, C].
    """
    diff = x[..., 1:, :, :] - x[..., :-1, :, :]
    if scores:
        mean = (x[..., 1:, :, -1:] + x[..., :-1, :, -1:]) / 2
        diff = torch.cat([diff[..., :-1], mean], dim=-1)
    return torch.cat([diff, torch.zeros_like(x[..., :1, :, :])], dim=-3)


class SkeletonStream(nn.Module):
    """Raw joints [N, M, T, V, C] -> the stream a model is trained on, [N, M, T, V, C].

    Args:
        stream: one of :data:`STREAMS`.
        parents: the parent of each joint, for bones (a layout's ``parents``).
        scores: the last channel is a detection confidence (2D keypoints with scores): bones and motion
            average it instead of differencing it.
    """

    def __init__(self, stream: str, parents: Sequence[int], *, scores: bool = False) -> None:
        super().__init__()
        if stream not in STREAMS:
            raise ConfigError(f"stream must be one of {', '.join(STREAMS)}, got {stream!r}")
        self.stream = stream
        self.scores = scores
        self.register_buffer("parents", torch.tensor(list(parents), dtype=torch.long), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """Joints [N, M, T, V, C] -> [N, M, T, V, C]."""
        if self.stream in ("bone", "bone_motion"):
            x = bones(x, self.parents, scores=self.scores)
        if self.stream in ("joint_motion", "bone_motion"):
            x = motion(x, scores=self.scores)
        return x

    def extra_repr(self) -> str:
        return f"{self.stream!r}" + (", scores=True" if self.scores else "")


# -- blocks --------------------------------------------------------------------------------------------------
class GraphConv(nn.Module):
    """Spatial graph convolution (PYSKL's ``unit_gcn``): [N, C_in, T, V] -> [N, C_out, T, V].

    One 1x1 convolution makes K groups of ``out_channels`` features; group k is mixed over the joints by
    ``A[k]`` (``y[w] = sum_k sum_v x_k[v] A[k, v, w]``), then BN, (+ residual), ReLU.

    Args:
        A: the adjacency [K, V, V] (:attr:`vidact.data.skeleton.graph.Graph.A`).
        adaptive: one of :data:`ADAPTIVE`.
        residual: add a residual inside the unit (identity, or 1x1 conv + BN when the width changes):
            ST-GCN++'s ``gcn_with_res``.

    Attributes:
        A: [K, V, V], a parameter with ``adaptive="init"``, else a buffer (saved with the weights, as PYSKL does).
        PA: [K, V, V] parameter with ``adaptive`` ``"importance"`` or ``"offset"``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        A: Tensor,
        *,
        adaptive: str = "importance",
        residual: bool = False,
    ) -> None:
        super().__init__()
        if adaptive not in ADAPTIVE:
            raise ConfigError(f"adaptive must be one of {', '.join(ADAPTIVE)}, got {adaptive!r}")
        if A.ndim != 3 or A.shape[1] != A.shape[2]:
            raise ConfigError(f"the adjacency must be [K, V, V], got {tuple(A.shape)}")
        self.adaptive = adaptive
        self.num_subsets = A.shape[0]
        A = A.to(torch.get_default_device())  # where the other parameters go (the meta device too)
        if adaptive == "init":
            self.A = nn.Parameter(A.clone())
        else:
            self.register_buffer("A", A.clone())
        if adaptive == "importance":
            self.PA = nn.Parameter(torch.ones_like(A))
        elif adaptive == "offset":
            self.PA = nn.Parameter(torch.empty_like(A).uniform_(-1e-6, 1e-6))
        self.conv = nn.Conv2d(in_channels, out_channels * self.num_subsets, 1)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.ReLU()
        self.down: nn.Module | None = None
        if residual:
            self.down = (
                nn.Identity()
                if in_channels == out_channels
                else nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels))
            )

    def adjacency(self) -> Tensor:
        """The adjacency in use [K, V, V] (with the learnt importance or offset applied)."""
        if self.adaptive == "importance":
            return self.A * self.PA
        if self.adaptive == "offset":
            return self.A + self.PA
        return self.A

    def forward(self, x: Tensor) -> Tensor:
        """[N, C_in, T, V] -> [N, C_out, T, V]."""
        n, _, t, v = x.shape
        res = self.down(x) if self.down is not None else None
        y = self.conv(x).view(n, self.num_subsets, -1, t, v)
        y = self.bn(torch.einsum("nkctv,kvw->nctw", y, self.adjacency()))
        return self.act(y if res is None else y + res)


class TemporalConv(nn.Module):
    """Temporal convolution over frames, each joint apart (PYSKL's ``unit_tcn``): conv (k x 1), BN, dropout.

    [N, C_in, T, V] -> [N, C_out, T', V] with ``T' = ceil(T / stride)`` (odd ``kernel_size``, "same" padding).

    Args:
        norm: a BatchNorm after the convolution (else none).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 9,
        *,
        stride: int = 1,
        dilation: int = 1,
        norm: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        pad = (kernel_size - 1) * dilation // 2
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size=(kernel_size, 1),
            padding=(pad, 0),
            stride=(stride, 1),
            dilation=(dilation, 1),
        )
        self.bn = nn.BatchNorm2d(out_channels) if norm else nn.Identity()
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """[N, C_in, T, V] -> [N, C_out, T', V]."""
        return self.drop(self.bn(self.conv(x)))


class MultiScaleTemporalConv(nn.Module):
    """Multi-scale temporal convolution (PYSKL's ``mstcn``, ST-GCN++): [N, C_in, T, V] -> [N, C_out, T', V].

    Branches, each ~``C_out / B`` wide (the first takes the remainder): per dilation d a 1x1 conv, BN, ReLU and a
    3-frame convolution dilated by d; a 1x1 conv, BN, ReLU and a 3-frame max-pool; a strided 1x1 conv. Their
    concatenation goes through BN, ReLU, a 1x1 conv, then BN and dropout.

    Args:
        dilations: the dilations of the convolution branches.
        stride: temporal stride of every branch (``T' = ceil(T / stride)``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        dilations: Sequence[int] = (1, 2, 3, 4),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        num_branches = len(dilations) + 2
        mid = out_channels // num_branches
        widths = [out_channels - mid * (num_branches - 1)] + [mid] * (num_branches - 1)
        branches: list[nn.Module] = []
        for width, dilation in zip(widths[: len(dilations)], dilations, strict=True):
            branches.append(
                nn.Sequential(
                    nn.Conv2d(in_channels, width, 1),
                    nn.BatchNorm2d(width),
                    nn.ReLU(),
                    TemporalConv(width, width, 3, stride=stride, dilation=dilation, norm=False),
                )
            )
        pool_width = widths[len(dilations)]
        branches.append(
            nn.Sequential(
                nn.Conv2d(in_channels, pool_width, 1),
                nn.BatchNorm2d(pool_width),
                nn.ReLU(),
                nn.MaxPool2d(kernel_size=(3, 1), stride=(stride, 1), padding=(1, 0)),
            )
        )
        branches.append(nn.Conv2d(in_channels, widths[-1], 1, stride=(stride, 1)))
        self.branches = nn.ModuleList(branches)
        self.transform = nn.Sequential(
            nn.BatchNorm2d(sum(widths)), nn.ReLU(), nn.Conv2d(sum(widths), out_channels, 1)
        )
        self.bn = nn.BatchNorm2d(out_channels)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """[N, C_in, T, V] -> [N, C_out, T', V]."""
        y = torch.cat([branch(x) for branch in self.branches], dim=1)
        return self.drop(self.bn(self.transform(y)))


@dataclass(frozen=True)
class BlockConfig:
    """What a block is made of (PYSKL's ``gcn_*`` / ``tcn_*`` options).

    Attributes:
        adaptive: the graph convolution's adjacency, one of :data:`ADAPTIVE`.
        gcn_residual: a residual inside the graph convolution.
        tcn: ``"unit"`` (one ``tcn_kernel``-frame convolution) or ``"mstcn"`` (:class:`MultiScaleTemporalConv`).
        tcn_kernel: the ``"unit"`` temporal kernel.
        dropout: dropout after the temporal convolution of every block but the first.
    """

    adaptive: str = "importance"
    gcn_residual: bool = False
    tcn: str = "unit"
    tcn_kernel: int = 9
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.adaptive not in ADAPTIVE:
            raise ConfigError(f"adaptive must be one of {', '.join(ADAPTIVE)}, got {self.adaptive!r}")
        if self.tcn not in ("unit", "mstcn"):
            raise ConfigError(f"tcn must be 'unit' or 'mstcn', got {self.tcn!r}")
        if self.tcn_kernel < 1 or self.tcn_kernel % 2 == 0:
            raise ConfigError(f"tcn_kernel must be odd, got {self.tcn_kernel}")


#: ST-GCN's block: fixed graph with learnt edge importance, one 9-frame temporal convolution.
STGCN_BLOCK = BlockConfig(adaptive="importance", gcn_residual=False, tcn="unit")
#: ST-GCN++'s block: learnt adjacency, residual graph convolution, multi-scale temporal convolution.
STGCNPP_BLOCK = BlockConfig(adaptive="init", gcn_residual=True, tcn="mstcn")


class STGCNBlock(nn.Module):
    """Graph convolution, temporal convolution, residual, ReLU: [N, C_in, T, V] -> [N, C_out, T', V].

    Args:
        A: the adjacency [K, V, V].
        stride: the temporal stride (``T' = ceil(T / stride)``).
        residual: a residual around the block (identity, or a strided 1x1 conv + BN when the shape changes).
        dropout: the temporal convolution's dropout.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        A: Tensor,
        config: BlockConfig,
        *,
        stride: int = 1,
        residual: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.gcn = GraphConv(
            in_channels, out_channels, A, adaptive=config.adaptive, residual=config.gcn_residual
        )
        if config.tcn == "mstcn":
            self.tcn: nn.Module = MultiScaleTemporalConv(
                out_channels, out_channels, stride=stride, dropout=dropout
            )
        else:
            self.tcn = TemporalConv(
                out_channels, out_channels, config.tcn_kernel, stride=stride, dropout=dropout
            )
        self.residual: nn.Module | None = None
        if residual:
            same = in_channels == out_channels and stride == 1
            self.residual = (
                nn.Identity() if same else TemporalConv(in_channels, out_channels, 1, stride=stride)
            )
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        """[N, C_in, T, V] -> [N, C_out, T', V]."""
        y = self.tcn(self.gcn(x))
        return self.relu(y if self.residual is None else y + self.residual(x))


def stage_plan(
    num_stages: int = 10,
    down_stages: Sequence[int] = (5, 8),
    inflate_stages: Sequence[int] = (5, 8),
    *,
    base_channels: int = 64,
    ch_ratio: float = 2.0,
) -> tuple[tuple[int, int], ...]:
    """The (width, temporal stride) of each block, as PYSKL's ``STGCN`` lays them out.

    Block 1 maps the input to ``base_channels``; block ``i >= 2`` halves time if ``i in down_stages`` and
    multiplies the width by ``ch_ratio`` if ``i in inflate_stages``.

        >>> stage_plan()                # ST-GCN: 64 x 4, 128 x 3 (first strided), 256 x 3 (first strided)
        ((64, 1), (64, 1), (64, 1), (64, 1), (128, 2), (128, 1), (128, 1), (256, 2), (256, 1), (256, 1))

    Raises:
        ConfigError: fewer than one stage, or down/inflate stages outside 2..num_stages.
    """
    if num_stages < 1:
        raise ConfigError(f"num_stages must be >= 1, got {num_stages}")
    for name, stages in (("down_stages", down_stages), ("inflate_stages", inflate_stages)):
        if any(not 2 <= s <= num_stages for s in stages):
            raise ConfigError(
                f"{name} must lie in 2..{num_stages} (block 1 is the input block), got {list(stages)}"
            )
    plan = [(base_channels, 1)]
    inflations = 0
    for stage in range(2, num_stages + 1):
        inflations += stage in inflate_stages
        plan.append((int(base_channels * ch_ratio**inflations + 1e-4), 2 if stage in down_stages else 1))
    return tuple(plan)


# -- the network ---------------------------------------------------------------------------------------------
class STGCN(LinearClassifier, nn.Module):
    """A spatial-temporal graph convolution network: joints [N, M, T, V, C] -> logits [N, num_classes].

    Args:
        num_classes: K (0: no classifier, ``forward`` returns the pooled [N, D]).
        graph: the skeleton graph (its layout gives V and, for bones, the parents).
        in_channels: C, coordinates per joint in the input.
        plan: (width, temporal stride) of each block (:func:`stage_plan`); the first has no residual.
        block: :class:`BlockConfig` (:data:`STGCN_BLOCK`, :data:`STGCNPP_BLOCK`).
        stream: one of :data:`STREAMS`, computed from the raw joints inside the model.
        scores: the input's last channel is a detection confidence (see :class:`SkeletonStream`).
        bone_parents: the parent of each joint for bones; default the layout's. (PYSKL's ``JointToBone``
            differs from its graphs for ntu25 — hand tips and thumbs hang off each other — and coco17 — hips
            off the nose; pass its pairs to load its bone-stream checkpoints.)
        data_bn: normalise the input per ``"VC"`` (joint and coordinate, each person alike: ST-GCN) or
            ``"MVC"`` (also per person slot, which fixes M to ``persons``), or ``None``.
        persons: M, with ``data_bn="MVC"``.
        dropout: dropout on the pooled features before ``fc``.
    """

    feature_layout: ClassVar[FeatureLayout] = FeatureLayout.BMCTV

    def __init__(
        self,
        num_classes: int,
        graph: Graph,
        *,
        in_channels: int = 3,
        plan: Sequence[tuple[int, int]] = stage_plan(),
        block: BlockConfig = STGCN_BLOCK,
        stream: str = "joint",
        scores: bool = False,
        bone_parents: Sequence[int] | None = None,
        data_bn: str | None = "VC",
        persons: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if data_bn not in ("VC", "MVC", None):
            raise ConfigError(f"data_bn must be 'VC', 'MVC' or None, got {data_bn!r}")
        num_joints = graph.num_joints
        parents = graph.layout.parents if bone_parents is None else tuple(bone_parents)
        if len(parents) != num_joints or any(not 0 <= p < num_joints for p in parents):
            raise ConfigError(f"bone_parents must give one joint index in 0..{num_joints - 1} per joint")
        self.graph = graph
        self.in_channels = in_channels
        self.persons = persons
        self.data_bn_type = data_bn
        self.stream = SkeletonStream(stream, parents, scores=scores)
        bn_features = in_channels * num_joints * (persons if data_bn == "MVC" else 1)
        self.data_bn = nn.BatchNorm1d(bn_features) if data_bn is not None else nn.Identity()
        A = graph.A
        blocks = []
        width = in_channels
        for index, (out_width, stride) in enumerate(plan):
            first = index == 0
            blocks.append(
                STGCNBlock(
                    width,
                    out_width,
                    A,
                    block,
                    stride=stride,
                    residual=not first,
                    dropout=0.0 if first else block.dropout,
                )
            )
            width = out_width
        self.blocks = nn.ModuleList(blocks)
        self.num_features = self.head_hidden_size = width
        self.num_classes = num_classes
        self.dropout = nn.Dropout(dropout)
        self.fc = linear_classifier(self.num_features, num_classes)
        init_weights(self)

    def _check(self, x: Tensor) -> None:
        v, c = self.graph.num_joints, self.in_channels
        if x.ndim != 5 or x.shape[3] != v or x.shape[4] != c:
            raise ValueError(f"expected joints [N, M, T, {v}, {c}], got {list(x.shape)}")
        if self.data_bn_type == "MVC" and x.shape[1] != self.persons:
            raise ValueError(f"expected {self.persons} person slots (data_bn='MVC'), got {x.shape[1]}")

    def forward_features(self, x: Tensor) -> Tensor:
        """Joints [N, M, T, V, C] -> features [N, M, D, T', V] (``T' = T / 4`` with ST-GCN's plan, rounded up
        at each strided block)."""
        self._check(x)
        n, m, t, v, c = x.shape
        x = self.stream(x).permute(0, 1, 3, 4, 2)  # [N, M, V, C, T]
        if self.data_bn_type == "MVC":
            x = self.data_bn(x.reshape(n, m * v * c, t))
        else:
            x = self.data_bn(x.reshape(n * m, v * c, t))
        x = x.reshape(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)
        for block in self.blocks:
            x = block(x)
        return x.reshape(n, m, *x.shape[1:])

    def forward_temporal(self, x: Tensor) -> Tensor:
        """Joints [N, M, T, V, C] -> features averaged over persons and joints: [N, T', D] (T' as in
        :meth:`forward_features`)."""
        return temporal_pool(self.forward_features(x), self.feature_layout)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Features [N, M, D, T', V] -> logits [N, K] (``pre_logits``: the mean over persons, frames and joints,
        [N, D])."""
        x = x.mean(dim=(1, 3, 4))
        return x if pre_logits else self.fc(self.dropout(x))

    def forward(self, x: Tensor) -> Tensor:
        """Joints [N, M, T, V, C] -> logits [N, K]."""
        return self.forward_head(self.forward_features(x))


def build_stgcn(
    *,
    num_classes: int,
    layout: str = "ntu25",
    in_channels: int = 3,
    stream: str = "joint",
    scores: bool = False,
    bone_parents: Sequence[int] | None = None,
    strategy: str = "stgcn_spatial",
    max_hop: int = 1,
    dilation: int = 1,
    num_stages: int = 10,
    down_stages: Sequence[int] = (5, 8),
    inflate_stages: Sequence[int] = (5, 8),
    base_channels: int = 64,
    ch_ratio: float = 2.0,
    adaptive: str = "importance",
    gcn_residual: bool = False,
    tcn: str = "unit",
    tcn_dropout: float = 0.0,
    data_bn: str | None = "VC",
    persons: int = 2,
    dropout: float = 0.0,
) -> STGCN:
    """An :class:`STGCN` from plain options (what the registered builders and recipes pass); the defaults are
    ST-GCN's.

    Args:
        layout: the skeleton layout (:func:`~vidact.data.skeleton.layouts.get_layout`).
        strategy, max_hop, dilation: the :class:`~vidact.data.skeleton.graph.Graph`.
        num_stages, down_stages, inflate_stages, base_channels, ch_ratio: the blocks (:func:`stage_plan`).
        adaptive, gcn_residual, tcn, tcn_dropout: what a block is made of (:class:`BlockConfig`; ``tcn_dropout``
            is its ``dropout``).
        Others: as :class:`STGCN`.
    """
    graph = Graph(get_layout(layout), strategy, max_hop=max_hop, dilation=dilation)
    plan = stage_plan(num_stages, down_stages, inflate_stages, base_channels=base_channels, ch_ratio=ch_ratio)
    block = BlockConfig(adaptive=adaptive, gcn_residual=gcn_residual, tcn=tcn, dropout=tcn_dropout)
    return STGCN(
        num_classes,
        graph,
        in_channels=in_channels,
        plan=plan,
        block=block,
        stream=stream,
        scores=scores,
        bone_parents=bone_parents,
        data_bn=data_bn,
        persons=persons,
        dropout=dropout,
    )


# -- converters ----------------------------------------------------------------------------------------------
def convert_pyskl_state_dict(state: StateDict) -> StateDict:
    """PYSKL's recognizer keys (``backbone.data_bn.*``, ``backbone.gcn.<i>.*``, ``cls_head.fc_cls.*``) -> an
    :class:`STGCN`'s (``data_bn.*``, ``blocks.<i>.*``, ``fc.*``). Other keys pass unchanged, for the strict
    load to name."""
    renames = (("backbone.gcn.", "blocks."), ("backbone.", ""), ("cls_head.fc_cls.", "fc."))
    out: StateDict = {}
    for key, value in state.items():
        for old, new in renames:
            if key.startswith(old):
                key = new + key[len(old) :]
                break
        out[key] = value
    return out


# -- registered models ---------------------------------------------------------------------------------------
_NTU_PRESET = SkeletonPreset(
    layout="ntu25", frames=100, sampler="uniform", persons=2, coords="world", channels=3
)
_HAND_PRESET = SkeletonPreset(
    layout="hand21", frames=10, sampler="uniform", persons=1, coords="image01", channels=2
)

_STGCN_PAPER = (
    "Yan, Xiong and Lin, Spatial Temporal Graph Convolutional Networks for Skeleton-Based Action Recognition, "
    "AAAI 2018"
)
_STGCNPP_PAPER = (
    "Duan, Wang, Chen and Lin, PYSKL: Towards Good Practices for Skeleton Action Recognition, ACM MM 2022 "
    "(ST-GCN++)"
)

_HAGRID_URL = "https://raw.githubusercontent.com/kennymckormick/pyskl/b8b24236027684ad768b70cf60390526642fcf86/demo/hagrid.pth"


@register_model(
    card=ModelCard(
        name="stgcn",
        family="stgcn",
        modality="skeleton",
        input_size=(3, 100, 25, 2),
        frames=100,
        frame_stride=1,
        params=3_098_832,
        gmacs=5.698,
        default_num_classes=60,
        paper=_STGCN_PAPER,
        preset=_NTU_PRESET,
        notes="As the authors' released code and PYSKL's STGCN ('vanilla' configuration): 10 blocks, "
        "graph 'stgcn_spatial' on NTU-25, learnt edge importance, data BN per joint and coordinate, dropout 0.5 "
        "in the blocks. "
        "Parameters at 60 classes; MACs at batch 1, 2 persons x 100 frames x 25 joints.",
    )
)
def stgcn(
    *,
    num_classes: int = 60,
    layout: str = "ntu25",
    in_channels: int = 3,
    tcn_dropout: float = 0.5,
    **kwargs: Any,
) -> STGCN:
    """ST-GCN (Yan et al. 2018): joints [N, M, T, V, C] -> logits [N, num_classes].

    ``tcn_dropout``: dropout after every block's temporal convolution but the first's, 0.5 as the authors
    trained it (PYSKL's "vanilla" configs; its own ST-GCN recipe uses 0). ``kwargs``: :func:`build_stgcn`'s
    (``stream``, ``strategy``, ``num_stages``, ``dropout``, ...).
    """
    return build_stgcn(
        num_classes=num_classes, layout=layout, in_channels=in_channels, tcn_dropout=tcn_dropout, **kwargs
    )


@register_model(
    card=ModelCard(
        name="stgcnpp",
        family="stgcn",
        modality="skeleton",
        input_size=(3, 100, 25, 2),
        frames=100,
        frame_stride=1,
        params=1_403_144,
        gmacs=2.925,
        default_num_classes=60,
        paper=_STGCNPP_PAPER,
        preset=_NTU_PRESET,
        notes="As PYSKL's STGCN with gcn_adaptive='init', gcn_with_res=True, tcn_type='mstcn' and graph mode "
        "'spatial' (vidact's 'inward_outward'), its ST-GCN++ configuration. Parameters at 60 classes; MACs at "
        "batch 1, 2 persons x 100 frames x 25 joints.",
    )
)
def stgcnpp(
    *,
    num_classes: int = 60,
    layout: str = "ntu25",
    in_channels: int = 3,
    strategy: str = "inward_outward",
    adaptive: str = "init",
    gcn_residual: bool = True,
    tcn: str = "mstcn",
    **kwargs: Any,
) -> STGCN:
    """ST-GCN++ (PYSKL): joints [N, M, T, V, C] -> logits [N, num_classes].

    ``kwargs``: :func:`build_stgcn`'s (``stream``, ``num_stages``, ``down_stages``, ``dropout``, ...).
    """
    return build_stgcn(
        num_classes=num_classes,
        layout=layout,
        in_channels=in_channels,
        strategy=strategy,
        adaptive=adaptive,
        gcn_residual=gcn_residual,
        tcn=tcn,
        **kwargs,
    )


_HAGRID = Weights(
    tag="hagrid",
    files=(
        WeightsFile(
            url=_HAGRID_URL,
            sha256="14d3e55e7c29ee73d22a2306050c7156d516bdeee3ab47547174e38256f807e7",
            git_blob="c71a43606a4c0d5279145a2fc224614e5f0cca4f",
            size=927_485,
            filename="pyskl_stgcnpp_hagrid_hand.pth",
        ),
    ),
    dataset="HaGRID",
    num_classes=40,
    labels="hagrid40",
    preset=_HAND_PRESET,
    layout="pyskl",
    source="PYSKL",
    license="Apache-2.0",
    test_protocol="one 10-frame clip sampled uniformly from one hand's MediaPipe landmarks (x, y in 0..1)",
    notes="PYSKL's gesture demo model (demo/hagrid.pth and demo/stgcnpp_gesture.py, added in PYSKL commit "
    "b8b2423); PYSKL reports no accuracy for it. Its 40 outputs are PYSKL's GestureDataset names, but only 16 "
    "were trained: HaGRID's static gestures (Stop Sign, Dislike, Like, Call, Fist, Four, Mute, OK, One, Palm, "
    "Peace, Rock, Three-Middle, Three-Left, Two Up) and No Gesture. The other 24 (the dynamic, Jester-style "
    "names) have the same untrained classifier row (to 1e-8), so their logits are always equal. The demo's "
    "PreNormalize2D(mode='auto') leaves 0..1 coordinates as they are, and the first BatchNorm's statistics "
    "(means ~0.5) confirm MediaPipe's normalised image coordinates. Logits match PYSKL's own code on a fixed "
    "input to 1e-6 (tests/test_stgcn.py).",
)


@register_model(
    card=ModelCard(
        name="stgcnpp_hand",
        family="stgcn",
        modality="skeleton",
        input_size=(2, 10, 21, 1),
        frames=10,
        frame_stride=1,
        params=197_478,
        gmacs=0.0397,
        default_num_classes=40,
        paper=_STGCNPP_PAPER,
        preset=_HAND_PRESET,
        weights=(_HAGRID,),
        notes="PYSKL's light ST-GCN++ for MediaPipe hands: 6 blocks (64 x 5, then 128 with time halved), "
        "graph 'inward_outward' on hand21, 2 input coordinates. MACs at batch 1, 1 hand x 10 frames.",
    )
)
def stgcnpp_hand(
    *,
    num_classes: int = 40,
    layout: str = "hand21",
    in_channels: int = 2,
    num_stages: int = 6,
    down_stages: Sequence[int] = (6,),
    inflate_stages: Sequence[int] = (6,),
    **kwargs: Any,
) -> STGCN:
    """PYSKL's hand-gesture ST-GCN++: hand joints [N, M, T, 21, 2] -> logits [N, num_classes].

    ``kwargs``: :func:`build_stgcn`'s / :func:`stgcnpp`'s.
    """
    return stgcnpp(
        num_classes=num_classes,
        layout=layout,
        in_channels=in_channels,
        num_stages=num_stages,
        down_stages=down_stages,
        inflate_stages=inflate_stages,
        **kwargs,
    )


# -- the published layouts this family reads (see vidact.models.converters) ----------
register_converter("stgcn", "pyskl", convert_pyskl_state_dict)
