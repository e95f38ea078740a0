"""The ``pose`` extraction kind: :func:`vidact.pose.extract_pose` of every video of a corpus, each record written as
a PYSKL pickle and an ``.npz``.

    >>> extract(build_extractor("pose", layout="coco17"), "videos/", "poses/", workers=2)
    >>> collect_annotations("poses/", "poses/annotations.pkl")              # one PYSKL annotation file

**Outputs.** Per video, ``<name>.pose.pkl`` (the record, one dict: PYSKL's ``mmcv.load`` and
:func:`~vidact.data.skeleton.formats.load_pickle` read it), ``<name>.pose.npz`` (the same without pickles) and the
runner's ``<name>.pose.json``. :func:`collect_annotations` gathers a folder of them into one PYSKL annotation file
with a ``split``. The record's fields are those of :mod:`vidact.pose.estimate`.

Needs the optional extra ``vidact[pose]`` (see :data:`~vidact.pose.INSTALL`); without it, building the extractor is
a one-line :class:`~vidact.errors.ConfigError` that says how to install it.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from ..data.skeleton.formats import arrays_to_record, load_pickle, record_to_arrays, save_npz, save_pickle
from ..errors import DatasetError
from ..pose import (
    MEDIAPIPE_VERSION,
    Camera,
    NoPoseWarning,
    What,
    check_pose_options,
    extract_pose,
    import_mediapipe,
)
from .base import register_extractor

__all__ = ["PoseExtractor", "pose_extractor", "collect_annotations"]


@dataclass(frozen=True)
class PoseExtractor:
    """The body (or hands) pose of every frame of each video, as a PYSKL record (``.pkl`` and ``.npz``).

    The ``pose`` kind for the runner: :func:`extract_pose` of each video.

    Build it directly or with ``build_extractor("pose", ...)``; building checks the options and that MediaPipe
    is installed. It holds only options, so it pickles cheaply; each video gets its own MediaPipe
    graph (tracking state must not leak from one video into the next).

    The attributes are the options of :func:`extract_pose` (``vidact extract pose`` shows these lines as help).

    Attributes:
        what: body (one person) or hands (up to two).
        layout: the joints to keep: mediapipe33 (default), coco17, ntu25 (Kinect camera); hand21 for hands.
        short_side: decode at this short side (coordinates stay in the video's pixels).
        fps: frames per second to take (default: every frame).
        max_frames: at most the first N frames.
        tracking: follow the person from frame to frame.
        min_detection_confidence, min_tracking_confidence: MediaPipe's thresholds.
        max_hands: hands to look for (1 or 2).
        mirrored: the video is mirrored (a selfie camera).
        ntu_camera: ntu25: solve (one camera offset per clip), per_frame or none.
        ntu_kinect_joints, ntu_flip_x: ntu25: how the landmarks are placed in a Kinect camera (see
            mediapipe_to_ntu25).
    """

    name: ClassVar[str] = "pose"

    what: What = "body"
    layout: str | None = None
    short_side: int | None = None
    fps: float | None = None
    max_frames: int | None = None
    tracking: bool = True
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    max_hands: int = 2
    mirrored: bool = False
    ntu_camera: Camera = "solve"
    ntu_kinect_joints: bool = True
    ntu_flip_x: bool = True

    def __post_init__(self) -> None:
        """Check the options (the layout's default follows ``what``), normalise their types (they key the
        outputs), and check that MediaPipe is installed.

        Raises:
            ConfigError: a bad option, or MediaPipe not installed (the message gives the install command).
        """
        layout = check_pose_options(
            self.what,
            self.layout,
            self.short_side,
            self.fps,
            self.max_frames,
            self.max_hands,
            self.ntu_camera,
        )
        normalised = {
            "layout": layout,
            "fps": None if self.fps is None else float(self.fps),
            "min_detection_confidence": float(self.min_detection_confidence),
            "min_tracking_confidence": float(self.min_tracking_confidence),
        }
        normalised |= {
            k: bool(getattr(self, k)) for k in ("tracking", "mirrored", "ntu_kinect_joints", "ntu_flip_x")
        }
        for key, value in normalised.items():
            object.__setattr__(self, key, value)  # frozen: set once, here
        import_mediapipe()
        if importlib.metadata.version("mediapipe") != MEDIAPIPE_VERSION:
            warnings.warn(
                f"pose extraction is tested with MediaPipe {MEDIAPIPE_VERSION}, found "
                f"{importlib.metadata.version('mediapipe')}",
                stacklevel=3,
            )

    def params(self) -> dict[str, Any]:
        """The options, the MediaPipe release and model, and the output format's version."""
        return {
            **asdict(self),
            "mediapipe": importlib.metadata.version("mediapipe"),
            "model_complexity": 1,
            "format": "pyskl-record-1",
        }

    def __call__(self, video: str) -> dict[str, np.ndarray]:
        """The record of :func:`extract_pose` as arrays (:func:`~vidact.data.skeleton.formats.record_to_arrays`)."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NoPoseWarning)
            record = extract_pose(video, **asdict(self))
        for warning in caught:  # one line each on this worker's stderr, among the run's other messages
            if issubclass(warning.category, NoPoseWarning):
                print(f"warning: {warning.message}", file=sys.stderr, flush=True)
            else:
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        return record_to_arrays(record)

    def write(self, arrays: dict[str, np.ndarray], stem: Path) -> list[Path]:
        """The runner's write hook: ``<stem>.pose.pkl`` and ``<stem>.pose.npz``, each written atomically."""
        record = arrays_to_record(arrays)
        return [
            save_pickle(record, stem.with_name(f"{stem.name}.{self.name}.pkl")),
            save_npz(record, stem.with_name(f"{stem.name}.{self.name}.npz")),
        ]


#: The registered factory of the ``pose`` kind (``build_extractor("pose", ...)``): the class itself.
pose_extractor = register_extractor("pose")(PoseExtractor)


def collect_annotations(
    folder: str | os.PathLike,
    path: str | os.PathLike,
    *,
    kind: str = "pose",
    split_by: Literal["folder", "none"] = "folder",
) -> Path:
    """Gather a runner output folder's per-video pickles into one PYSKL annotation file.

    Each record's ``frame_dir`` becomes its video's output name (``train/jump/v1``: unique in the corpus, where
    file names need not be). With ``split_by="folder"``, each top-level folder (``train``, ``val``) is a split
    listing its videos; videos directly in ``folder`` go to the split ``"all"``.

    Args:
        folder: the runner's ``--out`` folder.
        path: the annotation file to write.
        kind: the runner kind whose ``<name>.<kind>.pkl`` files to gather.
        split_by: ``"folder"`` or ``"none"`` (an empty split).

    Returns:
        ``path``.

    Raises:
        DatasetError: no such pickles under ``folder``, or one of them cannot be read.
    """
    folder = Path(folder)
    suffix = f".{kind}.pkl"
    files = sorted(p for p in folder.rglob(f"*{suffix}") if p.is_file())
    if not files:
        raise DatasetError(f"{folder}: no *{suffix} files to gather")
    records, split = [], {}
    for file in files:
        data = load_pickle(file)
        if not isinstance(data, dict) or "annotations" in data:
            raise DatasetError(f"{file}: expected one record, as the runner writes")
        name = file.relative_to(folder).as_posix()[: -len(suffix)]
        records.append({**data, "frame_dir": name})
        if split_by == "folder":
            split.setdefault(name.split("/")[0] if "/" in name else "all", []).append(name)
    return save_pickle({"split": split, "annotations": records}, path)
