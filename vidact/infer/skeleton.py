"""What a person does in a video, through their skeleton: pose extraction, a skeleton model, top-k and a timeline
(``vidact predict VIDEO --model efficientgcn_b0.ntu60``, ``--model stgcnpp_hand.hagrid``).

    >>> predictor = load_predictor("efficientgcn_b0.ntu60")          # a skeleton model: its preset is skeletal
    >>> prediction = predict_skeleton(predictor, "drink.avi")         # MediaPipe pose, NTU-25, the model
    >>> prediction.top(5)                                             # [("drink water", 0.65), ...]
    >>> prediction.pose["keypoint_world"].shape                       # (1, T, 25, 3): what the model read

:func:`~vidact.infer.predict.predict_video` comes here when the predictor's preset is a
:class:`~vidact.data.skeleton.SkeletonPreset`, so every caller of it (the CLI, the demo) handles skeleton models.

**The pose.** The preset names the layout: ``hand21`` means MediaPipe Hands (two hand slots; see "Which hand"),
any other layout MediaPipe Pose mapped to it
(:func:`~vidact.pose.extract_pose`; NTU-25 in Kinect camera space for models trained on NTU RGB+D's
Kinect skeletons). A pose record made beforehand (``vidact extract pose``, :func:`extract_pose`) can be passed
instead; it must be in the preset's layout.

**Which hand.** A hand model (``hand21``, one slot) reads the hand that moves most in each window
(:func:`motion_energy`): a gesturing hand moves while the other rests in view; and only the frames in which
that hand was found (a hand raised for a second of a three-second window would otherwise be mostly zeros, which
the HaGRID model reads as "No Gesture").

**The joints.** ``coords`` of the preset says which of the record's coordinates the model reads: ``image01``
MediaPipe's normalised image coordinates, ``pixels`` the image coordinates, ``world`` the 3D ones (metres). The
frames are picked as in training (:func:`~vidact.data.skeleton.transforms.skeleton_input`, test mode).

**Timeline and scores.** Windows of ``window`` seconds every ``stride`` seconds over the pose's timestamps
(:func:`~vidact.data.sampling.window_bounds`); each window's frames become one input. The whole video's scores
are the model's on the whole sequence, as it was trained (one NTU sample is one action, 1 to 10 s); a sequence
longer than a ``pad`` preset's ``pad_to`` frames is scored as the mean of its windows instead.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..data.skeleton import SkeletonPreset
from ..data.skeleton.formats import Record
from ..data.skeleton.transforms import skeleton_input
from ..errors import ConfigError
from ..io import probe
from .base import (
    Modality,
    Prediction,
    Predictor,
    Unit,
    Windows,
    finish_prediction,
    register_modality,
    score_windows,
    unit_bounds,
)

__all__ = [
    "SkeletonPrediction",
    "SkeletonModality",
    "pose_options",
    "model_record",
    "motion_energy",
    "predict_skeleton",
    "read_pose",
]

#: The short side pose extraction decodes at: MediaPipe's models look at 256-pixel crops of the person, so
#: decoding a 1080p video at 540 costs a quarter of the pixels and moves landmarks by about a pixel.
POSE_SHORT_SIDE = 540


@dataclass
class SkeletonPrediction(Prediction):
    """A :class:`~vidact.infer.predict.Prediction` with the pose it was made from.

    Attributes:
        pose: the pose record (:mod:`vidact.pose`): ``keypoint`` [M, T, V, 2] pixels,
            ``keypoint_world``, ``found`` [M, T], ``timestamps`` [T], ...
        found_fraction: the fraction of frames in which a person (a hand) was found.
    """

    pose: Record = field(default_factory=dict)
    found_fraction: float = 0.0

    def to_json(self, top: int = 5) -> dict[str, Any]:
        out = super().to_json(top)
        out["pose"] = {
            "layout": self.pose.get("layout"),
            "frames": int(self.pose.get("total_frames", 0)),
            "found_fraction": round(self.found_fraction, 4),
        }
        return out


def pose_options(preset: SkeletonPreset) -> dict[str, Any]:
    """The :func:`~vidact.pose.extract_pose` options that give the joints ``preset`` reads."""
    if preset.layout == "hand21":
        return {"what": "hands", "layout": "hand21"}
    return {"what": "body", "layout": preset.layout}


def model_record(pose: Mapping[str, Any], preset: SkeletonPreset) -> Record:
    """The pose record with ``keypoint`` in the coordinates ``preset`` reads, sliced to its channels.

    ``image01`` and ``pixels`` read the image coordinates (``skeleton_input`` divides by ``img_shape``), ``world``
    reads ``keypoint_world`` [M, T, V, 3].

    Raises:
        ConfigError: a record in another layout than the preset's, or without world coordinates for ``world``.
    """
    layout = pose.get("layout")
    name = pose.get("frame_dir", "the pose")
    if layout is not None and layout != preset.layout:
        raise ConfigError(f"{name}: a pose in layout {layout}, the model reads {preset.layout}")
    record = dict(pose)
    if preset.coords == "world":
        if "keypoint_world" not in pose:
            raise ConfigError(f"{name}: the model reads 3D (world) joints and the pose has none")
        record["keypoint"] = np.asarray(pose["keypoint_world"], dtype=np.float32)[..., : preset.channels]
    else:
        record["keypoint"] = np.asarray(pose["keypoint"], dtype=np.float32)[..., : preset.channels]
    return record


def _frames(record: Mapping[str, Any], keep: np.ndarray) -> Record:
    """``record`` with only the frames ``keep`` ([T] bool) of its per-frame arrays."""
    out = dict(record)
    for key in ("keypoint", "keypoint_score", "found"):
        if key in record:
            out[key] = np.asarray(record[key])[:, keep]
    out["total_frames"] = int(keep.sum())
    return out


def motion_energy(keypoint: np.ndarray, found: np.ndarray | None = None) -> np.ndarray:
    """How much each person (hand) moves: the mean distance its joints travel between consecutive frames in
    which it was found, in the coordinates' units per frame.

    Args:
        keypoint: [M, T, V, C] joints.
        found: [M, T] bool, the frames each was found in (default: frames whose joints are not all zero).

    Returns:
        [M] float64; 0 for one found in fewer than two consecutive frames.
    """
    keypoint = np.asarray(keypoint, dtype=np.float64)
    if found is None:
        found = np.abs(keypoint).reshape(*keypoint.shape[:2], -1).max(axis=-1) > 0
    both = found[:, 1:] & found[:, :-1]  # [M, T-1]
    step = np.linalg.norm(np.diff(keypoint, axis=1), axis=-1).mean(axis=-1)  # [M, T-1]
    total = (step * both).sum(axis=1)
    return np.divide(total, both.sum(axis=1), out=np.zeros(len(total)), where=both.sum(axis=1) > 0)


def _most_active(record: Mapping[str, Any], persons: int) -> Record:
    """``record`` with only its ``persons`` most moving persons (hands), most moving first.

    A signing or gesturing hand moves; the other one rests in view, found in as many frames. PYSKL's person
    selection (the highest total score) would keep whichever was found more often.
    """
    keypoint = np.asarray(record["keypoint"])
    if keypoint.shape[0] <= persons:
        return dict(record)
    found = record.get("found")
    order = np.argsort(-motion_energy(keypoint, None if found is None else np.asarray(found)), kind="stable")
    keep = np.sort(order[:persons]) if persons > 1 else order[:1]
    out = dict(record)
    for key in ("keypoint", "keypoint_score", "found"):
        if key in record:
            out[key] = np.asarray(record[key])[keep]
    return out


def _subject(preset: SkeletonPreset) -> str:
    return "hand" if preset.layout == "hand21" else "person"


def _extract(
    video: str | os.PathLike, preset: SkeletonPreset, short_side: int | None, progress: bool
) -> Record:
    """The pose of ``video`` in the preset's layout (MediaPipe through :mod:`vidact.pose`), its one-line
    "nothing found" warnings left to the caller's answer (a window or a video without a pose says so)."""
    from ..pose import NoPoseWarning, extract_pose  # MediaPipe is an optional extra: imported on use

    meta = probe(video)  # once: extract_pose decodes with it (a smaller video is not enlarged)
    side = short_side if short_side is not None and min(meta.height, meta.width) > short_side else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoPoseWarning)  # the prediction's note says it, once
        return extract_pose(video, short_side=side, progress=progress, metadata=meta, **pose_options(preset))


