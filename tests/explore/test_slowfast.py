"""Page 5, "SlowFast scrubber": the pathways' frames against the ones worked out by hand, the shapes traced from the
real network against the paper's (and the issue's) numbers, one-line errors, and the page in a browser."""

from __future__ import annotations

from typing import Any


def test_the_pathways_read_every_tau_th_and_every_tau_over_alpha_th_frame(client: Any) -> None:
    data = client.get("/api/slowfast/indices", params={"model": "slowfast_r50_4x16"}).json()
    assert (data["alpha"], data["slow_frames"], data["tau"], data["fast_stride"]) == (8, 4, 16, 2)
    # 32 Fast frames every 2nd span 63 of the 64: the window starts at (64 - 63) // 2 = 0
    assert data["slow"] == [0, 16, 32, 48] and data["fast"] == list(range(0, 64, 2))
    eight = client.get("/api/slowfast/indices", params={"model": "slowfast_r50", "num_frames": 100}).json()
    start = (100 - 63) // 2
    assert eight["slow"] == list(range(start, start + 64, 8)) and eight["fast"] == list(
        range(start, start + 64, 2)
    )
    seeded = [
        client.get("/api/slowfast/indices", params={"seed": s, "num_frames": 200}).json() for s in (1, 1, 2)
    ]
    assert seeded[0]["fast"] == seeded[1]["fast"] != seeded[2]["fast"]
    for d in seeded:
        assert d["slow"] == d["fast"][::8] and d["fast"] == list(range(d["fast"][0], d["fast"][0] + 63, 2))


def _lateral(trace: dict, index: int) -> dict:
    return next(lat for lat in trace["laterals"] if lat["index"] == index)


def test_the_traced_laterals_give_72_channels_at_ratio_1_and_80_at_ratio_2(client: Any) -> None:
    data = client.get("/api/slowfast/trace", params={"model": "slowfast_r50_4x16"}).json()
    ratio1, ratio2 = sorted(data["traces"], key=lambda t: t["lateral_ratio"])
    assert _lateral(ratio1, 0) == {"index": 0, "before": "res2", "fast_in": [8, 32, 56, 56],
                                   "lateral_out": [8, 4, 56, 56], "slow_in": [64, 4, 56, 56],
                                   "concat": [72, 4, 56, 56]}  # fmt: skip
    assert _lateral(ratio2, 0)["lateral_out"] == [16, 4, 56, 56] and _lateral(ratio2, 0)["concat"] == [
        80,
        4,
        56,
        56,
    ]
    # the paper's widths (the slowfast module's table): res3..res5 read 320, 640, 1280 channels at ratio 2
    assert [_lateral(ratio2, i)["concat"][0] for i in (1, 2, 3)] == [320, 640, 1280]
    stages = {s["name"]: s for s in ratio2["stages"]}
    assert stages["res5"] == {"name": "res5", "slow": [2048, 4, 7, 7], "fast": [256, 32, 7, 7]}
    assert ratio2["head"] == [2304] and ratio2["logits"] == [400]
    eight = client.get("/api/slowfast/trace", params={"model": "slowfast_r50"}).json()["traces"]
    assert _lateral(eight[1], 0)["fast_in"] == [8, 32, 56, 56] and _lateral(eight[1], 0)["concat"] == [
        80,
        8,
        56,
        56,
    ]


def test_unknown_models_and_bad_sizes_are_one_line_errors(client: Any) -> None:
    r = client.get("/api/slowfast/trace", params={"model": "slowfast_r200"})
    assert r.status_code == 400 and "unknown SlowFast model 'slowfast_r200'" in r.json()["error"]
    r = client.get("/api/slowfast/indices", params={"num_frames": 0})
    assert r.status_code == 400 and r.json()["error"].startswith("num_frames:")


# -- the page in a browser ---------------------------------------------------------------------------------------
def test_the_scrubber_and_the_traced_shapes(
    page: Any, server: str, goto: Any, client: Any, screenshot: Any
) -> None:
    root = goto(page, server, "slowfast", timeout=60_000)
    assert root.locator("[data-pathway=slow] rect.on").count() == 4
    assert root.locator("[data-pathway=fast] rect.on").count() == 32
    drawn = root.locator("[data-pathway=slow] rect.on").evaluate_all(
        "rs => rs.map(r => Number(r.dataset.frame))"
    )
    assert drawn == client.get("/api/slowfast/indices").json()["slow"]
    ratio1 = root.locator(".trace[data-ratio='1'] tr.lateral[data-index='0']")
    assert ratio1.locator(".fast-in").inner_text() == "[8, 32, 56, 56]"
    assert ratio1.locator(".lateral-out").inner_text() == "[8, 4, 56, 56]"
    assert ratio1.locator(".concat").inner_text() == "[72, 4, 56, 56]"
    ratio2 = root.locator(".trace[data-ratio='2'] tr.lateral[data-index='0']")
    assert ratio2.locator(".lateral-out").inner_text() == "[16, 4, 56, 56]"
    assert ratio2.locator(".concat").inner_text() == "[80, 4, 56, 56]"
    screenshot(page, "slowfast")

    scrub = root.locator("input.scrub")
    for frame, fast, slow in (("16", "8", "1"), ("17", "-1", "-1"), ("18", "9", "-1")):
        scrub.evaluate("(s, v) => { s.value = v; s.dispatchEvent(new Event('input')); }", frame)
        readout = root.locator(".readout")
        assert readout.get_attribute("data-frame") == frame
        assert (readout.get_attribute("data-fast"), readout.get_attribute("data-slow")) == (fast, slow)
        assert root.locator("rect.cursor-box").get_attribute("data-frame") == frame

    root.locator("select[name=model]").select_option("slowfast_r50")
    page.wait_for_function(
        "() => document.querySelector('#page-slowfast .traces').dataset.model === 'slowfast_r50'"
    )
    page.wait_for_function("() => document.querySelector('#page-slowfast .about').dataset.alpha === '4'")
    assert root.locator("[data-pathway=slow] rect.on").count() == 8
