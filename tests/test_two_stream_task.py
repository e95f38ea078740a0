"""The ``two_stream`` task end to end: a tiny pair (and a temporal stream alone) trained for one epoch on flow
folders of synthetic videos, its checkpoint's input spec, ``load_model``, ``vidact eval`` on the folders and
``vidact predict`` on the raw videos.

The flow folders are ``vidact extract flow``'s, with the flow method and bound the run names and lossless PNGs,
so that two independent oracles apply: evaluation's scores equal the model on inputs built by hand from the PNG
files, and prediction on the raw video (flow computed on the fly, quantised with the run's bound) gives the
very same scores as evaluation on its folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vidact.data.flow import FlowPreset, RgbFlowPreset
from vidact.data.inputs import input_from_dict
from vidact.data.synth import synthesize
from vidact.engine.checkpoint import load_checkpoint
from vidact.engine.config import load_config
from vidact.engine.evaluate import evaluate
from vidact.engine.load import load_model
from vidact.engine.tasks import build_task
from vidact.engine.tasks.two_stream import flow_spec
from vidact.engine.train import train
from vidact.errors import ConfigError, VideoError
from vidact.extract import extract
from vidact.extract.flow import FlowExtractor
from vidact.infer.predict import load_predictor, predict_video
from vidact.io import VideoReader
from vidact.io.writer import write_video

FRAMES, SEGMENTS, LENGTH, SIZE, CROP = 10, 3, 2, 32, 28
METHOD, BOUND = "dis_ultrafast", 20.0
MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])  # data.normalize: imagenet
PAIR, FLOW = "two_stream_resnet18", "two_stream_flow_resnet18"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(videos, flow folders): the slide pair, 2 training and 1 validation video per class, 10 frames of 32x32;
    ``vidact extract flow`` mirrors the videos (``train/<class>/<video>/``) with flow_x_ and flow_y_ PNGs, and
    the test adds the frames as img_ PNGs (the extractor's ``rgb`` frames are JPEGs: not bit-exact)."""
    videos = tmp_path_factory.mktemp("videos")
    synthesize(
        videos,
        "temporal",
        videos_per_class={"train": 2, "val": 1},
        size=SIZE,
        frames=FRAMES,
        pairs=["slide"],
        workers=0,
        progress=False,
        overwrite=True,
    )
    flow_root = tmp_path_factory.mktemp("flow")
    report = extract(
        FlowExtractor(method=METHOD, bound=BOUND, format="png"), videos, flow_root, progress=False
    )
    assert not report.failed, report.failed
    for video in sorted(videos.glob("*/*/*.mp4")):  # the RGB frames as decoded, losslessly
        folder = flow_root / video.relative_to(videos).with_suffix("")
        for i, frame in enumerate(VideoReader(video).get_frames(range(FRAMES)).numpy()):
            Image.fromarray(frame).save(folder / f"img_{i + 1:05d}.png")
    return videos, flow_root


def _recipe(flow_root: Path, model: str, *overrides: str):
    return load_config(
        None,
        [
            "task=two_stream",
            f"task.kwargs={{method: {METHOD}, bound: {BOUND}}}",
            f"model.name={model}",
            f"model.kwargs={{length: {LENGTH}}}",
            f"data.root={flow_root}",
            "data.sampler=segments",
            f"data.clip_len={SEGMENTS}",
            f"data.short_side={SIZE}",
            f"data.crop_size={CROP}",
            "data.flip_p=0",
            "data.batch_size=2",
            "data.num_workers=0",
            "train.epochs=1",
            "train.num_threads=1",
            "train.precision=32",
            "train.optimizer=adamw",
            "train.lr=0.0001",  # a step that keeps the scores away from 0 and 1, where inputs stop mattering
            "eval.num_clips=1",
            "eval.num_crops=1",
            "eval.split=val",
            *overrides,
        ],
    )


@pytest.fixture(scope="module", params=[PAIR, FLOW])
def run(request: pytest.FixtureRequest, data: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):
    """(model name, recipe, run directory) of one epoch of the pair or of the temporal stream alone."""
    cfg = _recipe(data[1], request.param)
    run_dir = tmp_path_factory.mktemp("run") / request.param
    train(cfg, run_dir, progress=False)
    return request.param, cfg, run_dir


def test_the_checkpoint_stores_the_flow_spec_and_load_model_rebuilds_the_run(run) -> None:
    name, cfg, run_dir = run
    spec = flow_spec(cfg)
    flow = spec.flow if name == PAIR else spec
    assert isinstance(spec, RgbFlowPreset if name == PAIR else FlowPreset)
    assert (flow.segments, flow.length, flow.crop_size, flow.short_side) == (SEGMENTS, LENGTH, CROP, SIZE)
    assert (flow.method, flow.bound) == (METHOD, BOUND)
    ckpt, _ = load_checkpoint(run_dir)
    assert ckpt["task"] == "two_stream" and ckpt["input"] == spec.to_dict()
    assert input_from_dict(json.loads((run_dir / "metrics.json").read_text())["input"]) == spec
    loaded = load_model(run_dir)
    assert loaded.spec == spec and loaded.task == "two_stream" and loaded.name == name
    assert loaded.classes == ["moving_left_to_right", "moving_right_to_left"]
    net = loaded.module
    assert getattr(net, "flow", net).length == LENGTH  # the temporal stream's L is the spec's


