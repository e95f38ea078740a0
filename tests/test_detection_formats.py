"""Ground-truth and prediction files of temporal action detection: every reader on the shared files (counts, and
the official THUMOS14 files against ActionFormer's JSON segment by segment), small files written here, the
converter to ActivityNet's layout, and one-line errors for malformed files."""

from __future__ import annotations

import collections
import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from vidact.detect.annotations import (
    THUMOS14_CLASSES,
    Detection,
    match_video_ids,
    read_ground_truth,
    read_predictions,
    write_ground_truth,
    write_predictions,
)
from vidact.errors import DatasetError

DETECTION = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "detection"
ANET = DETECTION / "activitynet"
THUMOS = DETECTION / "thumos14"
TXT = THUMOS / "official_txt" / "original"
MMTAD = THUMOS / "official_txt" / "mmtad"


def _segments(annotation) -> collections.Counter:
    """A video's (label, start, end) as a multiset: files order segments differently."""
    return collections.Counter(
        (label, s, e) for (s, e), label in zip(annotation.segments.tolist(), annotation.labels, strict=True)
    )


@pytest.fixture(scope="module")
def thumos():
    return read_ground_truth(THUMOS / "thumos14.json")


def test_actionformer_thumos14_json(thumos):
    assert len(thumos.videos) == 412 and thumos.num_segments == 6365
    assert collections.Counter(v.subset for v in thumos.videos.values()) == {"Validation": 200, "Test": 212}
    assert thumos.classes == list(THUMOS14_CLASSES)  # in label_id order, which is alphabetical here
    assert thumos.convention == "thumos14"
    np.testing.assert_array_equal(thumos.tious, np.linspace(0.3, 0.7, 5))
    video = thumos.videos["video_test_0000004"]
    assert (video.duration, video.fps, video.subset) == (33.83, 30.0, "Test")
    assert video.segments.dtype == np.float64 and video.segments.shape == (len(video.labels), 2)
    np.testing.assert_array_equal(video.segments[0], [0.2, 1.1])
    assert video.labels[0] == "CricketBowling"
    test = thumos.subset("TEST")
    assert (len(test.videos), test.num_segments, test.classes) == (212, 3358, thumos.classes)
    assert thumos.subset("validation").num_segments == 3007
    assert not thumos.ambiguous


def test_official_txt_test_files_agree_with_actionformer_json(thumos):
    """Segment by segment the same (label, start, end) per video, to the last bit. Where they differ: the txt
    files keep the 99 Ambiguous segments of 37 videos apart (absent from the JSON), list video_test_0001292,
    which has nothing but Ambiguous segments (absent from the JSON), order the segments of 18 videos otherwise
    (by class, then time), and give no duration or fps."""
    txt = read_ground_truth(TXT / "annotations_test")
    assert txt.convention == "thumos14" and txt.classes == list(THUMOS14_CLASSES)
    json_test = thumos.subset("test")
    assert set(txt.videos) == set(json_test.videos) | {"video_test_0001292"}
    assert len(txt.videos["video_test_0001292"]) == 0 and len(txt.ambiguous["video_test_0001292"]) == 3
    reordered = 0
    for video, annotation in json_test.videos.items():
        assert _segments(txt.videos[video]) == _segments(annotation), video
        reordered += txt.videos[video].labels != annotation.labels or not np.array_equal(
            txt.videos[video].segments, annotation.segments
        )
    assert reordered == 18
    assert len(txt.ambiguous) == 37 and sum(len(a) for a in txt.ambiguous.values()) == 99
    assert txt.videos["video_test_0000004"].duration is None
    assert txt.num_segments == json_test.num_segments == 3358


