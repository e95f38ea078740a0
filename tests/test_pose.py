"""Pose extraction with MediaPipe on real clips: the NTU clip's person where a person looks for her, the ASL
clip's hands, a Kinetics clip in COCO-17; a video with nobody in it gives the defined all-zero record and one
warning; the runner writes PYSKL pickles and ``.npz`` files (resumable, failures listed, on 2 processes and on
Ray); without MediaPipe, asking for pose says how to install it and nothing else imports it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from vidact.cli import main
from vidact.data.skeleton.formats import load_npz, load_pickle
from vidact.data.skeleton.mapping import map_joints
from vidact.errors import ConfigError
from vidact.extract import build_extractor, extract
from vidact.io import VideoReader
from vidact.io.writer import write_video
from vidact.pose import NoPoseWarning, extract_pose, hand_slot
from vidact.pose._mediapipe import INSTALL, _quiet_startup_notices

mediapipe = pytest.importorskip("mediapipe", reason="pose extraction needs the optional extra vidact[pose]")

HERE = Path(__file__).resolve().parent
VIDEOS = HERE.parent.parent / "shared" / "data" / "videos"
NTU_CLIP = VIDEOS / "ntu" / "S001C001P001R001A001_drink_water.avi"
ASL_CLIP = VIDEOS / "asl" / "help.mkv"
KINETICS_CLIP = VIDEOS / "kinetics" / "tai_chi.mp4"
NOTICES = ("inference_feedback_manager", "XNNPACK delegate", "absl::InitializeLog", "landmark_projection")


def _needs(*paths: Path) -> None:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"shared clip missing: {', '.join(missing)}")


@pytest.fixture(scope="module")
def ntu_body() -> dict:
    """The NTU clip's first 20 frames, MediaPipe-33, decoded at 540 lines."""
    _needs(NTU_CLIP)
    return extract_pose(NTU_CLIP, max_frames=20, short_side=540)


# -- real clips ----------------------------------------------------------------------------------------------------
def test_body_is_found_where_the_ntu_performer_stands(ntu_body):
    r = ntu_body
    assert r["keypoint"].shape == (1, 20, 33, 2) and r["keypoint"].dtype == np.float32
    assert r["img_shape"] == r["original_shape"] == (1080, 1920) and r["total_frames"] == 20
    assert r["frame_dir"] == "S001C001P001R001A001_drink_water" and r["layout"] == "mediapipe33"
    assert r["found"].all()
    # seen by eye on frame 60 (and still in frames 0-20): she stands near the middle, x 0.50-0.57 of the width,
    # head at y 0.27-0.33, feet at y 0.64-0.67 of the height
    nose, ankles = r["keypoint_norm"][0, :, 0, :2], r["keypoint_norm"][0, :, 27:29, :2]
    assert ((nose[:, 0] > 0.48) & (nose[:, 0] < 0.60) & (nose[:, 1] > 0.24) & (nose[:, 1] < 0.36)).all()
    assert ((ankles[..., 1] > 0.58) & (ankles[..., 1] < 0.72)).all()
    # pixels of the full frame, whatever the decoding size
    np.testing.assert_allclose(r["keypoint"], r["keypoint_norm"][..., :2] * [1920, 1080], rtol=1e-6)
    scores = r["keypoint_score"]
    assert scores.shape == (1, 20, 33) and (scores >= 0).all() and (scores <= 1).all()
    assert scores[0, :, 0].min() > 0.9  # the face is in plain view
    # world landmarks: metres with the origin between the hips; a standing adult is 1.3-2 m nose to ankle
    world = r["keypoint_world"][0]
    np.testing.assert_allclose((world[:, 23] + world[:, 24]) / 2, 0.0, atol=0.02)
    height = world[:, 27:29, 1].mean(axis=1) - world[:, 0, 1]  # y down
    assert ((height > 1.2) & (height < 2.0)).all()
    np.testing.assert_allclose(r["timestamps"], np.arange(20) / 30.0, atol=1e-6)
    np.testing.assert_array_equal(r["frame_index"], np.arange(20))


def test_decoding_smaller_moves_landmarks_by_about_a_pixel(ntu_body):
    full = extract_pose(NTU_CLIP, max_frames=8)  # 1080p as it is
    difference = np.abs(full["keypoint"] - ntu_body["keypoint"][:, :8])[0, :, :25]  # the body, less the feet
    assert full["img_shape"] == (1080, 1920)
    assert np.median(difference) < 3.0, np.median(difference)


