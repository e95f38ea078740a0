"""The explorer's shell: the page registry and /api/pages, errors as one line, the static front end (offline, no
CDN), the model cache, the CLI, and the shell in a real browser."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute

from vidact.demo.explore.app import STATIC
from vidact.demo.explore.context import ModelCache
from vidact.demo.explore.pages import Page, list_pages, register_page
from vidact.errors import ConfigError, VideoError


def test_pages_are_listed_in_order_each_with_its_front_end(client) -> None:
    r = client.get("/api/pages")
    assert r.status_code == 200
    pages = r.json()
    assert pages == [p.to_json() for p in list_pages()]
    assert [p["order"] for p in pages] == sorted(p["order"] for p in pages)
    slugs = [p["slug"] for p in pages]
    assert len(set(slugs)) == len(slugs) and {"middle_frame", "flicker", "your_video"} <= set(slugs)
    for p in pages:
        assert set(p) == {"slug", "title", "summary", "order"} and p["title"] and p["summary"]
        assert (STATIC / "pages" / f"{p['slug']}.js").is_file(), (
            f"page {p['slug']} has no static/pages/{p['slug']}.js"
        )
        assert client.get(f"/pages/{p['slug']}.js").status_code == 200
    modules = {m.stem for m in (STATIC.parent / "pages").glob("*.py") if not m.stem.startswith("_")}
    assert modules == set(slugs), "every module of pages/ registers one page, named as its file"


def test_page_slugs_are_checked_and_owned_by_one_module() -> None:
    with pytest.raises(ValueError, match="lower-case"):
        Page(slug="Bad Slug", title="t", summary="s", order=1, router=APIRouter())
    with pytest.raises(ValueError, match="taken"):
        Page(slug="jobs", title="t", summary="s", order=1, router=APIRouter())
    with pytest.raises(ValueError, match="registered by vidact.demo.explore.pages.flicker"):
        register_page(Page(slug="flicker", title="t", summary="s", order=1, router=APIRouter()))


def _route(app, path: str, fn) -> None:
    """Add a GET endpoint in front of the static mount (for testing the error handlers)."""
    app.router.routes.insert(0, APIRoute(path, fn, methods=["GET"]))


def test_errors_are_one_line_json(app, client) -> None:
    def vidact_error() -> None:
        raise VideoError("/tmp/x.mp4", "broken\n  header")

    def bug() -> None:
        raise ZeroDivisionError("secret internals")

    def needs_int(n: int) -> dict:
        return {"n": n}

    _route(app, "/api/test/vidact", vidact_error)
    _route(app, "/api/test/bug", bug)
    _route(app, "/api/test/int", needs_int)
    r = client.get("/api/test/vidact")
    assert (r.status_code, r.json()) == (400, {"error": "/tmp/x.mp4: broken header"})
    r = client.get("/api/test/bug")
    assert (r.status_code, r.json()) == (500, {"error": "internal error: ZeroDivisionError"})
    assert "secret" not in r.text and "Traceback" not in r.text
    r = client.get("/api/test/int", params={"n": "seven"})
    assert r.status_code == 400 and r.json()["error"].startswith("n: Input should be a valid integer")
    r = client.get("/api/test/int")
    assert r.status_code == 400 and r.json() == {"error": "n: Field required"}
    r = client.get("/api/no/such/thing")
    assert (r.status_code, r.json()) == (404, {"error": "no endpoint GET /api/no/such/thing"})
    r = client.put("/api/pages")
    assert (r.status_code, r.json()) == (404, {"error": "no endpoint PUT /api/pages"})


def test_the_front_end_is_served_offline_with_a_strict_csp(client) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert client.get("/api/pages").headers["cache-control"] == "no-store"
    assert client.get("/docs").status_code == 404  # Swagger UI loads from a CDN: not served
    assert client.get("/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/../pyproject.toml").status_code == 404
    # no CDN, no web font, no external URL anywhere in the front end (the SVG namespace is a name, not a fetch)
    external = re.compile(r"(https?:)?//(?!www\.w3\.org/2000/svg)[a-z0-9.-]+\.[a-z]{2,}", re.I)
    for f in STATIC.rglob("*"):
        if f.suffix in (".js", ".html", ".css"):
            text = f.read_text()
            assert not external.search(text), f"{f.relative_to(STATIC)} names an external URL"
            assert "@font-face" not in text and "@import" not in text


def test_allowed_hosts_guard_against_dns_rebinding(make_app) -> None:
    from fastapi.testclient import TestClient

    app = make_app(allowed_hosts=["127.0.0.1", "localhost"])
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert c.get("/api/pages").status_code == 200
        assert c.get("/api/pages", headers={"host": "evil.example"}).status_code == 400


def test_the_model_cache_loads_once_under_concurrent_requests() -> None:
    cache = ModelCache()
    calls = []
    start = threading.Barrier(8)

    def loader() -> object:
        calls.append(1)
        time.sleep(0.05)
        return object()

    got = []

    def ask() -> None:
        start.wait()
        got.append(cache.get("m", loader))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(g) for g in got}) == 1

    def failing() -> object:
        raise ConfigError("no weights")

    with pytest.raises(ConfigError):
        cache.get("f", failing)
    assert "f" not in cache and cache.get("f", lambda: 3) == 3  # a failed load is retried
    cache.drop("f")
    assert cache.peek("f") is None


def test_create_app_does_not_import_torch() -> None:
    """`vidact explore` starts in under 5 s because nothing heavy is imported before a page asks for it."""
    code = (
        "import sys, time; t = time.perf_counter(); "
        "from vidact.demo.explore.app import create_app; create_app(); "
        "heavy = sorted(m for m in ('torch', 'cv2', 'av', 'matplotlib', 'lightning') if m in sys.modules); "
        "print(heavy, round(time.perf_counter() - t, 2))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    heavy = out.stdout.split("]")[0] + "]"
    assert heavy == "[]", f"importing the explorer imports {heavy} ({out.stdout.strip()})"


def test_the_cli_names_the_extra_when_fastapi_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    from vidact.cli import explore as cli

    real = cli.find_spec
    monkeypatch.setattr(cli, "find_spec", lambda name: None if name == "fastapi" else real(name))
    with pytest.raises(ConfigError) as e:
        cli.explore()
    assert str(e.value) == (
        "vidact explore needs the optional extra 'explore', which is not installed: pip install 'vidact[explore]'"
    )


def test_the_cli_checks_runs_and_knows_loopback(tmp_path: Path) -> None:
    from vidact.cli.explore import explore, is_loopback

    with pytest.raises(ConfigError, match="--runs is not a folder"):
        explore(runs=tmp_path / "missing")
    assert (
        is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("[::1]")
    )
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")


# ---------------------------------------------------------------- the shell in a browser


def test_the_shell_lists_the_pages_and_routes(page, server, client) -> None:
    pages = client.get("/api/pages").json()
    page.goto(server + "/")
    page.wait_for_selector('#page-home[data-ready="1"]')
    links = page.locator("#nav a[data-slug]:not([data-slug=''])")
    assert links.count() == len(pages)
    for i, p in enumerate(pages):
        assert links.nth(i).get_attribute("data-slug") == p["slug"]
        assert p["title"] in links.nth(i).inner_text()
    assert page.locator(".cards li").count() == len(pages)
    # a page is reached from the nav; its title and summary are the registry's
    first = pages[0]
    links.nth(0).click()
    page.wait_for_url(f"**/#/{first['slug']}")
    assert page.locator(".page h1").inner_text() == first["title"]
    assert page.locator("#nav a.active").get_attribute("data-slug") == first["slug"]
    assert page.title().startswith(first["title"])
    # an unknown page is one error line, not a blank page
    page.goto(server + "/#/no_such_page")
    page.wait_for_selector(".error:not([hidden])")
    assert page.locator(".error").inner_text() == "no page 'no_such_page'"


def test_a_non_loopback_host_is_warned_about(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import uvicorn

    from vidact.cli.explore import explore

    served = {}

    class FakeServer:
        def __init__(self, config) -> None:
            served["host"], served["app"] = config.host, config.app
            self.started, self.should_exit = True, False

        def run(self) -> None:
            served["ran"] = True

    monkeypatch.setattr(uvicorn, "Server", FakeServer)
    explore(host="0.0.0.0", port=8123)
    err = capsys.readouterr().err
    assert served["ran"] and served["host"] == "0.0.0.0"
    assert err.startswith("warning: listening on 0.0.0.0: other machines can reach the explorer")
    served.clear()
    explore(host="127.0.0.1", port=8123)
    assert "warning" not in capsys.readouterr().err and served["host"] == "127.0.0.1"
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    assert any(
        m.cls is TrustedHostMiddleware for m in served["app"].user_middleware
    )  # loopback: Host checked


def test_the_cli_serves_the_explorer(tmp_path: Path) -> None:
    """`vidact explore` as a process: it prints its URL, serves the app on 127.0.0.1 only, stops on SIGTERM."""
    import json
    import os
    import signal
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = "import typer; from vidact.cli.explore import explore; typer.run(explore)"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        seconds = time.monotonic() - started
        assert line.strip() == f"vidact explorer on http://127.0.0.1:{port}/ (Ctrl+C stops it)", line
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/pages", timeout=30) as r:
            assert {p["slug"] for p in json.loads(r.read())} >= {"middle_frame", "flicker", "your_video"}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/pages", headers={"Host": "attacker.example"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 400
        print(f"vidact explore answered after {seconds:.1f} s")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode in (0, -signal.SIGTERM)
