"""The ``detection`` task through the engine: a tiny feature set made here (random features in which the steps
of an action carry its class), ActionFormer and the sliding-window baseline trained for a few epochs to an mAP
well above guessing's, the best epoch's reports equal to an independent evaluation of them, the run loaded and
evaluated again to the same numbers, the real THUMOS14 features through the same path, and the recipe checked
before any data is read."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vidact.data.features import FeaturesSpec
from vidact.data.sampling import window_bounds
from vidact.detect.annotations import Detection, read_ground_truth, read_predictions
from vidact.detect.evaluation import evaluate_detection
from vidact.detect.features import TimeGrid, open_features
from vidact.detect.inference import detect_features, nms_options, to_detections
from vidact.engine.config import Config
from vidact.engine.load import load_run
from vidact.engine.tasks import build_task
from vidact.engine.tasks.detection import TemporalDetection, evaluate_detector
from vidact.engine.train import train
from vidact.errors import ConfigError

CLASSES = ("jump", "run", "throw")
THUMOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "detection" / "thumos14"
DIM = 16
PARAMS = {"model": "runs/tiny", "window": 1.0, "stride": 0.5, "unit": "seconds", "sampling": "stride"}


def make_feature_set(root: Path, *, videos: dict[str, int], seed: int = 0) -> None:
    """A vidact feature folder (``root/features``) and its ground truth (``root/gt.json``, ActivityNet's layout).

    Every video is 20-40 s long, windows of 1 s every 0.5 s (steps centred at 0.5 + 0.5 i s); 2-3 actions of
    4-12 s each, apart. A step inside an action of class k holds ``2 e_k`` plus noise, a step outside noise only.
    """
    rng = np.random.default_rng(seed)
    features_dir = root / "features"
    database = {}
    subsets = {"train": "training", "val": "validation"}
    for split, count in videos.items():
        for index in range(count):
            video = f"{split}_{index:02d}"
            duration = float(rng.uniform(20, 40))
            windows = window_bounds(np.arange(int(duration * 10)) / 10, 1.0, 0.5)[:-1]  # on the grid only
            centres = windows.mean(axis=1)
            features = 0.5 * rng.standard_normal((len(windows), DIM)).astype(np.float32)
            annotations, start = [], float(rng.uniform(1, 5))
            for _ in range(int(rng.integers(2, 4))):
                length = float(rng.uniform(4, 12))
                if start + length > duration - 1:
                    break
                label = int(rng.integers(len(CLASSES)))
                inside = (centres >= start) & (centres <= start + length)
                features[inside, label] += 2.0
                annotations.append(
                    {"segment": [round(start, 3), round(start + length, 3)], "label": CLASSES[label]}
                )
                start += length + float(rng.uniform(2, 8))
            folder = (
                features_dir / CLASSES[index % 3]
            )  # nested, as `vidact extract features` mirrors its input
            folder.mkdir(parents=True, exist_ok=True)
            np.save(folder / f"{video}.features.npy", features)
            np.save(folder / f"{video}.timestamps.npy", windows)
            (folder / f"{video}.features.json").write_text(json.dumps({"kind": "features", "params": PARAMS}))
            database[video] = {
                "subset": subsets[split],
                "duration": round(duration, 3),
                "annotations": annotations,
            }
    gt = {"version": "VERSION 1.3", "taxonomy": [], "database": database}
    (root / "gt.json").write_text(json.dumps(gt))
    (root / "classes.txt").write_text("".join(f"{name}\n" for name in CLASSES))


@pytest.fixture(scope="module")
def feature_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("detection")
    make_feature_set(root, videos={"train": 16, "val": 6})
    return root


def recipe(root: Path, model: str = "actionformer_tiny", epochs: int = 3, **task: object) -> Config:
    return Config.from_dict(
        {
            "data": {
                "root": str(root / "features"),
                "annotations": str(root / "gt.json"),
                "train_split": "training",
                "val_split": "validation",
                "batch_size": 4,
                "num_workers": 0,
            },
            "model": {"name": model, "kwargs": {"in_channels": DIM, "max_seq_len": 128}},
            "train": {
                "epochs": epochs,
                "optimizer": "adamw",
                "lr": 0.005,
                "weight_decay": 0.0,
                "precision": "32",
                "num_threads": 1,
            },
            "eval": {"split": "validation", "batch_size": 2},
            "task": {
                "name": "detection",
                "kwargs": {"max_seq_len": 64, "loss_normalizer_init": 10.0, **task},
            },
        }
    )


def chance_map(root: Path, seed: int = 0) -> float:
    """The average mAP of guessing: per validation video 100 random segments, classes and scores."""
    gt = read_ground_truth(root / "gt.json").subset("validation")
    rng = np.random.default_rng(seed)
    predictions = {}
    for video, annotation in gt.videos.items():
        starts = rng.uniform(0, annotation.duration, 100)
        ends = np.minimum(starts + rng.uniform(2, 14, 100), annotation.duration)
        labels = rng.integers(len(CLASSES), size=100)
        predictions[video] = [
            Detection(float(s), float(e), CLASSES[k], float(p))
            for s, e, k, p in zip(starts, ends, labels, rng.uniform(size=100), strict=True)
        ]
    return evaluate_detection(gt, predictions).average_mAP


def test_a_tiny_run_learns_and_its_reports_and_evaluation_agree(feature_set: Path, tmp_path: Path) -> None:
    cfg = recipe(feature_set)
    run = tmp_path / "run"
    best = train(cfg, run, progress=False).best
    assert best is not None
    chance = chance_map(feature_set)
    assert chance < 0.05 and best["average_mAP"] > chance + 0.1 and best["mAP@0.5"] > 0.3

    # metrics.csv has a column per threshold of the ground truth's convention (ActivityNet: 0.5:0.95)
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert (
        len(rows) == 3 and "val_mAP@0.5" in rows[0] and "val_mAP@0.95" in rows[0] and "train_reg" in rows[0]
    )
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["task"] == "detection" and summary["classes"] == list(CLASSES)
    assert summary["videos_without_features"] == {"train": [], "val": []}
    spec = FeaturesSpec.from_dict(summary["input"])
    assert spec == FeaturesSpec(dim=DIM, max_seq_len=64, extractor=PARAMS)

    # predictions.json is the best epoch's: the official evaluation of it gives the best epoch's numbers
    gt = read_ground_truth(feature_set / "gt.json").subset("validation")
    predictions = read_predictions(run / "predictions.json")
    assert sorted(predictions) == sorted(gt.videos)
    again = evaluate_detection(gt, predictions)
    assert again.average_mAP == best["average_mAP"] and again.mAP[0] == best["mAP@0.5"]
    with open(run / "per_class_ap.csv", newline="") as f:
        table = {row["class"]: row for row in csv.DictReader(f)}
    for name, ap in best["ap"].items():
        assert float(table[name]["AP@0.5"]) == pytest.approx(ap[0], abs=1e-6)
        assert int(table[name]["segments"]) == sum(a.labels.count(name) for a in gt.videos.values())

    # the run loads with its spec and evaluates to the same numbers over the folder
    loaded = load_run(run, classifier=False)
    assert loaded.spec == spec and loaded.classes == list(CLASSES) and loaded.task == "detection"
    evaluation = TemporalDetection.evaluate(loaded, feature_set / "features", progress=False)
    assert evaluation.split == "validation" and evaluation.skipped == []
    assert evaluation.result.average_mAP == pytest.approx(best["average_mAP"], abs=1e-6)
    assert evaluation.to_json()["metrics"]["average_mAP"] == evaluation.result.average_mAP
    # one video alone through detect_features: the detections the evaluation made of it in a batch
    source = open_features(feature_set / "features")
    length, grid = source.info("val_00")
    alone = detect_features(
        loaded.module, source.read("val_00").T, grid, CLASSES, duration=gt.videos["val_00"].duration
    )
    batched = evaluation.predictions["val_00"]
    assert len(alone) == len(batched) > 0
    np.testing.assert_allclose([d.score for d in alone], [d.score for d in batched], rtol=1e-4, atol=1e-6)
    assert [d.label for d in alone[:10]] == [d.label for d in batched[:10]]

    # a task that did not see the validation (a resumed run) detects again with the best checkpoint
    reports = build_task(cfg)
    reports.build_data(seed=0, validate=True, progress=False)
    (run / "predictions.json").unlink()
    reports.write_reports(run, best)
    redone = read_predictions(run / "predictions.json")
    assert evaluate_detection(gt, redone).average_mAP == pytest.approx(best["average_mAP"], abs=1e-6)


def test_the_sliding_window_baseline_trains_through_the_same_task(feature_set: Path, tmp_path: Path) -> None:
    best = train(
        recipe(feature_set, model="tad_baseline_tiny", epochs=3), tmp_path / "run", progress=False
    ).best
    assert best is not None and best["average_mAP"] > chance_map(feature_set) + 0.02


def test_decoded_steps_become_seconds_clipped_to_the_video() -> None:
    grid = TimeGrid(offset=0.25, step=0.5)  # step i is at 0.25 + 0.5 i seconds
    detections = to_detections(
        torch.tensor([[0.0, 4.0], [-2.0, 1.0], [10.0, 30.0], [-3.0, -1.0]]),
        torch.tensor([0.9, 0.8, 0.7, 0.6]),
        torch.tensor([2, 0, 1, 1]),
        grid,
        CLASSES,
        duration=10.0,
    )
    assert detections == [
        Detection(0.25, 2.25, "throw", pytest.approx(0.9)),
        Detection(0.0, 0.75, "jump", pytest.approx(0.8)),  # clipped at the start of the video
        Detection(5.25, 10.0, "run", pytest.approx(0.7)),  # and at its end; the one before it, dropped
    ]
    assert nms_options({"nms": "hard", "sigma": None, "window": 3}) == {"nms": "hard"}
    with pytest.raises(ConfigError, match="soft_method"):
        nms_options({"soft_method": "cubic"})


def test_the_recipe_is_checked_before_any_data_is_read(feature_set: Path, tmp_path: Path) -> None:
    task = build_task(recipe(feature_set))
    assert task.val_metrics == tuple(f"mAP@{t:.4g}" for t in np.linspace(0.5, 0.95, 10)) + ("average_mAP",)
    assert task.max_seq_len == 64 and task.modality == "features" and not task.produces_classifier
    custom = build_task(recipe(feature_set, tious=[0.5, 0.3]))
    assert custom.val_metrics == ("mAP@0.3", "mAP@0.5", "average_mAP")
    assert custom.history_columns()[-4:] == ("val_mAP@0.3", "val_mAP@0.5", "val_average_mAP", "time")

    video_model = recipe(feature_set)
    video_model.model.name, video_model.model.kwargs = "simple3d", {}
    with pytest.raises(ConfigError, match="simple3d is a video model; choose a detector"):
        build_task(video_model)
    no_gt = recipe(feature_set)
    no_gt.data.annotations = None
    with pytest.raises(ConfigError, match="set data.annotations"):
        build_task(no_gt)
    with pytest.raises(ConfigError, match="takes"):
        build_task(recipe(feature_set, window=3))
    with pytest.raises(ConfigError, match="nms must be"):
        build_task(recipe(feature_set, nms="fast"))
    with pytest.raises(ConfigError, match="keep_ratio"):
        build_task(recipe(feature_set, keep_ratio=0.0))
    smoothing = recipe(feature_set)
    smoothing.train.label_smoothing = 0.1
    with pytest.raises(ConfigError, match="task.kwargs.label_smoothing"):
        build_task(smoothing)
    wide = recipe(feature_set)
    wide.model.kwargs["in_channels"] = 32
    with pytest.raises(ConfigError, match="features are 16 wide, but the model reads 32"):
        build_task(wide).build_data(seed=0, validate=True, progress=False)
    long = recipe(feature_set, max_seq_len=256)
    task = build_task(long)
    task.build_data(seed=0, validate=False, progress=False)
    with pytest.raises(ConfigError, match="longer than the model's 128"):
        task.build_model()


@pytest.mark.skipif(not THUMOS.is_dir(), reason="the shared THUMOS14 features are not here")
def test_the_real_thumos_features_go_through_training_and_evaluation(tmp_path: Path) -> None:
    """A smoke test of the path of features made elsewhere (I3D, ActionFormer's layout), not an accuracy claim."""
    cfg = Config.from_dict(
        {
            "data": {
                "root": str(THUMOS),
                "annotations": str(THUMOS / "two_videos_gt.json"),
                "train_split": "test",
                "val_split": "test",
                "batch_size": 2,
                "num_workers": 0,
            },
            "model": {"name": "actionformer_tiny", "kwargs": {"in_channels": 2048, "max_seq_len": 128}},
            "train": {"epochs": 1, "optimizer": "adamw", "lr": 0.001, "precision": "32", "num_threads": 1},
            "eval": {"split": "test"},
            "task": {"name": "detection", "kwargs": {"feat_stride": 4, "num_frames": 16}},
        }
    )
    with pytest.warns(UserWarning, match="(training|validation) video 'golf.npy' left out: no features in"):
        result = train(cfg, tmp_path / "run", progress=False)
    assert result.best is not None and len(result.best["tiou"]) == 5  # THUMOS14's thresholds, 0.3:0.7
    summary = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert summary["input"] == FeaturesSpec(dim=2048, max_seq_len=128, feat_stride=4, num_frames=16).to_dict()
    assert [v["video"] for v in summary["videos_without_features"]["val"]] == ["golf.npy"]
    assert sorted(read_predictions(tmp_path / "run" / "predictions.json")) == ["highjump.npy", "tennis26.npy"]
    evaluation = evaluate_detector(load_run(tmp_path / "run", classifier=False), THUMOS, progress=False)
    assert evaluation.result.average_mAP == pytest.approx(result.best["average_mAP"], abs=1e-6)
    assert evaluation.skipped == [("golf.npy", f"no features in {THUMOS}")]


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as the recipes' runs use (small sequences: more threads only contend)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
