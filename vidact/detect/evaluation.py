"""Average precision of temporal action detection at temporal IoU thresholds, as the official ActivityNet kit
computes it, and the average recall of proposals against their average number per video (AR@AN).

:func:`evaluate_detection` gives the numbers of the kit's ``Evaluation/eval_detection.py`` (github.com/
activitynet/ActivityNet), for ActivityNet-1.3 (tIoU 0.5:0.95, step 0.05) and THUMOS14 (0.3:0.7, step 0.1):

* Per class, the detections are ranked by score with numpy's ``argsort()[::-1]`` over the class's scores in
  the order of the submission (videos in the file's order, each video's detections in its order), exactly as
  the kit ranks the rows of its prediction table. Equal scores are frequent (the official sample submission
  scores everything 1.0), so the order among them changes the AP; numpy's default sort is not stable and orders
  equal keys differently on different CPUs (numpy 1.26 sorts with AVX-512 where the CPU has it): vidact and the
  kit agree on one machine, and a result with tied scores can differ in the last digits from one machine to
  another, for both.
* Each detection tries the ground truths of its class in its video in descending tIoU (again the kit's
  ``argsort()[::-1]``, so equal tIoUs keep its order), stops at the first below the threshold, skips those
  already matched at that threshold and takes the first free one: a true positive. Otherwise, and in a video
  without ground truth of its class (one missing from the ground truth, or of another subset), a false positive.
* Ground truths of videos the submission leaves out still count (recall stays below 1).
* AP: all-point interpolation (the precision envelope of VOC 2011) over the cumulative precision and recall.
  A class without detections scores 0; the mAP averages over the classes with ground truth in the evaluated
  videos.

vidact matches the ground truth's subset case-insensitively (THUMOS14 writes ``Test``), matches video ids with
or without ActivityNet's ``v_`` prefix (:func:`~vidact.detect.annotations.match_video_ids`), and knows no
blocked videos (the kit can fetch a list of them from a server that no longer answers; its ``check_status=False``
is what vidact computes). A detection whose label is not a class of the ground truth stops the official kit with
an error: ``unknown_labels="error"`` does the same (one line naming the label and the file);
``unknown_labels="ignore"`` leaves them out and counts them (:attr:`DetectionResult.ignored`), as
ActionFormer's copy of the kit does silently. Detections of a class of the file that has no ground truth in the
evaluated subset are not scored (the kit stops there too: its classes are those of the subset).

The kit matches detection after detection in Python; vidact runs the same greedy matching for all classes at
once, one step per rank within a (class, video) pair (matching in different videos or classes is independent),
vectorised over the pairs and the thresholds: the 4,728 videos of ActivityNet's validation take well under a
second. :func:`match_detections` gives that matching in one video, detection by detection (the ground truth each
one takes, and the tIoU), for a page or a plot to draw.

:func:`average_recall` is the kit's ``Evaluation/eval_proposal.py`` (``average_recall_vs_avg_nr_proposals``):
class-agnostic, each video's proposals ranked by score and cut to the same fraction of the whole submission, so
that on average ``max_avg_proposals`` remain per video.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError, DatasetError
from .annotations import Detection, GroundTruth, match_video_ids

__all__ = [
    "temporal_iou",
    "average_precision",
    "interpolated_average_precision",
    "DetectionResult",
    "evaluate_detection",
    "Match",
    "match_detections",
    "RecallResult",
    "average_recall",
    "parse_tious",
    "UNKNOWN_LABELS",
]

#: What :func:`evaluate_detection` does with a detection whose label is not a class of the ground truth.
UNKNOWN_LABELS = ("error", "ignore")

#: The average numbers of proposals per video of the AR@AN curve: the kit's 100 points are fractions 1% ... 100%
#: of ``max_avg_proposals``.
_RECALL_POINTS = 100


def temporal_iou(segment: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Temporal intersection over union of one segment with each candidate.

    Args:
        segment: [2] start and end (seconds or any unit).
        candidates: [N, 2] starts and ends.

    Returns:
        [N] float64 tIoU in [0, 1]; NaN where both have zero length at the same place (0 / 0, as the kit).
    """
    segment = np.asarray(segment, dtype=np.float64)
    candidates = np.asarray(candidates, dtype=np.float64).reshape(-1, 2)
    return _tiou(segment[0], segment[1], candidates[:, 0], candidates[:, 1])


