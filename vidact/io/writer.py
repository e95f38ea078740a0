"""Writing videos (PyAV): used by the synthetic-data generator, the tests and the benchmarks.

Files are written to a temporary name beside the target and renamed when complete, so an interrupted write
never leaves a half-written video where a dataset would find it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction

import av
import numpy as np
import torch

__all__ = ["write_video"]


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray | torch.Tensor | Iterable[np.ndarray],
    fps: float = 30.0,
    *,
    codec: str = "libx264",
    crf: int | None = 23,
    gop: int | None = None,
    bframes: int | None = None,
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
    rotation: int = 0,
) -> str:
    """Encode RGB frames to a video file.

    Args:
        path: output file; the container follows the extension (.mp4, .mkv, .avi, .webm, .gif, ...).
        frames: [T, H, W, 3] uint8 array/tensor, or an iterable of [H, W, 3] uint8 arrays (streamed).
        fps: frame rate.
        codec: FFmpeg encoder name (``libx264``, ``mpeg4``, ``libvpx-vp9``, ``gif``, ...).
        crf: constant rate factor for x264/VP9 (lower is better quality), ``None`` for the encoder default.
        gop: keyframe interval in frames (``None``: encoder default).
        bframes: B-frames between references (``None``: encoder default; 0 disables reordering).
        pix_fmt: encoder pixel format (``yuv420p`` needs even width and height).
        options: extra encoder options (e.g. ``{"x264-params": "open-gop=1"}``).
        rotation: display rotation in degrees counter-clockwise, stored as container metadata.

    Returns:
        ``path`` as a string.
    """
    path = os.fspath(path)
    if isinstance(frames, torch.Tensor):
        frames = frames.cpu().numpy()
    tmp = f"{path}.partial{os.path.splitext(path)[1]}"
    rate = Fraction(fps).limit_denominator(100000)
    opts = dict(options or {})
    if crf is not None and codec in ("libx264", "libx265", "libvpx-vp9", "libvpx"):
        opts.setdefault("crf", str(crf))
    if codec == "libvpx-vp9":
        opts.setdefault("b", "0")
        opts.setdefault("deadline", "realtime")
        opts.setdefault("cpu-used", "8")
    container = av.open(tmp, mode="w")
    try:
        stream = None
        for frame in frames:
            frame = np.ascontiguousarray(frame, dtype=np.uint8)
            if stream is None:
                stream = container.add_stream(codec, rate=rate, options=opts)
                stream.width, stream.height = frame.shape[1], frame.shape[0]
                if codec == "gif":
                    stream.pix_fmt = "rgb8"
                else:
                    stream.pix_fmt = pix_fmt
                if gop is not None:
                    stream.codec_context.gop_size = gop
                    if codec == "libx264":
                        x = opts.get("x264-params", "")
                        stream.codec_context.options = {
                            **opts,
                            "x264-params": ":".join(
                                p for p in (x, f"keyint={gop}:min-keyint={gop}:scenecut=0") if p
                            ),
                        }
                if bframes is not None:
                    stream.codec_context.max_b_frames = bframes
                if rotation:
                    stream.set_display_rotation(rotation)
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            for packet in stream.encode(vf):
                container.mux(packet)
        if stream is None:
            raise ValueError(f"{path}: no frames to write")
        for packet in stream.encode():
            container.mux(packet)
    except BaseException:
        container.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    container.close()
    os.replace(tmp, path)
    return path
