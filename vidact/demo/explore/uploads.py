"""Uploaded videos: streamed to a private temporary folder, checked by content, deleted soon.

``POST /api/uploads`` (multipart form, field ``file``) streams the body to a file with a random name in a folder
only this user can read (0700), stops as soon as it passes :attr:`UploadLimits.max_bytes`, and decodes its header
with :func:`vidact.io.probe` (the type is what FFmpeg finds in the bytes, never the extension). A file that is not
a readable video, or longer than :attr:`UploadLimits.max_seconds`, is deleted and refused with one line. Files are
deleted on ``DELETE /api/uploads/{id}``, after :attr:`UploadLimits.ttl_seconds` unused, when more than
:attr:`UploadLimits.max_files` are kept (the least recently used first), and when the server stops. The client's
file name is only shown (sanitised), never used as a path; pages reach a file only through
:meth:`UploadStore.path`.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
import unicodedata
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import VidactError, VideoError

__all__ = ["UploadLimits", "Upload", "UploadStore", "UploadError", "UploadTooLarge", "UploadNotFound"]

log = logging.getLogger("vidact.explore")

_MB = 1024 * 1024
_FIELD_LIMIT = 64 * 1024  # bytes of a multipart field other than the file (ignored, but bounded)


@dataclass(frozen=True)
class UploadLimits:
    """What an upload may be.

    Attributes:
        max_bytes: largest file accepted (default 200 MB).
        max_seconds: longest video accepted, by its probed duration (default 10 min).
        ttl_seconds: an upload unused this long is deleted (default 1 h).
        max_files: uploads kept at once; a new one deletes the least recently used beyond this.
    """

    max_bytes: int = 200 * _MB
    max_seconds: float = 600.0
    ttl_seconds: float = 3600.0
    max_files: int = 8

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.max_seconds <= 0 or self.ttl_seconds <= 0 or self.max_files <= 0:
            raise ValueError(f"upload limits must be positive: {self}")


class UploadError(VidactError):
    """An upload refused (not a video, too long, malformed request): HTTP 400 with this one line."""

    http_status = 400


class UploadTooLarge(UploadError):
    """An upload over :attr:`UploadLimits.max_bytes`: HTTP 413."""

    http_status = 413


class UploadNotFound(UploadError):
    """An upload id this server does not hold (never uploaded, deleted, or expired): HTTP 404."""

    http_status = 404


@dataclass
class Upload:
    """One stored upload.

    Attributes:
        id: random URL-safe id (also the file's name).
        path: the file, inside the store's private folder.
        name: the client's file name, sanitised, for display only.
        size: bytes.
        info: ``vidact.io.probe(path).to_json(with_index=False)`` with ``"path"`` replaced by ``name``.
    """

    id: str
    path: Path
    name: str
    size: int
    info: dict[str, Any]
    last_used: float = field(default_factory=time.monotonic)

    def to_json(self) -> dict[str, Any]:
        """``{"id", "name", "size", "info"}``."""
        return {"id": self.id, "name": self.name, "size": self.size, "info": self.info}


def display_name(name: str | None) -> str:
    """A client's file name made safe to show: its last path component, printable, at most 80 characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] not in "CZ" or c == " ").strip()
    return base[:80] or "upload"


class UploadStore:
    """The server's uploads, in one private temporary folder (removed by :meth:`close` or at exit).

    Args:
        limits: what an upload may be.
        parent: where to make the private folder (default: the system's temporary folder).
    """

    def __init__(
        self, limits: UploadLimits | None = None, *, parent: str | os.PathLike | None = None
    ) -> None:
        self.limits = limits or UploadLimits()
        self.root = Path(tempfile.mkdtemp(prefix="vidact-explore-", dir=parent))  # mode 0700
        os.chmod(self.root, 0o700)
        self._uploads: dict[str, Upload] = {}
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.root), ignore_errors=True)

    # ------------------------------------------------------------------ receiving

    async def receive(self, request: Any) -> Upload:
        """Stream a ``multipart/form-data`` request's ``file`` field to disk, probe it and keep it.

        Args:
            request: the Starlette request (its body is read here, chunk by chunk).

        Raises:
            UploadError: not multipart, no ``file`` field, not a readable video, or too long.
            UploadTooLarge: over ``max_bytes`` (the rest of the body is not stored).
        """
        from python_multipart.multipart import MultipartParser, parse_options_header
        from starlette.concurrency import run_in_threadpool

        self.sweep()
        ctype, params = parse_options_header(request.headers.get("content-type", ""))
        boundary = params.get(b"boundary")
        if ctype != b"multipart/form-data" or not boundary:
            raise UploadError("send the video as a multipart/form-data form with a field named 'file'")
        limit = self.limits.max_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit + _FIELD_LIMIT:
            raise UploadTooLarge(f"the upload is {_size(int(declared))}, over the limit of {_size(limit)}")

        uid = secrets.token_urlsafe(12)
        path = self.root / uid
        state = _PartState()
        fd: int | None = None

        def on_header_field(data: bytes, start: int, end: int) -> None:
            state.header_field += data[start:end]

        def on_header_value(data: bytes, start: int, end: int) -> None:
            state.header_value += data[start:end]

        def on_header_end() -> None:
            state.headers[state.header_field.lower()] = state.header_value
            state.header_field, state.header_value = b"", b""

        def on_headers_finished() -> None:
            nonlocal fd
            disposition, opts = parse_options_header(state.headers.get(b"content-disposition", b""))
            is_file = disposition == b"form-data" and opts.get(b"name") == b"file" and fd is None
            state.writing = is_file and not state.got_file
            if state.writing:
                state.got_file = True
                state.filename = opts.get(b"filename", b"").decode("utf-8", "replace")
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

        def on_part_data(data: bytes, start: int, end: int) -> None:
            n = end - start
            if state.writing:
                state.size += n
                if state.size > limit:
                    raise UploadTooLarge(f"the upload is over the limit of {_size(limit)}")
                os.write(fd, data[start:end])  # type: ignore[arg-type]
            else:
                state.other += n
                if state.other > _FIELD_LIMIT:
                    raise UploadError("the form has fields other than 'file' that are too large")

        def on_part_end() -> None:
            state.writing = False
            state.headers = {}

        callbacks = {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        }
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        try:
            try:
                async for chunk in request.stream():
                    parser.write(chunk)
                parser.finalize()
            finally:
                if fd is not None:
                    os.close(fd)
            if not state.got_file:
                raise UploadError("the form has no field named 'file'")
            name = display_name(state.filename)
            info = await run_in_threadpool(self._check, path, name)
        except UploadError:
            path.unlink(missing_ok=True)
            raise
        except Exception as e:  # a malformed multipart body, a client that went away, a full disk
            path.unlink(missing_ok=True)
            if isinstance(e, VidactError):
                raise
            log.info("upload refused: %s: %s", type(e).__name__, e)
            raise UploadError(f"the upload could not be read ({type(e).__name__})") from None
        upload = Upload(id=uid, path=path, name=name, size=state.size, info=info)
        with self._lock:
            self._uploads[uid] = upload
            self._evict_over_count()
        return upload

    def _check(self, path: Path, name: str) -> dict[str, Any]:
        """Probe the stored file; the probe's JSON (no index) with the display name as its path."""
        from ._imports import import_heavy

        import_heavy("vidact.io")  # under the one import lock: concurrent first imports can deadlock
        from ...io import probe

        try:
            meta = probe(path)
        except VideoError as e:
            raise UploadError(f"{name}: {e.reason}") from None
        except Exception as e:  # the bytes are the client's: any decoder failure is a refusal, not a bug
            log.info("probe of an upload failed: %s: %s", type(e).__name__, e)
            raise UploadError(f"{name}: not a video vidact can read ({type(e).__name__})") from None
        if meta.num_frames < 1:
            raise UploadError(f"{name}: the video has no frames")
        if meta.duration > self.limits.max_seconds:
            raise UploadError(
                f"{name}: the video is {meta.duration:.1f} s long, over the limit of {self.limits.max_seconds:g} s"
            )
        info = meta.to_json(with_index=False)
        info["path"] = name
        return info

    # ------------------------------------------------------------------ access

    def get(self, upload_id: str) -> Upload:
        """The upload with this id (marks it used).

        Raises:
            UploadNotFound: no such upload (never uploaded, deleted or expired).
        """
        self.sweep()
        with self._lock:
            upload = self._uploads.get(upload_id)
            if upload is None or not upload.path.exists():
                raise UploadNotFound(
                    f"no uploaded video {upload_id[:40]!r} (deleted or expired): upload the video again"
                )
            upload.last_used = time.monotonic()
        return upload

    def path(self, upload_id: str) -> Path:
        """The file of an upload, for a page to read.

        Raises:
            UploadNotFound: no such upload.
        """
        return self.get(upload_id).path

    def list(self) -> list[Upload]:
        """The uploads kept, oldest first."""
        self.sweep()
        with self._lock:
            return sorted(self._uploads.values(), key=lambda u: u.last_used)

    def delete(self, upload_id: str) -> None:
        """Delete an upload's file.

        Raises:
            UploadNotFound: no such upload.
        """
        with self._lock:
            upload = self._uploads.pop(upload_id, None)
        if upload is None:
            raise UploadNotFound(f"no uploaded video {upload_id[:40]!r} (deleted or expired)")
        upload.path.unlink(missing_ok=True)

    def sweep(self) -> None:
        """Delete the uploads unused for longer than ``ttl_seconds``."""
        now = time.monotonic()
        with self._lock:
            old = [u for u in self._uploads.values() if now - u.last_used > self.limits.ttl_seconds]
            for u in old:
                del self._uploads[u.id]
        for u in old:
            u.path.unlink(missing_ok=True)

    def _evict_over_count(self) -> None:  # holds self._lock
        extra = len(self._uploads) - self.limits.max_files
        if extra > 0:
            for u in sorted(self._uploads.values(), key=lambda u: u.last_used)[:extra]:
                del self._uploads[u.id]
                u.path.unlink(missing_ok=True)

    def close(self) -> None:
        """Delete every upload and the folder."""
        with self._lock:
            self._uploads.clear()
        self._finalizer()


@dataclass
class _PartState:
    header_field: bytes = b""
    header_value: bytes = b""
    headers: dict[bytes, bytes] = field(default_factory=dict)
    writing: bool = False
    got_file: bool = False
    filename: str = ""
    size: int = 0
    other: int = 0


def _size(n: int) -> str:
    return f"{n / _MB:.1f} MB" if n >= _MB else f"{n / 1024:.0f} kB"