def _tiou(start: np.ndarray, end: np.ndarray, c_start: np.ndarray, c_end: np.ndarray) -> np.ndarray:
    """tIoU with broadcasting, in the kit's order of operations (the same floats, so the same comparisons with a
    threshold): intersection clipped at 0, union = candidate length + segment length - intersection."""
    intersection = (np.minimum(end, c_end) - np.maximum(start, c_start)).clip(0)
    union = (c_end - c_start) + (end - start) - intersection
    with np.errstate(divide="ignore", invalid="ignore"):
        return intersection / union


def interpolated_average_precision(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """All-point interpolated AP (VOC 2011): the area under the precision envelope over recall.

    Args:
        precision: [T, N] cumulative precision of the ranked detections at each of T thresholds.
        recall: [T, N] cumulative recall, non-decreasing along N.

    Returns:
        [T] float64 AP; 0 for N = 0.
    """
    precision = np.atleast_2d(np.asarray(precision, dtype=np.float64))
    recall = np.atleast_2d(np.asarray(recall, dtype=np.float64))
    rows = precision.shape[0]
    padded_precision = np.hstack([np.zeros((rows, 1)), precision, np.zeros((rows, 1))])
    padded_recall = np.hstack([np.zeros((rows, 1)), recall, np.ones((rows, 1))])
    envelope = np.maximum.accumulate(padded_precision[:, ::-1], axis=1)[:, ::-1]
    steps = padded_recall[:, 1:] - padded_recall[:, :-1]
    return (steps * envelope[:, 1:]).sum(axis=1)


def parse_tious(text: str) -> np.ndarray:
    """Thresholds from ``"0.5:0.95:0.05"`` (start:stop:step, both ends included, as ``numpy.linspace`` makes them,
    the floats of the kit) or ``"0.3,0.5,0.7"``; ascending float64.

    Raises:
        ConfigError: not numbers, a step that does not reach the stop, or a threshold outside (0, 1].
    """
    try:
        if ":" in text:
            start, stop, step = (float(x) for x in text.split(":"))
            if step <= 0 or stop < start:
                raise ValueError
            count = round((stop - start) / step) + 1
            if not math.isclose(start + (count - 1) * step, stop, abs_tol=1e-9):
                raise ConfigError(
                    f"tIoU {text!r}: the step {step:g} does not lead from {start:g} to {stop:g}"
                )
            tious = np.linspace(start, stop, count)
        else:
            tious = np.array([float(x) for x in text.split(",")], dtype=np.float64)
    except ValueError:
        raise ConfigError(
            f"tIoU {text!r}: expected start:stop:step (0.5:0.95:0.05) or a list (0.3,0.5,0.7)"
        ) from None
    return _check_tious(tious, text)


def _check_tious(tious: Iterable[float] | np.ndarray, what: object) -> np.ndarray:
    tious = np.asarray(tious, dtype=np.float64).reshape(-1)
    if tious.size == 0 or not np.all((tious > 0) & (tious <= 1)) or np.any(np.diff(tious) <= 0):
        raise ConfigError(
            f"tIoU thresholds {what}: expected ascending values in (0, 1], got {tious.tolist()}"
        )
    return tious


# ---------------------------------------------------------------------------------------------------------------
# The matching and AP of the kit, for every class at once


@dataclass
class _Table:
    """Ground truth and detections flattened, each class an index into the evaluated classes.

    ``gt_*`` are in the ground truth's order (videos, then each video's segments), ``pred_*`` in the submission's
    (videos, then each video's detections); ``pred_video`` is -1 for a video without ground truth.
    """

    num_classes: int
    num_videos: int
    gt_video: np.ndarray  # [G] int64
    gt_class: np.ndarray  # [G] int64
    gt_segments: np.ndarray  # [G, 2] float64
    pred_video: np.ndarray  # [P] int64
    pred_class: np.ndarray  # [P] int64
    pred_segments: np.ndarray  # [P, 2] float64
    pred_scores: np.ndarray  # [P] float64


def _rank_by_class(table: _Table) -> list[np.ndarray]:
    """Per class, its detections (indices into the table) from the highest score down: the kit's
    ``scores.argsort()[::-1]`` over the class's scores in the submission's order."""
    by_class = np.argsort(table.pred_class, kind="stable")  # stable: each class keeps the submission's order
    bounds = np.cumsum(np.bincount(table.pred_class, minlength=table.num_classes))
    ranked = []
    for members in np.split(by_class, bounds[:-1]):
        ranked.append(members[table.pred_scores[members].argsort()[::-1]])
    return ranked


def _true_positives(table: _Table, ranked: list[np.ndarray], tious: np.ndarray) -> np.ndarray:
    """[T, P] bool: which detections the kit's greedy matching makes true positives at each threshold."""
    return _greedy_match(table, ranked, tious) >= 0


def _greedy_match(table: _Table, ranked: list[np.ndarray], tious: np.ndarray) -> np.ndarray:
    """[T, P] int64: the ground truth (a row of the table's ``gt_*``) the kit's greedy matching gives each
    detection at each threshold, -1 where it is a false positive.

    The matching of a detection depends on the detections ranked before it in its class and video only (through
    the ground truths they took), so step ``k`` matches the ``k``-th detection of every (class, video) pair at once.
    """
    num_tious, num_preds = len(tious), len(table.pred_class)
    match = np.full((num_tious, num_preds), -1, dtype=np.int64)
    if num_preds == 0 or len(table.gt_class) == 0:
        return match
    # Ground truths grouped by (class, video), each group in the ground truth's order: [groups, width] slots.
    gt_key = table.gt_class * table.num_videos + table.gt_video
    gt_order = np.argsort(gt_key, kind="stable")
    keys, group_start, group_size = np.unique(gt_key[gt_order], return_index=True, return_counts=True)
    width = int(group_size.max())
    slot = np.arange(len(gt_order)) - np.repeat(group_start, group_size)
    group_of = np.repeat(np.arange(len(keys)), group_size)
    gt_start = np.zeros((len(keys), width))
    gt_end = np.zeros((len(keys), width))
    gt_start[group_of, slot] = table.gt_segments[gt_order, 0]
    gt_end[group_of, slot] = table.gt_segments[gt_order, 1]
    valid = np.zeros((len(keys), width), dtype=bool)
    valid[group_of, slot] = True

    # Detections in a video with ground truth of their class, grouped by pair, each group in rank order.
    rank = np.empty(num_preds, dtype=np.int64)
    for members in ranked:
        rank[members] = np.arange(len(members))
    pred_key = table.pred_class * table.num_videos + table.pred_video
    group = np.minimum(np.searchsorted(keys, pred_key), len(keys) - 1)
    candidates = np.flatnonzero((table.pred_video >= 0) & (keys[group] == pred_key))
    if len(candidates) == 0:
        return match
    candidates = candidates[np.lexsort((rank[candidates], group[candidates]))]
    first = np.flatnonzero(np.r_[True, group[candidates][1:] != group[candidates][:-1]])
    step = np.arange(len(candidates)) - np.repeat(first, np.diff(np.r_[first, len(candidates)]))

    locked = np.zeros((num_tious, len(keys), width), dtype=bool)
    for k in range(int(step.max()) + 1):
        preds = candidates[step == k]
        groups = group[preds]
        segments = table.pred_segments[preds]
        iou = _tiou(segments[:, :1], segments[:, 1:], gt_start[groups], gt_end[groups])  # [A, width]
        # The kit's order: NaN (0 / 0) first, then descending; padding last and never a match.
        key = np.where(valid[groups], np.where(np.isnan(iou), np.inf, iou), -np.inf)
        order = np.argsort(-key, axis=1, kind="stable")
        ordered = np.take_along_axis(key, order, axis=1)
        tied = np.flatnonzero(
            ((ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= tious[0])).any(axis=1)
        )
        for row in tied:  # equal tIoUs that a threshold can reach: the kit's own order among them
            size = group_size[groups[row]]
            order[row, :size] = iou[row, :size].argsort()[::-1]
            ordered[row] = key[row, order[row]]
        taken = np.take_along_axis(
            locked[:, groups], np.broadcast_to(order, (num_tious, *order.shape)), axis=2
        )
        free = (ordered >= tious[:, None, None]) & ~taken  # [T, A, width]
        matched = free.any(axis=2)
        chosen = np.take_along_axis(order, free.argmax(axis=2).T, axis=1).T  # [T, A] the slot each one takes
        t_index, a_index = np.nonzero(matched)
        locked[t_index, groups[a_index], chosen[t_index, a_index]] = True
        # the slot of a group is its ground truth's place in the group: back to the table's row
        match[t_index, preds[a_index]] = gt_order[group_start[groups[a_index]] + chosen[t_index, a_index]]
    return match


def _class_ap(table: _Table, tious: np.ndarray) -> np.ndarray:
    """[T, C] AP of every class of the table."""
    ranked = _rank_by_class(table)
    tp = _true_positives(table, ranked, tious)
    positives = np.bincount(table.gt_class, minlength=table.num_classes)
    ap = np.zeros((len(tious), table.num_classes))
    for c, members in enumerate(ranked):
        if len(members) == 0 or positives[c] == 0:
            continue
        hits = tp[:, members].astype(np.float64)
        tp_cumsum = np.cumsum(hits, axis=1)
        fp_cumsum = np.cumsum(1.0 - hits, axis=1)
        ap[:, c] = interpolated_average_precision(
            tp_cumsum / (tp_cumsum + fp_cumsum), tp_cumsum / positives[c]
        )
    return ap


def average_precision(
    gt: Mapping[str, np.ndarray], predictions: Mapping[str, np.ndarray], tious: Sequence[float] | np.ndarray
) -> np.ndarray:
    """The kit's AP of one class.

    Args:
        gt: per video, its [N, 2] ground-truth segments of the class (start, end).
        predictions: per video, its [M, 3] detections of the class (start, end, score), videos and rows in the
            submission's order (it orders equal scores). Videos match ``gt``'s ids exactly.
        tious: [T] thresholds.

    Returns:
        [T] float64 AP at each threshold.
    """
    tious = _check_tious(tious, "of average_precision")
    videos = {video: i for i, video in enumerate(gt)}
    gt_rows = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in gt.values()]
    pred_rows = [np.asarray(p, dtype=np.float64).reshape(-1, 3) for p in predictions.values()]
    gt_segments = np.concatenate([np.zeros((0, 2)), *gt_rows])
    detections = np.concatenate([np.zeros((0, 3)), *pred_rows])
    table = _Table(
        num_classes=1,
        num_videos=len(videos),
        gt_video=np.repeat(np.arange(len(gt_rows)), [len(r) for r in gt_rows]).astype(np.int64),
        gt_class=np.zeros(len(gt_segments), dtype=np.int64),
        gt_segments=gt_segments,
        pred_video=np.repeat([videos.get(v, -1) for v in predictions], [len(r) for r in pred_rows]).astype(
            np.int64
        ),
        pred_class=np.zeros(len(detections), dtype=np.int64),
        pred_segments=detections[:, :2],
        pred_scores=detections[:, 2],
    )
    return _class_ap(table, tious)[:, 0]


