"""Inference: predict a label (and a timeline) for a video, window features, late fusion, the fast path.

Importing the package registers its modalities (:mod:`.video`, :mod:`.skeleton`, :mod:`.flow`: ``flow`` and
``rgb+flow``), through which :func:`~vidact.infer.predict.predict_video` and
:func:`~vidact.infer.predict.window_features` dispatch.
"""

from . import flow, skeleton, video  # noqa: F401  (each registers its modality)
