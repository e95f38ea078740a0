"""PyAV (FFmpeg) backend: probing, the frame index, and exact seek-and-decode.

Random access works on the index built by :func:`probe`: to produce frame ``t`` the decoder seeks to the last
keyframe at or before ``t``, decodes forward and hands out the frames it was asked for; frames in between are
decoded (the codec needs them) but never converted to RGB. A sorted request is served in one pass: when the
next wanted frame lies in the GOP being decoded, or within ``SEEK_GAP`` frames of it, decoding simply continues;
otherwise the reader seeks again. Nothing before the first keyframe that is needed is ever decoded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from fractions import Fraction

import av
import numpy as np

from ..errors import VideoError
from .metadata import AudioStreamInfo, FrameIndex, VideoMetadata

__all__ = ["PyAVDecoder", "probe", "output_size"]

# Containers that carry no true presentation timestamps: decoded frames are identified by counting.
_COUNTED_FORMATS = {"avi", "h264", "hevc", "m4v", "mpegvideo", "rawvideo", "mjpeg", "h263", "vc1"}
# Decode on (rather than seek) when the next wanted frame's keyframe is at most this many frames ahead: a seek
# flushes the decoder, throwing away the frames its reorder buffer and threads already hold.
SEEK_GAP = 8
_INTERPOLATION = {"bilinear": "BILINEAR", "area": "AREA", "bicubic": "BICUBIC", "nearest": "POINT"}


def _reason(e: BaseException) -> str:
    if isinstance(e, av.error.EOFError):
        return "no frames (the file ends before the first video frame)"
    if isinstance(e, av.error.InvalidDataError):
        return "not a video FFmpeg can read (invalid data: corrupt, truncated or not a media file)"
    if isinstance(e, av.error.DecoderNotFoundError):
        return "unsupported codec (no decoder in this FFmpeg build)"
    if isinstance(e, av.error.PermissionError):
        return "permission denied"
    if isinstance(e, av.error.FFmpegError):
        return f"FFmpeg error: {e.strerror or e}"
    return f"{type(e).__name__}: {e}"


def check_file(path: str) -> None:
    """Raise :class:`VideoError` for a missing, unreadable, empty or directory path."""
    if not os.path.exists(path):
        raise VideoError(path, "no such file")
    if os.path.isdir(path):
        raise VideoError(path, "is a directory, expected a video file")
    if not os.path.isfile(path):
        raise VideoError(path, "not a regular file")
    if os.path.getsize(path) == 0:
        raise VideoError(path, "empty file (0 bytes)")
    if not os.access(path, os.R_OK):
        raise VideoError(path, "permission denied")


def open_container(path: str) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    """Open ``path`` and return it with its first video stream; every failure is a :class:`VideoError`."""
    check_file(path)
    try:
        container = av.open(path, metadata_errors="ignore")
    except av.error.FFmpegError as e:
        raise VideoError(path, _reason(e)) from None
    except (OSError, ValueError) as e:  # pragma: no cover - defensive
        raise VideoError(path, f"cannot open: {e}") from None
    if not container.streams.video:
        audio = [s.codec_context.name for s in container.streams.audio if s.codec_context is not None]
        container.close()
        what = f" (audio only: {', '.join(audio)})" if audio else ""
        raise VideoError(path, f"no video stream{what}")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        container.close()
        raise VideoError(path, "unsupported codec (no decoder in this FFmpeg build)")
    return container, stream


def output_size(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    """(width, height) after resizing the short side to ``short_side``, keeping the aspect ratio.

    Same rounding as ``torchvision.transforms.v2.Resize(short_side)`` (the long side is truncated), so
    resize-on-decode and the resize transform agree on shapes.
    """
    if short_side is None:
        return width, height
    if width <= height:
        return short_side, int(short_side * height / width)
    return int(short_side * width / height), short_side


def _rotation_of(frame: av.VideoFrame) -> int:
    try:
        r = int(round(frame.rotation)) % 360
    except (AttributeError, TypeError, ValueError):
        return 0
    return (r // 90) * 90 if r % 90 == 0 else 0


def probe(path: str | os.PathLike) -> VideoMetadata:
    """Read a video's metadata and build its frame index (demux every packet, decode one frame).

    Raises:
        VideoError: missing, empty, unreadable, audio-only, unsupported codec, zero frames, truncated.
    """
    path = os.fspath(path)
    container, stream = open_container(path)
    try:
        return _probe(path, container, stream)
    finally:
        container.close()


def _probe(path: str, container, stream) -> VideoMetadata:
    fmt = container.format.name
    cc = stream.codec_context
    for s in container.streams:
        if s.index != stream.index:
            s.discard = av.stream.Discard.all  # demux reads the video packets only
    pts_list: list[int | None] = []
    dts_list: list[int | None] = []
    key_list: list[bool] = []
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_discard:
                continue
            pts_list.append(packet.pts)
            dts_list.append(packet.dts)
            key_list.append(bool(packet.is_keyframe))
    except av.error.FFmpegError as e:
        if not pts_list:
            raise VideoError(path, _reason(e)) from None
        raise VideoError(path, f"corrupt or truncated after {len(pts_list)} frames ({_reason(e)})") from None
    n = len(pts_list)
    if n == 0:
        raise VideoError(path, "no frames (the video stream is empty)")
    time_base = stream.time_base or Fraction(1, 1)
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    has_pts = all(p is not None for p in pts_list) and len(set(pts_list)) == n
    decode_order = fmt.split(",")[0] in _COUNTED_FORMATS
    key_ord = [i for i, k in enumerate(key_list) if k] or [0]
    seek_of = {p: (d if d is not None else p) for p, d in zip(pts_list, dts_list, strict=True)}
    counted = False
    if has_pts and not decode_order:
        # Real presentation timestamps: display order is timestamp order.
        table = np.sort(np.asarray(pts_list, dtype=np.int64))
        keyframes = np.searchsorted(table, [pts_list[i] for i in key_ord])
        # FFmpeg's demuxers for these containers seek by presentation time (seeking by the keyframe's dts
        # lands one GOP early in mp4 files with B-frames).
        seek_ts = [pts_list[i] for i in key_ord]
    elif has_pts and not cc.has_b_frames:
        # Decode-order container without reordering: display order is packet order.
        table = np.asarray(pts_list, dtype=np.int64)
        keyframes = np.asarray(key_ord)
        seek_ts = [seek_of[pts_list[i]] for i in key_ord]
    else:
        # Decode-order container (AVI) whose codec reorders frames: learn, once, which stamp each displayed
        # frame carries and where the keyframes fall in display order.
        table, keyframes, seek_ts, counted, n = _learn_display_order(path, seek_of, n)
    if not has_pts or decode_order:
        if fps <= 0:
            fps = 25.0
    pts_are_times = has_pts and not decode_order
    header_frames = int(stream.frames or 0)
    declared = _declared_frames(container, stream, fps)
    if declared is not None and declared - n > max(2.0, 0.05 * declared):
        secs = f" ({declared / fps:.2f} s)" if fps > 0 else ""
        raise VideoError(
            path, f"truncated: the header declares {declared:.0f} frames{secs}, the file holds {n}"
        )
    keyframes = np.asarray(keyframes, dtype=np.int64)
    seek_ts = np.asarray(seek_ts, dtype=np.int64)
    if keyframes.size == 0 or keyframes[0] != 0:  # decoding can always start at the first frame
        keyframes = np.concatenate([[0], keyframes]).astype(np.int64)
        seek_ts = np.concatenate([[seek_of.get(int(table[0]), 0) if not counted else 0], seek_ts]).astype(
            np.int64
        )
    keyframes, uniq = np.unique(keyframes, return_index=True)
    seek_ts = seek_ts[uniq]
    sorted_pts = table
    index = FrameIndex(
        pts=np.asarray(table, dtype=np.int64),
        keyframes=keyframes,
        seek_ts=seek_ts,
        time_base=time_base,
        pts_are_times=pts_are_times,
        fps=fps,
        counted=counted,
    )

    # Decode the first frame: proves the codec works and gives the display rotation.
    first = _first_frame(path)
    rotation = _rotation_of(first)
    w, h = first.width, first.height
    if rotation in (90, 270):
        w, h = h, w

    tb = float(time_base)
    if pts_are_times:
        frame_dur = float(np.median(np.diff(sorted_pts))) * tb if n > 1 else (1.0 / fps if fps else 0.0)
        duration = float(sorted_pts[-1] - sorted_pts[0]) * tb + frame_dur
        start_time = float(sorted_pts[0]) * tb
        if fps <= 0 and frame_dur > 0:
            fps = 1.0 / frame_dur
    else:
        duration = n / fps
        start_time = 0.0
    if header_frames > 0:
        estimated = header_frames
    elif stream.duration is not None and stream.time_base is not None and fps > 0:
        estimated = int(round(float(stream.duration * stream.time_base) * fps))
    elif container.duration is not None and fps > 0:
        estimated = int(round(container.duration / av.time_base * fps))
    else:
        estimated = n
    audio = tuple(
        AudioStreamInfo(
            codec=a.codec_context.name if a.codec_context is not None else "unknown",
            sample_rate=int(a.codec_context.sample_rate or 0) if a.codec_context is not None else 0,
            channels=int(a.codec_context.channels or 0) if a.codec_context is not None else 0,
            language=a.language,
        )
        for a in container.streams.audio
    )
    kf_interval = float(n / len(keyframes)) if len(keyframes) else None
    return VideoMetadata(
        path=path,
        container=fmt,
        codec=cc.name,
        width=int(w),
        height=int(h),
        fps=float(fps),
        num_frames=n,
        num_frames_estimated=int(estimated),
        duration=float(duration),
        rotation=rotation,
        keyframe_interval=kf_interval,
        num_keyframes=int(len(keyframes)),
        pixel_format=cc.format.name if cc.format is not None else None,
        bit_rate=int(container.bit_rate) if container.bit_rate else None,
        start_time=start_time,
        audio_streams=audio,
        index=index,
    )


def _declared_frames(container, stream, fps: float) -> float | None:
    """How many frames the container's header says the video stream has, if it says."""
    if stream.frames:
        return float(stream.frames)
    if fps <= 0:
        return None
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base) * fps
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    if tag:
        try:
            h, m, sec = tag.split(":")
            return (int(h) * 3600 + int(m) * 60 + float(sec)) * fps
        except ValueError:
            pass
    if container.duration is not None and len(container.streams) == 1:
        return container.duration / av.time_base * fps
    return None