# ---------------------------------------------------------------------------------------------------------------
# Detection: mAP


@dataclass
class DetectionResult:
    """mAP of a submission against a ground truth.

    Attributes:
        tiou: [T] thresholds, ascending.
        mAP: [T] mean AP over the classes at each threshold, fractions.
        average_mAP: the mean of ``mAP``.
        ap: per class with ground truth in the evaluated videos, its [T] AP (the ground truth's class order).
        num_videos: ground-truth videos evaluated.
        num_segments: ground-truth segments of those videos.
        num_detections: detections scored (ignored ones left out).
        ignored: per unknown label, how many detections carried it (``unknown_labels="ignore"``).
    """

    tiou: np.ndarray
    mAP: np.ndarray
    average_mAP: float
    ap: dict[str, np.ndarray]
    num_videos: int = 0
    num_segments: int = 0
    num_detections: int = 0
    ignored: dict[str, int] = field(default_factory=dict)

    def to_json(self, per_class: bool = True) -> dict:
        """``{"tiou", "mAP", "average_mAP"}`` (fractions, ``mAP[i]`` at ``tiou[i]``), ``"ap"`` per class with
        ``per_class``, ``"ignored"`` where labels were ignored."""
        payload: dict = {
            "tiou": [round(float(t), 10) for t in self.tiou],  # 0.9, not linspace's 0.8999999999999999
            "mAP": [float(m) for m in self.mAP],
            "average_mAP": float(self.average_mAP),
        }
        if per_class:
            payload["ap"] = {name: [float(a) for a in ap] for name, ap in self.ap.items()}
        if self.ignored:
            payload["ignored"] = dict(self.ignored)
        return payload


