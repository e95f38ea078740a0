"""Synthetic skeleton actions: joint trajectories of a moving body, for classes that differ only in motion
(``vidact synth --kind skeleton``).

* :mod:`~vidact.data.synth.skeleton.body`: the body model, a standing adult posed by forward kinematics.
* :mod:`~vidact.data.synth.skeleton.motion`: the classes (:data:`SKELETON_CLASSES`; two time-reversed pairs,
  :data:`SKELETON_PAIRS`), one sample's random draws (:func:`draw_performance`) and a class's motion on the
  body (:func:`animate`).
* :mod:`~vidact.data.synth.skeleton.render`: one sample as the camera sees it, with joint noise and missing
  joints, as a PYSKL record (:func:`render_skeleton`).
* :mod:`~vidact.data.synth.skeleton.dataset`: a whole data set on disk (:func:`synthesize_skeletons`), written
  through the video generator's steps (:mod:`vidact.data.synth.writer`).

Coordinates are camera-space metres for ``dims=3`` (Kinect v2's convention: x to the right, y up, z away from
the camera, as NTU RGB+D stores them) or pixels of a 1920 x 1080 pinhole camera for ``dims=2``. The layouts are
``ntu25`` (default) and ``coco17``.

    >>> from vidact.data.synth.skeleton import synthesize_skeletons
    >>> info = synthesize_skeletons("data/synthetic-skeleton", samples_per_class={"train": 100, "test": 40})
    >>> info.classes[-2:], info.partners["sit_down"]
    (('sit_down', 'stand_up'), 'stand_up')
"""

from .dataset import ANNOTATIONS_FILE, DEFAULT_SAMPLES_PER_CLASS, SkeletonSynthInfo, synthesize_skeletons
from .motion import (
    FPS,
    SKELETON_CLASSES,
    SKELETON_LAYOUTS,
    SKELETON_PAIRS,
    Performance,
    animate,
    draw_performance,
)
from .render import FOCAL_LENGTH, IMAGE_SHAPE, camera_view, render_skeleton

__all__ = [
    "SKELETON_CLASSES",
    "SKELETON_PAIRS",
    "SKELETON_LAYOUTS",
    "FPS",
    "IMAGE_SHAPE",
    "FOCAL_LENGTH",
    "DEFAULT_SAMPLES_PER_CLASS",
    "ANNOTATIONS_FILE",
    "Performance",
    "draw_performance",
    "animate",
    "camera_view",
    "render_skeleton",
    "SkeletonSynthInfo",
    "synthesize_skeletons",
]
