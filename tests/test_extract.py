"""Extraction: which videos an input holds, outputs keyed by content and parameters (skip, recompute; the
``features`` window among them), bad videos listed while the rest is done, no partial array at an output's path
after a failed write or a process killed mid-write, a process pool and a local 2-worker Ray giving the in-process
outputs, and the ``features`` kind equal to the model run by hand on each window's clip.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF
from _extract_kinds import BigOne

from vidact.cli import main
from vidact.data.sampling import frame_window_bounds
from vidact.engine.checkpoint import atomic_save, make_checkpoint
from vidact.engine.config import Config
from vidact.errors import ConfigError
from vidact.extract import (
    Video,
    build_extractor,
    extract,
    find_videos,
    list_extractors,
    record_path,
)
from vidact.io import VideoReader
from vidact.io.writer import write_video
from vidact.models import build_model
from vidact.models.weights import read_checkpoint

FPS = 8.0
SIZE = 32
HERE = Path(__file__).resolve().parent
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]  # the recipe's default normalisation


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _random_video(path: Path, frames: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, rng.integers(0, 256, (frames, SIZE, SIZE, 3), dtype=np.uint8), FPS, gop=4)
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """root/a/v0.mp4 (10 frames), root/a/v1.mp4 (13), root/b/v2.mp4 (16): random pixels, 32x32 at 8 fps."""
    root = tmp_path_factory.mktemp("corpus")
    for i, name in enumerate(["a/v0.mp4", "a/v1.mp4", "b/v2.mp4"]):
        _random_video(root / name, 10 + 3 * i, seed=i)
    return root


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    """A small Simple3D run: 4-frame clips at stride 1, whole 32x32 frames."""
    torch.manual_seed(0)
    cfg = Config()
    cfg.data.clip_len, cfg.data.stride, cfg.data.short_side, cfg.data.crop_size = 4, 1, SIZE, SIZE
    kwargs = {"widths": [8, 8, 16, 16]}
    model = build_model("simple3d", num_classes=3, **kwargs)
    path = tmp_path_factory.mktemp("model") / "simple3d.ckpt"
    checkpoint = make_checkpoint(
        model, model_name="simple3d", model_kwargs=kwargs, classes=["x", "y", "z"], config=cfg.to_dict()
    )
    atomic_save(checkpoint, path)
    return path


def _cli(capsys, *args: object) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


def _outputs(out: Path) -> dict[str, np.ndarray]:
    """Every .npy under ``out``, by relative path."""
    return {p.relative_to(out).as_posix(): np.load(p) for p in sorted(out.rglob("*.npy"))}


@dataclass
class FrameMeans:
    """A trivial extractor: each frame's mean pixel value, [N] float32, at ``short_side``; counts its calls."""

    short_side: int = 16
    name = "frame_means"

    def __post_init__(self) -> None:
        self.calls: list[str] = []

    def params(self) -> dict:
        return {"short_side": self.short_side}

    def __call__(self, video: str) -> dict[str, np.ndarray]:
        self.calls.append(video)
        with VideoReader(video, short_side=self.short_side) as reader:
            frames = reader.get_frames(np.arange(len(reader))).float()
        return {"means": frames.mean(dim=(1, 2, 3)).numpy()}


