"""The pose of one video: MediaPipe body or hand landmarks of every frame, tracked, as a PYSKL skeleton record.

    >>> record = extract_pose("drink.avi")                                   # body, MediaPipe-33
    >>> record["keypoint"].shape, record["keypoint_world"].shape            # (1, T, 33, 2) px, (1, T, 33, 3) m
    >>> record = extract_pose("drink.avi", layout="ntu25")                  # Kinect v2 joints, camera space
    >>> record = extract_pose("hello.mkv", what="hands")                    # (2, T, 21, 2): right, left hand

**What is found.** MediaPipe Pose follows one person (``what="body"``, M = 1), MediaPipe Hands up to two hands
(``what="hands"``, M = 2: slot 0 the person's right hand, slot 1 the left; see ``mirrored``), each with
``model_complexity=1``, tracking from frame to frame (``tracking=False`` detects afresh in every frame). Frames
are streamed from one forward decode (:meth:`~vidact.io.VideoReader.iter_frames`): all of them, or ``fps`` per
second, or the first ``max_frames``.

**The record** (:mod:`vidact.data.skeleton.formats`, PYSKL's annotation layout plus vidact's fields):

====================  =================  ===================================================================
key                   shape / type       meaning
====================  =================  ===================================================================
``keypoint``          [M, T, V, 2] f32   pixels of the video's frame (``img_shape``), whatever ``short_side``
``keypoint_score``    [M, T, V] f32      body: MediaPipe's visibility (a composite joint: its parts' lowest);
                                         hands: 1 where the hand was found (MediaPipe gives no joint scores)
``keypoint_norm``     [M, T, V, 3] f32   MediaPipe's normalised ``(x / W, y / H, z)``: what hand models read
``keypoint_world``    [M, T, V, 3] f32   metres: MediaPipe's world landmarks (body: origin between the hips,
                                         x right, y down, z away; hand: origin at its centre); for ``ntu25``,
                                         Kinect v2 camera space (:func:`~vidact.data.skeleton.mapping.mediapipe_to_ntu25`)
``found``             [M, T] bool        the frames in which that person (hand) was found
``img_shape``         (H, W)             the video's frame size (= ``original_shape``)
``total_frames``      int                T
``label``             int                -1 (unknown)
``frame_dir``         str                the video's file (or folder) name without extension
``layout``            str                ``mediapipe33``, ``coco17``, ``ntu25`` or ``hand21``
``fps``               float              frames per second of the sequence
``timestamps``        [T] f64            each frame's time in the video, seconds
``frame_index``       [T] i64            each frame's index in the video
``handedness``        [M] str            hands: ``("right", "left")``, the side each slot holds
``handedness_score``  [M, T] f32         hands: MediaPipe's confidence in the side (0 where not found)
====================  =================  ===================================================================

**Frames without a detection** hold zeros with score 0 and ``found`` False (PYSKL's convention for a missing
person). **A video with no person (or hand) anywhere** gives the same: a record of the full shape (M = 1 or 2,
T frames) that is all zeros with ``found`` all False, and a one-line :class:`NoPoseWarning`. The shape depends
only on the options and the video's length, never on what is in it, so nothing downstream meets an empty
person axis; a caller that must know checks ``record["found"].any()``.

Whole corpora go through the ``pose`` extraction kind (:mod:`vidact.extract.pose`), which writes each record as
``<name>.pose.pkl`` and ``.pose.npz``; ``vidact predict`` with a skeleton model calls :func:`extract_pose` itself
(:func:`vidact.infer.skeleton.predict_skeleton`).

Needs the optional extra ``vidact[pose]`` (see :data:`~vidact.pose._mediapipe.INSTALL`); without it, asking
for a pose is a one-line :class:`~vidact.errors.ConfigError` that says how to install it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..data.sampling import rate_indices
from ..data.skeleton.formats import Record, validate_record
from ..data.skeleton.mapping import (
    KINECT_GEOMETRY,
    PLAIN_GEOMETRY,
    map_joints,
    map_scores,
    mediapipe_to_ntu25,
)
from ..errors import ConfigError
from ..io import VideoMetadata, VideoReader
from ._mediapipe import BodyTracker, HandTracker

__all__ = [
    "NoPoseWarning",
    "BODY_LAYOUTS",
    "HAND_LAYOUTS",
    "HAND_SLOTS",
    "pose_positions",
    "extract_pose",
    "hand_slot",
    "check_pose_options",
    "What",
    "Camera",
]

What = Literal["body", "hands"]
Camera = Literal["solve", "per_frame", "none"]

#: Layouts of ``what="body"`` (MediaPipe's own 33 landmarks, or mapped) and of ``what="hands"``.
BODY_LAYOUTS = ("mediapipe33", "coco17", "ntu25")
HAND_LAYOUTS = ("hand21",)
#: Hand slots: the side of the person each one holds.
HAND_SLOTS = ("right", "left")
_PROGRESS_MIN_FRAMES = 300  # shorter videos finish before a bar is worth drawing


class NoPoseWarning(UserWarning):
    """No person (or hand) was found in any frame of a video; its record is all zeros with ``found`` all False."""


def pose_positions(
    reader: VideoReader, *, fps: float | None = None, max_frames: int | None = None
) -> np.ndarray:
    """The frames a pose sequence takes: all of them, or those shown at ``fps`` per second, then the first
    ``max_frames``.

    Args:
        reader: the open video.
        fps: frames per second to take (a frame at each multiple of 1 / fps seconds; a rate above the video's
            takes each frame once); None takes every frame.
        max_frames: at most this many frames (the first ones).

    Returns:
        [T] int64 display-order frame indices, increasing.
    """
    return rate_indices(reader.timestamps(), fps, max_frames)


def _progress(total: int, enabled: bool) -> Progress:
    """A transient bar of frames on stderr, drawn for videos of at least :data:`_PROGRESS_MIN_FRAMES` frames."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    return Progress(
        *columns,
        console=Console(stderr=True),
        disable=not enabled or total < _PROGRESS_MIN_FRAMES,
        transient=True,
    )