def _gt_table(gt: GroundTruth, classes: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    index = {name: i for i, name in enumerate(classes)}
    annotations = list(gt.videos.values())
    gt_video = np.repeat(np.arange(len(annotations)), [len(a) for a in annotations]).astype(np.int64)
    gt_class = np.array([index[label] for a in annotations for label in a.labels], dtype=np.int64)
    gt_segments = np.concatenate([np.zeros((0, 2)), *(a.segments for a in annotations)])
    return gt_video, gt_class, gt_segments


def evaluate_detection(
    gt: GroundTruth,
    predictions: Mapping[str, Sequence[Detection]],
    *,
    tious: Sequence[float] | np.ndarray | None = None,
    subset: str | None = None,
    unknown_labels: str = "error",
    source: str = "predictions",
) -> DetectionResult:
    """mAP of ``predictions`` at each threshold, equal to the official ActivityNet kit's (see the module).

    Args:
        gt: the ground truth (:func:`~vidact.detect.annotations.read_ground_truth`).
        predictions: per video id (with or without ``v_``), its detections, in the submission's order.
        tious: [T] ascending thresholds in (0, 1]; default the ground truth's convention's.
        subset: evaluate the videos of this subset (case-insensitive); default all.
        unknown_labels: ``"error"`` (the kit) or ``"ignore"`` (ActionFormer's copy): what to do with a detection
            whose label is not a class of the ground truth.
        source: the predictions' file, for error messages.

    Raises:
        DatasetError: no such subset, no ground-truth segments, an unknown label (``"error"``), or two
            prediction ids of one video.
        ConfigError: thresholds outside (0, 1] or not ascending, or an unknown ``unknown_labels``.
    """
    if unknown_labels not in UNKNOWN_LABELS:
        raise ConfigError(
            f"unknown_labels must be one of {', '.join(UNKNOWN_LABELS)}, got {unknown_labels!r}"
        )
    tious = gt.tious if tious is None else _check_tious(tious, "given")
    if subset is not None:
        gt = gt.subset(subset)
    present = {label for a in gt.videos.values() for label in a.labels}
    classes = [name for name in gt.classes if name in present]
    if not classes:
        where = f" of subset {subset!r}" if subset is not None else ""
        raise DatasetError(f"{gt.source}: no ground-truth segments in the videos{where}")
    gt_video, gt_class, gt_segments = _gt_table(gt, classes)

    video_index = {video: i for i, video in enumerate(gt.videos)}
    matched = match_video_ids(gt.videos, predictions, source=source)
    class_index = {name: i for i, name in enumerate(classes)}
    known = set(gt.classes)
    ignored: dict[str, int] = {}
    videos, labels, starts, ends, scores = [], [], [], [], []
    for video, detections in predictions.items():
        target = matched[video]
        v = -1 if target is None else video_index[target]
        for d in detections:
            c = class_index.get(d.label)
            if c is None:
                if d.label not in known:
                    if unknown_labels == "error":
                        raise DatasetError(
                            f"{source}: label {d.label!r} (video {video!r}) is not a class of {gt.source} "
                            "(unknown_labels='ignore' leaves such detections out)"
                        )
                    ignored[d.label] = ignored.get(d.label, 0) + 1
                continue  # a class of the file without ground truth in these videos: not scored
            videos.append(v)
            labels.append(c)
            starts.append(d.start)
            ends.append(d.end)
            scores.append(d.score)
    table = _Table(
        num_classes=len(classes),
        num_videos=len(video_index),
        gt_video=gt_video,
        gt_class=gt_class,
        gt_segments=gt_segments,
        pred_video=np.asarray(videos, dtype=np.int64),
        pred_class=np.asarray(labels, dtype=np.int64),
        pred_segments=np.stack(
            [np.asarray(starts, dtype=np.float64), np.asarray(ends, dtype=np.float64)], axis=1
        ),
        pred_scores=np.asarray(scores, dtype=np.float64),
    )
    ap = _class_ap(table, tious)
    mean_ap = ap.mean(axis=1)
    return DetectionResult(
        tiou=tious,
        mAP=mean_ap,
        average_mAP=float(mean_ap.mean()),
        ap={name: ap[:, c] for c, name in enumerate(classes)},
        num_videos=len(gt.videos),
        num_segments=len(gt_class),
        num_detections=len(labels),
        ignored=ignored,
    )


# ---------------------------------------------------------------------------------------------------------------
# One video's matches, detection by detection


@dataclass(frozen=True)
class Match:
    """How the evaluation's greedy matching judges one detection at one threshold.

    Attributes:
        detection: the detection's index in the list given to :func:`match_detections`.
        rank: its place among the detections of its class, 0 for the highest score (the evaluation's order).
        gt: the ground-truth segment it matched (an index into the segments given): a true positive; ``None``: a
            false positive (no free ground truth of its class at the threshold).
        tiou: the tIoU with ``gt``; for a false positive, its best tIoU with a ground truth of its class (below
            the threshold, or that ground truth taken by a detection ranked before it), 0 without any. NaN for a
            zero-length segment on a zero-length ground truth (0 / 0, a match, as in the kit).
        best_gt: the ground truth of that best overlap (``gt`` for a true positive), ``None`` without any.
    """

    detection: int
    rank: int
    gt: int | None
    tiou: float
    best_gt: int | None

    @property
    def true_positive(self) -> bool:
        """Whether the detection matched a ground truth."""
        return self.gt is not None

    def to_json(self) -> dict:
        """``{"detection", "rank", "gt", "tiou", "best_gt", "true_positive"}`` (``tiou`` None for NaN)."""
        return {
            "detection": self.detection,
            "rank": self.rank,
            "gt": self.gt,
            "tiou": None if math.isnan(self.tiou) else self.tiou,
            "best_gt": self.best_gt,
            "true_positive": self.true_positive,
        }


def match_detections(
    segments: np.ndarray, labels: Sequence[str], detections: Sequence[Detection], tiou: float
) -> list[Match]:
    """The matching :func:`evaluate_detection` makes in one video, detection by detection.

    The same greedy matching, run by the same code: per class, the detections from the highest score down
    (numpy's ``argsort()[::-1]`` over the class's scores in the order given), each taking the free ground truth of
    its class with the highest tIoU at least ``tiou``. A detection of a class without ground truth here is a
    false positive. Summed over the classes, the true positives are those the evaluation counts for this video.

    Args:
        segments: [N, 2] ground-truth start and end (seconds), in the ground truth's order.
        labels: the N ground-truth class names.
        detections: the video's detections, in the submission's order (it orders equal scores).
        tiou: the threshold, in (0, 1].

    Returns:
        One :class:`Match` per detection, in the evaluation's order: the classes as they first appear in
        ``labels`` (then in ``detections``), each class's detections by rank.

    Raises:
        ConfigError: ``tiou`` outside (0, 1], or ``segments`` and ``labels`` of different lengths.
    """
    tious = _check_tious([tiou], f"tiou={tiou!r}")
    gt_segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    labels = [str(label) for label in labels]
    if len(labels) != len(gt_segments):
        raise ConfigError(f"{len(gt_segments)} ground-truth segments but {len(labels)} labels")
    classes = list(dict.fromkeys([*labels, *(d.label for d in detections)]))
    index = {name: i for i, name in enumerate(classes)}
    table = _Table(
        num_classes=len(classes),
        num_videos=1,
        gt_video=np.zeros(len(labels), dtype=np.int64),
        gt_class=np.array([index[label] for label in labels], dtype=np.int64),
        gt_segments=gt_segments,
        pred_video=np.zeros(len(detections), dtype=np.int64),
        pred_class=np.array([index[d.label] for d in detections], dtype=np.int64),
        pred_segments=np.array([(d.start, d.end) for d in detections], dtype=np.float64).reshape(-1, 2),
        pred_scores=np.array([d.score for d in detections], dtype=np.float64),
    )
    ranked = _rank_by_class(table)
    matched = _greedy_match(table, ranked, tious)[0]
    out = []
    for members in ranked:
        for rank, p in enumerate(members.tolist()):
            start, end = table.pred_segments[p]
            same = np.flatnonzero(table.gt_class == table.pred_class[p])
            overlaps = _tiou(start, end, gt_segments[same, 0], gt_segments[same, 1])
            gt = int(matched[p]) if matched[p] >= 0 else None
            if gt is not None:
                best, value = gt, float(overlaps[np.flatnonzero(same == gt)[0]])
            elif len(same):
                # NaN (0 / 0, a ground truth taken before) ranks below every number here
                i = int(np.argmax(np.where(np.isnan(overlaps), -1.0, overlaps)))
                best, value = int(same[i]), float(overlaps[i])
            else:
                best, value = None, 0.0
            out.append(Match(detection=p, rank=rank, gt=gt, tiou=value, best_gt=best))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Proposals: AR@AN


@dataclass
class RecallResult:
    """Average recall against the average number of proposals per video (the kit's AR@AN curve).

    Attributes:
        tiou: [T] thresholds.
        recall: [T, 100] recall at each threshold and point of the curve.
        average_recall: [100] ``recall`` averaged over the thresholds.
        proposals_per_video: [100] the average number of proposals per video of each point.
        auc: area under the curve over ``proposals_per_video[-1]``, a fraction (the kit prints it in percent).
    """

    tiou: np.ndarray
    recall: np.ndarray
    average_recall: np.ndarray
    proposals_per_video: np.ndarray
    auc: float

    def at(self, proposals: float) -> float:
        """The average recall at the first point with at least ``proposals`` proposals per video on average
        (AR@1, AR@100, ...; the last point where the curve does not reach that far)."""
        index = np.flatnonzero(self.proposals_per_video >= proposals - 1e-9)
        return float(self.average_recall[index[0] if len(index) else -1])

    def to_json(self) -> dict:
        """``{"tiou", "average_recall", "proposals_per_video", "auc", "recall"}`` as lists and fractions."""
        return {
            "tiou": [round(float(t), 10) for t in self.tiou],
            "average_recall": self.average_recall.tolist(),
            "proposals_per_video": self.proposals_per_video.tolist(),
            "auc": self.auc,
            "recall": self.recall.tolist(),
        }


def average_recall(
    gt: GroundTruth,
    predictions: Mapping[str, Sequence[Detection]],
    *,
    max_avg_proposals: float | None = 100,
    tious: Sequence[float] | np.ndarray | None = None,
    subset: str | None = None,
    source: str = "predictions",
) -> RecallResult:
    """AR@AN of class-agnostic proposals, as the kit's ``eval_proposal.py``.

    Each ground-truth video's proposals are ranked by score (``argsort()[::-1]``) and cut to
    ``int(n * ratio)``, ``ratio = max_avg_proposals * videos / proposals`` (all proposals of the submission,
    those of videos without ground truth included); a point of the curve keeps the same fraction of every
    video's proposals, and a ground truth is recalled at a threshold if one kept proposal reaches it.

    Args:
        gt: the ground truth; its videos without segments do not count.
        predictions: per video id (with or without ``v_``), its proposals (labels are not used).
        max_avg_proposals: the average number of proposals per video at the end of the curve; None: all of them
            (proposals / videos).
        tious: [T] thresholds; default 0.5:0.95 (the kit's, whatever the convention).
        subset: evaluate the videos of this subset (case-insensitive).
        source: the predictions' file, for error messages.

    Raises:
        DatasetError: no such subset, no ground-truth segments or no proposals.
    """
    tious = np.linspace(0.5, 0.95, 10) if tious is None else _check_tious(tious, "given")
    if subset is not None:
        gt = gt.subset(subset)
    videos = {video: annotation for video, annotation in gt.videos.items() if len(annotation)}
    total = sum(len(p) for p in predictions.values())
    if not videos:
        raise DatasetError(f"{gt.source}: no ground-truth segments to recall")
    if total == 0:
        raise DatasetError(f"{source}: no proposals")
    matched = match_video_ids(gt.videos, predictions, source=source)
    by_video = {target: predictions[video] for video, target in matched.items() if target is not None}
    if not max_avg_proposals:
        max_avg_proposals = float(total) / len(videos)
    # The kit's expressions, in its order: the same floats, so the same int() cuts.
    ratio = max_avg_proposals * float(len(videos)) / total

    # Per ground-truth segment: the rank of the first kept proposal that recalls it at each threshold (the number
    # kept where none does), and how many proposals its video kept.
    first_hit, width, kept = [], [], 0
    for video, annotation in videos.items():
        proposals = by_video.get(video, ())
        if not proposals:
            # the kit gives such a video one column of tIoU 0: never a hit, thresholds being > 0
            first_hit.append(np.ones((len(tious), len(annotation))))
            width.append(np.ones(len(annotation)))
            continue
        scores = np.array([p.score for p in proposals], dtype=np.float64)
        segments = np.array([(p.start, p.end) for p in proposals], dtype=np.float64)[scores.argsort()[::-1]]
        count = min(int(len(proposals) * ratio), len(proposals))
        kept += count
        segments = segments[:count]
        gt_segments = annotation.segments
        iou = _tiou(segments[None, :, 0], segments[None, :, 1], gt_segments[:, :1], gt_segments[:, 1:])
        hits = iou[None] >= tious[:, None, None]  # [T, N, count]
        first_hit.append(np.where(hits.any(axis=2), hits.argmax(axis=2), count))
        width.append(np.full(len(annotation), count))
    if kept == 0:
        raise DatasetError(
            f"{source}: no proposal of a ground-truth video is kept at {max_avg_proposals:g} a video"
        )
    hit = np.concatenate(first_hit, axis=1)  # [T, G]
    columns = np.concatenate(width)  # [G]
    fractions = np.arange(1, _RECALL_POINTS + 1) / 100.0 * (max_avg_proposals * float(len(videos)) / kept)
    limits = np.minimum((columns[:, None] * fractions).astype(int), columns[:, None])  # [G, 100]
    recall = (hit[:, :, None] < limits[None]).sum(axis=1) / len(columns)  # [T, 100]
    average = recall.mean(axis=0)
    per_video = fractions * (float(kept) / len(videos))
    area = float((np.diff(per_video) * (average[1:] + average[:-1]) / 2.0).sum())  # the trapezoidal rule
    auc = area / float(per_video[-1])
    return RecallResult(tious, recall, average, per_video, auc)
