"""The ``flow`` kind: the optical flow of every video of a corpus, as mmaction2's flow folders or float16 arrays.

    >>> extract(build_extractor("flow", bound=20, short_side=256), "videos/", "flow/", workers=2)
    >>> read_flow_folder("flow/a/v1", bound=20).shape          # (N - 1, 2, H, W) float32 pixels

    $ vidact extract flow videos/ --out flow/ --method dis_fine --bound 20 --short-side 256 --workers 2

**Outputs.** Per video named ``a/v1`` (N frames taken), with ``format="jpg"`` (default) or ``"png"``: the folder
``OUT/a/v1/`` holding ``flow_x_00001.jpg``, ``flow_y_00001.jpg`` ... ``flow_x_<N-1>``, one 8-bit grayscale image
per channel of the flow from frame i to i + 1, in the code of :mod:`vidact.flow.encode` (``bound`` pixels onto
0 .. 255) — mmaction2's and denseflow's layout, read back with :func:`~vidact.flow.encode.read_flow_folder` or
``VideoReader(folder, prefix="flow_x_", gray=True)``. With ``format="npz"``: ``OUT/a/v1.flow.npz`` holding
``flow``, float16 [N - 1, 2, H, W] raw pixels (no bound, no clipping). With ``rgb``, the frames too:
``OUT/a/v1/img_00001.jpg`` ... (N of them, the flow's size). And the runner's record ``OUT/a/v1.flow.json``.

**Streaming.** Frames are decoded one at a time and each pair's images are written as soon as its flow is
computed (:func:`vidact.flow.stream.video_flow`); the npz's rows go to a temporary ``.npy`` as they come and are
copied into the archive at the end, so a long video's flow never sits whole in memory.

**Bad input.** A video with fewer than two frames to take, or with frames of different sizes, fails alone with one
line naming it (the runner goes on and exits 1); a bad option (``bound`` <= 0, an unknown method or format) is one
line before any video is read.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import cv2
import numpy as np

from .._atomic import atomic_write
from ..errors import ConfigError
from ..flow import (
    DEFAULT_METHOD,
    RGB_PREFIX,
    FlowMethod,
    encode_image,
    flow_file_names,
    get_flow_method,
    video_flow,
    write_flow_images,
)
from .base import register_extractor
from .output import ArrayWriter, VideoOutput

__all__ = ["FlowExtractor", "flow_extractor", "FLOW_LAYOUT"]

#: The version of the output layout, part of every output's key.
FLOW_LAYOUT = "mmaction2-flow-1"
Format = Literal["jpg", "png", "npz"]
_FORMATS = ("jpg", "png", "npz")


@dataclass(frozen=True)
class FlowExtractor:
    """Optical flow of each video: 8-bit x and y images in mmaction2's names, or a float16 ``.npz``.

    The ``flow`` kind for the runner. Build it directly or with ``build_extractor("flow", ...)``; building checks
    every option and makes the flow method (it holds only options, so it pickles cheaply; OpenCV's solvers and
    RAFT's network are made in each worker on its first video). OpenCV's thread count (``cv2.setNumThreads``) is
    left as the process has it.

    Attributes:
        method: the flow method (vidact.flow: tvl1, farneback, dis_ultrafast, dis_fast, dis_medium, dis_fine,
            raft_small, raft_large). The default is dis_fine: a lower end-point error than
            TV-L1's on known warps at ~40-60 ms a pair on one CPU thread, 27-80 times faster (benchmarks/flow.py).
        bound: the flow (pixels) mapped onto 0 and 255 in the images; larger motion is clipped. Not used by npz.
        short_side: resize frames to this short side before computing flow (aspect ratio kept).
        fps: take the frames shown at this rate (default: every frame).
        max_frames: at most the first N frames (N - 1 flow fields).
        format: jpg (8-bit JPEG, default), png (8-bit, lossless) or npz (float16 pixels, one file per video).
        quality: JPEG quality (1 to 100) of the flow images and of the RGB frames.
        rgb: also write the frames, img_00001.jpg ..., beside the flow images.
        weights: RAFT's weights: published weights by name (raft_small.c_t_v2) or a file; default the method's.
        method_options: more options of the flow method (vidact.flow.get_flow_method), from Python.
    """

    name: ClassVar[str] = "flow"
    item_folder: ClassVar[str] = "{name}"  # OUT/a/v1/flow_x_00001.jpg, as mmaction2 reads them

    method: str = DEFAULT_METHOD
    bound: float = 20.0
    short_side: int | None = None
    fps: float | None = None
    max_frames: int | None = None
    format: Format = "jpg"
    quality: int = 95
    rgb: bool = False
    weights: str | None = None
    method_options: Mapping[str, Any] | None = None
    _flow: FlowMethod = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check the options and make the flow method.

        Raises:
            ConfigError: a bad option (one line, naming it).
        """
        if isinstance(self.bound, bool) or not isinstance(self.bound, numbers.Real) or not self.bound > 0:
            raise ConfigError(f"flow: bound must be a positive number of pixels, got {self.bound}")
        if not math.isfinite(self.bound):
            raise ConfigError(f"flow: bound must be finite, got {self.bound}")
        if self.short_side is not None and self.short_side < 8:
            raise ConfigError(f"flow: short_side must be at least 8 pixels, got {self.short_side}")
        if self.fps is not None and not self.fps > 0:
            raise ConfigError(f"flow: fps must be positive, got {self.fps}")
        if self.max_frames is not None and self.max_frames < 2:
            raise ConfigError(
                f"flow: max_frames must be at least 2 (flow is between frames), got {self.max_frames}"
            )
        if self.format not in _FORMATS:
            raise ConfigError(f"flow: format must be one of {', '.join(_FORMATS)}, got {self.format!r}")
        if not 1 <= self.quality <= 100:
            raise ConfigError(f"flow: quality must be 1 to 100, got {self.quality}")
        options = dict(self.method_options or {})
        if self.weights is not None:
            options["weights"] = self.weights  # a method without weights says it takes none
        normalised = {
            "bound": float(self.bound),
            "fps": None if self.fps is None else float(self.fps),
            "rgb": bool(self.rgb),
            "_flow": get_flow_method(self.method, **options),  # ConfigError: unknown method or option
        }
        for key, value in normalised.items():
            object.__setattr__(self, key, value)  # frozen: set once, here

    @property
    def flow_method(self) -> FlowMethod:
        """The flow method the options name."""
        return self._flow

    def params(self) -> dict[str, Any]:
        """The method and its parameters (library versions included), the code, the frames taken, the format and
        the layout's version."""
        writes_jpeg = self.format == "jpg" or self.rgb
        return {
            "method": self._flow.name,
            "method_params": self._flow.params(),
            "bound": None if self.format == "npz" else self.bound,
            "short_side": self.short_side,
            "fps": self.fps,
            "max_frames": self.max_frames,
            "format": self.format,
            "quality": self.quality if writes_jpeg else None,
            "rgb": self.rgb,
            "encoder": f"opencv {cv2.__version__}" if self.format != "npz" or self.rgb else None,
            "layout": FLOW_LAYOUT,
        }

    def _pairs(self, video: str) -> Any:
        return video_flow(
            video, self._flow, short_side=self.short_side, fps=self.fps, max_frames=self.max_frames
        )

    def _write_rgb(self, out: VideoOutput, index: int, frame: np.ndarray) -> None:
        with open(out.file(f"{RGB_PREFIX}{index:05d}.jpg"), "wb") as f:
            f.write(encode_image(frame, "jpg", self.quality))

    def __call__(self, video: str, out: VideoOutput) -> dict[str, np.ndarray] | None:
        """Write the flow images of ``video`` pair by pair into ``out`` (``format`` jpg or png); for npz, stream
        the fields into a temporary ``.npy`` and return it memory-mapped, ``{"flow": [N - 1, 2, H, W]
        float16}``, for :meth:`write`.

        Raises:
            VideoError: the video cannot be read, has fewer than 2 frames, or frames of different sizes.
        """
        if self.format == "npz":
            return self._stream_npy(video, out)
        count, last = 0, None
        for count, (prev, next, flow) in enumerate(self._pairs(video), start=1):
            x_name, y_name = flow_file_names(count, self.format)
            write_flow_images(
                flow, out.file(x_name), out.file(y_name), bound=self.bound, quality=self.quality
            )
            if self.rgb:
                self._write_rgb(out, count, prev)
            last = next
        if self.rgb and last is not None:
            self._write_rgb(out, count + 1, last)
        return None

    def _stream_npy(self, video: str, out: VideoOutput) -> dict[str, np.ndarray]:
        """The float16 fields, row by row, into a hidden temporary ``.npy`` beside the outputs, returned
        memory-mapped (:meth:`write` packs it into the ``.npz`` and removes it)."""
        writer = ArrayWriter(out.stem.with_name(f"{out.stem.name}.{self.name}.npy"), dtype=np.float16)
        try:
            count, last = 0, None
            for count, (prev, next, flow) in enumerate(self._pairs(video), start=1):
                writer.append(flow.transpose(2, 0, 1)[None].astype(np.float16))  # [1, 2, H, W]
                if self.rgb:
                    self._write_rgb(out, count, prev)
                last = next
            if self.rgb and last is not None:
                self._write_rgb(out, count + 1, last)
            writer.close()
        except BaseException:
            writer.discard()
            raise
        return {"flow": np.load(writer.tmp, mmap_mode="r")}

    def write(self, arrays: dict[str, np.ndarray], stem: Path) -> list[Path]:
        """The runner's write hook (``format="npz"``): ``<stem>.flow.npz`` holding ``flow`` float16 [N - 1, 2, H,
        W], written atomically. A memory-mapped temporary of :meth:`__call__` is copied in chunks (numpy's
        ``savez`` buffers 16 MiB at a time), then removed."""
        flow = arrays["flow"]
        path = stem.with_name(f"{stem.name}.{self.name}.npz")
        temporary = Path(getattr(flow, "filename", None) or path)
        ours = temporary.name.startswith(f".{stem.name}.{self.name}.npy.") and temporary.suffix == ".tmp"
        try:
            with atomic_write(path, "wb") as f:
                np.savez(f, flow=flow)
        finally:
            if ours:
                temporary.unlink(missing_ok=True)
        return [path]


#: The registered factory of the ``flow`` kind (``build_extractor("flow", ...)``): the class itself.
flow_extractor = register_extractor("flow")(FlowExtractor)
