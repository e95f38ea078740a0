"""The one place vidact touches MediaPipe: its legacy ``solutions`` Pose and Hands graphs, frame by frame, as
numpy arrays.

MediaPipe 0.10.21 is the last release that ships its pose and hand models inside the wheel (with
``model_complexity=1``; the other complexities would download theirs) and the ``mp.solutions`` API. It is the
optional extra ``vidact[pose]``, installed without its declared dependencies (see :data:`INSTALL`); nothing else
in vidact imports it, and asking for pose without it is one :class:`~vidact.errors.ConfigError` saying how to
install it.

MediaPipe's C++ side prints start-up notices straight to the process's stderr each time a graph first runs a
model (an XNNPACK line, a line about absl logging, one "Feedback manager" warning per model, one about the
tracking path's projection). Until a graph has run all its models, its calls go through
:func:`_quiet_startup_notices`, which drops those known lines and passes everything else on, so a corpus of a
thousand videos does not print five thousand of them.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError

__all__ = [
    "INSTALL",
    "MEDIAPIPE_VERSION",
    "import_mediapipe",
    "BodyLandmarks",
    "HandLandmarks",
    "BodyTracker",
    "HandTracker",
]

#: The MediaPipe release vidact's pose extraction is written and tested for.
MEDIAPIPE_VERSION = "0.10.21"
#: How to install pose extraction (MediaPipe without its declared dependencies: jax, jaxlib, sounddevice,
#: sentencepiece and the GUI OpenCV, none of which its pose and hand solutions use).
INSTALL = f"pip install 'vidact[pose]' && pip install --no-deps mediapipe=={MEDIAPIPE_VERSION}"

_STARTUP_NOTICES = (
    b"Created TensorFlow Lite XNNPACK delegate",
    b"All log messages before absl::InitializeLog() is called",
    b"inference_feedback_manager.cc",
    b"landmark_projection_calculator.cc",
)
# A graph has run all its models once it has found something twice: a detection, then a tracked frame.
_STARTUP_RESULTS = 2


def import_mediapipe() -> Any:
    """The ``mediapipe`` module.

    Raises:
        ConfigError: MediaPipe (or one of the few packages it needs) is not installed; the message says how.
    """
    try:
        import mediapipe
        from mediapipe.python.solutions import hands, pose  # noqa: F401  (the solutions we use import)
    except ImportError as e:
        raise ConfigError(
            f"pose extraction needs MediaPipe {MEDIAPIPE_VERSION}, which is not importable ({e}); "
            f"install it with: {INSTALL}"
        ) from None
    return mediapipe


@contextmanager
def _quiet_startup_notices() -> Iterator[None]:
    """Send file descriptor 2 to a temporary file for the block, then copy what it got back to stderr less the
    lines of :data:`_STARTUP_NOTICES` (so nothing else written meanwhile is lost, only delayed)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable descriptor 2: nothing to quieten
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [
                line
                for line in capture.read().splitlines(keepends=True)
                if not any(notice in line for notice in _STARTUP_NOTICES)
            ]
            if kept:
                os.write(2, b"".join(kept))


def _check_frame(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"a frame is [H, W, 3] uint8 RGB, got {frame.dtype} {frame.shape}")
    return np.ascontiguousarray(frame)


@dataclass(frozen=True)
class BodyLandmarks:
    """MediaPipe Pose's answer for one frame (one person).

    Attributes:
        image: [33, 3] float32 ``(x / W, y / H, z)``: normalised image coordinates (may fall outside [0, 1] for
            landmarks outside the frame) and depth relative to the hips, on roughly the scale of x.
        visibility: [33] float32, the likelihood that each landmark is visible (in the frame and not occluded).
        world: [33, 3] float32 metres, origin between the hips, axes as the camera's (x right, y down, z away).
    """

    image: np.ndarray
    visibility: np.ndarray
    world: np.ndarray


@dataclass(frozen=True)
class HandLandmarks:
    """One hand found by MediaPipe Hands in one frame.

    Attributes:
        image: [21, 3] float32 ``(x / W, y / H, z)``; z is depth relative to the wrist.
        world: [21, 3] float32 metres, origin at the hand's approximate geometric centre.
        label: ``"Left"`` or ``"Right"`` as MediaPipe says it, which assumes a mirrored (selfie) image.
        score: MediaPipe's confidence in ``label``.
    """

    image: np.ndarray
    world: np.ndarray
    label: str
    score: float


