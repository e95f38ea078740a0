"""``vidact detect``: from a raw untrimmed video to (start, end, label, score), through the recognition model the
detector was trained on (rebuilt from the run's stored input spec), and the same from features on disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vidact.cli import main
from vidact.data.synth.untrimmed import synthesize_untrimmed
from vidact.engine.checkpoint import atomic_save, make_checkpoint
from vidact.engine.config import Config
from vidact.engine.train import train
from vidact.extract import build_extractor, extract
from vidact.infer.detect import detect_video, extractor_predictor, load_detector
from vidact.io import probe
from vidact.models import build_model

THUMOS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "detection" / "thumos14"
SIZE = 32


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _simple3d(path: Path, seed: int) -> Path:
    """A small Simple3D checkpoint (8-frame clips, whole 32x32 frames) with random weights of ``seed``: the
    recognition model whose window features the detector reads (16 wide)."""
    torch.manual_seed(seed)
    cfg = Config()
    cfg.data.clip_len, cfg.data.stride, cfg.data.short_side, cfg.data.crop_size = 8, 1, SIZE, SIZE
    kwargs = {"widths": [8, 8, 16, 16]}
    model = build_model("simple3d", num_classes=3, **kwargs)
    checkpoint = make_checkpoint(
        model, model_name="simple3d", model_kwargs=kwargs, classes=["x", "y", "z"], config=cfg.to_dict()
    )
    atomic_save(checkpoint, path)
    return path


@pytest.fixture(scope="module")
def detection_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Untrimmed synthetic videos, their features from a Simple3D checkpoint, and a detector trained on them."""
    root = tmp_path_factory.mktemp("untrimmed")
    made = synthesize_untrimmed(
        root / "data",
        videos={"train": 3, "val": 2, "test": 0},
        duration=(10.0, 12.0),
        action_duration=(1.0, 3.0),
        size=SIZE,
        pairs=["raise"],
        workers=1,
        progress=False,
    )
    backbone = _simple3d(root / "simple3d.ckpt", seed=0)
    features = root / "features"
    extractor = build_extractor("features", model=backbone, window_frames=8, stride_frames=4, precision="32")
    report = extract(extractor, root / "data" / "videos", features, progress=False)
    assert report.ok
    cfg = Config.from_dict(
        {
            "data": {
                "root": str(features),
                "annotations": str(made.annotations),
                "train_split": "training",
                "val_split": "validation",
                "batch_size": 2,
                "num_workers": 0,
            },
            "model": {"name": "actionformer_tiny", "kwargs": {"in_channels": 16, "max_seq_len": 64}},
            "train": {"epochs": 1, "optimizer": "adamw", "lr": 0.001, "precision": "32", "num_threads": 1},
            "eval": {"split": "validation"},
            "task": {"name": "detection", "kwargs": {"max_seq_len": 64}},
        }
    )
    train(cfg, root / "run", progress=False)
    return {
        "run": root / "run",
        "backbone": backbone,
        "features": features,
        "videos": root / "data" / "videos",
        "annotations": made.annotations,
    }


def _cli(capsys, *args: object) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


def test_raw_video_and_extracted_features_give_the_same_detections(detection_run) -> None:
    """The streaming path (decode -> windows -> features -> detector) is the extraction's, window for window:
    the same detections as from the features `vidact extract features` wrote, on the same time grid."""
    detector = load_detector(detection_run["run"])
    assert detector.spec.extractor is not None and detector.spec.dim == 16
    predictor = extractor_predictor(detector, detection_run["backbone"], precision="32")
    video = detection_run["videos"] / "val_0000.mp4"
    raw = detect_video(detector, video, predictor=predictor, min_score=0.0)
    stored = detect_video(detector, video, features=detection_run["features"], min_score=0.0)
    assert raw.steps == stored.steps and raw.grid == pytest.approx(stored.grid)
    assert raw.detections, "an untrained detector still ranks segments"
    a = np.array([(d.start, d.end, d.score) for d in raw.detections])
    b = np.array([(d.start, d.end, d.score) for d in stored.detections])
    assert a.shape == b.shape and np.allclose(a, b, atol=1e-4)
    assert [d.label for d in raw.detections] == [d.label for d in stored.detections]
    assert all(0.0 <= d.start < d.end <= raw.duration for d in raw.detections)
    assert raw.seconds["features"] > 0 and stored.seconds["features"] == 0


