"""What happens in a video: top-k labels for the whole video and a timeline of windows (``vidact predict``).

    >>> predictor = load_predictor("runs/ucf101_simple3d")                       # a vidact run or checkpoint
    >>> predictor = load_predictor("r2plus1d_18.kinetics400")                    # published weights by name
    >>> predictor = load_predictor("r2plus1d_18", weights="r2plus1d_18-91a641e6.pth")  # a file of them
    >>> prediction = predict_video(predictor, "video.mp4", window=2.0, stride=1.0)
    >>> prediction.top(5)                                                         # [("arm wrestling", 0.91), ...]
    >>> save_json(prediction, "prediction.json")

**Models.** Whatever the model string names is loaded by :func:`vidact.engine.load.load_model`: a vidact run or
checkpoint brings its classes and the input spec stored with it; published weights by name
(``r2plus1d_18.kinetics400``, :mod:`vidact.models.hub`) bring their class names and their spec. A file of weights
goes with a registered model name: the model is built with the class count of the file's classifier (class names
from a label file, else ``class_0`` ...), the weights are converted from their layout, and the input is the model
card's (:meth:`~vidact.models.registry.ModelCard.default_preset`).

**Modalities.** The input spec's ``modality`` picks how a video becomes model inputs (:mod:`vidact.infer.base`):
``video`` models read clips (:mod:`vidact.infer.video`), ``skeleton`` models the joints of a pose extracted first
(:mod:`vidact.infer.skeleton`).

**Timeline.** Windows of ``window`` seconds start every ``stride`` seconds from 0, as many as fit in the video; if
frames remain after the last one, one more window ends at the video's end, so every frame is in some window. A
video shorter than a window is a single window. A frame belongs to a window when its presentation time ``t``
satisfies ``start <= t < end``.

**Sampling in a window.** See :mod:`vidact.infer.video` (``stride`` or ``uniform``).

**Scores.** Each window's input, made as the model expects, gives softmax class probabilities; the whole video's
scores are the mean over windows. A per-frame model also gives the probabilities of every frame it sees
(``frame_scores=True``), for the "flicker" chart of :func:`vidact.infer.plot.plot_timeline`.

**Features.** :func:`window_features` runs the same windows through ``forward_head(forward_features(x),
pre_logits=True)``: one pooled feature per window, what temporal action detection consumes.

**Memory.** The video is decoded once, in order (``VideoReader.iter_frames``). A frame is kept, already cropped,
only while a window that needs it waits to be scored, so what is held is the frames of a few windows whatever the
video's length; :attr:`Prediction.peak_frames` reports the most held at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..data.datasets import read_class_names
from ..data.sampling import Sampling
from ..engine.fast import prepare_for_inference, resolve_inference_precision
from ..engine.load import load_model
from ..errors import ConfigError
from ..models.loaded import LoadedModel
from .base import Prediction, Predictor, Unit, modality_of, save_json, to_device

__all__ = [
    "Sampling",
    "Predictor",
    "Prediction",
    "WindowFeatures",
    "load_predictor",
    "predictor_of",
    "predict_video",
    "window_features",
    "iter_window_features",
    "save_json",
]


# -- models --------------------------------------------------------------------------------------------------
def load_predictor(
    model: str | os.PathLike,
    *,
    weights: str | os.PathLike | None = None,
    weights_layout: str | None = None,
    labels: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    precision: str = "32",
    progress: bool = True,
) -> Predictor:
    """A model ready to score videos, from one of:

    - a vidact run directory or checkpoint (``model`` alone): its stored input spec says how inputs are made;
    - published weights by name, ``<model>.<tag>`` (``vidact weights list``): downloaded into the cache on
      first use (weights shipped in a package, such as ``per_frame_efficientnet_lite0.imagenet``, need none);
      their spec and class names come with them;
    - a registered model name with a ``weights`` file of it: the class count is read from the file, the key
      layout found by trying vidact's and the model's published ones (or given as ``weights_layout``), the
      input is the model card's.

    Args:
        labels: class names for the weights (one a line, or JSON; see
            :func:`~vidact.data.datasets.read_class_names`); default: the published weights' own, else
            ``class_0``, ``class_1``, ...
        device: where the model runs.
        precision: ``"auto"``: the fast path (:mod:`vidact.engine.fast`: BatchNorm folded, channels-last,
            bf16 with the sensitive layers in float32) where the hardware computes bf16 natively, else float32;
            ``"32"``: the eager float32 model; ``"bf16"``: the fast path whatever the hardware.
        progress: a progress bar while downloading.

    Raises:
        CheckpointError: the checkpoint or weights file is missing, unreadable or does not fit the model, or
            published weights that cannot be downloaded.
        ConfigError: an unknown model, weights name or layout, a label map whose length is not the model's
            number of classes, or options that do not go together.
    """
    if labels is not None and weights is None and os.path.exists(model):
        raise ConfigError("--labels goes with --weights FILE or published weights")
    loaded = load_model(model, weights=weights, weights_layout=weights_layout, progress=progress)
    if labels is not None:
        classes = read_class_names(labels)
        if len(classes) != len(loaded.classes):
            raise ConfigError(
                f"{labels}: {len(classes)} class names for weights with {len(loaded.classes)} classes"
            )
        loaded = loaded.with_classes(classes)
    return predictor_of(loaded, device=device, precision=precision)


def predictor_of(
    loaded: LoadedModel, *, device: str | torch.device = "cpu", precision: str = "32"
) -> Predictor:
    """A :class:`Predictor` of a loaded model on ``device``, the fast path applied where ``precision`` says
    (see :func:`load_predictor`)."""
    device = torch.device(device)
    resolved = resolve_inference_precision(precision, device)
    return Predictor(
        model=prepare_for_inference(loaded.module, resolved, device),  # "32": the eager model on the device
        name=loaded.name,
        source=loaded.source,
        classes=list(loaded.classes),
        spec=loaded.spec,
        device=device,
        precision=resolved,
    )


# -- prediction ----------------------------------------------------------------------------------------------
def predict_video(
    predictor: Predictor,
    video: str | os.PathLike,
    *,
    window: float = 2.0,
    stride: float = 1.0,
    sampling: Sampling | None = None,
    batch_size: int = 8,
    frame_scores: bool = False,
    **options: Any,
) -> Prediction:
    """Score a video window by window (see the module docstring), as the predictor's modality does it: video
    models stream the frames once; skeleton models extract the pose first
    (:func:`vidact.infer.skeleton.predict_skeleton`, whose options — ``pose=`` a record made beforehand — pass
    through ``options``).

    Args:
        predictor: from :func:`load_predictor`.
        video: a video file, GIF or frame folder.
        window, stride: window length and the step between window starts, in seconds.
        sampling: video models: ``"stride"`` (the model's clip, centred on the window) or ``"uniform"`` (spread
            over it); default ``"uniform"`` for a model trained on TSN segments, else ``"stride"``.
        batch_size: windows per forward pass.
        frame_scores: also keep per-frame probabilities (per-frame models only), for the flicker chart.
        options: options of the modality (skeleton: ``pose``, ``short_side``, ``progress``).

    Raises:
        VideoError: the video is missing, empty, corrupt, truncated or has no video stream.
        ConfigError: a non-positive window or stride, an unknown sampling, options the modality does not take.
    """
    return modality_of(predictor).predict(
        predictor,
        video,
        window=window,
        stride=stride,
        sampling=sampling,
        batch_size=batch_size,
        frame_scores=frame_scores,
        **options,
    )


# -- features ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WindowFeatures:
    """The features of a video's windows.

    Attributes:
        features: [W, D] float32, one pooled feature per window (D = the model's pre-logits width).
        windows: [W, 2] float64 ``(start, end)`` of each window, in seconds.
    """

    features: np.ndarray
    windows: np.ndarray


def iter_window_features(
    predictor: Predictor,
    video: str | os.PathLike,
    *,
    window: float = 2.0,
    stride: float = 1.0,
    unit: Unit = "seconds",
    sampling: Sampling | None = None,
    batch_size: int = 8,
    **options: Any,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """:func:`window_features` batch by batch, for writers that store as they go: yields ``(features [B, D]
    float32, windows [B, 2] float64 seconds)`` of consecutive windows, from one decode of the video."""
    model = predictor.model
    with modality_of(predictor).windows(
        predictor,
        video,
        window=window,
        stride=stride,
        unit=unit,
        sampling=sampling,
        batch_size=batch_size,
        **options,
    ) as windows:
        for ids, x in windows:
            with torch.inference_mode():
                pooled = model.forward_head(
                    model.forward_features(to_device(x, predictor.device)), pre_logits=True
                )
            expected = len(ids) * windows.views
            if pooled.ndim != 2 or pooled.shape[0] != expected:
                raise ValueError(
                    f"model {predictor.name}: forward_head(pre_logits=True) gave shape {tuple(pooled.shape)}, "
                    f"not [{expected}, D]"
                )
            pooled = pooled.float().reshape(len(ids), windows.views, -1).mean(dim=1)  # views averaged
            yield pooled.cpu().numpy().astype(np.float32, copy=False), windows.bounds[ids]


def window_features(
    predictor: Predictor,
    video: str | os.PathLike,
    *,
    window: float = 2.0,
    stride: float = 1.0,
    unit: Unit = "seconds",
    sampling: Sampling | None = None,
    batch_size: int = 8,
    **options: Any,
) -> WindowFeatures:
    """The model's pooled pre-logits feature of every window, from one decode of the video (a skeleton model:
    of every window's joints, after one pose extraction).

    Args:
        predictor: from :func:`load_predictor`; its model follows vidact's model contract
            (``forward_features``, ``forward_head(..., pre_logits=True)`` -> [B, D]).
        video: a video file, GIF or frame folder.
        window, stride: window length and the step between window starts, in ``unit``.
        unit: ``"seconds"`` or ``"frames"`` (whole numbers).
        sampling: video models: a window's clip, ``"stride"`` or ``"uniform"``; default ``"uniform"`` for a model
            trained on TSN segments, else ``"stride"``.
        batch_size: windows per forward pass.
        options: options of the modality (skeleton: ``pose``, ``short_side``).

    Raises:
        VideoError: the video is missing, empty, corrupt, truncated or has no video stream.
        ConfigError: a non-positive window or stride, an unknown unit or sampling.
    """
    chunks, bounds = [], []
    for features, windows in iter_window_features(
        predictor,
        video,
        window=window,
        stride=stride,
        unit=unit,
        sampling=sampling,
        batch_size=batch_size,
        **options,
    ):
        chunks.append(features)
        bounds.append(windows)
    return WindowFeatures(np.concatenate(chunks), np.concatenate(bounds))
