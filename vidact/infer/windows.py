"""Stream the clips of a video's sliding windows, decoding the video once: the loop behind
:func:`~vidact.infer.predict.predict_video` (window scores) and :mod:`vidact.extract` (window features).

    >>> with VideoReader("video.mp4", short_side=preset.decode_short_side) as reader:
    ...     times = reader.timestamps()
    ...     bounds = window_bounds(times, window=2.0, stride=1.0)                  # [W, 2] seconds
    ...     clips = np.stack([window_clip(times, s, e, spec) for s, e in bounds])  # [W, T] frame indices
    ...     stream = WindowStream(reader, clips, preset, batch_size=8)
    ...     for windows, x in stream:                                              # [B], [B, 3, T, h, w]
    ...         logits = model(x)

The windows and their clips come from :mod:`vidact.data.sampling` (``window_bounds``, ``window_clip``; windows
counted in frames: ``frame_window_bounds``), all in seconds.

**Memory.** A frame is kept, already cropped, only while a window that needs it waits to be yielded, so what is
held is the frames of a few windows whatever the video's length; :attr:`WindowStream.peak_frames` reports the
most held at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ..data.presets import Preset
from ..errors import ConfigError, VideoError
from ..io import VideoReader

__all__ = ["WindowStream"]


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
    the batch, and ``x`` [B, 3, T, crop, crop] float32, their clips made as ``preset`` says (resized where it
    resizes to an exact size, centre-cropped, normalised). Every batch but the last holds ``batch_size`` windows. Frames nobody needs are never converted, and a
    frame is dropped as soon as the windows needing it have been yielded and the consumer asks for the next batch.

    Args:
        reader: the open video, decoded at ``preset.decode_short_side`` (``VideoReader(path, short_side=...)``).
        clips: [W, T] int64 display-order frame indices of each window's clip (``window_clip``), each row sorted.
        preset: the crop and normalisation (:class:`~vidact.data.presets.Preset`).
        batch_size: windows per batch.

    Raises (while iterating):
        VideoError: a frame a clip needs could not be decoded (corrupt or truncated data).
    """

    def __init__(
        self, reader: VideoReader, clips: np.ndarray, preset: Preset, *, batch_size: int = 8
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        self.reader = reader
        self.clips = np.asarray(clips, dtype=np.int64)
        self.preset = preset
        self.batch_size = batch_size
        self._buffer = _FrameBuffer()

    @property
    def peak_frames(self) -> int:
        """The most decoded frames held at once so far."""
        return self._buffer.peak

    def __iter__(self) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        clips, buffer = self.clips, self._buffer
        crop = self.preset.frame_transform()
        to_input = self.preset.to_input()
        last_use = np.full(len(self.reader.timestamps()), -1, dtype=np.int64)  # [N] last window of each frame
        np.maximum.at(last_use, clips.ravel(), np.repeat(np.arange(len(clips)), clips.shape[1]))

        def batch(windows: list[int]) -> torch.Tensor:
            try:
                inputs = [to_input(torch.stack([buffer.frames[int(i)] for i in clips[w]])) for w in windows]
            except KeyError as e:
                reason = f"frame {e.args[0]} could not be decoded (corrupt or truncated data)"
                raise VideoError(self.reader.path, reason) from None
            return torch.stack(inputs)  # [B, 3, T, h, w]

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