# -- inputs --------------------------------------------------------------------------------------------------
def test_find_videos_in_a_tree_a_list_file_and_one_video(tmp_path):
    root = tmp_path / "data"
    _random_video(root / "b" / "clip.mp4", 4, 0)
    _random_video(root / "a" / "x.avi", 4, 1)
    frames = root / "a" / "frames_of_y"
    frames.mkdir()
    for i in range(3):
        (frames / f"img_{i:05d}.jpg").write_bytes(b"")
    (root / "a" / "notes.md").write_text("not a video")
    (root / ".hidden.mp4").write_bytes(b"")
    tree = find_videos(root)
    assert [(Path(v.path).relative_to(root).as_posix(), v.name) for v in tree] == [
        ("a/frames_of_y", "a/frames_of_y"),
        ("a/x.avi", "a/x"),
        ("b/clip.mp4", "b/clip"),
    ]
    assert find_videos(root / "b" / "clip.mp4") == [Video(str(root / "b" / "clip.mp4"), "clip")]
    assert find_videos(frames) == [Video(str(frames), "frames_of_y")]

    listing = tmp_path / "list.txt"  # a vidact list file: path and label; a listed video may be missing
    listing.write_text("# videos\nb/clip.mp4 3\n\na/x.avi jump\nmissing/z.mp4 1\n")
    listed = find_videos(listing, root=root)
    assert [v.name for v in listed] == ["b/clip", "a/x", "missing/z"]
    assert listed[2].path == str(root / "missing" / "z.mp4")

    _random_video(root / "b" / "clip.avi", 4, 2)  # b/clip.mp4 and b/clip.avi: the same output name
    with pytest.raises(ConfigError, match="both write outputs named 'b/clip'"):
        find_videos(root)
    with pytest.raises(ConfigError, match="no such file"):
        find_videos(tmp_path / "nowhere")


def test_frame_windows_by_hand():
    t = np.arange(11) / 10.0  # 11 frames at 10 fps: 1.1 s
    # starts 0, 3, 6 (frames 6-9); frame 10 is left over: one more window, frames 7-10, ending at the end
    np.testing.assert_allclose(
        frame_window_bounds(t, 4, 3), [[0.0, 0.4], [0.3, 0.7], [0.6, 1.0], [0.7, 1.1]], atol=1e-12
    )
    np.testing.assert_allclose(frame_window_bounds(t[:10], 4, 3), [[0.0, 0.4], [0.3, 0.7], [0.6, 1.0]])
    np.testing.assert_allclose(frame_window_bounds(t[:3], 4, 3), [[0.0, 0.3]])  # shorter than a window
    with pytest.raises(ConfigError):
        frame_window_bounds(t, 0, 1)


# -- the runner ------------------------------------------------------------------------------------------------
def test_rerun_skips_changed_parameter_or_video_recomputes(corpus, tmp_path):
    videos = tmp_path / "videos"
    for p in corpus.rglob("*.mp4"):
        (videos / p.relative_to(corpus)).parent.mkdir(parents=True, exist_ok=True)
        (videos / p.relative_to(corpus)).write_bytes(p.read_bytes())
    out = tmp_path / "out"
    extractor = FrameMeans(16)
    first = extract(extractor, videos, out, progress=False)
    assert (first.videos, first.done, first.skipped, first.failed) == (3, 3, 0, [])
    means = out / "a" / "v1.means.npy"
    with VideoReader(videos / "a" / "v1.mp4", short_side=16) as reader:  # the output is the extractor's
        expected = reader.get_frames(np.arange(13)).float().mean(dim=(1, 2, 3)).numpy()
    np.testing.assert_array_equal(np.load(means), expected)
    record = json.loads(record_path(out, Video("", "a/v1"), "frame_means").read_text())
    assert record["params"] == {"short_side": 16} and record["arrays"]["means"]["shape"] == [13]
    stamp = means.stat().st_mtime_ns

    again = extract(extractor, videos, out, progress=False)
    assert (again.done, again.skipped) == (0, 3) and len(extractor.calls) == 3  # nothing recomputed
    assert means.stat().st_mtime_ns == stamp

    smaller = FrameMeans(8)  # a changed parameter recomputes every video
    changed = extract(smaller, videos, out, progress=False)
    assert (changed.done, changed.skipped) == (3, 0) and len(smaller.calls) == 3
    assert not np.array_equal(np.load(means), expected)

    _random_video(videos / "b" / "v2.mp4", 16, seed=99)  # a changed video recomputes that video only
    moved = videos / "a" / "v0.mp4"
    moved.rename(videos / "a" / "v0_renamed.mp4")  # a renamed one is a new output name: computed
    calls = len(smaller.calls)
    last = extract(smaller, videos, out, progress=False)
    assert (last.done, last.skipped) == (2, 1)
    assert sorted(Path(v).name for v in smaller.calls[calls:]) == ["v0_renamed.mp4", "v2.mp4"]
    summary = json.loads((out / "_summary.frame_means.json").read_text())
    assert (summary["done"], summary["skipped"], summary["failed"]) == (2, 1, [])
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_bad_videos_are_listed_and_the_rest_is_done(corpus, tmp_path):
    listing = tmp_path / "videos.txt"
    (tmp_path / "random.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    (tmp_path / "empty.mp4").write_bytes(b"")
    lines = [
        corpus / "a" / "v0.mp4",
        tmp_path / "random.mp4",
        tmp_path / "missing.mp4",
        tmp_path / "empty.mp4",
    ]
    listing.write_text("".join(f"{p} 0\n" for p in [*lines, corpus / "b" / "v2.mp4"]))
    out = tmp_path / "out"
    report = extract(FrameMeans(), listing, out, progress=False)
    assert (report.done, report.skipped) == (2, 0)
    reasons = {Path(f.video).name: f.reason for f in report.failed}
    assert list(reasons) == ["random.mp4", "missing.mp4", "empty.mp4"]  # in input order
    assert "invalid data" in reasons["random.mp4"] and "no such file" in reasons["missing.mp4"]
    assert "empty file" in reasons["empty.mp4"]
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith("_")) == [
        "v0.frame_means.json",
        "v0.means.npy",
        "v2.frame_means.json",
        "v2.means.npy",
    ]
    summary = json.loads((out / "_summary.frame_means.json").read_text())
    assert [f["video"] for f in summary["failed"]] == [str(p) for p in lines[1:]]
    assert all("\n" not in f["reason"] for f in summary["failed"])


