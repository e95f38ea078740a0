"""Per-video feature sequences with their ground-truth segments: what a detector trains and is validated on.

One item per video of the ground truth (or of one of its subsets) that has features:

    >>> dataset = DetectionDataset(open_features("features/"), read_ground_truth("gt.json"), classes,
    ...                            subset="training", max_seq_len=256, train=True, seed=0)
    >>> item = dataset[0]
    >>> item["features"].shape, item["segments"], item["labels"], item["grid"]   # [D, T], [N, 2] steps, [N]
    >>> batch = collate_detection([dataset[0], dataset[1]], pad_multiple=32)   # [B, D, T_max] and a mask

Segments are in feature steps (:class:`~vidact.detect.features.TimeGrid`: ``steps = (seconds - offset) /
step``), the unit a detector regresses in. A video longer than ``max_seq_len`` steps is cropped in training to a
random window of ``max_seq_len`` steps (:func:`crop_window`, ActionFormer's truncation): actions that keep at
least ``keep_ratio`` of their length inside the window stay, clipped to it, the others are dropped; the window
must keep at least one action, and one that cuts no action is preferred when the draws find one. The draw is a
function of (seed, epoch, index) (:meth:`DetectionDataset.set_epoch`), so any number of worker processes and a
resumed run crop alike. Validation keeps whole videos.

Videos of the ground truth without features are left out and listed in :attr:`DetectionDataset.skipped` (one
``(video, reason)`` each); an unreadable feature file is a :class:`~vidact.errors.DatasetError`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import ConfigError, DatasetError
from .annotations import GroundTruth
from .features import FeatureSource, TimeGrid

__all__ = ["DetectionDataset", "VideoEntry", "crop_window", "collate_detection"]


@dataclass(frozen=True)
class VideoEntry:
    """One video of a :class:`DetectionDataset`.

    Attributes:
        video: the ground truth's id.
        name: the name of its features in the folder.
        length: T, its feature steps.
        grid: the time of each step.
        duration: seconds (the ground truth's, else the end of the last step).
        segments: [N, 2] float32 (start, end) in steps.
        labels: [N] int64 class indices.
    """

    video: str
    name: str
    length: int
    grid: TimeGrid
    duration: float
    segments: np.ndarray
    labels: np.ndarray


def crop_window(
    length: int,
    segments: np.ndarray,
    max_len: int,
    rng: np.random.Generator,
    *,
    keep_ratio: float = 0.5,
    tries: int = 200,
) -> tuple[int, np.ndarray]:
    """A random window of ``max_len`` steps of a sequence of ``length`` steps, and the actions it keeps.

    A segment is kept when at least ``keep_ratio`` of its length lies inside the window. Up to ``tries`` starts
    are drawn uniformly; the first that keeps at least one action and cuts none (every segment wholly inside or
    wholly outside) is taken, else the first that keeps one, else the last draw (a sequence without actions).

    Args:
        length: T, the sequence's steps (> ``max_len``; shorter ones need no window: start 0, all kept).
        segments: [N, 2] float (start, end) in steps.
        max_len: the window's steps.
        rng: the source of the draws.
        keep_ratio: the share of a segment that must lie inside the window for it to stay.
        tries: starts drawn at most.

    Returns:
        ``(start, keep)``: the window is steps ``[start, start + max_len)``; ``keep`` is [N] bool.
    """
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    if length <= max_len:
        return 0, np.ones(len(segments), dtype=bool)
    widths = np.maximum(segments[:, 1] - segments[:, 0], 1e-9)
    fallback: tuple[int, np.ndarray] | None = None
    for _ in range(tries):
        start = int(rng.integers(0, length - max_len + 1))
        inside = np.clip(
            np.minimum(segments[:, 1], start + max_len) - np.maximum(segments[:, 0], start), 0, None
        )
        ratio = inside / widths
        keep = ratio >= keep_ratio
        if keep.any():
            if not ((ratio > 0) & (ratio < 1)).any():
                return start, keep
            if fallback is None:
                fallback = (start, keep)
    return fallback if fallback is not None else (start, keep)


class DetectionDataset(Dataset):
    """The videos of a ground truth (or of one of its subsets) that have features (see the module docstring).

    Items are dicts: ``"features"`` [D, T] float32 tensor, ``"segments"`` [N, 2] float32 tensor (steps of that
    sequence), ``"labels"`` [N] int64 tensor, ``"video"`` the id, ``"grid"`` ``(offset, step)`` of the sequence
    (a crop's own), ``"duration"`` seconds.

    Args:
        features: the feature folder.
        ground_truth: the annotations (:func:`~vidact.detect.annotations.read_ground_truth`).
        classes: class names; label = index. Every label of the kept videos must be one of them.
        subset: the ground truth's subset to take (case-insensitive), ``None`` for every video.
        max_seq_len: steps of a training sequence (a longer video is cropped to it in training).
        train: crop long videos at random (per epoch) rather than keep them whole.
        seed: the seed of the crops.
        fps: the frame rate of every video for features timed in frames (default each video's, from the
            ground truth).
        keep_ratio: a cropped action stays when this share of it lies inside the window.

    Attributes:
        entries: the videos, in the ground truth's id order.
        skipped: ``(video, reason)`` of the ground truth's videos left out (no features).

    Raises:
        ConfigError: ``max_seq_len`` below 1 or ``keep_ratio`` outside (0, 1].
        DatasetError: a subset the ground truth lacks, a label outside ``classes``, an unreadable feature file,
            or no video with features at all.
    """

    def __init__(
        self,
        features: FeatureSource,
        ground_truth: GroundTruth,
        classes: Sequence[str],
        *,
        subset: str | None = None,
        max_seq_len: int = 2304,
        train: bool = False,
        seed: int = 0,
        fps: float | None = None,
        keep_ratio: float = 0.5,
    ):
        if max_seq_len < 1 or not 0 < keep_ratio <= 1:
            raise ConfigError(
                f"need max_seq_len >= 1 and 0 < keep_ratio <= 1, got {max_seq_len} and {keep_ratio}"
            )
        self.source = features
        self.classes = list(classes)
        self.max_seq_len = int(max_seq_len)
        self.train = train
        self.seed = int(seed)
        self.keep_ratio = float(keep_ratio)
        self.epoch = 0
        gt = ground_truth.subset(subset) if subset else ground_truth
        index = {name: i for i, name in enumerate(self.classes)}
        self.entries: list[VideoEntry] = []
        self.skipped: list[tuple[str, str]] = []
        for video in sorted(gt.videos):
            annotation = gt.videos[video]
            name = features.find(video)
            if name is None:
                self.skipped.append((video, f"no features in {features.root}"))
                continue
            unknown = sorted({label for label in annotation.labels if label not in index})
            if unknown:
                raise DatasetError(
                    f"{gt.source}: video {video!r} has label {unknown[0]!r}, not one of the {len(self.classes)} "
                    "classes"
                )
            length, grid = features.info(name, fps=fps if fps is not None else annotation.fps)
            seconds = np.asarray(annotation.segments, dtype=np.float64).reshape(-1, 2)
            valid = seconds[:, 1] > seconds[:, 0]  # an empty segment cannot be detected: left out
            steps = np.asarray(grid.steps(seconds[valid]), dtype=np.float32).reshape(-1, 2)
            labels = np.array([index[label] for label in annotation.labels], dtype=np.int64)[valid]
            duration = annotation.duration
            if duration is None:
                duration = float(grid.seconds(length - 0.5))
            self.entries.append(VideoEntry(video, name, length, grid, float(duration), steps, labels))
        if not self.entries:
            where = f"subset {subset!r} of {gt.source}" if subset else gt.source
            raise DatasetError(
                f"{where}: none of its {len(gt.videos)} videos has features in {features.root}"
            )

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def videos(self) -> list[str]:
        """The ids of the videos, in item order."""
        return [entry.video for entry in self.entries]

    def set_epoch(self, epoch: int) -> None:
        """Crops of ``epoch`` from now on (the loop calls it before each epoch)."""
        self.epoch = int(epoch)

    def __getitem__(self, index: int) -> dict[str, Any]:
        entry = self.entries[index]
        start, length = 0, entry.length
        segments, labels = entry.segments, entry.labels
        if self.train and entry.length > self.max_seq_len:
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, index]))
            start, keep = crop_window(
                entry.length, segments, self.max_seq_len, rng, keep_ratio=self.keep_ratio
            )
            length = self.max_seq_len
            segments = np.clip(segments[keep] - start, 0, length).astype(np.float32)
            labels = labels[keep]
        features = self.source.read(entry.name, start, start + length)  # [t, D]
        grid = entry.grid.shifted(start)
        return {
            "features": torch.from_numpy(np.ascontiguousarray(features.T)),
            "segments": torch.from_numpy(np.array(segments, dtype=np.float32).reshape(-1, 2)),
            "labels": torch.from_numpy(np.array(labels, dtype=np.int64)),
            "video": entry.video,
            "grid": (grid.offset, grid.step),
            "duration": entry.duration,
        }


def collate_detection(
    items: Sequence[dict[str, Any]], *, pad_multiple: int = 1, min_length: int = 0
) -> dict[str, Any]:
    """Items of a :class:`DetectionDataset` -> a batch, sequences padded with zeros at the end.

    Args:
        items: B items (``"features"`` [D, T_b] each).
        pad_multiple: the padded length is a multiple of this (a detector's largest stride, or what its
            windowed attention needs).
        min_length: the padded length is at least this (training pads to ``max_seq_len``, as ActionFormer).

    Returns:
        ``{"features": [B, D, T_max] float32, "mask": [B, T_max] bool (True: a real step), "segments": list of
        B [N_b, 2] tensors, "labels": list of B [N_b] tensors, "video": list, "grid": list, "duration": list}``,
        ``T_max`` = the longest sequence (at least ``min_length``) rounded up to ``pad_multiple``.
    """
    if not items:
        raise ValueError("collate_detection: no items")
    if pad_multiple < 1:
        raise ConfigError(f"pad_multiple must be at least 1, got {pad_multiple}")
    lengths = [int(item["features"].shape[1]) for item in items]
    dims = {int(item["features"].shape[0]) for item in items}
    if len(dims) != 1:
        raise DatasetError(f"feature sequences of different widths in one batch: {sorted(dims)}")
    padded = math.ceil(max(max(lengths), min_length) / pad_multiple) * pad_multiple
    features = torch.zeros(len(items), dims.pop(), padded, dtype=torch.float32)
    mask = torch.zeros(len(items), padded, dtype=torch.bool)
    for b, (item, length) in enumerate(zip(items, lengths, strict=True)):
        features[b, :, :length] = item["features"]
        mask[b, :length] = True
    return {
        "features": features,
        "mask": mask,
        "segments": [item["segments"] for item in items],
        "labels": [item["labels"] for item in items],
        "video": [item["video"] for item in items],
        "grid": [tuple(item["grid"]) for item in items],
        "duration": [item["duration"] for item in items],
    }
