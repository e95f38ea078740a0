"""Uploads: streamed to a private folder under a random name, checked by content, refused with one line, deleted."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import numpy as np
import pytest

from vidact.demo.explore.uploads import UploadLimits, UploadNotFound, display_name
from vidact.io.writer import write_video


def _video(path: Path, frames: int = 16, fps: float = 8.0) -> bytes:
    rng = np.random.default_rng(0)
    clip = rng.integers(0, 255, size=(frames, 32, 32, 3), dtype=np.uint8)
    write_video(
        path,
        clip,
        fps=fps,
        codec="gif" if path.suffix == ".gif" else "libx264",
        pix_fmt="rgb8" if path.suffix == ".gif" else "yuv420p",
    )
    return path.read_bytes()


@pytest.fixture
def mp4(tmp_path: Path) -> bytes:
    return _video(tmp_path / "clip.mp4")


def _stored(app) -> list[str]:
    return sorted(os.listdir(app.state.ctx.uploads.root))


def test_a_video_is_stored_privately_under_a_random_name(app, client, mp4: bytes) -> None:
    r = client.post(
        "/api/uploads", files={"file": ("../../etc/my clip.mp4", mp4, "application/octet-stream")}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"id", "name", "size", "info"}
    assert body["name"] == "my clip.mp4" and body["size"] == len(mp4)
    info = body["info"]
    assert info["path"] == "my clip.mp4"  # never the server's path
    assert (info["width"], info["height"], info["num_frames"]) == (32, 32, 16)
    assert info["duration"] == pytest.approx(2.0, abs=0.15)
    assert "index" not in info
    store = app.state.ctx.uploads
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    path = store.path(body["id"])
    assert path.parent == store.root and path.name == body["id"] and "clip" not in path.name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == mp4


def test_a_gif_is_recognised_by_its_content(client, tmp_path: Path) -> None:
    gif = _video(tmp_path / "anim.gif", frames=6)
    r = client.post("/api/uploads", files={"file": ("no-extension", gif)})
    assert r.status_code == 200, r.text
    assert r.json()["info"]["num_frames"] == 6


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("notes.mp4", b"this is a text file, not a video\n" * 20, "notes.mp4: not a video FFmpeg can read"),
        ("empty.mp4", b"", "empty.mp4: empty file (0 bytes)"),
        ("image.png", None, None),  # a still image: one frame, zero duration; see below
    ],
)
def test_files_that_are_not_videos_are_refused_with_one_line(
    app, client, filename, data, message, tmp_path
) -> None:
    if data is None:
        from PIL import Image

        Image.new("RGB", (8, 8)).save(tmp_path / "x.png")
        data = (tmp_path / "x.png").read_bytes()
    r = client.post("/api/uploads", files={"file": (filename, data)})
    if message is None:  # FFmpeg reads a PNG as a one-frame video: accepted or refused, never a crash
        assert r.status_code in (200, 400) and ("error" in r.json()) == (r.status_code == 400)
        return
    assert r.status_code == 400
    error = r.json()["error"]
    assert error.startswith(message) and "\n" not in error and "Traceback" not in error
    assert str(app.state.ctx.uploads.root) not in error
    assert _stored(app) == []  # deleted on failure


def test_malformed_requests_are_refused_with_one_line(app, client, mp4: bytes) -> None:
    r = client.post("/api/uploads", content=mp4, headers={"content-type": "video/mp4"})
    assert r.status_code == 400 and r.json()["error"].startswith(
        "send the video as a multipart/form-data form"
    )
    r = client.post("/api/uploads", files={"video": ("clip.mp4", mp4)})
    assert r.status_code == 400 and r.json() == {"error": "the form has no field named 'file'"}
    r = client.post(
        "/api/uploads",
        content=b'--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\nabc',
        headers={"content-type": "multipart/form-data; boundary=XYZ"},
    )
    assert r.status_code == 400 and "error" in r.json()
    assert _stored(app) == []


def test_too_large_uploads_are_refused_before_or_while_streaming(make_app, mp4: bytes) -> None:
    from fastapi.testclient import TestClient

    app = make_app(limits=UploadLimits(max_bytes=len(mp4) - 1))
    with TestClient(app, raise_server_exceptions=False) as client:
        # within the Content-Length slack: refused while streaming, at the byte over the limit
        r = client.post("/api/uploads", files={"file": ("clip.mp4", mp4)})
        assert r.status_code == 413 and r.json()["error"].startswith("the upload is over the limit of")
        # far over: refused from its Content-Length, before reading the body
        r = client.post("/api/uploads", files={"file": ("big.mp4", mp4 * 40)})
        assert r.status_code == 413 and r.json()["error"].startswith("the upload is ")
        assert _stored(app) == []
    app2 = make_app(limits=UploadLimits(max_bytes=len(mp4)))
    with TestClient(app2) as client:
        assert client.post("/api/uploads", files={"file": ("clip.mp4", mp4)}).status_code == 200


def test_too_long_videos_are_refused(make_app, mp4: bytes) -> None:
    from fastapi.testclient import TestClient

    app = make_app(limits=UploadLimits(max_seconds=1.5))
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/api/uploads", files={"file": ("clip.mp4", mp4)})
        assert r.status_code == 400
        assert r.json() == {"error": "clip.mp4: the video is 2.0 s long, over the limit of 1.5 s"}
        assert _stored(app) == []


def test_delete_and_unknown_ids(app, client, mp4: bytes) -> None:
    uid = client.post("/api/uploads", files={"file": ("clip.mp4", mp4)}).json()["id"]
    path = app.state.ctx.uploads.path(uid)
    r = client.delete(f"/api/uploads/{uid}")
    assert r.status_code == 200 and r.json() == {"deleted": uid}
    assert not path.exists()
    r = client.delete(f"/api/uploads/{uid}")
    assert r.status_code == 404 and r.json()["error"].startswith(f"no uploaded video '{uid}'")
    with pytest.raises(UploadNotFound, match="upload the video again"):
        app.state.ctx.uploads.path(uid)
    with pytest.raises(UploadNotFound):
        app.state.ctx.uploads.path("../../etc/passwd")


def test_uploads_expire_and_the_oldest_go_beyond_max_files(make_app, mp4: bytes) -> None:
    from fastapi.testclient import TestClient

    app = make_app(limits=UploadLimits(ttl_seconds=0.3, max_files=2))
    store = app.state.ctx.uploads
    with TestClient(app) as client:
        ids = [client.post("/api/uploads", files={"file": (f"{i}.mp4", mp4)}).json()["id"] for i in range(3)]
        assert [u.id for u in store.list()] == ids[1:]  # the first was evicted
        assert len(_stored(app)) == 2
        time.sleep(0.45)
        with pytest.raises(UploadNotFound):
            store.path(ids[2])
        assert _stored(app) == []


def test_the_folder_goes_when_the_app_stops(make_app, mp4: bytes) -> None:
    from fastapi.testclient import TestClient

    app = make_app()
    with TestClient(app) as client:
        client.post("/api/uploads", files={"file": ("clip.mp4", mp4)})
        root = app.state.ctx.uploads.root
        assert len(os.listdir(root)) == 1
    assert not root.exists()


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("C:\\Users\\me\\clip.mp4", "clip.mp4"),
        ("a/b/../c.mov", "c.mov"),
        ("", "upload"),
        ("x\x00\x1b[31m.mp4", "x[31m.mp4"),
        ("é" * 100, "é" * 80),
    ],
)
def test_display_names(given: str, shown: str) -> None:
    assert display_name(given) == shown
