"""Page 1, "Same middle frame": the clips, the models' answers (from a runs folder laid out as `vidact demo`
writes it), training on first use in child processes (progress, cancel, resume), and the page in a browser."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from vidact.demo.explore.jobs import Job, JobCancelled
from vidact.demo.explore.pages import middle_frame as mf
from vidact.errors import ConfigError


@pytest.fixture
def runs_client(make_app, demo_runs: Path):
    from fastapi.testclient import TestClient

    with TestClient(make_app(runs=demo_runs), raise_server_exceptions=False) as c:
        yield c


def test_without_models_the_clips_play_and_training_is_offered(client) -> None:
    s = client.get("/api/middle_frame/status").json()
    assert s["ready"] is False and s["source"] is None and s["models"] is None and s["training"] is None
    assert s["plan"]["pairs"][0] == "raise" and s["plan"]["epochs"] == {"per_frame": 3, "temporal": 10}
    r = client.get("/api/middle_frame/clips", params={"pair": "raise"})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["classes"] == ["raising_hand", "lowering_hand"] and d["answers"] is None
    assert d["frames"] == 17 and d["middle"] == 8 and d["fps"] == 8.0  # the demo's 16 frames, made odd
    assert d["middle_identical"] is True and d["reversed"] is True
    assert [c["name"] for c in d["clips"]] == d["classes"]
    assert all(
        len(c["frames"]) == 17 and c["frames"][0].startswith("data:image/png;base64,") for c in d["clips"]
    )
    # the second clip is the first played backwards: its first frame is the first clip's last
    assert d["clips"][1]["frames"][0] == d["clips"][0]["frames"][-1]
    assert d["clips"][1]["frames"][8] == d["clips"][0]["frames"][8]
    assert d["clips"][1]["frames"][7] != d["clips"][0]["frames"][7]
    other = client.get("/api/middle_frame/clips", params={"pair": "raise", "index": 1}).json()
    assert other["clips"][0]["frames"][0] != d["clips"][0]["frames"][0]


def test_bad_requests_are_one_line(client) -> None:
    r = client.get("/api/middle_frame/clips", params={"pair": "juggle"})
    assert r.status_code == 400 and r.json()["error"].startswith(
        "unknown pair 'juggle'; choose from raise, gesture"
    )
    r = client.get("/api/middle_frame/clips", params={"pair": "raise", "index": -1})
    assert r.status_code == 400 and r.json()["error"].startswith(
        "index: Input should be greater than or equal to 0"
    )


def test_with_a_demo_folder_the_models_answer(runs_client, demo_runs: Path) -> None:
    from vidact.demo.flicker import flicker_pair

    s = runs_client.get("/api/middle_frame/status").json()
    assert s["ready"] is True and s["source"] == "runs" and s["pairs"] == ["raise", "lift"]
    assert (
        s["models"]["per_frame"]["name"] == "per_frame_resnet18"
        and s["models"]["temporal"]["name"] == "simple3d"
    )
    d = runs_client.get("/api/middle_frame/clips", params={"pair": "raise"}).json()
    assert d["source"] == "runs" and d["middle_identical"] and len(d["answers"]) == 2
    # the numbers are flicker_pair's (the report's), computed from the run folders
    expected = flicker_pair(
        demo_runs / "runs" / "temporal-per_frame",
        demo_runs / "runs" / "temporal-temporal",
        "raise",
        demo_runs / "check",
        size=32,
        frames=17,
        fps=8.0,
        seed=0,
    )
    # (libx264 does not encode bit for bit the same twice, so the scores agree to the codec's noise, not exactly)
    for answer, clip in zip(d["answers"], expected, strict=True):
        assert answer["name"] == clip.name
        for model, numbers in (("per_frame", clip.per_frame), ("temporal", clip.temporal)):
            want = numbers.to_json()
            assert answer[model]["model"] == want["model"] and set(answer[model]) == set(want)
            for c in d["classes"]:
                assert answer[model]["clip_probs"][c] == pytest.approx(want["clip_probs"][c], abs=0.02)
        assert answer["per_frame"]["frame_times"] == [round(i / 8, 4) for i in range(17)]
        assert answer["middle_time"] == 1.0
        for c in d["classes"]:
            got, want = answer["per_frame"]["frame_probs"][c], clip.per_frame.to_json()["frame_probs"][c]
            assert got == pytest.approx(want, abs=0.02)
            assert answer["middle_probs"][c] == got[8]  # the middle frame's row of the per-frame scores
    r = runs_client.get("/api/middle_frame/clips", params={"pair": "slide"})
    assert r.status_code == 400 and r.json() == {
        "error": "the models were not trained on the pair 'slide'; choose from raise, lift"
    }


def _fake_child(log: list, weights: Path):
    """Stands in for `python -m vidact ...`: writes what synth and train write, epoch by epoch, polling between
    (the checkpoints copied from ``weights``, a demo folder)."""

    def child(args: list[str], log_path: Path, job: Job, poll) -> None:
        log.append(list(args))
        if args[0] == "synth":
            root = Path(args[1])
            (root / "train" / "x").mkdir(parents=True, exist_ok=True)
            for i in range(3):
                (root / "train" / "x" / f"{i}.mp4").write_bytes(b"")
                poll()
            (root / "manifest.json").write_text(
                json.dumps({"params": {"size": [32, 32], "frames": 16, "fps": 8, "seed": 0}})
            )
            return
        recipe = yaml.safe_load(Path(args[1]).read_text())
        run = Path(args[args.index("--out") + 1])
        (run / "checkpoints").mkdir(parents=True, exist_ok=True)
        rows = ["epoch,loss"]
        for e in range(recipe["train"]["epochs"]):
            job.check()
            rows.append(f"{e},1.0")
            (run / "metrics.csv").write_text("\n".join(rows) + "\n")
            shutil.copy(
                weights / "runs" / run.name / "checkpoints" / "best.ckpt", run / "checkpoints" / "last.ckpt"
            )
            poll()
        (run / "metrics.json").write_text("{}")

    return child


def test_training_runs_synth_then_both_recipes_and_reports_progress(make_app, monkeypatch, demo_runs) -> None:
    calls: list = []
    monkeypatch.setattr(mf, "_child", _fake_child(calls, demo_runs))
    app = make_app()
    ctx = app.state.ctx
    seen: list[tuple[float, str]] = []
    job = Job("train")
    job.progress = lambda f, m="": seen.append((round(f, 3), m))  # type: ignore[method-assign]
    result = mf.train_models(ctx, job)
    assert [c[0] for c in calls] == ["synth", "train", "train"]
    synth = calls[0]
    assert synth[synth.index("--train") + 1] == "250" and synth[synth.index("--size") + 1] == "32"
    assert [synth[i + 1] for i, a in enumerate(synth) if a == "--pair"] == ["raise", "lift", "slide"]
    home = ctx.cache / "middle_frame"
    for m, call in zip(mf.MODELS, calls[1:], strict=True):
        assert call[1] == str(home / "recipes" / f"temporal-{m}.yaml") and "--resume" not in call
        recipe = yaml.safe_load(Path(call[1]).read_text())
        assert recipe["data"]["root"] == str(home / "data" / "temporal")
        assert recipe["model"]["name"] == {"per_frame": "per_frame_resnet18", "temporal": "simple3d"}[m]
        assert recipe["train"]["checkpoint_every_steps"] == mf.CHECKPOINT_EVERY_STEPS
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert any(m == "training the temporal model: epoch 10 of 10" for _, m in seen)
    assert any(m.startswith("synthesizing videos: ") for _, m in seen)
    assert result["ready"] is True and result["source"] == "trained"
    # everything done: nothing runs again
    calls.clear()
    mf.train_models(ctx, Job("train"))
    assert calls == []


def test_a_cancelled_training_resumes_from_last_ckpt(make_app, monkeypatch, demo_runs) -> None:
    calls: list = []
    monkeypatch.setattr(mf, "_child", _fake_child(calls, demo_runs))
    app = make_app()
    ctx = app.state.ctx
    job = Job("train")
    epochs = {"n": 0}

    def progress(f: float, m: str = "") -> None:
        if m.startswith("training the temporal model"):
            epochs["n"] += 1
            if epochs["n"] == 3:
                job.cancel()
        job.check()

    job.progress = progress  # type: ignore[method-assign]
    with pytest.raises(JobCancelled):
        mf.train_models(ctx, job)
    run = ctx.cache / "middle_frame" / "runs" / "temporal-temporal"
    assert (run / "checkpoints" / "last.ckpt").exists() and not (run / "metrics.json").exists()
    assert mf.find_runs(ctx) is None
    calls.clear()
    mf.train_models(ctx, Job("train"))
    assert [c[0] for c in calls] == ["train"] and "--resume" in calls[0]  # data and per-frame model were done


def test_the_train_endpoint_runs_one_job_and_reports_failure(app, client, monkeypatch) -> None:
    release = threading.Event()

    def slow(ctx, job: Job) -> dict:
        while not release.wait(0.02):
            job.progress(0.5, "waiting")
        raise ConfigError("vidact train failed: out of memory")

    monkeypatch.setattr(mf, "train_models", slow)
    first = client.post("/api/middle_frame/train").json()["job"]
    assert client.post("/api/middle_frame/train").json()["job"] == first  # the same job, not a second
    assert client.get("/api/middle_frame/status").json()["training"] == first
    release.set()
    app.state.ctx.jobs.get(first).wait(10)
    j = client.get(f"/api/jobs/{first}").json()
    assert j["state"] == "failed" and j["error"] == "vidact train failed: out of memory"
    assert client.get("/api/middle_frame/status").json()["training"] is None


def test_child_processes_fail_with_their_error_line_and_stop_on_cancel(tmp_path: Path) -> None:
    job = Job("train")
    with pytest.raises(ConfigError, match=r"^vidact train failed: .*no-such-recipe"):
        mf._child(
            ["train", str(tmp_path / "no-such-recipe.yaml"), "--out", str(tmp_path / "r")],
            tmp_path / "log",
            job,
            lambda: None,
        )

    # a child with children of its own (synth's worker processes): cancelling stops the whole group
    pids: set[int] = set()
    deadline = time.monotonic() + 90

    def poll() -> None:
        pids.update(int(p) for p in os.listdir("/proc") if p.isdigit() and _is_child(int(p), tmp_path))
        if len(pids) >= 3 or time.monotonic() > deadline:  # the child and its two workers
            job.cancel()

    args = ["synth", str(tmp_path / "big"), "--train", "5000", "--size", "64", "--workers", "2"]
    with pytest.raises(JobCancelled):
        mf._child(args, tmp_path / "log2", job, poll)
    assert len(pids) >= 3, "the synth child never started its workers"
    time.sleep(0.5)
    assert not [p for p in pids if _alive(p)], "a process of the cancelled child's group is still running"


def _is_child(pid: int, marker: Path) -> bool:
    try:
        return str(marker / "big") in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


# ---------------------------------------------------------------- in a browser


def test_the_page_plays_the_clips_and_shows_the_answers(
    page, serve, make_app, demo_runs, goto, screenshot
) -> None:
    # VIDACT_SCREENSHOT_RUNS: a real `vidact demo --out` folder, for screenshots of trained models' answers
    app = make_app(runs=Path(os.environ.get("VIDACT_SCREENSHOT_RUNS", demo_runs)))
    base = serve(app)
    with page.expect_response(lambda r: "/api/middle_frame/clips" in r.url) as answered:
        root = goto(page, base, "middle_frame")
    api = answered.value.json()  # what the page was given (a second request would encode the clips anew)
    pairs = [o.get_attribute("value") for o in page.locator(".mf-pair option").all()]
    assert root.get_attribute("data-pair") == api["pair"] == pairs[0]
    forward, backward = api["classes"]
    # it opens on the middle frame, the same image in both clips
    assert page.locator(".mf-counter").inner_text() == f"frame {api['middle'] + 1} of {api['frames']}"
    assert (
        page.locator(".mf-middle")
        .inner_text()
        .startswith("Frame 9 is the middle frame: the same image in both clips")
    )
    assert [page.locator("canvas.frames").nth(k).get_attribute("data-index") for k in (0, 1)] == ["8", "8"]
    for answer in api["answers"]:
        for model in ("per_frame", "temporal"):
            cell = page.locator(f'td[data-model="{model}"][data-clip="{answer["name"]}"]')
            assert cell.get_attribute("data-top") == answer[model]["top"]
            assert float(cell.get_attribute("data-p")) == answer[model]["clip_probs"][answer["name"]]
        probs = json.loads(
            page.locator(f'td.mf-middle-probs[data-clip="{answer["name"]}"]').get_attribute("data-probs")
        )
        assert probs == answer["middle_probs"]
    assert "from the --runs folder" in page.locator(".mf-source").inner_text()
    screenshot(page, "middle_frame")
    # scrub: frame 1 of clip 1 is frame 17 of clip 2
    page.locator(".mf-scrub").fill("0")
    page.wait_for_function("() => document.querySelector('.mf-counter').textContent === 'frame 1 of 17'")
    assert "frame 17 of the second" in page.locator(".mf-middle").inner_text()
    # play advances the frames
    page.locator(".mf-play").click()
    page.wait_for_function("() => document.querySelector('canvas.frames').dataset.index !== '0'")
    page.locator(".mf-play").click()
    # another clip: new frames, new answers
    with page.expect_response(lambda r: "/api/middle_frame/clips" in r.url) as answered:
        page.locator(".mf-another").click()
    api1 = answered.value.json()
    assert api1["index"] == 1
    page.wait_for_function("() => document.querySelector('#page-middle_frame').dataset.index === '1'")
    cell = page.locator(f'td[data-model="temporal"][data-clip="{forward}"]')
    assert float(cell.get_attribute("data-p")) == api1["answers"][0]["temporal"]["clip_probs"][forward]
    # another pair
    page.locator(".mf-pair").select_option(pairs[1])
    page.wait_for_function(
        f"() => document.querySelector('#page-middle_frame').dataset.pair === '{pairs[1]}'"
    )
    assert page.locator(".player figcaption").first.inner_text().startswith("clip 1: ")
    assert page.locator(".player figcaption").first.inner_text() != f"clip 1: {forward.replace('_', ' ')}"


def test_the_page_trains_with_a_progress_bar_and_cancels(page, server, monkeypatch) -> None:
    def fake(ctx, job: Job) -> dict:
        for i in range(2000):
            job.progress(i / 2000, f"training the per-frame model: epoch {i // 200 + 1} of 10")
            time.sleep(0.01)
        return {}

    monkeypatch.setattr(mf, "train_models", fake)
    page.goto(server + "/#/middle_frame")
    page.wait_for_selector('#page-middle_frame[data-ready="1"]')
    assert (
        page.locator(".mf-answers")
        .inner_text()
        .endswith("The models' answers appear here once they are trained.")
    )
    page.locator(".mf-train").click()
    page.wait_for_function("() => Number(document.querySelector('.progress')?.dataset.fraction) > 0")
    assert (
        page.locator(".progress-message")
        .inner_text()
        .startswith("training: training the per-frame model: epoch")
    )
    page.locator(".progress .cancel").click()
    page.wait_for_selector(".error:not([hidden])")
    assert page.locator(".error").inner_text() == "training cancelled: Train again resumes it"
    assert page.locator(".progress").count() == 0 and page.locator(".mf-train").is_enabled()


@pytest.mark.slow
def test_training_on_first_use_for_real(make_app, monkeypatch) -> None:
    """The real child processes (`vidact synth`, `vidact train` twice) on a tiny plan: the models load and answer."""
    from dataclasses import replace

    tiny = replace(
        mf.plan(),
        pairs=("raise",),
        temporal_videos={"train": 4, "val": 1, "test": 1},
        epochs={("temporal", "per_frame"): 1, ("temporal", "temporal"): 1},
        batch_size=4,
    )
    monkeypatch.setattr(mf, "plan", lambda: tiny)
    app = make_app()
    ctx = app.state.ctx
    job = ctx.jobs.submit("train", lambda job: mf.train_models(ctx, job))
    assert job.wait(600)
    state = job.to_json()
    assert state["state"] == "done", state
    assert state["result"]["ready"] and state["result"]["pairs"] == ["raise"]
    d = mf.clips("raise", 0, ctx)
    assert d["answers"][0]["per_frame"]["model"] == "per_frame_resnet18"
    assert np.isclose(sum(d["answers"][0]["temporal"]["clip_probs"].values()), 1.0, atol=0.01)
