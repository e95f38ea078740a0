"""Backgrounds: the class-neutral backdrop of temporal clips and the eight sceneries of the scene-biased
classes (:data:`SCENE_CLASSES`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from .draw import _SHIFT, Color, _as_color, _disc, _fixed, _polygon, _rectangle, _ring, _segment

__all__ = ["SCENE_CLASSES"]

SCENE_CLASSES: tuple[str, ...] = (
    "beach",
    "forest",
    "snowfield",
    "desert",
    "night_city",
    "underwater",
    "meadow",
    "living_room",
)


# -- backgrounds -----------------------------------------------------------------------------------------------


def _vertical_gradient(h: int, w: int, top: Sequence[float], bottom: Sequence[float]) -> np.ndarray:
    """[H, W, 3] uint8 image fading from ``top`` to ``bottom``."""
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    img = (1 - t) * np.asarray(top, np.float32) + t * np.asarray(bottom, np.float32)
    return np.ascontiguousarray(np.broadcast_to(img, (h, w, 3)).round().astype(np.uint8))


def _wave(rng: np.random.Generator, w: int, base: float, amplitude: float) -> np.ndarray:
    """[W] heights of a random gentle wave around ``base`` (a horizon, a shoreline, a dune)."""
    cycles = rng.uniform(0.5, 2.0)
    phase = rng.uniform(0, 2 * np.pi)
    return base + amplitude * np.sin(2 * np.pi * cycles * np.arange(w) / w + phase)


def _fill_below(img: np.ndarray, heights: np.ndarray, color: Sequence[float]) -> None:
    """Paint every pixel at or below ``heights`` ([W] row per column) with ``color``."""
    img[np.arange(img.shape[0])[:, None] >= heights[None, :]] = np.asarray(color, np.uint8)


def _jitter(rng: np.random.Generator, color: Sequence[float], amount: float = 15.0) -> Color:
    return _as_color(np.asarray(color, np.float64) + rng.uniform(-amount, amount, 3))


def _plain_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """[H, W, 3] uint8 class-neutral backdrop: a two-colour gradient in a random direction with soft blotches."""
    c0, c1 = rng.uniform(0, 255, (2, 3)).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    t = xs / w * np.cos(angle) + ys / h * np.sin(angle)
    t = ((t - t.min()) / max(float(np.ptp(t)), 1e-6))[..., None]
    blotches = cv2.resize(
        rng.uniform(-1, 1, (4, 4)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC
    )
    img = (1 - t) * c0 + t * c1 + rng.uniform(5, 25) * blotches[..., None]
    return np.clip(img.round(), 0, 255).astype(np.uint8)


def _scene_beach(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    img = _vertical_gradient(h, w, _jitter(rng, (120, 190, 235)), _jitter(rng, (190, 225, 250)))
    _fill_below(img, np.full(w, rng.uniform(0.3, 0.45) * h), _jitter(rng, (20, 110, 160)))
    _fill_below(img, _wave(rng, w, rng.uniform(0.6, 0.72) * h, 0.03 * h), _jitter(rng, (235, 210, 165)))
    sun = (rng.uniform(0.1, 0.9) * w, rng.uniform(0.07, 0.18) * h)
    _disc(img, sun, rng.uniform(0.05, 0.09) * min(h, w), _jitter(rng, (255, 240, 160)))
    return img


def _scene_forest(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    img = _vertical_gradient(h, w, _jitter(rng, (25, 60, 30)), _jitter(rng, (45, 85, 40)))
    ground = rng.uniform(0.75, 0.85) * h
    _fill_below(img, _wave(rng, w, ground, 0.02 * h), _jitter(rng, (80, 62, 35)))
    for _ in range(rng.integers(4, 8)):
        x, half = rng.uniform(0, w), rng.uniform(0.02, 0.04) * w
        _polygon(img, _rectangle(x - half, 0, x + half, ground), _jitter(rng, (85, 55, 30)))
    for _ in range(rng.integers(8, 15)):
        center = (rng.uniform(0, w), rng.uniform(0, 0.35) * h)
        _disc(img, center, rng.uniform(0.08, 0.18) * min(h, w), _jitter(rng, (35, 125, 35), 20))
    return img


def _scene_snowfield(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    img = _vertical_gradient(h, w, _jitter(rng, (190, 200, 218)), _jitter(rng, (225, 230, 240)))
    horizon = _wave(rng, w, rng.uniform(0.5, 0.62) * h, 0.04 * h)
    for _ in range(rng.integers(1, 4)):
        x, base = rng.uniform(0, w), horizon[rng.integers(w)]
        half, top = rng.uniform(0.05, 0.1) * w, base - rng.uniform(0.2, 0.35) * h
        _polygon(img, np.array([[x - half, base], [x + half, base], [x, top]]), _jitter(rng, (30, 70, 45)))
    _fill_below(img, horizon, _jitter(rng, (245, 247, 252), 6))
    for _ in range(40):
        _disc(img, (rng.uniform(0, w), rng.uniform(0, h)), 0.012 * min(h, w), (255, 255, 255))
    return img


def _scene_desert(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    img = _vertical_gradient(h, w, _jitter(rng, (245, 215, 160)), _jitter(rng, (255, 235, 195)))
    sun = (rng.uniform(0.1, 0.9) * w, rng.uniform(0.08, 0.2) * h)
    _disc(img, sun, rng.uniform(0.06, 0.1) * min(h, w), _jitter(rng, (255, 250, 225), 5))
    base = rng.uniform(0.4, 0.5) * h
    for depth, color in enumerate([(235, 170, 90), (215, 145, 70), (195, 125, 55)]):
        _fill_below(img, _wave(rng, w, base + depth * 0.15 * h, 0.05 * h), _jitter(rng, color))
    return img


def _scene_night_city(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    img = _vertical_gradient(h, w, _jitter(rng, (8, 12, 35), 8), _jitter(rng, (30, 30, 70), 8))
    _disc(img, (rng.uniform(0.1, 0.9) * w, rng.uniform(0.08, 0.2) * h), 0.06 * min(h, w), (230, 230, 210))
    window = max(1.0, 0.03 * min(h, w))
    x = rng.uniform(-0.1, 0.0) * w
    while x < w:
        width, top = rng.uniform(0.1, 0.25) * w, rng.uniform(0.25, 0.7) * h
        _polygon(img, _rectangle(x, top, x + width, h), _jitter(rng, (22, 22, 28), 6))
        for wy in np.arange(top + window, h - window, 2.5 * window):
            for wx in np.arange(x + window, x + width - window, 2.5 * window):
                if rng.random() < 0.4:
                    _polygon(img, _rectangle(wx, wy, wx + window, wy + window), _jitter(rng, (250, 215, 110)))
        x += width
    return img


def _scene_underwater(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    img = _vertical_gradient(h, w, _jitter(rng, (20, 140, 160)), _jitter(rng, (5, 55, 90)))
    rays = img.copy()
    for _ in range(rng.integers(2, 5)):
        x, spread = rng.uniform(0, w), rng.uniform(0.05, 0.15) * w
        _polygon(
            rays,
            np.array([[x - spread, 0], [x + spread, 0], [x + 3 * spread, h], [x + spread, h]]),
            (120, 210, 220),
        )
    img = cv2.addWeighted(img, 0.75, rays, 0.25, 0.0)
    floor = _wave(rng, w, rng.uniform(0.82, 0.9) * h, 0.03 * h)
    for _ in range(rng.integers(3, 7)):
        x = rng.uniform(0, w)
        base = float(floor[min(int(x), w - 1)])
        stem = np.stack(
            [
                x + 0.03 * w * np.sin(np.linspace(0, 3, 6) + rng.uniform(0, 6)),
                np.linspace(base, base - rng.uniform(0.2, 0.4) * h, 6),
            ],
            axis=1,
        )
        cv2.polylines(
            img,
            [_fixed(stem)],
            False,
            _jitter(rng, (30, 120, 60)),
            max(1, round(0.02 * w)),
            cv2.LINE_AA,
            _SHIFT,
        )
    _fill_below(img, floor, _jitter(rng, (190, 175, 125)))
    for _ in range(rng.integers(6, 12)):
        center = (rng.uniform(0, w), rng.uniform(0, 0.8) * h)
        _ring(img, center, rng.uniform(0.01, 0.03) * min(h, w), (200, 235, 250), 1)
    return img


def _scene_meadow(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    img = _vertical_gradient(h, w, _jitter(rng, (100, 165, 230)), _jitter(rng, (175, 210, 245)))
    for _ in range(rng.integers(1, 4)):
        cx, cy = rng.uniform(0, w), rng.uniform(0.05, 0.25) * h
        for dx in (-0.06, 0.0, 0.06):
            _disc(img, (cx + dx * w, cy), rng.uniform(0.04, 0.07) * min(h, w), (250, 250, 250))
    horizon = _wave(rng, w, rng.uniform(0.42, 0.55) * h, 0.03 * h)
    grass = _vertical_gradient(h, w, _jitter(rng, (85, 165, 60)), _jitter(rng, (40, 110, 30)))
    below = np.arange(h)[:, None] >= horizon[None, :]
    img[below] = grass[below]
    palette = [(220, 40, 50), (250, 215, 40), (250, 250, 250), (150, 80, 200)]
    for _ in range(40):
        center = (rng.uniform(0, w), rng.uniform(horizon.max(), h))
        _disc(img, center, 0.015 * min(h, w), palette[rng.integers(len(palette))])
    return img


def _scene_living_room(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    floor = rng.uniform(0.65, 0.75) * h
    img = _vertical_gradient(h, w, _jitter(rng, (200, 190, 215)), _jitter(rng, (180, 170, 195)))
    _fill_below(img, np.full(w, floor), _jitter(rng, (140, 95, 55)))
    plank = _jitter(rng, (105, 68, 38))
    for y in np.arange(floor, h, max(2.0, 0.06 * h)):
        _segment(img, np.array([0.0, y]), np.array([float(w), y]), plank, 1)
    _polygon(img, _rectangle(0, floor - 0.025 * h, w, floor), (240, 240, 235))
    x0, y0 = rng.uniform(0.05, 0.55) * w, rng.uniform(0.1, 0.25) * h
    x1, y1 = x0 + rng.uniform(0.25, 0.4) * w, y0 + rng.uniform(0.2, 0.3) * h
    _polygon(img, _rectangle(x0, y0, x1, y1), (245, 245, 240))
    border = 0.025 * min(h, w)
    _polygon(
        img, _rectangle(x0 + border, y0 + border, x1 - border, y1 - border), _jitter(rng, (150, 200, 240))
    )
    return img


_SCENES: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "beach": _scene_beach,
    "forest": _scene_forest,
    "snowfield": _scene_snowfield,
    "desert": _scene_desert,
    "night_city": _scene_night_city,
    "underwater": _scene_underwater,
    "meadow": _scene_meadow,
    "living_room": _scene_living_room,
}


def _scene_background(rng: np.random.Generator, scene: str, h: int, w: int) -> np.ndarray:
    """[H, W, 3] uint8 scenery of ``scene`` with a random brightness and colour cast."""
    img = _SCENES[scene](rng, h, w).astype(np.float32)
    img = img * rng.uniform(0.85, 1.15) + rng.uniform(-12, 12, 3).astype(np.float32)
    return np.clip(img.round(), 0, 255).astype(np.uint8)
