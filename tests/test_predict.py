"""Prediction: the timeline's windows and clips, scores equal to the model run on the same clip by hand
(published torchvision weights included), streaming in bounded memory, the JSON and the chart, and bad videos.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import torchvision
import torchvision.transforms.v2.functional as TF
from PIL import Image

from vidact.cli import main
from vidact.data.presets import Preset
from vidact.data.sampling import window_bounds, window_clip
from vidact.data.transforms import NORMALIZATIONS
from vidact.engine.checkpoint import atomic_save, make_checkpoint
from vidact.engine.config import Config
from vidact.errors import CheckpointError, ConfigError, VideoError
from vidact.infer.plot import plot_timeline
from vidact.infer.predict import (
    load_predictor,
    predict_video,
    save_json,
)
from vidact.io import VideoReader
from vidact.io.writer import write_video
from vidact.models import build_model, model_card

# ../shared/data from the project root, found from this file so the tests see it from any working directory.
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ARM_WRESTLING = str(DATA / "videos" / "kinetics" / "arm_wrestling.mp4")  # 280 frames at 28 fps: 10 s
CLASSES = ["arm wrestling", "tai chi", "skateboarding", "cleaning pool"]
# torchvision's Kinetics-400 statistics (torchvision.models.video weights' transforms)
TV_MEAN, TV_STD = [0.43216, 0.394666, 0.37645], [0.22803, 0.22145, 0.216989]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """One intra-op thread: the small forward passes here run fastest so, and do not stall on busy cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _checkpoint(path: Path, model_name: str, kwargs: dict, **data: object) -> Path:
    torch.manual_seed(0)
    cfg = Config()
    for key, value in data.items():
        setattr(cfg.data, key, value)
    model = build_model(model_name, num_classes=len(CLASSES), **kwargs)
    ckpt = make_checkpoint(
        model, model_name=model_name, model_kwargs=kwargs, classes=CLASSES, config=cfg.to_dict()
    )
    atomic_save(ckpt, path)
    return path


