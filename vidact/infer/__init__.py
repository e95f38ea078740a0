"""Inference: predict a label (and a timeline) for a video, window features, late fusion, the fast path.

Importing the package registers its modalities (:mod:`.video`, :mod:`.skeleton`), through which
:func:`~vidact.infer.predict.predict_video` and :func:`~vidact.infer.predict.window_features` dispatch.
"""

from . import skeleton, video  # noqa: F401  (each registers its modality)
