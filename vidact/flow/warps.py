"""Frame pairs with known optical flow: an image warped by a smooth random field, the ground truth a flow method's
end-point error is measured against (``benchmarks/flow.py``, the tests).

    >>> pair = known_warp(image, max_displacement=6.0, seed=0)      # image: uint8 [H, W, 3]
    >>> estimate = get_flow_method("dis_fine")(pair.prev, pair.next)
    >>> end_point_error(estimate, pair.flow, border=8)

The field is exact by construction: ``prev`` is ``next`` sampled at ``p + flow(p)`` (bicubic), so the pixel at
``p`` in ``prev`` shows what ``next`` shows at ``p + flow(p)``, which is the definition of the flow from ``prev`` to
``next`` (``prev(p) = next(p + flow(p))``). The field is smooth: a ``grid`` x ``grid`` lattice of Gaussian random
vectors, interpolated bicubically to the image and scaled so its largest displacement is ``max_displacement``.
Near the border ``p + flow(p)`` may leave the image (reflected there); measure with a ``border``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["KnownWarp", "smooth_flow", "known_warp", "end_point_error"]


@dataclass(frozen=True)
class KnownWarp:
    """A frame pair and its true flow.

    Attributes:
        prev, next: uint8 frames [H, W, C] (as the input image).
        flow: float32 [H, W, 2], x then y, in pixels: ``prev(p) = next(p + flow(p))``.
    """

    prev: np.ndarray
    next: np.ndarray
    flow: np.ndarray


def smooth_flow(
    height: int, width: int, max_displacement: float, *, grid: int = 10, seed: int = 0
) -> np.ndarray:
    """A smooth random flow field, float32 [height, width, 2], whose largest displacement (vector length) is
    ``max_displacement`` pixels: a ``grid`` x ``grid`` lattice of standard normal vectors interpolated bicubically.
    """
    if grid < 2 or max_displacement < 0:
        raise ValueError(
            f"grid must be at least 2 and max_displacement non-negative, got {grid}, {max_displacement}"
        )
    rng = np.random.default_rng(seed)
    lattice = rng.standard_normal((2, grid, grid)).astype(np.float32)
    field = np.stack(
        [cv2.resize(c, (width, height), interpolation=cv2.INTER_CUBIC) for c in lattice], axis=-1
    )
    longest = float(np.sqrt((field**2).sum(-1)).max())
    return (field * (max_displacement / longest if longest > 0 else 0.0)).astype(np.float32)


def known_warp(
    image: np.ndarray,
    max_displacement: float,
    *,
    grid: int = 10,
    noise: float = 0.0,
    seed: int = 0,
) -> KnownWarp:
    """``image`` as ``next`` and its warp by :func:`smooth_flow` as ``prev``.

    Args:
        image: uint8 [H, W] or [H, W, C].
        max_displacement: the field's largest displacement, pixels.
        grid: the lattice's size (larger: a field that varies faster).
        noise: the standard deviation of Gaussian sensor noise added to each frame independently (8-bit levels).
        seed: the field's and the noise's seed.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(
            f"known_warp takes a uint8 image [H, W] or [H, W, C], got {image.dtype} {image.shape}"
        )
    height, width = image.shape[:2]
    flow = smooth_flow(height, width, max_displacement, grid=grid, seed=seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    source = image.astype(np.float32)
    warped = cv2.remap(
        source, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
    )
    rng = np.random.default_rng(seed + 1)

    def frame(pixels: np.ndarray) -> np.ndarray:
        if noise > 0:
            pixels = pixels + rng.normal(0.0, noise, pixels.shape)
        return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)

    return KnownWarp(prev=frame(warped.reshape(image.shape)), next=frame(source), flow=flow)


def end_point_error(estimate: np.ndarray, truth: np.ndarray, *, border: int = 0) -> float:
    """The mean end-point error (Euclidean distance of the flow vectors, pixels) of ``estimate`` against ``truth``,
    both [H, W, 2], leaving out ``border`` pixels on every side."""
    if estimate.shape != truth.shape or estimate.shape[-1] != 2:
        raise ValueError(
            f"end-point error of flows [H, W, 2] of one shape, got {estimate.shape} and {truth.shape}"
        )
    error = np.sqrt(((np.asarray(estimate, np.float64) - truth) ** 2).sum(-1))
    if border:
        error = error[border:-border, border:-border]
    return float(error.mean())
