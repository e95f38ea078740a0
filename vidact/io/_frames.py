"""Folders of extracted frames (``img_00001.jpg`` ...), the layout many datasets ship in.

Every frame is its own keyframe, so random access costs exactly one image decode per requested frame. JPEGs
that are resized on decode use libjpeg's DCT scaling (PIL ``draft``), which decodes at 1/2, 1/4 or 1/8 size
for a fraction of the cost.
"""

from __future__ import annotations

import os
import re
from fractions import Fraction

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import VideoError
from .metadata import FrameIndex, VideoMetadata

__all__ = ["IMAGE_EXTENSIONS", "list_frames", "probe_frames", "read_frame"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
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


def probe_frames(
    folder: str, fps: float = 30.0, prefix: str | None = None
) -> tuple[VideoMetadata, list[str]]:
    """Metadata of a frame folder; ``fps`` is the rate the frames were extracted at (folders do not store it)."""
    files = list_frames(folder, prefix)
    if not files:
        raise VideoError(
            folder,
            "is a directory with no frame images (expected a video file or a folder of img_00001.jpg ...)",
        )
    first = read_frame(files[0])
    h, w = first.shape[:2]
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
        pixel_format="rgb24",
        index=index,
    )
    return meta, files


def read_frame(file: str, size: tuple[int, int] | None = None, interpolation: str = "bilinear") -> np.ndarray:
    """[H, W, 3] uint8 RGB of one image, resized to ``size`` = (width, height) when given."""
    try:
        with Image.open(file) as img:
            if size is not None and img.format == "JPEG":
                img.draft("RGB", size)  # DCT-domain downscale to the smallest power-of-two size >= ``size``
            img = img.convert("RGB")
            if size is not None and img.size != tuple(size):
                img = img.resize(tuple(size), _PIL_FILTER[interpolation])
            return np.asarray(img)
    except FileNotFoundError:
        raise VideoError(file, "frame file disappeared") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise VideoError(file, f"unreadable frame image ({e.__class__.__name__}: {e})") from None
