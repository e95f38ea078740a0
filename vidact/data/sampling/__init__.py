"""Clip sampling in one place: which frames of a video a model sees.

- :mod:`.functions`: plain functions from a video's length (or its frame times) to frame indices — TSN segments,
  random clips, dense, multi-clip test views, SlowFast dual-rate, by time — with a defined short-video policy;
- :mod:`.samplers`: the picklable sampler objects datasets take (:class:`ClipSampler` and its factories, and
  :class:`SegmentViews`, the multi-view test sampler of TSN models);
- :mod:`.windows`: time windows over a video (``vidact predict``'s timeline, ``vidact extract``'s steps) and the
  clip each window takes.

Everything is importable from ``vidact.data.sampling``.
"""

from .functions import (
    ShortPolicy,
    clip_span,
    dense_indices,
    multi_clip_indices,
    random_clip_indices,
    rate_indices,
    segment_indices,
    slowfast_indices,
    time_indices,
    uniform_clip_indices,
)
from .samplers import (
    CenterClip,
    ClipSampler,
    FrameCountSampler,
    IndexSampler,
    MultiClip,
    RandomClip,
    Segments,
    SegmentViews,
    SlowFastClip,
    TimeClip,
)
from .windows import ClipShape, Sampling, frame_window_bounds, window_bounds, window_clip

__all__ = [
    # functions
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
    # samplers
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
    # windows
    "Sampling",
    "ClipShape",
    "window_bounds",
    "frame_window_bounds",
    "window_clip",
]
