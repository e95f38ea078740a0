"""Skeleton datasets: the records of a PYSKL annotation file, made into model inputs by a preset.

    >>> ds = SkeletonDataset("data/synthetic-skeleton", "train", preset=SkeletonPreset("ntu25", 32, coords="world",
    ...                      channels=3), train=True)
    >>> joints, label = ds[0]          # [M, T, V, C] float32 raw joints, int
    >>> ds.classes[label]

Skeleton models compute bones and motion inside, so items are raw joints. How they are made (person slots,
coordinates, centring, frames, augmentation) is :func:`~vidact.data.skeleton.transforms.skeleton_input`'s. A
training item's randomness comes from ``(seed, epoch, index)`` (:meth:`SkeletonDataset.set_epoch` reaches the
DataLoader's worker processes), so a resumed run draws the same samples; test items are fixed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ...errors import ConfigError, DatasetError
from ..datasets.samples import read_class_names
from .formats import Record, load_annotations, load_npz, validate_record
from .presets import SkeletonPreset
from .transforms import skeleton_input

__all__ = ["ANNOTATIONS_FILE", "resolve_annotations", "read_split", "SkeletonDataset", "collate_skeletons"]

#: The annotation file a data set folder holds (``vidact synth --kind skeleton`` writes it).
ANNOTATIONS_FILE = "annotations.pkl"


def resolve_annotations(path: str | os.PathLike) -> Path:
    """The annotation file of ``path``: the file itself, or a folder's :data:`ANNOTATIONS_FILE`.

    Raises:
        DatasetError: no such file, or a folder without it.
    """
    path = Path(path)
    if path.is_dir():
        inside = path / ANNOTATIONS_FILE
        if not inside.is_file():
            raise DatasetError(
                f"{path}: a folder without {ANNOTATIONS_FILE}; give the annotation file itself"
            )
        return inside
    if not path.is_file():
        raise DatasetError(f"{path}: no such annotation file or folder")
    return path


def read_split(
    annotations: str | os.PathLike | Mapping[str, Any] | Sequence[Mapping[str, Any]], split: str | None
) -> tuple[list[Record], Path | None]:
    """The records of one split, in the split's order, and the file they came from.

    Args:
        annotations: a PYSKL pickle or a ``.npz`` record (or a folder holding :data:`ANNOTATIONS_FILE`), or
            the loaded data: ``{"split", "annotations"}`` or a list of records.
        split: a name of the file's ``split``; ``None``: every record.

    Raises:
        DatasetError: an unreadable file, or a split it does not have.
    """
    source: Path | None = None
    if isinstance(annotations, (str, os.PathLike)):
        source = resolve_annotations(annotations)
        if source.suffix == ".npz":
            records, splits = [load_npz(source)], {}
        else:
            records, splits = load_annotations(source)
    elif isinstance(annotations, Mapping) and "annotations" in annotations:
        records, splits = list(annotations["annotations"]), dict(annotations.get("split", {}))
    elif isinstance(annotations, Mapping):
        records, splits = [annotations], {}
    else:
        records, splits = list(annotations), {}
    if source is None:  # records from memory get the checks a file's get
        records = [validate_record(r, source=f"annotation {i}") for i, r in enumerate(records)]
    if split is None:
        return records, source
    if split not in splits:
        have = ", ".join(splits) or "none"
        raise DatasetError(f"{source or 'annotations'}: no split {split!r} (splits: {have})")
    by_name = {r.get("frame_dir"): r for r in records}
    missing = [name for name in splits[split] if name not in by_name]
    if missing:
        raise DatasetError(
            f"{source or 'annotations'}: split {split!r} names {missing[0]!r}, which has no record"
        )
    return [by_name[name] for name in splits[split]], source


class SkeletonDataset(Dataset):
    """Labelled skeleton sequences as model inputs: ``(joints, label)`` items.

    ``joints`` is float32 [M, T, V, C] (persons, frames, joints, coordinates: the preset's); in testing with
    ``preset.num_clips = K > 1`` (``uniform`` sampler) it is [K, M, T, V, C], the K views whose scores
    multi-view testing averages.

    Args:
        annotations: a PYSKL annotation pickle or a folder holding :data:`ANNOTATIONS_FILE`, a ``.npz`` record,
            or the loaded data (see :func:`read_split`).
        split: the split to read (``None``: every record).
        preset: how inputs are made (layout, frames, persons, coordinates, centring, ...): a
            :class:`SkeletonPreset`, or a mapping of its fields.
        train: training (random frames, augmentation, :meth:`set_epoch`) or testing (fixed frames).
        classes: class names in label order (a list, or a label-map file, see
            :func:`~vidact.data.datasets.samples.read_class_names`); default the ``classes.txt`` beside the
            annotation file, else ``class_<label>`` names up to the largest label.
        rotate: training: the largest rotation about the vertical axis, degrees (3D joints only).
        scale: training: the largest relative change of scale per axis.
        seed: with the epoch and the item's index, the source of a training item's randomness.

    Raises:
        DatasetError: an unreadable file, a missing split, records without labels, or labels beyond the classes.
        ConfigError: a preset or an option that does not fit (unknown preset fields, a centring joint the
            layout lacks, augmentation of 2D joints).
    """

    def __init__(
        self,
        annotations: str | os.PathLike | Mapping[str, Any] | Sequence[Mapping[str, Any]],
        split: str | None = None,
        *,
        preset: SkeletonPreset | Mapping[str, Any],
        train: bool,
        classes: Sequence[str] | str | os.PathLike | None = None,
        rotate: float = 0.0,
        scale: float = 0.0,
        seed: int = 0,
    ):
        if not isinstance(preset, SkeletonPreset):
            known = {f.name for f in fields(SkeletonPreset)}
            unknown = sorted(set(preset) - known)
            if unknown:
                raise ConfigError(
                    f"skeleton preset: unknown field(s) {', '.join(unknown)}; fields: {', '.join(sorted(known))}"
                )
            preset = SkeletonPreset(**preset)
        if rotate < 0 or not 0 <= scale < 1:
            raise ConfigError(f"need rotate >= 0 and 0 <= scale < 1, got rotate={rotate}, scale={scale}")
        if (rotate or scale) and preset.channels != 3:
            raise ConfigError("rotation and scale augmentation need 3D joints (preset channels 3)")
        self.records, self.source = read_split(annotations, split)
        self.split, self.preset, self.train = split, preset, train
        self.seed, self.rotate, self.scale = seed, float(rotate), float(scale)
        where = self.source or "annotations"
        labels = [r.get("label", -1) for r in self.records]
        if any(label < 0 for label in labels):
            first = next(r.get("frame_dir", i) for i, r in enumerate(self.records) if r.get("label", -1) < 0)
            raise DatasetError(f"{where}: record {first!r} has no label")
        self.labels = np.asarray(labels, dtype=np.int64)
        self.classes = self._class_names(classes)
        if len(self.labels) and self.labels.max() >= len(self.classes):
            raise DatasetError(f"{where}: label {int(self.labels.max())} for {len(self.classes)} class names")
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()  # seen by DataLoader workers

    def _class_names(self, classes: Sequence[str] | str | os.PathLike | None) -> list[str]:
        if classes is not None:
            return read_class_names(classes)
        beside = None if self.source is None else self.source.parent / "classes.txt"
        if beside is not None and beside.is_file():
            return read_class_names(beside)
        count = int(self.labels.max()) + 1 if len(self.labels) else 0
        return [f"class_{i}" for i in range(count)]

    @property
    def frame_dirs(self) -> list[str]:
        """Each record's ``frame_dir`` (its identifier), in item order."""
        return [str(r.get("frame_dir", i)) for i, r in enumerate(self.records)]

    @property
    def epoch(self) -> int:
        return int(self._epoch)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose random draws training items make; call before iterating a DataLoader."""
        self._epoch.fill_(epoch)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} sequences")
        rng = (
            np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, index]))
            if self.train
            else None
        )
        views = skeleton_input(
            self.records[index],
            self.preset,
            rng=rng,
            rotate=self.rotate if self.train else 0.0,
            scale=self.scale if self.train else 0.0,
        )  # [K, M, T, V, C]
        return (views if len(views) > 1 else views[0]), int(self.labels[index])


def collate_skeletons(items: Sequence[tuple[np.ndarray, int]]) -> dict[str, torch.Tensor]:
    """Items of a :class:`SkeletonDataset` -> ``{"joints": [B, M, T, V, C] (or [B, K, M, T, V, C]) float32,
    "label": [B] int64}``."""
    joints = torch.from_numpy(np.stack([joints for joints, _ in items]))
    return {"joints": joints, "label": torch.tensor([label for _, label in items], dtype=torch.int64)}
