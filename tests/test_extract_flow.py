"""The ``flow`` extraction kind (``vidact extract flow``): N frames give N - 1 pairs of mmaction2-named images in
``OUT/<name>/``, the flow of a square moving right is positive x (negative reversed), resume and recompute by
parameters, the float16 ``.npz`` equal to the images within the code's step, bad videos failing alone (exit 1),
bad options one line (exit 2), and a process pool giving the in-process outputs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from vidact.cli import main
from vidact.errors import ConfigError
from vidact.extract import FlowExtractor, build_extractor, extract
from vidact.extract.output import VideoOutput
from vidact.flow import read_flow_folder
from vidact.io.writer import write_video

SIZE, FPS = 48, 10.0


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _texture(height: int, width: int, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(size=(height, width, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    return ((smooth - smooth.min()) / (smooth.max() - smooth.min()) * 255).astype(np.uint8)


def _square_frames(frames: int, step: int = 2) -> list[np.ndarray]:
    """A textured 16-px square moving ``step`` px right per frame over a still textured background."""
    background, patch = _texture(SIZE, SIZE, 0), _texture(16, 16, 1)
    out = []
    for t in range(frames):
        image = background.copy()
        image[16:32, 8 + step * t : 24 + step * t] = patch
        out.append(image)
    return out


def _video(path: Path, frames: int, *, reverse: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    images = _square_frames(frames)
    return Path(write_video(path, images[::-1] if reverse else images, fps=FPS, crf=12))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """root/a/right.mp4 (6 frames, the square moving right), root/b/left.mp4 (5 frames, moving left)."""
    root = tmp_path_factory.mktemp("corpus")
    _video(root / "a" / "right.mp4", 6)
    _video(root / "b" / "left.mp4", 5, reverse=True)
    return root


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too), by relative path."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


def test_n_frames_give_n_minus_1_pairs_in_mmaction2_names(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = extract(build_extractor("flow", method="dis_fast", rgb=True), corpus, out, progress=False)
    assert (report.done, report.failed) == (2, [])
    names = set(_files(out))
    right = {f"a/right/flow_{c}_{i:05d}.jpg" for c in "xy" for i in range(1, 6)}
    left = {f"b/left/flow_{c}_{i:05d}.jpg" for c in "xy" for i in range(1, 5)}
    frames = {f"a/right/img_{i:05d}.jpg" for i in range(1, 7)} | {
        f"b/left/img_{i:05d}.jpg" for i in range(1, 6)
    }
    records = {"a/right.flow.json", "b/left.flow.json", "_summary.flow.json"}
    assert names == right | left | frames | records  # nothing else: no temporary left behind
    record = json.loads((out / "a" / "right.flow.json").read_text())
    assert record["files"] == ["right"] and record["params"]["method"] == "dis_fast"
    with Image.open(out / "a" / "right" / "flow_x_00001.jpg") as image:
        assert image.mode == "L" and image.size == (SIZE, SIZE)
    with Image.open(out / "a" / "right" / "img_00006.jpg") as image:
        assert image.mode == "RGB" and image.size == (SIZE, SIZE)

    sampled = tmp_path / "sampled"
    extractor = build_extractor("flow", method="dis_fast", short_side=24, fps=5.0, format="png")
    extract(extractor, corpus / "a" / "right.mp4", sampled, progress=False)
    # 6 frames at 10 fps taken at 5 fps: frames 0, 2, 4 -> two pairs, at 24 x 24
    assert sorted(p.name for p in (sampled / "right").iterdir()) == [
        "flow_x_00001.png",
        "flow_x_00002.png",
        "flow_y_00001.png",
        "flow_y_00002.png",
    ]
    assert read_flow_folder(sampled / "right", bound=20).shape == (2, 2, 24, 24)


def test_the_square_moving_right_has_positive_x_and_negative_when_reversed(
    corpus: Path, tmp_path: Path
) -> None:
    extract(build_extractor("flow", method="dis_fine", format="png"), corpus, tmp_path, progress=False)
    right = read_flow_folder(tmp_path / "a" / "right", bound=20)  # [5, 2, H, W]
    left = read_flow_folder(tmp_path / "b" / "left", bound=20)
    for flow, sign in ((right, 1), (left, -1)):
        square = flow[:, :, 20:28, 14:22]  # inside the square at every frame it passes
        assert (sign * square[:, 0].mean(axis=(1, 2)) > 1.0).all(), square[:, 0].mean(axis=(1, 2))
        assert np.abs(square[:, 1].mean()) < 0.5  # no vertical motion
        assert np.abs(flow[:, :, 38:46, 4:44]).mean() < 0.3  # the background stands still


def test_rerun_skips_a_changed_bound_recomputes(corpus: Path, tmp_path: Path) -> None:
    video = corpus / "a" / "right.mp4"
    first = extract(build_extractor("flow", method="dis_fast"), video, tmp_path, progress=False)
    before = _files(tmp_path / "right")
    again = extract(build_extractor("flow", method="dis_fast"), video, tmp_path, progress=False)
    assert (first.done, again.done, again.skipped) == (1, 0, 1)
    key = json.loads((tmp_path / "right.flow.json").read_text())["key"]

    changed = extract(build_extractor("flow", method="dis_fast", bound=5), video, tmp_path, progress=False)
    assert changed.done == 1
    record = json.loads((tmp_path / "right.flow.json").read_text())
    assert record["key"] != key and record["params"]["bound"] == 5.0
    after = _files(tmp_path / "right")
    assert set(after) == set(before) and after != before  # the same names, a finer code: other images
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # the old folder is gone


def test_npz_holds_the_float16_flow_the_images_encode(corpus: Path, tmp_path: Path) -> None:
    video = corpus / "a" / "right.mp4"
    for fmt in ("png", "jpg", "npz"):
        extract(build_extractor("flow", method="dis_fast", format=fmt), video, tmp_path / fmt, progress=False)
    assert sorted(p.name for p in (tmp_path / "npz").iterdir()) == [
        "_summary.flow.json",
        "right.flow.json",
        "right.flow.npz",
    ]  # no folder (rgb off), no temporary .npy
    with np.load(tmp_path / "npz" / "right.flow.npz") as archive:
        assert archive.files == ["flow"]
        flow = archive["flow"]
    assert flow.dtype == np.float16 and flow.shape == (5, 2, SIZE, SIZE)
    png = read_flow_folder(tmp_path / "png" / "right", bound=20)
    assert (
        np.abs(flow.astype(np.float32) - png).max() <= 20 / 255 + 0.01
    )  # half a step, and float16's rounding
    jpg = read_flow_folder(tmp_path / "jpg" / "right", bound=20)
    assert np.abs(jpg - png).mean() < 20 / 255  # JPEG adds less than a step on average
    record = json.loads((tmp_path / "npz" / "right.flow.json").read_text())
    assert record["arrays"]["flow"] == {"shape": [5, 2, SIZE, SIZE], "dtype": "float16"}
    assert record["params"]["bound"] is None and record["params"]["quality"] is None


def test_a_one_frame_video_and_frames_of_different_sizes_fail_alone_with_exit_1(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    videos = tmp_path / "videos"
    good = _video(videos / "good.mp4", 3)
    one = _video(videos / "one.mp4", 1)
    mixed = videos / "mixed"
    mixed.mkdir()
    for i, side in enumerate((32, 32, 24), start=1):
        Image.fromarray(_texture(side, side, i)).save(mixed / f"img_{i:05d}.jpg")
    code, stdout, stderr = _cli(
        capsys, "extract", "flow", videos, "--out", tmp_path / "out", "--method", "dis_fast", "--no-progress"
    )
    assert code == 1, stderr
    lines = sorted(stderr.strip().splitlines())
    assert lines == [
        f"failed: {mixed}: frames of different sizes: img_00003.jpg is 24x24, img_00001.jpg 32x32",
        f"failed: {one}: 1 frame taken of 1; optical flow needs at least 2",
    ]
    assert "3 videos, 1 extracted, 0 up to date, 2 failed" in stdout
    assert sorted(p.name for p in (tmp_path / "out" / "good").iterdir())[0] == "flow_x_00001.jpg"
    assert not (tmp_path / "out" / "one").exists() and not (tmp_path / "out" / "one.flow.json").exists()
    assert good.exists()


@pytest.mark.parametrize(
    ("options", "phrase"),
    [
        (["--bound", "0"], "flow: bound must be a positive number of pixels, got 0.0"),
        (["--bound", "-5"], "flow: bound must be a positive number of pixels"),
        (["--method", "tvl"], "unknown flow method 'tvl'; did you mean tvl1"),
        (
            ["--method", "dis_fast", "--weights", "raft_small.c_t_v2"],
            "flow method 'dis_fast' does not take weights",
        ),
        (["--max-frames", "1"], "max_frames must be at least 2"),
    ],
)
def test_bad_options_are_one_line_exit_2_before_any_video_is_read(
    options: list[str], phrase: str, corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, stderr = _cli(
        capsys, "extract", "flow", corpus, "--out", tmp_path / "out", *options, "--no-progress"
    )
    assert code == 2, stderr
    assert len(stderr.strip().splitlines()) == 1 and stderr.startswith("error: ") and phrase in stderr, stderr
    assert not (tmp_path / "out").exists()


def test_the_kinds_options_are_cli_options_and_bad_values_fail_in_python_too() -> None:
    with pytest.raises(ConfigError, match="format must be one of jpg, png, npz"):
        FlowExtractor(format="gif")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="quality must be 1 to 100"):
        build_extractor("flow", quality=0)
    with pytest.raises(ConfigError, match="does not take method_option"):
        build_extractor("flow", method_option={})
    extractor = build_extractor("flow", method="dis", method_options={"preset": "fast", "patch_size": 12})
    assert extractor.params()["method_params"]["patch_size"] == 12
    raft = build_extractor("flow", method="raft_small", weights="raft_small.c_t_v1")
    assert raft.flow_method.weights == "raft_small.c_t_v1"  # nothing fetched before params() or a video


def test_a_process_pool_gives_the_in_process_outputs(corpus: Path, tmp_path: Path) -> None:
    extractor = build_extractor("flow", method="dis_fast", format="png")
    here = extract(extractor, corpus, tmp_path / "here", progress=False)
    pooled = extract(extractor, corpus, tmp_path / "pool", workers=2, progress=False)
    assert (here.done, pooled.done, pooled.backend) == (2, 2, "2 processes")
    images = {k: v for k, v in _files(tmp_path / "here").items() if not k.endswith(".json")}
    assert len(images) == 18 and images == {
        k: v for k, v in _files(tmp_path / "pool").items() if not k.endswith(".json")
    }


def test_item_folders_default_to_the_kind_and_an_extractor_may_name_its_own(tmp_path: Path) -> None:
    default = VideoOutput(tmp_path, "a/v1", "features")
    assert default.folder == tmp_path / "a" / "v1.features"
    named = VideoOutput(tmp_path, "a/v1", "flow", item_folder=FlowExtractor.item_folder)
    path = named.file("flow_x_00001.jpg")
    path.write_bytes(b"x")
    assert named.commit() == ["v1"] and (tmp_path / "a" / "v1" / "flow_x_00001.jpg").read_bytes() == b"x"
    with pytest.raises(ValueError, match="must name one folder"):
        VideoOutput(tmp_path, "v", "k", item_folder="../{name}")
