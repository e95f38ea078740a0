"""Detection data: the time grid both ways (against hand-computed times and vidact's own windows), the readers
of vidact's and others' feature folders (on written files and the shared THUMOS14 features), the training crop,
the per-video items and the padded batches with their masks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vidact.data.features import FeaturesSpec
from vidact.data.inputs import input_from_dict
from vidact.data.sampling import frame_window_bounds, window_bounds
from vidact.detect.annotations import GroundTruth, VideoAnnotation, read_ground_truth
from vidact.detect.dataset import DetectionDataset, collate_detection, crop_window
from vidact.detect.features import NumpyFeatures, TimeGrid, VidactFeatures, open_features
from vidact.errors import ConfigError, DatasetError

THUMOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "detection" / "thumos14"
needs_thumos = pytest.mark.skipif(not THUMOS.is_dir(), reason="the shared THUMOS14 features are not here")


def ground_truth(
    videos: dict[str, list[tuple[float, float, str]]], *, fps=None, subset="training"
) -> GroundTruth:
    """A ground truth of ``videos``: id -> [(start, end, label)] in seconds."""
    annotations = {
        video: VideoAnnotation(
            video=video,
            duration=30.0,
            fps=fps,
            subset=subset,
            segments=np.array([[s, e] for s, e, _ in segs], dtype=np.float64).reshape(-1, 2),
            labels=[label for *_, label in segs],
        )
        for video, segs in videos.items()
    }
    classes = sorted({label for segs in videos.values() for *_, label in segs})
    return GroundTruth(videos=annotations, classes=classes, source="gt.json")


def write_vidact(root: Path, name: str, features: np.ndarray, windows: np.ndarray, params=None) -> None:
    """One video of a vidact feature folder (``name`` may hold a subfolder)."""
    path = root / f"{name}.features.npy"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, features)
    np.save(root / f"{name}.timestamps.npy", windows)
    if params is not None:
        record = {"kind": "features", "params": params}
        (root / f"{name}.features.json").write_text(json.dumps(record))


# -- the time grid -------------------------------------------------------------------------------------------------
def test_the_time_grid_both_ways():
    grid = TimeGrid.from_frames(feat_stride=4, num_frames=16, fps=30.0)
    assert grid == TimeGrid(offset=8 / 30, step=4 / 30)  # the centre of frames 0-15; 4 frames a step
    assert grid.seconds(0) == pytest.approx(8 / 30) and grid.seconds(10) == pytest.approx(48 / 30)
    assert grid.steps(48 / 30) == pytest.approx(10.0)
    seconds = np.array([[0.0, 2.5], [8.86, 15.01]])
    np.testing.assert_allclose(grid.seconds(grid.steps(seconds)), seconds)
    np.testing.assert_allclose(grid.steps(seconds), (seconds - 8 / 30) * 30 / 4)
    crop = grid.shifted(100)
    assert crop.seconds(0) == pytest.approx(grid.seconds(100)) and crop.step == grid.step
    with pytest.raises(ConfigError):
        TimeGrid(0.0, 0.0)


def test_the_grid_of_vidact_windows_leaves_out_the_window_at_the_end():
    # 10.3 s at 10 fps, windows of 2 s every 1 s: starts 0..8, then one more ending at the end (8.3 s)
    times = np.arange(103) / 10
    windows = window_bounds(times, 2.0, 1.0)
    assert windows[-1, 0] == pytest.approx(8.3)
    grid, count = TimeGrid.from_windows(windows)
    assert count == len(windows) - 1 == 9 and grid == TimeGrid(1.0, 1.0)
    assert TimeGrid.from_windows(windows, stride=1.0) == (grid, 9)
    # in frames: 16-frame windows every 8 frames at 8 fps -> centres 1 s apart by 1 s
    frame_windows = frame_window_bounds(np.arange(100) / 8, 16, 8)
    grid, count = TimeGrid.from_windows(frame_windows)
    assert grid.offset == pytest.approx(1.0) and grid.step == pytest.approx(1.0) and count == 11
    # a video that fits whole windows keeps them all; one window takes its length as the step
    assert TimeGrid.from_windows(window_bounds(np.arange(100) / 10, 2.0, 1.0))[1] == 9
    assert TimeGrid.from_windows(np.array([[0.0, 1.5]])) == (TimeGrid(0.75, 1.5), 1)
    uneven = np.array([[0.0, 2.0], [1.0, 3.0], [2.4, 4.4], [3.0, 5.0]])
    with pytest.raises(DatasetError, match="not evenly spaced.*window 2"):
        TimeGrid.from_windows(uneven, where="v.timestamps.npy")
    with pytest.raises(DatasetError, match=r"\[W, 2\]"):
        TimeGrid.from_windows(np.zeros((3, 3)))


# -- feature folders --------------------------------------------------------------------------------------------
def test_vidact_feature_folders(tmp_path):
    root = tmp_path / "features"
    params = {"model": "runs/x", "window": 2.0, "stride": 1.0, "unit": "seconds"}
    times = np.arange(103) / 10
    windows = window_bounds(times, 2.0, 1.0)  # 10 windows, the last off the grid
    features = np.random.default_rng(0).standard_normal((10, 6)).astype(np.float32)
    write_vidact(root, "jump/v_abc", features, windows, params)
    write_vidact(root, "run/b", features[:4], windows[:4], params)
    source = open_features(root)
    assert isinstance(source, VidactFeatures) and source.videos == ["b", "v_abc"] and source.dim == 6
    assert source.find("abc") == "v_abc" and source.find("b.mp4") == "b" and source.find("c") is None
    assert source.params() == params
    length, grid = source.info("v_abc")
    assert length == 9 and grid == TimeGrid(1.0, 1.0)  # the window at the end left out
    np.testing.assert_array_equal(source.read("v_abc", 2, 5), features[2:5])
    assert source.info("b") == (4, TimeGrid(1.0, 1.0))

    write_vidact(root, "c", features[:, :5], windows)
    with pytest.raises(DatasetError, match=r"c\.features\.npy: features of width 5, expected 6"):
        open_features(root).info("c")  # the folder's width: its first video's
    (root / "c.features.npy").write_bytes(b"not an npy")
    with pytest.raises(DatasetError, match=r"c\.features\.npy: not a readable \.npy file"):
        open_features(root, dim=6).info("c")
    np.save(root / "c.features.npy", features)
    np.save(root / "c.timestamps.npy", windows[:7])
    with pytest.raises(DatasetError, match="10 feature steps but 7 windows"):
        open_features(root).info("c")
    (root / "c.timestamps.npy").unlink()
    with pytest.raises(DatasetError, match=r"c\.timestamps\.npy: no such file"):
        open_features(root).info("c")
    write_vidact(root, "c", features, windows, {**params, "window": 4.0})
    with pytest.raises(DatasetError, match="different settings"):
        open_features(root).params()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no vidact features"):
        open_features(tmp_path / "empty")
    write_vidact(root, "other/v_abc", features, windows)
    with pytest.raises(DatasetError, match="two feature files for video 'v_abc'"):
        open_features(root)


def test_others_feature_folders(tmp_path):
    rng = np.random.default_rng(1)
    td = rng.standard_normal((20, 8))  # float64 [T, D]
    root = tmp_path / "i3d"
    (root / "sub").mkdir(parents=True)
    np.save(root / "a.npy", td)
    np.save(root / "sub" / "b.npy", td[:12])
    source = open_features(root, feat_stride=4, num_frames=16)
    assert isinstance(source, NumpyFeatures) and source.videos == ["a", "b"] and source.dim == 8
    x = source.read("a")
    assert x.dtype == np.float32 and np.array_equal(x, td.astype(np.float32))
    assert source.info("b", fps=25.0) == (12, TimeGrid(0.5 * 16 / 25, 4 / 25))
    with pytest.raises(DatasetError, match="no frame rate for video 'a'"):
        source.info("a")
    assert open_features(root, feat_stride=4, num_frames=16, fps=10.0).info("a", fps=25.0)[1].step == 0.4

    transposed = tmp_path / "dt"
    transposed.mkdir()
    np.save(transposed / "a.npy", td.T)
    source = open_features(transposed, feat_stride=8, num_frames=16, fps=30.0, transpose=True)
    np.testing.assert_array_equal(source.read("a", 3, 7), td[3:7].astype(np.float32))
    assert source.info("a")[0] == 20

    np.save(root / "c.npy", td[:, :5])
    with pytest.raises(DatasetError, match=r"c\.npy: features of width 5, expected 8"):
        open_features(root, feat_stride=4, num_frames=16, fps=30.0, dim=8).info("c")
    np.save(root / "c.npy", td[:, 0])
    with pytest.raises(DatasetError, match=r"c\.npy: expected a \[T, D\] feature sequence"):
        open_features(root, feat_stride=4, num_frames=16, fps=30.0).info("c")
    np.save(root / "c.npy", np.full((4, 8), np.nan))
    with pytest.raises(DatasetError, match="NaN"):
        open_features(root, feat_stride=4, num_frames=16, fps=30.0).read("c")
    with pytest.raises(ConfigError, match="go together"):
        open_features(root, feat_stride=4)
    with pytest.raises(ConfigError, match="timed by their timestamps"):
        open_features(root, fps=30.0)


@needs_thumos
def test_the_shared_thumos_features_through_the_dataset():
    source = open_features(THUMOS, feat_stride=4, num_frames=16)
    assert source.videos == ["highjump", "tennis26"] and source.dim == 2048
    gt = read_ground_truth(THUMOS / "two_videos_gt.json")
    dataset = DetectionDataset(source, gt, gt.classes, max_seq_len=2304)
    assert dataset.videos == ["highjump.npy", "tennis26.npy"]
    assert dataset.skipped == [("golf.npy", f"no features in {THUMOS}")]
    jump, tennis = dataset[0], dataset[1]
    raw = np.load(THUMOS / "highjump.npy")
    assert jump["features"].shape == (2048, 164) and jump["features"].dtype == torch.float32
    np.testing.assert_array_equal(jump["features"].numpy(), raw.T.astype(np.float32))
    # HighJump 8.86-15.01 s at 30 fps, a step every 4 frames, each the centre of 16: (t - 8/30) * 30/4
    np.testing.assert_allclose(
        jump["segments"].numpy(), [[(8.86 - 8 / 30) * 7.5, (15.01 - 8 / 30) * 7.5]], rtol=1e-6
    )
    assert jump["labels"].tolist() == [gt.classes.index("HighJump")] and jump["duration"] == 24.0
    assert tennis["features"].shape == (2048, 89) and len(tennis["segments"]) == 3
    assert tennis["grid"] == (8 / 30, 4 / 30)


# -- cropping and items ---------------------------------------------------------------------------------------------
def test_crops_keep_actions_with_enough_of_them_inside():
    segments = np.array([[10.0, 30.0], [100.0, 140.0], [400.0, 410.0]])
    rng = np.random.default_rng(0)
    for _ in range(100):
        start, keep = crop_window(500, segments, 128, rng, keep_ratio=0.5)
        assert 0 <= start <= 500 - 128 and keep.any()
        inside = np.clip(np.minimum(segments[:, 1], start + 128) - np.maximum(segments[:, 0], start), 0, None)
        np.testing.assert_array_equal(keep, inside / np.diff(segments, axis=1)[:, 0] >= 0.5)
        assert not (
            (inside > 0) & (inside < np.diff(segments, axis=1)[:, 0])
        ).any()  # a whole-action crop exists
    # no crop keeps the long action whole: one that cuts it but keeps half of it is taken
    start, keep = crop_window(500, np.array([[100.0, 300.0]]), 128, np.random.default_rng(1), keep_ratio=0.5)
    assert keep.tolist() == [True] and 172 <= start <= 228
    # every crop that holds [280, 380] cuts [100, 300]: kept with half of it inside, dropped with less
    crossing = np.array([[100.0, 300.0], [280.0, 380.0]])
    dropped = 0
    for seed in range(40):
        start, keep = crop_window(500, crossing, 128, np.random.default_rng(seed), keep_ratio=0.5)
        inside = np.clip(np.minimum(crossing[:, 1], start + 128) - np.maximum(crossing[:, 0], start), 0, None)
        ratio = inside / np.diff(crossing, axis=1)[:, 0]
        np.testing.assert_array_equal(keep, ratio >= 0.5)
        dropped += int(((ratio > 0) & (ratio < 0.5)).any())
    assert dropped > 0
    # a sequence that fits needs no crop; one without actions takes its last draw
    assert crop_window(100, segments, 128, rng)[0] == 0
    start, keep = crop_window(500, np.zeros((0, 2)), 128, rng)
    assert keep.shape == (0,) and 0 <= start <= 372


def test_training_items_crop_per_epoch_and_validation_items_are_whole(tmp_path):
    rng = np.random.default_rng(2)
    np.save(tmp_path / "long.npy", rng.standard_normal((300, 4)))
    np.save(tmp_path / "short.npy", rng.standard_normal((50, 4)))
    source = open_features(tmp_path, feat_stride=1, num_frames=1, fps=1.0)  # step i at i + 0.5 s
    gt = ground_truth(
        {
            "long": [(20.5, 40.5, "jump"), (150.5, 170.5, "run"), (290.5, 320.5, "jump")],
            "short": [(5.5, 9.5, "run"), (12.0, 12.0, "run")],  # an empty segment is left out
            "nofeatures": [(1.0, 2.0, "run")],
        }
    )
    train = DetectionDataset(source, gt, ["jump", "run"], max_seq_len=64, train=True, seed=3)
    assert train.videos == ["long", "short"] and train.skipped == [
        ("nofeatures", f"no features in {tmp_path}")
    ]
    short = train[1]
    assert short["features"].shape == (4, 50) and short["segments"].tolist() == [[5.0, 9.0]]
    assert short["labels"].tolist() == [1] and short["grid"] == (0.5, 1.0)

    starts = []
    for epoch in range(6):
        train.set_epoch(epoch)
        item = train[0]
        again = train[0]
        assert torch.equal(item["features"], again["features"]) and torch.equal(
            item["segments"], again["segments"]
        )
        offset, step = item["grid"]
        start = round(offset - 0.5)
        starts.append(start)
        assert item["features"].shape == (4, 64)
        np.testing.assert_array_equal(item["features"].numpy(), source.read("long", start, start + 64).T)
        full = np.array([[20.0, 40.0], [150.0, 170.0], [290.0, 320.0]]) - start
        kept = [seg for seg in full if (min(seg[1], 64) - max(seg[0], 0)) / (seg[1] - seg[0]) >= 0.5]
        np.testing.assert_allclose(item["segments"].numpy(), np.clip(kept, 0, 64).reshape(-1, 2))
    assert len(set(starts)) > 1  # a new crop each epoch, the same for the same epoch

    val = DetectionDataset(source, gt, ["jump", "run"], max_seq_len=64, train=False)
    whole = val[0]
    assert whole["features"].shape == (4, 300) and whole["grid"] == (0.5, 1.0)
    np.testing.assert_allclose(whole["segments"].numpy(), [[20.0, 40.0], [150.0, 170.0], [290.0, 320.0]])
    with pytest.raises(DatasetError, match="label 'run', not one of the 1 classes"):
        DetectionDataset(source, gt, ["jump"])
    with pytest.raises(DatasetError, match="no subset 'validation'"):
        DetectionDataset(source, gt, ["jump", "run"], subset="validation")
    with pytest.raises(DatasetError, match="none of its 1 videos has features"):
        DetectionDataset(source, ground_truth({"x": [(1.0, 2.0, "jump")]}), ["jump"])


def test_collate_pads_with_masks():
    items = [
        {
            "features": torch.arange(3 * t, dtype=torch.float32).reshape(3, t) + 1,
            "segments": torch.tensor([[0.0, 1.0]] * n),
            "labels": torch.zeros(n, dtype=torch.long),
            "video": f"v{t}",
            "grid": (0.5, 1.0),
            "duration": float(t),
        }
        for t, n in ((5, 1), (11, 0))
    ]
    batch = collate_detection(items, pad_multiple=4)
    assert batch["features"].shape == (2, 3, 12) and batch["mask"].tolist() == [
        [True] * 5 + [False] * 7,
        [True] * 11 + [False],
    ]
    assert (
        torch.equal(batch["features"][0, :, :5], items[0]["features"])
        and not batch["features"][0, :, 5:].any()
    )
    assert torch.equal(batch["features"][1, :, :11], items[1]["features"])
    assert [len(s) for s in batch["segments"]] == [1, 0] and batch["video"] == ["v5", "v11"]
    assert batch["grid"] == [(0.5, 1.0), (0.5, 1.0)] and batch["duration"] == [5.0, 11.0]
    assert collate_detection(items, min_length=16)["features"].shape == (2, 3, 16)
    assert collate_detection(items, pad_multiple=8, min_length=13)["mask"].shape == (2, 16)


def test_the_features_spec_round_trip():
    spec = FeaturesSpec(
        dim=512, max_seq_len=256, extractor={"model": "runs/a", "window": 2.0, "unit": "seconds"}
    )
    assert input_from_dict(spec.to_dict()) == spec and spec.to_dict()["modality"] == "features"
    assert spec.test_views() == {"clips": 1} and not spec.frame_based
    others = FeaturesSpec(dim=2048, feat_stride=4, num_frames=16)
    assert input_from_dict(json.loads(json.dumps(others.to_dict()))) == others and others.frame_based
    with pytest.raises(ConfigError, match="go together"):
        FeaturesSpec(dim=2048, feat_stride=4)
    with pytest.raises(ConfigError, match="dim must be a positive integer"):
        FeaturesSpec(dim=0)
    with pytest.raises(ConfigError, match="not JSON"):
        FeaturesSpec(dim=8, extractor={"model": object()})
    with pytest.raises(ConfigError, match="unknown key 'window'"):
        FeaturesSpec.from_dict({"dim": 8, "window": 2})
