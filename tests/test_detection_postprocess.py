"""Decoding and suppression: NMS against torchvision's on segments as boxes [start, 0, end, 1], Soft-NMS against a
slow numpy reference and hand-computed cases, decoding of known offsets, and the whole postprocess recovering
the segments whose targets it is given."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torchvision.ops import batched_nms, nms

from vidact.detect.postprocess import decode, nms_1d, postprocess, segment_iou, soft_nms_1d
from vidact.detect.targets import assign_targets, make_points


def _random_segments(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """[N, 2] segments of 1-30 steps in [0, 200], scores [N], labels [N] in 0-2; clusters make overlaps."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.tensor([30.0, 80.0, 150.0])[torch.randint(0, 3, (count,), generator=generator)]
    centres = centres + 15 * torch.randn(count, generator=generator)
    lengths = 1 + 29 * torch.rand(count, generator=generator)
    segments = torch.stack([centres - lengths / 2, centres + lengths / 2], dim=1)
    scores = torch.rand(count, generator=generator)
    return segments, scores, torch.randint(0, 3, (count,), generator=generator)


def _boxes(segments: torch.Tensor) -> torch.Tensor:
    zeros = torch.zeros(len(segments))
    return torch.stack([segments[:, 0], zeros, segments[:, 1], zeros + 1], dim=1)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("threshold", [0.0, 0.1, 0.3, 0.5, 0.7])
def test_nms_equals_torchvision(seed: int, threshold: float) -> None:
    segments, scores, labels = _random_segments(300, seed)
    scores[::7] = scores[3]  # ties are broken in the same (input) order
    keep = nms_1d(segments, scores, threshold)
    assert keep.dtype == torch.long
    assert keep.tolist() == nms(_boxes(segments), scores, threshold).tolist()
    by_class = nms_1d(segments, scores, threshold, labels=labels)
    assert by_class.tolist() == batched_nms(_boxes(segments), scores, labels, threshold).tolist()
    assert len(by_class) >= len(keep)


def test_nms_of_nothing_and_of_one() -> None:
    assert nms_1d(torch.zeros(0, 2), torch.zeros(0), 0.5).tolist() == []
    assert nms_1d(torch.tensor([[1.0, 2.0]]), torch.tensor([0.3]), 0.5).tolist() == [0]
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        nms_1d(torch.zeros(3, 3), torch.zeros(3), 0.5)


def _soft_nms_reference(segments, scores, labels, *, iou_threshold, sigma, min_score, method):
    """Soft-NMS written out plainly in float64: per class, repeatedly take the highest remaining score (the first
    on ties), keep it if it reaches min_score, decay every other remaining one by its IoU with it."""
    segments, scores, labels = np.asarray(segments, float), np.asarray(scores, float), np.asarray(labels)
    out = []
    for label in sorted(set(labels.tolist())):
        remaining = [int(i) for i in np.flatnonzero(labels == label)]
        current = {i: scores[i] for i in remaining}
        while remaining:
            best = max(remaining, key=lambda i: (current[i], -remaining.index(i)))
            if current[best] < min_score:
                break
            out.append((best, current[best], label))
            remaining.remove(best)
            for i in remaining:
                inter = max(
                    0.0, min(segments[best, 1], segments[i, 1]) - max(segments[best, 0], segments[i, 0])
                )
                union = (segments[best, 1] - segments[best, 0]) + (segments[i, 1] - segments[i, 0]) - inter
                iou = inter / union
                if method == "gaussian":
                    current[i] *= math.exp(-(iou**2) / sigma)
                elif iou >= iou_threshold:
                    current[i] *= 1 - iou
    out.sort(key=lambda row: -row[1])
    return out


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(
    ("method", "sigma", "threshold", "min_score"),
    [
        ("gaussian", 0.5, 0.1, 0.001),
        ("gaussian", 0.75, 0.1, 0.05),
        ("linear", 0.5, 0.3, 0.01),
        ("linear", 0.5, 0.6, 0.001),
    ],
)
def test_soft_nms_equals_a_plain_reference(
    seed: int, method: str, sigma: float, threshold: float, min_score: float
):
    segments, scores, labels = _random_segments(120, seed)
    kept_segments, kept_scores, kept_labels = soft_nms_1d(
        segments, scores, labels, iou_threshold=threshold, sigma=sigma, min_score=min_score, method=method
    )
    reference = _soft_nms_reference(
        segments.double(),
        scores.double(),
        labels,
        iou_threshold=threshold,
        sigma=sigma,
        min_score=min_score,
        method=method,
    )
    assert len(kept_scores) == len(reference) > 0
    expected_segments = segments[[i for i, _, _ in reference]]
    assert torch.equal(kept_segments, expected_segments)
    assert kept_labels.tolist() == [label for _, _, label in reference]
    np.testing.assert_allclose(kept_scores.numpy(), [s for _, s, _ in reference], rtol=1e-5)
    assert (kept_scores >= min_score).all() and (kept_scores[:-1] >= kept_scores[1:]).all()


