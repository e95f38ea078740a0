"""Skeleton sampling and transforms: plain functions on numpy arrays, and :func:`skeleton_input`, which chains
them the way a :class:`~vidact.data.skeleton.presets.SkeletonPreset` says.

Arrays follow PYSKL's annotation layout: joints ``[M, T, V, C]`` (persons, frames, joints, coordinates) and
scores ``[M, T, V]``. A missing joint is all zeros (with score 0), and every function here keeps it all zeros,
so that models and their data BN see missing joints the same way whatever the transforms.

=================================  =========================================================================
:func:`uniform_sample_indices`     PYSKL's ``UniformSampleFrames``: T segments, one frame from each (random
                                   in training, fixed in testing); several clips for multi-view testing
:func:`pad_frames`                 the first T frames, zero-padded (EfficientGCN's input)
:func:`select_persons`             the M persons with the highest total score first, zeros for absent ones
:func:`to_image01`                 pixels -> [0, 1] by the image's width and height
:func:`center_joints`              coordinates relative to a joint (of the first frame, or of every frame)
:func:`random_rotate`              3D rotation about the vertical axis (or all three), training only
:func:`random_scale`               a scale factor per axis, training only
=================================  =========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from ...errors import DatasetError
from .layouts import get_layout
from .presets import CENTERS, Center, SkeletonPreset

__all__ = [
    "TEST_SEED",
    "uniform_sample_indices",
    "pad_frames",
    "select_persons",
    "to_image01",
    "present",
    "center_joints",
    "random_rotate",
    "random_scale",
    "skeleton_input",
]

#: The seed of the fixed test-time draws of :func:`uniform_sample_indices` (PYSKL's test seed): in testing, a
#: sequence's frames depend on its length only.
TEST_SEED = 255


# -- frames -----------------------------------------------------------------------------------------------------
def _uniform_clip(num_frames: int, clip_len: int, rng: np.random.Generator) -> np.ndarray:
    """One clip of :func:`uniform_sample_indices`: [clip_len] int64 in [0, num_frames)."""
    if num_frames < clip_len:
        # Too short: the sequence loops, from a random frame.
        start = int(rng.integers(num_frames))
        return (start + np.arange(clip_len)) % num_frames
    if num_frames < 2 * clip_len:
        # Between one and two frames per position: consecutive frames, with num_frames - clip_len random gaps
        # of one frame (each of the clip_len + 1 places between and around the frames gets at most one gap).
        gaps = np.zeros(clip_len + 1, dtype=np.int64)
        gaps[rng.choice(clip_len + 1, num_frames - clip_len, replace=False)] = 1
        return np.arange(clip_len) + np.cumsum(gaps)[:-1]
    # Long: clip_len equal segments (boundaries floor(i * num_frames / clip_len)), a random frame of each.
    bounds = np.arange(clip_len + 1) * num_frames // clip_len
    return bounds[:-1] + (rng.random(clip_len) * np.diff(bounds)).astype(np.int64)


def uniform_sample_indices(
    num_frames: int, clip_len: int, num_clips: int = 1, *, rng: np.random.Generator | None = None
) -> np.ndarray:
    """PYSKL's uniform sampling: each clip takes ``clip_len`` frames spread over the whole sequence.

    A sequence of at least ``2 * clip_len`` frames is cut into ``clip_len`` equal segments and one frame is
    taken from each; a shorter one takes runs of consecutive frames with random one-frame gaps; one shorter
    than ``clip_len`` loops from a random start (frames repeat; the only case whose indices are not sorted).

    Args:
        num_frames: frames of the sequence.
        clip_len: T, frames per clip.
        num_clips: clips, drawn one after the other (multi-view testing averages their scores).
        rng: training draws; ``None``: testing, the draws of a generator seeded with :data:`TEST_SEED`, so
            a sequence's clips depend on its length only.

    Returns:
        [num_clips, clip_len] int64 indices in ``[0, num_frames)``.

    Raises:
        ValueError: a non-positive length, clip length or number of clips.
    """
    if num_frames < 1 or clip_len < 1 or num_clips < 1:
        raise ValueError(
            f"num_frames, clip_len and num_clips must be positive, got {num_frames}, {clip_len}, {num_clips}"
        )
    rng = np.random.default_rng(TEST_SEED) if rng is None else rng
    return np.stack([_uniform_clip(num_frames, clip_len, rng) for _ in range(num_clips)]).astype(np.int64)


def pad_frames(joints: np.ndarray, length: int) -> np.ndarray:
    """The first ``length`` frames, zero-padded at the end when there are fewer.

    Args:
        joints: [M, T, ...] (joints [M, T, V, C] or scores [M, T, V]).

    Returns:
        [M, length, ...], the dtype of ``joints``.
    """
    if length < 1:
        raise ValueError(f"length must be positive, got {length}")
    out = np.zeros((joints.shape[0], length, *joints.shape[2:]), dtype=joints.dtype)
    kept = min(length, joints.shape[1])
    out[:, :kept] = joints[:, :kept]
    return out


def select_persons(
    joints: np.ndarray, scores: np.ndarray | None, persons: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Keep ``persons`` person slots: the ones with the highest total score, the highest first (ties and
    sequences without scores: in their order); missing slots are zeros.

    Args:
        joints: [M, T, V, C].
        scores: [M, T, V], or ``None``.
        persons: P, the slots to keep.

    Returns:
        joints [P, T, V, C] and scores [P, T, V] (``None`` when ``scores`` is).
    """
    if persons < 1:
        raise ValueError(f"persons must be positive, got {persons}")
    m = joints.shape[0]
    if m > persons:
        if scores is None:
            keep = np.arange(persons)
        else:
            total = scores.reshape(m, -1).sum(axis=1)
            keep = np.argsort(-total, kind="stable")[:persons]
        joints = joints[keep]
        scores = None if scores is None else scores[keep]
    if joints.shape[0] < persons:
        missing = persons - joints.shape[0]
        joints = np.concatenate([joints, np.zeros((missing, *joints.shape[1:]), joints.dtype)])
        if scores is not None:
            scores = np.concatenate([scores, np.zeros((missing, *scores.shape[1:]), scores.dtype)])
    return joints, scores


