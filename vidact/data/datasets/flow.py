"""Optical flow as training data: clips of labelled flow folders, and RGB frames in lock-step with them.

A **flow folder** holds the two 8-bit channels of the flow fields of one video, ``flow_x_00001.jpg``,
``flow_y_00001.jpg``, ... (N - 1 fields for N frames; what ``vidact extract flow`` writes, and mmaction2's
rawframes and denseflow), optionally beside the video's RGB frames ``img_00001.jpg`` ... Field ``i`` (0-based) is
the flow from frame ``i`` to frame ``i + 1``. Labels come from the layouts every video dataset reads
(:mod:`vidact.data.datasets.layouts`: class folders, UCF-101/HMDB-51 splits, list files with mmaction2's
``<path> <frames> <label>`` lines), with flow folders where the videos would be:

    >>> ds = build_flow_dataset("folder", "data/flow", "train", sampler=ClipSampler.segments(3, 5),
    ...                         transform=FlowPreset(segments=3, length=5).train_transform())
    >>> ds[0]["flow"].shape                       # [2, 15, 224, 224]: x and y of 3 snippets of 5 fields
    >>> pairs = build_flow_dataset("folder", "data/flow", "train", sampler=ClipSampler.segments(3, 5),
    ...                            rgb=True, length=5, transform=rgb_flow_preset.train_transform())
    >>> pairs[0]["video"].shape, pairs[0]["flow"].shape     # [3, 3, 224, 224], [2, 15, 224, 224]

**Sampling.** The sampler draws flow field indices, as a video dataset's draws frames: TSN's S segments of L
consecutive fields (:meth:`ClipSampler.segments(S, L) <vidact.data.sampling.ClipSampler.segments>`; a random
snippet in each segment for training, the centred one for validation), or :class:`SnippetViews` for multi-view
testing.

**RGB in lock-step** (``rgb=True``). The RGB frame of a segment is the first frame of its flow snippet (frame
``i`` for a snippet starting at field ``i``), read from the folder's ``img_`` images, and the transform is a
paired one (:class:`~vidact.data.flow.PairedTransform`): one random draw crops the same box out of the frames
and the fields and flips both or neither (a flip negates flow x).

**Bad folders.** Everything :class:`~vidact.data.datasets.VideoClipDataset` does with unreadable videos holds
for flow folders: a folder without flow images, with a gap in the numbers of its ``flow_x_``, ``flow_y_`` (or
``img_``) images, or with x and y images that differ in count fails its probe with one line naming the folder
and the first missing image, and is left out with the counted warning (``dataset.bad_videos``); an image that
fails to decode replaces its item by the next one and is reported at the end of the epoch.
"""

from __future__ import annotations

import functools
import json
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import default_collate
from tqdm.auto import tqdm

from ...errors import VideoError
from ...io._frames import FLOW_PREFIXES, flow_frames, numbered_frames
from ...io.metadata import MetadataCache, VideoMetadata
from ...io.reader import VideoReader, probe
from ..sampling import ClipSampler, FrameCountSampler, IndexSampler
from ..transforms import RandomClipTransform
from .base import _PROGRESS_MIN, VideoClipDataset
from .failures import Failure
from .layouts import get_dataset_layout

__all__ = [
    "RGB_PREFIX",
    "FlowClipDataset",
    "SnippetViews",
    "build_flow_dataset",
    "collate_flow",
    "snippet_starts",
]

#: The names of the RGB frames of a rawframes folder: ``img_00001.jpg`` ...
RGB_PREFIX = "img_"
X_PREFIX, Y_PREFIX = FLOW_PREFIXES


def snippet_starts(indices: np.ndarray, length: int) -> np.ndarray:
    """The first field of each snippet of ``length`` consecutive fields: [..., S * L] -> [..., S] (the frame
    indices of the RGB frames in lock-step with them)."""
    indices = np.asarray(indices, dtype=np.int64)
    if indices.shape[-1] % length:
        raise ValueError(f"{indices.shape[-1]} flow fields are not snippets of {length}")
    return indices.reshape(*indices.shape[:-1], -1, length)[..., 0]