def extract_pose(
    video: str | os.PathLike,
    *,
    what: What = "body",
    layout: str | None = None,
    short_side: int | None = None,
    fps: float | None = None,
    max_frames: int | None = None,
    tracking: bool = True,
    min_detection_confidence: float = 0.5,
    min_tracking_confidence: float = 0.5,
    max_hands: int = 2,
    mirrored: bool = False,
    ntu_camera: Camera = "solve",
    ntu_kinect_joints: bool = True,
    ntu_flip_x: bool = True,
    label: int = -1,
    progress: bool = False,
    metadata: VideoMetadata | None = None,
) -> Record:
    """The MediaPipe pose of every frame of a video, as a PYSKL record (see the module docstring).

    Args:
        video: a video file, GIF or frame folder.
        what: ``"body"`` (one person, 33 landmarks) or ``"hands"`` (up to two hands, 21 landmarks each).
        layout: the joints to keep: for the body ``mediapipe33`` (default), ``coco17`` or ``ntu25``
            (:mod:`vidact.data.skeleton.mapping`); for hands ``hand21`` (default).
        short_side: decode at this short side (MediaPipe's models look at 256-pixel crops; on the 1080p NTU clip,
            540 moves landmarks by about one pixel of the full frame). Coordinates stay in the video's pixels.
        fps: frames per second to take (default: every frame).
        max_frames: at most this many frames, the first ones.
        tracking: follow the person from frame to frame (MediaPipe's ``static_image_mode=False``).
        min_detection_confidence, min_tracking_confidence: MediaPipe's thresholds.
        max_hands: hands to look for (1 or 2; there are always two slots).
        mirrored: the video is mirrored (a selfie camera). MediaPipe Hands names sides as if it were; for an
            ordinary video (False) its "Left" is the person's right hand.
        ntu_camera, ntu_kinect_joints, ntu_flip_x: for ``layout="ntu25"``, how ``keypoint_world`` is placed in a
            Kinect camera (``camera``, ``kinect_joints`` and ``flip_x`` of
            :func:`~vidact.data.skeleton.mapping.mediapipe_to_ntu25`).
        label: the record's class index.
        progress: a progress bar on stderr for long videos.
        metadata: the video's probed metadata when the caller already has it (:func:`vidact.io.probe`), which
            saves probing (demuxing) the file again.

    Returns:
        The record: ``keypoint`` [M, T, V, 2] and the fields of the module docstring.

    Raises:
        ConfigError: bad options, or MediaPipe not installed.
        VideoError: the video cannot be read.
    """
    layout = check_pose_options(what, layout, short_side, fps, max_frames, max_hands, ntu_camera)
    with VideoReader(video, short_side=short_side, metadata=metadata) as reader:
        meta = reader.metadata
        img_shape = (meta.height, meta.width)
        positions = pose_positions(reader, fps=fps, max_frames=max_frames)
        times = reader.timestamps(positions) if positions.size else np.zeros(0)
        frames = (frame.numpy() for _, _, frame in reader.iter_frames(positions=positions))
        name = Path(video).name if Path(video).is_dir() else Path(video).stem
        with _progress(positions.size, progress) as bar:
            task = bar.add_task(f"pose {name}", total=positions.size)
            counted = _counted(frames, bar, task)
            thresholds = (min_detection_confidence, min_tracking_confidence)
            if what == "body":
                fields = _track_body(counted, positions.size, tracking, *thresholds)
            else:
                fields = _track_hands(counted, positions.size, tracking, *thresholds, max_hands, mirrored)
        video_fps = meta.fps
    if not fields["found"].any():
        thing = "person" if what == "body" else "hand"
        warnings.warn(
            f"{os.fspath(video)}: no {thing} found in any of its {positions.size} frames; its pose is all zeros "
            "with found all False",
            NoPoseWarning,
            stacklevel=2,
        )
    record: Record = {
        "frame_dir": name,
        "label": int(label),
        "img_shape": img_shape,
        "original_shape": img_shape,
        "total_frames": int(positions.size),
    }
    record |= _to_layout(fields, what, layout, img_shape, ntu_camera, ntu_kinect_joints, ntu_flip_x)
    record |= {
        "layout": layout,
        "fps": float(fps if fps is not None else video_fps),
        "timestamps": np.asarray(times, dtype=np.float64),
        "frame_index": positions,
    }
    return validate_record(record, source=os.fspath(video))


