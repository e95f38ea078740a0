"""Video classification datasets: sample lists from the common layouts, and the dataset that decodes clips.

Each layout function returns a :class:`SampleList` (``samples``: ``(path, label)`` pairs, ``classes``,
``missing``); :class:`VideoClipDataset` turns samples into items; :func:`build_dataset` does both by name.

    >>> ds = build_dataset("ucf101", "UCF-101", "train", annotations="ucfTrainTestlist",
    ...                    sampler=ClipSampler.random(16, stride=2), short_side=128)
    >>> ds.classes[0], ds[0]["video"].shape
    ('ApplyEyeMakeup', torch.Size([16, 128, 170, 3]))
"""

from __future__ import annotations

import os
from typing import Any

from ...errors import ConfigError
from ..sampling import (
    CenterClip,
    ClipSampler,
    FrameCountSampler,
    IndexSampler,
    MultiClip,
    RandomClip,
    Segments,
    SlowFastClip,
    TimeClip,
)
from .base import VideoClipDataset, collate_clips, default_cache_file
from .failures import Failure, FailureCount
from .folders import class_folders, hmdb51_split, ucf101_split
from .kinetics import kinetics_clip_name, kinetics_csv
from .list_file import list_file
from .samples import VIDEO_EXTENSIONS, SampleList, read_class_names
from .ssv2 import something_something_v2, template_class

__all__ = [
    "VIDEO_EXTENSIONS",
    "SampleList",
    "read_class_names",
    "ClipSampler",
    "FrameCountSampler",
    "RandomClip",
    "CenterClip",
    "Segments",
    "MultiClip",
    "SlowFastClip",
    "TimeClip",
    "Failure",
    "FailureCount",
    "VideoClipDataset",
    "collate_clips",
    "default_cache_file",
    "class_folders",
    "ucf101_split",
    "hmdb51_split",
    "kinetics_csv",
    "kinetics_clip_name",
    "something_something_v2",
    "template_class",
    "list_file",
    "DATASET_KINDS",
    "build_dataset",
]

#: The layouts :func:`build_dataset` knows, and what its ``split`` and ``annotations`` mean for each.
DATASET_KINDS = {
    "folder": "root/<class>/<video>; split: a subfolder of root (root/<split>/<class>/<video>), or None",
    "ucf101": "split: 'train' or 'test'; annotations: the split-file folder (ucfTrainTestlist); fold 1-3",
    "hmdb51": "split: 'train' or 'test'; annotations: the split-file folder; fold 1-3",
    "kinetics": "split: the CSV's split column ('train', 'val'), or None; annotations: the CSV",
    "ssv2": "split: None; annotations: train.json or validation.json; classes: labels.json",
    "list": "split: None; annotations: the list file (paths relative to root)",
}


def build_dataset(
    kind: str,
    root: str | os.PathLike,
    split: str | None = None,
    *,
    sampler: ClipSampler | IndexSampler,
    annotations: str | os.PathLike | None = None,
    classes: str | os.PathLike | list[str] | None = None,
    fold: int = 1,
    **options: Any,
) -> VideoClipDataset:
    """A :class:`VideoClipDataset` of one split of a dataset in a known layout (:data:`DATASET_KINDS`).

    Args:
        kind: ``"folder"``, ``"ucf101"``, ``"hmdb51"``, ``"kinetics"``, ``"ssv2"`` or ``"list"``.
        root: the folder holding the videos.
        split: which part, as :data:`DATASET_KINDS` says for ``kind``.
        sampler: the clip sampler (see :class:`ClipSampler`).
        annotations: the split file, folder of split files, CSV, JSON or list file the layout reads.
        classes: a label map (file or list) fixing the class order, for the layouts that take one.
        fold: the official split number of UCF-101 and HMDB-51.
        **options: the other arguments of :class:`VideoClipDataset` (``transform``, ``short_side``, ...).

    Raises:
        ConfigError: an unknown kind, or an argument the layout needs missing or one it cannot use given.
        DatasetError: the files do not have the layout's format.
    """
    if kind not in DATASET_KINDS:
        raise ConfigError(f"unknown dataset kind {kind!r}; choose from {', '.join(DATASET_KINDS)}")
    if kind == "folder":
        _unused(kind, annotations=annotations)
        found = class_folders(os.path.join(root, split) if split is not None else root, classes=classes)
    else:
        if annotations is None:
            raise ConfigError(f"dataset kind {kind!r} needs annotations= ({DATASET_KINDS[kind]})")
        if kind in ("ucf101", "hmdb51"):
            _unused(kind, classes=classes)
            if split not in ("train", "test"):
                raise ConfigError(f"dataset kind {kind!r} needs split 'train' or 'test', got {split!r}")
            layout = ucf101_split if kind == "ucf101" else hmdb51_split
            found = layout(root, annotations, split, fold=fold)
        elif kind == "kinetics":
            found = kinetics_csv(root, annotations, split=split, classes=classes)
        elif kind == "ssv2":
            _unused(kind, split=split)
            found = something_something_v2(root, annotations, classes=classes)
        else:
            _unused(kind, split=split)
            found = list_file(annotations, root, classes=classes)
    return VideoClipDataset(found.samples, sampler=sampler, classes=found.classes, root=root, **options)


def _unused(kind: str, **given: object) -> None:
    for name, value in given.items():
        if value is not None:
            raise ConfigError(f"dataset kind {kind!r} does not use {name}= ({DATASET_KINDS[kind]})")
