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
a :class:`~vidact.io.MetadataCache` file under vidact's cache folder, ``$VIDACT_HOME/cache/index/`` (default
``~/.cache/vidact/cache/index/``, one file per dataset root; never inside the dataset's folder), or wherever
``cache_file=`` says. The next construction reads it back and probes only new or changed files. Items read
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
workers the dataset records failures itself (``collect`` ignores ones it already holds; see
:mod:`~.failures`). With
``on_error="raise"`` the :class:`~vidact.errors.VideoError` propagates instead.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate
from tqdm.auto import tqdm

from ..._home import cache_dir
from ...errors import DatasetError, VideoError
from ...io.metadata import MetadataCache, VideoMetadata
from ...io.reader import VideoReader, probe
from ..sampling import ClipSampler, IndexSampler
from ..transforms import RandomClipTransform
from .failures import Failure, FailureCount, FailureLog
from .samples import Sample

__all__ = ["MAX_CONSECUTIVE_FAILURES", "VideoClipDataset", "collate_clips", "default_cache_file"]

#: How many samples in a row may fail to decode before an item gives up (``on_error="skip"``).
MAX_CONSECUTIVE_FAILURES = 10

#: Progress bars appear when more than this many videos need probing.
_PROGRESS_MIN = 16


# -- the dataset ---------------------------------------------------------------------------------------------------
def default_cache_file(root: str | os.PathLike) -> Path:
    """Where a dataset over ``root`` keeps its metadata cache by default:
    ``$VIDACT_HOME/cache/index/<root's name>-<hash of its absolute path>.json`` (``VIDACT_HOME`` defaults to
    ``~/.cache/vidact``), one file per root, whether or not the root is writable: vidact writes nothing into a
    dataset's folder. Pass ``cache_file=`` to a dataset to keep it elsewhere."""
    root = Path(root).resolve()
    digest = hashlib.sha1(str(root).encode()).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", root.name).strip("._")[:48] or "root"
    return cache_dir("index") / f"{name}-{digest}.json"


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
        cache_file: the metadata cache file (default: :func:`default_cache_file` of ``root``, under
            ``$VIDACT_HOME/cache/index/``).
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
        self._failures = FailureLog()

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
                self._failures.record(failure)
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
        self._failures.collect(meta)

    def report(self, epoch: int | None = None) -> list[FailureCount]:
        """Videos that failed to decode in ``epoch`` (default: the current one), most frequent first: ``(path,
        reason, count)``, where count is the number of items that had to be replaced because of them."""
        return self._failures.report(self.epoch if epoch is None else epoch)

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
