"""Map an extractor over a corpus: skip what is done, write atomically, go on past bad videos, report.

    >>> extractor = build_extractor("features", model="runs/s3d", window=2.0, stride=1.0)
    >>> report = extract(extractor, "data/videos", "features/", workers=2)       # or ray="auto" / ray="host:6379"
    >>> report.done, report.skipped, report.failed                                # 98, 0, [Failure(...), ...]

**Outputs.** For a video named ``a/v1`` (see :mod:`vidact.extract.inputs`) the extractor's arrays go to
``OUT/a/v1.<array>.npy`` (per-item files, if it writes any, to ``OUT/a/v1.<kind>/``) and, last, a record
``OUT/a/v1.<kind>.json`` (the key, the video's path and sha256, the parameters, each array's shape and dtype, the
files written). An extractor may write as it goes (:mod:`vidact.extract.output`: nothing of a video sits whole in
memory, nothing is at its final path before the video succeeded) or return its arrays; one with a ``write(arrays,
stem)`` method writes its own formats instead of the ``.npy`` files (the ``pose`` kind: ``OUT/a/v1.pose.pkl`` and
``.npz``). A video counts as done only when its record exists with the current key
(:func:`~vidact.extract.base.output_key`) and every file it lists is there, so an interrupted run leaves nothing
that a re-run would take for finished. A re-run skips the videos whose record matches; a changed video or parameter
recomputes them. All of this is the per-video job, :func:`vidact.extract.job.process_video`.

**Failures.** A video that cannot be read (any exception while extracting it) is listed with a one-line reason and
the others go on. ``OUT/_summary.<kind>.json`` records the run: counts, failures, time.

**Where it runs.** In this process (``workers=1``), in a local pool of ``workers`` spawned processes (each with a
share of the CPU's threads), or on Ray (``ray="auto"`` starts a local Ray for ``workers`` actors; ``ray=ADDRESS``
joins an existing cluster, one actor per CPU unless ``workers`` says otherwise). Each process or actor loads the
extractor's model once; a process or actor that dies fails the video that killed it, and the others go on. On a
cluster every node must see the videos and the output folder at the same paths (a shared file system) and have
vidact installed. The backends are :mod:`vidact.extract.backends` and :mod:`vidact.extract._ray`; this module only
picks one, draws the progress bar and writes the summary.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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
from ..errors import ConfigError
from .backends import run_here, run_pool
from .base import Extractor, canonical_json
from .inputs import Video, find_videos
from .job import Outcome

__all__ = ["Failure", "ExtractionReport", "extract"]

_SUMMARY = "_summary"


@dataclass(frozen=True)
class Failure:
    """A video that could not be extracted, and why (one line)."""

    video: str
    reason: str


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
            from ._ray import RaySession  # the optional extra 'ray': imported only when asked for

            session = stack.enter_context(
                RaySession(ray, workers=workers if workers > 1 else None, threads=threads)
            )
            report.backend = session.backend
            outcomes = session.map(extractor, videos, out, params)
        elif workers > 1:
            report.backend = f"{workers} processes"
            outcomes = run_pool(extractor, videos, out, params, workers, threads)
        else:
            outcomes = run_here(extractor, videos, out, params, threads)
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