def test_official_txt_folders_of_both_subsets_and_one_file(thumos):
    both = read_ground_truth(TXT)  # the folder of annotations_val and annotations_test
    assert both.num_segments == 6365 and both.subsets == ["Test", "Validation"]
    validation = both.subset("validation")
    assert set(validation.videos) == set(thumos.subset("validation").videos)
    for video, annotation in thumos.subset("validation").videos.items():
        assert _segments(validation.videos[video]) == _segments(annotation)
    assert sum(len(a) for a in validation.ambiguous.values()) == 89
    one = read_ground_truth(TXT / "annotations_test" / "HighJump_test.txt")
    assert one.classes == ["HighJump"] and one.num_segments == sum(
        a.labels.count("HighJump") for a in thumos.subset("test").videos.values()
    )


def test_mmtad_files_agree_with_actionformer_json(thumos):
    """The same segments; the ambiguous ones apart (89 + 96: video_test_0001292 is left out, as its readme
    says); durations are frames / fps there (33.73 s against the JSON's 33.83 s)."""
    for name, subset, ambiguous in (
        ("thumos14_val.json", "validation", 89),
        ("thumos14_test.json", "test", 96),
    ):
        mmtad = read_ground_truth(MMTAD / name)
        reference = thumos.subset(subset)
        assert set(mmtad.videos) == set(reference.videos) and mmtad.convention == "thumos14"
        assert mmtad.subsets == reference.subsets and mmtad.classes == list(THUMOS14_CLASSES)
        for video, annotation in reference.videos.items():
            assert _segments(mmtad.videos[video]) == _segments(annotation)
        assert sum(len(a) for a in mmtad.ambiguous.values()) == ambiguous
    video = read_ground_truth(MMTAD / "thumos14_test.json").videos["video_test_0000004"]
    assert video.fps == 30.0 and video.duration == pytest.approx(33.7333, abs=1e-4)


def test_bsn_anet_anno_action_with_its_video_info(tmp_path):
    gt = read_ground_truth(ANET / "anet_anno_action.json")  # video_info_new.csv beside it gives the subsets
    assert len(gt.videos) == 19228 and gt.convention == "activitynet"
    with open(ANET / "action_name.csv", encoding="utf-8") as f:
        assert gt.classes == sorted(row["action"] for row in csv.DictReader(f))
    assert collections.Counter(v.subset for v in gt.videos.values()) == {
        "training": 9649,
        "validation": 4728,
        "testing": 4851,
    }
    validation = gt.subset("Validation")
    assert (len(validation.videos), validation.num_segments) == (4728, 7293)
    video = gt.videos["v_QOlSCBRmfWY"]
    assert video.duration == pytest.approx(82.73) and video.labels == ["Ballet"] and video.fps is not None
    np.testing.assert_allclose(tuple(video.segments[0]), (6.195294851794072, 77.73085420904837))

    alone = tmp_path / "anet_anno_action.json"
    shutil.copy(ANET / "anet_anno_action.json", alone)
    bare = read_ground_truth(alone)
    assert bare.subsets == []
    with pytest.raises(DatasetError, match=r"anet_anno_action\.json: the ground truth names no subsets"):
        bare.subset("validation")
    given = read_ground_truth(alone, video_info=ANET / "video_info_new.csv")
    assert given.subset("validation").num_segments == 7293


def test_two_videos_gt():
    gt = read_ground_truth(THUMOS / "two_videos_gt.json")
    # three videos, although only two have features and clips in the folder
    assert list(gt.videos) == ["highjump.npy", "tennis26.npy", "golf.npy"]
    assert gt.classes == ["GolfSwing", "HighJump", "TennisSwing"]  # by the file's label ids 9, 11, 17
    assert gt.convention == "thumos14" and gt.subsets == ["Test"]
    np.testing.assert_array_equal(gt.videos["tennis26.npy"].segments, [[2.0, 4.0], [4.8, 7.0], [7.5, 10.0]])
    np.testing.assert_array_equal(gt.videos["highjump.npy"].segments, [[8.86, 15.01]])


