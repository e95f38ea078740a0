"""Page 10, "Your video": the models with real weights here, the analysis job (info, sampling, every model's
prediction) against vidact's own functions, failures and bad requests as one line, cancel, and the page."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from vidact.errors import CheckpointError

LITE0 = "per_frame_efficientnet_lite0.imagenet"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
NTU = "ntu/S001C001P001R001A001_drink_water.avi"


def _run(app, client, body: dict) -> dict:
    r = client.post("/api/your_video/analyse", json=body)
    assert r.status_code == 200, r.text
    job = app.state.ctx.jobs.get(r.json()["job"])
    assert job.wait(600)
    return client.get(f"/api/jobs/{job.id}").json()


def _upload(client, path: Path) -> dict:
    r = client.post("/api/uploads", files={"file": (path.name, path.read_bytes())})
    assert r.status_code == 200, r.text
    return r.json()


def test_the_models_with_real_weights_here(client) -> None:
    names = [m["name"] for m in client.get("/api/your_video/models").json()["models"]]
    assert LITE0 in names  # bundled with vidact
    assert not any(n.startswith("raft") for n in names)  # flow estimators are not classifiers
    if SHARED.is_dir():  # registered from the shared data, as `vidact demo` does
        assert {"efficientgcn_b0.ntu60", "stgcnpp_hand.hagrid"} <= set(names)


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs the shared data (../shared/data)")
def test_first_requests_at_once_register_the_shared_weights_safely() -> None:
    """Several first requests at once (a page asks for its models and its options together) each register the
    shared skeleton weights: vidact's checkpoint reader is not thread-safe, the explorer serialises the loads."""
    import threading

    from vidact.demo.explore.predicting import real_models

    got, errors = [], []

    def ask() -> None:
        try:
            got.append(sorted(m["name"] for m in real_models()))
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(got) == 3 and got[0] == got[1] == got[2]
    assert {"efficientgcn_b0.ntu60", "stgcnpp_hand.hagrid"} <= set(got[0])


def test_an_upload_is_described_sampled_and_predicted_as_vidact_does(app, client, video_file) -> None:
    from vidact.data.sampling import window_clip
    from vidact.infer.predict import load_predictor, predict_video
    from vidact.io import VideoReader

    path = video_file("mine.mp4", frames=36, fps=12.0, size=64)
    up = _upload(client, path)
    j = _run(app, client, {"upload": up["id"], "models": [LITE0]})
    assert j["state"] == "done", j
    r = j["result"]
    assert r["info"] == up["info"] and r["info"]["path"] == "mine.mp4"
    s = r["sampling"]
    pred = load_predictor(LITE0)
    with VideoReader(path) as reader:
        times = reader.timestamps()
    assert s["model"] == LITE0 and s["num_windows"] == 2 and (s["window"], s["stride"]) == (2.0, 1.0)
    # the card's clip: 8 frames, every 8th, centred in each window (stride sampling, not TSN segments)
    assert (s["sampling"], s["clip_frames"], s["frame_stride"]) == ("stride", 8, 8) and not pred.spec.segments
    for w in s["windows"]:
        want = window_clip(times, w["start"], w["end"], pred.spec, "stride")
        assert w["frames"] == [round(float(times[i]), 4) for i in want]
    assert r["failures"] == [] and len(r["predictions"]) == 1
    p = r["predictions"][0]
    direct = predict_video(pred, path, window=2.0, stride=1.0).to_json(5)
    assert p["model"] == LITE0 and p["modality"] == "video" and p["video"] == "mine.mp4"
    assert p["top"] == direct["top"] and p["timeline"] == direct["timeline"]


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs the shared data (../shared/data)")
@pytest.mark.slow
def test_a_shared_clip_through_every_model_here(app, client) -> None:
    pytest.importorskip("mediapipe", reason="skeleton models need MediaPipe")
    r = _run(app, client, {"shared": NTU})["result"]
    by_model = {p["model"]: p for p in r["predictions"]}
    assert by_model["efficientgcn_b0.ntu60"]["top"][0]["label"] == "drink water"
    assert by_model["stgcnpp_hand.hagrid"]["note"].startswith(f"{NTU}: no hand found")
    assert str(SHARED) not in json.dumps(r)


def test_a_model_that_cannot_run_is_listed_with_its_reason(app, client, video_file, monkeypatch) -> None:
    from vidact.demo.explore import predicting

    real = predicting.predictor

    def broken(ctx, name):
        if name == LITE0:
            raise CheckpointError(f"{ctx.uploads.root}/x.pth: checksum mismatch")
        return real(ctx, name)

    monkeypatch.setattr(predicting, "predictor", broken)
    up = _upload(client, video_file("clip.mp4"))
    r = _run(app, client, {"upload": up["id"], "models": [LITE0]})["result"]
    assert r["predictions"] == [] and r["failures"] == [
        {"model": LITE0, "error": f"{app.state.ctx.uploads.root}/x.pth: checksum mismatch"}
    ]
    assert r["sampling"] is None


