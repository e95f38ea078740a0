"""The pose of one video (``vidact.pose``): MediaPipe body or hand landmarks of every frame, tracked, mapped to a
skeleton layout, as a PYSKL record.

    >>> from vidact.pose import extract_pose
    >>> record = extract_pose("drink.avi", layout="ntu25")          # keypoint [1, T, 25, 2], keypoint_world ...

A layer beside :mod:`vidact.models`: it reads videos (:mod:`vidact.io`) and writes skeleton records
(:mod:`vidact.data.skeleton`), and is used by prediction (:mod:`vidact.infer.skeleton`) and by the ``pose``
extraction kind (:mod:`vidact.extract.pose`), which maps it over corpora.

* :mod:`~vidact.pose.estimate`: :func:`extract_pose` — which frames, tracking, the layout mapping, the record.
* :mod:`~vidact.pose._mediapipe`: the only module that imports the optional MediaPipe (``vidact[pose]``), and
  only when a tracker is built.
"""

from ._mediapipe import INSTALL, MEDIAPIPE_VERSION, import_mediapipe
from .estimate import (
    BODY_LAYOUTS,
    HAND_LAYOUTS,
    HAND_SLOTS,
    Camera,
    NoPoseWarning,
    What,
    check_pose_options,
    extract_pose,
    hand_slot,
    pose_positions,
)

__all__ = [
    "extract_pose",
    "NoPoseWarning",
    "pose_positions",
    "hand_slot",
    "check_pose_options",
    "BODY_LAYOUTS",
    "HAND_LAYOUTS",
    "HAND_SLOTS",
    "What",
    "Camera",
    "INSTALL",
    "MEDIAPIPE_VERSION",
    "import_mediapipe",
]
