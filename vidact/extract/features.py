"""The ``features`` kind: a recognition model's pooled features over sliding windows, what temporal action
detection consumes.

    >>> predictor = load_predictor("runs/s3d")
    >>> f = window_features(predictor, "video.mp4", window=16, stride=8, unit="frames")
    >>> f.features.shape, f.windows.shape                    # (W, D) float32, (W, 2) seconds
    >>> extractor = build_extractor("features", model="runs/s3d", window_frames=16, stride_frames=8)
    >>> extract(extractor, "videos/", "features/", workers=2)  # videos/a/v1.mp4 -> features/a/v1.features.npy

Windows are those of ``vidact predict`` (:func:`~vidact.data.sampling.window_bounds`; in frames,
:func:`~vidact.data.sampling.frame_window_bounds`), each window's clip taken the same way (the model's own clip
centred on the window, or spread over it for TSN-trained models) and streamed from one decode of the video
(:class:`~vidact.infer.windows.WindowStream`). A window's feature is the model's pooled pre-logits feature of its
clip, ``model.forward_head(model.forward_features(x), pre_logits=True)``: [num_features] per window. Per video the
runner writes ``<video>.features.npy`` ([W, D] float32) and ``<video>.timestamps.npy`` ([W, 2] float64: each
window's start and end in seconds).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from ..data.sampling import Sampling, frame_window_bounds, window_bounds, window_clip
from ..errors import ConfigError
from ..infer.predict import Predictor, load_predictor
from ..infer.windows import WindowStream
from ..io import VideoReader
from .base import register_extractor, video_digest

__all__ = ["WindowFeatures", "window_features", "FeatureExtractor", "feature_extractor"]

Unit = Literal["seconds", "frames"]


@dataclass(frozen=True)
class WindowFeatures:
    """The features of a video's windows.

    Attributes:
        features: [W, D] float32, one pooled feature per window (D = ``model.num_features``).
        windows: [W, 2] float64 ``(start, end)`` of each window, in seconds.
    """

    features: np.ndarray
    windows: np.ndarray


def window_features(
    predictor: Predictor,
    video: str | os.PathLike,
    *,
    window: float = 2.0,
    stride: float = 1.0,
    unit: Unit = "seconds",
    sampling: Sampling | None = None,
    batch_size: int = 8,
) -> WindowFeatures:
    """The model's pooled pre-logits feature of every window's clip, decoding the video once.

    Args:
        predictor: from :func:`~vidact.infer.predict.load_predictor`; its model follows vidact's model contract
            (``forward_features``, ``forward_head(..., pre_logits=True)`` -> [B, D]).
        video: a video file, GIF or frame folder.
        window, stride: window length and the step between window starts, in ``unit``.
        unit: ``"seconds"`` or ``"frames"`` (whole numbers).
        sampling: a window's clip, ``"stride"`` or ``"uniform"``; default ``"uniform"`` for a model trained on TSN
            segments, else ``"stride"``.
        batch_size: windows per forward pass.

    Raises:
        VideoError: the video is missing, empty, corrupt, truncated or has no video stream.
        ConfigError: a non-positive window or stride, an unknown unit or sampling.
    """
    preset = predictor.preset
    model = predictor.model
    sampling = sampling or ("uniform" if preset.segments else "stride")
    chunks: list[np.ndarray] = []
    with VideoReader(video, short_side=preset.decode_short_side) as reader:
        times = reader.timestamps()
        if unit == "seconds":
            bounds = window_bounds(times, window, stride)
        elif unit == "frames":
            bounds = frame_window_bounds(times, int(window), int(stride))
        else:
            raise ConfigError(f"unknown window unit {unit!r}; choose from 'seconds', 'frames'")
        clips = np.stack([window_clip(times, start, end, preset, sampling) for start, end in bounds])  # [W, T]
        for _, x in WindowStream(reader, clips, preset, batch_size=batch_size):
            with torch.inference_mode():
                pooled = model.forward_head(model.forward_features(x.to(predictor.device)), pre_logits=True)
            if pooled.ndim != 2 or pooled.shape[0] != x.shape[0]:
                raise ValueError(
                    f"model {predictor.name}: forward_head(pre_logits=True) gave shape {tuple(pooled.shape)}, "
                    f"not [{x.shape[0]}, D]"
                )
            chunks.append(pooled.float().cpu().numpy())
    return WindowFeatures(np.concatenate(chunks).astype(np.float32, copy=False), bounds)


@dataclass
class FeatureExtractor:
    """The ``features`` kind for the runner: :func:`window_features` of each video, its model loaded on first use.

    Build it with :func:`feature_extractor` (``build_extractor("features", ...)``), which checks the options and
    the model once. Its parameters name the model by content (the sha256 of its checkpoint or weights file), so
    retraining into the same run folder recomputes, and moving the folder does not.

    Attributes:
        model, weights, weights_layout: what :func:`~vidact.infer.predict.load_predictor` takes.
        window, stride, unit: the windows (see :func:`window_features`).
        sampling: a window's clip, ``None`` for the model's default.
        batch_size: windows per forward pass.
        device: where the model runs.
    """

    name: ClassVar[str] = "features"

    model: str
    weights: str | None = None
    weights_layout: str | None = None
    window: float = 2.0
    stride: float = 1.0
    unit: Unit = "seconds"
    sampling: Sampling | None = None
    batch_size: int = 8
    device: str = "cpu"
    _predictor: Predictor | None = field(default=None, init=False, repr=False, compare=False)
    _params: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def predictor(self) -> Predictor:
        """The loaded model (loaded once per process)."""
        if self._predictor is None:
            self._predictor = load_predictor(
                self.model, weights=self.weights, weights_layout=self.weights_layout, device=self.device
            )
        return self._predictor

    def params(self) -> dict[str, Any]:
        if self._params is None:
            predictor = self.predictor
            preset = predictor.preset
            self._params = {
                "model": predictor.name,
                "model_sha256": video_digest(predictor.source),
                "input": preset.to_dict(),
                "window": self.window,
                "stride": self.stride,
                "unit": self.unit,
                "sampling": self.sampling or ("uniform" if preset.segments else "stride"),
                "feature": "forward_head(forward_features(x), pre_logits=True)",
            }
        return self._params

    def __call__(self, video: str) -> dict[str, np.ndarray]:
        """``{"features": [W, D] float32, "timestamps": [W, 2] float64 seconds}``."""
        f = window_features(
            self.predictor,
            video,
            window=self.window,
            stride=self.stride,
            unit=self.unit,
            sampling=self.sampling,
            batch_size=self.batch_size,
        )
        return {"features": f.features, "timestamps": f.windows}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_predictor"] = None  # each process loads its own
        return state


@register_extractor("features")
def feature_extractor(
    model: str | os.PathLike,
    weights: str | os.PathLike | None = None,
    weights_layout: str | None = None,
    window: float | None = None,
    stride: float | None = None,
    window_frames: int | None = None,
    stride_frames: int | None = None,
    sampling: Sampling | None = None,
    batch_size: int = 8,
    device: str = "cpu",
) -> FeatureExtractor:
    """The ``features`` extractor, its model loaded (and so checked) here.

    Args:
        model: a vidact run folder or checkpoint; or a registered model name with ``weights``.
        weights, weights_layout: published weights of the model name (see ``vidact predict``).
        window, stride: windows in seconds (default 2 s; the stride defaults to half the window).
        window_frames, stride_frames: or in frames (the stride defaults to half the window, at least 1).
        sampling: a window's clip, ``"stride"`` or ``"uniform"`` (default: the model's).
        batch_size: windows per forward pass.
        device: where the model runs.

    Raises:
        ConfigError: windows in both units, a non-positive window or stride, an unknown model or sampling.
        CheckpointError: the checkpoint or weights cannot be read or do not fit the model.
    """
    if (window is not None or stride is not None) and (
        window_frames is not None or stride_frames is not None
    ):
        raise ConfigError(
            "give the window in seconds (window, stride) or in frames (window_frames, stride_frames)"
        )
    if window_frames is not None or stride_frames is not None:
        if window_frames is None:
            raise ConfigError("stride_frames needs window_frames")
        if int(window_frames) != window_frames or (
            stride_frames is not None and int(stride_frames) != stride_frames
        ):
            raise ConfigError("window_frames and stride_frames are whole numbers of frames")
        length = int(window_frames)
        step = int(stride_frames) if stride_frames is not None else max(1, length // 2)
        if length < 1 or step < 1:
            raise ConfigError(f"window_frames and stride_frames must be at least 1, got {length} and {step}")
        length_value, step_value, unit = float(length), float(step), "frames"
    else:
        length_value = 2.0 if window is None else float(window)
        step_value = length_value / 2 if stride is None else float(stride)
        if not length_value > 0 or not step_value > 0:
            raise ConfigError(
                f"window and stride must be positive, got {length_value} and {step_value} seconds"
            )
        unit = "seconds"
    if sampling not in (None, "stride", "uniform"):
        raise ConfigError(f"unknown sampling {sampling!r}; choose from 'stride', 'uniform'")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
    extractor = FeatureExtractor(
        model=os.fspath(model),
        weights=None if weights is None else os.fspath(weights),
        weights_layout=weights_layout,
        window=length_value,
        stride=step_value,
        unit=unit,  # type: ignore[arg-type]
        sampling=sampling,
        batch_size=batch_size,
        device=device,
    )
    extractor.params()  # loads the model: a bad one fails here, once, not on every video
    return extractor
