"""What a dataset layout returns: the ``(path, label)`` samples of a split and its class names, and the helpers
every layout reader shares (video file names, label maps, loose class-name matching)."""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import DatasetError

__all__ = [
    "VIDEO_EXTENSIONS",
    "Sample",
    "SampleList",
    "is_video_file",
    "read_class_names",
    "class_lookup",
    "sample_list",
]

#: File name endings that the layouts take for videos (anything else in a class folder is ignored).
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".gif")

Sample = tuple[str, int]


@dataclass
class SampleList:
    """The samples of one split of a dataset layout.

    Attributes:
        samples: ``(path, label)`` of every annotated video found on disk, in annotation order.
        classes: class names; ``label`` indexes this list.
        missing: annotated videos that are not on disk (their file name or id), already warned about.
    """

    samples: list[Sample]
    classes: list[str]
    missing: list[str] = field(default_factory=list)


def is_video_file(name: str) -> bool:
    return name.lower().endswith(VIDEO_EXTENSIONS) and not name.startswith(".")


def read_class_names(source: str | os.PathLike | Sequence[str]) -> list[str]:
    """Class names in label order, from a list or a label-map file.

    Files: text with one name per line (``label_maps/kinetics400.txt``); JSON with a list of names, or an object
    ``{"name": index}`` (Something-Something's ``labels.json``, indices as numbers or strings, 0 .. N-1).

    Raises:
        DatasetError: the file is missing, empty, or its indices are not 0 .. N-1.
    """
    if not isinstance(source, (str, os.PathLike)):
        return [str(name) for name in source]
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise DatasetError(f"{path}: cannot read the label map ({e.strerror or e})") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as e:
            raise DatasetError(f"{path}: not valid JSON ({e})") from None
        if isinstance(data, dict):
            try:
                by_index = {int(index): str(name) for name, index in data.items()}
            except (TypeError, ValueError):
                raise DatasetError(f"{path}: label map values must be class indices") from None
            if sorted(by_index) != list(range(len(data))):
                raise DatasetError(f"{path}: class indices must be 0 .. {len(data) - 1}, each once")
            names = [by_index[i] for i in range(len(data))]
        elif isinstance(data, list):
            names = [str(name) for name in data]
        else:
            raise DatasetError(f"{path}: expected a JSON list of names or an object {{name: index}}")
    else:
        names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise DatasetError(f"{path}: the label map is empty")
    return names


def _loose(name: str) -> str:
    return re.sub(r"[\s_]+", " ", name.strip()).casefold()


def class_lookup(classes: Sequence[str]) -> Callable[[str], int | None]:
    """A function from a class name to its index: the exact name first, then ignoring case and treating ``_``
    as a space (``HandStandPushups`` and ``air_drumming`` find ``HandstandPushups`` and ``air drumming``)."""
    exact = {name: i for i, name in enumerate(classes)}
    loose: dict[str, int] = {}
    for i, name in enumerate(classes):
        loose.setdefault(_loose(name), i)

    def lookup(name: str) -> int | None:
        i = exact.get(name)
        return i if i is not None else loose.get(_loose(name))

    return lookup


def sample_list(
    samples: list[Sample], classes: list[str], missing: list[str], where: str | os.PathLike
) -> SampleList:
    """A layout's result: one warning counting the annotated videos not found under ``where``.

    Raises:
        DatasetError: none of them was found.
    """
    total = len(samples) + len(missing)
    if not samples:
        first = f" (first: {missing[0]})" if missing else ""
        raise DatasetError(f"{os.fspath(where)}: none of the {total} annotated videos is there{first}")
    if missing:
        warnings.warn(
            f"{len(missing)} of {total} annotated videos are missing under {os.fspath(where)} "
            f"(first: {missing[0]}); they are left out",
            stacklevel=3,
        )
    return SampleList(samples, classes, missing)
