"""Page 7, "Temporal detection": the page finds a detection run and the features model it was trained on in the
runs folder, Detect gives ``detect_video``'s segments, the matches are ``match_detections``', and the browser
draws exactly those and follows the tIoU threshold."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

SIZE = 32


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _simple3d_run(run: Path, seed: int) -> Path:
    """A run folder holding a small Simple3D checkpoint (8-frame clips, 16-wide features), random weights."""
    import torch

    from vidact.engine.checkpoint import atomic_save, make_checkpoint
    from vidact.engine.config import Config
    from vidact.models import build_model

    torch.manual_seed(seed)
    cfg = Config()
    cfg.data.clip_len, cfg.data.stride, cfg.data.short_side, cfg.data.crop_size = 8, 1, SIZE, SIZE
    kwargs = {"widths": [8, 8, 16, 16]}
    model = build_model("simple3d", num_classes=3, **kwargs)
    checkpoint = make_checkpoint(
        model, model_name="simple3d", model_kwargs=kwargs, classes=["x", "y", "z"], config=cfg.to_dict()
    )
    (run / "checkpoints").mkdir(parents=True)
    atomic_save(checkpoint, run / "checkpoints" / "best.ckpt")
    return run


@pytest.fixture(scope="module")
def detection_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A runs folder as the recipe's header makes it, tiny: a Simple3D run (the features model), and an
    ActionFormer run trained one epoch on its features of a synthetic untrimmed set."""
    from vidact.data.synth.untrimmed import synthesize_untrimmed
    from vidact.engine.config import Config
    from vidact.engine.train import train
    from vidact.extract import build_extractor, extract

    root = tmp_path_factory.mktemp("detection")
    made = synthesize_untrimmed(
        root / "data",
        videos={"train": 2, "val": 1, "test": 0},
        duration=(10.0, 12.0),
        action_duration=(1.0, 3.0),
        size=SIZE,
        pairs=["raise"],
        workers=1,
        progress=False,
    )
    runs = root / "runs"
    backbone = _simple3d_run(runs / "simple3d", seed=0)
    features = root / "features"
    extractor = build_extractor("features", model=backbone, window_frames=8, stride_frames=4, precision="32")
    assert extract(extractor, root / "data" / "videos", features, progress=False).ok
    cfg = Config.from_dict(
        {
            "data": {
                "root": str(features),
                "annotations": str(made.annotations),
                "train_split": "training",
                "val_split": "validation",
                "batch_size": 2,
                "num_workers": 0,
            },
            "model": {"name": "actionformer_tiny", "kwargs": {"in_channels": 16, "max_seq_len": 64}},
            "train": {"epochs": 20, "optimizer": "adamw", "lr": 0.003, "precision": "32", "num_threads": 1},
            "eval": {"split": "validation"},
            "task": {"name": "detection", "kwargs": {"max_seq_len": 64}},
        }
    )
    train(cfg, runs / "actionformer", progress=False)
    return {"runs": runs, "run": runs / "actionformer", "backbone": backbone, "annotations": made.annotations}


@pytest.fixture
def det_client(make_app: Any, detection_runs: dict[str, Path]) -> Any:
    from fastapi.testclient import TestClient

    with TestClient(make_app(runs=detection_runs["runs"]), raise_server_exceptions=False) as c:
        yield c