class HalfWritten(FrameMeans):
    """Writes one good array, then fails on the second (an object array cannot be saved without pickle)."""

    name = "half"

    def __call__(self, video: str) -> dict[str, np.ndarray]:
        return {"means": super().__call__(video)["means"], "bad": np.array([None, 1], dtype=object)}


def test_a_video_whose_outputs_fail_midway_has_no_record_and_is_redone(corpus, tmp_path):
    video = corpus / "a" / "v0.mp4"
    report = extract(HalfWritten(), video, tmp_path, progress=False)
    assert [f.reason for f in report.failed] == ["TypeError: array 'bad' has dtype object"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "_summary.half.json"
    ]  # no record, no partial output
    fixed = FrameMeans()
    fixed.name = "half"
    assert (
        extract(fixed, video, tmp_path, progress=False).done == 1
    )  # the partial output is not taken as done


@contextmanager
def files_of_at_most(size: int) -> Iterator[None]:
    """This process may write files of at most ``size`` bytes (RLIMIT_FSIZE): a write past it fails with
    ``OSError: [Errno 27] File too large`` after writing what fits, as a disk that fills up would, whatever
    code does the writing."""
    import resource  # POSIX only

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an error, not a signal (Python's default too)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE and SIGXFSZ are POSIX")
def test_an_array_write_that_fails_midway_leaves_no_file_behind(corpus, tmp_path):
    """Writing v1's 64 KiB array fails after 16 KiB: v1 fails with a one-line reason, and neither a partial
    ``v1.values.npy`` (which a reader would take for the output) nor a temporary file is left; the other videos
    are done, and a re-run does v1 alone."""
    with files_of_at_most(16 * 1024):
        report = extract(BigOne(big="v1"), corpus, tmp_path, progress=False)
    assert (report.done, report.skipped) == (2, 0)
    [failure] = report.failed  # the reason is the writer's: "[Errno 27] File too large" or numpy's own words
    assert Path(failure.video).name == "v1.mp4" and failure.reason.startswith("OSError: ")
    assert "\n" not in failure.reason
    assert _files(tmp_path) == [
        "_summary.big_one.json",
        "a/v0.big_one.json",
        "a/v0.values.npy",
        "b/v2.big_one.json",
        "b/v2.values.npy",
    ]
    again = extract(BigOne(big="v1"), corpus, tmp_path, progress=False)
    assert (again.done, again.skipped, again.failed) == (1, 2, [])
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "v1.values.npy"), np.arange(8192.0))


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE and SIGXFSZ are POSIX")
def test_a_process_killed_while_writing_an_array_leaves_no_partial_file_at_its_path(corpus, tmp_path):
    """The extracting process dies (SIGXFSZ, as from the out-of-memory killer or a power cut: no clean-up runs)
    16 KiB into v1's 64 KiB array. Its final path must not hold those 16 KiB: the array is written to a
    temporary name and renamed when whole. A re-run in this process does v1 and v2."""
    out = tmp_path / "out"
    code = (
        "import resource, signal, sys\n"
        f"sys.path.insert(0, {str(HERE)!r})\n"
        "from _extract_kinds import BigOne\n"
        "from vidact.extract import extract\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_DFL)\n"  # Python ignores it: a write past the limit kills
        "resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))\n"
        f"extract(BigOne(big='v1'), {str(corpus)!r}, {str(out)!r}, progress=False)\n"
    )
    died = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert died.returncode == -signal.SIGXFSZ, died.stderr[-2000:]
    visible = [f for f in _files(out) if not Path(f).name.startswith(".")]  # not a crash's hidden temporary
    assert visible == ["a/v0.big_one.json", "a/v0.values.npy"]
    again = extract(BigOne(big="v1"), corpus, out, progress=False)
    assert (again.done, again.skipped, again.failed) == (2, 1, [])
    np.testing.assert_array_equal(np.load(out / "a" / "v1.values.npy"), np.arange(8192.0))


