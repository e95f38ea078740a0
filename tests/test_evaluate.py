"""Multi-view evaluation: views reach the model as clips x crops, in frame order, resized and cropped where the
recipe says; video scores are the hand-computed averages of the views' scores; the metrics are sklearn's, classes
match by name, and bad input is a one-line error.

The oracle makes every view without vidact's sampling or transforms: it decodes the video at its native size
(32x48), takes the clips by the documented rule (starts evenly spaced, rounded), resizes the frames with PIL so
their short side is ``short_side`` (20: a real resize, to 20x30) and cuts the crops by slicing. The model is
:class:`LinearOracle`, fixed random linear read-outs of the whole clip, so its logits change when frames are
reordered, a crop is mirrored or moved, or the frames are scaled differently (a model that averages each colour
channel cannot tell a reversed, mirrored view from the right one). Its logits are recomputed in numpy from the
oracle's views and the video scores averaged by hand.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, top_k_accuracy_score
from torch import nn

import vidact.engine.evaluate as evaluate_module
from vidact.cli import main
from vidact.data.datasets import build_dataset
from vidact.data.presets import Preset
from vidact.data.sampling import SegmentViews, segment_indices
from vidact.data.transforms import NORMALIZATIONS
from vidact.engine.checkpoint import atomic_save, make_checkpoint
from vidact.engine.config import Config, recipe_normalization
from vidact.engine.evaluate import (
    average_views,
    evaluate,
    evaluate_model,
    match_classes,
    recipe_preset,
    views_sampler,
)
from vidact.engine.tasks import video_datasets
from vidact.errors import ConfigError, DatasetError
from vidact.io import VideoReader
from vidact.io.writer import write_video
from vidact.models import build_model, model_card

H, W, FPS = 32, 48, 12.0
DATASET_CLASSES = ("alpha", "beta", "gamma")
# The model knows more classes than the dataset has, in another order: labels must be matched by name.
MODEL_CLASSES = ["delta", "gamma", "epsilon", "alpha", "zeta", "beta"]
# Frames are resized from 32x48 to 20x30 (short side 20), then cropped to 16x16: the centre crop is at (2, 7),
# the three crops at left 0, 7 and 14.
SPEC = dict(frames=4, frame_stride=2, short_side=20, crop_size=16)
RECIPE = dict(
    clip_len=4, stride=2, short_side=20, crop_size=16
)  # the same, as a recipe's data section says it
IMAGENET = dict(mean=NORMALIZATIONS["imagenet"][0], std=NORMALIZATIONS["imagenet"][1])
# Resizing while decoding (swscale, from YUV) and PIL's resize of the decoded RGB frames differ by up to ~3 grey
# levels on average over a view of these videos; a view not resized, reversed or mirrored is off by 12 or more.
DECODER_RESIZE_TOLERANCE = 5.0


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """One intra-op thread: the small forward passes here run fastest so, and do not stall on busy cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _video(phase: float, num_frames: int) -> np.ndarray:
    """Smooth frames [N, H, W, 3] that change over time (a red wave moving right, green brightening) and differ
    left to right and top to bottom, so a view taken in reverse, mirrored, moved or scaled differently is off by
    tens of levels. Low spatial frequencies keep bilinear resizers within a few levels of each other."""
    t = np.arange(num_frames)[:, None, None] / num_frames
    y = np.arange(H)[None, :, None] / H
    x = np.arange(W)[None, None, :] / W
    red = 128 + 90 * np.sin(2 * np.pi * (x + t + phase))
    green = 30 + 120 * y + 80 * t
    blue = 20 + 200 * x * (1 - y)
    return np.rint(np.stack(np.broadcast_arrays(red, green, blue), axis=-1)).astype(np.uint8)


@pytest.fixture(scope="module")
def dataset_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eval_data")
    for c, name in enumerate(DATASET_CLASSES):
        for i, num_frames in enumerate((20, 27)):
            path = root / "test" / name / f"{name}_{i}.mp4"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_video(path, _video((2 * c + i) / 6, num_frames), FPS)
    return root


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    cfg = Config()
    for key, value in RECIPE.items():
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