EPIC_HEADER = [
    "narration_id",
    "participant_id",
    "video_id",
    "narration_timestamp",
    "start_timestamp",
    "stop_timestamp",
    "start_frame",
    "stop_frame",
    "narration",
    "verb",
    "verb_class",
    "noun",
    "noun_class",
]
EPIC_ROWS = [
    [
        "P01_11_0",
        "P01",
        "P01_11",
        "00:00:00.560",
        "00:00:00.14",
        "00:00:03.37",
        "8",
        "202",
        "take knife",
        "take",
        "0",
        "knife",
        "4",
    ],
    [
        "P01_11_1",
        "P01",
        "P01_11",
        "00:00:04.00",
        "00:00:04.37",
        "00:01:02.50",
        "262",
        "3750",
        "open drawer",
        "open",
        "3",
        "drawer",
        "8",
    ],
    [
        "P01_11_2",
        "P01",
        "P01_11",
        "00:01:05.00",
        "00:01:05.10",
        "01:00:00.00",
        "3906",
        "216000",
        "put knife",
        "put",
        "1",
        "knife",
        "4",
    ],
    [
        "P02_01_0",
        "P02",
        "P02_01",
        "00:00:01.00",
        "00:00:01.00",
        "00:00:02.00",
        "60",
        "120",
        "take plate",
        "take",
        "0",
        "plate",
        "2",
    ],
]


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_epic_kitchens_csv(tmp_path):
    path = _write_csv(tmp_path / "EPIC_100_validation.csv", EPIC_HEADER, EPIC_ROWS)
    gt = read_ground_truth(path)  # the verb by default
    assert list(gt.videos) == ["P01_11", "P02_01"] and gt.convention == "activitynet"
    assert gt.classes == ["take", "put", "open"]  # by verb_class 0, 1, 3
    np.testing.assert_allclose(gt.videos["P01_11"].segments, [[0.14, 3.37], [4.37, 62.5], [65.1, 3600.0]])
    assert gt.videos["P01_11"].labels == ["take", "open", "put"] and gt.videos["P01_11"].subset is None
    nouns = read_ground_truth(path, label_column="noun")
    assert nouns.classes == ["plate", "knife", "drawer"]  # by noun_class 2, 4, 8
    narrations = read_ground_truth(path, label_column="narration")
    assert narrations.classes == sorted({row[8] for row in EPIC_ROWS})  # no ids: sorted
    no_verb = [c for c in EPIC_HEADER if not c.startswith("verb")]
    rows = [
        [v for c, v in zip(EPIC_HEADER, row, strict=True) if not c.startswith("verb")] for row in EPIC_ROWS
    ]
    assert read_ground_truth(_write_csv(tmp_path / "nouns.csv", no_verb, rows)).classes == nouns.classes
    with pytest.raises(DatasetError, match=r"EPIC_100_validation\.csv: missing column colour"):
        read_ground_truth(path, label_column="colour")


