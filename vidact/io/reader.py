"""``VideoReader``: exact, seekable frame access to video files, animated GIFs and folders of frames.

    >>> from vidact.io import VideoReader
    >>> with VideoReader("clip.mp4", short_side=128) as r:
    ...     r.metadata.fps, len(r)
    ...     clip = r.get_frames([0, 2, 4, 6])        # [4, 128, W, 3] uint8, frames in the order asked
    ...     clip = r.get_frames_at([0.0, 0.5, 1.0])  # by presentation time, in seconds

Indices are display-order frame numbers ``0 .. len(r) - 1``. A request is served in one pass over the video:
the reader seeks to the keyframe before each needed span, decodes forward and drops what was not asked for
(see :mod:`vidact.io._pyav`). Duplicates and any order are allowed in a request; each frame is decoded once.

A folder holding several image sequences (mmaction2's rawframes: ``img_``, ``flow_x_``, ``flow_y_``) is read one
sequence at a time, by ``prefix``; flow images are one channel each (``gray=True``)::

    >>> with VideoReader("rawframes/v1", prefix="flow_x_", gray=True) as r:
    ...     x = r.get_frames([0, 1, 2])                # [3, H, W, 1] uint8: the x channel of three flow fields
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Literal

import numpy as np
import torch

from ..errors import VidactError, VideoError
from . import _frames, _pyav
from .metadata import MetadataCache, VideoMetadata

__all__ = ["VideoReader", "probe", "available_backends", "DEFAULT_BACKEND"]

Layout = Literal["THWC", "TCHW"]

#: Chosen from ``benchmarks/decode.py`` (README, "Decoding speed"): PyAV with vidact's index-driven seeking
#: is the fastest on both dense and spread clips on this class of machine, and it always installs.
DEFAULT_BACKEND = "pyav"


def available_backends() -> list[str]:
    """Backends usable here: ``pyav`` always; ``torchcodec`` when it imports and finds FFmpeg's libraries."""
    out = ["pyav"]
    try:
        from torchcodec.decoders import VideoDecoder  # noqa: F401

        out.append("torchcodec")
    except Exception:  # ImportError, or OSError/RuntimeError when FFmpeg's shared libraries are missing
        pass
    return out


def probe(
    source: str | os.PathLike,
    *,
    cache: MetadataCache | None = None,
    fps: float = 30.0,
    prefix: str | None = None,
) -> VideoMetadata:
    """Metadata (with the frame index) of a video file, GIF or frame folder; reads ``cache`` first if given.

    Args:
        source: the video file, GIF or frame folder.
        cache: a :class:`MetadataCache` to read first and to add to.
        fps: the frame rate of a frame folder (folders do not store one).
        prefix: a frame folder's images whose names start with it (``"img_"``, ``"flow_x_"``, ``"flow_y_"``),
            which must be numbered without a gap; ``None``: every image. Only for frame folders.

    Raises:
        VideoError: the source is missing or unreadable, or a prefixed sequence has a gap; the message says why.
        ValueError: a ``prefix`` for a video file.
    """
    path = os.fspath(source)
    if cache is not None:
        meta = cache.get(path, prefix=prefix)
        if meta is not None:
            return meta
    if os.path.isdir(path):
        meta, _ = _frames.probe_frames(path, fps=fps, prefix=prefix)
    elif prefix is not None:
        raise ValueError(f"{path}: prefix={prefix!r} selects images of a frame folder, not of a video file")
    else:
        meta = _pyav.probe(path)
    if cache is not None:
        cache.put(path, meta, prefix=prefix)
    return meta


