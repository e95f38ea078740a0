"""``vidact explore``: the explorer web app on a local port (FastAPI + uvicorn, the optional extra ``explore``)."""

from __future__ import annotations

import ipaddress
import threading
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError
from ._output import console, err_console

__all__ = ["explore"]

_LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) only listens on this machine."""
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def explore(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    host: Annotated[
        str, typer.Option(help="Address to listen on; anything but loopback lets other machines in.")
    ] = "127.0.0.1",
    runs: Annotated[
        Path | None,
        typer.Option(
            help="A `vidact demo --out` folder whose trained models the pages use (default: train them on first "
            "use, in the background)."
        ),
    ] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the explorer in a web browser.")] = False,
) -> None:
    """Open the explorer: every idea as a local web page.

    One page per idea (same middle frame, flicker, two-stream fusion, 3D kernels, SlowFast, attention, temporal
    detection, skeletons, clip sampling) and one for your own video. Works offline; serves 127.0.0.1 only unless
    --host says otherwise.
    """
    if find_spec("fastapi") is None or find_spec("uvicorn") is None:
        raise ConfigError(
            "vidact explore needs the optional extra 'explore', which is not installed: pip install 'vidact[explore]'"
        )
    if runs is not None and not runs.is_dir():
        raise ConfigError(f"{runs}: --runs is not a folder (give a `vidact demo --out` folder)")
    loopback = is_loopback(host)
    if not loopback:
        err_console.print(
            f"warning: listening on {host}: other machines can reach the explorer and upload videos to it",
            markup=False,
            highlight=False,
        )

    import uvicorn

    from ..demo.explore.app import create_app

    allowed = ["127.0.0.1", "localhost", "::1", "[::1]"] if loopback else None
    app = create_app(runs=runs, allowed_hosts=allowed)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            console.print(f"vidact explorer on {url} (Ctrl+C stops it)", markup=False, highlight=False)
            if open_browser:
                import webbrowser

                webbrowser.open(url)

    threading.Thread(target=announce, daemon=True).start()
    server.run()
    if not server.started:
        raise ConfigError(f"{host}:{port}: the explorer could not listen there (port in use?)")