def test_bad_requests_are_one_line(client, video_file) -> None:
    up = _upload(client, video_file("clip.mp4"))
    cases = [
        ({}, 400, "give one video: an uploaded one (upload) or a shared clip (shared)"),
        ({"upload": up["id"], "shared": NTU}, 400, "give one video"),
        ({"upload": "nope"}, 404, "no uploaded video 'nope'"),
        ({"shared": "../secret.mp4"}, 400, "no shared clip '../secret.mp4'"),
        (
            {"upload": up["id"], "models": ["r3d_18.kinetics400"]},
            400,
            "no weights here for r3d_18.kinetics400; models here: ",
        ),
        ({"upload": up["id"], "models": []}, 400, "no model to run: choose at least one"),
    ]
    for body, status, message in cases:
        r = client.post("/api/your_video/analyse", json=body)
        assert r.status_code == status and r.json()["error"].startswith(message), (body, r.text)


def test_an_analysis_can_be_cancelled(app, client, video_file) -> None:
    up = _upload(client, video_file("long.mp4", frames=480, fps=24.0, size=64))
    job_id = client.post("/api/your_video/analyse", json={"upload": up["id"], "models": [LITE0]}).json()[
        "job"
    ]
    job = app.state.ctx.jobs.get(job_id)
    deadline = time.monotonic() + 120
    while "batch" not in job.to_json()["message"] and time.monotonic() < deadline:
        time.sleep(0.05)
    client.delete(f"/api/jobs/{job_id}")
    assert job.wait(60) and job.state == "cancelled"


# ---------------------------------------------------------------- in a browser


def test_the_page_analyses_an_upload(page, server, video_file, screenshot) -> None:
    page.goto(server + "/#/your_video")
    page.wait_for_selector('#page-your_video[data-ready="1"]')
    boxes = page.locator(".yv-models input[type=checkbox]")
    assert boxes.count() >= 1
    for i in range(boxes.count()):  # the ImageNet model only: a few seconds
        if boxes.nth(i).get_attribute("value") != LITE0:
            boxes.nth(i).uncheck()
    with page.expect_response(lambda r: r.url.endswith("/api/your_video/analyse")) as started:
        page.locator(".yv-file").set_input_files(str(video_file("walk.mp4", frames=36, fps=12.0, size=64)))
    page.wait_for_function("() => document.querySelector('#page-your_video').dataset.analysed === 'walk.mp4'")
    with urllib.request.urlopen(f"{server}/api/jobs/{started.value.json()['job']}") as resp:
        r = json.loads(resp.read())["result"]
    info = r["info"]
    assert page.locator('.yv-info dd[data-field="resolution"]').inner_text() == "64×64"
    assert (
        page.locator('.yv-info dd[data-field="frames (exact)"]').inner_text()
        == str(info["num_frames"])
        == "36"
    )
    assert page.locator(".yv-sampling").get_attribute("data-windows") == str(r["sampling"]["num_windows"])
    marks = page.locator('.yv-sampling line.mark[data-track="window 1"]')
    assert [float(marks.nth(i).get_attribute("data-t")) for i in range(marks.count())] == r["sampling"][
        "windows"
    ][0]["frames"]
    p = r["predictions"][0]
    bars = page.locator(f'.yv-model[data-model="{LITE0}"] rect.bar')
    assert [float(bars.nth(i).get_attribute("data-value")) for i in range(bars.count())] == [
        t["score"] for t in p["top"]
    ]
    segments = page.locator(f'.yv-predictions rect.segment[data-track="{LITE0}"]')
    assert segments.count() == len(p["timeline"])
    assert [segments.nth(i).get_attribute("data-label") for i in range(segments.count())] == [
        w["top"][0]["label"] for w in p["timeline"]
    ]
    assert np.isclose(float(segments.nth(0).get_attribute("data-score")), p["timeline"][0]["top"][0]["score"])
    screenshot(page, "your_video")


def test_the_page_shows_a_bad_upload_as_one_line(page, server, tmp_path) -> None:
    page.goto(server + "/#/your_video")
    page.wait_for_selector('#page-your_video[data-ready="1"]')
    bad = tmp_path / "holiday.mov"
    bad.write_bytes(b"\x00\x01garbage" * 100)
    page.locator(".yv-file").set_input_files(str(bad))
    page.wait_for_selector(".error:not([hidden])")
    assert page.locator(".error").inner_text().startswith("holiday.mov: not a video FFmpeg can read")
    assert page.locator(".yv-info").count() == 0