class VideoReader:
    """Frames of one video by index or by time, as uint8 tensors.

    Args:
        source: a video file (anything FFmpeg reads: mp4, mkv, avi, webm, ...), an animated GIF, or a folder of
            frame images (natural order: ``img_2.jpg`` before ``img_10.jpg``).
        backend: ``"auto"`` (:data:`DEFAULT_BACKEND`), ``"pyav"`` or ``"torchcodec"`` (video files only).
        short_side: resize while decoding so the short side has this many pixels (aspect ratio kept, same
            output size as ``torchvision.transforms.v2.Resize(short_side)``); ``None`` keeps the native size.
        layout: ``"THWC"`` gives [T, H, W, 3]; ``"TCHW"`` gives [T, 3, H, W] (1 channel instead of 3 with ``gray``).
        threads: decoder threads (0: FFmpeg picks one per core). Use 1 inside DataLoader workers.
        interpolation: ``"bilinear"`` (default), ``"area"``, ``"bicubic"`` or ``"nearest"``, for ``short_side``.
        cache: a :class:`MetadataCache` to take the probe (and frame index) from, and to add it to.
        metadata: an already probed :class:`VideoMetadata` (skips probing).
        fps: frame rate of a frame folder (folders do not store one); ignored for video files.
        prefix: a frame folder's images whose names start with it (``"img_"``, ``"flow_x_"``, ``"flow_y_"``),
            numbered without a gap; ``None``: every image of the folder.
        gray: read a frame folder's images as one channel (flow images): frames [T, H, W, 1] (or [T, 1, H, W]).

    Raises:
        VideoError: the source is missing, empty, corrupt, truncated, audio-only or has no frames, or a prefixed
            sequence of frames has a gap.
        ValueError: an invalid option, or ``prefix`` or ``gray`` for a video file.
    """

    def __init__(
        self,
        source: str | os.PathLike,
        *,
        backend: str = "auto",
        short_side: int | None = None,
        layout: Layout = "THWC",
        threads: int = 0,
        interpolation: str = "bilinear",
        cache: MetadataCache | None = None,
        metadata: VideoMetadata | None = None,
        fps: float = 30.0,
        prefix: str | None = None,
        gray: bool = False,
    ):
        self.path = os.fspath(source)
        if layout not in ("THWC", "TCHW"):
            raise ValueError(f"layout must be 'THWC' or 'TCHW', got {layout!r}")
        if short_side is not None and short_side <= 0:
            raise ValueError(f"short_side must be positive, got {short_side}")
        if interpolation not in ("bilinear", "area", "bicubic", "nearest"):
            raise ValueError(f"unknown interpolation {interpolation!r}")
        if (prefix is not None or gray) and not os.path.isdir(self.path):
            raise ValueError(
                f"{self.path}: prefix and gray read frame folders (flow images), not video files"
            )
        self.layout = layout
        self.short_side = short_side
        self.interpolation = interpolation
        self.prefix = prefix
        self.gray = gray
        self.channels = 1 if gray else 3
        if metadata is None:
            metadata = probe(self.path, cache=cache, fps=fps, prefix=prefix)
        self.metadata = metadata
        m = self.metadata
        self.width, self.height = _pyav.output_size(m.width, m.height, short_side)
        self._files: list[str] | None = None
        self._pyav: _pyav.PyAVDecoder | None = None
        self._tc = None
        if m.container == "frames":
            self.backend = "frames"
            if prefix is None:
                self._files = _frames.list_frames(self.path)
            else:
                self._files = _frames.numbered_frames(self.path, prefix)
            if len(self._files) != m.num_frames:
                raise VideoError(
                    self.path, f"frame folder changed: {len(self._files)} frames, index says {m.num_frames}"
                )
        else:
            backend = DEFAULT_BACKEND if backend == "auto" else backend
            if backend == "pyav":
                self._pyav = _pyav.PyAVDecoder(self.path, m, threads=threads)
            elif backend == "torchcodec":
                self._tc = _open_torchcodec(self.path, threads, self.width, self.height, m)
            else:
                raise ValueError(f"unknown backend {backend!r}; choose from 'auto', 'pyav', 'torchcodec'")
            self.backend = backend

    # -- container protocol --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.metadata.num_frames

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def close(self) -> None:
        if self._pyav is not None:
            self._pyav.close()
            self._pyav = None
        self._tc = None

    def __repr__(self) -> str:
        m = self.metadata
        return (
            f"VideoReader({self.path!r}, backend={self.backend!r}, frames={m.num_frames}, fps={m.fps:.3f}, "
            f"size={self.width}x{self.height})"
        )

    def __getitem__(self, key: int | slice) -> torch.Tensor:
        """``r[i]`` is one frame [H, W, 3]; ``r[a:b:s]`` is [T, H, W, 3] (layout as configured)."""
        if isinstance(key, slice):
            return self.get_frames(range(*key.indices(len(self))))
        return self.get_frames([key])[0]

    # -- access ------------------------------------------------------------------------------------------------
    def _check(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = int(idx[(idx < -n) | (idx >= n)][0])
            raise IndexError(f"{self.path}: frame {bad} out of range (the video has {n} frames)")
        return np.where(idx < 0, idx + n, idx)

    def get_frames(self, indices: Sequence[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
        """Frames at display-order ``indices``, in the order given: [T, H, W, 3] (or [T, 3, H, W]) uint8; one
        channel instead of 3 with ``gray``.

        Each distinct frame is decoded once, in a single forward pass with a seek per far-apart span.
        """
        if isinstance(indices, torch.Tensor):
            indices = indices.cpu().numpy()
        idx = self._check(indices)
        out = np.empty((idx.size, self.height, self.width, self.channels), dtype=np.uint8)
        if idx.size:
            uniq, inverse = np.unique(idx, return_inverse=True)
            slots: dict[int, np.ndarray] = {}
            order = np.argsort(inverse, kind="stable")
            bounds = np.searchsorted(inverse[order], np.arange(uniq.size + 1))
            for j, u in enumerate(uniq):
                slots[int(u)] = order[bounds[j] : bounds[j + 1]]
            self._decode_into(uniq, slots, out)
        t = torch.from_numpy(out)
        return t.permute(0, 3, 1, 2) if self.layout == "TCHW" else t

    def _decode_into(self, uniq: np.ndarray, slots: dict[int, np.ndarray], out: np.ndarray) -> None:
        size = (self.width, self.height) if self.short_side is not None else None
        rot = self.metadata.rotation
        if self._pyav is not None:

            def emit(pos, frame):
                arr = _pyav.frame_to_array(frame, size, rot, self.interpolation)
                dst = slots[pos]
                out[dst[0]] = arr
                if dst.size > 1:
                    out[dst[1:]] = arr

            self._pyav.decode(uniq, emit)
        elif self._files is not None:
            for pos in uniq:
                arr = _frames.read_frame(self._files[int(pos)], size, self.interpolation, gray=self.gray)
                out[slots[int(pos)]] = arr
        else:
            batch = self._tc.get_frames_at(uniq.tolist()).data  # [N, H, W, 3]
            arr = batch.numpy()
            if rot and arr.shape[1:3] != (self.height, self.width):
                arr = np.rot90(arr, k=rot // 90, axes=(1, 2))
            for j, pos in enumerate(uniq):
                out[slots[int(pos)]] = arr[j]

    def get_frames_at(self, seconds: Sequence[float] | np.ndarray) -> torch.Tensor:
        """Frames displayed at the given presentation times (seconds from the stream start), in that order."""
        return self.get_frames(self.positions_at(seconds))

    def positions_at(self, seconds: Sequence[float] | np.ndarray) -> np.ndarray:
        """Display-order positions of the frames shown at ``seconds``; times beyond the end give the last frame."""
        s = np.asarray(seconds, dtype=np.float64) + self.metadata.start_time
        return self.metadata.index.position_of_time(s)

    def get_frames_in_range(self, start: int, stop: int, step: int = 1) -> torch.Tensor:
        """Frames ``start, start + step, ... < stop`` (like ``range``)."""
        return self.get_frames(np.arange(start, stop, step))

    def timestamps(self, indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """[T] float64 presentation times in seconds (from the stream start) of ``indices`` (default: all)."""
        idx = None if indices is None else self._check(indices)
        return self.metadata.index.seconds(idx) - self.metadata.start_time

    def iter_frames(
        self, start: int = 0, stop: int | None = None, *, positions: Sequence[int] | np.ndarray | None = None
    ) -> Iterator[tuple[int, float, torch.Tensor]]:
        """Stream ``(index, seconds, frame)`` in display order with bounded memory; frame is [H, W, 3]
        (or [3, H, W]; one channel with ``gray``).

        Every frame of ``[start, stop)``, or only ``positions`` (any order; served sorted and once each): the
        video is decoded forward in one pass, seeking ahead over long gaps, and only those frames are converted.
        """
        if positions is not None:
            wanted = np.unique(self._check(positions))
        else:
            stop = len(self) if stop is None else min(stop, len(self))
            wanted = np.arange(max(start, 0), stop)
        size = (self.width, self.height) if self.short_side is not None else None
        rot = self.metadata.rotation
        times = self.timestamps()
        if self._pyav is not None:
            gen = (
                (pos, _pyav.frame_to_array(frame, size, rot, self.interpolation))
                for pos, frame in self._pyav.frames(wanted)
            )
        else:

            def chunks():
                for a in range(0, wanted.size, 32):
                    part = wanted[a : a + 32]
                    batch = self.get_frames(part)
                    if self.layout == "TCHW":
                        batch = batch.permute(0, 2, 3, 1)
                    for j, pos in enumerate(part):
                        yield int(pos), batch[j].numpy()

            gen = chunks()
        for pos, arr in gen:
            t = torch.from_numpy(np.ascontiguousarray(arr))
            yield pos, float(times[pos]), (t.permute(2, 0, 1) if self.layout == "TCHW" else t)

    @property
    def seeks(self) -> int:
        """Seeks the last request needed (PyAV backend), for tests and benchmarks."""
        return self._pyav.seeks if self._pyav is not None else 0

    @property
    def decoded(self) -> int:
        """Frames the last request decoded (PyAV backend), for tests and benchmarks."""
        return self._pyav.decoded if self._pyav is not None else 0


def _open_torchcodec(path: str, threads: int, width: int, height: int, meta: VideoMetadata):
    if "torchcodec" not in available_backends():
        raise VidactError(
            "backend 'torchcodec' is not usable here: install torchcodec and FFmpeg's shared libraries "
            "(libavcodec), or use backend='pyav'"
        )
    from torchcodec.decoders import VideoDecoder

    transforms = None
    if (width, height) != (meta.width, meta.height):
        from torchcodec.transforms import Resize

        w, h = (height, width) if meta.rotation in (90, 270) else (width, height)
        transforms = [Resize(size=(h, w))]
    try:
        return VideoDecoder(
            path, seek_mode="exact", num_ffmpeg_threads=threads, dimension_order="NHWC", transforms=transforms
        )
    except Exception as e:  # torchcodec raises RuntimeError/ValueError with FFmpeg's message
        raise VideoError(path, f"torchcodec cannot open it ({e})") from None