class _Tracker:
    """A MediaPipe solution graph over the frames of one video (tracking state is per video: make one each).

    The graph is built on the first frame, inside the same quiet window as that frame's processing: building it
    starts threads that open the models (and print notices) while the constructor returns.
    """

    def __init__(self, make: Callable[[], Any]) -> None:
        import_mediapipe()  # fail here, once, if it is missing
        self._make: Callable[[], Any] | None = make
        self._solution: Any = None
        self._results = 0  # calls that found something: from _STARTUP_RESULTS on, every model has run once

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the graph; the tracker takes no more frames."""
        if self._solution is not None:
            self._solution.close()
        self._solution = self._make = None

    def _process(self, frame: np.ndarray) -> Any:
        frame = _check_frame(frame)
        if self._results >= _STARTUP_RESULTS:
            return self._solution.process(frame)
        if self._make is None:
            raise RuntimeError("the tracker is closed")
        with _quiet_startup_notices():
            if self._solution is None:
                self._solution = self._make()
            return self._solution.process(frame)


class BodyTracker(_Tracker):
    """MediaPipe Pose (33 landmarks of one person, ``model_complexity=1``) over the frames of one video.

    Args:
        static_image_mode: detect the person in every frame instead of tracking it from the previous one.
        min_detection_confidence, min_tracking_confidence: MediaPipe's thresholds (in [0, 1]).
        smooth: MediaPipe's landmark smoothing across frames (tracking mode only).

    Raises:
        ConfigError: MediaPipe is not installed.
    """

    def __init__(
        self,
        *,
        static_image_mode: bool = False,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        smooth: bool = True,
    ) -> None:
        super().__init__(
            lambda: import_mediapipe().solutions.pose.Pose(
                static_image_mode=static_image_mode,
                model_complexity=1,
                smooth_landmarks=smooth,
                enable_segmentation=False,
                min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=min_tracking_confidence,
            )
        )

    def __call__(self, frame: np.ndarray) -> BodyLandmarks | None:
        """The person in ``frame`` ([H, W, 3] uint8 RGB, frames of one video in order), or None."""
        result = self._process(frame)
        if result.pose_landmarks is None:
            return None
        self._results += 1
        image = np.array([(p.x, p.y, p.z, p.visibility) for p in result.pose_landmarks.landmark], np.float32)
        world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark], np.float32)
        return BodyLandmarks(image[:, :3], image[:, 3], world)


class HandTracker(_Tracker):
    """MediaPipe Hands (21 landmarks per hand, ``model_complexity=1``) over the frames of one video.

    Args:
        max_hands: hands to look for (1 or 2).
        static_image_mode, min_detection_confidence, min_tracking_confidence: as :class:`BodyTracker`.

    Raises:
        ConfigError: MediaPipe is not installed.
    """

    def __init__(
        self,
        *,
        max_hands: int = 2,
        static_image_mode: bool = False,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ) -> None:
        super().__init__(
            lambda: import_mediapipe().solutions.hands.Hands(
                static_image_mode=static_image_mode,
                max_num_hands=max_hands,
                model_complexity=1,
                min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=min_tracking_confidence,
            )
        )

    def __call__(self, frame: np.ndarray) -> list[HandLandmarks]:
        """The hands in ``frame`` ([H, W, 3] uint8 RGB, frames of one video in order), in MediaPipe's order."""
        result = self._process(frame)
        if not result.multi_hand_landmarks:
            return []
        self._results += 1
        hands = []
        for image, world, handedness in zip(
            result.multi_hand_landmarks,
            result.multi_hand_world_landmarks,
            result.multi_handedness,
            strict=True,
        ):
            best = handedness.classification[0]
            hands.append(
                HandLandmarks(
                    np.array([(p.x, p.y, p.z) for p in image.landmark], np.float32),
                    np.array([(p.x, p.y, p.z) for p in world.landmark], np.float32),
                    best.label,
                    float(best.score),
                )
            )
        return hands
