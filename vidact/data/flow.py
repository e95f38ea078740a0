"""The input specs of optical flow: :class:`FlowPreset` (modality ``"flow"``, a temporal stream's input) and
:class:`RgbFlowPreset` (modality ``"rgb+flow"``, a two-stream pair's), the flow twins of
:class:`~vidact.data.presets.Preset`. Both register themselves with :func:`~vidact.data.inputs.register_input`
and are stored with every run and weights entry of their models:

    >>> spec = FlowPreset(segments=3, length=5, bound=20.0)
    >>> spec.eval_transform()(q)       # uint8 flow [S*L, 2, H, W] -> float32 [2, S*L, 224, 224] in [-1, 1]
    >>> input_from_dict(spec.to_dict()) == spec

**What a flow model sees.** A flow clip is S segments of L consecutive flow fields (TSN; L is its
"new_length"), each field two channels, x then y, in pixels of the frames it was computed on: prev(p) ≈
next(p + flow(p)). Fields are stored as 8-bit images with the code of :mod:`vidact.data.transforms`,
``q = clip(round((d / bound + 1) * 127.5), 0, 255)``, and the model reads ``q / 127.5 - 1`` in [-1, 1]
(displacements beyond ±``bound`` pixels saturate at ±1). Model inputs are [B, 2, S*L, H, W], the S*L fields in
time order; how a model stacks a segment's L fields into channels is the model's business
(:class:`vidact.models.two_stream.TemporalStream`).

**Geometry.** Flow images are resized and cropped as images (TSN, mmaction2): resizing does not rescale the
displacements they hold, so the model learns flow in the units of the frames the flow was computed on
(``flow_size``). A horizontal flip negates x (:class:`~vidact.data.transforms.RandomHorizontalFlip` with
``is_flow=True``), so that the flow stays the flow of the flipped video.

**RGB and flow in lock-step.** :class:`RgbFlowPreset` pairs an RGB :class:`~vidact.data.presets.Preset` of
one frame per segment with a :class:`FlowPreset` of the same segments: the RGB frame of segment s is the first
frame of that segment's flow snippet, both crops are the same box and a flip flips both
(:meth:`RgbFlowPreset.train_transform`: one draw for both).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from numbers import Real
from typing import Any, ClassVar, Literal

import torch

from ..errors import ConfigError
from .inputs import register_input, spec_fields
from .presets import Preset
from .transforms import (
    NORMALIZATIONS,
    CenterCrop,
    ColorJitter,
    Compose,
    GeneratorLike,
    MultiScaleCrop,
    RandomCrop,
    RandomHorizontalFlip,
    ShortSideResize,
    ThreeCrop,
    eval_transform,
    input_steps,
    train_transform,
)

__all__ = ["FlowPreset", "RgbFlowPreset", "PairedTransform", "FLOW_NORMALIZATION"]

#: uint8 flow q -> ``q / 127.5 - 1`` (``(q / 255 - 0.5) / 0.5``): the [-1, 1] of the flow models' input.
FLOW_NORMALIZATION = NORMALIZATIONS["minus_one_one"]


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@register_input
@dataclass(frozen=True)
class FlowPreset:
    """How a flow model's clips are made. The input spec of the ``flow`` modality
    (:mod:`vidact.data.inputs`); see the module docstring for the values and the geometry.

    Attributes:
        segments: S, the equal parts of the video a clip takes one snippet from (TSN's segments).
        length: L, consecutive flow fields per snippet (TSN's "new_length"; 5 in TSN, 10 in the two-stream
            network of Simonyan and Zisserman).
        crop_size: side of the square crops the model sees.
        short_side: flow images are resized so their short side has this many pixels (``None``: as stored
            or computed).
        bound: the 8-bit code's clip, pixels: displacements in [-bound, bound] map onto [0, 255].
        method: the :mod:`vidact.flow.methods` name that computes flow from a raw video at prediction time
            (checked there: the method registry sits above this layer).
        flow_size: the short side frames are resized to before flow is computed at prediction time (``None``:
            as decoded).
        num_clips, num_crops: the views of the test protocol (a clip is already S segments; 1 x 1 by
            default; crops 1 (centre) or 3).
    """

    segments: int = 3
    length: int = 5
    crop_size: int = 224
    short_side: int | None = 256
    bound: float = 20.0
    method: str = "dis_fine"
    flow_size: int | None = None
    num_clips: int = 1
    num_crops: int = 1

    modality: ClassVar[str] = "flow"

    def __post_init__(self) -> None:
        counts = {
            "segments": self.segments,
            "length": self.length,
            "crop_size": self.crop_size,
            "num_clips": self.num_clips,
        }
        for name, value in counts.items():
            if not _positive_int(value):
                raise ConfigError(f"flow preset: {name} must be a positive integer, got {value!r}")
        for name, value in (("short_side", self.short_side), ("flow_size", self.flow_size)):
            if value is not None and not _positive_int(value):
                raise ConfigError(f"flow preset: {name} must be a positive integer or None, got {value!r}")
        if self.short_side is not None and self.short_side < self.crop_size:
            raise ConfigError(
                f"flow preset: crop size {self.crop_size} is larger than short_side {self.short_side}"
            )
        if self.num_crops not in (1, 3):
            raise ConfigError(f"flow preset: num_crops must be 1 or 3, got {self.num_crops!r}")
        bound = self.bound
        if isinstance(bound, bool) or not isinstance(bound, Real) or not math.isfinite(bound) or bound <= 0:
            raise ConfigError(f"flow preset: bound must be a positive number of pixels, got {bound!r}")
        if not isinstance(self.method, str) or not self.method:
            raise ConfigError(f"flow preset: method must be a flow method name, got {self.method!r}")

    # -- derived ------------------------------------------------------------------------------------------------
    @property
    def clip_len(self) -> int:
        """S * L, the flow fields of one clip (the T of the model's input [B, 2, T, H, W])."""
        return self.segments * self.length

    def input_shape(self, batch: int = 1) -> tuple[int, int, int, int, int]:
        """The model input's shape [B, 2, S*L, crop, crop]."""
        return (batch, 2, self.clip_len, self.crop_size, self.crop_size)

    @property
    def decode_short_side(self) -> int | None:
        """The short side to read flow images at (:attr:`short_side`)."""
        return self.short_side

    def frame_transform(self) -> Compose:
        """uint8 flow fields [N, H, W, 2] (or [N, 2, H, W]) -> centre crops [N, crop, crop, 2]: resized to
        :attr:`short_side` first (nothing to do for fields read or computed at that size), what streaming
        prediction applies to each field."""
        resize = [] if self.short_side is None else [ShortSideResize(self.short_side)]
        return Compose([*resize, CenterCrop(self.crop_size)])

    def to_input(self) -> Compose:
        """uint8 crops [T, h, w, 2] or [T, 2, h, w] -> the model's float32 [2, T, h, w], ``q / 127.5 - 1``."""
        return Compose(input_steps(FLOW_NORMALIZATION))

    def eval_transform(self, crop: Literal["center", "three"] = "center") -> Compose:
        """uint8 flow [T, H, W, 2] or [T, 2, H, W] -> float32 [2, T, crop, crop] (``"center"``) or
        [3, 2, T, crop, crop] (``"three"``: left/top, centre, right/bottom): resize, crop, ``q / 127.5 - 1``
        (:func:`~vidact.data.transforms.eval_transform`)."""
        if self.short_side is not None:
            return eval_transform(self.crop_size, self.short_side, crop=crop, normalize=FLOW_NORMALIZATION)
        # Flow used at the size it was stored or computed at: crops only.
        croppers = {"center": CenterCrop, "three": ThreeCrop}
        if crop not in croppers:
            raise ConfigError(f"flow preset: unknown crop {crop!r}; choose from 'center', 'three'")
        return Compose([croppers[crop](self.crop_size), *input_steps(FLOW_NORMALIZATION)])

    def train_transform(
        self, *, crop: Literal["random", "multi_scale"] = "random", flip_p: float = 0.5
    ) -> Compose:
        """uint8 flow [T, H, W, 2] or [T, 2, H, W] -> float32 [2, T, crop, crop]: resize, random (or TSN
        multi-scale) crop, a flip that negates x, ``q / 127.5 - 1``
        (:func:`~vidact.data.transforms.train_transform` with ``is_flow=True``). Its random draws are those of
        :meth:`Preset.train_transform <vidact.data.presets.Preset.train_transform>` of the same geometry, in
        the same order: one seed gives both the same crop and flip (:class:`RgbFlowPreset`)."""
        if self.short_side is not None:
            return train_transform(
                self.crop_size,
                self.short_side,
                crop=crop,
                flip_p=flip_p,
                is_flow=True,
                normalize=FLOW_NORMALIZATION,
            )
        if crop not in ("random", "multi_scale"):
            raise ConfigError(f"flow preset: unknown crop {crop!r}; choose from 'random', 'multi_scale'")
        cropper = RandomCrop(self.crop_size) if crop == "random" else MultiScaleCrop(self.crop_size)
        steps = [cropper, RandomHorizontalFlip(flip_p, is_flow=True)]
        return Compose([*steps, *input_steps(FLOW_NORMALIZATION)])

    # -- conversions -----------------------------------------------------------------------------------------
    def test_views(self) -> dict[str, int]:
        """The views of the test protocol: ``{"clips": num_clips, "crops": num_crops}``."""
        return {"clips": self.num_clips, "crops": self.num_crops}

    def to_dict(self) -> dict[str, Any]:
        """The fields, and ``"modality": "flow"``."""
        return {"modality": self.modality, **asdict(self)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> FlowPreset:
        """The inverse of :meth:`to_dict` (``"modality"`` may be present).

        Raises:
            ConfigError: an unknown key, another modality, or values that make no valid preset.
        """
        return cls(**spec_fields(cls, values, "flow preset"))


class PairedTransform:
    """An RGB transform and a flow transform applied with one random draw: ``(rgb, flow) -> (rgb', flow')``.

    One seed (``generator`` itself when it is an ``int``, else drawn from it) is handed to both, so transforms whose random steps draw alike (the
    same crop and flip of the same geometry, as :meth:`RgbFlowPreset.train_transform` makes) crop the same
    box out of frames and flow fields of the same size and flip both or neither.
    """

    def __init__(self, rgb: Compose, flow: Compose) -> None:
        self.rgb = rgb
        self.flow = flow

    def __call__(
        self, rgb: torch.Tensor, flow: torch.Tensor, generator: GeneratorLike = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 frames [S, H, W, 3] and flow [S*L, H, W, 2] (or channels-second) -> float32 [3, S, h, w] and
        [2, S*L, h, w]."""
        if generator is None or isinstance(generator, torch.Generator):
            generator = int(torch.randint(2**62, (1,), generator=generator))
        return self.rgb(rgb, generator=generator), self.flow(flow, generator=generator)

    def __repr__(self) -> str:
        return f"PairedTransform(rgb={self.rgb!r}, flow={self.flow!r})"


@register_input
@dataclass(frozen=True)
class RgbFlowPreset:
    """A two-stream pair's input: RGB frames and flow fields in lock-step. The input spec of the ``rgb+flow``
    modality (:mod:`vidact.data.inputs`).

    Attributes:
        rgb: the spatial stream's input: one frame per segment (``frames`` = S, ``sampler="segments"``), the
            frame of segment s being the first frame of that segment's flow snippet.
        flow: the temporal stream's input, S segments of L fields.

    Both have the same geometry (short side and crop), so that one draw crops and flips both alike, and the
    same test views. The model's input is ``{"video": [B, 3, S, H, W], "flow": [B, 2, S*L, H, W]}``.
    """

    rgb: Preset
    flow: FlowPreset

    modality: ClassVar[str] = "rgb+flow"

    def __post_init__(self) -> None:
        if not isinstance(self.rgb, Preset) or not isinstance(self.flow, FlowPreset):
            raise ConfigError(
                "rgb+flow preset: rgb must be a Preset and flow a FlowPreset, got "
                f"{type(self.rgb).__name__} and {type(self.flow).__name__}"
            )
        rgb, flow = self.rgb, self.flow
        if not rgb.segments or rgb.frames != flow.segments:
            raise ConfigError(
                f"rgb+flow preset: the RGB stream takes one frame per flow segment (sampler 'segments', frames "
                f"{flow.segments}), got sampler {rgb.sampler!r} with {rgb.frames} frames"
            )
        if rgb.resize is not None or (rgb.short_side, rgb.crop_size) != (flow.short_side, flow.crop_size):
            raise ConfigError(
                f"rgb+flow preset: RGB and flow need the same geometry; short side and crop are "
                f"{rgb.resize or rgb.short_side} and {rgb.crop_size} for RGB, {flow.short_side} and "
                f"{flow.crop_size} for flow"
            )
        if rgb.test_views() != flow.test_views():
            raise ConfigError(
                f"rgb+flow preset: RGB and flow need the same test views, got {rgb.test_views()} and "
                f"{flow.test_views()}"
            )

    def input_shape(self, batch: int = 1) -> dict[str, tuple[int, int, int, int, int]]:
        """The pair's input shapes: ``{"video": [B, 3, S, crop, crop], "flow": [B, 2, S*L, crop, crop]}``."""
        return {"video": self.rgb.input_shape(batch), "flow": self.flow.input_shape(batch)}

    @property
    def segments(self) -> int:
        """S, shared by both streams."""
        return self.flow.segments

    def eval_transform(self, crop: Literal["center", "three"] = "center") -> PairedTransform:
        """Both streams' :meth:`eval_transform <FlowPreset.eval_transform>` (deterministic)."""
        return PairedTransform(self.rgb.eval_transform(crop), self.flow.eval_transform(crop))

    def train_transform(
        self,
        *,
        crop: Literal["random", "multi_scale"] = "random",
        flip_p: float = 0.5,
        color_jitter: ColorJitter | None = None,
    ) -> PairedTransform:
        """Both streams' training transforms, drawn together: the same crop box and the same flip (which
        negates flow x). ``color_jitter`` applies to the RGB frames only; it draws after the crop and the flip,
        so it leaves them in lock-step."""
        return PairedTransform(
            self.rgb.train_transform(crop=crop, flip_p=flip_p, color_jitter=color_jitter),
            self.flow.train_transform(crop=crop, flip_p=flip_p),
        )

    def test_views(self) -> dict[str, int]:
        """The views of the test protocol, the same for both streams."""
        return self.flow.test_views()

    def to_dict(self) -> dict[str, Any]:
        """``{"modality": "rgb+flow", "rgb": {...}, "flow": {...}}``, each stream's spec as its ``to_dict``."""
        return {"modality": self.modality, "rgb": self.rgb.to_dict(), "flow": self.flow.to_dict()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RgbFlowPreset:
        """The inverse of :meth:`to_dict` (``"modality"`` may be present).

        Raises:
            ConfigError: an unknown or missing key, another modality, or values that make no valid preset.
        """
        values = spec_fields(cls, values, "rgb+flow preset")
        missing = [k for k in ("rgb", "flow") if k not in values]
        if missing:
            raise ConfigError(f"rgb+flow preset: missing key {missing[0]!r}; keys are flow, rgb")
        for key in ("rgb", "flow"):
            if not isinstance(values[key], Mapping):
                raise ConfigError(
                    f"rgb+flow preset: {key} must be a mapping, got {type(values[key]).__name__}"
                )
        return cls(rgb=Preset.from_dict(values["rgb"]), flow=FlowPreset.from_dict(values["flow"]))
