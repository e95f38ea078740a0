"""Preprocessing presets: how the clips a model sees are made from a video, as one typed value.

A :class:`Preset` travels with every published weights entry (torchvision's ``weights.transforms``, timm's
pretrained config) and with every vidact checkpoint (built from its recipe's ``data`` section), so that
``predict``, ``eval``, ``extract`` and fine-tuning all make the clips the weights were trained on. It is the one
place that turns those facts into transforms:

    >>> preset = model_card("r2plus1d_18").weights[0].preset
    >>> preset.eval_transform()(clip)          # uint8 [T, H, W, 3] -> float32 [3, T, 112, 112]

Pixel values: decoded uint8 pixels are scaled to [0, 1], mapped linearly onto ``value_range`` (I3D's weights take
[-1, 1]), and normalised with ``(v - mean) / std`` on that scale. :meth:`Preset.normalization` folds the three
into one ``(mean, std)`` on [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

from ..errors import ConfigError
from .inputs import register_input, spec_fields
from .transforms import (
    CenterCrop,
    ClipTransform,
    ColorJitter,
    Compose,
    Resize,
    ReverseChannels,
    eval_transform,
    input_steps,
    train_transform,
)

__all__ = ["Preset", "ReverseChannels"]

Interpolation = Literal["bilinear", "bicubic", "nearest"]


@register_input
@dataclass(frozen=True)
class Preset:
    """How a model's clips are made: sampling, geometry and pixel values. The input spec of the ``video``
    modality (:mod:`vidact.data.inputs`).

    Attributes:
        frames: frames per clip.
        frame_stride: source frames between consecutive clip frames (for videos at ``source_fps``).
        fps: the clip's frame rate the weights were trained at (``source_fps / frame_stride``), when the
            upstream recipe fixes one (torchvision: 15, I3D: 25); ``None`` where only the stride is known.
        sampler: ``"clip"`` (``frames`` every ``frame_stride``-th) or ``"segments"`` (TSN: one frame from each
            of ``frames`` equal parts of the video; ``frame_stride`` does not apply).
        short_side: frames are resized so their short side has this many pixels (keeping the aspect ratio)...
        resize: ...or to exactly (height, width), whatever their aspect ratio (torchvision's 128 x 171).
        crop_size: side of the square crops the model sees.
        mean, std: per-channel normalisation on the ``value_range`` scale (one value: every channel).
        value_range: the range pixels are mapped onto before normalising: (0, 1), or (-1, 1) for I3D.
        interpolation, antialias: how frames are resized.
        channel_order: ``"RGB"`` or ``"BGR"``.
        num_clips, num_crops: the views of the published test protocol (``eval``'s defaults).
    """

    frames: int
    crop_size: int
    short_side: int | None = None
    resize: tuple[int, int] | None = None
    frame_stride: int = 1
    fps: float | None = None
    sampler: Literal["clip", "segments"] = "clip"
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    value_range: tuple[float, float] = (0.0, 1.0)
    interpolation: Interpolation = "bilinear"
    antialias: bool = True
    channel_order: Literal["RGB", "BGR"] = "RGB"
    num_clips: int = 1
    num_crops: int = 1

    modality: ClassVar[str] = "video"

    def __post_init__(self) -> None:
        if self.frames < 1 or self.frame_stride < 1 or self.crop_size < 1:
            raise ConfigError(f"preset: frames, frame_stride and crop_size must be positive, got {self}")
        if (self.short_side is None) == (self.resize is None):
            raise ConfigError("preset: give exactly one of short_side and resize")
        if min(self.resize or (self.short_side,)) < self.crop_size:  # type: ignore[type-var]
            raise ConfigError(
                f"preset: crop size {self.crop_size} is larger than the resized frame "
                f"({self.resize or self.short_side})"
            )
        if self.sampler not in ("clip", "segments"):
            raise ConfigError(f"preset: unknown sampler {self.sampler!r}; choose from 'clip', 'segments'")
        if self.channel_order not in ("RGB", "BGR"):
            raise ConfigError(f"preset: unknown channel order {self.channel_order!r}")
        if len(self.mean) != len(self.std) or any(s <= 0 for s in self.std):
            raise ConfigError(f"preset: mean {self.mean} and std {self.std} do not match")
        low, high = self.value_range
        if not high > low:
            raise ConfigError(f"preset: value_range {self.value_range} is empty")

    # -- derived ------------------------------------------------------------------------------------------------
    @property
    def span(self) -> int:
        """Source frames one clip covers, first to last (``frames`` for TSN segments' nominal length)."""
        return (self.frames - 1) * self.frame_stride + 1

    @property
    def segments(self) -> bool:
        return self.sampler == "segments"

    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The (mean, std) that map pixels in [0, 1] to the model's input in one step.

        ``v = low + (high - low) * x`` then ``(v - mean) / std`` equals ``(x - m') / s'`` with
        ``m' = (mean - low) / (high - low)`` and ``s' = std / (high - low)``.
        """
        low, high = self.value_range
        scale = high - low
        return (
            tuple((m - low) / scale for m in self.mean),
            tuple(s / scale for s in self.std),
        )

    @property
    def clip_len(self) -> int:
        """``frames`` (the name the samplers use)."""
        return self.frames

    def input_shape(self, batch: int = 1) -> tuple[int, int, int, int, int]:
        """The model input's shape [B, 3, T, crop, crop]."""
        return (batch, 3, self.frames, self.crop_size, self.crop_size)

    @property
    def stride(self) -> int:
        """``frame_stride`` (the name the samplers use)."""
        return self.frame_stride

    @property
    def decode_short_side(self) -> int | None:
        """The short side to decode at (the decoder resizes for free); ``None`` when frames are resized to an
        exact (height, width), which needs full-size frames."""
        return self.short_side if self.resize is None else None

    def _geometry(self) -> dict[str, Any]:
        """What :func:`~vidact.data.transforms.train_transform` and ``eval_transform`` take of this preset."""
        return {
            "short_side": self.short_side,
            "resize": self.resize,
            "interpolation": self.interpolation,
            "antialias": self.antialias,
            "normalize": self.normalization(),
            "channel_order": self.channel_order,
        }

    def frame_transform(self) -> Compose:
        """uint8 frames [N, H, W, 3] decoded at :attr:`decode_short_side` -> centre crops [N, crop, crop, 3]
        (resized first where the preset resizes to an exact size): what streaming prediction applies to each
        decoded frame."""
        steps: list[ClipTransform] = []
        if self.resize is not None:
            steps.append(Resize(self.resize, interpolation=self.interpolation, antialias=self.antialias))
        return Compose([*steps, CenterCrop(self.crop_size)])

    def to_input(self) -> Compose:
        """uint8 crops [T, h, w, 3] -> the model's float32 [3, T, h, w], channel order and normalisation done."""
        return Compose(input_steps(self.normalization(), self.channel_order))

    def eval_transform(self, crop: Literal["center", "three"] = "center") -> Compose:
        """uint8 clip [T, H, W, 3] -> float32 [3, T, crop, crop] (``"center"``) or [3, 3, T, crop, crop]
        (``"three"``: left/top, centre, right/bottom crops): :func:`~vidact.data.transforms.eval_transform` of
        this preset."""
        return eval_transform(self.crop_size, crop=crop, **self._geometry())

    def train_transform(
        self,
        *,
        crop: Literal["random", "multi_scale"] = "random",
        flip_p: float = 0.5,
        color_jitter: ColorJitter | None = None,
    ) -> Compose:
        """uint8 clip [T, H, W, 3] -> float32 [3, T, crop, crop]: resize, random (or TSN multi-scale) crop, flip,
        colour jitter, normalise — :func:`~vidact.data.transforms.train_transform` of this preset (training
        from a recipe and fine-tuning these weights build their clips here)."""
        return train_transform(
            self.crop_size, crop=crop, flip_p=flip_p, color_jitter=color_jitter, **self._geometry()
        )

    def stride_for(self, video_fps: float | None) -> int:
        """The frame stride that samples a video at ``video_fps`` at this preset's ``fps`` (its
        ``frame_stride`` when either rate is unknown): ``max(1, round(video_fps / fps))``."""
        if self.fps is None or not video_fps or video_fps <= 0:
            return self.frame_stride
        return max(1, round(video_fps / self.fps))

    # -- conversions -----------------------------------------------------------------------------------------
    def test_views(self) -> dict[str, int]:
        """The views of the published test protocol: ``{"clips": num_clips, "crops": num_crops}``."""
        return {"clips": self.num_clips, "crops": self.num_crops}

    def to_dict(self) -> dict[str, Any]:
        """The fields, and ``"modality": "video"``."""
        return {"modality": self.modality, **asdict(self)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Preset:
        """The inverse of :meth:`to_dict` (lists become tuples; ``"modality"`` may be present).

        Raises:
            ConfigError: an unknown key, or another modality.
        """
        values = spec_fields(cls, values, "preset")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
