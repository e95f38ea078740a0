"""Stream the clips of a video's sliding windows, decoding the video once: the loop behind
:func:`~vidact.infer.predict.predict_video` (window scores) and :mod:`vidact.extract` (window features).

    >>> with VideoReader("video.mp4", short_side=spec.short_side) as reader:
    ...     times = reader.timestamps()
    ...     bounds = window_bounds(times, window=2.0, stride=1.0)                  # [W, 2] seconds
    ...     clips = np.stack([window_clip(times, s, e, spec) for s, e in bounds])  # [W, T] frame indices
    ...     stream = WindowStream(reader, clips, spec, batch_size=8)
    ...     for windows, x in stream:                                              # [B], [B, 3, T, h, w]
    ...         logits = model(x)

Windows can also be counted in frames (:func:`frame_window_bounds`); they are then turned into seconds at the
frames' presentation times, so everything downstream (clip sampling, timestamps) works in seconds alike.

**Memory.** A frame is kept, already cropped, only while a window that needs it waits to be yielded, so what is
held is the frames of a few windows whatever the video's length; :attr:`WindowStream.peak_frames` reports the
most held at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from ..data.transforms import CenterCrop, Normalize, ToFloatCTHW
from ..engine.evaluate import InputSpec
from ..errors import ConfigError, VideoError
from ..io import VideoReader

__all__ = ["WindowStream", "frame_window_bounds"]


def frame_window_bounds(frame_times: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Windows of ``window`` frames starting every ``stride`` frames, as ``(start, end)`` seconds.

    The same policy as :func:`~vidact.infer.predict.window_bounds`, counted in frames: windows start at frame
    0, ``stride``, ... as many as fit; if frames remain after the last one, one more window ends at the last
    frame; a video shorter than one window is a single window. A window of frames ``[a, b)`` spans
    ``frame_times[a]`` to ``frame_times[b]`` (the video's end for the last frame, one median frame duration after
    it), so it holds exactly those frames under the ``start <= t < end`` rule.

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


class _FrameBuffer:
    """Cropped frames by display index, kept while a pending window needs them; counts the most held."""

    def __init__(self) -> None:
        self.frames: dict[int, torch.Tensor] = {}
        self.peak = 0

    def put(self, index: int, frame: torch.Tensor) -> None:
        self.frames[index] = frame
        self.peak = max(self.peak, len(self.frames))

    def drop_until(self, last_use: np.ndarray, window: int) -> None:
        """Forget the frames no window after ``window`` needs (``last_use`` [N]: the last window of each frame)."""
        for index in [i for i in self.frames if last_use[i] <= window]:
            del self.frames[index]


class WindowStream:
    """The model inputs of a video's windows, in window order, from one forward decode of the video.

    Iterating yields ``(windows, x)``: ``windows`` [B] int64, the indices (rows of ``clips``) of the windows in
    the batch, and ``x`` [B, 3, T, crop, crop] float32, their clips centre-cropped and normalised as ``spec``
    says. Every batch but the last holds ``batch_size`` windows. Frames nobody needs are never converted, and a
    frame is dropped as soon as the windows needing it have been yielded and the consumer asks for the next batch.

    Args:
        reader: the open video, resized to ``spec.short_side`` (``VideoReader(path, short_side=...)``).
        clips: [W, T] int64 display-order frame indices of each window's clip (``window_clip``), each row sorted.
        spec: the crop and normalisation.
        batch_size: windows per batch.

    Raises (while iterating):
        VideoError: a frame a clip needs could not be decoded (corrupt or truncated data).
    """

    def __init__(
        self, reader: VideoReader, clips: np.ndarray, spec: InputSpec, *, batch_size: int = 8
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        self.reader = reader
        self.clips = np.asarray(clips, dtype=np.int64)
        self.spec = spec
        self.batch_size = batch_size
        self._buffer = _FrameBuffer()

    @property
    def peak_frames(self) -> int:
        """The most decoded frames held at once so far."""
        return self._buffer.peak

    def __iter__(self) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        clips, buffer = self.clips, self._buffer
        crop = CenterCrop(self.spec.crop_size)
        to_input = ToFloatCTHW()
        normalize = Normalize(self.spec.mean, self.spec.std)
        last_use = np.full(len(self.reader.timestamps()), -1, dtype=np.int64)  # [N] last window of each frame
        np.maximum.at(last_use, clips.ravel(), np.repeat(np.arange(len(clips)), clips.shape[1]))

        def batch(windows: list[int]) -> torch.Tensor:
            try:
                inputs = [to_input(torch.stack([buffer.frames[int(i)] for i in clips[w]])) for w in windows]
            except KeyError as e:
                reason = f"frame {e.args[0]} could not be decoded (corrupt or truncated data)"
                raise VideoError(self.reader.path, reason) from None
            return normalize(torch.stack(inputs))  # [B, 3, T, h, w]

        yielded = 0
        ready: list[int] = []
        next_window = 0
        for index, frame in _needed_frames(self.reader, last_use):
            buffer.put(index, crop(frame[None])[0].clone())
            while next_window < len(clips) and clips[next_window].max() <= index:
                ready.append(next_window)
                next_window += 1
            if len(ready) == self.batch_size or (ready and next_window == len(clips)):
                yield np.array(ready, dtype=np.int64), batch(ready)
                yielded += len(ready)
                buffer.drop_until(last_use, ready[-1])
                ready = []
        if yielded < len(clips):
            reason = f"decoding stopped before frame {clips.max()} (corrupt or truncated data)"
            raise VideoError(self.reader.path, reason)


def _needed_frames(reader: VideoReader, last_use: np.ndarray) -> Iterator[tuple[int, torch.Tensor]]:
    """``(index, frame [H, W, 3])`` of the frames some window needs (``last_use[index] >= 0``), decoded in one
    forward pass; the frames in between are never converted (and dropped by the decoder where possible)."""
    needed = np.flatnonzero(last_use >= 0)
    for index, _, frame in reader.iter_frames(positions=needed):
        yield index, frame