def _wait(client: Any, job: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/api/jobs/{job}").json()
        if state["state"] != "running":
            return state
        time.sleep(0.05)
    raise AssertionError(f"job {job} still running after {timeout} s")


# -- no run ------------------------------------------------------------------------------------------------------
def test_without_a_detection_run_the_page_says_so_and_gives_the_commands(
    make_app: Any, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from vidact.engine.config import RECIPES_DIR

    (tmp_path / "empty").mkdir()
    header = (RECIPES_DIR / "synthetic_actionformer.yaml").read_text().split("\ndata:")[0]
    for runs in (None, tmp_path / "empty"):
        with TestClient(make_app(runs=runs), raise_server_exceptions=False) as client:
            data = client.get("/api/detection/options").json()
        assert data["runs"] == []
        assert "no detection run" in data["message"] and "\n" not in data["message"]
        commands = data["commands"]
        assert commands[-1] == "vidact explore --runs runs"
        assert [c.split()[1] for c in commands[:-1]] == [
            "synth",
            "train",
            "synth",
            "extract",
            "train",
            "eval",
        ]
        for command in commands[:-1]:  # each from the recipe's header, its continued lines joined
            assert command.split(" --")[0] in header and "\\" not in command
        assert "--pair lift" in commands[2] and commands[4].endswith("--out runs/synthetic_actionformer")
    with TestClient(make_app(runs=tmp_path / "empty"), raise_server_exceptions=False) as client:
        r = client.post("/api/detection/detect", json={"run": "x", "video": "y"})
        assert r.status_code == 400 and r.json()["error"].startswith("no detection run 'x' here")


# -- a detection run -----------------------------------------------------------------------------------------------
def test_options_find_the_run_its_features_model_and_videos(det_client: Any, detection_runs: dict) -> None:
    from vidact.detect.annotations import read_ground_truth

    data = det_client.get("/api/detection/options").json()
    assert data["message"] is None
    (run,) = data["runs"]  # the Simple3D run is a classifier: not listed
    assert run["key"] == "actionformer" and run["detector"] == "actionformer_tiny" and run["problem"] is None
    assert run["features_model"] == "simple3d"  # found by its checkpoint's sha256
    gt = read_ground_truth(detection_runs["annotations"])
    assert sorted(v["key"] for v in run["videos"]) == sorted(gt.videos)
    assert run["videos"][0]["subset"] == "validation"  # videos the detector did not train on first
    assert sorted(run["classes"]) == sorted(gt.classes)


def test_video_gives_the_ground_truth_and_frames(det_client: Any, detection_runs: dict) -> None:
    from vidact.detect.annotations import read_ground_truth
    from vidact.io import probe

    gt = read_ground_truth(detection_runs["annotations"])
    data = det_client.get("/api/detection/video", params={"run": "actionformer", "video": "val_0000"}).json()
    truth = gt.videos["val_0000"]
    assert [(g["start"], g["end"], g["label"]) for g in data["ground_truth"]] == [
        (s, e, label) for (s, e), label in zip(truth.segments.tolist(), truth.labels, strict=True)
    ]
    meta = probe(detection_runs["annotations"].parent / "videos" / "val_0000.mp4")
    assert data["duration"] == pytest.approx(meta.duration) and data["num_frames"] == meta.num_frames
    assert len(data["thumbnails"]) == 16 and data["thumbnails"][0]["image"].startswith(
        "data:image/png;base64,"
    )
    times = [t["t"] for t in data["thumbnails"]]
    assert times == sorted(times) and 0 < times[0] < times[-1] < meta.duration
    for params, word in (({"run": "actionformer", "video": "nope"}, "no video 'nope'"),
                         ({"run": "nope", "video": "val_0000"}, "no detection run 'nope'")):  # fmt: skip
        r = det_client.get("/api/detection/video", params=params)
        assert r.status_code == 400 and r.json()["error"].startswith(word) and "\n" not in r.json()["error"]


def test_detect_gives_detect_videos_segments_and_the_evaluations_matches(
    det_client: Any, detection_runs: dict
) -> None:
    from vidact.detect.annotations import Detection, read_ground_truth
    from vidact.detect.evaluation import evaluate_detection, match_detections
    from vidact.infer.detect import detect_video, extractor_predictor, load_detector

    r = det_client.post("/api/detection/detect", json={"run": "actionformer", "video": "val_0000"})
    assert r.status_code == 200
    state = _wait(det_client, r.json()["job"])
    assert state["state"] == "done", state
    result = state["result"]

    video = detection_runs["annotations"].parent / "videos" / "val_0000.mp4"
    detector = load_detector(detection_runs["run"])
    expected = detect_video(
        detector, video, predictor=extractor_predictor(detector, detection_runs["backbone"])
    )
    assert expected.detections, "an untrained detector still ranks segments"
    got = result["segments"]
    assert [s["index"] for s in got] == list(range(len(got)))
    assert [s["label"] for s in got] == [d.label for d in expected.detections]
    np.testing.assert_allclose(
        [(s["start"], s["end"], s["score"]) for s in got],
        [(d.start, d.end, d.score) for d in expected.detections],
        atol=1e-6,
    )
    assert result["feature_steps"] == expected.steps and result["extractor"] == expected.extractor

    truth = read_ground_truth(detection_runs["annotations"]).videos["val_0000"]
    detections = [Detection(s["start"], s["end"], s["label"], s["score"]) for s in got]
    for tiou, min_score in (
        (0.5, 0.0),
        (0.3, 0.0),
        (0.9, 0.0),
        (0.3, float(np.median([s["score"] for s in got]))),
    ):
        params = {"job": r.json()["job"], "tiou": tiou, "min_score": min_score}
        data = det_client.get("/api/detection/match", params=params).json()
        shown = [i for i, d in enumerate(detections) if d.score >= min_score]
        want = match_detections(truth.segments, truth.labels, [detections[i] for i in shown], tiou)
        assert data["shown"] == len(shown)
        assert [(m["detection"], m["gt"], m["best_gt"], m["rank"]) for m in data["matches"]] == [
            (shown[m.detection], m.gt, m.best_gt, m.rank) for m in want
        ]
        assert [m["tiou"] for m in data["matches"]] == pytest.approx([m.tiou for m in want])
        assert data["true_positives"] == sum(m.true_positive for m in want)
        assert data["true_positives"] + data["false_positives"] == len(shown)
        assert data["ground_truth"] == len(truth)
        one = read_ground_truth(detection_runs["annotations"])
        one.videos = {"val_0000": truth}
        ap = evaluate_detection(one, {"val_0000": [detections[i] for i in shown]}, tious=[tiou]).mAP[0]
        assert data["mAP"] == pytest.approx(ap)


def test_matches_name_the_segments_of_the_result_whatever_their_order(
    det_client: Any, detection_runs: dict
) -> None:
    """Segments given in no particular order (not best first) and a score threshold: each match names its
    segment by the result's index, and the matching is that of the segments kept, in the order given."""
    from vidact.demo.explore.pages.detection import matches
    from vidact.detect.annotations import Detection, read_ground_truth
    from vidact.detect.evaluation import match_detections

    truth = read_ground_truth(detection_runs["annotations"]).videos["val_0000"]
    rng = np.random.default_rng(0)
    segments = []
    for i in range(30):
        (s, e), label = truth.segments[i % len(truth)], truth.labels[i % len(truth)]
        shift = rng.normal(0, 0.6, 2)
        segments.append({"index": i, "start": float(s + shift[0]), "end": float(e + abs(shift[1]) + 0.2),
                         "label": label, "score": float(rng.random())})  # fmt: skip
    order = rng.permutation(30)
    result = {"run": "actionformer", "video": "val_0000", "segments": [segments[i] for i in order]}
    ctx = det_client.app.state.ctx
    data = matches(ctx, result, 0.5, min_score=0.4)
    kept = [segments[i] for i in order if segments[i]["score"] >= 0.4]
    want = match_detections(
        truth.segments,
        truth.labels,
        [Detection(s["start"], s["end"], s["label"], s["score"]) for s in kept],
        0.5,
    )
    assert [(m["detection"], m["gt"]) for m in data["matches"]] == [
        (kept[m.detection]["index"], m.gt) for m in want
    ]
    assert data["true_positives"] > 0 and data["false_positives"] > 0


def test_detection_reports_each_batch_and_stops_at_a_cancel(det_client: Any) -> None:
    from vidact.demo.explore.jobs import Job, JobCancelled
    from vidact.demo.explore.pages.detection import detect

    class Recording(Job):
        """A job that records its progress and is cancelled while the second batch of windows is due."""

        def __init__(self, cancel_at: str | None) -> None:
            super().__init__("detection")
            self.cancel_at, self.reports = cancel_at, []

        def progress(self, fraction: float, message: str = "") -> None:
            self.reports.append((fraction, message))
            if self.cancel_at and message.startswith(self.cancel_at):
                self.cancel()
            super().progress(fraction, message)

    ctx = det_client.app.state.ctx
    whole = Recording(None)
    result = detect(ctx, "actionformer", "val_0000", whole)
    batches = [m for _, m in whole.reports if m.startswith("features: batch")]
    count = int(batches[0].rsplit(" ", 1)[1])
    assert count >= 2 and batches == [f"features: batch {i} of {count}" for i in range(1, count + 1)]
    fractions = [f for f, _ in whole.reports]
    assert fractions == sorted(fractions) and whole.reports[-1][1] == "detected" and result["segments"]

    stopped = Recording("features: batch 2")
    with pytest.raises(JobCancelled):
        detect(ctx, "actionformer", "val_0000", stopped)
    assert stopped.reports[-1][1].startswith("features: batch 2")  # no batch after it, no detector


def test_bad_match_and_detect_requests_are_one_line(det_client: Any, detection_runs: dict, make_app: Any,
                                                     tmp_path: Path) -> None:  # fmt: skip
    from fastapi.testclient import TestClient

    r = det_client.post("/api/detection/detect", json={"run": "actionformer", "video": "val_0000"})
    job = r.json()["job"]
    _wait(det_client, job)
    for params, status, word in (
        ({"job": job, "tiou": 0}, 400, "tiou"),
        ({"job": job, "tiou": 1.5}, 400, "tiou"),
        ({"job": job, "min_score": -1}, 400, "min_score"),
        ({"job": "unknown"}, 404, "no job"),
    ):
        r = det_client.get("/api/detection/match", params=params)
        assert r.status_code == status and word in r.json()["error"] and "\n" not in r.json()["error"]
    r = det_client.post("/api/detection/detect", json={"run": "actionformer", "video": "../../etc/passwd"})
    assert r.status_code == 400 and r.json()["error"].startswith("no video")

    # the detection run without the run of its features model: refused at once, naming what is missing
    alone = tmp_path / "alone"
    shutil.copytree(detection_runs["run"], alone / "actionformer")
    with TestClient(make_app(runs=alone), raise_server_exceptions=False) as client:
        (run,) = client.get("/api/detection/options").json()["runs"]
        assert run["features_model"] is None and "is not in" in run["problem"]
        r = client.post("/api/detection/detect", json={"run": "actionformer", "video": "val_0000"})
        assert r.status_code == 400 and "sha256" in r.json()["error"] and "\n" not in r.json()["error"]


def test_a_run_is_known_by_its_checkpoints_task_without_metrics(make_app: Any, detection_runs: dict,
                                                                 tmp_path: Path) -> None:  # fmt: skip
    from fastapi.testclient import TestClient

    runs = tmp_path / "runs"
    shutil.copytree(detection_runs["runs"], runs)
    (runs / "actionformer" / "metrics.json").unlink()
    summary = json.dumps({"task": "classification"})
    (runs / "simple3d" / "metrics.json").write_text(summary)
    with TestClient(make_app(runs=runs), raise_server_exceptions=False) as client:
        data = client.get("/api/detection/options").json()
    assert [r["key"] for r in data["runs"]] == ["actionformer"] and data["runs"][0][
        "features_model"
    ] == "simple3d"


# -- the page in a browser ---------------------------------------------------------------------------------------
def test_the_page_detects_draws_the_segments_and_follows_the_tiou(
    page: Any, serve: Any, make_app: Any, detection_runs: dict, goto: Any, screenshot: Any
) -> None:
    from fastapi.testclient import TestClient

    app = make_app(runs=detection_runs["runs"])
    base = serve(app)
    root = goto(page, base, "detection")
    assert len(root.locator("rect.gt").all()) == len(
        TestClient(app)
        .get("/api/detection/video", params={"run": "actionformer", "video": "val_0000"})
        .json()["ground_truth"]
    )
    assert len(root.locator("image.thumb").all()) == 16

    root.locator("button.det-run").click()
    page.wait_for_function("() => document.querySelector('#page-detection').dataset.updates === '1'")
    job = root.get_attribute("data-job")
    client = TestClient(app)
    result = client.get(f"/api/jobs/{job}").json()["result"]
    min_score = float(root.locator("input.det-score").input_value())
    tiou = float(root.locator("input.det-tiou").input_value())
    api = client.get("/api/detection/match", params={"job": job, "tiou": tiou, "min_score": min_score}).json()

    drawn = root.locator("rect.det")
    assert drawn.count() == api["shown"] == sum(s["score"] >= min_score for s in result["segments"])
    _check_matches(root, api)

    # a match's tIoU as shown in the details panel, after a click on its segment (a true positive's, if any)
    first = next((m for m in api["matches"] if m["true_positive"]), api["matches"][0])
    root.locator(f"rect.det[data-index='{first['detection']}']").click()
    panel = root.locator(".det-details")
    assert panel.get_attribute("data-index") == str(first["detection"])
    assert panel.locator("[data-field=tiou]").inner_text().startswith(f"{first['tiou']:.3f}")
    want = f"#{first['gt']} " if first["true_positive"] else "none"
    assert panel.locator("[data-field=gt]").inner_text().startswith(want)
    screenshot(page, "detection")

    # a stricter threshold: fewer (or as many) matches, exactly the API's
    root.locator("input.det-tiou").evaluate("e => { e.value = '0.9'; e.dispatchEvent(new Event('input')); }")
    page.wait_for_function("() => document.querySelector('#page-detection').dataset.updates === '2'")
    strict = client.get(
        "/api/detection/match", params={"job": job, "tiou": 0.9, "min_score": min_score}
    ).json()
    _check_matches(root, strict)
    assert strict["true_positives"] <= api["true_positives"]
    assert root.locator(".det-summary").get_attribute("data-tp") == str(strict["true_positives"])

    root.locator("input.det-tiou").evaluate("e => { e.value = '0.3'; e.dispatchEvent(new Event('input')); }")
    page.wait_for_function("() => document.querySelector('#page-detection').dataset.updates === '3'")
    loose = client.get(
        "/api/detection/match", params={"job": job, "tiou": 0.3, "min_score": min_score}
    ).json()
    _check_matches(root, loose)
    assert loose["true_positives"] >= api["true_positives"]
    assert loose["true_positives"] > strict["true_positives"]  # the threshold moved the matches on the page


def _check_matches(root: Any, api: dict[str, Any]) -> None:
    """Each drawn detection carries the API's match: its ground truth (or none) and tIoU."""
    drawn = root.evaluate(
        """root => [...root.querySelectorAll('rect.det')].map(r => ({index: Number(r.dataset.index),
             gt: r.dataset.gt === '' ? null : Number(r.dataset.gt), tiou: Number(r.dataset.tiou),
             tp: r.classList.contains('tp')}))"""
    )
    want = {m["detection"]: m for m in api["matches"]}
    assert sorted(d["index"] for d in drawn) == sorted(want)
    for d in drawn:
        m = want[d["index"]]
        assert d["gt"] == m["gt"] and d["tp"] == m["true_positive"]
        assert d["tiou"] == pytest.approx(m["tiou"] or 0.0, abs=1e-9)
    found = root.evaluate(
        "root => [...root.querySelectorAll('rect.gt.found')].map(r => Number(r.dataset.index))"
    )
    assert sorted(found) == sorted(m["gt"] for m in api["matches"] if m["gt"] is not None)


def test_the_page_without_a_run_shows_the_line_and_the_commands(
    page: Any, serve: Any, make_app: Any, goto: Any, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    app = make_app(runs=tmp_path)
    want = TestClient(app).get("/api/detection/options").json()
    root = goto(page, serve(app), "detection")
    assert root.locator(".det-missing").inner_text() == want["message"]
    assert root.locator(".det-commands").inner_text().splitlines() == want["commands"]
    assert root.locator("button.det-run").count() == 0
