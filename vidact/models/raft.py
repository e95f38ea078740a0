"""RAFT (Teed & Deng, "RAFT: Recurrent All-Pairs Field Transforms for Optical Flow", ECCV 2020): torchvision's
``raft_small`` and ``raft_large``, registered with their published weights so that the catalogue lists them and
loads them by name.

    >>> loaded = hub.load_published("raft_small.c_t_v2")          # torchvision's network, its weights
    >>> flows = loaded.module(img1, img2, num_flow_updates=12)   # [B, 3, H, W] x 2 in [-1, 1] -> list of [B, 2, H, W]
    >>> flow = flows[-1]                                          # the last refinement: x then y, in pixels

These are not action classifiers: their cards say ``modality="optical_flow"``, they have no classifier
(``num_classes`` is always 0) and their input spec is a :class:`FramePairSpec` (two RGB frames in [-1, 1], sides
padded to a multiple of 8), not a clip :class:`~vidact.data.presets.Preset`. :mod:`vidact.flow.methods` turns
them into the ``raft_small`` / ``raft_large`` flow methods (uint8 frames in, flow [H, W, 2] out).

The network is torchvision's own module, so its parameter names are the published files' and the weights load
with no converter (layout ``"vidact"``). Weights entries: torchvision's published files (URLs, the file names'
hash prefixes, the end-point errors its metadata reports), BSD-3-Clause as torchvision's code; the
``C_T`` weights were trained on FlyingChairs + FlyingThings3D, ``SKHT`` fine-tuned on Sintel + KITTI + HD1K +
FlyingThings3D, ``K`` then on KITTI; ``V1`` are ported from princeton-vl/RAFT, ``V2`` retrained by torchvision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from torch import nn
from torchvision.models import optical_flow as tv_flow

from ..data.inputs import register_input, spec_fields
from ..errors import ConfigError
from .labels import register_label_list
from .registry import ModelCard, Weights, WeightsFile, register_model

__all__ = ["FramePairSpec", "NO_CLASSES", "raft_small", "raft_large"]

#: The label list of networks without classes: no names (``Weights.labels`` of the flow networks).
NO_CLASSES = "none"
register_label_list(NO_CLASSES, [])


@register_input
@dataclass(frozen=True)
class FramePairSpec:
    """The input of an optical-flow network: two RGB frames of one size, the flow from the first to the second.
    The input spec of the ``optical_flow`` modality (:mod:`vidact.data.inputs`).

    Attributes:
        value_range: uint8 pixels are scaled to [0, 1], then mapped linearly onto this range (torchvision's
            ``OpticalFlow`` preset: [-1, 1]).
        size_multiple: both sides are padded (replicating the border) to a multiple of this (RAFT's 1/8
            feature grid); the flow of the padding is cropped off.
        min_size: ...and to at least this many pixels (torchvision's ``min_size``: smaller inputs leave its
            correlation pyramid with empty levels).
        num_flow_updates: refinement iterations of the recurrent update (RAFT's default 12 at test time).
    """

    value_range: tuple[float, float] = (-1.0, 1.0)
    size_multiple: int = 8
    min_size: int = 128
    num_flow_updates: int = 12

    modality: ClassVar[str] = "optical_flow"

    def __post_init__(self) -> None:
        low, high = self.value_range
        if not high > low:
            raise ConfigError(f"frame-pair spec: value_range {self.value_range} is empty")
        if self.size_multiple < 1 or self.min_size < 1 or self.num_flow_updates < 1:
            raise ConfigError(f"frame-pair spec: sizes and updates must be positive, got {self}")

    def test_views(self) -> dict[str, int]:
        """One view: the pair as it is."""
        return {"clips": 1}

    def to_dict(self) -> dict[str, Any]:
        """The fields, and ``"modality": "optical_flow"``."""
        return {"modality": self.modality, **asdict(self)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> FramePairSpec:
        """The inverse of :meth:`to_dict` (lists become tuples).

        Raises:
            ConfigError: an unknown key, or another modality.
        """
        values = spec_fields(cls, values, "frame-pair spec")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


_SPEC = FramePairSpec()
_PAPER = "Teed & Deng, RAFT: Recurrent All-Pairs Field Transforms for Optical Flow, ECCV 2020"
_URL = "https://download.pytorch.org/models"
_LICENSE = (
    "BSD-3-Clause (torchvision's code; no separate licence is stated for the weights, which may carry terms of "
    "their training data: FlyingChairs, FlyingThings3D, Sintel, KITTI, HD1K)"
)
_PROTOCOL = (
    "end-point error (EPE, pixels, lower is better) averaged over all pixels; KITTI's per-image EPE and Fl-all "
    "(% of pixels off by > 3 px and > 5 %), as torchvision's metadata reports them"
)
_TRAINING = {
    "C_T": "FlyingChairs + FlyingThings3D",
    "C_T_SKHT": "FlyingChairs + FlyingThings3D, fine-tuned on Sintel + KITTI + HD1K + FlyingThings3D",
    "C_T_SKHT_K": "FlyingChairs + FlyingThings3D, fine-tuned on Sintel + KITTI + HD1K + FlyingThings3D, then KITTI",
}
_ORIGIN = {
    "V1": "ported by torchvision from princeton-vl/RAFT (the paper's weights)",
    "V2": "trained from scratch by torchvision (references/optical_flow)",
}


def _weights(model: str, name: str, file_hash: str, metrics: str) -> Weights:
    """torchvision's ``Raft_*_Weights.<name>`` (``C_T_V2``): the file ``<model>_<name>-<hash>.pth``."""
    training, version = name.rsplit("_", 1)
    return Weights(
        tag=name.lower(),
        files=(WeightsFile(f"{_URL}/{model}_{name}-{file_hash}.pth", hash_prefix=file_hash),),
        dataset=_TRAINING[training],
        num_classes=0,
        labels=NO_CLASSES,
        preset=_SPEC,
        layout="vidact",  # torchvision's module is vidact's: its parameter names are the file's
        source="torchvision",
        license=_LICENSE,
        test_protocol=f"{_PROTOCOL}: {metrics}",
        notes=(
            f"{_ORIGIN[version]}. URL, file name and metrics from torchvision's models/optical_flow/raft.py "
            f"(Raft_{model.split('_')[1].capitalize()}_Weights.{name}); the hash prefix in the file name "
            "(torch.hub's: the first hex digits of its SHA-256) is checked on download."
        ),
    )


def _card(name: str, params: int, gmacs: float, weights: tuple[Weights, ...]) -> ModelCard:
    return ModelCard(
        name=name,
        family="raft",
        input_size=(3, 2, 256, 344),  # two RGB frames of 340 x 256, padded to a multiple of 8
        frames=2,
        frame_stride=1,
        params=params,
        gmacs=gmacs,
        default_num_classes=0,
        paper=_PAPER,
        test_protocol=_PROTOCOL,
        weights=weights,
        classifier="",
        preset=_SPEC,
        modality="optical_flow",
        notes=(
            "An optical-flow network, not a classifier: model(img1, img2, num_flow_updates=12) returns the flow "
            "[B, 2, H, W] after each update, the last the finest. GMACs at 256 x 344 with 12 updates "
            "(vidact.models.profile.count_macs; the correlation lookups' bilinear sampling is not counted)."
        ),
    )


def _no_classifier(name: str, num_classes: int) -> None:
    if num_classes:
        raise ConfigError(
            f"{name} is an optical-flow network without a classifier: num_classes must be 0, got {num_classes}"
        )


@register_model(
    card=_card(
        "raft_small",
        params=990_162,
        gmacs=15.53,
        weights=(
            _weights(
                "raft_small",
                "C_T_V2",
                "01064c6d",
                "Sintel train clean 1.9901, final 3.2831; KITTI train per-image EPE 7.5978, Fl-all 25.2369 %",
            ),
            _weights(
                "raft_small",
                "C_T_V1",
                "ad48884c",
                "Sintel train clean 2.1231, final 3.2790; KITTI train per-image EPE 7.6557, Fl-all 25.2801 %",
            ),
        ),
    )
)
def raft_small(*, num_classes: int = 0, **kwargs: Any) -> nn.Module:
    """torchvision's RAFT-small with random weights: frames [B, 3, H, W] x 2 (H, W multiples of 8, values in
    [-1, 1]) -> a list of flows [B, 2, H, W], one per update.

    Args:
        num_classes: 0 (there is no classifier; the argument every registered builder takes).
        kwargs: go to ``torchvision.models.optical_flow.raft_small``.

    Raises:
        ConfigError: a non-zero ``num_classes``.
    """
    _no_classifier("raft_small", num_classes)
    return tv_flow.raft_small(weights=None, progress=False, **kwargs)


@register_model(
    card=_card(
        "raft_large",
        params=5_257_536,
        gmacs=69.93,
        weights=(
            _weights("raft_large", "C_T_SKHT_V2", "ff5fadd5", "Sintel test clean 1.819, final 3.067"),
            _weights("raft_large", "C_T_SKHT_V1", "0b8c9e55", "Sintel test clean 1.94, final 3.18"),
            _weights(
                "raft_large",
                "C_T_V2",
                "1bb1363a",
                "Sintel train clean 1.3822, final 2.7161; KITTI train per-image EPE 4.5118, Fl-all 16.0679 %",
            ),
            _weights(
                "raft_large",
                "C_T_V1",
                "22a6c225",
                "Sintel train clean 1.4411, final 2.7894; KITTI train per-image EPE 5.0172, Fl-all 17.4506 %",
            ),
            _weights("raft_large", "C_T_SKHT_K_V2", "b5c70766", "KITTI test Fl-all 5.19 %"),
            _weights("raft_large", "C_T_SKHT_K_V1", "4a6a5039", "KITTI test Fl-all 5.10 %"),
        ),
    )
)
def raft_large(*, num_classes: int = 0, **kwargs: Any) -> nn.Module:
    """torchvision's RAFT-large with random weights: frames [B, 3, H, W] x 2 (H, W multiples of 8, values in
    [-1, 1]) -> a list of flows [B, 2, H, W], one per update.

    Args:
        num_classes: 0 (there is no classifier; the argument every registered builder takes).
        kwargs: go to ``torchvision.models.optical_flow.raft_large``.

    Raises:
        ConfigError: a non-zero ``num_classes``.
    """
    _no_classifier("raft_large", num_classes)
    return tv_flow.raft_large(weights=None, progress=False, **kwargs)
