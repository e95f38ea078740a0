"""Page 4, "3D kernels and inflation": Conv3d's output size against the formula, the inflated kernels against the
published 2D weights, the boring-video identity (it holds with replicated edges, breaks at the edges with zeros),
one-line errors, and the page in a browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(autouse=True)
def _real_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDACT_REAL_DATA", str(DATA))


def _out(n: int, k: int, s: int, p: int) -> int:
    return (n + 2 * p - k) // s + 1


@pytest.mark.parametrize(
    "size, kernel, stride, padding",
    [((8, 8, 8), (3, 3, 3), (1, 2, 2), (1, 1, 1)), ((16, 12, 10), (5, 1, 3), (2, 1, 3), (0, 0, 2))],
)
def test_conv_output_size_and_windows_follow_the_formula(client: Any, size, kernel, stride, padding) -> None:
    params = dict(zip(("frames", "height", "width"), size, strict=True))
    params |= dict(zip(("kt", "kh", "kw"), kernel, strict=True)) | dict(
        zip(("st", "sh", "sw"), stride, strict=True)
    )
    params |= dict(zip(("pt", "ph", "pw"), padding, strict=True))
    data = client.get("/api/kernels/conv", params=params).json()
    expected = [_out(*args) for args in zip(size, kernel, stride, padding, strict=True)]
    assert data["output"] == expected and data["positions"] == int(np.prod(expected))
    for axis, n, s, p in zip("thw", expected, stride, padding, strict=True):
        assert data["starts"][axis] == [o * s - p for o in range(n)]
    assert data["macs_per_channel_pair"] == int(np.prod(expected)) * int(np.prod(kernel))


def test_a_kernel_larger_than_the_volume_is_a_one_line_error(client: Any) -> None:
    r = client.get("/api/kernels/conv", params={"frames": 2, "kt": 5, "pt": 0})
    assert r.status_code == 400 and "Kernel size can't be greater than actual input size" in r.json()["error"]
    assert "\n" not in r.json()["error"]
    r = client.get("/api/kernels/conv", params={"kt": 99})
    assert r.status_code == 400 and r.json()["error"].startswith("kt:")


@pytest.fixture(scope="module")
def stem2d() -> np.ndarray:
    """The published first convolution, read from the network as built (no inflation): [32, 3, 3, 3]."""
    from vidact.models.per_frame import efficientnet_lite0_imagenet

    return efficientnet_lite0_imagenet().conv_stem.weight.detach().numpy()


def test_inflated_kernels_are_the_2d_ones_spread_over_time(client: Any, stem2d: np.ndarray) -> None:
    mean = client.get("/api/kernels/inflate", params={"time_kernel": 5, "frames": 4}).json()
    k2, k3 = np.array(mean["kernels2d"]), np.array(mean["kernels3d"])
    assert k3.shape == (32, 3, 5, 3, 3)
    np.testing.assert_allclose(k2, stem2d, rtol=0, atol=1e-7)
    for j in range(5):
        np.testing.assert_allclose(k3[:, :, j], stem2d / 5, rtol=1e-6, atol=1e-8)
    center = np.array(
        client.get("/api/kernels/inflate", params={"time_kernel": 3, "mode": "center"}).json()["kernels3d"]
    )
    np.testing.assert_allclose(center[:, :, 1], stem2d, atol=1e-7)
    assert not center[:, :, [0, 2]].any()


def test_the_boring_video_identity_holds_with_replicated_edges_and_breaks_with_zeros(client: Any) -> None:
    same = client.get("/api/kernels/inflate", params={"time_kernel": 3, "frames": 6}).json()
    assert same["shapes"]["video"] == [1, 3, 6, 224, 224] and len(same["stem_max_abs_diff"]) == 6
    assert max(same["stem_max_abs_diff"]) < 1e-3 and same["logits_max_abs_diff"] < 1e-3
    assert [c["index"] for c in same["top3d"]] == [c["index"] for c in same["top2d"]]
    zeros = client.get(
        "/api/kernels/inflate", params={"time_kernel": 3, "frames": 6, "padding": "zeros"}
    ).json()
    edges, inner = zeros["stem_max_abs_diff"], zeros["stem_max_abs_diff"][1:-1]
    assert edges[0] > 0.1 and edges[-1] > 0.1 and max(inner) < 1e-3  # a third of the kernel reads zeros there
    assert zeros["logits_max_abs_diff"] > 1e-2
    center = client.get("/api/kernels/inflate", params={"mode": "center", "padding": "zeros"}).json()
    assert center["logits_max_abs_diff"] < 1e-3  # a centre kernel never reads the padding


def test_bad_inflation_options_are_one_line_errors(client: Any) -> None:
    r = client.get("/api/kernels/inflate", params={"time_kernel": 4})
    assert r.status_code == 400 and "the time kernel must be odd" in r.json()["error"]
    r = client.get("/api/kernels/inflate", params={"mode": "sum"})
    assert r.status_code == 400 and r.json()["error"].startswith("mode:")
    r = client.get("/api/kernels/frame", params={"clip": "/etc/passwd"})
    assert r.status_code == 400 and "unknown clip" in r.json()["error"]


# -- the page in a browser ---------------------------------------------------------------------------------------
def test_the_page_slides_the_kernel_and_shows_the_identity(page: Any, server: str, goto: Any, client: Any,
                                                           screenshot: Any) -> None:  # fmt: skip
    root = goto(page, server, "kernels", timeout=90_000)
    assert root.locator(".conv-shape").get_attribute("data-output") == "8,4,4"
    root.locator("input[name=kt]").fill("5")
    root.locator("input[name=kt]").dispatch_event("change")
    root.locator("input[name=pt]").fill("0")
    root.locator("input[name=pt]").dispatch_event("change")
    page.wait_for_function(
        "() => document.querySelector('#page-kernels .conv-shape').dataset.output === '4,4,4'"
    )
    assert root.locator(".output-shape").inner_text() == "4 x 4 x 4"
    where = root.locator(".where")
    # output o = (t' * 4 + h') * 4 + w' reads from t = t' * 1 - 0, h = h' * 2 - 1, w = w' * 2 - 1
    for position, out, window in (
        ("0", "0,0,0", "0,-1,-1"),
        ("37", "2,1,1", "2,1,1"),
        ("63", "3,3,3", "3,5,5"),
    ):
        root.locator("input.position").evaluate(
            "(s, v) => { s.value = v; s.dispatchEvent(new Event('input')); }", position
        )
        assert (where.get_attribute("data-out"), where.get_attribute("data-window")) == (out, window)

    api = client.get("/api/kernels/inflate").json()
    shown = root.locator(".identity-logits")
    assert float(shown.get_attribute("data-value")) == api["logits_max_abs_diff"]
    assert root.locator(".slices figure.slice").count() == 3
    assert [int(x) for x in root.locator(".top3d li").evaluate_all("ls => ls.map(l => l.dataset.index)")] == [
        c["index"] for c in api["top3d"]
    ]
    root.locator("select[name=padding]").select_option("zeros")
    page.wait_for_function(
        "() => document.querySelector('#page-kernels').dataset.inflated === '3,8,mean,zeros'", timeout=60_000
    )
    zeros = client.get("/api/kernels/inflate", params={"padding": "zeros"}).json()
    values = root.locator(".stem-diffs").get_attribute("data-values").split(",")
    assert [float(v) for v in values] == zeros["stem_max_abs_diff"]
    assert root.locator(".stem-diffs rect.bar").count() == 8
    root.locator(".kernels2d canvas[data-kernel='5']").click()
    assert root.locator(".slices").get_attribute("data-kernel") == "5"
    screenshot(page, "kernels")