def _learn_display_order(path: str, seek_of: dict, n_packets: int):
    """Decode the whole stream once, recording the stamp of each displayed frame and which are keyframes."""
    container, stream = open_container(path)
    stream.codec_context.thread_type = "AUTO"
    stamps: list[int | None] = []
    keys: list[int] = []
    try:
        for frame in container.decode(stream):
            if frame.key_frame:
                keys.append(len(stamps))
            stamps.append(frame.pts)
    except av.error.FFmpegError as e:
        raise VideoError(path, f"corrupt or truncated after {len(stamps)} frames ({_reason(e)})") from None
    finally:
        container.close()
    n = len(stamps)
    if n == 0:
        raise VideoError(path, "no decodable frames")
    if all(p is not None for p in stamps) and len(set(stamps)) == n and all(p in seek_of for p in stamps):
        keys = [k for k in keys if k == 0 or stamps[k] in seek_of]
        return np.asarray(stamps, dtype=np.int64), keys, [seek_of[stamps[k]] for k in keys], False, n
    # No usable stamps: frames are counted from the start of the stream, every request decodes from there.
    return np.arange(n, dtype=np.int64), [0], [0], True, n


def _first_frame(path: str) -> av.VideoFrame:
    container, stream = open_container(path)
    try:
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError as e:
        raise VideoError(path, f"cannot decode the first frame ({_reason(e)})") from None
    finally:
        container.close()
    raise VideoError(path, "no decodable frames")


