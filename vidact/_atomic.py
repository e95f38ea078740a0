"""Atomic file writes: the one mechanism behind every file vidact writes that a reader might see half-done
(checkpoints, metadata caches, results JSON, PNGs, synthetic-dataset manifests)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write"]


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; when the block ends, fsync it and rename it over
    ``path``; on any error (or an interrupt) remove it, leaving the previous ``path`` intact.

    The temporary file is created with ``open`` (so the umask sets its permissions, as for a direct write) and
    a unique name, so concurrent writers of the same path never share one. ``mode`` is ``"wb"`` or ``"w"``
    (UTF-8 text).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, mode.replace("w", "x"), **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
