"""Page 8, "Skeleton player": the NTU sample's joints against the raw file and NTU's own bone list, EfficientGCN's
answer against the official code's, the pose job on a real clip (result, cancel, MediaPipe missing), and the player
in a browser (bones, joints and temporal edges drawn, the pose extracted by clicking)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
CLIP = "asl/milk"  # the shortest real clip with a model: 51 frames of a signing hand

#: NTU RGB+D's 24 bones as its documentation numbers the joints (1-based).
NTU_BONES = [(4, 3), (3, 21), (21, 2), (2, 1), (8, 7), (7, 6), (6, 5), (5, 21), (12, 11), (11, 10), (10, 9),
             (9, 21), (16, 15), (15, 14), (14, 13), (13, 1), (20, 19), (19, 18), (18, 17), (17, 1), (22, 8),
             (23, 8), (24, 12), (25, 12)]  # fmt: skip


@pytest.fixture(autouse=True)
def _real_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDACT_REAL_DATA", str(DATA))


def test_the_ntu_sample_its_bones_and_efficientgcns_answer(client: Any) -> None:
    data = client.get("/api/skeleton/ntu").json()
    raw = np.load(DATA / "skeleton" / "ntu60_sample_C3_T300_V25_M2.npy")  # [C, T, V, M], zero-padded
    used = np.flatnonzero(np.abs(raw).max(axis=(0, 2, 3)))
    assert data["frames"] == used[-1] + 1 == 72 and data["persons"] == 1
    np.testing.assert_allclose(np.array(data["keypoint"])[0], raw[:, :72, :, 0].transpose(1, 2, 0), atol=1e-4)
    undirected = {frozenset(e) for e in data["edges"]}  # vidact roots the tree elsewhere: compare the bones
    assert len(data["edges"]) == 24 and undirected == {frozenset((c - 1, p - 1)) for c, p in NTU_BONES}
    assert data["input_shape"] == [1, 2, 288, 25, 3]
    assert data["top"][0]["name"] == "drop" and data["top"][0]["score"] > 0.9  # what the official code says


def test_the_pose_job_extracts_and_scores_a_real_clip(client: Any) -> None:
    listing = client.get("/api/skeleton/clips").json()
    names = {c["name"]: c for c in listing["clips"]}
    assert names[CLIP] == {"name": CLIP, "dataset": "asl", "truth": "milk", "model": "stgcnpp_hand.hagrid"}
    assert names["ntu/S001C001P001R001A001_drink_water"]["model"] == "efficientgcn_b0.ntu60"
    assert listing["pose"] == {"available": True, "reason": None}
    job = client.post("/api/skeleton/pose", json={"clip": CLIP}).json()["job"]
    state = _wait(client, job)
    assert state["state"] == "done", state
    pose = state["result"]
    assert pose["layout"] == "hand21" and len(pose["edges"]) == 20 and pose["img_shape"] == [480, 640]
    keypoint, found = np.array(pose["keypoint"]), np.array(pose["found"])
    assert keypoint.shape == (2, 51, 21, 2) and found.shape == (2, 51) and found.any()
    assert pose["frame_index"] == list(range(51)) and np.all(np.diff(pose["timestamps"]) > 0)
    seen = keypoint[found]  # [K, 21, 2] pixels of the hands found, inside the 640x480 frame
    assert (seen[..., 0] >= -50).all() and (seen[..., 0] <= 690).all() and (seen[..., 1] <= 530).all()
    assert len(pose["top"]) == 5 and all(0 <= c["score"] <= 1 for c in pose["top"])
    assert pose["timeline"] and pose["timeline"][0]["top"]
    again = client.post("/api/skeleton/pose", json={"clip": CLIP}).json()["job"]
    assert _wait(client, again)["result"] == pose  # kept: the same answer at once


def _wait(client: Any, job: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = client.get(f"/api/jobs/{job}").json()
        if state["state"] != "running" or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


def test_a_cancelled_pose_job_ends_cancelled(client: Any) -> None:
    job = client.post("/api/skeleton/pose", json={"clip": "asl/yes"}).json()["job"]
    assert client.delete(f"/api/jobs/{job}").status_code == 200
    assert _wait(client, job)["state"] == "cancelled"


def test_unknown_clips_and_missing_mediapipe_are_one_line_errors(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = client.post("/api/skeleton/pose", json={"clip": "../../etc/passwd"})
    assert r.status_code == 400 and "unknown clip" in r.json()["error"]
    r = client.get("/api/skeleton/frame/99", params={"clip": CLIP})
    assert r.status_code == 400 and "frame 99 is not one of the clip's 51" in r.json()["error"]
    import vidact.pose
    from vidact.errors import ConfigError

    def missing() -> None:
        raise ConfigError("pose extraction needs MediaPipe: pip install 'vidact[pose]'")

    monkeypatch.setattr(vidact.pose, "import_mediapipe", missing)
    listing = client.get("/api/skeleton/clips").json()
    assert listing["pose"] == {
        "available": False,
        "reason": "pose extraction needs MediaPipe: pip install 'vidact[pose]'",
    }
    r = client.post("/api/skeleton/pose", json={"clip": CLIP})
    assert r.status_code == 400 and r.json()["error"] == listing["pose"]["reason"]


# -- the page in a browser ---------------------------------------------------------------------------------------
def test_the_player_draws_bones_joints_and_temporal_edges(page: Any, server: str, goto: Any, client: Any,
                                                          screenshot: Any) -> None:  # fmt: skip
    root = goto(page, server, "skeleton", timeout=90_000)
    ntu = client.get("/api/skeleton/ntu").json()
    assert root.locator(".ntu-top li").evaluate_all("ls => ls.map(l => l.dataset.label)") == [
        c["name"] for c in ntu["top"]
    ]
    canvas = root.locator("canvas.ntu-canvas")
    assert (canvas.get_attribute("data-bones"), canvas.get_attribute("data-joints")) == ("24", "25")
    scrub = root.locator(".ntu input.scrub")
    scrub.evaluate("s => { s.value = '10'; s.dispatchEvent(new Event('input')); }")
    assert canvas.get_attribute("data-frame") == "10"
    assert canvas.get_attribute("data-temporal") == str(25 * 4)  # 25 joints x the last 4 frame steps
    trail = root.locator(".ntu input[name=trail]")
    trail.fill("0")
    trail.dispatch_event("change")
    assert canvas.get_attribute("data-temporal") == "0"

    job = client.post("/api/skeleton/pose", json={"clip": CLIP}).json()["job"]  # the page's job finds it kept
    pose = _wait(client, job)["result"]
    root.locator("select[name=clip]").select_option(CLIP)
    root.locator("button.extract").click()
    page.wait_for_function(
        "() => document.querySelector('#page-skeleton .pose').dataset.state === 'done'", timeout=120_000
    )
    panel = root.locator(".panel.pose")
    assert (panel.get_attribute("data-clip"), panel.get_attribute("data-frames")) == (CLIP, "51")
    assert root.locator(".pose-top li").evaluate_all("ls => ls.map(l => l.dataset.label)") == [
        c["label"] for c in pose["top"]
    ]
    t = int(np.flatnonzero(np.array(pose["found"]).any(axis=0))[0]) + 2
    root.locator(".pose input.scrub").evaluate(
        "(s, v) => { s.value = v; s.dispatchEvent(new Event('input')); }", str(t)
    )
    hands = int(np.array(pose["found"])[:, t].sum())
    pose_canvas = root.locator("canvas.pose-canvas")
    assert pose_canvas.get_attribute("data-bones") == str(20 * hands)
    assert pose_canvas.get_attribute("data-joints") == str(21 * hands)
    assert root.locator(".pose-timeline rect.segment").count() == len(pose["timeline"])
    page.wait_for_function(
        "() => document.querySelector('#page-skeleton canvas.pose-canvas').dataset.background === '1'"
    )
    screenshot(page, "skeleton")
