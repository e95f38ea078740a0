"""The synthetic untrimmed benchmark: ground truth in ActivityNet's layout that marks exactly where actors move,
non-overlapping actions among background, and videos that are the same for a seed whatever the workers."""

from __future__ import annotations

import json
from itertools import pairwise

import numpy as np
import pytest

from vidact.data.synth import TEMPORAL_CLASSES, TEMPORAL_PAIRS
from vidact.data.synth.untrimmed import (
    _MOTION_THRESHOLD,
    plan_instances,
    render_untrimmed,
    synthesize_untrimmed,
)
from vidact.detect.annotations import read_ground_truth
from vidact.errors import ConfigError, DatasetError
from vidact.io import VideoReader

TINY = {"videos": {"train": 1, "val": 1}, "duration": (10.0, 10.0), "size": 48, "progress": False}


def decode(path) -> np.ndarray:
    with VideoReader(path) as reader:
        return reader.get_frames(np.arange(len(reader))).numpy()


def test_the_benchmark_layout_and_its_ground_truth(tmp_path):
    info = synthesize_untrimmed(tmp_path / "ut", workers=1, **TINY)
    root = info.root
    assert sorted(p.name for p in root.iterdir()) == [
        "annotations.json",
        "classes.txt",
        "manifest.json",
        "videos",
    ]
    assert sorted(p.name for p in (root / "videos").iterdir()) == ["train_0000.mp4", "val_0000.mp4"]
    assert (root / "classes.txt").read_text().split() == list(TEMPORAL_CLASSES)

    raw = json.loads(info.annotations.read_text())
    assert set(raw) == {"version", "taxonomy", "database"} and raw["taxonomy"] == []
    assert {v: e["subset"] for v, e in raw["database"].items()} == {
        "train_0000": "training",
        "val_0000": "validation",
    }
    for video, entry in raw["database"].items():
        assert entry["url"] == "" and entry["duration"] == 10.0 and entry["fps"] == 8.0
        segments = np.array([a["segment"] for a in entry["annotations"]])
        assert len(segments) >= 1
        # in the video, in time order, at least two frames long, and apart by at least the 1 s minimum gap
        assert (segments[:, 0] >= 1.0).all() and (segments[:, 1] <= 9.0).all()
        assert (np.diff(segments, axis=1) >= 2 / 8).all()
        assert (segments[1:, 0] - segments[:-1, 1] >= 1.0).all()
        assert {a["label"] for a in entry["annotations"]} <= set(TEMPORAL_CLASSES)
        with VideoReader(root / "videos" / f"{video}.mp4") as reader:
            assert len(reader) == 80 and reader.metadata.height == reader.metadata.width == 48

    # vidact's reader (and so the official kit's layout) reads it
    gt = read_ground_truth(info.annotations)
    assert gt.convention == "activitynet" and set(gt.subset("VALIDATION").videos) == {"val_0000"}
    manifest = json.loads((root / "manifest.json").read_text())
    assert (
        manifest["instances"]
        == info.instances
        == {split: len(raw["database"][f"{split}_0000"]["annotations"]) for split in ("train", "val")}
    )
    assert 0 < manifest["action_share"] < 0.8


def test_segments_mark_exactly_where_the_actors_move():
    """Without noise and distractors a frame changes only where an actor moves, appears or leaves: every
    annotated segment starts and ends with a visible change, and outside the segments only the appearing and the
    leaving of each instance's held actor change the picture."""
    for seed in range(6):
        rng = np.random.default_rng(seed)
        frames, actions = render_untrimmed(
            rng,
            frames=240,
            classes=TEMPORAL_CLASSES,
            size=(48, 48),
            lengths=(8, 64),
            min_gap=8,
            noise=0.0,
            distractors=0,
        )
        video = np.stack(list(frames)).astype(np.int16)
        change = np.abs(np.diff(video, axis=0)).reshape(len(video) - 1, -1).max(axis=1) > _MOTION_THRESHOLD
        inside = np.zeros(len(change), dtype=bool)
        for first, stop, _ in actions:
            assert (
                change[first] and change[stop - 2]
            )  # the motion starts after `first` and ends at `stop - 1`
            inside[first : stop - 1] = True
        assert change[~inside].sum() <= 2 * len(actions)
        assert all(stop <= nxt for (_, stop, _), (nxt, _, _) in pairwise(actions))


def test_plans_leave_background_between_actions():
    rng = np.random.default_rng(0)
    for _ in range(200):
        total = int(rng.integers(40, 400))
        plan = plan_instances(rng, total, ["a", "b"], lengths=(8, 64), min_gap=8, max_coverage=0.6)
        spans = [(i.start - i.hold_before, i.start + i.frames + i.hold_after) for i in plan]
        assert plan[0].start >= 8 and plan[-1].start + plan[-1].frames <= total - 8
        assert all(b.start - (a.start + a.frames) >= 8 for a, b in pairwise(plan))
        assert all(stop <= start for (_, stop), (start, _) in pairwise(spans))  # holds never overlap
        assert spans[0][0] >= 0 and spans[-1][1] <= total
        if len(plan) > 1:
            assert sum(i.frames for i in plan) <= 0.6 * total
    with pytest.raises(ConfigError, match="no room"):
        plan_instances(rng, 17, ["a"], lengths=(8, 64), min_gap=8)


def test_same_seed_same_benchmark_whatever_the_workers(tmp_path):
    def run(name: str, seed: int, workers: int) -> tuple[dict, dict[str, bytes]]:
        info = synthesize_untrimmed(
            tmp_path / name, seed=seed, workers=workers, pairs=["slide", "lid"], **TINY
        )
        videos = {p.name: p.read_bytes() for p in sorted((info.root / "videos").iterdir())}
        return json.loads(info.annotations.read_text()), videos

    serial, parallel, other = run("a", 5, 1), run("b", 5, 2), run("c", 6, 1)
    assert serial == parallel
    assert serial[0] != other[0]
    labels = {a["label"] for e in serial[0]["database"].values() for a in e["annotations"]}
    assert labels <= {*TEMPORAL_PAIRS["slide"], *TEMPORAL_PAIRS["lid"]}
    first = decode(tmp_path / "a" / "videos" / "train_0000.mp4").astype(np.int16)
    assert np.abs(first - decode(tmp_path / "c" / "videos" / "train_0000.mp4")).mean() > 5


def test_bad_options_and_existing_folders(tmp_path):
    with pytest.raises(ConfigError, match="no room"):
        synthesize_untrimmed(tmp_path / "x", **{**TINY, "duration": (1.0, 2.0)})
    with pytest.raises(ConfigError, match="action_duration"):
        synthesize_untrimmed(tmp_path / "x", action_duration=(4.0, 2.0), **TINY)
    with pytest.raises(ConfigError, match="pairs"):
        synthesize_untrimmed(tmp_path / "x", pairs=["waving"], **TINY)
    root = tmp_path / "ut"
    options = {**TINY, "videos": {"test": 1}, "workers": 1}
    synthesize_untrimmed(root, **options)
    with pytest.raises(DatasetError, match="not empty"):
        synthesize_untrimmed(root, **options)
    info = synthesize_untrimmed(root, overwrite=True, **options)
    assert json.loads(info.annotations.read_text())["database"]["test_0000"]["subset"] == "testing"
