"""Kinetics (400/600/700) from its annotation CSV.

The CSV has a header ``label,youtube_id,time_start,time_end,split`` (Kinetics-400 adds ``is_cc``); a row is a
10-second clip of a YouTube video. Downloaders name the clip ``<youtube_id>_<start:06d>_<end:06d>.mp4`` (or
``<youtube_id>.mp4``, or a frame folder of either name) and put it in ``root/<split>/<label>/``, in
``root/<label>/`` or flat in ``root/``: the videos are found by name anywhere under ``root``, in one walk.

    >>> val = kinetics_csv("kinetics400", "kinetics400/annotations/val.csv", split="val",
    ...                    classes="label_maps/kinetics400.txt")
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from ...errors import DatasetError
from .layouts import DatasetLayout, register_dataset_layout
from .samples import SampleList, class_lookup, is_video_file, read_class_names, sample_list

__all__ = ["kinetics_csv", "kinetics_clip_name"]

_COLUMNS = ("label", "youtube_id", "time_start", "time_end")


def kinetics_clip_name(youtube_id: str, time_start: int, time_end: int) -> str:
    """The usual file name of a clip, without extension: ``<youtube_id>_<start:06d>_<end:06d>``."""
    return f"{youtube_id}_{time_start:06d}_{time_end:06d}"


def _find_videos(root: Path, names: set[str]) -> dict[str, str]:
    """Paths of the video files and frame folders under ``root`` whose name (without extension) is in
    ``names``; the first in sorted walk order wins."""
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for d in [d for d in dirs if d in names]:
            found.setdefault(d, os.path.join(folder, d))
            dirs.remove(d)  # a frame folder: nothing to look for inside
        for f in sorted(files):
            stem = os.path.splitext(f)[0]
            if stem in names and is_video_file(f):
                found.setdefault(stem, os.path.join(folder, f))
    return found


def kinetics_csv(
    root: str | os.PathLike,
    annotations: str | os.PathLike,
    *,
    split: str | None = None,
    classes: str | os.PathLike | list[str] | None = None,
) -> SampleList:
    """The clips of a Kinetics annotation CSV that are on disk under ``root``.

    Args:
        root: the folder holding the videos (searched recursively).
        annotations: the CSV (``train.csv``, ``validate.csv``, ``kinetics400_val_list.csv``).
        split: keep the rows whose ``split`` column has this value (``"train"``, ``"val"``); ``None``: all rows.
        classes: the class order, a list or a label-map file; default: the CSV's labels sorted (the official
            order when the CSV covers every class).

    Clips missing from disk (many YouTube videos are gone) are counted in one warning and listed in
    ``missing``; they are not an error.

    Raises:
        DatasetError: the CSV lacks a column, has a bad row, a label the label map lacks, or no row of ``split``.
    """
    root, annotations = Path(root), Path(annotations)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder")
    try:
        with open(annotations, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = list(enumerate(reader, start=2))  # (line number, row)
            header = reader.fieldnames or []
    except OSError as e:
        raise DatasetError(f"{annotations}: cannot read the annotations ({e.strerror or e})") from None
    lacking = [c for c in _COLUMNS if c not in header]
    if lacking:
        raise DatasetError(
            f"{annotations}: no column {lacking[0]!r} (expected a header {','.join(_COLUMNS)},split)"
        )
    names = read_class_names(classes) if classes is not None else sorted({row["label"] for _, row in rows})
    if split is not None:
        if "split" not in header:
            raise DatasetError(f"{annotations}: no 'split' column to select split {split!r} from")
        splits = sorted({row["split"] for _, row in rows})
        rows = [(line, row) for line, row in rows if row["split"] == split]
        if not rows:
            raise DatasetError(f"{annotations}: no row of split {split!r} (the file has {', '.join(splits)})")

    lookup = class_lookup(names)
    clips = []
    for line, row in rows:
        label = lookup(row["label"])
        if label is None:
            raise DatasetError(f"{annotations}:{line}: label {row['label']!r} is not in the label map")
        try:
            name = kinetics_clip_name(row["youtube_id"], int(row["time_start"]), int(row["time_end"]))
        except ValueError:
            raise DatasetError(
                f"{annotations}:{line}: time_start and time_end must be whole seconds"
            ) from None
        clips.append((name, row["youtube_id"], label))

    found = _find_videos(root, {n for n, _, _ in clips} | {y for _, y, _ in clips})
    samples, missing = [], []
    for name, youtube_id, label in clips:
        path = found.get(name) or found.get(youtube_id)
        if path is None:
            missing.append(name)
        else:
            samples.append((path, label))
    return sample_list(samples, names, missing, root)


# -- this layout, by name (build_dataset, data.kind) -----------------------------------------------------------
def _read(root: str | os.PathLike, split: str | None, *, annotations, classes, fold: int) -> SampleList:
    KINETICS.needs(annotations=annotations)
    return kinetics_csv(root, annotations, split=split, classes=classes)


KINETICS = register_dataset_layout(
    DatasetLayout(
        "kinetics", "split: the CSV's split column ('train', 'val'), or None; annotations: the CSV", _read
    )
)