@dataclass
class CrashOnV2(FrameMeans):
    """Kills its process on a video named v2 (as a crash in a decoder or the out-of-memory killer would), while
    v1 is still being extracted in another process: v1 waits for the ``crashed`` file that v2 leaves behind."""

    crashed: str = ""

    def __call__(self, video: str) -> dict[str, np.ndarray]:
        if Path(video).stem == "v2":
            Path(self.crashed).touch()
            os._exit(3)
        if Path(video).stem == "v1":
            deadline = time.monotonic() + 60
            while not Path(self.crashed).exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.5)  # still running when the pool learns that v2's process died
        return super().__call__(video)


def test_a_worker_process_that_dies_fails_its_video_and_the_rest_is_done(corpus, tmp_path):
    """v2 kills its process while v1 runs in the other one: both are in flight when the pool breaks, then run
    alone in a new pool, where v2 dies again and fails, and v1 is done."""
    out = tmp_path / "out"
    report = extract(CrashOnV2(crashed=str(tmp_path / "crashed")), corpus, out, workers=2, progress=False)
    assert report.done == 2
    assert [(Path(f.video).name, f.reason) for f in report.failed] == [
        ("v2.mp4", "the worker process died extracting it (crashed or was killed)")
    ]
    again = extract(FrameMeans(), corpus, out, progress=False)  # what was done is kept
    assert (again.skipped, again.done) == (2, 1)


