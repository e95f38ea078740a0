"""Transforms on uint8 video clips, from decoded frames to the model's float input.

    >>> from vidact.data.transforms import eval_transform, train_transform
    >>> train = train_transform(size=112, short_side=128)
    >>> x = train(clip, generator=seed)                # [T, H, W, 3] uint8 -> [3, T, 112, 112] float32
    >>> views = eval_transform(crop="three")(clip)     # -> [3 crops, 3, T, 112, 112]

**Clips.** A clip is a tensor [T, H, W, C] (``"THWC"``, what :class:`vidact.io.VideoReader` returns by default)
or [T, C, H, W] (``"TCHW"``), usually uint8, with C = 3 (RGB), 2 (optical flow, see below) or 1 (grayscale).
The layout is read from the shape: the channel axis is whichever of the last and the third-from-last axes has
at most 3 entries, so frames must be at least 4x4 pixels. Spatial transforms return the layout they were given,
work on the whole clip in one call (no Python loop over frames) and use the same parameters for every frame.
Leading axes before T (such as the crop axis ThreeCrop adds) are carried along.

**Randomness.** Random transforms take ``generator``: a :class:`torch.Generator`, an ``int`` seed, or ``None``
for torch's global generator (which DataLoader seeds per worker). :class:`Compose` hands one generator to every
random step, so ``pipeline(clip, generator=seed)`` fixes the whole augmentation of a clip.

**Optical flow.** A flow clip has two channels, the horizontal (x) then the vertical (y) displacement of each
pixel. Two encodings are supported, and :class:`RandomHorizontalFlip` (``is_flow=True``) negates x in both:

- uint8, quantised as in TSN-style flow extraction: ``q = (d / bound + 1) * 127.5`` clipped to [0, 255], so the
  midpoint 127.5 is no motion and ``255 - q`` encodes exactly ``-d``;
- floating point, centred on zero (raw displacements, or uint8 flow mapped to [-1, 1] with the
  ``"minus_one_one"`` normalisation): ``-x``. Float flow scaled to [0, 1] is not centred; flip it before that.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import torch
import torchvision.transforms.v2.functional as F
from torchvision.transforms import InterpolationMode

from ..errors import ConfigError

__all__ = [
    "ClipTransform",
    "RandomClipTransform",
    "Compose",
    "ShortSideResize",
    "Resize",
    "RandomCrop",
    "CenterCrop",
    "ThreeCrop",
    "MultiScaleCrop",
    "RandomHorizontalFlip",
    "ColorJitter",
    "ToFloatCTHW",
    "Normalize",
    "NORMALIZATIONS",
    "train_transform",
    "eval_transform",
    "input_steps",
    "ReverseChannels",
]

GeneratorLike = torch.Generator | int | None

#: Per-channel (mean, std) on inputs scaled to [0, 1]. A single value applies to every channel.
NORMALIZATIONS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    # torchvision's ImageNet classifiers (ResNet, MobileNet, EfficientNet in torchvision/timm).
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    # [-1, 1]: EfficientNet-Lite and I3D (RGB and flow) weights.
    "minus_one_one": ((0.5,), (0.5,)),
    # PySlowFast's Kinetics models (SlowFast, X3D, MViT).
    "kinetics": ((0.45, 0.45, 0.45), (0.225, 0.225, 0.225)),
}


# -- layout and randomness helpers ---------------------------------------------------------------------------
def _channels_last(clip: torch.Tensor) -> bool:
    """True for a [..., T, H, W, C] clip, False for [..., T, C, H, W]."""
    if clip.ndim < 4:
        raise ValueError(f"expected a clip [T, H, W, C] or [T, C, H, W], got shape {tuple(clip.shape)}")
    last_is_channels, third_is_channels = clip.shape[-1] <= 3, clip.shape[-3] <= 3
    if last_is_channels != third_is_channels:
        return last_is_channels
    raise ValueError(
        f"cannot tell the channel axis of a clip of shape {tuple(clip.shape)}: exactly one of the last and "
        "third-from-last axes must have 1 to 3 entries (frames of at least 4x4 pixels)"
    )


def _to_tchw(clip: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """A [..., T, C, H, W] view of ``clip`` and whether the clip was channels-last."""
    channels_last = _channels_last(clip)
    return (clip.movedim(-1, -3) if channels_last else clip), channels_last


def _from_tchw(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """Undo :func:`_to_tchw` on a [..., T, C, H, W] result."""
    return x.movedim(-3, -1) if channels_last else x


def _as_generator(generator: GeneratorLike) -> torch.Generator | None:
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    return torch.Generator().manual_seed(int(generator))


def _randint(n: int, generator: torch.Generator | None) -> int:
    """Uniform integer in ``[0, n)``."""
    return int(torch.randint(n, (1,), generator=generator))


def _uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    """``size`` as (height, width): an int is a square."""
    height, width = (size, size) if isinstance(size, int) else tuple(size)
    if height <= 0 or width <= 0:
        raise ValueError(f"crop size must be positive, got {size}")
    return int(height), int(width)


def _check_fits(size: tuple[int, int], height: int, width: int) -> None:
    if size[0] > height or size[1] > width:
        raise ValueError(f"crop {size[0]}x{size[1]} (HxW) does not fit in {height}x{width} frames")


def _center_offset(length: int, crop: int) -> int:
    """Offset of a centred crop: the rounding of ``torchvision.transforms.v2.functional.center_crop``."""
    return int(round((length - crop) / 2.0))


# -- base classes ----------------------------------------------------------------------------------------------
class ClipTransform:
    """Base of the clip transforms: a picklable callable ``clip -> clip`` with a readable ``repr``."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class RandomClipTransform(ClipTransform, ABC):
    """Base of the transforms that draw random parameters: ``__call__(clip, generator=None)``.

    All draws of one call come from ``generator`` (see the module docstring), once per clip.
    """

    @abstractmethod
    def __call__(self, clip: torch.Tensor, generator: GeneratorLike = None) -> torch.Tensor: ...


