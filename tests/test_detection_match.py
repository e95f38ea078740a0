"""``match_detections``: one video's matches, detection by detection, are the evaluation's own: the true positives
it finds are those ``evaluate_detection`` counts, and its AP from them is the evaluation's AP."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vidact.detect.annotations import Detection, GroundTruth, VideoAnnotation
from vidact.detect.evaluation import evaluate_detection, interpolated_average_precision, match_detections
from vidact.errors import ConfigError


def _gt(segments: np.ndarray, labels: list[str]) -> GroundTruth:
    annotation = VideoAnnotation(
        "v", 100.0, None, "validation", np.asarray(segments, float).reshape(-1, 2), labels
    )
    return GroundTruth({"v": annotation}, sorted(set(labels)), "activitynet", "gt.json")


def _random_case(seed: int, ties: bool) -> tuple[np.ndarray, list[str], list[Detection]]:
    rng = np.random.default_rng(seed)
    classes = ["a", "b", "c"]
    n = int(rng.integers(1, 8))
    starts = rng.uniform(0, 80, n)
    segments = np.stack([starts, starts + rng.uniform(1, 15, n)], axis=1)
    labels = [classes[i] for i in rng.integers(0, 2, n)]  # "c" has no ground truth: its detections are FPs
    detections = []
    for _ in range(int(rng.integers(1, 25))):
        if rng.random() < 0.6:  # near a ground truth
            s, e = segments[rng.integers(n)] + rng.normal(0, 2, 2)
        else:
            s = rng.uniform(0, 90)
            e = s + rng.uniform(0.5, 12)
        score = float(rng.integers(1, 4)) / 4 if ties else float(rng.random())
        detections.append(
            Detection(float(min(s, e)), float(max(s, e)) + 0.1, classes[rng.integers(3)], score)
        )
    return segments, labels, detections


@pytest.mark.parametrize("seed", range(12))
def test_the_true_positives_are_those_the_evaluation_counts(seed):
    """With distinct scores, the evaluation's AP of the ``k`` best detections of a class grows exactly when the
    ``k``-th is a true positive (a false positive at the end adds no area): so the evaluation's own count of true
    positives, read off its APs, equals the count of matches."""
    segments, labels, detections = _random_case(seed, ties=False)
    gt = _gt(segments, labels)
    for tiou in (0.3, 0.5, 0.7):
        matches = match_detections(segments, labels, detections, tiou)
        for label in sorted(set(labels)):
            mine = [m for m in matches if detections[m.detection].label == label]
            counted, before = 0, 0.0
            for k in range(1, len(mine) + 1):
                top = [detections[m.detection] for m in mine[:k]]
                ap = float(evaluate_detection(gt, {"v": top}, tious=[tiou]).ap[label][0])
                counted += ap > before + 1e-12
                before = ap
            assert counted == sum(m.true_positive for m in mine), (seed, tiou, label)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("ties", [False, True])
def test_the_ap_of_the_matches_in_their_order_is_the_evaluations(seed, ties):
    """Cumulative precision and recall over the matches, in the order returned, give the evaluation's AP of every
    class: the same ranking (ties included) and the same true positives."""
    segments, labels, detections = _random_case(seed, ties)
    gt = _gt(segments, labels)
    for tiou in (0.3, 0.5, 0.95):
        matches = match_detections(segments, labels, detections, tiou)
        assert sorted(m.detection for m in matches) == list(range(len(detections)))
        taken = [m.gt for m in matches if m.true_positive]
        assert len(taken) == len(set(taken))  # a ground truth is matched once
        for m in matches:
            d = detections[m.detection]
            if m.best_gt is not None:  # the tIoU given is that of the ground truth named, of the same class
                assert labels[m.best_gt] == d.label
                s, e = segments[m.best_gt]
                overlap = max(0.0, min(e, d.end) - max(s, d.start))
                assert m.tiou == pytest.approx(overlap / ((e - s) + (d.end - d.start) - overlap))
            if m.true_positive:
                assert m.gt == m.best_gt and m.tiou >= tiou
        result = evaluate_detection(gt, {"v": detections}, tious=[tiou], unknown_labels="ignore")
        for label, ap in result.ap.items():
            hits = np.array(
                [m.true_positive for m in matches if detections[m.detection].label == label], float
            )
            if not len(hits):
                assert ap[0] == 0
                continue
            tp, fp = np.cumsum(hits), np.cumsum(1 - hits)
            positives = labels.count(label)
            mine = interpolated_average_precision((tp / (tp + fp))[None], (tp / positives)[None])[0]
            assert mine == pytest.approx(ap[0], abs=1e-12), (seed, tiou, label)


def test_matches_on_cases_worked_out_by_hand():
    segments = np.array([[0.0, 10.0], [8.0, 20.0], [40.0, 50.0]])
    labels = ["X", "X", "Y"]
    detections = [
        Detection(0, 10, "X", 0.8),  # [0, 10] was taken by the detection ranked first: [8, 20] is at 0.1
        Detection(0, 12, "X", 0.9),  # ranked first: takes [0, 10] (tIoU 10/12) rather than [8, 20] (4/20)
        Detection(60, 70, "Y", 0.5),  # no overlap at all: FP, tIoU 0 with the Y segment
        Detection(40, 50, "Z", 0.7),  # a class without ground truth: FP, no best
    ]
    matches = match_detections(segments, labels, detections, 0.5)
    assert [m.detection for m in matches] == [1, 0, 2, 3]  # classes as in labels (then new ones), ranked
    assert [m.rank for m in matches] == [0, 1, 0, 0]
    first, second, y, z = matches
    assert (first.gt, first.best_gt) == (0, 0) and first.tiou == pytest.approx(10 / 12)
    assert second.gt is None and second.best_gt == 0 and second.tiou == 1.0  # its best was taken
    assert (y.gt, y.best_gt, y.tiou) == (None, 2, 0.0)
    assert (z.gt, z.best_gt, z.tiou) == (None, None, 0.0)
    assert matches[0].to_json() == {
        "detection": 1, "rank": 0, "gt": 0, "tiou": pytest.approx(10 / 12), "best_gt": 0, "true_positive": True,
    }  # fmt: skip
    # at 0.1 the second X detection goes on to [8, 20]: 2 s over 20 s, tIoU 0.1
    low = match_detections(segments, labels, detections, 0.1)
    assert (low[1].gt, low[1].tiou) == (1, pytest.approx(0.1))


def test_zero_length_segments_and_bad_input():
    match = match_detections(np.array([[5.0, 5.0]]), ["X"], [Detection(5, 5, "X", 0.5)], 0.5)[0]
    assert match.gt == 0 and math.isnan(match.tiou) and match.to_json()["tiou"] is None
    assert match_detections(np.zeros((0, 2)), [], [Detection(1, 2, "X", 0.5)], 0.5)[0].gt is None
    assert match_detections(np.array([[0.0, 1.0]]), ["X"], [], 0.5) == []
    with pytest.raises(ConfigError, match="tiou"):
        match_detections(np.array([[0.0, 1.0]]), ["X"], [], 1.5)
    with pytest.raises(ConfigError, match="labels"):
        match_detections(np.array([[0.0, 1.0]]), ["X", "Y"], [], 0.5)
