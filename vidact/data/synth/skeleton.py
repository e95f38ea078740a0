"""Synthetic skeleton actions: joint trajectories of a moving body, for classes that differ only in motion.

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

Everything else varies from sample to sample with the same distribution for every class: the body's size (one
scale for the whole body and a factor for each bone, applied along the layout's kinematic tree, left and right
alike), the viewpoint (a rotation about the vertical axis, the camera's distance, height and sideways offset),
the tempo, the phase of cyclic actions and the timing of one-shot ones, the amplitude, Gaussian jitter of every
joint and joints that are missing (zeros, score 0), independently per frame and joint.

Coordinates are camera-space metres for ``dims=3`` (Kinect v2's convention: x to the right, y up, z away from
the camera, as NTU RGB+D stores them) or pixels of a 1920 x 1080 pinhole camera for ``dims=2``. The layouts are
``ntu25`` (default) and ``coco17``.

    >>> from vidact.data.synth.skeleton import synthesize_skeletons
    >>> info = synthesize_skeletons("data/synthetic-skeleton", samples_per_class={"train": 100, "test": 40})
    >>> info.classes[-2:], info.partners["sit_down"]
    (('sit_down', 'stand_up'), 'stand_up')

A dataset on disk is a PYSKL annotation pickle ``annotations.pkl`` (``{"split": {name: [frame_dir, ...]},
"annotations": [record, ...]}``, :mod:`vidact.data.skeleton.formats`), ``classes.txt`` and ``manifest.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm.auto import tqdm

from ..._atomic import write_text
from ...errors import ConfigError, DatasetError
from ..skeleton.dataset import ANNOTATIONS_FILE
from ..skeleton.formats import save_pickle
from ..skeleton.layouts import Layout, get_layout
from .clips import clip_rng
from .writer import split_counts

__all__ = [
    "SKELETON_CLASSES",
    "SKELETON_PAIRS",
    "SKELETON_LAYOUTS",
    "FPS",
    "IMAGE_SHAPE",
    "FOCAL_LENGTH",
    "DEFAULT_SAMPLES_PER_CLASS",
    "ANNOTATIONS_FILE",
    "Performance",
    "draw_performance",
    "animate",
    "camera_view",
    "render_skeleton",
    "SkeletonSynthInfo",
    "synthesize_skeletons",
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
#: ``dims=2``: (height, width) of the image the joints are projected onto, and the focal length in pixels
#: (close to Kinect v2's colour camera).
IMAGE_SHAPE: tuple[int, int] = (1080, 1920)
FOCAL_LENGTH = 1060.0
DEFAULT_SAMPLES_PER_CLASS: Mapping[str, int] = {"train": 100, "val": 20, "test": 40}

#: class -> (the class whose motion it plays, whether it plays it backwards)
_SOURCE: dict[str, tuple[str, bool]] = {name: (name, False) for name in SKELETON_CLASSES}
for _first, _second in SKELETON_PAIRS.values():
    _SOURCE[_second] = (_first, True)

# -- the body model ------------------------------------------------------------------------------------------
# Body frame: x to the performer's left, y up, z forward (where the performer faces); metres; the origin on
# the floor between the feet of the standing pose. Dimensions of an adult about 1.78 m tall (scale 1).
_ANKLE_HEIGHT = 0.08
_THIGH, _SHIN = 0.44, 0.44
_UPPER_ARM, _FOREARM, _WRIST_TO_HAND, _HAND_TO_TIP = 0.29, 0.25, 0.07, 0.08
_HIP_HALF_WIDTH = 0.09
#: Points of the trunk and head, relative to the midpoint of the hip joints in the (leaning) trunk frame.
_TRUNK_POINTS: dict[str, tuple[float, float, float]] = {
    "spine_base": (0.0, 0.05, 0.0),
    "spine_mid": (0.0, 0.30, 0.0),
    "spine_shoulder": (0.0, 0.52, 0.0),
    "neck": (0.0, 0.60, 0.0),
    "head": (0.0, 0.72, 0.02),
    "nose": (0.0, 0.71, 0.10),
    "left_eye": (0.032, 0.745, 0.085),
    "right_eye": (-0.032, 0.745, 0.085),
    "left_ear": (0.075, 0.725, 0.0),
    "right_ear": (-0.075, 0.725, 0.0),
    "left_shoulder": (0.18, 0.50, 0.0),
    "right_shoulder": (-0.18, 0.50, 0.0),
    "left_hip": (_HIP_HALF_WIDTH, 0.0, 0.0),
    "right_hip": (-_HIP_HALF_WIDTH, 0.0, 0.0),
}
#: The thumb relative to the hand, in the forearm's frame (arm hanging, palm to the thigh: thumb forward).
_THUMB = (0.0, 0.01, 0.05)
#: The foot (toes) relative to the ankle, in the body frame (flat on the floor, forward).
_FOOT = (0.0, -0.05, 0.13)
#: Bone-length factors are drawn per segment: a layout's bone takes the one of its child joint's name without
#: ``left_`` / ``right_`` (both sides alike).
_SEGMENTS: tuple[str, ...] = (
    "spine_base", "spine_mid", "spine_shoulder", "neck", "head", "nose", "eye", "ear", "shoulder", "elbow",
    "wrist", "hand", "hand_tip", "thumb", "hip", "knee", "ankle", "foot",
)  # fmt: skip
_MIRROR = np.diag([-1.0, 1.0, 1.0])  # the left arm's rotations, conjugated by it, are the right arm's


def _segment(joint: str) -> str:
    return joint.removeprefix("left_").removeprefix("right_")


# -- rotations (vectorised over frames) -----------------------------------------------------------------------
def _rotation(axis: int, angle: np.ndarray | float, frames: int) -> np.ndarray:
    """Right-handed rotations by ``angle`` (radians, a scalar or [T]) about body axis 0 (x), 1 (y) or 2 (z):
    [T, 3, 3]."""
    angle = np.broadcast_to(np.asarray(angle, dtype=np.float64), (frames,))
    c, s = np.cos(angle), np.sin(angle)
    i, j = ((1, 2), (2, 0), (0, 1))[axis]
    out = np.zeros((frames, 3, 3))
    out[:, axis, axis] = 1.0
    out[:, i, i] = out[:, j, j] = c
    out[:, i, j], out[:, j, i] = -s, s
    return out


def _from_to(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotations taking unit vector ``a`` [3] to unit vectors ``b`` [T, 3]: [T, 3, 3]
    (Rodrigues' formula; ``b`` must not be ``-a``)."""
    v = np.cross(a, b)  # [T, 3]
    c = b @ a  # [T]
    k = np.zeros((len(b), 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    k[:, 1, 0], k[:, 2, 0], k[:, 2, 1] = v[:, 2], -v[:, 1], v[:, 0]
    return np.eye(3) + k + (k @ k) / (1.0 + c)[:, None, None]


def _apply(rotations: np.ndarray, vector: np.ndarray | Sequence[float]) -> np.ndarray:
    """Rotations [T, 3, 3] applied to one vector [3] or to one vector per frame [T, 3]: [T, 3]."""
    vector = np.asarray(vector, dtype=np.float64)
    if vector.ndim == 1:
        return rotations @ vector
    return np.einsum("tij,tj->ti", rotations, vector)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, a smooth S in between."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


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
    factors = rng.uniform(1.0 - bone_jitter, 1.0 + bone_jitter, len(_SEGMENTS))
    return Performance(
        num_frames=num_frames,
        scale=scale,
        proportions=dict(zip(_SEGMENTS, (float(f) for f in factors), strict=True)),
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


# -- poses ------------------------------------------------------------------------------------------------------
@dataclass
class _Pose:
    """A body's configuration over T frames (angles in radians).

    ``left_arm``, ``right_arm``: shoulder rotations [T, 3, 3] in the body frame, applied to the arm hanging down
    (the identity: hanging, palm to the thigh; the right arm of a symmetric pose is the left one's
    :func:`_mirror`); ``*_elbow``: elbow bends [T] (the forearm turning forward from the upper arm's line);
    ``thigh``: the thighs' angle from vertical, forward [T]; ``shin``: the shins' angle from vertical, the knee
    ahead of the ankle [T]; ``spread``: the legs' sideways angle [T]; ``lean``: the trunk's forward lean [T];
    ``hop``: metres above the floor [T]; ``planted``: the ankles stay where they stand (else the lower one
    touches the floor, plus the hop).
    """

    left_arm: np.ndarray
    left_elbow: np.ndarray
    right_arm: np.ndarray
    right_elbow: np.ndarray
    thigh: np.ndarray
    shin: np.ndarray
    spread: np.ndarray
    lean: np.ndarray
    hop: np.ndarray
    planted: bool = True


def _mirror(rotations: np.ndarray) -> np.ndarray:
    """The left arm's shoulder rotations [T, 3, 3] as the right arm's (mirrored through the body's midplane)."""
    return _MIRROR @ rotations @ _MIRROR


def _rest(frames: int) -> _Pose:
    """Standing, arms hanging slightly away from the body, elbows slightly bent."""
    arm = _rotation(2, np.deg2rad(8.0), frames)
    elbow = np.full(frames, np.deg2rad(12.0))
    zeros = np.zeros(frames)
    return _Pose(arm, elbow, _mirror(arm), elbow.copy(), zeros, zeros, zeros, zeros, zeros)


def _cycle(p: Performance, t: np.ndarray, hertz: float) -> np.ndarray:
    """The phase angle [T] of a cyclic motion of ``hertz`` cycles per second at the sample's tempo."""
    return 2.0 * np.pi * (p.phase + hertz * p.speed * t)


def _once(p: Performance, frames: int) -> np.ndarray:
    """Progress [T] in [0, 1] of a one-shot motion: 0 before its onset, 1 after it ends."""
    x = (np.arange(frames) / max(frames - 1, 1) - p.onset) / p.duration
    return _smoothstep(x)


def _waving(p: Performance, t: np.ndarray) -> _Pose:
    pose, n = _rest(len(t)), len(t)
    # Upper arm raised sideways; twisted a quarter turn so that the elbow bends upwards, in the body's plane.
    shoulder = _rotation(2, np.deg2rad(100.0 * p.amplitude), n) @ _rotation(1, np.pi / 2, n)
    pose.right_arm = _mirror(shoulder)
    pose.right_elbow = np.deg2rad(90.0 + 30.0 * p.amplitude * np.sin(_cycle(p, t, 1.6)))
    return pose


def _pointing(p: Performance, t: np.ndarray) -> _Pose:
    pose, n = _rest(len(t)), len(t)
    # Raise over the first fifth of the motion, hold, lower over the last fifth.
    rise = _smoothstep((np.arange(n) / max(n - 1, 1) - p.onset) / (0.2 * p.duration))
    fall = _smoothstep((np.arange(n) / max(n - 1, 1) - p.onset - 0.8 * p.duration) / (0.2 * p.duration))
    up = rise * (1.0 - fall)
    azimuth = np.deg2rad(-10.0 + 45.0 * p.style[0])  # from slightly across the body to the right side
    elevation = np.deg2rad(25.0 * p.style[1])
    flexion = up * (np.pi / 2 + elevation)
    pose.right_arm = _mirror(_rotation(1, azimuth * up, n) @ _rotation(0, -flexion, n))
    pose.right_elbow = np.deg2rad(12.0) * (1.0 - up) + np.deg2rad(3.0) * up
    return pose


def _clapping(p: Performance, t: np.ndarray) -> _Pose:
    pose, n = _rest(len(t)), len(t)
    closed = ((1.0 - np.cos(_cycle(p, t, 2.0))) / 2.0) ** 2  # brief contacts
    # Upper arms forward and down, forearms forward; turning the upper arms inwards brings the hands together.
    inward = np.deg2rad(10.0 + 38.0 * closed * p.amplitude)
    shoulder = _rotation(1, -inward, n) @ _rotation(0, np.deg2rad(-35.0), n)
    pose.left_arm, pose.right_arm = shoulder, _mirror(shoulder)
    pose.left_elbow = pose.right_elbow = np.full(n, np.deg2rad(75.0))
    return pose


def _jumping_jacks(p: Performance, t: np.ndarray) -> _Pose:
    pose, n = _rest(len(t)), len(t)
    angle = _cycle(p, t, 0.9)
    out = (1.0 - np.cos(angle)) / 2.0
    shoulder = _rotation(2, np.deg2rad(12.0 + 148.0 * out * p.amplitude), n)
    pose.left_arm, pose.right_arm = shoulder, _mirror(shoulder)
    pose.left_elbow = pose.right_elbow = np.full(n, np.deg2rad(8.0))
    pose.spread = np.deg2rad(2.0 + 13.0 * out * p.amplitude)
    pose.hop = 0.06 * p.amplitude * np.abs(np.sin(angle))
    pose.planted = False
    return pose


def _squats(p: Performance, t: np.ndarray) -> _Pose:
    pose, n = _rest(len(t)), len(t)
    depth = p.amplitude * (1.0 - np.cos(_cycle(p, t, 0.45))) / 2.0
    pose.thigh, pose.shin, pose.lean = (
        np.deg2rad(90.0 * depth),
        np.deg2rad(30.0 * depth),
        np.deg2rad(35.0 * depth),
    )
    shoulder = _rotation(0, -np.deg2rad(85.0) * np.minimum(depth * 1.5, 1.0), n)  # arms forward
    pose.left_arm, pose.right_arm = shoulder, _mirror(shoulder)
    pose.left_elbow = pose.right_elbow = np.full(n, np.deg2rad(5.0))
    return pose


def _arm_circles_clockwise(p: Performance, t: np.ndarray) -> _Pose:
    pose, n = _rest(len(t)), len(t)
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
    pose.right_arm = _from_to(forward, direction) @ _rotation(0, -np.pi / 2, n)
    pose.right_elbow = np.full(n, np.deg2rad(4.0))
    return pose


def _sit_down(p: Performance, t: np.ndarray) -> _Pose:
    pose, n = _rest(len(t)), len(t)
    down = _once(p, n)
    pose.thigh, pose.shin = np.deg2rad(88.0 * down), np.deg2rad(6.0 * down)
    # The trunk leans forward while the weight moves back, and stays a little forward once seated.
    pose.lean = np.deg2rad(35.0 * p.amplitude * np.sin(np.pi * down) + 6.0 * down)
    shoulder = _rotation(0, -np.deg2rad(15.0) * down, n) @ _rotation(2, np.deg2rad(8.0), n)  # hands to thighs
    pose.left_arm, pose.right_arm = shoulder, _mirror(shoulder)
    pose.left_elbow = pose.right_elbow = np.deg2rad(12.0 + 43.0 * down)
    return pose


_ACTIONS: dict[str, Callable[[Performance, np.ndarray], _Pose]] = {
    "waving": _waving,
    "pointing": _pointing,
    "clapping": _clapping,
    "jumping_jacks": _jumping_jacks,
    "squats": _squats,
    "arm_circles_clockwise": _arm_circles_clockwise,
    "sit_down": _sit_down,
}


def _body_points(pose: _Pose, p: Performance) -> dict[str, np.ndarray]:
    """Every point of the body model for ``pose``: name -> [T, 3] in the body frame (metres, scale 1)."""
    n = len(pose.lean)
    t = np.arange(n) / FPS
    lean = _rotation(0, pose.lean + np.deg2rad(1.5) * np.sin(2 * np.pi * (p.sway + 0.3 * t)), n)
    points: dict[str, np.ndarray] = {}
    legs = {}
    zeros = np.zeros(n)
    thigh_down = np.stack([zeros, -np.cos(pose.thigh), np.sin(pose.thigh)], axis=1)  # knee forward of the hip
    shin_down = np.stack([zeros, -np.cos(pose.shin), -np.sin(pose.shin)], axis=1)  # ankle behind the knee
    for side, sign in (("left", 1.0), ("right", -1.0)):
        spread = _rotation(2, sign * pose.spread, n)
        thigh, shin = _apply(spread, thigh_down) * _THIGH, _apply(spread, shin_down) * _SHIN
        hip = _apply(lean, _TRUNK_POINTS[f"{side}_hip"])  # from the pelvis centre
        legs[side] = (hip, thigh, shin, spread)
    if pose.planted:
        # The ankles stay where they stand: the pelvis is where the legs put it.
        stand = {
            side: np.array([sign * _HIP_HALF_WIDTH, _ANKLE_HEIGHT, 0.0])
            for side, sign in (("left", 1), ("right", -1))
        }
        pelvis = np.mean([stand[s] - hip - thigh - shin for s, (hip, thigh, shin, _) in legs.items()], axis=0)
    else:
        lowest = np.min([(hip + thigh + shin)[:, 1] for hip, thigh, shin, _ in legs.values()], axis=0)
        pelvis = np.zeros((n, 3))
        pelvis[:, 1] = _ANKLE_HEIGHT - lowest + pose.hop
    for name, offset in _TRUNK_POINTS.items():
        points[name] = pelvis + _apply(lean, offset)
    for side, (_, thigh, shin, spread) in legs.items():
        points[f"{side}_knee"] = points[f"{side}_hip"] + thigh
        points[f"{side}_ankle"] = points[f"{side}_knee"] + shin
        points[f"{side}_foot"] = points[f"{side}_ankle"] + _apply(spread, _FOOT)
    for side, shoulder, elbow in (
        ("left", pose.left_arm, pose.left_elbow),
        ("right", pose.right_arm, pose.right_elbow),
    ):
        forearm = shoulder @ _rotation(0, -elbow, n)
        down = np.array([0.0, -1.0, 0.0])
        points[f"{side}_elbow"] = points[f"{side}_shoulder"] + _apply(shoulder, down) * _UPPER_ARM
        points[f"{side}_wrist"] = points[f"{side}_elbow"] + _apply(forearm, down) * _FOREARM
        points[f"{side}_hand"] = points[f"{side}_wrist"] + _apply(forearm, down) * _WRIST_TO_HAND
        points[f"{side}_hand_tip"] = points[f"{side}_hand"] + _apply(forearm, down) * _HAND_TO_TIP
        points[f"{side}_thumb"] = points[f"{side}_hand"] + _apply(forearm, _THUMB)
    return points


def _check_layout(layout: str | Layout) -> Layout:
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
    if class_name not in _SOURCE:
        raise ConfigError(f"unknown skeleton class {class_name!r}; choose from {', '.join(SKELETON_CLASSES)}")
    layout = _check_layout(layout)
    source, backwards = _SOURCE[class_name]
    t = np.arange(performance.num_frames) / FPS
    points = _body_points(_ACTIONS[source](performance, t), performance)
    model = np.stack([points[name] for name in layout.joints], axis=1)  # [T, V, 3]
    out = np.empty_like(model)
    out[:, layout.center] = model[:, layout.center] * performance.scale
    for v in np.argsort(layout.depth(), kind="stable"):
        if v == layout.center:
            continue
        parent = layout.parents[v]
        factor = performance.scale * performance.proportions[_segment(layout.joints[v])]
        out[:, v] = out[:, parent] + (model[:, v] - model[:, parent]) * factor
    return out[::-1].copy() if backwards else out


def camera_view(joints: np.ndarray, performance: Performance, dims: Literal[2, 3] = 3) -> np.ndarray:
    """Body-frame joints as the camera sees them.

    The body turns by ``performance.yaw`` about the vertical axis and stands ``distance`` metres in front of a
    camera ``camera_height`` metres above the floor, facing it.

    Args:
        joints: [T, V, 3] body-frame metres (:func:`animate`).
        dims: 3: camera-space metres (x to the camera's right, y up, z away from the camera); 2: pixels of a
            :data:`IMAGE_SHAPE` pinhole image of focal length :data:`FOCAL_LENGTH` (x to the right, y down).

    Returns:
        [T, V, dims] float64.
    """
    turn = _rotation(1, performance.yaw, 1)[0]
    # Facing the camera: the performer's left is the camera's right, the performer's forward its -z.
    to_camera = np.diag([1.0, 1.0, -1.0]) @ turn
    cam = joints @ to_camera.T + np.array(
        [performance.lateral, -performance.camera_height, performance.distance]
    )
    if dims == 3:
        return cam
    if dims != 2:
        raise ConfigError(f"dims must be 2 or 3, got {dims!r}")
    height, width = IMAGE_SHAPE
    u = width / 2 + FOCAL_LENGTH * cam[..., 0] / cam[..., 2]
    v = height / 2 - FOCAL_LENGTH * cam[..., 1] / cam[..., 2]
    return np.stack([u, v], axis=-1)


def render_skeleton(
    class_name: str,
    rng: np.random.Generator,
    *,
    layout: str | Layout = "ntu25",
    dims: Literal[2, 3] = 3,
    frames: tuple[int, int] = (48, 96),
    noise: float = 0.01,
    missing: float = 0.02,
    max_yaw: float = 60.0,
) -> dict[str, Any]:
    """One sample of ``class_name`` as a PYSKL record.

    A sample of the second class of a pair (:data:`SKELETON_PAIRS`) is the sample its partner gets from the
    same ``rng`` state, reversed in time, scores and missing joints included.

    Args:
        class_name: one of :data:`SKELETON_CLASSES`.
        rng: the source of all the sample's randomness (:func:`~vidact.data.synth.clips.clip_rng`).
        layout: ``"ntu25"`` or ``"coco17"``.
        dims: 3 (camera-space metres) or 2 (pixels), see :func:`camera_view`.
        frames: the inclusive range of the number of frames T.
        noise: standard deviation of the Gaussian jitter of every joint, metres (in 3D, before projecting).
        missing: probability of each joint of each frame to be missing: coordinates 0 and score 0.
        max_yaw: the largest turn about the vertical axis, degrees.

    Returns:
        ``{"keypoint": [1, T, V, dims] float32, "total_frames": T, "layout": the layout's name}``, and in 2D
        ``"keypoint_score"`` [1, T, V] float32 (U(0.6, 1), 0 where missing) and ``"img_shape"``,
        ``"original_shape"`` (1080, 1920). 3D records have no scores, as NTU RGB+D's.

    Raises:
        ConfigError: an unknown class, an unsupported layout, or an option out of range.
    """
    if class_name not in _SOURCE:
        raise ConfigError(f"unknown skeleton class {class_name!r}; choose from {', '.join(SKELETON_CLASSES)}")
    layout = _check_layout(layout)
    if dims not in (2, 3):
        raise ConfigError(f"dims must be 2 or 3, got {dims!r}")
    if not 2 <= frames[0] <= frames[1] or noise < 0 or not 0 <= missing < 1 or not 0 <= max_yaw <= 90:
        raise ConfigError(
            f"need 2 <= frames[0] <= frames[1], noise >= 0, 0 <= missing < 1 and 0 <= max_yaw <= 90; got "
            f"frames={frames}, noise={noise}, missing={missing}, max_yaw={max_yaw}"
        )
    source, backwards = _SOURCE[class_name]
    performance = draw_performance(rng, frames=frames, max_yaw=max_yaw)
    joints = animate(source, performance, layout)  # [T, V, 3]
    shape = joints.shape[:2]
    joints = joints + rng.standard_normal(joints.shape) * noise
    keypoint = camera_view(joints, performance, dims)
    gone = rng.random(shape) < missing
    keypoint[gone] = 0.0
    # A pose estimator's confidences in 2D, drawn last: 2D and 3D data sets of the same seed hold the same motions.
    score = rng.uniform(0.6, 1.0, shape) if dims == 2 else None
    if score is not None:
        score[gone] = 0.0
    if backwards:
        keypoint = keypoint[::-1]
        score = None if score is None else score[::-1]
    record: dict[str, Any] = {
        "keypoint": np.ascontiguousarray(keypoint[None], dtype=np.float32),
        "total_frames": int(shape[0]),
        "layout": layout.name,
    }
    if score is not None:
        record["keypoint_score"] = np.ascontiguousarray(score[None], dtype=np.float32)
        record["img_shape"] = record["original_shape"] = IMAGE_SHAPE
    return record


# -- data sets on disk ------------------------------------------------------------------------------------------
#: The files :func:`synthesize_skeletons` writes in its folder.
_OURS = (ANNOTATIONS_FILE, "classes.txt", "manifest.json")


@dataclass(frozen=True)
class SkeletonSynthInfo:
    """What :func:`synthesize_skeletons` wrote.

    Attributes:
        root: the data set's folder.
        annotations: its PYSKL annotation pickle.
        classes: class names in label order (the lines of ``classes.txt``).
        samples_per_class: samples per class in each split that was written.
        partners: each reversed pair's classes, both directions.
    """

    root: Path
    annotations: Path
    classes: tuple[str, ...]
    samples_per_class: dict[str, int]
    partners: dict[str, str]

    @property
    def num_samples(self) -> int:
        return len(self.classes) * sum(self.samples_per_class.values())


def _prepare_root(root: Path, overwrite: bool) -> None:
    """Make ``root`` a folder without the data set's files; with ``overwrite``, remove an earlier one's."""
    if root.exists() and not root.is_dir():
        raise DatasetError(f"{root}: exists and is not a folder")
    existing = sorted(p.name for p in root.iterdir()) if root.is_dir() else []
    if existing and not overwrite:
        raise DatasetError(f"{root}: folder is not empty; choose a new one or pass overwrite=True")
    foreign = [name for name in existing if name not in _OURS]
    if foreign:
        raise DatasetError(
            f"{root}: holds {', '.join(foreign)}, which synthesize_skeletons did not write; refusing to overwrite"
        )
    for name in existing:
        (root / name).unlink()
    root.mkdir(parents=True, exist_ok=True)


def synthesize_skeletons(
    root: str | os.PathLike,
    *,
    samples_per_class: int | Mapping[str, int] | None = None,
    layout: str = "ntu25",
    dims: Literal[2, 3] = 3,
    frames: tuple[int, int] = (48, 96),
    noise: float = 0.01,
    missing: float = 0.02,
    max_yaw: float = 60.0,
    seed: int = 0,
    classes: Sequence[str] | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> SkeletonSynthInfo:
    """Write a synthetic skeleton data set: ``root/annotations.pkl``, ``root/classes.txt``, ``root/manifest.json``.

    Sample ``index`` of ``class`` in ``split`` is ``render_skeleton(class, clip_rng(seed, split, class, index),
    ...)``, so a data set is the same whatever other classes or splits are written with it. Its record's
    ``frame_dir`` is ``<class>_<split>_<index:04d>`` and ``label`` the class's line in ``classes.txt``; the
    pickle's ``split`` lists each split's ``frame_dir`` names (PYSKL's layout,
    :func:`vidact.data.skeleton.formats.load_annotations`). ``manifest.json`` holds the parameters, the
    classes, each reversed class's ``partner``, the pairs, and the chance levels (``chance``: one over the
    classes; ``pair_chance``: 1/2, the accuracy within a pair of a model that sees frames but not their order).

    Args:
        root: the output folder; must be missing or empty (see ``overwrite``).
        samples_per_class: samples per class for each split (default :data:`DEFAULT_SAMPLES_PER_CLASS`); an
            int gives every split that many; splits left out or at 0 are not written.
        layout, dims, frames, noise, missing, max_yaw: as :func:`render_skeleton`.
        seed: the data set's seed.
        classes: the classes to write, a subset of :data:`SKELETON_CLASSES` (default all), in this order.
        overwrite: replace an earlier data set in ``root`` (only a folder holding nothing but the three files
            is cleared).
        progress: show a progress bar.

    Raises:
        ConfigError: an unknown class or layout, or an option out of range.
        DatasetError: ``root`` is not empty and ``overwrite`` is off, or holds files this function did not write.
    """
    root = Path(root)
    names = tuple(SKELETON_CLASSES if classes is None else classes)
    if not names or len(set(names)) != len(names) or any(n not in _SOURCE for n in names):
        raise ConfigError(
            f"classes must be distinct names from {', '.join(SKELETON_CLASSES)}; got {', '.join(names) or 'none'}"
        )
    counts = split_counts(
        samples_per_class, DEFAULT_SAMPLES_PER_CLASS, name="samples_per_class", unit="sample"
    )
    if seed < 0:
        raise ConfigError(f"seed must be non-negative, got {seed}")
    options = {
        "layout": layout,
        "dims": dims,
        "frames": tuple(frames),
        "noise": noise,
        "missing": missing,
        "max_yaw": max_yaw,
    }
    render_skeleton(
        names[0], np.random.default_rng(0), **options
    )  # every option checked before root is touched
    _prepare_root(root, overwrite)

    records, split = [], {name: [] for name in counts}
    jobs = [
        (s, label, name, i) for s, n in counts.items() for label, name in enumerate(names) for i in range(n)
    ]
    for s, label, name, index in tqdm(jobs, desc="synth skeleton", unit="sample", disable=not progress):
        record = render_skeleton(name, clip_rng(seed, s, name, index), **options)
        record["frame_dir"] = f"{name}_{s}_{index:04d}"
        record["label"] = label
        records.append(record)
        split[s].append(record["frame_dir"])
    annotations = save_pickle({"split": split, "annotations": records}, root / ANNOTATIONS_FILE)

    pairs = {pair: list(members) for pair, members in SKELETON_PAIRS.items() if set(members) <= set(names)}
    partners = {a: b for a, b in pairs.values()} | {b: a for a, b in pairs.values()}
    write_text(root / "classes.txt", "".join(f"{name}\n" for name in names))
    manifest = {
        "generator": "vidact.data.synth.skeleton",
        "kind": "skeleton",
        "classes": list(names),
        "partners": partners,
        "pairs": pairs,
        "samples_per_class": counts,
        "chance": 1 / len(names),
        "pair_chance": 0.5 if pairs else None,
        "params": {
            **options,
            "frames": list(frames),
            "seed": seed,
            "fps": FPS,
            "coordinates": "camera-space metres: x right, y up, z away from the camera"
            if dims == 3
            else f"pixels of a {IMAGE_SHAPE[1]}x{IMAGE_SHAPE[0]} pinhole image, focal length {FOCAL_LENGTH}",
        },
    }
    write_text(root / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return SkeletonSynthInfo(root, annotations, names, counts, partners)