class PyAVDecoder:
    """Decodes frames of one video by display-order position, using a :class:`FrameIndex`.

    Not thread-safe; one per reader. ``threads`` is FFmpeg's decoder thread count (0 = one per core).
    """

    def __init__(self, path: str, meta: VideoMetadata, *, threads: int = 0, thread_type: str = "AUTO"):
        assert meta.index is not None
        self.path = path
        self.meta = meta
        self.index = meta.index
        self._threads = threads
        self._thread_type = thread_type
        self._open()
        self.skip_unwanted = True  # let the decoder drop unreferenced frames nobody asked for
        self.seeks = 0  # how many seeks the last request cost (for tests and benchmarks)
        self.decoded = 0  # how many frames the last request decoded

    def _open(self) -> None:
        self._container, self._stream = open_container(self.path)
        for s in self._container.streams:
            if s.index != self._stream.index:
                s.discard = av.stream.Discard.all
        cc = self._stream.codec_context
        cc.thread_count = self._threads
        cc.thread_type = self._thread_type

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    # -- low level --------------------------------------------------------------------------------------------
    def _seek(self, k: int, wanted: frozenset[int] | None = None) -> Iterator[av.VideoFrame]:
        """Position the demuxer at keyframe number ``k`` and return a fresh frame iterator."""
        if k == 0 and (self.meta.container == "gif" or self.index.counted):
            # back to the very start: reopening is the one way that works for every demuxer
            self._container.close()
            self._open()
        else:
            try:
                self._container.seek(
                    int(self.index.seek_ts[k]), backward=True, any_frame=False, stream=self._stream
                )
            except av.error.FFmpegError as e:
                raise VideoError(self.path, f"seek failed ({_reason(e)})") from None
        self.seeks += 1
        return self._frames(wanted)

    def _frames(self, wanted: frozenset[int] | None = None) -> Iterator[av.VideoFrame]:
        """Decode forward from the current position.

        With ``wanted`` (the stamps of the frames still to be handed out), packets of frames nobody asked for
        are decoded with ``skip_frame = NONREF``: the decoder drops them if no other frame references them
        (most B-frames), and decodes them as usual otherwise. Wanted frames always decode in full.
        """
        cc = self._stream.codec_context
        # Only where a packet's pts is the pts of the frame it holds (not in AVI: packed B-frames there ride in
        # another frame's packet).
        skipping = wanted is not None and self.skip_unwanted and self.index.pts_are_times
        current = "DEFAULT"
        try:
            for packet in self._container.demux(self._stream):
                if skipping:
                    mode = "DEFAULT" if packet.pts is None or packet.pts in wanted else "NONREF"
                    if mode != current:
                        cc.skip_frame = current = mode
                for frame in packet.decode():
                    self.decoded += 1
                    yield frame
        except av.error.FFmpegError as e:
            raise VideoError(self.path, f"decoding failed ({_reason(e)})") from None
        finally:
            if current != "DEFAULT":
                cc.skip_frame = "DEFAULT"

    def _position(self, frame: av.VideoFrame, prev: int) -> int | None:
        if self.index.counted:
            return prev + 1
        if frame.pts is None:
            return None
        pos = self.index.lookup(frame.pts)
        return pos if pos >= 0 else None

    # -- requests ---------------------------------------------------------------------------------------------
    def decode(self, positions: np.ndarray, emit: Callable[[int, av.VideoFrame], None]) -> None:
        """Call ``emit(position, frame)`` once for each position in ``positions`` (sorted, unique)."""
        for pos, frame in self.frames(positions):
            emit(pos, frame)

    def frames(self, positions: np.ndarray) -> Iterator[tuple[int, av.VideoFrame]]:
        """Yield ``(position, frame)`` for each position in ``positions`` (sorted, unique), in order.

        A generator: frames are decoded as they are consumed, so a caller streaming through a long video holds
        only what it keeps.

        Raises:
            VideoError: a frame could not be produced (corrupt data).
        """
        self.seeks = 0
        self.decoded = 0
        targets = np.asarray(positions, dtype=np.int64)
        n = int(targets.size)
        kf = self.index.keyframes
        wanted = frozenset(self.index.pts[targets].tolist())
        i = 0
        gen: Iterator[av.VideoFrame] | None = None
        cur = -1  # display position of the last frame out of the decoder
        back = 0  # keyframes to step back beyond the natural one, after a seek that missed its target
        while i < n:
            t = int(targets[i])
            if gen is None or cur >= t or kf[self.index.keyframe_before(t)] > cur + SEEK_GAP:
                k = self.index.keyframe_before(t) - back
                if k < 0:
                    raise VideoError(self.path, f"frame {t} could not be decoded (corrupt or truncated data)")
                gen = self._seek(k, wanted)
                cur = int(kf[k]) - 1
            missed = False
            for frame in gen:
                pos = self._position(frame, cur)
                if pos is None or pos <= cur:
                    continue  # no usable timestamp, or a frame before the keyframe we asked for
                if pos > t:
                    missed = True  # the wanted frame never came out of this run
                    break
                cur = pos
                if pos < t:
                    continue
                yield pos, frame
                i += 1
                back = 0
                if i == n:
                    return
                t = int(targets[i])
                if kf[self.index.keyframe_before(t)] > cur + SEEK_GAP:
                    break  # the next wanted frame is GOPs away: seeking beats decoding up to it
            else:
                gen = None
                missed = True
            if missed:
                back += 1
                gen = None

    def iter_frames(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, av.VideoFrame]]:
        """Yield ``(position, frame)`` for every frame in ``[start, stop)``, decoding sequentially."""
        stop = len(self.index) if stop is None else min(stop, len(self.index))
        yield from self.frames(np.arange(max(start, 0), stop))


def frame_to_array(
    frame: av.VideoFrame, size: tuple[int, int] | None, rotation: int, interpolation: str = "bilinear"
) -> np.ndarray:
    """[H, W, 3] uint8 RGB of ``frame``, resized to ``size`` = (width, height) of the displayed (rotated)
    picture and rotated for display.

    Colour conversion and resizing are one swscale pass, single-threaded: swscale's own thread pool costs
    more than it saves on one frame (measured: 0.44 ms vs 2.5 ms per 720p frame with PyAV's default).
    """
    kwargs = {}
    if size is not None:
        w, h = size
        if rotation in (90, 270):
            w, h = h, w
        if (w, h) != (frame.width, frame.height):
            kwargs = {"width": w, "height": h, "interpolation": _INTERPOLATION[interpolation]}
    arr = frame.to_ndarray(format="rgb24", threads=1, **kwargs)
    if rotation:
        arr = np.rot90(arr, k=rotation // 90)
    return arr
