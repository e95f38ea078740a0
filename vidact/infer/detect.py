"""``vidact detect``: from a raw, untrimmed video to the actions in it, ``(start, end, label, score)`` in seconds.

    >>> detector = load_detector("runs/synthetic_actionformer")
    >>> found = detect_video(detector, "long.mp4")      # features from one streaming decode, then the detector
    >>> found.detections[0]                             # Detection(start=3.1, end=7.9, label='raising', score=0.91)
    >>> found = detect_video(detector, "long.mp4", features="features/")   # features extracted beforehand

A detection run (the ``detection`` task) stores a :class:`~vidact.data.features.FeaturesSpec` that records the
feature extractor's ``params()``: the recognition model (by name and by the sha256 of its checkpoint or weights),
the windows, their stride and the clip sampling. :func:`load_detector` finds that extractor again: published
weights by their name, a run or checkpoint named with ``features_model`` (its content must be the one the
detector was trained on: a retrained backbone gives other features, and the detector's answers would be
meaningless). The video is decoded once and its windows' features are computed batch by batch
(:func:`~vidact.infer.predict.iter_window_features`): memory stays bounded whatever the video's length, and only
the feature sequence, [W, D] floats, is held whole (an hour at a window a second of 512 floats: 7 MB).
The detector decodes in feature steps and :func:`~vidact.detect.inference.detect_features` maps its segments to
seconds through the windows' time grid (:meth:`~vidact.detect.features.TimeGrid.from_windows`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.features import FeaturesSpec
from ..detect.annotations import Detection
from ..detect.features import TimeGrid, open_features
from ..detect.inference import detect_features, nms_options
from ..engine.load import load_run
from ..engine.refs import resolve_model_ref
from ..errors import CheckpointError, ConfigError, DatasetError
from ..io import probe
from ..models.weights import sha256_of
from .predict import Predictor, load_predictor, window_features

__all__ = ["Detector", "VideoDetections", "load_detector", "detect_video", "extractor_predictor"]


@dataclass
class Detector:
    """A trained temporal action detector with what it needs to run on a video.

    Attributes:
        model: ``model(features [B, D, T], mask [B, T]) -> per-level outputs``, in eval mode.
        spec: how its feature sequences are made.
        classes: its K action classes.
        name: the registered detector name (``actionformer_tiny``).
        source: the checkpoint it was loaded from.
        options: its decoding options (the run's ``task.kwargs``: ``nms``, ``iou_threshold``, ...).
    """

    model: nn.Module
    spec: FeaturesSpec
    classes: list[str]
    name: str
    source: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class VideoDetections:
    """What :func:`detect_video` found in one video.

    Attributes:
        video: the video's path.
        duration: its length in seconds.
        detections: the detected actions, best first.
        grid: the time of each feature step.
        steps: the length of the feature sequence.
        seconds: wall time of each stage (``features``: decoding and the recognition model, 0 when read from
            a folder; ``detector``: the detector and its decoding).
        extractor: the feature extractor's name (recognition model) or the feature folder read.
    """

    video: str
    duration: float
    detections: list[Detection]
    grid: TimeGrid
    steps: int
    seconds: dict[str, float]
    extractor: str

    def to_json(self) -> dict[str, Any]:
        """``{"video", "duration", "segments": [{"start", "end", "label", "score"}], ...}`` (seconds)."""
        return {
            "video": self.video,
            "duration": self.duration,
            "segments": [
                {"start": d.start, "end": d.end, "label": d.label, "score": d.score} for d in self.detections
            ],
            "feature_steps": self.steps,
            "step_seconds": self.grid.step,
            "extractor": self.extractor,
            "seconds": self.seconds,
        }


def load_detector(model: str | os.PathLike, *, which: str = "best", device: str = "cpu") -> Detector:
    """The detector of a ``detection`` run (a run folder or one of its checkpoints), on ``device``.

    Raises:
        CheckpointError: no such run or checkpoint, or one that cannot be read.
        ConfigError: a run of another task (a recognition model is not a detector).
    """
    loaded = load_run(model, which, classifier=False)
    if not isinstance(loaded.spec, FeaturesSpec):
        raise ConfigError(
            f"{loaded.source}: a {loaded.spec.modality} model of the {loaded.task} task, not a detector: train "
            "one with the detection task (configs/synthetic_actionformer.yaml)"
        )
    options = nms_options(dict(((loaded.config or {}).get("task") or {}).get("kwargs") or {}))
    return Detector(
        model=loaded.module.to(device).eval(),
        spec=loaded.spec,
        classes=list(loaded.classes),
        name=loaded.name,
        source=loaded.source,
        options=options,
    )


def extractor_predictor(
    detector: Detector,
    features_model: str | os.PathLike | None = None,
    *,
    device: str = "cpu",
    precision: str = "auto",
) -> Predictor:
    """The recognition model whose features ``detector`` was trained on, loaded for prediction.

    Args:
        features_model: a run, checkpoint or published weights name; default the one the detector's spec
            names when that name is published weights (a run's location is not recorded, only its content).

    Raises:
        ConfigError: a detector trained on features made elsewhere (no vidact extractor to rebuild), or no
            ``features_model`` where one is needed.
        CheckpointError: a ``features_model`` whose content is not the one the detector was trained on.
    """
    params = detector.spec.extractor
    if params is None:
        raise ConfigError(
            f"{detector.source}: trained on features made elsewhere (no vidact extractor recorded): give their "
            "folder with --features"
        )
    recorded = str(params.get("model", ""))
    if features_model is None:
        try:
            kind = resolve_model_ref(recorded).kind
        except (ConfigError, CheckpointError):
            kind = None
        if kind != "weights":
            raise ConfigError(
                f"{detector.source}: its features come from a {recorded or 'vidact'} run; name that run with "
                "--features-model RUN (or give extracted features with --features DIR)"
            )
        features_model = recorded
    predictor = load_predictor(features_model, device=device, precision=precision, progress=False)
    expected = params.get("model_sha256")
    if expected and sha256_of(predictor.source) != expected:
        raise CheckpointError(
            f"{predictor.source}: not the feature extractor {detector.name} was trained on (its sha256 differs "
            f"from the recorded {str(expected)[:12]}...): a retrained model gives other features"
        )
    return predictor


def detect_video(
    detector: Detector,
    video: str | os.PathLike,
    *,
    predictor: Predictor | None = None,
    features: str | os.PathLike | None = None,
    batch_size: int = 8,
    **options: Any,
) -> VideoDetections:
    """Detect the actions in ``video``.

    Args:
        detector: from :func:`load_detector`.
        video: the video file.
        predictor: the feature extractor (:func:`extractor_predictor`); needed unless ``features`` is given.
        features: a feature folder holding this video's features (``vidact extract features`` output, or
            ``<video>.npy`` in the detector's layout), read instead of computing them.
        batch_size: windows per forward pass of the recognition model.
        options: decoding options overriding the run's (``nms``, ``iou_threshold``, ``sigma``,
            ``pre_nms_thresh``, ``min_score``, ``max_segments``, ...).

    Raises:
        VideoError: a missing, corrupt or unsupported video.
        DatasetError: a feature folder without this video, or features of another width.
        ConfigError: neither ``predictor`` nor ``features``.
    """
    metadata = probe(video)
    duration = float(metadata.duration)
    started = time.perf_counter()
    if features is not None:
        sequence, grid, what = _folder_features(detector.spec, features, Path(video))
        extracted = 0.0
    else:
        if predictor is None:
            raise ConfigError("detect_video needs the feature extractor (predictor=) or a feature folder")
        sequence, grid = _video_features(detector.spec, predictor, video, batch_size)
        what = predictor.name
        extracted = time.perf_counter() - started
    if sequence.shape[0] != detector.spec.dim:
        raise DatasetError(
            f"{what}: features of width {sequence.shape[0]}, the detector reads {detector.spec.dim}"
        )
    started = time.perf_counter()
    with torch.inference_mode():
        found = detect_features(
            detector.model,
            sequence,
            grid,
            detector.classes,
            duration=duration,
            **{**detector.options, **nms_options(options)},
        )
    return VideoDetections(
        video=str(video),
        duration=duration,
        detections=found,
        grid=grid,
        steps=int(sequence.shape[1]),
        seconds={"features": extracted, "detector": time.perf_counter() - started},
        extractor=str(what),
    )


def _video_features(
    spec: FeaturesSpec, predictor: Predictor, video: str | os.PathLike, batch_size: int
) -> tuple[np.ndarray, TimeGrid]:
    """[D, T] features of ``video``'s windows as the spec's extractor made them, and their time grid."""
    params: Mapping[str, Any] = spec.extractor or {}
    found = window_features(
        predictor,
        video,
        window=float(params.get("window", 2.0)),
        stride=float(params.get("stride", 1.0)),
        unit=params.get("unit", "seconds"),
        sampling=params.get("sampling"),
        batch_size=batch_size,
    )
    stride = float(params["stride"]) if params.get("unit", "seconds") == "seconds" else None
    grid, count = TimeGrid.from_windows(found.windows, stride=stride, where=str(video))
    return np.ascontiguousarray(found.features[:count].T), grid


def _folder_features(
    spec: FeaturesSpec, root: str | os.PathLike, video: Path
) -> tuple[np.ndarray, TimeGrid, str]:
    """[D, T] features of ``video`` read from a feature folder in the spec's layout, their grid and file name."""
    source = open_features(root, feat_stride=spec.feat_stride, num_frames=spec.num_frames, fps=spec.fps)
    name = source.find(video.stem)
    if name is None:
        raise DatasetError(f"{root}: no features of {video.name} (looked for {video.stem})")
    length, grid = source.info(name, fps=spec.fps or probe(video).fps)
    return np.ascontiguousarray(source.read(name, 0, length).T), grid, f"{root}/{name}"
