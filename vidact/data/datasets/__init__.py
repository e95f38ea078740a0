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
from .layouts import DATASET_KINDS, DatasetLayout, get_dataset_layout, register_dataset_layout
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
    "DatasetLayout",
    "register_dataset_layout",
    "get_dataset_layout",
    "build_dataset",
]


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
        kind: ``"folder"``, ``"ucf101"``, ``"hmdb51"``, ``"kinetics"``, ``"ssv2"``, ``"list"``, or a layout
            registered with :func:`register_dataset_layout`.
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
    layout = get_dataset_layout(kind)
    found = layout.read(root, split, annotations=annotations, classes=classes, fold=fold)
    return VideoClipDataset(found.samples, sampler=sampler, classes=found.classes, root=root, **options)