def present(joints: np.ndarray) -> np.ndarray:
    """Which joints are present (not all-zero): [..., V, C] -> bool [..., V]."""
    return np.any(joints != 0, axis=-1)


def to_image01(joints: np.ndarray, img_shape: tuple[int, int]) -> np.ndarray:
    """Pixels -> fractions of the image: x / width, y / height (further channels unchanged; missing joints
    stay zeros).

    Args:
        joints: [..., C] with C >= 2, x and y in pixels.
        img_shape: (height, width) of the image.

    Returns:
        [..., C] float32.
    """
    height, width = img_shape
    if height <= 0 or width <= 0:
        raise ValueError(f"img_shape must be positive (height, width), got {img_shape}")
    out = joints.astype(np.float32, copy=True)
    out[..., 0] /= width
    out[..., 1] /= height
    return out


def center_joints(joints: np.ndarray, joint: int, mode: Center = "first_frame") -> np.ndarray:
    """Coordinates relative to joint ``joint`` (see :data:`CENTERS`); missing joints stay zeros.

    Args:
        joints: [M, T, V, C].
        joint: the index of the centre joint.
        mode: one of :data:`CENTERS`.

    Returns:
        [M, T, V, C] float32. ``first_frame`` with no frame where person 0's centre joint is present, and
        ``every_frame`` on frames without a person's centre joint, leave those coordinates unchanged.
    """
    if mode not in CENTERS:
        raise ValueError(f"center must be one of {', '.join(CENTERS)}, got {mode!r}")
    out = joints.astype(np.float32, copy=True)
    if mode == "none":
        return out
    mask = present(out)[..., None]  # [M, T, V, 1]
    if mode == "first_frame":
        seen = np.flatnonzero(mask[0, :, joint, 0])
        if seen.size:
            out = (out - out[0, seen[0], joint]) * mask
        return out
    centre = out[:, :, joint : joint + 1]  # [M, T, 1, C]
    has_centre = mask[:, :, joint : joint + 1]
    return (out - centre * has_centre) * mask