@pytest.fixture(scope="module")
def clip_ckpt(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("predict") / "simple3d.ckpt"
    return _checkpoint(
        path, "simple3d", {"widths": [8, 8, 16, 16]}, clip_len=8, stride=2, short_side=48, crop_size=40
    )


@pytest.fixture(scope="module")
def frame_ckpt(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("predict") / "per_frame.ckpt"
    return _checkpoint(
        path, "per_frame", {"backbone": "tv:resnet18"}, clip_len=4, stride=8, short_side=48, crop_size=40
    )


# -- windows and clips ---------------------------------------------------------------------------------------
def test_window_bounds():
    times = np.arange(280) / 28.0  # arm_wrestling: 10 s
    np.testing.assert_allclose(window_bounds(times, 2.0, 1.0), [[k, k + 2] for k in range(9)])
    # starts 0, 2, 4, 6 end at 9 s; frames after 9 s get one more window, ending at the end
    np.testing.assert_allclose(window_bounds(times, 3.0, 2.0), [[0, 3], [2, 5], [4, 7], [6, 9], [7, 10]])
    ntsc = np.arange(300) * 1001 / 30000  # 29.97 fps: 10.01 s, but every frame starts before 10 s
    assert len(window_bounds(ntsc, 2.0, 1.0)) == 9
    np.testing.assert_allclose(window_bounds(np.arange(30) / 30.0, 2.0, 1.0), [[0.0, 1.0]])
    with pytest.raises(ConfigError, match="must be positive"):
        window_bounds(times, 0.0, 1.0)


def test_window_clip_by_hand():
    times = np.arange(100) / 10.0  # 10 fps
    spec = Preset(frames=4, frame_stride=3, short_side=8, crop_size=8)
    # frames 20..39 are in [2, 4); the 10-frame clip span is centred: (20 - 10) // 2 = 5 frames in
    np.testing.assert_array_equal(window_clip(times, 2.0, 4.0, spec, "stride"), [25, 28, 31, 34])
    # uniform: the centres of four 5-frame parts
    np.testing.assert_array_equal(window_clip(times, 2.0, 4.0, spec, "uniform"), [22, 27, 32, 37])
    # a clip longer than its window reaches out of it and is clamped to the video
    np.testing.assert_array_equal(window_clip(times, 9.5, 10.0, spec, "stride"), [92, 95, 98, 99])


# -- scores --------------------------------------------------------------------------------------------------
def _preprocess(frames: torch.Tensor, crop: int, mean: list[float], std: list[float]) -> torch.Tensor:
    """uint8 [T, H, W, 3] -> normalised float [1, 3, T, crop, crop], with torchvision's functions."""
    x = TF.center_crop(frames.permute(0, 3, 1, 2), [crop, crop]).float() / 255
    x = TF.normalize(x, mean, std)
    return x.permute(1, 0, 2, 3)[None]


@pytest.mark.parametrize("ckpt", ["clip_ckpt", "frame_ckpt"])
def test_window_scores_are_the_models_on_the_window_clip(ckpt, request):
    predictor = load_predictor(request.getfixturevalue(ckpt))
    spec = predictor.spec
    prediction = predict_video(predictor, ARM_WRESTLING, window=3.0, stride=2.0, frame_scores=True)
    assert len(prediction.windows) == 5 and prediction.window_scores.shape == (5, len(CLASSES))
    assert prediction.peak_frames <= 5 * spec.clip_len  # all five windows in one batch
    np.testing.assert_allclose(prediction.scores, prediction.window_scores.mean(axis=0), rtol=1e-6)
    with VideoReader(ARM_WRESTLING, short_side=spec.short_side) as reader:
        times = reader.timestamps()
        for w in (0, 4):
            clip = window_clip(times, *prediction.windows[w], spec)
            x = _preprocess(reader.get_frames(clip), spec.crop_size, *NORMALIZATIONS["imagenet"])
            with torch.inference_mode():
                expected = predictor.model(x).softmax(dim=-1)[0].numpy()
            np.testing.assert_allclose(prediction.window_scores[w], expected, rtol=1e-4, atol=1e-6)
    if ckpt == "frame_ckpt":  # per-frame probabilities of every frame seen, in time order
        assert prediction.frame_scores.shape == (len(prediction.frame_times), len(CLASSES))
        assert np.all(np.diff(prediction.frame_times) > 0)
        np.testing.assert_allclose(prediction.frame_scores.sum(axis=1), 1.0, rtol=1e-5)
    else:
        assert prediction.frame_scores is None


def test_tsn_models_sample_windows_uniformly(clip_ckpt):
    predictor = load_predictor(clip_ckpt)
    tsn = dataclasses.replace(predictor, spec=dataclasses.replace(predictor.spec, sampler="segments"))
    default = predict_video(tsn, ARM_WRESTLING, window=4.0, stride=3.0)
    uniform = predict_video(predictor, ARM_WRESTLING, window=4.0, stride=3.0, sampling="uniform")
    strided = predict_video(predictor, ARM_WRESTLING, window=4.0, stride=3.0)
    np.testing.assert_array_equal(default.window_scores, uniform.window_scores)
    assert not np.allclose(default.window_scores, strided.window_scores)


def test_published_torchvision_weights(tmp_path):
    """--model r2plus1d_18 --weights FILE: the prediction is torchvision's model on the same clip."""
    torch.manual_seed(0)
    reference = torchvision.models.video.r2plus1d_18(weights=None).eval()
    for m in reference.modules():  # non-trivial batch-norm statistics, so that a mis-mapped buffer shows
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    weights = tmp_path / "r2plus1d_18.pth"
    torch.save(reference.state_dict(), weights)
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"action {i}\n" for i in range(400)))
    video = tmp_path / "one_second.mp4"
    rng = np.random.default_rng(0)
    write_video(video, rng.integers(0, 256, (30, 120, 160, 3), dtype=np.uint8), 30.0)

    predictor = load_predictor("r2plus1d_18", weights=weights, weights_layout="torchvision", labels=labels)
    assert predictor.classes[7] == "action 7"
    prediction = predict_video(predictor, video, window=2.0, stride=1.0)
    np.testing.assert_allclose(prediction.windows, [[0.0, 1.0]])  # a video shorter than one window
    # the card's clip: 16 frames every 2nd, its 31-frame span centred on the 30 frames, clamped at frame 0,
    # made as torchvision's own preset for these weights makes it (resize to 128 x 171, centre crop 112)
    indices = np.clip(-1 + 2 * np.arange(16), 0, 29)
    tv_preset = torchvision.models.video.R2Plus1D_18_Weights.KINETICS400_V1.transforms()
    with VideoReader(video, layout="TCHW") as reader:
        x = tv_preset(reader.get_frames(indices))[None]
    with torch.inference_mode():
        expected = reference(x).softmax(dim=-1)[0].numpy()
    # torchvision's resize and vidact's round a few uint8 pixels one level apart (tests/test_weights.py)
    np.testing.assert_allclose(prediction.window_scores[0], expected, rtol=2e-3, atol=1e-6)
    assert prediction.top(1)[0] == (f"action {expected.argmax()}", pytest.approx(expected.max(), rel=1e-4))

    numbered = load_predictor("r2plus1d_18", weights=weights)  # layout found by trying, no label map
    assert numbered.classes[:2] == ["class_0", "class_1"] and len(numbered.classes) == 400
    assert numbered.spec == model_card("r2plus1d_18").default_preset()
    # The class count comes from the file: a 5-class classifier makes a 5-class model, whatever the card says.
    five = torchvision.models.video.r2plus1d_18(num_classes=5)
    torch.save(five.state_dict(), tmp_path / "five.pth")
    assert load_predictor("r2plus1d_18", weights=tmp_path / "five.pth").model.num_classes == 5
    with pytest.raises(ConfigError, match="no converter for torchvision weights of simple3d"):
        load_predictor("simple3d", weights=weights, weights_layout="torchvision")
    with pytest.raises(CheckpointError, match="does not fit|shape mismatch"):
        load_predictor("r3d_18", weights=weights)
    with pytest.raises(ConfigError, match="3 class names for weights with 400 classes"):
        load_predictor("r2plus1d_18", weights=weights, labels=_lines(tmp_path / "three.txt", 3))
    with pytest.raises(
        ConfigError, match=r"needs weights: published weights by name \(slowfast_r50.kinetics400"
    ):
        load_predictor("slowfast_r50")
    with pytest.raises(ConfigError, match="needs weights: --weights FILE"):
        load_predictor("simple3d")


