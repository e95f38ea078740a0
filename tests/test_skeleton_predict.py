"""Real video -> real action through a skeleton: `vidact predict VIDEO --model efficientgcn_b0.ntu60` (MediaPipe
pose mapped into a Kinect camera, the NTU-60 model) and `--model stgcnpp_hand.hagrid` (MediaPipe hands, the
HaGRID gesture model), on the shared real clips, with no download."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from vidact.cli import main
from vidact.data.skeleton import save_pickle
from vidact.demo.showcase import ensure_shared_weights, find_real_clips, markdown_table
from vidact.infer.predict import load_predictor
from vidact.infer.skeleton import POSE_SHORT_SIDE, _most_active, motion_energy, pose_options, predict_skeleton
from vidact.io.writer import write_video
from vidact.pose import NoPoseWarning, extract_pose

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
NTU_CLIP = SHARED / "videos" / "ntu" / "S001C001P001R001A001_drink_water.avi"
ASL_YES = SHARED / "videos" / "asl" / "yes.mkv"


def _run(args: list[str]) -> None:
    """``vidact ARGS``, which must succeed."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code in (0, None)


@pytest.fixture
def weights() -> list[str]:
    """Both pretrained skeleton models in this test's private cache (hash-checked copies of the shared files)."""
    return ensure_shared_weights(SHARED)


