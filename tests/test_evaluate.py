"""Multi-view evaluation: views reach the model as clips x crops, video scores are the hand-computed averages of
the views' scores, the metrics are sklearn's, classes match by name, and bad input is a one-line error.

The oracle for the averaging test decodes each video itself, takes the clips ``multi_clip_indices`` names and cuts
the three crops by slicing, then applies a model whose logits are a known function of its input (10 x the mean
of each normalised colour channel), so every view's logits are computed independently of vidact's pipeline.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, top_k_accuracy_score
from torch import nn

from vidact.cli import main
from vidact.data.datasets import build_dataset
from vidact.data.sampling import multi_clip_indices, segment_indices
from vidact.data.transforms import NORMALIZATIONS
from vidact.engine.checkpoint import atomic_save, make_checkpoint
from vidact.engine.config import Config
from vidact.engine.evaluate import (
    InputSpec,
    SegmentViews,
    average_views,
    evaluate,
    evaluate_model,
    match_classes,
)
from vidact.errors import ConfigError, DatasetError
from vidact.io import VideoReader
from vidact.io.writer import write_video
from vidact.models import build_model, model_card

H, W, FPS = 32, 48, 12.0
DATASET_CLASSES = ("alpha", "beta", "gamma")
# The model knows more classes than the dataset has, in another order: labels must be matched by name.
MODEL_CLASSES = ["delta", "gamma", "epsilon", "alpha", "zeta", "beta"]
SPEC = dict(clip_len=4, stride=2, short_side=32, crop_size=24)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """One intra-op thread: the small forward passes here run fastest so, and do not stall on busy cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _video(rng: np.random.Generator, num_frames: int) -> np.ndarray:
    """Frames whose colours change over time and across the width, so every clip and every crop differs."""
    base = rng.integers(0, 256, (H, 2 * W, 3), dtype=np.uint8)
    ramp = np.linspace(0, 120, num_frames).astype(np.uint8)
    return np.stack([np.roll(base, 3 * i, axis=1)[:, :W] // 2 + ramp[i] for i in range(num_frames)])


@pytest.fixture(scope="module")
def dataset_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eval_data")
    rng = np.random.default_rng(0)
    for name in DATASET_CLASSES:
        for i, num_frames in enumerate((20, 27)):
            path = root / "test" / name / f"{name}_{i}.mp4"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_video(path, _video(rng, num_frames), FPS)
    return root


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    cfg = Config()
    for key, value in SPEC.items():
        setattr(cfg.data, key, value)
    cfg.eval.num_clips, cfg.eval.num_crops = 2, 3
    kwargs = {"widths": [8, 8, 16, 16]}
    model = build_model("simple3d", num_classes=len(MODEL_CLASSES), **kwargs)
    ckpt = make_checkpoint(
        model, model_name="simple3d", model_kwargs=kwargs, classes=MODEL_CLASSES, config=cfg.to_dict()
    )
    path = tmp_path_factory.mktemp("eval_ckpt") / "model.ckpt"
    atomic_save(ckpt, path)
    return path


class ChannelMeans(nn.Module):
    """Logits [N, 6] = 10 x the mean of each channel of clips [N, 3, T, H, W] (twice), recording input shapes."""

    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.shapes.append(tuple(x.shape))
        means = 10 * x.mean(dim=(2, 3, 4))
        return torch.cat([means, -means], dim=1)


def _channel_mean_logits(view: np.ndarray, spec: InputSpec) -> np.ndarray:
    """The logits :class:`ChannelMeans` gives one view [T, h, w, 3] uint8, computed in numpy."""
    x = (view.astype(np.float64) / 255 - np.array(spec.mean)) / np.array(spec.std)
    means = 10 * x.mean(axis=(0, 1, 2))
    return np.concatenate([means, -means])


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_average_views_by_hand():
    logits = torch.randn(2, 5, 4, generator=torch.Generator().manual_seed(0))
    z = logits.numpy().astype(np.float64)
    probs = average_views(logits, "softmax").numpy()
    np.testing.assert_allclose(probs, _softmax(z).mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(average_views(logits, "logits").numpy(), _softmax(z.mean(axis=1)), rtol=1e-6)
    assert not np.allclose(probs, _softmax(z.mean(axis=1)), atol=1e-3)  # the two protocols differ
    with pytest.raises(ConfigError, match="unknown average"):
        average_views(logits, "max")  # type: ignore[arg-type]


@pytest.mark.parametrize(("num_crops", "average"), [(3, "softmax"), (1, "logits")])
def test_video_scores_are_the_average_of_their_views(dataset_root, num_crops, average):
    num_clips, batch_size = 3, 4
    spec = InputSpec(**SPEC, mean=NORMALIZATIONS["imagenet"][0], std=NORMALIZATIONS["imagenet"][1])
    dataset = build_dataset(
        "folder",
        dataset_root,
        "test",
        sampler=spec.test_sampler(num_clips),
        transform=spec.transform("three" if num_crops == 3 else "center"),
        short_side=spec.short_side,
    )
    model = ChannelMeans()
    classes = [*DATASET_CLASSES, "not alpha", "not beta", "not gamma"]
    result = evaluate_model(model, dataset, classes, average=average, batch_size=batch_size, progress=False)

    # the views reached the model as batches of (videos x clips x crops) clips
    views = num_clips * num_crops
    assert [s[0] for s in model.shapes] == [batch_size * views, (len(dataset) - batch_size) * views]
    assert all(s[1:] == (3, spec.clip_len, spec.crop_size, spec.crop_size) for s in model.shapes)
    assert (result.num_clips, result.num_crops) == (num_clips, num_crops)

    size = spec.crop_size
    for path, scores in zip(result.paths, result.scores, strict=True):
        with VideoReader(path, short_side=spec.short_side) as reader:
            frames = reader.get_frames(np.arange(len(reader))).numpy()  # [N, 32, 48, 3]
        h, w = frames.shape[1:3]
        top = (h - size) // 2
        lefts = (0, (w - size) // 2, w - size) if num_crops == 3 else ((w - size) // 2,)
        logits = [
            _channel_mean_logits(frames[clip, top : top + size, left : left + size], spec)
            for clip in multi_clip_indices(len(frames), spec.clip_len, spec.stride, num_clips)
            for left in lefts
        ]
        expected = (
            _softmax(np.mean(logits, axis=0)) if average == "logits" else _softmax(np.stack(logits)).mean(0)
        )
        np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
    assert sorted(result.paths) == sorted(p for p, _ in dataset.samples)


def test_segment_views():
    rng = np.random.default_rng(0)
    for num_frames in (5, 8, 37, 300):
        np.testing.assert_array_equal(SegmentViews(8, 1)(num_frames, rng)[0], segment_indices(num_frames, 8))
    views = SegmentViews(4, 3)(120, rng)  # parts of 30 frames; views at 1/6, 3/6, 5/6 of each part
    np.testing.assert_array_equal(views, [[5, 35, 65, 95], [15, 45, 75, 105], [25, 55, 85, 115]])


def test_input_spec_from_cards_and_recipes():
    r2plus1d = InputSpec.from_card(model_card("r2plus1d_18"))
    assert (r2plus1d.clip_len, r2plus1d.stride, r2plus1d.short_side, r2plus1d.crop_size) == (16, 2, 128, 112)
    assert r2plus1d.mean == (0.43216, 0.394666, 0.37645)
    assert InputSpec.from_card(model_card("slowfast_r50")).mean == NORMALIZATIONS["kinetics"][0]
    i3d = InputSpec.from_card(model_card("i3d_inception_v1"))  # inputs in [-1, 1]: (x - 0.5) / 0.5
    assert (i3d.mean, i3d.std, i3d.short_side) == ((0.5,), (0.5,), 256)
    with pytest.raises(ConfigError, match="2-channel"):
        InputSpec.from_card(model_card("i3d_inception_v1_flow"))

    recipe = {"data": {"clip_len": 8, "normalize": None, "sampler": "segments"}}
    spec = InputSpec.from_config(recipe)  # missing keys take DataConfig's defaults, as in training
    assert (spec.clip_len, spec.stride, spec.short_side, spec.crop_size) == (8, 2, 128, 112)
    assert (spec.mean, spec.std, spec.segments) == ((0.0,), (1.0,), True)
    assert isinstance(spec.test_sampler(2), SegmentViews)
    with pytest.raises(ConfigError, match="unknown normalization"):
        InputSpec.from_config({"data": {"normalize": "cifar"}})


def test_match_classes_by_name():
    mapping = match_classes(
        ["air_drumming", "Abseiling", "unused"], [0, 1], ["abseiling", "air drumming"], "x"
    )
    np.testing.assert_array_equal(mapping, [1, 0, -1])
    with pytest.raises(DatasetError, match="class 'yoga' is not one of the model's 2 classes"):
        match_classes(["yoga"], [0], ["abseiling", "air drumming"], "x")


def test_eval_metrics_are_sklearns_and_the_cli_writes_them(dataset_root, checkpoint, tmp_path, capsys):
    result = evaluate(checkpoint, dataset_root, progress=False)  # the recipe's split and 2 clips x 3 crops
    assert (result.split, result.num_clips, result.num_crops, len(result.paths)) == ("test", 2, 3, 6)
    labels = [MODEL_CLASSES[label] for label in result.labels]
    assert labels == [Path(p).parent.name for p in result.paths]

    out = tmp_path / "eval.json"
    with pytest.raises(SystemExit) as exit_info:  # the CLI, in this process
        main(["eval", str(checkpoint), str(dataset_root), "--json", str(out), "--per-video"])
    assert exit_info.value.code == 0
    stdout = capsys.readouterr().out
    assert "top-1" in stdout and "mean class accuracy" in stdout and "2 clips x 3 crops" in stdout
    report = json.loads(out.read_text())
    assert report["metrics"] == result.to_json()["metrics"]

    # the same metrics from sklearn, on the scores of the API run
    y, scores, k = result.labels, result.scores, len(MODEL_CLASSES)
    predicted = scores.argmax(axis=1)
    metrics = report["metrics"]
    assert metrics["num_samples"] == 6
    assert metrics["top1"] == pytest.approx(top_k_accuracy_score(y, scores, k=1, labels=range(k)))
    assert metrics["top5"] == pytest.approx(top_k_accuracy_score(y, scores, k=5, labels=range(k)))
    assert metrics["mean_class_acc"] == pytest.approx(balanced_accuracy_score(y, predicted))
    assert metrics["confusion_matrix"] == confusion_matrix(y, predicted, labels=range(k)).tolist()
    for name, accuracy in metrics["per_class_acc"].items():
        rows = y == MODEL_CLASSES.index(name)
        assert accuracy == (pytest.approx(float(np.mean(predicted[rows] == y[rows]))) if rows.any() else None)

    videos = report["videos"]
    assert [v["path"] for v in videos] == result.paths
    for video, row in zip(videos, scores, strict=True):
        assert video["prediction"] == MODEL_CLASSES[int(row.argmax())]
        assert [t["score"] for t in video["top"]] == pytest.approx(sorted(row, reverse=True)[:5])

    with pytest.raises(ConfigError, match="the number of crops must be 1 or 3"):
        evaluate(checkpoint, dataset_root, num_crops=2)


def test_unreadable_videos_are_left_out_and_listed(dataset_root, checkpoint, tmp_path):
    for name in ("alpha", "beta"):
        (tmp_path / name).mkdir()
        shutil.copy(dataset_root / "test" / name / f"{name}_0.mp4", tmp_path / name)
    broken = tmp_path / "beta" / "broken.mp4"
    broken.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, np.uint8).tobytes())
    with pytest.warns(UserWarning, match="1 of 3 videos are unreadable"):
        result = evaluate(checkpoint, tmp_path, split="", num_clips=1, num_crops=1, progress=False)
    assert [Path(p).name for p in result.paths] == ["alpha_0.mp4", "beta_0.mp4"]
    assert result.metrics["num_samples"] == 2 and result.split is None
    assert [(Path(p).name, "invalid data" in reason) for p, reason in result.failed] == [("broken.mp4", True)]
    assert result.to_json()["failed"][0]["path"] == str(broken)


def test_cli_eval_bad_input_one_line_exit_2(dataset_root, checkpoint, tmp_path):
    not_vidact = tmp_path / "weights.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, not_vidact)
    unknown = tmp_path / "unknown"
    for name in ("alpha", "yoga"):
        (unknown / name).mkdir(parents=True)
        shutil.copy(dataset_root / "test" / "alpha" / "alpha_0.mp4", unknown / name / "v.mp4")
    out = tmp_path / "never.json"
    cases = {
        "no such file or run directory": (tmp_path / "missing.ckpt", dataset_root),
        "not a vidact checkpoint": (not_vidact, dataset_root),
        "class 'yoga' is not one of the model's 6 classes": (checkpoint, unknown, "--split", ""),
    }
    runs = {  # `python -m vidact.cli`, one process per case, all at once
        phrase: subprocess.Popen(
            [sys.executable, "-m", "vidact.cli", "eval", *map(str, args), "--json", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for phrase, args in cases.items()
    }
    for phrase, process in runs.items():
        stdout, stderr = process.communicate(timeout=120)
        lines = stderr.strip().splitlines()
        assert process.returncode == 2, stderr
        assert len(lines) == 1 and lines[0].startswith("error: ") and phrase in lines[0], stderr
        assert stdout == ""
    assert not out.exists()