@register_modality
class SkeletonModality(Modality):
    """Joints [B * views, M, T, V, C] of a video's windows, from its pose (see the module docstring)."""

    name = "skeleton"

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
        pose: Mapping[str, Any] | str | os.PathLike | None = None,
        short_side: int | None = POSE_SHORT_SIDE,
    ) -> Iterator[Windows]:
        preset = predictor.spec
        if not isinstance(preset, SkeletonPreset):
            raise ConfigError(f"{predictor.name} is not a skeleton model")
        if sampling is not None:
            raise ConfigError("--sampling is for video models; a skeleton model samples as its preset says")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        if pose is None:
            pose = _extract(video, preset, short_side, progress)
        elif not isinstance(pose, Mapping):
            pose = read_pose(pose)
        record = model_record(pose, preset)
        total = int(np.asarray(record["keypoint"]).shape[1])
        if total == 0:
            raise ConfigError(f"{os.fspath(video)}: no frames to score")
        times = np.asarray(
            pose.get("timestamps", np.arange(total) / float(pose.get("fps") or 30.0)), dtype=np.float64
        )
        bounds = unit_bounds(times, window, stride, unit)
        found = np.asarray(pose.get("found", np.ones((1, total), dtype=bool)), dtype=bool).any(axis=0)  # [T]
        select = _selector(preset)
        keeps, answered = [], np.zeros(len(bounds), dtype=bool)
        for w, (start, end) in enumerate(bounds):
            keep = (times >= start) & (times < end)
            if not keep.any():  # a window between two sampled frames: its nearest frame
                keep = np.zeros(total, dtype=bool)
                keep[int(np.argmin(np.abs(times - (start + end) / 2)))] = True
            keeps.append(keep)
            answered[w] = bool(found[keep].any())

        def batches() -> Iterator[tuple[np.ndarray, torch.Tensor]]:
            for first in range(0, len(bounds), batch_size):
                ids = np.arange(first, min(first + batch_size, len(bounds)), dtype=np.int64)
                x = np.concatenate([skeleton_input(select(_frames(record, keeps[w])), preset) for w in ids])
                yield ids, torch.from_numpy(x)  # [B * views, M, T, V, C]

        seen = float(found.mean())
        yield Windows(
            bounds=bounds,
            batches=batches(),
            views=preset.test_inputs,
            answered=answered,
            note=_note(video, preset, found, answered),
            info={"pose": dict(pose), "record": record, "select": select, "found_fraction": seen},
        )

    def predict(
        self,
        predictor: Predictor,
        video: str | os.PathLike,
        *,
        window: float = 2.0,
        stride: float = 1.0,
        sampling: str | None = None,
        batch_size: int = 8,
        frame_scores: bool = False,
        progress: bool = False,
        **options: Any,
    ) -> SkeletonPrediction:
        return predict_skeleton(
            predictor,
            video,
            window=window,
            stride=stride,
            sampling=sampling,
            batch_size=batch_size,
            progress=progress,
            **options,
        )


