"""Synthetic action videos: layout, determinism, exact time reversal, and what a single frame can tell."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from vidact.data.synth import (
    SCENE_CLASSES,
    TEMPORAL_CLASSES,
    TEMPORAL_PAIRS,
    clip_rng,
    render_clip,
    synthesize,
)
from vidact.errors import ConfigError, DatasetError
from vidact.io import VideoReader

SIZE, FRAMES = 32, 8


def decode(path) -> np.ndarray:
    """[T, H, W, 3] uint8: every frame of a video file."""
    with VideoReader(path) as reader:
        return reader.get_frames(np.arange(len(reader))).numpy()


def clips(kind: str, class_name: str, count: int, stream: int) -> list[np.ndarray]:
    """``count`` independent small clips of one class; ``stream`` keeps the draws of different calls apart."""
    return [
        render_clip(kind, class_name, np.random.default_rng([stream, i]), size=SIZE, frames=FRAMES)
        for i in range(count)
    ]


def frame_features(frame: np.ndarray) -> np.ndarray:
    """[21] per-frame statistics of where things are and what colour: edge energy on a 4 x 4 grid, the
    energy's centroid (x, y) and the mean colour."""
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    energy = np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    h, w = energy.shape
    grid = energy.reshape(4, h // 4, 4, w // 4).mean(axis=(1, 3)).ravel()
    ys, xs = np.mgrid[0:h, 0:w]
    centroid = [(energy * xs).sum() / energy.sum(), (energy * ys).sum() / energy.sum()]
    return np.concatenate([grid, centroid, frame.reshape(-1, 3).mean(axis=0)])


def welch_t(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[D] Welch t statistics of the difference in means between samples a [N, D] and b [M, D]."""
    se = np.sqrt(a.var(axis=0, ddof=1) / len(a) + b.var(axis=0, ddof=1) / len(b))
    return (a.mean(axis=0) - b.mean(axis=0)) / se


def horizontal_motion(video: np.ndarray) -> float:
    """Slope (pixels per frame) of the column centroid of the frame-to-frame change: > 0 for rightward motion."""
    change = np.abs(np.diff(video.astype(np.float32), axis=0)).sum(axis=(1, 3))  # [T - 1, W]
    centroid = (change * np.arange(change.shape[1])).sum(axis=1) / change.sum(axis=1)
    return float(np.polyfit(np.arange(len(centroid)), centroid, 1)[0])


def test_layout_counts_and_frames(tmp_path):
    root = tmp_path / "ds"
    info = synthesize(
        root,
        "temporal",
        videos_per_class={"train": 2, "test": 1},
        size=(32, 48),
        frames=6,
        fps=5,
        seed=7,
        noise=0.0,
        pairs=["slide", "lid"],
        workers=2,
        progress=False,
    )
    classes = ("moving_left_to_right", "moving_right_to_left", "opening_lid", "closing_lid")
    assert info.classes == classes
    assert info.videos_per_class == {"train": 2, "test": 1}
    assert info.num_videos == 12
    assert info.partners == {
        "moving_left_to_right": "moving_right_to_left",
        "moving_right_to_left": "moving_left_to_right",
        "opening_lid": "closing_lid",
        "closing_lid": "opening_lid",
    }
    assert sorted(p.name for p in root.iterdir()) == ["classes.txt", "manifest.json", "test", "train"]
    assert (root / "classes.txt").read_text().splitlines() == list(classes)
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["classes"] == list(classes)
    assert manifest["partners"] == info.partners
    assert manifest["pairs"] == {"slide": list(classes[:2]), "lid": list(classes[2:])}
    assert manifest["chance"] == 0.25 and manifest["pair_chance"] == 0.5
    assert manifest["params"]["size"] == [32, 48] and manifest["params"]["seed"] == 7

    for split, count in {"train": 2, "test": 1}.items():
        for name in classes:
            files = sorted((root / split / name).iterdir())
            assert [f.name for f in files] == [f"{name}_{i:04d}.mp4" for i in range(count)]
            for index, path in enumerate(files):
                with VideoReader(path) as reader:
                    assert (len(reader), reader.metadata.fps) == (6, 5)
                video = decode(path)
                assert video.shape == (6, 32, 48, 3)
                # The file holds what clip_rng(seed, split, class, index) draws, up to compression.
                drawn = render_clip(
                    "temporal", name, clip_rng(7, split, name, index), size=(32, 48), frames=6, noise=0.0
                )
                other = render_clip(
                    "temporal", name, clip_rng(7, split, name, index + 1), size=(32, 48), frames=6, noise=0.0
                )
                error = np.abs(video.astype(np.float32) - drawn)
                assert 10 * np.log10(255**2 / (error**2).mean()) > 24  # PSNR in dB
                assert np.abs(video.astype(np.float32) - other).mean() > 4 * error.mean()


def test_same_seed_same_videos_whatever_the_workers(tmp_path):
    def run(name: str, seed: int, workers: int) -> dict[str, tuple[bytes, np.ndarray]]:
        root = tmp_path / name
        synthesize(
            root,
            "scene",
            videos_per_class={"train": 3, "val": 1},
            size=SIZE,
            frames=FRAMES,
            seed=seed,
            scenes=["beach", "night_city"],
            workers=workers,
            progress=False,
        )
        return {str(p.relative_to(root)): (p.read_bytes(), decode(p)) for p in sorted(root.rglob("*.mp4"))}

    serial, parallel, other_seed = run("a", 3, 1), run("b", 3, 2), run("c", 4, 1)
    assert len(serial) == 8
    assert serial.keys() == parallel.keys() == other_seed.keys()
    for key, (data, video) in serial.items():
        assert data == parallel[key][0]  # the encoder is deterministic too, so the files are identical
        np.testing.assert_array_equal(video, parallel[key][1])
        assert np.abs(video.astype(np.int16) - other_seed[key][1]).mean() > 5


def test_clip_rng_depends_on_all_four_keys():
    def draw(*key) -> int:
        return int(clip_rng(*key).integers(2**62))

    base = draw(0, "train", "picking_up", 0)
    assert draw(0, "train", "picking_up", 0) == base
    changed = [
        draw(1, "train", "picking_up", 0),
        draw(0, "val", "picking_up", 0),
        draw(0, "train", "putting_down", 0),
        draw(0, "train", "picking_up", 1),
    ]
    assert len({base, *changed}) == 5


@pytest.mark.parametrize("pair", list(TEMPORAL_PAIRS))
def test_partner_clip_is_the_exact_reversal(pair):
    forward, backward = TEMPORAL_PAIRS[pair]
    for seed in range(3):
        options = {"size": (32, 40), "frames": 9, "noise": 0.05, "distractors": 3}
        a = render_clip("temporal", forward, np.random.default_rng(seed), **options)
        b = render_clip("temporal", backward, np.random.default_rng(seed), **options)
        assert a.shape == (9, 32, 40, 3) and a.dtype == np.uint8
        np.testing.assert_array_equal(b, a[::-1])
        # Without noise or distractors only the action moves, and it does not read the same backwards.
        still = render_clip(
            "temporal",
            forward,
            np.random.default_rng(seed),
            size=SIZE,
            frames=FRAMES,
            noise=0.0,
            distractors=0,
        )
        assert not np.array_equal(still, still[::-1])


@pytest.mark.parametrize("pair", list(TEMPORAL_PAIRS))
def test_single_frames_do_not_tell_a_pair_apart(pair):
    forward, backward = TEMPORAL_PAIRS[pair]
    a, b = clips("temporal", forward, 48, 1), clips("temporal", backward, 48, 2)
    # Per-frame statistics averaged over each clip, as a per-frame model with average pooling sees them.
    pooled_a = np.array([np.mean([frame_features(f) for f in v], axis=0) for v in a])
    pooled_b = np.array([np.mean([frame_features(f) for f in v], axis=0) for v in b])
    assert np.abs(welch_t(pooled_a, pooled_b)).max() < 4.0
    first_a = np.array([frame_features(v[0]) for v in a])
    first_b = np.array([frame_features(v[0]) for v in b])
    if pair in ("gesture", "rotate"):  # cyclic, random phase: no position bias even in the first frame
        assert np.abs(welch_t(first_a, first_b)).max() < 4.0
    if pair == "slide":  # the statistic has the power to see a difference when there is one
        assert np.abs(welch_t(first_a, first_b)).max() > 8.0


def test_motion_direction_separates_left_from_right():
    right = [horizontal_motion(v) for v in clips("temporal", "moving_left_to_right", 40, 3)]
    left = [horizontal_motion(v) for v in clips("temporal", "moving_right_to_left", 40, 4)]
    accuracy = (np.sum(np.array(right) > 0) + np.sum(np.array(left) < 0)) / 80
    assert accuracy >= 0.95


def test_one_frame_is_enough_for_scenes():
    def quadrant_colors(frame: np.ndarray) -> np.ndarray:
        h, w, _ = frame.shape
        return frame.reshape(2, h // 2, 2, w // 2, 3).mean(axis=(1, 3)).ravel()

    train = {
        name: np.array([quadrant_colors(v[0]) for v in clips("scene", name, 16, 5)]) for name in SCENE_CLASSES
    }
    centers = np.stack([train[name].mean(axis=0) for name in SCENE_CLASSES])
    correct = 0
    for label, name in enumerate(SCENE_CLASSES):
        test = np.array([quadrant_colors(v[len(v) // 2]) for v in clips("scene", name, 16, 6)])
        nearest = ((test[:, None] - centers[None]) ** 2).sum(axis=-1).argmin(axis=1)
        correct += int((nearest == label).sum())
    assert correct / (16 * len(SCENE_CLASSES)) >= 0.9


def test_bad_options_raise_config_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ConfigError, match="kind"):
        render_clip("spatial", "beach", rng)
    with pytest.raises(ConfigError, match="waving"):
        render_clip("temporal", "waving", rng)
    with pytest.raises(ConfigError, match="beach"):
        render_clip("scene", "opening_lid", rng)
    with pytest.raises(ConfigError, match="even"):
        render_clip("temporal", TEMPORAL_CLASSES[0], rng, size=33)
    with pytest.raises(ConfigError, match="frames"):
        render_clip("temporal", TEMPORAL_CLASSES[0], rng, frames=1)
    with pytest.raises(ConfigError, match="pairs"):
        synthesize("unused", pairs=["slide", "dance"])
    with pytest.raises(ConfigError, match="pairs"):
        synthesize("unused", "scene", pairs=["slide"])
    with pytest.raises(ConfigError, match="split"):
        synthesize("unused", videos_per_class={"training": 3})
    with pytest.raises(ConfigError, match="at least one video"):
        synthesize("unused", videos_per_class=0)


def test_existing_folders_are_kept_unless_overwritten(tmp_path):
    root = tmp_path / "ds"
    options = {"videos_per_class": {"test": 1}, "size": SIZE, "frames": 4, "workers": 1, "progress": False}
    synthesize(root, pairs=["slide"], **options)
    with pytest.raises(DatasetError, match="not empty"):
        synthesize(root, pairs=["slide"], **options)
    (root / ".vidact_index.json").write_text("{}")  # the metadata cache a dataset over root leaves behind
    info = synthesize(root, pairs=["rotate"], overwrite=True, **options)
    assert not (root / ".vidact_index.json").exists()
    assert sorted(p.name for p in (root / "test").iterdir()) == list(info.classes)
    assert (root / "classes.txt").read_text().split() == ["rotating_clockwise", "rotating_counterclockwise"]

    (root / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="notes.txt"):
        synthesize(root, pairs=["slide"], overwrite=True, **options)
    assert (root / "notes.txt").read_text() == "mine"
