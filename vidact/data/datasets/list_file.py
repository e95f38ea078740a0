"""Plain list files: one video per line, ``<path> <label>``, or mmaction's rawframes ``<path> <num_frames> <label>``.

Paths are relative to a root (absolute ones stay as they are) and may name video files or frame folders. The
label is a class index (``3``) or a class name without spaces (``again``). Blank lines and ``#`` comments are
skipped.

    >>> train = list_file("data/train_list.txt", root="data/videos", classes="data/classes.txt")
"""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import DatasetError
from .layouts import DatasetLayout, register_dataset_layout
from .samples import SampleList, class_lookup, read_class_names, sample_list

__all__ = ["list_file"]


def _is_int(token: str) -> bool:
    return token.isascii() and token.isdigit()


def list_file(
    path: str | os.PathLike,
    root: str | os.PathLike | None = None,
    *,
    classes: str | os.PathLike | list[str] | None = None,
) -> SampleList:
    """The samples of a list file that are on disk.

    The rawframes layout (three columns) is recognised when every line ends with two integers; its frame count
    is not needed (the dataset probes every video) and is ignored.

    Args:
        path: the list file.
        root: the folder the listed paths are relative to (default: the list file's folder).
        classes: the class names, a list or a label-map file. Default: with index labels ``"0" .. "N-1"`` (N the
            largest index + 1); with name labels, the names sorted.

    Raises:
        DatasetError: the file is unreadable, a line has no label, or a label is out of the label map.
    """
    path = Path(path)
    root = Path(root) if root is not None else path.parent
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise DatasetError(f"{path}: cannot read the list file ({e.strerror or e})") from None
    lines = [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise DatasetError(f"{path}: the list file is empty")
    rawframes = all(
        len(t) >= 3 and _is_int(t[-2]) and _is_int(t[-1]) for t in (line.split() for _, line in lines)
    )
    entries = []
    for number, line in lines:
        fields = line.rsplit(maxsplit=2 if rawframes else 1)
        if len(fields) < 2:
            raise DatasetError(f"{path}:{number}: expected '<path> <label>', got {line!r}")
        entries.append((number, fields[0], fields[-1]))

    by_index = all(_is_int(label) for _, _, label in entries)
    if classes is not None:
        names = read_class_names(classes)
    elif by_index:
        names = [str(i) for i in range(max(int(label) for _, _, label in entries) + 1)]
    else:
        names = sorted({label for _, _, label in entries})
    lookup = class_lookup(names)
    samples, missing = [], []
    for number, relative, token in entries:
        label = int(token) if by_index else lookup(token)
        if label is None or not 0 <= label < len(names):
            raise DatasetError(f"{path}:{number}: label {token!r} is not one of the {len(names)} classes")
        video = root / relative
        if video.exists():
            samples.append((str(video), label))
        else:
            missing.append(relative)
    return sample_list(samples, names, missing, root)


# -- this layout, by name (build_dataset, data.kind) -----------------------------------------------------------
def _read(root: str | os.PathLike, split: str | None, *, annotations, classes, fold: int) -> SampleList:
    LIST.needs(annotations=annotations)
    LIST.unused(split=split)
    return list_file(annotations, root, classes=classes)


LIST = register_dataset_layout(
    DatasetLayout("list", "split: None; annotations: the list file (paths relative to root)", _read)
)
