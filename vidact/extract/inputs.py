"""Which videos an extraction covers, and where each one's outputs go.

The input is one video (a file, or a folder of frames), a folder tree, or a list file:

* a **folder** is searched recursively, in name order, for video files (:data:`VIDEO_EXTENSIONS`) and frame
  folders (a folder holding images is one video and is not searched further); hidden entries are skipped;
* a **list file** (``.txt``, ``.lst``, ``.list``) names one video per line, its path first; columns after the path
  (a vidact or mmaction list file's label and frame count) are ignored; blank lines and ``#`` comments are
  skipped. Paths are relative to ``root`` (default: the list file's folder). A listed video that is not there is
  kept, and fails with its reason like any unreadable video.

A video's output name is its path relative to the input folder (or ``root``) without its extension
(``train/jump/v1``), so outputs mirror the corpus; a video outside that folder is named by its file name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..data.datasets import VIDEO_EXTENSIONS
from ..errors import ConfigError, DatasetError
from ..io._frames import IMAGE_EXTENSIONS

__all__ = ["Video", "LIST_EXTENSIONS", "find_videos"]

#: File name endings read as list files; any other file is a video.
LIST_EXTENSIONS = (".txt", ".lst", ".list")


@dataclass(frozen=True)
class Video:
    """One video of an extraction.

    Attributes:
        path: the video file or frame folder.
        name: where its outputs go, relative to the output folder, without extension (POSIX, e.g. ``a/b/v1``).
    """

    path: str
    name: str


def find_videos(source: str | os.PathLike, *, root: str | os.PathLike | None = None) -> list[Video]:
    """The videos of an input: one video, a folder tree or a list file (see the module docstring).

    Args:
        source: the video, folder or list file.
        root: the folder a list file's paths are relative to (default: the list file's folder).

    Raises:
        ConfigError: ``source`` does not exist, holds no video, or two videos would get the same output name.
        DatasetError: the list file cannot be read or names no video.
    """
    source = Path(source)
    if not source.exists():
        raise ConfigError(f"{source}: no such file or folder")
    if root is not None and source.suffix.lower() not in LIST_EXTENSIONS:
        raise ConfigError("root goes with a list file input (the folder its paths are relative to)")
    if source.is_dir():
        if _is_frame_folder(source):
            videos = [Video(str(source), source.name)]
        else:
            videos = [Video(str(p), _name(p, source)) for p in _walk(source)]
    elif source.suffix.lower() in LIST_EXTENSIONS:
        videos = _read_list(source, Path(root) if root is not None else source.parent)
    else:
        videos = [Video(str(source), _name(source, source.parent))]
    if not videos:
        raise ConfigError(
            f"{source}: no videos found (files ending {', '.join(VIDEO_EXTENSIONS)}, or frame folders)"
        )
    seen: dict[str, str] = {}
    for video in videos:
        if video.name in seen:
            raise ConfigError(
                f"{seen[video.name]} and {video.path} would both write outputs named {video.name!r}"
            )
        seen[video.name] = video.path
    return videos


def _hidden(path: Path) -> bool:
    return path.name.startswith(".")


def _is_frame_folder(folder: Path) -> bool:
    return any(
        p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file() for p in folder.iterdir() if not _hidden(p)
    )


def _walk(folder: Path) -> list[Path]:
    found = []
    for entry in sorted(folder.iterdir()):
        if _hidden(entry):
            continue
        if entry.is_dir():
            found.extend([entry] if _is_frame_folder(entry) else _walk(entry))
        elif entry.name.lower().endswith(VIDEO_EXTENSIONS):
            found.append(entry)
    return found


def _name(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` (its file name if outside), without a file's extension, POSIX."""
    try:
        relative = PurePosixPath(path.resolve().relative_to(base.resolve()).as_posix())
    except ValueError:
        relative = PurePosixPath(path.name)
    if not path.is_dir() and relative.suffix:
        relative = relative.with_suffix("")
    return str(relative)


def _read_list(path: Path, root: Path) -> list[Video]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(
            f"{path}: cannot read the list file ({getattr(e, 'strerror', None) or e})"
        ) from None
    videos = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        # the path is the whole line, or the line less its last one or two columns; the first that exists
        candidates = [line, *(line.rsplit(maxsplit=k)[0] for k in (1, 2) if len(line.split()) > k)]
        relative = next((c for c in candidates if (root / c).exists()), line.split()[0])
        video = root / relative
        videos.append(Video(str(video), _name(video, root)))
    if not videos:
        raise DatasetError(f"{path}: the list file names no video")
    return videos
