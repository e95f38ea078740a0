"""Arrays to JSON a page can draw: frames as PNG data URLs, numbers rounded to what a chart shows."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

__all__ = ["png_data_url", "frames_to_data_urls", "rounded"]


def png_data_url(image: Any) -> str:
    """One image as a ``data:image/png;base64,...`` URL.

    Args:
        image: [H, W, 3] or [H, W] uint8 (numpy array or torch tensor); other dtypes are clipped to 0..255.
    """
    from PIL import Image

    a = _numpy(image)
    if a.dtype != np.uint8:
        a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)):
        raise ValueError(f"an image is [H, W], [H, W, 3] or [H, W, 4], not {list(a.shape)}")
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG", compress_level=3)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def frames_to_data_urls(frames: Any) -> list[str]:
    """Each frame of a clip as a PNG data URL (for ``drawFrames`` / ``framePlayer`` in ``static/lib.js``).

    Args:
        frames: [T, H, W, 3] (or [T, H, W]) uint8, numpy array or torch tensor.
    """
    a = _numpy(frames)
    if a.ndim not in (3, 4):
        raise ValueError(f"frames are [T, H, W, 3] or [T, H, W], not {list(a.shape)}")
    return [png_data_url(f) for f in a]


def rounded(values: Any, digits: int = 4) -> Any:
    """An array (or a number) as nested lists of floats rounded to ``digits`` decimals (``NaN`` becomes ``None``).

    Args:
        values: any-shape numeric array, tensor or number.
    """
    a = _numpy(values).astype(np.float64)
    r = np.round(a, digits)
    if r.ndim == 0:
        v = float(r)
        return None if np.isnan(v) else v
    out = r.astype(object)
    out[np.isnan(r)] = None
    return out.tolist()


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    return np.asarray(x)