def check_pose_options(
    what: str,
    layout: str | None,
    short_side: int | None,
    fps: float | None,
    max_frames: int | None,
    max_hands: int,
    camera: str,
) -> str:
    """The layout (``what``'s default for None), after checking every option of :func:`extract_pose`.

    Raises:
        ConfigError: a bad option (one line, naming it).
    """
    if what not in ("body", "hands"):
        raise ConfigError(f"pose: what must be 'body' or 'hands', got {what!r}")
    allowed = BODY_LAYOUTS if what == "body" else HAND_LAYOUTS
    layout = allowed[0] if layout is None else layout
    if layout not in allowed:
        raise ConfigError(f"pose: layout for {what} must be one of {', '.join(allowed)}, got {layout!r}")
    if short_side is not None and short_side < 32:
        raise ConfigError(f"pose: short_side must be at least 32 pixels, got {short_side}")
    if fps is not None and not fps > 0:
        raise ConfigError(f"pose: fps must be positive, got {fps}")
    if max_frames is not None and max_frames < 1:
        raise ConfigError(f"pose: max_frames must be at least 1, got {max_frames}")
    if max_hands not in (1, 2):
        raise ConfigError(f"pose: max_hands must be 1 or 2, got {max_hands}")
    if camera not in ("solve", "per_frame", "none"):
        raise ConfigError(f"pose: ntu_camera must be 'solve', 'per_frame' or 'none', got {camera!r}")
    return layout


def _counted(frames: Iterable[np.ndarray], bar: Progress, task: Any) -> Iterator[np.ndarray]:
    """``frames``, advancing the bar's task by one after each."""
    for frame in frames:
        yield frame
        bar.advance(task)


def _track_body(
    frames: Iterable[np.ndarray], count: int, tracking: bool, detection: float, tracking_confidence: float
) -> dict[str, np.ndarray]:
    """MediaPipe Pose over ``count`` frames ([H, W, 3] uint8 each): image [1, T, 33, 3], visibility
    [1, T, 33], world [1, T, 33, 3], found [1, T]; zeros where nothing was found."""
    image = np.zeros((1, count, 33, 3), np.float32)
    score = np.zeros((1, count, 33), np.float32)
    world = np.zeros((1, count, 33, 3), np.float32)
    found = np.zeros((1, count), bool)
    with BodyTracker(
        static_image_mode=not tracking,
        min_detection_confidence=detection,
        min_tracking_confidence=tracking_confidence,
    ) as tracker:
        for t, frame in enumerate(frames):
            landmarks = tracker(frame)
            if landmarks is not None:
                image[0, t], score[0, t], world[0, t], found[0, t] = (
                    landmarks.image,
                    landmarks.visibility,
                    landmarks.world,
                    True,
                )
    return {"image": image, "score": score, "world": world, "found": found}


