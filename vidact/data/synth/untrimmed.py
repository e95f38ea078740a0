"""A synthetic untrimmed benchmark for temporal action detection: long videos in which several actions of the
temporal classes happen among background, with their ground truth in ActivityNet's JSON layout.

    >>> info = synthesize_untrimmed("data/untrimmed", videos={"train": 100, "val": 20, "test": 20})
    >>> info.annotations                      # data/untrimmed/annotations.json
    >>> sorted(p.name for p in info.root.iterdir())
    ['annotations.json', 'classes.txt', 'manifest.json', 'videos']

**A video.** One class-neutral backdrop (:func:`~vidact.data.synth.scenes._plain_background`, as the temporal
clips have) for the whole video, distractors drifting over it from the first frame to the last, and, at random
times, non-overlapping *instances* of the temporal classes (:data:`~vidact.data.synth.TEMPORAL_CLASSES`): each is
the actor of that class's clip (:func:`~vidact.data.synth.render_clip`'s stick figures, lids, cups, ...) drawn
over the backdrop for a length drawn in ``action_duration`` and played backwards for the second class of a pair,
so a detector must see the direction of the motion to name it. Before an instance the actor stands still in its
first pose for a random while, and after it in its last pose (an idle figure, a closed lid), so that the presence
of an actor does not mark an action: its motion does. Background takes at least ``min_gap`` seconds between
instances and before the first and after the last. Gaussian pixel noise covers everything.

**The ground truth** marks where the actor moves: from the last still frame before its motion to the first still
frame after it (a one-shot action such as opening a lid moves for 50-100 % of its drawn length; a cyclic one
for all of it), in seconds of the video's frames (frame ``i`` is shown from ``i / fps`` to ``(i + 1) / fps``).
``annotations.json`` is ActivityNet's official layout: ``{"version", "taxonomy": [], "database": {video: {"subset",
"duration", "fps", "resolution", "url": "", "annotations": [{"segment": [start, end], "label"}]}}}``, with the
subsets ``training``, ``validation`` and ``testing`` of the splits ``train``, ``val`` and ``test``.

Videos are ``root/videos/<split>_<index>.mp4`` (H.264, as :func:`~vidact.data.synth.synthesize` writes them);
every random choice of a video comes from ``clip_rng(seed, split, "untrimmed", index)``, so a benchmark is the
same whatever the number of worker processes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..._atomic import write_text
from ...errors import ConfigError
from ...io.writer import write_video
from .actions import _ACTORS, _PAIR_OF_CLASS, TEMPORAL_PAIRS, _draw_distractors
from .clips import _check_size, clip_rng
from .scenes import _plain_background
from .writer import _X264, _default_workers, _select, prepare_root, split_counts, write_index

__all__ = [
    "SUBSETS",
    "DEFAULT_VIDEOS",
    "Instance",
    "UntrimmedInfo",
    "plan_instances",
    "render_untrimmed",
    "video_id",
    "synthesize_untrimmed",
]

#: The ground truth's subset of each split (ActivityNet's names).
SUBSETS: Mapping[str, str] = {"train": "training", "val": "validation", "test": "testing"}
DEFAULT_VIDEOS: Mapping[str, int] = {"train": 100, "val": 20, "test": 20}
#: A frame moves when some pixel changes by more than this (of 255) from the frame before: visible motion, not
#: the sub-pixel creep at the ends of an eased movement.
_MOTION_THRESHOLD = 16
_NOISE_CHUNK = 64  # frames noised and encoded at a time


@dataclass(frozen=True)
class Instance:
    """One action of an untrimmed video, in frames of the video.

    Attributes:
        label: the class.
        start, frames: the actor is drawn over frames ``[start, start + frames)``.
        hold_before, hold_after: frames before and after those in which it stands still (first and last pose).
    """

    label: str
    start: int
    frames: int
    hold_before: int
    hold_after: int


@dataclass(frozen=True)
class UntrimmedInfo:
    """What :func:`synthesize_untrimmed` wrote.

    Attributes:
        root: the benchmark's folder.
        annotations: ``root/annotations.json``.
        classes: the class names in label order (``classes.txt``).
        videos: videos written per split.
        instances: action instances per split.
    """

    root: Path
    annotations: Path
    classes: tuple[str, ...]
    videos: dict[str, int]
    instances: dict[str, int]

    @property
    def num_videos(self) -> int:
        return sum(self.videos.values())


def plan_instances(
    rng: np.random.Generator,
    total: int,
    classes: Sequence[str],
    *,
    lengths: tuple[int, int],
    min_gap: int,
    max_coverage: float = 0.6,
) -> list[Instance]:
    """Where the actions of a video of ``total`` frames go.

    Lengths are drawn uniformly in ``lengths`` (frames, both ends included) while they fit: at most
    ``max_coverage`` of the video, with ``min_gap`` frames of background before, between and after them (the
    first always fits, shortened if it must). The remaining background is spread over the gaps uniformly at random
    (a uniform composition), the order of the actions is their draw order, each class is uniform over
    ``classes``, and each instance's still poses take up to half of each gap next to it.

    Args:
        rng: the source of every draw.
        total: frames of the video.
        classes: the classes to draw from.
        lengths: (shortest, longest) frames of an instance's drawing.
        min_gap: frames of background at least around every instance.
        max_coverage: the largest share of the video the instances' drawings may take.

    Returns:
        The instances in time order, non-overlapping, holds included.

    Raises:
        ConfigError: a video too short for one instance of at least 2 frames between two gaps.
    """
    shortest, longest = lengths
    room = total - 2 * min_gap
    if room < 2 or shortest < 2 or longest < shortest:
        raise ConfigError(
            f"a video of {total} frames has no room for an action of {shortest}-{longest} frames with {min_gap} "
            "frames of background around it"
        )
    drawn = [min(int(rng.integers(shortest, longest + 1)), room)]
    while True:
        length = int(rng.integers(shortest, longest + 1))
        busy = sum(drawn) + length
        if busy > max_coverage * total or busy + (len(drawn) + 2) * min_gap > total:
            break
        drawn.append(length)
    free = total - sum(drawn) - (len(drawn) + 1) * min_gap
    cuts = np.sort(rng.integers(0, free + 1, size=len(drawn)))
    gaps = min_gap + np.diff(np.concatenate([[0], cuts, [free]]))  # [K + 1] background runs
    labels = [classes[int(i)] for i in rng.integers(0, len(classes), size=len(drawn))]
    instances = []
    position = int(gaps[0])
    for k, (length, label) in enumerate(zip(drawn, labels, strict=True)):
        before = int(gaps[k]) if k == 0 else int(gaps[k]) - int(gaps[k]) // 2
        after = int(gaps[k + 1]) if k == len(drawn) - 1 else int(gaps[k + 1]) // 2
        hold_before = int(rng.integers(0, before + 1))
        hold_after = int(rng.integers(0, after + 1))
        instances.append(Instance(label, position, length, hold_before, hold_after))
        position += length + int(gaps[k + 1])
    return instances


def _moving_span(actor: np.ndarray) -> tuple[int, int]:
    """Frames ``[first, last)`` of an actor's drawing from its last still frame before the motion to its first
    still frame after it (the whole drawing when nothing moves)."""
    change = np.abs(np.diff(actor.astype(np.int16), axis=0)).reshape(len(actor) - 1, -1).max(axis=1)
    moving = np.flatnonzero(change > _MOTION_THRESHOLD)  # frame pair (t, t + 1) differs visibly
    if not len(moving):
        return 0, len(actor)
    return int(moving[0]), int(moving[-1]) + 2


def render_untrimmed(
    rng: np.random.Generator,
    *,
    frames: int,
    classes: Sequence[str],
    size: tuple[int, int],
    lengths: tuple[int, int],
    min_gap: int,
    noise: float,
    distractors: int,
    max_coverage: float = 0.6,
) -> tuple[Iterator[np.ndarray], list[tuple[int, int, str]]]:
    """Draw one untrimmed video (see the module docstring).

    Args:
        rng: the source of everything random in the video.
        frames: its length in frames.
        classes: the temporal classes its actions are drawn from.
        size: (height, width).
        lengths, min_gap, max_coverage: the instances (:func:`plan_instances`).
        noise: Gaussian pixel noise, a fraction of 255.
        distractors: drifting shapes over the whole video.

    Returns:
        ``(frames, actions)``: an iterator over the [H, W, 3] uint8 frames (noised chunk by chunk as they are
        consumed) and, per instance in time order, ``(first, stop, label)``: frames ``[first, stop)`` are where
        its actor moves.
    """
    height, width = size
    background = _plain_background(rng, height, width)
    reference = background.reshape(-1, 3).mean(axis=0)
    video = np.repeat(background[None], frames, axis=0)
    _draw_distractors(rng, video, distractors)
    actions = []
    for instance in plan_instances(
        rng, frames, classes, lengths=lengths, min_gap=min_gap, max_coverage=max_coverage
    ):
        pair, reverse = _PAIR_OF_CLASS[instance.label]
        actor = np.repeat(background[None], instance.frames, axis=0)
        _ACTORS[pair](rng, actor, reference)
        if reverse:
            actor = actor[::-1]
        drawn = (actor != background).any(axis=-1)  # [L, H, W]: the actor's pixels
        start, stop = instance.start, instance.start + instance.frames
        poses = [
            *([0] * instance.hold_before),
            *range(instance.frames),
            *([instance.frames - 1] * instance.hold_after),
        ]
        for t, pose in zip(
            range(start - instance.hold_before, stop + instance.hold_after), poses, strict=True
        ):
            video[t][drawn[pose]] = actor[pose][drawn[pose]]
        first, last = _moving_span(actor)
        actions.append((start + first, start + last, instance.label))
    noise_rng = np.random.default_rng(rng.integers(2**63))

    def noised() -> Iterator[np.ndarray]:
        for begin in range(0, frames, _NOISE_CHUNK):
            chunk = video[begin : begin + _NOISE_CHUNK]
            if noise > 0:
                noisy = chunk + noise_rng.standard_normal(chunk.shape, dtype=np.float32) * np.float32(
                    255 * noise
                )
                chunk = np.clip(noisy.round(), 0, 255).astype(np.uint8)
            yield from chunk

    return noised(), actions


@dataclass(frozen=True)
class _Spec:
    """Everything a worker process needs to write one video."""

    videos: Path
    classes: tuple[str, ...]
    size: tuple[int, int]
    duration: tuple[float, float]
    lengths: tuple[int, int]
    min_gap: int
    max_coverage: float
    fps: float
    seed: int
    noise: float
    distractors: int
    crf: int


def video_id(split: str, index: int) -> str:
    """The id (and file stem) of video ``index`` of ``split``: ``val_0003``."""
    return f"{split}_{index:04d}"


def _write_one(spec: _Spec, job: tuple[str, int]) -> dict[str, Any]:
    """Render and encode one video; returns its ground-truth entry."""
    split, index = job
    rng = clip_rng(spec.seed, split, "untrimmed", index)
    frames = round(float(rng.uniform(*spec.duration)) * spec.fps)
    stream, actions = render_untrimmed(
        rng,
        frames=frames,
        classes=spec.classes,
        size=spec.size,
        lengths=spec.lengths,
        min_gap=spec.min_gap,
        noise=spec.noise,
        distractors=spec.distractors,
        max_coverage=spec.max_coverage,
    )
    write_video(spec.videos / f"{video_id(split, index)}.mp4", stream, spec.fps, crf=spec.crf, options=_X264)
    height, width = spec.size
    return {
        "subset": SUBSETS[split],
        "duration": round(frames / spec.fps, 6),
        "fps": spec.fps,
        "resolution": f"{width}x{height}",
        "url": "",
        "annotations": [
            {"segment": [round(first / spec.fps, 6), round(stop / spec.fps, 6)], "label": label}
            for first, stop, label in actions
        ],
    }


def synthesize_untrimmed(
    root: str | os.PathLike,
    *,
    videos: int | Mapping[str, int] | None = None,
    duration: tuple[float, float] = (30.0, 60.0),
    action_duration: tuple[float, float] = (1.0, 8.0),
    min_gap: float = 1.0,
    max_coverage: float = 0.6,
    fps: float = 8.0,
    size: int | tuple[int, int] = 112,
    seed: int = 0,
    noise: float = 0.02,
    distractors: int = 2,
    pairs: Sequence[str] | None = None,
    crf: int = 23,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> UntrimmedInfo:
    """Generate the synthetic untrimmed benchmark (see the module docstring) in ``root``.

    Writes ``root/videos/<split>_<index>.mp4``, ``root/annotations.json`` (ActivityNet's layout), ``classes.txt``
    (one class a line, in label order) and, last, ``manifest.json`` (the parameters, classes, counts of videos and
    instances, the share of frames inside actions).

    Args:
        root: output folder; must be missing or empty (see ``overwrite``).
        videos: videos per split, e.g. ``{"train": 100, "val": 20, "test": 20}`` (:data:`DEFAULT_VIDEOS`); an int
            gives every split that many; splits left out or at 0 are not written.
        duration: shortest and longest video, seconds (drawn uniformly).
        action_duration: shortest and longest drawing of an action, seconds (its annotated motion can be
            shorter: see the module docstring).
        min_gap: seconds of background at least around every action.
        max_coverage: the largest share of a video its actions' drawings may take.
        fps: frame rate of the videos (the actions are defined per frame: a higher rate makes them faster).
        size: frame side in pixels, or ``(height, width)``; even, at least 16.
        seed: the benchmark's seed.
        noise: Gaussian pixel noise standard deviation, as a fraction of the 0-255 range.
        distractors: drifting shapes per video that carry no class information.
        pairs: the temporal pairs whose classes act (keys of :data:`~vidact.data.synth.TEMPORAL_PAIRS`); default
            all seven (14 classes).
        crf: H.264 constant rate factor.
        workers: processes rendering and encoding in parallel; default one per available core, ``0`` or ``1``
            works in this process.
        overwrite: replace an earlier benchmark in ``root`` (only a folder holding nothing but what this function
            writes is cleared).
        progress: show a progress bar.

    Returns:
        An :class:`UntrimmedInfo`.

    Raises:
        ConfigError: an unknown pair, or an option out of range (a video too short for one action).
        DatasetError: ``root`` is not empty and ``overwrite`` is off, or holds files this function did not write.
    """
    root = Path(root)
    pair_classes = {pair: TEMPORAL_PAIRS[pair] for pair in _select(pairs, list(TEMPORAL_PAIRS), "pairs")}
    classes = tuple(name for names in pair_classes.values() for name in names)
    counts = split_counts(videos, DEFAULT_VIDEOS, name="videos")
    if not fps > 0:
        raise ConfigError(f"fps must be positive, got {fps}")
    shortest, longest = (float(x) for x in duration)
    low, high = (round(float(x) * fps) for x in action_duration)
    gap = round(min_gap * fps)
    if not (
        0 < shortest <= longest
        and 2 <= low <= high
        and gap >= 0
        and 0 < max_coverage <= 1
        and noise >= 0
        and distractors >= 0
        and seed >= 0
        and 0 <= crf <= 51
    ):
        raise ConfigError(
            "need 0 < duration[0] <= duration[1], actions of at least 2 frames with "
            "action_duration[0] <= action_duration[1], min_gap >= 0, 0 < max_coverage <= 1, noise, distractors "
            f"and seed >= 0, 0 <= crf <= 51; got duration={duration}, action_duration={action_duration}, "
            f"min_gap={min_gap}, max_coverage={max_coverage}, noise={noise}, distractors={distractors}, "
            f"seed={seed}, crf={crf}"
        )
    if round(shortest * fps) - 2 * gap < 2:
        raise ConfigError(
            f"videos of {shortest} s have no room for an action between two gaps of {min_gap} s at {fps} fps"
        )
    spec = _Spec(
        videos=root / "videos",
        classes=classes,
        size=_check_size(size),
        duration=(shortest, longest),
        lengths=(low, high),
        min_gap=gap,
        max_coverage=float(max_coverage),
        fps=float(fps),
        seed=seed,
        noise=float(noise),
        distractors=distractors,
        crf=crf,
    )
    prepare_root(
        root,
        {"videos", "annotations.json", "classes.txt", "manifest.json"},
        overwrite=overwrite,
        writer="synthesize_untrimmed",
    )
    spec.videos.mkdir()
    jobs = [(split, index) for split, n in counts.items() for index in range(n)]
    write = partial(_write_one, spec)
    workers = _default_workers() if workers is None else workers
    entries: list[dict[str, Any]] = []
    with tqdm(total=len(jobs), desc="synth untrimmed", unit="video", disable=not progress) as bar:
        if workers <= 1:
            for job in jobs:
                entries.append(write(job))
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
                for entry in pool.map(write, jobs, chunksize=1):
                    entries.append(entry)
                    bar.update()
    database = {video_id(split, index): entry for (split, index), entry in zip(jobs, entries, strict=True)}
    ground_truth = {"version": "vidact synthetic untrimmed 1.0", "taxonomy": [], "database": database}
    write_text(root / "annotations.json", json.dumps(ground_truth, indent=1) + "\n")

    instances = {split: 0 for split in counts}
    inside = total = 0.0
    for (split, _), entry in zip(jobs, entries, strict=True):
        instances[split] += len(entry["annotations"])
        inside += sum(end - start for start, end in (a["segment"] for a in entry["annotations"]))
        total += entry["duration"]
    manifest = {
        "generator": "vidact.data.synth.untrimmed",
        "kind": "untrimmed",
        "classes": list(classes),
        "pairs": {pair: list(names) for pair, names in pair_classes.items()},
        "videos": counts,
        "subsets": {split: SUBSETS[split] for split in counts},
        "instances": instances,
        "action_share": round(inside / total, 4),
        "params": {
            "duration": list(spec.duration),
            "action_duration": [float(x) for x in action_duration],
            "min_gap": float(min_gap),
            "max_coverage": spec.max_coverage,
            "size": list(spec.size),
            "fps": spec.fps,
            "seed": seed,
            "noise": spec.noise,
            "distractors": distractors,
            "codec": "libx264",
            "encoder_options": _X264,
            "crf": crf,
        },
    }
    write_index(root, classes, manifest)
    return UntrimmedInfo(
        root=root, annotations=root / "annotations.json", classes=classes, videos=counts, instances=instances
    )
