"""Ground truth and predictions of temporal action detection, in the field's file formats.

Ground truth (:func:`read_ground_truth`, ``format="auto"`` tells the layouts apart by their content):

==============  ===========================================================================================
``activitynet``  ``{"version", "database": {video: {"subset", "duration", "annotations": [{"segment",
                 "label"}]}}}``: the official ActivityNet-1.3 file (with ``"taxonomy"``, ``"url"``) and
                 ActionFormer's files (THUMOS14 with ``"fps"``, ``"label_id"``, ``"segment(frames)"``)
``gt-wrapped``   the same videos under a ``"GT"`` key instead of ``"database"`` (``two_videos_gt.json``)
``bsn``          BSN's ``anet_anno_action.json``, ``{video: {"duration_second", "annotations"}}``, whose
                 subsets are in the ``video_info_new.csv`` beside it (or ``video_info=``)
``thumos-txt``   the official THUMOS14 per-class files ``<Class>_<val|test>.txt`` (``video start end`` a
                 line): a folder of them, a folder of such folders, or one file
``mmtad``        ``{video: {"segments", "labels", "duration", "FPS", ...}}`` (mmaction2's THUMOS14 files)
``epic-csv``     EPIC-Kitchens-style CSV: ``video_id``, ``start_timestamp``, ``stop_timestamp`` (``HH:MM:SS.ff``
                 or seconds) and a label column (``verb``, ``noun``, ``narration``: ``label_column=``)
==============  ===========================================================================================

THUMOS14's ``Ambiguous`` segments (in the per-class files and in mmtad's) are not a class: they are kept apart in
:attr:`GroundTruth.ambiguous`. What the official THUMOS14 evaluation does with them is in the docstring of
:attr:`GroundTruth.ambiguous`; :func:`~vidact.detect.evaluation.evaluate_detection` computes the ActivityNet
kit's numbers (what ActionFormer and its successors report on THUMOS14 as well) and does not use them.

:func:`write_ground_truth` writes any of them in the official ActivityNet layout, the one vidact's own data
(``vidact synth --kind untrimmed``) is written in, so every format converts to that one.

Predictions are the official submission JSON, ``{"version", "results": {video: [{"label", "score",
"segment"}]}, "external_data"}`` (:func:`read_predictions`, :func:`write_predictions`). A prediction's video id
matches a ground-truth id with or without ActivityNet's ``v_`` prefix on either side
(:func:`match_video_ids`): the official sample submission says ``QOlSCBRmfWY`` where BSN's ground truth says
``v_QOlSCBRmfWY``.

Every malformed file is one :class:`~vidact.errors.DatasetError` line naming the file and the problem.

    >>> gt = read_ground_truth("thumos14.json").subset("test")       # case-insensitive: the file says "Test"
    >>> gt.convention, gt.tious                                       # "thumos14", [0.3 0.4 0.5 0.6 0.7]
    >>> gt = read_ground_truth("anet_anno_action.json")               # subsets from video_info_new.csv beside it
    >>> write_ground_truth("anet_official.json", gt)                  # the official ActivityNet layout
    >>> predictions = read_predictions("submission.json")            # {video: [Detection, ...]}
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import write_text
from ..errors import DatasetError

__all__ = [
    "VideoAnnotation",
    "GroundTruth",
    "Detection",
    "read_ground_truth",
    "write_ground_truth",
    "read_predictions",
    "write_predictions",
    "match_video_ids",
    "convention_tious",
    "FORMATS",
    "CONVENTIONS",
    "THUMOS14_CLASSES",
]

#: The ground-truth layouts :func:`read_ground_truth` reads (``"auto"`` sniffs them).
FORMATS = ("activitynet", "gt-wrapped", "bsn", "thumos-txt", "mmtad", "epic-csv")

#: Each benchmark's temporal IoU thresholds, as ``numpy.linspace`` arguments (the exact floats the official
#: ActivityNet kit and ActionFormer use: ``linspace(0.5, 0.95, 10)`` differs from ``arange`` in the last bits).
CONVENTIONS: dict[str, tuple[float, float, int]] = {
    "activitynet": (0.5, 0.95, 10),
    "thumos14": (0.3, 0.7, 5),
}

#: THUMOS14's 20 detection classes (its ``Ambiguous`` segments are not a class).
THUMOS14_CLASSES = (
    "BaseballPitch",
    "BasketballDunk",
    "Billiards",
    "CleanAndJerk",
    "CliffDiving",
    "CricketBowling",
    "CricketShot",
    "Diving",
    "FrisbeeCatch",
    "GolfSwing",
    "HammerThrow",
    "HighJump",
    "JavelinThrow",
    "LongJump",
    "PoleVault",
    "Shotput",
    "SoccerPenalty",
    "TennisSwing",
    "ThrowDiscus",
    "VolleyballSpiking",
)
AMBIGUOUS = "Ambiguous"

_THUMOS_ID = re.compile(r"^video_(validation|test)_\d+$")
_THUMOS_SUBSETS = {"val": "Validation", "validation": "Validation", "test": "Test"}
_THUMOS_TXT = re.compile(r"^(?P<label>.+)_(?P<subset>val|validation|test)\.txt$")
_EPIC_COLUMNS = ("video_id", "start_timestamp", "stop_timestamp")
_EPIC_LABELS = ("verb", "noun", "narration")
_PREFIX = "v_"


def convention_tious(convention: str) -> np.ndarray:
    """The temporal IoU thresholds of a convention: [10] for ``"activitynet"`` (0.5:0.95), [5] for
    ``"thumos14"`` (0.3:0.7), float64."""
    if convention not in CONVENTIONS:
        raise DatasetError(f"unknown convention {convention!r}; expected one of {', '.join(CONVENTIONS)}")
    return np.linspace(*CONVENTIONS[convention])


@dataclass
class VideoAnnotation:
    """The ground truth of one video.

    Attributes:
        video: the id as the file spells it (``"v_QOlSCBRmfWY"``, ``"video_test_0000004"``).
        duration: seconds, None where the file does not say.
        fps: frames per second, None where the file does not say.
        subset: as the file writes it (``"training"``, ``"validation"``, ``"Test"``), None where it has none.
        segments: [N, 2] float64 start and end seconds, in the file's order, end >= start.
        labels: the N class names.
    """

    video: str
    duration: float | None
    fps: float | None
    subset: str | None
    segments: np.ndarray
    labels: list[str]

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class GroundTruth:
    """The ground truth of a set of videos.

    Attributes:
        videos: per video id, in the file's order.
        classes: the class names, ordered by the file's label ids where it has them, else sorted. A subset keeps
            the whole file's classes (label ids stay the same); the evaluation scores the classes that have
            ground truth in the videos it evaluates.
        convention: ``"thumos14"`` for THUMOS14's files, ``"activitynet"`` otherwise: the default thresholds
            (:attr:`tious`).
        source: the path read.
        ambiguous: THUMOS14's ``Ambiguous`` segments, [M, 2] float64 seconds per video that has some, apart
            from the classes. The official THUMOS14 evaluation (``TH14evalDet.m``) drops from the false
            positives every detection that overlaps an ambiguous segment at all and is not matched to a ground
            truth (it counts neither as a true nor as a false positive), with its own matching (each ground
            truth in turn takes the free detection of highest overlap above the threshold) and an 11-point
            interpolated AP. The ActivityNet kit, whose numbers vidact computes, ignores them: those segments are
            absent from ActionFormer's JSON, and a detection on them is a false positive.
    """

    videos: dict[str, VideoAnnotation]
    classes: list[str]
    convention: str = "activitynet"
    source: str = ""
    ambiguous: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def tious(self) -> np.ndarray:
        """The convention's temporal IoU thresholds, ascending float64 ([10] for ActivityNet, [5] for
        THUMOS14)."""
        return convention_tious(self.convention)

    @property
    def subsets(self) -> list[str]:
        """The subsets the videos name, sorted (empty where the file has none)."""
        return sorted({v.subset for v in self.videos.values() if v.subset is not None})

    @property
    def num_segments(self) -> int:
        """How many segments of the classes (not the ambiguous ones) the videos hold."""
        return sum(len(v) for v in self.videos.values())

    def subset(self, name: str) -> GroundTruth:
        """The videos of subset ``name`` (case-insensitive: THUMOS14 says ``Validation`` and ``Test``).

        Raises:
            DatasetError: the ground truth has no subset of that name, or none at all.
        """
        wanted = name.lower()
        videos = {k: v for k, v in self.videos.items() if v.subset is not None and v.subset.lower() == wanted}
        if not videos:
            subsets = self.subsets
            if not subsets:
                raise DatasetError(
                    f"{self.source}: the ground truth names no subsets, so no {name!r} (BSN's files take them "
                    "from the video_info_new.csv beside them, or from video_info)"
                )
            raise DatasetError(f"{self.source}: no subset {name!r} (subsets: {', '.join(subsets)})")
        ambiguous = {k: v for k, v in self.ambiguous.items() if k in videos}
        return replace(self, videos=videos, ambiguous=ambiguous)


@dataclass(frozen=True, slots=True)
class Detection:
    """One predicted segment: ``start`` and ``end`` in seconds, a class name and a confidence."""

    start: float
    end: float
    label: str
    score: float


# ---------------------------------------------------------------------------------------------------------------
# Reading ground truth


def read_ground_truth(
    path: str | os.PathLike,
    *,
    video_info: str | os.PathLike | None = None,
    format: str = "auto",
    label_column: str | None = None,
    convention: str | None = None,
) -> GroundTruth:
    """Read a ground-truth file (or THUMOS14's folder of per-class files) of any format of :data:`FORMATS`.

    Args:
        path: the file, or the folder of THUMOS14's per-class ``.txt`` files.
        video_info: BSN's ``video_info_new.csv`` (columns ``video``, ``subset``, optionally ``fps``): the
            subsets of a ``bsn`` file. Default: that file beside ``path`` where there is one.
        format: one of :data:`FORMATS`, or ``"auto"`` to tell by the content.
        label_column: the label column of an ``epic-csv`` file; default ``verb`` if present, else ``noun``, else
            ``narration``.
        convention: ``"activitynet"`` or ``"thumos14"`` (the default thresholds); default ``"thumos14"`` for
            THUMOS14's files (its layouts, its video ids, its version string or its classes),
            ``"activitynet"`` otherwise.

    Raises:
        DatasetError: no such file, a layout none of the readers knows, or a malformed entry (a missing key, a
            segment whose end is before its start, a label that is not a name, ...), named in one line.
    """
    path = Path(path)
    if format not in (*FORMATS, "auto"):
        raise DatasetError(
            f"{path}: unknown ground-truth format {format!r}; expected auto or {', '.join(FORMATS)}"
        )
    if convention is not None and convention not in CONVENTIONS:
        raise DatasetError(f"unknown convention {convention!r}; expected one of {', '.join(CONVENTIONS)}")
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    data: Any = None
    if format == "auto":
        format, data = _sniff(path)
    elif format not in ("thumos-txt", "epic-csv"):
        data = _load_json(path)
    if label_column is not None and format != "epic-csv":
        raise DatasetError(f"{path}: label_column is an option of the epic-csv format, not of {format}")
    if video_info is not None and format != "bsn":
        raise DatasetError(
            f"{video_info}: video_info gives the subsets of BSN's files, not of {format} ({path})"
        )
    if format == "thumos-txt":
        gt = _read_thumos_txt(path)
    elif format == "epic-csv":
        gt = _read_epic_csv(path, label_column)
    elif format == "activitynet":
        gt = _read_database(path, data, "database")
    elif format == "gt-wrapped":
        gt = _read_database(path, data, "GT")
    elif format == "bsn":
        gt = _read_bsn(path, data, video_info)
    else:
        gt = _read_mmtad(path, data)
    if convention is not None:
        gt.convention = convention
    return gt


def _sniff(path: Path) -> tuple[str, Any]:
    """The format of ``path`` and, for JSON, its content."""
    if path.is_dir() or path.suffix.lower() == ".txt":
        return "thumos-txt", None
    if path.suffix.lower() == ".csv":
        return "epic-csv", None
    data = _load_json(path)
    if isinstance(data, dict):
        if isinstance(data.get("database"), dict):
            return "activitynet", data
        if isinstance(data.get("GT"), dict):
            return "gt-wrapped", data
        if "results" in data:
            raise DatasetError(f"{path}: a prediction file (it has 'results'), not ground truth")
        first = next(iter(data.values()), None)
        if isinstance(first, dict):
            if "segments" in first and "labels" in first:
                return "mmtad", data
            if "annotations" in first and "duration_second" in first:
                return "bsn", data
    raise DatasetError(
        f"{path}: unknown ground-truth layout (expected ActivityNet's {{'database': ...}}, {{'GT': ...}}, BSN's "
        "{video: {'duration_second', 'annotations'}} or mmtad's {video: {'segments', 'labels'}})"
    )


def _load_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: not JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not JSON (not UTF-8 text)") from None
    except IsADirectoryError:
        raise DatasetError(f"{path}: a folder, expected a JSON file") from None


def _number(value: Any, where: str, what: str, *, optional: bool = False, text: bool = False) -> float | None:
    """``value`` as a finite float: a JSON number, or with ``text`` a string (txt and CSV files)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str) if text else (int, float)):
        raise DatasetError(f"{where}: {what} must be a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise DatasetError(f"{where}: {what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise DatasetError(f"{where}: {what} must be finite, got {value!r}")
    return number


def _segment(value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise DatasetError(f"{where}: a segment must be [start, end], got {value!r}")
    start = _number(value[0], where, "segment start")
    end = _number(value[1], where, "segment end")
    if end < start:
        raise DatasetError(f"{where}: bad segment, end {end:g} < start {start:g}")
    return start, end  # type: ignore[return-value]


def _label(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise DatasetError(f"{where}: a label must be a class name, got {value!r}")
    return value


def _key(entry: Mapping[str, Any], key: str, where: str) -> Any:
    if not isinstance(entry, Mapping):
        raise DatasetError(f"{where}: expected an object, got {type(entry).__name__}")
    if key not in entry:
        raise DatasetError(f"{where}: missing key {key!r}")
    return entry[key]


def _segments_array(pairs: list[tuple[float, float]]) -> np.ndarray:
    return np.asarray(pairs, dtype=np.float64).reshape(len(pairs), 2)


class _Builder:
    """Collects videos, classes (with their ids where the file gives them) and ambiguous segments."""

    def __init__(self, path: Path):
        self.path = path
        self.videos: dict[str, VideoAnnotation] = {}
        self.ambiguous: dict[str, list[tuple[float, float]]] = {}
        self.ids: dict[str, int] = {}
        self.names: set[str] = set()
        self.all_have_ids = True

    def video(
        self,
        video: str,
        annotations: Iterable[tuple[tuple[float, float], str, int | None]],
        *,
        where: str,
        duration: float | None = None,
        fps: float | None = None,
        subset: str | None = None,
    ) -> None:
        if video in self.videos:
            raise DatasetError(f"{where}: video {video!r} appears twice")
        pairs, labels = [], []
        for segment, label, label_id in annotations:
            if label == AMBIGUOUS:
                self.ambiguous.setdefault(video, []).append(segment)
                continue
            self.label(label, label_id, where)
            pairs.append(segment)
            labels.append(label)
        self.videos[video] = VideoAnnotation(video, duration, fps, subset, _segments_array(pairs), labels)

    def label(self, label: str, label_id: int | None, where: str) -> None:
        self.names.add(label)
        if label_id is None:
            self.all_have_ids = False
            return
        known = self.ids.setdefault(label, label_id)
        if known != label_id:
            raise DatasetError(f"{where}: label {label!r} has ids {known} and {label_id}")

    def build(self, *, convention: str | None, version: str | None = None) -> GroundTruth:
        if self.all_have_ids and self.ids:
            by_id: dict[int, str] = {}
            for name, i in self.ids.items():
                if by_id.setdefault(i, name) != name:
                    raise DatasetError(f"{self.path}: label id {i} names {by_id[i]!r} and {name!r}")
            classes = [by_id[i] for i in sorted(by_id)]
        else:
            classes = sorted(self.names)
        if convention is None:
            convention = _guess_convention(version, self.videos, classes)
        ambiguous = {k: _segments_array(v) for k, v in self.ambiguous.items()}
        return GroundTruth(self.videos, classes, convention, str(self.path), ambiguous)


def _guess_convention(version: str | None, videos: Iterable[str], classes: list[str]) -> str:
    """THUMOS14 where the version string says so, the video ids are THUMOS14's or every class is one of its."""
    if version is not None and "thumos" in str(version).lower():
        return "thumos14"
    ids = list(videos)
    if ids and all(_THUMOS_ID.match(v) for v in ids):
        return "thumos14"
    if classes and set(classes) <= set(THUMOS14_CLASSES):
        return "thumos14"
    return "activitynet"


def _label_id(entry: Mapping[str, Any], where: str) -> int | None:
    value = entry.get("label_id")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise DatasetError(f"{where}: label_id must be an integer, got {value!r}")
    return value


def _read_database(path: Path, data: Any, key: str) -> GroundTruth:
    """ActivityNet's layout (official and ActionFormer's) under ``data[key]``."""
    database = _key(data, key, str(path))
    if not isinstance(database, dict):
        raise DatasetError(f"{path}: {key!r} must map video ids to their entries")
    builder = _Builder(path)
    for video, entry in database.items():
        where = f"{path}: video {video!r}"
        annotations = _key(entry, "annotations", where)
        if not isinstance(annotations, list):
            raise DatasetError(f"{where}: 'annotations' must be a list")
        subset = entry.get("subset")
        if subset is not None and not isinstance(subset, str):
            raise DatasetError(f"{where}: subset must be a name, got {subset!r}")
        parsed = []
        for i, ann in enumerate(annotations):
            at = f"{where}, annotation {i}"
            segment = _segment(_key(ann, "segment", at), at)
            parsed.append((segment, _label(_key(ann, "label", at), at), _label_id(ann, at)))
        ambiguous = entry.get("ambiguous", [])  # vidact's own converted files keep THUMOS14's ambiguous parts
        if not isinstance(ambiguous, list):
            raise DatasetError(f"{where}: 'ambiguous' must be a list of segments")
        parsed += [(_segment(s, f"{where}, ambiguous {i}"), AMBIGUOUS, None) for i, s in enumerate(ambiguous)]
        builder.video(
            video,
            parsed,
            where=where,
            duration=_number(entry.get("duration"), where, "duration", optional=True),
            fps=_number(entry.get("fps"), where, "fps", optional=True),
            subset=subset,
        )
    version = data.get("version") if isinstance(data, dict) else None
    return builder.build(convention=None, version=version)


def _read_bsn(path: Path, data: Any, video_info: str | os.PathLike | None) -> GroundTruth:
    """BSN's ``anet_anno_action.json`` with the subsets (and fps) of its ``video_info_new.csv``."""
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected an object mapping video ids to their entries")
    if video_info is None and (path.parent / "video_info_new.csv").is_file():
        video_info = path.parent / "video_info_new.csv"
    info = _read_video_info(Path(video_info)) if video_info is not None else {}
    builder = _Builder(path)
    for video, entry in data.items():
        where = f"{path}: video {video!r}"
        annotations = _key(entry, "annotations", where)
        if not isinstance(annotations, list):
            raise DatasetError(f"{where}: 'annotations' must be a list")
        parsed = []
        for i, ann in enumerate(annotations):
            at = f"{where}, annotation {i}"
            parsed.append((_segment(_key(ann, "segment", at), at), _label(_key(ann, "label", at), at), None))
        subset, fps = info.get(video) or info.get(_other_spelling(video)) or (None, None)
        duration = _number(_key(entry, "duration_second", where), where, "duration_second")
        builder.video(video, parsed, where=where, duration=duration, fps=fps, subset=subset)
    return builder.build(convention=None)


def _read_video_info(path: Path) -> dict[str, tuple[str, float | None]]:
    """``video -> (subset, fps)`` from BSN's ``video_info_new.csv``."""
    _, rows = _read_csv(path, ("video", "subset"))
    info = {}
    for n, row in rows:
        where = f"{path}: line {n}"
        fps = _number(row["fps"], where, "fps", text=True) if row.get("fps") not in (None, "") else None
        info[row["video"]] = (row["subset"], fps)
    return info


def _read_csv(
    path: Path, required: tuple[str, ...], choose: Any = None
) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and the rows (with their line numbers) of a CSV file whose header holds ``required`` and,
    where ``choose`` is given, the column ``choose(header)`` returns."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    try:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            columns = list(reader.fieldnames or [])
            if choose is not None:
                required = (*required, choose(columns))
            missing = [c for c in required if c not in columns]
            if missing:
                raise DatasetError(
                    f"{path}: missing column{'s' * (len(missing) > 1)} {', '.join(missing)} "
                    f"(header: {', '.join(columns) or 'none'})"
                )
            rows = [(reader.line_num, row) for row in reader]
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not a CSV file (not UTF-8 text)") from None
    for n, row in rows:
        if None in row or any(value is None for value in row.values()):
            raise DatasetError(f"{path}: line {n}: not {len(columns)} fields, as the header has")
    return columns, rows


def _read_thumos_txt(path: Path) -> GroundTruth:
    """THUMOS14's per-class files: one, a folder of them, or a folder of such folders (val and test)."""
    if path.is_file():
        if not _THUMOS_TXT.match(path.name):
            raise DatasetError(f"{path}: not a THUMOS14 per-class file (<Class>_val.txt or <Class>_test.txt)")
        files = [path]
    else:
        files = [p for p in path.iterdir() if _THUMOS_TXT.match(p.name)]
        if not files:
            files = [
                p for d in path.iterdir() if d.is_dir() for p in d.iterdir() if _THUMOS_TXT.match(p.name)
            ]
    if not files:
        raise DatasetError(f"{path}: no THUMOS14 per-class files (<Class>_val.txt, <Class>_test.txt)")
    per_video: dict[str, list[tuple[tuple[float, float], str, None]]] = {}
    subsets: dict[str, str] = {}
    for file in sorted(files, key=lambda p: (p.name, str(p))):
        match = _THUMOS_TXT.match(file.name)
        assert match is not None  # the files were chosen by this pattern
        label, subset = match.group("label"), _THUMOS_SUBSETS[match.group("subset")]
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            raise DatasetError(f"{file}: not a text file (not UTF-8)") from None
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            fields = line.split()
            where = f"{file}: line {n}"
            if len(fields) != 3:
                raise DatasetError(f"{where}: expected 'video start end', got {line.strip()!r}")
            video = fields[0]
            if subsets.setdefault(video, subset) != subset:
                raise DatasetError(f"{where}: video {video!r} is in both {subsets[video]} and {subset}")
            bounds = [
                _number(f, where, what, text=True)
                for f, what in zip(fields[1:], ("start", "end"), strict=True)
            ]
            per_video.setdefault(video, []).append((_segment(bounds, where), label, None))
    builder = _Builder(path)
    for video in sorted(per_video):
        builder.video(video, per_video[video], where=str(path), subset=subsets[video])
    return builder.build(convention="thumos14")


def _read_mmtad(path: Path, data: Any) -> GroundTruth:
    """mmaction2's THUMOS14 files: ``{video: {segments, labels, duration, FPS}}``; the subset from a THUMOS14
    video id (``video_validation_*``, ``video_test_*``)."""
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected an object mapping video ids to their entries")
    builder = _Builder(path)
    for video, entry in data.items():
        where = f"{path}: video {video!r}"
        segments = _key(entry, "segments", where)
        labels = _key(entry, "labels", where)
        if not isinstance(segments, list) or not isinstance(labels, list) or len(segments) != len(labels):
            raise DatasetError(f"{where}: 'segments' and 'labels' must be lists of one length")
        parsed = [
            (_segment(s, f"{where}, segment {i}"), _label(label, f"{where}, label {i}"), None)
            for i, (s, label) in enumerate(zip(segments, labels, strict=True))
        ]
        thumos = _THUMOS_ID.match(video)
        builder.video(
            video,
            parsed,
            where=where,
            duration=_number(entry.get("duration"), where, "duration", optional=True),
            fps=_number(entry.get("FPS", entry.get("fps")), where, "FPS", optional=True),
            subset=_THUMOS_SUBSETS[thumos.group(1)] if thumos else None,
        )
    return builder.build(convention=None)


def _read_epic_csv(path: Path, label_column: str | None) -> GroundTruth:
    """EPIC-Kitchens-style CSV: one segment a row; classes ordered by ``<label>_class`` ids where present."""

    def choose(header: list[str]) -> str:
        if label_column is not None:
            return label_column
        found = next((c for c in _EPIC_LABELS if c in header), None)
        if found is None:
            raise DatasetError(
                f"{path}: no label column ({', '.join(_EPIC_LABELS)}); header: {', '.join(header)}"
            )
        return found

    header, rows = _read_csv(path, _EPIC_COLUMNS, choose)
    column = choose(header)
    id_column = f"{column}_class" if f"{column}_class" in header else None
    per_video: dict[str, list[tuple[tuple[float, float], str, int | None]]] = {}
    for n, row in rows:
        where = f"{path}: line {n}"
        segment = _segment(
            [_timestamp(row["start_timestamp"], where), _timestamp(row["stop_timestamp"], where)], where
        )
        label_id = None
        if id_column is not None:
            try:
                label_id = int(row[id_column])
            except ValueError:
                raise DatasetError(
                    f"{where}: {id_column} must be an integer, got {row[id_column]!r}"
                ) from None
        per_video.setdefault(row["video_id"], []).append((segment, _label(row[column], where), label_id))
    builder = _Builder(path)
    for video, parsed in per_video.items():
        builder.video(video, parsed, where=str(path))
    return builder.build(convention="activitynet")


def _timestamp(text: str, where: str) -> float:
    """Seconds from ``HH:MM:SS.ff`` (or ``MM:SS.ff``, or plain seconds)."""
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3:
        raise DatasetError(f"{where}: a timestamp must be HH:MM:SS.ff or seconds, got {text!r}")
    seconds = 0.0
    for part in parts:
        value = _number(part, where, f"timestamp {text!r}", text=True)
        if value is None or value < 0:
            raise DatasetError(f"{where}: a timestamp must be HH:MM:SS.ff or seconds, got {text!r}")
        seconds = seconds * 60 + value
    return seconds


def _other_spelling(video: str) -> str:
    return video[len(_PREFIX) :] if video.startswith(_PREFIX) else _PREFIX + video


def match_video_ids(known: Iterable[str], ids: Iterable[str], *, source: str = "") -> dict[str, str | None]:
    """Which video of ``known`` (the ground truth's ids) each of ``ids`` (a prediction file's) is.

    An id matches the same id, else the id with ActivityNet's ``v_`` prefix added or removed (``QOlSCBRmfWY``
    and ``v_QOlSCBRmfWY`` are one video, whichever side has the prefix); an id that matches nothing maps to
    None (a video without ground truth: its detections are false positives).

    Raises:
        DatasetError: two of ``ids`` are the same video (``abc`` and ``v_abc``), named with ``source``.
    """
    known = set(known)
    matched: dict[str, str | None] = {}
    owner: dict[str, str] = {}
    for video in ids:
        target = video if video in known else _other_spelling(video)
        if target not in known:
            matched[video] = None
            continue
        if target in owner:
            raise DatasetError(f"{source}: {owner[target]!r} and {video!r} are the same video ({target!r})")
        owner[target] = video
        matched[video] = target
    return matched


# ---------------------------------------------------------------------------------------------------------------
# Writing ground truth, reading and writing predictions


def write_ground_truth(path: str | os.PathLike, gt: GroundTruth, *, version: str = "VERSION 1.3") -> None:
    """Write ``gt`` in the official ActivityNet-1.3 layout, atomically.

    ``{"version", "taxonomy", "database": {video: {"subset", "duration", "url", "annotations": [{"segment",
    "label", "label_id"}]}}}``: what the official kit reads (``taxonomy`` lists the classes as leaves of one
    root). Video ids are written as ``gt`` spells them; ``fps`` where known and ``label_id`` (the index in
    ``gt.classes``) are kept as ActionFormer's files have them, so reading the file back gives the same classes in
    the same order. THUMOS14's ambiguous segments go to a per-video ``"ambiguous"`` list, which the official kit
    ignores and :func:`read_ground_truth` reads back.
    """
    index = {name: i for i, name in enumerate(gt.classes)}
    taxonomy: list[dict[str, Any]] = [{"nodeId": 0, "nodeName": "Root", "parentId": None, "parentName": None}]
    taxonomy += [
        {"nodeId": i + 1, "nodeName": name, "parentId": 0, "parentName": "Root"}
        for i, name in enumerate(gt.classes)
    ]
    database = {}
    for video, annotation in gt.videos.items():
        entry: dict[str, Any] = {"subset": annotation.subset, "duration": annotation.duration, "url": ""}
        if annotation.fps is not None:
            entry["fps"] = annotation.fps
        entry["annotations"] = [
            {"segment": [float(s), float(e)], "label": label, "label_id": index[label]}
            for (s, e), label in zip(annotation.segments.tolist(), annotation.labels, strict=True)
        ]
        if video in gt.ambiguous:
            entry["ambiguous"] = gt.ambiguous[video].tolist()
        database[video] = entry
    write_text(path, json.dumps({"version": version, "taxonomy": taxonomy, "database": database}) + "\n")


def read_predictions(path: str | os.PathLike, *, proposals: bool = False) -> dict[str, list[Detection]]:
    """Read an official submission file: ``{"results": {video: [{"label", "score", "segment"}]}}``.

    Args:
        path: the file.
        proposals: a proposal file (the kit's ``eval_proposal.py``): labels are optional, a missing one reads
            as ``""``.

    Returns:
        Per video id as the file spells it (in the file's order, which decides the order of equal scores in the
        evaluation, as in the official kit), its detections in the file's order.

    Raises:
        DatasetError: no such file, no ``results``, or a malformed detection (named by video and index).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    data = _load_json(path)
    if not isinstance(data, dict) or "results" not in data:
        raise DatasetError(f"{path}: not a prediction file (expected {{'results': {{video: [detections]}}}})")
    results = data["results"]
    if not isinstance(results, dict):
        raise DatasetError(f"{path}: 'results' must map video ids to lists of detections")
    predictions: dict[str, list[Detection]] = {}
    for video, detections in results.items():
        where = f"{path}: video {video!r}"
        if not isinstance(detections, list):
            raise DatasetError(f"{where}: expected a list of detections")
        parsed = []
        for i, det in enumerate(detections):
            at = f"{where}, detection {i}"
            start, end = _segment(_key(det, "segment", at), at)
            score = _number(_key(det, "score", at), at, "score")
            label = det.get("label", "") if proposals else _label(_key(det, "label", at), at)
            if not isinstance(label, str):
                raise DatasetError(f"{at}: a label must be a class name, got {label!r}")
            parsed.append(Detection(start, end, label, score))  # type: ignore[arg-type]
        predictions[video] = parsed
    return predictions


def write_predictions(
    path: str | os.PathLike, predictions: Mapping[str, Iterable[Detection]], *, version: str = "VERSION 1.3"
) -> None:
    """Write detections as an official submission file, atomically (``"external_data"`` says none was used)."""
    results = {
        video: [
            {"label": d.label, "score": float(d.score), "segment": [float(d.start), float(d.end)]}
            for d in dets
        ]
        for video, dets in predictions.items()
    }
    payload = {"version": version, "results": results, "external_data": {"used": False, "details": ""}}
    write_text(path, json.dumps(payload) + "\n")
