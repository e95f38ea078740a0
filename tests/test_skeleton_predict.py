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
from vidact.extract.pose import NoPoseWarning, extract_pose
from vidact.infer.predict import load_predictor
from vidact.infer.showcase import ensure_shared_weights, find_real_clips, markdown_table
from vidact.infer.skeleton import POSE_SHORT_SIDE, _most_active, motion_energy, pose_options, predict_skeleton
from vidact.io.writer import write_video

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
        ("per_frame_efficientnet_lite0.imagenet", "--pose goes with a skeleton model"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            main(["predict", str(NTU_CLIP), "--model", model, "--pose", str(pose)])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and message in err and err.strip().count("\n") == 0, err


def test_a_video_without_anyone_gives_a_defined_answer(weights, tmp_path) -> None:
    video = tmp_path / "empty.mp4"
    frames = np.full((20, 96, 128, 3), 90, dtype=np.uint8)
    write_video(video, frames, fps=10)
    predictor = load_predictor("efficientgcn_b0.ntu60")
    with pytest.warns(NoPoseWarning, match="no person found"):
        prediction = predict_skeleton(predictor, video)
    assert prediction.found_fraction == 0.0
    assert prediction.scores.shape == (60,) and np.isfinite(prediction.scores).all()
    assert prediction.to_json()["pose"]["found_fraction"] == 0.0


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
