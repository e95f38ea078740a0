"""Synthetic action videos that make the difference between per-frame and temporal models measurable.

Two kinds of dataset, written as real video files in the class-folder layout ``root/<split>/<class>/*.mp4``:

``"temporal"``
    Classes come in time-reversed pairs (:data:`TEMPORAL_PAIRS`): every clip of the second class of a pair is
    drawn exactly like a clip of the first class and then played backwards. A clip and its reversal hold the
    same frames, so the frames of the two classes are identically distributed: a model that looks at frames
    without their order (one frame, or per-frame scores averaged over any reversal-symmetric choice of frames)
    is at chance within a pair, while a model that sees the order can separate the pair perfectly. The cyclic
    actions (``gesture``, ``rotate``) start at a uniformly random phase, so for them even a frame at a known
    position in the clip is uninformative; the one-shot actions (a lid opens once) are closed in the first
    frame and open in the last, which is order information too.

``"scene"``
    Each class has its own scenery (:data:`SCENE_CLASSES`: a beach, a forest, a city at night, ...), with a
    random layout and colour jitter per video, while the foreground action is drawn from the same distribution
    for every class. One frame is enough, as in scene-biased benchmarks such as UCF-101.

Everything random in a clip comes from one ``numpy.random.Generator``; :func:`clip_rng` derives it from
``(seed, split, class, index)``, so a dataset is the same whatever the number of worker processes or the order
they run in. The foreground and the distractor objects are drawn with sub-pixel anti-aliased OpenCV
primitives; distractors bounce around with a direction drawn uniformly, a motion whose reversal has the same
distribution, so they carry no class information.

    >>> from vidact.data.synth import synthesize
    >>> info = synthesize("data/reversed", "temporal", videos_per_class={"train": 50, "val": 10, "test": 20})
    >>> info.classes[:2], info.partners["opening_lid"]
    (('beckoning', 'shooing'), 'closing_lid')

A third kind is not video: ``vidact synth --kind skeleton`` (:mod:`vidact.data.synth.skeleton`) writes joint
trajectories of actions that differ only in motion (waving vs pointing, clockwise vs counter-clockwise arm
circles, sitting down vs standing up as a time-reversed pair, ...) as a PYSKL annotation file.
"""

from .actions import TEMPORAL_CLASSES, TEMPORAL_PAIRS
from .clips import Kind, clip_rng, render_clip
from .scenes import SCENE_CLASSES
from .skeleton import SKELETON_CLASSES, SKELETON_PAIRS, render_skeleton, synthesize_skeletons
from .writer import DEFAULT_VIDEOS_PER_CLASS, SPLITS, SynthInfo, synthesize

__all__ = [
    "SKELETON_CLASSES",
    "SKELETON_PAIRS",
    "render_skeleton",
    "synthesize_skeletons",
    "Kind",
    "TEMPORAL_PAIRS",
    "TEMPORAL_CLASSES",
    "SCENE_CLASSES",
    "SPLITS",
    "DEFAULT_VIDEOS_PER_CLASS",
    "SynthInfo",
    "synthesize",
    "render_clip",
    "clip_rng",
]