def test_soft_nms_by_hand() -> None:
    segments = torch.tensor([[0.0, 10.0], [5.0, 15.0], [20.0, 30.0], [0.0, 10.0]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    labels = torch.tensor([0, 0, 0, 1])  # the last one is of another class: never decayed by the first
    # Gaussian: the second overlaps the first with IoU 5/15 = 1/3: 0.8 exp(-(1/9) / 0.5) = 0.6406 < 0.7.
    _, kept, kept_labels = soft_nms_1d(
        segments, scores, labels, sigma=0.5, min_score=0.001, method="gaussian"
    )
    np.testing.assert_allclose(kept.numpy(), [0.9, 0.7, 0.8 * math.exp(-2 / 9), 0.6], rtol=1e-6)
    assert kept_labels.tolist() == [0, 0, 0, 1]
    # Linear from IoU 0.3: 0.8 (1 - 1/3) = 0.5333; from 0.4 the overlap of 1/3 decays nothing.
    _, kept, _ = soft_nms_1d(segments, scores, labels, iou_threshold=0.3, min_score=0.001, method="linear")
    np.testing.assert_allclose(kept.numpy(), [0.9, 0.7, 0.6, 0.8 * 2 / 3], rtol=1e-6)
    _, kept, _ = soft_nms_1d(segments, scores, labels, iou_threshold=0.4, min_score=0.001, method="linear")
    np.testing.assert_allclose(kept.numpy(), [0.9, 0.8, 0.7, 0.6], rtol=1e-6)
    # A decayed score below min_score is dropped: 0.8 exp(-(1/9) / 0.01) ~ 1e-5.
    _, kept, _ = soft_nms_1d(segments, scores, labels, sigma=0.01, min_score=0.001, method="gaussian")
    np.testing.assert_allclose(kept.numpy(), [0.9, 0.7, 0.6], rtol=1e-6)
    with pytest.raises(ValueError, match="gaussian, linear"):
        soft_nms_1d(segments, scores, labels, method="hard")
    empty = soft_nms_1d(torch.zeros(0, 2), torch.zeros(0), torch.zeros(0, dtype=torch.long))
    assert [len(x) for x in empty] == [0, 0, 0]


def test_segment_iou() -> None:
    iou = segment_iou(
        torch.tensor([0.0, 10.0]), torch.tensor([[5.0, 15.0], [10.0, 20.0], [2.0, 4.0], [3.0, 3.0]])
    )
    np.testing.assert_allclose(iou.numpy(), [1 / 3, 0.0, 0.2, 0.0])
    assert segment_iou(torch.tensor([3.0, 3.0]), torch.tensor([[3.0, 3.0]])).tolist() == [0.0]  # no 0 / 0


STRIDES = (1, 2, 4)


def _outputs(lengths=(40, 20, 10), num_classes=3) -> dict[str, list[torch.Tensor]]:
    """Outputs of a batch of 2 where nothing scores (logits -20), offsets 1."""
    return {
        "cls_logits": [torch.full((2, n, num_classes), -20.0) for n in lengths],
        "offsets": [torch.ones(2, n, 2) for n in lengths],
        "masks": [torch.ones(2, n, dtype=torch.bool) for n in lengths],
    }


def test_decoding_turns_offsets_back_into_segments() -> None:
    outputs = _outputs()
    # Level 2 (stride 4), step 5 is at position 20; offsets (2, 3) strides: the segment [12, 32], class 1.
    outputs["cls_logits"][2][1, 5, 1] = 3.0
    outputs["offsets"][2][1, 5] = torch.tensor([2.0, 3.0])
    # Level 0, step 7, class 2: [7 - 0.5, 7 + 1.5]; a padded step that would score is not decoded.
    outputs["cls_logits"][0][1, 7, 2] = 1.0
    outputs["offsets"][0][1, 7] = torch.tensor([0.5, 1.5])
    outputs["cls_logits"][1][1, 19, 0] = 5.0
    outputs["masks"][1][1, 15:] = False
    segments, scores, labels = decode(outputs, 1, strides=STRIDES)
    assert segments.tolist() == [[6.5, 8.5], [12.0, 32.0]]
    np.testing.assert_allclose(
        scores.numpy(), [1 / (1 + math.exp(-1.0)), 1 / (1 + math.exp(-3.0))], rtol=1e-6
    )
    assert labels.tolist() == [2, 1]
    assert decode(outputs, 0, strides=STRIDES)[0].shape == (0, 2)  # the other sample has nothing

    # The score threshold, the per-level top-k and the minimum length.
    assert decode(outputs, 1, strides=STRIDES, pre_nms_thresh=0.8)[2].tolist() == [1]
    outputs["cls_logits"][0][1, :, 0] = torch.linspace(-1, 0.9, 40)  # 40 more candidates on level 0
    segments, scores, labels = decode(outputs, 1, strides=STRIDES, pre_nms_topk=3)
    assert len(scores) == 4 and labels.tolist() == [2, 0, 0, 1] and segments[1].tolist() == [38.0, 40.0]
    outputs["offsets"][0][1, 7] = torch.tensor([0.01, 0.02])
    assert [0.0, 0.03] not in decode(outputs, 1, strides=STRIDES)[0].tolist()
    assert 2 not in decode(outputs, 1, strides=STRIDES, min_length=0.05)[2].tolist()


def test_postprocess_recovers_the_segments_its_targets_came_from() -> None:
    """Outputs that score the positives of two actions and regress exactly their targets: every NMS gives the two
    actions back as the best two detections."""
    lengths, ranges = [64, 32, 16], ((0.0, 4.0), (4.0, 8.0), (8.0, math.inf))
    points = make_points(lengths, STRIDES, ranges)
    segments = torch.tensor([[10.0, 17.0], [30.0, 52.0]])
    cls_targets, reg_targets = assign_targets(points, segments, torch.tensor([2, 0]), 3)
    positive = cls_targets.any(dim=1)
    logits = torch.where(cls_targets > 0, 4.0, -10.0)  # sigmoid(-10) is below the pre-NMS threshold
    # Scores fall off away from each action's centre, so the best point of each is its centre.
    centre = torch.where(cls_targets[:, 0] > 0, 41.0, 13.5)
    logits = logits - 0.01 * (points[:, 0] - centre).abs()[:, None]
    outputs = {
        "cls_logits": [y[None] for y in logits.split(lengths)],
        "offsets": [y[None] for y in reg_targets.split(lengths)],
        "masks": [torch.ones(1, n, dtype=torch.bool) for n in lengths],
    }
    assert positive.sum() >= 4
    for method in ("soft", "hard"):
        found, scores, labels = postprocess(outputs, 0, strides=STRIDES, nms=method, iou_threshold=0.5)
        assert sorted(found[:2].tolist()) == segments.tolist(), method
        assert sorted(labels[:2].tolist()) == [0, 2] and (scores[:-1] >= scores[1:]).all()
    assert len(found) == 2  # hard NMS: every other candidate duplicates one of the two
    found, scores, _ = postprocess(outputs, 0, strides=STRIDES, nms="none")
    assert len(found) == positive.sum() and {tuple(s) for s in found.tolist()} == {(10.0, 17.0), (30.0, 52.0)}
    assert (scores[:-1] >= scores[1:]).all()
    assert len(postprocess(outputs, 0, strides=STRIDES, nms="none", max_segments=3)[0]) == 3
    with pytest.raises(ValueError, match="soft, hard, none"):
        postprocess(outputs, 0, strides=STRIDES, nms="greedy")


@pytest.mark.parametrize("method", ["gaussian", "linear"])
def test_soft_nms_capped_at_max_segments_is_the_head_of_the_uncapped(method: str) -> None:
    """Each class stops after ``max_segments`` picks (what keeps validation fast on thousands of candidates):
    exactly the first ``max_segments`` of the uncapped result, ties of scores included."""
    generator = torch.Generator().manual_seed(0)
    starts = torch.rand(600, generator=generator) * 50
    segments = torch.stack([starts, starts + 0.5 + torch.rand(600, generator=generator) * 5], dim=1)
    scores = torch.round(torch.rand(600, generator=generator) * 20) / 20  # many ties
    labels = torch.randint(0, 4, (600,), generator=generator)
    full = soft_nms_1d(segments, scores, labels, method=method, min_score=0.0001)
    for cap in (1, 7, 50):
        capped = soft_nms_1d(segments, scores, labels, method=method, min_score=0.0001, max_segments=cap)
        for a, b in zip(capped, full, strict=True):
            assert torch.equal(a, b[:cap])
