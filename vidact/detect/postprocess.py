"""From a detector's per-level outputs to one video's scored segments: decoding, score thresholding, NMS and
Soft-NMS, in plain PyTorch (no compiled extension; everything runs on the CPU).

    decode       every (point, class) scoring above ``pre_nms_thresh`` -> a segment (the point's position minus
                 and plus its offsets times the level's stride), the ``pre_nms_topk`` best per level
    nms_1d       greedy NMS: keep the best, drop the segments overlapping it by more than the threshold
    soft_nms_1d  Soft-NMS (Bodla et al., ICCV 2017), class by class: keep the best, decay the others' scores by
                 their overlap with it (gaussian ``exp(-iou^2 / sigma)`` or linear ``1 - iou`` above the
                 threshold), until no score reaches ``min_score``
    postprocess  decode, then NMS class by class (soft, hard or none), the ``max_segments`` best

Segments are (start, end) in feature steps, as the model's input; a :class:`~vidact.detect.features.TimeGrid`
maps them to seconds (and clipping to the video's duration is the caller's).

    >>> segments, scores, labels = postprocess(model(features, mask), 0, strides=model.strides, nms="soft")
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["decode", "segment_iou", "nms_1d", "soft_nms_1d", "postprocess", "NMS_METHODS", "SOFT_NMS_METHODS"]

#: What :func:`postprocess` can do after decoding.
NMS_METHODS = ("soft", "hard", "none")
#: How :func:`soft_nms_1d` decays overlapping scores.
SOFT_NMS_METHODS = ("gaussian", "linear")


@torch.no_grad()
def decode(
    outputs: dict[str, list[Tensor]],
    index: int,
    *,
    strides: Sequence[int],
    pre_nms_thresh: float = 0.001,
    pre_nms_topk: int = 5000,
    min_length: float = 0.05,
) -> tuple[Tensor, Tensor, Tensor]:
    """The candidate segments of sample ``index`` of a batch of detector outputs.

    Every real point of every level gives one candidate per class whose sigmoid score exceeds
    ``pre_nms_thresh``; of those, each level keeps its ``pre_nms_topk`` best; candidates not longer than
    ``min_length`` steps are dropped.

    Args:
        outputs: ``"cls_logits"`` [[B, T_l, K]], ``"offsets"`` [[B, T_l, 2]] (units of the level's stride),
            ``"masks"`` [[B, T_l]] bool.
        index: the sample b in [0, B).
        strides: each level's stride.

    Returns:
        (segments [S, 2] float32 (start, end) in steps, scores [S] float32, labels [S] long), on the CPU,
        level by level, each level's by decreasing score.
    """
    all_segments, all_scores, all_labels = [], [], []
    for logits, offsets, mask, stride in zip(
        outputs["cls_logits"], outputs["offsets"], outputs["masks"], strides, strict=True
    ):
        logits, offsets, mask = logits[index].float().cpu(), offsets[index].float().cpu(), mask[index].cpu()
        num_classes = logits.shape[1]
        probabilities = (torch.sigmoid(logits) * mask[:, None]).flatten()
        candidates = torch.nonzero(probabilities > pre_nms_thresh)[:, 0]
        scores, order = torch.sort(probabilities[candidates], descending=True, stable=True)
        scores, candidates = scores[:pre_nms_topk], candidates[order[:pre_nms_topk]]
        steps, labels = candidates // num_classes, candidates % num_classes
        position = steps.to(torch.float32) * stride
        segments = torch.stack(
            [position - offsets[steps, 0] * stride, position + offsets[steps, 1] * stride], dim=1
        )
        long_enough = segments[:, 1] - segments[:, 0] > min_length
        all_segments.append(segments[long_enough])
        all_scores.append(scores[long_enough])
        all_labels.append(labels[long_enough])
    if not all_segments:
        return torch.zeros(0, 2), torch.zeros(0), torch.zeros(0, dtype=torch.long)
    return torch.cat(all_segments), torch.cat(all_scores), torch.cat(all_labels)


def segment_iou(segment: Tensor, segments: Tensor) -> Tensor:
    """Temporal IoU of one segment with many: segment [2], segments [N, 2] -> [N] (0 where the union is
    empty). The arithmetic is torchvision's box IoU on [start, 0, end, 1] boxes."""
    start, end = segment[0], segment[1]
    intersection = (torch.minimum(end, segments[:, 1]) - torch.maximum(start, segments[:, 0])).clamp(min=0)
    union = (end - start) + (segments[:, 1] - segments[:, 0]) - intersection
    return intersection / union.clamp(min=torch.finfo(union.dtype).tiny)


def _check(segments: Tensor, scores: Tensor, labels: Tensor | None = None) -> None:
    if segments.ndim != 2 or segments.shape[1] != 2 or scores.shape != segments.shape[:1]:
        raise ValueError(
            f"segments must be [N, 2] with scores [N], got {tuple(segments.shape)}, {tuple(scores.shape)}"
        )
    if labels is not None and labels.shape != scores.shape:
        raise ValueError(f"labels must be [N] as the scores, got {tuple(labels.shape)}")


@torch.no_grad()
def nms_1d(segments: Tensor, scores: Tensor, iou_threshold: float, *, labels: Tensor | None = None) -> Tensor:
    """Greedy non-maximum suppression of segments: by decreasing score (ties in input order), keep a segment
    unless it overlaps an already kept one (of its class, when ``labels`` are given) by an IoU above
    ``iou_threshold``. Same keeps in the same order as ``torchvision.ops.nms`` (``batched_nms`` with labels)
    on the boxes [start, 0, end, 1].

    Args:
        segments: [N, 2] (start, end).
        scores: [N].
        labels: [N] class indices: suppress only within a class.

    Returns:
        keep [S] long: indices into ``segments``, by decreasing score (on ``segments``' device).
    """
    _check(segments, scores, labels)
    device = segments.device
    order = torch.sort(scores.cpu(), descending=True, stable=True).indices
    boxes = segments.cpu()[order]
    classes = labels.cpu()[order] if labels is not None else None
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        overlap = segment_iou(boxes[i], boxes[i + 1 :]).double() > iou_threshold
        if classes is not None:
            overlap &= classes[i + 1 :] == classes[i]
        suppressed[i + 1 :] |= overlap
    return order[torch.tensor(keep, dtype=torch.long)].to(device)


def _soft_nms_one_class(
    segments: Tensor,
    scores: Tensor,
    *,
    iou_threshold: float,
    sigma: float,
    min_score: float,
    method: str,
    max_picks: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Soft-NMS of one class's segments [N, 2], scores [N] -> (picked indices [S] long, their decayed scores
    [S]), in picking order (non-increasing scores); at most ``max_picks`` picks."""
    scores = scores.clone()
    alive = torch.ones(len(scores), dtype=torch.bool)
    picked, picked_scores = [], []
    for _ in range(len(scores) if max_picks is None else min(len(scores), max_picks)):
        current = torch.where(alive, scores, float("-inf"))
        best = int(torch.argmax(current))
        score = float(current[best])
        if score < min_score:  # also once every segment is picked (-inf)
            break
        picked.append(best)
        picked_scores.append(score)
        alive[best] = False
        iou = segment_iou(segments[best], segments)
        if method == "gaussian":
            scores = scores * torch.exp(-(iou * iou) / sigma)
        else:
            scores = torch.where(iou >= iou_threshold, scores * (1.0 - iou), scores)
    return torch.tensor(picked, dtype=torch.long), torch.tensor(picked_scores, dtype=scores.dtype)


@torch.no_grad()
def soft_nms_1d(
    segments: Tensor,
    scores: Tensor,
    labels: Tensor,
    *,
    iou_threshold: float = 0.1,
    sigma: float = 0.5,
    min_score: float = 0.001,
    method: str = "gaussian",
    max_segments: int = 0,
) -> tuple[Tensor, Tensor, Tensor]:
    """Soft-NMS (Bodla et al., ICCV 2017), class by class, as ActionFormer's batched Soft-NMS.

    Within each class: pick the segment of highest current score (the first on ties), then multiply every
    other segment's score by ``exp(-iou^2 / sigma)`` (``"gaussian"``) or, where ``iou >= iou_threshold``, by
    ``1 - iou`` (``"linear"``), iou with the picked one; repeat until no remaining score reaches
    ``min_score``.

    Args:
        segments: [N, 2] (start, end).
        scores: [N].
        labels: [N] class indices.
        iou_threshold: where the linear decay starts (unused by the gaussian one).
        sigma: the gaussian's width.
        min_score: scores below it are dropped.
        method: ``"gaussian"`` or ``"linear"``.
        max_segments: > 0: only the best ``max_segments`` are wanted. Each class then stops after that many
            picks: a class's picks come by non-increasing score, so a later one would rank after its
            ``max_segments`` earlier ones (ties included: by class, then picking order) and never make the
            overall best ``max_segments``. The result is the first ``max_segments`` of the uncapped one.

    Returns:
        (segments [S, 2], decayed scores [S], labels [S]) of the kept ones, by decreasing score (ties: by
        class, then picking order), on the CPU.
    """
    if method not in SOFT_NMS_METHODS:
        raise ValueError(f"soft-NMS method must be one of {', '.join(SOFT_NMS_METHODS)}, got {method!r}")
    _check(segments, scores, labels)
    segments, scores, labels = segments.cpu(), scores.cpu(), labels.cpu()
    kept, kept_scores = [], []
    for label in torch.unique(labels):
        members = torch.nonzero(labels == label)[:, 0]
        picked, decayed = _soft_nms_one_class(
            segments[members],
            scores[members],
            iou_threshold=iou_threshold,
            sigma=sigma,
            min_score=min_score,
            method=method,
            max_picks=max_segments if max_segments > 0 else None,
        )
        kept.append(members[picked])
        kept_scores.append(decayed)
    if not kept:
        return segments[:0], scores[:0], labels[:0]
    indices, new_scores = torch.cat(kept), torch.cat(kept_scores)
    order = torch.sort(new_scores, descending=True, stable=True).indices
    if max_segments > 0:
        order = order[:max_segments]
    return segments[indices[order]], new_scores[order], labels[indices[order]]


@torch.no_grad()
def postprocess(
    outputs: dict[str, list[Tensor]],
    index: int,
    *,
    strides: Sequence[int],
    nms: str = "soft",
    max_segments: int = 200,
    pre_nms_thresh: float = 0.001,
    pre_nms_topk: int = 5000,
    min_length: float = 0.05,
    iou_threshold: float = 0.1,
    sigma: float = 0.5,
    min_score: float = 0.001,
    soft_method: str = "gaussian",
) -> tuple[Tensor, Tensor, Tensor]:
    """The detections of sample ``index``: :func:`decode`, then NMS class by class, the best ``max_segments``.

    Args:
        outputs, index, strides, pre_nms_thresh, pre_nms_topk, min_length: as :func:`decode`.
        nms: ``"soft"`` (:func:`soft_nms_1d`), ``"hard"`` (:func:`nms_1d` within each class, then scores
            below ``min_score`` dropped) or ``"none"``.
        max_segments: at most this many (the best); <= 0: all.
        iou_threshold, sigma, min_score, soft_method: the NMS's (``soft_method``: ``"gaussian"`` or
            ``"linear"``).

    Returns:
        (segments [S, 2] in steps, scores [S], labels [S] long), by decreasing score, on the CPU.
    """
    if nms not in NMS_METHODS:
        raise ValueError(f"nms must be one of {', '.join(NMS_METHODS)}, got {nms!r}")
    segments, scores, labels = decode(
        outputs,
        index,
        strides=strides,
        pre_nms_thresh=pre_nms_thresh,
        pre_nms_topk=pre_nms_topk,
        min_length=min_length,
    )
    if nms == "soft":
        segments, scores, labels = soft_nms_1d(
            segments,
            scores,
            labels,
            iou_threshold=iou_threshold,
            sigma=sigma,
            min_score=min_score,
            method=soft_method,
            max_segments=max_segments,
        )
    else:
        if nms == "hard":
            keep = nms_1d(segments, scores, iou_threshold, labels=labels)
            keep = keep[scores[keep] >= min_score]
        else:
            keep = torch.sort(scores, descending=True, stable=True).indices
        segments, scores, labels = segments[keep], scores[keep], labels[keep]
    if max_segments > 0:
        segments, scores, labels = segments[:max_segments], scores[:max_segments], labels[:max_segments]
    return segments, scores, labels
