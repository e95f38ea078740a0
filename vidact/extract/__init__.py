"""Offline per-video extraction (``vidact extract KIND INPUT --out DIR``): map a per-video function over one
video, a folder tree or a list file, in this process, a local process pool or a Ray cluster.

    >>> from vidact.extract import build_extractor, extract
    >>> extractor = build_extractor("features", model="runs/s3d", window_frames=16, stride_frames=8)
    >>> report = extract(extractor, "data/videos", "out/features", workers=2)
    >>> report.done, report.skipped, report.failed

* :mod:`~vidact.extract.base`: the :class:`Extractor` protocol (a ``name``, its ``params()``, and a call that
  writes one video's outputs as it goes or returns ``{name: array}``), the registry of kinds, the
  content-and-parameters keys.
* :mod:`~vidact.extract.output`: :class:`VideoOutput`, what an extractor writes into (appendable ``.npy`` arrays,
  per-item files), renamed into place when the video succeeded.
* :mod:`~vidact.extract.inputs`: which videos an input holds, and their output names.
* :mod:`~vidact.extract.job`: :func:`process_video`, the per-video job — skip what is done, extract, commit the
  outputs, then the record; a failure is one line.
* :mod:`~vidact.extract.backends` (this process, a process pool) and :mod:`~vidact.extract._ray` (Ray): map the job
  over videos.
* :mod:`~vidact.extract.runner`: :func:`extract` — inputs, a backend, the progress bar, the summary.
* :mod:`~vidact.extract.features`: the ``features`` kind (a recognition model over sliding windows).
* :mod:`~vidact.extract.flow`: the ``flow`` kind (optical flow as mmaction2's ``flow_x_00001.jpg`` folders or a
  float16 ``.npz``; :mod:`vidact.flow`).
* :mod:`~vidact.extract.pose`: the ``pose`` kind (:func:`vidact.pose.extract_pose` of every video, PYSKL ``.pkl``
  and ``.npz``; the optional extra ``vidact[pose]``, imported only when a video is extracted).

A new kind is an :class:`Extractor` and a factory registered with :func:`register_extractor`.
"""

from .base import Extractor, build_extractor, list_extractors, output_key, register_extractor, video_digest
from .features import FeatureExtractor, WindowFeatures, feature_extractor, window_features
from .flow import FlowExtractor, flow_extractor
from .inputs import Video, find_videos
from .job import Outcome, array_path, process_video, record_path
from .output import ArrayWriter, VideoOutput
from .pose import PoseExtractor, collect_annotations, pose_extractor
from .runner import ExtractionReport, Failure, extract

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
    "VideoOutput",
    "ArrayWriter",
    "ExtractionReport",
    "extract",
    "process_video",
    "record_path",
    "array_path",
    "WindowFeatures",
    "window_features",
    "FeatureExtractor",
    "feature_extractor",
    "FlowExtractor",
    "flow_extractor",
    "PoseExtractor",
    "pose_extractor",
    "collect_annotations",
]