def read_pose(path: str | os.PathLike) -> Record:
    """One video's pose record from a file ``vidact extract pose`` wrote (``.pkl`` or ``.npz``).

    Raises:
        ConfigError: a file that holds no single pose record (a PYSKL annotation list is not one video's).
    """
    from ..data.skeleton.formats import load_npz, load_pickle

    record = load_npz(path) if os.fspath(path).endswith(".npz") else load_pickle(path)
    if not isinstance(record, dict) or "keypoint" not in record:
        raise ConfigError(f"{path}: not one pose record (a PYSKL annotation list is not one video's)")
    return record


def _selector(preset: SkeletonPreset):  # noqa: ANN202 (a closure over the preset)
    """What a hand model reads of a window: the moving hand(s), in the frames where they were found."""
    hands = preset.layout == "hand21"

    def select(part: Record) -> Record:
        if not hands:
            return part
        part = _most_active(part, preset.persons)
        seen = np.asarray(part["found"]).any(axis=0) if "found" in part else None
        return _frames(part, seen) if seen is not None and seen.any() else part

    return select


def _note(
    video: str | os.PathLike, preset: SkeletonPreset, found: np.ndarray, answered: np.ndarray
) -> str | None:
    """What a prediction says of the frames without a pose: ``None`` when every window has one."""
    subject = _subject(preset)
    if not found.any():
        return (
            f"{os.fspath(video)}: no {subject} found in any of its {len(found)} frames: "
            "nothing for the skeleton model to read"
        )
    if not answered.all():
        return (
            f"{int((~answered).sum())} of {len(answered)} windows have no {subject} (found in "
            f"{found.mean():.0%} of the frames): they have no answer"
        )
    return None


