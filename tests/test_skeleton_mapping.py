"""Layout conversions and MediaPipe world landmarks in a Kinect camera: COCO-17 picks checked against
MediaPipe's documented landmark numbers, NTU-25 composite joints against hand-computed points, scores as the
minimum of their parts, and a synthetic skeleton seen by a known camera whose offset the solve recovers.
"""

from __future__ import annotations

import numpy as np
import pytest

from vidact.data.skeleton import get_layout
from vidact.data.skeleton.mapping import (
    KINECT_GEOMETRY,
    PLAIN_GEOMETRY,
    kinect_focal,
    map_joints,
    map_scores,
    mapping_matrix,
    mediapipe_to_ntu25,
    project,
    solve_camera_offset,
    to_kinect_axes,
)

# MediaPipe Pose's landmark numbers (its documentation's figure), written out independently of the layouts
MP = {
    "nose": 0, "left_eye": 2, "right_eye": 5, "left_ear": 7, "right_ear": 8, "left_shoulder": 11,
    "right_shoulder": 12, "left_elbow": 13, "right_elbow": 14, "left_wrist": 15, "right_wrist": 16,
    "left_pinky": 17, "right_pinky": 18, "left_index": 19, "right_index": 20, "left_thumb": 21,
    "right_thumb": 22, "left_hip": 23, "right_hip": 24, "left_knee": 25, "right_knee": 26, "left_ankle": 27,
    "right_ankle": 28, "left_foot_index": 31, "right_foot_index": 32,
}  # fmt: skip
# Kinect v2 / NTU joint numbers (0-based)
NTU = {
    "spine_base": 0, "spine_mid": 1, "neck": 2, "head": 3, "left_shoulder": 4, "left_wrist": 6, "left_hand": 7,
    "right_hand": 11, "left_hip": 12, "right_hip": 16, "left_foot": 15, "spine_shoulder": 20,
    "left_hand_tip": 21, "left_thumb": 22,
}  # fmt: skip
IMG = (1080, 1920)
FOCAL = 1000.0