# -- the oracle ----------------------------------------------------------------------------------------------
def _oracle_weights(spec: Preset) -> np.ndarray:
    """[6, 3, T, crop, crop] float64: six fixed random read-outs of a clip, scaled so the logits are about 1."""
    shape = (len(MODEL_CLASSES), 3, spec.clip_len, spec.crop_size, spec.crop_size)
    return np.random.default_rng(0).standard_normal(shape) / np.sqrt(np.prod(shape[1:]))


class LinearOracle(nn.Module):
    """Logits [N, 6] = ``weights`` . clip, for clips [N, 3, T, h, w]; records the clips it is given."""

    def __init__(self, weights: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("weights", torch.from_numpy(weights))
        self.inputs: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.inputs.append(x.detach().cpu().clone())
        return torch.einsum("nctyx,kctyx->nk", x.double(), self.weights).float()


def _normalise(views: np.ndarray, spec: Preset) -> np.ndarray:
    """uint8 views [..., T, h, w, 3] -> float64 model input [..., 3, T, h, w], scaled and normalised by hand."""
    x = (views.astype(np.float64) / 255 - np.array(spec.mean)) / np.array(spec.std)
    return np.moveaxis(x, -1, -4)


def _levels(x: np.ndarray, spec: Preset) -> np.ndarray:
    """Model input [..., 3, T, h, w] back to grey levels [..., T, h, w, 3] (0-255), undoing :func:`_normalise`."""
    return (np.moveaxis(x, -4, -1) * np.array(spec.std) + np.array(spec.mean)) * 255


def _oracle_logits(views: np.ndarray, spec: Preset, weights: np.ndarray) -> np.ndarray:
    """The logits [V, 6] :class:`LinearOracle` gives views [V, T, h, w, 3] uint8, computed in numpy."""
    return np.einsum("vctyx,kctyx->vk", _normalise(views, spec), weights)


def _oracle_views(path: str, spec: Preset, num_clips: int, num_crops: int) -> np.ndarray:
    """The views [clips x crops, T, crop, crop, 3] uint8 of one video, clip-major, made without vidact's samplers
    and transforms: the native frames; clip k starts at round(k * (N - span) / (K - 1)) and takes every
    ``stride``-th frame; PIL's bilinear resize to the short side (the long side truncated, 48 * 20 / 32 = 30);
    crops by slicing, at the left, centre and right of the long side (or the centre alone)."""
    with VideoReader(path) as reader:
        frames = reader.get_frames(np.arange(len(reader))).numpy()  # [N, 32, 48, 3]: native size
    num_frames, height, width = frames.shape[:3]
    h, w = spec.short_side, width * spec.short_side // height
    assert (h, w) != (height, width)  # a real resize
    resized = np.stack([np.asarray(Image.fromarray(f).resize((w, h), Image.BILINEAR)) for f in frames])
    room = num_frames - (spec.clip_len - 1) * spec.stride - 1
    starts = np.round(np.arange(num_clips) * room / (num_clips - 1)) if num_clips > 1 else [room // 2]
    size = spec.crop_size
    top, centre = (h - size) // 2, (w - size) // 2
    lefts = (0, centre, w - size) if num_crops == 3 else (centre,)
    return np.stack(
        [
            resized[int(start) + spec.stride * np.arange(spec.clip_len), top : top + size, left : left + size]
            for start in starts
            for left in lefts
        ]
    )


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _average(logits: np.ndarray, average: str) -> np.ndarray:
    """A video's scores from its views' logits [V, K], by hand: mean softmax, or softmax of the mean logits."""
    return _softmax(logits.mean(axis=0)) if average == "logits" else _softmax(logits).mean(axis=0)


def test_average_views_by_hand():
    logits = torch.randn(2, 5, 4, generator=torch.Generator().manual_seed(0))
    z = logits.numpy().astype(np.float64)
    probs = average_views(logits, "softmax").numpy()
    np.testing.assert_allclose(probs, _softmax(z).mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(average_views(logits, "logits").numpy(), _softmax(z.mean(axis=1)), rtol=1e-6)
    assert not np.allclose(probs, _softmax(z.mean(axis=1)), atol=1e-3)  # the two protocols differ
    with pytest.raises(ConfigError, match="unknown average"):
        average_views(logits, "max")  # type: ignore[arg-type]


def test_the_oracle_tells_views_apart(dataset_root):
    """The checks below can fail: a view reversed in time, mirrored, or cut from frames that were not resized
    moves the oracle's scores by far more than their tolerance (1e-5) and is off by far more grey levels than
    the decoder's resize is allowed."""
    spec = Preset(**SPEC, **IMAGENET)
    weights = _oracle_weights(spec)
    for path in sorted(map(str, dataset_root.rglob("*.mp4"))):
        (view,) = _oracle_views(path, spec, num_clips=1, num_crops=1)  # [T, 16, 16, 3]: the middle clip
        with VideoReader(path) as reader:
            frames = reader.get_frames(np.arange(len(reader))).numpy()
        first = (len(frames) - (spec.clip_len - 1) * spec.stride - 1) // 2
        size = spec.crop_size
        top, left = (H - size) // 2, (W - size) // 2  # the centre crop of the native 32x48 frames
        not_resized = frames[first : first + spec.span : spec.stride, top : top + size, left : left + size]
        scores = _softmax(_oracle_logits(view[None], spec, weights))
        for what, wrong in (
            ("reversed", view[::-1]),
            ("mirrored", view[:, :, ::-1]),
            ("not resized", not_resized),
        ):
            wrong_scores = _softmax(_oracle_logits(wrong[None], spec, weights))
            assert np.abs(wrong_scores - scores).max() > 1e-2, (path, what)
            assert np.abs(wrong.astype(float) - view).mean() > 2 * DECODER_RESIZE_TOLERANCE, (path, what)


@pytest.mark.parametrize(("num_crops", "average"), [(3, "softmax"), (1, "logits")])
def test_video_scores_are_the_average_of_their_views(dataset_root, num_crops, average):
    """evaluate_model on a dataset decoded at native size, so the transform does the resize: every view is the
    oracle's to a level, and every video's scores are the hand-averaged scores of the oracle's views."""
    num_clips, batch_size = 3, 4
    spec = Preset(**SPEC, **IMAGENET)
    dataset = build_dataset(
        "folder",
        dataset_root,
        "test",
        sampler=views_sampler(spec, num_clips),
        transform=spec.eval_transform("three" if num_crops == 3 else "center"),
    )
    weights = _oracle_weights(spec)
    model = LinearOracle(weights)
    classes = [*DATASET_CLASSES, "not alpha", "not beta", "not gamma"]
    result = evaluate_model(model, dataset, classes, average=average, batch_size=batch_size, progress=False)

    # the views reached the model as batches of (videos x clips x crops) clips
    views = num_clips * num_crops
    assert [len(x) for x in model.inputs] == [batch_size * views, (len(dataset) - batch_size) * views]
    assert all(x.shape[1:] == (3, spec.clip_len, spec.crop_size, spec.crop_size) for x in model.inputs)
    assert (result.num_clips, result.num_crops) == (num_clips, num_crops)
    view_shape = (spec.clip_len, spec.crop_size, spec.crop_size, 3)
    assert result.paths == [p for p, _ in dataset.samples]

    inputs = _levels(torch.cat(model.inputs).double().numpy(), spec).reshape(len(dataset), views, *view_shape)
    for path, got, scores in zip(result.paths, inputs, result.scores, strict=True):
        expected = _oracle_views(path, spec, num_clips, num_crops)
        for v, (got_view, want_view) in enumerate(zip(got, expected, strict=True)):
            error = np.abs(got_view - want_view).max()  # PIL's and torchvision's resize agree to a level
            assert error < 1.01, (
                f"{path}: view {v} (clip {v // num_crops}, crop {v % num_crops}) off by {error:.0f} levels"
            )
        np.testing.assert_allclose(
            scores, _average(_oracle_logits(expected, spec, weights), average), atol=1e-5
        )


def test_evaluate_makes_the_recipes_views(dataset_root, checkpoint, monkeypatch):
    """evaluate() builds the views from the checkpoint's recipe (clip length, stride, short side, crop size,
    normalisation; 2 clips x 3 crops) and resizes while decoding: with the oracle in place of the checkpoint's
    model, every view is the oracle's to within the few levels by which the decoder's bilinear resize (swscale,
    checked against torchvision's in test_io.py) differs from PIL's, and every video's scores are the
    hand-averaged scores of its views."""
    spec = Preset(**SPEC, **IMAGENET)  # what the checkpoint's recipe says
    weights = _oracle_weights(spec)
    model = LinearOracle(weights)
    load_model = evaluate_module.load_model
    monkeypatch.setattr(
        evaluate_module,
        "load_model",
        lambda *args, **kwargs: dataclasses.replace(load_model(*args, **kwargs), module=model),
    )
    result = evaluate(checkpoint, dataset_root, progress=False)

    assert (result.num_clips, result.num_crops, len(result.paths)) == (2, 3, 6)
    inputs = torch.cat(model.inputs).double().numpy()
    assert inputs.shape == (6 * 2 * 3, 3, spec.clip_len, spec.crop_size, spec.crop_size)
    inputs = inputs.reshape(6, 2 * 3, *inputs.shape[1:])
    for path, got, scores in zip(result.paths, inputs, result.scores, strict=True):
        expected = _oracle_views(path, spec, num_clips=2, num_crops=3)
        for v, (got_view, want_view) in enumerate(zip(_levels(got, spec), expected, strict=True)):
            error = np.abs(got_view - want_view).mean()
            assert error < DECODER_RESIZE_TOLERANCE, (
                f"{path}: view {v} (clip {v // 3}, crop {v % 3}) off by {error:.1f} levels on average"
            )
        logits = np.einsum("vctyx,kctyx->vk", got, weights)  # the oracle's logits of the views it was given
        np.testing.assert_allclose(scores, _average(logits, "softmax"), rtol=1e-5, atol=1e-6)


def test_segment_views():
    rng = np.random.default_rng(0)
    for num_frames in (5, 8, 37, 300):
        np.testing.assert_array_equal(SegmentViews(8, 1)(num_frames, rng)[0], segment_indices(num_frames, 8))
    views = SegmentViews(4, 3)(120, rng)  # parts of 30 frames; views at 1/6, 3/6, 5/6 of each part
    np.testing.assert_array_equal(views, [[5, 35, 65, 95], [15, 45, 75, 105], [25, 55, 85, 115]])


def test_presets_from_cards_and_recipes():
    r2plus1d = model_card("r2plus1d_18").default_preset()  # its published weights' preset: torchvision's
    assert (r2plus1d.clip_len, r2plus1d.stride, r2plus1d.resize, r2plus1d.crop_size) == (
        16,
        2,
        (128, 171),
        112,
    )
    assert r2plus1d.mean == (0.43216, 0.394666, 0.37645) and r2plus1d.decode_short_side is None
    assert model_card("slowfast_r50").default_preset().mean == NORMALIZATIONS["kinetics"][0]
    i3d = model_card("i3d_inception_v1").default_preset()  # inputs in [-1, 1]: (x - 0.5) / 0.5 on [0, 1]
    assert (i3d.normalization(), i3d.short_side, i3d.fps) == (((0.5,), (0.5,)), 256, 25.0)
    simple3d = model_card("simple3d").default_preset()  # no weights: 8/7 of the crop, Kinetics statistics
    assert (simple3d.short_side, simple3d.crop_size, simple3d.frames) == (128, 112, 16)

    recipe = {"data": {"clip_len": 8, "normalize": None, "sampler": "segments"}}
    spec = recipe_preset(recipe)  # missing keys take DataConfig's defaults, as in training
    assert (spec.clip_len, spec.stride, spec.short_side, spec.crop_size) == (8, 2, 128, 112)
    assert (spec.mean, spec.std, spec.segments) == ((0.0,), (1.0,), True)
    assert (spec.num_clips, spec.num_crops) == (10, 3)  # EvalConfig's defaults
    assert isinstance(views_sampler(spec, 2), SegmentViews)
    with pytest.raises(ConfigError, match="unknown normalization"):
        recipe_preset({"data": {"normalize": "cifar"}})


def test_normalize_pretrained_is_the_published_weights_own(dataset_root: Path):
    """``data.normalize: pretrained`` fine-tunes on the input the weights were trained on: torchvision's Kinetics
    statistics for its R(2+1)D (not the rounded ``kinetics`` preset), I3D's [-1, 1] range, in the training
    datasets and in a run's evaluation preset alike."""
    tv_mean, tv_std = (0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)
    model = {"name": "r2plus1d_18", "pretrained": "r2plus1d_18.kinetics400"}
    assert recipe_normalization({"normalize": "pretrained"}, model) == (tv_mean, tv_std)
    i3d = {"name": "i3d_inception_v1", "pretrained": "i3d_inception_v1.kinetics400_imagenet"}
    assert recipe_normalization({"normalize": "pretrained"}, i3d) == ((0.5,), (0.5,))
    spec = recipe_preset({"data": {"normalize": "pretrained"}, "model": model})
    assert (spec.mean, spec.std) == (tv_mean, tv_std)

    cfg = Config()
    cfg.data.root, cfg.data.train_split, cfg.data.val_split = str(dataset_root), "test", "test"
    cfg.data.short_side, cfg.data.crop_size, cfg.data.clip_len = 32, 32, 4
    cfg.model.name, cfg.model.pretrained = model["name"], model["pretrained"]
    cfg.data.normalize = None
    _, raw = video_datasets(cfg.data, seed=0, validate=True, progress=False, model=cfg.model)
    cfg.data.normalize = "pretrained"
    _, normalized = video_datasets(cfg.data, seed=0, validate=True, progress=False, model=cfg.model)
    x, y = raw[1]["video"], normalized[1]["video"]  # [3, T, H, W]
    expected = (x - torch.tensor(tv_mean).view(3, 1, 1, 1)) / torch.tensor(tv_std).view(3, 1, 1, 1)
    torch.testing.assert_close(y, expected, atol=1e-5, rtol=1e-5)

    for bad, message in [
        ({"normalize": "pretrained"}, "model.pretrained is None, not a catalogue name"),
        ({"normalize": "cifar"}, "unknown normalization 'cifar'"),
    ]:
        with pytest.raises(ConfigError, match=message):
            recipe_normalization(bad, {"name": "simple3d", "pretrained": None})
    skeleton = {"name": "stgcnpp_hand", "pretrained": "stgcnpp_hand.hagrid"}
    with pytest.raises(ConfigError, match="not an RGB mean and std"):
        recipe_normalization({"normalize": "pretrained"}, skeleton)
    with pytest.raises(ConfigError, match=r"x\.yaml: data\.normalize: 'pretrained' takes the mean"):
        Config.from_dict(
            {"data": {"normalize": "pretrained"}, "model": {"pretrained": "runs/x/best.ckpt"}}, "x.yaml"
        )


def test_match_classes_by_name():
    mapping = match_classes(
        ["air_drumming", "Abseiling", "unused"], [0, 1], ["abseiling", "air drumming"], "x"
    )
    np.testing.assert_array_equal(mapping, [1, 0, -1])
    with pytest.raises(DatasetError, match="class 'yoga' is not one of the model's 2 classes"):
        match_classes(["yoga"], [0], ["abseiling", "air drumming"], "x")


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")  # an untrained model's guesses
def test_eval_metrics_are_sklearns_and_the_cli_writes_them(dataset_root, checkpoint, tmp_path, capsys):
    result = evaluate(checkpoint, dataset_root, progress=False)  # the recipe's split and 2 clips x 3 crops
    assert (result.split, result.num_clips, result.num_crops, len(result.paths)) == ("test", 2, 3, 6)
    labels = [MODEL_CLASSES[label] for label in result.labels]
    assert labels == [Path(p).parent.name for p in result.paths]

    out = tmp_path / "eval.json"
    with pytest.raises(SystemExit) as exit_info:  # the CLI, in this process
        # float32, as evaluate() above: the fast path (the command's default where bf16 is native) differs in bits
        main(
            [
                "eval",
                str(checkpoint),
                str(dataset_root),
                "--json",
                str(out),
                "--per-video",
                "--precision",
                "32",
            ]
        )
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
