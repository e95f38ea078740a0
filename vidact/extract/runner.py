"""Map an extractor over a corpus: skip what is done, write atomically, go on past bad videos, report.

    >>> extractor = build_extractor("features", model="runs/s3d", window=2.0, stride=1.0)
    >>> report = extract(extractor, "data/videos", "features/", workers=2)       # or ray="auto" / ray="host:6379"
    >>> report.done, report.skipped, report.failed                                # 98, 0, [Failure(...), ...]

**Outputs.** For a video named ``a/v1`` (see :mod:`vidact.extract.inputs`) the extractor's arrays go to
``OUT/a/v1.<array>.npy`` and, last, a record ``OUT/a/v1.<kind>.json`` (the key, the video's path and sha256, the
parameters, each array's shape and dtype, the files written). An extractor with a ``write(arrays, stem)``
method writes its own formats instead of the ``.npy`` files (the ``pose`` kind: ``OUT/a/v1.pose.pkl`` and
``.npz``, with ``stem`` = ``OUT/a/v1``) and returns the paths it wrote. Every file is written to a temporary
name and renamed (:func:`~vidact._atomic.atomic_write`), and a video counts as done only when its record exists
with the current key (:func:`~vidact.extract.base.output_key`) and every file it lists is there, so an
interrupted run leaves nothing that a re-run would take for finished. A re-run skips the videos whose record matches; a changed video or parameter recomputes them.

**Failures.** A video that cannot be read (any exception while extracting it) is listed with a one-line reason and
the others go on. ``OUT/_summary.<kind>.json`` records the run: counts, failures, time.

**Where it runs.** In this process (``workers=1``), in a local pool of ``workers`` spawned processes (each with a
share of the CPU's threads), or on Ray (``ray="auto"`` starts a local Ray for ``workers`` actors; ``ray=ADDRESS``
joins an existing cluster, one actor per CPU unless ``workers`` says otherwise). Each process or actor loads the
extractor's model once; a process or actor that dies fails the video that killed it, and the others go on. On a cluster every node must see the videos and the output folder at the same paths (a shared file
system) and have vidact installed.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from .._atomic import atomic_write
from ..errors import ConfigError, VideoError
from .base import Extractor, canonical_json, output_key, video_digest
from .inputs import Video, find_videos

__all__ = ["Failure", "Outcome", "ExtractionReport", "extract", "process_video", "record_path", "array_path"]

_SUMMARY = "_summary"
_DIED = "the worker process died extracting it (crashed or was killed)"
_ARRAY_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@dataclass(frozen=True)
class Failure:
    """A video that could not be extracted, and why (one line)."""

    video: str
    reason: str


@dataclass(frozen=True)
class Outcome:
    """What became of one video: ``"done"`` (extracted now), ``"skipped"`` (up to date) or ``"failed"``."""

    video: Video
    status: Literal["done", "skipped", "failed"]
    reason: str = ""
    seconds: float = 0.0


@dataclass
class ExtractionReport:
    """The result of :func:`extract`.

    Attributes:
        kind: the extractor's kind.
        params: its parameters (part of every output's key).
        out: the output folder.
        backend: where it ran (``"in-process"``, ``"2 processes"``, ``"ray: 4 actors"``).
        videos: how many videos the input holds.
        done: videos extracted in this run.
        skipped: videos already up to date.
        failed: the videos that failed, in input order.
        seconds: wall time of the whole run.
        summary: the summary JSON written in ``out``.
    """

    kind: str
    params: dict[str, Any]
    out: Path
    backend: str
    videos: int
    done: int = 0
    skipped: int = 0
    failed: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    summary: Path | None = None

    @property
    def ok(self) -> bool:
        """No video failed."""
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "params": self.params,
            "out": str(self.out),
            "backend": self.backend,
            "videos": self.videos,
            "done": self.done,
            "skipped": self.skipped,
            "failed": [asdict(f) for f in self.failed],
            "seconds": round(self.seconds, 3),
        }


def record_path(out: str | os.PathLike, video: Video, kind: str) -> Path:
    """``OUT/<video name>.<kind>.json``: the record that says a video's outputs are complete."""
    return Path(out) / f"{video.name}.{kind}.json"


def array_path(out: str | os.PathLike, video: Video, array: str) -> Path:
    """``OUT/<video name>.<array>.npy``."""
    return Path(out) / f"{video.name}.{array}.npy"


# -- one video -----------------------------------------------------------------------------------------------
def process_video(
    extractor: Extractor, video: Video, out: str | os.PathLike, params: dict[str, Any]
) -> Outcome:
    """Extract one video unless its record is up to date; never raises for a bad video (it fails instead).

    Args:
        extractor: the extractor.
        video: the video and its output name.
        out: the output folder.
        params: ``extractor.params()``, computed once by the caller.
    """
    start = time.perf_counter()
    try:
        digest = video_digest(video.path)
        key = output_key(extractor.name, params, digest)
        record = record_path(out, video, extractor.name)
        if _up_to_date(record, key):
            return Outcome(video, "skipped", seconds=time.perf_counter() - start)
        arrays = extractor(video.path)
        write = getattr(extractor, "write", None)
        if write is None:
            described = _write_arrays(out, video, arrays)
            files = [a["file"] for a in described.values()]
        else:
            described = _describe_arrays(arrays)
            files = _write_own(write, arrays, Path(out) / video.name, record.parent)
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
        return Outcome(video, "failed", _reason(e), time.perf_counter() - start)
    return Outcome(video, "done", seconds=time.perf_counter() - start)


def _up_to_date(record: Path, key: str) -> bool:
    """The record exists, has ``key``, and every array it lists is there."""
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
    return all((record.parent / f).is_file() for f in files)


def _write_arrays(out: str | os.PathLike, video: Video, arrays: Any) -> dict[str, dict[str, Any]]:
    """Write each array atomically; return ``{name: {"file", "shape", "dtype"}}`` (files relative to the record)."""
    if not isinstance(arrays, dict) or not arrays:
        raise TypeError(f"an extractor must return a non-empty dict of arrays, got {type(arrays).__name__}")
    files = {}
    for name, value in arrays.items():
        if not isinstance(name, str) or not name or not set(name) <= _ARRAY_NAME_CHARS:
            raise ValueError(f"array name {name!r}: use letters, digits, '_' and '-'")
        array = np.asarray(value)
        if array.dtype == object:
            raise TypeError(f"array {name!r} has dtype object")
        path = array_path(out, video, name)
        with atomic_write(path, "wb") as f:
            np.save(f, array, allow_pickle=False)
        files[name] = {"file": path.name, "shape": list(array.shape), "dtype": str(array.dtype)}
    return files


def _describe_arrays(arrays: Any) -> dict[str, dict[str, Any]]:
    """``{name: {"shape", "dtype"}}`` of an extractor's arrays."""
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


def _reason(error: BaseException) -> str:
    """One line: a :class:`VideoError`'s reason, else the exception's type and first line."""
    if isinstance(error, VideoError):
        return error.reason
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


# -- backends: each yields one Outcome per video, in completion order --------------------------------------------
def _run_here(
    extractor: Extractor, videos: Sequence[Video], out: Path, params: dict[str, Any], threads: int | None
) -> Iterator[Outcome]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        for video in videos:
            yield process_video(extractor, video, out, params)
    finally:
        torch.set_num_threads(before)


_worker_extractor: Extractor | None = None


def _init_worker(extractor: Extractor, threads: int) -> None:
    """Pool initializer: keep this process's extractor (its model loads on the first video); bound its threads."""
    global _worker_extractor
    import torch

    torch.set_num_threads(threads)
    _worker_extractor = extractor


def _pool_task(video: Video, out: Path, params: dict[str, Any]) -> Outcome:
    assert _worker_extractor is not None, "the pool initializer did not run"
    return process_video(_worker_extractor, video, out, params)


def _run_pool(
    extractor: Extractor,
    videos: Sequence[Video],
    out: Path,
    params: dict[str, Any],
    workers: int,
    threads: int | None,
) -> Iterator[Outcome]:
    """``workers`` spawned processes, at most two videos each in flight.

    A process that dies (a crash in a decoder, the out-of-memory killer) breaks the pool. The videos then in
    flight become suspects: a new pool runs each alone, so the one that kills its process again fails, with that
    reason, and the others are done.
    """
    threads = threads or max(1, available_cpus() // workers)
    todo = list(videos)[::-1]  # a stack: pop() takes the next video in input order
    order = {v.path: i for i, v in enumerate(videos)}
    suspects: list[Video] = []  # a stack too
    context = multiprocessing.get_context("spawn")  # fork is unsafe once torch has started its threads
    while todo or suspects:
        with ProcessPoolExecutor(workers, context, _init_worker, (extractor, threads)) as pool:
            in_flight: dict[Future[Outcome], Video] = {}
            lost: list[Video] = []
            while (todo or suspects or in_flight) and not lost:
                if suspects:
                    if not in_flight:
                        video = suspects.pop()
                        in_flight[pool.submit(_pool_task, video, out, params)] = video
                else:
                    while todo and len(in_flight) < 2 * workers:
                        video = todo.pop()
                        in_flight[pool.submit(_pool_task, video, out, params)] = video
                finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    video = in_flight.pop(future)
                    try:
                        yield future.result()
                    except BrokenProcessPool:
                        lost.append(video)
            lost.extend(in_flight.values() if lost else ())
        if len(lost) == 1:
            yield Outcome(lost[0], "failed", _DIED)
        else:  # each alone, in input order
            suspects = sorted([*suspects, *lost], key=lambda v: order[v.path], reverse=True)


def available_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# -- the runner ------------------------------------------------------------------------------------------------
def extract(
    extractor: Extractor,
    source: str | os.PathLike | Iterable[Video],
    out: str | os.PathLike,
    *,
    workers: int = 1,
    ray: str | None = None,
    threads: int | None = None,
    root: str | os.PathLike | None = None,
    progress: bool = True,
    console: Console | None = None,
) -> ExtractionReport:
    """Extract every video of ``source`` into ``out`` (see the module docstring).

    Args:
        extractor: from :func:`~vidact.extract.build_extractor` (or any :class:`~vidact.extract.Extractor`).
        source: a video, a folder tree, a list file (:func:`~vidact.extract.inputs.find_videos`), or videos.
        out: the output folder (created).
        workers: processes on this machine (1: this process); with ``ray``, actors (default: the cluster's CPUs).
        ray: ``"auto"`` to start a local Ray, or the address of a running cluster to join.
        threads: torch threads of each worker. Default: this process's as they are with one worker; the CPUs
            shared out among local processes; one per Ray actor. On a machine busy with other jobs, 1 is often
            fastest (a thread waiting for a descheduled sibling stalls every operation).
        root: the folder a list file's paths are relative to.
        progress: show a progress bar on stderr.
        console: where the progress bar goes (default: stderr).

    Raises:
        ConfigError: no videos, a bad ``workers``, or Ray asked for but not installed.
    """
    if workers < 1 or (threads is not None and threads < 1):
        raise ConfigError(f"workers and threads must be at least 1, got {workers} and {threads}")
    if isinstance(source, (str, os.PathLike)):
        videos = find_videos(source, root=root)
    else:
        videos = list(source)
    reserved = [v.name for v in videos if v.name == _SUMMARY]
    if reserved:
        raise ConfigError(f"a video named {_SUMMARY!r} would overwrite the run summary; rename it")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    params = json.loads(canonical_json(extractor.params()))
    report = ExtractionReport(extractor.name, params, out, "in-process", len(videos))
    order = {v.path: i for i, v in enumerate(videos)}
    start = time.perf_counter()
    with ExitStack() as stack:
        outcomes: Iterator[Outcome]
        if ray is not None:
            from ._ray import RaySession

            session = stack.enter_context(
                RaySession(ray, workers=workers if workers > 1 else None, threads=threads)
            )
            report.backend = session.backend
            outcomes = session.map(extractor, videos, out, params)
        elif workers > 1:
            report.backend = f"{workers} processes"
            outcomes = _run_pool(extractor, videos, out, params, workers, threads)
        else:
            outcomes = _run_here(extractor, videos, out, params, threads)
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        bar = stack.enter_context(
            Progress(*columns, console=console or Console(stderr=True), disable=not progress)
        )
        task = bar.add_task(f"{extractor.name} ({report.backend})", total=len(videos), counts="")
        for outcome in outcomes:
            if outcome.status == "done":
                report.done += 1
            elif outcome.status == "skipped":
                report.skipped += 1
            else:
                report.failed.append(Failure(outcome.video.path, outcome.reason))
            counts = f"done {report.done}, skipped {report.skipped}, failed {len(report.failed)}"
            bar.update(task, advance=1, counts=counts)
    report.failed.sort(key=lambda f: order[f.video])
    report.seconds = time.perf_counter() - start
    report.summary = out / f"{_SUMMARY}.{extractor.name}.json"
    with atomic_write(report.summary, "w") as f:
        json.dump(report.to_json(), f, indent=1)
    return report