def _hand_made_input(folder: Path, name: str) -> torch.Tensor | dict[str, torch.Tensor]:
    """The input of one folder's single centred view, read from its PNGs with PIL and numpy alone: 9 fields in
    3 segments [0, 3), [3, 6), [6, 9) of room 1 -> snippets at 1, 4, 7 (TSN's centre, (room + 1) // 2); the
    32x32 images centre-cropped to 28 (offset 2); flow q / 127.5 - 1; RGB ImageNet-normalised."""
    fields, frames, box = [1, 2, 4, 5, 7, 8], [1, 4, 7], slice(2, 2 + CROP)

    def png(stem: str, index: int) -> np.ndarray:
        return np.asarray(Image.open(folder / f"{stem}{index + 1:05d}.png"), dtype=np.float64)[box, box]

    flow = np.stack([[png(f"flow_{axis}_", i) for i in fields] for axis in "xy"]) / 127.5 - 1  # [2, 6, h, w]
    x = torch.tensor(flow, dtype=torch.float32)[None]
    if name == FLOW:
        return x
    rgb = np.stack([png("img_", i) for i in frames]) / 255  # [3 frames, h, w, 3 channels]
    rgb = ((rgb - MEAN) / STD).transpose(3, 0, 1, 2)  # [3 channels, 3 frames, h, w]
    return {"video": torch.tensor(rgb, dtype=torch.float32)[None], "flow": x}


def test_eval_scores_the_folders_as_the_hand_made_input_does(run, data) -> None:
    name, _, run_dir = run
    result = evaluate(run_dir, data[1], progress=False)  # the recipe's split and views: val, 1 x 1
    assert (result.split, result.num_clips, result.num_crops) == ("val", 1, 1)
    assert len(result.paths) == 2 and result.scores.shape == (2, 2) and not result.failed
    assert (result.scores > 0.01).all(), "saturated scores: the comparisons below would not see the input"
    model = load_model(run_dir).module
    for path, scores in zip(result.paths, result.scores, strict=True):
        with torch.no_grad():
            expected = model(_hand_made_input(Path(path), name)).softmax(dim=-1)[0].numpy()
        np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-5)
    views = evaluate(run_dir, data[1], num_clips=2, num_crops=3, progress=False)
    assert (views.num_clips, views.num_crops) == (2, 3) and views.scores.shape == (2, 2)


def test_predict_computes_the_flow_the_folders_hold(run, data) -> None:
    """One window over a whole raw video takes the centred snippets of all its fields, as evaluation does on
    the video's folder: decoding, the run's flow method and bound, the crops and (for a pair) the RGB frames
    in lock-step must agree for the scores to be the same."""
    name, _, run_dir = run
    videos, flow_root = data
    result = evaluate(run_dir, flow_root, progress=False)
    predictor = load_predictor(run_dir)
    assert predictor.spec.modality == ("rgb+flow" if name == PAIR else "flow")
    for path, scores in zip(result.paths, result.scores, strict=True):
        video = videos / Path(path).relative_to(flow_root).with_suffix(".mp4")
        whole = predict_video(predictor, video, window=60.0, stride=60.0)
        assert whole.windows.shape == (1, 2)
        np.testing.assert_allclose(whole.scores, scores, rtol=0, atol=1e-5)
    timeline = predict_video(predictor, video, window=0.5, stride=0.25)  # 8 fps: windows of 4 frames
    assert len(timeline.windows) > 3 and np.isfinite(timeline.window_scores).all()
    assert timeline.peak_frames < 2 * (FRAMES - 1)  # fields and frames dropped once their windows are scored


def test_a_one_frame_video_has_no_flow_to_predict_from(run, tmp_path: Path) -> None:
    video = write_video(tmp_path / "still.mp4", np.zeros((1, SIZE, SIZE, 3), np.uint8), fps=8)
    with pytest.raises(VideoError, match="still.mp4: has 1 frame: optical flow needs two"):
        predict_video(load_predictor(run[2]), video)


# -- the task's recipe checks and mixup ------------------------------------------------------------------------------
def test_the_input_key_follows_the_model_and_bad_recipes_fail_before_any_data(data) -> None:
    flow_root = data[1]
    assert build_task(_recipe(flow_root, FLOW)).input_key == "flow"
    assert build_task(_recipe(flow_root, PAIR)).input_key == ("video", "flow")
    assert build_task(load_config(None)).input_key == "video"  # classification of clips
    with pytest.raises(ConfigError, match="simple3d is a video model; choose a flow or rgb\\+flow model"):
        build_task(_recipe(flow_root, "simple3d", "model.kwargs={}"))
    with pytest.raises(ConfigError, match="data.sampler must be 'segments'"):
        build_task(_recipe(flow_root, FLOW, "data.sampler=random"))
    with pytest.raises(ConfigError, match="unknown flow method 'tvl2'"):
        build_task(_recipe(flow_root, FLOW, "task.kwargs.method=tvl2"))
    with pytest.raises(ConfigError, match="bound must be a positive number"):
        build_task(_recipe(flow_root, FLOW, "task.kwargs.bound=0"))


def test_mixup_blends_both_streams_with_one_weight_and_pairing(data) -> None:
    """With the same clips under "video" and "flow", a step's mixed inputs must still be equal: one Beta draw and
    one permutation for both; and they are mixed (the batch has two distinct clips)."""
    task = build_task(_recipe(data[1], PAIR, "train.mixup_alpha=1.0"))
    task.classes = ["a", "b"]
    clips = torch.stack([torch.zeros(3, 3, 4, 4), torch.ones(3, 3, 4, 4)])
    seen = {}

    def model(x: dict[str, torch.Tensor]) -> torch.Tensor:
        seen.update(x)
        return torch.zeros(2, 2, requires_grad=True)

    rng = np.random.default_rng(3)  # one whose draw pairs the two clips (the last assertion checks it)
    task.training_step(model, {"video": clips, "flow": clips.clone(), "label": torch.tensor([0, 1])}, rng)
    assert torch.equal(seen["video"], seen["flow"])
    assert not torch.equal(seen["video"], clips)
