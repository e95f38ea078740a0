"""A trained detector on one video's features: the detections in seconds, with their class names.

What the ``detection`` task's validation and evaluation and ``vidact detect`` share:

    >>> detections = detect_features(model, features, grid, classes, duration=24.0, nms="soft")
    >>> detections[0]                  # Detection(start=8.9, end=15.0, label='HighJump', score=0.87)

The model's outputs are decoded in feature steps (:func:`~vidact.detect.postprocess.postprocess`: per-step
segments, score threshold, NMS or Soft-NMS, the best ``max_segments``), then mapped to seconds through the
sequence's :class:`~vidact.detect.features.TimeGrid` and clipped to the video (``[0, duration]``), as ActionFormer
does before it writes a submission.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .annotations import Detection
from .features import TimeGrid
from .postprocess import postprocess

__all__ = [
    "NMS_OPTIONS",
    "nms_options",
    "to_detections",
    "decode_detections",
    "detect_features",
    "pad_multiple",
]

#: The keyword arguments of :func:`~vidact.detect.postprocess.postprocess` a recipe or a command may set.
NMS_OPTIONS = (
    "nms",
    "iou_threshold",
    "sigma",
    "soft_method",
    "pre_nms_thresh",
    "pre_nms_topk",
    "min_score",
    "min_length",
    "max_segments",
)


def nms_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The decoding options among ``options`` (the others, and those set to ``None``, left out): ``nms`` is
    ``soft``, ``hard`` or ``none``, ``soft_method`` ``gaussian`` or ``linear``.

    Raises:
        ConfigError: an unknown ``nms`` or ``soft_method``.
    """
    chosen = {key: options[key] for key in NMS_OPTIONS if options.get(key) is not None}
    if chosen.get("nms", "soft") not in ("soft", "hard", "none"):
        raise ConfigError(f"nms must be 'soft', 'hard' or 'none', got {chosen['nms']!r}")
    if chosen.get("soft_method", "gaussian") not in ("gaussian", "linear"):
        raise ConfigError(f"soft_method must be 'gaussian' or 'linear', got {chosen['soft_method']!r}")
    return chosen


def pad_multiple(model: nn.Module) -> int:
    """What a detector's input length must be a multiple of: its ``input_multiple`` where it declares one, else
    its largest stride."""
    multiple = getattr(model, "input_multiple", None)
    return int(multiple) if multiple else int(max(model.strides))


def to_detections(
    segments: Tensor | np.ndarray,
    scores: Tensor | np.ndarray,
    labels: Tensor | np.ndarray,
    grid: TimeGrid,
    classes: Sequence[str],
    *,
    duration: float | None = None,
) -> list[Detection]:
    """Decoded segments in steps -> detections in seconds, in the given order.

    Args:
        segments: [S, 2] (start, end) in feature steps.
        scores: [S] confidences.
        labels: [S] class indices into ``classes``.
        grid: the sequence's time grid.
        classes: class names.
        duration: the video's length in seconds: segments are clipped to ``[0, duration]`` (and to 0 below
            without it); a segment left empty is dropped.
    """
    steps = torch.as_tensor(segments).detach().double().cpu().numpy().reshape(-1, 2)
    seconds = np.asarray(grid.seconds(steps), dtype=np.float64).reshape(-1, 2)
    seconds = np.clip(seconds, 0.0, math.inf if duration is None else float(duration))
    confidence = torch.as_tensor(scores).detach().float().cpu().numpy().reshape(-1)
    indices = torch.as_tensor(labels).detach().cpu().numpy().reshape(-1)
    return [
        Detection(float(start), float(end), classes[int(label)], float(score))
        for (start, end), score, label in zip(seconds, confidence, indices, strict=True)
        if end > start
    ]


def decode_detections(
    outputs: Mapping[str, Any],
    index: int,
    *,
    strides: Sequence[int],
    grid: TimeGrid,
    classes: Sequence[str],
    duration: float | None = None,
    **options: Any,
) -> list[Detection]:
    """The detections of sample ``index`` of a batch's model outputs.

    Args:
        outputs: the detector's outputs (``cls_logits``, ``offsets``, ``masks`` per level).
        index: the sample.
        strides: the model's strides per level.
        grid: the sample's time grid.
        classes: class names.
        duration: the video's length in seconds (detections are clipped to it).
        options: :data:`NMS_OPTIONS` of :func:`~vidact.detect.postprocess.postprocess`.
    """
    segments, scores, labels = postprocess(outputs, index, strides=strides, **nms_options(options))
    return to_detections(segments, scores, labels, grid, classes, duration=duration)


@torch.no_grad()
def detect_features(
    model: nn.Module,
    features: Tensor | np.ndarray,
    grid: TimeGrid,
    classes: Sequence[str],
    *,
    duration: float | None = None,
    **options: Any,
) -> list[Detection]:
    """Run a detector over one video's feature sequence and decode its detections.

    Args:
        model: a detector (``model(features [B, D, T], mask [B, T]) -> outputs``, with ``strides``), in eval
            mode, on any device.
        features: [D, T] float, the whole sequence (padded here to the model's :func:`pad_multiple`).
        grid: the sequence's time grid.
        classes: the model's class names.
        duration: the video's length in seconds (detections are clipped to it).
        options: :data:`NMS_OPTIONS`.

    Returns:
        The detections, best first as the decoding orders them.
    """
    device = next(model.parameters()).device
    x = torch.as_tensor(features, dtype=torch.float32, device=device)
    if x.ndim != 2:
        raise ValueError(f"expected features [D, T], got shape {tuple(x.shape)}")
    length = x.shape[1]
    multiple = pad_multiple(model)
    padded = max(math.ceil(length / multiple), 1) * multiple
    inputs = torch.zeros(1, x.shape[0], padded, device=device)
    inputs[0, :, :length] = x
    mask = torch.zeros(1, padded, dtype=torch.bool, device=device)
    mask[0, :length] = True
    outputs = model(inputs, mask)
    return decode_detections(
        outputs, 0, strides=model.strides, grid=grid, classes=classes, duration=duration, **options
    )
