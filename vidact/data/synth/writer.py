"""Whole datasets on disk: :func:`synthesize` renders and encodes every video (in worker processes), then
writes ``classes.txt`` and ``manifest.json``.

The skeleton generator's :func:`~vidact.data.synth.skeleton.synthesize_skeletons` writes its data set through the
same steps: :func:`split_counts` (items per class and split), :func:`prepare_root` (the overwrite check) and
:func:`write_index` (``classes.txt`` and ``manifest.json``, each written atomically)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from tqdm.auto import tqdm

from ..._atomic import write_text
from ...errors import ConfigError, DatasetError
from ...io.writer import write_video
from .actions import TEMPORAL_PAIRS
from .clips import Kind, _check_size, clip_rng, render_clip
from .scenes import SCENE_CLASSES

__all__ = [
    "SPLITS",
    "DEFAULT_VIDEOS_PER_CLASS",
    "SynthInfo",
    "split_counts",
    "prepare_root",
    "write_index",
    "synthesize",
]

SPLITS: tuple[str, ...] = ("train", "val", "test")
DEFAULT_VIDEOS_PER_CLASS: Mapping[str, int] = {"train": 50, "val": 10, "test": 20}


@dataclass(frozen=True)
class SynthInfo:
    """What :func:`synthesize` wrote.

    Attributes:
        root: the dataset folder.
        kind: ``"temporal"`` or ``"scene"``.
        classes: class names in label order (the lines of ``classes.txt``).
        videos_per_class: videos per class in each split that was written.
        partners: each temporal class's time-reversed partner (both directions); empty for scene datasets.
    """

    root: Path
    kind: Kind
    classes: tuple[str, ...]
    videos_per_class: dict[str, int]
    partners: dict[str, str]

    @property
    def num_videos(self) -> int:
        return len(self.classes) * sum(self.videos_per_class.values())


# -- datasets --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    """Everything a worker process needs to write one video."""

    root: Path
    kind: Kind
    size: tuple[int, int]
    frames: int
    fps: float
    seed: int
    noise: float
    distractors: int
    crf: int


def _video_path(root: Path, split: str, class_name: str, index: int) -> Path:
    return root / split / class_name / f"{class_name}_{index:04d}.mp4"


#: x264 settings: one thread (the parallelism is across videos; tiny frames gain nothing from slices); the
#: ``veryfast`` preset, which halves the encoding time of 112 x 112 clips for files of the same size; and no
#: macroblock tree, whose lookahead makes x264 encode identical short, small clips differently from run to run.
_X264 = {"threads": "1", "preset": "veryfast", "x264-params": "mbtree=0"}


def _write_one(spec: _Spec, job: tuple[str, str, int]) -> None:
    split, class_name, index = job
    clip = render_clip(
        spec.kind,
        class_name,
        clip_rng(spec.seed, split, class_name, index),
        size=spec.size,
        frames=spec.frames,
        noise=spec.noise,
        distractors=spec.distractors,
    )
    write_video(_video_path(spec.root, split, class_name, index), clip, spec.fps, crf=spec.crf, options=_X264)


def _select(names: Sequence[str] | None, known: Sequence[str], what: str) -> list[str]:
    if names is None:
        return list(known)
    unknown = [n for n in names if n not in known]
    if unknown or not names or len(set(names)) != len(names):
        raise ConfigError(
            f"{what} must be distinct names from {', '.join(known)}; got {', '.join(names) or 'none'}"
        )
    return list(names)


def split_counts(
    per_class: int | Mapping[str, int] | None,
    default: Mapping[str, int],
    *,
    name: str = "videos_per_class",
    unit: str = "video",
) -> dict[str, int]:
    """How many items per class each split gets, the splits with none left out.

    Args:
        per_class: one count for every split, or a count per split name (:data:`SPLITS`), or ``None``
            (``default``).
        name, unit: how error messages call the argument and one item.

    Raises:
        ConfigError: an unknown split, a negative count, or nothing at all.
    """
    if per_class is None:
        per_class = default
    if isinstance(per_class, int):
        per_class = dict.fromkeys(SPLITS, per_class)
    unknown = set(per_class) - set(SPLITS)
    if unknown:
        raise ConfigError(f"{name}: unknown split(s) {', '.join(sorted(unknown))}; use {', '.join(SPLITS)}")
    counts = {s: int(per_class[s]) for s in SPLITS if per_class.get(s, 0)}
    if any(n < 0 for n in per_class.values()) or not counts:
        raise ConfigError(f"{name} must be non-negative with at least one {unit}, got {per_class}")
    return counts


def prepare_root(root: Path, ours: Collection[str], *, overwrite: bool, writer: str) -> None:
    """Make ``root`` an empty folder; with ``overwrite``, first remove what an earlier run wrote there.

    Args:
        root: the data set's folder (created if missing).
        ours: the names of the files and folders a generator writes in ``root``: only they may be removed.
        overwrite: replace an earlier data set.
        writer: the generator's name, for the error messages.

    Raises:
        DatasetError: ``root`` is a file; it is not empty and ``overwrite`` is off; or it holds something that is
            not in ``ours`` (nothing is removed then).
    """
    if root.exists() and not root.is_dir():
        raise DatasetError(f"{root}: exists and is not a folder")
    existing = sorted(p.name for p in root.iterdir()) if root.is_dir() else []
    if existing and not overwrite:
        raise DatasetError(f"{root}: folder is not empty; choose a new one or pass overwrite=True")
    foreign = [name for name in existing if name not in ours]
    if foreign:
        raise DatasetError(
            f"{root}: holds {', '.join(foreign)}, which {writer} did not write; refusing to overwrite"
        )
    for name in existing:
        path = root / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    root.mkdir(parents=True, exist_ok=True)


def write_index(root: Path, classes: Sequence[str], manifest: Mapping[str, object]) -> None:
    """Write ``root/classes.txt`` (one class a line, in label order) and then ``root/manifest.json`` (indented
    JSON), each atomically: the manifest, written last, says the data set is complete."""
    write_text(root / "classes.txt", "".join(f"{name}\n" for name in classes))
    write_text(root / "manifest.json", json.dumps(manifest, indent=2) + "\n")


def _default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def synthesize(
    root: str | os.PathLike,
    kind: Kind = "temporal",
    *,
    videos_per_class: int | Mapping[str, int] | None = None,
    size: int | tuple[int, int] = 112,
    frames: int = 16,
    fps: float = 8.0,
    seed: int = 0,
    noise: float = 0.02,
    distractors: int = 2,
    pairs: Sequence[str] | None = None,
    scenes: Sequence[str] | None = None,
    crf: int = 23,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> SynthInfo:
    """Generate a synthetic action dataset as H.264 videos in ``root/<split>/<class>/<class>_<index>.mp4``.

    Also writes ``root/classes.txt`` (one class a line, in label order) and, once every video is written,
    ``root/manifest.json``: the generation parameters, the classes, each temporal class's time-reversed
    ``partner``, the pairs, and the chance levels (``chance``: one over the classes; ``pair_chance``: 1/2, the
    accuracy of a model that finds the pair but not the direction). Videos are the same for the same seed
    whatever ``workers`` is.

    Args:
        root: output folder; must be missing or empty (see ``overwrite``).
        kind: ``"temporal"`` (time-reversed pairs) or ``"scene"`` (one scenery per class).
        videos_per_class: videos per class for each split, e.g. ``{"train": 50, "val": 10, "test": 20}`` (the
            default, :data:`DEFAULT_VIDEOS_PER_CLASS`); an int gives every split that many; splits left out or
            at 0 are not written.
        size: frame side in pixels, or ``(height, width)``; even, at least 16.
        frames: frames per video.
        fps: frame rate stored in the files (motion is defined per frame, so it only sets the playback speed).
        seed: dataset seed; each video's generator is ``clip_rng(seed, split, class, index)``.
        noise: Gaussian pixel noise standard deviation, as a fraction of the 0-255 range.
        distractors: small bouncing shapes per video that carry no class information.
        pairs: temporal pairs to include (keys of :data:`TEMPORAL_PAIRS`); default all seven (14 classes).
        scenes: scene classes to include (:data:`SCENE_CLASSES`); default all eight.
        crf: H.264 constant rate factor (lower: larger files, fewer compression artefacts).
        workers: processes rendering and encoding in parallel; default one per available core, ``0`` or ``1``
            works in this process.
        overwrite: replace an earlier synthetic dataset in ``root`` (only a folder holding nothing but
            ``train/``, ``val/``, ``test/``, ``classes.txt``, ``manifest.json`` and the metadata cache
            ``.vidact_index.json`` that earlier versions of vidact's datasets left there is cleared).
        progress: show a progress bar.

    Returns:
        A :class:`SynthInfo` describing what was written.

    Raises:
        ConfigError: an unknown kind, pair or scene, an option out of range, or ``pairs`` with ``kind="scene"``
            (or ``scenes`` with ``kind="temporal"``).
        DatasetError: ``root`` is not empty and ``overwrite`` is off, or holds files synthesize did not write.
    """
    root = Path(root)
    if kind == "temporal":
        if scenes is not None:
            raise ConfigError("scenes applies to kind='scene'; choose temporal classes with pairs")
        pair_classes = {pair: TEMPORAL_PAIRS[pair] for pair in _select(pairs, list(TEMPORAL_PAIRS), "pairs")}
        classes = tuple(name for names in pair_classes.values() for name in names)
        partners = {a: b for a, b in pair_classes.values()} | {b: a for a, b in pair_classes.values()}
    elif kind == "scene":
        if pairs is not None:
            raise ConfigError("pairs applies to kind='temporal'; choose scene classes with scenes")
        classes, pair_classes, partners = tuple(_select(scenes, SCENE_CLASSES, "scenes")), {}, {}
    else:
        raise ConfigError(f"unknown synthetic dataset kind {kind!r}; choose 'temporal' or 'scene'")
    counts = split_counts(videos_per_class, DEFAULT_VIDEOS_PER_CLASS)
    if frames < 2 or fps <= 0 or noise < 0 or distractors < 0 or seed < 0 or not 0 <= crf <= 51:
        raise ConfigError(
            f"need frames >= 2, fps > 0, noise >= 0, distractors >= 0, seed >= 0 and 0 <= crf <= 51; got "
            f"frames={frames}, fps={fps}, noise={noise}, distractors={distractors}, seed={seed}, crf={crf}"
        )
    spec = _Spec(root, kind, _check_size(size), frames, float(fps), seed, float(noise), distractors, crf)

    # and the metadata cache that vidact's datasets used to keep beside the videos (now under $VIDACT_HOME)
    prepare_root(
        root,
        {*SPLITS, "classes.txt", "manifest.json", ".vidact_index.json"},
        overwrite=overwrite,
        writer="synthesize",
    )
    jobs = [(split, name, index) for split, n in counts.items() for name in classes for index in range(n)]
    for split in counts:
        for name in classes:
            (root / split / name).mkdir(parents=True)
    write = partial(_write_one, spec)
    workers = _default_workers() if workers is None else workers
    with tqdm(total=len(jobs), desc=f"synth {kind}", unit="video", disable=not progress) as bar:
        if workers <= 1:
            for job in jobs:
                write(job)
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
                chunk = max(1, len(jobs) // (8 * workers))
                for _ in pool.map(write, jobs, chunksize=chunk):
                    bar.update()

    manifest = {
        "generator": "vidact.data.synth",
        "kind": kind,
        "classes": list(classes),
        "partners": partners,
        "pairs": {pair: list(names) for pair, names in pair_classes.items()},
        "videos_per_class": counts,
        "chance": 1 / len(classes),
        "pair_chance": 0.5 if kind == "temporal" else None,
        "params": {
            "size": list(spec.size),
            "frames": frames,
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
    return SynthInfo(root=root, kind=kind, classes=classes, videos_per_class=counts, partners=partners)
