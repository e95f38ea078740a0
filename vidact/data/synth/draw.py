"""Drawing primitives of the synthetic videos: anti-aliased OpenCV shapes at sub-pixel positions, colours and
the easing of one-shot actions."""

from __future__ import annotations

import cv2
import numpy as np

Color = tuple[int, int, int]


# -- drawing primitives ----------------------------------------------------------------------------------------
# Coordinates are floats in pixels; OpenCV gets them as fixed-point integers with _SHIFT fractional bits, so
# objects move smoothly by fractions of a pixel.

_SHIFT = 4
_ONE = 1 << _SHIFT


def _fixed(points: np.ndarray) -> np.ndarray:
    """[K, 2] float (x, y) pixel coordinates -> [K, 2] int32 fixed point."""
    return np.round(np.asarray(points, dtype=np.float64) * _ONE).astype(np.int32)


def _point(x: float, y: float) -> tuple[int, int]:
    return round(x * _ONE), round(y * _ONE)


def _disc(img: np.ndarray, center: tuple[float, float], radius: float, color: Color) -> None:
    cv2.circle(img, _point(*center), max(1, round(radius * _ONE)), color, -1, cv2.LINE_AA, _SHIFT)


def _ring(img: np.ndarray, center: tuple[float, float], radius: float, color: Color, thickness: int) -> None:
    cv2.circle(img, _point(*center), max(1, round(radius * _ONE)), color, thickness, cv2.LINE_AA, _SHIFT)


def _polygon(img: np.ndarray, points: np.ndarray, color: Color) -> None:
    """Fill the polygon with corners ``points`` ([K, 2] float x, y)."""
    cv2.fillPoly(img, [_fixed(points)], color, cv2.LINE_AA, _SHIFT)


def _segment(img: np.ndarray, a: np.ndarray, b: np.ndarray, color: Color, thickness: int) -> None:
    cv2.line(img, _point(*a), _point(*b), color, thickness, cv2.LINE_AA, _SHIFT)


def _regular_polygon(center: tuple[float, float], radius: float, sides: int, angle: float) -> np.ndarray:
    """[sides, 2] corners of a regular polygon; ``angle`` (radians) turns it clockwise on screen."""
    theta = angle + 2 * np.pi * np.arange(sides) / sides
    return np.stack([center[0] + radius * np.cos(theta), center[1] + radius * np.sin(theta)], axis=1)


def _rectangle(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _as_color(values: np.ndarray) -> Color:
    r, g, b = (int(np.clip(round(float(v)), 0, 255)) for v in values)
    return r, g, b


def _contrasting_color(rng: np.random.Generator, reference: np.ndarray, min_distance: float = 110.0) -> Color:
    """A random RGB colour at least ``min_distance`` away from ``reference`` (black or white if none is found)."""
    for _ in range(16):
        color = rng.integers(0, 256, 3)
        if np.linalg.norm(color - reference) >= min_distance:
            return _as_color(color)
    return (0, 0, 0) if float(np.mean(reference)) > 127 else (255, 255, 255)


def _progress(rng: np.random.Generator, frames: int) -> np.ndarray:
    """[T] eased progress of a one-shot action: 0 before a random window, rising smoothly to 1 at its end."""
    span = max(frames - 1, 1)
    duration = rng.uniform(0.5, 1.0) * span
    start = rng.uniform(0.0, span - duration)
    return _smoothstep((np.arange(frames) - start) / duration)
