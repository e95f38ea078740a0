"""ActionFormer's training losses: sigmoid focal loss on every real point's class scores, DIoU on the positive
points' boundary distances, both normalised by the number of positives (an exponential moving average of it,
which steadies the loss with small batches).

    >>> normalizer = LossNormalizer(initial=100.0)                     # kept by the task across steps
    >>> losses = detection_losses(model(features, mask), segments, labels, strides=model.strides,
    ...                           regression_ranges=model.regression_ranges, num_classes=K,
    ...                           normalizer=normalizer)
    >>> (losses["cls"] + losses["reg"]).backward()
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .targets import assign_targets, make_points

__all__ = ["sigmoid_focal_loss", "diou_loss_1d", "LossNormalizer", "detection_losses"]

_REDUCTIONS = ("none", "mean", "sum")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean() if loss.numel() else loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be one of {', '.join(_REDUCTIONS)}, got {reduction!r}")


def sigmoid_focal_loss(
    logits: Tensor, targets: Tensor, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "sum"
) -> Tensor:
    """The focal loss of independent sigmoid scores (Lin et al., ICCV 2017), computed in float32.

    ``loss = a_t (1 - p_t)^gamma BCE(logits, targets)``, with ``p_t = p t + (1 - p)(1 - t)`` and ``a_t = alpha
    t + (1 - alpha)(1 - t)`` (no weighting for ``alpha < 0``); soft targets in [0, 1] (label smoothing) work.

    Args:
        logits: any shape.
        targets: the shape of ``logits``, in [0, 1].
        reduction: ``"none"`` (the shape of ``logits``), ``"mean"`` or ``"sum"``.
    """
    logits, targets = logits.float(), targets.float()
    p = torch.sigmoid(logits)
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = F.binary_cross_entropy_with_logits(logits, targets, reduction="none") * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return _reduce(loss, reduction)


def diou_loss_1d(pred: Tensor, target: Tensor, reduction: str = "sum", eps: float = 1e-8) -> Tensor:
    """Distance-IoU loss (Zheng et al., AAAI 2020) of 1D segments given as distances from one shared point.

    A segment is (c - left, c + right) around the point c; ``1 - IoU + (centre distance / enclosing
    length)^2``. Zero lengths (no overlap, an empty segment) give finite values and gradients.

    Args:
        pred: [N, 2] non-negative (left, right) distances.
        target: [N, 2] non-negative (left, right) distances.
        reduction: ``"none"`` ([N]), ``"mean"`` or ``"sum"``.
    """
    pred, target = pred.float(), target.float()
    pred_left, pred_right = pred.unbind(-1)
    target_left, target_right = target.unbind(-1)
    intersection = torch.minimum(pred_left, target_left) + torch.minimum(pred_right, target_right)
    union = (pred_left + pred_right) + (target_left + target_right) - intersection
    iou = intersection / union.clamp(min=eps)
    enclosing = torch.maximum(pred_left, target_left) + torch.maximum(pred_right, target_right)
    centre_distance = 0.5 * ((pred_right - pred_left) - (target_right - target_left))
    loss = 1.0 - iou + (centre_distance / enclosing.clamp(min=eps)) ** 2
    return _reduce(loss, reduction)


class LossNormalizer:
    """An exponential moving average of the number of positive points per batch (ActionFormer's loss
    normaliser): ``value <- momentum * value + (1 - momentum) * max(positives, 1)``.

    Args:
        initial: the value before the first batch (the release: 100 on THUMOS14, 200 on ActivityNet).
        momentum: the weight of the past.
    """

    def __init__(self, initial: float = 100.0, momentum: float = 0.9) -> None:
        if not 0.0 <= momentum < 1.0 or initial <= 0:
            raise ValueError(
                f"loss normaliser: momentum in [0, 1) and initial > 0, got {momentum}, {initial}"
            )
        self.value = float(initial)
        self.momentum = float(momentum)

    def update(self, positives: int) -> float:
        """Fold in one batch's count of positive points; the new value."""
        self.value = self.momentum * self.value + (1.0 - self.momentum) * max(int(positives), 1)
        return self.value

    def state_dict(self) -> dict[str, float]:
        return {"value": self.value, "momentum": self.momentum}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.value, self.momentum = float(state["value"]), float(state["momentum"])

    def __repr__(self) -> str:
        return f"LossNormalizer(value={self.value:g}, momentum={self.momentum:g})"


