"""3D ResNets: R3D-18, MC3-18, R(2+1)D-18, a kernel-shape ablation of the 3D ResNet-18, and I3D-ResNet-50.

Every model here is a stem, four residual stages ``layer1`` .. ``layer4``, a global average pool and a linear
classifier ``fc``, and maps a clip batch [B, 3, T, H, W] to logits [B, num_classes]. They differ in the
kernels of their convolutions and in where they halve the time axis:

    model                  stem                    residual convolutions          T halved
    r3d_18                 3x7x7                   3x3x3                          by layer2, layer3, layer4
    mc3_18                 3x7x7                   3x3x3 in layer1, then 1x3x3    never
    r2plus1d_18            (2+1)D 3x7x7            (2+1)D 3x3x3                   by layer2, layer3, layer4
    resnet18_3d_<kernel>   1x7x7                   <kernel> everywhere            never
    i3d_r50                5x7x7, 1x3x3 max pool   bottlenecks: 3x1x1 or 1x1x1    by a max pool after layer1

All of them halve H and W in the stem and in layer2, layer3 and layer4 (i3d_r50 also in its stem's max pool).

R3D-18, MC3-18 and R(2+1)D-18 are the networks of Tran et al., "A Closer Look at Spatiotemporal Convolutions
for Action Recognition" (CVPR 2018), with the exact shapes of torchvision's ``models.video``. Their module
names are vidact's (``stem.conv``, ``layer1.0.conv1``, ``layer1.0.bn1``, ...); torchvision's state_dicts
(``nn.Sequential`` indices: ``stem.0``, ``layer1.0.conv1.0``, ...) load through
:func:`convert_torchvision_state_dict`:

    >>> model = build_model("r2plus1d_18")
    >>> load_weights(model, "r2plus1d_18-91a641e6.pth", converter=convert_torchvision_state_dict)

The kernel ablation (``resnet18_3d_spatial``, ``_temporal``, ``_joint``, ``_2plus1d``) keeps everything but
the kernel of the residual convolutions fixed: the same per-frame 1x7x7 stem, and strides that only ever
downsample H and W, so T is constant through the network in all four. The ``spatial`` variant (1x3x3) is then
a genuine per-frame network, a 2D ResNet-18 run on every frame with the features averaged over time: nothing
mixes frames before the final pool, so its logits do not depend on the order of the frames. The ``temporal``
variant (3x1x1) is its opposite: after the stem's 7x7 window, no convolution sees any more of the image.

I3D-ResNet-50 is the I3D baseline of Wang et al., "Non-local Neural Networks" (CVPR 2018), as PySlowFast and
PyTorchVideo implement it ("I3D 8x8 R50"): a ResNet-50 whose bottlenecks use a 3x1x1 first convolution in an
alternating pattern, and whose published weights load through :func:`convert_pytorchvideo_state_dict`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, get_args

import torch
from torch import nn

from ..errors import ConfigError
from .contract import FeatureLayout, temporal_pool
from .converters import register_converter
from .layers import (
    BasicBlock,
    BlockKernel,
    Bottleneck,
    Conv2Plus1d,
    LinearClassifier,
    Stem,
    conv3d,
    init_weights,
    linear_classifier,
    max_pool_1x3x3,
)
from .registry import ModelCard, Preset, Weights, WeightsFile, register_model

__all__ = [
    "ResNet3d",
    "convert_torchvision_state_dict",
    "convert_pytorchvideo_state_dict",
    "r3d_18",
    "mc3_18",
    "r2plus1d_18",
    "resnet18_3d",
    "resnet18_3d_spatial",
    "resnet18_3d_temporal",
    "resnet18_3d_joint",
    "resnet18_3d_2plus1d",
    "i3d_r50",
]


class ResNet3d(LinearClassifier, nn.Module):
    """Stem, four residual stages, global average pool, dropout and a linear classifier ``fc``.

    Args:
        stem: [B, 3, T, H, W] -> [B, C_0, T', H', W'].
        layers: the four stages ``layer1`` .. ``layer4``, each an ``nn.Sequential`` of residual blocks.
        num_features: channels out of ``layer4`` (the classifier's input width).
        num_classes: number of logits (0: no classifier, the model returns pooled features).
        dropout: dropout probability before ``fc`` (0 = none).
        temporal_pool: halve T with a 2x1x1 max pool after ``layer1`` (I3D-ResNet-50).

    Weights start as torchvision initialises its video ResNets: He-normal (fan-out) convolutions,
    BatchNorms at scale 1 and shift 0, and a classifier drawn from N(0, 0.01^2) with zero bias.
    """

    feature_layout: ClassVar[FeatureLayout] = FeatureLayout.BCTHW

    def __init__(
        self,
        stem: nn.Module,
        layers: Sequence[nn.Sequential],
        num_features: int,
        num_classes: int,
        *,
        dropout: float = 0.0,
        temporal_pool: bool = False,
    ) -> None:
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"a ResNet3d has 4 stages, got {len(layers)}")
        self.num_features = self.head_hidden_size = num_features
        self.num_classes = num_classes
        self.stem = stem
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.temporal_pool = nn.MaxPool3d((2, 1, 1), stride=(2, 1, 1)) if temporal_pool else nn.Identity()
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = linear_classifier(num_features, num_classes)
        init_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, T, H, W] clips -> [B, num_features, T', H', W'] feature maps of ``layer4``."""
        x = self.layer1(self.stem(x))
        x = self.layer2(self.temporal_pool(x))
        return self.layer4(self.layer3(x))

    def forward_temporal(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, T, H, W] clips -> ``layer4``'s maps averaged over H', W': [B, T', num_features]."""
        return temporal_pool(self.forward_features(x), self.feature_layout)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """[B, num_features, T', H', W'] maps -> [B, num_classes] logits (``pre_logits``: [B, num_features])."""
        x = self.avgpool(x).flatten(1)
        return x if pre_logits else self.fc(self.dropout(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, T, H, W] clips -> [B, num_classes] logits."""
        return self.forward_head(self.forward_features(x))


def _resnet18(
    stem_conv: nn.Module,
    kernels: Sequence[BlockKernel],
    temporal_strides: Sequence[int],
    num_classes: int,
    base_width: int = 64,
    **kwargs: Any,
) -> ResNet3d:
    """A ResNet-18 layout: 2 basic blocks in each of 4 stages of w, 2w, 4w, 8w channels (w = 64)."""
    layers = []
    in_channels = base_width
    widths = tuple(base_width * m for m in (1, 2, 4, 8))
    for width, kernel, t_stride, s_stride in zip(
        widths, kernels, temporal_strides, (1, 2, 2, 2), strict=True
    ):
        first = BasicBlock(in_channels, width, kernel, stride=(t_stride, s_stride, s_stride))
        layers.append(nn.Sequential(first, BasicBlock(width, width, kernel)))
        in_channels = width
    return ResNet3d(
        Stem(stem_conv, base_width), layers, num_features=widths[-1], num_classes=num_classes, **kwargs
    )


_TORCHVISION_BLOCK_RENAMES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\.conv([12])\.0\.0\."), r".conv\1.spatial."),
    (re.compile(r"\.conv([12])\.0\.1\."), r".conv\1.bn."),
    (re.compile(r"\.conv([12])\.0\.3\."), r".conv\1.temporal."),
    (re.compile(r"\.conv([12])\.0\."), r".conv\1."),
    (re.compile(r"\.conv([12])\.1\."), r".bn\1."),
)
_TORCHVISION_STEM = {"0": "conv", "1": "bn"}
_TORCHVISION_FACTORISED_STEM = {"0": "conv.spatial", "1": "conv.bn", "3": "conv.temporal", "4": "bn"}


def convert_torchvision_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a torchvision ``models.video`` R3D/MC3/R(2+1)D state_dict to this file's module names.

    torchvision keeps each convolution with its BatchNorm (and ReLU) in an ``nn.Sequential``:

        stem.0 / stem.1                        -> stem.conv / stem.bn
        stem.0, .1, .3, .4 (R(2+1)D)           -> stem.conv.spatial, .conv.bn, .conv.temporal, stem.bn
        layerN.M.convI.0 / layerN.M.convI.1    -> layerN.M.convI / layerN.M.bnI
        layerN.M.convI.0.0, .0.1, .0.3         -> layerN.M.convI.spatial, .bn, .temporal   (R(2+1)D)

    ``downsample.0/1`` and ``fc`` keep their names. Keys already in vidact's layout pass through unchanged.
    """
    stem_names = _TORCHVISION_FACTORISED_STEM if "stem.3.weight" in state else _TORCHVISION_STEM
    converted = {}
    for key, value in state.items():
        stem_key = re.fullmatch(r"stem\.(\d)\.(\w+)", key)
        if stem_key is not None:
            key = f"stem.{stem_names[stem_key[1]]}.{stem_key[2]}"
        for pattern, replacement in _TORCHVISION_BLOCK_RENAMES:
            key, count = pattern.subn(replacement, key)
            if count:
                break
        converted[key] = value
    return converted


_PYTORCHVIDEO_STAGES = {"1": "layer1", "3": "layer2", "4": "layer3", "5": "layer4"}  # blocks.2: a max pool
_PYTORCHVIDEO_RENAMES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str] | str], ...] = (
    (re.compile(r"^blocks\.0\.conv\."), "stem.conv."),
    (re.compile(r"^blocks\.0\.norm\."), "stem.bn."),
    (re.compile(r"^blocks\.([1345])\.res_blocks\."), lambda m: f"{_PYTORCHVIDEO_STAGES[m[1]]}."),
    (re.compile(r"\.branch1_conv\."), ".downsample.0."),
    (re.compile(r"\.branch1_norm\."), ".downsample.1."),
    (re.compile(r"\.branch2\.conv_a\."), ".conv1."),
    (re.compile(r"\.branch2\.norm_a\."), ".bn1."),
    (re.compile(r"\.branch2\.conv_b\."), ".conv2."),
    (re.compile(r"\.branch2\.norm_b\."), ".bn2."),
    (re.compile(r"\.branch2\.conv_c\."), ".conv3."),
    (re.compile(r"\.branch2\.norm_c\."), ".bn3."),
    (re.compile(r"^blocks\.6\.proj\."), "fc."),
)


