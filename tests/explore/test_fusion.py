"""Page 3, "Two-stream fusion": the accuracies at any w against numpy on the raw score pickles, one video's top
classes, the flow images against vidact's flow extractor, one-line errors, and the page in a browser (the slider
moves w and the accuracy shown is the API's for that w)."""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
FUSION = DATA / "fusion"


@pytest.fixture(autouse=True)
def _real_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDACT_REAL_DATA", str(DATA))


@pytest.fixture(scope="module")
def raw() -> dict[str, np.ndarray]:
    """The oracle's inputs, read with plain pickle and numpy (not vidact): [N, K] scores, [N] labels."""
    out = {}
    for name in ("rgb", "flow"):
        with open(FUSION / f"{name}.pkl", "rb") as f:
            out[name] = np.stack([np.asarray(row, dtype=np.float64) for row in pickle.load(f)])
    lines = (FUSION / "data_list.txt").read_text().split("\n")
    out["labels"] = np.array([int(line.split()[-1]) for line in lines if line.strip()])
    return out


def _top1(scores: np.ndarray, labels: np.ndarray) -> float:
    return float((scores.argmax(axis=1) == labels).mean())


def test_stream_and_sweep_accuracies_are_numpys_on_the_raw_scores(client: Any, raw: dict) -> None:
    data = client.get("/api/fusion/scores").json()
    assert data["num_samples"] == 100 and data["num_classes"] == 400 and data["normalize"] == "none"
    assert data["streams"]["rgb"]["top1"] == pytest.approx(_top1(raw["rgb"], raw["labels"]))
    assert data["streams"]["flow"]["top1"] == pytest.approx(_top1(raw["flow"], raw["labels"]))
    assert [p["w"] for p in data["sweep"]] == pytest.approx(np.linspace(0, 1, 21))
    for point in data["sweep"]:
        fused = point["w"] * raw["rgb"] + (1 - point["w"]) * raw["flow"]
        assert point["top1"] == pytest.approx(_top1(fused, raw["labels"])), point
    assert data["best"]["top1"] == max(p["top1"] for p in data["sweep"])
    assert data["videos"][0] == {"index": 0, "id": "jf7RDuUTrsQ", "label": 325, "name": "somersaulting"}


@pytest.mark.parametrize("w", [0.0, 0.3, 0.37, 1.0])
def test_the_accuracy_at_any_w_and_one_videos_top_classes(client: Any, raw: dict, w: float) -> None:
    data = client.get("/api/fusion/at", params={"w": w, "video": 5}).json()
    fused = w * raw["rgb"] + (1 - w) * raw["flow"]
    assert data["w"] == w and data["top1"] == pytest.approx(_top1(fused, raw["labels"]))
    top = data["video"]["top"]
    assert [c["index"] for c in top] == np.argsort(-fused[5])[:5].tolist()
    for c in top:
        assert c["fused"] == pytest.approx(fused[5, c["index"]])
        assert c["rgb"] == pytest.approx(raw["rgb"][5, c["index"]])
        assert c["flow"] == pytest.approx(raw["flow"][5, c["index"]])
    assert data["video"]["correct"] == (int(fused[5].argmax()) == raw["labels"][5])


def test_bad_requests_are_one_line_errors(client: Any) -> None:
    for params, words in (({"w": 1.5}, "w"), ({"video": 100}, "video 100"), ({"w": "x"}, "w")):
        r = client.get("/api/fusion/at", params=params)
        assert r.status_code == 400 and words in r.json()["error"] and "\n" not in r.json()["error"]
    r = client.get("/api/fusion/flow", params={"clip": "../../etc/passwd"})
    assert r.status_code == 400 and "unknown clip" in r.json()["error"]
    r = client.get("/api/fusion/flow/frame/999")
    assert r.status_code == 400 and "frame 999" in r.json()["error"]


def test_missing_real_data_is_a_one_line_error(
    client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VIDACT_REAL_DATA", str(tmp_path))  # a data folder without the score files
    r = client.get("/api/fusion/scores")
    assert r.status_code == 400 and "rgb.pkl: no such file" in r.json()["error"]
    monkeypatch.setenv("VIDACT_REAL_DATA", str(tmp_path / "nowhere"))
    r = client.get("/api/fusion/flow")
    assert r.status_code == 400 and "set VIDACT_REAL_DATA" in r.json()["error"]


def _png(response: Any) -> np.ndarray:
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))


