"""Synthetic action videos that make the difference between per-frame and temporal models measurable.

Two kinds of dataset, written as real video files in the class-folder layout ``root/<split>/<class>/*.mp4``:

``"temporal"``
    Classes come in time-reversed pairs (:data:`TEMPORAL_PAIRS`): every clip of the second class of a pair is
    drawn exactly like a clip of the first class and then played backwards. A clip and its reversal hold the
    same frames, so the frames of the two classes are identically distributed: a model that looks at frames
    without their order (one frame, or per-frame scores averaged over any reversal-symmetric choice of frames)
    is at chance within a pair, while a model that sees the order can separate the pair perfectly. The cyclic
    actions (``gesture``, ``rotate``) start at a uniformly random phase, so for them even a frame at a known
    position in the clip is uninformative; the one-shot actions (a lid opens once) are closed in the first
    frame and open in the last, which is order information too.

``"scene"``
    Each class has its own scenery (:data:`SCENE_CLASSES`: a beach, a forest, a city at night, ...), with a
    random layout and colour jitter per video, while the foreground action is drawn from the same distribution
    for every class. One frame is enough, as in scene-biased benchmarks such as UCF-101.

Everything random in a clip comes from one ``numpy.random.Generator``; :func:`clip_rng` derives it from
``(seed, split, class, index)``, so a dataset is the same whatever the number of worker processes or the order
they run in. The foreground and the distractor objects are drawn with sub-pixel anti-aliased OpenCV
primitives; distractors bounce around with a direction drawn uniformly, a motion whose reversal has the same
distribution, so they carry no class information.

    >>> from vidact.data.synth import synthesize
    >>> info = synthesize("data/reversed", "temporal", videos_per_class={"train": 50, "val": 10, "test": 20})
    >>> info.classes[:2], info.partners["opening_lid"]
    (('beckoning', 'shooing'), 'closing_lid')
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from tqdm.auto import tqdm

from .._atomic import atomic_write
from ..errors import ConfigError, DatasetError
from ..io.writer import write_video

__all__ = [
    "Kind",
    "TEMPORAL_PAIRS",
    "TEMPORAL_CLASSES",
    "SCENE_CLASSES",
    "SPLITS",
    "DEFAULT_VIDEOS_PER_CLASS",
    "SynthInfo",
    "synthesize",
    "render_clip",
    "clip_rng",
]

Kind = Literal["temporal", "scene"]

#: Time-reversed pairs: ``pair -> (class, partner)``; a clip of ``partner`` is a clip of ``class`` played
#: backwards. ``raise``: a stick figure raises a hand from its side to above its head (played backwards: lowers
#: it). ``gesture``: a stick figure's forearm snaps towards the body and drifts back out (beckoning) or snaps
#: away and drifts back in (shooing). ``lift``: a hand comes down, grips a cup and lifts it off a table.
#:
#: Waving and pointing, the textbook pair, cannot be a time-reversed pair (a wave played backwards is still a
#: wave), so ``raise`` and ``gesture`` are the stick-figure pairs. ``gesture`` and ``rotate`` are the hard ones:
#: their direction lives in a speed profile (a fast snap, a slow drift) or in a curl, not in where things go.
TEMPORAL_PAIRS: dict[str, tuple[str, str]] = {
    "raise": ("raising_hand", "lowering_hand"),
    "gesture": ("beckoning", "shooing"),
    "slide": ("moving_left_to_right", "moving_right_to_left"),
    "lid": ("opening_lid", "closing_lid"),
    "approach": ("approaching", "receding"),
    "rotate": ("rotating_clockwise", "rotating_counterclockwise"),
    "lift": ("picking_up", "putting_down"),
}
TEMPORAL_CLASSES: tuple[str, ...] = tuple(name for pair in TEMPORAL_PAIRS.values() for name in pair)
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
SPLITS: tuple[str, ...] = ("train", "val", "test")
DEFAULT_VIDEOS_PER_CLASS: Mapping[str, int] = {"train": 50, "val": 10, "test": 20}

_PAIR_OF_CLASS: dict[str, tuple[str, bool]] = {
    name: (pair, name == names[1]) for pair, names in TEMPORAL_PAIRS.items() for name in names
}

Color = tuple[int, int, int]


@dataclass(frozen=True)
class SynthInfo:
    """What :func:`synthesize` wrote.

    Attributes:
        root: the dataset folder.
        kind: ``"temporal"`` or ``"scene"``.
        classes: class names in label order (the lines of ``classes.txt``).
        videos_per_class: videos per class in each split that was written.
        partners: each temporal class's time-reversed partner (both directions); empty for scene datasets.
    """

    root: Path
    kind: Kind
    classes: tuple[str, ...]
    videos_per_class: dict[str, int]
    partners: dict[str, str]

    @property
    def num_videos(self) -> int:
        return len(self.classes) * sum(self.videos_per_class.values())


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


# -- moving things ---------------------------------------------------------------------------------------------
# An actor draws one action, forwards in time, into every frame of ``video`` ([T, H, W, 3] uint8, in place).
# ``reference`` is the background's mean colour ([3]), which the actor's colours are chosen to stand out from.


def _fold(x: np.ndarray, length: float) -> np.ndarray:
    """Bounce: map unbounded positions onto [0, length] as a ball reflecting off both ends would travel."""
    x = np.mod(x, 2 * length)
    return np.where(x > length, 2 * length - x, x)


def _draw_distractors(rng: np.random.Generator, video: np.ndarray, count: int) -> None:
    """Small shapes drifting in random directions and bouncing off the borders.

    Each starts at a uniform position on its (unfolded) bounce cycle with a direction drawn uniformly, so its
    position is uniform in every frame and its motion reversed has the same distribution as its motion.
    """
    frames, h, w, _ = video.shape
    unit = min(h, w)
    t = np.arange(frames)
    for _ in range(count):
        radius = rng.uniform(0.03, 0.06) * unit
        sides = int(rng.choice([3, 4, 5, 6, 24]))
        color = _as_color(rng.integers(0, 256, 3))
        heading, speed = rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.04) * unit
        span = np.array([w - 2 * radius, h - 2 * radius])
        start = rng.uniform(0, 2 * span)
        xs = radius + _fold(start[0] + speed * np.cos(heading) * t, span[0])
        ys = radius + _fold(start[1] + speed * np.sin(heading) * t, span[1])
        angle = rng.uniform(0, 2 * np.pi)
        for frame, x, y in zip(video, xs, ys, strict=True):
            _polygon(frame, _regular_polygon((x, y), radius, sides, angle), color)


def _draw_token(
    img: np.ndarray,
    center: tuple[float, float],
    radius: float,
    sides: int,
    angle: float,
    color: Color,
    accent: Color,
) -> None:
    """A filled shape with a smaller, turned copy of itself inside, so its size and turn are easy to read."""
    _polygon(img, _regular_polygon(center, radius, sides, angle), color)
    _polygon(img, _regular_polygon(center, 0.45 * radius, sides, angle + np.pi / sides), accent)


def _random_token(rng: np.random.Generator, reference: np.ndarray) -> tuple[int, float, Color, Color]:
    sides = int(rng.choice([3, 4, 5, 6, 24]))
    color = _contrasting_color(rng, reference)
    return sides, rng.uniform(0, 2 * np.pi), color, _contrasting_color(rng, np.asarray(color), 90.0)


def _draw_gesture(rng: np.random.Generator, video: np.ndarray, reference: np.ndarray) -> None:
    """Beckoning: a stick figure seen from the side holds an arm out; the forearm snaps up towards the body in
    a fifth of each cycle and drifts back out in the rest. Played backwards it snaps away: shooing."""
    frames = len(video)
    figure = _place_stick_figure(rng, video.shape, reference)
    x, feet, height, facing = figure.x, figure.feet, figure.height, figure.facing
    shoulder = np.array([x, feet - 0.8 * height])
    lift = np.deg2rad(rng.uniform(-15, 20))
    elbow = shoulder + 0.22 * height * np.array([facing * np.cos(lift), -np.sin(lift)])
    period, snap = rng.uniform(6, 10), rng.uniform(0.15, 0.25)
    phase = np.mod(rng.uniform(0, 1) + np.arange(frames) / period, 1.0)
    bend = np.where(phase < snap, _smoothstep(phase / snap), 1 - _smoothstep((phase - snap) / (1 - snap)))
    color, thickness = figure.color, figure.thickness
    for frame, b in zip(video, bend, strict=True):
        _draw_stick_figure(frame, figure)
        _segment(frame, shoulder, elbow, color, thickness)
        direction = lift + np.deg2rad(130) * b
        hand = elbow + 0.24 * height * np.array([facing * np.cos(direction), -np.sin(direction)])
        _segment(frame, elbow, hand, color, thickness)
        _disc(frame, tuple(hand), 0.04 * height, color)


@dataclass(frozen=True)
class _StickFigure:
    x: float  # pixels: the body's column
    feet: float  # pixels: the row the feet stand on
    height: float
    facing: float  # +1 right, -1 left
    color: Color
    thickness: int


def _place_stick_figure(
    rng: np.random.Generator, shape: tuple[int, ...], reference: np.ndarray
) -> _StickFigure:
    """A random size, side, position and colour (contrasting with ``reference``) for a figure in [T, H, W, 3]."""
    _, h, w, _ = shape
    height = rng.uniform(0.65, 0.85) * min(h, w)
    facing = rng.choice([-1.0, 1.0])
    x = rng.uniform(0.3, 0.7) * w
    feet = rng.uniform(min(height + 0.03 * h, 0.97 * h), 0.97 * h)
    color = _contrasting_color(rng, reference)
    return _StickFigure(x, feet, height, facing, color, max(1, round(0.05 * height)))


def _draw_stick_figure(frame: np.ndarray, f: _StickFigure) -> tuple[np.ndarray, float]:
    """Legs, body, head and the resting arm of a stick figure; returns its shoulder and arm length."""
    x, feet, height, color, thickness = f.x, f.feet, f.height, f.color, f.thickness
    hip, shoulder = np.array([x, feet - 0.45 * height]), np.array([x, feet - 0.8 * height])
    for foot in (-0.12, 0.12):
        _segment(frame, hip, np.array([x + foot * height, feet]), color, thickness)
    _segment(frame, hip, shoulder, color, thickness)
    _disc(frame, (x, feet - 0.91 * height), 0.09 * height, color)
    _segment(frame, shoulder, np.array([x - f.facing * 0.05 * height, feet - 0.5 * height]), color, thickness)
    return shoulder, 0.42 * height


def _draw_raise(rng: np.random.Generator, video: np.ndarray, reference: np.ndarray) -> None:
    """Raising a hand: a stick figure swings one straight arm from its side up to above its head, once, at a
    random moment and speed. Played backwards it lowers the hand."""
    figure = _place_stick_figure(rng, video.shape, reference)
    height, facing, color, thickness = figure.height, figure.facing, figure.color, figure.thickness
    low, high = np.deg2rad(rng.uniform(-80, -60)), np.deg2rad(rng.uniform(100, 130))
    for frame, p in zip(video, _progress(rng, len(video)), strict=True):
        shoulder, arm = _draw_stick_figure(frame, figure)
        angle = low + (high - low) * p  # measured from the horizontal, facing forward, counter-clockwise up
        hand = shoulder + arm * np.array([facing * np.cos(angle), -np.sin(angle)])
        _segment(frame, shoulder, hand, color, thickness)
        _disc(frame, tuple(hand), 0.05 * height, color)


def _draw_slide(rng: np.random.Generator, video: np.ndarray, reference: np.ndarray) -> None:
    """A shape crossing the frame from left to right at a constant speed, drifting a little up or down."""
    frames, h, w, _ = video.shape
    radius = rng.uniform(0.08, 0.14) * min(h, w)
    sides, angle, color, accent = _random_token(rng, reference)
    travel = rng.uniform(0.35, 0.7) * w
    x0 = rng.uniform(radius, w - radius - travel)
    y0, drift = rng.uniform(0.2, 0.8) * h, rng.uniform(-0.1, 0.1) * h
    progress = np.arange(frames) / max(frames - 1, 1)
    for frame, p in zip(video, progress, strict=True):
        _draw_token(frame, (x0 + travel * p, y0 + drift * p), radius, sides, angle, color, accent)


def _draw_lid(rng: np.random.Generator, video: np.ndarray, reference: np.ndarray) -> None:
    """A box seen from the side whose lid swings open about a hinge on one top corner."""
    frames, h, w, _ = video.shape
    width, height = rng.uniform(0.35, 0.55) * w, rng.uniform(0.2, 0.35) * h
    bottom = rng.uniform(0.72, 0.92) * h
    left = rng.uniform(0.05 * w, 0.95 * w - width)
    top = bottom - height
    box, lid = _contrasting_color(rng, reference), _contrasting_color(rng, reference)
    side = rng.choice([-1.0, 1.0])  # hinge on the left (+1: the closed lid points right) or on the right
    hinge = np.array([left if side > 0 else left + width, top])
    thickness = max(1.5, 0.12 * height)
    opened = np.deg2rad(rng.uniform(100, 160)) * _progress(rng, frames)
    for frame, angle in zip(video, opened, strict=True):
        _polygon(frame, _rectangle(left, top, left + width, bottom), box)
        along = np.array([side * np.cos(angle), -np.sin(angle)])
        outward = np.array([side * along[1], -side * along[0]])
        tip = hinge + width * along
        _polygon(frame, np.stack([hinge, tip, tip + thickness * outward, hinge + thickness * outward]), lid)
        _disc(frame, tuple(tip + 0.5 * thickness * outward), 0.6 * thickness, lid)


def _draw_approach(rng: np.random.Generator, video: np.ndarray, reference: np.ndarray) -> None:
    """A shape looming towards the camera: its size grows geometrically, 2.5 to 4 times over the action."""
    frames, h, w, _ = video.shape
    sides, angle, color, accent = _random_token(rng, reference)
    start_radius, growth = rng.uniform(0.05, 0.09) * min(h, w), rng.uniform(2.5, 4.0)
    center = np.array([rng.uniform(0.35, 0.65) * w, rng.uniform(0.35, 0.65) * h])
    drift = rng.uniform(-0.05, 0.05, 2) * np.array([w, h])
    for frame, p in zip(video, _progress(rng, frames), strict=True):
        _draw_token(frame, tuple(center + drift * p), start_radius * growth**p, sides, angle, color, accent)


def _draw_rotate(rng: np.random.Generator, video: np.ndarray, reference: np.ndarray) -> None:
    """An irregular star with one marked tip turning clockwise on screen by 8-18 degrees a frame (slow enough
    that the turn cannot be mistaken for the opposite one, even for a star with 8 nearly even points)."""
    frames, h, w, _ = video.shape
    radius = rng.uniform(0.18, 0.3) * min(h, w)
    center = (rng.uniform(0.35, 0.65) * w, rng.uniform(0.35, 0.65) * h)
    corners = int(rng.integers(5, 9))
    offsets = 2 * np.pi * (np.arange(corners) + rng.uniform(-0.25, 0.25, corners)) / corners
    lengths = radius * rng.uniform(0.45, 1.0, corners)
    lengths[0] = radius
    color = _contrasting_color(rng, reference)
    marker = _contrasting_color(rng, np.asarray(color), 90.0)
    turns = rng.uniform(0, 2 * np.pi) + np.deg2rad(rng.uniform(8, 18)) * np.arange(frames)
    for frame, turn in zip(video, turns, strict=True):
        theta = turn + offsets  # image y points down, so a growing angle turns clockwise on screen
        points = np.stack([center[0] + lengths * np.cos(theta), center[1] + lengths * np.sin(theta)], axis=1)
        _polygon(frame, points, color)
        tip = (center[0] + 0.8 * radius * np.cos(theta[0]), center[1] + 0.8 * radius * np.sin(theta[0]))
        _disc(frame, tip, 0.15 * radius, marker)


def _draw_lift(rng: np.random.Generator, video: np.ndarray, reference: np.ndarray) -> None:
    """A hand comes down from above, closes its fingers round a cup standing on a table and lifts it away."""
    frames, h, w, _ = video.shape
    table = rng.uniform(0.75, 0.9) * h
    cup_w, cup_h = rng.uniform(0.12, 0.2) * w, rng.uniform(0.12, 0.2) * h
    x = rng.uniform(0.25, 0.75) * w
    table_color, cup_color, hand_color = (_contrasting_color(rng, reference) for _ in range(3))
    thickness = max(1, round(0.03 * min(h, w)))
    reach = rng.uniform(0.3, 0.5) * h  # how far above the cup the hand starts
    rise = rng.uniform(0.3, 0.5) * h  # how high the cup is lifted
    span = max(frames - 1, 1)
    grip_start = rng.uniform(0.25, 0.45) * span
    grip_end = grip_start + rng.uniform(0.05, 0.2) * span
    t = np.arange(frames)
    down = 1 - _smoothstep(t / grip_start)  # 1: hand high above the cup, 0: at the cup
    up = _smoothstep((t - grip_end) / (span - grip_end))  # 0: cup on the table, 1: lifted
    opening = 1 - _smoothstep((t - grip_start) / (grip_end - grip_start))
    gap = 0.1 * cup_w
    for frame, d, u, o in zip(video, down, up, opening, strict=True):
        _polygon(frame, _rectangle(0, table, w, table + thickness), table_color)
        cup_bottom = table - rise * u
        cup_top = cup_bottom - cup_h
        _polygon(frame, _rectangle(x - cup_w / 2, cup_top, x + cup_w / 2, cup_bottom), cup_color)
        palm = cup_top - gap - reach * d
        _segment(frame, np.array([x, -float(h)]), np.array([x, palm]), hand_color, 2 * thickness)
        reach_x = cup_w / 2 + gap
        _segment(frame, np.array([x - reach_x, palm]), np.array([x + reach_x, palm]), hand_color, thickness)
        for sign in (-1.0, 1.0):
            knuckle = np.array([x + sign * reach_x, palm])
            fingertip = knuckle + np.array([sign * 0.4 * cup_h * o, 0.7 * cup_h])
            _segment(frame, knuckle, fingertip, hand_color, thickness)


_ACTORS: dict[str, Callable[[np.random.Generator, np.ndarray, np.ndarray], None]] = {
    "raise": _draw_raise,
    "gesture": _draw_gesture,
    "slide": _draw_slide,
    "lid": _draw_lid,
    "approach": _draw_approach,
    "rotate": _draw_rotate,
    "lift": _draw_lift,
}


# -- clips -----------------------------------------------------------------------------------------------------


def _check_size(size: int | tuple[int, int]) -> tuple[int, int]:
    height, width = (size, size) if isinstance(size, numbers.Integral) else size
    if height < 16 or width < 16 or height % 2 or width % 2:
        raise ConfigError(f"size must be even and at least 16 pixels (H.264 needs even sides), got {size}")
    return int(height), int(width)


def render_clip(
    kind: Kind,
    class_name: str,
    rng: np.random.Generator,
    *,
    size: int | tuple[int, int] = 112,
    frames: int = 16,
    noise: float = 0.02,
    distractors: int = 2,
) -> np.ndarray:
    """Draw one clip of ``class_name`` in memory.

    A temporal clip of the second class of a pair is the clip the first class would get from the same ``rng``
    state, reversed in time (noise included): ``render_clip(k, "shooing", rng_a)`` equals
    ``render_clip(k, "beckoning", rng_b)[::-1]`` when ``rng_a`` and ``rng_b`` start in the same state.

    Args:
        kind: ``"temporal"`` (a class of :data:`TEMPORAL_CLASSES`) or ``"scene"`` (one of :data:`SCENE_CLASSES`).
        class_name: the class to draw.
        rng: the source of all randomness in the clip (see :func:`clip_rng`).
        size: frame side in pixels, or ``(height, width)``; even, at least 16.
        frames: number of frames ``T``.
        noise: standard deviation of the Gaussian pixel noise, as a fraction of the 0-255 range.
        distractors: number of small shapes bouncing around behind the action.

    Returns:
        [T, H, W, 3] uint8 RGB frames.

    Raises:
        ConfigError: unknown kind or class, or a size, frame count, noise or distractor count out of range.
    """
    height, width = _check_size(size)
    if frames < 2:
        raise ConfigError(f"frames must be at least 2, got {frames}")
    if noise < 0 or distractors < 0:
        raise ConfigError(f"noise and distractors must be non-negative, got {noise} and {distractors}")
    if kind == "temporal":
        if class_name not in _PAIR_OF_CLASS:
            raise ConfigError(
                f"unknown temporal class {class_name!r}; choose from {', '.join(TEMPORAL_CLASSES)}"
            )
        pair, reverse = _PAIR_OF_CLASS[class_name]
        background = _plain_background(rng, height, width)
    elif kind == "scene":
        if class_name not in _SCENES:
            raise ConfigError(f"unknown scene class {class_name!r}; choose from {', '.join(SCENE_CLASSES)}")
        background = _scene_background(rng, class_name, height, width)
        pair = list(TEMPORAL_PAIRS)[rng.integers(len(TEMPORAL_PAIRS))]
        reverse = bool(rng.integers(2))
    else:
        raise ConfigError(f"unknown synthetic dataset kind {kind!r}; choose 'temporal' or 'scene'")
    video = np.repeat(background[None], frames, axis=0)
    _draw_distractors(rng, video, distractors)
    _ACTORS[pair](rng, video, background.reshape(-1, 3).mean(axis=0))
    if noise > 0:
        noisy = video + rng.standard_normal(video.shape, dtype=np.float32) * np.float32(255 * noise)
        video = np.clip(noisy.round(), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(video[::-1]) if reverse else video


def clip_rng(seed: int, split: str, class_name: str, index: int) -> np.random.Generator:
    """The generator of video ``index`` of ``class_name`` in ``split``: a function of these four values only."""
    if seed < 0 or index < 0:
        raise ConfigError(f"seed and index must be non-negative, got {seed} and {index}")
    key = hashlib.blake2b(f"{split}/{class_name}".encode(), digest_size=8).digest()
    return np.random.default_rng(np.random.SeedSequence([seed, int.from_bytes(key, "little"), index]))


# -- datasets --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    """Everything a worker process needs to write one video."""

    root: Path
    kind: Kind
    size: tuple[int, int]
    frames: int
    fps: float
    seed: int
    noise: float
    distractors: int
    crf: int


def _video_path(root: Path, split: str, class_name: str, index: int) -> Path:
    return root / split / class_name / f"{class_name}_{index:04d}.mp4"


#: x264 settings: one thread (the parallelism is across videos; tiny frames gain nothing from slices); the
#: ``veryfast`` preset, which halves the encoding time of 112 x 112 clips for files of the same size; and no
#: macroblock tree, whose lookahead makes x264 encode identical short, small clips differently from run to run.
_X264 = {"threads": "1", "preset": "veryfast", "x264-params": "mbtree=0"}


def _write_one(spec: _Spec, job: tuple[str, str, int]) -> None:
    split, class_name, index = job
    clip = render_clip(
        spec.kind,
        class_name,
        clip_rng(spec.seed, split, class_name, index),
        size=spec.size,
        frames=spec.frames,
        noise=spec.noise,
        distractors=spec.distractors,
    )
    write_video(_video_path(spec.root, split, class_name, index), clip, spec.fps, crf=spec.crf, options=_X264)


def _select(names: Sequence[str] | None, known: Sequence[str], what: str) -> list[str]:
    if names is None:
        return list(known)
    unknown = [n for n in names if n not in known]
    if unknown or not names or len(set(names)) != len(names):
        raise ConfigError(
            f"{what} must be distinct names from {', '.join(known)}; got {', '.join(names) or 'none'}"
        )
    return list(names)


def _split_counts(videos_per_class: int | Mapping[str, int] | None) -> dict[str, int]:
    if videos_per_class is None:
        videos_per_class = DEFAULT_VIDEOS_PER_CLASS
    if isinstance(videos_per_class, int):
        videos_per_class = dict.fromkeys(SPLITS, videos_per_class)
    unknown = set(videos_per_class) - set(SPLITS)
    if unknown:
        raise ConfigError(
            f"videos_per_class: unknown split(s) {', '.join(sorted(unknown))}; use {', '.join(SPLITS)}"
        )
    counts = {s: int(videos_per_class[s]) for s in SPLITS if videos_per_class.get(s, 0)}
    if any(n < 0 for n in videos_per_class.values()) or not counts:
        raise ConfigError(
            f"videos_per_class must be non-negative with at least one video, got {videos_per_class}"
        )
    return counts


def _prepare_root(root: Path, overwrite: bool) -> None:
    """Make ``root`` an empty folder; with ``overwrite``, first remove what an earlier run wrote there."""
    if root.exists() and not root.is_dir():
        raise DatasetError(f"{root}: exists and is not a folder")
    # and the metadata cache that vidact's datasets keep beside the videos (default_cache_file)
    ours = {*SPLITS, "classes.txt", "manifest.json", ".vidact_index.json"}
    existing = sorted(p.name for p in root.iterdir()) if root.is_dir() else []
    if existing and not overwrite:
        raise DatasetError(f"{root}: folder is not empty; choose a new one or pass overwrite=True")
    foreign = [name for name in existing if name not in ours]
    if foreign:
        raise DatasetError(
            f"{root}: holds {', '.join(foreign)}, which synthesize did not write; refusing to overwrite"
        )
    for name in existing:
        path = root / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    root.mkdir(parents=True, exist_ok=True)


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file beside it, then a rename)."""
    with atomic_write(path, "w") as f:
        f.write(text)


