"""The points of a detector's feature pyramid and what each should predict (ActionFormer's label assignment).

Every step i of pyramid level l is a point at position ``i * stride_l`` (feature steps) that regresses the
distances to the start and the end of at most one action. A point is a positive for an action when

* it lies in the action's centre region: within ``center_sample_radius * stride_l`` of the action's centre,
  clipped to the action (without centre sampling, ``center_sample_radius=None``: anywhere inside it), and
* the distance to the action's farther boundary lies in the level's regression range (bounds included), so
  short actions land on fine levels and long ones on coarse levels.

A point positive for several actions takes the shortest (the easiest to regress); actions tied with it in
length (within 1e-3 steps) add their classes to its classification target.

    >>> points = make_points([64, 32], strides=(1, 2), regression_ranges=((0, 4), (4, float("inf"))))
    >>> cls_targets, reg_targets = assign_targets(points, torch.tensor([[10.0, 20.0]]), torch.tensor([2]), 5)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["make_points", "assign_targets"]


def make_points(
    lengths: Sequence[int], strides: Sequence[int], regression_ranges: Sequence[Sequence[float]]
) -> Tensor:
    """The points of a pyramid, level after level.

    Args:
        lengths: T_l, the steps of each level.
        strides: each level's stride (steps of the input per step of the level).
        regression_ranges: each level's (low, high) range of the distance to the farther boundary, in steps.

    Returns:
        [P, 4] float32, P = sum of T_l: (position in steps ``i * stride``, low, high, stride) per point.

    Raises:
        ValueError: the three sequences differ in length.
    """
    if not len(lengths) == len(strides) == len(regression_ranges):
        raise ValueError(
            f"{len(lengths)} level lengths, {len(strides)} strides and {len(regression_ranges)} regression ranges"
        )
    levels = []
    for length, stride, (low, high) in zip(lengths, strides, regression_ranges, strict=True):
        position = torch.arange(length, dtype=torch.float32) * stride
        constants = torch.tensor([low, high, stride], dtype=torch.float32).expand(length, 3)
        levels.append(torch.cat([position[:, None], constants], dim=1))
    return torch.cat(levels) if levels else torch.zeros(0, 4)


@torch.no_grad()
def assign_targets(
    points: Tensor,
    segments: Tensor,
    labels: Tensor,
    num_classes: int,
    center_sample_radius: float | None = 1.5,
) -> tuple[Tensor, Tensor]:
    """Classification and regression targets of every point for one video's actions.

    Args:
        points: [P, 4] (position, low, high, stride), from :func:`make_points`.
        segments: [N, 2] float (start, end) of the actions, in steps.
        labels: [N] long class indices in [0, num_classes).
        num_classes: K.
        center_sample_radius: the centre region's half-width in strides; None: the whole action.

    Returns:
        (cls_targets [P, K] float: 1 for the classes of the action(s) a point is positive for, else 0;
        reg_targets [P, 2] float: its distances to that action's start and end, in units of the point's
        stride (zero for negatives)).
    """
    num_points = points.shape[0]
    segments = segments.to(points.device, torch.float32)
    if segments.shape[0] == 0:
        return points.new_zeros(num_points, num_classes), points.new_zeros(num_points, 2)
    position, low, high, stride = (points[:, i, None] for i in range(4))  # each [P, 1]
    start, end = segments[None, :, 0], segments[None, :, 1]  # [1, N]
    distances = torch.stack([position - start, end - position], dim=-1)  # [P, N, 2]
    if center_sample_radius is None:
        inside = distances.min(dim=-1).values > 0
    else:
        centre = 0.5 * (start + end)
        region_start = torch.maximum(centre - stride * center_sample_radius, start)
        region_end = torch.minimum(centre + stride * center_sample_radius, end)
        inside = torch.minimum(position - region_start, region_end - position) > 0
    farther = distances.max(dim=-1).values
    in_range = (farther >= low) & (farther <= high)
    lengths = (end - start).expand(num_points, -1).masked_fill(~(inside & in_range), float("inf"))  # [P, N]
    shortest, which = lengths.min(dim=1)
    tied = (lengths <= shortest[:, None] + 1e-3) & torch.isfinite(lengths)
    one_hot = F.one_hot(labels.to(points.device).long(), num_classes).to(torch.float32)
    cls_targets = (tied.to(torch.float32) @ one_hot).clamp_(max=1.0)
    reg_targets = distances[torch.arange(num_points, device=points.device), which] / stride
    reg_targets = reg_targets * tied.any(dim=1, keepdim=True)
    return cls_targets, reg_targets