class Compose(RandomClipTransform):
    """Apply ``transforms`` in order; random steps (:class:`RandomClipTransform`) share one generator.

    Args:
        transforms: callables ``clip -> clip``: the transforms here, or any other picklable function of a tensor
            (a ``torchvision.transforms.v2`` transform, say), which is called without a generator.
    """

    def __init__(self, transforms: Sequence[Callable[..., torch.Tensor]]):
        self.transforms = list(transforms)

    def __call__(self, clip: torch.Tensor, generator: GeneratorLike = None) -> torch.Tensor:
        generator = _as_generator(generator)
        for transform in self.transforms:
            if isinstance(transform, RandomClipTransform):
                clip = transform(clip, generator=generator)
            else:
                clip = transform(clip)
        return clip

    def __repr__(self) -> str:
        lines = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{lines}\n])"


# -- resizing and cropping -----------------------------------------------------------------------------------------
class ShortSideResize(ClipTransform):
    """Resize every frame so its short side is ``size`` pixels, keeping the aspect ratio.

    The long side is ``int(size * long / short)`` (truncated), the rule of ``torchvision.transforms.v2.Resize(size)``
    and of ``VideoReader(short_side=size)``, so resizing here and resizing while decoding give the same shapes.

    Args:
        size: the short side after resizing.
        interpolation: a :class:`torchvision.transforms.InterpolationMode` or its name (``"bilinear"``, ...).
        antialias: low-pass filter when shrinking (bilinear and bicubic).

    Input: [..., T, H, W, C] or [..., T, C, H, W]. Output: the same layout and dtype, resized.
    """

    def __init__(
        self,
        size: int,
        interpolation: InterpolationMode | str = InterpolationMode.BILINEAR,
        antialias: bool = True,
    ):
        if size <= 0:
            raise ValueError(f"size must be positive, got {size}")
        self.size = size
        self.interpolation = InterpolationMode(interpolation)
        self.antialias = antialias

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        x, channels_last = _to_tchw(clip)
        x = F.resize(x, [self.size], interpolation=self.interpolation, antialias=self.antialias)
        return _from_tchw(x, channels_last)


class Resize(ClipTransform):
    """Resize every frame to exactly ``(height, width)``, whatever its aspect ratio (torchvision's video
    weights were tested on frames resized to 128 x 171).

    Input: [..., T, H, W, C] or [..., T, C, H, W]. Output: the same layout and dtype, resized.
    """

    def __init__(
        self,
        size: tuple[int, int],
        interpolation: InterpolationMode | str = InterpolationMode.BILINEAR,
        antialias: bool = True,
    ):
        if len(size) != 2 or min(size) <= 0:
            raise ValueError(f"size must be a positive (height, width), got {size}")
        self.size = (int(size[0]), int(size[1]))
        self.interpolation = InterpolationMode(interpolation)
        self.antialias = antialias

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        x, channels_last = _to_tchw(clip)
        x = F.resize(x, list(self.size), interpolation=self.interpolation, antialias=self.antialias)
        return _from_tchw(x, channels_last)