def _track_hands(
    frames: Iterable[np.ndarray],
    count: int,
    tracking: bool,
    detection: float,
    tracking_confidence: float,
    max_hands: int,
    mirrored: bool,
) -> dict[str, np.ndarray]:
    """MediaPipe Hands over ``count`` frames: image [2, T, 21, 3], score [2, T, 21], world [2, T, 21, 3],
    found [2, T], handedness_score [2, T]; slot 0 the person's right hand, slot 1 the left."""
    image = np.zeros((2, count, 21, 3), np.float32)
    world = np.zeros((2, count, 21, 3), np.float32)
    found = np.zeros((2, count), bool)
    side_score = np.zeros((2, count), np.float32)
    with HandTracker(
        max_hands=max_hands,
        static_image_mode=not tracking,
        min_detection_confidence=detection,
        min_tracking_confidence=tracking_confidence,
    ) as tracker:
        for t, frame in enumerate(frames):
            for hand in sorted(tracker(frame), key=lambda h: -h.score):
                slot = hand_slot(hand.label, mirrored)
                if found[slot, t]:  # both hands named the same side: the less sure one takes the other slot
                    slot = 1 - slot
                image[slot, t], world[slot, t], found[slot, t], side_score[slot, t] = (
                    hand.image,
                    hand.world,
                    True,
                    hand.score,
                )
    score = np.repeat(found[..., None], 21, axis=-1).astype(np.float32)
    return {"image": image, "score": score, "world": world, "found": found, "handedness_score": side_score}


def hand_slot(label: str, mirrored: bool) -> int:
    """The slot (index into :data:`HAND_SLOTS`) of a hand MediaPipe calls ``label`` (``"Left"`` / ``"Right"``).

    MediaPipe names sides as seen in a mirrored (selfie) image; in an ordinary video its "Left" is the
    person's right hand.
    """
    if label not in ("Left", "Right"):
        raise ValueError(f"MediaPipe hand label {label!r} is neither 'Left' nor 'Right'")
    person_side = label.lower() if mirrored else {"Left": "right", "Right": "left"}[label]
    return HAND_SLOTS.index(person_side)


def _to_layout(
    fields: dict[str, np.ndarray],
    what: str,
    layout: str,
    img_shape: tuple[int, int],
    camera: Camera,
    kinect_joints: bool,
    flip_x: bool,
) -> Record:
    """The record's joint arrays in ``layout``, from MediaPipe's landmarks ``fields`` (see the trackers)."""
    image, score, world, found = fields["image"], fields["score"], fields["world"], fields["found"]
    height, width = img_shape
    scale = np.array([width, height], dtype=np.float32)
    pixels = np.where(found[..., None, None], image[..., :2] * scale, 0.0).astype(np.float32)
    out: Record = {}
    if what == "hands" or layout == "mediapipe33":
        out |= {"keypoint": pixels, "keypoint_score": score, "keypoint_norm": image, "keypoint_world": world}
    else:
        source = "mediapipe33"
        geometry = {"geometry": KINECT_GEOMETRY if kinect_joints else PLAIN_GEOMETRY}
        out["keypoint"] = map_joints(pixels, source, layout, **geometry)
        out["keypoint_score"] = map_scores(score, source, layout)
        out["keypoint_norm"] = map_joints(image, source, layout, **geometry)
        if layout == "ntu25":
            out["keypoint_world"] = np.stack(
                [
                    mediapipe_to_ntu25(
                        world[m],
                        pixels[m],
                        img_shape,
                        scores=score[m],
                        found=found[m],
                        camera=camera,
                        kinect_joints=kinect_joints,
                        flip_x=flip_x,
                    )
                    for m in range(world.shape[0])
                ]
            )
        else:
            out["keypoint_world"] = map_joints(world, source, layout)
    out["found"] = found
    if what == "hands":
        out["handedness"] = np.array(HAND_SLOTS)
        out["handedness_score"] = fields["handedness_score"]
    return out
