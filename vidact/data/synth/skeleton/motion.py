"""The motions of the skeleton generator's classes, and one performance's random draws.

Every sample is a standing person animated by forward kinematics: a rigid trunk (pelvis, spine, shoulders,
head) that can lean, two arms (a shoulder rotation and an elbow bend each) and two legs (thigh and shin angles,
sideways spread), with the feet kept on the floor. The classes (:data:`SKELETON_CLASSES`) are

=================================  ========================================================================
``waving``                         right upper arm raised sideways, the forearm swinging in the body's plane
``pointing``                       the straight right arm is raised towards a target, held, and lowered
``clapping``                       the hands meet in front of the chest and part again
``jumping_jacks``                  arms from the sides to overhead and legs apart, hopping
``squats``                         knees and hips bend and stretch, arms forward, the trunk leaning
``arm_circles_clockwise``          the straight right arm circles, clockwise as the camera sees it at yaw 0
``arm_circles_counterclockwise``   the same samples played backwards
``sit_down``                       from standing to sitting (no chair drawn: only the body's joints)
``stand_up``                       the same samples played backwards
=================================  ========================================================================

The two time-reversed pairs (:data:`SKELETON_PAIRS`) make order measurable: a sample of the second class of a
pair is the sample the first class gets from the same generator, reversed in time (noise and missing joints
included), so it holds exactly the same frames; a model that looks at frames without their order is at chance
within a pair. The circles start at a random phase, so not even the frame at a known position tells them apart.

:func:`draw_performance` draws what varies from sample to sample (size, proportions, viewpoint, tempo, phase,
timing, amplitude) with the same distribution for every class; :func:`animate` plays a class's motion for one
performance on the body model (:mod:`~vidact.data.synth.skeleton.body`) and returns the layout's joints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ....errors import ConfigError
from ...skeleton.layouts import Layout, get_layout
from .body import SEGMENTS, Pose, body_points, from_to, mirror, rest_pose, rotation, segment, smoothstep

__all__ = [
    "SKELETON_CLASSES",
    "SKELETON_PAIRS",
    "SKELETON_LAYOUTS",
    "FPS",
    "played_as",
    "check_layout",
    "Performance",
    "draw_performance",
    "animate",
]

#: The classes, in label order.
SKELETON_CLASSES: tuple[str, ...] = (
    "waving",
    "pointing",
    "clapping",
    "jumping_jacks",
    "squats",
    "arm_circles_clockwise",
    "arm_circles_counterclockwise",
    "sit_down",
    "stand_up",
)
#: The time-reversed pairs: the second class of each is the first one played backwards.
SKELETON_PAIRS: Mapping[str, tuple[str, str]] = {
    "arm_circles": ("arm_circles_clockwise", "arm_circles_counterclockwise"),
    "sit_stand": ("sit_down", "stand_up"),
}
#: Layouts the generator can write (every joint of theirs is a point of its body model).
SKELETON_LAYOUTS: tuple[str, ...] = ("ntu25", "coco17")
#: Frames per second of the motion (Kinect v2's rate).
FPS = 30.0

#: class -> (the class whose motion it plays, whether it plays it backwards)
_SOURCE: dict[str, tuple[str, bool]] = {name: (name, False) for name in SKELETON_CLASSES}
for _first, _second in SKELETON_PAIRS.values():
    _SOURCE[_second] = (_first, True)


def played_as(class_name: str) -> tuple[str, bool]:
    """The class whose motion ``class_name`` plays, and whether it plays it backwards (the second class of a
    pair of :data:`SKELETON_PAIRS`).

    Raises:
        ConfigError: an unknown class.
    """
    if class_name not in _SOURCE:
        raise ConfigError(f"unknown skeleton class {class_name!r}; choose from {', '.join(SKELETON_CLASSES)}")
    return _SOURCE[class_name]


# -- one sample's random draws --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Performance:
    """Everything random about one sample besides the joint noise and the missing joints, drawn the same way
    for every class (:func:`draw_performance`).

    Attributes:
        num_frames: T, frames of the sample (at :data:`FPS`).
        scale: the body's size relative to the model body (about 1.78 m tall at 1).
        proportions: each body segment's bone-length factor (``"elbow"``: the upper arms, ``"knee"``: the
            thighs, ...); both sides alike.
        yaw: the performer's turn about the vertical axis, radians (0: facing the camera; positive: turned
            to the performer's left).
        distance: metres from the camera to the performer, along the optical axis.
        lateral: the performer's sideways offset, metres (positive: to the camera's right).
        camera_height: the camera's height above the floor, metres.
        speed: tempo factor of the motion (cycles per second times it).
        phase: where in its cycle a cyclic motion starts, in cycles ([0, 1)).
        onset, duration: a one-shot motion's start and length, as fractions of the sample.
        amplitude: factor on the size of the motion (angles).
        style: two numbers in [0, 1) each action may use (where pointing points).
        sway: phase of a slow sway of the trunk common to every class, in cycles.
    """

    num_frames: int
    scale: float
    proportions: Mapping[str, float]
    yaw: float
    distance: float
    lateral: float
    camera_height: float
    speed: float
    phase: float
    onset: float
    duration: float
    amplitude: float
    style: tuple[float, float]
    sway: float


def draw_performance(
    rng: np.random.Generator,
    *,
    frames: tuple[int, int] = (48, 96),
    max_yaw: float = 60.0,
    distance: tuple[float, float] = (2.5, 4.0),
    size_range: tuple[float, float] = (0.85, 1.12),
    bone_jitter: float = 0.06,
) -> Performance:
    """Draw one sample's :class:`Performance`; the draws are the same in number and order whatever the class.

    Args:
        rng: the sample's generator (:func:`~vidact.data.synth.clips.clip_rng`).
        frames: the inclusive range of the number of frames.
        max_yaw: the largest turn about the vertical axis, degrees (drawn uniformly in ±max_yaw).
        distance: the range of the camera distance, metres.
        size_range: the range of the body scale.
        bone_jitter: each segment's length factor is drawn in ``1 ± bone_jitter``.
    """
    num_frames = int(rng.integers(frames[0], frames[1] + 1))
    scale = float(rng.uniform(*size_range))
    factors = rng.uniform(1.0 - bone_jitter, 1.0 + bone_jitter, len(SEGMENTS))
    return Performance(
        num_frames=num_frames,
        scale=scale,
        proportions=dict(zip(SEGMENTS, (float(f) for f in factors), strict=True)),
        yaw=float(np.deg2rad(rng.uniform(-max_yaw, max_yaw))),
        distance=float(rng.uniform(*distance)),
        lateral=float(rng.uniform(-0.3, 0.3)),
        camera_height=float(rng.uniform(0.8, 1.2)),
        speed=float(rng.uniform(0.75, 1.33)),
        phase=float(rng.uniform(0.0, 1.0)),
        onset=float(rng.uniform(0.1, 0.3)),
        duration=float(rng.uniform(0.4, 0.6)),
        amplitude=float(rng.uniform(0.85, 1.15)),
        style=(float(rng.uniform()), float(rng.uniform())),
        sway=float(rng.uniform(0.0, 1.0)),
    )


# -- the classes' motions ------------------------------------------------------------------------------------
def _cycle(p: Performance, t: np.ndarray, hertz: float) -> np.ndarray:
    """The phase angle [T] of a cyclic motion of ``hertz`` cycles per second at the sample's tempo."""
    return 2.0 * np.pi * (p.phase + hertz * p.speed * t)


