"""Conversions between skeleton layouts, and MediaPipe's world landmarks placed in a Kinect v2 camera.

Every joint of a target layout is an **affine combination** of source joints (weights summing to one): COCO-17
picks MediaPipe-33 joints, NTU-25's spine, neck, head, hands and feet are points along lines between MediaPipe
landmarks. A conversion is therefore one matrix ``[V_target, V_source]`` (:func:`mapping_matrix`), and the same
matrix maps image coordinates (2D), MediaPipe's metric world coordinates (3D) and camera coordinates alike
(:func:`map_joints`); a composite joint's score is the lowest score of the joints it is made from
(:func:`map_scores`).

    >>> coco = map_joints(mp_pixels, "mediapipe33", "coco17")                # [T, 33, 2] -> [T, 17, 2]
    >>> ntu = mediapipe_to_ntu25(mp_world, mp_pixels, (1080, 1920))           # [T, 33, 3] -> [T, 25, 3], metres

**NTU-25 in a Kinect camera.** Models trained on NTU RGB+D read Kinect v2 camera-space coordinates in metres
(x, y up, z away from the camera). MediaPipe's world landmarks are metres too, but hip-centred and y-down. Each
step of :func:`mediapipe_to_ntu25` is a small function of its own, so its variants can be measured one by one:

1. :func:`solve_camera_offset`: where the hips are in front of the camera, found once per clip by linear least
   squares so that the world landmarks, moved there, project onto the image landmarks through a pinhole camera
   (focal length :func:`kinect_focal`: the Kinect v2 colour camera's, scaled to the image's width);
2. :func:`map_joints` with :func:`mapping_matrix` and a :class:`NtuGeometry`: joints placed the Kinect way
   (:data:`KINECT_GEOMETRY`) or at the plain MediaPipe landmarks (:data:`PLAIN_GEOMETRY`);
3. :func:`to_kinect_axes`: x and y negated (a half turn about z into Kinect's axes; ``flip_x=False`` mirrors).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .layouts import Layout, get_layout

__all__ = [
    "NtuGeometry",
    "KINECT_GEOMETRY",
    "PLAIN_GEOMETRY",
    "KINECT_V2_COLOR_FOCAL",
    "mapping_matrix",
    "map_joints",
    "map_scores",
    "kinect_focal",
    "project",
    "solve_camera_offset",
    "to_kinect_axes",
    "mediapipe_to_ntu25",
]

#: Focal length in pixels of the Kinect v2 colour camera (1920 x 1080), the camera NTU RGB+D was filmed with
#: (the factory calibration libfreenect2 uses by default; about 84 degrees across).
KINECT_V2_COLOR_FOCAL = 1081.37
_KINECT_V2_COLOR_WIDTH = 1920


@dataclass(frozen=True)
class NtuGeometry:
    """Where NTU-25's joints lie relative to MediaPipe-33's landmarks (each a fraction along a line).

    Kinect v2 puts some joints elsewhere than MediaPipe: its hips are closer together, its spine-shoulder joint
    sits above the shoulders' midpoint, its head joint is at the centre of the skull, and its hand, hand-tip
    and thumb points lie further from the wrist than MediaPipe's pose landmarks of the hand. "Shoulder mid",
    "ear mid" and "knuckle mid" are midpoints of the left and right shoulders, ears, and of a hand's index and
    pinky landmarks.

    Attributes:
        hip_scale: the hips' distance from their midpoint, as a fraction of MediaPipe's.
        spine_shoulder: spine shoulder = shoulder mid + this x (ear mid - shoulder mid).
        spine_mid: spine mid = spine base + this x (spine shoulder - spine base).
        neck: neck = shoulder mid + this x (ear mid - shoulder mid).
        head: head = shoulder mid + this x (ear mid - shoulder mid).
        hand: hand = wrist + this x (knuckle mid - wrist).
        hand_tip: hand tip = wrist + this x (index - wrist).
        thumb: thumb = wrist + this x (MediaPipe's thumb - wrist).
        foot: foot = ankle + this x (foot index - ankle).
    """

    hip_scale: float
    spine_shoulder: float
    spine_mid: float
    neck: float
    head: float
    hand: float
    hand_tip: float
    thumb: float
    foot: float


#: Kinect v2's proportions, measured on shared/data: the mean bone lengths of the NTU RGB+D sample skeleton
#: (``ntu60_sample_C3_T300_V25_M2.npy``) over those of MediaPipe's world landmarks on the NTU clip
#: (``S001C001P001R001A001``, another performer). Hips 0.126 m apart vs 0.220 m; spine shoulder 0.027 m above
#: the shoulder mid, neck 0.076 m and head 0.212 m above it, with MediaPipe's shoulder mid to ear mid 0.191 m;
#: spine mid 0.57 of the way up the spine; wrist to hand 0.073 m vs 0.070 m to the knuckle mid, to hand tip
#: 0.141 m vs 0.078 m to the index, to thumb 0.084 m vs 0.023 m; ankle to foot 0.115 m vs 0.167 m.
KINECT_GEOMETRY = NtuGeometry(
    hip_scale=0.57,
    spine_shoulder=0.14,
    spine_mid=0.57,
    neck=0.54,
    head=1.25,
    hand=1.05,
    hand_tip=1.8,
    thumb=3.7,
    foot=0.69,
)

#: NTU-25 at MediaPipe's own landmarks: hips as they are, spine shoulder at the shoulder mid, spine mid
#: half-way, neck half-way to the ear mid, head at the ear mid, hand at the knuckle mid, hand tip at the index,
#: thumb at the thumb, foot at the foot index.
PLAIN_GEOMETRY = NtuGeometry(
    hip_scale=1.0,
    spine_shoulder=0.0,
    spine_mid=0.5,
    neck=0.5,
    head=1.0,
    hand=1.0,
    hand_tip=1.0,
    thumb=1.0,
    foot=1.0,
)

# COCO-17 joints are MediaPipe-33 landmarks of the same name
_COCO_FROM_MEDIAPIPE = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)


def _mediapipe_to_ntu25(g: NtuGeometry) -> dict[str, dict[str, float]]:
    """Each NTU-25 joint as ``{MediaPipe landmark: weight}`` (weights summing to one)."""

    def mix(*terms: tuple[float, dict[str, float]]) -> dict[str, float]:
        out: dict[str, float] = {}
        for scale, combo in terms:
            for name, w in combo.items():
                out[name] = out.get(name, 0.0) + scale * w
        return {name: w for name, w in out.items() if w != 0.0}

    def at(name: str) -> dict[str, float]:
        return {name: 1.0}

    def along(a: dict[str, float], b: dict[str, float], t: float) -> dict[str, float]:
        """a + t (b - a)."""
        return mix((1.0 - t, a), (t, b))

    hip_mid = along(at("left_hip"), at("right_hip"), 0.5)
    shoulder_mid = along(at("left_shoulder"), at("right_shoulder"), 0.5)
    ear_mid = along(at("left_ear"), at("right_ear"), 0.5)
    spine_shoulder = along(shoulder_mid, ear_mid, g.spine_shoulder)
    joints = {
        "spine_base": hip_mid,
        "spine_mid": along(hip_mid, spine_shoulder, g.spine_mid),
        "neck": along(shoulder_mid, ear_mid, g.neck),
        "head": along(shoulder_mid, ear_mid, g.head),
        "spine_shoulder": spine_shoulder,
    }
    for side in ("left", "right"):
        wrist = at(f"{side}_wrist")
        knuckle_mid = along(at(f"{side}_index"), at(f"{side}_pinky"), 0.5)
        joints |= {
            f"{side}_shoulder": at(f"{side}_shoulder"),
            f"{side}_elbow": at(f"{side}_elbow"),
            f"{side}_wrist": wrist,
            f"{side}_hand": along(wrist, knuckle_mid, g.hand),
            f"{side}_hand_tip": along(wrist, at(f"{side}_index"), g.hand_tip),
            f"{side}_thumb": along(wrist, at(f"{side}_thumb"), g.thumb),
            f"{side}_hip": along(hip_mid, at(f"{side}_hip"), g.hip_scale),
            f"{side}_knee": at(f"{side}_knee"),
            f"{side}_ankle": at(f"{side}_ankle"),
            f"{side}_foot": along(at(f"{side}_ankle"), at(f"{side}_foot_index"), g.foot),
        }
    return joints


def mapping_matrix(
    source: str | Layout, target: str | Layout, *, geometry: NtuGeometry = KINECT_GEOMETRY
) -> np.ndarray:
    """The matrix that turns ``source`` joints into ``target`` joints: ``target = matrix @ source``.

    Known conversions: any layout to itself (identity), ``mediapipe33`` to ``coco17`` (picks) and to ``ntu25``
    (affine combinations placed by ``geometry``).

    Args:
        source, target: layout names (or :class:`~vidact.data.skeleton.layouts.Layout`).
        geometry: where NTU-25's composite joints lie (``mediapipe33`` to ``ntu25`` only).

    Returns:
        [V_target, V_source] float64; every row sums to one.

    Raises:
        ValueError: no conversion between the two layouts.
    """
    src, dst = get_layout(source), get_layout(target)
    if src.name == dst.name:
        return np.eye(src.num_joints)
    if src.name == "mediapipe33" and dst.name == "coco17":
        combos = {name: {name: 1.0} for name in _COCO_FROM_MEDIAPIPE}
    elif src.name == "mediapipe33" and dst.name == "ntu25":
        combos = _mediapipe_to_ntu25(geometry)
    else:
        raise ValueError(
            f"no conversion from skeleton layout {src.name} to {dst.name}; known: mediapipe33 -> coco17, "
            "mediapipe33 -> ntu25, and any layout to itself"
        )
    matrix = np.zeros((dst.num_joints, src.num_joints))
    for name, combo in combos.items():
        for joint, weight in combo.items():
            matrix[dst.index(name), src.index(joint)] += weight
    return matrix


def map_joints(
    joints: np.ndarray,
    source: str | Layout,
    target: str | Layout,
    *,
    geometry: NtuGeometry = KINECT_GEOMETRY,
) -> np.ndarray:
    """Joints of ``source`` as joints of ``target`` (see :func:`mapping_matrix`).

    Args:
        joints: [..., V_source, C], any coordinates (pixels, 0-1 image coordinates, metres). A frame of zeros
            (nothing detected) stays zeros: every target joint is an affine combination of source joints.
        source, target: layout names.
        geometry: where NTU-25's composite joints lie.

    Returns:
        [..., V_target, C], the dtype of ``joints`` (float64 for integer input).
    """
    joints = np.asarray(joints)
    matrix = mapping_matrix(source, target, geometry=geometry)
    if joints.ndim < 2 or joints.shape[-2] != matrix.shape[1]:
        raise ValueError(
            f"joints of shape {joints.shape} are not [..., {matrix.shape[1]}, C] ({get_layout(source).name})"
        )
    dtype = joints.dtype if np.issubdtype(joints.dtype, np.floating) else np.float64
    return np.einsum("uv,...vc->...uc", matrix, joints).astype(dtype, copy=False)


def map_scores(scores: np.ndarray, source: str | Layout, target: str | Layout) -> np.ndarray:
    """Joint scores of ``source`` as scores of ``target``: the lowest score among the joints each target joint is
    made from (a composite joint is only as sure as its least sure part).

    Args:
        scores: [..., V_source].

    Returns:
        [..., V_target], the dtype of ``scores``.
    """
    scores = np.asarray(scores)
    matrix = mapping_matrix(source, target)  # which joints take part does not depend on the geometry
    if scores.ndim < 1 or scores.shape[-1] != matrix.shape[1]:
        raise ValueError(f"scores of shape {scores.shape} are not [..., {matrix.shape[1]}]")
    parts = matrix != 0  # [V_target, V_source]
    masked = np.where(parts, scores[..., None, :], np.inf)  # [..., V_target, V_source]
    return masked.min(axis=-1).astype(scores.dtype, copy=False)


# -- a camera for NTU-25 ---------------------------------------------------------------------------------------
def kinect_focal(img_shape: Sequence[int]) -> float:
    """The Kinect v2 colour camera's focal length (:data:`KINECT_V2_COLOR_FOCAL` at 1920 pixels wide), scaled to
    an image ``(H, W)`` of the same field of view: in pixels of that image."""
    return KINECT_V2_COLOR_FOCAL * float(img_shape[1]) / _KINECT_V2_COLOR_WIDTH


def project(points: np.ndarray, focal: float, img_shape: Sequence[int]) -> np.ndarray:
    """Pinhole projection of camera-space points (x right, y down, z away, as MediaPipe's axes) to pixels.

    Args:
        points: [..., 3] with z > 0.
        focal: in pixels.
        img_shape: (H, W); the principal point is the image centre (W / 2, H / 2).

    Returns:
        [..., 2] pixel coordinates (x, y).
    """
    points = np.asarray(points, dtype=np.float64)
    center = np.array([img_shape[1] / 2.0, img_shape[0] / 2.0])
    return focal * points[..., :2] / points[..., 2:3] + center


def solve_camera_offset(
    world: np.ndarray,
    image: np.ndarray,
    img_shape: Sequence[int],
    focal: float,
    *,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Where a hip-centred skeleton stands in front of the camera: the offset ``o`` (metres, MediaPipe's axes:
    x right, y down, z away) such that ``world + o`` projects onto ``image`` (:func:`project`).

    One offset for all the frames given, found by linear least squares: for a point ``P = W + o`` seen at
    normalised image coordinates ``(a, b) = ((u - cx) / f, (v - cy) / f)``, projection means
    ``o_x - a o_z = a W_z - W_x`` and ``o_y - b o_z = b W_z - W_y``; each landmark of each frame adds these two
    rows, weighted by ``weights``. Exact for noiseless projections of a rigid offset.

    Args:
        world: [T, V, 3] (or [V, 3]) world landmarks, metres.
        image: [T, V, 2] (or [V, 2]) the same landmarks in pixels.
        img_shape: (H, W) of the image the pixels refer to.
        focal: focal length in pixels.
        weights: [T, V] (or [V]) non-negative weights (MediaPipe's visibility; 0 leaves a landmark out).
            Default: all 1.

    Returns:
        [3] float64 offset.

    Raises:
        ValueError: fewer than two landmarks with positive weight, or their geometry leaves the offset undefined.
    """
    world = np.asarray(world, dtype=np.float64).reshape(-1, 3)
    image = np.asarray(image, dtype=np.float64).reshape(-1, 2)
    if world.shape[0] != image.shape[0]:
        raise ValueError(f"world has {world.shape[0]} landmarks, image {image.shape[0]}")
    w = np.ones(world.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape[0] != world.shape[0]:
        raise ValueError(f"weights has {w.shape[0]} entries for {world.shape[0]} landmarks")
    keep = w > 0
    if keep.sum() < 2:
        raise ValueError("solving the camera offset needs at least two landmarks with positive weight")
    world, image, sqrt_w = world[keep], image[keep], np.sqrt(w[keep])
    a = (image[:, 0] - img_shape[1] / 2.0) / focal
    b = (image[:, 1] - img_shape[0] / 2.0) / focal
    n = world.shape[0]
    rows = np.zeros((2 * n, 3))
    rows[:n, 0], rows[:n, 2] = 1.0, -a
    rows[n:, 1], rows[n:, 2] = 1.0, -b
    rhs = np.concatenate([a * world[:, 2] - world[:, 0], b * world[:, 2] - world[:, 1]])
    sw = np.concatenate([sqrt_w, sqrt_w])
    offset, _, rank, _ = np.linalg.lstsq(rows * sw[:, None], rhs * sw, rcond=None)
    if rank < 3:
        raise ValueError(
            "the landmarks do not determine the camera offset (all seen along one line of sight)"
        )
    return offset


def to_kinect_axes(points: np.ndarray, *, flip_x: bool = True) -> np.ndarray:
    """MediaPipe's camera axes (x right, y down, z away) to Kinect v2 camera space (y up, z away).

    Args:
        points: [..., 3].
        flip_x: negate x as well as y (the default): Kinect's x grows to the sensor's left, so MediaPipe's
            axes become Kinect's by a half turn about z. The real NTU sample agrees (a person facing the
            sensor has the left shoulder at the smaller x). ``False`` negates y only, which mirrors the
            skeleton; on the NTU clip both put "drink water" first (p 0.65 with the flip, 0.63 without; README,
            "Skeletons").

    Returns:
        [..., 3], the dtype of ``points``.
    """
    signs = np.array([-1.0 if flip_x else 1.0, -1.0, 1.0], dtype=np.asarray(points).dtype)
    return np.asarray(points) * signs


def mediapipe_to_ntu25(
    world: np.ndarray,
    image: np.ndarray | None = None,
    img_shape: Sequence[int] | None = None,
    *,
    scores: np.ndarray | None = None,
    found: np.ndarray | None = None,
    camera: Literal["solve", "per_frame", "none"] = "solve",
    focal: float | None = None,
    kinect_joints: bool = True,
    geometry: NtuGeometry | None = None,
    flip_x: bool = True,
) -> np.ndarray:
    """MediaPipe-33 world landmarks of one person as NTU-25 joints in a Kinect v2 camera space (metres).

    What a prototype found on the NTU clip (one clip: hints, not truths): an NTU-trained EfficientGCN named the
    clip's action only with y flipped up, a fixed offset putting the skeleton in front of the camera (solved
    once per clip; solving per frame added jitter) and joints placed the Kinect way; hip-centred input ranked it
    lower. The defaults follow that; every step is an argument so variants can be measured.

    Args:
        world: [T, 33, 3] MediaPipe world landmarks (metres, hip-centred, x right, y down, z away); frames where
            nothing was found are zeros.
        image: [T, 33, 2] the same landmarks in pixels of an image of ``img_shape``; needed by ``camera="solve"``
            and ``"per_frame"``.
        img_shape: (H, W) of that image.
        scores: [T, 33] landmark visibilities, the weights of the camera solve (default: all 1 where found).
        found: [T] bool, the frames with a detection (default: the frames whose world landmarks are not all zero).
            Frames not found come out as zeros (NTU's padding).
        camera: ``"solve"``: one offset per clip (:func:`solve_camera_offset` over every found frame);
            ``"per_frame"``: one per frame; ``"none"``: stay hip-centred.
        focal: the camera's focal length in pixels (default :func:`kinect_focal` of ``img_shape``).
        kinect_joints: place joints the Kinect way (:data:`KINECT_GEOMETRY`) or at MediaPipe's landmarks
            (:data:`PLAIN_GEOMETRY`).
        geometry: an explicit :class:`NtuGeometry` (overrides ``kinect_joints``).
        flip_x: negate x too, the half turn into Kinect's axes (default; ``False`` mirrors the skeleton, see
            :func:`to_kinect_axes`).

    Returns:
        [T, 25, 3] float32, Kinect camera space (x, y up, z away), metres.

    Raises:
        ValueError: bad shapes, or ``camera`` solving without ``image`` and ``img_shape``.
    """
    world = np.asarray(world, dtype=np.float64)
    if world.ndim != 3 or world.shape[1:] != (33, 3):
        raise ValueError(f"world landmarks of shape {world.shape} are not [T, 33, 3]")
    if camera not in ("solve", "per_frame", "none"):
        raise ValueError(f"camera must be 'solve', 'per_frame' or 'none', got {camera!r}")
    if found is None:
        found = np.abs(world).reshape(world.shape[0], -1).max(axis=1) > 0
    found = np.asarray(found, dtype=bool).reshape(world.shape[0])
    out = np.zeros((world.shape[0], 25, 3), dtype=np.float32)
    if not found.any():
        return out
    if camera != "none":
        if image is None or img_shape is None:
            raise ValueError(f"camera={camera!r} needs the image landmarks and img_shape")
        image = np.asarray(image, dtype=np.float64)
        if image.shape != world.shape[:2] + (2,):
            raise ValueError(f"image landmarks of shape {image.shape} are not [T, 33, 2] like world")
        f = kinect_focal(img_shape) if focal is None else float(focal)
        w = np.ones(world.shape[:2]) if scores is None else np.asarray(scores, dtype=np.float64)
        w = w * found[:, None]
        if camera == "solve":
            world = world + solve_camera_offset(world, image, img_shape, f, weights=w)
        else:
            world = world.copy()
            for t in np.flatnonzero(found):
                world[t] += solve_camera_offset(world[t], image[t], img_shape, f, weights=w[t])
    if geometry is None:
        geometry = KINECT_GEOMETRY if kinect_joints else PLAIN_GEOMETRY
    joints = to_kinect_axes(map_joints(world, "mediapipe33", "ntu25", geometry=geometry), flip_x=flip_x)
    out[found] = joints[found]
    return out
