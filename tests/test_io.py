"""Decoding: exact frames by index and by time, in every container the field meets, and clear errors.

The oracle for "exact" is a plain sequential decode of the whole file with PyAV: whatever frames a request
asks for, the reader must return those very frames, bit for bit, while decoding only the GOPs it needs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF

from vidact.errors import VideoError
from vidact.io import MetadataCache, VideoReader, available_backends, probe
from vidact.io._pyav import output_size
from vidact.io.writer import write_video

# The real data is ../shared/data from the project root, found from this file so that the tests see it whatever
# the working directory (a relative glob would find nothing from elsewhere and drop its tests without a word).
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SHARED_VIDEOS = sorted(str(p) for p in (DATA / "videos").glob("*/*"))
if not SHARED_VIDEOS:
    raise FileNotFoundError(f"no videos in {DATA / 'videos'}: the tests of real videos would vanish unseen")
ARM_WRESTLING = str(DATA / "videos" / "kinetics" / "arm_wrestling.mp4")  # 340x256, 280 frames: real content
EYE_MAKEUP = str(DATA / "videos" / "ucf101" / "apply_eye_makeup.avi")
CRICKET_GIF = str(DATA / "videos" / "ucf101" / "v_CricketShot_g04_c01_rgb.gif")
N, H, W = 96, 48, 64


def _frames(n: int = N, h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    """A clip whose frames all differ: a textured background scrolling, with the frame number in a corner."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (h, w * 2, 3), dtype=np.uint8)
    out = np.stack([np.roll(base, 2 * i, axis=1)[:, :w] for i in range(n)])
    for i in range(n):
        out[i, :8, :8] = (i * 37) % 256
    return out


# name -> write_video options; chosen to cover real timestamps (mp4/mkv/webm), decode-order containers (AVI)
# with and without B-frames, open GOPs, intra-only codecs, GIF and display rotation.
CASES = {
    "h264.mp4": dict(codec="libx264", gop=12, bframes=3),
    "h264.mkv": dict(codec="libx264", gop=12, bframes=3),
    "h264_bframes.avi": dict(codec="libx264", gop=12, bframes=3),
    "h264_opengop.mp4": dict(codec="libx264", gop=12, bframes=3, options={"x264-params": "open-gop=1"}),
    "h264_opengop.mkv": dict(codec="libx264", gop=12, bframes=3, options={"x264-params": "open-gop=1"}),
    "mpeg4_bframes.avi": dict(codec="mpeg4", gop=12, bframes=2),
    "mpeg4.mp4": dict(codec="mpeg4", gop=12, bframes=0),
    "vp9.webm": dict(codec="libvpx-vp9", gop=12),
    "mjpeg.avi": dict(codec="mjpeg", pix_fmt="yuvj420p"),
    "rotated90.mp4": dict(codec="libx264", gop=12, rotation=90),
    "anim.gif": dict(codec="gif"),
}


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("videos")
    frames = _frames()
    return {name: write_video(root / name, frames, fps=25, **opts) for name, opts in CASES.items()}


