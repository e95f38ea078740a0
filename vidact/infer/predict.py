"""What happens in a video: top-k labels for the whole video and a timeline of windows (``vidact predict``).

    >>> predictor = load_predictor("runs/ucf101_simple3d")                       # a vidact run or checkpoint
    >>> predictor = load_predictor("r2plus1d_18", weights="r2plus1d_18-91a641e6.pth", labels="kinetics400.txt")
    >>> prediction = predict_video(predictor, "video.mp4", window=2.0, stride=1.0)
    >>> prediction.top(5)                                                         # [("arm wrestling", 0.91), ...]
    >>> save_json(prediction, "prediction.json")

**Models.** A vidact run or checkpoint brings its classes and its training recipe's input (clip length, stride,
sizes, normalisation). Published weights go with a registered model name: the model is built with its card's
number of classes (class names from a label file, else ``class_0`` ...), the weights are converted from their
layout (:data:`vidact.models.converters.CONVERTERS`), and the input follows the model card (:meth:`InputSpec.from_card`).

**Timeline.** Windows of ``window`` seconds start every ``stride`` seconds from 0, as many as fit in the video; if
frames remain after the last one, one more window ends at the video's end, so every frame is in some window. A
video shorter than a window is a single window. A frame belongs to a window when its presentation time ``t``
satisfies ``start <= t < end``.

**Sampling in a window.** ``sampling="stride"`` takes the model's own clip, ``clip_len`` frames every ``stride``-th
frame (the frame rate the model was trained at), centred on the window; a clip longer than the window reaches
beyond it, clamped to the video. ``sampling="uniform"`` spreads ``clip_len`` frames over the window, the centre
frame of each of ``clip_len`` equal parts (TSN's test sampling), whatever the window's length. The default is
``"uniform"`` for models trained on TSN segments (``data.sampler: segments``) and ``"stride"`` for the others.

**Scores.** Each window's clip, resized, centre-cropped and normalised as the model expects, gives softmax class
probabilities; the whole video's scores are the mean over windows. A per-frame model
(:class:`~vidact.models.per_frame.PerFrameClassifier`) also gives the probabilities of every frame it sees
(``frame_scores=True``), for the "flicker" chart of :func:`vidact.infer.plot.plot_timeline`.

**Memory.** The video is decoded once, in order (``VideoReader.iter_frames``). A frame is kept, already cropped,
only while a window that needs it waits to be scored, so what is held is the frames of a few windows whatever the
video's length; :attr:`Prediction.peak_frames` reports the most held at once.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from ..data.datasets import read_class_names
from ..data.sampling import segment_indices
from ..engine.checkpoint import load_model
from ..engine.evaluate import InputSpec, write_json
from ..errors import ConfigError
from ..io import VideoReader
from ..models import build_model, get_builder, list_models, model_card
from ..models.converters import WEIGHT_LAYOUTS, get_converter
from ..models.per_frame import PerFrameClassifier, frame_consensus
from ..models.registry import ModelCard
from ..models.weights import load_weights
from .windows import WindowStream

__all__ = [
    "Sampling",
    "WEIGHT_LAYOUTS",
    "Predictor",
    "Prediction",
    "load_predictor",
    "window_bounds",
    "window_clip",
    "predict_video",
    "save_json",
]

Sampling = Literal["stride", "uniform"]

_TIME_EPS = 1e-6  # seconds: presentation times within this of a window's edge count as on the edge


# -- models --------------------------------------------------------------------------------------------------
@dataclass
class Predictor:
    """A model ready to score clips, with its class names and the input it expects.

    Attributes:
        model: clips [B, 3, T, H, W] -> logits [B, K], in eval mode on ``device``.
        name: the registered model name.
        source: the checkpoint or weights file it was loaded from.
        classes: K class names.
        spec: how its clips are made (:class:`~vidact.engine.evaluate.InputSpec`).
        device: where it runs.
    """

    model: nn.Module
    name: str
    source: str
    classes: list[str]
    spec: InputSpec
    device: torch.device


def load_predictor(
    model: str | os.PathLike,
    *,
    weights: str | os.PathLike | None = None,
    weights_layout: str | None = None,
    labels: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
) -> Predictor:
    """A vidact run or checkpoint (``model`` alone), or a registered model with published ``weights``.

    Args:
        model: a run directory or checkpoint file; with ``weights``, a registered model name (``vidact models``).
        weights: a state_dict file of the model (its card's number of classes).
        weights_layout: the file's key layout, one of :data:`WEIGHT_LAYOUTS`; default: the layout of the first
            published weights on the model card, else ``"vidact"``.
        labels: a label map of the weights' classes (one name a line, or JSON; see
            :func:`~vidact.data.datasets.read_class_names`); default ``class_0``, ``class_1``, ...
        device: where the model runs.

    Raises:
        CheckpointError: the checkpoint or weights file is missing, unreadable or does not fit the model.
        ConfigError: an unknown model or layout, a layout the family has no converter for, a label map whose
            length is not the model's number of classes, or options that need ``weights`` without it.
    """
    device = torch.device(device)
    if weights is None:
        if weights_layout is not None or labels is not None:
            raise ConfigError("--weights-layout and --labels go with --weights (published weights)")
        if not Path(model).exists() and str(model) in list_models():
            raise ConfigError(f"model {str(model)!r} needs --weights FILE: vidact never downloads weights")
        net, info = load_model(model)
        spec = InputSpec.from_config(info.config)
        return Predictor(net.to(device), info.model_name, str(info.path), info.classes, spec, device)

    name = str(model)
    get_builder(name)  # ConfigError naming close matches for an unknown model
    card = _card_or_none(name)
    if card is None:
        raise ConfigError(f"model {name!r} has no model card, so its input and classes are unknown")
    layout = weights_layout or _default_layout(card)
    converter = get_converter(card.family, layout, model=name)
    num_classes = card.default_num_classes
    if labels is not None:
        classes = read_class_names(labels)
        if len(classes) != num_classes:
            raise ConfigError(f"{labels}: {len(classes)} class names for a model with {num_classes} classes")
    else:
        classes = [f"class_{i}" for i in range(num_classes)]
    net = build_model(name, num_classes=num_classes)
    load_weights(net, weights, converter=converter)
    return Predictor(
        net.eval().to(device), name, os.fspath(weights), classes, InputSpec.from_card(card), device
    )


def _card_or_none(name: str) -> ModelCard | None:
    try:
        return model_card(name)
    except KeyError:
        return None


def _default_layout(card: ModelCard) -> str:
    for published in card.weights:
        if published.layout in WEIGHT_LAYOUTS:
            return published.layout
    return "vidact"


# -- windows -------------------------------------------------------------------------------------------------
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


def window_clip(
    frame_times: np.ndarray, start: float, end: float, spec: InputSpec, sampling: Sampling = "stride"
) -> np.ndarray:
    """The frames a window's clip takes: [clip_len] int64 display-order indices, sorted.

    Args:
        frame_times: [N] presentation times in seconds, increasing.
        start, end: the window, in seconds.
        spec: the model's clip length and stride.
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
        clip_start = first + (count - spec.span) // 2
        return np.clip(clip_start + np.arange(spec.clip_len) * spec.stride, 0, t.size - 1)
    raise ConfigError(f"unknown sampling {sampling!r}; choose from 'stride', 'uniform'")