def _default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def synthesize(
    root: str | os.PathLike,
    kind: Kind = "temporal",
    *,
    videos_per_class: int | Mapping[str, int] | None = None,
    size: int | tuple[int, int] = 112,
    frames: int = 16,
    fps: float = 8.0,
    seed: int = 0,
    noise: float = 0.02,
    distractors: int = 2,
    pairs: Sequence[str] | None = None,
    scenes: Sequence[str] | None = None,
    crf: int = 23,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> SynthInfo:
    """Generate a synthetic action dataset as H.264 videos in ``root/<split>/<class>/<class>_<index>.mp4``.

    Also writes ``root/classes.txt`` (one class a line, in label order) and, once every video is written,
    ``root/manifest.json``: the generation parameters, the classes, each temporal class's time-reversed
    ``partner``, the pairs, and the chance levels (``chance``: one over the classes; ``pair_chance``: 1/2, the
    accuracy of a model that finds the pair but not the direction). Videos are the same for the same seed
    whatever ``workers`` is.

    Args:
        root: output folder; must be missing or empty (see ``overwrite``).
        kind: ``"temporal"`` (time-reversed pairs) or ``"scene"`` (one scenery per class).
        videos_per_class: videos per class for each split, e.g. ``{"train": 50, "val": 10, "test": 20}`` (the
            default, :data:`DEFAULT_VIDEOS_PER_CLASS`); an int gives every split that many; splits left out or
            at 0 are not written.
        size: frame side in pixels, or ``(height, width)``; even, at least 16.
        frames: frames per video.
        fps: frame rate stored in the files (motion is defined per frame, so it only sets the playback speed).
        seed: dataset seed; each video's generator is ``clip_rng(seed, split, class, index)``.
        noise: Gaussian pixel noise standard deviation, as a fraction of the 0-255 range.
        distractors: small bouncing shapes per video that carry no class information.
        pairs: temporal pairs to include (keys of :data:`TEMPORAL_PAIRS`); default all six (12 classes).
        scenes: scene classes to include (:data:`SCENE_CLASSES`); default all eight.
        crf: H.264 constant rate factor (lower: larger files, fewer compression artefacts).
        workers: processes rendering and encoding in parallel; default one per available core, ``0`` or ``1``
            works in this process.
        overwrite: replace an earlier synthetic dataset in ``root`` (only a folder holding nothing but
            ``train/``, ``val/``, ``test/``, ``classes.txt``, ``manifest.json`` and the datasets' metadata cache
            ``.vidact_index.json`` is cleared).
        progress: show a progress bar.

    Returns:
        A :class:`SynthInfo` describing what was written.

    Raises:
        ConfigError: an unknown kind, pair or scene, an option out of range, or ``pairs`` with ``kind="scene"``
            (or ``scenes`` with ``kind="temporal"``).
        DatasetError: ``root`` is not empty and ``overwrite`` is off, or holds files synthesize did not write.
    """
    root = Path(root)
    if kind == "temporal":
        if scenes is not None:
            raise ConfigError("scenes applies to kind='scene'; choose temporal classes with pairs")
        pair_classes = {pair: TEMPORAL_PAIRS[pair] for pair in _select(pairs, list(TEMPORAL_PAIRS), "pairs")}
        classes = tuple(name for names in pair_classes.values() for name in names)
        partners = {a: b for a, b in pair_classes.values()} | {b: a for a, b in pair_classes.values()}
    elif kind == "scene":
        if pairs is not None:
            raise ConfigError("pairs applies to kind='temporal'; choose scene classes with scenes")
        classes, pair_classes, partners = tuple(_select(scenes, SCENE_CLASSES, "scenes")), {}, {}
    else:
        raise ConfigError(f"unknown synthetic dataset kind {kind!r}; choose 'temporal' or 'scene'")
    counts = _split_counts(videos_per_class)
    if frames < 2 or fps <= 0 or noise < 0 or distractors < 0 or seed < 0 or not 0 <= crf <= 51:
        raise ConfigError(
            f"need frames >= 2, fps > 0, noise >= 0, distractors >= 0, seed >= 0 and 0 <= crf <= 51; got "
            f"frames={frames}, fps={fps}, noise={noise}, distractors={distractors}, seed={seed}, crf={crf}"
        )
    spec = _Spec(root, kind, _check_size(size), frames, float(fps), seed, float(noise), distractors, crf)

    _prepare_root(root, overwrite)
    jobs = [(split, name, index) for split, n in counts.items() for name in classes for index in range(n)]
    for split in counts:
        for name in classes:
            (root / split / name).mkdir(parents=True)
    write = partial(_write_one, spec)
    workers = _default_workers() if workers is None else workers
    with tqdm(total=len(jobs), desc=f"synth {kind}", unit="video", disable=not progress) as bar:
        if workers <= 1:
            for job in jobs:
                write(job)
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
                chunk = max(1, len(jobs) // (8 * workers))
                for _ in pool.map(write, jobs, chunksize=chunk):
                    bar.update()

    _write_text(root / "classes.txt", "".join(f"{name}\n" for name in classes))
    manifest = {
        "generator": "vidact.data.synth",
        "kind": kind,
        "classes": list(classes),
        "partners": partners,
        "pairs": {pair: list(names) for pair, names in pair_classes.items()},
        "videos_per_class": counts,
        "chance": 1 / len(classes),
        "pair_chance": 0.5 if kind == "temporal" else None,
        "params": {
            "size": list(spec.size),
            "frames": frames,
            "fps": spec.fps,
            "seed": seed,
            "noise": spec.noise,
            "distractors": distractors,
            "codec": "libx264",
            "encoder_options": _X264,
            "crf": crf,
        },
    }
    _write_text(root / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return SynthInfo(root=root, kind=kind, classes=classes, videos_per_class=counts, partners=partners)