def _once(p: Performance, frames: int) -> np.ndarray:
    """Progress [T] in [0, 1] of a one-shot motion: 0 before its onset, 1 after it ends."""
    x = (np.arange(frames) / max(frames - 1, 1) - p.onset) / p.duration
    return smoothstep(x)


def _waving(p: Performance, t: np.ndarray) -> Pose:
    pose, n = rest_pose(len(t)), len(t)
    # Upper arm raised sideways; twisted a quarter turn so that the elbow bends upwards, in the body's plane.
    shoulder = rotation(2, np.deg2rad(100.0 * p.amplitude), n) @ rotation(1, np.pi / 2, n)
    pose.right_arm = mirror(shoulder)
    pose.right_elbow = np.deg2rad(90.0 + 30.0 * p.amplitude * np.sin(_cycle(p, t, 1.6)))
    return pose


def _pointing(p: Performance, t: np.ndarray) -> Pose:
    pose, n = rest_pose(len(t)), len(t)
    # Raise over the first fifth of the motion, hold, lower over the last fifth.
    rise = smoothstep((np.arange(n) / max(n - 1, 1) - p.onset) / (0.2 * p.duration))
    fall = smoothstep((np.arange(n) / max(n - 1, 1) - p.onset - 0.8 * p.duration) / (0.2 * p.duration))
    up = rise * (1.0 - fall)
    azimuth = np.deg2rad(-10.0 + 45.0 * p.style[0])  # from slightly across the body to the right side
    elevation = np.deg2rad(25.0 * p.style[1])
    flexion = up * (np.pi / 2 + elevation)
    pose.right_arm = mirror(rotation(1, azimuth * up, n) @ rotation(0, -flexion, n))
    pose.right_elbow = np.deg2rad(12.0) * (1.0 - up) + np.deg2rad(3.0) * up
    return pose


