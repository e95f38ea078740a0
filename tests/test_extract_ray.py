"""Extraction on Ray with more videos than actors: every actor goes on taking videos after its first ones (the
refill), and an actor whose process dies fails the one video that killed it while the others are done.

One local Ray (2 CPUs) serves the whole module; the extractor (:mod:`_extract_kinds`) reads no frames, so the
module's time is Ray's start-up and its actors' (about 5 s and 9 s on an idle 2-core machine; the crash test,
which starts a third actor, is ``slow``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _extract_kinds import FileFacts

from vidact.extract import extract
from vidact.io.writer import write_video

HERE = Path(__file__).resolve().parent
VIDEOS = 7  # 2 actors take 2 videos each at first (one running, one queued): 3 more need the refill


@pytest.fixture(scope="module")
def ray_session() -> Iterator[object]:
    """A local Ray whose workers can import :mod:`_extract_kinds`; the runner uses it as it is (and leaves it
    open), as it does a cluster the user connected to."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("Ray is already running in this process")
    before = os.environ.get("PYTHONPATH")
    # Ray's workers inherit this process's environment
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), before) if p)
    try:
        ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
        yield ray
    finally:
        ray.shutdown()
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v0.mp4 ... v6.mp4: 2 frames of 16x16 each, of different sizes in bytes."""
    root = tmp_path_factory.mktemp("ray_corpus")
    rng = np.random.default_rng(0)
    for i in range(VIDEOS):
        write_video(root / f"v{i}.mp4", rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8), 8.0)
    return root


def _sizes(out: Path) -> dict[str, int]:
    return {p.name.split(".")[0]: int(np.load(p)[0]) for p in sorted(out.glob("*.size.npy"))}


def test_two_actors_extract_seven_videos(ray_session, corpus: Path, tmp_path: Path) -> None:
    report = extract(FileFacts(), corpus, tmp_path, ray="auto", workers=2, progress=False)
    assert report.backend == "ray: 2 actors"
    assert (report.videos, report.done, report.skipped, report.failed) == (VIDEOS, VIDEOS, 0, [])
    assert _sizes(tmp_path) == {f"v{i}": (corpus / f"v{i}.mp4").stat().st_size for i in range(VIDEOS)}
    pids = {int(np.load(p)[0]) for p in tmp_path.glob("*.pid.npy")}
    assert len(pids) == 2 and os.getpid() not in pids  # two actors did all of it, none of it in this process


@pytest.mark.slow  # about 13 s on an idle 2-core machine: a replacement actor starts (and imports torch)
def test_an_actor_that_dies_fails_its_video_and_the_rest_is_done(
    ray_session, corpus: Path, tmp_path: Path
) -> None:
    report = extract(FileFacts(crash_on="v2"), corpus, tmp_path, ray="auto", workers=2, progress=False)
    assert (report.done, report.skipped) == (VIDEOS - 1, 0)
    [failure] = report.failed
    assert Path(failure.video).name == "v2.mp4"
    assert failure.reason == "the worker process died extracting it (crashed or was killed)"
    assert sorted(_sizes(tmp_path)) == [f"v{i}" for i in range(VIDEOS) if i != 2]
    assert not (tmp_path / "v2.file_facts.json").exists()
