"""``VideoClipDataset``: a map-style dataset of (video, label) samples that decodes one clip per item.

    >>> from vidact.data.datasets import ClipSampler, VideoClipDataset, collate_clips
    >>> ds = VideoClipDataset(samples, sampler=ClipSampler.random(16, stride=2), short_side=128)
    >>> item = ds[0]        # {"video": [16, 128, W, 3] uint8, "label": int, "meta": {...}}
    >>> loader = DataLoader(ds, batch_size=8, num_workers=4, collate_fn=collate_clips)
    >>> for epoch in range(epochs):
    ...     ds.set_epoch(epoch)
    ...     for batch in loader:
    ...         ds.collect(batch["meta"])   # failures seen in the workers, for ds.report()
    ...     print(ds.report())

**Probing.** On construction every video is probed once (metadata and frame index, see :mod:`vidact.io`) into
a :class:`~vidact.io.MetadataCache` file, ``<root>/.vidact_index.json`` when the root is writable, else under
``~/.cache/vidact/``. The next construction reads it back and probes only new or changed files. Items read
metadata from the dataset's own memory; DataLoader workers never probe.

**Randomness.** Item ``i`` of epoch ``e`` draws its clip (and its augmentation, when the transform is a
:class:`~vidact.data.transforms.RandomClipTransform`) from a generator seeded with ``(seed, e, i)``, so a run
is reproducible whatever the number of workers and whichever worker loads the item. The epoch lives in shared
memory: :meth:`VideoClipDataset.set_epoch` reaches persistent workers too (call it before iterating).

**Bad videos.** With ``on_error="skip"`` (the default) nothing unreadable stops an epoch. Files that fail to
probe are dropped once, with one warning that counts them (the list is ``dataset.bad_videos``). A file that
fails while decoding an item is replaced by the next sample (``i + 1``, deterministic), and the failure travels
with the item in ``meta["skipped"]``: workers are separate processes, so the training loop hands each batch's
metadata to :meth:`VideoClipDataset.collect`, and :meth:`VideoClipDataset.report` summarises the epoch. Without
workers the dataset records failures itself (``collect`` ignores ones it already holds). With
``on_error="raise"`` the :class:`~vidact.errors.VideoError` propagates instead.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import warnings
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate
from tqdm.auto import tqdm

from ...errors import DatasetError, VideoError
from ...io.metadata import MetadataCache, VideoMetadata
from ...io.reader import VideoReader, probe
from ..sampling import (
    ShortPolicy,
    multi_clip_indices,
    random_clip_indices,
    segment_indices,
    slowfast_indices,
    time_indices,
)
from ..transforms import RandomClipTransform

__all__ = [
    "VIDEO_EXTENSIONS",
    "SampleList",
    "read_class_names",
    "ClipSampler",
    "FrameCountSampler",
    "RandomClip",
    "CenterClip",
    "Segments",
    "MultiClip",
    "SlowFastClip",
    "TimeClip",
    "Failure",
    "FailureCount",
    "VideoClipDataset",
    "collate_clips",
    "default_cache_file",
]

#: File name endings that the layouts take for videos (anything else in a class folder is ignored).
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".gif")

#: How many samples in a row may fail to decode before an item gives up (``on_error="skip"``).
MAX_CONSECUTIVE_FAILURES = 10

#: Progress bars appear when more than this many videos need probing.
_PROGRESS_MIN = 16

Sample = tuple[str, int]
IndexSampler = Callable[[int, np.random.Generator], np.ndarray]


# -- what a layout returns ---------------------------------------------------------------------------------------
@dataclass
class SampleList:
    """The samples of one split of a dataset layout.

    Attributes:
        samples: ``(path, label)`` of every annotated video found on disk, in annotation order.
        classes: class names; ``label`` indexes this list.
        missing: annotated videos that are not on disk (their file name or id), already warned about.
    """

    samples: list[Sample]
    classes: list[str]
    missing: list[str] = field(default_factory=list)


def is_video_file(name: str) -> bool:
    return name.lower().endswith(VIDEO_EXTENSIONS) and not name.startswith(".")


def read_class_names(source: str | os.PathLike | Sequence[str]) -> list[str]:
    """Class names in label order, from a list or a label-map file.

    Files: text with one name per line (``label_maps/kinetics400.txt``); JSON with a list of names, or an object
    ``{"name": index}`` (Something-Something's ``labels.json``, indices as numbers or strings, 0 .. N-1).

    Raises:
        DatasetError: the file is missing, empty, or its indices are not 0 .. N-1.
    """
    if not isinstance(source, (str, os.PathLike)):
        return [str(name) for name in source]
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise DatasetError(f"{path}: cannot read the label map ({e.strerror or e})") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as e:
            raise DatasetError(f"{path}: not valid JSON ({e})") from None
        if isinstance(data, dict):
            try:
                by_index = {int(index): str(name) for name, index in data.items()}
            except (TypeError, ValueError):
                raise DatasetError(f"{path}: label map values must be class indices") from None
            if sorted(by_index) != list(range(len(data))):
                raise DatasetError(f"{path}: class indices must be 0 .. {len(data) - 1}, each once")
            names = [by_index[i] for i in range(len(data))]
        elif isinstance(data, list):
            names = [str(name) for name in data]
        else:
            raise DatasetError(f"{path}: expected a JSON list of names or an object {{name: index}}")
    else:
        names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise DatasetError(f"{path}: the label map is empty")
    return names


def _loose(name: str) -> str:
    return re.sub(r"[\s_]+", " ", name.strip()).casefold()


def class_lookup(classes: Sequence[str]) -> Callable[[str], int | None]:
    """A function from a class name to its index: the exact name first, then ignoring case and treating ``_``
    as a space (``HandStandPushups`` and ``air_drumming`` find ``HandstandPushups`` and ``air drumming``)."""
    exact = {name: i for i, name in enumerate(classes)}
    loose: dict[str, int] = {}
    for i, name in enumerate(classes):
        loose.setdefault(_loose(name), i)

    def lookup(name: str) -> int | None:
        i = exact.get(name)
        return i if i is not None else loose.get(_loose(name))

    return lookup


def sample_list(
    samples: list[Sample], classes: list[str], missing: list[str], where: str | os.PathLike
) -> SampleList:
    """A layout's result: one warning counting the annotated videos not found under ``where``.

    Raises:
        DatasetError: none of them was found.
    """
    total = len(samples) + len(missing)
    if not samples:
        first = f" (first: {missing[0]})" if missing else ""
        raise DatasetError(f"{os.fspath(where)}: none of the {total} annotated videos is there{first}")
    if missing:
        warnings.warn(
            f"{len(missing)} of {total} annotated videos are missing under {os.fspath(where)} "
            f"(first: {missing[0]}); they are left out",
            stacklevel=3,
        )
    return SampleList(samples, classes, missing)


# -- clip samplers -------------------------------------------------------------------------------------------------
class ClipSampler(ABC):
    """Which frames of a video make an item: a small picklable object wrapping :mod:`vidact.data.sampling`.

    A dataset calls ``sampler.for_video(metadata, rng)``; the result is [T] int64 frame indices for one clip or
    [K, T] for K test views. ``rng`` is the item's generator; test-time samplers ignore it. The factories below
    build the usual ones; any function ``(num_frames, rng) -> indices`` works in a dataset as well.
    """

    @abstractmethod
    def for_video(self, meta: VideoMetadata, rng: np.random.Generator) -> np.ndarray: ...

    @staticmethod
    def random(clip_len: int, stride: int = 1, *, short_policy: ShortPolicy = "loop") -> RandomClip:
        """Training: ``clip_len`` frames every ``stride``-th frame from a random start. Returns [T]."""
        return RandomClip(clip_len, stride, short_policy)

    @staticmethod
    def center(clip_len: int, stride: int = 1, *, short_policy: ShortPolicy = "loop") -> CenterClip:
        """Validation: the clip centred in the video. Returns [T]."""
        return CenterClip(clip_len, stride, short_policy)

    @staticmethod
    def segments(num_segments: int, frames_per_segment: int = 1, *, random: bool = True) -> Segments:
        """TSN: one snippet from each of ``num_segments`` equal parts, at random or at each part's centre.
        Returns [num_segments * frames_per_segment]."""
        return Segments(num_segments, frames_per_segment, random)

    @staticmethod
    def multi_clip(
        clip_len: int, stride: int = 1, num_clips: int = 10, *, short_policy: ShortPolicy = "loop"
    ) -> MultiClip:
        """Multi-view testing: ``num_clips`` clips with evenly spaced starts. Returns [num_clips, T]."""
        return MultiClip(clip_len, stride, num_clips, short_policy)

    @staticmethod
    def slowfast(
        slow_frames: int = 8,
        tau: int = 8,
        alpha: int = 4,
        *,
        random: bool = True,
        short_policy: ShortPolicy = "loop",
    ) -> SlowFastClip:
        """SlowFast: the Fast pathway's frames [alpha * slow_frames]; the Slow pathway is ``clip[::alpha]``."""
        return SlowFastClip(slow_frames, tau, alpha, random, short_policy)

    @staticmethod
    def by_time(
        clip_len: int, fps: float, *, random: bool = True, short_policy: ShortPolicy = "repeat_last"
    ) -> TimeClip:
        """``clip_len`` frames at ``fps`` by presentation time, whatever the source's (variable) rate. Returns [T]."""
        return TimeClip(clip_len, fps, random, short_policy)


class FrameCountSampler(ClipSampler):
    """A sampler that needs only the number of frames: also callable as ``sampler(num_frames, rng)``."""

    @abstractmethod
    def __call__(self, num_frames: int, rng: np.random.Generator) -> np.ndarray: ...

    def for_video(self, meta: VideoMetadata, rng: np.random.Generator) -> np.ndarray:
        return self(meta.num_frames, rng)


@dataclass(frozen=True)
class RandomClip(FrameCountSampler):
    clip_len: int
    stride: int = 1
    short_policy: ShortPolicy = "loop"

    def __call__(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
        return random_clip_indices(
            num_frames, self.clip_len, self.stride, rng=rng, short_policy=self.short_policy
        )


@dataclass(frozen=True)
class CenterClip(FrameCountSampler):
    clip_len: int
    stride: int = 1
    short_policy: ShortPolicy = "loop"

    def __call__(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
        (clip,) = multi_clip_indices(
            num_frames, self.clip_len, self.stride, 1, short_policy=self.short_policy
        )
        return clip


@dataclass(frozen=True)
class Segments(FrameCountSampler):
    num_segments: int
    frames_per_segment: int = 1
    random: bool = True

    def __call__(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
        return segment_indices(
            num_frames,
            self.num_segments,
            rng=rng if self.random else None,
            frames_per_segment=self.frames_per_segment,
        )


@dataclass(frozen=True)
class MultiClip(FrameCountSampler):
    clip_len: int
    stride: int = 1
    num_clips: int = 10
    short_policy: ShortPolicy = "loop"

    def __call__(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
        return multi_clip_indices(
            num_frames, self.clip_len, self.stride, self.num_clips, short_policy=self.short_policy
        )


@dataclass(frozen=True)
class SlowFastClip(FrameCountSampler):
    slow_frames: int = 8
    tau: int = 8
    alpha: int = 4
    random: bool = True
    short_policy: ShortPolicy = "loop"

    def __call__(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
        _, fast = slowfast_indices(
            num_frames,
            self.slow_frames,
            self.tau,
            self.alpha,
            rng=rng if self.random else None,
            short_policy=self.short_policy,
        )
        return fast


@dataclass(frozen=True)
class TimeClip(ClipSampler):
    clip_len: int
    fps: float
    random: bool = True
    short_policy: ShortPolicy = "repeat_last"

    def for_video(self, meta: VideoMetadata, rng: np.random.Generator) -> np.ndarray:
        frame_times = meta.index.seconds() - meta.start_time
        return time_indices(
            frame_times,
            self.clip_len,
            self.fps,
            rng=rng if self.random else None,
            short_policy=self.short_policy,
        )


# -- failures ------------------------------------------------------------------------------------------------------
class Failure(NamedTuple):
    """A sample that failed to decode while the dataset was producing item ``requested`` in ``epoch``."""

    epoch: int
    requested: int
    index: int
    path: str
    reason: str


class FailureCount(NamedTuple):
    path: str
    reason: str
    count: int


# -- the dataset ---------------------------------------------------------------------------------------------------
def default_cache_file(root: str | os.PathLike) -> Path:
    """``<root>/.vidact_index.json`` when ``root`` is writable, else ``$XDG_CACHE_HOME/vidact/index-<hash>.json``
    (``~/.cache`` by default), one file per root."""
    root = Path(root).resolve()
    # A folder without write permission bits counts as read-only even for root, who could write there anyway.
    if os.access(root, os.W_OK) and root.stat().st_mode & 0o222:
        return root / ".vidact_index.json"
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha1(str(root).encode()).hexdigest()[:16]
    return cache_home / "vidact" / f"index-{digest}.json"


def _probe_one(path: str, fps: float) -> VideoMetadata | VideoError:
    try:
        return probe(path, fps=fps)
    except VideoError as e:
        return e


class VideoClipDataset(Dataset):
    """Clips of labelled videos (files, GIFs or frame folders), one clip (or K views) per item.

    Args:
        samples: ``(path, label)`` pairs, as the layouts in :mod:`vidact.data.datasets` build them.
        sampler: a :class:`ClipSampler`, or any picklable ``(num_frames, rng) -> indices`` function; indices are
            [T] for one clip or [K, T] for K views.
        transform: a picklable callable from a uint8 clip [T, H, W, 3] to what the model eats. K views are
            transformed one by one and stacked. A :class:`~vidact.data.transforms.RandomClipTransform` is given
            the item's generator, so augmentation is reproducible too. ``None``: the uint8 clip itself.
        classes: class names (``label`` indexes them), kept as ``dataset.classes``.
        short_side: resize frames while decoding so their short side has this many pixels (``None``: native).
        root: the dataset's root folder, for the default cache file (default: the samples' common folder).
        cache_file: the metadata cache (default: :func:`default_cache_file` of ``root``).
        on_error: ``"skip"`` drops unreadable videos and replaces items that fail to decode; ``"raise"`` raises.
        seed: base seed of the per-item generators.
        frame_fps: the frame rate of frame folders (they store none).
        probe_threads: threads probing new videos (default: up to 8, one per core).
        progress: a progress bar while probing (when more than a few videos are new to the cache).

    Items are dictionaries:

    - ``"video"``: the uint8 clip [T, H, W, 3] or views [K, T, H, W, 3] (H, W after ``short_side``), or the
      transform's output (stacked to [K, ...] for K views);
    - ``"label"``: ``int``;
    - ``"meta"``: ``{"path": str, "index": int`` (the sample loaded), ``"indices": np.ndarray`` [T] or [K, T],
      ``"fps": float, "skipped": list[Failure]}``.

    Batch them with :func:`collate_clips`.

    Raises:
        DatasetError: no sample is readable.
        VideoError: with ``on_error="raise"``, the first unreadable video.
    """

    def __init__(
        self,
        samples: Sequence[tuple[str | os.PathLike, int]],
        *,
        sampler: ClipSampler | IndexSampler,
        transform: Callable[[torch.Tensor], Any] | None = None,
        classes: Sequence[str] | None = None,
        short_side: int | None = None,
        root: str | os.PathLike | None = None,
        cache_file: str | os.PathLike | None = None,
        on_error: Literal["skip", "raise"] = "skip",
        seed: int = 0,
        frame_fps: float = 30.0,
        probe_threads: int | None = None,
        progress: bool = True,
    ):
        if on_error not in ("skip", "raise"):
            raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
        if not samples:
            raise DatasetError("the dataset has no samples")
        self.sampler = sampler
        self.transform = transform
        self.classes = list(classes) if classes is not None else None
        self.short_side = short_side
        self.on_error = on_error
        self.seed = seed
        self.frame_fps = frame_fps
        paths = [os.fspath(p) for p, _ in samples]
        if root is None:
            root = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths])
        self.cache_file = Path(cache_file) if cache_file is not None else default_cache_file(root)
        metadata = self._probe_all(paths, probe_threads or min(8, os.cpu_count() or 1), progress)

        self.samples: list[Sample] = []
        # One compact JSON string per sample, not VideoMetadata objects: frame indices of hundreds of thousands of
        # videos would take gigabytes as arrays, copied into every worker; items decode their own entry.
        self._metadata: list[str] = []
        self.bad_videos: list[tuple[str, str]] = []
        labels = [int(label) for _, label in samples]
        for path, label, meta in zip(paths, labels, metadata, strict=True):
            if isinstance(meta, VideoError):
                self.bad_videos.append((path, meta.reason))
            else:
                self.samples.append((path, label))
                self._metadata.append(json.dumps(meta.to_json(), separators=(",", ":")))
        if self.bad_videos:
            if on_error == "raise":
                raise VideoError(*self.bad_videos[0])
            path, reason = self.bad_videos[0]
            first = f"{path}: {reason}"
            if not self.samples:
                raise DatasetError(f"none of the {len(paths)} videos is readable (first: {first})")
            warnings.warn(
                f"{len(self.bad_videos)} of {len(paths)} videos are unreadable and left out "
                f"(first: {first}; all in dataset.bad_videos)",
                stacklevel=2,
            )

        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()  # shared with DataLoader workers
        self._failures: dict[tuple[int, int, int], Failure] = {}

    def _probe_all(self, paths: list[str], threads: int, progress: bool) -> list[VideoMetadata | VideoError]:
        """Metadata of every path from the cache, probing (in threads) the ones it lacks; saves the cache."""
        cache = MetadataCache(self.cache_file)
        found: list[VideoMetadata | VideoError | None] = [cache.get(p) for p in paths]
        todo = [i for i, meta in enumerate(found) if meta is None]
        if not todo:
            return found
        pool = ThreadPoolExecutor(max_workers=threads)
        try:
            results = pool.map(_probe_one, [paths[i] for i in todo], [self.frame_fps] * len(todo))
            bar = tqdm(
                results,
                total=len(todo),
                desc="probing videos",
                unit="video",
                disable=not progress or len(todo) <= _PROGRESS_MIN,
            )
            for i, meta in zip(todo, bar, strict=True):
                found[i] = meta
                if not isinstance(meta, VideoError):
                    cache.put(paths[i], meta)
        finally:
            pool.shutdown(cancel_futures=True)  # an interrupt keeps what was probed so far
            try:
                cache.save()
            except OSError as e:
                warnings.warn(
                    f"{self.cache_file}: cannot save the metadata cache ({e.strerror or e})", stacklevel=3
                )
        return found

    # -- epochs and items ----------------------------------------------------------------------------------------
    @property
    def epoch(self) -> int:
        return int(self._epoch)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose clips (and augmentations) items draw; call before iterating a DataLoader."""
        self._epoch.fill_(epoch)

    def __len__(self) -> int:
        return len(self.samples)

    def metadata(self, index: int) -> VideoMetadata:
        """The probed metadata (with the frame index) of sample ``index``."""
        return VideoMetadata.from_json(json.loads(self._metadata[index]))

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} out of range (the dataset has {len(self)})")
        epoch = self.epoch
        skipped: list[Failure] = []
        for attempt in range(min(MAX_CONSECUTIVE_FAILURES, len(self))):
            sample = (index + attempt) % len(self)
            try:
                return self._load(sample, epoch, skipped)
            except VideoError as e:
                if self.on_error == "raise":
                    raise
                path = self.samples[sample][0]
                failure = Failure(epoch, index, sample, path, e.reason if e.path == path else str(e))
                skipped.append(failure)
                self._record(failure)
        last = skipped[-1]
        raise DatasetError(
            f"{len(skipped)} videos in a row failed to decode from sample {index} "
            f"(last: {last.path}: {last.reason})"
        )

    def _load(self, index: int, epoch: int, skipped: list[Failure]) -> dict[str, Any]:
        path, label = self.samples[index]
        meta = self.metadata(index)
        sampler_seed, transform_seed = np.random.SeedSequence([self.seed, epoch, index]).spawn(2)
        rng = np.random.default_rng(sampler_seed)
        if isinstance(self.sampler, ClipSampler):
            indices = self.sampler.for_video(meta, rng)
        else:
            indices = np.asarray(self.sampler(meta.num_frames, rng), dtype=np.int64)
        with VideoReader(path, short_side=self.short_side, threads=1, metadata=meta) as reader:
            frames = reader.get_frames(indices.reshape(-1))
        clip = frames.reshape(*indices.shape, *frames.shape[1:])  # [T, H, W, 3] or [K, T, H, W, 3]
        video = clip if self.transform is None else self._transform(clip, transform_seed)
        return {
            "video": video,
            "label": label,
            "meta": {"path": path, "index": index, "indices": indices, "fps": meta.fps, "skipped": skipped},
        }

    def _transform(self, clip: torch.Tensor, seed: np.random.SeedSequence) -> Any:
        apply = self.transform
        if isinstance(apply, RandomClipTransform):
            generator = torch.Generator().manual_seed(int(seed.generate_state(1, np.uint64)[0]))
            apply = functools.partial(apply, generator=generator)
        if clip.dim() == 4:
            return apply(clip)
        return torch.stack([apply(view) for view in clip])

    # -- failure report ------------------------------------------------------------------------------------------
    def collect(self, meta: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> None:
        """Record the decoding failures carried by items: one item's ``meta`` or a batch's list of them.

        Items loaded in DataLoader workers carry their failures to the main process only this way; failures the
        dataset already holds (items loaded without workers) are not counted twice.
        """
        metas = [meta] if isinstance(meta, Mapping) else meta
        for m in metas:
            for failure in m["skipped"]:
                self._record(Failure(*failure))

    def _record(self, failure: Failure) -> None:
        self._failures.setdefault((failure.epoch, failure.requested, failure.index), failure)

    def report(self, epoch: int | None = None) -> list[FailureCount]:
        """Videos that failed to decode in ``epoch`` (default: the current one), most frequent first: ``(path,
        reason, count)``, where count is the number of items that had to be replaced because of them."""
        epoch = self.epoch if epoch is None else epoch
        counts = Counter((f.path, f.reason) for f in self._failures.values() if f.epoch == epoch)
        return [FailureCount(p, r, n) for (p, r), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]

    def __repr__(self) -> str:
        classes = f", classes={len(self.classes)}" if self.classes is not None else ""
        return (
            f"{type(self).__name__}(samples={len(self)}{classes}, bad_videos={len(self.bad_videos)}, "
            f"sampler={self.sampler!r}, short_side={self.short_side}, on_error={self.on_error!r})"
        )


def collate_clips(batch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Batch items for a DataLoader (``collate_fn=collate_clips``).

    Returns:
        ``{"video"``: the videos stacked, [B, ...] (torch's default collation, so tuples or dicts of tensors
        from a transform work too), ``"label"``: [B] int64, ``"meta"``: the B items' ``meta`` dicts as a list
        (their ``skipped`` lists differ in length, which the default collation rejects)``}``.
    """
    return {
        "video": default_collate([item["video"] for item in batch]),
        "label": torch.tensor([item["label"] for item in batch], dtype=torch.int64),
        "meta": [item["meta"] for item in batch],
    }
