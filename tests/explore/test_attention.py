"""Page 6, "Attention patterns": the costs against the pair counts worked out by hand, the tokens a query attends to
under each pattern against the patterns' definitions, the tube mask (and a real pre-training run's
reconstruction), one-line errors, and the page in a browser."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(autouse=True)
def _real_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDACT_REAL_DATA", str(DATA))


def test_pairs_per_layer_are_the_counts_worked_out_by_hand(client: Any) -> None:
    data = client.get("/api/attention/cost").json()  # 16 x 224^2 in 2x16x16 tubelets: 8 x 14 x 14
    cost = {c["pattern"]: c for c in data["patterns"]}
    n, t, s = 8 * 14 * 14, 8, 14 * 14
    assert cost["joint"]["grid"] == [8, 14, 14] and cost["joint"]["tokens"] == n
    assert cost["joint"]["pairs_per_layer"] == (n + 1) ** 2
    assert cost["divided"]["pairs_per_layer"] == s * t**2 + t * (s + 1) ** 2
    assert cost["space_only"]["pairs_per_layer"] == t * (s + 1) ** 2
    assert cost["factorised_self_attention"]["pairs_per_layer"] == t * s**2 + s * t**2
    grown = data["growth"]["frames"]
    assert grown["values"] == [4, 8, 16, 32, 64]
    joint = grown["pairs"]["joint"]
    assert joint == [(v // 2 * s + 1) ** 2 for v in grown["values"]]  # quadratic in the clip's length
    assert grown["pairs"]["divided"][-1] / grown["pairs"]["divided"][-2] < 2.2  # about linear in frames


def _index(t: int, h: int, w: int, grid: tuple[int, int, int]) -> int:
    return (t * grid[1] + h) * grid[2] + w


def test_the_tokens_a_query_attends_to_follow_each_pattern(client: Any) -> None:
    grid = (4, 3, 5)
    data = client.get(
        "/api/attention/attends", params={"frames": 4, "height": 3, "width": 5, "t": 2, "h": 1, "w": 3}
    )
    patterns = {p["name"]: p for p in data.json()["patterns"]}
    every = list(range(60))
    tube = [_index(t, 1, 3, grid) for t in range(4)]  # the same cell at every time step
    frame = [_index(2, h, w, grid) for h in range(3) for w in range(5)]  # every cell of the query's frame
    assert [s["tokens"] for s in patterns["joint"]["sublayers"]] == [every]
    assert [(s["what"], s["tokens"]) for s in patterns["divided"]["sublayers"]] == [
        ("time", tube),
        ("space", frame),
    ]
    assert [s["tokens"] for s in patterns["factorised_self_attention"]["sublayers"]] == [frame, tube]
    assert patterns["factorised_dot_product"]["reach"] == sorted(set(tube) | set(frame))
    assert [s["tokens"] for s in patterns["space_only"]["sublayers"]] == [frame]
    r = client.get("/api/attention/attends", params={"t": 4})
    assert r.status_code == 400 and "outside the 4x4x4 token grid" in r.json()["error"]


def _png(response: Any) -> np.ndarray:
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))


def test_the_tube_mask_hides_the_same_cells_at_every_step(client: Any) -> None:
    data = client.get("/api/attention/mask", params={"ratio": 0.9, "seed": 3}).json()
    assert data["grid"] == [8, 14, 14] and data["run"] is None and not data["reconstruction"]
    assert "vidact pretrain configs/synthetic_videomae_pretrain.yaml" in data["note"]
    mask = np.array(data["mask"])  # [T', H'W'], True = hidden
    assert mask.shape == (8, 196) and (mask == mask[0]).all()
    assert (
        mask[0].sum() == round(0.9 * 196) == 176 and data["hidden"] == 8 * 176 and data["visible"] == 8 * 20
    )
    assert data["visible_cells"] == np.flatnonzero(~mask[0]).tolist()
    other = client.get("/api/attention/mask", params={"ratio": 0.9, "seed": 4}).json()
    assert other["visible_cells"] != data["visible_cells"]
    clip = _png(client.get("/api/attention/mask/frame/5", params={"kind": "clip", "seed": 3}))
    masked = _png(client.get("/api/attention/mask/frame/5", params={"kind": "masked", "seed": 3}))
    for cell in range(196):  # frame 5 is in time step 2
        row, column = divmod(cell, 14)
        patch = (slice(16 * row, 16 * row + 16), slice(16 * column, 16 * column + 16))
        if mask[2, cell]:
            assert (masked[patch] == 128).all()
        else:
            assert np.array_equal(masked[patch], clip[patch])
    r = client.get("/api/attention/mask/frame/0", params={"kind": "reconstruction"})
    assert r.status_code == 400 and "no VideoMAE pre-training run" in r.json()["error"]
    r = client.get("/api/attention/mask", params={"ratio": 1.0})
    assert r.status_code == 400 and r.json()["error"].startswith("ratio:")


@pytest.fixture(scope="module")
def pretrain_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of runs holding one real VideoMAE pre-training run of 1 step (2 tiny synthetic clips)."""
    from vidact.data.synth import synthesize
    from vidact.engine.config import load_config
    from vidact.engine.train import train

    root = tmp_path_factory.mktemp("videomae")
    synthesize(root / "data", "temporal", videos_per_class={"train": 1, "val": 1}, size=32, frames=16,
               pairs=["lid"], workers=0, progress=False)  # fmt: skip
    tiny = (
        "{img_size: 32, patch_size: 8, num_frames: 8, tubelet_size: 2, embed_dim: 32, depth: 2, num_heads: 2}"
    )
    overrides = [f"data.root={root / 'data'}", "data.clip_len=8", "data.stride=2", "data.short_side=32",
                 "data.crop_size=32", "data.batch_size=2", "data.num_workers=0", "data.flip_p=0",
                 "model.name=videomae_tiny", f"model.kwargs={tiny}", "train.epochs=1", "train.num_threads=1",
                 "task=videomae_pretraining", "task.kwargs={decoder_depth: 1}"]  # fmt: skip
    train(load_config(None, overrides), root / "runs" / "pretrain", progress=False)
    (root / "runs" / "not_a_run").mkdir()
    return root / "runs"


