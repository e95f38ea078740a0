"""The explorer's web app: the static front end, the page registry's endpoints, jobs and uploads.

Endpoints (every page's own under ``/api/<slug>``, see :mod:`.pages`):

* ``GET /api/pages`` -> ``[{"slug", "title", "summary", "order"}]``, sorted by ``order``.
* ``GET /api/jobs/{id}`` -> ``{"id", "kind", "state", "progress", "message", "result"?, "error"?}``;
  ``DELETE /api/jobs/{id}`` asks the job to stop and returns the same (404 for an unknown id).
* ``POST /api/uploads`` (multipart, field ``file``) -> ``{"id", "name", "size", "info"}`` (``info``: the probe's
  JSON); ``DELETE /api/uploads/{id}`` -> ``{"deleted": id}``.
* ``/`` -> ``static/index.html``; ``/static files``.

Errors are JSON ``{"error": "<one line>"}``: a :class:`~vidact.errors.VidactError` (or a request that does not
fit an endpoint's parameters) is 400, or the error's ``http_status`` (404 unknown job or upload, 413 upload too
large, 429 too many jobs); anything else is 500 ``internal error: <type>``, its traceback in the server's log
only. Responses carry a Content-Security-Policy that allows nothing but this server (no CDN, no inline script).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ...errors import VidactError
from .context import ExploreContext, get_context
from .jobs import one_line
from .pages import list_pages
from .uploads import UploadLimits

__all__ = ["create_app", "STATIC"]

log = logging.getLogger("vidact.explore")

#: The front end: index.html, app.js, lib.js, style.css, pages/<slug>.js.
STATIC = Path(__file__).with_name("static")

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def create_app(
    *,
    runs: Path | None = None,
    limits: UploadLimits | None = None,
    cache: Path | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> FastAPI:
    """The explorer app.

    Args:
        runs: a ``vidact demo --out`` folder whose trained models the pages use (``None``: train on first use).
        limits: upload limits (default :class:`UploadLimits`).
        cache: where pages keep models they train on first use (default: ``runs``, else
            ``$VIDACT_HOME/cache/explore``).
        allowed_hosts: the ``Host`` headers accepted (``["127.0.0.1", "localhost"]`` guards a local server
            against DNS rebinding); ``None`` accepts any.
    """
    ctx = ExploreContext(runs=runs, limits=limits, cache=cache)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        ctx.close()

    app = FastAPI(
        title="vidact explorer",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load scripts from a CDN: not here
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.ctx = ctx
    _add_error_handlers(app)

    @app.get("/api/pages")
    def pages() -> list[dict[str, Any]]:
        """The pages, sorted by order: ``[{"slug", "title", "summary", "order"}]``."""
        return [p.to_json() for p in list_pages()]

    @app.get("/api/jobs/{job_id}")
    def get_job(job_id: str, ctx: ExploreContext = Depends(get_context)) -> dict[str, Any]:
        """A job's state."""
        return ctx.jobs.get(job_id).to_json()

    @app.delete("/api/jobs/{job_id}")
    def cancel_job(job_id: str, ctx: ExploreContext = Depends(get_context)) -> dict[str, Any]:
        """Ask a job to stop; its state (``running`` until its function notices, then ``cancelled``)."""
        return ctx.jobs.cancel(job_id).to_json()

    @app.post("/api/uploads")
    async def upload(request: Request, ctx: ExploreContext = Depends(get_context)) -> dict[str, Any]:
        """Store an uploaded video (multipart field ``file``): ``{"id", "name", "size", "info"}``."""
        return (await ctx.uploads.receive(request)).to_json()

    @app.delete("/api/uploads/{upload_id}")
    def delete_upload(upload_id: str, ctx: ExploreContext = Depends(get_context)) -> dict[str, Any]:
        """Delete an uploaded video."""
        ctx.uploads.delete(upload_id)
        return {"deleted": upload_id}

    for page in list_pages():
        app.include_router(page.router, prefix=f"/api/{page.slug}", tags=[page.slug])

    @app.api_route(
        "/api/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False
    )
    def no_endpoint(rest: str, request: Request) -> JSONResponse:
        return JSONResponse({"error": f"no endpoint {request.method} /api/{rest[:80]}"}, status_code=404)

    app.mount("/", StaticFiles(directory=STATIC, html=True), name="static")
    app.add_middleware(_SecurityHeaders)
    if allowed_hosts is not None:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(VidactError)
    async def vidact_error(request: Request, e: VidactError) -> JSONResponse:
        return JSONResponse({"error": one_line(e)}, status_code=int(getattr(e, "http_status", 400)))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, e: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": validation_message(e.errors())}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": one_line(Exception(e.detail))}, status_code=e.status_code)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, e: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse({"error": f"internal error: {type(e).__name__}"}, status_code=500)


def validation_message(errors: Sequence[Any]) -> str:
    """FastAPI's validation errors as one line: ``"<where>: <what>"`` for the first, ``(+N more)``."""
    if not errors:
        return "bad request"
    first = errors[0]
    where = ".".join(str(x) for x in first.get("loc", ()) if x not in ("body", "query", "path"))
    text = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))
    if len(errors) > 1:
        text += f" (+{len(errors) - 1} more)"
    return " ".join(text.split())


class _SecurityHeaders:
    """ASGI middleware: CSP, nosniff and no-referrer on every response; static files revalidated each load."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_api = scope.get("path", "").startswith("/api/")

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", _CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store" if is_api else b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