def _rotation(axis: int, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    i, j = ((1, 2), (2, 0), (0, 1))[axis]
    r = np.eye(3)
    r[i, i] = r[j, j] = c
    r[i, j], r[j, i] = -s, s
    return r


def random_rotate(
    joints: np.ndarray, rng: np.random.Generator, max_degrees: float, axes: Literal["y", "xyz"] = "y"
) -> np.ndarray:
    """Rotate 3D joints about the origin by angles drawn uniformly in ±``max_degrees``.

    Args:
        joints: [..., 3] (y is the vertical axis, as in Kinect's camera space).
        axes: ``"y"``: about the vertical axis only (a change of viewpoint); ``"xyz"``: about x, then y, then z,
            an angle each (PYSKL's ``RandomRot``).

    Returns:
        [..., 3] float32 (zeros, missing joints, stay zeros).
    """
    if joints.shape[-1] != 3:
        raise ValueError(f"random_rotate needs 3D joints [..., 3], got {joints.shape}")
    if axes not in ("y", "xyz"):
        raise ValueError(f"axes must be 'y' or 'xyz', got {axes!r}")
    limit = np.deg2rad(max_degrees)
    if axes == "y":
        r = _rotation(1, rng.uniform(-limit, limit))
    else:
        x, y, z = rng.uniform(-limit, limit, 3)
        r = _rotation(2, z) @ _rotation(1, y) @ _rotation(0, x)
    return (joints @ r.T).astype(np.float32)


def random_scale(joints: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Multiply each coordinate axis by a factor drawn uniformly in ``1 ± amount`` (PYSKL's ``RandomScale``).

    Args:
        joints: [..., C].

    Returns:
        [..., C] float32 (missing joints stay zeros).
    """
    if not 0 <= amount < 1:
        raise ValueError(f"amount must be in [0, 1), got {amount}")
    return (joints * rng.uniform(1 - amount, 1 + amount, joints.shape[-1])).astype(np.float32)


# -- a record to a model's input -------------------------------------------------------------------------------
def skeleton_input(
    record: Mapping[str, Any],
    preset: SkeletonPreset,
    *,
    rng: np.random.Generator | None = None,
    rotate: float = 0.0,
    scale: float = 0.0,
) -> np.ndarray:
    """The model input of one annotation record, made as ``preset`` says.

    In order: the person slots (:func:`select_persons`), the coordinates (``image01``: :func:`to_image01` by
    the record's ``img_shape``), the centring (:func:`center_joints` on the preset's ``center`` and
    ``center_joint``), the frames (``uniform``: the clips of
    :func:`uniform_sample_indices`; ``pad``: :func:`pad_frames` to ``preset.frames``) and, in training (``rng``
    given), the augmentation of 3D joints (:func:`random_rotate` about the vertical axis, :func:`random_scale`).

    Args:
        record: a PYSKL record: ``keypoint`` [M, T, V, C], optional ``keypoint_score`` [M, T, V],
            ``img_shape`` (needed for ``image01``), optional ``total_frames`` and ``layout``.
        preset: layout, frames, sampler, persons, coordinates, channels, centring and test clips.
        rng: training (random frames and augmentation); ``None``: testing (fixed frames, no augmentation).
        rotate: training: the largest rotation about the vertical axis, degrees (3D only).
        scale: training: the largest relative change of scale per axis.

    Returns:
        [K, M, T, V, C] float32: K = ``preset.num_clips`` in testing with the ``uniform`` sampler, else 1
        (:attr:`~vidact.data.skeleton.presets.SkeletonPreset.test_inputs` in testing).

    Raises:
        DatasetError: a record without frames or persons, one whose layout, joint count or channels differ
            from the preset's, one without ``img_shape`` for ``image01`` coordinates, or augmentation of 2D
            joints.
    """
    name = record.get("frame_dir", "a record")
    layout = get_layout(preset.layout)
    if record.get("layout", layout.name) != layout.name:
        raise DatasetError(f"{name}: joints in layout {record['layout']}, the model reads {layout.name}")
    joints = np.asarray(record["keypoint"], dtype=np.float32)
    if joints.ndim != 4 or joints.shape[2:] != (layout.num_joints, preset.channels):
        raise DatasetError(
            f"{name}: keypoint of shape {joints.shape}, expected [M, T, {layout.num_joints}, {preset.channels}] "
            f"({layout.name}, {preset.channels} coordinates)"
        )
    if (rotate or scale) and rng is not None and preset.channels != 3:
        raise DatasetError(f"{name}: rotation and scale augmentation need 3D joints, got {preset.channels}D")
    if joints.shape[0] == 0 or joints.shape[1] == 0:
        raise DatasetError(f"{name}: no joints (keypoint of shape {joints.shape})")
    scores = record.get("keypoint_score")
    joints, _ = select_persons(joints, None if scores is None else np.asarray(scores), preset.persons)
    if preset.coords == "image01":
        if "img_shape" not in record:
            raise DatasetError(f"{name}: no img_shape to normalise pixels to [0, 1] with")
        joints = to_image01(joints, tuple(record["img_shape"]))
    joints = center_joints(joints, preset.center_index, preset.center)
    if preset.sampler == "pad":
        clips = pad_frames(joints, preset.frames)[None]
    else:
        num_clips = 1 if rng is not None else preset.num_clips
        indices = uniform_sample_indices(joints.shape[1], preset.frames, num_clips, rng=rng)
        clips = joints[:, indices].transpose(1, 0, 2, 3, 4)  # [M, K, T, V, C] -> [K, M, T, V, C]
    if rng is not None and rotate:
        clips = random_rotate(clips, rng, rotate, "y")
    if rng is not None and scale:
        clips = random_scale(clips, rng, scale)
    return np.ascontiguousarray(clips, dtype=np.float32)