class RandomCrop(RandomClipTransform):
    """Crop the same random ``size`` window (int: square, or (height, width)) out of every frame.

    Input: [..., T, H, W, C] or [..., T, C, H, W] with frames at least ``size``. Output: the same layout, cropped.
    """

    def __init__(self, size: int | tuple[int, int]):
        self.size = _pair(size)

    def get_params(self, height: int, width: int, generator: GeneratorLike = None) -> tuple[int, int]:
        """(top, left) of the window for ``height`` x ``width`` frames, uniform over all positions."""
        generator = _as_generator(generator)
        _check_fits(self.size, height, width)
        top = _randint(height - self.size[0] + 1, generator)
        left = _randint(width - self.size[1] + 1, generator)
        return top, left

    def __call__(self, clip: torch.Tensor, generator: GeneratorLike = None) -> torch.Tensor:
        x, channels_last = _to_tchw(clip)
        top, left = self.get_params(x.shape[-2], x.shape[-1], generator)
        return _from_tchw(F.crop(x, top, left, *self.size), channels_last)


class CenterCrop(ClipTransform):
    """Crop the centre ``size`` window (int: square, or (height, width)) of every frame.

    Input: [..., T, H, W, C] or [..., T, C, H, W] with frames at least ``size``. Output: the same layout, cropped.
    """

    def __init__(self, size: int | tuple[int, int]):
        self.size = _pair(size)

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        x, channels_last = _to_tchw(clip)
        _check_fits(self.size, x.shape[-2], x.shape[-1])
        return _from_tchw(F.center_crop(x, list(self.size)), channels_last)


class ThreeCrop(ClipTransform):
    """Three ``size`` windows along the long side of the frames, for multi-view testing.

    Landscape (or square) frames give the left, centre and right windows, vertically centred; portrait frames the
    top, centre and bottom ones, horizontally centred. The centre window is :class:`CenterCrop`'s.

    Input: [..., T, H, W, C] or [..., T, C, H, W]. Output: the three crops stacked on a new first axis,
    [3, ..., T, h, w, C] or [3, ..., T, C, h, w], in the order left/top, centre, right/bottom.
    """

    def __init__(self, size: int | tuple[int, int]):
        self.size = _pair(size)

    def positions(self, height: int, width: int) -> list[tuple[int, int]]:
        """(top, left) of the three windows in ``height`` x ``width`` frames."""
        _check_fits(self.size, height, width)
        crop_height, crop_width = self.size
        if width >= height:
            top = _center_offset(height, crop_height)
            return [(top, left) for left in (0, _center_offset(width, crop_width), width - crop_width)]
        left = _center_offset(width, crop_width)
        return [(top, left) for top in (0, _center_offset(height, crop_height), height - crop_height)]

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        x, channels_last = _to_tchw(clip)
        crops = [F.crop(x, top, left, *self.size) for top, left in self.positions(x.shape[-2], x.shape[-1])]
        return _from_tchw(torch.stack(crops), channels_last)