# -- prediction ----------------------------------------------------------------------------------------------
@dataclass
class Prediction:
    """What :func:`predict_video` saw in a video.

    Attributes:
        video: the video's path.
        model: the model's name.
        classes: K class names.
        windows: [W, 2] ``(start, end)`` of each window, in seconds.
        window_scores: [W, K] float32 class probabilities of each window.
        scores: [K] float32 the whole video's: the mean of ``window_scores``.
        frame_times: [F] seconds of each frame a per-frame model scored (``frame_scores=True``), else ``None``.
        frame_scores: [F, K] float32 their class probabilities, else ``None``.
        peak_frames: the most decoded frames held at once.
    """

    video: str
    model: str
    classes: list[str]
    windows: np.ndarray
    window_scores: np.ndarray
    scores: np.ndarray
    frame_times: np.ndarray | None
    frame_scores: np.ndarray | None
    peak_frames: int

    def top(self, k: int = 5, scores: np.ndarray | None = None) -> list[tuple[str, float]]:
        """The ``k`` best ``(label, score)`` of ``scores`` [K] (default: the whole video's), best first."""
        scores = self.scores if scores is None else scores
        order = np.argsort(-scores, kind="stable")[: max(1, min(k, len(self.classes)))]
        return [(self.classes[i], float(scores[i])) for i in order]

    def to_json(self, top: int = 5) -> dict[str, Any]:
        """``{"video", "model", "top": [{"label", "score"}], "timeline": [{"start", "end", "top": [...]}]}``."""

        def labelled(pairs: list[tuple[str, float]]) -> list[dict[str, Any]]:
            return [{"label": label, "score": score} for label, score in pairs]

        return {
            "video": self.video,
            "model": self.model,
            "top": labelled(self.top(top)),
            "timeline": [
                {"start": float(start), "end": float(end), "top": labelled(self.top(top, scores))}
                for (start, end), scores in zip(self.windows, self.window_scores, strict=True)
            ],
        }