def convert_pytorchvideo_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a PyTorchVideo ``i3d_r50`` state_dict (``I3D_8x8_R50.pyth``'s ``model_state``) to vidact's.

    blocks.0.conv / .norm                          -> stem.conv / stem.bn
    blocks.{1,3,4,5}.res_blocks.M                  -> layer{1,2,3,4}.M
    .branch1_conv / .branch1_norm                  -> .downsample.0 / .downsample.1
    .branch2.conv_{a,b,c} / .branch2.norm_{a,b,c}  -> .conv{1,2,3} / .bn{1,2,3}
    blocks.6.proj                                  -> fc
    """
    converted = {}
    for key, value in state.items():
        for pattern, replacement in _PYTORCHVIDEO_RENAMES:
            key = pattern.sub(replacement, key)
        converted[key] = value
    return converted


# --------------------------------------------------------------------------------------------- model cards

PYTORCHVIDEO_ZOO = "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics"
_TRAN_2018 = 'Tran et al., "A Closer Look at Spatiotemporal Convolutions for Action Recognition", CVPR 2018'
_TORCHVISION_PROTOCOL = (
    "video-level accuracy over 5 clips per video; a clip is 16 consecutive frames of the video resampled to "
    "15 fps, resized to 128x171 and centre-cropped to 112x112"
)
_TORCHVISION_PRESET = Preset(
    frames=16,
    frame_stride=2,  # 15 fps from Kinetics' (mostly) 30 fps sources
    fps=15.0,
    resize=(128, 171),  # exactly 128 x 171, whatever the aspect ratio (torchvision's VideoClassification)
    crop_size=112,
    mean=(0.43216, 0.394666, 0.37645),
    std=(0.22803, 0.22145, 0.216989),
    antialias=False,
    num_clips=5,
)


def _torchvision_weights(url: str, top1: float, top5: float, sha256: str) -> Weights:
    return Weights(
        tag="kinetics400",
        files=(WeightsFile(url, hash_prefix=url.rsplit("-", 1)[1].split(".")[0]),),
        dataset="Kinetics-400",
        num_classes=400,
        labels="kinetics400",
        preset=_TORCHVISION_PRESET,
        layout="torchvision",
        source="torchvision",
        license=(
            "BSD-3-Clause (torchvision's code; no separate licence is stated for the weights, which may carry "
            "terms of their training data, Kinetics-400)"
        ),
        top1=top1,
        top5=top5,
        test_protocol=_TORCHVISION_PROTOCOL,
        notes=(
            "File name, URL, accuracy and preprocessing from torchvision's models/video/resnet.py and "
            "transforms/_presets.py. The file name's hash prefix is torch.hub's (the first hex digits of the "
            f"file's SHA-256) and is checked on download; the full SHA-256 {sha256} appears only in a "
            "third-party listing, not verified here. Earlier torchvision releases quoted clip-level accuracy "
            "(lower); these are video-level."
        ),
    )


def _tran_card(name: str, params: int, gmacs: float, weights: Weights) -> ModelCard:
    return ModelCard(
        name=name,
        family="resnet3d",
        input_size=(3, 16, 112, 112),
        frames=16,
        frame_stride=2,  # 15 fps from Kinetics' (mostly) 30 fps sources
        params=params,
        gmacs=gmacs,
        paper=_TRAN_2018,
        test_protocol=_TORCHVISION_PROTOCOL,
        weights=(weights,),
        notes="torchvision's weights load with converter=convert_torchvision_state_dict.",
    )


# ------------------------------------------------------------------------------------------------ builders


@register_model(
    card=_tran_card(
        "r3d_18",
        params=33_371_472,
        gmacs=40.697,
        weights=_torchvision_weights(
            "https://download.pytorch.org/models/r3d_18-b3b3357e.pth",
            63.2,
            83.479,
            "b3b3357ead25631ec9c57362ff2128a92d0427e01e2cd184951a44380c3f2e9d",
        ),
    )
)
def r3d_18(*, num_classes: int = 400, **kwargs: Any) -> ResNet3d:
    """R3D-18: 3x3x3 convolutions throughout, T halved by layer2..layer4 (16 frames -> 2).

    ``kwargs`` go to :class:`ResNet3d` (``dropout``).
    """
    stem_conv = conv3d(3, 64, (3, 7, 7), (1, 2, 2))
    return _resnet18(stem_conv, ("joint",) * 4, (1, 2, 2, 2), num_classes, **kwargs)


@register_model(
    card=_tran_card(
        "mc3_18",
        params=11_695_440,
        gmacs=43.343,
        weights=_torchvision_weights(
            "https://download.pytorch.org/models/mc3_18-a90a0ba3.pth",
            63.96,
            84.13,
            "a90a0ba35ca1242d15b77511ff28bfb29cc596988b5ea36081042f8e2f54212b",
        ),
    )
)
def mc3_18(*, num_classes: int = 400, **kwargs: Any) -> ResNet3d:
    """MC3-18 ("mixed convolutions"): 3x3x3 in the stem and layer1, 1x3x3 (per frame) in layer2..layer4.

    T is never downsampled. ``kwargs`` go to :class:`ResNet3d` (``dropout``).
    """
    stem_conv = conv3d(3, 64, (3, 7, 7), (1, 2, 2))
    return _resnet18(
        stem_conv, ("joint", "spatial", "spatial", "spatial"), (1, 1, 1, 1), num_classes, **kwargs
    )


@register_model(
    card=_tran_card(
        "r2plus1d_18",
        params=31_505_325,
        gmacs=40.519,
        weights=_torchvision_weights(
            "https://download.pytorch.org/models/r2plus1d_18-91a641e6.pth",
            67.463,
            86.175,
            "91a641e6c2ab531d1aca5f4321b4d802ec5c3babc15df855cdb6e39c6a1107c8",
        ),
    )
)
def r2plus1d_18(*, num_classes: int = 400, **kwargs: Any) -> ResNet3d:
    """R(2+1)D-18: every 3D convolution factorised into a spatial 1xkxk and a temporal tx1x1 one.

    The stem factorises 3x7x7 through 45 channels (torchvision's width, fixed by its weights); the blocks use
    :func:`factorised_mid_channels`. T is halved by layer2..layer4. ``kwargs`` go to :class:`ResNet3d`.
    """
    stem_conv = Conv2Plus1d(3, 64, mid_channels=45, kernel_size=(3, 7, 7), stride=(1, 2, 2))
    return _resnet18(stem_conv, ("2plus1d",) * 4, (1, 2, 2, 2), num_classes, **kwargs)


def resnet18_3d(
    kernel: BlockKernel, *, num_classes: int = 400, base_width: int = 64, **kwargs: Any
) -> ResNet3d:
    """The kernel-shape ablation's ResNet-18: ``kernel`` in every residual convolution, all else fixed.

    The stem is a per-frame 1x7x7 convolution (stride 1x2x2) and every stride is 1 in time, so the four
    variants see the same T at every stage and differ only in ``kernel``; with ``"spatial"`` the network is
    per-frame end to end (see the module docstring).

    Args:
        kernel: ``"spatial"`` (1x3x3), ``"temporal"`` (3x1x1), ``"joint"`` (3x3x3) or ``"2plus1d"``
            (1x3x3 then 3x1x1 through :func:`factorised_mid_channels` channels, about as many parameters as
            ``"joint"``).
        base_width: channels of the stem and the first stage (the stages have w, 2w, 4w, 8w; 64 is
            ResNet-18's). A narrower net makes the ablation cheap to repeat over seeds.
        kwargs: go to :class:`ResNet3d` (``dropout``).

    Raises:
        ConfigError: ``kernel`` is not one of the four.
    """
    if kernel not in get_args(BlockKernel):
        raise ConfigError(
            f"resnet18_3d: unknown kernel {kernel!r}; expected one of {', '.join(get_args(BlockKernel))}"
        )
    stem_conv = conv3d(3, base_width, (1, 7, 7), (1, 2, 2))
    return _resnet18(stem_conv, (kernel,) * 4, (1, 1, 1, 1), num_classes, base_width=base_width, **kwargs)


def _ablation_card(kernel: BlockKernel, params: int, gmacs: float) -> ModelCard:
    return ModelCard(
        name=f"resnet18_3d_{kernel}",
        family="resnet3d",
        input_size=(3, 16, 112, 112),
        frames=16,
        frame_stride=2,
        params=params,
        gmacs=gmacs,
        paper=_TRAN_2018,
        notes=(
            f"Kernel-shape ablation: a ResNet-18 with {kernel} residual convolutions, a per-frame 1x7x7 "
            "stem and no temporal striding. No published weights."
        ),
    )


@register_model(card=_ablation_card("spatial", params=11_381_712, gmacs=27.601))
def resnet18_3d_spatial(*, num_classes: int = 400, **kwargs: Any) -> ResNet3d:
    """The per-frame baseline of the ablation: 1x3x3 convolutions; logits invariant to the frame order."""
    return resnet18_3d("spatial", num_classes=num_classes, **kwargs)


@register_model(card=_ablation_card("temporal", params=4_058_064, gmacs=9.721))
def resnet18_3d_temporal(*, num_classes: int = 400, **kwargs: Any) -> ResNet3d:
    """Ablation with 3x1x1 convolutions: time only, no spatial context beyond the stem."""
    return resnet18_3d("temporal", num_classes=num_classes, **kwargs)


@register_model(card=_ablation_card("joint", params=33_352_656, gmacs=81.242))
def resnet18_3d_joint(*, num_classes: int = 400, **kwargs: Any) -> ResNet3d:
    """Ablation with full 3x3x3 convolutions."""
    return resnet18_3d("joint", num_classes=num_classes, **kwargs)


@register_model(card=_ablation_card("2plus1d", params=31_499_388, gmacs=77.883))
def resnet18_3d_2plus1d(*, num_classes: int = 400, **kwargs: Any) -> ResNet3d:
    """Ablation with (2+1)D-factorised 3x3x3 convolutions."""
    return resnet18_3d("2plus1d", num_classes=num_classes, **kwargs)


_I3D_INFLATE: tuple[tuple[int, ...], ...] = ((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0))
"""Per stage and block, whether the bottleneck's first convolution is 3x1x1 (1) or 1x1x1 (0)."""


@register_model(
    card=ModelCard(
        name="i3d_r50",
        family="resnet3d",
        input_size=(3, 8, 256, 256),
        frames=8,
        frame_stride=8,
        params=28_043_472,
        gmacs=37.104,
        paper=(
            'Carreira & Zisserman, "Quo Vadis, Action Recognition?", CVPR 2017; the ResNet-50 I3D of '
            'Wang et al., "Non-local Neural Networks", CVPR 2018'
        ),
        test_protocol="3 spatial crops x 10 clips, short side 256, crops of 256x256",
        weights=(
            Weights(
                tag="kinetics400",
                files=(WeightsFile(f"{PYTORCHVIDEO_ZOO}/I3D_8x8_R50.pyth"),),
                dataset="Kinetics-400",
                num_classes=400,
                labels="kinetics400",
                preset=Preset(
                    frames=8,
                    frame_stride=8,
                    fps=3.75,  # every 8th frame of 30 fps
                    short_side=256,
                    crop_size=256,
                    mean=(0.45, 0.45, 0.45),
                    std=(0.225, 0.225, 0.225),
                    num_clips=10,
                    num_crops=3,
                ),
                layout="pytorchvideo",
                source="PyTorchVideo",
                license="Apache-2.0 (PyTorchVideo's code; no separate licence is stated for the weights)",
                top1=73.27,
                top5=90.70,
                test_protocol="3 spatial crops x 10 clips, short side 256, crops of 256x256",
                notes=(
                    "URL and accuracy from PyTorchVideo's model zoo (docs/source/model_zoo.md) and "
                    "hub/resnet.py; preprocessing from PySlowFast's configs/Kinetics/pytorchvideo/"
                    "I3D_8x8_R50.yaml. No hash or size is published: the file is checked by loading it."
                ),
            ),
        ),
        notes=(
            "Trained on 224x224 crops, tested (and costed here) on 256x256 ones; 28.408 GMACs at 8x224x224. "
            "PyTorchVideo's model zoo lists 37.53 GFLOPs at 8x256x256; fvcore, which also counts BatchNorm, "
            "gives 37.28 G for this network (convolutions and the classifier alone: 37.104). PyTorchVideo's "
            "weights load with converter=convert_pytorchvideo_state_dict."
        ),
    )
)
def i3d_r50(*, num_classes: int = 400, dropout: float = 0.5, **kwargs: Any) -> ResNet3d:
    """I3D-ResNet-50 (8x8): a ResNet-50 with a 5x7x7 stem and 3x1x1 convolutions in alternate bottlenecks.

    Stem: 5x7x7 convolution (stride 1x2x2) and 1x3x3 max pool (stride 1x2x2). Stages of 3, 4, 6, 3
    bottlenecks; the first convolution of a bottleneck is 3x1x1 in all of res2, in blocks 0 and 2 of res3,
    0, 2 and 4 of res4, and block 1 of res5 (else 1x1x1). A 2x1x1 max pool after res2 halves T (8 -> 4).
    Dropout 0.5 before the classifier. ``kwargs`` go to :class:`ResNet3d`.
    """
    stem = Stem(conv3d(3, 64, (5, 7, 7), (1, 2, 2)), 64, pool=max_pool_1x3x3())
    layers = []
    in_channels = 64
    for width, inflate, spatial_stride in zip((64, 128, 256, 512), _I3D_INFLATE, (1, 2, 2, 2), strict=True):
        blocks = [
            Bottleneck(
                in_channels if i == 0 else width * Bottleneck.expansion,
                width,
                temporal_kernel=3 if inflated else 1,
                spatial_stride=spatial_stride if i == 0 else 1,
            )
            for i, inflated in enumerate(inflate)
        ]
        layers.append(nn.Sequential(*blocks))
        in_channels = width * Bottleneck.expansion
    return ResNet3d(
        stem,
        layers,
        num_features=2048,
        num_classes=num_classes,
        dropout=dropout,
        temporal_pool=True,
        **kwargs,
    )


# -- the published layouts this family reads (see vidact.models.converters) ----------
register_converter("resnet3d", "torchvision", convert_torchvision_state_dict)
register_converter("resnet3d", "pytorchvideo", convert_pytorchvideo_state_dict)
