"""The flow of a whole video, pair after pair, from one forward decode: what extraction and visualisation share.

    >>> for prev, next, flow in video_flow("clip.mp4", get_flow_method("dis_fine"), short_side=256):
    ...     ...                                   # uint8 [H, W, 3] x 2, float32 [H, W, 2]: frame i -> i + 1

Frames are decoded one at a time (:meth:`vidact.io.VideoReader.iter_frames`); only the previous frame is kept,
so a long video's frames and flow never sit whole in memory. The frames taken are every frame, or those shown at
``fps`` per second, then the first ``max_frames`` (:func:`vidact.data.sampling.rate_indices`, the rule of every
per-frame extraction).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..data.sampling import rate_indices
from ..errors import VideoError
from ..io import VideoReader
from ..io._frames import list_frames
from .encode import RGB_PREFIX
from .methods import FlowMethod

__all__ = ["video_frames", "video_flow"]


def _check_folder_sizes(folder: str, prefix: str | None) -> None:
    """A frame folder's images (those of ``prefix``) all have the first one's size (read from their headers,
    nothing decoded).

    Raises:
        VideoError: one differs (naming it and both sizes).
    """
    first: tuple[str, tuple[int, int]] | None = None
    for path in list_frames(folder, prefix):
        try:
            with Image.open(path) as image:
                size = image.size
        except (UnidentifiedImageError, OSError) as e:
            raise VideoError(
                folder, f"{os.path.basename(path)} is unreadable ({e.__class__.__name__})"
            ) from None
        if first is None:
            first = (os.path.basename(path), size)
        elif size != first[1]:
            raise VideoError(
                folder,
                f"frames of different sizes: {os.path.basename(path)} is {size[0]}x{size[1]}, "
                f"{first[0]} {first[1][0]}x{first[1][1]}",
            )


def video_frames(
    video: str | os.PathLike,
    *,
    short_side: int | None = None,
    fps: float | None = None,
    max_frames: int | None = None,
    min_frames: int = 1,
) -> Iterator[np.ndarray]:
    """The frames of a video (file, GIF or frame folder), decoded forward one at a time.

    Args:
        video: the video: a file, a GIF, or a folder of frames (its ``img_00001.jpg`` ... when it has them, as
            mmaction2's rawframes beside flow images; else every image in it).
        short_side: decode at this short side (aspect ratio kept); None: the video's size.
        fps: frames shown at this rate (a frame at each multiple of 1 / fps seconds); None: every frame.
        max_frames: at most the first N frames taken.
        min_frames: fewer frames taken than this is an error, raised before any frame is decoded.

    Yields:
        uint8 [H, W, 3] RGB, every one of the first one's size.

    Raises:
        VideoError: the video cannot be read, has fewer than ``min_frames`` frames, or frames of different sizes.
    """
    path = os.fspath(video)
    prefix = None
    if os.path.isdir(path):
        prefix = RGB_PREFIX if list_frames(path, RGB_PREFIX) else None  # rawframes may hold flow images too
        _check_folder_sizes(path, prefix)
    with VideoReader(path, short_side=short_side, prefix=prefix) as reader:
        positions = rate_indices(reader.timestamps(), fps, max_frames)
        if positions.size < min_frames:
            taken = f"{positions.size} frame{'s' if positions.size != 1 else ''} taken of {len(reader)}"
            raise VideoError(path, f"{taken}; optical flow needs at least {min_frames}")
        shape = None
        for position, _, frame in reader.iter_frames(positions=positions):
            array = frame.numpy()
            if shape is None:
                shape = array.shape
            elif array.shape != shape:
                raise VideoError(
                    path,
                    f"frames of different sizes: frame {position} is {array.shape[1]}x{array.shape[0]}, the first "
                    f"{shape[1]}x{shape[0]}",
                )
            yield array


def video_flow(
    video: str | os.PathLike,
    method: FlowMethod,
    *,
    short_side: int | None = None,
    fps: float | None = None,
    max_frames: int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The optical flow between consecutive frames of a video: N - 1 pairs for the N frames taken.

    Args:
        video: the video (file, GIF or frame folder).
        method: the flow method (:func:`~vidact.flow.methods.get_flow_method`).
        short_side, fps, max_frames: which frames, at which size (see :func:`video_frames`).

    Yields:
        ``(prev, next, flow)``: uint8 [H, W, 3] frames i and i + 1, float32 [H, W, 2] the flow from i to i + 1.

    Raises:
        VideoError: the video cannot be read, has fewer than 2 frames to take, or frames of different sizes.
    """
    prev: np.ndarray | None = None
    for frame in video_frames(video, short_side=short_side, fps=fps, max_frames=max_frames, min_frames=2):
        if prev is not None:
            yield prev, frame, method(prev, frame)
        prev = frame