def _skeleton(frames: int = 8, seed: int = 0) -> np.ndarray:
    """[T, 33, 3] a hip-centred body-sized point cloud that moves a little (metres, x right, y down, z away)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform([-0.4, -0.9, -0.25], [0.4, 0.9, 0.25], size=(33, 3))
    return base + rng.normal(scale=0.03, size=(frames, 33, 3))


def test_coco17_picks_mediapipe_landmarks_of_the_same_name():
    joints = np.random.default_rng(0).normal(size=(4, 33, 2))
    coco = map_joints(joints, "mediapipe33", "coco17")
    expected = [
        0,
        2,
        5,
        7,
        8,
        11,
        12,
        13,
        14,
        15,
        16,
        23,
        24,
        25,
        26,
        27,
        28,
    ]  # COCO order, MediaPipe numbers
    np.testing.assert_array_equal(coco, joints[:, expected])


@pytest.mark.parametrize(
    ("source", "target"), [("mediapipe33", "coco17"), ("mediapipe33", "ntu25"), ("hand21", "hand21")]
)
def test_every_target_joint_is_an_affine_combination(source, target):
    matrix = mapping_matrix(source, target)
    assert matrix.shape == (get_layout(target).num_joints, get_layout(source).num_joints)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
    joints, shift = np.random.default_rng(1).normal(size=(3, matrix.shape[1], 3)), np.array([0.5, -2.0, 4.0])
    np.testing.assert_allclose(  # so moving the skeleton moves every mapped joint by the same amount
        map_joints(joints + shift, source, target), map_joints(joints, source, target) + shift, atol=1e-12
    )


def test_hand21_is_the_identity_and_unknown_pairs_are_refused():
    hand = np.random.default_rng(2).normal(size=(2, 21, 3)).astype(np.float32)
    np.testing.assert_array_equal(map_joints(hand, "hand21", "hand21"), hand)
    with pytest.raises(ValueError, match="no conversion from skeleton layout coco17 to ntu25"):
        mapping_matrix("coco17", "ntu25")


def test_ntu25_plain_joints_sit_at_mediapipe_landmarks():
    mp = np.random.default_rng(3).normal(size=(33, 3))
    ntu = map_joints(mp, "mediapipe33", "ntu25", geometry=PLAIN_GEOMETRY)
    mid = lambda a, b: (mp[MP[a]] + mp[MP[b]]) / 2  # noqa: E731
    np.testing.assert_allclose(ntu[NTU["spine_base"]], mid("left_hip", "right_hip"))
    np.testing.assert_allclose(ntu[NTU["spine_shoulder"]], mid("left_shoulder", "right_shoulder"))
    np.testing.assert_allclose(ntu[NTU["head"]], mid("left_ear", "right_ear"))
    np.testing.assert_allclose(
        ntu[NTU["spine_mid"]], (mid("left_hip", "right_hip") + mid("left_shoulder", "right_shoulder")) / 2
    )
    np.testing.assert_allclose(ntu[NTU["left_hand"]], mid("left_index", "left_pinky"))
    np.testing.assert_allclose(ntu[NTU["left_hand_tip"]], mp[MP["left_index"]])
    np.testing.assert_allclose(ntu[NTU["left_thumb"]], mp[MP["left_thumb"]])
    np.testing.assert_allclose(ntu[NTU["left_hip"]], mp[MP["left_hip"]])
    np.testing.assert_allclose(ntu[NTU["left_foot"]], mp[MP["left_foot_index"]])
    np.testing.assert_allclose(ntu[NTU["left_wrist"]], mp[MP["left_wrist"]])


def test_ntu25_kinect_joints_narrow_the_hips_and_reach_past_the_wrist():
    mp = np.random.default_rng(4).normal(size=(33, 3))
    ntu = map_joints(mp, "mediapipe33", "ntu25", geometry=KINECT_GEOMETRY)
    hip_mid = (mp[MP["left_hip"]] + mp[MP["right_hip"]]) / 2
    np.testing.assert_allclose(ntu[NTU["spine_base"]], hip_mid)
    np.testing.assert_allclose(  # the hips keep their midpoint, at 0.57 of MediaPipe's distance
        np.linalg.norm(ntu[NTU["left_hip"]] - ntu[NTU["right_hip"]]),
        0.57 * np.linalg.norm(mp[MP["left_hip"]] - mp[MP["right_hip"]]),
    )
    np.testing.assert_allclose((ntu[NTU["left_hip"]] + ntu[NTU["right_hip"]]) / 2, hip_mid)
    wrist = mp[MP["left_wrist"]]
    np.testing.assert_allclose(ntu[NTU["left_hand_tip"]], wrist + 1.8 * (mp[MP["left_index"]] - wrist))
    np.testing.assert_allclose(ntu[NTU["left_thumb"]], wrist + 3.7 * (mp[MP["left_thumb"]] - wrist))
    shoulder_mid = (mp[MP["left_shoulder"]] + mp[MP["right_shoulder"]]) / 2
    ear_mid = (mp[MP["left_ear"]] + mp[MP["right_ear"]]) / 2
    np.testing.assert_allclose(ntu[NTU["head"]], shoulder_mid + 1.25 * (ear_mid - shoulder_mid))
    np.testing.assert_allclose(ntu[NTU["neck"]], shoulder_mid + 0.54 * (ear_mid - shoulder_mid))


def test_a_composite_joint_scores_its_least_sure_part():
    scores = np.linspace(0.05, 0.95, 33)[None].repeat(2, axis=0)  # [T=2, 33], all different
    ntu = map_scores(scores, "mediapipe33", "ntu25")
    assert ntu.shape == (2, 25)
    assert ntu[0, NTU["spine_base"]] == min(scores[0, MP["left_hip"]], scores[0, MP["right_hip"]])
    assert ntu[0, NTU["left_hand"]] == min(
        scores[0, MP[k]] for k in ("left_wrist", "left_index", "left_pinky")
    )
    assert ntu[0, NTU["neck"]] == min(
        scores[0, MP[k]] for k in ("left_shoulder", "right_shoulder", "left_ear", "right_ear")
    )
    assert ntu[0, NTU["left_shoulder"]] == scores[0, MP["left_shoulder"]]
    np.testing.assert_array_equal(
        map_scores(scores, "mediapipe33", "coco17")[:, 11], scores[:, MP["left_hip"]]
    )


# -- the camera --------------------------------------------------------------------------------------------------
def test_solved_offset_recovers_the_camera_that_projected_the_skeleton():
    world = _skeleton()
    offset = np.array([0.3, -0.1, 4.1])
    image = project(world + offset, FOCAL, IMG)
    np.testing.assert_allclose(solve_camera_offset(world, image, IMG, FOCAL), offset, atol=1e-9)


def test_solved_offset_ignores_landmarks_of_weight_zero_and_tolerates_pixel_noise():
    rng = np.random.default_rng(5)
    world = _skeleton(seed=1)
    offset = np.array([-0.5, 0.2, 3.5])
    image = project(world + offset, FOCAL, IMG)
    weights = np.ones(world.shape[:2])
    image[:, :5] += 300.0  # five landmarks far off in every frame ...
    weights[:, :5] = 0.0  # ... that the weights leave out
    np.testing.assert_allclose(
        solve_camera_offset(world, image, IMG, FOCAL, weights=weights), offset, atol=1e-9
    )
    noisy = project(world + offset, FOCAL, IMG) + rng.normal(scale=1.0, size=image.shape)
    assert np.abs(solve_camera_offset(world, noisy, IMG, FOCAL) - offset).max() < 0.05  # 1 px -> < 5 cm


def test_solve_needs_landmarks():
    with pytest.raises(ValueError, match="at least two landmarks"):
        solve_camera_offset(np.zeros((33, 3)), np.zeros((33, 2)), IMG, FOCAL, weights=np.zeros(33))


def test_kinect_axes_point_y_up():
    points = np.array([[1.0, 2.0, 3.0]])
    # a half turn about z by default (Kinect's x grows to the sensor's left); flip_x=False mirrors
    np.testing.assert_array_equal(to_kinect_axes(points), [[-1.0, -2.0, 3.0]])
    np.testing.assert_array_equal(to_kinect_axes(points, flip_x=False), [[1.0, -2.0, 3.0]])


def test_kinect_focal_scales_with_the_image_width():
    assert kinect_focal((1080, 1920)) == pytest.approx(1081.37)
    assert kinect_focal((540, 960)) == pytest.approx(1081.37 / 2)


def test_mediapipe_to_ntu25_puts_the_hips_where_the_camera_saw_them():
    world = _skeleton(frames=6, seed=2)
    hips = (world[:, MP["left_hip"]] + world[:, MP["right_hip"]]) / 2
    world = world - hips[:, None]  # MediaPipe's origin: between the hips
    offset = np.array([0.25, -0.3, 4.0])
    image = project(world + offset, kinect_focal(IMG), IMG)
    found = np.array([True, True, False, True, True, True])
    world[~found] = 0.0  # nothing detected there
    ntu = mediapipe_to_ntu25(world, image, IMG, found=found)
    assert ntu.shape == (6, 25, 3) and ntu.dtype == np.float32
    expected = np.array([-0.25, 0.3, 4.0])  # the hip mid in Kinect space: x to the sensor's left, y up
    np.testing.assert_allclose(ntu[found, NTU["spine_base"]], np.tile(expected, (5, 1)), atol=1e-5)
    assert not ntu[~found].any()  # NTU's padding: zeros
    centred = mediapipe_to_ntu25(world, camera="none", found=found)
    np.testing.assert_allclose(centred[found, NTU["spine_base"]], 0.0, atol=1e-6)
    np.testing.assert_allclose(centred[found] + expected.astype(np.float32), ntu[found], atol=1e-5)


def test_per_frame_camera_follows_a_walking_person():
    world = _skeleton(frames=4, seed=3)
    offsets = np.array([[0.0, 0.0, 4.0], [0.2, 0.0, 4.0], [0.4, 0.0, 3.8], [0.6, 0.1, 3.6]])
    image = project(world + offsets[:, None], kinect_focal(IMG), IMG)
    geometry = dict(kinect_joints=False, found=np.ones(4, bool))
    per_frame = mediapipe_to_ntu25(world, image, IMG, camera="per_frame", **geometry)
    centred = mediapipe_to_ntu25(world, camera="none", **geometry)
    np.testing.assert_allclose(per_frame - centred, to_kinect_axes(offsets)[:, None].repeat(25, 1), atol=1e-5)


def test_mediapipe_to_ntu25_without_anyone_is_zeros_and_solving_needs_the_image():
    assert not mediapipe_to_ntu25(np.zeros((3, 33, 3))).any()
    with pytest.raises(ValueError, match="needs the image landmarks"):
        mediapipe_to_ntu25(_skeleton(frames=2))