@dataclass(frozen=True)
class SnippetViews(FrameCountSampler):
    """Multi-view testing of flow models: ``num_views`` clips of one snippet of ``length`` consecutive fields
    from each of ``num_segments`` equal parts of the video (the parts of
    :func:`~vidact.data.sampling.segment_indices`). View ``v`` puts each snippet at ``(v + 0.5) / num_views``
    of the room its part leaves around it, so a single view is the centred snippets of validation
    (``ClipSampler.segments(num_segments, length, random=False)``) and more views sweep each part evenly; a
    part shorter than a snippet takes it where it still fits, as ``segment_indices`` does.
    Returns [num_views, num_segments * length] int64."""

    num_segments: int
    length: int = 1
    num_views: int = 1

    def __call__(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
        if num_frames < 1:
            raise ValueError(f"a clip needs at least one frame, got {num_frames}")
        part = np.arange(self.num_segments)
        first = part * num_frames // self.num_segments  # part k is frames [first, next part's first)
        room = (part + 1) * num_frames // self.num_segments - first - self.length
        fraction = (np.arange(self.num_views)[:, None] + 0.5) / self.num_views
        starts = first + np.floor(fraction * (np.maximum(room, 0) + 1)).astype(np.int64)  # [V, S]
        starts = np.where(room >= 0, starts, np.minimum(first, max(num_frames - self.length, 0)))
        clips = starts[..., None] + np.arange(self.length)  # [V, S, L]
        return np.minimum(clips, num_frames - 1).reshape(self.num_views, -1).astype(np.int64)


Probed = dict[str, VideoMetadata]


def _probe_folder(path: str, prefixes: tuple[str, ...], fps: float) -> Probed | VideoError:
    """The metadata of each ``prefixes`` sequence of a folder (or why it fails)."""
    try:
        if not os.path.isdir(path):
            raise VideoError(path, "is not a folder of flow images (flow_x_00001.jpg, flow_y_00001.jpg, ...)")
        return {prefix: probe(path, fps=fps, prefix=prefix) for prefix in prefixes}
    except VideoError as e:
        return e


def _check_folder(path: str, found: Probed) -> VideoError | None:
    """Why the sequences of a probed folder do not make flow fields (and RGB frames for each), or ``None``."""
    x, y = found[X_PREFIX], found[Y_PREFIX]
    if x.num_frames != y.num_frames:
        try:
            flow_frames(path)  # names the first missing image
        except VideoError as e:
            return e
        return VideoError(path, f"{x.num_frames} flow_x_ images, {y.num_frames} flow_y_ images")
    if (x.width, x.height) != (y.width, y.height):
        return VideoError(
            path, f"flow_x_ images are {x.width}x{x.height}, flow_y_ images {y.width}x{y.height}"
        )
    rgb = found.get(RGB_PREFIX)
    if rgb is not None and rgb.num_frames < x.num_frames:
        last = os.path.splitext(os.path.basename(numbered_frames(path, RGB_PREFIX)[-1]))[0][len(RGB_PREFIX) :]
        missing = f"{RGB_PREFIX}{int(last) + 1:0{len(last)}d} is missing: " if last.isdigit() else ""
        return VideoError(
            path,
            f"{missing}{rgb.num_frames} RGB frames for {x.num_frames} flow fields (the first frame of every "
            "field is needed)",
        )
    return None


class FlowClipDataset(VideoClipDataset):
    """Flow clips of labelled flow folders, with the RGB frames of their segments when ``rgb`` (see the module
    docstring). Probing, the metadata cache, per-item generators, epochs, bad folders and the failure report are
    :class:`~vidact.data.datasets.VideoClipDataset`'s.

    Args:
        samples: ``(flow folder, label)`` pairs, as the layouts of :mod:`vidact.data.datasets` build them.
        sampler: which flow fields make an item: a :class:`~vidact.data.sampling.ClipSampler` (TSN:
            ``ClipSampler.segments(S, L)``), a :class:`SnippetViews`, or any picklable
            ``(num_fields, rng) -> indices``; [T] field indices for one clip, [K, T] for K views.
        transform: ``rgb=False``: a picklable callable from uint8 flow [T, H, W, 2] (x, y) to what the model
            eats (:meth:`FlowPreset.train_transform <vidact.data.flow.FlowPreset.train_transform>`); ``rgb=True``:
            a paired one, ``(frames [S, H, W, 3], flow [T, H, W, 2], generator=...) -> (rgb, flow)``
            (:meth:`RgbFlowPreset.train_transform <vidact.data.flow.RgbFlowPreset.train_transform>`). Random
            transforms get the item's generator. ``None``: the uint8 clips themselves.
        rgb: also read the RGB frame of each segment, the first frame of its flow snippet, from the folder's
            ``img_`` images.
        length: L, the fields of a snippet (``rgb=True``: the frames are the first field of every L).
        classes, short_side, root, cache_file, on_error, seed, frame_fps, probe_threads, progress: as
            :class:`~vidact.data.datasets.VideoClipDataset` (``short_side``: flow images and frames are read at
            it).

    Items are dictionaries:

    - ``"flow"``: uint8 [T, H, W, 2] (views: [K, T, H, W, 2]), or the transform's output;
    - ``"video"`` (``rgb=True``): uint8 frames [S, H, W, 3] (views: [K, S, H, W, 3]), or the transform's;
    - ``"label"``: ``int``;
    - ``"meta"``: ``{"path", "index", "indices"`` (the flow fields, [T] or [K, T]), ``"fps", "skipped"}``.

    Batch them with :func:`collate_flow`.

    Raises:
        DatasetError: no sample is readable.
        VideoError: with ``on_error="raise"``, the first unreadable folder.
    """

    def __init__(
        self,
        samples: Sequence[tuple[str | os.PathLike, int]],
        *,
        sampler: ClipSampler | IndexSampler,
        transform: Callable[..., Any] | None = None,
        rgb: bool = False,
        length: int = 1,
        **options: Any,
    ):
        if length < 1:
            raise ValueError(f"length must be positive, got {length}")
        self.rgb = rgb
        self.length = length
        self._prefixes = (X_PREFIX, Y_PREFIX, RGB_PREFIX) if rgb else (X_PREFIX, Y_PREFIX)
        self._rgb_metadata: dict[str, str] = {}  # folder -> its img_ metadata (JSON), filled while probing
        super().__init__(samples, sampler=sampler, transform=transform, **options)

    def _probe_all(self, paths: list[str], threads: int, progress: bool) -> list[VideoMetadata | VideoError]:
        """The flow_x_ metadata of every folder (its fields), after checking its sequences agree; the cache first,
        probing (in threads) the folders it lacks; saves the cache."""
        cache = MetadataCache(self.cache_file)
        found: list[Probed | VideoError | None] = []
        for path in paths:
            cached = {prefix: cache.get(path, prefix=prefix) for prefix in self._prefixes}
            found.append(cached if all(cached.values()) else None)  # type: ignore[arg-type]
        todo = [i for i, probed in enumerate(found) if probed is None]
        if todo:
            pool = ThreadPoolExecutor(max_workers=threads)
            try:
                results = pool.map(
                    _probe_folder,
                    [paths[i] for i in todo],
                    [self._prefixes] * len(todo),
                    [self.frame_fps] * len(todo),
                )
                bar = tqdm(
                    results,
                    total=len(todo),
                    desc="probing flow folders",
                    unit="folder",
                    disable=not progress or len(todo) <= _PROGRESS_MIN,
                )
                for i, probed in zip(todo, bar, strict=True):
                    found[i] = probed
                    if not isinstance(probed, VideoError):
                        for prefix, meta in probed.items():
                            cache.put(paths[i], meta, prefix=prefix)
            finally:
                pool.shutdown(cancel_futures=True)
                try:
                    cache.save()
                except OSError as e:
                    warnings.warn(
                        f"{self.cache_file}: cannot save the metadata cache ({e.strerror or e})", stacklevel=3
                    )
        out: list[VideoMetadata | VideoError] = []
        for path, probed in zip(paths, found, strict=True):
            assert probed is not None
            problem = probed if isinstance(probed, VideoError) else _check_folder(path, probed)
            if problem is not None:
                out.append(problem)
                continue
            out.append(probed[X_PREFIX])
            if self.rgb:
                self._rgb_metadata[path] = json.dumps(probed[RGB_PREFIX].to_json(), separators=(",", ":"))
        return out

    def rgb_metadata(self, index: int) -> VideoMetadata:
        """The metadata of the RGB frames (``img_``) of sample ``index`` (``rgb=True``)."""
        return VideoMetadata.from_json(json.loads(self._rgb_metadata[self.samples[index][0]]))

    def _read(self, path: str, prefix: str, meta: VideoMetadata, indices: np.ndarray) -> torch.Tensor:
        """Images ``indices`` of a folder's ``prefix`` sequence: [N, H, W, C] uint8 (1 channel for flow)."""
        with VideoReader(
            path,
            prefix=prefix,
            gray=prefix != RGB_PREFIX,
            short_side=self.short_side,
            threads=1,
            metadata=meta,
        ) as reader:
            return reader.get_frames(indices.reshape(-1))

    def _load(self, index: int, epoch: int, skipped: list[Failure]) -> dict[str, Any]:
        path, label = self.samples[index]
        meta = self.metadata(index)  # the flow_x_ sequence: one image per field, as many as flow_y_ (probed)
        sampler_seed, transform_seed = np.random.SeedSequence([self.seed, epoch, index]).spawn(2)
        rng = np.random.default_rng(sampler_seed)
        if isinstance(self.sampler, ClipSampler):
            indices = self.sampler.for_video(meta, rng)
        else:
            indices = np.asarray(self.sampler(meta.num_frames, rng), dtype=np.int64)
        # flow_y_ has flow_x_'s count and size (checked when probed): one metadata serves both
        x, y = (self._read(path, prefix, meta, indices) for prefix in (X_PREFIX, Y_PREFIX))
        flow = torch.cat([x, y], dim=-1).reshape(*indices.shape, *x.shape[1:3], 2)  # [(K,) T, H, W, 2]
        item: dict[str, Any] = {"flow": flow}
        if self.rgb:
            starts = snippet_starts(indices, self.length)  # [(K,) S]
            frames = self._read(path, RGB_PREFIX, self.rgb_metadata(index), starts)
            if frames.shape[1:3] != x.shape[1:3]:
                raise VideoError(
                    path,
                    f"the img_ frames are {frames.shape[2]}x{frames.shape[1]} and the flow images "
                    f"{x.shape[2]}x{x.shape[1]} (read at short side {self.short_side}): one crop cannot fit both",
                )
            item["video"] = frames.reshape(*starts.shape, *frames.shape[1:])
        if self.transform is not None:
            generator = torch.Generator().manual_seed(int(transform_seed.generate_state(1, np.uint64)[0]))
            item.update(self._transform_item(item, generator))
        return {
            **item,
            "label": label,
            "meta": {"path": path, "index": index, "indices": indices, "fps": meta.fps, "skipped": skipped},
        }

    def _transform_item(self, item: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, Any]:
        """The transform of one clip, or of each of K views (stacked), every draw from ``generator``."""
        flow = item["flow"]
        views = flow.dim() == 5  # [K, T, H, W, 2]
        if self.rgb:
            pairs = zip(item["video"], flow, strict=True) if views else [(item["video"], flow)]
            done = [self.transform(rgb, f, generator=generator) for rgb, f in pairs]
            rgb = torch.stack([r for r, _ in done])
            flow = torch.stack([f for _, f in done])
            return {"video": rgb, "flow": flow} if views else {"video": rgb[0], "flow": flow[0]}
        apply = self.transform
        if isinstance(apply, RandomClipTransform):
            apply = functools.partial(apply, generator=generator)
        return {"flow": torch.stack([apply(f) for f in flow]) if views else apply(flow)}


def collate_flow(batch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Batch :class:`FlowClipDataset` items (``collate_fn=collate_flow``).

    Returns:
        ``{"flow"``: [B, ...] stacked, ``"video"``: [B, ...] stacked (items with RGB), ``"label"``: [B] int64,
        ``"meta"``: the B items' ``meta`` dicts``}``.
    """
    out: dict[str, Any] = {
        key: default_collate([item[key] for item in batch]) for key in ("video", "flow") if key in batch[0]
    }
    out["label"] = torch.tensor([item["label"] for item in batch], dtype=torch.int64)
    out["meta"] = [item["meta"] for item in batch]
    return out


def build_flow_dataset(
    kind: str,
    root: str | os.PathLike,
    split: str | None = None,
    *,
    sampler: ClipSampler | IndexSampler,
    annotations: str | os.PathLike | None = None,
    classes: str | os.PathLike | list[str] | None = None,
    fold: int = 1,
    **options: Any,
) -> FlowClipDataset:
    """A :class:`FlowClipDataset` of one split of flow folders in a known layout (as
    :func:`~vidact.data.datasets.build_dataset` for videos: ``"folder"``, ``"ucf101"``, ``"hmdb51"``,
    ``"list"``, ...).

    Args:
        kind, root, split, annotations, classes, fold: as :func:`~vidact.data.datasets.build_dataset`, with
            flow folders where the layout has videos (``root/<split>/<class>/<video>/flow_x_00001.jpg``; a
            list file's paths name the folders).
        sampler: the flow field sampler.
        **options: the other arguments of :class:`FlowClipDataset` (``transform``, ``rgb``, ``length``,
            ``short_side``, ...).

    Raises:
        ConfigError: an unknown kind, or an argument the layout needs missing or one it cannot use given.
        DatasetError: the files do not have the layout's format, or no folder is readable.
    """
    layout = get_dataset_layout(kind)
    found = layout.read(root, split, annotations=annotations, classes=classes, fold=fold)
    return FlowClipDataset(found.samples, sampler=sampler, classes=found.classes, root=root, **options)
