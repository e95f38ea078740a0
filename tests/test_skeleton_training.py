"""Skeleton inputs and training: PYSKL's uniform sampling and the transforms checked against hand-computed
results, the dataset's per-epoch draws, the single-frame baseline's blindness to frame order, and a tiny run of
the ``skeleton`` task through the engine that learns, saves, and evaluates again to the same numbers
(``vidact eval`` included)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from vidact.data.skeleton.dataset import SkeletonDataset, collate_skeletons
from vidact.data.skeleton.formats import load_annotations
from vidact.data.skeleton.presets import SkeletonPreset
from vidact.data.skeleton.transforms import (
    center_joints,
    pad_frames,
    random_rotate,
    random_scale,
    select_persons,
    skeleton_input,
    to_image01,
    uniform_sample_indices,
)
from vidact.data.synth.skeleton import synthesize_skeletons
from vidact.engine.config import Config
from vidact.engine.evaluate import evaluate
from vidact.engine.load import load_model
from vidact.engine.tasks import build_task
from vidact.engine.train import train
from vidact.errors import ConfigError, DatasetError
from vidact.infer.predict import load_predictor
from vidact.infer.skeleton import predict_skeleton
from vidact.models import build_model, list_models, model_card
from vidact.models.registry import ModelCard

# -- sampling and transforms ------------------------------------------------------------------------------------


def test_uniform_sampling_takes_one_frame_from_each_segment_of_a_long_sequence() -> None:
    rng = np.random.default_rng(0)
    draws = uniform_sample_indices(100, 8, 50, rng=rng)  # [50 clips, 8]
    lows = np.array([0, 12, 25, 37, 50, 62, 75, 87])  # floor(i * 100 / 8)
    highs = np.array([12, 25, 37, 50, 62, 75, 87, 100])
    assert draws.shape == (50, 8) and ((draws >= lows) & (draws < highs)).all()
    assert all(len(set(draws[:, i])) > 5 for i in range(8))  # training: a random frame of each segment
    # testing: fixed draws that depend on the length only, several views that differ
    test = uniform_sample_indices(100, 8, 3)
    assert np.array_equal(test, uniform_sample_indices(100, 8, 3)) and len({tuple(c) for c in test}) == 3
    assert ((test >= lows) & (test < highs)).all()


def test_uniform_sampling_of_medium_and_short_sequences() -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):  # 15 frames for 10: consecutive frames with single-frame gaps
        clip = uniform_sample_indices(15, 10, rng=rng)[0]
        steps = np.diff(clip)
        assert set(steps) <= {1, 2} and clip[0] <= 1 and 13 <= clip[-1] <= 14
    starts = set()
    for _ in range(50):  # 4 frames for 10: the sequence loops from a random frame
        clip = uniform_sample_indices(4, 10, rng=rng)[0]
        assert np.array_equal(clip, (clip[0] + np.arange(10)) % 4)
        starts.add(int(clip[0]))
    assert starts == {0, 1, 2, 3}
    with pytest.raises(ValueError):
        uniform_sample_indices(0, 10)


def test_pad_frames_and_person_slots() -> None:
    joints = np.arange(3 * 5 * 2 * 2, dtype=np.float32).reshape(3, 5, 2, 2) + 1  # [M=3, T=5, V=2, C=2]
    padded = pad_frames(joints, 8)
    assert padded.shape == (3, 8, 2, 2) and np.array_equal(padded[:, :5], joints) and not padded[:, 5:].any()
    assert np.array_equal(pad_frames(joints, 3), joints[:, :3])

    scores = np.stack([np.full((5, 2), s, np.float32) for s in (0.5, 0.2, 0.9)])
    kept, kept_scores = select_persons(joints, scores, 2)  # the most confident first
    assert np.array_equal(kept, joints[[2, 0]]) and np.array_equal(kept_scores, scores[[2, 0]])
    first, none = select_persons(joints, None, 2)  # no scores: the first ones
    assert np.array_equal(first, joints[:2]) and none is None
    more, more_scores = select_persons(joints, scores, 4)
    assert np.array_equal(more[:3], joints) and not more[3].any() and not more_scores[3].any()


def test_coordinates_centring_and_augmentation_keep_missing_joints_zero() -> None:
    joints = np.array(
        [[[[100.0, 50.0], [0.0, 0.0], [300.0, 150.0]]]], np.float32
    )  # [1, 1, 3, 2], joint 1 missing
    np.testing.assert_allclose(to_image01(joints, (200, 400))[0, 0], [[0.25, 0.25], [0, 0], [0.75, 0.75]])

    walk = np.zeros((2, 3, 3, 3), np.float32)  # [M=2, T=3, V=3, C=3]
    walk[0, :, :, 0] = np.arange(3)[:, None] + 10  # person 0 walks along x
    walk[1] = 5.0
    walk[0, 0, 0] = 0.0  # person 0's centre joint missing in frame 0
    walk[1, 2, 2] = 0.0  # person 1's joint 2 missing in frame 2
    first = center_joints(walk, 0, "first_frame")  # minus person 0's joint 0 in frame 1: (11, 0, 0)
    np.testing.assert_allclose(first[0, 1, 1], [0, 0, 0])
    np.testing.assert_allclose(first[1, 0, 0], [-6, 5, 5])
    assert not first[0, 0, 0].any() and not first[1, 2, 2].any()
    every = center_joints(walk, 0, "every_frame")
    np.testing.assert_allclose(every[0, 2], 0.0)  # each frame minus its own centre
    np.testing.assert_allclose(every[0, 0, 1], walk[0, 0, 1])  # frame without a centre: as it was
    assert not every[1, 2, 2].any()

    rng = np.random.default_rng(3)
    points = np.random.default_rng(4).normal(size=(2, 4, 5, 3)).astype(np.float32)
    points[0, 0, 0] = 0.0
    turned = random_rotate(points, rng, 30.0)
    np.testing.assert_allclose(turned[..., 1], points[..., 1], atol=1e-6)  # about the vertical axis
    np.testing.assert_allclose(np.linalg.norm(turned, axis=-1), np.linalg.norm(points, axis=-1), rtol=1e-5)
    assert not turned[0, 0, 0].any() and not np.allclose(turned, points)
    scaled = random_scale(points, rng, 0.2)
    factors = scaled[points != 0].reshape(-1, 3) / points[points != 0].reshape(-1, 3)
    np.testing.assert_allclose(factors, factors[:1].repeat(len(factors), 0), rtol=1e-5)
    assert ((factors >= 0.8) & (factors <= 1.2)).all() and not scaled[0, 0, 0].any()


def test_skeleton_input_follows_the_preset() -> None:
    record = {
        "frame_dir": "r",
        "keypoint": np.random.default_rng(0).uniform(1, 100, (3, 40, 17, 2)).astype(np.float32),
        "keypoint_score": np.stack([np.full((40, 17), s, np.float32) for s in (0.1, 0.3, 0.8)]),
        "img_shape": (100, 200),
    }
    preset = SkeletonPreset("coco17", 10, persons=2, coords="image01", channels=2, num_clips=4)
    views = skeleton_input(record, preset)  # testing: 4 fixed views of persons 2 and 1, divided by (200, 100)
    indices = uniform_sample_indices(40, 10, 4)
    expected = record["keypoint"][[2, 1]][:, indices].transpose(1, 0, 2, 3, 4) / np.array(
        [200, 100], np.float32
    )
    assert views.shape == (4, 2, 10, 17, 2)
    np.testing.assert_allclose(views, expected, rtol=1e-6)
    one = skeleton_input(record, preset, rng=np.random.default_rng(1))  # training: one random clip
    assert one.shape == (1, 2, 10, 17, 2)
    padded = skeleton_input(
        record, SkeletonPreset("coco17", 50, sampler="pad", persons=1, coords="pixels", channels=2)
    )
    np.testing.assert_array_equal(padded[0, 0, :40], record["keypoint"][2])
    assert padded.shape == (1, 1, 50, 17, 2) and not padded[0, 0, 40:].any()
    with pytest.raises(DatasetError, match=r"expected \[M, T, 25, 2\]"):
        skeleton_input(record, SkeletonPreset("ntu25", 10, coords="pixels", channels=2))
    with pytest.raises(DatasetError, match="need 3D joints"):
        skeleton_input(record, preset, rng=np.random.default_rng(0), rotate=10.0)
    with pytest.raises(DatasetError, match="img_shape"):
        skeleton_input({k: v for k, v in record.items() if k != "img_shape"}, preset)


# -- datasets and models ------------------------------------------------------------------------------------------
EASY = ("waving", "jumping_jacks", "squats")  # one frame is enough for these three


@pytest.fixture(scope="module")
def easy_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("skeleton") / "easy"
    synthesize_skeletons(
        root, samples_per_class={"train": 12, "val": 6}, classes=EASY, frames=(30, 50), seed=1, progress=False
    )
    return root


def test_dataset_items_draw_per_epoch_in_training_and_are_fixed_in_testing(easy_set: Path) -> None:
    preset = SkeletonPreset("ntu25", 16, persons=2, coords="world", channels=3, num_clips=3)
    train_set = SkeletonDataset(easy_set, "train", preset=preset, train=True, seed=5, rotate=20.0, scale=0.1)
    assert len(train_set) == 36 and train_set.classes == list(EASY)
    assert list(train_set.labels) == [label for label in range(3) for _ in range(12)]
    joints, label = train_set[13]
    assert joints.shape == (2, 16, 25, 3) and joints.dtype == np.float32 and label == 1
    assert not joints[1].any()  # one performer: the second slot is zeros
    assert np.array_equal(train_set[13][0], joints)  # the same epoch draws the same
    train_set.set_epoch(1)
    assert not np.allclose(train_set[13][0], joints)

    test_set = SkeletonDataset(easy_set, "val", preset=preset, train=False)
    views, _ = test_set[0]
    assert views.shape == (3, 2, 16, 25, 3)
    record = test_set.records[0]
    clips = uniform_sample_indices(record["total_frames"], 16, 3)
    np.testing.assert_array_equal(views[:, 0], record["keypoint"][0][clips])
    batch = collate_skeletons([test_set[0], test_set[1]])
    assert batch["joints"].shape == (2, 3, 2, 16, 25, 3) and batch["label"].tolist() == [0, 0]

    with pytest.raises(DatasetError, match="no split 'test'"):
        SkeletonDataset(easy_set, "test", preset=preset, train=False)
    with pytest.raises(DatasetError, match="label 2 for 2 class names"):
        SkeletonDataset(easy_set, "val", preset=preset, train=False, classes=["a", "b"])


def test_the_single_frame_baseline_is_blind_to_frame_order_and_st_gcn_is_not() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 2, 12, 25, 3)
    order = torch.randperm(12)
    frame = build_model("skeleton_frame_mlp", num_classes=4).eval()
    stgcn = build_model("stgcn", num_classes=4, base_channels=8).eval()
    with torch.no_grad():
        torch.testing.assert_close(frame(x[:, :, order]), frame(x), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(frame(x.flip(2)), frame(x), rtol=1e-5, atol=1e-6)
        assert not torch.allclose(stgcn(x.flip(2)), stgcn(x), rtol=1e-3, atol=1e-4)


# -- the task through the engine ----------------------------------------------------------------------------------
def _recipe(root: Path, **task: object) -> Config:
    return Config.from_dict(
        {
            "data": {
                "root": str(root),
                "val_split": "val",
                "clip_len": 16,
                "batch_size": 6,
                "num_workers": 0,
            },
            "model": {"name": "skeleton_frame_mlp", "kwargs": {"dim": 32, "depth": 1, "dropout": 0.0}},
            "train": {
                "epochs": 6,
                "optimizer": "adamw",
                "lr": 0.01,
                "weight_decay": 0.0,
                "precision": "32",
                "num_threads": 1,
            },
            "eval": {"num_clips": 3, "split": "val", "batch_size": 4},
            "task": {"name": "skeleton", "kwargs": {"persons": 1, "coords": "world", **task}},
        }
    )


def test_the_recipe_is_checked_before_any_data_is_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="takes"):
        build_task(_recipe(tmp_path, rotation=10))
    with pytest.raises(ConfigError, match="center must be one of"):
        build_task(_recipe(tmp_path, center="pelvis"))
    with pytest.raises(ConfigError, match="has no joint 'pelvis'"):
        build_task(_recipe(tmp_path, center_joint="pelvis"))
    video_model = _recipe(tmp_path)
    video_model.model.name, video_model.model.kwargs = "simple3d", {}
    with pytest.raises(ConfigError, match="simple3d is a video model"):
        build_task(video_model)
    flat = _recipe(tmp_path)
    flat.model.kwargs["in_channels"] = 2
    with pytest.raises(ConfigError, match="rotate and scale augment 3D joints"):
        build_task(
            Config.from_dict({**flat.to_dict(), "task": {"name": "skeleton", "kwargs": {"rotate": 5.0}}})
        )


def test_a_tiny_run_learns_and_evaluates_to_the_same_numbers(easy_set: Path, tmp_path: Path) -> None:
    result = train(_recipe(easy_set), tmp_path / "run", progress=False)
    best = result.best
    assert best is not None and best["top1"] >= 0.6  # chance: 1/3
    summary = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert summary["task"] == "skeleton" and summary["classes"] == list(EASY)
    assert summary["preset"]["frames"] == 16 and (tmp_path / "run" / "confusion_matrix.png").is_file()

    # One view per sequence, as validation made them: exactly the best epoch's numbers.
    again = evaluate(tmp_path / "run", easy_set, split="val", num_clips=1, progress=False)
    assert again.metrics["top1"] == best["top1"]
    assert again.metrics["confusion_matrix"] == best["confusion_matrix"]
    assert again.paths == [f"{name}_val_{i:04d}" for name in EASY for i in range(6)]

    # The recipe's 3 views: the mean of each view's softmax, as the model scores them one by one.
    views = evaluate(tmp_path / "run", easy_set / "annotations.pkl", progress=False)
    info = load_model(tmp_path / "run")
    model = info.module
    dataset = SkeletonDataset(
        easy_set,
        "val",
        preset=SkeletonPreset("ntu25", 16, coords="world", channels=3, num_clips=3),
        train=False,
    )
    with torch.no_grad():
        expected = np.stack(
            [model(torch.from_numpy(dataset[i][0])).softmax(-1).mean(0).numpy() for i in range(18)]
        )
    assert views.num_clips == 3 and info.classes == list(EASY)
    np.testing.assert_allclose(views.scores, expected, rtol=1e-5, atol=1e-6)

    # `vidact eval` on the command line says the same.
    out = tmp_path / "eval.json"
    done = subprocess.run(
        [sys.executable, "-m", "vidact", "eval", str(tmp_path / "run"), str(easy_set), "--split", "val",
         "--clips", "1", "--json", str(out)],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["metrics"]["top1"] == best["top1"]

    # `vidact predict` with the run reads its skeleton preset: a pose in, the model's scores of it out.
    predictor = load_predictor(tmp_path / "run")
    assert predictor.preset == SkeletonPreset("ntu25", 16, coords="world", channels=3, num_clips=3)
    records, split = load_annotations(easy_set / "annotations.pkl")
    record = next(r for r in records if r["frame_dir"] == split["val"][0])
    pose = {**record, "keypoint_world": record["keypoint"], "layout": "ntu25"}
    prediction = predict_skeleton(predictor, "sequence", pose=pose, window=100.0)
    with torch.no_grad():
        direct = model(torch.from_numpy(skeleton_input(pose, predictor.preset))).softmax(-1).mean(0).numpy()
    np.testing.assert_allclose(prediction.scores, direct, rtol=1e-5, atol=1e-6)
    assert prediction.classes == list(EASY) and prediction.top(1)[0][0] == EASY[int(direct.argmax())]


def test_features_of_a_skeleton_run_come_from_its_pose(easy_set: Path, tmp_path: Path) -> None:
    """`vidact extract features --model RUN` on a skeleton run (it died with an AttributeError): the pose of the
    video, then each window's joints through the model's pooled pre-logits features, the same numbers as the
    model on the joints `predict_skeleton` reads of each window."""
    from vidact.extract import build_extractor, extract

    video = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos" / "ntu"
    video = video / "S001C001P001R001A001_drink_water.avi"
    cfg = _recipe(easy_set)
    cfg.train.epochs = 1
    train(cfg, tmp_path / "run", progress=False)
    extractor = build_extractor(
        "features", model=str(tmp_path / "run"), window=1.0, stride=1.0, precision="32"
    )
    params = extractor.params()
    assert params["input"]["modality"] == "skeleton" and params["sampling"] is None
    report = extract(extractor, video, tmp_path / "features", progress=False)
    assert report.ok and report.done == 1
    features = np.load(tmp_path / "features" / f"{video.stem}.features.npy")
    windows = np.load(tmp_path / "features" / f"{video.stem}.timestamps.npy")
    model = load_model(tmp_path / "run").module
    assert features.shape == (len(windows), model.num_features) and features.dtype == np.float32
    assert (
        np.isfinite(features).all() and windows[0, 0] == 0.0 and len(windows) == 4
    )  # 3.4 s: 0-1, ..., 3-3.4

    # the oracle: the model's pooled features of each window's joints, as prediction makes them
    predictor = load_predictor(tmp_path / "run", precision="32")
    from vidact.infer.skeleton import SkeletonModality

    with SkeletonModality().windows(predictor, video, window=1.0, stride=1.0) as made:
        inputs = {int(i): x for ids, x in made for i, x in zip(ids, x.split(made.views), strict=True)}
    with torch.no_grad():
        expected = np.stack(
            [
                model.forward_head(model.forward_features(inputs[w]), pre_logits=True).mean(0).numpy()
                for w in range(4)
            ]
        )
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)


def test_centring_travels_with_the_preset_from_training_to_prediction(easy_set: Path, tmp_path: Path) -> None:
    """``task.kwargs.center`` is part of the run's preset: the training items are centred, and a prediction with
    the run centres the same way, so a body moved as a whole (every frame's joints shifted together) scores
    exactly as before; an uncentred model would see a different input."""
    preset = SkeletonPreset(
        "ntu25", 16, coords="world", channels=3, center="every_frame", center_joint="spine_mid"
    )
    assert preset.center_index == 1
    raw = SkeletonDataset(easy_set, "val", preset=replace(preset, center="none"), train=False)
    centred = SkeletonDataset(easy_set, "val", preset=preset, train=False)
    for i in (0, 7):  # every_frame centring is per frame, so it commutes with the frame sampling
        np.testing.assert_allclose(centred[i][0], center_joints(raw[i][0], 1, "every_frame"), atol=1e-6)

    recipe = _recipe(easy_set, center="every_frame", center_joint="spine_mid")
    recipe.train.epochs = 2
    train(recipe, tmp_path / "run", progress=False)
    predictor = load_predictor(tmp_path / "run")
    assert (predictor.preset.center, predictor.preset.center_joint) == ("every_frame", "spine_mid")

    records, split = load_annotations(easy_set / "annotations.pkl")
    record = next(r for r in records if r["frame_dir"] == split["val"][0])
    joints = np.asarray(record["keypoint"], np.float32)  # [M, T, V, 3]
    has_centre = joints[:, :, 1:2].any(-1, keepdims=True)  # frames where the centre joint was seen
    moved = np.where(
        (joints != 0).any(-1, keepdims=True) & has_centre, joints + np.float32([1.5, -0.4, 2.0]), joints
    )
    scores = [
        predict_skeleton(
            predictor, "s", pose={**record, "keypoint_world": k, "layout": "ntu25"}, window=100.0
        ).scores
        for k in (joints, moved)
    ]
    np.testing.assert_allclose(scores[1], scores[0], rtol=1e-5, atol=1e-6)
    with torch.no_grad():  # the model itself is not translation-invariant: the centring is what makes it so
        inputs = [torch.from_numpy(pad_frames(k, 16)[None, :1].astype(np.float32)) for k in (joints, moved)]
        assert not torch.allclose(predictor.model(inputs[0]), predictor.model(inputs[1]), atol=1e-3)


#: One model of each skeleton family, and ST-GCN++ (another block); EfficientGCN-B2/B4 are B0 scaled. The
#: graph networks at a quarter width, which keeps the test to seconds.
SKELETON_MODELS = {
    "skeleton_frame_mlp": {},
    "stgcn": {"base_channels": 16},
    "stgcnpp": {"base_channels": 16},
    "efficientgcn_b0": {},
}


def _card_or_none(name: str) -> ModelCard | None:
    try:
        return model_card(name)
    except KeyError:
        return None


def test_every_skeleton_family_is_tried() -> None:
    cards = [_card_or_none(name) for name in list_models()]  # other tests register card-less models
    families = {card.family for card in cards if card is not None and card.modality == "skeleton"}
    assert families == {model_card(name).family for name in SKELETON_MODELS}


@pytest.mark.parametrize("name", SKELETON_MODELS)
def test_skeleton_models_train_through_the_task(name: str, easy_set: Path, tmp_path: Path) -> None:
    """An epoch of a skeleton model of each family on NTU-25 joints, then its checkpoint loads and evaluates with
    its card's sampler (EfficientGCN: the first frames, zero-padded, one view)."""
    cfg = _recipe(easy_set)
    cfg.model.name, cfg.model.kwargs = name, {"layout": "ntu25", "in_channels": 3, **SKELETON_MODELS[name]}
    cfg.train.epochs, cfg.data.batch_size, cfg.eval.num_clips = 1, 12, 2
    result = train(cfg, tmp_path / "run", progress=False)
    assert result.best is not None and np.isfinite(result.history[0]["train_loss"])
    evaluated = evaluate(tmp_path / "run", easy_set, progress=False)
    views = 1 if model_card(name).preset.sampler == "pad" else 2
    assert evaluated.scores.shape == (18, 3) and evaluated.num_clips == views
    np.testing.assert_allclose(evaluated.scores.sum(axis=1), 1.0, rtol=1e-5)