def _clapping(p: Performance, t: np.ndarray) -> Pose:
    pose, n = rest_pose(len(t)), len(t)
    closed = ((1.0 - np.cos(_cycle(p, t, 2.0))) / 2.0) ** 2  # brief contacts
    # Upper arms forward and down, forearms forward; turning the upper arms inwards brings the hands together.
    inward = np.deg2rad(10.0 + 38.0 * closed * p.amplitude)
    shoulder = rotation(1, -inward, n) @ rotation(0, np.deg2rad(-35.0), n)
    pose.left_arm, pose.right_arm = shoulder, mirror(shoulder)
    pose.left_elbow = pose.right_elbow = np.full(n, np.deg2rad(75.0))
    return pose


def _jumping_jacks(p: Performance, t: np.ndarray) -> Pose:
    pose, n = rest_pose(len(t)), len(t)
    angle = _cycle(p, t, 0.9)
    out = (1.0 - np.cos(angle)) / 2.0
    shoulder = rotation(2, np.deg2rad(12.0 + 148.0 * out * p.amplitude), n)
    pose.left_arm, pose.right_arm = shoulder, mirror(shoulder)
    pose.left_elbow = pose.right_elbow = np.full(n, np.deg2rad(8.0))
    pose.spread = np.deg2rad(2.0 + 13.0 * out * p.amplitude)
    pose.hop = 0.06 * p.amplitude * np.abs(np.sin(angle))
    pose.planted = False
    return pose


def _squats(p: Performance, t: np.ndarray) -> Pose:
    pose, n = rest_pose(len(t)), len(t)
    depth = p.amplitude * (1.0 - np.cos(_cycle(p, t, 0.45))) / 2.0
    pose.thigh, pose.shin, pose.lean = (
        np.deg2rad(90.0 * depth),
        np.deg2rad(30.0 * depth),
        np.deg2rad(35.0 * depth),
    )
    shoulder = rotation(0, -np.deg2rad(85.0) * np.minimum(depth * 1.5, 1.0), n)  # arms forward
    pose.left_arm, pose.right_arm = shoulder, mirror(shoulder)
    pose.left_elbow = pose.right_elbow = np.full(n, np.deg2rad(5.0))
    return pose


