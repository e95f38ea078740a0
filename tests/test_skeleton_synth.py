"""The synthetic skeleton actions (``vidact synth --kind skeleton``): deterministic samples of the shapes asked
for, time-reversed pairs that are exactly reversed (so one frame cannot tell them apart), bodies whose bones
scale along the layout's tree and stay rigid, missing joints at the rate asked for, circles that turn the way
their class says, and a data set on disk in PYSKL's layout, written by the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from vidact.data.skeleton.formats import load_annotations
from vidact.data.skeleton.layouts import get_layout
from vidact.data.synth import clip_rng
from vidact.data.synth.skeleton import (
    SKELETON_CLASSES,
    SKELETON_PAIRS,
    animate,
    camera_view,
    draw_performance,
    render_skeleton,
    synthesize_skeletons,
)
from vidact.errors import ConfigError, DatasetError

NTU = get_layout("ntu25")


def _bone_lengths(joints: np.ndarray, parents: tuple[int, ...]) -> np.ndarray:
    """[T, V, 3] -> [T, V]: the distance of every joint from its parent (0 at the centre)."""
    return np.linalg.norm(joints - joints[:, list(parents)], axis=-1)


def test_a_sample_is_a_function_of_seed_split_class_and_index() -> None:
    a = render_skeleton("clapping", clip_rng(7, "train", "clapping", 3))
    b = render_skeleton("clapping", clip_rng(7, "train", "clapping", 3))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    for other in (clip_rng(7, "train", "clapping", 4), clip_rng(8, "train", "clapping", 3)):
        c = render_skeleton("clapping", other)
        assert c["keypoint"].shape != a["keypoint"].shape or not np.allclose(c["keypoint"], a["keypoint"])


@pytest.mark.parametrize(("layout", "dims"), [("ntu25", 3), ("ntu25", 2), ("coco17", 3), ("coco17", 2)])
def test_records_have_the_layout_and_dimensions_asked_for(layout: str, dims: int) -> None:
    joints = get_layout(layout).num_joints
    for index, name in enumerate(SKELETON_CLASSES):
        record = render_skeleton(
            name, clip_rng(0, "val", name, index), layout=layout, dims=dims, frames=(20, 30)
        )
        t = record["total_frames"]
        assert 20 <= t <= 30 and record["layout"] == layout
        assert record["keypoint"].shape == (1, t, joints, dims) and record["keypoint"].dtype == np.float32
        if dims == 3:  # Kinect-like camera space: the body stands in front of the camera; no scores (as NTU)
            assert "keypoint_score" not in record and "img_shape" not in record
            present = np.any(record["keypoint"] != 0, axis=-1)
            assert (record["keypoint"][..., 2][present] > 1.5).all()
        else:  # pixels of the 1920x1080 image, a pose estimator's scores, zero exactly where a joint is missing
            assert record["img_shape"] == (1080, 1920) and record["keypoint_score"].shape == (1, t, joints)
            scores, missing = record["keypoint_score"], ~np.any(record["keypoint"] != 0, axis=-1)
            assert np.array_equal(scores == 0, missing) and (scores[~missing] >= 0.6).all()
            xy = record["keypoint"][~missing]
            assert (
                (xy[:, 0] > 0).all()
                and (xy[:, 0] < 1920).all()
                and (xy[:, 1] > 0).all()
                and (xy[:, 1] < 1080).all()
            )


@pytest.mark.parametrize("dims", [3, 2])
@pytest.mark.parametrize("pair", list(SKELETON_PAIRS))
def test_the_second_class_of_a_pair_is_the_first_played_backwards(pair: str, dims: int) -> None:
    """Same generator state: the same frames, scores and missing joints, in reverse order; so the two samples hold
    the same set of frames, and a model that looks at frames without their order cannot tell them apart."""
    first, second = SKELETON_PAIRS[pair]
    for index in range(4):
        forward = render_skeleton(first, clip_rng(1, "train", "any", index), dims=dims)
        backward = render_skeleton(second, clip_rng(1, "train", "any", index), dims=dims)
        assert np.array_equal(backward["keypoint"], forward["keypoint"][:, ::-1])
        if dims == 2:
            assert np.array_equal(backward["keypoint_score"], forward["keypoint_score"][:, ::-1])
        frames = {f.tobytes() for f in forward["keypoint"][0]}
        assert frames == {f.tobytes() for f in backward["keypoint"][0]}  # one frame cannot tell them apart
        assert not np.array_equal(backward["keypoint"], forward["keypoint"])  # the order can
        # while another class of the same draws has other frames
        other = render_skeleton("waving", clip_rng(1, "train", "any", index), dims=dims)
        assert frames.isdisjoint({f.tobytes() for f in other["keypoint"][0]})


@pytest.mark.parametrize("layout", ["ntu25", "coco17"])
def test_bones_are_rigid_and_scale_with_the_body_and_their_segment(layout: str) -> None:
    tree = get_layout(layout)
    base = draw_performance(np.random.default_rng(5))
    for name in SKELETON_CLASSES:
        lengths = _bone_lengths(animate(name, base, layout), tree.parents)  # [T, V]
        np.testing.assert_allclose(lengths, np.broadcast_to(lengths[:1], lengths.shape), atol=1e-9)
        assert (lengths[:, [v for v in range(tree.num_joints) if v != tree.center]] > 0.01).all()
        # the whole body 1.3 times as large: every bone 1.3 times as long
        bigger = _bone_lengths(animate(name, replace(base, scale=1.3 * base.scale), layout), tree.parents)
        np.testing.assert_allclose(bigger, 1.3 * lengths, rtol=1e-9, atol=1e-12)
    # one segment 10 % longer: the bones of that segment's joints on both sides, and no other
    longer_arms = replace(base, proportions={**base.proportions, "elbow": base.proportions["elbow"] * 1.1})
    bones = [v for v in range(tree.num_joints) if v != tree.center]
    before = _bone_lengths(animate("waving", base, layout), tree.parents)[0, bones]
    ratio = _bone_lengths(animate("waving", longer_arms, layout), tree.parents)[0, bones] / before
    elbows = [bones.index(tree.index("left_elbow")), bones.index(tree.index("right_elbow"))]
    np.testing.assert_allclose(ratio[elbows], 1.1, rtol=1e-9)
    np.testing.assert_allclose(np.delete(ratio, elbows), 1.0, rtol=1e-9)


def test_bodies_differ_in_size_from_sample_to_sample() -> None:
    heights = []
    for index in range(30):
        record = render_skeleton("waving", clip_rng(0, "train", "waving", index), noise=0.0, missing=0.0)
        p = draw_performance(clip_rng(0, "train", "waving", index))
        joints = animate("waving", p)
        heights.append(joints[0, NTU.index("head"), 1] - joints[0, NTU.index("left_ankle"), 1])
        # and the camera view of those joints is the record (no noise, nothing missing)
        np.testing.assert_allclose(record["keypoint"][0], camera_view(joints, p), rtol=1e-6, atol=1e-6)
    assert max(heights) / min(heights) > 1.2


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.3])
def test_joints_go_missing_at_the_rate_asked_for(rate: float) -> None:
    missing = total = 0
    for index in range(40):
        name = SKELETON_CLASSES[index % len(SKELETON_CLASSES)]
        record = render_skeleton(name, clip_rng(2, "test", name, index), missing=rate)
        gone = ~np.any(record["keypoint"] != 0, axis=-1)
        missing, total = missing + int(gone.sum()), total + gone.size
    # ~70,000 joints: the binomial standard deviation of the fraction is below 0.002
    assert abs(missing / total - rate) < 0.01


def test_clockwise_circles_turn_clockwise_on_the_image() -> None:
    """Facing the camera (yaw 0), the right wrist of ``arm_circles_clockwise`` turns clockwise as the image shows
    it (x to the right, y down): its signed area, positive for clockwise in those axes, says so."""
    p = replace(draw_performance(np.random.default_rng(3)), yaw=0.0, num_frames=120)
    wrist = NTU.index("right_wrist")
    for name, sign in (("arm_circles_clockwise", 1), ("arm_circles_counterclockwise", -1)):
        uv = camera_view(animate(name, p), p, dims=2)[:, wrist]
        u, v = uv[:, 0], uv[:, 1]
        area = 0.5 * np.sum(u * np.roll(v, -1) - np.roll(u, -1) * v)
        assert sign * area > 50**2, (name, area)  # a circle of tens of pixels, the right way round


#: ``render_skeleton(class, clip_rng(11, "train", class, label), frames=(20, 30))`` per class: (T, the sum of
#: the keypoints weighted by frame, joint and coordinate number), as the generator made them when the recipes'
#: headers were measured. A change to the motions, the draws' order, the camera or the noise moves them; the
#: weights make the sum see the order of frames and joints.
GOLDEN = {
    ("ntu25", 3): {
        "waving": (20, 644139.554), "pointing": (20, 436099.854), "clapping": (24, 878961.771),
        "jumping_jacks": (26, 1057691.24), "squats": (28, 1239370.64), "arm_circles_clockwise": (28, 1166322.57),
        "arm_circles_counterclockwise": (27, 1164989.76), "sit_down": (24, 1050658.04),
        "stand_up": (27, 1217431.67),
    },
    ("coco17", 2): {
        "waving": (20, 60731503.2), "pointing": (20, 75364227.3), "clapping": (24, 91845414.3),
        "jumping_jacks": (26, 117218305.0), "squats": (28, 129588769.0),
        "arm_circles_clockwise": (28, 137939096.0), "arm_circles_counterclockwise": (27, 117685224.0),
        "sit_down": (24, 101143262.0), "stand_up": (27, 119529381.0),
    },
}  # fmt: skip


@pytest.mark.parametrize(("layout", "dims"), list(GOLDEN))
def test_samples_are_the_ones_the_recipes_were_measured_on(layout: str, dims: int) -> None:
    for label, name in enumerate(SKELETON_CLASSES):
        record = render_skeleton(
            name, clip_rng(11, "train", name, label), layout=layout, dims=dims, frames=(20, 30)
        )
        k = record["keypoint"][0].astype(np.float64)  # [T, V, C]
        t, v, c = k.shape
        weights = np.arange(1, t + 1)[:, None, None] * np.arange(1, v + 1)[:, None] * np.arange(1, c + 1)
        frames, total = GOLDEN[layout, dims][name]
        assert t == frames, name
        assert (k * weights).sum() == pytest.approx(total, rel=1e-7), name


def test_options_out_of_range_are_one_line_errors() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ConfigError, match="unknown skeleton class 'dancing'"):
        render_skeleton("dancing", rng)
    with pytest.raises(ConfigError, match="layouts ntu25, coco17"):
        render_skeleton("waving", rng, layout="hand21")
    with pytest.raises(ConfigError, match="missing"):
        render_skeleton("waving", rng, missing=1.0)
    with pytest.raises(ConfigError, match="dims"):
        render_skeleton("waving", rng, dims=4)  # type: ignore[arg-type]


def test_synthesize_writes_a_pyskl_annotation_file(tmp_path: Path) -> None:
    classes = ("waving", "sit_down", "stand_up")
    info = synthesize_skeletons(
        tmp_path / "set",
        samples_per_class={"train": 3, "test": 2},
        classes=classes,
        dims=2,
        seed=4,
        progress=False,
    )
    records, split = load_annotations(info.annotations)
    assert info.num_samples == len(records) == 15 and sorted(split) == ["test", "train"]
    assert split["test"] == [f"{name}_test_{i:04d}" for name in classes for i in range(2)]
    by_name = {r["frame_dir"]: r for r in records}
    for name in split["train"]:
        cls, _, index = name.rsplit("_", 2)
        record = by_name[name]
        assert record["label"] == classes.index(cls)
        again = render_skeleton(cls, clip_rng(4, "train", cls, int(index)), dims=2)
        assert np.array_equal(record["keypoint"], again["keypoint"])
    assert (tmp_path / "set" / "classes.txt").read_text().splitlines() == list(classes)
    manifest = json.loads((tmp_path / "set" / "manifest.json").read_text())
    assert manifest["pairs"] == {"sit_stand": ["sit_down", "stand_up"]} and manifest["chance"] == 1 / 3
    assert manifest["partners"] == {"sit_down": "stand_up", "stand_up": "sit_down"}
    assert manifest["params"]["dims"] == 2 and manifest["params"]["seed"] == 4
    # a second run needs overwrite, and never clears a folder it did not write
    with pytest.raises(DatasetError, match="not empty"):
        synthesize_skeletons(tmp_path / "set", samples_per_class=1, progress=False)
    synthesize_skeletons(tmp_path / "set", samples_per_class=1, overwrite=True, progress=False)
    (tmp_path / "set" / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="notes.txt"):
        synthesize_skeletons(tmp_path / "set", samples_per_class=1, overwrite=True, progress=False)


def test_the_command_line_writes_a_skeleton_set(tmp_path: Path) -> None:
    root = tmp_path / "skeleton"
    done = subprocess.run(
        [sys.executable, "-m", "vidact", "synth", str(root), "--kind", "skeleton", "--train", "2", "--val", "0",
         "--test", "1", "--dims", "2", "--layout", "coco17", "--lengths", "30", "40", "--missing", "0.1",
         "--seed", "9"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"wrote 27 skeleton sequences of 9 classes to {root / 'annotations.pkl'}" in done.stdout
    records, split = load_annotations(root / "annotations.pkl")
    assert sorted(split) == ["test", "train"] and len(split["train"]) == 18
    assert all(r["keypoint"].shape[2:] == (17, 2) and 30 <= r["total_frames"] <= 40 for r in records)
    params = json.loads((root / "manifest.json").read_text())["params"]
    assert (params["layout"], params["dims"], params["frames"], params["missing"], params["seed"]) == (
        "coco17",
        2,
        [30, 40],
        0.1,
        9,
    )
    assert (root / "classes.txt").read_text().splitlines() == list(SKELETON_CLASSES)
