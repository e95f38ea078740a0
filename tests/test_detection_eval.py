"""Detection mAP and AR@AN: equal to the official ActivityNet kit's on the shared files and on predictions made
here, the kit's rules on hand-built cases, and ``vidact eval-detection``.

The official numbers in tests/data/detection_reference.json were recorded by running the kit's own
``Evaluation/eval_detection.py`` and ``eval_proposal.py`` (github.com/activitynet/ActivityNet, never part of
vidact; see the file's ``procedure``) on the shared ground truth with the predictions that the functions of this
file make (seeded, so the test makes the same ones at run time). vidact's numbers are computed here and compared
to 1e-6.

Equal scores are ranked by numpy's unstable default sort, whose order among equal keys depends on the CPU (numpy
1.26 sorts with AVX-512 where the CPU has it): a case with tied scores was recorded once per ranking the kit
gave (with and without AVX-512), each with a fingerprint of the per-class rankings; the test takes the one that
this machine's numpy reproduces and skips, saying why, where it reproduces none. Cases without ties hold
everywhere.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from vidact.cli._output import command_help
from vidact.cli.detection import eval_detection
from vidact.detect.annotations import (
    THUMOS14_CLASSES,
    Detection,
    GroundTruth,
    VideoAnnotation,
    read_ground_truth,
    write_ground_truth,
    write_predictions,
)
from vidact.detect.evaluation import (
    average_precision,
    average_recall,
    evaluate_detection,
    interpolated_average_precision,
    parse_tious,
    temporal_iou,
)
from vidact.errors import ConfigError, DatasetError

HERE = Path(__file__).resolve().parent
DETECTION = HERE.parent.parent / "shared" / "data" / "detection"
ANET = DETECTION / "activitynet"
THUMOS = DETECTION / "thumos14"
REFERENCE = json.loads((HERE / "data" / "detection_reference.json").read_text())


# ---------------------------------------------------------------------------------------------------------------
# The predictions of the reference cases (the reference script imports these functions)


def anet_classes() -> list[str]:
    """ActivityNet-1.3's 200 class names (``action_name.csv``)."""
    with open(ANET / "action_name.csv", encoding="utf-8", newline="") as f:
        return [row["action"] for row in csv.DictReader(f)]


def sample_results() -> dict[str, list[dict]]:
    """The official sample submission's ``results`` (ids without ``v_``, every score 1.0)."""
    return json.loads((ANET / "sample_detection_prediction.json").read_text())["results"]


def perturbed_results(case: str) -> dict[str, list[dict]]:
    """The sample submission perturbed, seeded per case.

    ``shifted``: every segment moved by up to a quarter of its length and stretched by 0.8-1.25, distinct random
    scores, 0-2 false detections of random classes per video. ``ties``: the same with scores rounded to quarters
    (many ties), the videos shuffled and each video's detections reversed. ``dropped``: ``shifted`` without 30% of
    the videos and without the detections of 150 of the 200 classes.
    """
    rng = np.random.default_rng({"shifted": 1, "ties": 2, "dropped": 3}[case])
    classes = anet_classes()
    results: dict[str, list[dict]] = {}
    for video, detections in sample_results().items():
        out = []
        for d in detections:
            start, end = d["segment"]
            length = end - start
            centre = 0.5 * (start + end) + float(rng.uniform(-0.25, 0.25)) * length
            half = 0.5 * length * float(rng.uniform(0.8, 1.25))
            out.append(
                {
                    "label": d["label"],
                    "score": float(rng.random()),
                    "segment": [max(0.0, centre - half), centre + half],
                }
            )
        for _ in range(int(rng.integers(0, 3))):
            start = float(rng.uniform(0, 120))
            label = classes[int(rng.integers(len(classes)))]
            out.append(
                {
                    "label": label,
                    "score": 0.8 * float(rng.random()),
                    "segment": [start, start + float(rng.uniform(1, 60))],
                }
            )
        results[video] = out
    if case == "ties":
        videos = list(results)
        results = {videos[i]: results[videos[i]][::-1] for i in rng.permutation(len(videos))}
        for detections in results.values():
            for d in detections:
                d["score"] = round(4 * d["score"]) / 4
    elif case == "dropped":
        kept_classes = {classes[i] for i in rng.permutation(len(classes))[:50]}
        dropped = rng.random(len(results)) < 0.3
        results = {
            video: [d for d in detections if d["label"] in kept_classes]
            for (video, detections), drop in zip(results.items(), dropped, strict=True)
            if not drop
        }
    return results


