"""Seeing optical flow: the Middlebury colour code, its key, and a video of each frame beside its flow.

    >>> image = flow_to_color(flow)                            # float [H, W, 2] -> uint8 [H, W, 3]
    >>> key = color_wheel(256)                                 # the code itself: direction -> hue
    >>> write_flow_video("clip.mp4", "clip.flow.mp4", method="dis_fine", short_side=256)

**The colour code** (Baker et al., "A Database and Evaluation Methodology for Optical Flow", IJCV 2011, the
Middlebury benchmark's): the direction of motion is the hue, read off a wheel of 55 colours that blends red ->
yellow -> green -> cyan -> blue -> magenta -> red in steps sized to look even (15, 6, 4, 11, 13, 6); the magnitude,
divided by ``max_magnitude``, is the saturation, from white (still) to the full colour; motion beyond
``max_magnitude`` is the full colour darkened to 3/4. Motion to the right is red, down is yellow (y points
down), left is cyan, up is blue-violet.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..io import probe
from ..io.writer import write_video
from .methods import DEFAULT_METHOD, FlowMethod, get_flow_method
from .stream import video_flow

__all__ = ["COLOR_WHEEL", "flow_to_color", "color_wheel", "write_flow_video"]

#: The Middlebury wheel's segments: (colours in the segment, start colour, end colour), RGB in [0, 1].
_SEGMENTS = (
    (15, (1, 0, 0), (1, 1, 0)),  # red -> yellow
    (6, (1, 1, 0), (0, 1, 0)),  # yellow -> green
    (4, (0, 1, 0), (0, 1, 1)),  # green -> cyan
    (11, (0, 1, 1), (0, 0, 1)),  # cyan -> blue
    (13, (0, 0, 1), (1, 0, 1)),  # blue -> magenta
    (6, (1, 0, 1), (1, 0, 0)),  # magenta -> red
)


def _wheel() -> np.ndarray:
    rows = []
    for count, start, end in _SEGMENTS:
        steps = np.arange(count, dtype=np.float64)[:, None] / count
        rows.append(np.asarray(start) + steps * (np.asarray(end) - np.asarray(start)))
    return np.concatenate(rows)


#: The 55 colours of the wheel, float64 [55, 3] RGB in [0, 1], red first, going through yellow, green, cyan,
#: blue and magenta.
COLOR_WHEEL = _wheel()


def flow_to_color(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """A flow field in the Middlebury colour code (see the module docstring).

    Args:
        flow: float [H, W, 2] pixels, x then y.
        max_magnitude: the magnitude shown fully saturated; None: the field's largest (no motion at all: white).

    Returns:
        uint8 [H, W, 3] RGB.

    Raises:
        ValueError: ``flow`` is not [H, W, 2], or ``max_magnitude`` is not positive.
    """
    flow = np.asarray(flow, dtype=np.float64)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"a flow field is [H, W, 2], got {list(flow.shape)}")
    if max_magnitude is not None and not max_magnitude > 0:
        raise ValueError(f"max_magnitude must be positive, got {max_magnitude}")
    u, v = np.nan_to_num(flow[..., 0]), np.nan_to_num(flow[..., 1])
    magnitude = np.hypot(u, v)
    scale = max_magnitude if max_magnitude is not None else float(magnitude.max(initial=0.0))
    radius = magnitude / scale if scale > 0 else np.zeros_like(magnitude)
    count = len(COLOR_WHEEL)
    position = (np.arctan2(-v, -u) / np.pi + 1) / 2 * (count - 1)  # right: the last colour, left: the middle
    low = np.floor(position).astype(np.int64)
    high = (low + 1) % count
    fraction = (position - low)[..., None]
    color = (1 - fraction) * COLOR_WHEEL[low] + fraction * COLOR_WHEEL[high]  # [H, W, 3] in [0, 1]
    inside = (radius <= 1)[..., None]
    saturated = 1 - radius[..., None] * (1 - color)  # white at rest, the wheel's colour at the bound
    color = np.where(inside, saturated, color * 0.75)
    return np.floor(255 * np.clip(color, 0, 1)).astype(np.uint8)


def color_wheel(size: int = 256) -> np.ndarray:
    """The key of :func:`flow_to_color`: each pixel coloured as the motion from the centre to it, the disc's
    edge at full saturation (the corners, beyond it, darkened).

    Args:
        size: the image's side in pixels.

    Returns:
        uint8 [size, size, 3] RGB.
    """
    if size < 2:
        raise ValueError(f"a colour wheel needs at least 2 pixels, got {size}")
    axis = np.linspace(-1, 1, size)
    x, y = np.meshgrid(axis, axis)  # y grows downwards, as in images
    return flow_to_color(np.stack([x, y], axis=-1), max_magnitude=1.0)


def write_flow_video(
    video: str | os.PathLike,
    out: str | os.PathLike,
    *,
    method: str | FlowMethod = DEFAULT_METHOD,
    method_options: Mapping[str, Any] | None = None,
    short_side: int | None = None,
    fps: float | None = None,
    max_frames: int | None = None,
    max_magnitude: float | None = None,
    crf: int = 20,
) -> str:
    """An mp4 (H.264) of each frame beside its flow in the colour code, written as the flow is computed.

    Frame i of the output is frame i of the video on the left and the flow from frame i to i + 1 on the right:
    N - 1 frames for the N taken. Nothing of the video is held beyond the pair under way; the file appears only
    when complete (:func:`vidact.io.writer.write_video`).

    Args:
        video: the video (file, GIF or frame folder).
        out: the mp4 to write.
        method: a flow method's name (``vidact.flow.list_flow_methods()``) or a method object.
        method_options: options of a method given by name.
        short_side, fps, max_frames: which frames, at which size (:func:`~vidact.flow.stream.video_frames`);
            the output plays at ``fps`` (default: the video's rate).
        max_magnitude: the magnitude shown fully saturated; None: each field's largest.
        crf: x264's quality (lower is better).

    Returns:
        ``out`` as a string.

    Raises:
        ConfigError: an unknown method or bad options.
        VideoError: the video cannot be read, has fewer than 2 frames, or frames of different sizes.
    """
    if isinstance(method, str):
        method = get_flow_method(method, **dict(method_options or {}))
    elif method_options:
        raise ValueError("method_options go with a method given by name")
    rate = float(fps) if fps is not None else probe(video).fps

    def frames() -> Iterator[np.ndarray]:
        for prev, _, flow in video_flow(video, method, short_side=short_side, fps=fps, max_frames=max_frames):
            side = np.concatenate([prev, flow_to_color(flow, max_magnitude)], axis=1)  # [H, 2W, 3]
            yield side[: side.shape[0] // 2 * 2]  # H.264 in yuv420p needs an even height

    return write_video(out, frames(), fps=rate, crf=crf)
