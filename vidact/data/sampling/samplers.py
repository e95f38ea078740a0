"""Clip samplers: small picklable objects a dataset asks which frames of a video make an item.

Each wraps one of the plain functions of :mod:`~.functions`; :class:`ClipSampler`'s factories build the usual ones
(``ClipSampler.random(16, stride=2)``, ``ClipSampler.multi_clip(16, 2, num_clips=10)``, ...).
:class:`SegmentViews` is the multi-view test sampler of TSN models (``vidact eval``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ...io.metadata import VideoMetadata
from .functions import (
    ShortPolicy,
    multi_clip_indices,
    random_clip_indices,
    segment_indices,
    slowfast_indices,
    time_indices,
)

__all__ = [
    "IndexSampler",
    "ClipSampler",
    "FrameCountSampler",
    "RandomClip",
    "CenterClip",
    "Segments",
    "MultiClip",
    "SlowFastClip",
    "TimeClip",
    "SegmentViews",
]

#: Any function ``(num_frames, rng) -> indices`` works as a dataset's sampler too.
IndexSampler = Callable[[int, np.random.Generator], np.ndarray]


class ClipSampler(ABC):
    """Which frames of a video make an item: a small picklable object wrapping :mod:`~.functions`.

    A dataset calls ``sampler.for_video(metadata, rng)``; the result is [T] int64 frame indices for one clip or
    [K, T] for K test views. ``rng`` is the item's generator; test-time samplers ignore it. The factories below
    build the usual ones; any function ``(num_frames, rng) -> indices`` works in a dataset as well.
    """

    @abstractmethod
    def for_video(self, meta: VideoMetadata, rng: np.random.Generator) -> np.ndarray: ...

    @staticmethod
    def random(clip_len: int, stride: int = 1, *, short_policy: ShortPolicy = "loop") -> RandomClip:
        """Training: ``clip_len`` frames every ``stride``-th frame from a random start. Returns [T]."""
        return RandomClip(clip_len, stride, short_policy)

    @staticmethod
    def center(clip_len: int, stride: int = 1, *, short_policy: ShortPolicy = "loop") -> CenterClip:
        """Validation: the clip centred in the video. Returns [T]."""
        return CenterClip(clip_len, stride, short_policy)

    @staticmethod
    def segments(num_segments: int, frames_per_segment: int = 1, *, random: bool = True) -> Segments:
        """TSN: one snippet from each of ``num_segments`` equal parts, at random or at each part's centre.
        Returns [num_segments * frames_per_segment]."""
        return Segments(num_segments, frames_per_segment, random)

    @staticmethod
    def multi_clip(
        clip_len: int, stride: int = 1, num_clips: int = 10, *, short_policy: ShortPolicy = "loop"
    ) -> MultiClip:
        """Multi-view testing: ``num_clips`` clips with evenly spaced starts. Returns [num_clips, T]."""
        return MultiClip(clip_len, stride, num_clips, short_policy)

    @staticmethod
    def slowfast(
        slow_frames: int = 8,
        tau: int = 8,
        alpha: int = 4,
        *,
        random: bool = True,
        short_policy: ShortPolicy = "loop",
    ) -> SlowFastClip:
        """SlowFast: the Fast pathway's frames [alpha * slow_frames]; the Slow pathway is ``clip[::alpha]``."""
        return SlowFastClip(slow_frames, tau, alpha, random, short_policy)

    @staticmethod
    def by_time(
        clip_len: int, fps: float, *, random: bool = True, short_policy: ShortPolicy = "repeat_last"
    ) -> TimeClip:
        """``clip_len`` frames at ``fps`` by presentation time, whatever the source's (variable) rate. Returns [T]."""
        return TimeClip(clip_len, fps, random, short_policy)


class FrameCountSampler(ClipSampler):
    """A sampler that needs only the number of frames: also callable as ``sampler(num_frames, rng)``."""

    @abstractmethod
    def __call__(self, num_frames: int, rng: np.random.Generator) -> np.ndarray: ...

    def for_video(self, meta: VideoMetadata, rng: np.random.Generator) -> np.ndarray:
        return self(meta.num_frames, rng)


@dataclass(frozen=True)
class RandomClip(FrameCountSampler):
    clip_len: int
    stride: int = 1
    short_policy: ShortPolicy = "loop"

    def __call__(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
        return random_clip_indices(
            num_frames, self.clip_len, self.stride, rng=rng, short_policy=self.short_policy
        )


@dataclass(frozen=True)
class CenterClip(FrameCountSampler):
    clip_len: int
    stride: int = 1
    short_policy: ShortPolicy = "loop"

    def __call__(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
        (clip,) = multi_clip_indices(
            num_frames, self.clip_len, self.stride, 1, short_policy=self.short_policy
        )
        return clip


@dataclass(frozen=True)
class Segments(FrameCountSampler):
    num_segments: int
    frames_per_segment: int = 1
    random: bool = True

    def __call__(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
        return segment_indices(
            num_frames,
            self.num_segments,
            rng=rng if self.random else None,
            frames_per_segment=self.frames_per_segment,
        )


@dataclass(frozen=True)
class MultiClip(FrameCountSampler):
    clip_len: int
    stride: int = 1
    num_clips: int = 10
    short_policy: ShortPolicy = "loop"

    def __call__(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
        return multi_clip_indices(
            num_frames, self.clip_len, self.stride, self.num_clips, short_policy=self.short_policy
        )


@dataclass(frozen=True)
class SlowFastClip(FrameCountSampler):
    slow_frames: int = 8
    tau: int = 8
    alpha: int = 4
    random: bool = True
    short_policy: ShortPolicy = "loop"

    def __call__(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
        _, fast = slowfast_indices(
            num_frames,
            self.slow_frames,
            self.tau,
            self.alpha,
            rng=rng if self.random else None,
            short_policy=self.short_policy,
        )
        return fast


@dataclass(frozen=True)
class TimeClip(ClipSampler):
    clip_len: int
    fps: float
    random: bool = True
    short_policy: ShortPolicy = "repeat_last"

    def for_video(self, meta: VideoMetadata, rng: np.random.Generator) -> np.ndarray:
        frame_times = meta.index.seconds() - meta.start_time
        return time_indices(
            frame_times,
            self.clip_len,
            self.fps,
            rng=rng if self.random else None,
            short_policy=self.short_policy,
        )


@dataclass(frozen=True)
class SegmentViews(FrameCountSampler):
    """Multi-view testing of TSN models: ``num_views`` clips of one frame from each of ``num_segments`` equal
    parts of the video (the parts of :func:`~.functions.segment_indices`). View ``v`` takes the frame at
    ``(v + 0.5) / num_views`` of every part, so a single view is the parts' centres (the validation sampler) and
    more views sweep each part evenly. Returns [num_views, num_segments] int64."""

    num_segments: int
    num_views: int = 1

    def __call__(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
        part = np.arange(self.num_segments)
        first = part * num_frames // self.num_segments  # part k is frames [first, next part's first)
        length = (part + 1) * num_frames // self.num_segments - first
        fraction = (np.arange(self.num_views)[:, None] + 0.5) / self.num_views
        offsets = np.floor(fraction * length[None, :]).astype(np.int64)
        return np.minimum(first + offsets, num_frames - 1)