@pytest.mark.parametrize(
    "source",
    [
        THUMOS / "thumos14.json",
        THUMOS / "two_videos_gt.json",
        TXT,
        MMTAD / "thumos14_test.json",
        ANET / "anet_anno_action.json",
        "epic",
    ],
    ids=["actionformer", "gt-wrapped", "thumos-txt", "mmtad", "bsn", "epic-csv"],
)
def test_every_format_converts_to_activitynet_layout_and_back(source, tmp_path):
    if source == "epic":
        source = _write_csv(tmp_path / "epic.csv", EPIC_HEADER, EPIC_ROWS)
    gt = read_ground_truth(source)
    write_ground_truth(tmp_path / "official.json", gt)
    written = json.loads((tmp_path / "official.json").read_text())
    assert set(written) == {"version", "taxonomy", "database"}  # what the official kit asks for
    assert {node["nodeName"] for node in written["taxonomy"]} == {"Root", *gt.classes}
    entry = next(iter(written["database"].values()))
    assert {"subset", "duration", "url", "annotations"} <= set(entry)
    back = read_ground_truth(tmp_path / "official.json")
    assert (
        back.classes == gt.classes
        and back.convention == gt.convention
        and list(back.videos) == list(gt.videos)
    )
    for video, annotation in gt.videos.items():
        other = back.videos[video]
        assert (other.subset, other.duration, other.fps, other.labels) == (
            annotation.subset,
            annotation.duration,
            annotation.fps,
            annotation.labels,
        )
        np.testing.assert_array_equal(other.segments, annotation.segments)
    assert back.ambiguous.keys() == gt.ambiguous.keys()
    for video, segments in gt.ambiguous.items():
        np.testing.assert_array_equal(back.ambiguous[video], segments)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("a.json", '{"database": {"v1": {"subset": "test"}}}', "video 'v1': missing key 'annotations'"),
        (
            "a.json",
            '{"database": {"v1": {"annotations": [{"segment": [2, 1], "label": "x"}]}}}',
            "video 'v1', annotation 0: bad segment, end 1 < start 2",
        ),
        (
            "a.json",
            '{"database": {"v1": {"annotations": [{"segment": [1, 2]}]}}}',
            "annotation 0: missing key 'label'",
        ),
        (
            "a.json",
            '{"database": {"v1": {"annotations": [{"segment": [1], "label": "x"}]}}}',
            "a segment must be [start, end]",
        ),
        (
            "a.json",
            '{"database": {"v1": {"annotations": [{"segment": [1, 2], "label": 3}]}}}',
            "a label must be a class name",
        ),
        (
            "a.json",
            '{"database": {"v1": {"annotations": [{"segment": [1, 2], "label": "x", "label_id": 0}, '
            '{"segment": [1, 2], "label": "y", "label_id": 0}]}}}',
            "label id 0 names 'x' and 'y'",
        ),
        ("a.json", '{"something": 1}', "unknown ground-truth layout"),
        ("a.json", "[1, 2]", "unknown ground-truth layout"),
        ("a.json", '{"database": ', "not JSON"),
        ("a.json", '{"results": {}}', "a prediction file (it has 'results'), not ground truth"),
        (
            "a.json",
            '{"v1": {"duration_second": 3, "annotations": [{"segment": [0, 1]}]}}',
            "missing key 'label'",
        ),
        (
            "a.json",
            '{"v1": {"segments": [[0, 1]], "labels": []}}',
            "'segments' and 'labels' must be lists of one length",
        ),
        ("Diving_test.txt", "video_test_1 1.0 2.0\nvideo_test_1 3.0\n", "line 2: expected 'video start end'"),
        ("Diving_test.txt", "video_test_1 1.0 x\n", "line 1: end must be a number, got 'x'"),
        ("Diving.txt", "video_test_1 1.0 2.0\n", "not a THUMOS14 per-class file"),
        ("a.csv", "video_id,start_timestamp,verb\nv,00:00:01.00,take\n", "missing column stop_timestamp"),
        (
            "a.csv",
            "video_id,start_timestamp,stop_timestamp,verb\nv,00:00:01.00,1:2:3:4,take\n",
            "line 2: a timestamp must be",
        ),
        (
            "a.csv",
            "video_id,start_timestamp,stop_timestamp,verb\nv,00:00:01.00,00:00:02.00\n",
            "line 2: not 4 fields",
        ),
        (
            "a.csv",
            "video_id,start_timestamp,stop_timestamp\nv,1,2\n",
            "no label column (verb, noun, narration)",
        ),
    ],
)
def test_malformed_ground_truth_is_one_line_naming_file_and_problem(tmp_path, name, content, problem):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DatasetError) as error:
        read_ground_truth(path)
    message = str(error.value)
    assert message.startswith(str(path)) and problem in message and "\n" not in message


