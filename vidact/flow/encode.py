"""Flow as 8-bit images: the uint8 code, writing a pair as two grayscale images, reading a flow folder back.

    >>> q = quantize(flow, bound=20)                          # float [..., 2] -> uint8, +-20 px onto 0..255
    >>> write_flow_images(flow, "v1/flow_x_00001.jpg", "v1/flow_y_00001.jpg", bound=20)
    >>> read_flow_folder("v1", bound=20).shape                # (N, 2, H, W) float32, pixels
    >>> list_flow_frames("v1")[0]                             # ("v1/flow_x_00001.jpg", "v1/flow_y_00001.jpg")

**The code** (TSN and denseflow's; :mod:`vidact.data.transforms`' module docstring): a displacement ``d`` in pixels
becomes ``q = clip(round((d / bound + 1) * 127.5), 0, 255)`` and reads back as ``d' = (q / 127.5 - 1) * bound``,
so ``|d' - d| <= bound / 255`` inside ``[-bound, bound]`` and motion beyond it is clipped; 127.5 is no motion, and
``255 - q`` is the code of ``-d`` (up to ties in the rounding), which is how a horizontal flip of uint8 flow negates
x. Both functions are elementwise, so the flow's layout ([H, W, 2], [2, H, W], [N, 2, H, W] ...) does not matter.

**The folder** (mmaction2's and denseflow's names): the flow from frame i to frame i + 1 (1-based) is
``flow_x_%05d.<ext>`` and ``flow_y_%05d.<ext>``, one 8-bit grayscale image per channel, ``i = 1 .. N - 1`` for N
frames; the RGB frames, when written, are ``img_%05d.jpg``, ``i = 1 .. N``. JPEG adds its own error to the code's
(about one code level at quality 95 on real flow, more at sharp motion boundaries); PNG keeps the code exactly.
"""

from __future__ import annotations

import numbers
import os
from typing import Any, Literal, TypeVar

import cv2
import numpy as np
import torch

from ..errors import ConfigError, VideoError
from ..io._frames import FLOW_PREFIXES, flow_frames, read_frame

__all__ = [
    "FLOW_X",
    "FLOW_Y",
    "RGB_PREFIX",
    "ImageFormat",
    "quantize",
    "dequantize",
    "flow_file_names",
    "encode_image",
    "write_flow_images",
    "list_flow_frames",
    "read_flow_pair",
    "read_flow_folder",
]

#: File name prefixes of a flow folder: x, y, and the RGB frames.
(FLOW_X, FLOW_Y), RGB_PREFIX = FLOW_PREFIXES, "img_"
ImageFormat = Literal["jpg", "png"]
A = TypeVar("A", np.ndarray, torch.Tensor)


def _check_bound(bound: float) -> float:
    if not (isinstance(bound, numbers.Real) and float(bound) > 0 and np.isfinite(bound)):
        raise ConfigError(f"flow bound must be a positive number of pixels, got {bound!r}")
    return float(bound)


def quantize(flow: A, bound: float) -> A:
    """Flow in pixels -> the uint8 code ``clip(round((d / bound + 1) * 127.5), 0, 255)`` (see the module
    docstring), elementwise.

    Args:
        flow: float flow of any layout ([H, W, 2], [2, H, W], [N, 2, H, W]); numpy or torch.
        bound: the displacement (pixels) mapped to 0 and 255; larger motion is clipped.

    Returns:
        uint8 of ``flow``'s shape, numpy or torch as ``flow``.

    Raises:
        ConfigError: ``bound`` is not a positive number.
    """
    bound = _check_bound(bound)
    if isinstance(flow, torch.Tensor):
        code = torch.round((flow.float() / bound + 1.0) * 127.5)
        return code.clamp_(0, 255).to(torch.uint8)
    code = np.rint((np.asarray(flow, dtype=np.float32) / np.float32(bound) + 1.0) * 127.5)
    return np.clip(code, 0, 255).astype(np.uint8)


def dequantize(code: A, bound: float) -> A:
    """The uint8 code -> flow in pixels, ``(q / 127.5 - 1) * bound``, elementwise (see the module docstring).

    Args:
        code: uint8 (or integer-valued) codes of any layout; numpy or torch.
        bound: the bound the code was made with.

    Returns:
        float32 of ``code``'s shape, numpy or torch as ``code``.

    Raises:
        ConfigError: ``bound`` is not a positive number.
    """
    bound = _check_bound(bound)
    if isinstance(code, torch.Tensor):
        return (code.float() / 127.5 - 1.0) * bound
    return ((np.asarray(code, dtype=np.float32) / np.float32(127.5) - 1.0) * np.float32(bound)).astype(
        np.float32
    )


def flow_file_names(index: int, ext: str = "jpg") -> tuple[str, str]:
    """``("flow_x_00001.jpg", "flow_y_00001.jpg")`` for the 1-based pair ``index`` (frame i to i + 1)."""
    return f"{FLOW_X}{index:05d}.{ext}", f"{FLOW_Y}{index:05d}.{ext}"


