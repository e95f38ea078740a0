"""The ``flow`` and ``rgb+flow`` modalities: optical flow computed from a raw video as it is decoded, and the RGB
frames in lock-step with it (``vidact predict VIDEO --model FLOW_RUN``).

    >>> predictor = load_predictor("runs/synthetic_two_stream")    # a pair: its spec is an RgbFlowPreset
    >>> prediction = predict_video(predictor, "video.mp4", window=2.0, stride=1.0)

**The flow a model sees.** A flow model was trained on flow folders (``vidact extract flow``): fields computed
with a method at some size, written as 8-bit codes clipped to ±``bound``. Prediction makes the same input from
the video: frames decoded at the spec's ``flow_size`` (``None``: as stored), each needed pair's flow computed
with the spec's ``method`` (:mod:`vidact.flow.methods`), quantised with its ``bound``
(:func:`vidact.flow.encode.quantize`) and read as training reads a stored field — resized to the spec's short
side, centre-cropped, ``q / 127.5 - 1`` (:meth:`FlowPreset.eval_transform
<vidact.data.flow.FlowPreset.eval_transform>`), which is the dequantised flow over the bound.

**Windows.** The timeline is the video modality's (:mod:`vidact.infer.base`). A window's clip is S segments of
L consecutive fields among the fields whose two frames lie in the window (field ``i``: frame ``i`` to ``i + 1``),
the centred snippet of each of S equal parts (TSN's test sampling, :func:`~vidact.data.sampling.segment_indices`);
a window of one frame takes the field that starts there. A pair's RGB frame of a segment is the first frame of
its snippet, made as its RGB spec says.

**Streaming.** The video is decoded once, forward, and only the frames some field or RGB frame needs are
converted; a field's flow is computed when its second frame arrives, from the one frame held before it. A field
(or frame) is kept, already cropped, only while a window that needs it waits to be scored.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from ..data.flow import FlowPreset, RgbFlowPreset
from ..data.sampling import segment_indices
from ..data.sampling.windows import _TIME_EPS
from ..errors import ConfigError, VideoError
from ..flow.encode import quantize
from ..flow.methods import FlowMethod, get_flow_method
from ..io import VideoReader
from .base import (
    Modality,
    Predictor,
    Unit,
    Windows,
    register_modality,
    unit_bounds,
)

__all__ = ["FlowModality", "RgbFlowModality", "FlowWindowStream", "window_fields"]

ModelInput = torch.Tensor | dict[str, torch.Tensor]


def window_fields(frame_times: np.ndarray, start: float, end: float, spec: FlowPreset) -> np.ndarray:
    """The flow fields a window's clip takes: [S * L] int64 field indices (field ``i``: frame ``i`` to ``i + 1``),
    S snippets of L consecutive fields in time order (see the module docstring).

    Args:
        frame_times: [N] presentation times in seconds, increasing; N >= 2.
        start, end: the window, in seconds.
        spec: the segments S and snippet length L.
    """
    t = np.asarray(frame_times, dtype=np.float64)
    num_fields = t.size - 1
    first = min(int(np.searchsorted(t, start - _TIME_EPS, side="left")), num_fields - 1)
    stop = int(np.searchsorted(t, end - _TIME_EPS, side="left"))  # the window's frames are [first, stop)
    count = max(stop - 1 - first, 1)  # fields whose two frames are in the window (at least the first one's)
    fields = first + segment_indices(count, spec.segments, frames_per_segment=spec.length)
    return np.minimum(fields, num_fields - 1)


class _Buffer:
    """Cropped model inputs by field or frame index, kept while a pending window needs them."""

    def __init__(self) -> None:
        self.items: dict[int, torch.Tensor] = {}

    def drop_until(self, last_use: np.ndarray, window: int) -> None:
        """Forget what no window after ``window`` needs (``last_use``: the last window of each index)."""
        for index in [i for i in self.items if last_use[i] <= window]:
            del self.items[index]


class FlowWindowStream:
    """The model inputs of a video's windows, in window order, from one forward decode: flow clips
    [B, 2, S*L, crop, crop] (and, for a pair, ``{"video": [B, 3, S, crop, crop], "flow": ...}``).

    Args:
        reader: the open video, decoded at the spec's ``flow_size``.
        fields: [W, S*L] int64 field indices of each window's clip (:func:`window_fields`), rows sorted.
        spec: a :class:`FlowPreset`, or an :class:`RgbFlowPreset` (RGB frames too).
        method: the flow method (two RGB uint8 frames [H, W, 3] -> float32 flow [H, W, 2]).
        batch_size: windows per batch.

    Iterating yields ``(windows [B] int64, x)``. Raises (while iterating) :class:`VideoError` when a needed
    frame cannot be decoded.
    """

    def __init__(
        self,
        reader: VideoReader,
        fields: np.ndarray,
        spec: FlowPreset | RgbFlowPreset,
        method: FlowMethod,
        *,
        batch_size: int = 8,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        self.reader = reader
        self.fields = np.asarray(fields, dtype=np.int64)
        self.spec = spec
        self.flow_spec = spec.flow if isinstance(spec, RgbFlowPreset) else spec
        self.method = method
        self.batch_size = batch_size
        self._fields = _Buffer()
        self._frames = _Buffer()
        self._peak = 0

    @property
    def peak_frames(self) -> int:
        """The most fields and frames held at once so far."""
        return self._peak

    def __iter__(self) -> Iterator[tuple[np.ndarray, ModelInput]]:
        fields, length = self.fields, self.flow_spec.length
        rgb_spec = self.spec.rgb if isinstance(self.spec, RgbFlowPreset) else None
        starts = fields.reshape(len(fields), -1, length)[..., 0]  # [W, S]: the RGB frame of each segment
        num_frames = len(self.reader)
        window_of = np.repeat(np.arange(len(fields)), fields.shape[1])
        field_last_use = np.full(num_frames, -1, dtype=np.int64)  # [N] the last window of each field
        np.maximum.at(field_last_use, fields.ravel(), window_of)
        frame_last_use = np.full(num_frames, -1, dtype=np.int64)  # [N] ... of each RGB frame
        if rgb_spec is not None:
            np.maximum.at(frame_last_use, starts.ravel(), np.repeat(np.arange(len(fields)), starts.shape[1]))
        needed_fields = np.flatnonzero(field_last_use >= 0)
        needed = np.union1d(np.union1d(needed_fields, needed_fields + 1), np.flatnonzero(frame_last_use >= 0))
        to_flow = self.flow_spec.eval_transform()  # uint8 [1, H, W, 2] -> [2, 1, crop, crop]
        to_rgb = rgb_spec.eval_transform() if rgb_spec is not None else None
        bound = self.flow_spec.bound
        last_field = fields.max(axis=1)  # a window is ready once this field (so its second frame) is in

        def batch(windows: list[int]) -> ModelInput:
            try:
                flow = torch.stack(
                    [torch.cat([self._fields.items[int(i)] for i in fields[w]], dim=1) for w in windows]
                )
                if to_rgb is None:
                    return flow  # [B, 2, S*L, crop, crop]
                rgb = torch.stack(
                    [torch.cat([self._frames.items[int(i)] for i in starts[w]], dim=1) for w in windows]
                )
            except KeyError as e:  # a frame the decoder never delivered
                reason = f"frame {e.args[0]} or the next could not be decoded (corrupt or truncated data)"
                raise VideoError(self.reader.path, reason) from None
            return {"video": rgb, "flow": flow}  # [B, 3, S, crop, crop], [B, 2, S*L, crop, crop]

        ready: list[int] = []
        next_window = yielded = 0
        previous: tuple[int, np.ndarray] | None = None
        for index, _, frame in self.reader.iter_frames(positions=needed):
            current = frame.numpy()
            if previous is not None and previous[0] == index - 1 and field_last_use[index - 1] >= 0:
                code = quantize(self.method(previous[1], current), bound)  # uint8 [H, W, 2]
                self._fields.items[index - 1] = to_flow(torch.from_numpy(code)[None])  # [2, 1, crop, crop]
            if to_rgb is not None and frame_last_use[index] >= 0:
                self._frames.items[index] = to_rgb(frame[None])  # [3, 1, crop, crop]
            self._peak = max(self._peak, len(self._fields.items) + len(self._frames.items))
            previous = (index, current)
            while next_window < len(fields) and last_field[next_window] < index:
                ready.append(next_window)
                next_window += 1
            if len(ready) == self.batch_size or (ready and next_window == len(fields)):
                yield np.array(ready, dtype=np.int64), batch(ready)
                yielded += len(ready)
                self._fields.drop_until(field_last_use, ready[-1])
                self._frames.drop_until(frame_last_use, ready[-1])
                ready = []
        if yielded < len(fields):
            reason = f"decoding stopped before frame {needed.max()} (corrupt or truncated data)"
            raise VideoError(self.reader.path, reason)


class _FlowModalityBase(Modality):
    """What both modalities share: flow computed while decoding, windows of S snippets of L fields."""

    def default_sampling(self, spec: Any) -> str:
        return "uniform"

    @contextmanager
    def windows(
        self,
        predictor: Predictor,
        video: str | os.PathLike,
        *,
        window: float,
        stride: float,
        unit: Unit = "seconds",
        sampling: str | None = None,
        batch_size: int = 8,
        progress: bool = False,
        **options: Any,
    ) -> Iterator[Windows]:
        if options:
            given = ", ".join(f"--{name.replace('_', '-')}" for name in options)
            raise ConfigError(f"{given}: not an option of {self.name} models ({predictor.name})")
        if sampling not in (None, "uniform"):
            raise ConfigError(
                f"sampling {sampling!r}: {self.name} models take S snippets spread over each window ('uniform')"
            )
        spec: FlowPreset | RgbFlowPreset = predictor.spec  # type: ignore[assignment]
        flow_spec = spec.flow if isinstance(spec, RgbFlowPreset) else spec
        method = get_flow_method(flow_spec.method)
        with VideoReader(video, short_side=flow_spec.flow_size) as reader:
            times = reader.timestamps()
            if times.size < 2:
                raise VideoError(reader.path, f"has {times.size} frame: optical flow needs two")
            bounds = unit_bounds(times, window, stride, unit)
            fields = np.stack(
                [window_fields(times, start, end, flow_spec) for start, end in bounds]
            )  # [W, S*L]
            stream = FlowWindowStream(reader, fields, spec, method, batch_size=batch_size)
            yield Windows(
                bounds=bounds,
                batches=stream,
                info={"times": times, "fields": fields},
                peak=lambda: stream.peak_frames,
            )


@register_modality
class FlowModality(_FlowModalityBase):
    """Flow clips [B, 2, S*L, crop, crop] of a video's windows, computed as the :class:`FlowPreset` says."""

    name = "flow"


@register_modality
class RgbFlowModality(_FlowModalityBase):
    """``{"video": [B, 3, S, crop, crop], "flow": [B, 2, S*L, crop, crop]}`` of a video's windows, in lock-step
    as the :class:`RgbFlowPreset` says."""

    name = "rgb+flow"