def test_detect_command_writes_json_and_plot(detection_run, tmp_path, capsys) -> None:
    video = detection_run["videos"] / "val_0001.mp4"
    out, png = tmp_path / "found.json", tmp_path / "found.png"
    code, stdout, _ = _cli(
        capsys,
        "detect",
        video,
        "--model",
        detection_run["run"],
        "--features-model",
        detection_run["backbone"],
        "--json",
        out,
        "--plot",
        png,
        "--gt",
        detection_run["annotations"],
        "--precision",
        "32",
    )
    assert code in (0, None)
    found = json.loads(out.read_text())
    assert found["video"] == str(video) and found["segments"]
    assert set(found["segments"][0]) == {"start", "end", "label", "score"}
    assert "detected actions" in stdout and found["segments"][0]["label"] in stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_detect_refuses_what_it_cannot_trust_in_one_line(detection_run, tmp_path, capsys) -> None:
    video = detection_run["videos"] / "val_0000.mp4"
    # the run records its extractor by content only: a run's location must be given
    code, _, err = _cli(capsys, "detect", video, "--model", detection_run["run"])
    assert code == 2 and "--features-model" in err and len(err.strip().splitlines()) == 1
    # another model (other weights) would give other features: refused
    other = _simple3d(tmp_path / "other.ckpt", seed=1)
    code, _, err = _cli(capsys, "detect", video, "--model", detection_run["run"], "--features-model", other)
    assert code == 2 and "not the feature extractor" in err and len(err.strip().splitlines()) == 1
    # a recognition model is not a detector
    code, _, err = _cli(capsys, "detect", video, "--model", detection_run["backbone"])
    assert code == 2 and "not a detector" in err
    # a video that is not one
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    code, _, err = _cli(
        capsys, "detect", bad, "--model", detection_run["run"], "--features-model", detection_run["backbone"]
    )
    assert code == 2 and "bad.mp4" in err and len(err.strip().splitlines()) == 1


def test_eval_tests_a_detection_run_on_its_features(detection_run, tmp_path, capsys) -> None:
    out = tmp_path / "eval.json"
    code, stdout, _ = _cli(
        capsys,
        "eval",
        detection_run["run"],
        detection_run["features"],
        "--split",
        "validation",
        "--json",
        out,
    )
    assert code in (0, None)
    metrics = json.loads(out.read_text())["metrics"]
    assert len(metrics["tiou"]) == 10 and 0.0 <= metrics["average_mAP"] <= 1.0
    assert metrics["average_mAP"] == pytest.approx(float(np.mean(metrics["mAP"])), abs=1e-9)
    assert "average mAP" in stdout


@pytest.mark.skipif(not THUMOS.is_dir(), reason="the shared THUMOS14 features are not here")
def test_real_thumos_video_through_detect_and_eval_detection(tmp_path, capsys) -> None:
    """The two real THUMOS14 videos' I3D features (ActionFormer's layout: a step every 4 frames of 16) through
    training, `vidact detect --features` on the real video and `vidact eval-detection` against their ground
    truth: a smoke test of the real-data path, not an accuracy claim."""
    cfg = Config.from_dict(
        {
            "data": {
                "root": str(THUMOS),
                "annotations": str(THUMOS / "two_videos_gt.json"),
                "train_split": "test",
                "val_split": None,
                "batch_size": 2,
                "num_workers": 0,
            },
            "model": {"name": "actionformer_tiny", "kwargs": {"in_channels": 2048, "max_seq_len": 256}},
            "train": {"epochs": 2, "optimizer": "adamw", "lr": 0.001, "precision": "32", "num_threads": 1},
            "task": {"name": "detection", "kwargs": {"feat_stride": 4, "num_frames": 16}},
        }
    )
    with pytest.warns(UserWarning, match="golf.npy"):
        train(cfg, tmp_path / "run", progress=False)
    found_json = tmp_path / "highjump.json"
    code, stdout, _ = _cli(
        capsys,
        "detect",
        THUMOS / "highjump.mp4",
        "--model",
        tmp_path / "run",
        "--features",
        THUMOS,
        "--json",
        found_json,
    )
    assert code in (0, None)
    found = json.loads(found_json.read_text())
    assert found["segments"] and all(
        0 <= s["start"] < s["end"] <= found["duration"] for s in found["segments"]
    )
    # feat_stride frames at the video's own frame rate (30.04 fps)
    assert found["step_seconds"] == pytest.approx(4 / probe(THUMOS / "highjump.mp4").fps)
    submission = tmp_path / "submission.json"
    submission.write_text(
        json.dumps(
            {
                "results": {
                    "highjump.npy": [
                        {"label": s["label"], "score": s["score"], "segment": [s["start"], s["end"]]}
                        for s in found["segments"]
                    ]
                }
            }
        )
    )
    out = tmp_path / "map.json"
    code, _, _ = _cli(
        capsys,
        "eval-detection",
        "--gt",
        THUMOS / "two_videos_gt.json",
        "--pred",
        submission,
        "--json",
        out,
        "--unknown-labels",
        "ignore",
    )
    assert code in (0, None)
    scores = json.loads(out.read_text())
    assert scores["tiou"] == pytest.approx([0.3, 0.4, 0.5, 0.6, 0.7])
