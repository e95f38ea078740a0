"""One skeleton sample: a class's motion seen by a camera, with joint noise and missing joints, as a PYSKL
record (:func:`render_skeleton`, what :func:`~vidact.data.synth.clips.render_clip` is for videos).

Coordinates are camera-space metres for ``dims=3`` (Kinect v2's convention: x to the right, y up, z away from
the camera, as NTU RGB+D stores them) or pixels of a 1920 x 1080 pinhole camera for ``dims=2``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from ....errors import ConfigError
from ...skeleton.layouts import Layout
from .body import rotation
from .motion import Performance, animate, check_layout, draw_performance, played_as

__all__ = ["IMAGE_SHAPE", "FOCAL_LENGTH", "camera_view", "render_skeleton"]

#: ``dims=2``: (height, width) of the image the joints are projected onto, and the focal length in pixels
#: (close to Kinect v2's colour camera).
IMAGE_SHAPE: tuple[int, int] = (1080, 1920)
FOCAL_LENGTH = 1060.0


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
    turn = rotation(1, performance.yaw, 1)[0]
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
    source, backwards = played_as(class_name)
    layout = check_layout(layout)
    if dims not in (2, 3):
        raise ConfigError(f"dims must be 2 or 3, got {dims!r}")
    if not 2 <= frames[0] <= frames[1] or noise < 0 or not 0 <= missing < 1 or not 0 <= max_yaw <= 90:
        raise ConfigError(
            f"need 2 <= frames[0] <= frames[1], noise >= 0, 0 <= missing < 1 and 0 <= max_yaw <= 90; got "
            f"frames={frames}, noise={noise}, missing={missing}, max_yaw={max_yaw}"
        )
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
