"""The Ray backend of :func:`vidact.extract.extract`: one actor per worker, each loading the extractor once.

``address="auto"`` starts a fresh local Ray (``workers`` CPUs, default all); any other address joins a running
cluster (``ray start --head`` prints it; ``ray://host:10001`` for Ray Client). If this process is already
connected to Ray (``ray.init`` called by the user), that connection is used and left open.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .base import Extractor
from .inputs import Video
from .job import WORKER_DIED, Outcome, one_line_reason, process_video

__all__ = ["RaySession"]

_TASKS_PER_ACTOR = 2  # one running, one queued: an actor never waits for the driver between videos


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "extraction on Ray needs the optional extra 'ray', which is not installed: pip install 'vidact[ray]'"
        ) from None
    return ray


class _Worker:
    """A Ray actor's state: the extractor (its model loaded on the first video), with bounded threads."""

    def __init__(self, extractor: Extractor, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.extractor = extractor

    def run(self, video: Video, out: Path, params: dict[str, Any]) -> Outcome:
        return process_video(self.extractor, video, out, params)


class RaySession:
    """A connection to Ray for the length of a ``with`` block, and the map of an extractor over videos.

    Args:
        address: ``"auto"`` (start a local Ray) or a cluster address.
        workers: actors (default: one per CPU of the cluster).
        threads: torch threads (and Ray CPUs) of each actor.

    Raises:
        ConfigError: Ray is not installed, or the cluster cannot be reached.
    """

    def __init__(self, address: str, *, workers: int | None = None, threads: int | None = None) -> None:
        self.ray = _import_ray()
        self.address = address
        self.workers = workers
        self.threads = threads or 1
        self._connected_here = False

    def __enter__(self) -> RaySession:
        ray = self.ray
        if not ray.is_initialized():
            options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
            try:
                if self.address == "auto":
                    cpus = self.workers * self.threads if self.workers else None
                    ray.init(address="local", num_cpus=cpus, include_dashboard=False, **options)
                else:
                    ray.init(address=self.address, **options)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise ConfigError(f"cannot connect to Ray at {self.address}: {one_line_reason(e)}") from None
            self._connected_here = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.num_actors = self.workers or max(1, cpus // self.threads)
        self.backend = f"ray: {self.num_actors} actors"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._connected_here:
            self.ray.shutdown()

    def map(
        self, extractor: Extractor, videos: Sequence[Video], out: Path, params: dict[str, Any]
    ) -> Iterator[Outcome]:
        """One :class:`Outcome` per video, in completion order.

        An actor runs its videos in the order they were sent, so when one dies, the oldest of its videos in flight
        is the one that killed it: that one fails, the others go back to the queue, and a new actor replaces it.
        """
        ray = self.ray
        actor_class = ray.remote(num_cpus=self.threads)(_Worker)
        extractor_ref = ray.put(extractor)
        todo = list(videos)[::-1]  # a stack: pop() takes the next video in input order
        in_flight: dict[Any, tuple[Any, int, Video]] = {}  # ref -> (actor, send order, video)
        sent = 0

        def submit(actor: Any) -> None:
            nonlocal sent
            if todo:
                video = todo.pop()
                in_flight[actor.run.remote(video, out, params)] = (actor, sent, video)
                sent += 1

        def start_actor() -> None:
            actor = actor_class.remote(extractor_ref, self.threads)
            for _ in range(_TASKS_PER_ACTOR):
                submit(actor)

        for _ in range(self.num_actors):
            start_actor()
        while in_flight:
            [ref], _ = ray.wait(list(in_flight), num_returns=1)
            actor, number, video = in_flight.pop(ref)
            try:
                yield ray.get(ref)
            except ray.exceptions.RayActorError:
                mates = [r for r, entry in in_flight.items() if entry[0] is actor]
                died = sorted([(number, video), *(in_flight.pop(r)[1:] for r in mates)], key=lambda e: e[0])
                yield Outcome(died[0][1], "failed", WORKER_DIED)
                todo.extend(v for _, v in reversed(died[1:]))  # back to the queue, to go next
                start_actor()
                continue
            except ray.exceptions.RayError as e:
                yield Outcome(video, "failed", one_line_reason(e))
            submit(actor)
