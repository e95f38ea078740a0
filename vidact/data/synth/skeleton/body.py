"""The body model of the skeleton generator: a standing adult's points, posed by forward kinematics.

Body frame: x to the performer's left, y up, z forward (where the performer faces); metres; the origin on the
floor between the feet of the standing pose. A :class:`Pose` holds the joint angles over T frames (shoulder
rotations, elbow bends, thigh and shin angles, the legs' spread, the trunk's lean, a hop);
:func:`body_points` turns it into every point the layouts name (``ntu25``'s and ``coco17``'s joints). The
rotation helpers are vectorised over frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "SEGMENTS",
    "segment",
    "rotation",
    "from_to",
    "apply_rotation",
    "smoothstep",
    "Pose",
    "mirror",
    "rest_pose",
    "body_points",
]

# -- the body model ------------------------------------------------------------------------------------------
# Dimensions of an adult about 1.78 m tall (scale 1).
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
SEGMENTS: tuple[str, ...] = (
    "spine_base", "spine_mid", "spine_shoulder", "neck", "head", "nose", "eye", "ear", "shoulder", "elbow",
    "wrist", "hand", "hand_tip", "thumb", "hip", "knee", "ankle", "foot",
)  # fmt: skip
_MIRROR = np.diag([-1.0, 1.0, 1.0])  # the left arm's rotations, conjugated by it, are the right arm's


def segment(joint: str) -> str:
    return joint.removeprefix("left_").removeprefix("right_")


# -- rotations (vectorised over frames) -----------------------------------------------------------------------
def rotation(axis: int, angle: np.ndarray | float, frames: int) -> np.ndarray:
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


def from_to(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotations taking unit vector ``a`` [3] to unit vectors ``b`` [T, 3]: [T, 3, 3]
    (Rodrigues' formula; ``b`` must not be ``-a``)."""
    v = np.cross(a, b)  # [T, 3]
    c = b @ a  # [T]
    k = np.zeros((len(b), 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    k[:, 1, 0], k[:, 2, 0], k[:, 2, 1] = v[:, 2], -v[:, 1], v[:, 0]
    return np.eye(3) + k + (k @ k) / (1.0 + c)[:, None, None]


def apply_rotation(rotations: np.ndarray, vector: np.ndarray | Sequence[float]) -> np.ndarray:
    """Rotations [T, 3, 3] applied to one vector [3] or to one vector per frame [T, 3]: [T, 3]."""
    vector = np.asarray(vector, dtype=np.float64)
    if vector.ndim == 1:
        return rotations @ vector
    return np.einsum("tij,tj->ti", rotations, vector)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, a smooth S in between."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


# -- poses ------------------------------------------------------------------------------------------------------
@dataclass
class Pose:
    """A body's configuration over T frames (angles in radians).

    ``left_arm``, ``right_arm``: shoulder rotations [T, 3, 3] in the body frame, applied to the arm hanging down
    (the identity: hanging, palm to the thigh; the right arm of a symmetric pose is the left one's
    :func:`mirror`); ``*_elbow``: elbow bends [T] (the forearm turning forward from the upper arm's line);
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


def mirror(rotations: np.ndarray) -> np.ndarray:
    """The left arm's shoulder rotations [T, 3, 3] as the right arm's (mirrored through the body's midplane)."""
    return _MIRROR @ rotations @ _MIRROR


def rest_pose(frames: int) -> Pose:
    """Standing, arms hanging slightly away from the body, elbows slightly bent."""
    arm = rotation(2, np.deg2rad(8.0), frames)
    elbow = np.full(frames, np.deg2rad(12.0))
    zeros = np.zeros(frames)
    return Pose(arm, elbow, mirror(arm), elbow.copy(), zeros, zeros, zeros, zeros, zeros)


def body_points(pose: Pose, sway: float, fps: float) -> dict[str, np.ndarray]:
    """Every point of the body model for ``pose``: name -> [T, 3] in the body frame (metres, scale 1).

    Args:
        pose: the body's configuration over T frames.
        sway: phase of the trunk's slow sway (1.5 degrees at 0.3 Hz), in cycles.
        fps: frames per second of ``pose``.
    """
    n = len(pose.lean)
    t = np.arange(n) / fps
    lean = rotation(0, pose.lean + np.deg2rad(1.5) * np.sin(2 * np.pi * (sway + 0.3 * t)), n)
    points: dict[str, np.ndarray] = {}
    legs = {}
    zeros = np.zeros(n)
    thigh_down = np.stack([zeros, -np.cos(pose.thigh), np.sin(pose.thigh)], axis=1)  # knee forward of the hip
    shin_down = np.stack([zeros, -np.cos(pose.shin), -np.sin(pose.shin)], axis=1)  # ankle behind the knee
    for side, sign in (("left", 1.0), ("right", -1.0)):
        spread = rotation(2, sign * pose.spread, n)
        thigh, shin = apply_rotation(spread, thigh_down) * _THIGH, apply_rotation(spread, shin_down) * _SHIN
        hip = apply_rotation(lean, _TRUNK_POINTS[f"{side}_hip"])  # from the pelvis centre
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
        points[name] = pelvis + apply_rotation(lean, offset)
    for side, (_, thigh, shin, spread) in legs.items():
        points[f"{side}_knee"] = points[f"{side}_hip"] + thigh
        points[f"{side}_ankle"] = points[f"{side}_knee"] + shin
        points[f"{side}_foot"] = points[f"{side}_ankle"] + apply_rotation(spread, _FOOT)
    for side, shoulder, elbow in (
        ("left", pose.left_arm, pose.left_elbow),
        ("right", pose.right_arm, pose.right_elbow),
    ):
        forearm = shoulder @ rotation(0, -elbow, n)
        down = np.array([0.0, -1.0, 0.0])
        points[f"{side}_elbow"] = points[f"{side}_shoulder"] + apply_rotation(shoulder, down) * _UPPER_ARM
        points[f"{side}_wrist"] = points[f"{side}_elbow"] + apply_rotation(forearm, down) * _FOREARM
        points[f"{side}_hand"] = points[f"{side}_wrist"] + apply_rotation(forearm, down) * _WRIST_TO_HAND
        points[f"{side}_hand_tip"] = points[f"{side}_hand"] + apply_rotation(forearm, down) * _HAND_TO_TIP
        points[f"{side}_thumb"] = points[f"{side}_hand"] + apply_rotation(forearm, _THUMB)
    return points