class MultiScaleCrop(RandomClipTransform):
    """TSN's multi-scale corner cropping: a random window of a few scales and aspects, resized to ``size``.

    The window's height and width are each ``int(short_side * s)`` for a scale ``s`` in ``scales``, with the two
    scale indices at most ``max_distort`` apart (so the aspect ratio is distorted by at most that many steps); its
    position is one of five, drawn uniformly: the four corners (flush with the frame's edges) or the centre. The
    window is the same for every frame of the clip.

    Args:
        size: output size, int (square) or (height, width).
        scales: window sides as fractions of the frame's short side.
        max_distort: largest difference between the scale indices of the window's height and width.
        interpolation, antialias: as in :class:`ShortSideResize`.

    Input: [..., T, H, W, C] or [..., T, C, H, W]. Output: the same layout, frames ``size``.
    """

    def __init__(
        self,
        size: int | tuple[int, int],
        scales: Sequence[float] = (1.0, 0.875, 0.75, 0.66),
        max_distort: int = 1,
        interpolation: InterpolationMode | str = InterpolationMode.BILINEAR,
        antialias: bool = True,
    ):
        if not scales or not all(0.0 < s <= 1.0 for s in scales):
            raise ValueError(f"scales must be in (0, 1], got {scales}")
        if max_distort < 0:
            raise ValueError(f"max_distort must be >= 0, got {max_distort}")
        self.size = _pair(size)
        self.scales = tuple(scales)
        self.max_distort = max_distort
        self.interpolation = InterpolationMode(interpolation)
        self.antialias = antialias

    def window_sizes(self, height: int, width: int) -> list[tuple[int, int]]:
        """The (height, width) windows to choose from in ``height`` x ``width`` frames."""
        sides = [max(1, int(min(height, width) * s)) for s in self.scales]
        return [
            (sides[i], sides[j])
            for i in range(len(sides))
            for j in range(len(sides))
            if abs(i - j) <= self.max_distort
        ]

    def get_params(
        self, height: int, width: int, generator: GeneratorLike = None
    ) -> tuple[int, int, int, int]:
        """(top, left, window height, window width) drawn for ``height`` x ``width`` frames."""
        generator = _as_generator(generator)
        sizes = self.window_sizes(height, width)
        crop_height, crop_width = sizes[_randint(len(sizes), generator)]
        bottom, right = height - crop_height, width - crop_width
        positions = [
            (0, 0),
            (0, right),
            (bottom, 0),
            (bottom, right),
            (_center_offset(height, crop_height), _center_offset(width, crop_width)),
        ]
        top, left = positions[_randint(len(positions), generator)]
        return top, left, crop_height, crop_width

    def __call__(self, clip: torch.Tensor, generator: GeneratorLike = None) -> torch.Tensor:
        x, channels_last = _to_tchw(clip)
        top, left, crop_height, crop_width = self.get_params(x.shape[-2], x.shape[-1], generator)
        x = F.resized_crop(
            x,
            top,
            left,
            crop_height,
            crop_width,
            list(self.size),
            interpolation=self.interpolation,
            antialias=self.antialias,
        )
        return _from_tchw(x, channels_last)


# -- flips and colour ----------------------------------------------------------------------------------------------
class RandomHorizontalFlip(RandomClipTransform):
    """Mirror all frames of the clip left-right together, with probability ``p``.

    With ``is_flow=True`` the clip is optical flow (2 channels: x, y) and the x displacement changes sign too:
    ``255 - x`` for uint8 flow, ``-x`` for float flow (encodings in the module docstring).

    Input: [..., T, H, W, C] or [..., T, C, H, W]. Output: the same layout and dtype.
    """

    def __init__(self, p: float = 0.5, is_flow: bool = False):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p = p
        self.is_flow = is_flow

    def __call__(self, clip: torch.Tensor, generator: GeneratorLike = None) -> torch.Tensor:
        x, channels_last = _to_tchw(clip)
        if self.is_flow and x.shape[-3] != 2:
            raise ValueError(
                f"a flow clip has 2 channels (x, y), got {x.shape[-3]} in shape {tuple(clip.shape)}"
            )
        if float(torch.rand((), generator=_as_generator(generator))) >= self.p:
            return clip
        x = F.horizontal_flip(x)  # a new tensor: safe to change in place
        if self.is_flow:
            if x.dtype == torch.uint8:
                x[..., 0, :, :] = 255 - x[..., 0, :, :]
            elif x.is_floating_point():
                x[..., 0, :, :].neg_()
            else:
                raise TypeError(f"flow clips are uint8 or floating point, got {x.dtype}")
        return _from_tchw(x, channels_last)


