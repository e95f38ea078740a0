"""Skeleton layouts as data: which joints a pose has, in which order, how they connect, and where the centre is.

A :class:`Layout` is the one description every skeleton component reads (PYSKL's ``Graph`` layouts are the
model): the graph strategies (:mod:`vidact.data.skeleton.graph`) build adjacency matrices from its edges, the
models compute bones from its parents, the mappings (:mod:`vidact.data.skeleton.mapping`) convert between
layouts, the synthetic generator animates its kinematic tree. The joints form a tree: ``parents[v]`` is the joint
the bone of ``v`` starts from (towards the centre), and the centre is its own parent (its bone is zero).

Four layouts ship:

=============  ==  ============================================  ===================================
name           V   order                                         centre
=============  ==  ============================================  ===================================
``coco17``     17  COCO keypoints (OpenPose/HRNet/YOLO-pose 2D)  0, nose (as PYSKL's ``coco``)
``ntu25``      25  Kinect v2, NTU RGB+D                          20, spine at the shoulders (PYSKL)
``mediapipe33`` 33 MediaPipe Pose landmarks                      0, nose (as COCO)
``hand21``     21  MediaPipe Hands landmarks                     0, wrist (PYSKL's ``handmp``)
=============  ==  ============================================  ===================================

The edges of ``coco17``, ``ntu25`` and ``hand21`` are PYSKL's (``pyskl/utils/graph.py``), so graphs built here
match the ones PYSKL's published models were trained with. MediaPipe's own connection list has cycles (the
torso rectangle, the face); ``mediapipe33``'s tree keeps the connections that make a tree rooted at the nose
(eyes → ears, mouth, shoulders → hips, hands and feet hang off wrists and ankles).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ...errors import ConfigError

__all__ = ["Layout", "LAYOUTS", "get_layout", "list_layouts"]


@dataclass(frozen=True)
class Layout:
    """A skeleton: joint names in index order, the bone tree, and the centre.

    Attributes:
        name: the layout's name (``"ntu25"``).
        joints: the joint names, index order (V of them).
        parents: ``parents[v]`` is the joint the bone of ``v`` starts from; ``parents[center] == center``.
        center: the root of the tree (the graph strategies' "centre of gravity").
    """

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    center: int

    def __post_init__(self) -> None:
        v = len(self.joints)
        if len(self.parents) != v or len(set(self.joints)) != v:
            raise ValueError(f"layout {self.name}: {v} joints (unique names), {len(self.parents)} parents")
        if not 0 <= self.center < v or self.parents[self.center] != self.center:
            raise ValueError(f"layout {self.name}: the centre {self.center} must be its own parent")
        for joint in range(v):  # every joint reaches the centre: a tree, no cycles
            seen, node = set(), joint
            while node != self.center:
                if node in seen or not 0 <= self.parents[node] < v:
                    raise ValueError(
                        f"layout {self.name}: joint {self.joints[joint]} does not reach the centre"
                    )
                seen.add(node)
                node = self.parents[node]

    @property
    def num_joints(self) -> int:
        """V."""
        return len(self.joints)

    @cached_property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """The bones as inward ``(child, parent)`` pairs, self loop of the centre left out (V - 1 of them)."""
        return tuple((v, p) for v, p in enumerate(self.parents) if v != p)

    def index(self, name: str) -> int:
        """The index of joint ``name``.

        Raises:
            KeyError: no such joint (the message lists the layout's joints).
        """
        try:
            return self.joints.index(name)
        except ValueError:
            raise KeyError(
                f"layout {self.name} has no joint {name!r}; joints: {', '.join(self.joints)}"
            ) from None

    def depth(self) -> tuple[int, ...]:
        """Each joint's number of bones to the centre (0 at the centre)."""
        out = []
        for v in range(self.num_joints):
            d, node = 0, v
            while node != self.center:
                node, d = self.parents[node], d + 1
            out.append(d)
        return tuple(out)


def _from_edges(name: str, joints: tuple[str, ...], center: int, edges: list[tuple[int, int]]) -> Layout:
    """A layout from inward (child, parent) pairs, 0-based."""
    parents = list(range(len(joints)))
    for child, parent in edges:
        if parents[child] != child:
            raise ValueError(f"layout {name}: joint {child} has two parents")
        parents[child] = parent
    return Layout(name, joints, tuple(parents), center)


# fmt: off
COCO17 = _from_edges(
    "coco17",
    (
        "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
        "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
        "right_knee", "left_ankle", "right_ankle",
    ),
    0,
    [(15, 13), (13, 11), (16, 14), (14, 12), (11, 5), (12, 6), (9, 7), (7, 5), (10, 8), (8, 6), (5, 0), (6, 0),
     (1, 0), (3, 1), (2, 0), (4, 2)],
)

NTU25 = _from_edges(
    "ntu25",
    (
        "spine_base", "spine_mid", "neck", "head", "left_shoulder", "left_elbow", "left_wrist", "left_hand",
        "right_shoulder", "right_elbow", "right_wrist", "right_hand", "left_hip", "left_knee", "left_ankle",
        "left_foot", "right_hip", "right_knee", "right_ankle", "right_foot", "spine_shoulder", "left_hand_tip",
        "left_thumb", "right_hand_tip", "right_thumb",
    ),
    20,
    # the Kinect v2 bones, 1-based as NTU's documentation numbers the joints
    [(a - 1, b - 1) for a, b in [
        (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9), (11, 10), (12, 11),
        (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19), (22, 8), (23, 8), (24, 12),
        (25, 12),
    ]],
)

MEDIAPIPE33 = _from_edges(
    "mediapipe33",
    (
        "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
        "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
        "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
        "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
        "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
    ),
    0,
    [(1, 0), (2, 1), (3, 2), (7, 3), (4, 0), (5, 4), (6, 5), (8, 6), (9, 0), (10, 0), (11, 0), (12, 0),
     (13, 11), (15, 13), (17, 15), (19, 15), (21, 15), (14, 12), (16, 14), (18, 16), (20, 16), (22, 16),
     (23, 11), (25, 23), (27, 25), (29, 27), (31, 27), (24, 12), (26, 24), (28, 26), (30, 28), (32, 28)],
)

HAND21 = _from_edges(
    "hand21",
    (
        "wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip", "index_mcp", "index_pip", "index_dip",
        "index_tip", "middle_mcp", "middle_pip", "middle_dip", "middle_tip", "ring_mcp", "ring_pip", "ring_dip",
        "ring_tip", "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
    ),
    0,
    [(1, 0), (2, 1), (3, 2), (4, 3), (5, 0), (6, 5), (7, 6), (8, 7), (9, 0), (10, 9), (11, 10), (12, 11),
     (13, 0), (14, 13), (15, 14), (16, 15), (17, 0), (18, 17), (19, 18), (20, 19)],
)

# fmt: on

LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in (COCO17, NTU25, MEDIAPIPE33, HAND21)}


def list_layouts() -> list[str]:
    """The layout names, sorted."""
    return sorted(LAYOUTS)


def get_layout(name: str | Layout) -> Layout:
    """The layout ``name`` (a :class:`Layout` passes through).

    Raises:
        ConfigError: an unknown name (the message lists the known ones).
    """
    if isinstance(name, Layout):
        return name
    try:
        return LAYOUTS[name]
    except KeyError:
        raise ConfigError(f"unknown skeleton layout {name!r}; known: {', '.join(list_layouts())}") from None
