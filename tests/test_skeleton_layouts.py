"""Skeleton layouts as data: trees rooted at their centre, the joint counts and orders other tools use."""

from __future__ import annotations

import pytest

from vidact.data.skeleton import LAYOUTS, Layout, SkeletonPreset, get_layout
from vidact.errors import ConfigError


@pytest.mark.parametrize(
    ("name", "joints", "center"),
    [
        ("coco17", 17, "nose"),
        ("ntu25", 25, "spine_shoulder"),
        ("mediapipe33", 33, "nose"),
        ("hand21", 21, "wrist"),
    ],
)
def test_layouts_are_trees_rooted_at_their_centre(name: str, joints: int, center: str) -> None:
    layout = get_layout(name)
    assert layout.num_joints == joints and layout.joints[layout.center] == center
    assert len(layout.edges) == joints - 1  # a tree: V - 1 bones, every joint reaches the centre
    assert all(p != v for v, p in layout.edges)
    assert (
        layout.depth()[layout.center] == 0
        and min(d for v, d in enumerate(layout.depth()) if v != layout.center) == 1
    )


def test_known_bones() -> None:
    ntu = get_layout("ntu25")
    # Kinect v2: the hand tip and thumb hang off the hand, the hips off the spine base
    assert ntu.parents[ntu.index("left_hand_tip")] == ntu.index("left_hand")
    assert ntu.parents[ntu.index("right_thumb")] == ntu.index("right_hand")
    assert ntu.parents[ntu.index("left_hip")] == ntu.index("spine_base")
    coco = get_layout("coco17")
    assert coco.parents[coco.index("left_wrist")] == coco.index("left_elbow")
    hand = get_layout("hand21")
    assert [hand.parents[hand.index(f"{f}_mcp")] for f in ("index", "middle", "ring", "pinky")] == [
        0,
        0,
        0,
        0,
    ]
    mp = get_layout("mediapipe33")
    assert mp.parents[mp.index("left_foot_index")] == mp.index("left_ankle")
    # left and right mirror each other in every layout that has sides
    for layout in LAYOUTS.values():
        for v, name in enumerate(layout.joints):
            if name.startswith("left_"):
                twin = layout.index("right_" + name[5:])
                parent, twin_parent = layout.joints[layout.parents[v]], layout.joints[layout.parents[twin]]
                assert twin_parent == parent.replace("left_", "right_"), (layout.name, name)


def test_bad_layouts_and_names_are_refused() -> None:
    with pytest.raises(ValueError, match="does not reach the centre"):
        Layout("loop", ("a", "b", "c"), (0, 2, 1), 0)
    with pytest.raises(ValueError, match="own parent"):
        Layout("rootless", ("a", "b"), (1, 0), 0)
    with pytest.raises(ConfigError, match="unknown skeleton layout 'kinect'"):
        get_layout("kinect")
    with pytest.raises(KeyError, match="no joint 'tail'"):
        get_layout("coco17").index("tail")


def test_preset_checks_its_fields() -> None:
    preset = SkeletonPreset(
        layout="ntu25", frames=288, sampler="pad", persons=2, coords="world", channels=3, pad_to=300
    )
    assert preset.input_shape(4) == (4, 2, 288, 25, 3)
    with pytest.raises(ConfigError, match="sampler"):
        SkeletonPreset(layout="ntu25", frames=10, sampler="random")
    with pytest.raises(ConfigError, match="pad_to"):
        SkeletonPreset(layout="ntu25", frames=10, sampler="pad", pad_to=5)
    with pytest.raises(ConfigError, match="unknown skeleton layout"):
        SkeletonPreset(layout="smpl", frames=10)
