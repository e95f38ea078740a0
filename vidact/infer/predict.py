"""What happens in a video: top-k labels for the whole video and a timeline of windows (``vidact predict``).

    >>> predictor = load_predictor("runs/ucf101_simple3d")                       # a vidact run or checkpoint
    >>> predictor = load_predictor("r2plus1d_18.kinetics400")                    # published weights by name
    >>> predictor = load_predictor("r2plus1d_18", weights="r2plus1d_18-91a641e6.pth")  # a file of them
    >>> prediction = predict_video(predictor, "video.mp4", window=2.0, stride=1.0)
    >>> prediction.top(5)                                                         # [("arm wrestling", 0.91), ...]
    >>> save_json(prediction, "prediction.json")

**Models.** A vidact run or checkpoint brings its classes and its training recipe's input (clip length, stride,
sizes, normalisation). Published weights by name (``r2plus1d_18.kinetics400``, :mod:`vidact.models.hub`) bring
their class names and their preset. A file of weights goes with a registered model name: the model is built with
the class count of the file's classifier (class names from a label file, else ``class_0`` ...), the weights are
converted from their layout (:data:`vidact.models.converters.CONVERTERS`), and the input is the model card's
(:meth:`~vidact.models.registry.ModelCard.default_preset`).

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

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.datasets import read_class_names
from ..data.presets import Preset
from ..data.sampling import Sampling, window_bounds, window_clip
from ..data.skeleton import SkeletonPreset
from ..engine.checkpoint import load_model
from ..engine.evaluate import recipe_preset, write_json
from ..errors import ConfigError
from ..io import VideoReader
from ..models import get_builder, hub, list_models, model_card
from ..models.converters import WEIGHT_LAYOUTS
from ..models.per_frame import PerFrameClassifier, frame_consensus
from ..models.registry import ModelCard
from .windows import WindowStream

__all__ = [
    "Sampling",
    "WEIGHT_LAYOUTS",
    "Predictor",
    "Prediction",
    "load_predictor",
    "predict_video",
    "save_json",
]


# -- models --------------------------------------------------------------------------------------------------
@dataclass
class Predictor:
    """A model ready to score clips, with its class names and the input it expects.

    Attributes:
        model: clips [B, 3, T, H, W] (skeleton models: joints [B, M, T, V, C]) -> logits [B, K], in eval mode
            on ``device``.
        name: the registered model name, or the published weights' name.
        source: the checkpoint or weights file it was loaded from (the first file of published weights).
        classes: K class names.
        preset: how its clips are made (:class:`~vidact.data.presets.Preset`), or its joints
            (:class:`~vidact.data.skeleton.SkeletonPreset`).
        device: where it runs.
    """

    model: nn.Module
    name: str
    source: str
    classes: list[str]
    preset: Preset | SkeletonPreset
    device: torch.device


def load_predictor(
    model: str | os.PathLike,
    *,
    weights: str | os.PathLike | None = None,
    weights_layout: str | None = None,
    labels: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> Predictor:
    """A model ready to score clips, from one of:

    - a vidact run directory or checkpoint (``model`` alone): its recipe says how clips are made;
    - published weights by name, ``<model>.<tag>`` (``vidact weights list``): downloaded into the cache on
      first use (weights shipped in a package, such as ``per_frame_efficientnet_lite0.imagenet``, need none);
      their preset and class names come with them;
    - a registered model name with a ``weights`` file of it: the class count is read from the file, the key
      layout found by trying vidact's and the model's published ones (or given as ``weights_layout``), the
      input is the model card's.

    Args:
        labels: class names for the weights (one a line, or JSON; see
            :func:`~vidact.data.datasets.read_class_names`); default: the published weights' own, else
            ``class_0``, ``class_1``, ...
        device: where the model runs.
        progress: a progress bar while downloading.

    Raises:
        CheckpointError: the checkpoint or weights file is missing, unreadable or does not fit the model, or
            published weights that cannot be downloaded.
        ConfigError: an unknown model, weights name or layout, a label map whose length is not the model's
            number of classes, or options that do not go together.
    """
    device = torch.device(device)
    name = str(model)
    if weights is None and weights_layout is not None:
        raise ConfigError("--weights-layout goes with --weights FILE")
    if weights is None and not Path(model).exists():
        if hub.is_weights_name(name):
            files = hub.fetch(name, progress=progress)
            net = hub.load_published(name, progress=progress)
            classes = _labels(labels, net.classes)
            return Predictor(net.to(device), name, os.fspath(files[0]), classes, net.preset, device)
        if name in list_models():
            tags = ", ".join(f"{name}.{w.tag}" for w in model_card(name).weights)
            choice = f"published weights by name ({tags}) or " if tags else ""
            raise ConfigError(f"model {name!r} needs weights: {choice}--weights FILE")
    if weights is None:
        if labels is not None:
            raise ConfigError("--labels goes with --weights FILE or published weights")
        net, info = load_model(model)
        card = _card_or_none(info.model_name)
        if card is not None and card.modality == "skeleton":  # a skeleton run: joints, not clips
            from ..engine.tasks.skeleton import skeleton_preset

            preset = skeleton_preset(info.config)
        else:
            preset = recipe_preset(info.config)
        return Predictor(net.to(device), info.model_name, str(info.path), info.classes, preset, device)

    get_builder(name)  # ConfigError naming close matches for an unknown model
    if _card_or_none(name) is None:
        raise ConfigError(f"model {name!r} has no model card, so its input is unknown")
    net = hub.load_file(name, weights, layout=weights_layout)
    classes = _labels(labels, net.classes)
    return Predictor(net.to(device), name, os.fspath(weights), classes, net.preset, device)


def _labels(labels: str | os.PathLike | None, default: list[str]) -> list[str]:
    if labels is None:
        return list(default)
    classes = read_class_names(labels)
    if len(classes) != len(default):
        raise ConfigError(f"{labels}: {len(classes)} class names for weights with {len(default)} classes")
    return classes


def _card_or_none(name: str) -> ModelCard | None:
    try:
        return model_card(name)
    except KeyError:
        return None


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
    """Score a video window by window, streaming its frames once (see the module docstring). A skeleton model
    (its preset a :class:`~vidact.data.skeleton.SkeletonPreset`) goes to
    :func:`vidact.infer.skeleton.predict_skeleton`: pose first, then windows over the pose.

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
    preset = predictor.preset
    if isinstance(preset, SkeletonPreset):  # a skeleton model: pose first (vidact.infer.skeleton)
        from .skeleton import predict_skeleton

        if sampling is not None:
            raise ConfigError("--sampling is for video models; a skeleton model samples as its preset says")
        return predict_skeleton(predictor, video, window=window, stride=stride, batch_size=batch_size)
    sampling = sampling or ("uniform" if preset.segments else "stride")
    per_frame = isinstance(predictor.model, PerFrameClassifier)
    with VideoReader(video, short_side=preset.decode_short_side) as reader:
        times = reader.timestamps()
        bounds = window_bounds(times, window, stride)
        clips = np.stack(
            [window_clip(times, start, end, preset, sampling) for start, end in bounds]
        )  # [W, T]
        stream = WindowStream(reader, clips, preset, batch_size=batch_size)
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