def test_the_flow_images_are_vidacts_flow_of_the_clips_frames(client: Any) -> None:
    from vidact.flow.methods import get_flow_method
    from vidact.flow.stream import video_flow
    from vidact.flow.visualize import flow_to_color
    from vidact.io import VideoReader

    clip = DATA / "videos" / "ucf101" / "v_CricketShot_g04_c01_rgb.gif"
    data = client.get("/api/fusion/flow", params={"clip": "cricket"}).json()
    assert (data["frames"], data["pairs"], data["height"], data["width"]) == (32, 31, 160, 160)
    pairs = list(video_flow(clip, get_flow_method(data["method"]), short_side=160, max_frames=32))
    flows = np.stack([f for _, _, f in pairs])
    magnitude = np.hypot(flows[..., 0], flows[..., 1])
    assert data["max_magnitude"] == pytest.approx(float(magnitude.max()), rel=1e-5)
    assert data["mean_magnitude"] == pytest.approx(magnitude.mean(axis=(1, 2)), abs=1e-4)
    with VideoReader(clip, short_side=160) as reader:
        frame = reader.get_frames([7]).numpy()[0]
    assert np.array_equal(_png(client.get("/api/fusion/flow/frame/7", params={"clip": "cricket"})), frame)
    field = _png(client.get("/api/fusion/flow/field/7", params={"clip": "cricket"}))
    scale = float(np.percentile(magnitude, 99))
    assert data["scale"] == pytest.approx(scale, rel=1e-5) and data["scale"] < data["max_magnitude"]
    assert np.array_equal(field, flow_to_color(flows[7], max_magnitude=scale))
    assert _png(client.get("/api/fusion/flow/wheel", params={"size": 32})).shape == (32, 32, 3)


# -- the page in a browser ---------------------------------------------------------------------------------------
def test_the_slider_moves_w_and_shows_the_apis_accuracy(page: Any, server: str, goto: Any, client: Any,
                                                         screenshot: Any) -> None:  # fmt: skip
    root = goto(page, server, "fusion", timeout=60_000)
    scores = client.get("/api/fusion/scores").json()
    assert float(root.locator(".rgb-top1").get_attribute("data-value")) == scores["streams"]["rgb"]["top1"]
    assert len(root.locator(".sweep path.series").all()) == 2
    assert root.locator(".sweep circle.point").count() == len(scores["sweep"])

    for w in ("0.3", "0.8"):
        root.locator("input.weight").evaluate(
            "(s, w) => { s.value = w; s.dispatchEvent(new Event('input', {bubbles: true})); }", w
        )
        page.wait_for_function(
            "w => document.querySelector('#page-fusion .current-top1')?.dataset.w === w", arg=w
        )
        at = client.get("/api/fusion/at", params={"w": w, "video": 0}).json()
        shown = root.locator(".current-top1")
        assert float(shown.get_attribute("data-value")) == at["top1"]
        assert f"{100 * at['top1']:.1f} %" in shown.inner_text()
        assert root.locator(".sweep line.marker").get_attribute("data-x") == w
        assert root.locator(".w-value").inner_text() == f"w = {float(w):.2f}"

    root.locator("select.video").select_option("5")
    page.wait_for_function("() => document.querySelector('#page-fusion').dataset.video === '5'")
    at = client.get("/api/fusion/at", params={"w": 0.8, "video": 5}).json()
    rows = root.locator("tr.class-row")
    assert [int(r.get_attribute("data-index")) for r in rows.all()] == [
        c["index"] for c in at["video"]["top"]
    ]
    assert root.locator(".answer .predicted").inner_text() == at["video"]["predicted_name"]

    flow = root.locator(".flow-view")
    assert flow.get_attribute("data-pairs") == "31"
    root.locator(".flow-frames input.scrub").evaluate(
        "s => { s.value = '10'; s.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    page.wait_for_function("() => document.querySelector('#page-fusion .flow-view').dataset.pair === '10'")
    assert root.locator("canvas.flow-field").get_attribute("data-index") == "10"
    screenshot(page, "fusion")
