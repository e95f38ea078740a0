"""Clip sampling: plain functions from a video's length to the frame indices a model sees.

Every sampler returns a sorted ``np.ndarray`` of int64 display-order indices (a 2-D array [K, T] for the
multi-clip test samplers, one row per clip), all in ``[0, num_frames)``. Training-time randomness comes from a
``numpy.random.Generator`` argument (``rng``), so a seed makes any sampler deterministic; ``rng=None`` means
the test-time (deterministic) variant.

Videos shorter than a sampler needs never raise: ``short_policy`` says what to do —

- ``"loop"``: wrap around (frame ``i`` of an ``n``-frame video for position ``i % n``), the video replays;
- ``"repeat_last"``: clamp to the last frame (the video freezes on its final frame);
- ``"stretch"``: spread the available frames evenly over the wanted positions (frames repeat in place).

Note that ``"loop"`` gives indices that are not sorted; every other case returns sorted indices.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = [
    "ShortPolicy",
    "segment_indices",
    "random_clip_indices",
    "dense_indices",
    "uniform_clip_indices",
    "multi_clip_indices",
    "slowfast_indices",
    "time_indices",
    "rate_indices",
    "clip_span",
]

ShortPolicy = Literal["loop", "repeat_last", "stretch"]
_POLICIES = ("loop", "repeat_last", "stretch")


def _check(num_frames: int, policy: str) -> None:
    if num_frames <= 0:
        raise ValueError(f"num_frames must be positive, got {num_frames}")
    if policy not in _POLICIES:
        raise ValueError(f"short_policy must be one of {_POLICIES}, got {policy!r}")


def clip_span(num_frames_per_clip: int, stride: int) -> int:
    """Frames covered by a clip of ``num_frames_per_clip`` frames taken every ``stride``-th frame."""
    return (num_frames_per_clip - 1) * stride + 1


def _fit(positions: np.ndarray, num_frames: int, policy: str) -> np.ndarray:
    """Map positions that may run past the end of the video into range, following ``policy``."""
    positions = np.asarray(positions, dtype=np.int64)
    if positions.size == 0 or positions.max() < num_frames:
        return positions
    if policy == "loop":
        return positions % num_frames
    if policy == "repeat_last":
        return np.minimum(positions, num_frames - 1)
    # stretch: keep the clip's shape, squeezed onto the frames that exist
    lo, hi = int(positions.min()), int(positions.max())
    if hi == lo:
        return np.zeros_like(positions)
    scaled = (positions - lo) * (num_frames - 1) / (hi - lo)
    return np.floor(scaled + 1e-9).astype(np.int64)


def segment_indices(
    num_frames: int,
    num_segments: int,
    *,
    rng: np.random.Generator | None = None,
    frames_per_segment: int = 1,
) -> np.ndarray:
    """TSN segment sampling: split the video into ``num_segments`` equal parts, take one snippet from each.

    Training (``rng`` given): a random offset inside each segment. Test (``rng=None``): each segment's centre.
    With ``frames_per_segment > 1`` each snippet is that many consecutive frames (TSN's RGB-diff / flow stacks).

    Returns:
        [num_segments * frames_per_segment] int64 indices: snippets in segment order, each consecutive. When
        the video holds at least ``num_segments * frames_per_segment`` frames no frame repeats and the indices
        are sorted; shorter videos give overlapping snippets (frames repeat) instead of raising.
    """
    _check(num_frames, "repeat_last")
    if num_segments <= 0 or frames_per_segment <= 0:
        raise ValueError("num_segments and frames_per_segment must be positive")
    k = np.arange(num_segments)
    lo = k * num_frames // num_segments  # segment k is frames [lo, hi)
    hi = (k + 1) * num_frames // num_segments
    room = hi - lo - frames_per_segment  # how far a snippet can move inside its segment
    if rng is None:
        base = lo + (np.maximum(room, 0) + 1) // 2  # the centre (TSN: frame 5 of a 10-frame segment)
    else:
        base = lo + np.floor(rng.random(num_segments) * (np.maximum(room, 0) + 1)).astype(np.int64)
    # segments shorter than a snippet (a short video): the snippet starts where it still fits
    base = np.where(room >= 0, base, np.minimum(lo, max(num_frames - frames_per_segment, 0)))
    idx = (base[:, None] + np.arange(frames_per_segment)[None, :]).reshape(-1)
    return np.minimum(idx, num_frames - 1).astype(np.int64)


def random_clip_indices(
    num_frames: int,
    clip_len: int,
    stride: int = 1,
    *,
    rng: np.random.Generator,
    short_policy: ShortPolicy = "loop",
) -> np.ndarray:
    """``clip_len`` frames every ``stride``-th frame from a uniformly random start (training)."""
    _check(num_frames, short_policy)
    span = clip_span(clip_len, stride)
    start = int(rng.integers(0, max(num_frames - span, 0) + 1))
    return _fit(start + np.arange(clip_len) * stride, num_frames, short_policy)


def dense_indices(
    num_frames: int, clip_len: int, stride: int = 1, *, short_policy: ShortPolicy = "loop"
) -> np.ndarray:
    """Every clip of ``clip_len`` frames at ``stride``, back to back, covering the whole video.

    Returns:
        [K, clip_len] int64, K = ceil(num_frames / span); the last clip is aligned to the video's end when the
        video is long enough (so no clip runs past it), else it follows ``short_policy``.
    """
    _check(num_frames, short_policy)
    span = clip_span(clip_len, stride)
    k = max(1, -(-num_frames // span))
    starts = np.arange(k) * span
    if num_frames >= span:
        starts = np.minimum(starts, num_frames - span)
    clips = starts[:, None] + np.arange(clip_len)[None, :] * stride
    return np.stack([_fit(c, num_frames, short_policy) for c in clips])


def uniform_clip_indices(
    num_frames: int, clip_len: int, *, rng: np.random.Generator | None = None
) -> np.ndarray:
    """``clip_len`` frames spread over the whole video (the stride adapts to its length), TSN-style: one
    frame from each of ``clip_len`` equal segments, at random (training) or at the centre (test)."""
    return segment_indices(num_frames, clip_len, rng=rng)


def multi_clip_indices(
    num_frames: int,
    clip_len: int,
    stride: int = 1,
    num_clips: int = 10,
    *,
    short_policy: ShortPolicy = "loop",
) -> np.ndarray:
    """Multi-view test sampling: ``num_clips`` clips whose starts are evenly spaced over the video.

    The K clips' scores are averaged later (``vidact eval``). Clip ``k`` starts at
    ``round(k * (num_frames - span) / (K - 1))`` (the first at 0, the last ending at the final frame); a single
    clip is centred. Videos shorter than one clip give K identical clips filled by ``short_policy``.

    Returns:
        [num_clips, clip_len] int64.
    """
    _check(num_frames, short_policy)
    if num_clips <= 0:
        raise ValueError("num_clips must be positive")
    span = clip_span(clip_len, stride)
    room = max(num_frames - span, 0)
    if num_clips == 1:
        starts = np.array([room // 2])
    else:
        starts = np.round(np.arange(num_clips) * room / (num_clips - 1)).astype(np.int64)
    clips = starts[:, None] + np.arange(clip_len)[None, :] * stride
    return np.stack([_fit(c, num_frames, short_policy) for c in clips])


def slowfast_indices(
    num_frames: int,
    slow_frames: int = 8,
    tau: int = 8,
    alpha: int = 4,
    *,
    rng: np.random.Generator | None = None,
    short_policy: ShortPolicy = "loop",
) -> tuple[np.ndarray, np.ndarray]:
    """SlowFast dual-rate indices over one window of ``slow_frames * tau`` frames.

    The Slow pathway takes every ``tau``-th frame (``slow_frames`` of them); the Fast pathway every
    ``tau / alpha``-th frame (``alpha * slow_frames`` of them) over the same window, so the two see the same
    moment at two frame rates. With the paper's 8x8 setting (T=8, tau=8, alpha=4): a 64-frame window, Slow
    frames 0, 8, ..., 56 and Fast frames 0, 2, ..., 62. The window starts at random (``rng``) or is centred.

    Returns:
        (slow [slow_frames], fast [alpha * slow_frames]) int64 indices; every Slow index is also a Fast index.
    """
    _check(num_frames, short_policy)
    if tau % alpha != 0:
        raise ValueError(f"tau ({tau}) must be a multiple of alpha ({alpha}) so both pathways share frames")
    fast_stride = tau // alpha
    fast_len = slow_frames * alpha
    span = clip_span(fast_len, fast_stride)
    room = max(num_frames - span, 0)
    start = int(rng.integers(0, room + 1)) if rng is not None else room // 2
    fast = start + np.arange(fast_len) * fast_stride
    slow = fast[::alpha]
    return _fit(slow, num_frames, short_policy), _fit(fast, num_frames, short_policy)


def time_indices(
    frame_times: np.ndarray,
    clip_len: int,
    target_fps: float,
    *,
    start: float | None = None,
    rng: np.random.Generator | None = None,
    short_policy: ShortPolicy = "repeat_last",
) -> np.ndarray:
    """Sample by time, for variable-frame-rate sources: ``clip_len`` instants ``1 / target_fps`` apart, each
    mapped to the frame on screen at that instant.

    Args:
        frame_times: [N] presentation time in seconds of every frame, increasing (``VideoReader.timestamps()``).
        clip_len: frames to return.
        target_fps: the rate the clip should have, whatever the source's rate (or its variations).
        start: the first instant (seconds); default random (``rng``) or centred.

    Returns:
        [clip_len] int64 indices. Instants past the last frame follow ``short_policy`` (loop replays the video).
    """
    t = np.asarray(frame_times, dtype=np.float64)
    n = t.size
    _check(n, short_policy)
    if target_fps <= 0:
        raise ValueError("target_fps must be positive")
    if n > 1:
        frame_dur = float(np.median(np.diff(t)))
    else:
        frame_dur = 1.0 / target_fps
    end = t[-1] + frame_dur  # the video is on screen until then
    length = clip_len / target_fps
    room = max(end - t[0] - length, 0.0)
    if start is None:
        start = t[0] + (float(rng.random()) * room if rng is not None else room / 2)
    instants = start + np.arange(clip_len) / target_fps
    if short_policy == "loop":
        instants = t[0] + np.mod(instants - t[0], end - t[0])
    elif short_policy == "stretch" and instants[-1] >= end:
        instants = np.linspace(t[0], t[-1], clip_len)
    pos = np.searchsorted(t, instants + 1e-9, side="right") - 1
    return np.clip(pos, 0, n - 1).astype(np.int64)


def rate_indices(
    frame_times: np.ndarray, fps: float | None = None, max_frames: int | None = None
) -> np.ndarray:
    """The frames of a whole-video pass (pose, optical flow): every frame, or those on screen at each multiple of
    ``1 / fps`` seconds (each frame once, so a rate above the video's takes every frame), then the first
    ``max_frames``.

    Args:
        frame_times: [N] presentation times in seconds from the stream's start, increasing
            (``VideoReader.timestamps()``).
        fps: frames per second to take; None takes every frame.
        max_frames: at most this many frames (the first ones).

    Returns:
        [T] int64 display-order indices, increasing.
    """
    t = np.asarray(frame_times, dtype=np.float64)
    if fps is None:
        positions = np.arange(t.size, dtype=np.int64)
    else:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        grid = np.arange(0.0, float(t[-1]) + 0.5 / fps, 1.0 / fps) if t.size else np.zeros(0)
        shown = np.clip(np.searchsorted(t, grid + 1e-9, side="right") - 1, 0, max(t.size - 1, 0))
        positions = np.unique(shown).astype(np.int64)
    return positions if max_frames is None else positions[:max_frames]
