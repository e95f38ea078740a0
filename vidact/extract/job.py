"""The per-video job of an extraction, whatever runs it (this process, a process pool, a Ray actor).

:func:`process_video` does everything one video needs and never raises for a bad video:

1. the key: sha256 of the video's bytes and of the extractor's parameters (:func:`~vidact.extract.base.output_key`);
2. skip if done: the record ``<name>.<kind>.json`` exists with that key and every file it lists is there;
3. the extractor: ``extractor(video, out)`` writing as it goes into a :class:`~vidact.extract.output.VideoOutput`,
   or ``extractor(video) -> {name: array}``, whose arrays are written through one (or, with a ``write(arrays,
   stem)`` hook, in the kind's own formats);
4. commit: every output fsynced and renamed into place, then, last, the record (atomically);
5. any exception: the temporaries removed, the video an :class:`Outcome` ``"failed"`` with a one-line reason.

It imports nothing of the backends (:mod:`~vidact.extract.backends`, :mod:`~vidact.extract._ray`) that map it over
videos, nor of the runner that orchestrates them.
"""

from __future__ import annotations

import inspect
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._atomic import atomic_write
from ..errors import VideoError
from .base import Extractor, output_key, video_digest
from .inputs import Video
from .output import DEFAULT_ITEM_FOLDER, VideoOutput

__all__ = ["Outcome", "process_video", "record_path", "array_path", "one_line_reason", "WORKER_DIED"]

#: The reason given for a video whose worker process (or Ray actor) died while extracting it.
WORKER_DIED = "the worker process died extracting it (crashed or was killed)"


@dataclass(frozen=True)
class Outcome:
    """What became of one video: ``"done"`` (extracted now), ``"skipped"`` (up to date) or ``"failed"``."""

    video: Video
    status: Literal["done", "skipped", "failed"]
    reason: str = ""
    seconds: float = 0.0


def record_path(out: str | os.PathLike, video: Video, kind: str) -> Path:
    """``OUT/<video name>.<kind>.json``: the record that says a video's outputs are complete."""
    return Path(out) / f"{video.name}.{kind}.json"


def array_path(out: str | os.PathLike, video: Video, array: str) -> Path:
    """``OUT/<video name>.<array>.npy``."""
    return Path(out) / f"{video.name}.{array}.npy"


def process_video(
    extractor: Extractor, video: Video, out: str | os.PathLike, params: dict[str, Any]
) -> Outcome:
    """Extract one video unless its record is up to date (see the module docstring); never raises for a bad
    video (it fails instead).

    Args:
        extractor: the extractor.
        video: the video and its output name.
        out: the output folder.
        params: ``extractor.params()``, computed once by the caller.
    """
    start = time.perf_counter()
    item_folder = getattr(extractor, "item_folder", DEFAULT_ITEM_FOLDER)
    output = VideoOutput(out, video.name, extractor.name, item_folder=item_folder)
    try:
        digest = video_digest(video.path)
        key = output_key(extractor.name, params, digest)
        record = record_path(out, video, extractor.name)
        if _up_to_date(record, key):
            return Outcome(video, "skipped", seconds=time.perf_counter() - start)
        record.parent.mkdir(parents=True, exist_ok=True)
        if takes_output(extractor):
            arrays = extractor(video.path, output)  # type: ignore[call-arg]
        else:
            arrays = extractor(video.path)
            if arrays is None:
                raise TypeError(
                    f"extractor {extractor.name!r} returned nothing (and takes no output to write to)"
                )
        write = getattr(extractor, "write", None)
        if arrays is not None and write is not None:  # the kind's own formats, each file atomic
            described = _describe_arrays(arrays)
            own = _write_own(write, arrays, output.stem, record.parent)
            files = [*output.commit(), *own]  # and whatever it wrote as it went
            described |= output.describe()
        else:
            for name, value in _checked(arrays).items():
                output.write_array(name, value)
            files = output.commit()
            described = output.describe()
        if not files:
            raise TypeError(f"extractor {extractor.name!r} wrote no output")
        entry = {
            "kind": extractor.name,
            "key": key,
            "video": video.path,
            "video_sha256": digest,
            "params": params,
            "arrays": described,
            "files": files,
            "seconds": round(time.perf_counter() - start, 3),
        }
        with atomic_write(record, "w") as f:
            json.dump(entry, f, indent=1)
    except Exception as e:  # a bad video fails alone; KeyboardInterrupt still stops the run
        output.abort()
        return Outcome(video, "failed", one_line_reason(e), time.perf_counter() - start)
    except BaseException:
        output.abort()
        raise
    return Outcome(video, "done", seconds=time.perf_counter() - start)


def takes_output(extractor: Extractor) -> bool:
    """Whether ``extractor`` is called as ``extractor(video, out)`` (it writes as it goes) rather than
    ``extractor(video) -> {name: array}``: its call takes a second positional argument."""
    try:
        parameters = list(inspect.signature(extractor).parameters.values())
    except (TypeError, ValueError):  # no signature to read (a builtin): the returning form
        return False
    positional = [
        p
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    return len(positional) >= 2 or any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)


def _up_to_date(record: Path, key: str) -> bool:
    """The record exists, has ``key``, and every file (or per-item folder) it lists is there."""
    try:
        entry = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(entry, dict) or entry.get("key") != key:
        return False
    if "files" in entry:
        files = entry["files"]
    else:  # a record written before the runner listed its files
        files = [a["file"] for a in entry.get("arrays", {}).values()]
    return all((record.parent / f).exists() for f in files)


def _checked(arrays: Any) -> dict[str, Any]:
    """An extractor's returned arrays: a dict (empty only for one that also wrote through its output)."""
    if arrays is None:
        return {}
    if not isinstance(arrays, dict):
        raise TypeError(f"an extractor must return a dict of arrays, got {type(arrays).__name__}")
    return arrays


def _describe_arrays(arrays: Any) -> dict[str, dict[str, Any]]:
    """``{name: {"shape", "dtype"}}`` of an extractor's arrays (those its write hook writes)."""
    if not isinstance(arrays, dict) or not arrays:
        raise TypeError(f"an extractor must return a non-empty dict of arrays, got {type(arrays).__name__}")
    return {
        name: {"shape": list(np.shape(value)), "dtype": str(np.asarray(value).dtype)}
        for name, value in arrays.items()
    }


def _write_own(write: Any, arrays: dict[str, Any], stem: Path, folder: Path) -> list[str]:
    """Call an extractor's write hook; return the files it wrote, relative to ``folder`` (the record's)."""
    written = write(arrays, stem)
    if not written:
        raise TypeError(f"{getattr(write, '__qualname__', 'the write hook')} must return the files it wrote")
    files = []
    for path in written:
        if not Path(path).is_file():
            raise FileNotFoundError(f"the write hook says it wrote {path}, which is not there")
        files.append(os.path.relpath(path, folder))
    return files


def one_line_reason(error: BaseException) -> str:
    """One line: a :class:`VideoError`'s reason, else the exception's type and first line."""
    if isinstance(error, VideoError):
        return error.reason
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
