"""Page 2, "Flicker": the options, scoring jobs (synthetic clips with the demo's models, uploads and shared clips
with the bundled ImageNet per-frame model), their numbers against vidact's own, bad requests, and the page."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from vidact.demo.explore.pages import flicker as page_module

LITE0 = "per_frame_efficientnet_lite0.imagenet"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _result(app, client, body: dict) -> dict:
    r = client.post("/api/flicker/run", json=body)
    assert r.status_code == 200, r.text
    job = app.state.ctx.jobs.get(r.json()["job"])
    assert job.wait(300)
    return client.get(f"/api/jobs/{job.id}").json()


@pytest.fixture
def runs_app(make_app, demo_runs):
    app = make_app(runs=demo_runs)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield app, c


def test_options_list_the_per_frame_models_here(client, runs_app) -> None:
    o = client.get("/api/flicker/options").json()
    assert o["demo"] is False and [m["key"] for m in o["models"]] == [LITE0]  # the bundled weights
    assert o["pairs"][0] == "raise"
    if SHARED.is_dir():
        assert "kinetics/tai_chi.mp4" in o["shared"]
    _, c = runs_app
    o = c.get("/api/flicker/options").json()
    assert (
        o["demo"] is True
        and [m["key"] for m in o["models"]] == ["demo", LITE0]
        and o["pairs"] == ["raise", "lift"]
    )
    assert c.get("/api/flicker/classes", params={"model": "demo"}).json()["classes"] == [
        "raising_hand", "lowering_hand", "picking_up", "putting_down"
    ]  # fmt: skip
    lite0 = c.get("/api/flicker/classes", params={"model": LITE0}).json()["classes"]
    assert len(lite0) == 1000 and lite0[0] == "tench, Tinca tinca"


def test_a_synthetic_clip_through_the_demos_models(runs_app) -> None:
    app, c = runs_app
    j = _result(app, c, {"model": "demo", "source": "synthetic", "pair": "raise", "reverse": True})
    assert j["state"] == "done", j
    r = j["result"]
    assert r["video"] == {"name": "synthetic lowering hand #0", "duration": 2.0, "fps": 8.0, "num_frames": 16}
    assert r["classes"] == ["raising_hand", "lowering_hand"] and r["model"] == "per_frame_resnet18"
    f = r["flicker"]
    assert r["scored"] == 16 and f["frame_times"] == [i / 8 for i in range(16)] and r["window"] == 1.0
    for c_ in r["classes"]:
        assert len(f["frame_probs"][c_]) == 16 and all(0 <= p <= 1 for p in f["frame_probs"][c_])
    # the clip's answer is the mean of its two windows' consensus, each near its frames' mean
    assert r["temporal"]["model"] == "simple3d" and set(r["temporal"]["clip_probs"]) == set(r["classes"])
    assert len(r["strip"]) == 8 and r["strip"][0]["image"].startswith("data:image/png;base64,")


def test_an_upload_through_the_imagenet_model_is_vidacts_own_numbers(app, client, video_file) -> None:
    from vidact.demo.flicker import flicker
    from vidact.infer.predict import load_predictor, predict_video

    path = video_file("clip.mp4", frames=24, fps=12.0, size=64)
    up = client.post("/api/uploads", files={"file": ("clip.mp4", path.read_bytes())}).json()
    j = _result(app, client, {"model": LITE0, "source": "upload", "upload": up["id"]})
    assert j["state"] == "done", j
    r = j["result"]
    assert r["video"]["name"] == "clip.mp4" and r["video"]["num_frames"] == 24 and r["scored"] == 24
    # the same file through vidact's API directly: the same numbers (the default classes are its top two)
    prediction = predict_video(
        load_predictor(LITE0),
        path,
        window=r["window"],
        stride=r["window"],
        frame_scores=True,
        sampling="uniform",
    )
    assert r["classes"] == [label for label, _ in prediction.top(2)]
    assert r["flicker"] == flicker(prediction, r["classes"]).to_json()
    assert r["temporal"] is None
    # two classes of the user's choice
    j = _result(
        app,
        client,
        {
            "model": LITE0,
            "source": "upload",
            "upload": up["id"],
            "classes": ["goldfish, Carassius auratus", "tench, Tinca tinca"],
        },
    )
    assert j["result"]["classes"] == ["goldfish, Carassius auratus", "tench, Tinca tinca"]
    assert j["result"]["flicker"] == flicker(prediction, j["result"]["classes"]).to_json()


def test_long_videos_score_about_max_scored_frames(app, client, video_file, monkeypatch) -> None:
    monkeypatch.setattr(page_module, "MAX_SCORED", 16)
    path = video_file("long.mp4", frames=48, fps=12.0)
    up = client.post("/api/uploads", files={"file": ("long.mp4", path.read_bytes())}).json()
    r = _result(app, client, {"model": LITE0, "source": "upload", "upload": up["id"]})["result"]
    assert r["window"] == pytest.approx(4.0 * 8 / 16, abs=1e-3)  # duration x frames per window / MAX_SCORED
    assert 14 <= r["scored"] <= 18


def test_bad_requests_are_one_line(runs_app) -> None:
    app, c = runs_app
    cases = [
        ({"model": "nope"}, "no per-frame model 'nope' here; choose from demo, " + LITE0),
        (
            {"model": LITE0, "source": "upload", "upload": "zzz"},
            "no uploaded video 'zzz' (deleted or expired): upload the video again",
        ),
        (
            {"model": LITE0, "source": "shared", "shared": "../../etc/passwd"},
            "no shared clip '../../etc/passwd'; choose from ",
        ),
        (
            {"model": "demo", "classes": ["raising_hand", "waving"]},
            "per_frame_resnet18 has no class 'waving'",
        ),
        ({"model": "demo", "source": "webcam"}, "source: Input should be 'synthetic', 'shared' or 'upload'"),
        (
            {"model": "demo", "classes": ["a", "b", "c", "d", "e"]},
            "classes: List should have at most 4 items",
        ),
    ]
    for body, message in cases:
        r = c.post("/api/flicker/run", json=body)
        assert r.status_code in (400, 404), (body, r.text)
        assert r.json()["error"].startswith(message), (body, r.json())
    r = c.post("/api/flicker/run", json={"model": "demo", "source": "synthetic", "pair": "rotate"})
    assert r.status_code == 400 and r.json() == {
        "error": "the demo's models were not trained on the pair 'rotate'; choose from raise, lift"
    }
    # the ImageNet model takes any synthetic pair
    j = _result(app, c, {"model": LITE0, "source": "synthetic", "pair": "rotate"})
    assert j["state"] == "done" and j["result"]["video"]["name"] == "synthetic rotating clockwise #0"


def test_a_scoring_job_can_be_cancelled(app, client, video_file) -> None:
    path = video_file("long.mp4", frames=240, fps=24.0, size=64)
    up = client.post("/api/uploads", files={"file": ("long.mp4", path.read_bytes())}).json()
    job_id = client.post(
        "/api/flicker/run", json={"model": LITE0, "source": "upload", "upload": up["id"]}
    ).json()["job"]
    job = app.state.ctx.jobs.get(job_id)
    deadline = time.monotonic() + 120
    while job.to_json()["progress"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.delete(f"/api/jobs/{job_id}").status_code == 200
    assert job.wait(60)
    assert client.get(f"/api/jobs/{job_id}").json()["state"] == "cancelled"


# ---------------------------------------------------------------- in a browser


def _job_result(base: str, job_id: str) -> dict:
    with urllib.request.urlopen(f"{base}/api/jobs/{job_id}") as r:  # 127.0.0.1 only
        return json.loads(r.read())["result"]


def test_the_page_draws_the_flicker_and_rescores(page, serve, make_app, demo_runs, screenshot) -> None:
    # VIDACT_SCREENSHOT_RUNS: a real `vidact demo --out` folder, for screenshots of trained models' answers
    base = serve(make_app(runs=Path(os.environ.get("VIDACT_SCREENSHOT_RUNS", demo_runs))))
    with page.expect_response(lambda r: r.url.endswith("/api/flicker/run")) as started:
        page.goto(base + "/#/flicker")
    page.wait_for_selector('#page-flicker[data-ready="1"]')
    r = _job_result(base, started.value.json()["job"])
    forward, backward = r[
        "classes"
    ]  # the synthetic pair's two classes (raise first, when the models know it)
    assert page.locator("#page-flicker").get_attribute("data-classes") == f"{forward},{backward}"
    lines = page.locator(".fl-chart path.series")
    assert lines.count() == 6  # two classes: frames, per-frame clip mean, temporal answer
    first = page.locator(f'.fl-chart path.series[data-series="P({forward.replace("_", " ")}), each frame"]')
    assert first.get_attribute("data-n") == str(r["scored"])
    assert float(first.get_attribute("data-last")) == r["flicker"]["frame_probs"][forward][-1]
    assert page.locator(".fl-chart circle.point").count() == 2 * r["scored"]
    top = page.locator('.fl-summary li[data-model^="temporal"]').get_attribute("data-top")
    assert top == r["temporal"]["top"]
    assert page.locator(".fl-strip img").count() == 8
    screenshot(page, "flicker")
    # the reversed clip, rescored
    page.locator(".fl-reverse").check()
    with page.expect_response(lambda r: r.url.endswith("/api/flicker/run")) as started:
        page.locator(".fl-run").click()
    page.wait_for_function("() => !document.querySelector('.fl-run').disabled")
    r2 = _job_result(base, started.value.json()["job"])
    name = f"synthetic {backward.replace('_', ' ')} #0"
    assert r2["video"]["name"] == name and name in page.locator(".fl-summary").inner_text()


def test_the_page_scores_an_upload_and_shows_a_bad_one(
    page, serve, make_app, demo_runs, video_file, tmp_path
) -> None:
    base = serve(make_app(runs=demo_runs))
    page.goto(base + "/#/flicker")
    page.wait_for_selector('#page-flicker[data-ready="1"]')
    page.locator(".fl-source").select_option("upload")
    page.locator(".fl-model").select_option(LITE0)
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video\n" * 10)
    page.locator(".fl-file").set_input_files(str(bad))
    page.wait_for_selector(".error:not([hidden])")
    assert page.locator(".error").inner_text().startswith("notes.mp4: not a video FFmpeg can read")
    with page.expect_response(lambda r: r.url.endswith("/api/flicker/run")) as started:
        page.locator(".fl-file").set_input_files(str(video_file("mine.mp4", frames=12, fps=6.0, size=64)))
    page.wait_for_function("() => document.querySelector('#page-flicker').dataset.model === '" + LITE0 + "'")
    r = _job_result(base, started.value.json()["job"])
    assert "mine.mp4" in page.locator(".fl-summary").inner_text()
    assert page.locator(".fl-upload-note").inner_text().startswith("mine.mp4: 2 s, 64×64")
    assert page.locator("#page-flicker").get_attribute("data-classes") == ",".join(r["classes"])
    assert page.locator(".error").is_hidden()
    assert np.isclose(
        float(page.locator(".fl-chart path.series").first.get_attribute("data-last")),
        r["flicker"]["frame_probs"][r["classes"][0]][-1],
    )