def _sequential(path: str) -> list[np.ndarray]:
    """Every frame of ``path`` by a plain decode from the start, rotated for display like the reader does."""
    with av.open(path) as c:
        frames = [(f.to_ndarray(format="rgb24"), f.rotation) for f in c.decode(video=0)]
    return [np.rot90(a, int(r) // 90) if r else a for a, r in frames]


def _check_exact(path: str, requests: list[np.ndarray]) -> None:
    ref = _sequential(path)
    reader = VideoReader(path)
    assert len(reader) == len(ref), f"{path}: index says {len(reader)} frames, decoding gives {len(ref)}"
    for idx in requests:
        idx = np.asarray(idx) % len(ref)
        got = reader.get_frames(idx).numpy()
        assert got.shape == (len(idx), *ref[0].shape)
        for j, i in enumerate(idx):
            assert np.array_equal(got[j], ref[i]), f"{path}: frame {i} differs from the sequential decode"


def _requests(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    return [
        np.array([n - 1]),  # the very last frame
        np.array([0]),
        np.arange(0, n, max(1, n // 16)),  # TSN-style spread
        rng.integers(0, n) + np.arange(16) * 2,  # a dense clip (wraps: unsorted)
        rng.integers(0, n, size=12),  # any order, duplicates allowed
        np.array([5, 5, 3, 3, 1]),
    ]


@pytest.mark.parametrize("name", list(CASES))
def test_exact_frames_generated(videos, name):
    rng = np.random.default_rng(zlib.crc32(name.encode()))  # the same requests in every run (unlike hash())
    _check_exact(videos[name], _requests(N, rng))


@pytest.mark.parametrize("path", SHARED_VIDEOS, ids=[os.path.basename(p) for p in SHARED_VIDEOS])
def test_exact_frames_real_videos(path):
    n = probe(path).num_frames
    rng = np.random.default_rng(0)
    _check_exact(path, _requests(n, rng)[:4])


def test_decodes_only_what_it_must(videos):
    path = videos["h264.mp4"]  # 96 frames, a keyframe every 12
    r = VideoReader(path)
    clip = r.get_frames([74, 76, 78, 80])
    assert clip.shape[0] == 4
    assert r.seeks == 1
    # from the keyframe at 72 up to frame 80, plus at most the decoder's reorder/threading delay
    assert r.decoded <= 80 - 72 + 1 + 8, r.decoded
    # two far-apart spans: two seeks, and nothing in between is decoded
    r.get_frames([2, 3, 90, 91])
    assert r.seeks == 2
    assert r.decoded <= (3 + 1) + (91 - 84 + 1) + 2 * 8
    # frames in the next GOP are reached by decoding on, not by seeking
    r.get_frames([10, 13])
    assert r.seeks == 1


def test_timestamps_and_time_access(videos):
    path = videos["h264.mkv"]
    r = VideoReader(path)
    ts = r.timestamps()
    assert ts.shape == (N,)
    np.testing.assert_allclose(np.diff(ts), 1 / 25, atol=1e-3)
    assert ts[0] == pytest.approx(0.0, abs=1e-6)
    idx = r.positions_at([0.0, 0.5, 1.0, 1.0 + 0.5 / 25, 100.0])
    assert idx.tolist() == [0, 12, 25, 25, N - 1]
    assert torch.equal(r.get_frames_at([0.5, 1.0]), r.get_frames([12, 25]))
    # AVI carries no presentation timestamps: frame i is shown at i / fps
    avi = VideoReader(videos["mpeg4_bframes.avi"])
    np.testing.assert_allclose(avi.timestamps([0, 25, 50]), [0.0, 1.0, 2.0])


def test_metadata_of_generated_and_real_videos(videos):
    m = probe(videos["h264.mp4"])
    assert (m.width, m.height, m.num_frames, m.num_frames_estimated) == (W, H, N, N)
    assert m.fps == pytest.approx(25.0)
    assert m.duration == pytest.approx(N / 25, abs=1e-3)
    assert m.keyframe_interval == pytest.approx(12.0)
    assert m.codec == "h264" and m.container.startswith("mov")
    assert not m.audio_streams
    rot = probe(videos["rotated90.mp4"])
    assert rot.rotation == 90 and (rot.width, rot.height) == (H, W)  # reported as displayed
    assert VideoReader(videos["rotated90.mp4"])[0].shape == (W, H, 3)
    k = probe(ARM_WRESTLING)
    assert (k.width, k.height, k.num_frames) == (340, 256, 280)
    u = probe(EYE_MAKEUP)
    assert (u.container, u.codec, u.width, u.height, u.fps) == ("avi", "mpeg4", 320, 240, 25.0)
    assert u.audio_streams and u.audio_streams[0].sample_rate == 44100
    g = probe(CRICKET_GIF)
    assert (g.container, g.width, g.height, g.num_frames) == ("gif", 224, 224, 79)


def test_resize_on_decode_and_layout(videos):
    path = ARM_WRESTLING  # 340x256: real content, not noise
    full = VideoReader(path).get_frames([0, 140])
    small = VideoReader(path, short_side=128, layout="TCHW").get_frames([0, 140])
    assert small.shape == (2, 3, 128, 170)
    expected = TF.resize(full.permute(0, 3, 1, 2), [128], antialias=True)
    assert expected.shape == small.shape
    err = (expected.float() - small.float()).abs().mean()
    assert err < 3.0, f"resize-on-decode drifts from torchvision's resize: mean abs {err:.2f}"
    assert VideoReader(videos["h264.mp4"], short_side=24).get_frames([3]).shape == (1, 24, 32, 3)
    # the shape rule is torchvision's: long side truncated
    assert output_size(340, 256, 128) == (170, 128)
    assert output_size(256, 340, 128) == (128, 170)
    assert output_size(100, 30, 7) == (23, 7)


def test_slicing_and_iteration(videos):
    r = VideoReader(videos["h264_bframes.avi"])
    assert torch.equal(r[10:20:3], r.get_frames([10, 13, 16, 19]))
    assert torch.equal(r[-1], r.get_frames([N - 1])[0])
    streamed = list(r.iter_frames(30, 45))
    assert [i for i, _, _ in streamed] == list(range(30, 45))
    assert torch.equal(torch.stack([f for _, _, f in streamed]), r.get_frames(range(30, 45)))
    with pytest.raises(IndexError, match="out of range"):
        r.get_frames([N])


@pytest.mark.parametrize("name", ["h264.mp4", "h264_bframes.avi", "anim.gif"])
def test_streaming_selected_positions(videos, name):
    r = VideoReader(videos[name])
    wanted = [90, 3, 4, 40, 41, 42, 4]  # any order, duplicates: served sorted, once each
    got = list(r.iter_frames(positions=wanted))
    assert [i for i, _, _ in got] == [3, 4, 40, 41, 42, 90]
    assert torch.equal(torch.stack([f for _, _, f in got]), r.get_frames([3, 4, 40, 41, 42, 90]))
    assert [t for _, t, _ in got] == pytest.approx(r.timestamps([3, 4, 40, 41, 42, 90]).tolist())


def test_frame_folder(tmp_path):
    frames = _frames(n=12)
    folder = tmp_path / "v_001"
    folder.mkdir()
    from PIL import Image

    for i, f in enumerate(frames):  # names whose lexical order is wrong: img_2 would sort after img_10
        Image.fromarray(f).save(folder / f"img_{i + 1}.png")
    r = VideoReader(folder, fps=10)
    assert len(r) == 12 and r.metadata.container == "frames" and r.metadata.fps == 10
    np.testing.assert_array_equal(r.get_frames([0, 9, 11]).numpy(), frames[[0, 9, 11]])
    assert r.get_frames_at([0.95]).shape == (1, H, W, 3)
    assert torch.equal(r.get_frames_at([0.95]), r.get_frames([9]))
    # JPEG frames decoded at reduced size (DCT scaling) still come out at the requested size
    jdir = tmp_path / "jpg"
    jdir.mkdir()
    for i, f in enumerate(frames[:4]):
        Image.fromarray(np.kron(f, np.ones((4, 4, 1), np.uint8))).save(jdir / f"img_{i:05d}.jpg", quality=95)
    small = VideoReader(jdir, short_side=32).get_frames([0, 3])
    w, h = output_size(W * 4, H * 4, 32)
    assert small.shape == (2, h, w, 3) and h == 32


def test_metadata_cache(tmp_path, videos, monkeypatch):
    cache = MetadataCache(tmp_path / "index.json")
    m1 = probe(videos["h264.mkv"], cache=cache)
    cache.save()
    reloaded = MetadataCache(tmp_path / "index.json")
    assert videos["h264.mkv"] in reloaded

    def boom(path):
        raise AssertionError("probed again")

    monkeypatch.setattr("vidact.io._pyav.probe", boom)
    m2 = probe(videos["h264.mkv"], cache=reloaded)
    assert m2.to_json() == m1.to_json()
    np.testing.assert_array_equal(m2.index.pts, m1.index.pts)
    assert torch.equal(
        VideoReader(videos["h264.mkv"], metadata=m2).get_frames([50]),
        VideoReader(videos["h264.mkv"], metadata=m1).get_frames([50]),
    )
    # a changed file (new mtime) is not served from the cache
    os.utime(videos["h264.mkv"], ns=(time.time_ns(), time.time_ns() + 10**9))
    assert reloaded.get(videos["h264.mkv"]) is None
    # constant-rate streams are stored compactly
    assert isinstance(m1.index.to_json()["pts"], dict)


@pytest.mark.skipif(
    "torchcodec" not in available_backends(), reason="torchcodec or FFmpeg libraries not installed"
)
def test_torchcodec_backend_agrees(videos):
    path = videos["h264.mp4"]
    idx = [0, 17, 18, 60, 95]
    ours = VideoReader(path).get_frames(idx)
    theirs = VideoReader(path, backend="torchcodec").get_frames(idx)
    assert theirs.shape == ours.shape
    assert (
        ours.float() - theirs.float()
    ).abs().mean() < 2.0  # same FFmpeg decode; colour conversion may differ


# -- bad input ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, videos) -> dict[str, tuple[str, str]]:
    """name -> (path, expected phrase in the error)."""
    root = tmp_path_factory.mktemp("bad")
    out = {}
    out["missing"] = (str(root / "nope.mp4"), "no such file")
    (root / "empty.mp4").write_bytes(b"")
    out["empty"] = (str(root / "empty.mp4"), "empty file")
    (root / "random.mp4").write_bytes(
        np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes()
    )
    out["random bytes"] = (str(root / "random.mp4"), "invalid data")
    data = open(videos["h264.mp4"], "rb").read()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 2])
    out["truncated mp4"] = (str(root / "truncated.mp4"), "invalid data")
    data = open(videos["h264.mkv"], "rb").read()
    (root / "truncated.mkv").write_bytes(data[: len(data) // 2])
    out["truncated mkv"] = (str(root / "truncated.mkv"), "truncated")
    # audio only
    c = av.open(str(root / "audio.m4a"), "w")
    s = c.add_stream("aac", rate=16000)
    for _ in range(4):
        f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        f.sample_rate = 16000
        for p in s.encode(f):
            c.mux(p)
    for p in s.encode():
        c.mux(p)
    c.close()
    out["audio only"] = (str(root / "audio.m4a"), "no video stream (audio only: aac)")
    # unsupported codec: an AVI whose fourcc names no decoder
    data = open(videos["mjpeg.avi"], "rb").read()
    (root / "unknown_codec.avi").write_bytes(data.replace(b"MJPG", b"QQQQ"))
    out["unsupported codec"] = (str(root / "unknown_codec.avi"), "unsupported codec")
    # a container with a video stream and no frames
    c = av.open(str(root / "zero.mkv"), "w")
    s = c.add_stream("libx264", rate=10)
    s.width, s.height, s.pix_fmt = 64, 32, "yuv420p"
    c.start_encoding()
    c.close()
    out["zero frames"] = (str(root / "zero.mkv"), "no frames")
    (root / "a_directory").mkdir()
    out["directory"] = (str(root / "a_directory"), "is a directory")
    return out


BAD = [
    "missing",
    "empty",
    "random bytes",
    "truncated mp4",
    "truncated mkv",
    "audio only",
    "unsupported codec",
    "zero frames",
    "directory",
]


@pytest.mark.parametrize("case", BAD)
def test_bad_input_raises_video_error(bad_files, case):
    path, phrase = bad_files[case]
    with pytest.raises(VideoError) as e:
        VideoReader(path)
    assert e.value.path == path
    assert phrase in e.value.reason, e.value.reason
    assert "\n" not in str(e.value)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vidact.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_cli_info_bad_input_one_line_exit_2(bad_files):
    for case in BAD:
        path, phrase = bad_files[case]
        res = _cli("info", path)
        assert res.returncode == 2, (case, res.stderr)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), (case, res.stderr)
        assert phrase in lines[0]
        assert "Traceback" not in res.stderr and res.stdout == ""
    res = _cli("--debug", "info", bad_files["empty"][0])
    assert res.returncode != 0 and "Traceback" in res.stderr


def test_cli_info_prints_what_a_user_needs():
    res = _cli("info", EYE_MAKEUP)
    assert res.returncode == 0, res.stderr
    for word in ("avi", "mpeg4", "320x240", "25.000", "164", "6.560 s", "mp3", "keyframe"):
        assert word in res.stdout, word
    res = _cli("info", "--json", ARM_WRESTLING)
    import json

    d = json.loads(res.stdout)
    assert (d["num_frames"], d["width"], d["height"], d["codec"]) == (280, 340, 256, "h264")


def test_no_ffmpeg_log_callback_installed():
    # PyAV's Python log callback takes the GIL from FFmpeg's decoder threads; with it installed, closing a
    # frame-threaded decoder can deadlock (the main thread holds the GIL while joining those threads).
    import vidact.io  # noqa: F401

    assert av.logging.get_level() is None
    for _ in range(8):  # open, decode with threads, close: must not hang
        with VideoReader(ARM_WRESTLING, threads=2) as r:
            r.get_frames([3, 100, 250])