def _whole(predictor: Predictor, record: Record, preset: SkeletonPreset, select) -> np.ndarray:  # noqa: ANN001
    """The model's softmax scores [K] of the whole sequence (views averaged), as it was trained."""
    x = torch.from_numpy(skeleton_input(select(record), preset)).to(predictor.device)  # [views, M, T, V, C]
    with torch.inference_mode():
        return predictor.model(x).float().softmax(dim=-1).mean(dim=0).cpu().numpy()


def predict_skeleton(
    predictor: Predictor,
    video: str | os.PathLike,
    *,
    pose: Mapping[str, Any] | str | os.PathLike | None = None,
    window: float = 2.0,
    stride: float = 1.0,
    sampling: str | None = None,
    batch_size: int = 8,
    short_side: int | None = POSE_SHORT_SIDE,
    progress: bool = False,
) -> SkeletonPrediction:
    """Score a video through its skeleton (see the module docstring).

    Windows in which no person (hand) was found have no answer (their ``window_scores`` are NaN, their JSON
    ``top`` is empty) and a video without any says so in :attr:`~vidact.infer.base.Prediction.note` instead of
    a label.

    Args:
        predictor: a skeleton model (:func:`~vidact.infer.predict.load_predictor`; ``predictor.spec`` is a
            :class:`~vidact.data.skeleton.SkeletonPreset`).
        video: the video (its pose is extracted unless ``pose`` is given).
        pose: a pose record of the video in the preset's layout, extracted beforehand (or its ``.pkl`` /
            ``.npz`` file, :func:`read_pose`).
        window, stride: timeline window length and the step between window starts, seconds.
        sampling: must be ``None`` (a skeleton model samples as its preset says).
        batch_size: windows per forward pass.
        short_side: decode at this short side for pose extraction (``None``: full size; a smaller video is
            not upscaled).
        progress: a progress bar during pose extraction.

    Raises:
        ConfigError: a predictor that is not a skeleton model, a pose in another layout, MediaPipe missing.
        VideoError: the video cannot be read.
    """
    modality = SkeletonModality()
    with modality.windows(
        predictor,
        video,
        window=window,
        stride=stride,
        sampling=sampling,
        batch_size=batch_size,
        pose=pose,
        short_side=short_side,
        progress=progress,
    ) as windows:
        window_scores = score_windows(predictor, windows)
    preset: SkeletonPreset = predictor.spec  # type: ignore[assignment]
    record, select = windows.info["record"], windows.info["select"]
    total = int(np.asarray(record["keypoint"]).shape[1])
    scores, scope = None, "whole video (mean over windows)"  # the mean of the answered windows
    assert windows.answered is not None
    if windows.answered.any() and (preset.sampler != "pad" or total <= (preset.pad_to or preset.frames)):
        scores = _whole(
            predictor, record, preset, select
        )  # the model on the whole sequence, as it was trained
        scope = "whole sequence (the model on all of it)"
    prediction = finish_prediction(
        predictor,
        video,
        windows,
        window_scores,
        scores=scores,
        cls=SkeletonPrediction,
        pose=windows.info["pose"],
        found_fraction=windows.info["found_fraction"],
        scope=scope,
    )
    return prediction  # type: ignore[return-value]
