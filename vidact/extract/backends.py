"""Where the per-video job runs: this process, or a local pool of spawned processes (Ray: :mod:`._ray`).

Each backend maps :func:`~vidact.extract.job.process_video` over videos and yields one
:class:`~vidact.extract.job.Outcome` per video, in completion order; the runner (:func:`vidact.extract.extract`)
picks one and counts what it yields. A backend owns what is particular to it (thread counts, a process that dies
under a video) and nothing of extraction itself.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from .base import Extractor
from .inputs import Video
from .job import WORKER_DIED, Outcome, process_video

__all__ = ["run_here", "run_pool", "available_cpus"]


def run_here(
    extractor: Extractor, videos: Sequence[Video], out: Path, params: dict[str, Any], threads: int | None
) -> Iterator[Outcome]:
    """Each video in turn in this process, with ``threads`` torch threads (default: as they are)."""
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


def run_pool(
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
            yield Outcome(lost[0], "failed", WORKER_DIED)
        else:  # each alone, in input order
            suspects = sorted([*suspects, *lost], key=lambda v: order[v.path], reverse=True)


def available_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