@pytest.fixture(scope="module")
def ntu_pose(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The NTU clip's pose, extracted once, as `vidact predict` extracts it for the NTU-60 model."""
    from vidact.data.skeleton import SkeletonPreset

    preset = SkeletonPreset(layout="ntu25", frames=288, sampler="pad", persons=2, coords="world", channels=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        record = extract_pose(NTU_CLIP, short_side=POSE_SHORT_SIDE, **pose_options(preset))
    return save_pickle(record, tmp_path_factory.mktemp("pose") / "ntu.pose.pkl")


def test_the_ntu60_model_says_drink_water_on_the_real_ntu_clip(
    weights, ntu_pose: Path, tmp_path, capsys
) -> None:
    out, png = tmp_path / "p.json", tmp_path / "p.png"
    args = ["predict", str(NTU_CLIP), "--model", "efficientgcn_b0.ntu60", "--pose", str(ntu_pose)]
    _run([*args, "--json", str(out), "--plot", str(png)])
    result = json.loads(out.read_text())
    assert result["top"][0]["label"] == "drink water" and result["top"][0]["score"] > 0.5
    assert result["pose"] == {"layout": "ntu25", "frames": 103, "found_fraction": 1.0}
    assert len(result["timeline"]) == 3 and png.stat().st_size > 1000  # 3.4 s: windows of 2 s every 1 s
    assert "whole sequence" in capsys.readouterr().out


def test_the_hand_model_reads_the_moving_hand(weights, tmp_path) -> None:
    out = tmp_path / "yes.json"
    _run(["predict", str(ASL_YES), "--model", "stgcnpp_hand.hagrid", "--json", str(out), "--window", "1"])
    result = json.loads(out.read_text())
    # ASL "yes" is a nodding fist; the resting hand in view reads as "No Gesture"
    assert result["top"][0]["label"] == "Fist"
    assert result["pose"]["layout"] == "hand21"


def test_motion_energy_picks_the_hand_that_moves() -> None:
    t = np.arange(6, dtype=np.float32)
    keypoint = np.zeros((2, 6, 21, 2), dtype=np.float32)
    keypoint[0] = 0.5  # a resting hand, found in every frame
    keypoint[1, :, :, 0] = 0.1 * t[:, None]  # a hand moving 0.1 a frame, found in frames 2..5 only
    found = np.array([[True] * 6, [False, False, True, True, True, True]])
    keypoint[1, :2] = 0.0
    np.testing.assert_allclose(motion_energy(keypoint, found), [0.0, 0.1], atol=1e-6)
    chosen = _most_active({"keypoint": keypoint, "found": found, "keypoint_score": found[..., None] * 1.0}, 1)
    assert np.array_equal(chosen["keypoint"], keypoint[1:]) and chosen["found"].shape == (1, 6)


def test_a_pose_in_another_layout_or_for_a_video_model_is_one_line(weights, tmp_path, capsys) -> None:
    hands = {
        "keypoint": np.zeros((2, 4, 21, 2), np.float32),
        "keypoint_score": np.zeros((2, 4, 21), np.float32),
        "img_shape": (480, 640),
        "total_frames": 4,
        "label": -1,
        "frame_dir": "x",
        "layout": "hand21",
    }
    pose = save_pickle(hands, tmp_path / "hands.pkl")
    for model, message in [
        ("efficientgcn_b0.ntu60", "a pose in layout hand21, the model reads ntu25"),
        ("per_frame_efficientnet_lite0.imagenet", "--pose: not an option of video models"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            main(["predict", str(NTU_CLIP), "--model", model, "--pose", str(pose)])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and message in err and err.strip().count("\n") == 0, err


def test_a_video_without_anyone_says_so_instead_of_a_label(weights, tmp_path, capsys) -> None:
    """A still video with no person in it (an orange on a table once gave "shake head 0.25", exit 0): no label,
    one plain line saying no person was found, and the JSON says so with the share of frames with a pose (0)."""
    video = tmp_path / "orange.mp4"
    frames = np.full((20, 96, 128, 3), 90, dtype=np.uint8)
    yy, xx = np.mgrid[:96, :128]
    frames[:, (yy - 48) ** 2 + (xx - 64) ** 2 < 20**2] = (255, 140, 0)  # an orange
    write_video(video, frames, fps=10)
    predictor = load_predictor("efficientgcn_b0.ntu60")
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoPoseWarning)  # said once, by the prediction's note, not as a warning
        prediction = predict_skeleton(predictor, video)
    assert prediction.found_fraction == 0.0 and not prediction.has_answer and prediction.top() == []
    assert prediction.answered is not None and not prediction.answered.any()
    assert prediction.note is not None and "no person found in any of its 20 frames" in prediction.note
    doc = prediction.to_json()
    assert doc["top"] == [] and all(w["top"] == [] for w in doc["timeline"])
    assert doc["pose"]["found_fraction"] == 0.0 and "no person found" in doc["note"]

    out = tmp_path / "orange.json"
    _run(["predict", str(video), "--model", "efficientgcn_b0.ntu60", "--json", str(out)])
    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if "no person found" in line]
    assert len(lines) == 1 and "NoPoseWarning" not in captured.out + captured.err
    assert "whole sequence" not in captured.out  # no label table for the video
    assert json.loads(out.read_text())["top"] == []


def test_windows_without_a_pose_have_no_answer(weights) -> None:
    """A pose found only in the first second: the windows after it have no answer (NaN scores, empty JSON top),
    the video's scores are those of the frames with a pose, and the note counts the windows without one."""
    predictor = load_predictor("stgcnpp_hand.hagrid")
    rng = np.random.default_rng(0)
    total = 40  # 4 s at 10 fps
    keypoint = rng.uniform(100, 300, (2, total, 21, 2)).astype(np.float32)
    found = np.zeros((2, total), dtype=bool)
    found[0, :10] = True  # one hand, in the first second only
    keypoint[~found] = 0
    pose = {
        "keypoint": keypoint,
        "keypoint_score": found[..., None].repeat(21, -1).astype(np.float32),
        "found": found,
        "img_shape": (480, 640),
        "total_frames": total,
        "timestamps": np.arange(total) / 10.0,
        "label": -1,
        "frame_dir": "x",
        "layout": "hand21",
    }
    prediction = predict_skeleton(predictor, "x.mp4", pose=pose, window=1.0, stride=1.0)
    assert prediction.answered.tolist() == [True, False, False, False]
    assert np.isfinite(prediction.window_scores[0]).all() and np.isnan(prediction.window_scores[1:]).all()
    assert prediction.has_answer and prediction.note == (
        "3 of 4 windows have no hand (found in 25% of the frames): they have no answer"
    )
    timeline = prediction.to_json()["timeline"]
    assert timeline[0]["top"] and [w["top"] for w in timeline[1:]] == [[], [], []]


def test_the_real_clips_and_their_labels() -> None:
    clips = {c.path.name: c for c in find_real_clips(SHARED)}
    assert clips["S001C001P001R001A001_drink_water.avi"].truth == "drink water"
    assert (
        clips["tai_chi_2.mp4"].truth == "tai chi" and clips["tai_chi_2.mp4"].model == "efficientgcn_b0.ntu60"
    )
    assert clips["v_CricketShot_g04_c01_rgb.gif"].truth == "cricket shot"
    assert clips["yes.mkv"].model == "stgcnpp_hand.hagrid" and clips["yes.mkv"].truth == "yes"
    assert clips["pedestrians.avi"].truth is None
    assert (
        sum(c.dataset == "asl" for c in clips.values()) == 20
        and "v_CricketShot_g04_c01_flow.gif" not in clips
    )
    row = {
        "video": "x/yes.mkv",
        "dataset": "asl",
        "truth": "yes",
        "model": "stgcnpp_hand.hagrid",
        "top": [{"label": "Fist", "score": 0.88}],
        "found_fraction": 1.0,
        "frames": 65,
    }
    assert "| asl/yes.mkv | yes | stgcnpp_hand.hagrid | Fist 0.88 | 100% of 65 |" in markdown_table([row])


# -- a pad model's whole-video score ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pad_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A skeleton run (untrained): the per-frame MLP on NTU-25 world joints, one person, 16 frames of a
    sequence zero-padded to 20 (the ``pad`` sampler)."""
    import torch

    from vidact.engine.checkpoint import atomic_save, make_checkpoint
    from vidact.engine.config import Config
    from vidact.models import build_model

    torch.manual_seed(0)
    kwargs = {"dim": 16, "depth": 1, "dropout": 0.0}
    model = build_model("skeleton_frame_mlp", num_classes=3, **kwargs)
    config = Config.from_dict(
        {
            "data": {"clip_len": 16},
            "model": {"name": "skeleton_frame_mlp", "kwargs": kwargs},
            "task": {
                "name": "skeleton",
                "kwargs": {"persons": 1, "coords": "world", "sampler": "pad", "pad_to": 20},
            },
        }
    )
    path = tmp_path_factory.mktemp("pad_run") / "pad.ckpt"
    checkpoint = make_checkpoint(
        model,
        model_name="skeleton_frame_mlp",
        model_kwargs=kwargs,
        classes=["a", "b", "c"],
        config=config.to_dict(),
        task="skeleton",
    )
    atomic_save(checkpoint, path)
    return path


def _pose_at_10_fps(frames: int) -> dict:
    """A pose record of one person, NTU-25 world joints [1, T, 25, 3] that drift over time, at 10 fps."""
    rng = np.random.default_rng(frames)
    world = rng.normal(size=(1, frames, 25, 3)) + np.linspace(-3.0, 3.0, frames)[None, :, None, None]
    return {
        "keypoint": np.zeros((1, frames, 25, 2), np.float32),
        "keypoint_score": np.ones((1, frames, 25), np.float32),
        "keypoint_world": world.astype(np.float32),
        "found": np.ones((1, frames), bool),
        "img_shape": (480, 640),
        "total_frames": frames,
        "label": -1,
        "frame_dir": "drift",
        "layout": "ntu25",
        "fps": 10.0,
        "timestamps": np.arange(frames) / 10.0,
    }


def _softmax_of(model, frames: np.ndarray) -> np.ndarray:
    """The model's softmax [K] of one person's joints [T, 25, 3], zero-padded (or cut) to the 16 frames it
    reads, as its input [1, 1, 16, 25, 3]."""
    import torch

    x = np.zeros((1, 1, 16, 25, 3), np.float32)
    kept = min(16, len(frames))
    x[0, 0, :kept] = frames[:kept]
    with torch.no_grad():
        return model(torch.from_numpy(x)).softmax(-1)[0].numpy()


@pytest.mark.parametrize(
    ("frames", "window", "stride", "windows", "whole"),
    [
        # 3.5 s, longer than the 20 frames a sequence is padded to: the mean of its windows
        (35, 2.0, 1.0, [[0.0, 2.0], [1.0, 3.0], [1.5, 3.5]], False),
        # 1.8 s, longer than the 16 frames seen but within the 20: the model on the whole sequence
        (18, 1.0, 0.5, [[0.0, 1.0], [0.5, 1.5], [0.8, 1.8]], True),
    ],
)
def test_a_pad_model_scores_a_long_pose_by_its_windows_and_a_short_one_whole(
    pad_run: Path, frames: int, window: float, stride: float, windows: list, whole: bool
) -> None:
    predictor = load_predictor(pad_run)
    pose = _pose_at_10_fps(frames)
    prediction = predict_skeleton(predictor, "drift.mp4", pose=pose, window=window, stride=stride)
    np.testing.assert_allclose(prediction.windows, windows, atol=1e-9)
    joints, times = pose["keypoint_world"][0], pose["timestamps"]
    in_window = [(times >= start - 1e-9) & (times < end - 1e-9) for start, end in windows]
    by_window = np.stack([_softmax_of(predictor.model, joints[keep]) for keep in in_window])
    np.testing.assert_allclose(prediction.window_scores, by_window, rtol=1e-5, atol=1e-6)
    of_whole = _softmax_of(predictor.model, joints)
    assert np.abs(by_window.mean(axis=0) - of_whole).max() > 1e-3  # the two answers differ: the test can tell
    expected = of_whole if whole else by_window.mean(axis=0)
    np.testing.assert_allclose(prediction.scores, expected, rtol=1e-5, atol=1e-6)
