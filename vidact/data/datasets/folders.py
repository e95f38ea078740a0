"""Class folders, ``root/<class>/<video>``, with UCF-101's and HMDB-51's official split files.

A video is a file (``.avi``, ``.mp4``, ...) or a folder of frames (``root/<class>/<video>/img_00001.jpg``).

    >>> class_folders("UCF-101").classes[:2]
    ['ApplyEyeMakeup', 'ApplyLipstick']
    >>> train = ucf101_split("UCF-101", "ucfTrainTestlist", "train", fold=1)
    >>> test = hmdb51_split("hmdb51", "testTrainMulti_7030_splits", "test", fold=1)
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from ...errors import ConfigError, DatasetError
from .layouts import DatasetLayout, register_dataset_layout
from .samples import SampleList, class_lookup, is_video_file, read_class_names, sample_list

__all__ = ["class_folders", "ucf101_split", "hmdb51_split"]

Subset = Literal["train", "test"]


def _check_dir(path: Path, what: str) -> None:
    if not path.is_dir():
        raise DatasetError(f"{path}: no such {what} folder")


def _check_subset(subset: str) -> None:
    if subset not in ("train", "test"):
        raise DatasetError(f"subset must be 'train' or 'test', got {subset!r}")


def _locate(root: Path, relative: str) -> str | None:
    """The video at ``root/relative``, or the frame folder of the same name without the extension."""
    path = root / relative
    if path.is_file():
        return str(path)
    frames = path.with_suffix("")
    if frames.is_dir():
        return str(frames)
    return None


def class_folders(
    root: str | os.PathLike, *, classes: str | os.PathLike | list[str] | None = None
) -> SampleList:
    """Every video of ``root/<class>/``: files with a video extension and frame folders, sorted by name.

    Args:
        root: the dataset folder.
        classes: the class order (a list or a label-map file, see :func:`read_class_names`); default: the class
            folders sorted by name. Note that the official UCF-101 order (``classInd.txt``) ignores case, so it
            differs from a plain sort; pass the label map when labels must match a published model.

    Raises:
        DatasetError: ``root`` is not a folder, holds no videos, or has a class folder the label map lacks.
    """
    root = Path(root)
    _check_dir(root, "dataset")
    folders = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    if classes is None:
        names = folders
    else:
        names = read_class_names(classes)
        unknown = sorted(set(folders) - set(names))
        if unknown:
            raise DatasetError(
                f"{root}: class folder {unknown[0]!r} is not in the label map ({len(names)} classes)"
            )
    samples = []
    for label, name in enumerate(names):
        class_dir = root / name
        if not class_dir.is_dir():  # a class of the label map without videos here
            continue
        for entry in sorted(os.scandir(class_dir), key=lambda e: e.name):
            if (entry.is_dir() and not entry.name.startswith(".")) or (
                entry.is_file() and is_video_file(entry.name)
            ):
                samples.append((entry.path, label))
    if not samples:
        raise DatasetError(f"{root}: no videos found (expected {root}/<class>/<video file or frame folder>)")
    return SampleList(samples, names)


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise DatasetError(f"{path}: cannot read the split file ({e.strerror or e})") from None
    return [
        line.strip() for line in text.splitlines() if line.strip()
    ]  # the official files end lines with CRLF


def ucf101_split(
    root: str | os.PathLike, split_dir: str | os.PathLike, subset: Subset = "train", *, fold: int = 1
) -> SampleList:
    """UCF-101 with its official split files (``ucfTrainTestlist``).

    ``classInd.txt`` holds ``1 ApplyEyeMakeup`` .. ``101 YoYo``; ``trainlist0<fold>.txt`` lines are
    ``ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1`` (a 1-based class index), ``testlist0<fold>.txt`` lines the
    path alone (the class is its folder). Videos are ``root/<class>/<video>.avi`` or frame folders without the
    extension.

    Args:
        root: the folder of class folders (``UCF-101``).
        split_dir: the folder of split files.
        subset: ``"train"`` or ``"test"``.
        fold: the split, 1 to 3.

    Raises:
        DatasetError: a split file is missing or a line names an unknown class.
    """
    root, split_dir = Path(root), Path(split_dir)
    _check_dir(root, "dataset")
    _check_subset(subset)
    class_file = split_dir / "classInd.txt"
    by_index = {}
    for line in _read_lines(class_file):
        number, _, name = line.partition(" ")
        if not number.isdigit() or not name:
            raise DatasetError(f"{class_file}: expected lines '<index> <class>', got {line!r}")
        by_index[int(number)] = name.strip()
    if sorted(by_index) != list(range(1, len(by_index) + 1)):
        raise DatasetError(f"{class_file}: class indices must be 1 .. {len(by_index)}, each once")
    classes = [by_index[i] for i in range(1, len(by_index) + 1)]
    lookup = class_lookup(classes)

    list_file = split_dir / f"{subset}list{fold:02d}.txt"
    samples, missing = [], []
    for line in _read_lines(list_file):
        relative, _, number = line.partition(" ")
        number = number.strip()
        if number:
            if not number.isdigit() or not 1 <= int(number) <= len(classes):
                raise DatasetError(f"{list_file}: expected a class index 1 .. {len(classes)} in {line!r}")
            label = int(number) - 1
        else:
            found = lookup(relative.split("/")[0])
            if found is None:
                raise DatasetError(f"{list_file}: the folder of {relative!r} is not a class of {class_file}")
            label = found
        path = _locate(root, relative)
        if path is None:
            missing.append(relative)
        else:
            samples.append((path, label))
    return sample_list(samples, classes, missing, root)


_HMDB_SUBSET = {"train": "1", "test": "2"}


def hmdb51_split(
    root: str | os.PathLike, split_dir: str | os.PathLike, subset: Subset = "train", *, fold: int = 1
) -> SampleList:
    """HMDB-51 with its official split files (``testTrainMulti_7030_splits``).

    There is one file per class and fold, ``<class>_test_split<fold>.txt``, with lines ``<video>.avi <flag>``:
    1 = train, 2 = test, 0 = unused. Classes are sorted by name; videos are ``root/<class>/<video>.avi`` or frame
    folders without the extension.

    Raises:
        DatasetError: no split file of that fold, or a line that does not fit.
    """
    root, split_dir = Path(root), Path(split_dir)
    _check_dir(root, "dataset")
    _check_dir(split_dir, "split")
    _check_subset(subset)
    suffix = f"_test_split{fold}.txt"
    files = sorted(p for p in split_dir.iterdir() if p.name.endswith(suffix))
    if not files:
        raise DatasetError(f"{split_dir}: no split files '<class>{suffix}'")
    classes = [p.name[: -len(suffix)] for p in files]
    samples, missing = [], []
    for label, (name, file) in enumerate(zip(classes, files, strict=True)):
        for line in _read_lines(file):
            match = re.fullmatch(r"(\S+)\s+([012])", line)
            if match is None:
                raise DatasetError(f"{file}: expected lines '<video> 0|1|2', got {line!r}")
            video, flag = match.groups()
            if flag != _HMDB_SUBSET[subset]:
                continue
            path = _locate(root, f"{name}/{video}")
            if path is None:
                missing.append(f"{name}/{video}")
            else:
                samples.append((path, label))
    return sample_list(samples, classes, missing, root)


# -- the layouts of this file, by name (build_dataset, data.kind) -------------------------------------------
def _read_folder(
    root: str | os.PathLike, split: str | None, *, annotations, classes, fold: int
) -> SampleList:
    FOLDER.unused(annotations=annotations)
    return class_folders(os.path.join(root, split) if split is not None else root, classes=classes)


def _read_official(layout: DatasetLayout, root, split, annotations, classes, fold: int) -> SampleList:
    layout.needs(annotations=annotations)
    layout.unused(classes=classes)
    if split not in ("train", "test"):
        raise ConfigError(f"dataset kind {layout.name!r} needs split 'train' or 'test', got {split!r}")
    read = ucf101_split if layout is UCF101 else hmdb51_split
    return read(root, annotations, split, fold=fold)


def _read_ucf101(root, split, *, annotations, classes, fold: int) -> SampleList:
    return _read_official(UCF101, root, split, annotations, classes, fold)


def _read_hmdb51(root, split, *, annotations, classes, fold: int) -> SampleList:
    return _read_official(HMDB51, root, split, annotations, classes, fold)


FOLDER = register_dataset_layout(
    DatasetLayout(
        "folder",
        "root/<class>/<video>; split: a subfolder of root (root/<split>/<class>/<video>), or None",
        _read_folder,
    )
)
UCF101 = register_dataset_layout(
    DatasetLayout(
        "ucf101",
        "split: 'train' or 'test'; annotations: the split-file folder (ucfTrainTestlist); fold 1-3",
        _read_ucf101,
    )
)
HMDB51 = register_dataset_layout(
    DatasetLayout(
        "hmdb51", "split: 'train' or 'test'; annotations: the split-file folder; fold 1-3", _read_hmdb51
    )
)