class ColorJitter(RandomClipTransform):
    """Random brightness, contrast, saturation and hue, drawn once per clip and applied to all its frames.

    Each strength works as in ``torchvision.transforms.v2.ColorJitter``: brightness, contrast and saturation
    factors are uniform in ``[max(0, 1 - s), 1 + s]``, the hue shift in ``[-hue, hue]`` (hue <= 0.5); 0 leaves the
    property alone. The adjustments run in a random order, on the whole clip at once, with torchvision's
    functional ops (contrast blends each frame toward its own mean grey level, as torchvision does for videos).

    Args:
        brightness, contrast, saturation, hue: jitter strengths.
        p: probability of jittering the clip at all.

    Input: RGB (or grayscale) [..., T, H, W, C] or [..., T, C, H, W]. Output: the same layout and dtype.
    """

    def __init__(
        self,
        brightness: float = 0.0,
        contrast: float = 0.0,
        saturation: float = 0.0,
        hue: float = 0.0,
        p: float = 1.0,
    ):
        for name, value in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if not 0.0 <= hue <= 0.5:
            raise ValueError(f"hue must be in [0, 0.5], got {hue}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self.hue = hue
        self.p = p

    def get_params(self, generator: GeneratorLike = None) -> list[tuple[Callable, float]]:
        """The adjustments to make, in order: ``(torchvision functional op, factor)`` pairs."""
        generator = _as_generator(generator)
        if float(torch.rand((), generator=generator)) >= self.p:
            return []
        ranges = (
            (F.adjust_brightness, max(0.0, 1.0 - self.brightness), 1.0 + self.brightness),
            (F.adjust_contrast, max(0.0, 1.0 - self.contrast), 1.0 + self.contrast),
            (F.adjust_saturation, max(0.0, 1.0 - self.saturation), 1.0 + self.saturation),
            (F.adjust_hue, -self.hue, self.hue),
        )
        adjustments = []
        for k in torch.randperm(len(ranges), generator=generator).tolist():
            op, low, high = ranges[k]
            if low != high:
                adjustments.append((op, _uniform(low, high, generator)))
        return adjustments

    def __call__(self, clip: torch.Tensor, generator: GeneratorLike = None) -> torch.Tensor:
        x, channels_last = _to_tchw(clip)
        if x.shape[-3] not in (1, 3):
            raise ValueError(f"ColorJitter needs RGB or grayscale clips, got {x.shape[-3]} channels")
        adjustments = self.get_params(generator)
        if not adjustments:
            return clip
        for op, factor in adjustments:
            x = op(x, factor)
        return _from_tchw(x, channels_last)


# -- to the model's input ------------------------------------------------------------------------------------------
class ToFloatCTHW(ClipTransform):
    """Convert a clip to the model's float32 layout, channels first: [..., T, H, W, C] or [..., T, C, H, W] ->
    [..., C, T, H, W], contiguous. uint8 values are scaled to [0, 1]; floating-point values are kept as they are
    (torchvision's convention: float images are already in [0, 1]).
    """

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        x, _ = _to_tchw(clip)
        x = x.transpose(-4, -3).contiguous()
        return F.to_dtype(x, torch.float32, scale=True)


class Normalize(ClipTransform):
    """``(x - mean) / std`` per channel on a float clip [..., C, T, H, W] (the output of :class:`ToFloatCTHW`).

    Args:
        mean, std: one value per channel, or a single value for every channel.

    Use :meth:`preset` for the usual choices (:data:`NORMALIZATIONS`).
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        if len(mean) != len(std):
            raise ValueError(f"mean and std need the same length, got {len(mean)} and {len(std)}")
        if any(s <= 0 for s in std):
            raise ValueError(f"std must be positive, got {std}")
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)

    @classmethod
    def preset(cls, name: str) -> Normalize:
        """The normalisation named ``name`` in :data:`NORMALIZATIONS`."""
        if name not in NORMALIZATIONS:
            raise ConfigError(f"unknown normalization {name!r}; choose from {', '.join(NORMALIZATIONS)}")
        return cls(*NORMALIZATIONS[name])

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        if not clip.is_floating_point() or clip.ndim < 4:
            raise ValueError(
                f"Normalize expects a float clip [C, T, H, W], got {clip.dtype} {tuple(clip.shape)}"
            )
        channels = clip.shape[-4]
        if len(self.mean) not in (1, channels):
            raise ValueError(f"{len(self.mean)} normalization values for a clip with {channels} channels")
        mean = torch.tensor(self.mean, dtype=clip.dtype, device=clip.device).view(-1, 1, 1, 1)
        std = torch.tensor(self.std, dtype=clip.dtype, device=clip.device).view(-1, 1, 1, 1)
        return clip.sub(mean).div_(std)


# -- ready-made pipelines ------------------------------------------------------------------------------------------
#: How a clip is normalised: a :data:`NORMALIZATIONS` name, explicit ``(mean, std)`` on [0, 1] values, or ``None``.
Normalization = str | tuple[Sequence[float], Sequence[float]] | None


class ReverseChannels(ClipTransform):
    """RGB <-> BGR on a float clip [..., C, T, H, W] (for weights trained on BGR frames, e.g. Caffe models)."""

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        return clip.flip(-4)


def input_steps(normalize: Normalization, channel_order: str = "RGB") -> list[ClipTransform]:
    """uint8 crops -> the model's float input: scale to [0, 1] (``[C, T, H, W]``), reverse the channels for
    ``"BGR"`` weights, normalise with the :data:`NORMALIZATIONS` preset ``normalize`` or an explicit
    ``(mean, std)`` (``None``: [0, 1] only)."""
    steps: list[ClipTransform] = [ToFloatCTHW()]
    if channel_order == "BGR":
        steps.append(ReverseChannels())
    elif channel_order != "RGB":
        raise ConfigError(f"unknown channel order {channel_order!r}; choose from 'RGB', 'BGR'")
    if normalize is None:
        return steps
    if isinstance(normalize, str):
        return [*steps, Normalize.preset(normalize)]
    mean, std = normalize
    return [*steps, Normalize(mean, std)]


def _resize_step(
    short_side: int | None,
    resize: tuple[int, int] | None,
    interpolation: InterpolationMode | str,
    antialias: bool,
) -> ClipTransform:
    if resize is not None:
        return Resize(resize, interpolation=interpolation, antialias=antialias)
    if short_side is None:
        raise ConfigError("give short_side or resize")
    return ShortSideResize(short_side, interpolation=interpolation, antialias=antialias)


def train_transform(
    size: int = 112,
    short_side: int | None = 128,
    *,
    crop: str = "random",
    flip_p: float = 0.5,
    color_jitter: ColorJitter | None = None,
    is_flow: bool = False,
    normalize: Normalization = "imagenet",
    interpolation: InterpolationMode | str = InterpolationMode.BILINEAR,
    resize: tuple[int, int] | None = None,
    antialias: bool = True,
    channel_order: str = "RGB",
) -> Compose:
    """Training augmentation: uint8 clip [T, H, W, C] or [T, C, H, W] -> float32 [C, T, size, size]. With
    :meth:`eval_transform`, the one pair of factories every clip pipeline is built from (an input spec's —
    :meth:`vidact.data.presets.Preset.train_transform` — included).

    Resize the short side to ``short_side`` (or to exactly ``resize`` = (height, width)); crop ``size`` at random
    (``crop="random"``) or with TSN's multi-scale corner crops resized to ``size`` (``"multi_scale"``); flip with
    probability ``flip_p`` (negating x for flow when ``is_flow``); jitter colours if ``color_jitter`` is given;
    then :func:`input_steps` (``normalize``, ``channel_order``). Call the result with ``generator=`` a seed or
    :class:`torch.Generator` to fix the augmentation of a clip.

    Raises:
        ConfigError: an unknown crop or normalisation, a random crop larger than the resized frame, or colour
            jitter on flow.
    """
    if crop == "random":
        smallest = min(resize) if resize is not None else short_side
        if smallest is not None and size > smallest:
            raise ConfigError(f"train_transform: crop size {size} is larger than short_side {smallest}")
        cropper: RandomClipTransform = RandomCrop(size)
    elif crop == "multi_scale":
        cropper = MultiScaleCrop(size, interpolation=interpolation)
    else:
        raise ConfigError(f"train_transform: unknown crop {crop!r}; choose from 'random', 'multi_scale'")
    if is_flow and color_jitter is not None:
        raise ConfigError("train_transform: color_jitter does not apply to optical flow (is_flow=True)")
    steps: list[ClipTransform] = [
        _resize_step(short_side, resize, interpolation, antialias),
        cropper,
        RandomHorizontalFlip(flip_p, is_flow=is_flow),
    ]
    if color_jitter is not None:
        steps.append(color_jitter)
    return Compose(steps + input_steps(normalize, channel_order))


def eval_transform(
    size: int = 112,
    short_side: int | None = 128,
    *,
    crop: str = "center",
    normalize: Normalization = "imagenet",
    interpolation: InterpolationMode | str = InterpolationMode.BILINEAR,
    resize: tuple[int, int] | None = None,
    antialias: bool = True,
    channel_order: str = "RGB",
) -> Compose:
    """Evaluation preprocessing: uint8 clip [T, H, W, C] or [T, C, H, W] -> float32 [C, T, size, size]
    (``crop="center"``) or [3, C, T, size, size] (``crop="three"``: left/top, centre, right/bottom views).

    Resize as :func:`train_transform` does, crop, then :func:`input_steps`.

    Raises:
        ConfigError: an unknown crop or normalisation, or a crop larger than the resized frame.
    """
    smallest = min(resize) if resize is not None else short_side
    if smallest is not None and size > smallest:
        raise ConfigError(f"eval_transform: crop size {size} is larger than short_side {smallest}")
    if crop == "center":
        cropper: ClipTransform = CenterCrop(size)
    elif crop == "three":
        cropper = ThreeCrop(size)
    else:
        raise ConfigError(f"eval_transform: unknown crop {crop!r}; choose from 'center', 'three'")
    steps = [_resize_step(short_side, resize, interpolation, antialias), cropper]
    return Compose(steps + input_steps(normalize, channel_order))