def test_cli_lists_failures_and_exits_1(corpus, ckpt, tmp_path, capsys):
    videos = tmp_path / "videos"
    _random_video(videos / "good.mp4", 9, seed=5)
    (videos / "bad.mp4").write_bytes(b"\x00" * 100)
    args = ["extract", "features", videos, "--out", tmp_path / "out", "--model", ckpt, "--no-progress"]
    code, stdout, stderr = _cli(capsys, *args, "--window-frames", 4)
    assert code == 1
    lines = stderr.strip().splitlines()
    assert (
        len(lines) == 1
        and lines[0].startswith(f"failed: {videos / 'bad.mp4'}: ")
        and "invalid data" in lines[0]
    )
    assert "2 videos, 1 extracted, 0 up to date, 1 failed" in stdout
    assert (tmp_path / "out" / "good.features.npy").is_file()
    code, stdout, _ = _cli(
        capsys, "extract", "features", videos / "good.mp4", *args[3:], "--window-frames", 4
    )
    assert code == 0 and "1 videos, 0 extracted, 1 up to date, 0 failed" in stdout


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["optical", "{corpus}", "--model", "{ckpt}"], "unknown extraction kind 'optical'"),
        (["features", "{corpus}/nowhere", "--model", "{ckpt}"], "nowhere: no such file or folder"),
        (["features", "{corpus}", "--model", "no_such_model"], "no_such_model"),
        (["features", "{corpus}"], "needs model"),
        (["features", "{corpus}", "--model", "{ckpt}", "--window", "2", "--window-frames", "8"], "seconds"),
        (["features", "{corpus}", "--model", "{ckpt}", "--stride", "0"], "must be positive"),
    ],
)
def test_cli_bad_arguments_one_line_exit_2(args, phrase, corpus, ckpt, tmp_path, capsys):
    args = [a.format(corpus=corpus, ckpt=ckpt) for a in args]
    code, stdout, stderr = _cli(capsys, "extract", *args, "--out", tmp_path / "out", "--no-progress")
    assert code == 2, stderr
    assert len(stderr.strip().splitlines()) == 1 and stderr.startswith("error: ") and phrase in stderr, stderr
    assert not (tmp_path / "out").exists()


def test_ray_missing_says_which_extra(corpus, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as if it were not installed
    with pytest.raises(ConfigError, match=r"optional extra 'ray'.*pip install 'vidact\[ray\]'"):
        extract(FrameMeans(), corpus, tmp_path / "out", ray="auto", progress=False)


# -- features ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("window", "stride", "starts", "offset"),
    [
        # 4 frames every 2 over v1's 13: frames 0-3 ... 8-11, and for the leftover frame 12 one more, 9-12;
        # Simple3D's 4-frame clip fills each window
        (4, 2, [0, 2, 4, 6, 8, 9], 0),
        # 6 frames every 3: 0-5, 3-8, 6-11, 7-12; the 4-frame clip is centred in each, one frame in
        (6, 3, [0, 3, 6, 7], 1),
    ],
)
def test_features_are_the_model_on_each_window_clip(window, stride, starts, offset, corpus, ckpt, tmp_path):
    """Each window's feature is the mean of the model's feature maps over its clip (whole 32x32 frames, nothing
    to crop), normalised here with torchvision; timestamps are the window's first frame and the end of its last."""
    assert "features" in list_extractors()
    extractor = build_extractor(
        "features", model=str(ckpt), window_frames=window, stride_frames=stride, batch_size=4, precision="32"
    )
    report = extract(extractor, corpus / "a" / "v1.mp4", tmp_path, progress=False)
    assert report.done == 1
    features, timestamps = np.load(tmp_path / "v1.features.npy"), np.load(tmp_path / "v1.timestamps.npy")
    np.testing.assert_allclose(timestamps, [[s / FPS, (s + window) / FPS] for s in starts], atol=1e-9)

    checkpoint = read_checkpoint(ckpt)  # weights only, as vidact reads every checkpoint
    net = build_model("simple3d", num_classes=3, **checkpoint["model_kwargs"])
    net.load_state_dict(checkpoint["state_dict"])
    net.eval()
    with VideoReader(corpus / "a" / "v1.mp4") as reader:
        frames = reader.get_frames(np.arange(13))  # [13, 32, 32, 3]
    clips = torch.stack([frames[s + offset : s + offset + 4] for s in starts]).permute(0, 1, 4, 2, 3) / 255
    clips = TF.normalize(clips.flatten(0, 1), MEAN, STD).unflatten(0, (len(starts), 4))  # [W, 4, 3, 32, 32]
    with torch.inference_mode():
        maps = net.forward_features(clips.permute(0, 2, 1, 3, 4))  # [W, D, T', H', W']
    expected = maps.mean(dim=(2, 3, 4)).numpy()
    assert features.dtype == np.float32 and features.shape == (len(starts), net.num_features)
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)