def test_ntu25_layout_places_the_performer_in_front_of_a_kinect(ntu_body):
    r = extract_pose(NTU_CLIP, max_frames=20, short_side=540, layout="ntu25")
    assert r["keypoint"].shape == (1, 20, 25, 2) and r["keypoint_world"].shape == (1, 20, 25, 3)
    np.testing.assert_allclose(
        r["keypoint"], map_joints(ntu_body["keypoint"], "mediapipe33", "ntu25"), rtol=1e-5, atol=1e-3
    )
    world = r["keypoint_world"][0]
    spine_base, head = world[:, 0], world[:, 3]
    assert (
        (spine_base[:, 2] > 3.0) & (spine_base[:, 2] < 5.5)
    ).all()  # about 4 m away, as the prototype found
    assert (head[:, 1] - spine_base[:, 1] > 0.5).all()  # y up: the head is above the hips
    assert np.abs(spine_base[:, 0]).max() < 1.0  # she stands near the optical axis


def test_hands_are_found_in_the_asl_clip():
    _needs(ASL_CLIP)
    r = extract_pose(ASL_CLIP, what="hands", max_frames=40)
    assert r["keypoint"].shape == (2, 40, 21, 2) and r["layout"] == "hand21"
    assert r["handedness"].tolist() == ["right", "left"]
    found = r["found"]
    assert found.any(axis=0).mean() > 0.6, found.sum(axis=1)  # a hand in most frames of a signed word
    assert (r["keypoint_score"][found] == 1).all() and (r["keypoint_score"][~found] == 0).all()
    assert not r["keypoint"][~found].any() and not r["keypoint_world"][~found].any()
    xy = r["keypoint_norm"][found][..., :2]  # [hands found, 21, 2]
    assert ((xy >= 0) & (xy <= 1)).all(axis=-1).mean() > 0.85  # some fingers leave the frame at the bottom
    assert ((xy.mean(axis=1) > 0) & (xy.mean(axis=1) < 1.05)).all()
    assert (r["handedness_score"][found] > 0.5).all() and not r["handedness_score"][~found].any()
    # metres: the palm's wrist-to-middle-knuckle bone (rigid, unlike curling fingers) is 6-11 cm in the median
    world = r["keypoint_world"][found]
    assert 0.06 < np.median(np.linalg.norm(world[:, 9] - world[:, 0], axis=-1)) < 0.11


def test_kinetics_clip_in_coco17():
    _needs(KINETICS_CLIP)
    r = extract_pose(KINETICS_CLIP, layout="coco17", max_frames=20)
    assert r["keypoint"].shape == (1, 20, 17, 2) and r["img_shape"] == (256, 340)
    assert r["found"].all()
    kp = r["keypoint"][0]
    shoulders, hips = kp[:, 5:7].mean(axis=1), kp[:, 11:13].mean(axis=1)
    assert (shoulders[:, 1] < hips[:, 1]).all()  # upright: shoulders above hips in the image
    assert ((kp >= -20) & (kp <= [360, 276])).all()


def test_frames_per_second_and_max_frames(tmp_path):
    _needs(KINETICS_CLIP)
    r = extract_pose(KINETICS_CLIP, fps=10, max_frames=6)
    times = r["timestamps"]
    assert r["total_frames"] == 6 and r["fps"] == 10.0
    with VideoReader(KINETICS_CLIP) as reader:  # the frame shown at each tenth of a second
        video_times = reader.timestamps()
    for k, (index, seconds) in enumerate(zip(r["frame_index"], times, strict=True)):
        assert seconds == video_times[index] <= k / 10 < seconds + 1 / 29.97 + 1e-9


@pytest.mark.parametrize(
    ("what", "layout", "clip", "persons", "joints"),
    [
        ("body", "mediapipe33", KINETICS_CLIP, 1, 33),
        ("body", "coco17", KINETICS_CLIP, 1, 17),
        ("body", "ntu25", KINETICS_CLIP, 1, 25),
        ("hands", "hand21", ASL_CLIP, 2, 21),
    ],
)
def test_every_layout_writes_its_joint_scores(what, layout, clip, persons, joints, tmp_path):
    """The written record of each layout holds ``keypoint_score`` [M, T, V] in [0, 1] with the layout's V:
    some joints scored where the person (hand) was found, none where it was not."""
    _needs(clip)
    extractor = build_extractor("pose", what=what, layout=layout, max_frames=4)
    assert extract(extractor, clip, tmp_path, progress=False).done == 1
    stem = tmp_path / clip.stem
    for record in (load_pickle(f"{stem}.pose.pkl"), load_npz(f"{stem}.pose.npz")):
        assert record["layout"] == layout and record["keypoint"].shape == (persons, 4, joints, 2)
        scores, found = record["keypoint_score"], record["found"]
        assert scores.shape == (persons, 4, joints) and scores.dtype == np.float32
        assert ((scores >= 0) & (scores <= 1)).all()
        assert found.any() and (scores[found] > 0).any(axis=-1).all() and not scores[~found].any()