def save_json(prediction: Prediction, path: str | os.PathLike, top: int = 5) -> None:
    """Write :meth:`Prediction.to_json` to ``path`` atomically (temporary file, then rename)."""
    write_json(prediction.to_json(top), path)


def predict_video(
    predictor: Predictor,
    video: str | os.PathLike,
    *,
    window: float = 2.0,
    stride: float = 1.0,
    sampling: Sampling | None = None,
    batch_size: int = 8,
    frame_scores: bool = False,
) -> Prediction:
    """Score a video window by window, streaming its frames once (see the module docstring).

    Args:
        predictor: from :func:`load_predictor`.
        video: a video file, GIF or frame folder.
        window, stride: window length and the step between window starts, in seconds.
        sampling: ``"stride"`` (the model's clip, centred on the window) or ``"uniform"`` (spread over it);
            default ``"uniform"`` for a model trained on TSN segments, else ``"stride"``.
        batch_size: windows per forward pass.
        frame_scores: also keep per-frame probabilities (per-frame models only), for the flicker chart.

    Raises:
        VideoError: the video is missing, empty, corrupt, truncated or has no video stream.
        ConfigError: a non-positive window or stride, or an unknown sampling.
    """
    spec = predictor.spec
    sampling = sampling or ("uniform" if spec.segments else "stride")
    per_frame = isinstance(predictor.model, PerFrameClassifier)
    with VideoReader(video, short_side=spec.short_side) as reader:
        times = reader.timestamps()
        bounds = window_bounds(times, window, stride)
        clips = np.stack([window_clip(times, start, end, spec, sampling) for start, end in bounds])  # [W, T]
        stream = WindowStream(reader, clips, spec, batch_size=batch_size)
        window_scores: list[np.ndarray] = []
        frame_probs: dict[int, np.ndarray] = {}
        for windows, x in stream:
            x = x.to(predictor.device)  # [B, 3, T, h, w]
            with torch.inference_mode():
                if per_frame:
                    frame_logits = predictor.model.forward_frames(x)  # [B, T, K]
                    logits = frame_consensus(frame_logits, predictor.model.consensus)
                    if frame_scores:
                        probs = frame_logits.float().softmax(dim=-1).cpu().numpy()
                        for w, frames_probs in zip(windows, probs, strict=True):
                            for i, p in zip(clips[w], frames_probs, strict=True):
                                frame_probs.setdefault(int(i), p)
                else:
                    logits = predictor.model(x)
            window_scores.extend(logits.float().softmax(dim=-1).cpu().numpy())

    window_array = np.stack(window_scores).astype(np.float32)
    frame_indices = np.array(sorted(frame_probs), dtype=np.int64)
    keep_frames = per_frame and frame_scores
    return Prediction(
        video=os.fspath(video),
        model=predictor.name,
        classes=list(predictor.classes),
        windows=bounds,
        window_scores=window_array,
        scores=window_array.mean(axis=0),
        frame_times=times[frame_indices] if keep_frames else None,
        frame_scores=np.stack([frame_probs[i] for i in frame_indices]) if keep_frames else None,
        peak_frames=stream.peak_frames,
    )