def encode_image(image: np.ndarray, format: ImageFormat = "jpg", quality: int = 95) -> bytes:
    """An 8-bit image as a JPEG or PNG file's bytes (OpenCV's encoders, as denseflow writes them).

    Args:
        image: uint8 [H, W] (grayscale) or [H, W, 3] (RGB).
        format: ``"jpg"`` or ``"png"`` (lossless).
        quality: JPEG quality, 1 to 100.

    Raises:
        ConfigError: an unknown format or a quality out of range.
    """
    if format not in ("jpg", "png"):
        raise ConfigError(f"flow image format must be 'jpg' or 'png', got {format!r}")
    if not 1 <= int(quality) <= 100:
        raise ConfigError(f"JPEG quality must be 1 to 100, got {quality}")
    array = np.ascontiguousarray(image, dtype=np.uint8)
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    options = (
        [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if format == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 1]
    )
    ok, data = cv2.imencode(f".{format}", array, options)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {list(array.shape)} image as {format}")
    return data.tobytes()


def write_flow_images(
    flow: np.ndarray,
    x_path: str | os.PathLike,
    y_path: str | os.PathLike,
    *,
    bound: float,
    quality: int = 95,
) -> None:
    """Write one flow field as two 8-bit grayscale images (format from the extension: ``.jpg`` or ``.png``).

    The files are written in place (not atomically): write them into a folder that becomes final as a whole, as
    the extraction runner's :meth:`~vidact.extract.output.VideoOutput.file` gives.

    Args:
        flow: float [H, W, 2] pixels, x then y.
        x_path, y_path: the two files.
        bound: the code's bound (pixels).
        quality: JPEG quality.
    """
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"a flow field is [H, W, 2], got {list(flow.shape)}")
    code = quantize(flow, bound)
    for channel, path in enumerate((x_path, y_path)):
        ext = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
        data = encode_image(code[:, :, channel], "jpg" if ext == "jpeg" else ext, quality)  # type: ignore[arg-type]
        with open(path, "wb") as f:
            f.write(data)


def list_flow_frames(folder: str | os.PathLike) -> list[tuple[str, str]]:
    """The (x, y) image pairs of a flow folder, in order: ``flow_x_00001`` with ``flow_y_00001``, ... .

    Only names are read (no image is opened): what a dataset lists once and reads lazily. The checks are those
    of every prefixed frame sequence (:func:`vidact.io._frames.flow_frames`).

    Raises:
        VideoError: no flow images, a gap in the x or y numbers, or x and y counts that differ: the message
            names the folder and the first missing image.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise VideoError(folder, "no such flow folder (a folder of flow_x_00001.jpg, flow_y_00001.jpg, ...)")
    xs, ys = flow_frames(folder)
    return list(zip(xs, ys, strict=True))


def _read_gray(path: str) -> np.ndarray:
    return read_frame(path, gray=True)[..., 0]  # [H, W] uint8: the code as stored


def read_flow_pair(
    x_path: str | os.PathLike, y_path: str | os.PathLike, bound: float | None = None
) -> np.ndarray:
    """One flow field from its two images.

    Args:
        x_path, y_path: the images.
        bound: the code's bound: the flow in pixels (float32); ``None`` gives the uint8 codes.

    Returns:
        [2, H, W]: float32 pixels, or uint8 codes when ``bound`` is None.

    Raises:
        VideoError: an unreadable image, or x and y of different sizes.
    """
    x, y = _read_gray(os.fspath(x_path)), _read_gray(os.fspath(y_path))
    if x.shape != y.shape:
        raise VideoError(y_path, f"{list(y.shape)} pixels, its x image {list(x.shape)}")
    code = np.stack([x, y])
    return code if bound is None else dequantize(code, bound)


def read_flow_folder(folder: str | os.PathLike, bound: float | None = None) -> np.ndarray:
    """Every flow field of a flow folder (:func:`list_flow_frames`), in order.

    Args:
        folder: the folder.
        bound: the code's bound: float32 pixels; ``None`` gives the uint8 codes.

    Returns:
        [N, 2, H, W] (N pairs): float32 pixels, or uint8 codes when ``bound`` is None.

    Raises:
        VideoError: a missing index (see :func:`list_flow_frames`), an unreadable image, images of different sizes.
    """
    pairs = list_flow_frames(folder)
    out: Any = None
    for i, (x_path, y_path) in enumerate(pairs):
        code = read_flow_pair(x_path, y_path)
        if out is None:
            out = np.empty((len(pairs), *code.shape), dtype=np.uint8)
        elif code.shape != out.shape[1:]:
            raise VideoError(
                folder,
                f"{os.path.basename(x_path)} is {list(code.shape[1:])}, the first {list(out.shape[2:])}",
            )
        out[i] = code
    return out if bound is None else dequantize(out, bound)
