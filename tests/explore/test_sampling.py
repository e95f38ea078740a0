"""Page 9, "Clip sampling": the API returns vidact's sampler indices (checked against hand-computed ones), and the
page draws exactly the indices the API gives, before and after Resample."""

from __future__ import annotations

from typing import Any


def _methods(data: dict[str, Any]) -> dict[str, list[list[int]]]:
    return {m["name"]: m["clips"] for m in data["methods"]}


def test_the_deterministic_samplers_take_the_frames_worked_out_by_hand(client: Any) -> None:
    r = client.get("/api/sampling/indices", params={"num_frames": 32, "clip_len": 8, "stride": 2,
                                                    "num_segments": 8, "num_clips": 4, "seed": 0})  # fmt: skip
    assert r.status_code == 200
    data = r.json()
    got = _methods(data)
    assert data["span"] == 15  # (8 - 1) * 2 + 1 frames
    # 8 segments of 4 frames; the test frame of each is its centre: lo + (3 + 1) // 2 = lo + 2
    assert got["tsn_test"] == [[2, 6, 10, 14, 18, 22, 26, 30]]
    # ceil(32 / 15) = 3 clips back to back, the last one moved back to end at frame 31
    assert got["dense"] == [list(range(0, 15, 2)), list(range(15, 30, 2)), list(range(17, 32, 2))]
    # 4 clips whose starts are round(k * (32 - 15) / 3): 0, 6, 11, 17
    assert got["multi_clip"] == [list(range(s, s + 15, 2)) for s in (0, 6, 11, 17)]


def test_the_random_samplers_follow_the_seed(client: Any) -> None:
    def get(seed: int) -> dict[str, list[list[int]]]:
        return _methods(client.get("/api/sampling/indices", params={"seed": seed}).json())

    first, again = get(7), get(7)
    assert first == again
    draws = [get(seed) for seed in range(8)]
    assert len({str(d["tsn_train"]) for d in draws}) > 1 and len({str(d["random"]) for d in draws}) > 1
    for d in draws:
        (tsn,) = d["tsn_train"]
        assert [i // 4 for i in tsn] == list(range(8))  # one frame in each 4-frame segment
        (clip,) = d["random"]
        assert clip == list(range(clip[0], clip[0] + 15, 2)) and 0 <= clip[0] <= 32 - 15


def test_short_videos_loop_and_bad_sizes_are_one_line_errors(client: Any) -> None:
    data = client.get("/api/sampling/indices", params={"num_frames": 5, "clip_len": 4, "stride": 2}).json()
    assert _methods(data)["dense"] == [[0, 2, 4, 1]]  # 7 frames asked of 5: the clip wraps around
    for params in ({"num_frames": 0}, {"stride": "two"}, {"num_clips": 1000}):
        r = client.get("/api/sampling/indices", params=params)
        assert r.status_code == 400
        message = r.json()["error"]
        assert "\n" not in message and list(params)[0] in message


# -- the page in a browser ---------------------------------------------------------------------------------------
def _drawn(root: Any) -> dict[str, list[list[int]]]:
    """The indices each method's rows were drawn with, from the DOM, and checked against the cells drawn."""
    drawn = root.evaluate(
        """root => Object.fromEntries([...root.querySelectorAll('svg.sampling')].map(s => [s.dataset.method,
             [...s.querySelectorAll('.clip-row')].map(r => ({indices: r.dataset.indices.split(',').map(Number),
               cells: [...r.querySelectorAll('rect.cell')].map(c => Number(c.dataset.count))}))]))"""
    )
    out = {}
    for name, rows in drawn.items():
        for row in rows:  # the filled cells are the indices, counted
            counts = [0] * len(row["cells"])
            for i in row["indices"]:
                counts[i] += 1
            assert counts == row["cells"], name
        out[name] = [row["indices"] for row in rows]
    return out


def test_the_page_draws_the_indices_the_api_returns(page: Any, server: str, goto: Any, client: Any,
                                                     screenshot: Any) -> None:  # fmt: skip
    root = goto(page, server, "sampling")
    seed = int(root.locator(".seed").get_attribute("data-seed"))
    api = _methods(client.get("/api/sampling/indices", params={"seed": seed}).json())
    assert _drawn(root) == api
    assert len(root.locator("svg[data-method=tsn_test] rect.cell").all()) == 32
    screenshot(page, "sampling")

    root.locator("button.resample").click()
    page.wait_for_function(
        "s => document.querySelector('#page-sampling .seed').dataset.seed !== s", arg=str(seed)
    )
    page.wait_for_function("() => document.querySelector('#page-sampling').dataset.updates === '2'")
    new_seed = int(root.locator(".seed").get_attribute("data-seed"))
    assert new_seed != seed
    assert _drawn(root) == _methods(client.get("/api/sampling/indices", params={"seed": new_seed}).json())

    root.locator("input[name=num_frames]").fill("20")
    root.locator("input[name=num_frames]").dispatch_event("change")
    page.wait_for_function("() => document.querySelector('#page-sampling').dataset.updates === '3'")
    assert len(root.locator("svg[data-method=dense] .clip-row").first.locator("rect.cell").all()) == 20
    params = {"seed": new_seed, "num_frames": 20}
    assert _drawn(root) == _methods(client.get("/api/sampling/indices", params=params).json())

    root.locator("input[name=num_frames]").fill("0")
    root.locator("input[name=num_frames]").dispatch_event("change")
    error = root.locator(".error")
    error.wait_for(state="visible")
    assert "num_frames" in error.inner_text()