def _arm_circles_clockwise(p: Performance, t: np.ndarray) -> Pose:
    pose, n = rest_pose(len(t)), len(t)
    # The straight right arm sweeps a cone around a direction forward and to its side: the hand draws a circle
    # in front of the shoulder, in the plane of ``across`` (the performer's left) and ``up``. Facing the camera,
    # the performer's left is the camera's right, so an angle from ``across`` towards ``up`` that decreases is
    # clockwise on the image.
    angle = -_cycle(p, t, 0.7)
    cone = np.deg2rad(32.0 * p.amplitude)
    axis = np.array([-np.sin(np.deg2rad(25.0)), 0.0, np.cos(np.deg2rad(25.0))])  # forward, to the right
    across = np.array([np.cos(np.deg2rad(25.0)), 0.0, np.sin(np.deg2rad(25.0))])  # ⟂ axis, horizontal
    up = np.array([0.0, 1.0, 0.0])
    ring = np.cos(angle)[:, None] * across + np.sin(angle)[:, None] * up
    direction = np.cos(cone) * axis + np.sin(cone) * ring  # [T, 3], unit
    forward = np.array([0.0, 0.0, 1.0])
    # From hanging to pointing forward (a quarter turn about x), then the smallest turn to the direction.
    pose.right_arm = from_to(forward, direction) @ rotation(0, -np.pi / 2, n)
    pose.right_elbow = np.full(n, np.deg2rad(4.0))
    return pose


def _sit_down(p: Performance, t: np.ndarray) -> Pose:
    pose, n = rest_pose(len(t)), len(t)
    down = _once(p, n)
    pose.thigh, pose.shin = np.deg2rad(88.0 * down), np.deg2rad(6.0 * down)
    # The trunk leans forward while the weight moves back, and stays a little forward once seated.
    pose.lean = np.deg2rad(35.0 * p.amplitude * np.sin(np.pi * down) + 6.0 * down)
    shoulder = rotation(0, -np.deg2rad(15.0) * down, n) @ rotation(2, np.deg2rad(8.0), n)  # hands to thighs
    pose.left_arm, pose.right_arm = shoulder, mirror(shoulder)
    pose.left_elbow = pose.right_elbow = np.deg2rad(12.0 + 43.0 * down)
    return pose


_ACTIONS: dict[str, Callable[[Performance, np.ndarray], Pose]] = {
    "waving": _waving,
    "pointing": _pointing,
    "clapping": _clapping,
    "jumping_jacks": _jumping_jacks,
    "squats": _squats,
    "arm_circles_clockwise": _arm_circles_clockwise,
    "sit_down": _sit_down,
}


def check_layout(layout: str | Layout) -> Layout:
    """The layout named, if the generator can write it (:data:`SKELETON_LAYOUTS`), else a ConfigError."""
    layout = get_layout(layout)
    if layout.name not in SKELETON_LAYOUTS:
        raise ConfigError(
            f"the skeleton generator writes the layouts {', '.join(SKELETON_LAYOUTS)}, not {layout.name!r}"
        )
    return layout


def animate(class_name: str, performance: Performance, layout: str | Layout = "ntu25") -> np.ndarray:
    """The joints of one performance of a class, before the camera: deterministic, no noise.

    The body model's points are picked in the layout's order, then every bone of the layout's tree is scaled
    by ``performance.scale`` times its segment's factor, from the layout's centre outwards (the centre itself
    scaled about the origin on the floor): the bone of joint ``v`` in the output is exactly
    ``scale * proportions[segment(v)]`` times the model body's.

    Args:
        class_name: one of :data:`SKELETON_CLASSES` (a reversed class is its partner's motion backwards).
        performance: the sample's draws (:func:`draw_performance`).
        layout: ``"ntu25"`` or ``"coco17"``.

    Returns:
        [T, V, 3] float64 joints in the body frame: metres, x to the performer's left, y up, z forward, the
        origin on the floor.

    Raises:
        ConfigError: an unknown class or an unsupported layout.
    """
    source, backwards = played_as(class_name)
    layout = check_layout(layout)
    t = np.arange(performance.num_frames) / FPS
    points = body_points(_ACTIONS[source](performance, t), performance.sway, FPS)
    model = np.stack([points[name] for name in layout.joints], axis=1)  # [T, V, 3]
    out = np.empty_like(model)
    out[:, layout.center] = model[:, layout.center] * performance.scale
    for v in np.argsort(layout.depth(), kind="stable"):
        if v == layout.center:
            continue
        parent = layout.parents[v]
        factor = performance.scale * performance.proportions[segment(layout.joints[v])]
        out[:, v] = out[:, parent] + (model[:, v] - model[:, parent]) * factor
    return out[::-1].copy() if backwards else out
