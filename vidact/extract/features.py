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
clip, ``model.forward_head(model.forward_features(x), pre_logits=True)``: [head_hidden_size] per window. Per video the
runner writes ``<video>.features.npy`` ([W, D] float32) and ``<video>.timestamps.npy`` ([W, 2] float64: each
window's start and end in seconds).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from ..data.sampling import Sampling
from ..errors import ConfigError
from ..infer.base import modality_of
from ..infer.predict import (
    Predictor,
    WindowFeatures,
    iter_window_features,
    load_predictor,
    window_features,
)
from .base import register_extractor, video_digest
from .output import VideoOutput

__all__ = ["WindowFeatures", "window_features", "FeatureExtractor", "feature_extractor"]

Unit = Literal["seconds", "frames"]


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
        precision: ``auto`` (the fast path where bf16 is native), ``32`` or ``bf16``
            (:func:`~vidact.infer.predict.load_predictor`).
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
    precision: str = "auto"
    _predictor: Predictor | None = field(default=None, init=False, repr=False, compare=False)
    _params: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def predictor(self) -> Predictor:
        """The loaded model (loaded once per process)."""
        if self._predictor is None:
            self._predictor = load_predictor(
                self.model,
                weights=self.weights,
                weights_layout=self.weights_layout,
                device=self.device,
                precision=self.precision,
            )
        return self._predictor

    def params(self) -> dict[str, Any]:
        if self._params is None:
            predictor = self.predictor
            self._params = {
                "model": predictor.name,
                "model_sha256": video_digest(predictor.source),
                "input": predictor.spec.to_dict(),
                "window": self.window,
                "stride": self.stride,
                "unit": self.unit,
                "sampling": self.sampling or modality_of(predictor).default_sampling(predictor.spec),
                "precision": predictor.precision,
                "feature": "forward_head(forward_features(x), pre_logits=True)",
            }
        return self._params

    def __call__(self, video: str, out: VideoOutput) -> None:
        """Write ``features`` ([W, D] float32) and ``timestamps`` ([W, 2] float64 seconds) batch by batch."""
        with (
            out.array("features", dtype=np.float32) as features,
            out.array("timestamps", dtype=np.float64) as times,
        ):
            for batch in self.batches(video):
                features.append(batch.features)
                times.append(batch.windows)

    def batches(self, video: str) -> Iterator[WindowFeatures]:
        """The features of ``video``'s windows, in window order, batch by batch ([B, D] and [B, 2]), from
        :func:`~vidact.infer.predict.iter_window_features` (one decode; a skeleton model: one pose
        extraction): no video's features are ever held whole."""
        for features, windows in iter_window_features(
            self.predictor,
            video,
            window=self.window,
            stride=self.stride,
            unit=self.unit,
            sampling=self.sampling,
            batch_size=self.batch_size,
        ):
            yield WindowFeatures(features, windows)

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
    precision: Literal["auto", "32", "bf16"] = "auto",
) -> FeatureExtractor:
    """A model's pooled features over sliding windows of each video (what temporal detection reads).

    The ``features`` extractor; its model is loaded (and so checked) here, once.

    Args:
        model: a vidact run folder or checkpoint; or a registered model name with ``weights``.
        weights, weights_layout: published weights of the model name (see ``vidact predict``).
        window, stride: windows in seconds (default 2 s; the stride defaults to half the window).
        window_frames, stride_frames: or in frames (the stride defaults to half the window, at least 1).
        sampling: a window's clip, ``"stride"`` or ``"uniform"`` (default: the model's; skeleton models take
            none).
        batch_size: windows per forward pass.
        device: where the model runs.
        precision: ``auto``: the inference fast path where the hardware computes bf16 natively, else
            float32; ``32``: eager float32; ``bf16``: the fast path.

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
        precision=precision,
    )
    extractor.params()  # loads the model: a bad one fails here, once, not on every video
    return extractor
