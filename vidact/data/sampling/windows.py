"""Time windows over a video's timeline and the clip each window takes (``vidact predict``, ``vidact extract``).

**Windows.** Windows of ``window`` seconds start every ``stride`` seconds from 0, as many as fit in the video; if
frames remain after the last one, one more window ends at the video's end, so every frame is in some window. A
video shorter than a window is a single window. A frame belongs to a window when its presentation time ``t``
satisfies ``start <= t < end``. Windows can also be counted in frames (:func:`frame_window_bounds`); they are
then turned into seconds at the frames' presentation times, so everything downstream works in seconds alike.

**Sampling in a window.** ``sampling="stride"`` takes the model's own clip, ``clip_len`` frames every ``stride``-th
frame (the frame rate the model was trained at), centred on the window; a clip longer than the window reaches
beyond it, clamped to the video. ``sampling="uniform"`` spreads ``clip_len`` frames over the window, the centre
frame of each of ``clip_len`` equal parts (TSN's test sampling, :func:`~.functions.segment_indices`), whatever
the window's length.
"""

from __future__ import annotations

import math
from typing import Literal, Protocol

import numpy as np

from ...errors import ConfigError
from .functions import clip_span, segment_indices

__all__ = ["Sampling", "ClipShape", "window_bounds", "frame_window_bounds", "window_clip"]

Sampling = Literal["stride", "uniform"]

_TIME_EPS = 1e-6  # seconds: presentation times within this of a window's edge count as on the edge


class ClipShape(Protocol):
    """What :func:`window_clip` needs of a model's input: ``clip_len`` frames every ``stride``-th frame."""

    @property
    def clip_len(self) -> int: ...

    @property
    def stride(self) -> int: ...


def window_bounds(frame_times: np.ndarray, window: float, stride: float) -> np.ndarray:
    """The timeline's windows (see the module docstring).

    Args:
        frame_times: [N] presentation times in seconds, increasing (``VideoReader.timestamps()``).
        window: window length in seconds.
        stride: seconds between window starts.

    Returns:
        [W, 2] float64 ``(start, end)`` in seconds.
    """
    if not window > 0 or not stride > 0:
        raise ConfigError(f"window and stride must be positive, got window={window} and stride={stride}")
    t = np.asarray(frame_times, dtype=np.float64)
    frame_duration = float(np.median(np.diff(t))) if t.size > 1 else 0.0
    duration = float(t[-1]) + frame_duration  # the last frame is on screen until then
    if duration <= window + _TIME_EPS:
        return np.array([[0.0, duration]])
    count = math.floor((duration - window) / stride + _TIME_EPS) + 1
    starts = np.arange(count) * stride
    if t[-1] >= starts[-1] + window - _TIME_EPS:  # frames after the last window: one more, ending at the end
        starts = np.append(starts, duration - window)
    return np.stack([starts, starts + window], axis=1)


def frame_window_bounds(frame_times: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Windows of ``window`` frames starting every ``stride`` frames, as ``(start, end)`` seconds.

    The same policy as :func:`window_bounds`, counted in frames: windows start at frame 0, ``stride``, ... as many
    as fit; if frames remain after the last one, one more window ends at the last frame; a video shorter than one
    window is a single window. A window of frames ``[a, b)`` spans ``frame_times[a]`` to ``frame_times[b]`` (the
    video's end for the last frame, one median frame duration after it), so it holds exactly those frames under
    the ``start <= t < end`` rule.

    Args:
        frame_times: [N] presentation times in seconds, increasing (``VideoReader.timestamps()``).
        window: frames per window.
        stride: frames between window starts.

    Returns:
        [W, 2] float64 ``(start, end)`` in seconds.
    """
    if window < 1 or stride < 1:
        raise ConfigError(
            f"window and stride must be at least 1 frame, got window={window} and stride={stride}"
        )
    t = np.asarray(frame_times, dtype=np.float64)
    n = t.size
    frame_duration = float(np.median(np.diff(t))) if n > 1 else 0.0
    edges = np.append(t, t[-1] + frame_duration)  # [N + 1]: edges[i] is when frame i starts, edges[N] the end
    if n <= window:
        return np.array([[edges[0], edges[n]]])
    starts = np.arange(math.floor((n - window) / stride) + 1) * stride
    if starts[-1] + window < n:  # frames after the last window: one more, ending at the last frame
        starts = np.append(starts, n - window)
    return np.stack([edges[starts], edges[starts + window]], axis=1)


def window_clip(
    frame_times: np.ndarray, start: float, end: float, spec: ClipShape, sampling: Sampling = "stride"
) -> np.ndarray:
    """The frames a window's clip takes: [clip_len] int64 display-order indices, sorted.

    Args:
        frame_times: [N] presentation times in seconds, increasing.
        start, end: the window, in seconds.
        spec: the model's clip length and stride (anything with ``clip_len`` and ``stride``).
        sampling: ``"stride"`` or ``"uniform"`` (see the module docstring).
    """
    t = np.asarray(frame_times, dtype=np.float64)
    first = int(np.searchsorted(t, start - _TIME_EPS, side="left"))
    stop = int(np.searchsorted(t, end - _TIME_EPS, side="left"))
    first = min(first, t.size - 1)
    # A window between two frames (a gap in a variable-rate video) takes the next one.
    count = max(stop - first, 1)
    if sampling == "uniform":
        return first + segment_indices(count, spec.clip_len)
    if sampling == "stride":
        clip_start = first + (count - clip_span(spec.clip_len, spec.stride)) // 2
        return np.clip(clip_start + np.arange(spec.clip_len) * spec.stride, 0, t.size - 1)
    raise ConfigError(f"unknown sampling {sampling!r}; choose from 'stride', 'uniform'")
