"""Offline per-video extraction (``vidact extract KIND INPUT --out DIR``): map a per-video function over one
video, a folder tree or a list file, in this process, a local process pool or a Ray cluster.

    >>> from vidact.extract import build_extractor, extract
    >>> extractor = build_extractor("features", model="runs/s3d", window_frames=16, stride_frames=8)
    >>> report = extract(extractor, "data/videos", "out/features", workers=2)
    >>> report.done, report.skipped, report.failed

* :mod:`~vidact.extract.base`: the :class:`Extractor` protocol (a ``name``, its ``params()``, and
  ``video path -> {name: array}``), the registry of kinds, the content-and-parameters keys.
* :mod:`~vidact.extract.inputs`: which videos an input holds, and their output names.
* :mod:`~vidact.extract.runner`: :func:`extract` — skip what is done, write atomically, list failures, report.
* :mod:`~vidact.extract.features`: the ``features`` kind (a recognition model over sliding windows).
* :mod:`~vidact.extract.pose`: the ``pose`` kind (MediaPipe body or hand landmarks, PYSKL ``.pkl`` and ``.npz``;
  the optional extra ``vidact[pose]``, imported only when a video is extracted).

A new kind is an :class:`Extractor` and a factory registered with :func:`register_extractor`.
"""

from .base import Extractor, build_extractor, list_extractors, output_key, register_extractor, video_digest
from .features import FeatureExtractor, WindowFeatures, feature_extractor, window_features
from .inputs import Video, find_videos
from .pose import NoPoseWarning, PoseExtractor, collect_annotations, extract_pose, pose_extractor
from .runner import ExtractionReport, Failure, Outcome, array_path, extract, process_video, record_path

__all__ = [
    "Extractor",
    "register_extractor",
    "build_extractor",
    "list_extractors",
    "video_digest",
    "output_key",
    "Video",
    "find_videos",
    "Failure",
    "Outcome",
    "ExtractionReport",
    "extract",
    "process_video",
    "record_path",
    "array_path",
    "WindowFeatures",
    "window_features",
    "FeatureExtractor",
    "feature_extractor",
    "NoPoseWarning",
    "extract_pose",
    "PoseExtractor",
    "pose_extractor",
    "collect_annotations",
]
