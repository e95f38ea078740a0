"""The detector's targets and losses: the pyramid's points, label assignment (regression ranges, centre sampling,
the shortest action winning), the focal loss against torchvision's, the 1D DIoU loss against hand-computed values
and a segment-endpoint formula, and detection_losses' normalisation."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.ops import sigmoid_focal_loss as torchvision_focal_loss

from vidact.detect.losses import LossNormalizer, detection_losses, diou_loss_1d, sigmoid_focal_loss
from vidact.detect.targets import assign_targets, make_points

STRIDES = (1, 2, 4, 8)
RANGES = ((0.0, 4.0), (4.0, 8.0), (8.0, 16.0), (16.0, math.inf))


def test_points_lie_on_every_level_with_their_range_and_stride() -> None:
    points = make_points([8, 4, 2, 1], STRIDES, RANGES)
    assert points.shape == (15, 4) and points.dtype == torch.float32
    assert points[:8, 0].tolist() == list(range(8)) and points[8:12, 0].tolist() == [0, 2, 4, 6]
    assert points[12:14, 0].tolist() == [0, 4] and points[14].tolist() == [0, 16, math.inf, 8]
    assert points[9].tolist() == [2, 4, 8, 2]
    with pytest.raises(ValueError, match="3 level lengths, 4 strides"):
        make_points([8, 4, 2], STRIDES, RANGES)


def _positives(cls_targets: torch.Tensor, lengths: list[int]) -> list[tuple[int, int]]:
    """(level, step) of every point with a class target."""
    out, start = [], 0
    for level, length in enumerate(lengths):
        out += [(level, i) for i in range(length) if cls_targets[start + i].any()]
        start += length
    return out


def test_a_ten_step_action_lands_where_its_half_length_is_in_range() -> None:
    """An action over steps [20, 30]: at its centre the farther boundary is 5 steps away, so level 1 (range 4-8)
    takes it; centre sampling (1.5 strides around step 25, clipped to the action) picks the points; a point at
    distance exactly 8 also counts on level 2 (bounds included)."""
    lengths = [64, 32, 16, 8]
    points = make_points(lengths, STRIDES, RANGES)
    segments, labels = torch.tensor([[20.0, 30.0]]), torch.tensor([2])
    cls_targets, reg_targets = assign_targets(points, segments, labels, num_classes=4)
    # Level 0: steps 24-26 are in the centre region, but 5-6 steps from the farther boundary (> 4).
    # Level 1: region (22, 28): positions 24 and 26, farther boundary 6 away. Level 2: region clipped to (20, 30):
    # positions 24 (6 away: out of 8-16) and 28 (8 away: in).
    assert _positives(cls_targets, lengths) == [(1, 12), (1, 13), (2, 7)]
    offset = [0, 64, 96]
    for level, step, expected in [(1, 12, (2.0, 3.0)), (1, 13, (3.0, 2.0)), (2, 7, (2.0, 0.5))]:
        point = offset[level] + step
        assert cls_targets[point].tolist() == [0, 0, 1, 0]
        assert reg_targets[point].tolist() == list(expected)  # (to start, to end) / stride
    assert cls_targets.sum() == 3 and reg_targets.abs().sum() == pytest.approx(2 + 3 + 3 + 2 + 2 + 0.5)

    # Without centre sampling every point inside the action whose farther boundary is in range is positive.
    cls_targets, _ = assign_targets(points, segments, labels, num_classes=4, center_sample_radius=None)
    assert _positives(cls_targets, lengths) == [(1, 11), (1, 12), (1, 13), (1, 14), (2, 7)]

    # No actions: no positives.
    none_cls, none_reg = assign_targets(points, torch.zeros(0, 2), torch.zeros(0, dtype=torch.long), 4)
    assert none_cls.shape == (120, 4) and not none_cls.any() and not none_reg.any()


def test_the_shortest_action_wins_and_ties_add_their_classes() -> None:
    points = make_points([64], (1,), ((0.0, math.inf),))
    # A long action [0, 40] of class 0 and a short one [18, 24] of class 1 around the same points; then a tie:
    # two actions [50, 56] of classes 2 and 3.
    segments = torch.tensor([[0.0, 40.0], [18.0, 24.0], [50.0, 56.0], [50.0, 56.0]])
    labels = torch.tensor([0, 1, 2, 3])
    cls_targets, reg_targets = assign_targets(
        points, segments, labels, num_classes=4, center_sample_radius=None
    )
    assert cls_targets[20].tolist() == [0, 1, 0, 0] and reg_targets[20].tolist() == [2.0, 4.0]
    assert cls_targets[10].tolist() == [1, 0, 0, 0] and reg_targets[10].tolist() == [10.0, 30.0]
    assert cls_targets[53].tolist() == [0, 0, 1, 1] and reg_targets[53].tolist() == [3.0, 3.0]
    # On a boundary is not inside: step 18 belongs to the long action only, steps 0 and 40 to none.
    assert cls_targets[18].tolist() == [1, 0, 0, 0] and not cls_targets[0].any() and not cls_targets[40].any()


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize(("alpha", "gamma"), [(0.25, 2.0), (-1.0, 2.0), (0.5, 0.0), (0.25, 1.5)])
def test_focal_loss_equals_torchvision(reduction: str, alpha: float, gamma: float) -> None:
    generator = torch.Generator().manual_seed(0)
    logits = 4 * torch.randn(50, 7, generator=generator)
    targets = (torch.rand(50, 7, generator=generator) > 0.8).float()
    targets[:5] = 0.1 + 0.8 * torch.rand(5, 7, generator=generator)  # soft targets (label smoothing)
    ours = sigmoid_focal_loss(logits, targets, alpha, gamma, reduction=reduction)
    theirs = torchvision_focal_loss(logits, targets, alpha, gamma, reduction=reduction)
    torch.testing.assert_close(ours, theirs)
    with pytest.raises(ValueError, match="reduction"):
        sigmoid_focal_loss(logits, targets, reduction="max")


def test_diou_loss_by_hand() -> None:
    pred = torch.tensor([[1.0, 1.0], [2.0, 0.0], [1.0, 3.0], [0.0, 0.0]])
    target = torch.tensor([[1.0, 1.0], [0.0, 2.0], [2.0, 2.0], [1.0, 2.0]])
    # Identical: 0. Disjoint halves of [-2, 2] (IoU 0, centres 2 apart over an enclosing 4): 1 + (2/4)^2.
    # [-1, 3] vs [-2, 2]: IoU 3/5, centres 1 apart over 5: 1 - 0.6 + 0.04. An empty prediction at the point
    # vs [-1, 2]: IoU 0, centres 0.5 apart over 3.
    expected = torch.tensor([0.0, 1.25, 0.44, 1.0 + (0.5 / 3) ** 2])
    torch.testing.assert_close(diou_loss_1d(pred, target, reduction="none"), expected)
    torch.testing.assert_close(diou_loss_1d(pred, target), expected.sum())
    torch.testing.assert_close(diou_loss_1d(pred, target, reduction="mean"), expected.mean())
    assert diou_loss_1d(pred[:0], target[:0], reduction="mean") == 0


def test_diou_loss_equals_the_endpoint_formula() -> None:
    """Against DIoU computed from the segments' endpoints (IoU, centre distance, enclosing length)."""
    generator = torch.Generator().manual_seed(1)
    pred, target = 5 * torch.rand(200, 2, generator=generator), 5 * torch.rand(200, 2, generator=generator)
    expected = []
    for (pl, pr), (tl, tr) in zip(pred.double().tolist(), target.double().tolist(), strict=True):
        a, b = (-pl, pr), (-tl, tr)
        inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
        union = (a[1] - a[0]) + (b[1] - b[0]) - inter
        enclosing = max(a[1], b[1]) - min(a[0], b[0])
        centres = (a[0] + a[1]) / 2 - (b[0] + b[1]) / 2
        expected.append(1 - inter / union + (centres / enclosing) ** 2)
    torch.testing.assert_close(diou_loss_1d(pred, target, reduction="none"), torch.tensor(expected).float())