def thumos_results() -> dict[str, list[dict]]:
    """Synthetic detections on THUMOS14 (both subsets, and one video it does not have), seeded: 0, 1 or 2 jittered
    copies of every ground-truth segment (missed, found, duplicated), 0-7 false detections of random classes per
    video, distinct random scores."""
    rng = np.random.default_rng(14)
    database = json.loads((THUMOS / "thumos14.json").read_text())["database"]
    results: dict[str, list[dict]] = {}
    for video, entry in database.items():
        duration = float(entry["duration"])
        out = []
        for ann in entry["annotations"]:
            start, end = ann["segment"]
            length = end - start
            for _ in range(int(rng.integers(0, 3))):
                a = start + float(rng.uniform(-0.3, 0.3)) * length
                b = end + float(rng.uniform(-0.3, 0.3)) * length
                out.append({"label": ann["label"], "score": float(rng.random()), "segment": [a, max(a, b)]})
        for _ in range(int(rng.integers(0, 8))):
            a = float(rng.uniform(0, duration))
            label = THUMOS14_CLASSES[int(rng.integers(20))]
            out.append(
                {
                    "label": label,
                    "score": 0.7 * float(rng.random()),
                    "segment": [a, min(duration, a + float(rng.uniform(0.5, 10)))],
                }
            )
        results[video] = out
    results["video_test_9999999"] = [{"label": "Diving", "score": 0.5, "segment": [1.0, 3.0]}]
    return results


def case_results(name: str) -> dict[str, list[dict]]:
    """The submission (``results``) of a reference case."""
    source = REFERENCE["cases"][name]["predictions"]
    if source == "sample":
        return sample_results()
    if source == "thumos":
        return thumos_results()
    return perturbed_results(source)


def sort_fingerprint(results: dict[str, list[dict]]) -> str:
    """What the rankings of equal scores depend on: per class (sorted names), numpy's ``argsort()[::-1]`` of its
    scores in the submission's order, hashed."""
    scores: dict[str, list[float]] = {}
    for detections in results.values():
        for d in detections:
            scores.setdefault(d["label"], []).append(float(d["score"]))
    digest = hashlib.sha256()
    for label in sorted(scores):
        digest.update(np.asarray(scores[label], dtype=np.float64).argsort()[::-1].astype(np.int64).tobytes())
    return digest.hexdigest()[:16]


def as_detections(results: dict[str, list[dict]]) -> dict[str, list[Detection]]:
    return {
        video: [Detection(d["segment"][0], d["segment"][1], d["label"], d["score"]) for d in detections]
        for video, detections in results.items()
    }


@pytest.fixture(scope="module")
def anet_gt() -> GroundTruth:
    return read_ground_truth(ANET / "anet_anno_action.json")


@pytest.fixture(scope="module")
def thumos_gt() -> GroundTruth:
    return read_ground_truth(THUMOS / "thumos14.json")


def _variant(case: dict, results: dict[str, list[dict]]) -> dict:
    fingerprint = sort_fingerprint(results)
    variant = next((v for v in case["variants"] if v["fingerprint"] == fingerprint), None)
    if variant is None:
        recorded = "; ".join(v["sort"] for v in case["variants"])
        pytest.skip(
            f"numpy {np.__version__} ranks this case's equal scores differently on this CPU than on any recorded "
            f"run ({recorded}): the official numbers differ here too"
        )
    return variant