def test_bad_arguments_and_missing_files(tmp_path):
    with pytest.raises(DatasetError, match="no such file or folder"):
        read_ground_truth(tmp_path / "missing.json")
    with pytest.raises(DatasetError, match="unknown ground-truth format 'csv'"):
        read_ground_truth(THUMOS / "thumos14.json", format="csv")
    with pytest.raises(DatasetError, match="video_info gives the subsets of BSN's files, not of activitynet"):
        read_ground_truth(THUMOS / "thumos14.json", video_info=ANET / "video_info_new.csv")
    with pytest.raises(DatasetError, match="label_column is an option of the epic-csv format"):
        read_ground_truth(THUMOS / "thumos14.json", label_column="verb")
    with pytest.raises(DatasetError, match=r"thumos14\.json: video 'version': expected an object"):
        read_ground_truth(THUMOS / "thumos14.json", format="bsn")
    with pytest.raises(DatasetError, match=r"no THUMOS14 per-class files"):
        read_ground_truth(tmp_path)
    gt = read_ground_truth(THUMOS / "thumos14.json", convention="activitynet")
    assert gt.convention == "activitynet" and len(gt.tious) == 10
    folder = tmp_path / "txt"
    folder.mkdir()
    (folder / "Diving_val.txt").write_text("video_1 1 2\n")
    (folder / "Diving_test.txt").write_text("video_1 3 4\n")
    with pytest.raises(DatasetError, match="video 'video_1' is in both"):
        read_ground_truth(folder)


def test_predictions_round_trip_and_id_matching(tmp_path):
    predictions = {
        "QOlSCBRmfWY": [Detection(1.5, 7.25, "Ballet", 0.9), Detection(0.0, 2.0, "Ballet", 0.1)],
        "v_ehGHCYKzyZ8": [Detection(43.0, 45.5, "Doing crunches", 1.0)],
        "not_a_video": [],
    }
    write_predictions(tmp_path / "p.json", predictions)
    written = json.loads((tmp_path / "p.json").read_text())
    assert set(written) == {"version", "results", "external_data"}
    assert written["results"]["QOlSCBRmfWY"][0] == {"label": "Ballet", "score": 0.9, "segment": [1.5, 7.25]}
    assert read_predictions(tmp_path / "p.json") == predictions
    matched = match_video_ids(["v_QOlSCBRmfWY", "ehGHCYKzyZ8", "x"], predictions, source="p.json")
    assert matched == {"QOlSCBRmfWY": "v_QOlSCBRmfWY", "v_ehGHCYKzyZ8": "ehGHCYKzyZ8", "not_a_video": None}
    sample = read_predictions(ANET / "sample_detection_prediction.json")
    assert len(sample) == 4926 and sum(len(d) for d in sample.values()) == 7654
    assert sample["wONwHYy59Tc"] == [
        Detection(94.52138901727746, 130.48707650118757, "Blow-drying hair", 1.0)
    ]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"version": "1"}', "not a prediction file"),
        ('{"results": []}', "'results' must map video ids"),
        ('{"results": {"v": {}}}', "video 'v': expected a list of detections"),
        (
            '{"results": {"v": [{"label": "a", "segment": [0, 1]}]}}',
            "video 'v', detection 0: missing key 'score'",
        ),
        (
            '{"results": {"v": [{"label": "a", "score": 1, "segment": [3, 1]}]}}',
            "bad segment, end 1 < start 3",
        ),
        ('{"results": {"v": [{"label": 4, "score": 1, "segment": [0, 1]}]}}', "a label must be a class name"),
        (
            '{"results": {"v": [{"label": "a", "score": "0.5", "segment": [0, 1]}]}}',
            "score must be a number",
        ),
        ('{"results": {"v": [{"label": "a", "score": NaN, "segment": [0, 1]}]}}', "score must be finite"),
    ],
)
def test_malformed_predictions(tmp_path, content, problem):
    path = tmp_path / "pred.json"
    path.write_text(content)
    with pytest.raises(DatasetError) as error:
        read_predictions(path)
    assert str(error.value).startswith(str(path)) and problem in str(error.value)


def test_proposals_need_no_labels(tmp_path):
    path = tmp_path / "proposals.json"
    path.write_text('{"results": {"v": [{"score": 0.5, "segment": [0, 1]}]}}')
    assert read_predictions(path, proposals=True) == {"v": [Detection(0.0, 1.0, "", 0.5)]}
    with pytest.raises(DatasetError, match="missing key 'label'"):
        read_predictions(path)