def test_diou_gradients_are_finite_without_overlap() -> None:
    pred = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 3.0], [0.0, 0.0]], requires_grad=True)
    target = torch.tensor([[1.0, 2.0], [0.0, 2.0], [4.0, 0.0], [0.0, 0.0]])
    loss = diou_loss_1d(pred, target)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(pred.grad).all()
    assert pred.grad[1].abs().sum() > 0  # disjoint segments still pull towards each other (the centre term)


def _outputs(lengths: list[int], num_classes: int, seed: int = 0) -> dict[str, list[torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    return {
        "cls_logits": [
            torch.randn(2, n, num_classes, generator=generator, requires_grad=True) for n in lengths
        ],
        "offsets": [(2 * torch.rand(2, n, 2, generator=generator)).requires_grad_() for n in lengths],
        "masks": [torch.ones(2, n, dtype=torch.bool) for n in lengths],
    }


def test_detection_losses_are_focal_and_diou_over_the_positives() -> None:
    lengths = [32, 16, 8, 4]
    outputs = _outputs(lengths, 3)
    for level, n in enumerate(lengths):  # the second video is padded after 20 steps
        outputs["masks"][level][1] = torch.arange(n) * STRIDES[level] < 20
    segments = [torch.tensor([[2.0, 9.0], [12.0, 30.0]]), torch.tensor([[4.0, 10.0]])]
    labels = [torch.tensor([0, 2]), torch.tensor([1])]
    losses = detection_losses(
        outputs,
        segments,
        labels,
        strides=STRIDES,
        regression_ranges=RANGES,
        num_classes=3,
        center_sample_radius=1.5,
    )

    points = make_points(lengths, STRIDES, RANGES)
    cls_t, reg_t = zip(
        *(assign_targets(points, s, y, 3) for s, y in zip(segments, labels, strict=True)), strict=True
    )
    valid = torch.cat(outputs["masks"], dim=1)
    positive = valid & (torch.stack(cls_t).sum(-1) > 0)
    count = int(positive.sum())
    assert count > 3
    logits, offsets = torch.cat(outputs["cls_logits"], 1), torch.cat(outputs["offsets"], 1)
    cls_expected = torchvision_focal_loss(logits[valid], torch.stack(cls_t)[valid], reduction="sum") / count
    reg_expected = diou_loss_1d(offsets[positive], torch.stack(reg_t)[positive]) / count
    torch.testing.assert_close(losses["cls"], cls_expected)
    torch.testing.assert_close(losses["reg"], reg_expected)

    # Padded points count for nothing: changing their logits changes no loss.
    with torch.no_grad():
        outputs["cls_logits"][0][1, 25:] += 5.0
    again = detection_losses(
        outputs, segments, labels, strides=STRIDES, regression_ranges=RANGES, num_classes=3
    )
    torch.testing.assert_close(again["cls"], losses["cls"])

    # Label smoothing: targets t (1 - eps) + eps / (K + 1).
    smooth = detection_losses(
        outputs,
        segments,
        labels,
        strides=STRIDES,
        regression_ranges=RANGES,
        num_classes=3,
        label_smoothing=0.1,
    )
    smoothed = torch.stack(cls_t)[valid] * 0.9 + 0.1 / 4
    expected = (
        torchvision_focal_loss(torch.cat(outputs["cls_logits"], 1)[valid], smoothed, reduction="sum") / count
    )
    torch.testing.assert_close(smooth["cls"], expected)


def test_the_normaliser_is_a_moving_average_of_the_positives() -> None:
    lengths = [32, 16, 8, 4]
    outputs = _outputs(lengths, 2)
    segments, labels = [torch.tensor([[2.0, 9.0]])] * 2, [torch.tensor([1])] * 2
    plain = detection_losses(
        outputs, segments, labels, strides=STRIDES, regression_ranges=RANGES, num_classes=2
    )
    normalizer = LossNormalizer(initial=100.0, momentum=0.9)
    first = detection_losses(
        outputs,
        segments,
        labels,
        strides=STRIDES,
        regression_ranges=RANGES,
        num_classes=2,
        normalizer=normalizer,
    )
    points = make_points(lengths, STRIDES, RANGES)
    count = 2 * int(assign_targets(points, segments[0], labels[0], 2)[0].any(dim=1).sum())
    assert normalizer.value == pytest.approx(0.9 * 100 + 0.1 * count)
    torch.testing.assert_close(first["cls"], plain["cls"] * count / normalizer.value)
    detection_losses(
        outputs,
        segments,
        labels,
        strides=STRIDES,
        regression_ranges=RANGES,
        num_classes=2,
        normalizer=normalizer,
    )
    assert normalizer.value == pytest.approx(0.9 * (0.9 * 100 + 0.1 * count) + 0.1 * count)
    restored = LossNormalizer()
    restored.load_state_dict(normalizer.state_dict())
    assert restored.value == normalizer.value and restored.momentum == 0.9

    # A batch without actions: the classification loss pushes every score down, the regression loss is 0.
    empty = detection_losses(
        outputs,
        [torch.zeros(0, 2)] * 2,
        [torch.zeros(0, dtype=torch.long)] * 2,
        strides=STRIDES,
        regression_ranges=RANGES,
        num_classes=2,
    )
    assert empty["reg"] == 0 and empty["cls"] > 0
    (empty["cls"] + empty["reg"]).backward()
    assert all(torch.isfinite(y.grad).all() for y in outputs["cls_logits"])