# ---------------------------------------------------------------------------------------------------------------
# Equal to the official kit


@pytest.mark.parametrize("name", [n for n, c in REFERENCE["cases"].items() if c["kind"] == "detection"])
def test_map_equals_the_official_kit(name, anet_gt, thumos_gt):
    case = REFERENCE["cases"][name]
    results = case_results(name)
    variant = _variant(case, results)
    gt = thumos_gt if case["gt"] == "thumos14/thumos14.json" else anet_gt
    result = evaluate_detection(
        gt, as_detections(results), tious=parse_tious(case["tiou"]), subset=case["subset"]
    )
    np.testing.assert_allclose(result.mAP, variant["mAP"], rtol=0, atol=1e-6)
    assert result.average_mAP == pytest.approx(variant["average_mAP"], abs=1e-6)
    assert len(result.ap) == case["classes"]


@pytest.mark.parametrize("name", [n for n, c in REFERENCE["cases"].items() if c["kind"] == "proposals"])
def test_average_recall_equals_the_official_kit(name, anet_gt, thumos_gt):
    case = REFERENCE["cases"][name]
    results = case_results(name)
    gt = thumos_gt if case["gt"] == "thumos14/thumos14.json" else anet_gt
    (variant,) = case["variants"]
    result = average_recall(
        gt, as_detections(results), max_avg_proposals=case["max_avg_proposals"], subset=case["subset"]
    )
    np.testing.assert_allclose(result.average_recall, variant["average_recall"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(result.proposals_per_video, variant["proposals_per_video"], rtol=1e-9)
    assert result.auc == pytest.approx(variant["auc"], abs=1e-6)


def has_ties(results: dict[str, list[dict]]) -> bool:
    """Whether two detections of one class have the same score."""
    scores: dict[str, list[float]] = {}
    for detections in results.values():
        for d in detections:
            scores.setdefault(d["label"], []).append(d["score"])
    return any(len(set(s)) < len(s) for s in scores.values())


def test_the_reference_cases_with_ties_were_recorded_for_each_ranking():
    """Ties make the sample and ``ties`` cases machine-dependent (two rankings recorded); the others have none,
    so one ranking holds on every machine."""
    tied = {name for name in REFERENCE["cases"] if has_ties(case_results(name))}
    assert tied == {name for name, case in REFERENCE["cases"].items() if case["ties"]}
    assert tied == {"anet_sample", "anet_ties"}
    for name in tied:
        assert len({v["fingerprint"] for v in REFERENCE["cases"][name]["variants"]}) == 2


def test_ids_with_or_without_v_prefix_give_the_same_numbers(anet_gt):
    results = perturbed_results("shifted")
    plain = evaluate_detection(anet_gt, as_detections(results), subset="validation")
    mixed = {("v_" + video if i % 2 else video): d for i, (video, d) in enumerate(results.items())}
    both = evaluate_detection(anet_gt, as_detections(mixed), subset="validation")
    np.testing.assert_array_equal(plain.mAP, both.mAP)
    # and the other side: ground truth without the prefix, predictions with it
    stripped = GroundTruth({k[2:]: v for k, v in anet_gt.videos.items()}, anet_gt.classes, source="stripped")
    other = evaluate_detection(stripped, as_detections(mixed), subset="validation")
    np.testing.assert_array_equal(plain.mAP, other.mAP)
    with pytest.raises(
        DatasetError, match=r"preds\.json: '--1DO2V4K74' and 'v_--1DO2V4K74' are the same video"
    ):
        evaluate_detection(
            anet_gt, {"--1DO2V4K74": [], "v_--1DO2V4K74": []}, subset="validation", source="preds.json"
        )


def test_the_whole_activitynet_validation_takes_a_fraction_of_a_second(anet_gt):
    detections = as_detections(perturbed_results("shifted"))  # ~13,000 detections, 4,728 videos, 200 classes
    start = time.perf_counter()
    evaluate_detection(anet_gt, detections, subset="validation")
    assert time.perf_counter() - start < 3.0  # the official kit: 20-45 s on this machine


# ---------------------------------------------------------------------------------------------------------------
# The kit's rules, on cases computed by hand


def _gt(videos: dict[str, list[tuple[float, float, str]]], subset: str | None = "validation") -> GroundTruth:
    annotations = {
        video: VideoAnnotation(
            video,
            100.0,
            None,
            subset,
            np.array([(s, e) for s, e, _ in segs], float).reshape(-1, 2),
            [c for _, _, c in segs],
        )
        for video, segs in videos.items()
    }
    classes = sorted({c for segs in videos.values() for _, _, c in segs})
    return GroundTruth(annotations, classes, "activitynet", "gt.json")


def test_temporal_iou():
    iou = temporal_iou(np.array([0.0, 10.0]), np.array([[5, 15], [0, 10], [20, 30], [2, 4]]))
    np.testing.assert_allclose(iou, [5 / 15, 1, 0, 0.2])


def test_interpolated_ap_is_the_area_under_the_precision_envelope():
    # ranks: TP, FP, TP of 3 positives -> envelope 1 up to recall 1/3, 2/3 up to 2/3, then 0
    ap = interpolated_average_precision(np.array([[1, 0.5, 2 / 3]]), np.array([[1 / 3, 1 / 3, 2 / 3]]))
    assert ap == pytest.approx([1 / 3 + (1 / 3) * (2 / 3)])


def test_matching_rules():
    """FP in a video without ground truth; a duplicate of a matched segment is a FP; ground truth of a video the
    predictions leave out still counts; a class without predictions scores 0; mAP over the GT's classes."""
    gt = _gt({"a": [(0, 10, "X"), (20, 30, "X")], "b": [(0, 10, "X"), (50, 60, "Y")]})
    predictions = {
        "c": [Detection(0, 10, "X", 0.95)],  # no ground truth in c: FP
        "a": [Detection(0, 10, "X", 0.9), Detection(1, 10, "X", 0.8), Detection(21, 30, "X", 0.7)],
    }
    result = evaluate_detection(gt, predictions, tious=[0.5, 0.95])
    # X ranked FP, TP, FP (the duplicate: its best match is taken, the next is below 0.5), TP; 3 positives:
    # precision 0, 1/2, 1/3, 1/2 at recall 0, 1/3, 1/3, 2/3 -> AP = 1/3 * 1/2 + 1/3 * 1/2. At 0.95 only the
    # exact segment matches: AP = 1/3 * 1/2.
    np.testing.assert_allclose(result.ap["X"], [1 / 3, 1 / 6])
    np.testing.assert_array_equal(result.ap["Y"], [0, 0])
    np.testing.assert_allclose(result.mAP, [1 / 6, 1 / 12])
    assert result.average_mAP == pytest.approx(1 / 8)
    assert (result.num_videos, result.num_segments, result.num_detections) == (2, 4, 4)


def test_matching_is_greedy_in_descending_tiou_not_an_optimal_assignment():
    gt = _gt({"a": [(0, 10, "X"), (8, 20, "X")]})
    # the first detection takes [0, 10] (tIoU 0.83 against 0.2); the second then finds [0, 10] taken and
    # [8, 20] below 0.5: a false positive, although an assignment with two true positives exists at 0.1
    predictions = {"a": [Detection(0, 12, "X", 0.9), Detection(0, 10, "X", 0.8)]}
    np.testing.assert_allclose(evaluate_detection(gt, predictions, tious=[0.5]).ap["X"], [0.5])
    # at 0.1 the second detection goes on to [8, 20] (tIoU 0.1 >= 0.1)
    np.testing.assert_allclose(evaluate_detection(gt, predictions, tious=[0.1]).ap["X"], [1.0])


def test_equal_scores_are_ranked_as_the_kit_ranks_them():
    """numpy's ``argsort()[::-1]`` over the class's scores in the submission's order (not a stable sort)."""
    gt = _gt({"a": [(0, 10, "X"), (20, 30, "X")]})
    hit, miss = Detection(0, 10, "X", 1.0), Detection(40, 50, "X", 1.0)
    for order in ([hit, miss], [miss, hit]):
        ranked = [order[i] for i in np.array([1.0, 1.0]).argsort()[::-1]]
        expected = 0.5 if ranked[0] is hit else 0.25  # TP then FP: 1 * 1/2; FP then TP: 1/2 * 1/2
        result = evaluate_detection(gt, {"a": order}, tious=[0.5])
        assert result.ap["X"][0] == pytest.approx(expected)


def test_equal_tious_try_the_ground_truths_in_the_kits_order():
    """A detection as close to two ground truths takes the one the kit's ``argsort()[::-1]`` of the tIoUs puts
    first, which decides whether a later detection finds its ground truth free."""
    gt = _gt({"a": [(0, 10, "X"), (10, 20, "X")]})
    first, second = (
        Detection(5, 15, "X", 0.9),
        Detection(0, 9, "X", 0.8),
    )  # tIoU 1/3 with both; 0.9 with [0, 10]
    iou = temporal_iou(np.array([5.0, 15.0]), np.array([[0, 10], [10, 20]]))
    assert iou[0] == iou[1]
    takes_first_segment = iou.argsort()[::-1][0] == 0
    # first takes [0, 10] -> second finds it taken: TP, FP (AP 1/2); first takes [10, 20] -> TP, TP (AP 1)
    expected = 0.5 if takes_first_segment else 1.0
    result = evaluate_detection(gt, {"a": [first, second]}, tious=[0.3])
    assert result.ap["X"][0] == expected


def test_zero_length_segments_at_the_same_place_match_as_in_the_kit():
    """0 / 0 is NaN, which the kit ranks first and never finds below a threshold: a true positive."""
    gt = _gt({"a": [(5, 5, "X")]})
    result = evaluate_detection(gt, {"a": [Detection(5, 5, "X", 0.5)]}, tious=[0.5])
    assert result.ap["X"][0] == 1.0


def test_average_precision_of_one_class_equals_the_evaluation(thumos_gt):
    results = thumos_results()
    test = thumos_gt.subset("test")
    full = evaluate_detection(thumos_gt, as_detections(results), subset="test")
    label = "Diving"
    gt = {
        video: a.segments[[i for i, c in enumerate(a.labels) if c == label]]
        for video, a in test.videos.items()
        if label in a.labels
    }
    predictions = {
        video: np.array([(*d["segment"], d["score"]) for d in dets if d["label"] == label]).reshape(-1, 3)
        for video, dets in results.items()
    }
    np.testing.assert_allclose(average_precision(gt, predictions, full.tiou), full.ap[label], atol=1e-12)


def test_subsets_are_case_insensitive_and_a_missing_one_is_named(thumos_gt):
    results = as_detections(thumos_results())
    a = evaluate_detection(thumos_gt, results, subset="Test")
    b = evaluate_detection(thumos_gt, results, subset="test")
    np.testing.assert_array_equal(a.mAP, b.mAP)
    assert a.num_videos == 212
    with pytest.raises(
        DatasetError, match=r"thumos14\.json: no subset 'training' \(subsets: Test, Validation\)"
    ):
        evaluate_detection(thumos_gt, results, subset="training")


def test_unknown_labels_error_or_are_ignored_and_counted():
    gt = _gt({"a": [(0, 10, "X")]})
    predictions = {"a": [Detection(0, 10, "X", 0.5), Detection(0, 10, "Z", 0.9), Detection(3, 4, "Z", 0.1)]}
    with pytest.raises(
        DatasetError, match=r"^preds\.json: label 'Z' \(video 'a'\) is not a class of gt\.json"
    ):
        evaluate_detection(gt, predictions, tious=[0.5], source="preds.json")
    result = evaluate_detection(gt, predictions, tious=[0.5], unknown_labels="ignore")
    assert result.ignored == {"Z": 2} and result.num_detections == 1
    assert result.ap["X"][0] == 1.0  # as if the unknown detections were not there
    assert result.to_json()["ignored"] == {"Z": 2}
    with pytest.raises(ConfigError, match="unknown_labels must be one of error, ignore"):
        evaluate_detection(gt, predictions, unknown_labels="drop")


def test_tiou_parsing():
    np.testing.assert_array_equal(parse_tious("0.5:0.95:0.05"), np.linspace(0.5, 0.95, 10))
    np.testing.assert_array_equal(parse_tious("0.3:0.7:0.1"), np.linspace(0.3, 0.7, 5))
    np.testing.assert_array_equal(parse_tious("0.3,0.5,0.7"), [0.3, 0.5, 0.7])
    np.testing.assert_array_equal(parse_tious("0.5"), [0.5])
    for bad in ("0.5:0.95:0.04", "a,b", "0:0.5:0.1", "0.7,0.5", "0.5:1.5:0.5", "0.5:0.9"):
        with pytest.raises(ConfigError, match="tIoU"):
            parse_tious(bad)


def test_average_recall_rules():
    """A video's proposals ranked by score and cut to the same fraction; a missing video recalls nothing."""
    gt = _gt({"a": [(0, 10, "X"), (20, 30, "X")], "b": [(0, 10, "X")]})
    proposals = {"a": [Detection(20, 30, "", 0.9), Detection(0, 10, "", 0.1), Detection(50, 60, "", 0.5)]}
    result = average_recall(gt, proposals, max_avg_proposals=3, tious=[0.5])
    # ratio = 3 * 2 videos / 3 proposals: a keeps its 3 (by score: [20, 30], [50, 60], [0, 10]), b has none and
    # never recalls; point j keeps int(3 * 2j / 100) of a's, at j * 3 / 100 proposals per video on average.
    np.testing.assert_allclose(result.proposals_per_video, np.arange(1, 101) * 0.03)
    assert result.at(0.3) == 0  # j = 10: none kept
    assert result.at(0.6) == pytest.approx(1 / 3)  # j = 20: [20, 30]
    assert result.at(1.2) == pytest.approx(1 / 3)  # j = 40: and [50, 60]
    assert result.at(1.5) == pytest.approx(2 / 3)  # j = 50: and [0, 10]
    assert result.average_recall[-1] == pytest.approx(2 / 3) and result.recall.shape == (1, 100)
    # One a video: ratio = 1 * 2 videos (with ground truth, b included) / 3 proposals, so a keeps int(3 * 2 / 3) = 2
    # of its 3, which recall both its segments.
    swapped = {"a": [Detection(20, 30, "", 0.9), Detection(0, 10, "", 0.5), Detection(50, 60, "", 0.1)]}
    result = average_recall(gt, swapped, max_avg_proposals=1, tious=[0.5])
    assert result.average_recall[-1] == pytest.approx(2 / 3) and result.proposals_per_video[
        -1
    ] == pytest.approx(1)


# ---------------------------------------------------------------------------------------------------------------
# vidact eval-detection


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("eval-detection", help=command_help(eval_detection))(eval_detection)

    @app.callback()
    def _root() -> None:  # a group, so that the command is called by name as under `vidact`
        pass

    return app


def test_cli_prints_the_map_and_writes_the_json(tmp_path, thumos_gt):
    results = thumos_results()
    write_predictions(tmp_path / "pred.json", as_detections(results))
    out = tmp_path / "out" / "map.json"
    args = ["eval-detection", "--gt", str(THUMOS / "thumos14.json"), "--pred", str(tmp_path / "pred.json")]
    result = CliRunner().invoke(_app(), [*args, "--subset", "test", "--json", str(out)])
    assert result.exit_code == 0, result.output
    expected = evaluate_detection(thumos_gt, as_detections(results), subset="test")
    written = json.loads(out.read_text())
    assert set(written) == {"tiou", "mAP", "average_mAP"}
    assert written["tiou"] == [0.3, 0.4, 0.5, 0.6, 0.7]
    np.testing.assert_allclose(written["mAP"], expected.mAP, atol=1e-12)
    for t, m in zip(expected.tiou, expected.mAP, strict=True):
        assert re.search(rf"{t:.2f} +│ +{100 * m:.2f} ", result.output)
    assert re.search(rf"average +│ +{100 * expected.average_mAP:.2f} ", result.output)

    result = CliRunner().invoke(
        _app(), [*args, "--subset", "Test", "--tiou", "0.5,0.7", "--per-class", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert written["tiou"] == [0.5, 0.7] and set(written["ap"]) == set(THUMOS14_CLASSES)
    assert "AP (%) per class" in result.output and "VolleyballSpiking" in result.output


def test_cli_one_line_errors(tmp_path):
    write_predictions(tmp_path / "pred.json", {"video_test_0000004": [Detection(0.2, 1.1, "Juggling", 0.5)]})
    args = ["eval-detection", "--gt", str(THUMOS / "thumos14.json"), "--pred", str(tmp_path / "pred.json")]
    runner = CliRunner()
    result = runner.invoke(_app(), [*args, "--subset", "train"])
    assert isinstance(result.exception, DatasetError) and "no subset 'train'" in str(result.exception)
    result = runner.invoke(_app(), [*args, "--tiou", "0.5:0.9"])
    assert isinstance(result.exception, ConfigError)
    result = runner.invoke(_app(), args)
    assert isinstance(result.exception, DatasetError) and "label 'Juggling'" in str(result.exception)
    result = runner.invoke(_app(), [*args, "--unknown-labels", "ignore"])
    assert result.exit_code == 0
    assert "1 detection of labels that are not classes" in result.output and "'Juggling' (1)" in result.output
    result = runner.invoke(_app(), [*args, "--unknown-labels", "skip"])
    assert isinstance(result.exception, ConfigError) and "--unknown-labels" in str(result.exception)


def test_cli_bsn_ground_truth_with_video_info_and_proposals(tmp_path, anet_gt):
    """BSN's file takes its subsets from video_info_new.csv (beside it or --video-info); --proposals: AR@AN."""
    results = perturbed_results("shifted")
    write_predictions(tmp_path / "pred.json", as_detections(results))
    gt = tmp_path / "anno.json"
    gt.write_text((ANET / "anet_anno_action.json").read_text())  # no video_info_new.csv beside this copy
    args = [
        "eval-detection",
        "--gt",
        str(gt),
        "--pred",
        str(tmp_path / "pred.json"),
        "--subset",
        "validation",
    ]
    result = CliRunner().invoke(_app(), args)
    assert isinstance(result.exception, DatasetError) and "names no subsets" in str(result.exception)
    out = tmp_path / "ar.json"
    info = ["--video-info", str(ANET / "video_info_new.csv")]
    result = CliRunner().invoke(_app(), [*args, *info, "--proposals", "--json", str(out)])
    assert result.exit_code == 0, result.output
    expected = average_recall(anet_gt, as_detections(results), subset="validation")
    written = json.loads(out.read_text())
    assert written["auc"] == pytest.approx(expected.auc)
    assert written["ar_at"]["100"] == pytest.approx(expected.at(100))
    assert "AUC" in result.output


def test_converted_ground_truth_evaluates_the_same(tmp_path, anet_gt):
    """Any format -> the official layout -> the same numbers."""
    write_ground_truth(tmp_path / "official.json", anet_gt)
    converted = read_ground_truth(tmp_path / "official.json")
    detections = as_detections(perturbed_results("dropped"))
    a = evaluate_detection(anet_gt, detections, subset="validation")
    b = evaluate_detection(converted, detections, subset="validation")
    np.testing.assert_array_equal(a.mAP, b.mAP)
