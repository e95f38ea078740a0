"""Folders of extracted frames (``img_00001.jpg`` ...), the layout many datasets ship in.

Every frame is its own keyframe, so random access costs exactly one image decode per requested frame. JPEGs
that are resized on decode use libjpeg's DCT scaling (PIL ``draft``), which decodes at 1/2, 1/4 or 1/8 size
for a fraction of the cost.

**Prefixes.** One folder may hold several numbered sequences, as mmaction2's rawframes and denseflow write them:
``img_00001.jpg`` ... (the RGB frames) beside ``flow_x_00001.jpg`` ... and ``flow_y_00001.jpg`` ... (the two
8-bit channels of optical flow, grayscale). A ``prefix`` picks one sequence; its images must then be numbered
without a gap (:func:`numbered_frames`), so that position ``i`` is the ``i``-th image. :func:`flow_frames` pairs
the x and y images of a flow folder. Flow images are read as one channel (``gray=True``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import VideoError
from .metadata import FrameIndex, VideoMetadata

__all__ = [
    "IMAGE_EXTENSIONS",
    "FLOW_PREFIXES",
    "list_frames",
    "numbered_frames",
    "flow_frames",
    "probe_frames",
    "read_frame",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
#: The names of the x and y images of a flow folder (mmaction2 / denseflow): ``flow_x_00001.jpg`` ...
FLOW_PREFIXES = ("flow_x_", "flow_y_")
_PIL_FILTER = {
    "bilinear": Image.Resampling.BILINEAR,
    "area": Image.Resampling.BOX,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
}


def _natural_key(name: str) -> list:
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", name)]


def list_frames(folder: str, prefix: str | None = None) -> list[str]:
    """The image files of ``folder`` in natural order (``img_2`` before ``img_10``), optionally by prefix
    (``prefix="flow_x_"`` picks one channel of a flow folder)."""
    names = [
        n
        for n in os.listdir(folder)
        if n.lower().endswith(IMAGE_EXTENSIONS) and (prefix is None or n.startswith(prefix))
    ]
    names.sort(key=_natural_key)
    return [os.path.join(folder, n) for n in names]


def _number(path: str, prefix: str) -> tuple[int, int] | None:
    """(the number after ``prefix`` in the file name, its digit count), or ``None`` if the name has none."""
    stem = os.path.splitext(os.path.basename(path))[0][len(prefix) :]
    return (int(stem), len(stem)) if stem.isascii() and stem.isdigit() else None


def numbered_frames(folder: str, prefix: str) -> list[str]:
    """The images ``<prefix><number>.<ext>`` of ``folder`` in number order, checked to run without a gap.

    The numbers start at 0 or 1 (``img_00001.jpg``: mmaction2 and denseflow count from 1) and go up by one;
    names whose rest is not a number are not checked.

    Raises:
        VideoError: an image is missing (the message names the first missing one) or a number repeats.
    """
    files = list_frames(folder, prefix)
    numbers = [_number(f, prefix) for f in files]
    if not files or any(n is None for n in numbers):
        return files
    first, width = numbers[0]  # type: ignore[misc]
    expected = start = min(first, 1)
    for path, (number, _) in zip(files, numbers, strict=True):  # type: ignore[misc]
        name = os.path.basename(path)
        if number < expected:
            raise VideoError(folder, f"{name}: frame number {number} of the {prefix} images appears twice")
        if number > expected:
            missing = f"{prefix}{expected:0{width}d}"
            where = f"the {prefix} images start at {name}" if expected == start else f"next is {name}"
            raise VideoError(folder, f"{missing} is missing ({where}; frames are numbered without a gap)")
        expected += 1
    return files


def flow_frames(folder: str) -> tuple[list[str], list[str]]:
    """The x and y images of a flow folder (``flow_x_00001.jpg``, ``flow_y_00001.jpg``, ...), numbered alike.

    Raises:
        VideoError: no flow images, a gap in either sequence, or x and y images that differ in count (the
            message names the first missing image).
    """
    xs, ys = (numbered_frames(folder, prefix) for prefix in FLOW_PREFIXES)
    if not xs and not ys:
        raise VideoError(folder, "holds no flow images (expected flow_x_00001.jpg, flow_y_00001.jpg, ...)")
    if len(xs) != len(ys):
        (longer, more), (shorter, fewer) = sorted(
            zip(FLOW_PREFIXES, (xs, ys), strict=True), key=lambda pair: -len(pair[1])
        )
        name = os.path.basename(more[len(fewer)])
        missing = shorter + os.path.splitext(name)[0][len(longer) :]
        raise VideoError(
            folder, f"{missing} is missing ({len(more)} {longer} images, {len(fewer)} {shorter} images)"
        )
    return xs, ys


def probe_frames(
    folder: str, fps: float = 30.0, prefix: str | None = None
) -> tuple[VideoMetadata, list[str]]:
    """Metadata of a frame folder; ``fps`` is the rate the frames were extracted at (folders do not store it).

    Args:
        folder: the folder.
        fps: the frame rate.
        prefix: only the images whose names start with it (``"img_"``, ``"flow_x_"``), checked for gaps
            (:func:`numbered_frames`); ``None``: every image, in natural order.

    Raises:
        VideoError: no such images, a gap in their numbers, or an unreadable first image.
    """
    files = list_frames(folder) if prefix is None else numbered_frames(folder, prefix)
    if not files:
        names = "img_00001.jpg ..." if prefix is None else f"{prefix}00001.jpg ..."
        raise VideoError(
            folder,
            f"is a directory with no frame images (expected a video file or a folder of {names})",
        )
    h, w, pixel_format = _describe(files[0])
    n = len(files)
    rate = Fraction(fps).limit_denominator(100000)
    index = FrameIndex(
        pts=np.arange(n, dtype=np.int64),
        keyframes=np.arange(n, dtype=np.int64),
        seek_ts=np.arange(n, dtype=np.int64),
        time_base=1 / rate,
        pts_are_times=True,
        fps=float(fps),
    )
    ext = os.path.splitext(files[0])[1].lower().lstrip(".")
    meta = VideoMetadata(
        path=folder,
        container="frames",
        codec={"jpg": "jpeg"}.get(ext, ext),
        width=int(w),
        height=int(h),
        fps=float(fps),
        num_frames=n,
        num_frames_estimated=n,
        duration=n / float(fps),
        keyframe_interval=1.0,
        num_keyframes=n,
        pixel_format=pixel_format,
        index=index,
    )
    return meta, files


#: PIL image modes -> FFmpeg's names of their pixel formats.
_PIXEL_FORMATS = {"L": "gray", "RGB": "rgb24", "RGBA": "rgba", "P": "pal8"}


@contextmanager
def _open_image(file: str) -> Iterator[Image.Image]:
    """``PIL.Image.open(file)``, whatever goes wrong while reading it a one-line :class:`VideoError`."""
    try:
        with Image.open(file) as img:
            yield img
    except FileNotFoundError:
        raise VideoError(file, "frame file disappeared") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise VideoError(file, f"unreadable frame image ({e.__class__.__name__}: {e})") from None


def _describe(file: str) -> tuple[int, int, str]:
    """(height, width, pixel format) of an image, decoded once to check that it is readable."""
    with _open_image(file) as img:
        img.load()
        return img.height, img.width, _PIXEL_FORMATS.get(img.mode, img.mode.lower())


def read_frame(
    file: str, size: tuple[int, int] | None = None, interpolation: str = "bilinear", *, gray: bool = False
) -> np.ndarray:
    """[H, W, 3] uint8 RGB of one image (``gray``: [H, W, 1], one channel: an 8-bit flow image as stored),
    resized to ``size`` = (width, height) when given."""
    mode = "L" if gray else "RGB"
    with _open_image(file) as img:
        if size is not None and img.format == "JPEG":
            img.draft(mode, size)  # DCT-domain downscale to the smallest power-of-two size >= ``size``
        img = img.convert(mode)
        if size is not None and img.size != tuple(size):
            img = img.resize(tuple(size), _PIL_FILTER[interpolation])
        array = np.asarray(img)
        return array[..., None] if gray else array
