"""What a video is, probed once: :class:`VideoMetadata`, its :class:`FrameIndex`, and a per-dataset cache.

The frame index is what makes exact random access cheap: the presentation timestamp of every frame and the
positions of the keyframes, read by demuxing packets (no decoding). A reader seeks to the keyframe before a
requested frame and decodes forward from there, instead of decoding the file from the start.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write

__all__ = ["AudioStreamInfo", "FrameIndex", "VideoMetadata", "MetadataCache"]


@dataclass(frozen=True)
class AudioStreamInfo:
    codec: str
    sample_rate: int
    channels: int
    language: str | None = None


@dataclass(frozen=True, eq=False)
class FrameIndex:
    """Where every frame of a video stream is.

    Attributes:
        pts: [N] int64 timestamp of each frame in display order, as the decoder stamps it on the frame; this is
            how a decoded frame is recognised after a seek. Increasing for containers with real presentation
            timestamps (mp4, mkv, webm, gif); in decode-order containers with B-frames (AVI) it is the
            demuxer's per-packet stamp carried through reordering, learned by one sequential decode at probe.
        keyframes: [K] int64 display-order positions of the keyframes (a decoder can start there), increasing.
        seek_ts: [K] int64 the timestamp to hand the demuxer to land on each keyframe (its pts, or its dts in
            decode-order containers such as AVI).
        time_base: seconds per ``pts`` unit.
        pts_are_times: True when ``pts * time_base`` is the presentation time. False (AVI, raw streams): frame i
            is shown at ``i / fps``.
        fps: the stream's average frame rate.
        counted: True when frames carry no usable stamps at all: they are recognised by counting from the first
            frame, and every request decodes from the start (only the first keyframe is used).
    """

    pts: np.ndarray
    keyframes: np.ndarray
    seek_ts: np.ndarray
    time_base: Fraction
    pts_are_times: bool = True
    fps: float = 0.0
    counted: bool = False

    def __len__(self) -> int:
        return int(self.pts.shape[0])

    def seconds(self, positions: np.ndarray | None = None) -> np.ndarray:
        """[N] float64 presentation times in seconds (of ``positions``, or of every frame)."""
        pos = np.arange(len(self)) if positions is None else np.asarray(positions, dtype=np.int64)
        if self.pts_are_times:
            return self.pts[pos].astype(np.float64) * float(self.time_base)
        return pos.astype(np.float64) / (self.fps or 1.0)

    def keyframe_before(self, position: int) -> int:
        """Index into ``keyframes`` of the last keyframe at or before ``position`` (0 if none)."""
        k = int(np.searchsorted(self.keyframes, position, side="right")) - 1
        return max(k, 0)

    def position_of_time(self, seconds: float | np.ndarray) -> np.ndarray:
        """Display-order position of the frame shown at ``seconds`` (the last frame starting at or before it)."""
        t = np.asarray(seconds, dtype=np.float64)
        pos = np.searchsorted(self.seconds(), t + 1e-9, side="right") - 1
        return np.clip(pos, 0, len(self) - 1)

    def lookup(self, pts: int) -> int:
        """Display position of the frame stamped ``pts``, or -1 if no frame has that stamp."""
        order = self._order()
        j = int(np.searchsorted(self.pts, pts, sorter=order))
        if j < len(order) and self.pts[order[j]] == pts:
            return int(order[j])
        return -1

    def _order(self) -> np.ndarray:
        order = self.__dict__.get("_order_cache")
        if order is None:
            order = np.argsort(self.pts, kind="stable")
            object.__setattr__(self, "_order_cache", order)
        return order

    # -- compact (de)serialisation: constant-rate streams store three numbers instead of N ------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "time_base": [self.time_base.numerator, self.time_base.denominator],
            "pts_are_times": self.pts_are_times,
            "fps": self.fps,
            "counted": self.counted,
            "keyframes": _encode_ints(self.keyframes),
            "seek_ts": _encode_ints(self.seek_ts),
            "pts": _encode_ints(self.pts),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FrameIndex:
        return cls(
            pts=_decode_ints(d["pts"]),
            keyframes=_decode_ints(d["keyframes"]),
            seek_ts=_decode_ints(d["seek_ts"]),
            time_base=Fraction(*d["time_base"]),
            pts_are_times=bool(d["pts_are_times"]),
            fps=float(d["fps"]),
            counted=bool(d["counted"]),
        )


def _encode_ints(a: np.ndarray) -> Any:
    a = np.asarray(a, dtype=np.int64)
    if a.size >= 2:
        step = int(a[1] - a[0])
        if np.array_equal(a, a[0] + step * np.arange(a.size, dtype=np.int64)):
            return {"start": int(a[0]), "step": step, "n": int(a.size)}
    return a.tolist()


def _decode_ints(v: Any) -> np.ndarray:
    if isinstance(v, dict):
        return v["start"] + v["step"] * np.arange(v["n"], dtype=np.int64)
    return np.asarray(v, dtype=np.int64).reshape(-1)


@dataclass(frozen=True)
class VideoMetadata:
    """What a user needs to know about a video before training on it.

    ``width``/``height`` are the size of the decoded frames as returned (after ``rotation`` is applied).
    ``num_frames`` is exact (counted from the index); ``num_frames_estimated`` is what the header claims
    (frame count field, or duration x fps), which is all a reader without an index has.
    """

    path: str
    container: str
    codec: str
    width: int
    height: int
    fps: float
    num_frames: int
    num_frames_estimated: int
    duration: float
    rotation: int = 0
    keyframe_interval: float | None = None
    num_keyframes: int = 0
    pixel_format: str | None = None
    bit_rate: int | None = None
    start_time: float = 0.0
    audio_streams: tuple[AudioStreamInfo, ...] = ()
    index: FrameIndex | None = field(default=None, repr=False, compare=False)

    @property
    def has_audio(self) -> bool:
        return bool(self.audio_streams)

    def to_json(self, with_index: bool = True) -> dict[str, Any]:
        d = asdict(self)
        d.pop("index")
        d["audio_streams"] = [asdict(a) for a in self.audio_streams]
        if with_index and self.index is not None:
            d["index"] = self.index.to_json()
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> VideoMetadata:
        d = dict(d)
        index = d.pop("index", None)
        d["audio_streams"] = tuple(AudioStreamInfo(**a) for a in d.get("audio_streams", ()))
        return cls(**d, index=FrameIndex.from_json(index) if index is not None else None)


class MetadataCache:
    """A small JSON index of probed videos, keyed by absolute path, file size and modification time.

    A dataset keeps one per root: the first epoch probes every video once (with a progress bar), later runs and
    DataLoader workers read the cache. An entry is reused only while the file's size and mtime are unchanged.
    Writes are atomic (temporary file + rename), so a killed run never leaves a half-written index.

    A frame folder holding several sequences (``img_``, ``flow_x_``, ``flow_y_``, see :mod:`vidact.io._frames`)
    has one entry per ``prefix`` it was probed with.

    Args:
        path: the JSON file. Created on the first :meth:`save`.
    """

    VERSION = 1

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._entries: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._dirty = False
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text())
                if data.get("version") == self.VERSION:
                    self._entries = data.get("videos", {})
            except (OSError, ValueError):
                self._entries = {}  # an unreadable cache is rebuilt, never fatal

    @staticmethod
    def _key(path: str | os.PathLike, prefix: str | None = None) -> tuple[str, int, int]:
        p = os.path.abspath(os.fspath(path))
        st = os.stat(p)
        # NUL never occurs in a path: a prefixed entry cannot collide with another path's
        return (p if prefix is None else f"{p}\0{prefix}"), st.st_size, st.st_mtime_ns

    def get(self, path: str | os.PathLike, *, prefix: str | None = None) -> VideoMetadata | None:
        """The cached metadata of ``path`` (of its ``prefix`` images, for a frame folder), or ``None`` when it
        has none or the file changed since."""
        try:
            key, size, mtime = self._key(path, prefix)
        except OSError:
            return None
        e = self._entries.get(key)
        if e is None or e["size"] != size or e["mtime_ns"] != mtime:
            return None
        try:
            return VideoMetadata.from_json(e["meta"])
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, path: str | os.PathLike, meta: VideoMetadata, *, prefix: str | None = None) -> None:
        """Cache ``meta`` for ``path`` (its ``prefix`` images, for a frame folder) as it is now."""
        key, size, mtime = self._key(path, prefix)
        with self._lock:
            self._entries[key] = {"size": size, "mtime_ns": mtime, "meta": meta.to_json()}
            self._dirty = True

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, (str, os.PathLike)) and self.get(path) is not None

    def save(self) -> None:
        """Write the index atomically (only if something changed)."""
        with self._lock:
            if not self._dirty:
                return
            with atomic_write(self.path, "w") as f:
                json.dump({"version": self.VERSION, "videos": self._entries}, f, separators=(",", ":"))
            self._dirty = False
