"""Actions: the foreground actors of the synthetic videos (one per time-reversed pair) and the distractors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .draw import (
    Color,
    _as_color,
    _contrasting_color,
    _disc,
    _polygon,
    _progress,
    _rectangle,
    _regular_polygon,
    _segment,
    _smoothstep,
)

__all__ = ["TEMPORAL_PAIRS", "TEMPORAL_CLASSES"]

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
_PAIR_OF_CLASS: dict[str, tuple[str, bool]] = {
    name: (pair, name == names[1]) for pair, names in TEMPORAL_PAIRS.items() for name in names
}


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