def test_features_in_seconds_and_their_key(corpus, ckpt, tmp_path):
    """Windows of 1 s every 0.5 s over v2 (16 frames, 2 s); the parameters name the model by its content."""
    seconds = build_extractor("features", model=str(ckpt), window=1.0, stride=0.5)
    extract(seconds, corpus / "b" / "v2.mp4", tmp_path / "s", progress=False)
    np.testing.assert_allclose(np.load(tmp_path / "s" / "v2.timestamps.npy"), [[0, 1], [0.5, 1.5], [1, 2]])
    params = seconds.params()
    assert params["unit"] == "seconds" and params["model"] == "simple3d" and len(params["model_sha256"]) == 64
    moved = tmp_path / "elsewhere.ckpt"
    moved.write_bytes(ckpt.read_bytes())
    assert build_extractor("features", model=str(moved), window=1.0, stride=0.5).params() == params


def test_another_window_recomputes_the_same_window_skips(corpus, ckpt, tmp_path):
    """The window is part of the output's key: a re-run into the same folder with another window (the stride
    unchanged) recomputes, with that window's timestamps; with the same one it skips. In seconds too."""
    video = corpus / "a" / "v1.mp4"  # 13 frames at 8 fps
    four, six = (
        build_extractor("features", model=str(ckpt), window_frames=w, stride_frames=3) for w in (4, 6)
    )
    assert four.params() != six.params()
    one, two = (build_extractor("features", model=str(ckpt), window=w, stride=0.5) for w in (1.0, 1.5))
    assert one.params() != two.params()

    assert extract(four, video, tmp_path, progress=False).done == 1
    skipped = extract(four, video, tmp_path, progress=False)
    assert (skipped.done, skipped.skipped) == (0, 1)
    before = np.load(tmp_path / "v1.features.npy")
    redone = extract(six, video, tmp_path, progress=False)
    assert (redone.done, redone.skipped) == (1, 0)
    starts = [0, 3, 6, 7]  # 6 frames every 3, and one more ending at the last frame
    np.testing.assert_allclose(
        np.load(tmp_path / "v1.timestamps.npy"), [[s / FPS, (s + 6) / FPS] for s in starts], atol=1e-9
    )
    assert not np.allclose(np.load(tmp_path / "v1.features.npy"), before)
    assert json.loads((tmp_path / "v1.features.json").read_text())["params"]["window"] == 6.0


# -- pool and Ray ------------------------------------------------------------------------------------------------
def _features_run(corpus: Path, ckpt: Path, out: Path, **where) -> dict[str, np.ndarray]:
    # float32: the backends must agree to the last bits (bf16 kernels sum in an order that depends on threads)
    extractor = build_extractor("features", model=str(ckpt), window_frames=4, stride_frames=2, precision="32")
    report = extract(extractor, corpus, out, progress=False, **where)
    assert (report.done, report.failed) == (3, []), report
    return _outputs(out)


@pytest.fixture(scope="module")
def local_run(corpus, ckpt, tmp_path_factory) -> dict[str, np.ndarray]:
    return _features_run(corpus, ckpt, tmp_path_factory.mktemp("local"))


def test_process_pool_equals_in_process(corpus, ckpt, local_run, tmp_path):
    pooled = _features_run(corpus, ckpt, tmp_path, workers=2)
    assert list(pooled) == list(local_run) and len(pooled) == 6
    for name, array in local_run.items():
        np.testing.assert_allclose(pooled[name], array, rtol=1e-6, atol=1e-7, err_msg=name)


def test_local_two_worker_ray_equals_in_process(corpus, ckpt, local_run, tmp_path):
    pytest.importorskip("ray")
    on_ray = _features_run(corpus, ckpt, tmp_path, ray="auto", workers=2)
    assert list(on_ray) == list(local_run) and len(on_ray) == 6
    for name, array in local_run.items():
        np.testing.assert_allclose(on_ray[name], array, rtol=1e-6, atol=1e-7, err_msg=name)
    summary = json.loads((tmp_path / "_summary.features.json").read_text())
    assert summary["backend"] == "ray: 2 actors" and summary["done"] == 3