def _lines(path: Path, n: int) -> Path:
    path.write_text("".join(f"name {i}\n" for i in range(n)))
    return path


# -- streaming -----------------------------------------------------------------------------------------------
def test_long_video_streams_in_bounded_memory(tmp_path, clip_ckpt):
    """3000 frames (100 s) stream through a buffer that never holds more than one window's clip."""
    num_frames, fps = 3000, 30.0
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (48, 128, 3), dtype=np.uint8)
    video = tmp_path / "long.mp4"
    write_video(video, (np.roll(base, i, axis=1)[:, :64] for i in range(num_frames)), fps, gop=30)

    predictor = load_predictor(clip_ckpt)
    prediction = predict_video(predictor, video, window=2.0, stride=1.0, batch_size=1)
    assert len(prediction.windows) == 99
    # a window is scored as soon as its last frame is decoded, and clips of successive windows do not overlap
    # here, so the buffer holds at most one clip
    assert prediction.peak_frames == predictor.spec.clip_len


# -- outputs -------------------------------------------------------------------------------------------------
def _cli(capsys, *args: object) -> tuple[int, str, str]:
    """Run ``vidact`` in this process (as ``python -m vidact.cli`` does): (exit status, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


def test_cli_predict_json_and_plot(clip_ckpt, tmp_path, capsys):
    out, png = tmp_path / "out" / "prediction.json", tmp_path / "out" / "timeline.png"
    code, stdout, stderr = _cli(
        capsys, "predict", ARM_WRESTLING, "--model", clip_ckpt, "--top", 4, "--json", out, "--plot", png
    )
    assert code == 0, stderr
    assert "whole video" in stdout and "8.00-10.00" in stdout
    report = json.loads(out.read_text())
    assert list(report) == ["video", "model", "top", "timeline"]
    assert (report["video"], report["model"]) == (ARM_WRESTLING, "simple3d")
    timeline = report["timeline"]
    assert len(timeline) == 9  # 10 s, windows of 2 s every 1 s
    assert [(w["start"], w["end"]) for w in timeline] == [(k, k + 2) for k in range(9)]
    for entry in [report, *timeline]:
        assert all(list(t) == ["label", "score"] for t in entry["top"])
        scores = [t["score"] for t in entry["top"]]
        assert sorted(t["label"] for t in entry["top"]) == sorted(CLASSES) and scores == sorted(scores)[::-1]
    for top in report["top"]:  # the video's scores are the mean of the windows'
        per_window = [next(t["score"] for t in w["top"] if t["label"] == top["label"]) for w in timeline]
        assert top["score"] == pytest.approx(np.mean(per_window), rel=1e-5)
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size == (1000, 400)
    assert sorted(p.name for p in out.parent.iterdir()) == ["prediction.json", "timeline.png"]


def test_flicker_chart_of_a_per_frame_model(frame_ckpt, tmp_path):
    prediction = predict_video(load_predictor(frame_ckpt), ARM_WRESTLING, frame_scores=True)
    png = tmp_path / "flicker.png"
    plot_timeline(prediction, png, top=3)
    with Image.open(png) as image:
        assert image.format == "PNG"
    save_json(prediction, tmp_path / "p.json", top=2)
    assert [len(w["top"]) for w in json.loads((tmp_path / "p.json").read_text())["timeline"]] == [2] * 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flicker.png", "p.json"]  # no temporary files left


# -- bad input -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bad_videos(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """name -> (path, phrase of the reason)."""
    root = tmp_path_factory.mktemp("bad_videos")
    good = write_video(root / "good.mp4", np.zeros((24, 32, 32, 3), np.uint8), 12.0, gop=6)
    (root / "empty.mp4").write_bytes(b"")
    (root / "truncated.mp4").write_bytes(Path(good).read_bytes()[: Path(good).stat().st_size // 2])
    (root / "random.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    with av.open(str(root / "audio.m4a"), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        for _ in range(4):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate = 16000
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return {
        "missing": (root / "missing.mp4", "no such file"),
        "empty": (root / "empty.mp4", "empty file"),
        "truncated": (root / "truncated.mp4", "invalid data"),
        "random bytes": (root / "random.mp4", "invalid data"),
        "audio only": (root / "audio.m4a", "no video stream"),
    }


def test_bad_videos_raise_video_error(bad_videos, clip_ckpt):
    predictor = load_predictor(clip_ckpt)
    for path, phrase in bad_videos.values():
        with pytest.raises(VideoError, match=phrase):
            predict_video(predictor, path)


def test_cli_bad_videos_one_line_exit_2_nothing_written(bad_videos, clip_ckpt, tmp_path, capsys):
    outputs = ["--json", tmp_path / "p.json", "--plot", tmp_path / "p.png"]
    for name, (path, phrase) in bad_videos.items():
        code, stdout, stderr = _cli(capsys, "predict", path, "--model", clip_ckpt, *outputs)
        lines = stderr.strip().splitlines()
        assert code == 2, (name, stderr)
        assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ") and phrase in lines[0], (
            name,
            stderr,
        )
        assert stdout == ""
    assert list(tmp_path.iterdir()) == []  # no JSON, no PNG, no temporary file
    with pytest.raises(VideoError):  # --debug: the exception itself, with its traceback
        main(["--debug", "predict", str(bad_videos["empty"][0]), "--model", str(clip_ckpt)])