# -- nobody there ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def empty_video(tmp_path_factory) -> Path:
    """16 frames of a plain grey wall."""
    path = tmp_path_factory.mktemp("empty") / "wall.mp4"
    write_video(path, np.full((16, 96, 128, 3), 128, np.uint8), 8.0)
    return path


@pytest.mark.parametrize(
    ("what", "thing", "shape"), [("body", "person", (1, 16, 33, 2)), ("hands", "hand", (2, 16, 21, 2))]
)
def test_no_one_found_gives_zeros_and_one_warning(empty_video, what, thing, shape):
    with pytest.warns(NoPoseWarning) as caught:
        r = extract_pose(empty_video, what=what)
    [warning] = caught
    message = str(warning.message)
    assert message == (
        f"{empty_video}: no {thing} found in any of its 16 frames; its pose is all zeros with found all False"
    )
    assert "\n" not in message
    assert r["keypoint"].shape == shape and r["total_frames"] == 16
    assert not r["found"].any() and not r["keypoint"].any() and not r["keypoint_score"].any()
    assert not r["keypoint_world"].any() and not r["keypoint_norm"].any()


def test_runner_extracts_an_empty_video_with_one_warning_line(empty_video, tmp_path, capsys):
    report = extract(build_extractor("pose"), empty_video, tmp_path, progress=False)
    assert (report.done, report.failed) == (1, [])  # a defined result, not a failure
    assert capsys.readouterr().err == (
        f"warning: {empty_video}: no person found in any of its 16 frames; its pose is all zeros with found all "
        "False\n"
    )
    record = load_npz(tmp_path / "wall.pose.npz")
    assert record["keypoint"].shape == (1, 16, 33, 2) and not record["found"].any()


def test_startup_notices_are_dropped_and_other_output_kept(capfd):
    with _quiet_startup_notices():
        os.write(2, b"W0000 12:00:00 1 inference_feedback_manager.cc:114] Feedback manager requires ...\n")
        os.write(2, b"something else\n")
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    assert capfd.readouterr().err == "something else\n"


def test_extraction_prints_none_of_mediapipes_startup_notices(capfd, empty_video):
    _needs(KINETICS_CLIP)
    extract_pose(KINETICS_CLIP, max_frames=4)
    err = capfd.readouterr().err
    assert not any(notice in err for notice in NOTICES), err


# -- options, sides, packaging ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"what": "face"}, r"what must be 'body' or 'hands', got 'face'"),
        ({"layout": "hand21"}, r"layout for body must be one of mediapipe33, coco17, ntu25, got 'hand21'"),
        ({"what": "hands", "layout": "coco17"}, r"layout for hands must be one of hand21"),
        ({"max_hands": 3}, r"max_hands must be 1 or 2"),
        ({"fps": 0}, r"fps must be positive"),
        ({"ntu_camera": "guess"}, r"ntu_camera must be 'solve', 'per_frame' or 'none'"),
        ({"colour": True}, r"extraction kind 'pose' does not take colour"),
    ],
)
def test_bad_options_fail_before_any_video(options, message):
    with pytest.raises(ConfigError, match=message):
        build_extractor("pose", **options)


def test_hand_slots_follow_the_persons_sides():
    # MediaPipe names sides as in a selfie: in an ordinary video its "Left" is the person's right hand
    assert hand_slot("Left", mirrored=False) == 0 and hand_slot("Right", mirrored=False) == 1
    assert hand_slot("Left", mirrored=True) == 1 and hand_slot("Right", mirrored=True) == 0


def test_without_mediapipe_pose_says_how_to_install_it(monkeypatch, empty_video):
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # import mediapipe fails as if it were not installed
    monkeypatch.delitem(sys.modules, "mediapipe.python.solutions", raising=False)
    with pytest.raises(ConfigError) as info:
        build_extractor("pose")
    message = str(info.value)
    assert "\n" not in message and message.endswith(INSTALL)
    assert INSTALL == "pip install 'vidact[pose]' && pip install --no-deps mediapipe==0.10.21"
    with pytest.raises(ConfigError, match=r"pip install --no-deps mediapipe==0\.10\.21"):
        extract_pose(empty_video)