def detection_losses(
    outputs: dict[str, list[Tensor]],
    segments: Sequence[Tensor],
    labels: Sequence[Tensor],
    *,
    strides: Sequence[int],
    regression_ranges: Sequence[Sequence[float]],
    num_classes: int,
    center_sample_radius: float | None = 1.5,
    label_smoothing: float = 0.0,
    normalizer: LossNormalizer | None = None,
    focal_alpha: float = 0.25,
    focal_gamma: float = 2.0,
) -> dict[str, Tensor]:
    """ActionFormer's losses of one batch of a detector's outputs.

    Targets come from :func:`~vidact.detect.targets.assign_targets` on the pyramid's points. The
    classification loss is the focal loss summed over every class of every real point; the regression loss
    the DIoU loss summed over the positive points; both are divided by the normaliser (:class:`LossNormalizer`
    updated with this batch's positives; without one, this batch's count of positives, at least 1).

    Args:
        outputs: a detector's output: ``"cls_logits"`` [[B, T_l, K]], ``"offsets"`` [[B, T_l, 2]] (in units of
            the level's stride), ``"masks"`` [[B, T_l]] bool.
        segments: per video, [N_b, 2] (start, end) in steps.
        labels: per video, [N_b] long class indices.
        strides, regression_ranges: the model's (``model.strides``, ``model.regression_ranges``).
        num_classes: K.
        center_sample_radius: see :func:`~vidact.detect.targets.assign_targets`.
        label_smoothing: eps: classification targets ``t (1 - eps) + eps / (K + 1)`` (the release's form).
        normalizer: the moving average of positives, updated in place.
        focal_alpha, focal_gamma: the focal loss's parameters.

    Returns:
        {"cls": scalar, "reg": scalar}. A model whose offsets carry no gradient (fixed extents) gets a
        regression loss without one: a measurement, not a training signal.
    """
    cls_logits, offsets, masks = outputs["cls_logits"], outputs["offsets"], outputs["masks"]
    if len(segments) != masks[0].shape[0] or len(labels) != len(segments):
        raise ValueError(
            f"{len(segments)} videos of segments and {len(labels)} of labels for a batch of {masks[0].shape[0]}"
        )
    device = masks[0].device
    points = make_points([m.shape[1] for m in masks], strides, regression_ranges).to(device)
    targets = [
        assign_targets(points, s, y, num_classes, center_sample_radius)
        for s, y in zip(segments, labels, strict=True)
    ]
    cls_targets = torch.stack([c for c, _ in targets])  # [B, P, K]
    reg_targets = torch.stack([r for _, r in targets])  # [B, P, 2]
    valid = torch.cat(masks, dim=1)  # [B, P]
    positive = valid & (cls_targets.sum(dim=-1) > 0)
    count = int(positive.sum())
    norm = normalizer.update(count) if normalizer is not None else float(max(count, 1))

    target = cls_targets[valid]
    if label_smoothing > 0:
        target = target * (1.0 - label_smoothing) + label_smoothing / (num_classes + 1)
    logits = torch.cat(cls_logits, dim=1)[valid]
    cls_loss = sigmoid_focal_loss(logits, target, focal_alpha, focal_gamma, reduction="sum") / norm
    predicted = torch.cat(offsets, dim=1)[positive]
    reg_loss = diou_loss_1d(predicted, reg_targets[positive], reduction="sum") / norm
    return {"cls": cls_loss, "reg": reg_loss}
