"""Fixtures of the explorer's tests: the app, a TestClient, a real server on 127.0.0.1, and a headless Chromium.

* ``make_app(**kw)`` builds an app (``create_app``; uploads limits, runs and cache may be given), closed at the end;
  ``app`` is ``make_app()``; ``client`` a :class:`fastapi.testclient.TestClient` of it (server errors come back as
  500 responses, as a browser sees them).
* ``serve(app)`` runs uvicorn in a thread on 127.0.0.1 (a free port) and returns the base URL; ``server`` is
  ``serve(app)``.
* ``page``: a Playwright page in Debian's Chromium (``/usr/bin/chromium``, headless; never a downloaded browser).
  The browser tests are skipped, with the reason shown, when Chromium or playwright is missing. Any request the page
  makes off 127.0.0.1 is blocked and fails the test, as does an uncaught JavaScript error.
* ``screenshot(page, slug)`` saves ``docs/explorer/<slug>.png`` when ``VIDACT_SCREENSHOTS=1``.
* ``open_page(page, base, slug)`` opens ``#/<slug>`` and waits for the page's ``[data-ready="1"]`` (``goto``: the
  same as a fixture).
* ``demo_runs``: a folder laid out as ``vidact demo --out`` writes it (``runs/temporal-per_frame``,
  ``runs/temporal-temporal``, ``data/temporal/manifest.json``), the models untrained (plumbing, not accuracy);
  ``make_app(runs=demo_runs)`` serves them. ``tiny_video(path, frames, fps)`` writes a small real video.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

pytest.importorskip("fastapi", reason="the explorer needs the optional extra: pip install 'vidact[explore]'")
pytest.importorskip("uvicorn", reason="the explorer needs the optional extra: pip install 'vidact[explore]'")

from fastapi.testclient import TestClient  # noqa: E402

from vidact.demo.explore.app import create_app  # noqa: E402
from vidact.demo.explore.uploads import UploadLimits  # noqa: E402

CHROMIUM = Path(os.environ.get("VIDACT_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "explorer"
#: Chromium's own traffic (updates, safe browsing, DNS) switched off: the tests stay on 127.0.0.1.
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    apps: list[Any] = []

    def make(**kw: Any) -> Any:
        kw.setdefault("cache", tmp_path / "explore-cache")
        kw.setdefault("limits", UploadLimits(max_bytes=20 * 1024 * 1024, max_seconds=120.0))
        app = create_app(**kw)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.state.ctx.close()


@pytest.fixture
def app(make_app: Callable[..., Any]) -> Any:
    return make_app()


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    import uvicorn

    running: list[tuple[Any, threading.Thread]] = []

    def start(app: Any) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the explorer's test server did not start")
            time.sleep(0.02)
        running.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(15)


@pytest.fixture
def server(serve: Callable[[Any], str], app: Any) -> str:
    return serve(app)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(
            "browser tests need playwright (pip install playwright; the browser is Debian's Chromium)"
        )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    errors: list[str] = []
    blocked: list[str] = []

    def guard(route: Any) -> None:
        host = urlsplit(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    pg = context.new_page()
    pg.set_default_timeout(60_000)  # a cold first request imports torch and the models: slow on a busy machine
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not blocked, f"the page asked for something off 127.0.0.1: {blocked[:3]}"
    assert not errors, f"uncaught JavaScript errors: {errors[:3]}"


def open_page(page: Any, base: str, slug: str, *, timeout: float = 60_000) -> Any:
    """Open ``#/<slug>`` and wait until the page has drawn its first data; returns the page's root element."""
    page.goto(f"{base}/#/{slug}")
    page.wait_for_selector(f'#page-{slug}[data-ready="1"]', timeout=timeout)
    return page.locator(f"#page-{slug}")


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path | None]:
    def shoot(page: Any, slug: str) -> Path | None:
        if os.environ.get("VIDACT_SCREENSHOTS") != "1":
            return None
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        out = SCREENSHOTS / f"{slug}.png"
        tmp = out.with_suffix(".tmp.png")
        page.screenshot(path=str(tmp), full_page=True)
        shutil.move(tmp, out)
        return out

    return shoot


@pytest.fixture
def goto() -> Callable[..., Any]:
    """``goto(page, base, slug)``: :func:`open_page` as a fixture (conftest functions are not importable)."""
    return open_page


DEMO_PAIRS = ("raise", "lift")


def make_demo_runs(root: Path, pairs: tuple[str, ...] = DEMO_PAIRS) -> Path:
    """A `vidact demo --out` folder's temporal runs, with untrained weights (the pages' plumbing, not accuracy)."""
    import torch
    import yaml

    from vidact.data.synth import TEMPORAL_PAIRS
    from vidact.demo.run import PRESETS, _recipe
    from vidact.engine.checkpoint import atomic_save, make_checkpoint
    from vidact.engine.config import Config
    from vidact.models import build_model

    classes = [c for p in pairs for c in TEMPORAL_PAIRS[p]]
    data = root / "data" / "temporal"
    data.mkdir(parents=True)
    params = {"size": [32, 32], "frames": 16, "fps": 8.0, "seed": 0}
    (data / "manifest.json").write_text(json.dumps({"params": params}))
    torch.manual_seed(0)
    for m in ("per_frame", "temporal"):
        recipe = _recipe(PRESETS["quick"], "temporal", m, data, 0)
        cfg = Config.from_dict(recipe, source="test")
        name, kwargs = recipe["model"]["name"], recipe["model"]["kwargs"]
        model = build_model(name, num_classes=len(classes), **kwargs)
        run = root / "runs" / f"temporal-{m}"
        (run / "checkpoints").mkdir(parents=True)
        ckpt = make_checkpoint(
            model, model_name=name, model_kwargs=kwargs, classes=classes, config=cfg.to_dict()
        )
        atomic_save(ckpt, run / "checkpoints" / "best.ckpt")
        (run / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
        (run / "metrics.json").write_text("{}")
    return root


@pytest.fixture(scope="session")
def demo_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo_runs(tmp_path_factory.mktemp("demo_out"))


def tiny_video(path: Path, frames: int = 16, fps: float = 8.0, size: int = 32) -> Path:
    """A small real video: random frames (seed 0), H.264 (a GIF for a ``.gif`` path)."""
    import numpy as np

    from vidact.io.writer import write_video

    clip = np.random.default_rng(0).integers(0, 255, size=(frames, size, size, 3), dtype=np.uint8)
    gif = path.suffix == ".gif"
    write_video(path, clip, fps=fps, codec="gif" if gif else "libx264", pix_fmt="rgb8" if gif else "yuv420p")
    return path


@pytest.fixture
def video_file(tmp_path: Path) -> Callable[..., Path]:
    """``video_file(name="clip.mp4", frames=16, fps=8.0, size=32)``: :func:`tiny_video` in a test's tmp_path."""

    def make(name: str = "clip.mp4", **kw: Any) -> Path:
        return tiny_video(tmp_path / name, **kw)

    return make