def test_a_pretraining_run_in_the_runs_folder_reconstructs_the_hidden_tubes(
    make_app: Any, pretrain_runs: Path
) -> None:
    from fastapi.testclient import TestClient

    with TestClient(make_app(runs=pretrain_runs), raise_server_exceptions=False) as client:
        data = client.get("/api/attention/mask", params={"seed": 1}).json()
        assert data["reconstruction"] and data["run"] == str(pretrain_runs / "pretrain")
        assert data["grid"] == [4, 4, 4] and data["hidden"] == 4 * round(0.9 * 16) and data["mse"] > 0
        mask = np.array(data["mask"])
        clip = _png(client.get("/api/attention/mask/frame/2", params={"kind": "clip", "seed": 1}))
        rebuilt = _png(
            client.get("/api/attention/mask/frame/2", params={"kind": "reconstruction", "seed": 1})
        )
        assert clip.shape == rebuilt.shape == (32, 32, 3)
        for cell in range(16):  # visible tubes come back as they were, hidden ones are predicted
            row, column = divmod(cell, 4)
            patch = (slice(8 * row, 8 * row + 8), slice(8 * column, 8 * column + 8))
            same = np.abs(rebuilt[patch].astype(int) - clip[patch].astype(int)).max() <= 1
            assert same == (not mask[1, cell]), cell


# -- the page in a browser ---------------------------------------------------------------------------------------
def test_the_page_highlights_what_a_query_attends_to(page: Any, server: str, goto: Any, client: Any,
                                                     screenshot: Any) -> None:  # fmt: skip
    root = goto(page, server, "attention", timeout=60_000)
    cost = client.get("/api/attention/cost").json()
    rows = root.locator("tr.cost")
    assert [int(r.get_attribute("data-pairs")) for r in rows.all()] == [
        c["pairs_per_layer"] for c in cost["patterns"]
    ]
    assert root.locator(".growth svg").count() == 4

    assert root.locator(".grids").get_attribute("data-query") == "1,1,2"
    root.locator("svg.token-grid[data-pattern=joint] rect[data-token='45']").click()  # (2, 3, 1) in 4x4x4
    page.wait_for_function("() => document.querySelector('#page-attention .grids').dataset.query === '2,3,1'")
    api = client.get("/api/attention/attends", params={"t": 2, "h": 3, "w": 1}).json()
    divided = next(p for p in api["patterns"] if p["name"] == "divided")
    for k, sub in enumerate(divided["sublayers"]):
        drawn = root.locator("svg.token-grid[data-pattern=divided] rect.attended").evaluate_all(
            "(rs, k) => rs.filter(r => r.dataset.in.split(',').includes(String(k))).map(r => Number(r.dataset.token))",
            k,
        )
        assert drawn == sub["tokens"]
    assert root.locator("svg.token-grid[data-pattern=joint] rect.attended").count() == 64
    assert root.locator("svg.token-grid[data-pattern=divided] rect.query").get_attribute("data-token") == "45"

    info = root.locator(".mask-info")
    mask = client.get("/api/attention/mask", params={"seed": 0}).json()
    assert int(info.get_attribute("data-hidden")) == mask["hidden"] and info.get_attribute(
        "data-cells"
    ) == ",".join(map(str, mask["visible_cells"]))
    assert (
        root.locator(".strip-masked img").count() == 8 and root.locator(".strip-reconstruction").count() == 0
    )
    assert (
        "vidact pretrain configs/synthetic_videomae_pretrain.yaml" in root.locator(".mask-note").inner_text()
    )
    root.locator("button.new-mask").click()
    page.wait_for_function("() => document.querySelector('#page-attention .mask-seed').dataset.seed === '1'")
    mask = client.get("/api/attention/mask", params={"seed": 1}).json()
    assert info.get_attribute("data-cells") == ",".join(map(str, mask["visible_cells"]))
    page.wait_for_function(
        "() => [...document.querySelectorAll('#page-attention .strip-masked img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    screenshot(page, "attention")