def test_vidact_never_imports_mediapipe_on_its_own():
    code = (
        "import sys, vidact, vidact.cli, vidact.extract, vidact.data.skeleton.formats, "
        "vidact.data.skeleton.mapping; from vidact.extract import build_extractor, list_extractors; "
        "assert 'pose' in list_extractors(); print('mediapipe' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# -- through the runner ----------------------------------------------------------------------------------------------
def _clip(source: Path, path: Path, frames: int, short_side: int) -> Path:
    with VideoReader(source, short_side=short_side) as reader:
        write_video(path, reader.get_frames(range(frames)).numpy(), reader.metadata.fps, crf=18)
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """train/drink.mp4 (12 frames of the NTU clip at 360 lines), val/taichi.mp4 (12 of the Kinetics clip)."""
    _needs(NTU_CLIP, KINETICS_CLIP)
    root = tmp_path_factory.mktemp("pose_corpus")
    (root / "train").mkdir()
    (root / "val").mkdir()
    _clip(NTU_CLIP, root / "train" / "drink.mp4", 12, 360)
    _clip(KINETICS_CLIP, root / "val" / "taichi.mp4", 12, 256)
    return root


def _cli(capsys, *args: object) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


def test_cli_on_two_processes_writes_pyskl_files_resumes_and_lists_failures(corpus, tmp_path, capsys):
    out = tmp_path / "poses"
    options = ["--out", out, "--max-frames", 4, "--no-progress"]
    code, stdout, _ = _cli(capsys, "extract", "pose", corpus, *options, "--workers", 2)
    assert code == 0, stdout
    assert "pose: 2 videos, 2 extracted, 0 up to date, 0 failed" in stdout
    for name, clip in [
        ("train/drink", corpus / "train" / "drink.mp4"),
        ("val/taichi", corpus / "val" / "taichi.mp4"),
    ]:
        record = load_pickle(out / f"{name}.pose.pkl")
        again = load_npz(out / f"{name}.pose.npz")
        direct = extract_pose(clip, max_frames=4)  # the same in this process
        assert record["found"].all() and record["layout"] == "mediapipe33"
        for key in ("keypoint", "keypoint_score", "keypoint_world", "found"):
            np.testing.assert_array_equal(record[key], again[key], err_msg=key)
            np.testing.assert_allclose(record[key], direct[key], atol=1e-5, err_msg=key)
        assert (out / f"{name}.pose.json").is_file() and not list(out.rglob("*.npy"))
    # a re-run skips both; a corrupt video fails alone, with its reason
    (corpus / "val" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    try:
        code, stdout, stderr = _cli(capsys, "extract", "pose", corpus, *options)
    finally:
        (corpus / "val" / "broken.mp4").unlink()
    assert code == 1
    assert "pose: 3 videos, 0 extracted, 2 up to date, 1 failed" in stdout
    assert f"failed: {corpus / 'val' / 'broken.mp4'}: " in stderr


def test_runner_files_and_annotation_file(corpus, tmp_path):
    from vidact.data.skeleton.formats import load_annotations
    from vidact.extract import collect_annotations

    extractor = build_extractor("pose", layout="coco17", max_frames=4)
    report = extract(extractor, corpus, tmp_path, progress=False)
    assert (report.done, report.skipped, report.failed) == (2, 0, [])
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == [
        "_summary.pose.json",
        "train/drink.pose.json",
        "train/drink.pose.npz",
        "train/drink.pose.pkl",
        "val/taichi.pose.json",
        "val/taichi.pose.npz",
        "val/taichi.pose.pkl",
    ]
    (tmp_path / "val" / "taichi.pose.npz").unlink()  # a missing output: that video is done again
    report = extract(extractor, corpus, tmp_path, progress=False)
    assert (report.done, report.skipped) == (1, 1)
    path = collect_annotations(tmp_path, tmp_path / "all.pkl")
    records, split = load_annotations(path)
    assert split == {"train": ["train/drink"], "val": ["val/taichi"]}
    assert [r["frame_dir"] for r in records] == ["train/drink", "val/taichi"]
    assert all(r["keypoint"].shape == (1, 4, 17, 2) for r in records)


@pytest.mark.slow
def test_local_ray_extracts_a_clip(corpus, tmp_path):
    pytest.importorskip("ray")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        report = extract(
            build_extractor("pose", max_frames=6), corpus / "val", tmp_path, ray="auto", progress=False
        )
    assert report.backend.startswith("ray: ") and (report.done, report.failed) == (1, [])
    record = load_pickle(tmp_path / "taichi.pose.pkl")
    assert record["keypoint"].shape == (1, 6, 33, 2) and record["found"].all()
